"""Objectives: what a feature visualisation maximises, named by a small spec.

An objective maps a batch of inputs to one number per row, ``(n,)``. It is built from the model's
output or from the activation of an inner layer, named as ``model.named_modules()`` spells it:

- :meth:`Objective.logit` -- the unnormalised score S_c(x) of class c (Simonyan et al. 2013);
- :meth:`Objective.log_probability` -- log p(omega_c | x), the log-softmax (Montavon et al. 2018,
  Sec. 3.1). It can be raised by *suppressing the other classes*, not only by raising class c;
  say which of the two you maximise when you report a prototype;
- :meth:`Objective.output` -- a column of the output (a latent unit, a predicted temperature);
- :meth:`Objective.neuron` -- one unit of a layer;
- :meth:`Objective.channel` -- one channel of a layer, summed over all positions;
- :meth:`Objective.layer_norm` -- the squared L2 norm of a layer (the DeepDream objective);
- :meth:`Objective.custom` (or any callable ``(model, x) -> (n,)``).

Objectives add and scale (``Objective.logit(3) - 0.5 * Objective.logit(5)``). Per-row targets
(a ``LongTensor`` of classes) let one batch maximise a different class in every row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ._capture import layer_capture, resolve_layers, single_output

__all__ = ["Objective", "as_objective", "evaluate_objective"]

_Index = int | Tensor


def _index_label(index: Any) -> str:
    if isinstance(index, Tensor):
        return f"LongTensor of shape {tuple(index.shape)}"
    return repr(index)


class Objective:
    """A differentiable read-out ``(model, x) -> (n,)`` built from the output or a layer.

    Build one with the class methods; do not call the constructor directly. ``layers`` lists the
    inner layers it reads, ``description`` says in words what it is (recorded in results).
    """

    def __init__(
        self,
        fn: Callable[[Tensor, dict[str, Tensor], Tensor], Tensor],
        layers: Sequence[str],
        description: str,
        needs_output: bool = True,
        custom: Callable[[Any, Tensor], Tensor] | None = None,
    ):
        self._fn = fn
        self.layers = tuple(dict.fromkeys(layers))
        self.description = description
        self.needs_output = needs_output
        self._custom = custom

    def __repr__(self) -> str:
        return f"Objective({self.description})"

    # -- combinators --------------------------------------------------------------------------
    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return _combine(self, other, 1.0, f"{self.description} + {other.description}")

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return _combine(self, other, -1.0, f"{self.description} - ({other.description})")

    def __mul__(self, scale: float) -> Objective:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            return NotImplemented
        fn = self._fn
        return Objective(
            lambda out, acts, idx: float(scale) * fn(out, acts, idx),
            self.layers,
            f"{float(scale)!r} * ({self.description})",
            self.needs_output,
            None if self._custom is None else (lambda m, x: float(scale) * self._custom(m, x)),
        )

    __rmul__ = __mul__

    def __neg__(self) -> Objective:
        return self * -1.0

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def output(cls, index: _Index | None = None) -> Objective:
        """The model output: ``(n,)`` or ``(n, 1)`` as is (``index=None``), or column ``index``.

        ``index`` is an int or a ``LongTensor (m,)`` with one column per row of the batch.
        """
        _check_index(index, "Objective.output", "index", allow_none=True)
        desc = "output" if index is None else f"output[:, {_index_label(index)}]"
        return cls(lambda out, acts, idx: _select(out, index, idx, desc), (), desc)

    @classmethod
    def logit(cls, target: _Index) -> Objective:
        """The unnormalised class score S_c(x): column ``target`` of a 2-d output (logits)."""
        _check_index(target, "Objective.logit", "target")
        desc = f"logit of class {_index_label(target)}"
        return cls(lambda out, acts, idx: _select(_two_d(out, desc), target, idx, desc), (), desc)

    @classmethod
    def log_probability(cls, target: _Index) -> Objective:
        """log p(omega_c | x) = S_c - logsumexp_k S_k, the log-softmax of a 2-d output.

        This rises when the other classes' scores fall, not only when S_c rises (PAPERS.md, Sec.
        12, risks): report which objective was used.
        """
        _check_index(target, "Objective.log_probability", "target")
        desc = f"log-probability of class {_index_label(target)}"

        def fn(out: Tensor, acts: dict[str, Tensor], idx: Tensor) -> Tensor:
            return _select(torch.log_softmax(_two_d(out, desc), dim=1), target, idx, desc)

        return cls(fn, (), desc)

    @classmethod
    def neuron(cls, layer: str, index: int | Sequence[int]) -> Objective:
        """One unit of ``layer``: ``a[:, index]`` for ``(n, d)``, ``a[:, k, i, j]`` for a tuple.

        An int indexes the flattened activation of one sample, a tuple indexes its dimensions.
        """
        if isinstance(index, bool) or not (
            isinstance(index, int)
            or (isinstance(index, (tuple, list)) and all(isinstance(i, int) for i in index))
        ):
            raise TypeError(
                f"Objective.neuron: index must be an int or a tuple of ints; got "
                f"{type(index).__name__}."
            )
        layer = _check_layer_name(layer, "Objective.neuron")
        key = tuple(index) if isinstance(index, (tuple, list)) else int(index)
        desc = f"neuron {key} of layer {layer!r}"

        def fn(out: Tensor, acts: dict[str, Tensor], idx: Tensor) -> Tensor:
            a = acts[layer]
            per_sample = tuple(a.shape[1:])
            if isinstance(key, int):
                flat = a.reshape(a.shape[0], -1)
                if not -flat.shape[1] <= key < flat.shape[1]:
                    raise ValueError(
                        f"Objective.neuron: index {key} is outside layer {layer!r}, which has "
                        f"{flat.shape[1]} units per sample (shape {per_sample})."
                    )
                return flat[:, key]
            if len(key) != len(per_sample) or any(not -s <= k < s for k, s in zip(key, per_sample)):
                raise ValueError(
                    f"Objective.neuron: index {key} does not fit layer {layer!r}, whose "
                    f"activation has per-sample shape {per_sample}."
                )
            return a[(slice(None), *key)]

        return cls(fn, (layer,), desc, needs_output=False)

    @classmethod
    def channel(cls, layer: str, index: int) -> Objective:
        """Channel ``index`` of ``layer`` (output ``(n, C, *spatial)``), summed over positions."""
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"Objective.channel: index must be an int; got {type(index).__name__}.")
        layer = _check_layer_name(layer, "Objective.channel")
        desc = f"channel {index} of layer {layer!r}, summed over positions"

        def fn(out: Tensor, acts: dict[str, Tensor], idx: Tensor) -> Tensor:
            a = acts[layer]
            if a.dim() < 2 or not -a.shape[1] <= index < a.shape[1]:
                raise ValueError(
                    f"Objective.channel: channel {index} does not exist in layer {layer!r}, "
                    f"whose output has shape {tuple(a.shape)} (channels on dim 1)."
                )
            return a[:, index].reshape(a.shape[0], -1).sum(dim=1)

        return cls(fn, (layer,), desc, needs_output=False)

    @classmethod
    def layer_norm(cls, layer: str) -> Objective:
        """The squared L2 norm of ``layer``'s activation per sample, ``sum a^2`` (DeepDream)."""
        layer = _check_layer_name(layer, "Objective.layer_norm")
        desc = f"squared L2 norm of layer {layer!r}"

        def fn(out: Tensor, acts: dict[str, Tensor], idx: Tensor) -> Tensor:
            a = acts[layer]
            return a.reshape(a.shape[0], -1).pow(2).sum(dim=1)

        return cls(fn, (layer,), desc, needs_output=False)

    @classmethod
    def custom(cls, fn: Callable[[Any, Tensor], Tensor], description: str = "custom") -> Objective:
        """Any callable ``(model, x) -> (n,)``; it runs the model itself."""
        if not callable(fn):
            raise TypeError(f"Objective.custom: fn must be callable; got {type(fn).__name__}.")
        return cls(lambda out, acts, idx: out, (), description, needs_output=False, custom=fn)


