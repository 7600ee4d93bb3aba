"""Deconvnet, guided backpropagation and RectGrad against slow literal implementations.

The reference walks a sequential network layer by layer: the forward pass stores each layer's
input, the backward pass applies the transposed linear maps written out by hand (matrix product,
transposed convolution, max-pool switches, average spreading) and the modified ReLU rule of each
paper. Our hook-based implementations must agree to 1e-12 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from physxai.attribution import Deconvnet, GuidedBackprop, RectGrad, attribute
from physxai.testing import tiny_cnn, tiny_mlp

METHODS = [Deconvnet, GuidedBackprop, RectGrad]


# -- the literal reference ------------------------------------------------------------------------
def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def _relu_rule(method: str, z: torch.Tensor, g: torch.Tensor, percentile: float) -> torch.Tensor:
    """The modified ReLU backward for one sample, written out from each paper."""
    if method == "deconvnet":  # Zeiler & Fergus: R_l = relu(R_{l+1})
        return np.maximum(g, 0.0)
    if method == "guided_backprop":  # Springenberg et al.: (z > 0) * (R_{l+1} > 0) * R_{l+1}
        return np.where((z > 0) & (g > 0), g, 0.0)
    # RectGrad, Kim et al.: keep where a * R > q-th percentile of {a * R} of the layer
    importance = np.maximum(z, 0.0) * g
    tau = np.percentile(importance.ravel(), percentile)
    return np.where(importance > tau, g, 0.0)


def literal(
    model: nn.Module, x: torch.Tensor, target: list[int], method: str, percentile: float = 98.0
):
    """One sample at a time, numpy where possible, layer by layer."""
    layers = _leaves(model)
    rows = []
    for i in range(x.shape[0]):
        h = x[i : i + 1]
        inputs = []
        for layer in layers:  # forward, storing every layer's input
            inputs.append(h)
            h = layer(h)
        g = torch.zeros_like(h)
        g[0, target[i]] = 1.0
        for layer, z in zip(reversed(layers), reversed(inputs)):
            if isinstance(layer, nn.Linear):
                g = torch.from_numpy(g.numpy() @ layer.weight.detach().numpy())
            elif isinstance(layer, nn.Conv2d):
                g = torch.nn.grad.conv2d_input(
                    z.shape, layer.weight.detach(), g, padding=layer.padding
                )
            elif isinstance(layer, nn.MaxPool2d):  # the gradient goes to the switch (argmax)
                _, idx = F.max_pool2d(z, layer.kernel_size, return_indices=True)
                flat = torch.zeros_like(z).flatten(2)
                flat.scatter_add_(2, idx.flatten(2), g.flatten(2))
                g = flat.view_as(z)
            elif isinstance(layer, nn.AdaptiveAvgPool2d):  # output size 1: spread evenly
                g = g.expand_as(z) / (z.shape[2] * z.shape[3])
            elif isinstance(layer, nn.Flatten):
                g = g.reshape(z.shape)
            elif isinstance(layer, nn.ReLU):
                g = torch.from_numpy(_relu_rule(method, z.detach().numpy(), g.numpy(), percentile))
            elif isinstance(layer, nn.Identity):
                pass
            else:  # pragma: no cover
                raise TypeError(type(layer))
        rows.append(g.detach())
    grad = torch.cat(rows)
    return x * grad if method == "rectgrad" else grad


def _ours(cls, model, x, target, percentile=98.0):
    if cls is RectGrad:
        return RectGrad(model, percentile=percentile).attribute(x, target=target)
    return cls(model).attribute(x, target=target)


MODELS = {
    "mlp": lambda: (tiny_mlp(), torch.randn(5, 6, dtype=torch.float64)),
    "cnn_gap": lambda: (tiny_cnn(), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
    "cnn_maxpool": lambda: (tiny_cnn(pool="flatten"), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("cls", [Deconvnet, GuidedBackprop])
def test_matches_literal_reference(cls, name):
    model, x = MODELS[name]()
    target = torch.tensor([0, 1, 2, 1, 0][: x.shape[0]])
    ours = _ours(cls, model, x, target)
    ref = literal(model, x, target.tolist(), cls.name)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert ours.abs().max() > 1e-3  # not trivially zero


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("percentile", [0.0, 37.5, 98.0])
def test_rectgrad_matches_literal_reference(name, percentile):
    model, x = MODELS[name]()
    ours = RectGrad(model, percentile=percentile).attribute(x, target=2)
    ref = literal(model, x, [2] * x.shape[0], "rectgrad", percentile)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def _one_hidden_layer(bias: float) -> nn.Sequential:
    """Linear(6, 8) -> ReLU -> Linear(8, 1) with positive output weights: importances a * g >= 0."""
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 1)).double().eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        model[0].weight.copy_(torch.randn(8, 6, generator=gen, dtype=torch.float64))
        model[0].bias.fill_(bias)
        model[2].weight.copy_(torch.rand(1, 8, generator=gen, dtype=torch.float64) + 0.1)
    return model


def test_rectgrad_percentile_zero_drops_only_the_minimum():
    """At q = 0, tau is the smallest importance and only units at the minimum are dropped.
    With non-negative importances and a dead unit in every sample the minimum is 0 at the dead
    units, so RectGrad(q=0) = x * gradient. With every unit active the least important one is
    dropped as well, and RectGrad(q=0) differs from x * gradient by exactly that unit."""
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    for bias, all_active in ((-0.5, False), (100.0, True)):
        model = _one_hidden_layer(bias)
        z = model[0](x)
        if all_active:
            assert bool((z > 0).all())
        else:  # every sample has a dead unit and a live one
            assert bool((z <= 0).any(1).all()) and bool((z > 0).any(1).all())
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(model(xg).sum(), xg)
        R = RectGrad(model, percentile=0.0).attribute(x)
        if not all_active:
            torch.testing.assert_close(R, x * grad, rtol=1e-12, atol=1e-12)
        else:  # drop the unit of least importance a_j * v_j by hand
            importance = torch.relu(z) * model[2].weight
            keep = importance > importance.min(1, keepdim=True).values
            expected = x * ((keep * model[2].weight) @ model[0].weight)
            torch.testing.assert_close(R, expected.detach(), rtol=1e-12, atol=1e-12)
            assert (R - x * grad).abs().max() > 1e-3


def test_rectgrad_high_percentile_is_sparser():
    model, x = MODELS["cnn_gap"]()
    nonzero = [
        int((RectGrad(model, percentile=q).attribute(x, target=0) != 0).sum())
        for q in (0.0, 50.0, 98.0)
    ]
    assert nonzero[0] >= nonzero[1] >= nonzero[2]
    assert nonzero[0] > nonzero[2]


# -- exact solutions -----------------------------------------------------------------------------
def test_linear_network_gives_the_gradient():
    """Without ReLUs nothing is modified: deconvnet = guided = w, RectGrad = x * w."""
    model = tiny_mlp(activation=nn.Identity)
    x = torch.randn(4, 6, dtype=torch.float64)
    w = model[4].weight @ model[2].weight @ model[0].weight  # (3, 6)
    for cls in (Deconvnet, GuidedBackprop):
        torch.testing.assert_close(
            cls(model).attribute(x, target=1), w[1].expand_as(x).detach(), rtol=1e-12, atol=1e-12
        )
    torch.testing.assert_close(
        RectGrad(model).attribute(x, target=1), (x * w[1]).detach(), rtol=1e-12, atol=1e-12
    )


def test_deconvnet_ignores_the_forward_pass_of_relus():
    """A ReLU network without pooling: the deconvnet signal is the same for every input."""
    model = tiny_mlp()
    x = torch.randn(6, 6, dtype=torch.float64)
    R = Deconvnet(model).attribute(x, target=0)
    torch.testing.assert_close(R, R[:1].expand_as(R), rtol=1e-12, atol=1e-12)


def test_single_relu_hand_computed():
    """f(x) = v * relu(w . x + b): guided passes v * w if z > 0 and v > 0, else 0."""
    model = nn.Sequential(nn.Linear(2, 1), nn.ReLU(), nn.Linear(1, 1, bias=False)).double().eval()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0]]))
        model[0].bias.fill_(0.5)
        model[2].weight.fill_(-3.0)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)  # z = 1.5 (on), -1.5 (off)
    torch.testing.assert_close(
        GuidedBackprop(model).attribute(x), torch.zeros(2, 2, dtype=torch.float64)
    )
    torch.testing.assert_close(
        Deconvnet(model).attribute(x), torch.zeros(2, 2, dtype=torch.float64)
    )
    with torch.no_grad():
        model[2].weight.fill_(3.0)
    expected = torch.tensor([[3.0, -6.0], [0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(GuidedBackprop(model).attribute(x), expected)
    torch.testing.assert_close(
        Deconvnet(model).attribute(x), torch.tensor([[3.0, -6.0]] * 2, dtype=torch.float64)
    )


# -- in-place ReLU, reused modules, functional ReLU ------------------------------------------------
class _Reused(nn.Module):
    """tiny_mlp's layers with ONE ReLU module applied after both hidden layers."""

    def __init__(self, ref: nn.Sequential, inplace: bool = False):
        super().__init__()
        self.l0, self.l1, self.l2 = ref[0], ref[2], ref[4]
        self.act = nn.ReLU(inplace=inplace)
        self.eval()

    def forward(self, x):
        return self.l2(self.act(self.l1(self.act(self.l0(x)))))


