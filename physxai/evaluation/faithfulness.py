"""Faithfulness correlation, infidelity and max-sensitivity: does the map predict the model?

Three scores of one map per sample, all Monte Carlo over random perturbations drawn from an
explicit generator and evaluated in batched forward passes of at most ``max_batch_size`` rows.

- **Faithfulness correlation** (Bhatt et al. 2020, Eq. 3): over random subsets S of fixed size,
  the Pearson correlation between the relevance in S and the output drop when S is set to a
  baseline, ``corr_S( sum_{i in S} R_i , f(x) - f(x_[S <- baseline]) )``. 1 is ideal.
- **Infidelity** (Yeh et al. 2019, Def. 2.1): ``E_I[(I . R - (f(x) - f(x - I)))^2]``, the mean
  squared error of the map as a linear predictor of the output change under perturbations I.
  Which I "matches" a map depends on what the map is: ``perturbation="gaussian"`` (I ~ N(0,
  s^2) per element) matches gradient-like maps (saliency: ``I . grad f``); for maps that already
  multiply the input (gradient x input, IG, LRP, Shapley) ``perturbation="subset"`` removes a random
  subset (I = (x - baseline) * m, m a random 0/1 mask) and compares ``m . R``, Yeh et al.'s
  removal perturbation with the map divided by the input. 0 is ideal: a linear model explained by
  saliency (Gaussian) or by gradient x input (subset, baseline 0) gives exactly 0.
  ``normalize=True`` first rescales the map by the optimal beta = E[I.R dF] / E[(I.R)^2] per sample.
- **Max-sensitivity** (Yeh et al. 2019, Def. 3.1): ``max_{|y - x|_inf <= r} ||R(y) - R(x)||``,
  estimated as the largest change over ``n_samples`` points drawn uniformly in the box. 0 is ideal.

References
----------
U. Bhatt, A. Weller, J. M. F. Moura, Evaluating and aggregating feature-based model explanations,
IJCAI 2020, arXiv:2005.00631.
C.-K. Yeh, C.-Y. Hsieh, A. S. Suggala, D. I. Inouye, P. Ravikumar, On the (in)fidelity and
sensitivity of explanations, NeurIPS 2019, arXiv:1901.09392.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._validation import (
    check_baseline,
    check_choice,
    check_generator,
    check_inputs,
    check_model,
    check_positive_float,
    check_positive_int,
    check_same_device,
    check_target,
)
from ..attribution import DEFAULT_MAX_BATCH_SIZE
from ..attribution._base import chunks
from ._common import (
    check_attributions,
    check_feature_mask,
    check_fraction,
    group_relevance,
    make_explainer,
    warn_training,
)
from ._similarity import _pearson_rows

__all__ = ["faithfulness_correlation", "infidelity", "max_sensitivity"]


@torch.no_grad()
def _evaluate(model: Callable, rows: Tensor, sample: Tensor, target_fn: Any, max_batch_size: int) -> Tensor:
    parts = [target_fn(model(rows[sl]), sample[sl]) for sl in chunks(rows.shape[0], max_batch_size)]
    return torch.cat(parts)


def _prepare(model: Any, inputs: Any, attributions: Any, target: Any, generator: Any, max_batch_size: Any, caller: str):
    check_model(model, caller)
    x = check_inputs(inputs, caller).detach()
    check_same_device(model, x, caller)
    relevance = check_attributions(attributions, x, caller).to(x.dtype)
    target_fn = check_target(target, x.shape[0], caller)
    gen = check_generator(generator, x, caller)
    check_positive_int(max_batch_size, caller, "max_batch_size")
    warn_training(model, caller)
    return x, relevance, target_fn, gen


def faithfulness_correlation(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    attributions: Tensor,
    *,
    target: Any = None,
    subset_size: int | None = None,
    n_subsets: int = 100,
    baseline: float | Tensor = 0.0,
    feature_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """Faithfulness correlation of a map per sample (Bhatt et al. 2020).

    Parameters
    ----------
    model : nn.Module or callable
    inputs : Tensor, shape ``(n, *F)``
    attributions : Tensor, shape ``(n, *F)``
    target : None, int, LongTensor ``(n,)`` or callable
    subset_size : int, optional
        Regions per random subset. Default: a quarter of the regions (at least 1).
    n_subsets : int, default 100
        Random subsets per sample (at least 2).
    baseline : float or Tensor ``(1, *F)`` / ``(n, *F)``, default 0.0
        Value of the removed elements.
    feature_mask : integer Tensor broadcastable to ``F``, optional
        Regions removed together (relevance summed); default: elements.
    generator : torch.Generator, optional
    max_batch_size : int, default 1024

    Returns
    -------
    Tensor, shape ``(n,)``
        Pearson correlation over the subsets; NaN for a sample whose subset sums or output drops
        do not vary.

    Raises
    ------
    TypeError, ValueError
        For bad inputs, attributions, target, baseline, feature mask, or ``subset_size`` outside
        ``1 .. d``.
    """
    caller = "faithfulness_correlation"
    x, relevance, target_fn, gen = _prepare(model, inputs, attributions, target, generator, max_batch_size, caller)
    groups = check_feature_mask(feature_mask, x, caller)
    base = check_baseline(baseline, x, caller)
    check_positive_int(n_subsets, caller, "n_subsets", minimum=2)
    d = groups.n_groups
    if subset_size is None:
        subset_size = max(1, d // 4)
    check_positive_int(subset_size, caller, "subset_size")
    if subset_size > d:
        raise ValueError(f"{caller}: subset_size must be at most the number of regions ({d}); got {subset_size}.")
    n = x.shape[0]
    # random subsets of exactly subset_size regions: the smallest keys of uniform noise
    keys = torch.rand(n, n_subsets, d, generator=gen, device=x.device)
    chosen = torch.zeros(n, n_subsets, d, dtype=torch.bool, device=x.device)
    chosen.scatter_(2, keys.topk(subset_size, dim=2, largest=False).indices, True)
    region_relevance = group_relevance(relevance, groups)  # (n, d)
    subset_relevance = (chosen * region_relevance[:, None, :]).sum(dim=2)  # (n, n_subsets)

    element_chosen = chosen if groups.identity else chosen[:, :, groups.index]  # (n, S, numel)
    x_flat, base_flat = x.reshape(n, -1), base.reshape(n, -1)
    index = torch.arange(n, device=x.device)
    f_x = _evaluate(model, x, index, target_fn, max_batch_size)
    drops = torch.empty(n * n_subsets, dtype=x.dtype, device=x.device)
    for sl in chunks(n * n_subsets, max_batch_size):
        row = torch.arange(sl.start, sl.stop, device=x.device)
        sample, k = row // n_subsets, row % n_subsets
        rows = torch.where(element_chosen[sample, k], base_flat[sample], x_flat[sample]).reshape(-1, *x.shape[1:])
        with torch.no_grad():
            drops[sl] = f_x[sample] - target_fn(model(rows), sample).to(x.dtype)
    return _pearson_rows(subset_relevance, drops.reshape(n, n_subsets))


def infidelity(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    attributions: Tensor,
    *,
    target: Any = None,
    perturbation: str = "gaussian",
    n_perturbations: int = 64,
    noise_scale: float = 0.1,
    subset_fraction: float = 0.5,
    baseline: float | Tensor = 0.0,
    normalize: bool = False,
    generator: torch.Generator | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """Infidelity of a map per sample (Yeh et al. 2019, Def. 2.1).

    Parameters
    ----------
    model : nn.Module or callable
    inputs : Tensor, shape ``(n, *F)``
    attributions : Tensor, shape ``(n, *F)``
    target : None, int, LongTensor ``(n,)`` or callable
    perturbation : {"gaussian", "subset"}, default "gaussian"
        ``"gaussian"``: I ~ N(0, noise_scale^2) per element, explanation term ``I . R`` (for
        gradient maps). ``"subset"``: each element removed with probability ``subset_fraction``
        (mask m), I = (x - baseline) * m, explanation term ``m . R`` (for maps that multiply the
        input: gradient x input, IG, LRP, Shapley values).
    n_perturbations : int, default 64
        Monte Carlo samples of I per sample.
    noise_scale : float, default 0.1
        Standard deviation of the Gaussian perturbation.
    subset_fraction : float in (0, 1], default 0.5
        Removal probability of the subset perturbation.
    baseline : float or Tensor, default 0.0
        Reference of the subset perturbation.
    normalize : bool, default False
        Rescale the map by the per-sample optimal beta first (Yeh et al., Sec. 2.2; Captum's
        ``normalize``), so that only the map's direction is judged.
    generator : torch.Generator, optional
    max_batch_size : int, default 1024

    Returns
    -------
    Tensor, shape ``(n,)``
        Mean squared error; 0 for a perfect linear predictor of the output change.

    Raises
    ------
    TypeError, ValueError
        For bad inputs, attributions, target, options.
    """
    caller = "infidelity"
    x, relevance, target_fn, gen = _prepare(model, inputs, attributions, target, generator, max_batch_size, caller)
    check_choice(perturbation, ("gaussian", "subset"), caller, "perturbation")
    check_positive_int(n_perturbations, caller, "n_perturbations")
    check_positive_float(noise_scale, caller, "noise_scale")
    check_fraction(subset_fraction, caller, "subset_fraction")
    base = check_baseline(baseline, x, caller)
    if not isinstance(normalize, bool):
        raise TypeError(f"{caller}: normalize must be a bool; got {type(normalize).__name__}.")
    n, k = x.shape[0], n_perturbations
    index = torch.arange(n, device=x.device)
    f_x = _evaluate(model, x, index, target_fn, max_batch_size)
    feat = x.shape[1:]
    explained = torch.empty(n * k, dtype=x.dtype, device=x.device)
    actual = torch.empty(n * k, dtype=x.dtype, device=x.device)
    # all perturbations are drawn before chunking, so the result does not depend on max_batch_size
    if perturbation == "gaussian":
        draws = noise_scale * torch.randn(n, k, *feat, generator=gen, dtype=x.dtype, device=x.device)
    else:
        draws = (torch.rand(n, k, *feat, generator=gen, device=x.device) < subset_fraction).to(x.dtype)
    draws = draws.reshape(n * k, *feat)
    for sl in chunks(n * k, max_batch_size):
        row = torch.arange(sl.start, sl.stop, device=x.device)
        sample = row // k
        if perturbation == "gaussian":
            shift = draws[sl]
            explained[sl] = (shift * relevance[sample]).reshape(len(row), -1).sum(dim=1)
        else:
            mask = draws[sl]
            shift = (x[sample] - base[sample]) * mask
            explained[sl] = (mask * relevance[sample]).reshape(len(row), -1).sum(dim=1)
        with torch.no_grad():
            actual[sl] = f_x[sample] - target_fn(model(x[sample] - shift), sample).to(x.dtype)
    explained, actual = explained.reshape(n, k), actual.reshape(n, k)
    if normalize:
        denominator = (explained * explained).mean(dim=1, keepdim=True)
        beta = (explained * actual).mean(dim=1, keepdim=True) / denominator
        beta = torch.where(denominator > 0, beta, torch.ones_like(beta))
        explained = beta * explained
    return ((explained - actual) ** 2).mean(dim=1)


def max_sensitivity(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    method: Any,
    *,
    target: Any = None,
    method_options: dict[str, Any] | None = None,
    radius: float = 0.1,
    n_samples: int = 10,
    normalize: bool = False,
    generator: torch.Generator | None = None,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """Max-sensitivity of an explanation method per sample (Yeh et al. 2019, Def. 3.1).

    Parameters
    ----------
    model : nn.Module or callable
    inputs : Tensor, shape ``(n, *F)``
    method : str or callable
        A name of :data:`physxai.attribution.METHODS` or ``explain(model, inputs, target=...)``.
    target : None, int, LongTensor ``(n,)`` or callable
        A LongTensor target is repeated for the perturbed copies of each sample.
    method_options : dict, optional
        Options of a named method.
    radius : float, default 0.1
        Half-width r of the box ``|y - x|_inf <= r`` the points are drawn from uniformly.
    n_samples : int, default 10
        Perturbed points per sample.
    normalize : bool, default False
        Divide by ``||R(x)||`` (0/0 -> NaN).
    generator : torch.Generator, optional
    max_batch_size : int, default 1024
        Most perturbed rows per explanation call.

    Returns
    -------
    Tensor, shape ``(n,)``
        ``max_j ||R(y_j) - R(x)||_2`` over the flattened map.

    Raises
    ------
    TypeError, ValueError
        For bad inputs, method, target or options.
    """
    caller = "max_sensitivity"
    check_model(model, caller)
    x = check_inputs(inputs, caller).detach()
    check_same_device(model, x, caller)
    check_target(target, x.shape[0], caller)
    explain = make_explainer(method, method_options, caller)
    check_positive_float(radius, caller, "radius")
    check_positive_int(n_samples, caller, "n_samples")
    check_positive_int(max_batch_size, caller, "max_batch_size")
    gen = check_generator(generator, x, caller)
    if not isinstance(normalize, bool):
        raise TypeError(f"{caller}: normalize must be a bool; got {type(normalize).__name__}.")
    warn_training(model, caller)
    n, k = x.shape[0], n_samples
    original = explain(model, x, target).detach().reshape(n, -1)
    noise = radius * (2 * torch.rand(n, k, *x.shape[1:], generator=gen, dtype=x.dtype, device=x.device) - 1)
    rows = (x[:, None] + noise).reshape(n * k, *x.shape[1:])
    sample = torch.arange(n * k, device=x.device) // k
    changes = torch.empty(n * k, dtype=x.dtype, device=x.device)
    for sl in chunks(n * k, max_batch_size):
        row_target = target[sample[sl].to(target.device)] if isinstance(target, Tensor) and target.dim() == 1 else target
        maps = explain(model, rows[sl], row_target).detach().reshape(sl.stop - sl.start, -1)
        changes[sl] = torch.linalg.vector_norm(maps - original[sample[sl]], dim=1).to(x.dtype)
    worst = changes.reshape(n, k).amax(dim=1)
    if normalize:
        norm = torch.linalg.vector_norm(original, dim=1)
        worst = worst / norm
    return worst
