"""LIME (K-Lasso): exact surrogates of linear models, sparse support recovery, the sampling
scheme, the locality kernel, reproducibility from the generator, and the option errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.attribution import Lime, attribute
from physxai.attribution.lime import _lasso_path_selection, _weighted_ridge
from physxai.testing import tiny_mlp

F64 = torch.float64


def sparse_linear(d: int = 20, support=(2, 7, 13), seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    w = torch.zeros(d, dtype=F64)
    w[list(support)] = torch.tensor([1.5, -2.0, 0.8], dtype=F64)
    bias = float(torch.randn(1, generator=gen))
    return w, (lambda x: x @ w + bias)


@pytest.mark.parametrize("selection", ["lasso_path", "highest_weights"])
def test_recovers_the_support_of_a_sparse_linear_model(selection):
    w, model = sparse_linear()
    x = torch.randn(5, 20, dtype=F64)
    R = Lime(model, n_features=3, feature_selection=selection).attribute(
        x, baseline=0.0, generator=torch.Generator().manual_seed(0)
    )
    for r in R:
        assert torch.nonzero(r).flatten().tolist() == [2, 7, 13]
    # the refit coefficients are w * x up to the ridge shrinkage
    torch.testing.assert_close(R, w * x, rtol=0.1, atol=0.1)


def test_linear_model_without_ridge_is_exact():
    model = nn.Linear(8, 3).double().eval()
    x, background = torch.randn(4, 8, dtype=F64), torch.randn(6, 8, dtype=F64)
    gen = torch.Generator().manual_seed(1)
    w = model.weight[1].detach()
    R = Lime(model, alpha=0.0, n_samples=200).attribute(x, target=1, baseline=0.0, generator=gen)
    torch.testing.assert_close(R, w * x, rtol=1e-9, atol=1e-10)
    # against a background the switched-off groups average over its rows: w (x - mean b)
    R = Lime(model, alpha=0.0, n_samples=200).attribute(
        x, target=1, background=background, generator=gen
    )
    torch.testing.assert_close(R, w * (x - background.mean(0)), rtol=1e-9, atol=1e-10)


def test_groups_get_their_summed_coefficient_divided_by_size():
    model = nn.Linear(6, 1).double().eval()
    mask = torch.tensor([0, 1, 0, 2, 2, 2])
    x = torch.randn(3, 6, dtype=F64)
    R = Lime(model, alpha=0.0, n_samples=100).attribute(
        x, baseline=0.0, feature_mask=mask, generator=torch.Generator().manual_seed(0)
    )
    contribution = model.weight[0].detach() * x
    for g in range(3):
        members = mask == g
        group_value = contribution[:, members].sum(1)
        torch.testing.assert_close(
            R[:, members], (group_value / members.sum())[:, None].expand(-1, int(members.sum()))
        )


def test_same_generator_same_result_and_seeds_differ():
    model, x = tiny_mlp(), torch.randn(3, 6, dtype=F64)

    def run(seed, **kw):
        return Lime(model, n_samples=300, **kw).attribute(
            x, target=0, baseline=0.0, generator=torch.Generator().manual_seed(seed)
        )

    assert torch.equal(run(4), run(4))
    assert not torch.equal(run(4), run(5))
    assert torch.equal(run(4, n_features=2), run(4, n_features=2))
    for size in (1, 7, 100_000):
        R = Lime(model, n_samples=300).attribute(
            x,
            target=0,
            baseline=0.0,
            max_batch_size=size,
            generator=torch.Generator().manual_seed(4),
        )
        torch.testing.assert_close(R, run(4), rtol=1e-9, atol=1e-12)


def test_masks_start_with_the_input_and_switch_off_uniformly_many_groups():
    lime = Lime(lambda x: x.sum(1), n_samples=20_001)
    masks = lime._sample_masks(10, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert masks.shape == (20_001, 10) and masks[0].all()
    n_off = (~masks[1:]).sum(1)
    counts = torch.bincount(n_off, minlength=11)
    assert counts[0] == 0  # every other mask switches at least one group off
    assert (counts[1:] - 2000).abs().max() < 200  # uniform over 1..10
    per_group = (~masks[1:]).float().mean(0)
    assert (per_group - 0.55).abs().max() < 0.02  # E[n_off] / d = 5.5 / 10, the same for each group


def test_kernel_width_sets_the_locality():
    # f = x0 * x1: far from x (many groups off) the model is not linear in the mask, near x it is
    def model(x):
        return x[:, 0] * x[:, 1] + x[:, 2:].sum(1)

    x = torch.ones(1, 6, dtype=F64)
    gen = lambda: torch.Generator().manual_seed(0)
    narrow = Lime(model, kernel_width=0.05, alpha=0.0).attribute(x, baseline=0.0, generator=gen())
    wide = Lime(model, kernel_width=100.0, alpha=0.0).attribute(x, baseline=0.0, generator=gen())
    # near the all-ones mask switching x0 off removes the whole product: slope 1 (the gradient)
    assert abs(float(narrow[0, 0]) - 1.0) < 0.05
    # with a flat kernel the slope is an average over contexts where x1 is often off
    assert float(wide[0, 0]) < 0.8
    torch.testing.assert_close(narrow[0, 2:], torch.ones(4, dtype=F64), rtol=1e-3, atol=1e-3)


def test_weighted_ridge_matches_the_normal_equations():
    gen = torch.Generator().manual_seed(0)
    z = (torch.rand(50, 4, generator=gen) > 0.5).double()
    y = torch.randn(2, 50, generator=gen, dtype=F64)
    w = torch.rand(50, generator=gen, dtype=F64)
    alpha = 0.7
    coef = _weighted_ridge(z, y, w, alpha)
    # the intercept as an unpenalised column: [1, z]
    design = torch.cat([torch.ones(50, 1, dtype=F64), z], 1)
    penalty = alpha * torch.diag(torch.tensor([0.0, 1, 1, 1, 1], dtype=F64))
    full = torch.linalg.solve(
        design.T @ (w[:, None] * design) + penalty, design.T @ (w[:, None] * y.T)
    )
    torch.testing.assert_close(coef, full[1:].T, rtol=1e-10, atol=1e-12)


def test_lasso_path_keeps_at_most_k():
    gen = torch.Generator().manual_seed(0)
    z = (torch.rand(200, 10, generator=gen) > 0.5).double()
    y = z @ torch.arange(10, dtype=F64) + 0.01 * torch.randn(200, generator=gen, dtype=F64)
    for k in (1, 3, 10):
        active = _lasso_path_selection(z, y, torch.ones(200, dtype=F64), k)
        assert len(active) == k
        assert set(active.tolist()) == set(range(10 - k, 10))  # the largest weights enter first


def test_option_errors():
    model = tiny_mlp()
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        Lime(model, n_samples=1)
    with pytest.raises(ValueError, match="kernel_width must be a finite number > 0"):
        Lime(model, kernel_width=0.0)
    with pytest.raises(ValueError, match="n_features must be an int >= 1"):
        Lime(model, n_features=0)
    with pytest.raises(
        ValueError, match="feature_selection must be one of 'lasso_path', 'highest_weights'"
    ):
        Lime(model, feature_selection="forward")
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        Lime(model, alpha=-1.0)
    with pytest.raises(ValueError, match="background or baseline is required"):
        attribute(model, torch.randn(2, 6, dtype=F64), "lime", target=0)