class _SideEffect(nn.Module):
    """Relies on the in-place side effect: the ReLU's return value is thrown away."""

    def __init__(self, ref: nn.Sequential):
        super().__init__()
        self.l0, self.l1, self.l2 = ref[0], ref[2], ref[4]
        self.a0, self.a1 = nn.ReLU(inplace=True), nn.ReLU(inplace=True)
        self.eval()

    def forward(self, x):
        h = self.l0(x)
        self.a0(h)
        h = self.l1(h)
        self.a1(h)
        return self.l2(h)


def _variants():
    ref = tiny_mlp()
    inplace = nn.Sequential(
        *[nn.ReLU(inplace=True) if isinstance(m, nn.ReLU) else m for m in ref]
    ).eval()
    return ref, [inplace, _Reused(ref), _Reused(ref, inplace=True), _SideEffect(ref)]


@pytest.mark.parametrize("cls", METHODS)
def test_inplace_and_reused_relu_match_separate_modules(cls):
    ref, variants = _variants()
    x = torch.randn(5, 6, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 0, 1])
    expected = _ours(cls, ref, x, target, percentile=60.0)
    for model in variants:
        torch.testing.assert_close(model(x), ref(x))
        torch.testing.assert_close(
            _ours(cls, model, x, target, percentile=60.0), expected, rtol=1e-12, atol=1e-12
        )


