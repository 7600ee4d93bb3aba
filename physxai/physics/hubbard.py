"""The 1D spinless extended Fermi-Hubbard chain, solved by sparse exact diagonalisation.

The Hamiltonian of Dawid et al. (2020) on ``L`` sites with ``N`` particles is

    H = -(J/2) sum_i (c+_i c_{i+1} + h.c.) + V1 sum_i (n_i - 1/2)(n_{i+1} - 1/2)
        + h1 sum_i (-1)^i n_i,

with sites ``i = 0 .. L-1`` and, for a periodic chain, the bond ``(L-1, 0)`` included. At half
filling it maps onto the XXZ chain with anisotropy ``Delta = V1 / J``: a Luttinger liquid (LL) for
``V1 < J`` and a charge-density wave (CDW-I, ``1010...``) for ``V1 > J`` (a Kosterlitz-Thouless
transition, so at ``L = 12`` the crossover is smooth). The tiny staggered field ``h1`` (``1e-7`` by
default) splits the two CDW patterns: with ``h1 > 0`` the odd sites are favoured, so deep in the
CDW the ground state is close to ``0101...`` (site 0 empty).

**Sign convention (hard-core bosons).** The hopping is written with hard-core bosons, i.e. every
off-diagonal element is ``-J/2`` and there is no Jordan-Wigner sign at the periodic boundary. The
matrix is then stoquastic and irreducible, so by the Perron-Frobenius theorem the ground state is
unique and all its amplitudes can be chosen positive; :func:`ground_state` returns that positive
vector. This is the convention of Dawid et al. (their dataset is nodeless). In fermion language a
hopping across the periodic boundary passes the other ``N - 1`` particles and picks up
``(-1)^(N-1)``: for odd ``N`` the periodic fermion chain and the hard-core boson chain are the same
matrix, and for even ``N`` the boson chain equals the fermion chain with *antiperiodic* boundary
conditions. ``hamiltonian(..., statistics="fermion")`` builds the genuine periodic fermion chain
for comparison; its ground state is not positive for even ``N``.

**Basis order.** The fixed-``N`` basis lists the occupied-site tuples in the order of
``itertools.combinations(range(L), N)``, i.e. lexicographic order of the occupied sites
(``1110``, ``1101``, ``1011``, ``0111`` for ``L = 4, N = 3``, site 0 written first). Reading the
occupation string with site 0 as the most significant bit, this is the order of decreasing
integer, the order in which QuSpin lists a fixed-particle-number basis.

The Hamiltonian is assembled vectorised in three parts that do not depend on the couplings,
``H = J T + V1 W + h1 S`` (hopping, nearest-neighbour interaction, staggered field), so a scan over
``V1`` (:func:`ground_states`) builds the sparse structure once.

References
----------
A. Dawid, P. Huembeli, M. Tomza, M. Lewenstein, A. Dauphin, "Phase detection with neural networks:
interpreting the black box", New J. Phys. 22, 115001 (2020), arXiv:2004.04711.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg

from .._validation import check_choice

__all__ = [
    "basis",
    "cdw_order_parameter",
    "density",
    "density_correlations",
    "energy",
    "ground_state",
    "ground_states",
    "hamiltonian",
]

#: ``method="auto"`` diagonalises densely up to this Hilbert-space dimension, sparsely above it.
DENSE_MAX_DIM = 100
#: Amplitudes more negative than ``-POSITIVITY_TOLERANCE * max|psi|`` make the ground state invalid.
POSITIVITY_TOLERANCE = 1e-8

_STATISTICS = ("boson", "fermion")
_METHODS = ("auto", "sparse", "dense")


# --------------------------------------------------------------------------------------------
# validation


def _check_int(value: Any, caller: str, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _check_real(value: Any, caller: str, name: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):
        raise ValueError(f"{caller}: {name} must be a finite real number; got {value!r}.")
    return float(value)


def _check_system(n_sites: Any, n_particles: Any, caller: str) -> tuple[int, int]:
    n_sites = _check_int(n_sites, caller, "n_sites", 2)
    n_particles = _check_int(n_particles, caller, "n_particles", 0)
    if n_particles > n_sites:
        raise ValueError(
            f"{caller}: n_particles must be at most n_sites = {n_sites}; got {n_particles}."
        )
    if n_sites > 30:
        raise ValueError(
            f"{caller}: n_sites must be at most 30 for exact diagonalisation; got {n_sites}."
        )
    return n_sites, n_particles


def _check_psi(psi: Any, n_sites: int, n_particles: int, caller: str) -> np.ndarray:
    psi = np.asarray(psi)
    dim = math.comb(n_sites, n_particles)
    if psi.ndim < 1 or psi.shape[-1] != dim or not np.issubdtype(psi.dtype, np.floating):
        raise ValueError(
            f"{caller}: psi must be a real float array of shape (..., {dim}) = (..., "
            f"comb({n_sites}, {n_particles})); got shape {psi.shape} and dtype {psi.dtype}."
        )
    return psi


# --------------------------------------------------------------------------------------------
# basis and Hamiltonian


@lru_cache(maxsize=32)
def _basis_cached(n_sites: int, n_particles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occupations (dim, L) int8, integer codes (bit i = site i), and argsort of the codes."""
    dim = math.comb(n_sites, n_particles)
    occupied = np.fromiter(
        itertools.chain.from_iterable(itertools.combinations(range(n_sites), n_particles)),
        dtype=np.int64,
        count=dim * n_particles,
    ).reshape(dim, n_particles)
    occ = np.zeros((dim, n_sites), dtype=np.int8)
    np.put_along_axis(occ, occupied, 1, axis=1)
    codes = occ.astype(np.int64) @ (np.int64(1) << np.arange(n_sites, dtype=np.int64))
    order = np.argsort(codes, kind="stable")
    for a in (occ, codes, order):
        a.setflags(write=False)
    return occ, codes, order


