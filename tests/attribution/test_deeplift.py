"""DeepLIFT (rescale): summation-to-delta, hand-computed multipliers, in-place and reused
activations, and the errors and warnings for what the rescale rule does not cover."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from physxai.attribution import DeepLift, attribute, completeness_delta
from physxai.testing import assert_completeness, tiny_cnn, tiny_mlp


class _AvgPoolCNN(nn.Sequential):
    """Conv, Sigmoid, AvgPool, Conv, ELU, Flatten, Linear, LeakyReLU, Linear, Softplus, Linear."""

    def __init__(self):
        gen = torch.Generator().manual_seed(3)
        super().__init__(
            nn.Conv2d(1, 3, 3, padding=1),
            nn.Sigmoid(),
            nn.AvgPool2d(2),
            nn.Conv2d(3, 4, 3, padding=1),
            nn.ELU(),
            nn.Flatten(),
            nn.Linear(64, 8),
            nn.LeakyReLU(0.1),
            nn.Linear(8, 5),
            nn.Softplus(),
            nn.Linear(5, 3),
        )
        self.double()
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / p[0].numel() ** 0.5)
        self.eval()


CASES = {
    "mlp_relu": lambda: (tiny_mlp(), torch.randn(6, 6, dtype=torch.float64)),
    "mlp_tanh": lambda: (tiny_mlp(activation=nn.Tanh), torch.randn(6, 6, dtype=torch.float64)),
    "cnn_gap_relu": lambda: (tiny_cnn(), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
    "cnn_avgpool_mixed": lambda: (_AvgPoolCNN(), torch.randn(4, 1, 8, 8, dtype=torch.float64)),
}


def _baselines(x):
    return {
        "zero": 0.0,
        "float": -0.3,
        "one_row": torch.randn(1, *x.shape[1:], dtype=x.dtype),
        "per_sample": torch.randn_like(x),
    }


# -- summation-to-delta --------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("baseline_kind", ["float", "one_row", "per_sample"])
def test_completeness_is_exact(case, baseline_kind):
    """sum R = f(x) - f(baseline) to 1e-10 in float64 (Shrikumar et al. 2017, Eq. 1)."""
    model, x = CASES[case]()
    baseline = _baselines(x)[baseline_kind]
    target = torch.arange(x.shape[0]) % 3
    R = DeepLift(model).attribute(x, target=target, baseline=baseline)
    delta = completeness_delta(model, x, R, target=target, baseline=baseline)
    assert delta.abs().max() < 1e-10
    assert_completeness(model, x, R, target=target, baseline=baseline)
    assert R.abs().max() > 1e-3


def test_completeness_float32():
    model = tiny_mlp(activation=nn.Tanh, dtype=torch.float32)
    x = torch.randn(8, 6)
    R = DeepLift(model).attribute(x, target=1, baseline=0.5)
    assert R.dtype == torch.float32 and R.shape == x.shape
    assert completeness_delta(model, x, R, target=1, baseline=0.5).abs().max() < 1e-5


# -- exact solutions -----------------------------------------------------------------------------
def test_linear_network_gives_difference_times_weight():
    model = tiny_mlp(activation=nn.Identity)
    x = torch.randn(4, 6, dtype=torch.float64)
    b = torch.randn(1, 6, dtype=torch.float64)
    w = (model[4].weight @ model[2].weight @ model[0].weight).detach()
    torch.testing.assert_close(
        DeepLift(model).attribute(x, target=2, baseline=b), (x - b) * w[2], rtol=1e-12, atol=1e-12
    )


def _unit(act: nn.Module) -> nn.Sequential:
    """f(x) = v * act(w . x + c) with w = (1, -2), c = 0.5, v = 3."""
    model = nn.Sequential(nn.Linear(2, 1), act, nn.Linear(1, 1, bias=False)).double()
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0]]))
        model[0].bias.fill_(0.5)
        model[2].weight.fill_(3.0)
    return model.eval()


def test_single_relu_hand_computed_multiplier():
    """x = (2, 0.5): z = 1.5; baseline (0, 1): z_ref = -1.5. m = (1.5 - 0) / (1.5 + 1.5) = 0.5,
    R = (x - b) * w * m * v = (2, -0.5) * (1, -2) * 0.5 * 3 = (3, 1.5); sum = 4.5 = f(x) - f(b)."""
    model = _unit(nn.ReLU())
    x = torch.tensor([[2.0, 0.5]], dtype=torch.float64)
    b = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    R = DeepLift(model).attribute(x, baseline=b)
    torch.testing.assert_close(
        R, torch.tensor([[3.0, 1.5]], dtype=torch.float64), rtol=0, atol=1e-15
    )
    # both on the active side: m = 1, R = (x - b) * w * v
    R = DeepLift(model).attribute(x, baseline=torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(
        R, torch.tensor([[3.0, -3.0]], dtype=torch.float64), rtol=0, atol=1e-15
    )


def test_secant_slope_of_tanh_and_derivative_fallback():
    model = _unit(nn.Tanh())
    x = torch.tensor([[1.0, 0.25]], dtype=torch.float64)  # z = 1.0
    b = torch.tensor([[0.0, 0.0]], dtype=torch.float64)  # z_ref = 0.5
    z, z_ref = torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
    m = (torch.tanh(z) - torch.tanh(z_ref)) / (z - z_ref)
    expected = torch.tensor([[1.0 * 1.0, 0.25 * -2.0]], dtype=torch.float64) * m * 3.0
    torch.testing.assert_close(
        DeepLift(model).attribute(x, baseline=b), expected, rtol=1e-14, atol=1e-15
    )
    # z = z_ref although x != b: the secant is undefined, the derivative 1 - tanh(z)^2 is used
    x = torch.tensor([[2.0, 1.0]], dtype=torch.float64)  # z = 0.5 = z_ref
    d = 1.0 - torch.tanh(torch.tensor(0.5, dtype=torch.float64)) ** 2
    expected = torch.tensor([[2.0, -2.0]], dtype=torch.float64) * d * 3.0
    torch.testing.assert_close(
        DeepLift(model).attribute(x, baseline=b), expected, rtol=1e-14, atol=1e-15
    )


def test_baseline_equal_to_input_gives_zero():
    model, x = CASES["mlp_tanh"]()
    torch.testing.assert_close(
        DeepLift(model).attribute(x, target=0, baseline=x), torch.zeros_like(x)
    )


def test_baseline_none_means_zero_and_target_forms_agree():
    model, x = CASES["mlp_relu"]()
    a = DeepLift(model).attribute(x, target=1)
    torch.testing.assert_close(DeepLift(model).attribute(x, target=1, baseline=None), a)
    torch.testing.assert_close(DeepLift(model).attribute(x, target=torch.full((6,), 1)), a)
    torch.testing.assert_close(DeepLift(model).attribute(x, target=lambda out: out[:, 1]), a)
    torch.testing.assert_close(attribute(model, x, "deeplift", target=1, baseline=0.0), a)


def test_batch_equals_one_by_one():
    model, x = CASES["cnn_avgpool_mixed"]()
    b = torch.randn_like(x)
    R = DeepLift(model).attribute(x, target=0, baseline=b)
    one = torch.cat(
        [DeepLift(model).attribute(x[i : i + 1], target=0, baseline=b[i : i + 1]) for i in range(4)]
    )
    torch.testing.assert_close(R, one, rtol=1e-12, atol=1e-12)


# -- in-place and reused activations -------------------------------------------------------------
class _Reused(nn.Module):
    def __init__(self, ref: nn.Sequential, inplace: bool):
        super().__init__()
        self.l0, self.l1, self.l2 = ref[0], ref[2], ref[4]
        self.act = type(ref[1])(inplace=inplace) if inplace else type(ref[1])()
        self.eval()

    def forward(self, x):
        return self.l2(self.act(self.l1(self.act(self.l0(x)))))


class _SideEffect(nn.Module):
    """Throws the return value of in-place activations away and uses the mutated tensor."""

    def __init__(self, ref: nn.Sequential):
        super().__init__()
        self.l0, self.l1, self.l2 = ref[0], ref[2], ref[4]
        self.a0, self.a1 = nn.ELU(inplace=True), nn.ELU(inplace=True)
        self.eval()

    def forward(self, x):
        h = self.l0(x)
        self.a0(h)
        h = self.l1(h)
        self.a1(h)
        return self.l2(h)


@pytest.mark.parametrize("act", [nn.ReLU, nn.ELU])
def test_inplace_and_reused_match_separate_modules(act):
    ref = tiny_mlp(activation=act)
    x = torch.randn(5, 6, dtype=torch.float64)
    b = torch.randn(1, 6, dtype=torch.float64)
    expected = DeepLift(ref).attribute(x, target=0, baseline=b)
    inplace = nn.Sequential(*[act(inplace=True) if isinstance(m, act) else m for m in ref]).eval()
    variants = [inplace, _Reused(ref, inplace=False), _Reused(ref, inplace=True)]
    if act is nn.ELU:
        variants.append(_SideEffect(ref))
    for model in variants:
        torch.testing.assert_close(model(x), ref(x))
        torch.testing.assert_close(
            DeepLift(model).attribute(x, target=0, baseline=b), expected, rtol=1e-12, atol=1e-12
        )


# -- what the rescale rule does not cover --------------------------------------------------------
def test_maxpool_warns_that_completeness_fails():
    """Max pooling passes the plain gradient (documented): summation-to-delta fails; a warning."""
    model = tiny_cnn(pool="flatten")
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    b = torch.randn_like(x)
    with pytest.warns(UserWarning, match="no rescale rule"):
        R = DeepLift(model).attribute(x, target=0, baseline=b)
    assert completeness_delta(model, x, R, target=0, baseline=b).abs().max() > 1e-6


class _Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.ref = tiny_mlp(activation=nn.Tanh)
        self.eval()

    def forward(self, x):
        return self.ref[4](torch.tanh(self.ref[2](self.ref[1](self.ref[0](x)))))


def test_functional_activation_is_named_in_the_warning():
    x = torch.randn(3, 6, dtype=torch.float64)
    with pytest.warns(UserWarning, match="It saw tanh applied as a function"):
        DeepLift(_Functional()).attribute(x, target=0, baseline=0.5)


def test_no_warning_when_exact(recwarn):
    model, x = CASES["cnn_avgpool_mixed"]()
    DeepLift(model).attribute(x, target=0, baseline=0.2)
    assert not recwarn.list


class _Branching(nn.Module):
    """Takes another path (another activation module) when the input's sum is positive."""

    def __init__(self):
        super().__init__()
        self.lin, self.a, self.b = nn.Linear(3, 2).double(), nn.ReLU(), nn.Tanh()
        self.eval()

    def forward(self, x):
        h = self.lin(x)
        return (self.a(h) if x.sum() > 0 else self.b(h)).sum(1)


