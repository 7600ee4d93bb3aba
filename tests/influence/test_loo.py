"""Leave-one-out retraining: the retrainer converges, matches closed forms, and confirms the
influence-function prediction for L2-regularised logistic regression."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from physxai.influence import (
    InfluenceFunctions,
    flat_parameters,
    leave_one_out,
    retrain,
    set_flat_parameters,
)


def _logistic_problem():
    g = torch.Generator().manual_seed(0)
    n, d = 100, 5
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    w = torch.tensor([1.5, -1.0, 0.5, 0.0, 2.0], dtype=torch.float64)
    y = (torch.rand(n, generator=g, dtype=torch.float64) < torch.sigmoid(x @ w)).to(torch.float64)
    xt = torch.randn(3, d, generator=g, dtype=torch.float64)
    yt = (xt @ w > 0).to(torch.float64)
    torch.manual_seed(0)
    return nn.Linear(d, 1).double().eval(), x, y, xt, yt


def test_retrain_matches_ridge_closed_form_and_leaves_model_unchanged():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    y = torch.randn(50, generator=g, dtype=torch.float64)
    model = nn.Linear(3, 1).double().eval()
    before = flat_parameters(model)
    keep = torch.arange(50) != 7
    xt = torch.cat([x, torch.ones(50, 1, dtype=torch.float64)], 1)[keep]
    ref = torch.linalg.solve(
        xt.T @ xt / 49 + 0.1 * torch.eye(4, dtype=torch.float64), xt.T @ y[keep] / 49
    )
    for optimizer in ("lbfgs", "newton"):
        result = retrain(model, "mse", x, y, l2=0.1, exclude=7, optimizer=optimizer)
        assert result.converged and result.gradient_norm <= 1e-10
        assert torch.allclose(result.parameters, ref, atol=1e-9)
    assert torch.equal(flat_parameters(model), before)


def test_logistic_regression_influence_predicts_leave_one_out():
    model, x, y, xt, yt = _logistic_problem()
    l2 = 0.01
    fitted = retrain(model, "bce", x, y, l2=l2, optimizer="newton")
    assert fitted.converged
    set_flat_parameters(model, fitted.parameters)
    inf = InfluenceFunctions(model, "bce", x, y, l2=l2, damping=0.0).fit()
    predicted = inf.predicted_loss_change(xt, yt)
    # Koh & Liang's protocol: the points with the largest predicted effects
    indices = torch.topk(predicted.abs().max(dim=0).values, 15).indices
    loo = leave_one_out(model, "bce", x, y, xt, yt, indices, l2=l2)
    assert loo.actual_change.shape == (3, 15)
    assert bool(loo.converged.all()) and loo.base_gradient_norm <= 1e-10
    assert float(loo.base_shift.abs().max()) < 1e-12  # already at the minimum
    pred = predicted[:, indices].flatten().numpy()
    actual = loo.actual_change.flatten().numpy()
    r = np.corrcoef(pred, actual)[0, 1]
    assert r > 0.95
    newton = leave_one_out(model, "bce", x, y, xt, yt, indices[:3], l2=l2, optimizer="newton")
    assert torch.allclose(newton.actual_change, loo.actual_change[:, :3], atol=1e-9)


def test_unconverged_retraining_warns():
    model, x, y, xt, yt = _logistic_problem()
    with pytest.warns(UserWarning, match="did not reach tol"):
        result = retrain(model, "bce", x, y, l2=0.01, max_iterations=2)
    assert not result.converged
    with pytest.warns(UserWarning, match="retrainings did not reach tol"):
        leave_one_out(model, "bce", x, y, xt, yt, [0], l2=0.01, max_iterations=2)


def test_bad_arguments_raise():
    model, x, y, xt, yt = _logistic_problem()
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 100\)"):
        leave_one_out(model, "bce", x, y, xt, yt, [100])
    with pytest.raises(ValueError, match="must not be empty"):
        leave_one_out(model, "bce", x, y, xt, yt, [])
    with pytest.raises(TypeError, match="sequence of ints"):
        leave_one_out(model, "bce", x, y, xt, yt, [0.5])
    with pytest.raises(ValueError, match="test_inputs and test_targets must have the same"):
        leave_one_out(model, "bce", x, y, xt, yt[:2], [0])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        retrain(model, "bce", x, y, optimizer="adam")
    with pytest.raises(ValueError, match="start must have shape"):
        retrain(model, "bce", x, y, start=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="no training points"):
        retrain(model, "bce", x[:2], y[:2], exclude=[0, 1])
    with pytest.raises(ValueError, match="max_parameters.*lanczos"):
        retrain(model, "bce", x, y, optimizer="newton", max_parameters=2)