def basis(n_sites: int, n_particles: int) -> np.ndarray:
    """The fixed-particle-number basis as occupation numbers.

    Parameters
    ----------
    n_sites : int
        Number of sites ``L`` (2 to 30).
    n_particles : int
        Number of particles ``N`` (0 to ``L``).

    Returns
    -------
    numpy.ndarray
        ``(comb(L, N), L)`` int8 array of 0/1 occupations; row ``a`` is basis state ``a``. Rows are
        in ``itertools.combinations(range(L), N)`` order of the occupied sites (see the module
        docstring), the order of the amplitudes returned by :func:`ground_state`.

    Raises
    ------
    ValueError
        If ``n_sites`` or ``n_particles`` is not an int in range.

    Examples
    --------
    >>> basis(4, 2).tolist()
    [[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]]
    """
    n_sites, n_particles = _check_system(n_sites, n_particles, "basis")
    return _basis_cached(n_sites, n_particles)[0].copy()


def _bonds(n_sites: int, periodic: bool) -> list[tuple[int, int]]:
    bonds = [(i, i + 1) for i in range(n_sites - 1)]
    if periodic:
        # The literal sum over i = 0..L-1 with i+1 taken mod L; for L = 2 this repeats bond (0, 1).
        bonds.append((n_sites - 1, 0))
    return bonds


@lru_cache(maxsize=32)
def _parts(
    n_sites: int, n_particles: int, periodic: bool, statistics: str
) -> tuple[scipy.sparse.csr_matrix, np.ndarray, np.ndarray]:
    """The parts of ``H = J T + V1 W + h1 S``: hopping ``T`` (sparse), diagonals ``W`` and ``S``."""
    occ, codes, order = _basis_cached(n_sites, n_particles)
    dim = codes.shape[0]
    sorted_codes = codes[order]
    n = occ.astype(np.int64)
    rows, cols, vals = [], [], []
    interaction = np.zeros(dim)
    for i, j in _bonds(n_sites, periodic):
        interaction += (n[:, i] - 0.5) * (n[:, j] - 0.5)
        # c+_i c_j + c+_j c_i acts on states where exactly one of i, j is occupied: flip both bits.
        movable = np.flatnonzero(n[:, i] != n[:, j])
        target = order[np.searchsorted(sorted_codes, codes[movable] ^ ((1 << i) | (1 << j)))]
        value = np.full(movable.shape, -0.5)
        if statistics == "fermion" and abs(i - j) > 1:
            # Jordan-Wigner string of the boundary bond: the hop passes the particles strictly
            # between the two sites, (-1)^(N - 1) of them.
            value *= (-1.0) ** (n_particles - 1)
        rows.append(movable)
        cols.append(target)
        vals.append(value)
    stagger = n @ ((-1.0) ** np.arange(n_sites))
    if rows:
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    hop = scipy.sparse.coo_matrix((v, (r, c)), shape=(dim, dim)).tocsr()
    hop.sum_duplicates()
    interaction.setflags(write=False)
    stagger.setflags(write=False)
    return hop, interaction, stagger


