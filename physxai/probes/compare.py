"""Compare what a model learned with what physics knows, and locate transitions in curves.

A trained model hands us numbers per sample: a latent, a neuron's activation, a classifier's
output. Physics hands us known quantities per sample: the magnetisation, the energy, an invariant
such as ``s^2 = t^2 - x^2 - y^2 - z^2``. This module measures how much of one is in the other
(Pearson and Spearman correlations with Fisher-z confidence intervals, partial correlations that
remove a confounder, the R^2 of linear and polynomial fits, the Kraskov mutual information),
tabulates every (learned, known) pair at once (:func:`compare`), counts the clusters of a latent
by Gaussian mixtures and BIC (:func:`count_clusters`), and estimates where a curve over a control
parameter changes: the steepest change of a mean curve (:func:`steepest_change`, e.g. ``<|z|>(T)``
or the reconstruction loss of Wetzel 2017) or the crossing of a level (:func:`crossing`, e.g. a
classifier's ``P(ordered) = 0.5``), both with a bootstrap interval that resamples samples within
each parameter value.

Inputs may be numpy arrays, array-likes or torch tensors (detached and copied to the CPU as
float64); results are plain Python floats and numpy arrays in small frozen dataclasses.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy import stats
from sklearn.feature_selection import mutual_info_regression
from sklearn.mixture import GaussianMixture

__all__ = [
    "ClusterCount",
    "ComparisonRow",
    "ComparisonTable",
    "Correlation",
    "Transition",
    "compare",
    "count_clusters",
    "crossing",
    "mutual_information",
    "partial_correlation",
    "pearson",
    "r_squared",
    "spearman",
    "steepest_change",
]

#: standard error factor of the Fisher z of a Spearman rank correlation: sqrt(1.06 / (n - 3)),
#: Fieller, Hartley & Pearson, Biometrika 44, 470 (1957), doi:10.1093/biomet/44.3-4.470
_SPEARMAN_SE_FACTOR = 1.06

#: largest number of float64 entries one bootstrap chunk holds (about 32 MB)
_BOOTSTRAP_CHUNK = 4_000_000


# --------------------------------------------------------------------------------------------
# input checks


def _shape(a: np.ndarray) -> str:
    return "(" + ", ".join(str(s) for s in a.shape) + (",)" if a.ndim == 1 else ")")


def _as_array(x: Any, caller: str, name: str) -> np.ndarray:
    """A finite float64 copy of ``x`` (tensor or array-like); shapes are checked by the caller."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{caller}: {name} must be real; got a tensor of dtype {x.dtype}.")
        a = x.detach().cpu().to(torch.float64).numpy()
    else:
        try:
            a = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged lists and the like
            raise TypeError(
                f"{caller}: {name} must be a numpy array or a torch tensor; "
                f"got {type(x).__name__} ({err})."
            ) from None
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"{caller}: {name} must hold real numbers; got {type(x).__name__} with dtype {a.dtype}."
            )
        a = a.astype(np.float64)
    if a.ndim == 0 or a.shape[0] == 0:
        raise ValueError(
            f"{caller}: {name} must have a non-empty sample dimension first; got shape {_shape(a)}."
        )
    bad = ~np.isfinite(a)
    if bad.any():
        n_nan = int(np.isnan(a).sum())
        raise ValueError(
            f"{caller}: {name} must be finite; got {n_nan} NaN and {int(bad.sum()) - n_nan} "
            f"infinite entries in an array of shape {_shape(a)}."
        )
    return a


def _column(x: Any, caller: str, name: str, allow_column: bool) -> np.ndarray:
    """``x`` as a 1-d array; ``(n, 1)`` is accepted when ``allow_column``."""
    a = _as_array(x, caller, name)
    if a.ndim == 2 and a.shape[1] == 1 and allow_column:
        return a[:, 0]
    if a.ndim != 1:
        want = "(n,) or (n, 1)" if allow_column else "(n,)"
        hint = " Compare several columns with compare()." if a.ndim == 2 else ""
        if not allow_column and a.ndim == 2 and a.shape[1] == 1:
            hint = f" Try {name}[:, 0]."
        raise ValueError(f"{caller}: {name} must have shape {want}; got shape {_shape(a)}.{hint}")
    return a


def _matrix(x: Any, caller: str, name: str) -> np.ndarray:
    """``x`` as a 2-d array ``(n, c)``; a 1-d array becomes one column."""
    a = _as_array(x, caller, name)
    if a.ndim == 1:
        return a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{caller}: {name} must have shape (n,) or (n, c); got shape {_shape(a)}.")
    return a


def _same_length(caller: str, **arrays: np.ndarray) -> None:
    names = list(arrays)
    first = arrays[names[0]]
    for other in names[1:]:
        if arrays[other].shape[0] != first.shape[0]:
            raise ValueError(
                f"{caller}: {names[0]} and {other} must have the same number of samples; "
                f"got shapes {_shape(first)} and {_shape(arrays[other])}."
            )


def _not_constant(
    a: np.ndarray, caller: str, name: str, labels: Sequence[str] | None = None
) -> None:
    cols = a[:, None] if a.ndim == 1 else a
    for j in range(cols.shape[1]):
        if np.all(cols[:, j] == cols[0, j]):
            label = labels[j] if labels is not None else str(j)
            raise ValueError(
                f"{caller}: {name} is constant (column {label}); a correlation or a fit with a "
                "constant is undefined. Drop that column (a dead unit carries no information)."
            )


def _check_confidence(confidence: Any, caller: str) -> float:
    ok = isinstance(confidence, (int, float)) and not isinstance(confidence, bool)
    if not ok or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"{caller}: confidence must be a float in (0, 1); got {confidence!r}.")
    return float(confidence)


