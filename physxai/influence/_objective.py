"""The training objective as a function of one flat parameter vector.

Every tool in :mod:`physxai.influence` differentiates the same objective, the one
:func:`physxai.models.fit` minimises:

    J(theta) = (1/n) sum_i loss(f(x_i; theta), y_i) + l2 * sum_p ||p||^2,

where ``p`` runs over the model's trainable parameter tensors (``requires_grad=True``) and
``theta`` is their concatenation in ``model.named_parameters()`` order. Writing the per-example
loss with its share of the penalty, ``L_i(theta) = loss_i(theta) + l2 ||theta||^2``, gives
``J = (1/n) sum_i L_i``, which is the form influence functions use (Koh & Liang 2017, Sec. 2;
Dawid et al. 2022 include the L2 term in the per-example losses the same way).

The model is evaluated with :func:`torch.func.functional_call`, so the caller's parameters are
never changed, and per-sample quantities are vectorised with :func:`torch.func.vmap`. Rows of a
batch must not interact, so the model must be in eval mode when it holds dropout or batch norm.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp, vmap

from .._validation import (
    check_choice,
    check_finite,
    check_inputs,
    check_positive_float,
    check_positive_int,
    check_same_device,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_MAX_BATCH_SIZE",
    "LOSSES",
    "LossSpec",
    "flat_parameters",
    "set_flat_parameters",
]

#: a loss name or a callable ``(outputs (m, ...), targets (m, ...)) -> per-sample losses (m,)``
LossSpec = str | Callable[[Tensor, Tensor], Tensor]
LOSSES = ("cross_entropy", "bce", "mse")
#: ways to build the exact Hessian (see Objective.hessian)
ALGORITHMS = ("auto", "generic", "sequential")

#: Rows per vectorised pass, one row being one (sample, vector) pair: an exact Hessian of p
#: parameters on a chunk of m samples costs p * m rows. 2048 rows of the 740-parameter Hubbard
#: CNN hold about 0.5 GB of activations in float64.
DEFAULT_MAX_BATCH_SIZE = 2048

# modules whose output depends on the train/eval mode or couples the rows of a batch
_MODE_DEPENDENT = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._NormBase)


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + (",)" if t.dim() == 1 else ")")


def _trainable(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


def _check_module(model: Any, caller: str) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{caller}: model must be a torch.nn.Module (its trainable parameters are "
            f"differentiated); got {type(model).__name__}."
        )
    if not _trainable(model):
        raise ValueError(
            f"{caller}: model has no trainable parameters (none with requires_grad=True); "
            "there is nothing to differentiate."
        )
    return model


def flat_parameters(model: nn.Module) -> Tensor:
    """The trainable parameters of ``model`` as one detached flat vector.

    Parameters
    ----------
    model : nn.Module
        Parameters with ``requires_grad=False`` are left out (they are constants of the
        objective); the order is that of ``model.named_parameters()``.

    Returns
    -------
    Tensor, shape ``(n_parameters,)``
        A copy, in the parameters' dtype and on their device.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.
    ValueError
        If it has no trainable parameters.

    Examples
    --------
    >>> flat_parameters(torch.nn.Linear(3, 2)).shape
    torch.Size([8])
    """
    _check_module(model, "flat_parameters")
    return torch.cat([p.detach().reshape(-1) for _, p in _trainable(model)]).clone()


def set_flat_parameters(model: nn.Module, theta: Tensor) -> None:
    """Write a flat vector into the trainable parameters of ``model``, in place.

    The inverse of :func:`flat_parameters`; use it to load the result of :func:`retrain`
    into a model. This is the only function of :mod:`physxai.influence` that changes a model.

    Parameters
    ----------
    model : nn.Module
    theta : Tensor, shape ``(n_parameters,)``
        Same dtype and device as the parameters.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``theta`` not a tensor.
    ValueError
        If ``theta`` has the wrong shape, dtype or device, or is not finite.
    """
    caller = "set_flat_parameters"
    _check_module(model, caller)
    params = _trainable(model)
    n_parameters = sum(p.numel() for _, p in params)
    if not isinstance(theta, Tensor):
        raise TypeError(f"{caller}: theta must be a torch.Tensor; got {type(theta).__name__}.")
    ref = params[0][1]
    if theta.shape != (n_parameters,) or theta.dtype != ref.dtype or theta.device != ref.device:
        raise ValueError(
            f"{caller}: theta must have shape ({n_parameters},), dtype {ref.dtype} and device "
            f"{ref.device}; got shape {_shape(theta)}, dtype {theta.dtype}, device {theta.device}."
        )
    check_finite(theta, caller, "theta")
    with torch.no_grad():
        start = 0
        for _, p in params:
            p.copy_(theta[start : start + p.numel()].view_as(p))
            start += p.numel()


# ---------------------------------------------------------------------------------------------
# per-sample losses, same conventions as physxai.models.fit


def _align(out: Tensor, y: Tensor) -> Tensor:
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        return out[:, 0]
    return out


def _cross_entropy(out: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(out, y, reduction="none")


def _bce(out: Tensor, y: Tensor) -> Tensor:
    b = F.binary_cross_entropy_with_logits(_align(out, y), y, reduction="none")
    return b.reshape(b.shape[0], -1).mean(dim=1)  # fit's mean over all elements, per sample


def _mse(out: Tensor, y: Tensor) -> Tensor:
    sq = (_align(out, y) - y) ** 2
    return sq.reshape(sq.shape[0], -1).mean(dim=1)  # fit's mean over all elements, per sample


_BUILTIN: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "cross_entropy": _cross_entropy,
    "bce": _bce,
    "mse": _mse,
}


def _check_targets_for_loss(
    loss: str, out: Tensor, targets: Tensor, caller: str, name: str
) -> None:
    """Validate ``targets`` against the model output ``out`` of the first samples."""
    if loss == "cross_entropy":
        if out.dim() != 2:
            raise ValueError(
                f"{caller}: loss='cross_entropy' needs logits of shape (n, n_classes); the model "
                f"returns shape {_shape(out)}. For one logit use loss='bce'."
            )
        if targets.is_floating_point():
            if targets.shape[1:] != out.shape[1:]:
                raise ValueError(
                    f"{caller}: loss='cross_entropy' needs integer classes (n,) or class "
                    f"probabilities (n, {out.shape[1]}) as {name}; got shape {_shape(targets)} "
                    f"of dtype {targets.dtype}. Try {name}.long()."
                )
        elif targets.dim() != 1:
            raise ValueError(
                f"{caller}: loss='cross_entropy' needs integer classes of shape (n,) as {name}; "
                f"got shape {_shape(targets)}."
            )
        elif int(targets.min()) < 0 or int(targets.max()) >= out.shape[1]:
            raise ValueError(
                f"{caller}: {name} hold classes outside [0, {out.shape[1]}) for logits of "
                f"{out.shape[1]} classes."
            )
        return
    if not targets.is_floating_point():
        raise ValueError(
            f"{caller}: loss={loss!r} needs float {name}; got dtype {targets.dtype}. "
            f"Try {name}.to(inputs.dtype)."
        )
    if targets.dtype != out.dtype:
        raise ValueError(
            f"{caller}: {name} must have the dtype of the model output ({out.dtype}); got "
            f"{targets.dtype}."
        )
    aligned = _align(out, targets)
    if aligned.shape[1:] != targets.shape[1:]:
        raise ValueError(
            f"{caller}: loss={loss!r} needs {name} of the model output's shape per sample; the "
            f"model returns {_shape(out)} and {name} have shape {_shape(targets)}."
        )


def _check_loss_spec(loss: Any, caller: str) -> None:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"{caller}: loss_fn must be one of {', '.join(map(repr, LOSSES))} or a callable "
                f"(outputs, targets) -> per-sample losses (n,); got {loss!r}."
            )
    elif not callable(loss):
        raise TypeError(
            f"{caller}: loss_fn must be one of {', '.join(map(repr, LOSSES))} or a callable "
            f"(outputs, targets) -> per-sample losses (n,); got {type(loss).__name__}."
        )


class Objective:
    """``J(theta) = (1/n) sum_i loss_i(theta) + l2 ||theta||^2`` of a model on a data set.

    Private workhorse of the public functions: validates once, then offers per-sample losses
    and gradients, Hessian-vector products and the exact Hessian, all chunked so that at most
    ``max_batch_size`` rows (sample x vector pairs) go through the model in one pass.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Any,
        inputs: Any,
        targets: Any,
        *,
        l2: Any,
        max_batch_size: Any,
        caller: str,
        input_name: str = "inputs",
        target_name: str = "targets",
    ) -> None:
        self.caller = caller
        self.model = _check_module(model, caller)
        _check_loss_spec(loss_fn, caller)
        self.l2 = check_positive_float(l2, caller, "l2", allow_zero=True)
        self.max_batch_size = check_positive_int(max_batch_size, caller, "max_batch_size")
        params = _trainable(model)
        self.names = [name for name, _ in params]
        self.shapes = [p.shape for _, p in params]
        self.numels = [p.numel() for _, p in params]
        self.n_parameters = sum(self.numels)
        self.theta = torch.cat([p.detach().reshape(-1) for _, p in params])
        self.dtype, self.device = self.theta.dtype, self.theta.device
        if not self.dtype.is_floating_point:
            raise ValueError(
                f"{caller}: the model's parameters must be floating point; got {self.dtype}."
            )
        self._check_mode()
        self.loss_fn = loss_fn
        self.inputs, self.targets = self.check_data(inputs, targets, input_name, target_name)
        self.n_samples = self.inputs.shape[0]

    def subset(self, index: Tensor) -> Objective:
        """The same objective on the samples in ``index`` (no re-validation)."""
        new = copy.copy(self)
        new.inputs, new.targets = self.inputs[index], self.targets[index]
        new.n_samples = new.inputs.shape[0]
        return new

    # -- validation -------------------------------------------------------------------------

    def _check_mode(self) -> None:
        if not self.model.training:
            return
        culprits = [
            f"{name} ({type(m).__name__})"
            for name, m in self.model.named_modules()
            if isinstance(m, _MODE_DEPENDENT) and m.training
        ]
        if culprits:
            raise ValueError(
                f"{self.caller}: the model is in training mode and holds {', '.join(culprits[:3])}; "
                "dropout makes the loss random and batch norm couples the samples of a batch, so "
                "its Hessian and per-sample gradients are undefined. Call model.eval() first "
                "(physxai never toggles the mode); influence analyses use the eval-mode network."
            )
        warnings.warn(
            f"{self.caller}: the model is in training mode; it holds no dropout or batch norm, so "
            "the results equal those of eval mode, but call model.eval() to be explicit.",
            UserWarning,
            stacklevel=4,
        )

    def check_data(
        self, inputs: Any, targets: Any, input_name: str, target_name: str
    ) -> tuple[Tensor, Tensor]:
        """Validate one (inputs, targets) pair against the model and the loss."""
        caller = self.caller
        inputs = check_inputs(inputs, caller, input_name)
        if not isinstance(targets, Tensor):
            raise TypeError(
                f"{caller}: {target_name} must be a torch.Tensor with the batch first; got "
                f"{type(targets).__name__}."
            )
        if targets.dim() == 0 or targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"{caller}: {input_name} and {target_name} must have the same number of samples; "
                f"got {input_name} of shape {_shape(inputs)} and {target_name} of shape "
                f"{_shape(targets)}."
            )
        check_finite(targets, caller, target_name)
        check_same_device(self.model, inputs, caller)
        if targets.device != inputs.device:
            raise ValueError(
                f"{caller}: {target_name} must be on the device of {input_name} ({inputs.device}); "
                f"got {targets.device}."
            )
        if inputs.dtype != self.dtype:
            raise ValueError(
                f"{caller}: {input_name} must have the dtype of the model's parameters "
                f"({self.dtype}); got {inputs.dtype}. Convert one of them (float64 is advised "
                "for Hessians and influence)."
            )
        with torch.no_grad():
            head = min(inputs.shape[0], 2)
            out = self.model(inputs[:head])
            if not isinstance(out, Tensor):
                raise TypeError(
                    f"{caller}: the model must return one tensor; got {type(out).__name__}."
                )
            if isinstance(self.loss_fn, str):
                _check_targets_for_loss(self.loss_fn, out, targets[:head], caller, target_name)
            else:
                value = self.loss_fn(out, targets[:head])
                if not isinstance(value, Tensor) or value.shape != (head,):
                    got = _shape(value) if isinstance(value, Tensor) else type(value).__name__
                    name = getattr(self.loss_fn, "__name__", type(self.loss_fn).__name__)
                    raise ValueError(
                        f"{caller}: a callable loss_fn must return per-sample losses of shape "
                        f"(m,) for m samples (reduction='none'); {name} returned {got} for "
                        f"m = {head}."
                    )
        return inputs, targets

    # -- the functional model ---------------------------------------------------------------

    def unflatten(self, theta: Tensor) -> dict[str, Tensor]:
        return {
            name: t.view(shape)
            for name, t, shape in zip(self.names, torch.split(theta, self.numels), self.shapes)
        }

    def losses(self, theta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Per-sample data losses ``(m,)`` (no L2 term) at ``theta``."""
        return self._losses_from(self.unflatten(theta), x, y)

    def _losses_from(self, params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        out = functional_call(self.model, params, (x,))
        if isinstance(self.loss_fn, str):
            return _BUILTIN[self.loss_fn](out, y)
        return self.loss_fn(out, y)

    def _single(self, theta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return self.losses(theta, x[None], y[None])[0]

    def chunks(self, n: int, size: int) -> Iterator[slice]:
        for start in range(0, n, size):
            yield slice(start, min(start + size, n))

    # -- values and first derivatives -------------------------------------------------------

    def sample_losses(self, theta: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Per-sample data losses of a whole data set, chunked, without graph."""
        with torch.no_grad():
            return torch.cat(
                [
                    self.losses(theta, x[s], y[s])
                    for s in self.chunks(x.shape[0], self.max_batch_size)
                ]
            )

    def sample_gradients(self, theta: Tensor, x: Tensor, y: Tensor, l2: float) -> Tensor:
        """``(m, p)`` gradients of ``loss_i + l2 ||theta||^2`` for every sample."""
        per_sample = vmap(grad(self._single), in_dims=(None, 0, 0))
        parts = [
            per_sample(theta, x[s], y[s]) for s in self.chunks(x.shape[0], self.max_batch_size)
        ]
        g = torch.cat(parts).detach()
        if l2:
            g = g + 2.0 * l2 * theta  # d/dtheta of l2 ||theta||^2
        return g

    def objective(self, theta: Tensor, weights: Tensor | None = None) -> Tensor:
        """``sum_i w_i loss_i + l2 ||theta||^2`` (``w_i = 1/n`` by default), differentiable."""
        x, y = self.inputs, self.targets
        if weights is None:
            weights = torch.full(
                (x.shape[0],), 1.0 / x.shape[0], dtype=self.dtype, device=self.device
            )
        total = sum(
            (self.losses(theta, x[s], y[s]) * weights[s]).sum()
            for s in self.chunks(x.shape[0], self.max_batch_size)
        )
        return total + self.l2 * theta.pow(2).sum()

    # -- second derivatives -----------------------------------------------------------------

    def hvp(
        self, vectors: Tensor, theta: Tensor | None = None, index: Tensor | None = None
    ) -> Tensor:
        """``(m, p)`` rows ``H v`` for rows ``v`` of ``vectors``; H of J (or of the mean over the
        samples in ``index``) at ``theta``, including ``2 l2 I``."""
        theta = self.theta if theta is None else theta
        x, y = self.inputs, self.targets
        if index is not None:
            x, y = x[index], y[index]
        n, m = x.shape[0], vectors.shape[0]
        out = torch.zeros_like(vectors)
        v_size = min(m, self.max_batch_size)
        x_size = max(1, self.max_batch_size // v_size)
        for xs in self.chunks(n, x_size):
            for vs in self.chunks(m, v_size):
                out[vs] += self._hvp_chunk(theta, x[xs], y[xs], vectors[vs])
        out /= n
        if self.l2:
            out += 2.0 * self.l2 * vectors  # Hessian of l2 ||theta||^2 is 2 l2 I
        return out

    def _hvp_chunk(self, theta: Tensor, xc: Tensor, yc: Tensor, vectors: Tensor) -> Tensor:
        """Rows ``sum_{i in chunk} (d^2 loss_i) v`` by forward-over-reverse, vmapped over v."""

        def chunk_gradient(t: Tensor) -> Tensor:
            return grad(lambda u: self.losses(u, xc, yc).sum())(t)

        def forward_over_reverse(v: Tensor) -> Tensor:
            return jvp(chunk_gradient, (theta,), (v,))[1]

        return vmap(forward_over_reverse)(vectors).detach()

    def _hessian_rows(
        self, a: int, theta: Tensor, xc: Tensor, yc: Tensor, tangents: Tensor
    ) -> Tensor:
        """Rows ``H_chunk[j, start_a:]`` for unit tangents ``j`` of parameter tensor ``a``."""
        start = sum(self.numels[:a])
        stop = start + self.numels[a]
        head, own, rest = theta[:start], theta[start:stop], theta[stop:]

        def chunk_loss(t_own: Tensor, t_rest: Tensor) -> Tensor:
            # one tensor per parameter, so only tensor a carries the tangent and the layers
            # before it run without dual numbers
            flat = [*torch.split(head, self.numels[:a]), t_own]
            flat += list(torch.split(t_rest, self.numels[a + 1 :]))
            params = {name: t.view(shape) for name, t, shape in zip(self.names, flat, self.shapes)}
            return self._losses_from(params, xc, yc).sum()

        def tail_gradient(t_own: Tensor) -> Tensor:
            g_own, g_rest = grad(chunk_loss, argnums=(0, 1))(t_own, rest)
            return torch.cat([g_own, g_rest])

        def forward_over_reverse(v: Tensor) -> Tensor:
            return jvp(tail_gradient, (own,), (v,))[1]

        return vmap(forward_over_reverse)(tangents).detach()

    def hessian(self, theta: Tensor | None = None, algorithm: str = "auto") -> Tensor:
        """The exact ``(p, p)`` Hessian of J at ``theta`` (default ``self.theta``), with ``2 l2 I``.

        ``algorithm="auto"`` takes the structured path of :mod:`._sequential` when the model is a
        piecewise-linear ``nn.Sequential`` with a named loss, else the generic path below;
        ``"sequential"`` insists on the former (ValueError naming the offending layer),
        ``"generic"`` on the latter. Both give the same matrix up to rounding.
        """
        check_choice(algorithm, ALGORITHMS, self.caller, "algorithm")
        theta = self.theta if theta is None else theta
        if algorithm != "generic":
            # imported here: _sequential builds on this module
            from ._sequential import plan_sequential, sequential_hessian

            plan = plan_sequential(self)
            if not isinstance(plan, str):
                return sequential_hessian(self, theta, plan)
            if algorithm == "sequential":
                raise ValueError(
                    f"{self.caller}: algorithm='sequential' needs an nn.Sequential of Linear, "
                    "Conv, ReLU/LeakyReLU, pooling, Flatten and Dropout layers with loss_fn "
                    f"'cross_entropy', 'bce' or 'mse'; {plan}. Use algorithm='auto' (which falls "
                    "back to the generic path) or 'generic'."
                )
        return self._generic_hessian(theta)

    def _generic_hessian(self, theta: Tensor) -> Tensor:
        """The exact Hessian by the generic path, for any model.

        Block-triangular forward-over-reverse: for the unit tangents of one parameter tensor
        ``a`` only the gradient with respect to ``a`` and the tensors registered after it is
        taken, which gives the rows ``H[a, a:]``; symmetry fills the rest. When the registration
        order is the order of computation (as in every ``nn.Sequential``), the forward pass of a
        tangent starts at its own layer and its backward pass stops there, so the cost falls from
        p full HVPs to about half of that or less; any order gives the same, exact matrix.
        """
        p = self.n_parameters
        x, y, n = self.inputs, self.targets, self.n_samples
        h = torch.zeros(p, p, dtype=self.dtype, device=self.device)
        offsets = [0]
        for k in self.numels:
            offsets.append(offsets[-1] + k)
        for a, size in enumerate(self.numels):
            start = offsets[a]
            eye = torch.eye(size, dtype=self.dtype, device=self.device)
            v_size = min(size, self.max_batch_size)
            x_size = max(1, self.max_batch_size // v_size)
            for xs in self.chunks(n, x_size):
                for vs in self.chunks(size, v_size):
                    rows = self._hessian_rows(a, theta, x[xs], y[xs], eye[vs])
                    h[start + vs.start : start + vs.stop, start:] += rows
        upper = torch.triu(h)
        h = (upper + upper.T - torch.diag(torch.diagonal(h))) / n
        if self.l2:
            h.diagonal().add_(2.0 * self.l2)  # Hessian of l2 ||theta||^2 is 2 l2 I
        return h