def _assemble(parts: tuple, v1: float, j: float, h1: float) -> scipy.sparse.csr_matrix:
    hop, interaction, stagger = parts
    diagonal = scipy.sparse.diags(v1 * interaction + h1 * stagger, format="csr")
    return (j * hop + diagonal).tocsr()


def hamiltonian(
    n_sites: int,
    n_particles: int,
    v1: float,
    *,
    j: float = 1.0,
    h1: float = 1e-7,
    periodic: bool = True,
    statistics: str = "boson",
) -> scipy.sparse.csr_matrix:
    """The extended Hubbard Hamiltonian in the fixed-``N`` basis, as a sparse CSR matrix.

    Parameters
    ----------
    n_sites : int
        Number of sites ``L``.
    n_particles : int
        Number of particles ``N``.
    v1 : float
        Nearest-neighbour interaction ``V1``.
    j : float, default 1.0
        Hopping ``J`` (the hopping term is ``-(J/2) sum (c+_i c_{i+1} + h.c.)``).
    h1 : float, default 1e-7
        Staggered field ``h1 sum_i (-1)^i n_i``; the default picks one CDW pattern.
    periodic : bool, default True
        Include the bond ``(L-1, 0)``.
    statistics : {"boson", "fermion"}, default "boson"
        ``"boson"``: hard-core bosons, all hopping elements ``-J/2`` (the convention of Dawid et
        al., positive ground state). ``"fermion"``: spinless fermions, the periodic bond carries
        the Jordan-Wigner sign ``(-1)^(N-1)``. They differ only for a periodic chain with even N.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(dim, dim)`` float64 real-symmetric matrix, ``dim = comb(L, N)``, in the order of
        :func:`basis`.

    Raises
    ------
    ValueError
        If the system size is out of range, a coupling is not finite, or ``statistics`` is unknown.

    Examples
    --------
    >>> hamiltonian(12, 6, 1.5).shape
    (924, 924)
    """
    caller = "hamiltonian"
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    v1 = _check_real(v1, caller, "v1")
    j = _check_real(j, caller, "j")
    h1 = _check_real(h1, caller, "h1")
    check_choice(statistics, _STATISTICS, caller, "statistics")
    parts = _parts(n_sites, n_particles, bool(periodic), statistics)
    return _assemble(parts, v1, j, h1)


# --------------------------------------------------------------------------------------------
# ground states


def _make_positive(psi: np.ndarray, caller: str) -> np.ndarray:
    """Fix the global sign so the Perron vector is non-negative; raise if it has real nodes."""
    psi = psi / np.linalg.norm(psi)
    if psi.sum() < 0:
        psi = -psi
    scale = np.abs(psi).max()
    if psi.min() < -POSITIVITY_TOLERANCE * scale:
        raise RuntimeError(
            f"{caller}: the computed ground state has amplitudes of both signs (min/max "
            f"{psi.min() / scale:.2e}), so it is not the Perron vector of the hard-core boson "
            "Hamiltonian; the two lowest states are probably nearly degenerate. Try "
            "method='dense', or a larger h1 to split the CDW patterns."
        )
    # Negatives left are rounding noise on amplitudes that are zero to working precision.
    return np.abs(psi)


def _lowest(matrix: scipy.sparse.csr_matrix, method: str, v0: np.ndarray | None) -> np.ndarray:
    dim = matrix.shape[0]
    if method == "dense" or (method == "auto" and dim <= DENSE_MAX_DIM) or dim <= 2:
        _, vectors = scipy.linalg.eigh(matrix.toarray(), subset_by_index=[0, 0])
        return vectors[:, 0]
    if v0 is None:
        # Start inside the positive cone, where the Perron vector lives.
        v0 = np.full(dim, 1.0 / math.sqrt(dim))
    _, vectors = scipy.sparse.linalg.eigsh(matrix, k=1, which="SA", v0=v0, tol=0.0)
    return vectors[:, 0]


def _check_method(method: Any, caller: str) -> str:
    return check_choice(method, _METHODS, caller, "method")