def test_different_path_for_baseline_raises():
    x = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="different order for the inputs than for the baseline"):
        DeepLift(_Branching()).attribute(x, baseline=-1.0)
    DeepLift(_Branching()).attribute(x, baseline=0.5)  # same path: fine


class _ExtraCall(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.act = nn.Linear(3, 2).double(), nn.Tanh()
        self.eval()

    def forward(self, x):
        h = self.act(self.lin(x))
        return (self.act(h) if x.sum() > 0 else h).sum(1)


def test_missing_or_extra_activation_call_raises():
    x = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(
        ValueError, match="called activation modules 1 times for the inputs and 2 times"
    ):
        DeepLift(_ExtraCall()).attribute(-x, baseline=1.0)
    with pytest.raises(
        ValueError, match=r"call 2: act \(Tanh\) for the inputs, no call for the baseline"
    ):
        DeepLift(_ExtraCall()).attribute(x, baseline=-1.0)


# -- bad inputs ----------------------------------------------------------------------------------
def test_bad_baselines_raise():
    model, x = CASES["mlp_relu"]()
    dl = DeepLift(model)
    with pytest.raises(ValueError, match=r"baseline must broadcast to inputs of shape \(6, 6\)"):
        dl.attribute(x, target=0, baseline=torch.zeros(6, dtype=torch.float64))
    with pytest.raises(ValueError, match="baseline must broadcast"):
        dl.attribute(x, target=0, baseline=torch.zeros(2, 6, dtype=torch.float64))
    with pytest.raises(ValueError, match="baseline must have the dtype of inputs"):
        dl.attribute(x, target=0, baseline=torch.zeros(1, 6))
    with pytest.raises(TypeError, match="baseline must be a float or a tensor"):
        dl.attribute(x, target=0, baseline="zero")
    with pytest.raises(ValueError, match="baseline must be finite"):
        dl.attribute(x, target=0, baseline=float("nan"))
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_steps'"):
        dl.attribute(x, target=0, n_steps=3)


# -- the model is left untouched -----------------------------------------------------------------
def _hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_model_untouched():
    model, x = CASES["cnn_avgpool_mixed"]()
    x_copy = x.clone()
    before = model(x).detach()
    params = [p.detach().clone() for p in model.parameters()]
    DeepLift(model).attribute(x, target=0, baseline=0.1)
    assert _hooks(model) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params))
    assert torch.equal(model(x), before) and torch.equal(x, x_copy) and not model.training


class _Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.ref = tiny_mlp()
        self.eval()

    def forward(self, x):
        self.ref[1](self.ref[0](x))
        raise RuntimeError("boom in forward")


def test_hooks_removed_when_model_raises():
    model = _Raises()
    with pytest.raises(RuntimeError, match="boom in forward"):
        DeepLift(model).attribute(torch.randn(2, 6, dtype=torch.float64), target=0)
    assert _hooks(model) == 0
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert torch.equal(F.relu(torch.tensor([-1.0, 2.0])), torch.tensor([0.0, 2.0]))


class _ShapeChange(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin, self.act = nn.Linear(3, 4).double(), nn.Tanh()
        self.eval()

    def forward(self, x):
        h = self.lin(x)
        return self.act(h[:, :2] if x.sum() > 0 else h).sum(1)


def test_activation_shape_change_raises():
    x = torch.ones(2, 3, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"act \(Tanh\) got shape \(2, 2\) for the inputs and \(2, 4\)"
    ):
        DeepLift(_ShapeChange()).attribute(x, baseline=-1.0)
