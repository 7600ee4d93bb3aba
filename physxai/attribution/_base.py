"""The shared machinery of every attribution method.

An attribution method is a class: the constructor takes the model and keyword-only
hyperparameters (stored unchanged under their own names), and ``attribute(inputs, *, target=...,
...)`` takes the data and returns ONE tensor shaped like ``inputs``. This module holds the base
class, the batched gradient of a target with respect to the inputs, and the chunking helper that
bounds the memory of every method that expands the batch (IG steps, SmoothGrad samples,
occlusion windows) by ``max_batch_size`` rows per model call.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn

from .._validation import (
    TargetFn,
    check_inputs,
    check_model,
    check_positive_int,
    check_same_device,
    check_target,
    warn_if_training,
)

__all__ = ["Attribution", "DEFAULT_MAX_BATCH_SIZE", "chunks", "batched_gradient"]

#: Default number of rows per model call for methods that expand the batch. Large enough that a
#: small model on a CPU is not dominated by Python overhead, small enough that 256 lattices of
#: 32 x 32 with 50 IG steps stay well under 1 GB.
DEFAULT_MAX_BATCH_SIZE = 1024


def chunks(n_rows: int, max_batch_size: int) -> Iterator[slice]:
    """Slices of ``range(n_rows)`` of at most ``max_batch_size`` rows."""
    for start in range(0, n_rows, max_batch_size):
        yield slice(start, min(start + max_batch_size, n_rows))


def batched_gradient(
    model: Callable[[Tensor], Tensor],
    rows: Tensor,
    sample_index: Tensor,
    target: TargetFn,
    max_batch_size: int | None = None,
) -> Tensor:
    """Gradient of the selected output of every row with respect to that row.

    Parameters
    ----------
    rows : Tensor, shape ``(m, *F)``
        Model inputs, possibly an expanded batch (IG steps x samples).
    sample_index : LongTensor, shape ``(m,)``
        The original sample each row belongs to (for per-sample targets).
    max_batch_size : int or None
        At most this many rows per forward/backward pass; None means all at once.

    Rows do not interact in an eval-mode model, so the gradient of the sum of the selected
    outputs is each row's own gradient. Parameter ``.grad`` fields are never touched:
    ``torch.autograd.grad`` differentiates with respect to the input only.
    """
    m = rows.shape[0]
    step = m if max_batch_size is None else max_batch_size
    if step >= m:
        return _gradient(model, rows, sample_index, target)
    out = torch.empty_like(rows)
    for sl in chunks(m, step):
        out[sl] = _gradient(model, rows[sl], sample_index[sl], target)
    return out


def _gradient(model: Callable, rows: Tensor, sample_index: Tensor, target: TargetFn) -> Tensor:
    with torch.enable_grad():
        x = rows.detach().requires_grad_(True)
        selected = target(model(x), sample_index)
        (grad,) = torch.autograd.grad(selected.sum(), x, allow_unused=True)
    if grad is None:  # the selected output does not depend on the input at all
        grad = torch.zeros_like(rows)
    return grad.detach()


@torch.no_grad()
def evaluate(
    model: Callable, rows: Tensor, sample_index: Tensor, target: TargetFn, max_batch_size: int
) -> Tensor:
    """The selected output of every row, ``(m,)``, in chunks of ``max_batch_size`` rows."""
    parts = [target(model(rows[sl]), sample_index[sl]) for sl in chunks(rows.shape[0], max_batch_size)]
    return torch.cat(parts)


class Attribution:
    """Base class of attribution methods.

    Subclasses define ``attribute(self, inputs, *, target=None, ...)`` and call
    :meth:`_prepare` first. Constructor hyperparameters are stored under their own names.
    """

    #: registry name, set by each subclass (``"integrated_gradients"``)
    name: str = ""

    def __init__(self, model: Callable[[Tensor], Tensor]):
        self.model = check_model(model, type(self).__name__)

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------------------------
    @property
    def _caller(self) -> str:
        return f"{type(self).__name__}.attribute"

    def _prepare(self, inputs: Tensor, target: Any) -> tuple[Tensor, TargetFn]:
        """Validate inputs and target at the boundary; warn on a model in training mode."""
        caller = self._caller
        x = check_inputs(inputs, caller)
        check_same_device(self.model, x, caller)
        warn_if_training(self.model, caller)
        return x.detach(), check_target(target, x.shape[0], caller)

    def _check_max_batch_size(self, max_batch_size: Any) -> int:
        return check_positive_int(max_batch_size, type(self).__name__, "max_batch_size")

    @staticmethod
    def _index(n: int, device: torch.device) -> Tensor:
        return torch.arange(n, device=device)

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        parts = []
        for name in list(params)[2:]:
            if hasattr(self, name):
                value = getattr(self, name)
                parts.append(f"{name}={value!r}" if not isinstance(value, nn.Module) else f"{name}=...")
        return f"{type(self).__name__}({', '.join(parts)})"


@contextmanager
def no_param_grad(model: Any) -> Iterator[None]:
    """Context in which the model's parameters do not require grad (restored afterwards).

    Saves the memory and time of building graph nodes for parameter gradients that are never
    used. The flags are restored in ``finally`` so the caller's model is unchanged.
    """
    if not isinstance(model, nn.Module):
        yield
        return
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
