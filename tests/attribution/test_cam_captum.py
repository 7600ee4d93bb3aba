"""Peers: Grad-CAM and occlusion against Captum's LayerGradCam and Occlusion (float64)."""

from __future__ import annotations

import pytest
import torch

from physxai.attribution import GradCAM, Occlusion
from physxai.testing import tiny_cnn, tiny_mlp

pytestmark = pytest.mark.compare

RTOL = 1e-5


def assert_relative(ours, theirs, rtol=RTOL):
    """max |ours - theirs| <= rtol * max |theirs| (a relative error on the map's scale)."""
    theirs = theirs.detach()
    assert ours.shape == theirs.shape
    scale = float(theirs.abs().max())
    assert scale > 0
    err = float((ours - theirs.to(ours.dtype)).abs().max())
    assert err <= rtol * scale, f"max deviation {err:.3e} > {rtol} x {scale:.3e}"


@pytest.mark.parametrize("pool,layer", [("gap", "features.relu2"), ("flatten", "features.conv2")])
@pytest.mark.parametrize("relu", [True, False])
def test_grad_cam_matches_layer_grad_cam(captum, pool, layer, relu):
    from captum.attr import LayerAttribution, LayerGradCam

    model = tiny_cnn(pool=pool)
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    target = torch.tensor([0, 2, 1, 1])
    module = dict(model.named_modules())[layer]
    theirs = LayerGradCam(model, module).attribute(x, target=target, relu_attributions=relu)
    ours = GradCAM(model, layer=layer, relu=relu, upsample=False).attribute(x, target=target)
    assert_relative(ours, theirs)
    up_theirs = LayerAttribution.interpolate(theirs, (8, 8), interpolate_mode="bilinear")
    up_ours = GradCAM(model, layer=layer, relu=relu).attribute(x, target=target)
    assert_relative(up_ours, up_theirs)


def test_occlusion_matches_captum_on_mlp(captum):
    from captum.attr import Occlusion as CaptumOcclusion

    model = tiny_mlp(in_features=6, out_features=3)
    x = torch.randn(5, 6, dtype=torch.float64)
    baseline = torch.randn(1, 6, dtype=torch.float64)
    for window, stride in [(1, 1), (2, 1), (3, 2), (4, 3)]:
        theirs = CaptumOcclusion(model).attribute(
            x, sliding_window_shapes=(window,), strides=stride, baselines=baseline, target=2
        )
        ours = Occlusion(model, window=window, stride=stride).attribute(
            x, target=2, baseline=baseline
        )
        assert_relative(ours, theirs)


@pytest.mark.parametrize(
    "window,stride", [((3, 3), (2, 2)), ((2, 2), (1, 1)), ((3, 3), (3, 3)), ((4, 2), (2, 1))]
)
def test_occlusion_matches_captum_on_cnn(captum, window, stride):
    from captum.attr import Occlusion as CaptumOcclusion

    model = tiny_cnn(pool="gap")
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    target = torch.tensor([1, 0, 2])
    theirs = CaptumOcclusion(model).attribute(
        x, sliding_window_shapes=(1, *window), strides=(1, *stride), baselines=0.25, target=target
    )
    ours = Occlusion(model, window=window, stride=stride).attribute(x, target=target, baseline=0.25)
    assert_relative(ours, theirs)
