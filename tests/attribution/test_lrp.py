"""LRP and deep Taylor decomposition: axioms, literal formulas, canonizers, hooks and errors.

- Conservation: on bias-free ReLU networks in float64, LRP-epsilon with epsilon -> 0 and z+ give
  sum R = f(x) to 1e-10, at the input and at every layer; z+ and deep Taylor give R >= 0.
- Every rule equals a slow, literal, loop-based evaluation of its formula, rebuilt from the
  layer's weights (a Linear layer and a strided, padded Conv2d unfolded into a dense matrix).
- MergeBatchNorm: the merged layers reproduce the model's outputs, LRP of a BatchNorm model equals
  LRP of the hand-merged model, and the caller's model is untouched, also when attribute raises.
- In-place activations and activation modules used twice give exactly the plain model's result.
- Layers without a rule, unmergeable BatchNorms and bad hyperparameters raise clear errors.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from physxai import METHODS, attribute
from physxai.attribution import LRP, DeepTaylor, conservation_delta
from physxai.attribution.lrp import (
    COMPOSITES,
    AlphaBeta,
    Composite,
    DeepTaylorComposite,
    Epsilon,
    EpsilonComposite,
    EpsilonGammaBox,
    EpsilonPlus,
    Flat,
    Gamma,
    MergeBatchNorm,
    Pass,
    WSquare,
    ZBox,
    ZPlus,
    ZPlusComposite,
)
from physxai.errors import UnsupportedLayerError
from physxai.testing import tiny_cnn, tiny_mlp

F64 = torch.float64


def outputs(model, x, target):
    with torch.no_grad():
        out = model(x)
    if callable(target):
        return target(out)
    return out.gather(1, target[:, None])[:, 0]


def assert_conserved(model, x, R, target, rtol=1e-10):
    delta = conservation_delta(model, x, R, target=target)
    f = outputs(model, x, target)
    assert torch.all(delta.abs() <= rtol * f.abs() + 1e-300), (delta, f)


def bias_free(kind):
    """A bias-free ReLU network and positive inputs scaled so that the outputs are O(1) (the
    epsilon rule's relative error is about epsilon / |z_j|)."""
    if kind == "mlp":
        return tiny_mlp(bias=False), 10 * torch.rand(8, 6, dtype=F64)
    pool = "gap" if kind == "cnn_gap" else "flatten"
    return tiny_cnn(bias=False, pool=pool), 10 * torch.rand(8, 1, 8, 8, dtype=F64)


def positive_targets(model, x):
    """The largest output of each sample, keeping the samples where it is positive."""
    with torch.no_grad():
        val, idx = model(x).max(1)
    keep = val > 1e-6
    assert keep.sum() >= 3
    return x[keep], idx[keep]


KINDS = ["mlp", "cnn_gap", "cnn_flatten"]


# -- conservation -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("epsilon", [0.0, 1e-12])
def test_epsilon_to_zero_conserves(kind, epsilon):
    model, x = bias_free(kind)
    target = torch.arange(len(x)) % 3  # outputs of either sign
    R = LRP(model, composite=EpsilonComposite(epsilon)).attribute(x, target=target)
    assert_conserved(model, x, R, target)


@pytest.mark.parametrize("kind", KINDS)
def test_zplus_conserves_and_is_nonnegative(kind):
    model, x = bias_free(kind)
    x, target = positive_targets(model, x)
    R = LRP(model, composite="zplus").attribute(x, target=target)
    assert_conserved(model, x, R, target)
    assert R.min() >= 0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("composite", ["epsilon0", "zplus"])
def test_conservation_layer_by_layer(kind, composite):
    model, x = bias_free(kind)
    x, target = positive_targets(model, x)
    comp = EpsilonComposite(0.0) if composite == "epsilon0" else ZPlusComposite()
    layers = LRP(model, composite=comp).layer_relevances(x, target=target)
    expected = {
        name for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ReLU))
    }
    assert expected <= set(layers)
    f = outputs(model, x, target)
    for name, r in layers.items():
        total = r.flatten(1).sum(1)
        assert torch.all((total - f).abs() <= 1e-10 * f.abs()), name


def test_linear_readout_target_conserves():
    model, x = bias_free("mlp")
    readout = lambda out: out.sum(1)
    R = LRP(model, composite=EpsilonComposite(0.0)).attribute(x, target=readout)
    assert_conserved(model, x, R, readout)


