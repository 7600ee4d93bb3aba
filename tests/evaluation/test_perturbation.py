"""Region perturbation and AOPC: exact orderings on linear models, a literal loop, batching, bootstrap."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from physxai.attribution import attribute
from physxai.evaluation import aopc, bootstrap_mean, compare_aopc, perturbation_curves
from physxai.testing import tiny_cnn, tiny_mlp


def linear(weights: torch.Tensor):
    return lambda x: x.reshape(x.shape[0], -1) @ weights


def test_perfect_ordering_has_largest_aopc_and_reversed_smallest():
    # f = w.x explained against a zero replacement: the contributions w_i x_i are the true
    # relevance, and the AOPC of an ordering is the mean of its partial sums of contributions.
    g = torch.Generator().manual_seed(0)
    d = 5
    w = torch.randn(d, generator=g, dtype=torch.float64)
    x = torch.randn(3, d, generator=g, dtype=torch.float64)
    model = linear(w)
    truth = x * w
    perfect = aopc(perturbation_curves(model, x, truth))
    reversed_ = aopc(perturbation_curves(model, x, -truth))
    # every one of the d! orderings, written as a relevance that ranks it, in one batch
    perms = torch.tensor(list(itertools.permutations(range(d))))
    scores = torch.empty(len(perms), d, dtype=torch.float64)
    scores.scatter_(1, perms, torch.arange(d, 0, -1, dtype=torch.float64).expand(len(perms), d).clone())
    n_perm = len(perms)
    every = aopc(
        perturbation_curves(model, x.repeat_interleave(n_perm, 0), scores.repeat(x.shape[0], 1))
    ).reshape(x.shape[0], n_perm)
    torch.testing.assert_close(every.max(dim=1).values, perfect, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(every.min(dim=1).values, reversed_, rtol=1e-12, atol=1e-12)
    assert bool((perfect > reversed_).all())
    # a random order lies in between on average (its expectation is the mean over orderings)
    gen = torch.Generator().manual_seed(1)
    random_mean = aopc(
        perturbation_curves(model, x.repeat_interleave(400, 0), None, order="random", generator=gen)
    ).reshape(x.shape[0], 400).mean(dim=1)
    assert bool((reversed_ < random_mean).all()) and bool((random_mean < perfect).all())
    torch.testing.assert_close(random_mean, every.mean(dim=1), rtol=0.0, atol=0.15)


def test_morf_falls_faster_than_lerf_on_known_relevance():
    g = torch.Generator().manual_seed(2)
    w = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.25, 0.0], dtype=torch.float64)
    x = torch.rand(20, 6, generator=g, dtype=torch.float64) + 0.5
    model = linear(w)
    relevance = attribute(model, x, "gradient_x_input")
    morf = perturbation_curves(model, x, relevance, order="morf")
    lerf = perturbation_curves(model, x, relevance, order="lerf")
    # MoRF removes the largest positive contribution first: its curve lies below LeRF's
    assert bool((morf[:, 1:-1] < lerf[:, 1:-1]).all())
    torch.testing.assert_close(morf[:, -1], lerf[:, -1])
    assert float(aopc(morf).mean()) > float(aopc(lerf).mean())


def literal_curves(model, x, relevance, mask, values, target, n_steps):
    """Samek et al.'s loop: sum relevance per region, sort, replace one region at a time."""
    model = torch.no_grad()(model)
    out = []
    ids = torch.unique(mask)
    for i in range(x.shape[0]):
        sums = torch.stack([relevance[i][mask.expand_as(x[i]) == r].sum() for r in ids])
        order = ids[torch.argsort(sums, descending=True)]
        current = x[i].clone()
        row = [float(model(current[None])[0, target])]
        for k in range(n_steps):
            where = mask.expand_as(current) == order[k]
            current[where] = values[i][where]
            row.append(float(model(current[None])[0, target]))
        out.append(row)
    return torch.tensor(out, dtype=x.dtype)


