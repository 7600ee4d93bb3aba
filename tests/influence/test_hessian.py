"""Exact Hessian, Hessian-vector products and per-sample gradients against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from physxai.influence import (
    HessianOperator,
    flat_parameters,
    hessian,
    hessian_vector_product,
    per_sample_gradients,
    set_flat_parameters,
)


def _mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double().eval()


def _data(
    n: int = 12, d: int = 4, classes: int = 3, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randint(
        classes, (n,), generator=g
    )


def _reference_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, l2: float):
    """J(theta) written literally: mean cross-entropy + l2 ||theta||^2."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def objective(theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.view(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        out = functional_call(model, params, (x,))
        return nn.functional.cross_entropy(out, y) + l2 * theta.pow(2).sum()

    return objective


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_hessian_matches_autograd_hessian(l2):
    model = _mlp()
    x, y = _data()
    h = hessian(model, "cross_entropy", x, y, l2=l2)
    ref = torch.autograd.functional.hessian(
        _reference_objective(model, x, y, l2), flat_parameters(model)
    )
    assert h.shape == (43, 43)
    assert torch.allclose(h, ref, atol=1e-10, rtol=0)
    assert torch.equal(h, h.T)


def test_l2_term_adds_two_l2_identity():
    model = _mlp()
    x, y = _data()
    diff = hessian(model, "cross_entropy", x, y, l2=0.3) - hessian(model, "cross_entropy", x, y)
    assert torch.allclose(diff, 0.6 * torch.eye(43, dtype=torch.float64), atol=1e-12)


def test_hessian_of_logistic_regression_is_closed_form():
    g = torch.Generator().manual_seed(3)
    n, d, l2 = 40, 3, 0.02
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (torch.rand(n, generator=g, dtype=torch.float64) < 0.5).to(torch.float64)
    model = nn.Linear(d, 1).double().eval()
    h = hessian(model, "bce", x, y, l2=l2)
    # parameters are (weight (1, d), bias (1,)): append a column of ones for the bias
    xt = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    p = torch.sigmoid(model(x)[:, 0]).detach()
    closed = xt.T @ torch.diag(p * (1 - p)) @ xt / n + 2 * l2 * torch.eye(
        d + 1, dtype=torch.float64
    )
    assert torch.allclose(h, closed, atol=1e-13)


def test_hessian_of_a_cnn_matches_autograd_and_is_chunk_invariant():
    torch.manual_seed(2)
    model = (
        nn.Sequential(
            nn.Conv1d(1, 2, 3),
            nn.MaxPool1d(2),
            nn.ReLU(),
            nn.Conv1d(2, 2, 2),
            nn.Flatten(),
            nn.Linear(4, 2),
        )
        .double()
        .eval()
    )
    x = torch.randn(7, 1, 9, dtype=torch.float64)
    y = torch.randint(2, (7,))
    p = flat_parameters(model).numel()
    results = [
        hessian(model, "cross_entropy", x, y, l2=0.01, max_batch_size=m) for m in (4, 64, 10_000)
    ]
    ref = torch.autograd.functional.hessian(
        _reference_objective(model, x, y, 0.01), flat_parameters(model)
    )
    assert results[0].shape == (p, p)
    for h in results:
        assert torch.allclose(h, ref, atol=1e-10, rtol=0)
        assert torch.allclose(h, results[0], atol=1e-13, rtol=0)


def test_hessian_vector_product_equals_h_times_v():
    model = _mlp()
    x, y = _data()
    h = hessian(model, "cross_entropy", x, y, l2=0.1)
    v = torch.randn(3, 43, dtype=torch.float64)
    for m in (1, 7, 4096):
        hv = hessian_vector_product(model, "cross_entropy", x, y, v, l2=0.1, max_batch_size=m)
        assert torch.allclose(hv, v @ h, atol=1e-12)
    one = hessian_vector_product(model, "cross_entropy", x, y, v[0], l2=0.1)
    assert one.shape == (43,) and torch.allclose(one, h @ v[0], atol=1e-12)