def test_lrp0_on_bias_free_relu_network_is_gradient_x_input():
    model, x = bias_free("cnn_flatten")
    target = torch.arange(len(x)) % 3
    R = LRP(model, composite=EpsilonComposite(0.0)).attribute(x, target=target)
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(model(xg).gather(1, target[:, None]).sum(), xg)
    torch.testing.assert_close(R, x * g, rtol=1e-10, atol=1e-14)


def lattice_models():
    """Bias-free 1-d (periodic, as for spin chains) and 3-d convolutional ReLU networks."""
    gen = torch.Generator().manual_seed(2)
    chain = nn.Sequential(
        nn.Conv1d(1, 3, 3, padding=1, padding_mode="circular", bias=False),
        nn.ReLU(),
        nn.AvgPool1d(2),
        nn.Conv1d(3, 4, 3, padding=1, padding_mode="circular", bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 3, bias=False),
    )
    cube = nn.Sequential(
        nn.Conv3d(1, 2, 2, bias=False),
        nn.ReLU(),
        nn.MaxPool3d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(16, 3, bias=False),
    )
    out = []
    for model, shape in ((chain, (1, 8)), (cube, (1, 4, 4, 4))):
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=F64))
        out.append((model.double().eval(), 10 * torch.rand(12, *shape, dtype=F64)))
    return out


@pytest.mark.parametrize("which", [0, 1], ids=["conv1d_circular", "conv3d"])
def test_conv1d_and_conv3d_conserve(which):
    model, x = lattice_models()[which]
    x, target = positive_targets(model, x)
    for composite in (EpsilonComposite(0.0), "zplus", "deep_taylor"):
        R = LRP(model, composite=composite).attribute(x, target=target)
        assert_conserved(model, x, R, target)
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(model(xg).gather(1, target[:, None]).sum(), xg)
    R0 = LRP(model, composite=EpsilonComposite(0.0)).attribute(x, target=target)
    torch.testing.assert_close(R0, x * g, rtol=1e-10, atol=1e-14)


# -- deep Taylor ---------------------------------------------------------------------------------


def test_deep_taylor_bounded_conserves_and_is_nonnegative():
    model = tiny_mlp(in_features=16, hidden=(24, 12), bias=False, seed=3)
    x = 16 * torch.rand(40, 16, dtype=F64)
    x, target = positive_targets(model, x)
    R = DeepTaylor(model, low=0.0, high=16.0).attribute(x, target=target)
    assert_conserved(model, x, R, target, rtol=1e-6)
    assert R.min() >= 0
    # the same as LRP with the deep Taylor composite, by name of rule or tensor bounds
    low, high = torch.zeros(16, dtype=F64), torch.full((16,), 16.0, dtype=F64)
    R2 = LRP(model, composite=DeepTaylorComposite(low=low, high=high)).attribute(x, target=target)
    torch.testing.assert_close(R2, R, rtol=1e-12, atol=1e-14)


def test_deep_taylor_unbounded_uses_wsquare():
    model = tiny_mlp(bias=False)
    x, target = positive_targets(model, torch.randn(30, 6, dtype=F64))
    R = DeepTaylor(model).attribute(x, target=target)
    assert_conserved(model, x, R, target)
    assert R.min() >= 0
    ref = LRP(model, composite=Composite({nn.Linear: ZPlus()}, first=WSquare())).attribute(
        x, target=target
    )
    torch.testing.assert_close(R, ref, rtol=0, atol=0)
    torch.testing.assert_close(LRP(model, composite="deep_taylor").attribute(x, target=target), R)


# -- every rule equals its literal formula -------------------------------------------------------


def dense_linear(layer: nn.Linear):
    W = layer.weight.detach().numpy().T.copy()  # (I, J)
    b = np.zeros(W.shape[1]) if layer.bias is None else layer.bias.detach().numpy().copy()
    return W, b, np.ones_like(W)


def dense_conv2d(layer: nn.Conv2d, in_shape):
    """The convolution as a dense matrix, written out entry by entry from the kernel."""
    c_in, h, w = in_shape
    k = layer.weight.detach().numpy()
    c_out, _, kh, kw = k.shape
    (sh, sw), (ph, pw) = layer.stride, layer.padding
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    W = np.zeros((c_in * h * w, c_out * oh * ow))
    C = np.zeros_like(W)
    for o in range(c_out):
        for y in range(oh):
            for x in range(ow):
                j = (o * oh + y) * ow + x
                for c in range(c_in):
                    for dy in range(kh):
                        for dx in range(kw):
                            iy, ix = y * sh - ph + dy, x * sw - pw + dx
                            if 0 <= iy < h and 0 <= ix < w:
                                i = (c * h + iy) * w + ix
                                W[i, j] = k[o, c, dy, dx]
                                C[i, j] = 1.0
    bias = layer.bias.detach().numpy() if layer.bias is not None else np.zeros(c_out)
    b = np.repeat(bias, oh * ow)
    return W, b, C