@pytest.mark.parametrize("replacement", ["zero", "mean", "baseline"])
def test_curves_equal_a_literal_loop_on_patches(replacement):
    g = torch.Generator().manual_seed(3)
    model = tiny_cnn(size=4, pool="flatten")
    x = torch.randn(4, 1, 4, 4, generator=g, dtype=torch.float64)
    relevance = torch.randn(4, 1, 4, 4, generator=g, dtype=torch.float64)  # no ties
    mask = (torch.arange(4)[:, None] // 2 * 2 + torch.arange(4)[None, :] // 2)  # 2 x 2 patches
    reference = torch.randn(10, 1, 4, 4, generator=g, dtype=torch.float64)
    options = {}
    if replacement == "zero":
        values = torch.zeros_like(x)
    elif replacement == "mean":
        values = reference.mean(0, keepdim=True).expand_as(x)
        options["reference"] = reference
    else:
        values = reference[:1].expand_as(x)
        replacement = reference[:1]
    ours = perturbation_curves(
        model, x, relevance, target=1, feature_mask=mask, replacement=replacement, n_steps=3, **options
    )
    torch.testing.assert_close(ours, literal_curves(model, x, relevance, mask, values, 1, 3))
    torch.testing.assert_close(
        aopc(ours), torch.tensor([sum(r[0] - v for v in r) / 4 for r in ours.tolist()], dtype=torch.float64)
    )


def test_noise_replacement_is_drawn_once_per_element_and_reproducible():
    model = linear(torch.ones(6, dtype=torch.float64))
    x = torch.zeros(3, 6, dtype=torch.float64)
    relevance = torch.arange(6, dtype=torch.float64).expand(3, 6).clone()
    curves = perturbation_curves(
        model, x, relevance, replacement="noise", noise_range=(2.0, 3.0),
        generator=torch.Generator().manual_seed(5),
    )
    again = perturbation_curves(
        model, x, relevance, replacement="noise", noise_range=(2.0, 3.0),
        generator=torch.Generator().manual_seed(5),
    )
    torch.testing.assert_close(curves, again)
    steps = curves.diff(dim=1)  # each step adds one element's noise value in [2, 3]
    assert bool((steps >= 2).all() and (steps <= 3).all())


@pytest.mark.parametrize("order", ["morf", "lerf", "random"])
def test_curves_do_not_depend_on_max_batch_size(order):
    model = tiny_mlp(in_features=6)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(5, 6, generator=g, dtype=torch.float64)
    relevance = torch.randn(5, 6, generator=g, dtype=torch.float64).round()  # with ties
    results = [
        perturbation_curves(
            model, x, relevance, target=2, order=order, replacement="noise", noise_range=(-1.0, 1.0),
            generator=torch.Generator().manual_seed(0), max_batch_size=size,
        )
        for size in (1, 4, 7, 10_000)
    ]
    for other in results[1:]:
        # equal up to the rounding of differently blocked matrix products
        torch.testing.assert_close(other, results[0], rtol=1e-12, atol=1e-12)


def test_ties_are_broken_at_random_not_by_index():
    # f = sum_i 10^i x_i: the first step's output drop names the region removed first
    d = 4
    model = linear(10.0 ** torch.arange(d, dtype=torch.float64))
    x = torch.ones(4000, d, dtype=torch.float64)
    curves = perturbation_curves(model, x, torch.zeros_like(x), n_steps=1, generator=torch.Generator().manual_seed(0))
    first = torch.log10(curves[:, 0] - curves[:, 1]).round().long()
    share = torch.bincount(first, minlength=d).double() / x.shape[0]
    torch.testing.assert_close(share, torch.full((d,), 0.25, dtype=torch.float64), rtol=0.0, atol=0.03)
    # all-zero relevance under MoRF is exactly the random reference with the same generator
    tied = perturbation_curves(model, x[:20], torch.zeros_like(x[:20]), generator=torch.Generator().manual_seed(9))
    rand = perturbation_curves(model, x[:20], None, order="random", generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(tied, rand, rtol=0.0, atol=0.0)


def test_regions_per_step_and_n_steps():
    model = linear(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64))
    x = torch.ones(1, 5, dtype=torch.float64)
    curves = perturbation_curves(model, x, x * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64), n_regions_per_step=2)
    torch.testing.assert_close(curves, torch.tensor([[15.0, 6.0, 1.0, 0.0]], dtype=torch.float64))
    assert perturbation_curves(model, x, x, n_steps=2).shape == (1, 3)


