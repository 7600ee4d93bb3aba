"""Peer comparison with Captum: guided backpropagation, deconvolution and DeepLIFT (rescale).

Captum implements the same rules with module backward hooks; in float64 on the tiny models the
two agree to rounding. DeepLIFT is compared on models without max pooling: Captum gives max
pooling a rule of its own, we pass the plain gradient there (documented in physxai's DeepLift).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from physxai.attribution import Deconvnet, DeepLift, GuidedBackprop
from physxai.testing import tiny_cnn, tiny_mlp

pytestmark = pytest.mark.compare

MODELS = {
    "mlp": lambda: (tiny_mlp(), torch.randn(6, 6, dtype=torch.float64)),
    "cnn_flatten": lambda: (tiny_cnn(pool="flatten"), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
    "cnn_gap": lambda: (tiny_cnn(), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
}
DEEPLIFT_MODELS = {
    "mlp": MODELS["mlp"],
    "mlp_tanh": lambda: (tiny_mlp(activation=nn.Tanh), torch.randn(6, 6, dtype=torch.float64)),
    "cnn_gap": MODELS["cnn_gap"],
}
TARGETS = {"int": lambda n: 1, "per_sample": lambda n: torch.arange(n) % 3}


def _captum(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum warns about hooks and requires_grad on every call
        return fn(*args, **kwargs)


def _close(ours, theirs):
    assert ours.abs().max() > 1e-4  # a meaningful comparison
    torch.testing.assert_close(ours, theirs.detach(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("target_kind", list(TARGETS))
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("pair", [("GuidedBackprop", GuidedBackprop), ("Deconvolution", Deconvnet)])
def test_backprop_matches_captum(captum, pair, name, target_kind):
    captum_name, ours_cls = pair
    model, x = MODELS[name]()
    target = TARGETS[target_kind](x.shape[0])
    theirs = _captum(getattr(captum.attr, captum_name)(model).attribute, x.clone(), target=target)
    _close(ours_cls(model).attribute(x, target=target), theirs)


@pytest.mark.parametrize("name", list(DEEPLIFT_MODELS))
@pytest.mark.parametrize(
    "target_kind, baseline_kind", [("int", "constant"), ("per_sample", "random")]
)
def test_deeplift_matches_captum(captum, name, target_kind, baseline_kind):
    model, x = DEEPLIFT_MODELS[name]()
    target = TARGETS[target_kind](x.shape[0])
    if baseline_kind == "constant":
        baseline = torch.full_like(x, 0.2)
    else:
        baseline = torch.randn(1, *x.shape[1:], dtype=x.dtype)
    theirs = _captum(
        captum.attr.DeepLift(model).attribute, x.clone(), baselines=baseline, target=target
    )
    _close(DeepLift(model).attribute(x, target=target, baseline=baseline), theirs)
