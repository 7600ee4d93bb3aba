"""Region perturbation ("pixel flipping") and the area over the perturbation curve (AOPC).

Samek et al. (2017) judge a heatmap by destroying the input in the order it prescribes. The
regions of a sample (pixels, patches, spins, table columns: groups of a ``feature_mask``) are
ranked by their summed relevance, and x^(k) is x with the first k regions replaced::

    x^(0) = x,    x^(k) = g(x^(k-1), r_k),    k = 1 .. L

Most-relevant-first (MoRF) should make the explained output f fall fast; least-relevant-first
(LeRF) slowly; a random order is the reference. The area over the MoRF curve (their Eq. 12)::

    AOPC = 1 / (L + 1) * sum_{k=0..L} [f(x^(0)) - f(x^(k))]

is reported per sample, so two methods on the same samples can be compared with a *paired*
bootstrap of the difference of their means (:func:`compare_aopc`). Replacement g is by zero, by the
per-feature mean of a reference set, by uniform noise (the paper's choice, drawn once per sample
from a generator so that a region, once replaced, keeps its value) or by a baseline tensor.
Regions with equal relevance (all zero pixels of a digit have zero epsilon-LRP relevance) are
ordered at random, never by their index. All ``n x (L + 1)`` perturbed inputs are built in chunks
and evaluated in batched forward passes of at most ``max_batch_size`` rows; the curves do not
depend on ``max_batch_size``.

References
----------
W. Samek, A. Binder, G. Montavon, S. Lapuschkin, K.-R. Mueller, Evaluating the visualization of
what a deep neural network has learned, IEEE TNNLS 28, 2660 (2017), arXiv:1509.06321.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._validation import (
    _shape,
    check_baseline,
    check_choice,
    check_finite,
    check_generator,
    check_inputs,
    check_model,
    check_positive_int,
    check_same_device,
    check_target,
)
from ..attribution import DEFAULT_MAX_BATCH_SIZE
from ..attribution._base import chunks
from ._common import (
    check_attributions,
    check_feature_mask,
    group_relevance,
    rank_regions,
    warn_training,
)

__all__ = [
    "AOPCComparison",
    "aopc",
    "bootstrap_mean",
    "compare_aopc",
    "perturbation_curves",
    "replacement_values",
]

ORDERS = ("morf", "lerf", "random")
REPLACEMENTS = ("zero", "mean", "noise")


def replacement_values(
    replacement: Any,
    inputs: Tensor,
    caller: str,
    *,
    reference: Any = None,
    noise_range: Any = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The value each element takes once its region is removed, ``(n, *F)``.

    ``"zero"``; ``"mean"``: the per-element mean of ``reference`` ``(m, *F)``; ``"noise"``: uniform
    in ``noise_range = (low, high)``, drawn from ``generator``; a float or a tensor ``(1, *F)`` /
    ``(n, *F)``: a baseline.
    """
    if isinstance(replacement, str):
        check_choice(replacement, REPLACEMENTS, caller, "replacement")
    if reference is not None and replacement != "mean":
        raise ValueError(f"{caller}: reference is used only with replacement='mean'; got replacement={replacement!r}.")
    if noise_range is not None and replacement != "noise":
        raise ValueError(
            f"{caller}: noise_range is used only with replacement='noise'; got replacement={replacement!r}."
        )
    if isinstance(replacement, str):
        if replacement == "zero":
            return torch.zeros_like(inputs)
        if replacement == "mean":
            if not isinstance(reference, Tensor):
                raise TypeError(
                    f"{caller}: replacement='mean' needs reference, a tensor of reference samples "
                    f"(m, *F); got {type(reference).__name__}."
                )
            feat = tuple(inputs.shape[1:])
            if reference.dim() != inputs.dim() or tuple(reference.shape[1:]) != feat or reference.shape[0] == 0:
                raise ValueError(
                    f"{caller}: reference must have shape (m, {', '.join(map(str, feat))}) like the "
                    f"inputs {_shape(inputs)}; got shape {_shape(reference)}."
                )
            if reference.dtype != inputs.dtype or reference.device != inputs.device:
                raise ValueError(
                    f"{caller}: reference must have the dtype and device of the inputs "
                    f"({inputs.dtype}, {inputs.device}); got ({reference.dtype}, {reference.device})."
                )
            check_finite(reference, caller, "reference")
            return reference.mean(dim=0, keepdim=True).expand_as(inputs)
        # noise
        ok = isinstance(noise_range, (tuple, list)) and len(noise_range) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in noise_range)
        ok = ok and all(math.isfinite(v) for v in noise_range) and noise_range[0] < noise_range[1]
        if not ok:
            raise ValueError(
                f"{caller}: replacement='noise' needs noise_range=(low, high) with finite "
                f"low < high (digits: (0, 16)); got {noise_range!r}."
            )
        low, high = float(noise_range[0]), float(noise_range[1])
        u = torch.rand(inputs.shape, generator=generator, dtype=inputs.dtype, device=inputs.device)
        return low + (high - low) * u
    return check_baseline(replacement, inputs, caller, name="replacement", default=None)


