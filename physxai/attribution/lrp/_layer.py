"""A layer as the LRP rules see it: a map x -> z that can be re-run with modified weights.

Rules never touch the caller's module: they re-evaluate the layer functionally with weights they
derive from the layer's own (``W+``, ``W + gamma W+``, ``W**2``, ones) through
:meth:`Layer.forward`.
A canonizer can hand a rule a layer whose weights differ from the module's (a Linear or Conv with
the following BatchNorm folded in) without ever writing those weights into the model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["AFFINE_TYPES", "CONV_TYPES", "POOL_TYPES", "Layer", "display_path"]

CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
#: layers with a weight (and optional bias) that the rules modify
AFFINE_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, *CONV_TYPES)
#: parameter-free linear layers with non-negative implicit weights (sum pooling)
POOL_TYPES: tuple[type[nn.Module], ...] = (
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
)

WeightFn = Callable[[Tensor], Tensor]


def display_path(name: str, module: nn.Module) -> str:
    """``features.3 (LayerNorm)``; the root module shows as ``<model> (Linear)``."""
    return f"{name or '<model>'} ({type(module).__name__})"


class Layer:
    """One layer seen by a rule: ``z = forward(x)``, re-runnable with modified weights.

    ``kind`` is ``"affine"`` (Linear, Conv: explicit ``weight``/``bias``), ``"pool"`` (average
    pooling: implicit non-negative weights, uniform within each window) or ``"module"`` (any other
    module, evaluated as it is; only rules that need no weights apply to it).
    """

    __slots__ = ("bias", "kind", "module", "path", "weight")

    def __init__(
        self,
        module: nn.Module,
        path: str,
        weight: Tensor | None = None,
        bias: Tensor | None = None,
    ):
        self.module = module
        self.path = path
        if isinstance(module, AFFINE_TYPES):
            self.kind = "affine"
            if weight is None:
                weight = module.weight.detach()
                bias = None if module.bias is None else module.bias.detach()
        elif isinstance(module, POOL_TYPES):
            self.kind = "pool"
        else:
            self.kind = "module"
        self.weight = weight
        self.bias = bias

    def forward(
        self,
        x: Tensor,
        weight_fn: WeightFn | None = None,
        bias_fn: WeightFn | None = None,
        *,
        use_bias: bool = True,
    ) -> Tensor | None:
        """The layer's output at ``x`` with ``weight_fn(W)`` and ``bias_fn(b)`` (identity if None).

        Returns None when the modified layer is the zero map (the negative part of a pooling
        layer), so that rules can skip that term.
        """
        if self.kind == "affine":
            w = self.weight if weight_fn is None else weight_fn(self.weight)
            b = None
            if use_bias and self.bias is not None:
                b = self.bias if bias_fn is None else bias_fn(self.bias)
            if isinstance(self.module, nn.Linear):
                return F.linear(x, w, b)
            return self.module._conv_forward(x, w, b)  # handles padding_mode (circular lattices)
        if getattr(self.module, "inplace", False):
            x = x.clone()  # an in-place module must not write into the rule's leaf tensor
        out = self.module.forward(x)  # .forward, not __call__: no hooks fire on re-evaluation
        if self.kind == "pool" and weight_fn is not None:
            # Pooling weights are one positive constant per window, so any weight modification
            # scales each window uniformly; the rules normalise per output, so only the factor
            # the modification gives to a positive weight matters (0 for the negative part).
            scale = float(weight_fn(torch.ones((), dtype=x.dtype)))
            if scale == 0.0:
                return None
            if scale != 1.0:
                out = out * scale
        return out