def _combine(a: Objective, b: Objective, sign: float, desc: str) -> Objective:
    if a._custom is not None or b._custom is not None:
        ca = a._custom or (lambda m, x: evaluate_objective(m, x, a, "Objective"))
        cb = b._custom or (lambda m, x: evaluate_objective(m, x, b, "Objective"))
        return Objective.custom(lambda m, x: ca(m, x) + sign * cb(m, x), desc)
    fa, fb = a._fn, b._fn
    return Objective(
        lambda out, acts, idx: fa(out, acts, idx) + sign * fb(out, acts, idx),
        a.layers + b.layers,
        desc,
        a.needs_output or b.needs_output,
    )


def _check_layer_name(layer: Any, caller: str) -> str:
    if not isinstance(layer, str) or not layer:
        raise TypeError(
            f"{caller}: layer must be a non-empty qualified module name (str), as "
            f"model.named_modules() spells it; got {type(layer).__name__}."
        )
    return layer


def _check_index(index: Any, caller: str, name: str, allow_none: bool = False) -> None:
    if index is None and allow_none:
        return
    if isinstance(index, bool):
        raise TypeError(f"{caller}: {name} must be an int or a LongTensor; got bool.")
    if isinstance(index, int):
        return
    if isinstance(index, Tensor) and index.dtype == torch.int64 and index.dim() == 1:
        return
    got = (
        f"a tensor of dtype {index.dtype} and shape {tuple(index.shape)}"
        if isinstance(index, Tensor)
        else type(index).__name__
    )
    raise TypeError(f"{caller}: {name} must be an int or a LongTensor of shape (m,); got {got}.")


