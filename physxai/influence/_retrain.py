"""Retraining without a training point: the ground truth that influence functions predict.

Influence functions are a first-order prediction of leave-one-out (LOO) retraining (Koh & Liang
2017, Fig. 2). :func:`retrain` minimises the training objective

    J_{-S}(theta) = (1/(n - |S|)) sum_{i not in S} loss_i(theta) + l2 ||theta||^2

(the :func:`physxai.models.fit` objective on the data without the points in ``S``) from a warm
start with a deterministic full-batch optimiser, L-BFGS with a strong-Wolfe line search or
damped Newton steps with the exact Hessian, until the gradient norm falls below ``tol``.
:func:`leave_one_out` does this for each requested point and returns the actual change of each
test loss, laid out like :meth:`InfluenceFunctions.predicted_loss_change` so the two can be
correlated directly. The objective must be the one the model was trained with (same loss and
``l2``), otherwise the retrained parameters drift even without removing anything; the change is
therefore measured against the full data retrained the same way (Koh & Liang's protocol for
models that are not at an exact minimum), and that drift is reported.

Effects are O(1/n): use float64 and a tight ``tol`` (1e-10 for convex models).

References
----------
P. W. Koh, P. Liang, ICML 2017, arXiv:1703.04730, Sec. 3 and Fig. 2.
J. Nocedal, S. J. Wright, Numerical Optimization, 2nd ed., Springer (2006), Ch. 3, 7
(line searches, L-BFGS), doi:10.1007/978-0-387-40065-5.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_positive_float, check_positive_int
from ._hessian import DEFAULT_MAX_PARAMETERS, check_max_parameters
from ._objective import DEFAULT_MAX_BATCH_SIZE, LossSpec, Objective, _shape

__all__ = ["LeaveOneOut", "RetrainResult", "leave_one_out", "retrain"]

OPTIMIZERS = ("lbfgs", "newton")


@dataclass(frozen=True)
class RetrainResult:
    """The outcome of :func:`retrain`.

    Attributes
    ----------
    parameters : Tensor, shape ``(p,)``
        The minimiser found (load it with :func:`set_flat_parameters`).
    gradient_norm : float
        ``||grad J_{-S}||_2`` there.
    n_iterations : int
        Optimiser iterations used.
    converged : bool
        Whether ``gradient_norm <= tol``.
    """

    parameters: Tensor
    gradient_norm: float
    n_iterations: int
    converged: bool


@dataclass(frozen=True)
class LeaveOneOut:
    """The outcome of :func:`leave_one_out`.

    Attributes
    ----------
    indices : LongTensor, shape ``(k,)``
        The training points left out, one at a time.
    actual_change : Tensor, shape ``(n_test, k)``
        ``L(z_test; theta_{-i}) - L(z_test; theta_full)``: column j for ``indices[j]``, laid
        out like ``InfluenceFunctions.predicted_loss_change(...)[:, indices]``.
    base_shift : Tensor, shape ``(n_test,)``
        ``L(z_test; theta_full) - L(z_test; theta_start)``: how far retraining on the full data
        moved the test losses (zero at an exact minimum; large values mean the model was not
        trained to convergence on this objective).
    gradient_norm : Tensor, shape ``(k,)``
        Final gradient norm of each retraining.
    converged : BoolTensor, shape ``(k,)``
    base_gradient_norm : float
        Final gradient norm of the full-data retraining.
    """

    indices: Tensor
    actual_change: Tensor
    base_shift: Tensor
    gradient_norm: Tensor
    converged: Tensor
    base_gradient_norm: float


def _check_start(start: Any, obj: Objective, caller: str) -> Tensor:
    if start is None:
        return obj.theta.clone()
    if not isinstance(start, Tensor):
        raise TypeError(
            f"{caller}: start must be a tensor (p,) or None; got {type(start).__name__}."
        )
    if start.shape != (obj.n_parameters,) or start.dtype != obj.dtype or start.device != obj.device:
        raise ValueError(
            f"{caller}: start must have shape ({obj.n_parameters},), dtype {obj.dtype} and device "
            f"{obj.device}; got shape {_shape(start)}, dtype {start.dtype}, device {start.device}."
        )
    return start.detach().clone()


def _check_indices(indices: Any, n: int, caller: str, name: str, allow_empty: bool) -> Tensor:
    if isinstance(indices, int) and not isinstance(indices, bool):
        indices = [indices]
    if isinstance(indices, Tensor):
        if indices.is_floating_point() or indices.dim() > 1:
            raise ValueError(
                f"{caller}: {name} must be integer indices (k,); got dtype {indices.dtype} and "
                f"shape {_shape(indices)}."
            )
        out = indices.reshape(-1).long().cpu()
    elif isinstance(indices, Sequence) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in indices
    ):
        out = torch.tensor(list(indices), dtype=torch.long)
    else:
        raise TypeError(
            f"{caller}: {name} must be an int, a sequence of ints or a LongTensor; got {type(indices).__name__}."
        )
    if out.numel() == 0 and not allow_empty:
        raise ValueError(f"{caller}: {name} must not be empty.")
    if out.numel() and (int(out.min()) < 0 or int(out.max()) >= n):
        raise ValueError(f"{caller}: {name} must lie in [0, {n}) for {n} training points.")
    return out


def _minimise(
    obj: Objective,
    weights: Tensor,
    start: Tensor,
    optimizer: str,
    tol: float,
    max_iterations: int,
    damping: float,
) -> RetrainResult:
    """Minimise ``sum_i w_i loss_i + l2 ||theta||^2`` from ``start``."""

    def value_and_gradient(theta: Tensor) -> tuple[Tensor, Tensor]:
        t = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            value = obj.objective(t, weights)
            (g,) = torch.autograd.grad(value, t)
        return value.detach(), g.detach()

    theta = start.clone()
    value, g = value_and_gradient(theta)
    n_iterations = 0
    if optimizer == "newton":
        keep = (weights > 0).nonzero()[:, 0]
        sub = obj.subset(keep)
        eye = torch.eye(obj.n_parameters, dtype=obj.dtype, device=obj.device)
        while float(g.norm()) > tol and n_iterations < max_iterations:
            h = sub.hessian(theta) + damping * eye
            step = torch.linalg.solve(h, g)
            t = 1.0
            # backtracking (Armijo) keeps Newton monotone away from the quadratic basin
            for _ in range(40):
                trial = theta - t * step
                trial_value, trial_g = value_and_gradient(trial)
                if trial_value <= value - 1e-4 * t * float(g @ step) or float(
                    trial_g.norm()
                ) < float(g.norm()):
                    break
                t *= 0.5
            theta, value, g = trial, trial_value, trial_g
            n_iterations += 1
    else:
        theta, g, n_iterations = _lbfgs(obj, weights, theta, g, tol, max_iterations)
    norm = float(g.norm())
    return RetrainResult(theta, norm, n_iterations, norm <= tol)


def _lbfgs(
    obj: Objective, weights: Tensor, theta: Tensor, g: Tensor, tol: float, max_iterations: int
) -> tuple[Tensor, Tensor, int]:
    """L-BFGS with a strong-Wolfe line search, then plain quasi-Newton steps.

    Near the minimum the objective changes by ~||g||^2 / lambda, below the rounding of J itself
    once ||g|| ~ 1e-8, so a line search on J stalls. The second phase takes unit L-BFGS steps and
    keeps them only while the gradient norm falls, which reaches ||g|| ~ 1e-12 on convex
    problems in float64.
    """
    param = theta.clone().requires_grad_(True)

    def closure() -> Tensor:
        param.grad = None
        with torch.enable_grad():
            loss = obj.objective(param, weights)
            loss.backward()
        return loss

    n_iterations = 0
    for line_search in ("strong_wolfe", None):
        lbfgs = torch.optim.LBFGS(
            [param],
            lr=1.0,
            max_iter=20,
            history_size=50,
            tolerance_grad=0.0,
            tolerance_change=0.0,
            line_search_fn=line_search,
        )
        done = 0
        while float(g.norm()) > tol and n_iterations < max_iterations:
            before, norm_before = param.detach().clone(), float(g.norm())
            lbfgs.param_groups[0]["max_iter"] = min(20, max_iterations - n_iterations)
            value_before = float(lbfgs.step(closure).detach())
            n_iterations += int(lbfgs.state[param]["n_iter"]) - done
            done = int(lbfgs.state[param]["n_iter"])
            g = _gradient(obj, weights, param.detach())
            if line_search is not None:
                # the line search guarantees descent of J; stop when J stops moving
                value = float(obj.objective(param.detach(), weights))
                stalled = not value < value_before or torch.equal(before, param.detach())
            else:
                stalled = not float(g.norm()) < norm_before
            if stalled or not bool(torch.isfinite(g).all()):
                with torch.no_grad():
                    param.copy_(before)  # no progress: keep the better point, next phase
                g = _gradient(obj, weights, before)
                break
    return param.detach().clone(), g, n_iterations


def _gradient(obj: Objective, weights: Tensor, theta: Tensor) -> Tensor:
    t = theta.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(obj.objective(t, weights), t)
    return g.detach()


def _check_options(
    caller: str, optimizer: Any, tol: Any, max_iterations: Any, damping: Any
) -> None:
    check_choice(optimizer, OPTIMIZERS, caller, "optimizer")
    check_positive_float(tol, caller, "tol")
    check_positive_int(max_iterations, caller, "max_iterations")
    check_positive_float(damping, caller, "damping", allow_zero=True)


def retrain(
    model: nn.Module,
    loss_fn: LossSpec,
    inputs: Tensor,
    targets: Tensor,
    *,
    l2: float = 0.0,
    exclude: int | Sequence[int] | Tensor | None = None,
    start: Tensor | None = None,
    optimizer: str = "lbfgs",
    tol: float = 1e-10,
    max_iterations: int = 2000,
    damping: float = 0.0,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
) -> RetrainResult:
    """Minimise the training objective, optionally without some points, from a warm start.

    Deterministic and full batch, so it can polish a model trained by :func:`physxai.models.fit`
    to the tight minimum that influence functions assume, and retrain it without a point.

    Parameters
    ----------
    model, loss_fn, inputs, targets, l2, max_batch_size
        As in :func:`hessian`; ``l2`` must be the training objective's. The model is not
        changed: load the result with :func:`set_flat_parameters`.
    exclude : int, sequence of int, LongTensor or None
        Training points to leave out; the mean runs over the others.
    start : Tensor, shape ``(p,)``, or None
        Initial parameters; None means the model's.
    optimizer : {"lbfgs", "newton"}, default "lbfgs"
        L-BFGS with a strong-Wolfe line search (any size), or Newton steps with the exact
        Hessian plus ``damping`` and backtracking (quadratic convergence near a strict minimum;
        models up to ``max_parameters``).
    tol : float, default 1e-10
        Stop when ``||grad J||_2 <= tol``.
    max_iterations : int, default 2000
    damping : float, default 0.0
        Added to the Hessian's diagonal in Newton steps.

    Returns
    -------
    RetrainResult
        A ``UserWarning`` is raised when ``tol`` was not reached.

    Raises
    ------
    TypeError, ValueError
        As :func:`hessian`; for an unknown optimizer, out-of-range indices, or a bad start.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x, y = torch.randn(30, 3, dtype=torch.float64), torch.randn(30, dtype=torch.float64)
    >>> retrain(model, "mse", x, y, l2=0.1).converged
    True
    """
    caller = "retrain"
    obj = Objective(
        model, loss_fn, inputs, targets, l2=l2, max_batch_size=max_batch_size, caller=caller
    )
    _check_options(caller, optimizer, tol, max_iterations, damping)
    if optimizer == "newton":
        check_max_parameters(obj, max_parameters, caller)
    theta0 = _check_start(start, obj, caller)
    excluded = _check_indices(
        [] if exclude is None else exclude, obj.n_samples, caller, "exclude", True
    )
    weights = _weights(obj, excluded, caller)
    result = _minimise(obj, weights, theta0, optimizer, tol, max_iterations, damping)
    if not result.converged:
        _warn_unconverged(caller, result.gradient_norm, tol, result.n_iterations)
    return result


def _weights(obj: Objective, excluded: Tensor, caller: str) -> Tensor:
    keep = torch.ones(obj.n_samples, dtype=torch.bool)
    keep[excluded] = False
    n_keep = int(keep.sum())
    if n_keep == 0:
        raise ValueError(f"{caller}: exclude leaves no training points.")
    return (keep.to(obj.dtype) / n_keep).to(obj.device)


def _warn_unconverged(caller: str, norm: float, tol: float, n_iterations: int) -> None:
    warnings.warn(
        f"{caller}: the gradient norm {norm:.3g} did not reach tol={tol!r} after {n_iterations} "
        "iterations; leave-one-out changes are O(1/n) and need a converged minimum. Raise "
        "max_iterations, use optimizer='newton' for small convex models, or loosen tol for a "
        "non-convex network (and compare against the retrained full data, as leave_one_out does).",
        UserWarning,
        stacklevel=3,
    )


def leave_one_out(
    model: nn.Module,
    loss_fn: LossSpec,
    train_inputs: Tensor,
    train_targets: Tensor,
    test_inputs: Tensor,
    test_targets: Tensor,
    indices: int | Sequence[int] | Tensor,
    *,
    l2: float = 0.0,
    include_l2: bool = False,
    optimizer: str = "lbfgs",
    tol: float = 1e-10,
    max_iterations: int = 2000,
    damping: float = 0.0,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
) -> LeaveOneOut:
    """Actual change of test losses when each of some training points is removed and the model
    retrained (warm start from the model's parameters).

    For every ``i`` in ``indices``: retrain on the data without ``z_i`` (see :func:`retrain`) and
    measure ``L(z_test; theta_{-i}) - L(z_test; theta_full)``, where ``theta_full`` is the same
    optimiser run on all the data from the same start. Compare with
    ``InfluenceFunctions(...).predicted_loss_change(test_inputs, test_targets)[:, indices]``,
    e.g. by ``numpy.corrcoef`` on the flattened arrays (Koh & Liang 2017, Fig. 2).

    Parameters
    ----------
    model, loss_fn, train_inputs, train_targets, l2, optimizer, tol, max_iterations, damping,
    max_batch_size, max_parameters
        As in :func:`retrain`; ``loss_fn`` and ``l2`` must be those of training.
    test_inputs : Tensor, shape ``(n_test, ...)``
    test_targets : Tensor, shape ``(n_test, ...)``
    indices : int, sequence of int or LongTensor, shape ``(k,)``
        The training points to leave out, one at a time.
    include_l2 : bool, default False
        Whether the test loss includes ``l2 ||theta||^2`` (match the influence call).

    Returns
    -------
    LeaveOneOut
        ``actual_change`` has shape ``(n_test, k)``. A ``UserWarning`` is raised when a
        retraining did not reach ``tol``.

    Raises
    ------
    TypeError, ValueError
        As :func:`retrain`; for test data that do not match the model, or empty or
        out-of-range ``indices``.
    """
    caller = "leave_one_out"
    obj = Objective(
        model,
        loss_fn,
        train_inputs,
        train_targets,
        l2=l2,
        max_batch_size=max_batch_size,
        caller=caller,
        input_name="train_inputs",
        target_name="train_targets",
    )
    x_test, y_test = obj.check_data(test_inputs, test_targets, "test_inputs", "test_targets")
    if not isinstance(include_l2, bool):
        raise TypeError(f"{caller}: include_l2 must be a bool; got {type(include_l2).__name__}.")
    _check_options(caller, optimizer, tol, max_iterations, damping)
    if optimizer == "newton":
        check_max_parameters(obj, max_parameters, caller)
    idx = _check_indices(indices, obj.n_samples, caller, "indices", False)
    start = obj.theta.clone()

    def test_losses(theta: Tensor) -> Tensor:
        values = obj.sample_losses(theta, x_test, y_test)
        return values + obj.l2 * theta.pow(2).sum() if include_l2 else values

    base = _minimise(
        obj, _weights(obj, idx[:0], caller), start, optimizer, tol, max_iterations, damping
    )
    base_losses = test_losses(base.parameters)
    changes, norms, converged = [], [], []
    for i in idx.tolist():
        result = _minimise(
            obj,
            _weights(obj, torch.tensor([i]), caller),
            start,
            optimizer,
            tol,
            max_iterations,
            damping,
        )
        changes.append(test_losses(result.parameters) - base_losses)
        norms.append(result.gradient_norm)
        converged.append(result.converged)
    n_bad = sum(not c for c in converged) + (not base.converged)
    if n_bad:
        worst = max([*norms, base.gradient_norm])
        warnings.warn(
            f"{caller}: {n_bad} of {len(converged) + 1} retrainings did not reach tol={tol!r} "
            f"(largest gradient norm {worst:.3g}); the actual changes are O(1/n) and may be "
            "dominated by optimisation error. Raise max_iterations or use optimizer='newton'.",
            UserWarning,
            stacklevel=2,
        )
    return LeaveOneOut(
        indices=idx,
        actual_change=torch.stack(changes, dim=1),
        base_shift=base_losses - test_losses(start),
        gradient_norm=torch.tensor(norms, dtype=torch.float64),
        converged=torch.tensor(converged, dtype=torch.bool),
        base_gradient_norm=base.gradient_norm,
    )
