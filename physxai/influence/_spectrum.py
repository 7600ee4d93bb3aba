"""The eigenvalue spectrum of a loss Hessian: extreme eigenpairs by Lanczos, and its summary.

The spectrum tells how the loss curves around the trained parameters. A few large outliers
separated from a bulk near zero are typical of classifiers (Sagun et al. 2017; Dawid et al. 2020
report lambda_1 = 68.6 against 0.55 for the next one); negative eigenvalues mean the parameters sit
at a saddle, not a minimum, so influence functions need damping ``H + d I`` with ``d`` above
``-lambda_min``. :func:`lanczos` finds the top, bottom or both-end eigenpairs of a symmetric
operator from matrix-vector products alone (implicitly restarted Lanczos, ARPACK's ``eigsh``),
which is what models too large for the exact Hessian need; :func:`spectrum` summarises a full
spectrum.

References
----------
C. Lanczos, J. Res. Natl. Bur. Stand. 45, 255 (1950), doi:10.6028/jres.045.026.
R. B. Lehoucq, D. C. Sorensen, C. Yang, ARPACK Users' Guide, SIAM (1998), doi:10.1137/1.9780898719628.
L. Sagun, U. Evci, V. U. Guney, Y. Dauphin, L. Bottou, arXiv:1706.04454 (2017).
A. Dawid et al., New J. Phys. 22, 115001 (2020), arXiv:2004.04711.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, aslinearoperator, eigsh
from torch import Tensor

from .._validation import check_choice, check_finite, check_positive_float, check_positive_int
from ._objective import _shape

__all__ = ["Spectrum", "lanczos", "spectrum"]

WHICH = ("LA", "SA", "BE")


def _fix_signs(vectors: np.ndarray) -> np.ndarray:
    # eigenvectors are defined up to sign: make the largest-magnitude entry of each positive
    idx = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[idx, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def lanczos(
    operator: Any,
    k: int = 10,
    *,
    which: str = "LA",
    tol: float = 0.0,
    max_iterations: int | None = None,
    n_lanczos_vectors: int | None = None,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """The k extreme eigenpairs of a symmetric operator by implicitly restarted Lanczos.

    Parameters
    ----------
    operator : HessianOperator, scipy LinearOperator, Tensor or ndarray
        A symmetric ``(p, p)`` operator; a dense matrix is wrapped. Only products ``A v`` are
        used, each one Hessian-vector product for a :class:`HessianOperator`.
    k : int, default 10
        Number of eigenpairs, ``k < p``.
    which : {"LA", "SA", "BE"}, default "LA"
        Largest algebraic (the sharpest directions), smallest algebraic (the most negative
        curvature), or both ends (``k // 2`` from the bottom and the rest from the top).
    tol : float, default 0.0
        Relative accuracy of the eigenvalues; 0 means machine precision.
    max_iterations : int or None
        Restart limit; None lets ARPACK choose (``10 p``).
    n_lanczos_vectors : int or None
        Size of the Krylov basis (ARPACK's ``ncv``); None means ``min(p, max(2k + 1, 20))``.
    seed : int, default 0
        Seeds the starting vector, so the result is reproducible.

    Returns
    -------
    eigenvalues : Tensor, shape ``(k,)``, float64
        In descending order.
    eigenvectors : Tensor, shape ``(p, k)``, float64
        Orthonormal columns; each column's largest-magnitude entry is positive (the solver's
        sign is arbitrary).

    Raises
    ------
    TypeError
        If ``operator`` is not a matrix or LinearOperator.
    ValueError
        For a non-square operator, ``k >= p``, an unknown ``which``, or no convergence (the
        message suggests more iterations or a looser ``tol``).

    Examples
    --------
    >>> a = torch.diag(torch.arange(1.0, 7.0, dtype=torch.float64))
    >>> values, vectors = lanczos(a, k=2)
    >>> [round(v, 6) for v in values.tolist()]
    [6.0, 5.0]
    """
    caller = "lanczos"
    check_choice(which, WHICH, caller, "which")
    k = check_positive_int(k, caller, "k")
    tol = check_positive_float(tol, caller, "tol", allow_zero=True)
    if isinstance(operator, Tensor):
        if operator.dim() != 2:
            raise ValueError(
                f"{caller}: operator must be a (p, p) matrix; got shape {_shape(operator)}."
            )
        check_finite(operator, caller, "operator")
        operator = operator.detach().cpu().to(torch.float64).numpy()
    if isinstance(operator, (np.ndarray, LinearOperator)):
        op = aslinearoperator(operator)
    else:
        raise TypeError(
            f"{caller}: operator must be a HessianOperator, a scipy LinearOperator or a (p, p) "
            f"matrix; got {type(operator).__name__}."
        )
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"{caller}: operator must be square (p, p); got shape {op.shape}.")
    p = op.shape[0]
    if k >= p:
        raise ValueError(
            f"{caller}: k must be smaller than the operator's size p = {p}; got k = {k}. For "
            "all eigenvalues of a small matrix use torch.linalg.eigvalsh or spectrum()."
        )
    if max_iterations is not None:
        check_positive_int(max_iterations, caller, "max_iterations")
    if n_lanczos_vectors is None:
        ncv = min(p, max(2 * k + 1, 20))
    else:
        ncv = check_positive_int(n_lanczos_vectors, caller, "n_lanczos_vectors")
        if not k < ncv <= p:
            raise ValueError(f"{caller}: n_lanczos_vectors must lie in ({k}, {p}]; got {ncv}.")
    v0 = np.random.default_rng(seed).standard_normal(p)
    try:
        values, vectors = eigsh(
            op, k=k, which=which, tol=tol, maxiter=max_iterations, ncv=ncv, v0=v0
        )
    except ArpackNoConvergence as err:
        raise ValueError(
            f"{caller}: Lanczos did not converge for k = {k}, which = {which!r} "
            f"({len(err.eigenvalues)} of {k} eigenpairs converged). Raise max_iterations or "
            "n_lanczos_vectors, or loosen tol."
        ) from None
    order = np.argsort(values)[::-1]
    values, vectors = values[order], _fix_signs(vectors[:, order])
    return torch.from_numpy(values.copy()), torch.from_numpy(np.ascontiguousarray(vectors))


@dataclass(frozen=True)
class Spectrum:
    """Summary of a symmetric matrix's eigenvalues (see :func:`spectrum`).

    Attributes
    ----------
    eigenvalues : Tensor, shape ``(p,)``, float64
        All eigenvalues in descending order.
    n_negative : int
        Eigenvalues below ``-zero_tol``.
    n_zero : int
        Eigenvalues with ``|lambda| <= zero_tol`` (flat directions).
    zero_tol : float
        The threshold used: numerical noise level ``p * eps * max|lambda|`` unless given.
    outliers : Tensor, shape ``(n_outliers,)``
        Eigenvalues outside the bulk, ``lambda > Q3 + outlier_factor * IQR`` or
        ``lambda < Q1 - outlier_factor * IQR`` (Tukey's fences on the eigenvalues, quartiles
        Q1, Q3), in descending order.
    bulk_edges : tuple of float
        The two fences ``(Q1 - f IQR, Q3 + f IQR)``.
    condition_number : float
        ``max|lambda| / min|lambda|`` (inf if an eigenvalue is exactly zero).
    top_ratio : float
        ``lambda_1 / |lambda_2|``, the separation of the largest eigenvalue from the next
        (Dawid et al. 2020: 68.6 / 0.55 = 125).
    """

    eigenvalues: Tensor
    n_negative: int
    n_zero: int
    zero_tol: float
    outliers: Tensor
    bulk_edges: tuple[float, float]
    condition_number: float
    top_ratio: float

    @property
    def n_outliers(self) -> int:
        """Number of eigenvalues outside the bulk."""
        return int(self.outliers.numel())

    @property
    def largest(self) -> float:
        """The largest eigenvalue."""
        return float(self.eigenvalues[0])

    @property
    def smallest(self) -> float:
        """The smallest eigenvalue (negative at a saddle point)."""
        return float(self.eigenvalues[-1])


def spectrum(
    matrix_or_eigenvalues: Tensor,
    *,
    outlier_factor: float = 3.0,
    zero_tol: float | None = None,
) -> Spectrum:
    """Eigenvalues of a symmetric matrix with negative ones, outliers and conditioning reported.

    Parameters
    ----------
    matrix_or_eigenvalues : Tensor, shape ``(p, p)`` or ``(p,)``
        A symmetric matrix (an exact Hessian), or its eigenvalues already computed.
    outlier_factor : float, default 3.0
        Multiple of the interquartile range beyond the quartiles that marks an outlier
        (Tukey's "far out" fence). The rule is robust: a handful of outliers does not move the
        quartiles of a bulk of hundreds.
    zero_tol : float or None
        Eigenvalues with ``|lambda|`` at most this count as zero; None means the rounding level
        of a symmetric eigensolver, ``p * eps * max|lambda|``.

    Returns
    -------
    Spectrum

    Raises
    ------
    TypeError
        If the argument is not a tensor.
    ValueError
        For a non-square or non-symmetric matrix, fewer than two eigenvalues, or NaN.

    Examples
    --------
    >>> s = spectrum(torch.tensor([50.0, 1.0, 0.5, 0.2, 0.1, 0.0, -0.1], dtype=torch.float64))
    >>> s.n_negative, s.n_outliers, s.top_ratio
    (1, 1, 50.0)
    """
    caller = "spectrum"
    t = matrix_or_eigenvalues
    if not isinstance(t, Tensor):
        raise TypeError(
            f"{caller}: expected a (p, p) matrix or (p,) eigenvalues as a tensor; got {type(t).__name__}."
        )
    check_finite(t, caller, "matrix_or_eigenvalues")
    factor = check_positive_float(outlier_factor, caller, "outlier_factor")
    t = t.detach().to(torch.float64).cpu()
    if t.dim() == 2:
        if t.shape[0] != t.shape[1]:
            raise ValueError(f"{caller}: the matrix must be square (p, p); got shape {_shape(t)}.")
        scale = float(t.abs().max()) or 1.0
        if float((t - t.T).abs().max()) > 1e-8 * scale:
            raise ValueError(
                f"{caller}: the matrix must be symmetric (a Hessian); its asymmetry exceeds "
                "1e-8 of its largest entry. Symmetrise it with (h + h.T) / 2 if that is rounding."
            )
        values = torch.linalg.eigvalsh(0.5 * (t + t.T))
    elif t.dim() == 1:
        values = t.clone()
    else:
        raise ValueError(
            f"{caller}: expected a (p, p) matrix or (p,) eigenvalues; got shape {_shape(t)}."
        )
    if values.numel() < 2:
        raise ValueError(f"{caller}: need at least two eigenvalues; got {values.numel()}.")
    values = torch.sort(values, descending=True).values
    p = values.numel()
    biggest = float(values.abs().max())
    if zero_tol is None:
        zero_tol = p * float(torch.finfo(torch.float64).eps) * biggest
    else:
        zero_tol = check_positive_float(zero_tol, caller, "zero_tol", allow_zero=True)
    q1, q3 = (
        float(q) for q in torch.quantile(values, torch.tensor([0.25, 0.75], dtype=torch.float64))
    )
    iqr = q3 - q1
    low, high = q1 - factor * iqr, q3 + factor * iqr
    outliers = values[(values > high) | (values < low)]
    smallest_abs = float(values.abs().min())
    condition = math.inf if smallest_abs == 0.0 else biggest / smallest_abs
    second = abs(float(values[1]))
    top_ratio = math.inf if second == 0.0 else float(values[0]) / second
    return Spectrum(
        eigenvalues=values,
        n_negative=int((values < -zero_tol).sum()),
        n_zero=int((values.abs() <= zero_tol).sum()),
        zero_tol=float(zero_tol),
        outliers=outliers,
        bulk_edges=(low, high),
        condition_number=condition,
        top_ratio=top_ratio,
    )