def _two_d(out: Tensor, desc: str) -> Tensor:
    if out.dim() != 2:
        raise ValueError(
            f"Objective: the {desc} needs a 2-d model output (n, n_classes); got shape "
            f"{tuple(out.shape)}. Use Objective.output() for other outputs."
        )
    return out


def _select(out: Tensor, index: Any, row_index: Tensor, desc: str) -> Tensor:
    """Column ``index`` of ``out``; a LongTensor index gives row r the column index[row_index[r]]."""
    if index is None:
        if out.dim() == 1:
            return out
        if out.dim() == 2 and out.shape[1] == 1:
            return out[:, 0]
        raise ValueError(
            f"Objective: {desc} needs a model output of shape (n,) or (n, 1); got shape "
            f"{tuple(out.shape)}. Pick a column with Objective.output(index)."
        )
    if out.dim() != 2:
        raise ValueError(
            f"Objective: {desc} selects a column of a 2-d output; got shape {tuple(out.shape)}."
        )
    n_out = out.shape[1]
    if isinstance(index, int):
        if not -n_out <= index < n_out:
            raise ValueError(f"Objective: {desc} is outside the model output's {n_out} columns.")
        return out[:, index]
    if int(row_index.max()) >= index.shape[0]:
        raise ValueError(
            f"Objective: {desc} gives one column per start; the batch has "
            f"{int(row_index.max()) + 1} starts but the target has {index.shape[0]} entries."
        )
    cols = index.to(out.device)[row_index.to(out.device)]
    if int(cols.max()) >= n_out or int(cols.min()) < -n_out:
        raise ValueError(f"Objective: {desc} holds columns outside the output's {n_out}.")
    return out.gather(1, cols[:, None])[:, 0]


def as_objective(objective: Any, caller: str) -> Objective:
    """An :class:`Objective`, or a plain callable ``(model, x) -> (n,)`` wrapped as one."""
    if isinstance(objective, Objective):
        return objective
    if callable(objective) and not isinstance(objective, nn.Module):
        return Objective.custom(objective, getattr(objective, "__name__", "custom"))
    raise TypeError(
        f"{caller}: objective must be an Objective (Objective.logit(c), .log_probability(c), "
        f".neuron(layer, j), .channel(layer, k), .layer_norm(layer)) or a callable "
        f"(model, x) -> (n,); got {type(objective).__name__}."
    )


def check_objective_layers(model: Any, objective: Objective, caller: str) -> dict[str, nn.Module]:
    """Resolve the objective's layers once, before any optimisation starts."""
    return resolve_layers(
        model, list(objective.layers), caller, where=f"the objective ({objective.description})"
    )


def evaluate_objective(
    model: Any,
    x: Tensor,
    objective: Objective,
    caller: str,
    row_index: Tensor | None = None,
    modules: dict[str, nn.Module] | None = None,
) -> Tensor:
    """Run the model on ``x`` and return the objective ``(n,)``, differentiable in ``x``."""
    n = x.shape[0]
    if row_index is None:
        row_index = torch.arange(n, device=x.device)
    if objective._custom is not None:
        value = objective._custom(model, x)
    else:
        if modules is None:
            modules = check_objective_layers(model, objective, caller)
        with layer_capture(modules, caller) as captured:
            out = model(x)
        acts = single_output(captured, caller)
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{caller}: the model must return one tensor; got {type(out).__name__}."
            )
        value = objective._fn(out, acts, row_index)
    if not isinstance(value, Tensor) or value.shape != (n,):
        got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(
            f"{caller}: the objective ({objective.description}) must give one value per row, "
            f"shape ({n},); got {got}."
        )
    return value
