"""Diagnostics of an attribution: how far it is from the axiom it should satisfy.

``completeness_delta`` measures sum(R) - (f(x) - f(baseline)) per sample (integrated gradients,
DeepLIFT, Shapley values); ``conservation_delta`` measures sum(R) - f(x) (LRP, deep Taylor). They
are separate functions rather than a return flag so that every method returns one tensor.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from .._validation import check_baseline, check_inputs, check_same_device, check_target

__all__ = ["completeness_delta", "conservation_delta"]


@torch.no_grad()
def _selected_output(model: Callable, inputs: Tensor, target: Any, caller: str = "completeness_delta") -> Tensor:
    tgt = check_target(target, inputs.shape[0], caller)
    return tgt(model(inputs), torch.arange(inputs.shape[0], device=inputs.device))


def _check_attr(inputs: Tensor, attributions: Tensor, caller: str) -> None:
    if not isinstance(attributions, Tensor) or attributions.shape != inputs.shape:
        got = tuple(attributions.shape) if isinstance(attributions, Tensor) else type(attributions).__name__
        raise ValueError(
            f"{caller}: attributions must have the shape of inputs {tuple(inputs.shape)}; got {got}."
        )


def completeness_delta(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    attributions: Tensor,
    *,
    target: Any = None,
    baseline: float | Tensor | None = 0.0,
) -> Tensor:
    """Per-sample gap ``sum_i R_i - (f(x) - f(baseline))``, shape ``(n,)``.

    Zero for a complete attribution (integrated gradients in the limit of many steps, DeepLIFT,
    exact Shapley values with the same baseline).

    Examples
    --------
    >>> import torch; from physxai.attribution import IntegratedGradients, completeness_delta
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x = torch.randn(4, 3, dtype=torch.float64)
    >>> R = IntegratedGradients(model).attribute(x, baseline=0.0)
    >>> bool(completeness_delta(model, x, R, baseline=0.0).abs().max() < 1e-12)
    True
    """
    caller = "completeness_delta"
    x = check_inputs(inputs, caller)
    _check_attr(x, attributions, caller)
    check_same_device(model, x, caller)
    base = check_baseline(baseline, x, caller)
    fx = _selected_output(model, x, target, caller)
    fb = _selected_output(model, base.contiguous(), target, caller)
    return attributions.flatten(1).sum(1) - (fx - fb)


def conservation_delta(
    model: Callable[[Tensor], Tensor], inputs: Tensor, attributions: Tensor, *, target: Any = None
) -> Tensor:
    """Per-sample gap ``sum_i R_i - f(x)``, shape ``(n,)``: zero when relevance is conserved (LRP)."""
    caller = "conservation_delta"
    x = check_inputs(inputs, caller)
    _check_attr(x, attributions, caller)
    check_same_device(model, x, caller)
    return attributions.flatten(1).sum(1) - _selected_output(model, x, target, caller)