def literal(rule, a, W, b, C, R, low=None, high=None):
    """R_i = sum_j q_ij / den_j R_j, looping over every input i and output j."""
    I, J = W.shape
    pos, neg = (lambda v: max(v, 0.0)), (lambda v: min(v, 0.0))
    out = np.zeros(I)
    for j in range(J):
        z = sum(a[i] * W[i, j] for i in range(I)) + b[j]
        if isinstance(rule, Epsilon):
            q = [a[i] * W[i, j] for i in range(I)]
            den = z + (rule.epsilon if z >= 0 else -rule.epsilon)
            terms = [(q, den, 1.0)]
        elif isinstance(rule, ZPlus):
            q = [pos(a[i] * W[i, j]) for i in range(I)]
            terms = [(q, sum(q) + pos(b[j]), 1.0)]
        elif isinstance(rule, AlphaBeta):
            qp = [pos(a[i] * W[i, j]) for i in range(I)]
            qn = [neg(a[i] * W[i, j]) for i in range(I)]
            terms = [(qp, sum(qp) + pos(b[j]), rule.alpha), (qn, sum(qn) + neg(b[j]), -rule.beta)]
        elif isinstance(rule, Gamma):
            g = rule.gamma
            if z > 0:
                q = [a[i] * W[i, j] + g * pos(a[i] * W[i, j]) for i in range(I)]
                terms = [(q, sum(q) + b[j] + g * pos(b[j]), 1.0)]
            elif z < 0:
                q = [a[i] * W[i, j] + g * neg(a[i] * W[i, j]) for i in range(I)]
                terms = [(q, sum(q) + b[j] + g * neg(b[j]), 1.0)]
            else:
                terms = []
        elif isinstance(rule, ZBox):
            q = [a[i] * W[i, j] - low[i] * pos(W[i, j]) - high[i] * neg(W[i, j]) for i in range(I)]
            terms = [(q, sum(q), 1.0)]
        elif isinstance(rule, Flat):
            q = [C[i, j] for i in range(I)]
            terms = [(q, sum(q), 1.0)]
        elif isinstance(rule, WSquare):
            q = [W[i, j] ** 2 for i in range(I)]
            terms = [(q, sum(q), 1.0)]
        else:  # pragma: no cover
            raise TypeError(rule)
        for q, den, factor in terms:
            if den == 0:
                continue
            for i in range(I):
                out[i] += factor * q[i] / den * R[j]
    return out


RULES = [
    pytest.param(Epsilon(1e-3), id="epsilon"),
    pytest.param(Epsilon(0.0), id="lrp0"),
    pytest.param(ZPlus(), id="zplus"),
    pytest.param(AlphaBeta(2.0, 1.0), id="alpha2beta1"),
    pytest.param(AlphaBeta(1.0, 0.0), id="alpha1beta0"),
    pytest.param(Gamma(0.25), id="gamma"),
    pytest.param(ZBox(-1.5, 2.0), id="zbox"),
    pytest.param("zbox_tensor", id="zbox_tensor"),
    pytest.param(Flat(), id="flat"),
    pytest.param(WSquare(), id="wsquare"),
]


@pytest.mark.parametrize("layer_kind", ["linear", "conv"])
@pytest.mark.parametrize("rule", RULES)
def test_rule_equals_literal_formula(rule, layer_kind):
    gen = torch.Generator().manual_seed(1)
    if layer_kind == "linear":
        layer = nn.Linear(5, 4).double()
        in_shape = (5,)
    else:
        layer = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
        in_shape = (2, 5, 5)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=F64))
    layer.eval()
    n = 3
    if rule == "zbox_tensor":
        low = -1.0 - torch.rand(in_shape, generator=gen, dtype=F64)
        high = 1.0 + torch.rand(in_shape, generator=gen, dtype=F64)
        rule = ZBox(low, high)
    if isinstance(rule, ZBox):
        low = torch.as_tensor(rule.low, dtype=F64).expand(in_shape)
        high = torch.as_tensor(rule.high, dtype=F64).expand(in_shape)
        x = low + (high - low) * torch.rand(n, *in_shape, generator=gen, dtype=F64)
    else:
        x = torch.randn(n, *in_shape, generator=gen, dtype=F64)
    with torch.no_grad():
        z = layer(x)
    c = torch.randn(z.shape[1:], generator=gen, dtype=F64)
    readout = lambda out: (out * c).flatten(1).sum(1)
    R = LRP(layer, composite=Composite({type(layer): rule})).attribute(x, target=readout)
    W, b, C = dense_linear(layer) if layer_kind == "linear" else dense_conv2d(layer, in_shape)
    R_out = (c * z).flatten(1).numpy()
    for s in range(n):
        kwargs = {}
        if isinstance(rule, ZBox):
            kwargs = {"low": low.flatten().numpy(), "high": high.flatten().numpy()}
        ref = literal(rule, x[s].flatten().numpy(), W, b, C, R_out[s], **kwargs)
        np.testing.assert_allclose(R[s].flatten().numpy(), ref, rtol=1e-10, atol=1e-12)