def _check_int(value: Any, caller: str, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _check_method(method: Any, caller: str) -> str:
    if method not in ("pearson", "spearman"):
        raise ValueError(f"{caller}: method must be 'pearson' or 'spearman'; got {method!r}.")
    return method


# --------------------------------------------------------------------------------------------
# correlations


@dataclass(frozen=True)
class Correlation:
    """A correlation coefficient with its confidence interval and two-sided p-value.

    Attributes
    ----------
    value : float
        The coefficient in [-1, 1].
    low, high : float
        The ``confidence`` interval from the Fisher z transform.
    p_value : float
        Two-sided p-value of the null hypothesis of no correlation (t test with the residual
        degrees of freedom, as :func:`scipy.stats.pearsonr` and :func:`scipy.stats.spearmanr`).
    method : str
        ``"pearson"``, ``"spearman"``, ``"partial_pearson"`` or ``"partial_spearman"``.
    n : int
        Number of samples.
    confidence : float
        Coverage of ``[low, high]``, e.g. 0.95.
    """

    value: float
    low: float
    high: float
    p_value: float
    method: str
    n: int
    confidence: float

    def __str__(self) -> str:
        symbol = "rho" if self.method.endswith("spearman") else "r"
        name = self.method.replace("_", " ")
        return (
            f"{name} {symbol} = {self.value:+.4f} [{self.low:+.4f}, {self.high:+.4f}] "
            f"({100 * self.confidence:g}% CI), p = {self.p_value:.3g}, n = {self.n}"
        )


def _residual_correlation(x: np.ndarray, y: np.ndarray) -> float:
    xm, ym = x - x.mean(), y - y.mean()
    # sqrt of the product (not a product of square roots) keeps r(x, x) == 1 exactly
    r = float(np.dot(xm, ym) / math.sqrt(float(np.dot(xm, xm)) * float(np.dot(ym, ym))))
    return min(1.0, max(-1.0, r))


def _interval(
    r: float, n: int, dof: int, se_factor: float, confidence: float, method: str
) -> Correlation:
    """Fisher z interval ``tanh(atanh r +- q sqrt(se_factor / dof_z))`` and the t-test p-value.

    ``dof`` is the t-test's degrees of freedom (n - 2 - n_controls); the Fisher z standard error
    uses ``dof - 1`` (n - 3 - n_controls). Fisher, Biometrika 10, 507 (1915).
    """
    q = float(stats.norm.ppf(0.5 + confidence / 2))
    se = math.sqrt(se_factor / (dof - 1))
    if abs(r) >= 1.0:
        low = high = r
        p = 0.0
    else:
        z = math.atanh(r)
        low, high = math.tanh(z - q * se), math.tanh(z + q * se)
        t = r * math.sqrt(dof / ((1.0 - r) * (1.0 + r)))
        p = float(2.0 * stats.t.sf(abs(t), dof))
    return Correlation(float(r), float(low), float(high), p, method, int(n), confidence)


def _pair(learned: Any, known: Any, caller: str) -> tuple[np.ndarray, np.ndarray]:
    x = _column(learned, caller, "learned", allow_column=True)
    y = _column(known, caller, "known", allow_column=False)
    _same_length(caller, learned=x, known=y)
    return x, y


def _check_n(n: int, n_controls: int, caller: str) -> None:
    if n - n_controls <= 3:
        need = 4 + n_controls
        extra = f" with {n_controls} control(s)" if n_controls else ""
        raise ValueError(
            f"{caller}: a Fisher-z confidence interval{extra} needs at least {need} samples; "
            f"got n = {n}."
        )


def pearson(learned: Any, known: Any, *, confidence: float = 0.95) -> Correlation:
    """Pearson's linear correlation of a learned quantity with a known one.

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, 1)
        What the model learned per sample (a latent, a neuron, an output).
    known : array or Tensor, shape (n,)
        A known physical quantity per sample (magnetisation, energy, an invariant).
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    Correlation
        ``r``, its Fisher-z interval ``tanh(atanh r +- z_q / sqrt(n - 3))`` and the two-sided
        p-value (t test with n - 2 degrees of freedom).

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, a constant input, ``n <= 3``, a ``known`` that is
        not 1-d, or ``confidence`` outside (0, 1).

    References
    ----------
    R. A. Fisher, Biometrika 10, 507 (1915), doi:10.2307/2331838.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> round(pearson(2 * x + 1, x).value, 12)
    1.0
    """
    caller = "pearson"
    confidence = _check_confidence(confidence, caller)
    x, y = _pair(learned, known, caller)
    _not_constant(x, caller, "learned")
    _not_constant(y, caller, "known")
    _check_n(x.size, 0, caller)
    return _interval(_residual_correlation(x, y), x.size, x.size - 2, 1.0, confidence, "pearson")


def spearman(learned: Any, known: Any, *, confidence: float = 0.95) -> Correlation:
    """Spearman's rank correlation (Pearson's r of the ranks, ties averaged).

    Invariant under any strictly monotone map of either argument, so it measures whether the
    learned quantity is *a function* of the known one, not whether it is linear in it.

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, 1)
        What the model learned per sample.
    known : array or Tensor, shape (n,)
        A known physical quantity per sample.
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    Correlation
        ``rho``, its Fisher-z interval with the standard error ``sqrt(1.06 / (n - 3))`` of
        Fieller, Hartley and Pearson, and the two-sided p-value of :func:`scipy.stats.spearmanr`
        (t test on the ranks with n - 2 degrees of freedom).

    Raises
    ------
    ValueError
        As :func:`pearson`.

    References
    ----------
    C. Spearman, Am. J. Psychol. 15, 72 (1904), doi:10.2307/1412159; E. C. Fieller,
    H. O. Hartley, E. S. Pearson, Biometrika 44, 470 (1957), doi:10.1093/biomet/44.3-4.470.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.1, 3.0, 20)
    >>> spearman(np.exp(x), x).value
    1.0
    """
    caller = "spearman"
    confidence = _check_confidence(confidence, caller)
    x, y = _pair(learned, known, caller)
    _not_constant(x, caller, "learned")
    _not_constant(y, caller, "known")
    _check_n(x.size, 0, caller)
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    r = _residual_correlation(rx, ry)
    return _interval(r, x.size, x.size - 2, _SPEARMAN_SE_FACTOR, confidence, "spearman")


def _residualise(v: np.ndarray, design: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    return v - design @ coef


def partial_correlation(
    learned: Any,
    known: Any,
    controls: Any,
    *,
    method: str = "pearson",
    confidence: float = 0.95,
) -> Correlation:
    """Correlation of ``learned`` and ``known`` with the linear effect of ``controls`` removed.

    Both are regressed on ``[1, controls]`` by least squares and the residuals are correlated.
    With ``method="spearman"`` every variable (controls included) is replaced by its ranks first.
    For one control this equals ``(r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))``.
    Use it when one latent may mix two quantities (energy and angular momentum): the partial
    correlation with one, controlling for the other, says what the latent adds beyond it.

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, 1)
        What the model learned per sample.
    known : array or Tensor, shape (n,)
        A known physical quantity per sample.
    controls : array or Tensor, shape (n,) or (n, c)
        Quantities whose (linear, or rank-linear) effect is removed from both.
    method : {"pearson", "spearman"}
        Correlation of the residuals of values or of ranks.
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    Correlation
        Method ``"partial_pearson"`` or ``"partial_spearman"``; the interval and the p-value use
        ``n - c - 3`` and ``n - c - 2`` degrees of freedom.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, constant columns (in ``controls`` a constant is
        redundant with the intercept), ``n <= c + 3``, an unknown ``method``, a bad
        ``confidence``, or a ``learned`` or ``known`` that ``controls`` explain completely.

    References
    ----------
    K. Baba, R. Shibata, M. Sibuya, Aust. N. Z. J. Stat. 46, 657 (2004),
    doi:10.1111/j.1467-842X.2004.00360.x.
    """
    caller = "partial_correlation"
    method = _check_method(method, caller)
    confidence = _check_confidence(confidence, caller)
    x, y = _pair(learned, known, caller)
    z = _matrix(controls, caller, "controls")
    _same_length(caller, learned=x, controls=z)
    _not_constant(x, caller, "learned")
    _not_constant(y, caller, "known")
    _not_constant(z, caller, "controls")
    n, c = z.shape
    _check_n(n, c, caller)
    if method == "spearman":
        x, y = stats.rankdata(x), stats.rankdata(y)
        z = np.column_stack([stats.rankdata(z[:, j]) for j in range(c)])
    design = np.column_stack([np.ones(n), z - z.mean(axis=0)])
    rx, ry = _residualise(x, design), _residualise(y, design)
    for name, v, r in (("learned", x, rx), ("known", y, ry)):
        # a residual at rounding level means controls explain the variable exactly
        if float(np.dot(r, r)) <= 1e-24 * float(np.dot(v - v.mean(), v - v.mean())):
            raise ValueError(
                f"{caller}: {name} is a linear function of controls, so nothing is left to "
                "correlate after removing them; drop that control."
            )
    se_factor = _SPEARMAN_SE_FACTOR if method == "spearman" else 1.0
    return _interval(
        _residual_correlation(rx, ry), n, n - 2 - c, se_factor, confidence, f"partial_{method}"
    )


# --------------------------------------------------------------------------------------------
# fits and information


def _polynomial_basis(known: np.ndarray, degree: int) -> np.ndarray:
    """Design matrix (n, p) of all monomials up to ``degree`` in the standardised columns.

    One column uses Legendre polynomials of ``known`` mapped onto [-1, 1], which stay well
    conditioned at high degree; several columns use monomials of the z-scored columns.
    """
    n, c = known.shape
    if c == 1:
        k = known[:, 0]
        lo, hi = k.min(), k.max()
        u = (2.0 * k - (lo + hi)) / (hi - lo)
        return np.polynomial.legendre.legvander(u, degree)
    zs = (known - known.mean(axis=0)) / known.std(axis=0)
    cols = [np.ones(n)]
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(c), d):
            cols.append(np.prod(zs[:, list(combo)], axis=1))
    return np.column_stack(cols)


def _r2(y: np.ndarray, design: np.ndarray) -> float:
    resid = _residualise(y, design)
    ym = y - y.mean()
    # least squares with an intercept gives 0 <= R^2 <= 1; clamp the rounding at either end
    return min(1.0, max(0.0, float(1.0 - np.dot(resid, resid) / np.dot(ym, ym))))


def r_squared(learned: Any, known: Any, *, degree: int = 1) -> float:
    """R^2 of the least-squares polynomial fit of ``learned`` as a function of ``known``.

    ``R^2 = 1 - sum (y - y_fit)^2 / sum (y - mean y)^2``: the fraction of the learned quantity's
    variance that a polynomial of the known quantity explains. ``degree=1`` is the linear fit
    (``R^2 = r^2``); with ``known`` of shape ``(n, c)`` it is multiple linear regression and
    ``degree > 1`` uses every monomial of total degree <= ``degree``.

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, 1)
        What the model learned per sample (the fitted variable).
    known : array or Tensor, shape (n,) or (n, c)
        The known quantity or quantities (the regressors).
    degree : int
        Polynomial degree, >= 1.

    Returns
    -------
    float
        R^2 in [0, 1] (up to rounding).

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, constant columns, ``degree < 1``, or no more
        samples than fit parameters.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1.0, 1.0, 21)
    >>> round(r_squared(x**2, x, degree=1), 6), round(r_squared(x**2, x, degree=2), 6)
    (0.0, 1.0)
    """
    caller = "r_squared"
    degree = _check_int(degree, caller, "degree", 1)
    y = _column(learned, caller, "learned", allow_column=True)
    k = _matrix(known, caller, "known")
    _same_length(caller, learned=y, known=k)
    _not_constant(y, caller, "learned")
    _not_constant(k, caller, "known")
    n, c = k.shape
    n_parameters = math.comb(c + degree, degree)
    if n <= n_parameters:
        raise ValueError(
            f"{caller}: a degree-{degree} fit in {c} variable(s) has {n_parameters} parameters "
            f"and needs more samples than that; got n = {n}."
        )
    return _r2(y, _polynomial_basis(k, degree))


def mutual_information(learned: Any, known: Any, *, n_neighbors: int = 3, seed: int = 0) -> float:
    """Mutual information I(learned; known) in nats, by the Kraskov k-nearest-neighbour estimator.

    Catches any dependence, not only monotone ones (a latent that encodes ``|M|`` has zero
    Pearson r with ``M`` but large mutual information). For a bivariate Gaussian with correlation
    rho, ``I = -ln(1 - rho^2) / 2``. Uses :func:`sklearn.feature_selection.mutual_info_regression`
    (both variables scaled to unit variance, with a 1e-10 jitter drawn from ``seed``).

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, 1)
        What the model learned per sample.
    known : array or Tensor, shape (n,)
        A known quantity per sample.
    n_neighbors : int
        k of the estimator (3 is the recommendation of Kraskov et al.); must be < n.
    seed : int
        Seed of the jitter that breaks ties.

    Returns
    -------
    float
        The estimate, >= 0.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, constant inputs, a ``known`` that is not 1-d, or
        ``n_neighbors`` outside [1, n).

    References
    ----------
    A. Kraskov, H. Stoegbauer, P. Grassberger, Phys. Rev. E 69, 066138 (2004),
    doi:10.1103/PhysRevE.69.066138, arXiv:cond-mat/0305641.
    """
    caller = "mutual_information"
    n_neighbors = _check_int(n_neighbors, caller, "n_neighbors", 1)
    seed = _check_int(seed, caller, "seed", 0)
    x, y = _pair(learned, known, caller)
    _not_constant(x, caller, "learned")
    _not_constant(y, caller, "known")
    if n_neighbors >= x.size:
        raise ValueError(
            f"{caller}: n_neighbors must be smaller than the number of samples ({x.size}); "
            f"got {n_neighbors}."
        )
    mi = mutual_info_regression(
        y[:, None], x, discrete_features=False, n_neighbors=n_neighbors, random_state=seed
    )
    return max(0.0, float(mi[0]))


# --------------------------------------------------------------------------------------------
# the comparison table


@dataclass(frozen=True)
class ComparisonRow:
    """One (learned column, known quantity) pair of a :class:`ComparisonTable`.

    Attributes
    ----------
    learned, known : str
        The names of the pair.
    pearson, spearman : Correlation
        Correlations with intervals.
    r2_linear : float
        R^2 of the linear fit of the learned column on the known quantity.
    r2_poly : float
        R^2 of the polynomial fit of degree ``degree``.
    mutual_information : float or None
        Kraskov estimate in nats (None when not computed).
    degree : int
        Degree of ``r2_poly``.
    """

    learned: str
    known: str
    pearson: Correlation
    spearman: Correlation
    r2_linear: float
    r2_poly: float
    mutual_information: float | None
    degree: int

    def to_dict(self) -> dict[str, float]:
        """Flat floats keyed ``"<learned>~<known>/<metric>"``."""
        key = f"{self.learned}~{self.known}/"
        out: dict[str, float] = {}
        for name, corr in (("pearson", self.pearson), ("spearman", self.spearman)):
            out[key + name] = corr.value
            out[key + name + "_low"] = corr.low
            out[key + name + "_high"] = corr.high
            out[key + name + "_p"] = corr.p_value
        out[key + "r2_linear"] = self.r2_linear
        out[key + "r2_poly"] = self.r2_poly
        if self.mutual_information is not None:
            out[key + "mutual_information"] = self.mutual_information
        return out


@dataclass(frozen=True)
class ComparisonTable:
    """Every (learned column, known quantity) pair with correlations, fits and information.

    Attributes
    ----------
    rows : tuple of ComparisonRow
        One row per pair, learned columns outermost, in input order.
    learned_names, known_names : tuple of str
        Names of the learned columns and of the known quantities.
    degree : int
        Degree of the polynomial R^2.
    confidence : float
        Coverage of the correlation intervals.
    """

    rows: tuple[ComparisonRow, ...]
    learned_names: tuple[str, ...]
    known_names: tuple[str, ...]
    degree: int
    confidence: float

    def row(self, learned: str, known: str) -> ComparisonRow:
        """The row of one pair.

        Raises
        ------
        ValueError
            When either name is not in the table.
        """
        for r in self.rows:
            if r.learned == learned and r.known == known:
                return r
        raise ValueError(
            f"ComparisonTable.row: no pair ({learned!r}, {known!r}); learned names are "
            f"{list(self.learned_names)} and known names {list(self.known_names)}."
        )

    def best(self, known_name: str) -> str:
        """The learned column with the largest ``|spearman|`` against ``known_name``.

        Raises
        ------
        ValueError
            When ``known_name`` is not in the table.
        """
        if known_name not in self.known_names:
            raise ValueError(
                f"ComparisonTable.best: known_name must be one of {list(self.known_names)}; "
                f"got {known_name!r}."
            )
        rows = [r for r in self.rows if r.known == known_name]
        return max(rows, key=lambda r: abs(r.spearman.value)).learned

    def to_dict(self) -> dict[str, float]:
        """Flat floats, e.g. ``{"z0~magnetization/pearson": 0.98, ...}``, for metrics files.

        Keys per pair: ``pearson``, ``pearson_low``, ``pearson_high``, ``pearson_p``, the same
        four for ``spearman``, ``r2_linear``, ``r2_poly`` and (when computed) ``mutual_information``.
        """
        out: dict[str, float] = {}
        for r in self.rows:
            out.update(r.to_dict())
        return out

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        head = [
            "learned",
            "known",
            f"pearson [{pct} CI]",
            f"spearman [{pct} CI]",
            "R2 lin",
            f"R2 deg{self.degree}",
        ]
        has_mi = any(r.mutual_information is not None for r in self.rows)
        if has_mi:
            head.append("MI/nats")
        body = []
        for r in self.rows:
            cells = [
                r.learned,
                r.known,
                f"{r.pearson.value:+.3f} [{r.pearson.low:+.3f}, {r.pearson.high:+.3f}]",
                f"{r.spearman.value:+.3f} [{r.spearman.low:+.3f}, {r.spearman.high:+.3f}]",
                f"{r.r2_linear:.3f}",
                f"{r.r2_poly:.3f}",
            ]
            if has_mi:
                mi = r.mutual_information
                cells.append("-" if mi is None else f"{mi:.3f}")
            body.append(cells)
        widths = [max(len(row[j]) for row in [head, *body]) for j in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]
        ]
        return "\n".join(lines)