class _InplaceAfter(nn.Module):
    def __init__(self, inplace: bool):
        super().__init__()
        self.ref, self.inplace = tiny_mlp(), inplace
        self.eval()

    def forward(self, x):
        a = self.ref[1](self.ref[0](x))
        a = a.mul_(2.0) if self.inplace else a * 2.0  # changes the ReLU's output in place
        return self.ref[4](self.ref[3](self.ref[2](a)))


def test_inplace_change_of_relu_output():
    """Guided/deconvnet do not need the output: correct. RectGrad needs it: a clear error."""
    x = torch.randn(3, 6, dtype=torch.float64)
    for cls in (Deconvnet, GuidedBackprop):
        torch.testing.assert_close(
            cls(_InplaceAfter(True)).attribute(x, target=0),
            cls(_InplaceAfter(False)).attribute(x, target=0),
        )
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        RectGrad(_InplaceAfter(True)).attribute(x, target=0)


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.ref = tiny_mlp()
        self.eval()

    def forward(self, x):
        return self.ref[4](self.ref[3](self.ref[2](F.relu(self.ref[0](x)))))


@pytest.mark.parametrize("cls", METHODS)
def test_functional_relu_warns(cls):
    x = torch.randn(3, 6, dtype=torch.float64)
    with pytest.warns(UserWarning, match="applies relu as a function"):
        cls(_Functional()).attribute(x, target=0)


def test_no_warning_for_module_relus(recwarn):
    x = torch.randn(3, 6, dtype=torch.float64)
    for cls in METHODS:
        cls(tiny_mlp()).attribute(x, target=0)
    assert not [w for w in recwarn if "as a function" in str(w.message)]


