"""ROAR and KAR: remove (or keep) the features a method ranks highest, retrain, and test.

Deleting pixels from a test image and watching the trained model's score (pixel flipping) mixes
two effects: the information that is gone, and inputs the model has never seen. Hooker et al.
(2019) separate them by retraining: for a fraction t of the features, the top t of every training
and test sample (ranked by that sample's attribution under the trained model) are replaced by an
uninformative value (the per-feature mean of the training set), a fresh model is trained on the
modified training set, and its accuracy on the modified test set is measured. A good ranking
removes information fast, so the accuracy falls faster than under a random ranking. KAR (keep and
retrain) keeps the top t and replaces the rest; there a good ranking keeps the accuracy high.

Every retraining uses the project's one training loop :func:`physxai.models.fit`, with a fresh
model from ``model_factory()`` built under ``torch.manual_seed(seed)`` inside
``torch.random.fork_rng`` (the caller's global RNG state is unchanged), once per seed. Ties in the
ranking (all-zero backgrounds) are broken at random with a generator. Passing no attributions gives
the random-ranking reference.

References
----------
S. Hooker, D. Erhan, P.-J. Kindermans, B. Kim, A benchmark for interpretability methods in deep
neural networks, NeurIPS 2019, arXiv:1806.10758.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import _shape, check_generator, check_inputs, check_positive_int
from ..attribution import DEFAULT_MAX_BATCH_SIZE
from ..attribution._base import chunks
from ..models import fit
from ._common import (
    accuracy,
    check_attributions,
    check_dict,
    check_feature_mask,
    group_relevance,
    rank_regions,
)

__all__ = ["RoarResult", "remove_features", "roar"]


@dataclass(frozen=True)
class RoarResult:
    """Test accuracies after removing (ROAR) or keeping (KAR) the top fraction of features.

    Attributes
    ----------
    fractions : Tensor, shape ``(k,)``
        The fractions t of features (regions) removed, or kept for KAR.
    accuracy : Tensor, shape ``(k, n_seeds)``
        Test metric of the retrained model per fraction and seed.
    seeds : tuple of int
    keep : bool
        True for KAR.
    ranking : str
        ``"attribution"`` or ``"random"``.
    """

    fractions: Tensor
    accuracy: Tensor
    seeds: tuple[int, ...]
    keep: bool
    ranking: str

    @property
    def mean(self) -> Tensor:
        """Mean accuracy over seeds, ``(k,)``."""
        return self.accuracy.mean(dim=1)

    @property
    def std(self) -> Tensor:
        """Standard deviation over seeds (0 for one seed), ``(k,)``."""
        if self.accuracy.shape[1] < 2:
            return torch.zeros_like(self.mean)
        return self.accuracy.std(dim=1)


def remove_features(
    inputs: Tensor, region_order: Tensor, n_regions: int, values: Tensor, keep: bool, index: Tensor | None
) -> Tensor:
    """Replace the first ``n_regions`` of each sample's order (ROAR) or all but them (KAR)."""
    n, d = region_order.shape
    position = torch.empty_like(region_order).scatter_(
        1, region_order, torch.arange(d, device=inputs.device).expand(n, d)
    )
    if index is not None:
        position = position[:, index]
    replaced = position >= n_regions if keep else position < n_regions
    flat = torch.where(replaced, values.reshape(1, -1), inputs.reshape(n, -1))
    return flat.reshape(inputs.shape)


def _replacement(replacement: Any, train_inputs: Tensor, caller: str) -> Tensor:
    feat = tuple(train_inputs.shape[1:])
    if isinstance(replacement, str):
        if replacement == "mean":
            return train_inputs.mean(dim=0)
        if replacement == "zero":
            return torch.zeros(feat, dtype=train_inputs.dtype, device=train_inputs.device)
        raise ValueError(
            f"{caller}: replacement must be 'mean', 'zero', a float or a tensor of shape "
            f"({', '.join(map(str, feat))}); got {replacement!r}."
        )
    if isinstance(replacement, (int, float)) and not isinstance(replacement, bool):
        return torch.full(feat, float(replacement), dtype=train_inputs.dtype, device=train_inputs.device)
    if isinstance(replacement, Tensor):
        if replacement.dim() == len(feat) + 1 and replacement.shape[0] == 1:
            replacement = replacement[0]
        if tuple(replacement.shape) != feat or replacement.dtype != train_inputs.dtype or (
            replacement.device != train_inputs.device
        ):
            raise ValueError(
                f"{caller}: a replacement tensor must have shape ({', '.join(map(str, feat))}) or "
                f"(1, {', '.join(map(str, feat))}) and the inputs' dtype and device; got shape "
                f"{_shape(replacement)}, {replacement.dtype} on {replacement.device}."
            )
        return replacement
    raise TypeError(
        f"{caller}: replacement must be 'mean', 'zero', a float or a tensor; got {type(replacement).__name__}."
    )