def test_average_pooling_default_is_lrp0_literal():
    pool = nn.AvgPool2d(2).eval()
    x = torch.rand(2, 1, 4, 4, dtype=F64) + 0.1
    c = torch.randn(1, 2, 2, dtype=F64)
    R = LRP(pool, composite=Composite()).attribute(
        x, target=lambda out: (out * c).flatten(1).sum(1)
    )
    z = pool(x)
    for s in range(2):
        ref = torch.zeros(4, 4, dtype=F64)
        for y in range(2):
            for xx in range(2):
                window = x[s, 0, 2 * y : 2 * y + 2, 2 * xx : 2 * xx + 2]
                ref[2 * y : 2 * y + 2, 2 * xx : 2 * xx + 2] = (
                    window / window.sum() * c[0, y, xx] * z[s, 0, y, xx]
                )
        torch.testing.assert_close(R[s, 0], ref, rtol=1e-12, atol=1e-14)


def test_pass_rule_passes_relevance_unchanged():
    x = torch.randn(3, 4, dtype=F64)
    c = torch.randn(4, dtype=F64)
    R = LRP(nn.Tanh().eval(), composite=Composite()).attribute(
        x, target=lambda out: (out * c).sum(1)
    )
    torch.testing.assert_close(R, c * torch.tanh(x), rtol=0, atol=0)


# -- composites ----------------------------------------------------------------------------------


def test_names_take_precedence_over_types_and_first_layer():
    model, x = tiny_cnn(), torch.randn(4, 1, 8, 8, dtype=F64)
    t = torch.tensor([0, 1, 2, 0])
    flat = LRP(model, composite="epsilon_plus_flat").attribute(x, target=t)
    by_name = Composite({"features.conv1": Flat(), nn.Conv2d: ZPlus(), nn.Linear: Epsilon()})
    torch.testing.assert_close(
        LRP(model, composite=by_name).attribute(x, target=t), flat, rtol=0, atol=0
    )
    # a name beats the first-layer rule and the type mapping
    named = Composite(
        {"features.conv1": Epsilon(0.0), nn.Conv2d: ZPlus(), nn.Linear: Epsilon()}, first=Flat()
    )
    typed = Composite({"features.conv1": Epsilon(0.0), nn.Conv2d: ZPlus(), nn.Linear: Epsilon()})
    torch.testing.assert_close(
        LRP(model, composite=named).attribute(x, target=t),
        LRP(model, composite=typed).attribute(x, target=t),
    )
    assert not torch.allclose(LRP(model, composite=named).attribute(x, target=t), flat)


def test_dict_composite_overrides_epsilon_plus():
    model, x = tiny_cnn(), torch.randn(4, 1, 8, 8, dtype=F64)
    user = {"features.conv1": ZBox(-4.0, 4.0), nn.Linear: Epsilon(0.1)}
    full = Composite(
        {"features.conv1": ZBox(-4.0, 4.0), nn.Conv2d: ZPlus(), nn.Linear: Epsilon(0.1)}
    )
    torch.testing.assert_close(
        LRP(model, composite=user).attribute(x, target=1),
        LRP(model, composite=full).attribute(x, target=1),
    )


def test_named_composites_match_their_classes():
    model, x = tiny_cnn(), torch.randn(3, 1, 8, 8, dtype=F64)
    for name in (
        "epsilon",
        "zplus",
        "epsilon_plus",
        "epsilon_plus_flat",
        "epsilon_alpha2_beta1",
        "deep_taylor",
    ):
        a = LRP(model, composite=name).attribute(x, target=0)
        b = LRP(model, composite=COMPOSITES[name]()).attribute(x, target=0)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert torch.isfinite(a).all()
    box = LRP(model, composite=EpsilonGammaBox(-4.0, 4.0)).attribute(x, target=0)
    assert torch.isfinite(box).all()


