"""Shared pieces of the evaluation metrics: explainers, region rankings, checks and accuracy.

An *explainer* is what a metric calls to get a map for a model that it built or changed itself
(a randomised copy, a retrained model, a perturbed input): either a method name of the attribution
core (``"saliency"``, ``"lrp"``, ...) with ``method_options``, or a callable
``explain(model, inputs, target=target) -> Tensor`` shaped like ``inputs``. Rankings of regions
break ties at random with an explicit generator: zero pixels of a digit all carry zero relevance,
and ordering them by their index would smuggle the image layout into the metric (Samek et al.
2017; Hooker et al. 2019).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import _shape, check_finite
from ..attribution import METHODS, attribute
from ..attribution._coalitions import FeatureGroups, check_feature_mask

__all__ = [
    "Explainer",
    "FeatureGroups",
    "accuracy",
    "check_attributions",
    "check_dict",
    "check_feature_mask",
    "check_fraction",
    "group_relevance",
    "make_explainer",
    "rank_regions",
    "warn_training",
]

#: explain(model, inputs, target) -> Tensor shaped like inputs
Explainer = Callable[[Callable[[Tensor], Tensor], Tensor, Any], Tensor]


def check_dict(value: Any, caller: str, name: str) -> dict[str, Any]:
    """``None`` or a mapping with string keys, returned as a new dict."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(
            f"{caller}: {name} must be a dict of keyword options or None; got {type(value).__name__}."
        )
    return dict(value)


def make_explainer(method: Any, method_options: Any, caller: str) -> Explainer:
    """Normalise a method name (+ options) or a callable into ``explain(model, inputs, target)``."""
    options = check_dict(method_options, caller, "method_options")
    if "target" in options:
        raise ValueError(
            f"{caller}: method_options must not hold 'target'; the metric chooses the target "
            f"(pass target=... to {caller.split('.')[0]} itself)."
        )
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(
                f"{caller}: method must be one of {', '.join(sorted(METHODS))} or a callable "
                f"explain(model, inputs, target=...) -> Tensor; got {method!r}."
            )

        def explain(model: Callable[[Tensor], Tensor], inputs: Tensor, target: Any) -> Tensor:
            return attribute(model, inputs, method, target=target, **options)

        return explain
    if callable(method) and not isinstance(method, nn.Module):
        if options:
            raise ValueError(
                f"{caller}: method_options apply to a method name only; a callable method takes "
                "its own options (use functools.partial)."
            )

        def explain_callable(model: Callable[[Tensor], Tensor], inputs: Tensor, target: Any) -> Tensor:
            result = method(model, inputs, target=target)
            if not isinstance(result, Tensor) or result.shape != inputs.shape:
                got = _shape(result) if isinstance(result, Tensor) else type(result).__name__
                raise ValueError(
                    f"{caller}: the callable method must return a tensor shaped like its inputs "
                    f"{_shape(inputs)}; got {got}."
                )
            return result

        return explain_callable
    raise TypeError(
        f"{caller}: method must be a method name (str) or a callable "
        f"explain(model, inputs, target=...) -> Tensor; got {type(method).__name__}."
    )


def check_attributions(attributions: Any, inputs: Tensor, caller: str, name: str = "attributions") -> Tensor:
    """A finite floating tensor with the shape and device of ``inputs``."""
    if not isinstance(attributions, Tensor):
        raise TypeError(
            f"{caller}: {name} must be a torch.Tensor shaped like the inputs; got "
            f"{type(attributions).__name__}."
        )
    if not attributions.is_floating_point():
        raise ValueError(f"{caller}: {name} must be floating point; got dtype {attributions.dtype}.")
    if attributions.shape != inputs.shape:
        raise ValueError(
            f"{caller}: {name} must have the shape of the inputs {_shape(inputs)}; got shape "
            f"{_shape(attributions)}."
        )
    if attributions.device != inputs.device:
        raise ValueError(
            f"{caller}: {name} must be on the device of the inputs ({inputs.device}); got "
            f"{attributions.device}."
        )
    check_finite(attributions, caller, name)
    return attributions.detach()


def check_fraction(value: Any, caller: str, name: str, *, open_low: bool = True) -> float:
    """A number in (0, 1] (or [0, 1] with ``open_low=False``)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (0.0 < value <= 1.0 if open_low else 0.0 <= value <= 1.0)
    if not ok:
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{caller}: {name} must be a number in {interval}; got {value!r}.")
    return float(value)


def group_relevance(attributions: Tensor, groups: FeatureGroups) -> Tensor:
    """Relevance summed over each region: ``(n, *F) -> (n, d)``."""
    flat = attributions.reshape(attributions.shape[0], -1)
    if groups.identity:
        return flat
    out = torch.zeros(flat.shape[0], groups.n_groups, dtype=flat.dtype, device=flat.device)
    return out.index_add_(1, groups.index, flat)


def rank_regions(scores: Tensor, descending: bool, generator: torch.Generator | None) -> Tensor:
    """Order of the regions, ``(n, d)``: ``order[i, k]`` is the region of sample ``i`` at rank ``k``.

    A uniformly random permutation is applied first and a stable sort second, so regions with
    equal scores come out in uniformly random order (for all-equal scores: a random ordering).
    """
    n, d = scores.shape
    noise = torch.rand(n, d, generator=generator, device=scores.device)
    perm = torch.argsort(noise, dim=1)
    shuffled = scores.gather(1, perm)
    idx = torch.sort(shuffled, dim=1, descending=descending, stable=True).indices
    return perm.gather(1, idx)


def accuracy(outputs: Tensor, targets: Tensor) -> float:
    """Share of correct predictions: argmax of ``(n, C)`` logits, or a single logit thresholded at 0."""
    if outputs.dim() == 2 and outputs.shape[1] > 1:
        predicted = outputs.argmax(dim=1)
    else:
        predicted = (outputs.reshape(-1) > 0).long()
    return float((predicted == targets.reshape(-1).to(predicted.device).long()).double().mean())


def warn_training(model: Any, caller: str) -> None:
    """Warn (never toggle) when a module is in training mode."""
    if isinstance(model, nn.Module) and model.training:
        warnings.warn(
            f"{caller}: the model is in training mode, so dropout and batch statistics change "
            "its outputs; call model.eval() first (physxai does not toggle it for you).",
            UserWarning,
            stacklevel=3,
        )
