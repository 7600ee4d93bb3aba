"""Class sensitivity and localisation: qualitative checks made into numbers.

Two of the evaluation criteria in the lecture on attribution methods (seed 002, "Evaluation for
Attribution Methods") are qualitative:

- **Class sensitivity**: attributions should be sensitive to class labels. For each sample we
  explain the top-1 and the top-2 class of the model and take the Spearman rank correlation of the
  two maps. A method whose maps hardly depend on the target (e.g. one that reconstructs the
  input, as guided backpropagation tends to in deep nets; Nie et al. 2018) gives correlations
  near 1; the method is *flagged* when the median correlation over the samples exceeds
  ``threshold`` (default 0.9, our choice: two classes that share most evidence still reorder the
  features by more than that in our tests).
- **Coherence / localisation**: attributions should fall on the discriminative features. Given a
  boolean region per sample where the evidence is known to be (a planted patch, the sites a
  physics observable depends on), we report the share of the positive relevance, and of the
  absolute relevance, that falls inside it, next to the chance level: the region's share of the
  input's elements. A model that reads only the region, explained by gradient x input, gives
  share 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._validation import _shape, check_inputs, check_same_device
from ._common import make_explainer, warn_training
from ._similarity import spearman_correlation

__all__ = ["ClassSensitivityResult", "LocalizationResult", "class_sensitivity", "localization"]


@dataclass(frozen=True)
class ClassSensitivityResult:
    """Rank correlation of the maps for the top-1 and top-2 classes.

    Attributes
    ----------
    correlation : Tensor, shape ``(n,)``
        Per sample (NaN where a map is constant).
    median : float
        NaN-ignoring median of ``correlation``.
    flagged : bool
        ``median > threshold``: the maps ignore the target.
    classes : LongTensor, shape ``(n, 2)``
        The top-1 and top-2 class of each sample.
    threshold : float
    attributions : Tensor, shape ``(2, n, *F)``
        The maps for the top-1 and the top-2 class.
    """

    correlation: Tensor
    median: float
    flagged: bool
    classes: Tensor
    threshold: float
    attributions: Tensor


def class_sensitivity(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    method: Any,
    *,
    method_options: dict[str, Any] | None = None,
    threshold: float = 0.9,
    absolute: bool = False,
) -> ClassSensitivityResult:
    """Do a method's maps change with the explained class?

    Parameters
    ----------
    model : nn.Module or callable
        Returns ``(n, C)`` scores with ``C >= 2``.
    inputs : Tensor, shape ``(n, *F)``
    method : str or callable
        A name of :data:`physxai.attribution.METHODS` or ``explain(model, inputs, target=...)``.
    method_options : dict, optional
        Options of a named method.
    threshold : float in [-1, 1], default 0.9
        The method is flagged when the median rank correlation exceeds it.
    absolute : bool, default False
        Rank ``|R|`` instead of ``R``.

    Returns
    -------
    ClassSensitivityResult

    Raises
    ------
    TypeError, ValueError
        For bad inputs, method or threshold, or a model whose output is not ``(n, C >= 2)``.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> model = lambda x: x @ w.T
    >>> class_sensitivity(model, torch.rand(8, 3), "saliency").flagged
    False
    """
    caller = "class_sensitivity"
    x = check_inputs(inputs, caller).detach()
    if not callable(model):
        raise TypeError(f"{caller}: model must be an nn.Module or a callable; got {type(model).__name__}.")
    check_same_device(model, x, caller)
    explain = make_explainer(method, method_options, caller)
    ok = isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and -1.0 <= threshold <= 1.0
    if not ok:
        raise ValueError(f"{caller}: threshold must be a number in [-1, 1]; got {threshold!r}.")
    if not isinstance(absolute, bool):
        raise TypeError(f"{caller}: absolute must be a bool; got {type(absolute).__name__}.")
    warn_training(model, caller)
    with torch.no_grad():
        scores = model(x)
    if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[1] < 2:
        got = _shape(scores) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"{caller}: the model must return class scores (n, C) with C >= 2; got {got}.")
    classes = scores.topk(2, dim=1).indices
    first = explain(model, x, classes[:, 0].contiguous()).detach()
    second = explain(model, x, classes[:, 1].contiguous()).detach()
    correlation = spearman_correlation(first, second, absolute=absolute)
    median = float(torch.nanmedian(correlation))
    return ClassSensitivityResult(
        correlation=correlation,
        median=median,
        flagged=bool(median > threshold),
        classes=classes,
        threshold=float(threshold),
        attributions=torch.stack([first, second]),
    )


@dataclass(frozen=True)
class LocalizationResult:
    """Share of relevance inside a known region, per sample.

    Attributes
    ----------
    positive_share : Tensor, shape ``(n,)``
        ``sum_{region} max(R, 0) / sum max(R, 0)``; NaN where no relevance is positive.
    absolute_share : Tensor, shape ``(n,)``
        ``sum_{region} |R| / sum |R|``; NaN for an all-zero map.
    chance : Tensor, shape ``(n,)``
        The region's share of the elements: the expected share of a map unrelated to it.
    """

    positive_share: Tensor
    absolute_share: Tensor
    chance: Tensor

    @property
    def enrichment(self) -> Tensor:
        """``positive_share / chance``: > 1 when relevance concentrates in the region."""
        return self.positive_share / self.chance


def localization(attributions: Tensor, region: Tensor) -> LocalizationResult:
    """How much relevance falls on a known discriminative region.

    Parameters
    ----------
    attributions : Tensor, shape ``(n, *F)``
        The maps.
    region : bool Tensor, shape ``(n, *F)`` or broadcastable to ``F``
        Where the evidence is, per sample or one region for all.

    Returns
    -------
    LocalizationResult

    Raises
    ------
    TypeError, ValueError
        For non-tensors, a non-bool region, a shape that does not match, an empty region.

    Examples
    --------
    >>> import torch
    >>> R = torch.tensor([[3.0, 1.0, -2.0, 0.0]])
    >>> result = localization(R, torch.tensor([True, False, False, False]))
    >>> result.positive_share, result.absolute_share, result.chance
    (tensor([0.7500]), tensor([0.5000]), tensor([0.2500]))
    """
    caller = "localization"
    R = check_inputs(attributions, caller, "attributions", min_dim=2).detach()
    if not isinstance(region, Tensor):
        raise TypeError(f"{caller}: region must be a bool torch.Tensor; got {type(region).__name__}.")
    if region.dtype != torch.bool:
        raise ValueError(f"{caller}: region must have dtype torch.bool; got {region.dtype}. Try region > 0.")
    if region.device != R.device:
        raise ValueError(f"{caller}: region must be on the device of attributions ({R.device}); got {region.device}.")
    n, feat = R.shape[0], tuple(R.shape[1:])
    if region.dim() == R.dim() and region.shape[0] == n and tuple(region.shape[1:]) == feat:
        mask = region
    else:
        try:
            ok = region.dim() <= len(feat) and tuple(torch.broadcast_shapes(region.shape, feat)) == feat
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{caller}: region must have shape {_shape(R)} or broadcast to one sample "
                f"({', '.join(map(str, feat))}); got shape {_shape(region)}."
            )
        mask = region.expand(feat)[None].expand(n, *feat)
    mask = mask.reshape(n, -1)
    if not bool(mask.any(dim=1).all()):
        raise ValueError(f"{caller}: region must hold at least one element of every sample; got an empty region.")
    flat = R.reshape(n, -1)
    positive = flat.clamp(min=0)
    magnitude = flat.abs()
    nan = torch.tensor(float("nan"), dtype=flat.dtype, device=flat.device)

    def share(values: Tensor) -> Tensor:
        total = values.sum(dim=1)
        inside = (values * mask).sum(dim=1)
        return torch.where(total > 0, inside / total, nan)

    chance = mask.to(flat.dtype).mean(dim=1)
    return LocalizationResult(positive_share=share(positive), absolute_share=share(magnitude), chance=chance)