def test_model_and_inputs_are_unchanged():
    model = tiny_mlp(in_features=6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(3, 6, dtype=torch.float64)
    x0 = x.clone()
    perturbation_curves(model, x, torch.randn_like(x), target=0)
    assert torch.equal(x, x0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training


def test_paired_bootstrap_matches_a_literal_resampling_and_is_tighter_than_unpaired():
    g = torch.Generator().manual_seed(0)
    shared = 10 * torch.randn(60, generator=g, dtype=torch.float64)  # large between-sample spread
    a = shared + 0.5 + 0.1 * torch.randn(60, generator=g, dtype=torch.float64)
    b = shared
    result = compare_aopc(a, b, n_bootstrap=500, generator=torch.Generator().manual_seed(1))
    idx = torch.randint(60, (500, 60), generator=torch.Generator().manual_seed(1))
    diffs = (a - b)[idx].mean(dim=1)
    q = torch.quantile(diffs, torch.tensor([0.025, 0.975], dtype=torch.float64))
    assert result.low == pytest.approx(float(q[0]), abs=1e-12)
    assert result.high == pytest.approx(float(q[1]), abs=1e-12)
    assert result.difference == pytest.approx(float((a - b).mean()), abs=1e-12)
    assert result.low > 0.4 and result.high < 0.6 and result.fraction_positive == 1.0
    # the unpaired intervals of the two means overlap widely: only the paired one separates them
    assert result.a_low < result.mean_b < result.a_high
    mean, low, high = bootstrap_mean(a, n_bootstrap=500, generator=torch.Generator().manual_seed(1))
    assert low < mean < high and mean == pytest.approx(result.mean_a)
    assert (low, high) == pytest.approx((result.a_low, result.a_high))


def test_raises():
    model = tiny_mlp(in_features=6)
    x = torch.randn(2, 6, dtype=torch.float64)
    R = torch.randn(2, 6, dtype=torch.float64)
    with pytest.raises(TypeError, match="model must be"):
        perturbation_curves(3, x, R)
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor"):
        perturbation_curves(model, x.numpy(), R)
    with pytest.raises(ValueError, match="order must be one of"):
        perturbation_curves(model, x, R, target=0, order="best")
    with pytest.raises(ValueError, match="attributions are needed"):
        perturbation_curves(model, x, None, target=0)
    with pytest.raises(ValueError, match="attributions must have the shape"):
        perturbation_curves(model, x, R[:, :3], target=0)
    with pytest.raises(TypeError, match="attributions must be a torch.Tensor"):
        perturbation_curves(model, x, R.numpy(), target=0)
    with pytest.raises(ValueError, match="feature_mask must broadcast"):
        perturbation_curves(model, x, R, target=0, feature_mask=torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="n_steps must be at most 6"):
        perturbation_curves(model, x, R, target=0, n_steps=7)
    with pytest.raises(ValueError, match="n_regions_per_step must be"):
        perturbation_curves(model, x, R, target=0, n_regions_per_step=0)
    with pytest.raises(ValueError, match="max_batch_size must be"):
        perturbation_curves(model, x, R, target=0, max_batch_size=0)
    with pytest.raises(TypeError, match="generator must be"):
        perturbation_curves(model, x, R, target=0, generator=1)
    with pytest.raises(ValueError, match="target is missing"):
        perturbation_curves(model, x, R)
    with pytest.raises(ValueError, match="replacement must be one of"):
        perturbation_curves(model, x, R, target=0, replacement="blur")
    with pytest.raises(TypeError, match="needs reference"):
        perturbation_curves(model, x, R, target=0, replacement="mean")
    with pytest.raises(ValueError, match="reference must have shape"):
        perturbation_curves(model, x, R, target=0, replacement="mean", reference=x[:, :2])
    with pytest.raises(ValueError, match="dtype and device"):
        perturbation_curves(model, x, R, target=0, replacement="mean", reference=x.float())
    with pytest.raises(ValueError, match="reference is used only"):
        perturbation_curves(model, x, R, target=0, reference=x)
    with pytest.raises(ValueError, match="noise_range is used only"):
        perturbation_curves(model, x, R, target=0, noise_range=(0, 1))
    with pytest.raises(ValueError, match="needs noise_range"):
        perturbation_curves(model, x, R, target=0, replacement="noise", noise_range=(1, 0))
    with pytest.raises(ValueError, match="replacement must broadcast"):
        perturbation_curves(model, x, R, target=0, replacement=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="curves must be a torch.Tensor"):
        aopc([1.0, 2.0])
    with pytest.raises(ValueError, match="curves must be a floating tensor of shape"):
        aopc(torch.zeros(3))
    a = torch.zeros(5, dtype=torch.float64)
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        compare_aopc([0.0], a)
    with pytest.raises(ValueError, match="b must be a non-empty floating tensor"):
        compare_aopc(a, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="same samples"):
        compare_aopc(a, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="confidence must be"):
        compare_aopc(a, a, confidence=95)
    with pytest.raises(ValueError, match="n_bootstrap must be"):
        compare_aopc(a, a, n_bootstrap=0)
    with pytest.raises(ValueError, match="values must be finite"):
        bootstrap_mean(torch.tensor([1.0, float("nan")]))


def test_training_mode_warns():
    model = nn.Sequential(nn.Linear(3, 2)).double().train()
    x = torch.randn(2, 3, dtype=torch.float64)
    with pytest.warns(UserWarning, match="training mode"):
        perturbation_curves(model, x, x, target=0)
    assert model.training