# -- the call shape ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", METHODS)
def test_shape_dtype_and_batch_independence(cls):
    model = tiny_cnn(dtype=torch.float32)
    x = torch.randn(4, 1, 8, 8)
    R = _ours(cls, model, x, 1)
    assert R.shape == x.shape and R.dtype == x.dtype and R.device == x.device
    one_by_one = torch.cat([_ours(cls, model, x[i : i + 1], 1) for i in range(4)])
    torch.testing.assert_close(R, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", METHODS)
def test_target_forms_agree(cls):
    model = tiny_mlp()
    x = torch.randn(3, 6, dtype=torch.float64)
    a = _ours(cls, model, x, 2)
    torch.testing.assert_close(_ours(cls, model, x, torch.tensor([2, 2, 2])), a)
    torch.testing.assert_close(_ours(cls, model, x, lambda out: out[:, 2]), a)


def test_registry_names():
    model = tiny_mlp()
    x = torch.randn(2, 6, dtype=torch.float64)
    torch.testing.assert_close(
        attribute(model, x, "guided_backprop", target=0),
        GuidedBackprop(model).attribute(x, target=0),
    )
    torch.testing.assert_close(
        attribute(model, x, "deconvnet", target=0), Deconvnet(model).attribute(x, target=0)
    )
    torch.testing.assert_close(
        attribute(model, x, "rectgrad", target=0, percentile=80.0),
        RectGrad(model, percentile=80.0).attribute(x, target=0),
    )


# -- bad inputs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [-1.0, 100.0, 100, 150.0, float("nan"), True, "98", None])
def test_bad_percentile_raises(bad):
    with pytest.raises(ValueError, match=r"RectGrad: percentile must be a number in \[0, 100\)"):
        RectGrad(tiny_mlp(), percentile=bad)


@pytest.mark.parametrize("cls", METHODS)
def test_baseline_is_not_accepted(cls):
    x = torch.randn(2, 6, dtype=torch.float64)
    with pytest.raises(TypeError, match="baseline"):
        cls(tiny_mlp()).attribute(x, target=0, baseline=0.0)
    with pytest.raises(TypeError, match="baseline"):
        attribute(tiny_mlp(), x, cls.name, target=0, baseline=0.0)


@pytest.mark.parametrize("cls", METHODS)
def test_bad_inputs_raise(cls):
    model = tiny_mlp()
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor"):
        cls(model).attribute(np.zeros((2, 6)), target=0)
    with pytest.raises(ValueError, match="target must be a column"):
        cls(model).attribute(torch.randn(2, 6, dtype=torch.float64), target=5)


def test_activation_called_by_keyword_raises():
    class Keyword(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = nn.Linear(3, 1).double(), nn.ReLU()
            self.eval()

        def forward(self, x):
            return self.lin(self.act(input=x))

    with pytest.raises(TypeError, match="first positional argument"):
        GuidedBackprop(Keyword()).attribute(torch.randn(2, 3, dtype=torch.float64))


# -- the model is left untouched -----------------------------------------------------------------
def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("cls", METHODS)
def test_model_untouched(cls):
    model = tiny_cnn(pool="flatten")
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    x_copy = x.clone()
    before = model(x).detach()
    params = [p.detach().clone() for p in model.parameters()]
    _ours(cls, model, x, 0)
    assert _hooks(model) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params))
    assert torch.equal(model(x), before) and torch.equal(x, x_copy)
    assert not x.requires_grad and model.training is False


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.ref = tiny_mlp()
        self.eval()

    def forward(self, x):
        self.ref[1](self.ref[0](x))
        raise RuntimeError("boom in forward")


@pytest.mark.parametrize("cls", METHODS)
def test_hooks_removed_when_model_raises(cls):
    model = _Raises()
    with pytest.raises(RuntimeError, match="boom in forward"):
        _ours(cls, model, torch.randn(2, 6, dtype=torch.float64), 0)
    assert _hooks(model) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    # the mode stack is clean: an ordinary relu afterwards is not intercepted
    assert torch.equal(F.relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))


def test_function_wrapping_a_module_warns():
    """A plain function around the model hides its modules from the hooks: warn, do not pretend."""
    model = tiny_mlp()
    x = torch.randn(2, 6, dtype=torch.float64)
    with pytest.warns(UserWarning, match="not an nn.Module, so no ReLU module could be hooked"):
        R = GuidedBackprop(lambda z: model(z)).attribute(x, target=0)
    (g,) = torch.autograd.grad(model(x.requires_grad_())[:, 0].sum(), x)
    torch.testing.assert_close(R, g)  # the plain gradient, as the warning says