def ground_state(
    n_sites: int = 12,
    n_particles: int = 6,
    v1: float = 1.5,
    *,
    j: float = 1.0,
    h1: float = 1e-7,
    periodic: bool = True,
    method: str = "auto",
) -> np.ndarray:
    """The positive, normalised ground state of the hard-core boson chain.

    Parameters
    ----------
    n_sites, n_particles : int, default 12, 6
        Chain length ``L`` and particle number ``N`` (Dawid et al. use 12 and 6).
    v1 : float, default 1.5
        Nearest-neighbour interaction ``V1`` (the LL-CDW transition is at ``V1 = J``).
    j, h1, periodic
        As in :func:`hamiltonian`.
    method : {"auto", "sparse", "dense"}, default "auto"
        ``"sparse"``: Lanczos (``scipy.sparse.linalg.eigsh``, ``which="SA"``, started from the
        uniform positive vector); ``"dense"``: ``scipy.linalg.eigh``; ``"auto"``: dense up to
        dimension ``DENSE_MAX_DIM``, sparse above.

    Returns
    -------
    numpy.ndarray
        ``(comb(L, N),)`` float64, unit norm, all amplitudes ``>= 0``, in the order of
        :func:`basis`.

    Raises
    ------
    ValueError
        If an argument is out of range.
    RuntimeError
        If the computed vector has amplitudes of both signs (nearly degenerate ground state).

    Examples
    --------
    >>> psi = ground_state(12, 6, 1.5)
    >>> psi.shape, bool((psi >= 0).all()), round(float(psi @ psi), 12)
    ((924,), True, 1.0)
    """
    caller = "ground_state"
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    v1 = _check_real(v1, caller, "v1")
    j = _check_real(j, caller, "j")
    h1 = _check_real(h1, caller, "h1")
    method = _check_method(method, caller)
    matrix = _assemble(_parts(n_sites, n_particles, bool(periodic), "boson"), v1, j, h1)
    return _make_positive(_lowest(matrix, method, None), caller)


def ground_states(
    v1_values: Sequence[float] | np.ndarray,
    n_sites: int = 12,
    n_particles: int = 6,
    *,
    j: float = 1.0,
    h1: float = 1e-7,
    periodic: bool = True,
    method: str = "auto",
) -> np.ndarray:
    """Ground states for many values of ``V1``, sharing one sparse structure.

    The hopping, interaction and staggered-field parts are built once and combined as
    ``H = J T + V1 W + h1 S`` for every ``V1``. Each value is solved independently (no warm
    start), so the result does not depend on the order of ``v1_values``.

    Parameters
    ----------
    v1_values : array_like
        ``(n_v1,)`` finite interactions ``V1``.
    n_sites, n_particles, j, h1, periodic, method
        As in :func:`ground_state`.

    Returns
    -------
    numpy.ndarray
        ``(n_v1, comb(L, N))`` float64; row ``m`` is ``ground_state(n_sites, n_particles,
        v1_values[m], ...)``.

    Raises
    ------
    ValueError
        If ``v1_values`` is not a non-empty 1-d array of finite numbers, or another argument is
        out of range.
    RuntimeError
        As in :func:`ground_state`.

    Examples
    --------
    >>> ground_states([0.5, 3.0], 10, 5).shape
    (2, 252)
    """
    caller = "ground_states"
    values = np.asarray(v1_values)
    if (
        values.ndim != 1
        or values.size == 0
        or not np.issubdtype(values.dtype, np.number)
        or not np.isfinite(values).all()
    ):
        raise ValueError(
            f"{caller}: v1_values must be a non-empty 1-d array of finite numbers; got shape "
            f"{values.shape} and dtype {values.dtype}."
        )
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    j = _check_real(j, caller, "j")
    h1 = _check_real(h1, caller, "h1")
    method = _check_method(method, caller)
    parts = _parts(n_sites, n_particles, bool(periodic), "boson")
    out = np.empty((values.size, parts[1].size))
    for m, v1 in enumerate(values.astype(np.float64)):
        out[m] = _make_positive(_lowest(_assemble(parts, float(v1), j, h1), method, None), caller)
    return out


# --------------------------------------------------------------------------------------------
# observables


def density(psi: np.ndarray, n_sites: int, n_particles: int) -> np.ndarray:
    """Site occupations ``<n_i>``.

    Parameters
    ----------
    psi : array_like
        ``(..., dim)`` real wave functions in the order of :func:`basis` (normalised or not).
    n_sites, n_particles : int
        The system ``psi`` belongs to.

    Returns
    -------
    numpy.ndarray
        ``(..., L)`` float64; the entries sum to ``N``.

    Raises
    ------
    ValueError
        If ``psi`` does not have ``comb(L, N)`` amplitudes in its last axis.
    """
    caller = "density"
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    psi = _check_psi(psi, n_sites, n_particles, caller)
    occ = _basis_cached(n_sites, n_particles)[0].astype(np.float64)
    prob = psi**2 / (psi**2).sum(-1, keepdims=True)
    return prob @ occ


