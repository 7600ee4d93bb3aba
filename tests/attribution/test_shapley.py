"""Shapley values: the literal formula, the axioms, feature groups, and the estimators' convergence.

The reference is Shapley's formula evaluated literally: every subset S of the players, the value
v(S) = mean_b f(x_S, b_notS) built row by row in numpy, weighted by |S|!(d-|S|-1)!/d!.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from physxai.attribution import (
    DeepLift,
    DeepShap,
    ExactShapley,
    GradientShap,
    KernelShap,
    ShapleySampling,
    attribute,
    completeness_delta,
)
from physxai.attribution._coalitions import check_feature_mask
from physxai.attribution.shapley import kernel_design
from physxai.testing import tiny_cnn, tiny_mlp

F64 = torch.float64


class Polynomial(nn.Module):
    """f_k(x) = a_k . x + sum_{i<j} B_kij x_i x_j + sum_{i<j<l} C_kijl x_i x_j x_l, two outputs."""

    def __init__(self, d: int = 5, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.d = d
        self.linear = nn.Parameter(torch.randn(2, d, generator=gen, dtype=F64))
        self.pairs = list(itertools.combinations(range(d), 2))
        self.triples = list(itertools.combinations(range(d), 3))
        self.pair_coef = nn.Parameter(torch.randn(2, len(self.pairs), generator=gen, dtype=F64))
        self.triple_coef = nn.Parameter(torch.randn(2, len(self.triples), generator=gen, dtype=F64))
        self.eval()

    def forward(self, x):
        x = x.flatten(1)
        pair = torch.stack([x[:, i] * x[:, j] for i, j in self.pairs], 1)
        triple = torch.stack([x[:, i] * x[:, j] * x[:, k] for i, j, k in self.triples], 1)
        return x @ self.linear.T + pair @ self.pair_coef.T + triple @ self.triple_coef.T


def numpy_model(model, target):
    def f(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(rows))[:, target].numpy()

    return f


def literal_shapley(f, x: np.ndarray, background: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """phi_g = sum_S |S|!(d-|S|-1)!/d! [v(S+g) - v(S)], v(S) = mean_b f(x on S, b elsewhere)."""
    ids = np.unique(groups)
    d = len(ids)

    def value(coalition):
        keep = np.isin(groups, [ids[g] for g in coalition])
        rows = np.array([np.where(keep, x, b) for b in background])
        return f(rows).mean()

    phi = np.zeros(d)
    for g in range(d):
        others = [h for h in range(d) if h != g]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for coalition in itertools.combinations(others, size):
                phi[g] += weight * (value(coalition + (g,)) - value(coalition))
    return phi


def literal_batch(model, target, x, background, groups):
    f = numpy_model(model, target)
    return np.stack([literal_shapley(f, xi, background.numpy(), groups) for xi in x.numpy()])


def group_sums(R: torch.Tensor, groups: np.ndarray) -> np.ndarray:
    """Sum the per-element result over each group's elements: (n, d)."""
    flat = R.reshape(R.shape[0], -1).numpy()
    g = np.broadcast_to(groups, R.shape[1:]).reshape(-1)
    return np.stack([flat[:, g == i].sum(1) for i in np.unique(g)], 1)


MODELS = {
    "polynomial": lambda: Polynomial(5),
    "mlp": lambda: tiny_mlp(5, (8, 8), 2, activation=nn.Tanh),
}