def test_rule_on_a_container_skips_its_children():
    model = layernorm_model()
    x = torch.randn(4, 6, dtype=F64)
    R = LRP(model, composite={"features": Epsilon(0.0)}).attribute(x, target=0)
    # the container's own Jacobian: R = x * J^T (f / z) through the head's epsilon rule
    assert R.shape == x.shape and torch.isfinite(R).all()


# -- canonizer -----------------------------------------------------------------------------------


def bn_model():
    gen = torch.Generator().manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1, bias=False),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).double()
    with torch.no_grad():
        for m in model.modules():
            for p in m.parameters(recurse=False):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen, dtype=F64))
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.add_(1.0)
                m.running_mean.copy_(0.3 * torch.randn(m.num_features, generator=gen, dtype=F64))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen, dtype=F64))
    return model.eval()


def merged_copy(model):
    """The model with each BatchNorm folded by hand into the layer before it (and removed)."""
    merged = copy.deepcopy(model)
    for lin_name, bn_name in MergeBatchNorm().pairs(model):
        weight, bias = MergeBatchNorm.merge(
            merged.get_submodule(lin_name), merged.get_submodule(bn_name)
        )
        lin = merged.get_submodule(lin_name)
        lin.weight = nn.Parameter(weight.clone())
        lin.bias = nn.Parameter(bias.clone())
        setattr(merged, bn_name, nn.Identity())
    return merged


def test_merged_batchnorm_reproduces_outputs():
    model = bn_model()
    assert MergeBatchNorm().pairs(model) == [("0", "1"), ("3", "4"), ("8", "9")]
    x = torch.randn(6, 1, 8, 8, dtype=F64)
    torch.testing.assert_close(merged_copy(model)(x), model(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "composite", ["epsilon", "zplus", "epsilon_plus", "epsilon_plus_flat", "gamma_box"]
)
def test_lrp_with_batchnorm_equals_lrp_of_merged_model(composite):
    model = bn_model()
    x = torch.randn(5, 1, 8, 8, dtype=F64)
    comp = EpsilonGammaBox(-3.0, 3.0) if composite == "gamma_box" else composite
    t = torch.tensor([0, 1, 2, 1, 0])
    R = LRP(model, composite=comp).attribute(x, target=t)
    ref = LRP(merged_copy(model), composite=comp).attribute(x, target=t)
    torch.testing.assert_close(R, ref, rtol=1e-10, atol=1e-13)


def snapshot(model):
    return {
        "modules": [(name, id(m), type(m)) for name, m in model.named_modules()],
        "params": [(name, id(p)) for name, p in model.named_parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


def assert_untouched(model, before, x, out_before):
    after = snapshot(model)
    assert after["modules"] == before["modules"]
    assert after["params"] == before["params"]
    assert after["state"].keys() == before["state"].keys()
    for k, v in after["state"].items():
        assert torch.equal(v, before["state"][k]), k
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
    assert all(p.grad is None for p in model.parameters())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert torch.equal(model(x), out_before)


def test_canonizer_leaves_model_untouched():
    model = bn_model()
    x = torch.randn(4, 1, 8, 8, dtype=F64)
    before, out_before = snapshot(model), model(x).detach()
    LRP(model).attribute(x, target=1)
    assert_untouched(model, before, x, out_before)


def test_canonizer_leaves_model_untouched_when_attribute_raises():
    model = bn_model()
    x = torch.randn(4, 1, 8, 8, dtype=F64)
    before, out_before = snapshot(model), model(x).detach()

    def boom(out):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        LRP(model).attribute(x, target=boom)
    assert_untouched(model, before, x, out_before)
    bad_box = EpsilonGammaBox(torch.zeros(5, dtype=F64), torch.ones(5, dtype=F64))
    with pytest.raises(ValueError, match="must broadcast to the layer input"):
        LRP(model, composite=bad_box).attribute(x, target=0)
    assert_untouched(model, before, x, out_before)


def test_unmergeable_batchnorm_raises():
    model = (
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3))
        .double()
        .eval()
    )
    x = torch.randn(4, 6, dtype=F64)
    with pytest.raises(
        UnsupportedLayerError, match=r"2 \(BatchNorm1d\) cannot be merged.*does not directly follow"
    ):
        LRP(model).attribute(x, target=0)
    with pytest.raises(
        UnsupportedLayerError, match=r"2 \(BatchNorm1d\) has parameters but no LRP rule"
    ):
        LRP(model, canonizers=[]).attribute(x, target=0)
    R = LRP(model, composite={"2": Pass()}).attribute(x, target=0)  # a rule makes it work
    assert torch.isfinite(R).all()


def test_batchnorm_in_training_mode_cannot_be_merged():
    model = (
        nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        .double()
        .eval()
    )
    model[1].train()
    with pytest.raises(UnsupportedLayerError, match="training mode"):
        LRP(model).attribute(torch.randn(4, 6, dtype=F64), target=0)


def test_batchnorm_after_linear_on_3d_input_raises():
    model = (
        nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Flatten(), nn.Linear(25, 2))
        .double()
        .eval()
    )
    with pytest.raises(UnsupportedLayerError, match="normalises dim 1"):
        LRP(model).attribute(torch.randn(3, 5, 4, dtype=F64), target=0)