def density_correlations(psi: np.ndarray, n_sites: int, n_particles: int) -> np.ndarray:
    """Connected density-density correlations ``C_ij = <n_i n_j> - <n_i><n_j>``.

    Parameters
    ----------
    psi : array_like
        ``(..., dim)`` real wave functions in the order of :func:`basis`.
    n_sites, n_particles : int
        The system ``psi`` belongs to.

    Returns
    -------
    numpy.ndarray
        ``(..., L, L)`` float64, symmetric. Because ``sum_j n_j = N`` is fixed, every row sums to
        zero. For a translation-invariant state ``C_ij`` depends only on ``(i - j) mod L``; the
        correlation at distance ``d`` is then ``C[..., 0, d]``.

    Raises
    ------
    ValueError
        If ``psi`` does not have ``comb(L, N)`` amplitudes in its last axis.
    """
    caller = "density_correlations"
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    psi = _check_psi(psi, n_sites, n_particles, caller)
    occ = _basis_cached(n_sites, n_particles)[0].astype(np.float64)
    prob = psi**2 / (psi**2).sum(-1, keepdims=True)
    mean = prob @ occ
    second = np.einsum("...a,ai,aj->...ij", prob, occ, occ)
    return second - mean[..., :, None] * mean[..., None, :]


def cdw_order_parameter(psi: np.ndarray, n_sites: int, n_particles: int) -> np.ndarray:
    """The CDW structure factor at momentum pi, normalised to 1 for a perfect CDW.

    Defined with the XXZ spins ``sigma_i = 2 n_i - 1`` as

        O_CDW = (1 / L^2) sum_ij (-1)^(i - j) <sigma_i sigma_j> = < M_s^2 > / L^2,
        M_s = sum_i (-1)^i (2 n_i - 1),

    the squared staggered "magnetisation". It uses the full (not connected) correlator, so it does
    not depend on which of the two CDW patterns ``h1`` selects: it is 1 for ``1010...`` and
    ``0101...`` and any superposition of them, and of order ``1/L`` in the Luttinger liquid. For
    odd ``L`` the stagger is frustrated on a periodic chain and the value is not normalised.

    Parameters
    ----------
    psi : array_like
        ``(..., dim)`` real wave functions in the order of :func:`basis`.
    n_sites, n_particles : int
        The system ``psi`` belongs to.

    Returns
    -------
    numpy.ndarray
        ``(...)`` float64 in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``psi`` does not have ``comb(L, N)`` amplitudes in its last axis.

    Examples
    --------
    >>> round(float(cdw_order_parameter(ground_state(10, 5, 20.0), 10, 5)), 2)
    1.0
    """
    caller = "cdw_order_parameter"
    n_sites, n_particles = _check_system(n_sites, n_particles, caller)
    psi = _check_psi(psi, n_sites, n_particles, caller)
    occ = _basis_cached(n_sites, n_particles)[0].astype(np.float64)
    staggered = (2.0 * occ - 1.0) @ ((-1.0) ** np.arange(n_sites))
    prob = psi**2 / (psi**2).sum(-1, keepdims=True)
    return prob @ staggered**2 / n_sites**2


def energy(psi: np.ndarray, hamiltonian: Any) -> np.ndarray:
    """The energy expectation ``<psi|H|psi> / <psi|psi>``.

    Parameters
    ----------
    psi : array_like
        ``(..., dim)`` real wave functions.
    hamiltonian : scipy.sparse matrix or numpy.ndarray
        ``(dim, dim)`` symmetric matrix, e.g. from :func:`hamiltonian`.

    Returns
    -------
    numpy.ndarray
        ``(...)`` float64.

    Raises
    ------
    ValueError
        If the shapes of ``psi`` and ``hamiltonian`` do not match.

    Examples
    --------
    >>> h = hamiltonian(4, 2, 0.0, h1=0.0)
    >>> round(float(energy(ground_state(4, 2, 0.0, h1=0.0), h)), 12)
    -1.414213562373
    """
    caller = "energy"
    shape = getattr(hamiltonian, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(
            f"{caller}: hamiltonian must be a square (dim, dim) matrix; got shape {shape}."
        )
    psi = np.asarray(psi)
    if psi.ndim < 1 or psi.shape[-1] != shape[0]:
        raise ValueError(
            f"{caller}: psi must have shape (..., {shape[0]}) to match hamiltonian of shape "
            f"{tuple(shape)}; got shape {psi.shape}."
        )
    flat = psi.reshape(-1, shape[0]).astype(np.float64)
    applied = np.asarray(hamiltonian @ flat.T).T
    values = (flat * applied).sum(-1) / (flat * flat).sum(-1)
    return values.reshape(psi.shape[:-1])