def compare(
    learned: Any,
    known: Mapping[str, Any],
    *,
    learned_names: Sequence[str] | None = None,
    degree: int = 3,
    confidence: float = 0.95,
    mutual_info: bool = True,
    seed: int = 0,
) -> ComparisonTable:
    """Compare every learned column with every known quantity.

    Parameters
    ----------
    learned : array or Tensor, shape (n,) or (n, k)
        What the model learned per sample: k latents or neurons.
    known : mapping of str to array or Tensor, shape (n,)
        Known physical quantities by name, e.g. ``{"magnetization": m, "energy": e}``.
    learned_names : sequence of str, optional
        Names of the k learned columns; default ``"z0", "z1", ...``.
    degree : int
        Degree of the polynomial fit reported as ``r2_poly`` (>= 1).
    confidence : float
        Coverage of the correlation intervals, in (0, 1).
    mutual_info : bool
        Also estimate the mutual information (the slowest column: a kNN search per pair).
    seed : int
        Seed of the mutual-information jitter.

    Returns
    -------
    ComparisonTable
        One row per pair; ``str(table)`` prints it aligned, ``table.to_dict()`` flattens it and
        ``table.best("magnetization")`` names the most correlated learned column.

    Raises
    ------
    ValueError
        As the single-pair functions (naming the column), an empty ``known``, or
        ``learned_names`` of the wrong length or with repeats.
    TypeError
        When ``known`` is not a mapping.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = rng.normal(size=200)
    >>> z = np.column_stack([3 * m + 0.1 * rng.normal(size=200), rng.normal(size=200)])
    >>> compare(z, {"magnetization": m}, mutual_info=False).best("magnetization")
    'z0'
    """
    caller = "compare"
    degree = _check_int(degree, caller, "degree", 1)
    confidence = _check_confidence(confidence, caller)
    seed = _check_int(seed, caller, "seed", 0)
    z = _matrix(learned, caller, "learned")
    n, k = z.shape
    if learned_names is None:
        names = tuple(f"z{j}" for j in range(k))
    else:
        names = tuple(str(s) for s in learned_names)
        if len(names) != k or len(set(names)) != k:
            raise ValueError(
                f"{caller}: learned_names must be {k} distinct names, one per column of learned "
                f"(shape {_shape(z)}); got {len(names)} names ({len(set(names))} distinct)."
            )
    if not isinstance(known, Mapping):
        raise TypeError(
            f"{caller}: known must be a mapping name -> array of shape ({n},); "
            f"got {type(known).__name__}. Try known={{'magnetization': m}}."
        )
    if len(known) == 0:
        raise ValueError(f"{caller}: known must name at least one quantity; got an empty mapping.")
    _not_constant(z, caller, "learned", labels=names)
    quantities: dict[str, np.ndarray] = {}
    for key, value in known.items():
        label = f"known[{key!r}]"
        q = _column(value, caller, label, allow_column=False)
        _same_length(caller, learned=z, **{label: q})
        _not_constant(q, caller, label)
        quantities[str(key)] = q
    _check_n(n, 0, caller)
    if n <= degree + 1:
        raise ValueError(
            f"{caller}: a degree-{degree} fit needs more than {degree + 1} samples; got n = {n}."
        )
    if mutual_info and n <= 3:
        raise ValueError(
            f"{caller}: the mutual information needs more than 3 samples; got n = {n}."
        )
    rows = []
    for j, lname in enumerate(names):
        x = z[:, j]
        rx = stats.rankdata(x)
        for kname, y in quantities.items():
            r = _residual_correlation(x, y)
            rho = _residual_correlation(rx, stats.rankdata(y))
            mi = None
            if mutual_info:
                mi = mutual_information(x, y, seed=seed)
            rows.append(
                ComparisonRow(
                    learned=lname,
                    known=kname,
                    pearson=_interval(r, n, n - 2, 1.0, confidence, "pearson"),
                    spearman=_interval(rho, n, n - 2, _SPEARMAN_SE_FACTOR, confidence, "spearman"),
                    r2_linear=_r2(x, _polynomial_basis(y[:, None], 1)),
                    r2_poly=_r2(x, _polynomial_basis(y[:, None], degree)),
                    mutual_information=mi,
                    degree=degree,
                )
            )
    return ComparisonTable(tuple(rows), names, tuple(quantities), degree, confidence)