class _SharedLinear(nn.Module):
    """Calls the Linear of a (Linear, BatchNorm) pair a second time without its BatchNorm."""

    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6))
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        return self.head(self.block(x) + self.block[0](x))


def test_merged_linear_used_without_its_batchnorm_raises():
    model = _SharedLinear().double().eval()
    with pytest.raises(UnsupportedLayerError, match="without the BatchNorm|called again before"):
        LRP(model).attribute(torch.randn(3, 6, dtype=F64), target=0)


# -- in-place activations and modules used twice -------------------------------------------------


def act_factory(name):
    return {
        "relu": lambda inplace=False: nn.ReLU(inplace=inplace),
        "leaky": lambda inplace=False: nn.LeakyReLU(0.1, inplace=inplace),
        "elu": lambda inplace=False: nn.ELU(inplace=inplace),
    }[name]


class _Reused(nn.Module):
    """One activation module applied after two layers; optionally relying on its side effect."""

    def __init__(self, base, act, side_effect=False):
        super().__init__()
        self.l1, self.l2, self.l3 = base[0], base[2], base[4]
        self.act = act
        self.side_effect = side_effect

    def forward(self, x):
        h = self.l1(x)
        if self.side_effect:
            self.act(h)
        else:
            h = self.act(h)
        h = self.l2(h)
        if self.side_effect:
            self.act(h)
        else:
            h = self.act(h)
        return self.l3(h)


@pytest.mark.parametrize("act", ["relu", "leaky", "elu"])
@pytest.mark.parametrize("composite", ["epsilon", "zplus", "epsilon_plus_flat"])
def test_inplace_and_reused_activations_match_plain_model(act, composite):
    make = act_factory(act)
    plain = tiny_mlp(activation=make)
    x = torch.randn(6, 6, dtype=F64)
    ref = LRP(plain, composite=composite).attribute(x, target=1)
    inplace = copy.deepcopy(plain)
    inplace[1], inplace[3] = make(inplace=True), make(inplace=True)
    variants = {
        "inplace": inplace,
        "reused": _Reused(plain, make()),
        "reused_inplace": _Reused(plain, make(inplace=True)),
        "side_effect_inplace": _Reused(plain, make(inplace=True), side_effect=True),
    }
    for label, model in variants.items():
        model.eval()
        assert torch.equal(model(x), plain(x))
        R = LRP(model, composite=composite).attribute(x, target=1)
        torch.testing.assert_close(R, ref, rtol=0, atol=0, msg=label)


def test_reused_linear_layer_matches_unshared_copy():
    lin = nn.Linear(6, 6, bias=False).double()
    shared = nn.Sequential(
        lin, nn.ReLU(), lin, nn.ReLU(), nn.Linear(6, 2, bias=False).double()
    ).eval()
    unshared = copy.deepcopy(shared)
    unshared[2] = copy.deepcopy(lin)
    x = torch.randn(4, 6, dtype=F64)
    for comp in ("epsilon", "zplus"):
        torch.testing.assert_close(
            LRP(shared, composite=comp).attribute(x, target=0),
            LRP(unshared, composite=comp).attribute(x, target=0),
            rtol=0,
            atol=0,
        )


class _SelfInplace(nn.Module):
    def forward(self, x):
        return x.relu_()


def test_undeclared_inplace_layer_with_a_rule_raises():
    model = nn.Sequential(nn.Linear(6, 4), _SelfInplace(), nn.Linear(4, 2)).double().eval()
    with pytest.raises(
        UnsupportedLayerError, match=r"1 \(_SelfInplace\) modified its input in place"
    ):
        LRP(model, composite={_SelfInplace: Pass()}).attribute(
            torch.randn(3, 6, dtype=F64), target=0
        )