# -- exact Shapley against the literal formula --------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_exact_equals_the_literal_formula(name):
    model = MODELS[name]()
    x = torch.randn(3, 5, dtype=F64)
    background = torch.randn(4, 5, dtype=F64)
    R = ExactShapley(model).attribute(x, target=1, background=background)
    expected = literal_batch(model, 1, x, background, np.arange(5))
    np.testing.assert_allclose(R.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_exact_with_one_baseline_equals_the_literal_formula_and_is_complete():
    model = Polynomial(4, seed=2)
    x = torch.randn(2, 4, dtype=F64)
    base = torch.randn(1, 4, dtype=F64)
    R = ExactShapley(model).attribute(x, target=0, baseline=base)
    np.testing.assert_allclose(
        R.numpy(), literal_batch(model, 0, x, base, np.arange(4)), atol=1e-12
    )
    delta = completeness_delta(model, x, R, target=0, baseline=base)
    assert delta.abs().max() < 1e-12


def test_per_sample_baseline():
    model = MODELS["mlp"]()
    x, base = torch.randn(3, 5, dtype=F64), torch.randn(3, 5, dtype=F64)
    R = ExactShapley(model).attribute(x, target=0, baseline=base)
    for i in range(3):
        expected = literal_batch(model, 0, x[i : i + 1], base[i : i + 1], np.arange(5))
        np.testing.assert_allclose(R[i : i + 1].numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_efficiency_against_the_background_mean(name):
    model = MODELS[name]()
    x, background = torch.randn(4, 5, dtype=F64), torch.randn(6, 5, dtype=F64)
    R = ExactShapley(model).attribute(x, target=1, background=background)
    with torch.no_grad():
        gap = model(x)[:, 1] - model(background)[:, 1].mean()
    torch.testing.assert_close(R.sum(1), gap, rtol=1e-12, atol=1e-12)


def test_symmetry_and_dummy():
    # f is symmetric in x0 and x1 and does not read x3
    def f(x):
        return (x[:, 0] + x[:, 1]) ** 2 * x[:, 2] + torch.sin(x[:, 0] * x[:, 1]) + x[:, 4]

    x = torch.randn(3, 5, dtype=F64)
    x[:, 1] = x[:, 0]
    background = torch.randn(5, 5, dtype=F64)
    background[:, 1] = background[:, 0]
    R = ExactShapley(f).attribute(x, background=background)
    torch.testing.assert_close(R[:, 0], R[:, 1], rtol=1e-12, atol=1e-13)
    assert R[:, 3].abs().max() == 0.0
    assert R[:, 0].abs().min() > 1e-3  # not trivially zero


def test_linearity_in_the_model():
    f, g = Polynomial(4, seed=1), Polynomial(4, seed=2)
    x, background = torch.randn(3, 4, dtype=F64), torch.randn(5, 4, dtype=F64)

    def phi(fn):
        return ExactShapley(fn).attribute(x, target=lambda out: out[:, 0], background=background)

    combined = phi(lambda t: 2.0 * f(t) - 0.5 * g(t))
    torch.testing.assert_close(combined, 2.0 * phi(f) - 0.5 * phi(g), rtol=1e-10, atol=1e-12)


def test_linear_model_is_weight_times_centred_input():
    model = nn.Linear(7, 3).double().eval()
    x, background = torch.randn(4, 7, dtype=F64), torch.randn(9, 7, dtype=F64)
    for method in (ExactShapley(model), KernelShap(model, n_samples=40), DeepShap(model)):
        kw = {"generator": torch.Generator().manual_seed(0)} if method.name == "kernel_shap" else {}
        R = method.attribute(x, target=2, background=background, **kw)
        expected = model.weight[2].detach() * (x - background.mean(0))
        torch.testing.assert_close(R, expected, rtol=1e-10, atol=1e-12, msg=method.name)


# -- feature groups -----------------------------------------------------------------------------


def test_column_groups_equal_the_literal_formula_on_groups():
    model = tiny_mlp(6, (8,), 2, activation=nn.Tanh)
    mask = torch.tensor([3, 7, 3, 1, 1, 7])  # non-contiguous ids, not 0..d-1
    x, background = torch.randn(2, 6, dtype=F64), torch.randn(3, 6, dtype=F64)
    R = ExactShapley(model).attribute(x, target=0, background=background, feature_mask=mask)
    expected = literal_batch(model, 0, x, background, mask.numpy())
    np.testing.assert_allclose(group_sums(R, mask.numpy()), expected, rtol=1e-10, atol=1e-12)
    # each element holds its group's value divided by the group's size
    torch.testing.assert_close(R[:, 0], R[:, 2])
    torch.testing.assert_close(R[:, 1], R[:, 5])
    np.testing.assert_allclose(R[:, 3].numpy() * 2, expected[:, 0], atol=1e-12)


def test_lattice_patches_equal_the_literal_formula_on_patches():
    model = tiny_cnn(1, 4, 2, channels=(2, 3))
    patches = (
        torch.arange(4).view(2, 2).repeat_interleave(2, 0).repeat_interleave(2, 1)
    )  # 2x2 blocks
    x = torch.randn(2, 1, 4, 4, dtype=F64).sign()
    background = torch.randn(3, 1, 4, 4, dtype=F64).sign()
    R = ExactShapley(model).attribute(x, target=1, background=background, feature_mask=patches)
    groups = np.broadcast_to(patches.numpy(), (1, 4, 4))
    expected = literal_batch(model, 1, x, background, groups)
    np.testing.assert_allclose(group_sums(R, groups), expected, rtol=1e-10, atol=1e-12)
    for method in (KernelShap(model, n_samples=14), ShapleySampling(model, n_permutations=12)):
        est = method.attribute(
            x,
            target=1,
            background=background,
            feature_mask=patches,
            generator=torch.Generator().manual_seed(1),
        )
        if method.name == "kernel_shap":  # 2^4 - 2 = 14 coalitions: all of them
            torch.testing.assert_close(est, R, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(
            est.flatten(1).sum(1), R.flatten(1).sum(1), rtol=1e-12, atol=1e-12
        )


def test_feature_mask_relabels_distinct_ids():
    x = torch.zeros(1, 2, 3)
    groups = check_feature_mask(torch.tensor([5, -1, 5]), x, "caller")
    assert groups.n_groups == 2 and groups.index.tolist() == [1, 0, 1] * 2
    assert groups.sizes.tolist() == [2, 4]


def test_sixteen_groups_enumerate_in_batched_passes():
    model = tiny_mlp(16, (16,), 1, activation=nn.Tanh)
    x, background = torch.randn(1, 16, dtype=F64), torch.randn(10, 16, dtype=F64)
    R = ExactShapley(model).attribute(x, background=background, max_batch_size=65536)
    with torch.no_grad():
        gap = model(x)[:, 0] - model(background)[:, 0].mean()
    torch.testing.assert_close(R.sum(1), gap, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size", [1, 3, 7, 10_000])
def test_chunks_across_background_rows(size):
    model = MODELS["mlp"]()
    x, background = torch.randn(2, 5, dtype=F64), torch.randn(7, 5, dtype=F64)
    ref = ExactShapley(model).attribute(x, target=0, background=background)
    R = ExactShapley(model).attribute(x, target=0, background=background, max_batch_size=size)
    torch.testing.assert_close(R, ref, rtol=1e-12, atol=1e-13)


# -- Kernel SHAP and permutation sampling -------------------------------------------------------


@pytest.mark.parametrize("paired", [True, False])
def test_kernel_shap_with_all_coalitions_is_exact(paired):
    model = MODELS["polynomial"]()
    x, background = torch.randn(3, 5, dtype=F64), torch.randn(4, 5, dtype=F64)
    exact = ExactShapley(model).attribute(x, target=0, background=background)
    R = KernelShap(model, n_samples=30, paired=paired).attribute(
        x, target=0, background=background, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(R, exact, rtol=1e-10, atol=1e-10)


def test_kernel_design_enumerates_every_coalition_once_when_the_budget_allows():
    for d in range(2, 13):
        z, w = kernel_design(
            d, 2**d - 2, True, torch.Generator().manual_seed(0), torch.device("cpu")
        )
        assert z.shape[0] == 2**d - 2 == torch.unique(z, dim=0).shape[0]
        size = z.sum(1)
        kernel = torch.tensor(
            [(d - 1) / (math.comb(d, s) * s * (d - s)) for s in size.tolist()], dtype=F64
        )
        torch.testing.assert_close(w, kernel / kernel.sum(), rtol=1e-12, atol=0)


def test_kernel_design_samples_distinct_paired_coalitions():
    d, budget = 12, 300
    z, w = kernel_design(d, budget, True, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert z.shape[0] <= budget and torch.unique(z, dim=0).shape[0] == z.shape[0]
    assert not z.all(1).any() and z.any(1).all()  # neither the empty nor the full coalition
    assert torch.isclose(w.sum(), torch.tensor(1.0, dtype=F64))
    as_set = {tuple(r) for r in z.tolist()}
    assert all(tuple((~r).tolist()) in as_set for r in z)  # every complement is present


@pytest.mark.filterwarnings("ignore:.*free directions of the regression")
@pytest.mark.parametrize("n_samples", [2, 5, 40])
def test_kernel_shap_efficiency_is_exact_for_any_budget(n_samples):
    model = tiny_mlp(9, (8,), 2, activation=nn.Tanh)
    x, background = torch.randn(3, 9, dtype=F64), torch.randn(5, 9, dtype=F64)
    R = KernelShap(model, n_samples=n_samples).attribute(
        x, target=1, background=background, generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        gap = model(x)[:, 1] - model(background)[:, 1].mean()
    torch.testing.assert_close(R.sum(1), gap, rtol=1e-12, atol=1e-12)


def test_kernel_shap_warns_when_the_coalitions_cannot_determine_the_values():
    model = nn.Linear(12, 1).double().eval()
    x = torch.randn(2, 12, dtype=F64)
    with pytest.warns(UserWarning, match="span at most 5 of the 11 free directions"):
        R = KernelShap(model, n_samples=10).attribute(
            x, baseline=0.0, generator=torch.Generator().manual_seed(0)
        )
    torch.testing.assert_close(R.sum(1), model(x)[:, 0].detach() - model.bias.detach())
    # enough paired samples: exact on a linear model
    R = KernelShap(model, n_samples=24).attribute(
        x, baseline=0.0, generator=torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(R, model.weight.detach() * x, rtol=1e-10, atol=1e-12)


def test_one_group_gets_the_whole_difference():
    model = MODELS["mlp"]()
    x, base = torch.randn(2, 5, dtype=F64), torch.randn(1, 5, dtype=F64)
    mask = torch.zeros(5, dtype=torch.long)
    gap = completeness_delta(model, x, torch.zeros_like(x), target=0, baseline=base).neg()
    for method in (ExactShapley(model), KernelShap(model), ShapleySampling(model)):
        kw = (
            {}
            if method.name == "exact_shapley"
            else {"generator": torch.Generator().manual_seed(0)}
        )
        R = method.attribute(x, target=0, baseline=base, feature_mask=mask, **kw)
        torch.testing.assert_close(R, (gap / 5)[:, None].expand(-1, 5), rtol=1e-12, atol=1e-13)


def test_antithetic_permutations_are_exact_for_two_players():
    model = MODELS["polynomial"]()
    x, background = torch.randn(3, 5, dtype=F64), torch.randn(4, 5, dtype=F64)
    mask = torch.tensor([0, 1, 1, 0, 1])
    exact = ExactShapley(model).attribute(x, target=1, background=background, feature_mask=mask)
    R = ShapleySampling(model, n_permutations=1).attribute(
        x,
        target=1,
        background=background,
        feature_mask=mask,
        generator=torch.Generator().manual_seed(0),
    )
    torch.testing.assert_close(R, exact, rtol=1e-12, atol=1e-12)


def test_shapley_sampling_efficiency_is_exact():
    model = tiny_mlp(9, (8,), 2, activation=nn.Tanh)
    x, background = torch.randn(3, 9, dtype=F64), torch.randn(5, 9, dtype=F64)
    for antithetic in (True, False):
        R = ShapleySampling(model, n_permutations=3, antithetic=antithetic).attribute(
            x, target=0, background=background, generator=torch.Generator().manual_seed(0)
        )
        with torch.no_grad():
            gap = model(x)[:, 0] - model(background)[:, 0].mean()
        torch.testing.assert_close(R.sum(1), gap, rtol=1e-12, atol=1e-12)


def _rms_error(method_factory, budget, exact, x, background, seeds):
    errors = []
    for seed in seeds:
        R = method_factory(budget).attribute(
            x, target=0, background=background, generator=torch.Generator().manual_seed(seed)
        )
        errors.append(((R - exact) ** 2).mean())
    return float(torch.stack(errors).mean().sqrt())


CONVERGENCE_MODEL = {"d": 12}


def _convergence_case():
    d = CONVERGENCE_MODEL["d"]
    model = tiny_mlp(d, (16,), 1, activation=nn.Tanh, seed=4)
    gen = torch.Generator().manual_seed(5)
    x = 2 * torch.randn(2, d, dtype=F64, generator=gen)
    background = torch.randn(3, d, dtype=F64, generator=gen)
    exact = ExactShapley(model).attribute(x, target=0, background=background)
    return model, x, background, exact


def test_shapley_sampling_error_falls_as_one_over_root_n():
    model, x, background, exact = _convergence_case()
    factory = lambda p: ShapleySampling(model, n_permutations=p)
    small = _rms_error(factory, 4, exact, x, background, range(24))
    large = _rms_error(factory, 64, exact, x, background, range(24))
    assert 2.8 < small / large < 5.7, (small, large)  # 16x the permutations: sqrt(16) = 4


def test_kernel_shap_error_falls_at_least_as_one_over_root_n():
    model, x, background, exact = _convergence_case()
    factory = lambda n: KernelShap(model, n_samples=n)
    small = _rms_error(factory, 60, exact, x, background, range(16))
    large = _rms_error(factory, 960, exact, x, background, range(16))
    # sampling alone gives 4; whole size classes enumerated at the larger budget give more
    assert small / large > 3.0, (small, large)
    assert large < 0.02 * float(exact.abs().max())


@pytest.mark.slow
def test_estimators_are_unbiased_and_converge():
    model, x, background, exact = _convergence_case()
    for factory, budgets in (
        (lambda p: ShapleySampling(model, n_permutations=p), (8, 128, 2048)),
        (lambda n: KernelShap(model, n_samples=n, paired=False), (100, 1600)),
        (lambda n: KernelShap(model, n_samples=n), (100, 1600, 4000)),
    ):
        errors = [_rms_error(factory, b, exact, x, background, range(8)) for b in budgets]
        assert all(a > b for a, b in itertools.pairwise(errors)), errors
    mean = torch.stack(
        [
            ShapleySampling(model, n_permutations=4).attribute(
                x, target=0, background=background, generator=torch.Generator().manual_seed(s)
            )
            for s in range(400)
        ]
    ).mean(0)
    assert (mean - exact).abs().max() < 0.1 * exact.abs().max()


# -- gradient forms -----------------------------------------------------------------------------


def test_gradient_shap_linear_model():
    model = nn.Linear(6, 2).double().eval()
    x, background = torch.randn(3, 6, dtype=F64), torch.randn(20, 6, dtype=F64)
    w = model.weight[1].detach()
    # a single baseline: the gradient is constant, so every draw is exact
    R = GradientShap(model, n_samples=3).attribute(x, target=1, baseline=0.5)
    torch.testing.assert_close(R, w * (x - 0.5), rtol=1e-12, atol=1e-12)
    # a background: converges to w (x - mean b) as the draws cover it, error ~ 1/sqrt(n)
    expected = w * (x - background.mean(0))
    errors = []
    for n in (25, 400):
        runs = torch.stack(
            [
                GradientShap(model, n_samples=n).attribute(
                    x, target=1, background=background, generator=torch.Generator().manual_seed(s)
                )
                for s in range(16)
            ]
        )
        errors.append(float((runs - expected).square().mean().sqrt()))
    assert 2.8 < errors[0] / errors[1] < 5.7 and errors[1] < 0.05, errors


def test_gradient_shap_is_complete_in_expectation():
    model = tiny_mlp(5, (8,), 2, activation=nn.Tanh)
    x, background = torch.randn(2, 5, dtype=F64), torch.randn(4, 5, dtype=F64)
    sums = torch.stack(
        [
            GradientShap(model, n_samples=1000)
            .attribute(
                x, target=0, background=background, generator=torch.Generator().manual_seed(s)
            )
            .sum(1)
            for s in range(16)
        ]
    )
    with torch.no_grad():
        gap = model(x)[:, 0] - model(background)[:, 0].mean()
    spread = sums.std(0) / 4  # standard error of the mean of 16 runs
    assert ((sums.mean(0) - gap).abs() < 4 * spread + 1e-3).all(), (sums.mean(0), gap, spread)


def test_gradient_shap_chunking_does_not_change_the_draws():
    model = tiny_mlp(5, (8,), 2)
    x, background = torch.randn(3, 5, dtype=F64), torch.randn(4, 5, dtype=F64)
    runs = [
        GradientShap(model, n_samples=7).attribute(
            x,
            target=0,
            background=background,
            max_batch_size=size,
            generator=torch.Generator().manual_seed(1),
        )
        for size in (1, 5, 1000)
    ]
    for R in runs[1:]:
        torch.testing.assert_close(R, runs[0], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_deep_shap_efficiency_is_exact(kind):
    if kind == "mlp":
        model, x = tiny_mlp(), torch.randn(3, 6, dtype=F64)
    else:
        model, x = tiny_cnn(), torch.randn(2, 1, 8, 8, dtype=F64)
    background = torch.randn(5, *x.shape[1:], dtype=F64)
    R = DeepShap(model).attribute(x, target=2, background=background, max_batch_size=4)
    with torch.no_grad():
        gap = model(x)[:, 2] - model(background)[:, 2].mean()
    torch.testing.assert_close(R.flatten(1).sum(1), gap, rtol=1e-10, atol=1e-12)
    # the mean of DeepLIFT over the background rows, one at a time
    one_by_one = torch.stack(
        [DeepLift(model).attribute(x, target=2, baseline=b[None]) for b in background]
    ).mean(0)
    torch.testing.assert_close(R, one_by_one, rtol=1e-10, atol=1e-12)


def test_deep_shap_passes_on_deeplift_warning_once():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(4, 6).double(), nn.Linear(6, 1).double()

        def forward(self, x):
            return self.fc2(torch.tanh(self.fc1(x)))

    model = Functional().eval()
    x, background = torch.randn(3, 4, dtype=F64), torch.randn(4, 4, dtype=F64)
    with pytest.warns(UserWarning, match="DeepShap.attribute: sum of attributions") as record:
        DeepShap(model).attribute(x, background=background, max_batch_size=2)
    assert sum("sum of attributions" in str(w.message) for w in record) == 1


# -- errors -------------------------------------------------------------------------------------

ALL = ["exact_shapley", "shapley_sampling", "kernel_shap", "gradient_shap", "deep_shap", "lime"]
MASKED = ["exact_shapley", "shapley_sampling", "kernel_shap", "lime"]


def test_more_than_twenty_groups_is_refused_naming_kernel_shap():
    model = nn.Linear(21, 1).double().eval()
    x = torch.randn(1, 21, dtype=F64)
    with pytest.raises(ValueError, match="d = 21 .*kernel_shap"):
        ExactShapley(model).attribute(x, baseline=0.0)
    # grouping brings it within reach
    R = ExactShapley(model).attribute(x, baseline=0.0, feature_mask=torch.arange(21) // 3)
    assert R.shape == x.shape


@pytest.mark.parametrize("name", ALL)
def test_reference_errors(name):
    model, x = tiny_mlp(), torch.randn(2, 6, dtype=F64)
    background = torch.randn(4, 6, dtype=F64)
    with pytest.raises(ValueError, match="background or baseline is required"):
        attribute(model, x, name, target=0)
    with pytest.raises(ValueError, match="alternatives; got both"):
        attribute(model, x, name, target=0, background=background, baseline=0.0)
    with pytest.raises(
        ValueError, match=r"background must have shape \(m, 6\).*Try background\[None\]"
    ):
        attribute(model, x, name, target=0, background=background[0])
    with pytest.raises(ValueError, match="background must have the dtype of inputs"):
        attribute(model, x, name, target=0, background=background.float())
    with pytest.raises(TypeError, match="background must be a torch.Tensor"):
        attribute(model, x, name, target=0, background=background.numpy())
    bad = background.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="background must be finite"):
        attribute(model, x, name, target=0, background=bad)
    with pytest.raises(ValueError, match="baseline must broadcast"):
        attribute(model, x, name, target=0, baseline=torch.zeros(3, 6, dtype=F64))


@pytest.mark.parametrize("name", MASKED)
def test_feature_mask_errors(name):
    model, x = tiny_cnn(), torch.randn(2, 1, 8, 8, dtype=F64)
    with pytest.raises(
        ValueError, match=r"feature_mask must broadcast to the shape of one sample \(1, 8, 8\)"
    ):
        attribute(
            model, x, name, target=0, baseline=0.0, feature_mask=torch.zeros(4, 4, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="drop the batch dimension"):
        attribute(
            model,
            x,
            name,
            target=0,
            baseline=0.0,
            feature_mask=torch.zeros(2, 1, 8, 8, dtype=torch.long),
        )
    with pytest.raises(ValueError, match="feature_mask must have an integer dtype"):
        attribute(model, x, name, target=0, baseline=0.0, feature_mask=torch.zeros(8, 8))
    with pytest.raises(TypeError, match="feature_mask must be an integer torch.Tensor"):
        attribute(model, x, name, target=0, baseline=0.0, feature_mask=np.zeros((8, 8), dtype=int))


def test_gradient_forms_take_no_feature_mask():
    model, x = tiny_mlp(), torch.randn(2, 6, dtype=F64)
    for name in ("gradient_shap", "deep_shap"):
        with pytest.raises(TypeError, match="unexpected option"):
            attribute(model, x, name, target=0, baseline=0.0, feature_mask=torch.arange(6))


def test_hyperparameter_errors():
    model = tiny_mlp()
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        KernelShap(model, n_samples=1)
    with pytest.raises(TypeError, match="paired must be a bool"):
        KernelShap(model, paired=1)
    with pytest.raises(ValueError, match="n_permutations must be an int >= 1"):
        ShapleySampling(model, n_permutations=0)
    with pytest.raises(TypeError, match="antithetic must be a bool"):
        ShapleySampling(model, antithetic="yes")
    with pytest.raises(ValueError, match="n_samples must be an int >= 1"):
        GradientShap(model, n_samples=0)
