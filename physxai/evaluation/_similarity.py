"""Similarity of two attribution maps, per sample: rank correlation, Pearson, SSIM.

The sanity checks of Adebayo et al. (2018) ask how much a map changes when the model changes;
they compare the maps with Spearman's rank correlation (signed, and of the absolute values, since
a sign flip of a whole map is not a change of what it highlights), the structural similarity index
(SSIM) and HOG features. We provide the first three and no HOG (it needs an image library and
adds little to SSIM on maps of a few dozen pixels). Every function maps two tensors ``(n, *F)`` to
``(n,)``, one value per sample, with 1 for identical maps.

- Spearman: Pearson correlation of the ranks, ties given their average rank (as
  ``scipy.stats.spearmanr``). A constant map has no ranking, so its correlation is NaN.
- SSIM (Wang et al. 2004): each map is normalised per sample by its largest absolute value and
  mapped to [0, 1] (data range 1): signed maps as ``(a / max|a| + 1) / 2``, so that 0.5 is "no
  relevance" and a map and its negative score near -1 (SSIM on signed data would multiply two
  negative factors into a positive score), absolute maps as ``|a| / max|a|``; the local
  statistics use a Gaussian window (sigma 1.5, at most 11 wide and never wider than the map) over
  the last two dimensions, leading per-sample dimensions (channels) averaged, or over the one
  dimension of 1-d maps. Only windows that fit inside the map are used ("valid").

References
----------
J. Adebayo et al., Sanity checks for saliency maps, NeurIPS 2018, arXiv:1810.03292.
Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, Image quality assessment: from error
visibility to structural similarity, IEEE Trans. Image Process. 13, 600 (2004),
doi:10.1109/TIP.2003.819861.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from .._validation import _shape, check_finite, check_positive_float, check_positive_int

__all__ = [
    "SIMILARITIES",
    "average_ranks",
    "pearson_correlation",
    "spearman_correlation",
    "structural_similarity",
]


def _check_pair(a: Any, b: Any, caller: str) -> tuple[Tensor, Tensor]:
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: {name} must be a torch.Tensor (n, *F); got {type(t).__name__}.")
        if not t.is_floating_point():
            raise ValueError(f"{caller}: {name} must be floating point; got dtype {t.dtype}.")
        if t.dim() < 2:
            raise ValueError(
                f"{caller}: {name} must be a batch of maps (n, *F) with at least one feature "
                f"dimension; got shape {_shape(t)}. For one map try {name}[None]."
            )
        check_finite(t, caller, name)
    if a.shape != b.shape:
        raise ValueError(f"{caller}: a and b must have one shape; got {_shape(a)} and {_shape(b)}.")
    if a.device != b.device:
        raise ValueError(f"{caller}: a and b must be on one device; got {a.device} and {b.device}.")
    return a.detach(), b.detach().to(a.dtype)


def average_ranks(values: Tensor) -> Tensor:
    """Ranks 1..m along dim 1 of ``(n, m)``, tied values sharing their average rank."""
    n, m = values.shape
    sorted_values, order = torch.sort(values, dim=1, stable=True)
    new_group = torch.ones(n, m, dtype=torch.long, device=values.device)
    new_group[:, 1:] = (sorted_values[:, 1:] != sorted_values[:, :-1]).long()
    group = new_group.cumsum(dim=1) - 1  # tie group of each sorted position, 0-based per row
    position = torch.arange(1, m + 1, dtype=values.dtype, device=values.device).expand(n, m)
    first = torch.full((n, m), float(m + 1), dtype=values.dtype, device=values.device)
    last = torch.zeros(n, m, dtype=values.dtype, device=values.device)
    first = first.scatter_reduce(1, group, position, reduce="amin")
    last = last.scatter_reduce(1, group, position, reduce="amax")
    sorted_ranks = 0.5 * (first.gather(1, group) + last.gather(1, group))
    return torch.empty_like(sorted_ranks).scatter_(1, order, sorted_ranks)


def _pearson_rows(x: Tensor, y: Tensor) -> Tensor:
    x = x - x.mean(dim=1, keepdim=True)
    y = y - y.mean(dim=1, keepdim=True)
    denominator = torch.sqrt((x * x).sum(dim=1) * (y * y).sum(dim=1))
    numerator = (x * y).sum(dim=1)
    out = numerator / denominator
    return torch.where(denominator > 0, out, torch.full_like(out, float("nan")))


def pearson_correlation(a: Tensor, b: Tensor, *, absolute: bool = False) -> Tensor:
    """Pearson correlation of two maps per sample.

    Parameters
    ----------
    a, b : Tensor, shape ``(n, *F)``
        Two batches of maps.
    absolute : bool, default False
        Correlate ``|a|`` and ``|b|`` (sign-agnostic).

    Returns
    -------
    Tensor, shape ``(n,)``
        Correlations in [-1, 1]; NaN where a map is constant.

    Raises
    ------
    TypeError, ValueError
        For non-tensors, non-float dtypes, shapes that differ or have no feature dimension.
    """
    a, b = _check_pair(a, b, "pearson_correlation")
    if absolute:
        a, b = a.abs(), b.abs()
    return _pearson_rows(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1))


def spearman_correlation(a: Tensor, b: Tensor, *, absolute: bool = False) -> Tensor:
    """Spearman rank correlation of two maps per sample (ties get their average rank).

    Parameters
    ----------
    a, b : Tensor, shape ``(n, *F)``
        Two batches of maps.
    absolute : bool, default False
        Rank ``|a|`` and ``|b|``: a map and its negative then correlate perfectly.

    Returns
    -------
    Tensor, shape ``(n,)``
        Rank correlations in [-1, 1]; NaN where a map is constant.

    Raises
    ------
    TypeError, ValueError
        For non-tensors, non-float dtypes, shapes that differ or have no feature dimension.

    Examples
    --------
    >>> import torch
    >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    >>> spearman_correlation(a, -a), spearman_correlation(a, -a, absolute=True)
    (tensor([-1.]), tensor([1.]))
    """
    a, b = _check_pair(a, b, "spearman_correlation")
    if absolute:
        a, b = a.abs(), b.abs()
    ra = average_ranks(a.reshape(a.shape[0], -1))
    rb = average_ranks(b.reshape(b.shape[0], -1))
    return _pearson_rows(ra, rb)


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def structural_similarity(
    a: Tensor, b: Tensor, *, absolute: bool = False, sigma: float = 1.5, window_size: int = 11
) -> Tensor:
    """Mean structural similarity (SSIM) of two maps per sample, with a Gaussian window.

    Parameters
    ----------
    a, b : Tensor, shape ``(n, *F)``
        Two batches of maps. Maps with two or more feature dimensions are compared over their
        last two (an image; leading feature dimensions are channels and averaged); 1-d maps
        ``(n, d)`` with a 1-d window.
    absolute : bool, default False
        Compare ``|a| / max|a|`` and ``|b| / max|b|`` instead of the signed maps mapped to
        [0, 1] as ``(a / max|a| + 1) / 2``; the data range is 1 either way.
    sigma : float, default 1.5
        Standard deviation of the Gaussian window, in pixels.
    window_size : int, default 11
        Largest window width; it shrinks to the largest odd width that fits the map.

    Returns
    -------
    Tensor, shape ``(n,)``
        SSIM averaged over window positions (and channels): 1 for identical maps.

    Raises
    ------
    TypeError, ValueError
        For non-tensors, non-float dtypes, shapes that differ or have no feature dimension, a
        non-positive ``sigma`` or ``window_size``.

    References
    ----------
    Wang et al. 2004, doi:10.1109/TIP.2003.819861 (constants K1 = 0.01, K2 = 0.03).
    """
    caller = "structural_similarity"
    a, b = _check_pair(a, b, caller)
    check_positive_float(sigma, caller, "sigma")
    check_positive_int(window_size, caller, "window_size")
    n = a.shape[0]

    def normalise(t: Tensor) -> Tensor:
        t = t.abs() if absolute else t
        scale = t.reshape(n, -1).abs().amax(dim=1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        t = t / scale.reshape(n, *([1] * (t.dim() - 1)))
        return t if absolute else 0.5 * (t + 1.0)

    a, b = normalise(a), normalise(b)
    c1, c2 = 0.01**2, 0.03**2  # K1, K2 of Wang et al. with data range 1

    if a.dim() >= 3:
        height, width = a.shape[-2], a.shape[-1]
        a = a.reshape(-1, 1, height, width)
        b = b.reshape(-1, 1, height, width)
        sizes = [min(window_size, s) for s in (height, width)]
        sizes = [s if s % 2 else s - 1 for s in sizes]
        wy = _gaussian_window(max(sizes[0], 1), sigma, a.dtype, a.device)
        wx = _gaussian_window(max(sizes[1], 1), sigma, a.dtype, a.device)
        kernel = (wy[:, None] * wx[None, :])[None, None]
        conv: Callable[[Tensor], Tensor] = lambda t: F.conv2d(t, kernel)
    else:
        length = a.shape[-1]
        a = a.reshape(n, 1, length)
        b = b.reshape(n, 1, length)
        size = min(window_size, length)
        size = size if size % 2 else size - 1
        kernel = _gaussian_window(max(size, 1), sigma, a.dtype, a.device)[None, None]
        conv = lambda t: F.conv1d(t, kernel)

    mu_a, mu_b = conv(a), conv(b)
    var_a = conv(a * a) - mu_a**2
    var_b = conv(b * b) - mu_b**2
    cov = conv(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.reshape(n, -1).mean(dim=1)


def _ssim_abs(a: Tensor, b: Tensor) -> Tensor:
    return structural_similarity(a, b, absolute=True)


def _spearman_abs(a: Tensor, b: Tensor) -> Tensor:
    return spearman_correlation(a, b, absolute=True)


#: name -> similarity(a, b) -> (n,), the names the sanity checks accept in ``similarities=``
SIMILARITIES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "spearman": spearman_correlation,
    "spearman_abs": _spearman_abs,
    "ssim": structural_similarity,
    "ssim_abs": _ssim_abs,
    "pearson": pearson_correlation,
}