@torch.no_grad()
def perturbation_curves(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    attributions: Tensor | None,
    *,
    target: Any = None,
    order: str = "morf",
    n_steps: int | None = None,
    n_regions_per_step: int = 1,
    feature_mask: Tensor | None = None,
    replacement: str | float | Tensor = "zero",
    reference: Tensor | None = None,
    noise_range: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """The explained output along a region-perturbation path (pixel flipping).

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(m, *F)`` to outputs; it is only evaluated (never changed, never toggled).
    inputs : Tensor, shape ``(n, *F)``
        The samples, floating point.
    attributions : Tensor, shape ``(n, *F)``, or None
        The maps that rank the regions (relevance summed per region). Only ``order="random"``
        may pass None.
    target : None, int, LongTensor ``(n,)`` or callable
        The output that is tracked, as in :func:`physxai.attribute` (Samek et al.: the
        pre-softmax score of one class).
    order : {"morf", "lerf", "random"}, default "morf"
        Most relevant first, least relevant first, or a uniformly random order (the reference).
        Ties are broken at random with ``generator``.
    n_steps : int, optional
        Number of perturbation steps L. Default: until every region is replaced.
    n_regions_per_step : int, default 1
        Regions replaced per step (step k has replaced ``min(k * n_regions_per_step, d)``).
    feature_mask : integer Tensor broadcastable to ``F``, optional
        Region id of every element (a 2 x 2 patch, a spin, a column); default: each element is
        its own region.
    replacement : {"zero", "mean", "noise"}, float or Tensor, default "zero"
        What a replaced element becomes: 0; the per-element mean of ``reference``; uniform noise
        in ``noise_range`` (drawn once per sample and element from ``generator``); a baseline
        value or tensor ``(1, *F)`` / ``(n, *F)``.
    reference : Tensor, shape ``(m, *F)``, optional
        Reference samples for ``replacement="mean"`` (e.g. the training set).
    noise_range : (float, float), optional
        ``(low, high)`` of the noise for ``replacement="noise"`` (digits: ``(0, 16)``).
    generator : torch.Generator, optional
        Source of tie-breaking, random orders and noise; the global RNG when None.
    max_batch_size : int, default 1024
        Most rows per forward pass; the curves do not depend on it.

    Returns
    -------
    Tensor, shape ``(n, n_steps + 1)``
        Column k is ``f(x^(k))``; column 0 is ``f(x)``.

    Raises
    ------
    TypeError
        For non-tensor inputs or attributions, a bad ``feature_mask``/``generator``/``reference`` kind.
    ValueError
        For mismatched shapes or devices, an unknown ``order`` or ``replacement``, ``n_steps``
        beyond the number of regions, or attributions missing for MoRF/LeRF.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([3.0, -1.0, 2.0])
    >>> model = lambda x: x @ w
    >>> x = torch.ones(1, 3)
    >>> perturbation_curves(model, x, x * w)          # removes 0, then 2, then 1
    tensor([[ 4.,  1., -1.,  0.]])
    """
    caller = "perturbation_curves"
    check_model(model, caller)
    x = check_inputs(inputs, caller).detach()
    check_same_device(model, x, caller)
    check_choice(order, ORDERS, caller, "order")
    if attributions is None:
        if order != "random":
            raise ValueError(
                f"{caller}: attributions are needed to rank the regions for order={order!r}; got None "
                "(only order='random' runs without them)."
            )
        relevance = None
    else:
        relevance = check_attributions(attributions, x, caller)
    groups = check_feature_mask(feature_mask, x, caller)
    check_positive_int(n_regions_per_step, caller, "n_regions_per_step")
    check_positive_int(max_batch_size, caller, "max_batch_size")
    gen = check_generator(generator, x, caller)
    target_fn = check_target(target, x.shape[0], caller)
    d = groups.n_groups
    max_steps = -(-d // n_regions_per_step)
    if n_steps is None:
        n_steps = max_steps
    check_positive_int(n_steps, caller, "n_steps")
    if n_steps > max_steps:
        raise ValueError(
            f"{caller}: n_steps must be at most {max_steps} (the {d} regions replaced "
            f"{n_regions_per_step} per step); got {n_steps}."
        )
    warn_training(model, caller)
    n = x.shape[0]

    # ranking first, noise second: the generator's draws are in a fixed order
    if relevance is None:
        scores = torch.zeros(n, d, dtype=x.dtype, device=x.device)
    else:
        scores = group_relevance(relevance.to(x.dtype), groups)
    region_order = rank_regions(scores, descending=(order == "morf"), generator=gen)
    values = replacement_values(
        replacement, x, caller, reference=reference, noise_range=noise_range, generator=gen
    )

    # position of every element's region in the removal order: (n, numel)
    region_position = torch.empty_like(region_order).scatter_(
        1, region_order, torch.arange(d, device=x.device).expand(n, d)
    )
    element_position = region_position if groups.identity else region_position[:, groups.index]
    x_flat = x.reshape(n, -1)
    values_flat = values.reshape(n, -1)
    n_columns = n_steps + 1
    removed = (torch.arange(n_columns, device=x.device) * n_regions_per_step).clamp(max=d)
    out = torch.empty(n * n_columns, dtype=x.dtype, device=x.device)
    for rows in chunks(n * n_columns, max_batch_size):
        row = torch.arange(rows.start, rows.stop, device=x.device)
        sample, step = row // n_columns, row % n_columns
        keep = element_position[sample] >= removed[step][:, None]
        perturbed = torch.where(keep, x_flat[sample], values_flat[sample]).reshape(-1, *x.shape[1:])
        out[rows] = target_fn(model(perturbed), sample).to(x.dtype)
    return out.reshape(n, n_columns)


def aopc(curves: Tensor) -> Tensor:
    """Area over the perturbation curve per sample (Samek et al. 2017, Eq. 12).

    Parameters
    ----------
    curves : Tensor, shape ``(n, L + 1)``
        Outputs along the perturbation path, column 0 the unperturbed output
        (:func:`perturbation_curves`).

    Returns
    -------
    Tensor, shape ``(n,)``
        ``1 / (L + 1) * sum_k [f(x^(0)) - f(x^(k))]``; average over samples for the paper's AOPC.

    Raises
    ------
    TypeError, ValueError
        For a non-tensor, a non-float dtype or a shape other than ``(n, L + 1)``.

    Examples
    --------
    >>> import torch
    >>> aopc(torch.tensor([[4.0, 1.0, -1.0, 0.0]]))
    tensor([3.])
    """
    caller = "aopc"
    if not isinstance(curves, Tensor):
        raise TypeError(f"{caller}: curves must be a torch.Tensor (n, L + 1); got {type(curves).__name__}.")
    if not curves.is_floating_point() or curves.dim() != 2 or curves.shape[0] == 0 or curves.shape[1] == 0:
        raise ValueError(
            f"{caller}: curves must be a floating tensor of shape (n, L + 1); got shape "
            f"{_shape(curves)} and dtype {curves.dtype}."
        )
    return (curves[:, :1] - curves).mean(dim=1)


@dataclass(frozen=True)
class AOPCComparison:
    """A paired bootstrap comparison of two per-sample scores on the same samples.

    Attributes
    ----------
    mean_a, mean_b : float
        Means of the two scores.
    difference : float
        ``mean_a - mean_b``.
    low, high : float
        Percentile bootstrap interval of the difference at ``confidence``.
    a_low, a_high, b_low, b_high : float
        Intervals of each mean from the same resamples.
    fraction_positive : float
        Share of bootstrap resamples in which a's mean exceeds b's.
    confidence : float
    n_bootstrap : int
    """

    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    a_low: float
    a_high: float
    b_low: float
    b_high: float
    fraction_positive: float
    confidence: float
    n_bootstrap: int


def _check_scores(values: Any, caller: str, name: str) -> Tensor:
    if not isinstance(values, Tensor):
        raise TypeError(f"{caller}: {name} must be a torch.Tensor of per-sample scores (n,); got {type(values).__name__}.")
    if not values.is_floating_point() or values.dim() != 1 or values.shape[0] == 0:
        raise ValueError(
            f"{caller}: {name} must be a non-empty floating tensor of per-sample scores (n,) "
            f"(e.g. aopc(curves)); got shape {_shape(values)} and dtype {values.dtype}."
        )
    check_finite(values, caller, name)
    return values.detach()


def _check_bootstrap(n_bootstrap: Any, confidence: Any, caller: str) -> None:
    check_positive_int(n_bootstrap, caller, "n_bootstrap")
    ok = isinstance(confidence, float) and 0.0 < confidence < 1.0
    if not ok:
        raise ValueError(f"{caller}: confidence must be a float in (0, 1); got {confidence!r}.")


def _resampled_means(columns: Tensor, n_bootstrap: int, generator: torch.Generator | None) -> Tensor:
    """Means of ``columns`` ``(n, c)`` over ``n_bootstrap`` resamples of the rows: ``(B, c)``."""
    n = columns.shape[0]
    out = []
    for block in chunks(n_bootstrap, max(1, 2**22 // max(n, 1))):
        idx = torch.randint(n, (block.stop - block.start, n), generator=generator, device=columns.device)
        out.append(columns[idx].mean(dim=1))
    return torch.cat(out)


def bootstrap_mean(
    values: Tensor,
    *,
    n_bootstrap: int = 10_000,
    confidence: float = 0.95,
    generator: torch.Generator | None = None,
) -> tuple[float, float, float]:
    """The mean of per-sample scores and its percentile bootstrap interval.

    Parameters
    ----------
    values : Tensor, shape ``(n,)``
        Per-sample scores (e.g. :func:`aopc`).
    n_bootstrap : int, default 10000
        Resamples.
    confidence : float, default 0.95
        Coverage of the interval.
    generator : torch.Generator, optional
        Source of the resampling; the global RNG when None.

    Returns
    -------
    (mean, low, high) : tuple of float

    Raises
    ------
    TypeError, ValueError
        For a non-tensor, a shape other than ``(n,)``, NaN/inf, or bad options.
    """
    caller = "bootstrap_mean"
    v = _check_scores(values, caller, "values")
    _check_bootstrap(n_bootstrap, confidence, caller)
    gen = check_generator(generator, v, caller)
    means = _resampled_means(v[:, None].double(), n_bootstrap, gen)[:, 0]
    alpha = (1.0 - confidence) / 2
    q = torch.quantile(means, torch.tensor([alpha, 1 - alpha], dtype=means.dtype, device=means.device))
    return float(v.double().mean()), float(q[0]), float(q[1])


def compare_aopc(
    a: Tensor,
    b: Tensor,
    *,
    n_bootstrap: int = 10_000,
    confidence: float = 0.95,
    generator: torch.Generator | None = None,
) -> AOPCComparison:
    """Paired bootstrap comparison of two methods' per-sample AOPC on the same samples.

    The samples are resampled with replacement *together* for both methods, so the interval of
    ``mean(a) - mean(b)`` carries only the variation of the difference, not the much larger
    variation between samples that both methods share.

    Parameters
    ----------
    a, b : Tensor, shape ``(n,)``
        Per-sample scores of two methods on the same ``n`` samples, in the same order
        (:func:`aopc` of their curves).
    n_bootstrap : int, default 10000
        Resamples.
    confidence : float, default 0.95
        Coverage of the percentile intervals.
    generator : torch.Generator, optional
        Source of the resampling; the global RNG when None.

    Returns
    -------
    AOPCComparison
        Means, the difference and its interval, and each mean's interval.

    Raises
    ------
    TypeError, ValueError
        For non-tensors, shapes other than one ``(n,)``, NaN/inf, or bad options.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.linspace(0, 1, 50, dtype=torch.float64); b = a - 0.1
    >>> c = compare_aopc(a, b, n_bootstrap=200, generator=g)
    >>> round(c.difference, 6), round(c.low, 6), round(c.high, 6)
    (0.1, 0.1, 0.1)
    """
    caller = "compare_aopc"
    a = _check_scores(a, caller, "a")
    b = _check_scores(b, caller, "b")
    if a.shape != b.shape or a.device != b.device:
        raise ValueError(
            f"{caller}: a and b must hold scores of the same samples: one shape and device; got "
            f"{_shape(a)} on {a.device} and {_shape(b)} on {b.device}."
        )
    _check_bootstrap(n_bootstrap, confidence, caller)
    gen = check_generator(generator, a, caller)
    columns = torch.stack([a.double(), b.double(), a.double() - b.double()], dim=1)
    means = _resampled_means(columns, n_bootstrap, gen)
    alpha = (1.0 - confidence) / 2
    q = torch.quantile(means, torch.tensor([alpha, 1 - alpha], dtype=means.dtype, device=means.device), dim=0)
    full = columns.mean(dim=0)
    return AOPCComparison(
        mean_a=float(full[0]),
        mean_b=float(full[1]),
        difference=float(full[2]),
        low=float(q[0, 2]),
        high=float(q[1, 2]),
        a_low=float(q[0, 0]),
        a_high=float(q[1, 0]),
        b_low=float(q[0, 1]),
        b_high=float(q[1, 1]),
        fraction_positive=float((means[:, 2] > 0).double().mean()),
        confidence=confidence,
        n_bootstrap=n_bootstrap,
    )