class _LateInplace(nn.Module):
    """Overwrites the input of ``l2`` after ``l2`` has used it."""

    def __init__(self):
        super().__init__()
        self.l1, self.l2 = nn.Linear(6, 4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.l1(x)
        y = self.l2(h)
        h.mul_(2.0)
        return y


def test_inplace_write_to_a_needed_tensor_raises():
    model = _LateInplace().double().eval()
    with pytest.raises(
        RuntimeError, match="wrote in place to a tensor that an LRP rule still needs"
    ):
        LRP(model, composite="zplus").attribute(torch.randn(3, 6, dtype=F64), target=0)


def test_inplace_activation_on_a_view_raises():
    model = nn.Sequential(nn.Flatten(), nn.ReLU(inplace=True), nn.Linear(6, 2)).double().eval()
    with pytest.raises(UnsupportedLayerError, match="applied to a view"):
        LRP(model).attribute(torch.randn(3, 2, 3, dtype=F64), target=0)


# -- layers without a rule -----------------------------------------------------------------------


def layernorm_model():
    model = nn.Sequential()
    model.add_module(
        "features",
        nn.Sequential(
            nn.Linear(6, 8, bias=False),
            nn.ReLU(),
            nn.Linear(8, 8, bias=False),
            nn.LayerNorm(8),
            nn.ReLU(),
        ),
    )
    model.add_module("head", nn.Linear(8, 3, bias=False))
    return model.double().eval()


def test_layer_with_parameters_and_no_rule_raises_with_its_path():
    model = layernorm_model()
    x = torch.randn(4, 6, dtype=F64)
    with pytest.raises(
        UnsupportedLayerError, match=r"features\.3 \(LayerNorm\) has parameters but no LRP rule"
    ) as err:
        LRP(model).attribute(x, target=0)
    assert "gradient method" in str(err.value) and "composite" in str(err.value)
    assert isinstance(err.value, TypeError)


def test_user_mapping_gives_the_layer_a_rule():
    model = layernorm_model()
    x, target = positive_targets(model, torch.randn(12, 6, dtype=F64))
    by_name = LRP(
        model, composite=Composite({"features.3": Pass(), nn.Linear: Epsilon(0.0)})
    ).attribute(x, target=target)
    assert_conserved(model, x, by_name, target)  # Pass keeps the sum; bias-free epsilon-0 elsewhere
    by_type = LRP(model, composite=EpsilonPlus(0.0, mapping={nn.LayerNorm: Pass()})).attribute(
        x, target=target
    )
    torch.testing.assert_close(by_type, by_name, rtol=0, atol=0)
    by_dict = LRP(model, composite={"features.3": Pass()}).attribute(x, target=target)
    assert torch.isfinite(by_dict).all()


def test_weight_rule_on_a_layer_without_weights_raises():
    with pytest.raises(UnsupportedLayerError, match="modifies weights"):
        LRP(layernorm_model(), composite={nn.LayerNorm: ZPlus()}).attribute(
            torch.randn(3, 6, dtype=F64), target=0
        )


class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4, dtype=F64))

    def forward(self, a, b):
        return self.scale * (a + b)


class _UsesTwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.mix, self.l2 = (
            nn.Linear(6, 4).double(),
            _TwoInputs(),
            nn.Linear(4, 2).double(),
        )

    def forward(self, x):
        h = self.l1(x)
        return self.l2(self.mix(h, h))


def test_rule_on_a_layer_with_two_inputs_raises():
    with pytest.raises(
        UnsupportedLayerError, match=r"mix \(_TwoInputs\) was called with 2 positional"
    ):
        LRP(_UsesTwoInputs().eval(), composite={"mix": Epsilon()}).attribute(
            torch.randn(3, 6, dtype=F64), target=0
        )


def test_pass_on_a_layer_that_changes_shape_raises():
    model = nn.Sequential(nn.Linear(6, 4), nn.AvgPool1d(2), nn.Linear(2, 2)).double().eval()
    with pytest.raises(UnsupportedLayerError, match="keeps the shape"):
        LRP(model, composite={nn.AvgPool1d: Pass()}).attribute(
            torch.randn(3, 6, dtype=F64), target=0
        )


# -- side effects, registry, batching ------------------------------------------------------------


def test_one_forward_pass_for_the_batch_and_no_parameter_grads():
    model, x = tiny_cnn(), torch.randn(7, 1, 8, 8, dtype=F64)
    calls = []
    handle = model.register_forward_pre_hook(lambda m, a: calls.append(a[0].shape[0]))
    try:
        LRP(model, composite="epsilon").attribute(x, target=0)
    finally:
        handle.remove()
    assert calls == [7]
    assert all(p.grad is None for p in model.parameters())