def _check_targets(targets: Any, inputs: Tensor, caller: str, name: str) -> Tensor:
    if not isinstance(targets, Tensor):
        raise TypeError(f"{caller}: {name} must be a torch.Tensor (n,); got {type(targets).__name__}.")
    if targets.shape[:1] != inputs.shape[:1]:
        raise ValueError(
            f"{caller}: {name} must have one entry per sample ({inputs.shape[0]}); got shape {_shape(targets)}."
        )
    return targets


def roar(
    train_inputs: Tensor,
    train_targets: Tensor,
    test_inputs: Tensor,
    test_targets: Tensor,
    train_attributions: Tensor | None,
    test_attributions: Tensor | None,
    *,
    model_factory: Callable[[], nn.Module],
    fractions: Sequence[float] = (0.1, 0.3, 0.5, 0.7, 0.9),
    keep: bool = False,
    fit_options: dict[str, Any] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    replacement: str | float | Tensor = "mean",
    feature_mask: Tensor | None = None,
    metric: Callable[[Tensor, Tensor], float] | None = None,
    generator: torch.Generator | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> RoarResult:
    """Remove and retrain (ROAR) or keep and retrain (KAR) over fractions and seeds.

    Parameters
    ----------
    train_inputs, test_inputs : Tensor, shapes ``(n_train, *F)``, ``(n_test, *F)``
        Training and test inputs (floating point, one feature shape).
    train_targets, test_targets : Tensor, shapes ``(n_train, ...)``, ``(n_test, ...)``
        Targets for :func:`physxai.models.fit` and the metric.
    train_attributions, test_attributions : Tensor shaped like the inputs, or both None
        Each sample's attribution under the original trained model; None for both gives the
        random-ranking reference.
    model_factory : callable () -> nn.Module
        Builds a fresh model; called under ``torch.manual_seed(seed)`` in a forked RNG.
    fractions : sequence of float in [0, 1], default (0.1, 0.3, 0.5, 0.7, 0.9)
        Fractions t of the regions removed (ROAR) or kept (KAR); ``round(t * d)`` regions.
    keep : bool, default False
        KAR instead of ROAR.
    fit_options : dict, optional
        Keyword options of :func:`physxai.models.fit` (``epochs``, ``lr``, ``loss``, ...);
        ``seed`` comes from ``seeds`` and ``progress`` defaults to False.
    seeds : sequence of int, default (0, 1, 2)
        One retraining per seed and fraction (Hooker et al.: 5).
    replacement : {"mean", "zero"}, float or Tensor ``F``, default "mean"
        The uninformative value: the per-feature mean of the unmodified training inputs (the
        paper's per-channel mean, per element here), 0, or a given value.
    feature_mask : integer Tensor broadcastable to ``F``, optional
        Regions that are ranked and removed together (relevance summed); default: elements.
    metric : callable (outputs, targets) -> float, optional
        Default: accuracy (argmax of ``(n, C)`` outputs, a single logit thresholded at 0).
    generator : torch.Generator, optional
        Source of tie-breaking and of the random ranking; the global RNG when None.
    max_batch_size : int, default 1024
        Most rows per forward pass when testing.

    Returns
    -------
    RoarResult
        ``accuracy`` of shape ``(len(fractions), len(seeds))``.

    Raises
    ------
    TypeError
        For non-tensors, a non-callable ``model_factory`` or one that does not return an
        ``nn.Module``, a ``fit_options`` that is not a dict.
    ValueError
        For mismatched shapes, fractions outside [0, 1], an empty seed list, only one of the two
        attributions given, or ``fit_options`` holding ``seed``.
    """
    caller = "roar"
    xtr = check_inputs(train_inputs, caller, "train_inputs").detach()
    xte = check_inputs(test_inputs, caller, "test_inputs").detach()
    if xtr.shape[1:] != xte.shape[1:] or xtr.dtype != xte.dtype or xtr.device != xte.device:
        raise ValueError(
            f"{caller}: train_inputs and test_inputs must share feature shape, dtype and device; got "
            f"{_shape(xtr)} {xtr.dtype} on {xtr.device} and {_shape(xte)} {xte.dtype} on {xte.device}."
        )
    ytr = _check_targets(train_targets, xtr, caller, "train_targets")
    yte = _check_targets(test_targets, xte, caller, "test_targets")
    if (train_attributions is None) != (test_attributions is None):
        raise ValueError(
            f"{caller}: give both train_attributions and test_attributions, or neither (the "
            "random-ranking reference)."
        )
    random_ranking = train_attributions is None
    if not random_ranking:
        rtr = check_attributions(train_attributions, xtr, caller, "train_attributions")
        rte = check_attributions(test_attributions, xte, caller, "test_attributions")
    if not callable(model_factory):
        raise TypeError(f"{caller}: model_factory must be a callable () -> nn.Module; got {type(model_factory).__name__}.")
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence) or len(fractions) == 0:
        raise ValueError(f"{caller}: fractions must be a non-empty sequence of numbers in [0, 1]; got {fractions!r}.")
    for t in fractions:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
            raise ValueError(f"{caller}: fractions must be numbers in [0, 1]; got {fractions!r}.")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) == 0 or any(
        isinstance(s, bool) or not isinstance(s, int) for s in seeds
    ):
        raise ValueError(f"{caller}: seeds must be a non-empty sequence of ints; got {seeds!r}.")
    options = check_dict(fit_options, caller, "fit_options")
    if "seed" in options:
        raise ValueError(f"{caller}: fit_options must not hold 'seed'; roar sets it from seeds=.")
    options.setdefault("progress", False)
    if metric is not None and not callable(metric):
        raise TypeError(f"{caller}: metric must be a callable (outputs, targets) -> float; got {type(metric).__name__}.")
    score = accuracy if metric is None else metric
    check_positive_int(max_batch_size, caller, "max_batch_size")
    gen = check_generator(generator, xtr, caller)
    groups = check_feature_mask(feature_mask, xtr, caller)
    values = _replacement(replacement, xtr, caller)
    d = groups.n_groups

    # one ranking per sample, drawn once: the same for every fraction and seed
    if random_ranking:
        order_tr = rank_regions(torch.zeros(xtr.shape[0], d, dtype=xtr.dtype, device=xtr.device), True, gen)
        order_te = rank_regions(torch.zeros(xte.shape[0], d, dtype=xte.dtype, device=xte.device), True, gen)
    else:
        order_tr = rank_regions(group_relevance(rtr.to(xtr.dtype), groups), True, gen)
        order_te = rank_regions(group_relevance(rte.to(xte.dtype), groups), True, gen)
    index = None if groups.identity else groups.index

    cuda = [xtr.device.index or 0] if xtr.device.type == "cuda" else []
    result = torch.empty(len(fractions), len(seeds), dtype=torch.float64)
    for i, t in enumerate(fractions):
        n_regions = round(float(t) * d)
        mtr = remove_features(xtr, order_tr, n_regions, values, keep, index)
        mte = remove_features(xte, order_te, n_regions, values, keep, index)
        for j, seed in enumerate(seeds):
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed)
                model = model_factory()
            if not isinstance(model, nn.Module):
                raise TypeError(f"{caller}: model_factory must return an nn.Module; got {type(model).__name__}.")
            fit(model, (mtr, ytr), seed=seed, **options)
            with torch.no_grad():
                outputs = torch.cat([model(mte[sl]) for sl in chunks(mte.shape[0], max_batch_size)])
            result[i, j] = float(score(outputs, yte))
    return RoarResult(
        fractions=torch.tensor([float(t) for t in fractions], dtype=torch.float64),
        accuracy=result,
        seeds=tuple(seeds),
        keep=keep,
        ranking="random" if random_ranking else "attribution",
    )
