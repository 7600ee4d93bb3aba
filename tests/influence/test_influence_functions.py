"""Influence functions: solvers against the exact solve, leave-one-out in closed form for ridge
regression, planted mislabelled points, and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from physxai.errors import NotFittedError
from physxai.influence import (
    InfluenceFunctions,
    hessian,
    per_sample_gradients,
    retrain,
    set_flat_parameters,
)


@pytest.fixture(scope="module")
def mlp_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(30, 3, generator=g, dtype=torch.float64)
    y = torch.randint(2, (30,), generator=g)
    h = hessian(model, "cross_entropy", x, y, l2=0.01)
    damping = max(0.0, -float(torch.linalg.eigvalsh(h)[0])) + 0.2
    return model, x, y, h, damping


def test_exact_cg_and_lissa_solve_the_damped_system(mlp_problem):
    model, x, y, h, damping = mlp_problem
    p = h.shape[0]
    v = torch.randn(4, p, dtype=torch.float64)
    ref = torch.linalg.solve(h + damping * torch.eye(p, dtype=torch.float64), v.T).T
    kw = {"l2": 0.01, "damping": damping}
    exact = InfluenceFunctions(model, "cross_entropy", x, y, method="exact", **kw).fit()
    assert torch.allclose(exact.inverse_hvp(v), ref, atol=1e-10)
    cg = InfluenceFunctions(model, "cross_entropy", x, y, method="cg", tol=1e-12, **kw).fit()
    assert torch.allclose(cg.inverse_hvp(v), ref, atol=1e-8)
    # deterministic LiSSA is a Richardson iteration: error ~ (1 - lambda_min / scale)^j; with
    # lambda_min ~ 0.2, scale ~ 1.1 lambda_max it reaches tol 1e-11 in a few hundred steps
    lissa = InfluenceFunctions(model, "cross_entropy", x, y, method="lissa", tol=1e-11, **kw).fit()
    assert lissa.lissa_scale_ > float(torch.linalg.eigvalsh(h)[-1]) + damping
    assert torch.allclose(lissa.inverse_hvp(v), ref, rtol=0, atol=1e-7 * float(ref.abs().max()))
    single = exact.inverse_hvp(v[0])
    assert single.shape == (p,) and torch.allclose(single, ref[0], atol=1e-10)


def test_stochastic_lissa_is_close_to_exact(mlp_problem):
    model, x, y, h, damping = mlp_problem
    p = h.shape[0]
    v = torch.randn(p, dtype=torch.float64)
    ref = torch.linalg.solve(h + (damping + 1.0) * torch.eye(p, dtype=torch.float64), v)
    lissa = InfluenceFunctions(
        model,
        "cross_entropy",
        x,
        y,
        l2=0.01,
        damping=damping + 1.0,
        method="lissa",
        lissa_batch_size=15,
        lissa_repeats=2,
        max_iterations=100,
        lissa_scale=4.0,
        generator=torch.Generator().manual_seed(0),
    ).fit()
    est = lissa.inverse_hvp(v)
    cosine = float(est @ ref / (est.norm() * ref.norm()))
    assert cosine > 0.95


def test_influence_is_batched_and_consistent_with_its_formula(mlp_problem):
    model, x, y, h, damping = mlp_problem
    inf = InfluenceFunctions(
        model, "cross_entropy", x, y, l2=0.01, damping=damping, max_batch_size=7
    ).fit()
    xt, yt = x[:4] + 0.1, y[:4]
    got = inf.influence(xt, yt)
    g_train = per_sample_gradients(model, "cross_entropy", x, y, l2=0.01)
    g_test = per_sample_gradients(model, "cross_entropy", xt, yt)
    hd = h + damping * torch.eye(h.shape[0], dtype=torch.float64)
    ref = g_test @ torch.linalg.solve(hd, g_train.T) / 30
    assert got.shape == (4, 30)
    assert torch.allclose(got, ref, atol=1e-12)
    assert torch.equal(inf.predicted_loss_change(xt, yt), got)
    with_l2 = inf.influence(xt, yt, include_l2=True)
    g_test_l2 = per_sample_gradients(model, "cross_entropy", xt, yt, l2=0.01)
    assert torch.allclose(with_l2, g_test_l2 @ torch.linalg.solve(hd, g_train.T) / 30, atol=1e-12)
    # per-test rows do not depend on the other test points in the batch
    assert torch.allclose(inf.influence(xt[2:3], yt[2:3])[0], got[2], atol=1e-14)


@pytest.mark.parametrize("method", ["exact", "cg"])
def test_self_influence_and_relatif(mlp_problem, method):
    model, x, y, h, damping = mlp_problem
    inf = InfluenceFunctions(
        model, "cross_entropy", x, y, l2=0.01, damping=damping, method=method, tol=1e-12
    ).fit()
    diag = torch.diagonal(inf.influence(x, y, include_l2=True))
    s = inf.self_influence()
    assert torch.allclose(s, diag, atol=1e-10)
    assert bool((s > 0).all())
    g_train = per_sample_gradients(model, "cross_entropy", x, y, l2=0.01)
    hd = h + damping * torch.eye(h.shape[0], dtype=torch.float64)
    solved = torch.linalg.solve(hd, g_train.T).T  # (n, p)
    g_test = per_sample_gradients(model, "cross_entropy", x[:3], y[:3])
    ref = (g_test @ solved.T) / solved.norm(dim=1)
    assert torch.allclose(inf.relatif(x[:3], y[:3]), ref, atol=1e-9)


def _ridge(x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    # minimiser of (1/n) sum (w.x + b - y)^2 + l2 (|w|^2 + b^2): (X'X/n + l2 I) theta = X'y/n
    xt = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    n = len(x)
    return torch.linalg.solve(
        xt.T @ xt / n + l2 * torch.eye(xt.shape[1], dtype=x.dtype), xt.T @ y / n
    )


def test_ridge_regression_predicted_change_matches_exact_leave_one_out():
    g = torch.Generator().manual_seed(0)
    n, d, l2 = 200, 4, 0.05
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64) + 0.3 * torch.randn(
        n, generator=g, dtype=torch.float64
    )
    xt = torch.randn(8, d, generator=g, dtype=torch.float64)
    yt = xt @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    model = nn.Linear(d, 1).double().eval()
    theta = _ridge(x, y, l2)
    set_flat_parameters(model, theta)
    inf = InfluenceFunctions(model, "mse", x, y, l2=l2, damping=0.0).fit()
    predicted = inf.predicted_loss_change(xt, yt)

    def test_losses(th):
        return (torch.cat([xt, torch.ones(8, 1, dtype=torch.float64)], 1) @ th - yt) ** 2

    actual = torch.stack(
        [
            test_losses(_ridge(x[torch.arange(n) != i], y[torch.arange(n) != i], l2))
            - test_losses(theta)
            for i in range(n)
        ],
        dim=1,
    )
    r = np.corrcoef(predicted.flatten().numpy(), actual.flatten().numpy())[0, 1]
    assert r > 0.99
    # not just correlated: the same size (first order in 1/n; the leverage d/n makes the rest)
    slope = float((predicted * actual).sum() / (predicted * predicted).sum())
    assert 0.9 < slope < 1.15


def test_planted_mislabelled_point_is_most_harmful_and_most_self_influential():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
    y = torch.arange(40) % 2
    x = centres[y] + 0.6 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    bad = 6  # a class-0 point deep in class 0, labelled 1
    x[bad] = torch.tensor([-2.5, 0.3], dtype=torch.float64)
    y[bad] = 1
    torch.manual_seed(0)
    model = nn.Linear(2, 2).double().eval()
    l2 = 0.01
    set_flat_parameters(
        model, retrain(model, "cross_entropy", x, y, l2=l2, optimizer="newton").parameters
    )
    inf = InfluenceFunctions(model, "cross_entropy", x, y, l2=l2, damping=0.0).fit()
    xt = torch.tensor([[-2.4, 0.2], [2.0, 0.1]], dtype=torch.float64)
    yt = torch.tensor([0, 1])
    harmful = inf.most_harmful(xt, yt, k=3)
    assert harmful.shape == (2, 3)
    assert int(harmful[0, 0]) == bad
    assert int(torch.argmax(inf.self_influence())) == bad
    helpful = inf.most_helpful(xt, yt, k=3)
    assert bool((y[helpful[0]] == 0).all())  # correctly labelled class-0 points help
    influence = inf.influence(xt, yt)
    assert float(influence[0, bad]) < 0 < float(influence[0, helpful[0, 0]])


# -- bad inputs ---------------------------------------------------------------------------------


def test_non_positive_definite_hessian_without_damping_raises(mlp_problem):
    model, x, y, h, _ = mlp_problem
    assert float(torch.linalg.eigvalsh(h)[0]) < 0  # random init: not a minimum
    with pytest.raises(ValueError, match=r"not positive definite.*damping >"):
        InfluenceFunctions(model, "cross_entropy", x, y, l2=0.01, damping=0.0).fit()
    cg = InfluenceFunctions(model, "cross_entropy", x, y, l2=0.01, damping=0.0, method="cg").fit()
    with pytest.raises(ValueError, match="non-positive curvature"):
        cg.influence(x, y)
    lissa = InfluenceFunctions(
        model, "cross_entropy", x, y, l2=0.01, damping=1.0, method="lissa", lissa_scale=0.01
    ).fit()
    with pytest.raises(ValueError, match="LiSSA diverged"):
        lissa.inverse_hvp(torch.ones(h.shape[0], dtype=torch.float64))


def test_bad_arguments_raise(mlp_problem):
    model, x, y, _, damping = mlp_problem
    with pytest.raises(ValueError, match="method must be one of"):
        InfluenceFunctions(model, "cross_entropy", x, y, method="neumann")
    with pytest.raises(ValueError, match="damping"):
        InfluenceFunctions(model, "cross_entropy", x, y, damping=-1.0)
    with pytest.raises(ValueError, match="same number of samples"):
        InfluenceFunctions(model, "cross_entropy", x, y[:-2])
    with pytest.raises(ValueError, match="max_parameters.*lanczos"):
        InfluenceFunctions(model, "cross_entropy", x, y, max_parameters=5)
    inf = InfluenceFunctions(model, "cross_entropy", x, y, l2=0.01, damping=damping)
    with pytest.raises(NotFittedError, match="call fit"):
        inf.influence(x, y)
    inf.fit()
    with pytest.raises(ValueError, match="test_inputs and test_targets must have the same number"):
        inf.influence(x[:3], y[:2])
    bad = x[:3].clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="test_inputs must be finite"):
        inf.influence(bad, y[:3])
    with pytest.raises(ValueError, match="k must be at most"):
        inf.most_helpful(x[:2], y[:2], k=31)
    with pytest.raises(TypeError, match="include_l2"):
        inf.influence(x[:2], y[:2], include_l2=1)