def test_registry_and_function_door():
    assert METHODS["lrp"] is LRP and METHODS["deep_taylor"] is DeepTaylor
    model, x = tiny_mlp(), torch.randn(4, 6, dtype=F64)
    a = attribute(model, x, "lrp", composite="zplus", target=1)
    torch.testing.assert_close(
        a, LRP(model, composite="zplus").attribute(x, target=1), rtol=0, atol=0
    )
    b = attribute(model, x, "deep_taylor", low=-3.0, high=3.0, target=1)
    torch.testing.assert_close(
        b, DeepTaylor(model, low=-3.0, high=3.0).attribute(x, target=1), rtol=0, atol=0
    )
    assert repr(LRP(model, composite="zplus")) == "LRP(composite='zplus', canonizers=None)"


# -- bad inputs ----------------------------------------------------------------------------------


def test_bad_composite_raises():
    model = tiny_mlp()
    with pytest.raises(
        ValueError, match="composite must be one of .*'epsilon_plus'.*got 'epsilon_plsu'"
    ):
        LRP(model, composite="epsilon_plsu")
    with pytest.raises(ValueError, match="needs the input bounds"):
        LRP(model, composite="epsilon_gamma_box")
    with pytest.raises(TypeError, match="composite must be a name"):
        LRP(model, composite=3)
    with pytest.raises(TypeError, match="must be an LRP rule"):
        LRP(model, composite={nn.Linear: "epsilon"})
    with pytest.raises(TypeError, match="composite key must be"):
        Composite({3: Epsilon()})
    with pytest.raises(TypeError, match="mapping must be a dict"):
        Composite([Epsilon()])
    with pytest.raises(TypeError, match="first must be an LRP rule"):
        Composite(first="flat")
    with pytest.raises(
        ValueError, match=r"names layer\(s\) 'features.9' that the model does not have"
    ):
        LRP(model, composite={"features.9": Epsilon()}).attribute(
            torch.randn(2, 6, dtype=F64), target=0
        )


def test_bad_canonizers_and_model_raise():
    model = tiny_mlp()
    with pytest.raises(TypeError, match="canonizers must be None .* or a list"):
        LRP(model, canonizers=MergeBatchNorm())
    with pytest.raises(TypeError, match="canonizers must hold Canonizer instances"):
        LRP(model, canonizers=["merge"])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        LRP(lambda x: x.sum(1))
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        DeepTaylor(lambda x: x.sum(1))


def test_bad_rule_hyperparameters_raise():
    with pytest.raises(ValueError, match=r"alpha - beta must equal 1.*alpha=3.0, beta=1.0"):
        AlphaBeta(3.0, 1.0)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        AlphaBeta(-1.0, -2.0)
    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        Epsilon(-1e-3)
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        Gamma(-0.25)
    with pytest.raises(ValueError, match="epsilon must be a finite number >= 0"):
        EpsilonComposite(float("nan"))


def test_bad_box_bounds_raise():
    with pytest.raises(ValueError, match="low must be <= high; got low=1.0 > high=0.0"):
        ZBox(1.0, 0.0)
    with pytest.raises(ValueError, match="low > high at 1 entries"):
        ZBox(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="broadcast against each other"):
        ZBox(torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match="must be finite"):
        ZBox(float("-inf"), 1.0)
    with pytest.raises(ValueError, match="must be finite"):
        ZBox(torch.tensor([0.0, float("nan")]), 1.0)
    with pytest.raises(TypeError, match="low must be a float or a tensor"):
        ZBox("0", 1.0)
    with pytest.raises(ValueError, match="floating-point"):
        ZBox(torch.zeros(3, dtype=torch.long), 1.0)
    with pytest.raises(ValueError, match="low and high must be given together"):
        DeepTaylor(tiny_mlp(), low=0.0)
    model, x = tiny_mlp(), torch.rand(3, 6, dtype=F64)
    with pytest.raises(
        ValueError,
        match=r"layer 0 \(Linear\): ZBox low must broadcast to the layer input of shape \(3, 6\)",
    ):
        DeepTaylor(model, low=torch.zeros(5, dtype=F64), high=torch.ones(5, dtype=F64)).attribute(
            x, target=0
        )
    with pytest.raises(ValueError, match="must have the dtype of the layer input"):
        DeepTaylor(model, low=torch.zeros(6), high=torch.ones(6)).attribute(x, target=0)
    # per-sample, batch and per-feature bounds broadcast
    for low in (
        torch.zeros(6, dtype=F64),
        torch.zeros(1, 6, dtype=F64),
        torch.zeros(3, 6, dtype=F64),
    ):
        R = DeepTaylor(model, low=low, high=1.0).attribute(x, target=0)
        torch.testing.assert_close(R, DeepTaylor(model, low=0.0, high=1.0).attribute(x, target=0))