# --------------------------------------------------------------------------------------------
# transitions


@dataclass(frozen=True, eq=False)
class Transition:
    """A transition point estimated from a curve over a control parameter.

    Attributes
    ----------
    estimate : float
        The estimate T*, in parameter units.
    low, high : float
        Percentile-bootstrap interval (NaN when ``n_bootstrap`` is 0 or every replicate failed).
    confidence : float
        Coverage of ``[low, high]``.
    method : str
        ``"steepest_change"`` or ``"crossing"``.
    parameters : ndarray, shape (g,)
        The sorted distinct parameter values (the grid).
    curve : ndarray, shape (g,)
        Mean of the values at each grid point (before any smoothing).
    derivative : ndarray, shape (g,) or None
        For ``steepest_change``: dC/dT of the (smoothed) mean curve on the grid. None for
        ``crossing``.
    n_bootstrap : int
        Bootstrap replicates drawn.
    n_dropped : int
        Replicates that gave no estimate (a bootstrap curve that never crosses the level).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    parameters: np.ndarray
    curve: np.ndarray
    derivative: np.ndarray | None
    n_bootstrap: int
    n_dropped: int = 0

    def __str__(self) -> str:
        kind = self.method.replace("_", " ")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return f"T* = {self.estimate:.4g} ({kind}, no bootstrap interval)"
        width = self.high - self.low
        # two significant digits of the interval width decide the decimals shown
        decimals = 4 if width <= 0 else max(0, 1 - math.floor(math.log10(width)))
        f = f".{decimals}f"
        return (
            f"T* = {self.estimate:{f}} [{self.low:{f}}, {self.high:{f}}] "
            f"({100 * self.confidence:g}%, {kind})"
        )


class _Grid:
    """Samples grouped by distinct parameter value, contiguous in ``values``."""

    def __init__(self, parameter: np.ndarray, values: np.ndarray):
        self.parameters, inverse = np.unique(parameter, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        self.values = values[order]
        self.counts = np.bincount(inverse, minlength=self.parameters.size)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.curve = np.add.reduceat(self.values, self.starts) / self.counts

    def bootstrap(self, n_bootstrap: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """Mean curves ``(b, g)`` of resamples drawn with replacement within each grid point."""
        n = self.values.size
        slot_start = np.repeat(self.starts, self.counts)
        slot_count = np.repeat(self.counts, self.counts)
        chunk = max(1, _BOOTSTRAP_CHUNK // n)
        for first in range(0, n_bootstrap, chunk):
            b = min(chunk, n_bootstrap - first)
            idx = slot_start + rng.integers(0, slot_count, size=(b, n))
            yield np.add.reduceat(self.values[idx], self.starts, axis=1) / self.counts


def _transition_inputs(
    parameter: Any, values: Any, caller: str, min_distinct: int
) -> tuple[np.ndarray, np.ndarray]:
    t = _column(parameter, caller, "parameter", allow_column=False)
    v = _column(values, caller, "values", allow_column=False)
    _same_length(caller, parameter=t, values=v)
    n_distinct = np.unique(t).size
    if n_distinct < min_distinct:
        raise ValueError(
            f"{caller}: parameter must take at least {min_distinct} distinct values (the grid "
            f"of the curve); got {n_distinct}."
        )
    return t, v


def _interval_from(estimates: np.ndarray, confidence: float) -> tuple[float, float]:
    if estimates.size == 0:
        return math.nan, math.nan
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def _steepest(curves: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """argmax |dC/dT| per row of ``curves`` (b, g), refined by a parabola through the peak and
    its two neighbours; returns the estimates (b,) and the derivatives (b, g)."""
    # second-order differences on a non-uniform grid (np.gradient with coordinates)
    deriv = np.gradient(curves, grid, axis=1, edge_order=2)
    a = np.abs(deriv)
    # The peak is searched among interior points only: the one-sided second-order differences
    # at the two ends carry about 3.6 times the noise of a central difference (coefficients
    # -3/2, 2, -1/2 against +-1/2), and a peak at an end is not bracketed by the grid anyway.
    j = 1 + np.argmax(a[:, 1:-1], axis=1)
    rows = np.arange(curves.shape[0])
    x0, x1, x2 = grid[j - 1], grid[j], grid[j + 1]
    y0, y1, y2 = a[rows, j - 1], a[rows, j], a[rows, j + 1]
    # Newton divided differences: p'(x) = f01 + f012 (2x - x0 - x1) = 0 at the vertex
    f01 = (y1 - y0) / (x1 - x0)
    f12 = (y2 - y1) / (x2 - x1)
    f012 = (f12 - f01) / (x2 - x0)
    concave = f012 < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex = 0.5 * (x0 + x1) - f01 / (2.0 * f012)
    # a peak that is no higher than a neighbour (an end of the interior) is not refined
    return np.clip(np.where(concave, vertex, x1), x0, x2), deriv


def _smoother(grid: np.ndarray, width: float) -> np.ndarray | None:
    """Row-normalised Gaussian weights (g, g) in parameter units (Nadaraya-Watson smoothing)."""
    if width == 0:
        return None
    w = np.exp(-0.5 * ((grid[:, None] - grid[None, :]) / width) ** 2)
    return w / w.sum(axis=1, keepdims=True)


def steepest_change(
    parameter: Any,
    values: Any,
    *,
    absolute: bool = False,
    smoothing: float = 0.0,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Transition:
    """Where the mean of ``values`` changes fastest with ``parameter``: T* = argmax |dC/dT|.

    The values are averaged over the samples at each distinct parameter value into a curve
    ``C(T)``; optionally smoothed by a Gaussian kernel of width ``smoothing`` (parameter units);
    differentiated by second-order finite differences on the (possibly non-uniform) grid; and the
    grid point of largest ``|dC/dT|`` is refined by the vertex of the parabola through it and its
    two neighbours. Only interior grid points are candidates (one-sided differences at the ends
    are much noisier, and a peak there is not bracketed), so T* lies strictly inside the grid.
    The interval is a percentile bootstrap that resamples the samples within each parameter
    value, so that a temperature with few samples contributes its own noise.

    Finite differences divide the noise of the means by the grid spacing: a grid with nearly
    coincident values (say 2.24 and 2.25 amid a spacing of 0.04) makes a spurious peak there;
    use a grid without such pairs or ``smoothing`` of about the spacing. The bootstrap
    interval measures the spread of T* around the observed curve; it does not include the
    discretisation bias of the grid, and for a step much sharper than the spacing it cannot be
    narrower than about two spacings until the noise is small (T* stays between the neighbours
    of the peak).

    Wetzel 2017 proposes the steepest change of ``<|z|>(T)`` and of the reconstruction loss as
    estimates of T_c.

    Parameters
    ----------
    parameter : array or Tensor, shape (n,)
        Control value per sample (e.g. temperature); repeated values are samples at one T.
    values : array or Tensor, shape (n,)
        Per-sample quantity (a latent, |z|, a reconstruction loss).
    absolute : bool
        Use ``|values|`` (a latent whose sign is a Z2 choice).
    smoothing : float
        Gaussian kernel width in parameter units; 0 means no smoothing.
    n_bootstrap : int
        Bootstrap replicates (0: no interval).
    confidence : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    Transition
        ``method="steepest_change"``, with the grid, the mean curve and the derivative.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, arrays that are not 1-d, fewer than 3 distinct
        parameter values, a negative ``smoothing`` or ``n_bootstrap``, a bad ``confidence``.

    References
    ----------
    S. J. Wetzel, Phys. Rev. E 96, 022140 (2017), arXiv:1703.02435; B. Efron, R. Tibshirani,
    An Introduction to the Bootstrap (Chapman & Hall, 1993), ch. 13.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.repeat(np.linspace(1.0, 3.5, 26), 10)
    >>> round(steepest_change(t, -np.tanh((t - 2.3) / 0.2), n_bootstrap=0).estimate, 2)
    2.3
    """
    caller = "steepest_change"
    confidence = _check_confidence(confidence, caller)
    n_bootstrap = _check_int(n_bootstrap, caller, "n_bootstrap", 0)
    seed = _check_int(seed, caller, "seed", 0)
    ok = isinstance(smoothing, (int, float)) and not isinstance(smoothing, bool)
    if not ok or not math.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"{caller}: smoothing must be a finite number >= 0; got {smoothing!r}.")
    smoothing = float(smoothing)
    t, v = _transition_inputs(parameter, values, caller, 3)
    if absolute:
        v = np.abs(v)
    grid = _Grid(t, v)
    smooth = _smoother(grid.parameters, smoothing)

    def estimate(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if smooth is not None:
            curves = curves @ smooth.T
        return _steepest(curves, grid.parameters)

    est, deriv = estimate(grid.curve[None, :])
    rng = np.random.default_rng(seed)
    boot = [estimate(curves)[0] for curves in grid.bootstrap(n_bootstrap, rng)]
    low, high = _interval_from(np.concatenate(boot) if boot else np.empty(0), confidence)
    return Transition(
        estimate=float(est[0]),
        low=low,
        high=high,
        confidence=confidence,
        method="steepest_change",
        parameters=_frozen(grid.parameters),
        curve=_frozen(grid.curve),
        derivative=_frozen(deriv[0]),
        n_bootstrap=n_bootstrap,
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _crossings(curves: np.ndarray, grid: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The selected crossing per row of ``curves`` (b, g) and the number of crossings per row.

    A point counts as above when ``C >= level``. Each bracket [T_i, T_i+1] where the side
    changes is a candidate, scored by how far the curve lies on the wrong side of a single step
    placed there (L1 violation: for a downward step, ``sum_{j<=i} max(0, level - C_j) +
    sum_{j>i} max(0, C_j - level)``; mirrored for an upward one). The candidate of least
    violation wins (the first on ties); NaN where the curve never crosses.
    """
    s = curves - level
    below = np.maximum(-s, 0.0)  # how far under the level
    above = np.maximum(s, 0.0)
    cum_below, cum_above = np.cumsum(below, axis=1), np.cumsum(above, axis=1)
    tot_below, tot_above = cum_below[:, -1:], cum_above[:, -1:]
    # step down after i: left part must be above (penalise below), right part below
    cost_down = cum_below[:, :-1] + (tot_above - cum_above[:, :-1])
    cost_up = cum_above[:, :-1] + (tot_below - cum_below[:, :-1])
    side = s >= 0
    down = side[:, :-1] & ~side[:, 1:]
    up = ~side[:, :-1] & side[:, 1:]
    cost = np.where(down, cost_down, np.where(up, cost_up, np.inf))
    n_cross = (down | up).sum(axis=1)
    k = np.argmin(cost, axis=1)
    rows = np.arange(curves.shape[0])
    c0, c1 = curves[rows, k], curves[rows, k + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (level - c0) / (c1 - c0)
    est = grid[k] + frac * (grid[k + 1] - grid[k])
    return np.where(n_cross > 0, est, np.nan), n_cross


def crossing(
    parameter: Any,
    values: Any,
    *,
    level: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Transition:
    """Where the mean of ``values`` over the samples at each parameter value crosses ``level``.

    Between the two grid points that bracket the crossing, the curve is interpolated linearly.
    When a noisy curve crosses several times, the crossing chosen is the one that best splits the
    curve into a single step: the one where the fewest (L1-weighted) grid points lie on the wrong
    side of the level for a step there. Unlike "the first" or "the last" crossing, this ignores
    an isolated excursion far from the transition and picks the crossing in the middle of a
    cluster of noise-induced crossings near it. A ``UserWarning`` reports multiple crossings of
    the mean curve. A grid point exactly at the level counts as above it.

    The interval is a percentile bootstrap that resamples samples within each parameter value;
    replicates whose curve never crosses are dropped and counted in ``n_dropped`` (a warning when
    more than 5% drop).

    Parameters
    ----------
    parameter : array or Tensor, shape (n,)
        Control value per sample (temperature; repeated values are samples at one T).
    values : array or Tensor, shape (n,)
        Per-sample quantity, e.g. a classifier's P(ordered).
    level : float
        The level whose crossing marks the transition.
    n_bootstrap : int
        Bootstrap replicates (0: no interval).
    confidence : float
        Coverage of the interval, in (0, 1).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    Transition
        ``method="crossing"``, ``derivative=None``.

    Raises
    ------
    ValueError
        Mismatched lengths, NaN or infinity, arrays that are not 1-d, fewer than 2 distinct
        parameter values, a non-finite ``level``, a bad ``confidence`` or ``n_bootstrap``, or a
        mean curve that never crosses ``level`` (the message gives its minimum and maximum).

    Warns
    -----
    UserWarning
        When the mean curve crosses more than once, or more than 5% of the bootstrap replicates
        never cross.

    References
    ----------
    J. Carrasquilla, R. G. Melko, Nat. Phys. 13, 431 (2017), arXiv:1605.01735; S. J. Wetzel,
    M. Scherzer, Phys. Rev. B 96, 184410 (2017), arXiv:1705.05582.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.repeat(np.linspace(1.0, 3.5, 26), 10)
    >>> p = 1 / (1 + np.exp((t - 2.269) / 0.1))
    >>> round(crossing(t, p, n_bootstrap=0).estimate, 2)
    2.27
    """
    caller = "crossing"
    confidence = _check_confidence(confidence, caller)
    n_bootstrap = _check_int(n_bootstrap, caller, "n_bootstrap", 0)
    seed = _check_int(seed, caller, "seed", 0)
    ok = isinstance(level, (int, float)) and not isinstance(level, bool) and math.isfinite(level)
    if not ok:
        raise ValueError(f"{caller}: level must be a finite number; got {level!r}.")
    level = float(level)
    t, v = _transition_inputs(parameter, values, caller, 2)
    grid = _Grid(t, v)
    est, n_cross = _crossings(grid.curve[None, :], grid.parameters, level)
    if n_cross[0] == 0:
        raise ValueError(
            f"{caller}: the mean curve never crosses level {level:g}; it ranges from "
            f"{grid.curve.min():.4g} to {grid.curve.max():.4g}. Choose a level inside that range "
            "or widen the parameter range."
        )
    if n_cross[0] > 1:
        warnings.warn(
            f"{caller}: the mean curve crosses level {level:g} {int(n_cross[0])} times; taking "
            f"the crossing at {est[0]:.4g}, the one that best splits the curve into one step. "
            "More samples per parameter value, or a monotone quantity, make this unambiguous.",
            UserWarning,
            stacklevel=2,
        )
    rng = np.random.default_rng(seed)
    boot = [
        _crossings(curves, grid.parameters, level)[0] for curves in grid.bootstrap(n_bootstrap, rng)
    ]
    boot_est = np.concatenate(boot) if boot else np.empty(0)
    kept = boot_est[np.isfinite(boot_est)]
    n_dropped = int(boot_est.size - kept.size)
    if n_bootstrap and n_dropped > 0.05 * n_bootstrap:
        warnings.warn(
            f"{caller}: {n_dropped} of {n_bootstrap} bootstrap curves never cross level "
            f"{level:g} and were dropped; the interval is then too narrow.",
            UserWarning,
            stacklevel=2,
        )
    low, high = _interval_from(kept, confidence)
    return Transition(
        estimate=float(est[0]),
        low=low,
        high=high,
        confidence=confidence,
        method="crossing",
        parameters=_frozen(grid.parameters),
        curve=_frozen(grid.curve),
        derivative=None,
        n_bootstrap=n_bootstrap,
        n_dropped=n_dropped,
    )


# --------------------------------------------------------------------------------------------
# clusters


@dataclass(frozen=True, eq=False)
class ClusterCount:
    """The number of clusters of a latent, chosen by the BIC of Gaussian mixtures.

    Attributes
    ----------
    n_clusters : int
        Components of the mixture of least BIC.
    bic : ndarray, shape (max_components,)
        BIC of the best of ``n_init`` fits with 1, 2, ... components (lower is better).
    means : ndarray, shape (n_clusters,) or (n_clusters, k)
        Component means of the chosen mixture, sorted (by the first coordinate, then the next).
    weights : ndarray, shape (n_clusters,)
        Mixture weights in the order of ``means``.
    n_components_tried : int
        ``max_components``.
    """

    n_clusters: int
    bic: np.ndarray
    means: np.ndarray
    weights: np.ndarray
    n_components_tried: int

    def __str__(self) -> str:
        means = np.array2string(np.asarray(self.means), precision=3, suppress_small=True)
        weights = np.array2string(np.asarray(self.weights), precision=3, suppress_small=True)
        return (
            f"{self.n_clusters} cluster(s) by BIC over 1..{self.n_components_tried} Gaussian "
            f"components; means {means}, weights {weights}"
        )


def count_clusters(
    latent: Any, *, max_components: int = 6, n_init: int = 3, seed: int = 0
) -> ClusterCount:
    """Count the clusters of a latent: the Gaussian mixture (1 to ``max_components`` components,
    full covariance) of least Bayesian information criterion.

    Wetzel 2017's VAE latent for the Ising model has three clusters, at M = -1, 0, +1: ordered up,
    disordered, ordered down.

    Parameters
    ----------
    latent : array or Tensor, shape (n,) or (n, k)
        The latent per sample.
    max_components : int
        Largest number of components tried (>= 1, <= n).
    n_init : int
        Initialisations per fit (the best likelihood is kept).
    seed : int
        Seed of the k-means initialisations.

    Returns
    -------
    ClusterCount

    Raises
    ------
    ValueError
        NaN or infinity, a latent that is not 1-d or 2-d, ``max_components`` outside [1, n],
        ``n_init < 1``.

    References
    ----------
    G. Schwarz, Ann. Stat. 6, 461 (1978), doi:10.1214/aos/1176344136; S. J. Wetzel,
    Phys. Rev. E 96, 022140 (2017), arXiv:1703.02435, Fig. 2.
    """
    caller = "count_clusters"
    max_components = _check_int(max_components, caller, "max_components", 1)
    n_init = _check_int(n_init, caller, "n_init", 1)
    seed = _check_int(seed, caller, "seed", 0)
    raw = _as_array(latent, caller, "latent")
    if raw.ndim not in (1, 2):
        raise ValueError(
            f"{caller}: latent must have shape (n,) or (n, k); got shape {_shape(raw)}."
        )
    x = raw[:, None] if raw.ndim == 1 else raw
    if max_components > x.shape[0]:
        raise ValueError(
            f"{caller}: max_components must not exceed the number of samples ({x.shape[0]}); "
            f"got {max_components}."
        )
    bics, fits = [], []
    for m in range(1, max_components + 1):
        gm = GaussianMixture(m, covariance_type="full", n_init=n_init, random_state=seed).fit(x)
        bics.append(gm.bic(x))
        fits.append(gm)
    best = int(np.argmin(bics))
    gm = fits[best]
    means = gm.means_
    order = np.lexsort(means.T[::-1])  # sort by the first coordinate, then the next
    means, weights = means[order], gm.weights_[order]
    return ClusterCount(
        n_clusters=best + 1,
        bic=_frozen(np.asarray(bics)),
        means=_frozen(means[:, 0] if raw.ndim == 1 else means),
        weights=_frozen(weights),
        n_components_tried=max_components,
    )