def test_hessian_operator_is_a_float64_linear_operator():
    model = _mlp()
    x, y = _data()
    h = hessian(model, "cross_entropy", x, y, l2=0.1).numpy()
    op = HessianOperator(model, "cross_entropy", x, y, l2=0.1)
    v = np.random.default_rng(0).standard_normal((43, 2))
    assert op.shape == (43, 43) and op.dtype == np.float64
    np.testing.assert_allclose(op @ v[:, 0], h @ v[:, 0], atol=1e-12)
    np.testing.assert_allclose(op.matmat(v), h @ v, atol=1e-12)
    np.testing.assert_allclose(op.T @ v[:, 1], h @ v[:, 1], atol=1e-12)
    t = torch.from_numpy(v[:, 0].copy())
    assert torch.allclose(op.hvp(t), torch.from_numpy(h) @ t, atol=1e-12)
    assert op.n_products == 5


def test_per_sample_gradients_match_a_loop_and_include_the_l2_share():
    model = _mlp()
    x, y = _data()
    g = per_sample_gradients(model, "cross_entropy", x, y, l2=0.2, max_batch_size=5)
    theta = flat_parameters(model)
    for i in (0, 7, 11):
        t = theta.clone().requires_grad_(True)
        value = _reference_objective(model, x[i : i + 1], y[i : i + 1], 0.2)(t)
        (ref,) = torch.autograd.grad(value, t)
        assert torch.allclose(g[i], ref, atol=1e-13)


def test_mse_and_callable_losses_agree_with_builtin():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double().eval()
    x = torch.randn(9, 3, dtype=torch.float64)
    y = torch.randn(9, 2, dtype=torch.float64)

    def per_sample_mse(out, target):
        return ((out - target) ** 2).mean(dim=1)

    h1 = hessian(model, "mse", x, y, l2=0.1)
    h2 = hessian(model, per_sample_mse, x, y, l2=0.1)
    assert torch.allclose(h1, h2, atol=1e-14)
    # mean over both outputs: d^2/dw^2 of mean_j (w_j x - y_j)^2 is 2 x x^T / 2 per output
    xt = torch.cat([x, torch.ones(9, 1, dtype=torch.float64)], dim=1)
    block = xt.T @ xt / 9
    assert torch.allclose(
        h1[:3, :3], block[:3, :3] + 0.2 * torch.eye(3, dtype=torch.float64), atol=1e-13
    )


def test_frozen_parameters_are_left_out_and_model_is_unchanged():
    model = _mlp()
    model[0].weight.requires_grad_(False)
    x, y = _data()
    before = [p.detach().clone() for p in model.parameters()]
    h = hessian(model, "cross_entropy", x, y)
    assert h.shape == (23, 23)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_set_flat_parameters_round_trips():
    model = _mlp()
    theta = flat_parameters(model)
    set_flat_parameters(model, theta * 2)
    assert torch.equal(flat_parameters(model), theta * 2)
    with pytest.raises(ValueError, match="theta must have shape"):
        set_flat_parameters(model, theta[:-1])


# -- bad inputs ---------------------------------------------------------------------------------


def test_mismatched_lengths_raise():
    x, y = _data()
    with pytest.raises(ValueError, match="same number of samples"):
        hessian(_mlp(), "cross_entropy", x, y[:-1])


def test_nan_inputs_raise():
    x, y = _data()
    x[3, 1] = float("nan")
    with pytest.raises(ValueError, match="must be finite"):
        hessian(_mlp(), "cross_entropy", x, y)


def test_no_trainable_parameters_raise():
    model = _mlp().requires_grad_(False)
    x, y = _data()
    with pytest.raises(ValueError, match="no trainable parameters"):
        hessian(model, "cross_entropy", x, y)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        hessian(lambda t: t, "cross_entropy", x, y)


def test_too_many_parameters_for_exact_hessian_suggests_lanczos():
    x, y = _data()
    with pytest.raises(ValueError, match="lanczos.*cg"):
        hessian(_mlp(), "cross_entropy", x, y, max_parameters=10)


