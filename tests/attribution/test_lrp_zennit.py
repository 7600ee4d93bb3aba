"""LRP against zennit (Anders et al.): the same composites give the same relevance.

zennit's rules add their stabiliser (1e-6 with the sign of z) to every denominator; physxai's z+,
z^B, gamma, alpha-beta, flat and w^2 rules guard only denominators that are exactly zero (seed
001). To compare the rules and not the stabilisers, zennit gets the callable stabiliser
``z + (z == 0)``; both sides use epsilon = 1e-6 for the epsilon rule and gamma = 0.25. zennit's
EpsilonGammaBox puts the box rule on the first convolution only; for the MLP its ``first_map``
is extended to Linear, which is physxai's "first linear layer". Models and inputs are float64,
with biases, and inputs of both signs.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.attribution.lrp import (
    LRP,
    DeepTaylorComposite,
    EpsilonComposite,
    EpsilonGammaBox,
    MergeBatchNorm,
)
from physxai.testing import tiny_cnn, tiny_mlp

pytestmark = pytest.mark.compare

F64 = torch.float64
EPSILON, GAMMA, LOW, HIGH = 1e-6, 0.25, -4.0, 4.0


def stabilizer(z):
    return z + (z == 0).to(z)


def zennit_composite(zennit, name, first_linear):
    zc, zr, zt = zennit.composites, zennit.rules, zennit.types
    base = zc.layer_map_base(stabilizer)
    if name == "epsilon":
        return zc.LayerMapComposite(base + [(zt.Linear, zr.Epsilon(epsilon=EPSILON))])
    if name == "zplus":
        return zc.LayerMapComposite(base + [(zt.Linear, zr.ZPlus(stabilizer=stabilizer))])
    if name == "epsilon_plus":
        return zc.EpsilonPlus(epsilon=EPSILON, stabilizer=stabilizer)
    if name == "epsilon_plus_flat":
        return zc.EpsilonPlusFlat(epsilon=EPSILON, stabilizer=stabilizer)
    if name == "epsilon_alpha2_beta1":
        return zc.EpsilonAlpha2Beta1(epsilon=EPSILON, stabilizer=stabilizer)
    box = zr.ZBox(low=LOW, high=HIGH, stabilizer=stabilizer)
    first = [(nn.Linear, box)] if first_linear else []
    if name == "epsilon_gamma_box":
        return zc.EpsilonGammaBox(
            low=LOW, high=HIGH, epsilon=EPSILON, gamma=GAMMA, stabilizer=stabilizer, first_map=first
        )
    if name == "deep_taylor":
        return zc.SpecialFirstLayerMapComposite(
            layer_map=base + [(zt.Linear, zr.ZPlus(stabilizer=stabilizer))],
            first_map=[(zt.Linear, box)],
        )
    raise AssertionError(name)


def ours(name):
    if name == "epsilon":
        return EpsilonComposite(EPSILON)
    if name == "epsilon_gamma_box":
        return EpsilonGammaBox(LOW, HIGH, epsilon=EPSILON, gamma=GAMMA)
    if name == "deep_taylor":
        return DeepTaylorComposite(LOW, HIGH)
    return name


def zennit_lrp(zennit, model, x, composite, target, canonizers=None):
    if canonizers is not None:
        composite.canonizers = canonizers
    onehot = torch.nn.functional.one_hot(target, 3).to(x)
    with zennit.attribution.Gradient(model, composite) as attributor:
        _, R = attributor(x.clone(), lambda out: out * onehot)
    return R


def assert_agree(R, Rz, rtol=1e-10):
    scale = Rz.abs().max()
    assert scale > 0
    err = float((R - Rz).abs().max() / scale)
    assert err <= rtol, f"max relative deviation {err:.2e}"


MODELS = {
    "mlp": (lambda: tiny_mlp(), (6,)),
    "cnn_gap": (lambda: tiny_cnn(), (1, 8, 8)),
    "cnn_flatten": (lambda: tiny_cnn(pool="flatten"), (1, 8, 8)),
    "mlp_tanh": (lambda: tiny_mlp(activation=nn.Tanh), (6,)),
}
NAMES = [
    "epsilon",
    "zplus",
    "epsilon_plus",
    "epsilon_plus_flat",
    "epsilon_alpha2_beta1",
    "epsilon_gamma_box",
    "deep_taylor",
]


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("name", NAMES)
def test_composites_agree_with_zennit(zennit, name, kind):
    make, shape = MODELS[kind]
    model = make()
    x = torch.randn(6, *shape, dtype=F64).clamp(LOW, HIGH)
    target = torch.tensor([0, 1, 2, 2, 1, 0])
    Rz = zennit_lrp(
        zennit,
        model,
        x,
        zennit_composite(zennit, name, first_linear=kind.startswith("mlp")),
        target,
    )
    R = LRP(model, composite=ours(name)).attribute(x, target=target)
    assert_agree(R, Rz)


def bn_model(eps):
    gen = torch.Generator().manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4, eps=eps),
        nn.ReLU(),
        nn.Conv2d(4, 6, 3, padding=1),
        nn.BatchNorm2d(6, eps=eps),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 8),
        nn.BatchNorm1d(8, eps=eps),
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


@pytest.mark.parametrize("name", ["epsilon_plus", "zplus", "epsilon_gamma_box"])
@pytest.mark.parametrize("eps,rtol", [(1e-12, 1e-9), (1e-5, 1e-4)])
def test_batchnorm_canonizer_agrees_with_zennit(zennit, name, eps, rtol):
    # zennit's merge leaves the BatchNorm's eps in place, so its "identity" BatchNorm still divides
    # by sqrt(1 + eps): a relative offset of about eps/2 per BatchNorm that physxai does not have.
    model = bn_model(eps)
    x = torch.randn(5, 1, 8, 8, dtype=F64).clamp(LOW, HIGH)
    target = torch.tensor([0, 1, 2, 1, 0])
    assert len(MergeBatchNorm().pairs(model)) == 3
    composite = zennit_composite(zennit, name, first_linear=False)
    Rz = zennit_lrp(
        zennit, model, x, composite, target, [zennit.canonizers.SequentialMergeBatchNorm()]
    )
    R = LRP(model, composite=ours(name), canonizers=[MergeBatchNorm()]).attribute(x, target=target)
    assert_agree(R, Rz, rtol=rtol)
