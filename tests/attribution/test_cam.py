"""CAM and Grad-CAM: the literal formulas, their relation on a GAP + linear head, shapes, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.attribution import CAM, GradCAM, attribute
from physxai.testing import tiny_cnn

LAYER = "features.relu2"  # the activation that the global average pooling reduces


def activations(model, x, name):
    """The output of the named module, captured by hand."""
    store = []
    handle = dict(model.named_modules())[name].register_forward_hook(
        lambda m, i, o: store.append(o.detach())
    )
    try:
        model(x)
    finally:
        handle.remove()
    return store[0]


def test_cam_equals_literal_formula():
    model = tiny_cnn(pool="gap", out_features=3)
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    A = activations(model, x, LAYER)  # (4, 6, 8, 8)
    W = model.head[2].weight.detach()  # (3, 6)
    target = torch.tensor([0, 2, 1, 2])
    R = CAM(model, layer=LAYER, upsample=False).attribute(x, target=target)
    assert R.shape == (4, 1, 8, 8)
    for i in range(4):
        k = int(target[i])
        literal = sum(W[k, c] * A[i, c] for c in range(A.shape[1]))  # M_k = sum_c w_kc A_c
        torch.testing.assert_close(R[i, 0], literal, rtol=1e-12, atol=1e-12)
    # the spatial mean of M_k plus b_k is the logit y_k (Zhou et al. 2016)
    y = model(x).detach().gather(1, target[:, None])[:, 0]
    b = model.head[2].bias.detach()[target]
    torch.testing.assert_close(R.mean((1, 2, 3)) + b, y, rtol=1e-12, atol=1e-12)


def test_cam_at_coarse_layer_is_upsampled_bilinearly():
    # a strided conv halves the grid: the map at 4 x 4 is interpolated to the 8 x 8 input
    gen = torch.Generator().manual_seed(2)
    model = (
        nn.Sequential(
            nn.Conv2d(1, 5, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(5, 2),
        )
        .double()
        .eval()
    )
    x = torch.randn(3, 1, 8, 8, generator=gen, dtype=torch.float64)
    coarse = CAM(model, layer="1", upsample=False).attribute(x, target=1)
    assert coarse.shape == (3, 1, 4, 4)
    fine = CAM(model, layer=model[1]).attribute(x, target=1)
    assert fine.shape == x.shape
    expected = nn.functional.interpolate(coarse, size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(fine, expected, rtol=1e-12, atol=1e-12)


def test_grad_cam_without_relu_is_cam_over_spatial_size():
    # GAP + linear: d y_k / d A_c(u) = w_kc / (h w), so Grad-CAM weights are CAM weights / (h w)
    model = tiny_cnn(pool="gap", out_features=3)
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    for target in (0, 2, torch.tensor([1, 0, 2, 2, 1])):
        cam = CAM(model, layer=LAYER).attribute(x, target=target)
        grad_cam = GradCAM(model, layer=LAYER, relu=False).attribute(x, target=target)
        torch.testing.assert_close(grad_cam, cam / 64, rtol=1e-12, atol=1e-14)
        relu = GradCAM(model, layer=LAYER).attribute(x, target=target)
        torch.testing.assert_close(relu, torch.relu(cam / 64), rtol=1e-12, atol=1e-14)


def test_cam_target_forms_and_read_outs_after_the_head():
    model = tiny_cnn(pool="gap", out_features=3)
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    method = CAM(model, layer=LAYER)
    ref = method.attribute(x, target=2)
    torch.testing.assert_close(method.attribute(x, target=torch.full((4,), 2)), ref, rtol=0, atol=0)
    torch.testing.assert_close(
        method.attribute(x, target=lambda out: out[:, 2]), ref, rtol=0, atol=0
    )
    # a linear read-out of the logits: CAM is linear in it
    summed = method.attribute(x, target=lambda out: out[:, 0] - 2 * out[:, 1])
    expected = method.attribute(x, target=0) - 2 * method.attribute(x, target=1)
    torch.testing.assert_close(summed, expected, rtol=1e-12, atol=1e-14)

    # target=None on a one-output wrapper explains that output
    class Column(nn.Module):
        def forward(self, out):
            return out[:, 2:3]

    one = nn.Sequential(model, Column()).eval()
    torch.testing.assert_close(CAM(one, layer="0." + LAYER).attribute(x), ref, rtol=0, atol=0)
    # a nonlinear read-out after the head (sigmoid): its local slope times the row's CAM
    squashed = nn.Sequential(model, nn.Sigmoid()).eval()
    R = CAM(squashed, layer="0." + LAYER).attribute(x, target=2)
    p = torch.sigmoid(model(x)[:, 2]).detach()
    torch.testing.assert_close(R, (p * (1 - p)).reshape(4, 1, 1, 1) * ref, rtol=1e-12, atol=1e-14)


def test_grad_cam_literal_weights_and_all_target_forms():
    model = tiny_cnn(pool="flatten", out_features=3)
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    layer = "features.conv2"
    # literal: alpha_c = spatial mean of d y / d A_c, from a hand-made hook on the activation
    store = []

    def hook(m, i, o):
        o.retain_grad()
        store.append(o)

    handle = model.features.conv2.register_forward_hook(hook)
    try:
        xx = x.clone().requires_grad_(True)
        model(xx)[:, 1].sum().backward()
    finally:
        handle.remove()
    A, G = store[0].detach(), store[0].grad
    literal = torch.relu((G.mean((2, 3), keepdim=True) * A).sum(1, keepdim=True))
    R = GradCAM(model, layer=layer, upsample=False).attribute(x, target=1)
    torch.testing.assert_close(R, literal, rtol=1e-12, atol=1e-14)
    # the four target forms agree on the same column
    method = GradCAM(model, layer=layer, relu=False)
    ref = method.attribute(x, target=1)
    torch.testing.assert_close(method.attribute(x, target=torch.tensor([1, 1, 1])), ref)
    torch.testing.assert_close(method.attribute(x, target=lambda out: out[:, 1]), ref)
    single = lambda z: model(z)[:, 1:2]  # a callable model with one output
    torch.testing.assert_close(
        GradCAM(single, layer=model.features.conv2, relu=False).attribute(x), ref
    )
    # linear in the target before the ReLU
    summed = method.attribute(x, target=lambda out: out.sum(1))
    torch.testing.assert_close(
        summed, sum(method.attribute(x, target=k) for k in range(3)), rtol=1e-10, atol=1e-12
    )


def test_shape_of_inputs_for_unbatched_channel_models():
    # inputs (n, L, L) with a model that unsqueezes: the map comes back as (n, L, L)
    cnn = tiny_cnn(pool="gap")

    class Spins(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = cnn

        def forward(self, s):
            return self.cnn(s[:, None])

    model = Spins().eval()
    x = torch.randn(3, 8, 8, dtype=torch.float64)
    for method in (
        CAM(model, layer="cnn.features.relu2"),
        GradCAM(model, layer="cnn.features.relu2"),
    ):
        R = method.attribute(x, target=0)
        assert R.shape == x.shape and R.dtype == x.dtype
    R = attribute(model, x, "grad_cam", layer="cnn.features.relu2", target=0, upsample=False)
    assert R.shape == (3, 1, 8, 8)


def test_one_dimensional_layer_is_upsampled_linearly():
    model = (
        nn.Sequential(
            nn.Conv1d(1, 3, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(3, 1),
        )
        .double()
        .eval()
    )
    x = torch.randn(2, 1, 10, dtype=torch.float64)
    coarse = GradCAM(model, layer="1", upsample=False, relu=False).attribute(x)
    assert coarse.shape == (2, 1, 5)
    fine = GradCAM(model, layer="1", relu=False).attribute(x)
    expected = nn.functional.interpolate(coarse, size=10, mode="linear", align_corners=False)
    torch.testing.assert_close(fine, expected, rtol=1e-12, atol=1e-14)
    # CAM with a single-output head and target=None uses that output
    torch.testing.assert_close(
        CAM(model, layer="1", upsample=False).attribute(x), coarse * 5, rtol=1e-12, atol=1e-14
    )


def test_no_side_effects_and_no_hooks_left():
    model = tiny_cnn(pool="gap")
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    x0, out0 = x.clone(), model(x).detach()
    for method in (CAM(model, layer=LAYER), GradCAM(model, layer="features.conv2")):
        method.attribute(x, target=1)
    assert torch.equal(x, x0)
    assert torch.equal(model(x).detach(), out0)
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks for m in model.modules())
    assert not model.training


def test_inplace_relu_after_layer_keeps_activation():
    # ReLU(inplace=True) after the hooked conv must not change the captured activation
    def build(inplace):
        torch.manual_seed(4)
        return (
            nn.Sequential(
                nn.Conv2d(1, 3, 3, padding=1),
                nn.ReLU(inplace=inplace),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(3, 2),
            )
            .double()
            .eval()
        )

    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    a = GradCAM(build(True), layer="0", relu=False).attribute(x, target=1)
    b = GradCAM(build(False), layer="0", relu=False).attribute(x, target=1)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_errors():
    gap = tiny_cnn(pool="gap")
    flat = tiny_cnn(pool="flatten")
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match=r"'features.conv3' is not a module of the model; valid names are .*Perhaps you meant "
        r".*'features.conv2'",
    ):
        GradCAM(gap, layer="features.conv3")
    with pytest.raises(ValueError, match="is not a module of the model.*'features.relu2'"):
        CAM(gap, layer="relu2")
    with pytest.raises(ValueError, match="not among model.modules"):
        CAM(gap, layer=nn.ReLU())
    with pytest.raises(TypeError, match="layer must be a qualified module name"):
        GradCAM(gap, layer=3)
    with pytest.raises(TypeError, match="needs the model to be an nn.Module"):
        GradCAM(lambda z: gap(z), layer="features.conv2")
    with pytest.raises(
        ValueError, match="CAM needs global average pooling \\+ a linear head.*grad_cam"
    ):
        CAM(flat, layer="features.relu2").attribute(x, target=0)
    with pytest.raises(ValueError, match="has no nn.Linear.*grad_cam"):
        CAM(
            nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            .double()
            .eval(),
            layer="0",
        )
    with pytest.raises(TypeError, match="fc must be an nn.Linear"):
        CAM(gap, layer=LAYER, fc="features.conv2")
    # in_features matches but the layer is the convolution before the pooled ReLU
    with pytest.raises(
        ValueError, match="input of the linear head is not the global average.*activation"
    ):
        CAM(gap, layer="features.conv2").attribute(x, target=0)
    with pytest.raises(ValueError, match="target is missing"):
        CAM(gap, layer=LAYER).attribute(x)
    with pytest.raises(ValueError, match="target must be a column in \\[0, 3\\)"):
        CAM(gap, layer=LAYER).attribute(x, target=3)
    with pytest.raises(ValueError, match="outside \\[0, 3\\)"):
        CAM(gap, layer=LAYER).attribute(x, target=torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="at least one spatial dimension"):
        GradCAM(flat, layer="head.1").attribute(x, target=0)
    with pytest.raises(TypeError, match="upsample must be a bool"):
        GradCAM(gap, layer=LAYER, upsample="yes")
    with pytest.raises(TypeError, match="relu must be a bool"):
        GradCAM(gap, layer=LAYER, relu=None)


def test_layer_called_twice_or_never_raises():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)
            self.unused = nn.Conv2d(1, 1, 1)
            self.fc = nn.Linear(1, 2)

        def forward(self, x):
            h = self.conv(self.conv(x))
            return self.fc(h.mean((2, 3)))

    model = Twice().double().eval()
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="'conv' was called 2 times in one forward pass"):
        GradCAM(model, layer="conv").attribute(x, target=0)
    with pytest.raises(ValueError, match="'unused' was not called during the forward pass"):
        GradCAM(model, layer="unused").attribute(x, target=0)
    assert all(not m._forward_hooks for m in model.modules())


def test_upsample_to_too_few_input_dims_raises():
    # a model that reshapes a flat (n, 64) input into an 8 x 8 image: no spatial dims to upsample to
    cnn = tiny_cnn(pool="gap")
    model = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), cnn).eval()
    x = torch.randn(2, 64, dtype=torch.float64)
    with pytest.raises(ValueError, match="only 1 per-sample dimension"):
        GradCAM(model, layer="1.features.relu2").attribute(x, target=0)
    assert GradCAM(model, layer="1.features.relu2", upsample=False).attribute(
        x, target=0
    ).shape == (2, 1, 8, 8)