def test_training_mode_with_dropout_raises_and_without_warns():
    x, y = _data()
    model = nn.Sequential(nn.Linear(4, 5), nn.Dropout(0.5), nn.Linear(5, 3)).double().train()
    with pytest.raises(ValueError, match=r"training mode.*1 \(Dropout\).*model.eval\(\)"):
        hessian(model, "cross_entropy", x, y)
    with pytest.warns(UserWarning, match="training mode"):
        hessian(_mlp().train(), "cross_entropy", x, y)
    model.eval()  # in eval mode dropout is the identity
    assert hessian(model, "cross_entropy", x, y).shape == (43, 43)


def test_bad_losses_and_targets_raise():
    x, y = _data()
    with pytest.raises(ValueError, match="loss_fn must be one of"):
        hessian(_mlp(), "hinge", x, y)
    with pytest.raises(TypeError, match="loss_fn must be one of"):
        hessian(_mlp(), 3, x, y)
    with pytest.raises(ValueError, match="per-sample losses"):
        hessian(_mlp(), lambda out, t: nn.functional.cross_entropy(out, t), x, y)
    with pytest.raises(ValueError, match="classes outside"):
        hessian(_mlp(), "cross_entropy", x, y + 5)
    with pytest.raises(ValueError, match="needs float targets"):
        hessian(nn.Linear(4, 1).double().eval(), "mse", x, y)
    with pytest.raises(ValueError, match="dtype of the model's parameters"):
        hessian(_mlp(), "cross_entropy", x.float(), y)
    with pytest.raises(ValueError, match="max_batch_size"):
        hessian(_mlp(), "cross_entropy", x, y, max_batch_size=0)
    with pytest.raises(ValueError, match="l2"):
        hessian(_mlp(), "cross_entropy", x, y, l2=-1.0)
    with pytest.raises(ValueError, match=r"vectors must have shape \(43,\)"):
        hessian_vector_product(_mlp(), "cross_entropy", x, y, torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_multi_output_losses_follow_fits_mean_over_outputs(loss):
    """A model with 3 outputs per sample (multi-label BCE, vector MSE): the influence objective
    is fit's training loss (the mean over all n x 3 elements) plus l2 ||theta||^2, its Hessian
    (structured and generic) that of this objective, and influence runs on it and equals
    (1/n) g_test^T (H + d I)^-1 g_i with per-sample losses = the mean over the 3 outputs."""
    from physxai.influence import InfluenceFunctions
    from physxai.influence._objective import Objective

    g = torch.Generator().manual_seed(5)
    n, l2, damping = 12, 0.05, 0.5
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)).double().eval()
    x = torch.randn(n, 4, generator=g, dtype=torch.float64)
    y = torch.rand(n, 3, generator=g, dtype=torch.float64)
    if loss == "bce":
        y = (y > 0.5).to(torch.float64)
    reduce = (
        torch.nn.functional.binary_cross_entropy_with_logits
        if loss == "bce"
        else (torch.nn.functional.mse_loss)
    )
    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def objective(t, xs=x, ys=y):
        params, start = {}, 0
        for name, p in model.named_parameters():
            params[name] = t[start : start + p.numel()].view_as(p)
            start += p.numel()
        return reduce(functional_call(model, params, (xs,)), ys) + l2 * t.pow(2).sum()

    obj = Objective(model, loss, x, y, l2=l2, max_batch_size=5, caller="test")
    assert float(obj.objective(theta)) == pytest.approx(float(objective(theta)), rel=1e-12)
    exact = torch.autograd.functional.hessian(objective, theta)
    for algorithm in ("generic", "sequential"):
        h = hessian(model, loss, x, y, l2=l2, algorithm=algorithm)
        assert torch.allclose(h, exact, atol=1e-12), algorithm
    inf = InfluenceFunctions(model, loss, x, y, l2=l2, damping=damping).fit()
    per_sample = torch.stack(
        [
            torch.autograd.functional.jacobian(
                lambda t, i=i: objective(t, x[i : i + 1], y[i : i + 1]), theta
            )
            for i in range(n)
        ]
    )  # gradients of loss_i + l2 ||theta||^2
    g_test = per_sample[:2] - 2 * l2 * theta  # the test loss without the l2 term
    hd = exact + damping * torch.eye(len(theta), dtype=torch.float64)
    ref = g_test @ torch.linalg.solve(hd, per_sample.T) / n
    assert torch.allclose(inf.influence(x[:2], y[:2]), ref, atol=1e-10)
