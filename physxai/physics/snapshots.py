r"""Lattice snapshots of spin-1/2 fermions for correlator studies (quantum-gas-microscope style).

A *snapshot* is one projective measurement of a square lattice of ``L x L`` sites in the
occupation basis, stored one-hot in three channels (:data:`CHANNELS`: spin up, spin down, hole):
an ``int8`` array of shape ``(n_samples, 3, L, L)`` (dims ``sample,channel,y,x``) in which exactly
one channel is 1 at each site (a circular crop, :func:`circular_crop`, sets all three to 0 outside
the circle; the unprojected pi-flux option marks a doubly occupied site in both spin channels).
Every generator takes an explicit ``seed`` (an int or a ``numpy.random.Generator``).

Four kinds of snapshot, in two pairs that only higher-order correlators should tell apart:

- **classical antiferromagnet vs random** (the quick preset): :func:`afm_snapshots` draws
  configurations of the Ising antiferromagnet (``physics.ising.sample`` with coupling -1) below its
  Neel temperature; :func:`random_like` places the same up, down and hole counts of each snapshot
  on random sites (so the one-point statistics agree exactly and every correlation is gone).
- **pi-flux vs geometric strings** (Miles et al. 2021 after Bohrdt et al. 2019):

  * :func:`pi_flux`: the Gutzwiller-projected ground state of free fermions with flux pi per
    plaquette, :math:`|\Psi\rangle = P_G |\Phi_\uparrow\rangle |\Phi_\downarrow\rangle`, sampled
    by Metropolis Monte Carlo over configurations without double occupancy with weight
    :math:`|\det D_\uparrow \det D_\downarrow|^2` (:class:`SlaterMetropolis`). The hopping is
    :math:`t_x = -t`, :math:`t_y = -t (-1)^x` (flux pi through every plaquette), periodic in x and
    antiperiodic in y (:func:`pi_flux_hamiltonian`).
  * :func:`geometric_strings`: a hole-free parent (a Neel state, half-filled pi-flux snapshots,
    or snapshots of a classical Ising model with couplings on the first neighbour shells,
    :func:`shell_ising`; stand-ins for the paper's Heisenberg quantum Monte Carlo snapshots),
    optional random spin flips, and holes that move along non-retracing random walks
    ("strings") of random length, each step moving the spin in front of the hole back into it,
    so that the spin pattern along the string is displaced by one site. The strings can end on
    the pi-flux snapshots' hole patterns, which makes every hole-only statistic agree, and one
    knob is tuned so that spin correlators agree: the string length scale
    (:func:`tune_string_length`) or the flip rate (:func:`tune_flip_probability`) for the
    nearest-neighbour correlator alone, or the shell couplings of the parents
    (:func:`tune_shell_couplings`) for the spin correlators on every shell at once.

  How well the two classes agree (10 x 10, 9 holes, 5000 each, ``datasets/miles2021_full``,
  shell-Ising parents tuned on the 12 shells the torus resolves, distances 1 to sqrt 20):
  densities and hole-only statistics exactly, the spin correlator of every shell to about
  1e-3 (nearest neighbours -0.0956 against -0.0965). An L1 logistic regression on the densities
  and all two-point functions in a 3 x 3 window then separates them at 0.52-0.57 inside the
  circular crop. Half-filled pi-flux parents with l0 tuned to the nearest-neighbour correlator
  alone keep stronger spin correlations beyond it (0.025 against 0.013 at distance 2) and are
  separated at 0.58-0.63; a Neel parent with flips keeps Neel order at all distances and is
  separated at 0.98.

The statistics used to match the two classes are :func:`densities`, :func:`nn_spin_correlator`,
:func:`spin_correlation`, :func:`shell_correlators` and the one-hot two-point functions
:func:`two_point`.

**Open shells.** Every level of the pi-flux Hamiltonian on the torus is at least twice degenerate
(the magnetic translations by one site in x and in y anticommute), so an odd number of fermions
of one spin always leaves the highest occupied level partly filled. At 9 holes on 10 x 10 sites
(46 up, 45 down) the down spins fill 38 states and 7 of an eight-fold level; no twist of the
boundary conditions splits the two-fold degeneracy. :func:`pi_flux_orbitals` fills such a level
with a Haar-random subspace of the right dimension, drawn independently for every Markov chain:
averaged over the chains, the ensemble keeps every symmetry of the Hamiltonian (a fixed choice
would break translation invariance). Each chain samples its own projected state; the chains are
weighted equally, not by the norms of the projected states. ``n_holes = 8`` (46 up, 46 down) is a
closed shell (gap 0.71 t) with no such choice.

References
----------
C. Miles et al., "Correlator convolutional neural networks as an interpretable architecture for
image-like quantum matter data", Nat. Commun. 12, 3905 (2021), arXiv:2011.03474.
A. Bohrdt et al., "Classifying snapshots of the doped Hubbard model with machine learning",
Nat. Phys. 15, 921 (2019), arXiv:1811.12425.
C. S. Chiu et al., "String patterns in the doped Hubbard model", Science 365, 251 (2019),
arXiv:1810.03584.
C. Gros, "Physics of projected wavefunctions", Ann. Phys. 189, 53 (1989) (variational Monte
Carlo with Slater determinants); I. Affleck and J. B. Marston, Phys. Rev. B 37, 3774 (1988)
(the pi-flux phase).

Examples
--------
>>> from physxai.physics import snapshots
>>> s = snapshots.geometric_strings(4, lattice_size=6, n_holes=3, flip_probability=0.1, seed=0)
>>> s.shape, s.dtype.name, bool((s.sum(axis=1) == 1).all())
((4, 3, 6, 6), 'int8', True)
>>> sorted((s[0].sum(axis=(1, 2))).tolist())          # 33 spins split 17/16, 3 holes
[3, 16, 17]
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import _rng

__all__ = [
    "CHANNELS",
    "ShellFit",
    "ShellIsing",
    "SlaterMetropolis",
    "afm_snapshots",
    "circular_crop",
    "circular_mask",
    "densities",
    "geometric_strings",
    "nn_spin_correlator",
    "one_hot",
    "pi_flux",
    "pi_flux_chains",
    "pi_flux_hamiltonian",
    "pi_flux_orbitals",
    "random_like",
    "random_snapshots",
    "shell_correlators",
    "shell_distances",
    "shell_ising",
    "spin_correlation",
    "square_lattice_neighbours",
    "string_length_distribution",
    "tune_flip_probability",
    "tune_shell_couplings",
    "tune_string_length",
    "two_point",
]

#: channel order of every snapshot array: spin up, spin down, hole (empty site)
CHANNELS: tuple[str, str, str] = ("up", "down", "hole")
_UP, _DOWN, _HOLE = 0, 1, 2
#: neighbour directions of :func:`square_lattice_neighbours`: +x, +y, -x, -y (opposite = d + 2)
_STEPS = ((1, 0), (0, 1), (-1, 0), (0, -1))


# ==================================================================================================
# Argument checks
# ==================================================================================================


def _int(value: Any, caller: str, name: str, minimum: int) -> int:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or int(value) < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _real(value: Any, caller: str, name: str, low: float, high: float) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or not low <= float(value) <= high:
        raise ValueError(
            f"{caller}: {name} must be a number in [{low:g}, {high:g}]; got {value!r}."
        )
    return float(value)


def _snapshot_array(snapshots: Any, caller: str) -> np.ndarray:
    """A ``(n, 3, L, L)`` array of 0/1 values (any integer or float dtype), as given."""
    if not isinstance(snapshots, np.ndarray):
        raise TypeError(
            f"{caller}: snapshots must be a numpy array of shape (n, 3, L, L); got "
            f"{type(snapshots).__name__}."
        )
    if snapshots.ndim != 4 or snapshots.shape[1] != 3 or snapshots.shape[2] != snapshots.shape[3]:
        raise ValueError(
            f"{caller}: snapshots must have shape (n_samples, 3, L, L) (channels up, down, "
            f"hole); got shape {snapshots.shape}."
        )
    if snapshots.dtype.kind not in "biuf":
        raise ValueError(
            f"{caller}: snapshots must hold numbers (one-hot 0/1); got dtype {snapshots.dtype}."
        )
    return snapshots


def _check_mask(mask: Any, size: int, caller: str) -> np.ndarray | None:
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype != bool or m.shape != (size, size):
        raise ValueError(
            f"{caller}: mask must be a boolean array of shape ({size}, {size}) (e.g. "
            f"circular_mask({size})); got dtype {m.dtype}, shape {m.shape}."
        )
    return m


def _check_counts(
    lattice_size: int, n_holes: int, caller: str, n_up: int | None = None
) -> tuple[int, int]:
    """(n_up, n_down): the particles split as evenly as possible, the odd one spin up."""
    n_sites = lattice_size * lattice_size
    if n_holes > n_sites - 2:
        raise ValueError(
            f"{caller}: n_holes must leave at least 2 particles on the {lattice_size} x "
            f"{lattice_size} lattice, i.e. be <= {n_sites - 2}; got {n_holes}."
        )
    n_particles = n_sites - n_holes
    if n_up is None:
        n_up = (n_particles + 1) // 2
    return n_up, n_particles - n_up


# ==================================================================================================
# Lattice helpers
# ==================================================================================================


def square_lattice_neighbours(lattice_size: int) -> np.ndarray:
    """Neighbour table of the periodic ``L x L`` square lattice.

    Sites are numbered ``y * L + x``; column ``d`` holds the neighbour in direction +x, +y, -x,
    -y for ``d = 0, 1, 2, 3`` (the opposite of ``d`` is ``(d + 2) % 4``).

    Parameters
    ----------
    lattice_size : int
        L >= 1.

    Returns
    -------
    ndarray of int64, shape (L * L, 4)

    Raises
    ------
    ValueError
        If ``lattice_size`` is not an int >= 1.

    Examples
    --------
    >>> square_lattice_neighbours(3)[0].tolist()    # site (x, y) = (0, 0)
    [1, 3, 2, 6]
    """
    size = _int(lattice_size, "snapshots.square_lattice_neighbours", "lattice_size", 1)
    y, x = np.divmod(np.arange(size * size), size)
    return np.stack([((y + dy) % size) * size + (x + dx) % size for dx, dy in _STEPS], axis=1)


def circular_mask(lattice_size: int, radius: float | None = None) -> np.ndarray:
    """Sites within ``radius`` of the centre of the ``L x L`` lattice (the microscope's disc).

    The centre is ``((L - 1) / 2, (L - 1) / 2)``; a site is kept when its distance from it is at
    most ``radius``. ``None`` takes ``L / 2``: 80 of the 100 sites of a 10 x 10 lattice, the
    size of Miles et al.'s crop.

    Parameters
    ----------
    lattice_size : int
        L >= 1.
    radius : float or None
        > 0, in lattice spacings.

    Returns
    -------
    ndarray of bool, shape (L, L)

    Raises
    ------
    ValueError
        For ``lattice_size`` < 1 or ``radius`` <= 0.

    Examples
    --------
    >>> int(circular_mask(10).sum()), int(circular_mask(16).sum())
    (80, 208)
    """
    caller = "snapshots.circular_mask"
    size = _int(lattice_size, caller, "lattice_size", 1)
    r = size / 2 if radius is None else _real(radius, caller, "radius", 0.0, math.inf)
    if r <= 0:
        raise ValueError(f"{caller}: radius must be > 0; got {radius!r}.")
    c = (size - 1) / 2
    y, x = np.mgrid[:size, :size]
    return (x - c) ** 2 + (y - c) ** 2 <= r * r + 1e-9


def circular_crop(snapshots: np.ndarray, radius: float | None = None) -> np.ndarray:
    """Snapshots with every channel set to 0 outside :func:`circular_mask` (a new array).

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    radius : float or None
        As in :func:`circular_mask`.

    Returns
    -------
    ndarray, (n_samples, 3, L, L)
        Same dtype.

    Raises
    ------
    TypeError, ValueError
        For an array that is not ``(n, 3, L, L)`` or a bad radius.
    """
    s = _snapshot_array(snapshots, "snapshots.circular_crop")
    return s * circular_mask(s.shape[-1], radius).astype(s.dtype)


def one_hot(codes: np.ndarray) -> np.ndarray:
    """One-hot snapshots from site codes 0 (up), 1 (down), 2 (hole).

    Parameters
    ----------
    codes : ndarray of int, (n_samples, L, L)

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)

    Raises
    ------
    ValueError
        If ``codes`` is not 3-d with integer values in {0, 1, 2}.

    Examples
    --------
    >>> one_hot(np.array([[[0, 2], [1, 0]]]))[0, :, 0].tolist()
    [[1, 0], [0, 0], [0, 1]]
    """
    c = np.asarray(codes)
    if c.ndim != 3 or c.dtype.kind not in "iu" or (c.size and (c.min() < 0 or c.max() > 2)):
        raise ValueError(
            "snapshots.one_hot: codes must be an integer array (n_samples, L, L) with values 0 "
            f"(up), 1 (down), 2 (hole); got dtype {c.dtype}, shape {c.shape}."
        )
    return (c[:, None] == np.arange(3)[None, :, None, None]).astype(np.int8)


# ==================================================================================================
# Statistics used to match the classes
# ==================================================================================================


def densities(snapshots: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Fraction of sites in each channel (up, down, hole), per snapshot.

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    mask : ndarray of bool, (L, L), or None
        Count only these sites; ``None``: all.

    Returns
    -------
    ndarray of float64, (n_samples, 3)
        Rows sum to 1 for one-hot snapshots.

    Raises
    ------
    TypeError, ValueError
        For a bad array or mask.
    """
    caller = "snapshots.densities"
    s = _snapshot_array(snapshots, caller)
    m = _check_mask(mask, s.shape[-1], caller)
    if m is None:
        return s.reshape(*s.shape[:2], -1).mean(axis=2, dtype=np.float64)
    return s[:, :, m].mean(axis=2, dtype=np.float64)


def _offsets(max_distance: int) -> np.ndarray:
    """Displacements (dy, dx) with |dy|, |dx| <= max_distance in one half plane, by length."""
    out = [
        (dy, dx)
        for dy in range(max_distance + 1)
        for dx in range(-max_distance, max_distance + 1)
        if dy > 0 or dx > 0
    ]
    out.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, o[0], o[1]))
    return np.asarray(out, dtype=np.int64).reshape(-1, 2)


def _pairs(field_a: np.ndarray, field_b: np.ndarray, offset, mask):
    """Sum over sites x of a(x) b(x + offset) (periodic, or both sites inside ``mask``)."""
    dy, dx = int(offset[0]), int(offset[1])
    shifted = np.roll(field_b, (-dy, -dx), axis=(-2, -1))
    if mask is None:
        return field_a, shifted, None
    both = mask & np.roll(mask, (-dy, -dx), axis=(0, 1))
    # a pair that wraps around the torus is not a pair of the cropped image
    size = mask.shape[0]
    y, x = np.mgrid[:size, :size]
    both &= (y + dy >= 0) & (y + dy < size) & (x + dx >= 0) & (x + dx < size)
    return field_a, shifted, both


def spin_correlation(
    snapshots: np.ndarray, max_distance: int = 1, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Spin correlator :math:`\langle S^z_i S^z_j\rangle` by displacement, per snapshot.

    For each displacement :math:`\delta = (dy, dx)` the mean of :math:`S^z_x S^z_{x+\delta}`
    (:math:`S^z = \pm 1/2`) over the pairs of sites whose two sites both hold one particle
    (holes and, unprojected, doubly occupied sites are left out), the convention of Chiu et al.
    (2019). The lattice is periodic unless ``mask`` is given; then only pairs with both sites in
    the mask count, and none wraps around.

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    max_distance : int
        >= 1; displacements with |dy|, |dx| <= max_distance, one of each pair +-delta.
    mask : ndarray of bool, (L, L), or None

    Returns
    -------
    values : ndarray of float64, (n_samples, n_offsets)
        NaN where a snapshot has no such pair. Perfect Neel order gives -1/4 at (0, 1).
    offsets : ndarray of int64, (n_offsets, 2)
        (dy, dx), shortest first: (0, 1), (1, 0), (1, -1), (1, 1), (0, 2), ...

    Raises
    ------
    TypeError, ValueError
        For a bad array, mask or distance.
    """
    caller = "snapshots.spin_correlation"
    s = _snapshot_array(snapshots, caller)
    m = _check_mask(mask, s.shape[-1], caller)
    offsets = _offsets(_int(max_distance, caller, "max_distance", 1))
    total, count = _spin_pair_sums(s, offsets, m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan), offsets


def _spin_pair_sums(
    s: np.ndarray, offsets: Any, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per snapshot and displacement: the sum of S^z_x S^z_{x+delta} over the pairs of singly
    occupied sites, and the number of such pairs; both (n_samples, n_offsets)."""
    up, down = s[:, _UP].astype(np.float64), s[:, _DOWN].astype(np.float64)
    single = (up + down == 1).astype(np.float64)  # holes and doubly occupied sites drop out
    spin = 0.5 * (up - down) * single
    total = np.empty((s.shape[0], len(offsets)))
    count = np.empty_like(total)
    for k, off in enumerate(offsets):
        a, b, both = _pairs(spin, spin, off, mask)
        na, nb, _ = _pairs(single, single, off, mask)
        prod, norm = a * b, na * nb
        if both is not None:
            prod, norm = prod * both, norm * both
        total[:, k] = prod.sum(axis=(1, 2))
        count[:, k] = norm.sum(axis=(1, 2))
    return total, count


def nn_spin_correlator(snapshots: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    r"""Nearest-neighbour spin correlator :math:`\langle S^z_i S^z_{i+\hat e}\rangle` per snapshot.

    The mean of :math:`S^z_i S^z_j` (:math:`\pm 1/2` each) over all nearest-neighbour bonds (x and
    y pooled) whose two sites both hold one particle; negative for antiferromagnetic order (-1/4
    for a perfect Neel state). Periodic unless ``mask`` is given (see :func:`spin_correlation`).

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    mask : ndarray of bool, (L, L), or None

    Returns
    -------
    ndarray of float64, (n_samples,)
        NaN for a snapshot without an occupied bond.

    Raises
    ------
    TypeError, ValueError
        For a bad array or mask.

    Examples
    --------
    >>> neel = one_hot(np.indices((4, 4)).sum(axis=0)[None] % 2)
    >>> nn_spin_correlator(neel).tolist()
    [-0.25]
    """
    caller = "snapshots.nn_spin_correlator"
    s = _snapshot_array(snapshots, caller)
    m = _check_mask(mask, s.shape[-1], caller)
    total, count = _spin_pair_sums(s, ((0, 1), (1, 0)), m)  # x and y bonds pooled
    total, count = total.sum(axis=1), count.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def two_point(
    snapshots: np.ndarray, max_distance: int = 2, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""One-hot two-point functions :math:`\langle S_a(x) S_b(x + \delta)\rangle` per snapshot.

    For every displacement :math:`\delta` with :math:`|\delta_y|, |\delta_x| \le` ``max_distance``
    (one of each pair :math:`\pm\delta`) and every pair of channels (a, b), the mean over sites x
    of the product of the one-hot occupations. With ``max_distance = 2`` these are all two-point
    correlators inside a 3 x 3 window (the span of a 3 x 3 CCNN filter). Together with
    :func:`densities` they are the one- and two-point statistics a classifier must not be able to
    use to tell two snapshot classes apart.

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    max_distance : int
        >= 1.
    mask : ndarray of bool, (L, L), or None
        Average over pairs with both sites in the mask (none wrapping around); ``None``: all
        sites of the periodic lattice.

    Returns
    -------
    values : ndarray of float64, (n_samples, n_offsets, 3, 3)
        ``values[n, k, a, b]`` for displacement ``offsets[k]``.
    offsets : ndarray of int64, (n_offsets, 2)
        (dy, dx) as in :func:`spin_correlation`; 12 of them for ``max_distance = 2``.

    Raises
    ------
    TypeError, ValueError
        For a bad array, mask or distance.
    """
    caller = "snapshots.two_point"
    s = _snapshot_array(snapshots, caller)
    m = _check_mask(mask, s.shape[-1], caller)
    offsets = _offsets(_int(max_distance, caller, "max_distance", 1))
    f = s.astype(np.float64)
    values = np.empty((s.shape[0], len(offsets), 3, 3))
    for k, off in enumerate(offsets):
        a, b, both = _pairs(f, f, off, m)
        if both is None:
            values[:, k] = np.einsum("nayx,nbyx->nab", a, b) / (s.shape[-1] ** 2)
        else:
            values[:, k] = np.einsum("nayx,nbyx,yx->nab", a, b, both) / max(int(both.sum()), 1)
    return values, offsets


# ==================================================================================================
# Classical antiferromagnet and random snapshots
# ==================================================================================================


def _punch_holes(
    codes: np.ndarray, n_holes: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``codes`` (n, N) with ``n_holes`` distinct random sites per row emptied; and those sites."""
    sites = np.argsort(rng.random(codes.shape), axis=1)[:, :n_holes]
    np.put_along_axis(codes, sites, _HOLE, axis=1)
    return codes, sites


def afm_snapshots(
    n_samples: int,
    lattice_size: int = 16,
    temperature: float = 2.0,
    *,
    n_holes: int = 0,
    seed: int | np.random.Generator = 0,
    **sampler: Any,
) -> np.ndarray:
    """Snapshots of the classical Ising antiferromagnet (J = -1), optionally with random holes.

    Spins from :func:`physxai.physics.ising.sample` (``coupling=-1.0``, checkerboard Metropolis,
    with its equilibration and decorrelation protocol) at one temperature; +1 is spin up. Then
    ``n_holes`` distinct random sites of each snapshot are emptied. The Neel temperature is that
    of the ferromagnet, T_N = 2 / ln(1 + sqrt 2) = 2.269 (k_B = |J| = 1).

    Parameters
    ----------
    n_samples : int
        >= 1.
    lattice_size : int
        L, even (the checkerboard sampler).
    temperature : float
        T > 0; below T_N the snapshots carry Neel order (staggered magnetisation 0.91 at T = 2).
    n_holes : int
        Holes per snapshot, 0 <= n_holes <= L^2 - 2.
    seed : int or numpy.random.Generator
        An int seeds both the Ising sampler and the holes; a Generator supplies the sampler's
        seed and then the holes.
    **sampler
        Further options of :func:`physxai.physics.ising.sample` (``algorithm``, ``n_chains``, ...).

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)

    Raises
    ------
    ValueError, TypeError
        For bad counts, temperature or seed (and whatever ``ising.sample`` raises).

    Examples
    --------
    >>> s = afm_snapshots(8, lattice_size=8, temperature=1.5, seed=0)
    >>> s.shape, bool(nn_spin_correlator(s).mean() < -0.2)
    ((8, 3, 8, 8), True)
    """
    from . import ising

    caller = "snapshots.afm_snapshots"
    n = _int(n_samples, caller, "n_samples", 1)
    size = _int(lattice_size, caller, "lattice_size", 2)
    holes = _int(n_holes, caller, "n_holes", 0)
    _check_counts(size, holes, caller)
    rng = _rng(seed, caller)
    ising_seed = (
        int(seed) if not isinstance(seed, np.random.Generator) else int(rng.integers(2**31))
    )
    result = ising.sample(size, [temperature], n, coupling=-1.0, seed=ising_seed, **sampler)
    codes = np.where(np.asarray(result.spins) > 0, _UP, _DOWN).reshape(n, -1).astype(np.int64)
    codes, _ = _punch_holes(codes, holes, np.random.default_rng(rng.integers(2**62)))
    return one_hot(codes.reshape(n, size, size))


def random_snapshots(
    n_samples: int,
    lattice_size: int,
    n_up: int,
    n_down: int,
    n_holes: int,
    *,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Snapshots with fixed numbers of up spins, down spins and holes on uniformly random sites.

    Parameters
    ----------
    n_samples, lattice_size : int
        >= 1.
    n_up, n_down, n_holes : int
        >= 0, summing to L^2.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)

    Raises
    ------
    ValueError
        For a count < 0 or counts that do not sum to L^2.
    TypeError
        For a bad seed.

    Examples
    --------
    >>> s = random_snapshots(2, 4, 8, 6, 2, seed=0)
    >>> s.sum(axis=(2, 3)).tolist()
    [[8, 6, 2], [8, 6, 2]]
    """
    caller = "snapshots.random_snapshots"
    n = _int(n_samples, caller, "n_samples", 1)
    size = _int(lattice_size, caller, "lattice_size", 1)
    counts = [
        _int(v, caller, k, 0) for k, v in (("n_up", n_up), ("n_down", n_down), ("n_holes", n_holes))
    ]
    if sum(counts) != size * size:
        raise ValueError(
            f"{caller}: n_up + n_down + n_holes must equal the {size * size} sites of the "
            f"{size} x {size} lattice; got {counts[0]} + {counts[1]} + {counts[2]} = {sum(counts)}."
        )
    rng = _rng(seed, caller)
    codes = np.repeat(np.arange(3), counts)[None].repeat(n, axis=0)
    return one_hot(rng.permuted(codes, axis=1).reshape(n, size, size))


def random_like(snapshots: np.ndarray, *, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Each snapshot with its occupied sites shuffled: same counts per channel, no correlations.

    Sites where every channel is 0 (outside a crop) stay empty and are not shuffled into; the
    channel values of the other sites are permuted uniformly at random, independently for each
    snapshot. The per-snapshot densities are therefore exactly those of ``snapshots``.

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray, (n_samples, 3, L, L)
        Same dtype as ``snapshots``.

    Raises
    ------
    TypeError, ValueError
        For a bad array or seed.

    Examples
    --------
    >>> s = afm_snapshots(4, lattice_size=8, temperature=1.5, seed=0)
    >>> r = random_like(s, seed=1)
    >>> bool((densities(r) == densities(s)).all()), bool(abs(nn_spin_correlator(r).mean()) < 0.05)
    (True, True)
    """
    caller = "snapshots.random_like"
    s = _snapshot_array(snapshots, caller)
    rng = _rng(seed, caller)
    n = s.shape[0]
    flat = s.reshape(n, 3, -1)
    empty = flat.sum(axis=1) == 0
    # a random order of the occupied sites first, then the empty ones; the occupied positions in
    # their own order first, then the empty ones: pairing the two lists permutes the occupied sites
    order = np.argsort(np.where(empty, np.inf, rng.random(empty.shape)), axis=1, kind="stable")
    positions = np.argsort(empty, axis=1, kind="stable")
    out = np.empty_like(flat)
    rows = np.arange(n)[:, None]
    out[rows, :, positions] = flat[rows, :, order]
    return out.reshape(s.shape)


# ==================================================================================================
# Free fermions with flux pi per plaquette
# ==================================================================================================


def pi_flux_hamiltonian(
    lattice_size: int,
    *,
    boundary: tuple[int, int] = (1, -1),
    twist: tuple[float, float] = (0.0, 0.0),
    hopping: float = 1.0,
) -> np.ndarray:
    r"""One-body Hamiltonian of the pi-flux state on the ``L x L`` torus.

    .. math:: H = \sum_{x,y} \left( t^x_{xy}\, c^\dagger_{x+1,y} c_{x,y}
              + t^y_{xy}\, c^\dagger_{x,y+1} c_{x,y} + \mathrm{h.c.} \right),
              \quad t^x = -t,\ t^y = -t\,(-1)^x,

    so the product of the hoppings around every plaquette is :math:`-t^4` (flux pi). A bond that
    crosses the boundary in direction x (y) is multiplied by ``boundary[0]`` (``boundary[1]``),
    1 periodic or -1 antiperiodic, and every x (y) bond by the twist phase
    :math:`e^{i\theta_x / L}` (:math:`e^{i\theta_y / L}`). Sites are numbered ``y * L + x``.

    Parameters
    ----------
    lattice_size : int
        L, even and >= 2 (the gauge :math:`(-1)^x` needs an even period).
    boundary : (int, int)
        Each 1 or -1.
    twist : (float, float)
        :math:`(\theta_x, \theta_y)`, the flux through the two holes of the torus.
    hopping : float
        t > 0.

    Returns
    -------
    ndarray of complex128, (L^2, L^2)
        Hermitian.

    Raises
    ------
    ValueError
        For an odd or too small L, a boundary factor other than +-1, or a bad twist or hopping.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linalg.eigvalsh(pi_flux_hamiltonian(10))
    >>> round(float(e[46] - e[45]), 3)      # the gap above 46 fermions
    0.71
    """
    caller = "snapshots.pi_flux_hamiltonian"
    size = _int(lattice_size, caller, "lattice_size", 2)
    if size % 2:
        raise ValueError(f"{caller}: lattice_size must be even (flux pi needs it); got {size}.")
    if (
        not isinstance(boundary, (tuple, list))
        or len(boundary) != 2
        or any(b not in (1, -1) or isinstance(b, bool) for b in boundary)
    ):
        raise ValueError(f"{caller}: boundary must be a pair of +1 or -1; got {boundary!r}.")
    if not isinstance(twist, (tuple, list)) or len(twist) != 2:
        raise ValueError(
            f"{caller}: twist must be a pair of numbers (theta_x, theta_y); got {twist!r}."
        )
    theta = [_real(t, caller, "twist", -math.inf, math.inf) for t in twist]
    t = _real(hopping, caller, "hopping", 0.0, math.inf)
    if t <= 0:
        raise ValueError(f"{caller}: hopping must be > 0; got {hopping!r}.")
    n_sites = size * size
    y, x = np.divmod(np.arange(n_sites), size)
    h = np.zeros((n_sites, n_sites), dtype=np.complex128)
    # +x bonds: -t; +y bonds: -t (-1)^x
    amp_x = -t * np.where(x == size - 1, boundary[0], 1) * np.exp(1j * theta[0] / size)
    amp_y = (
        -t * (-1.0) ** x * np.where(y == size - 1, boundary[1], 1) * np.exp(1j * theta[1] / size)
    )
    right = y * size + (x + 1) % size
    up = ((y + 1) % size) * size + x
    sites = np.arange(n_sites)
    np.add.at(h, (right, sites), amp_x)
    np.add.at(h, (up, sites), amp_y)
    return h + h.conj().T


def pi_flux_orbitals(
    lattice_size: int,
    n_particles: int,
    *,
    n_draws: int = 1,
    boundary: tuple[int, int] = (1, -1),
    twist: tuple[float, float] = (0.0, 0.0),
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """The ``n_particles`` lowest one-body states of :func:`pi_flux_hamiltonian`, as columns.

    If the highest occupied level is degenerate and only partly filled (an open shell), it is
    filled with a Haar-random subspace of the needed dimension, drawn ``n_draws`` times
    independently (see the module docstring); a closed shell gives ``n_draws`` identical copies.

    Parameters
    ----------
    lattice_size : int
        L, even.
    n_particles : int
        0 < n_particles <= L^2.
    n_draws : int
        >= 1.
    boundary, twist
        As in :func:`pi_flux_hamiltonian`.
    seed : int or numpy.random.Generator
        For the open shell's random subspaces.

    Returns
    -------
    ndarray of float64 (no twist: H is real) or complex128, (n_draws, L^2, n_particles)
        Orthonormal columns. For a real H the open shell's subspaces are drawn from the real
        orthogonal group, which the lattice symmetries (real in this gauge) leave invariant.

    Raises
    ------
    ValueError
        For bad sizes or counts.

    Examples
    --------
    >>> phi = pi_flux_orbitals(10, 45, n_draws=2)
    >>> phi.shape, bool(np.allclose(phi[1].conj().T @ phi[1], np.eye(45)))
    ((2, 100, 45), True)
    """
    caller = "snapshots.pi_flux_orbitals"
    h = pi_flux_hamiltonian(lattice_size, boundary=boundary, twist=twist)
    n_sites = h.shape[0]
    n = _int(n_particles, caller, "n_particles", 1)
    if n > n_sites:
        raise ValueError(f"{caller}: n_particles must be <= {n_sites} (the sites); got {n}.")
    draws = _int(n_draws, caller, "n_draws", 1)
    rng = _rng(seed, caller)
    real = not np.abs(h.imag).any()  # no twist: a real Hamiltonian, real orbitals
    energy, states = np.linalg.eigh(h.real if real else h)
    tol = 1e-8 * max(1.0, float(np.abs(energy).max()))
    level = np.flatnonzero(np.abs(energy - energy[n - 1]) < tol)
    below = int(level[0])
    if level[-1] == n - 1:  # closed shell: the level ends with the n-th state
        return np.broadcast_to(states[:, :n], (draws, n_sites, n)).copy()
    needed = n - below
    degenerate = states[:, level]  # (N, g)
    g = len(level)
    out = np.empty((draws, n_sites, n), dtype=states.dtype)
    out[:, :, :below] = states[:, :below]
    for k in range(draws):
        # Haar-random orthogonal (real H) or unitary matrix from the QR decomposition of a
        # Gaussian matrix with the phases of R's diagonal divided out (Mezzadri 2007)
        z = rng.normal(size=(g, g))
        if not real:
            z = z + 1j * rng.normal(size=(g, g))
        q, r = np.linalg.qr(z)
        q = q * (np.diag(r) / np.abs(np.diag(r)))
        out[k, :, below:] = degenerate @ q[:, :needed]
    return out


class SlaterMetropolis:
    r"""Metropolis chains over fermion configurations with Slater-determinant weights.

    Each spin species :math:`\sigma` has orbitals :math:`\phi^\sigma_m(i)` (``N x N_sigma``);
    for a configuration with :math:`\sigma`-particles on sites :math:`r_1 \dots r_{N_\sigma}`,
    :math:`D_\sigma[k, m] = \phi^\sigma_m(r_k)`, and :math:`|\det D_\sigma|^2` is the probability
    of finding the Slater determinant's particles there. The chains sample
    :math:`|\det D_\uparrow \det D_\downarrow|^2`: ``projected=True`` forbids double occupancy
    (the Gutzwiller projector), ``False`` samples the two species independently.

    Moves (all proposals are symmetric, so the acceptance is :math:`\min(1, |R|^2)` with R the
    ratio of the products of determinants):

    - projected, with probability ``hop_probability``: pick a hole uniformly and a direction; a
      particle on that neighbour hops into the hole (row replacement in one determinant);
    - projected, otherwise: pick a site uniformly and a direction; if the two sites hold opposite
      spins they are exchanged (one row in each determinant);
    - unprojected: pick a species with probability 1/2, one of its particles uniformly and a
      direction; it hops there unless that site already holds the same species.

    A row replacement :math:`k \to i` has ratio :math:`R = \sum_m \phi_m(i) D^{-1}[m, k]`
    (O(N)), and the inverse is updated by Sherman-Morrison,
    :math:`D'^{-1} = D^{-1} - D^{-1}[:, k] \otimes (u - e_k) / R` with
    :math:`u = \phi(i)^T D^{-1}` (O(N^2)). The inverses are recomputed from scratch every
    ``recompute_every`` steps, which bounds the rounding drift (:meth:`inverse_error`).

    All chains advance together: one step is one proposal in every chain, vectorised in numpy.
    A sweep is ``n_sites`` steps.

    Parameters
    ----------
    orbitals : (array, array)
        Up and down orbitals, each ``(n_sites, n_sigma)`` shared by all chains or
        ``(n_chains, n_sites, n_sigma)`` one set per chain; ``n_sigma >= 1``.
    neighbours : ndarray of int, (n_sites, n_directions)
        Neighbour table of a lattice in which j is a neighbour of i as often as i of j (as
        :func:`square_lattice_neighbours`).
    projected : bool
        No double occupancy.
    n_chains : int or None
        Independent chains; ``None``: taken from per-chain orbitals, else 64.
    hop_probability : float
        In [0, 1]; the probability of a hole hop rather than an exchange (projected only).
    recompute_every : int
        Steps between recomputations of the inverses.
    seed : int or numpy.random.Generator

    Attributes
    ----------
    n_steps : int
        Steps done.
    n_accepted : ndarray of int64, (2,)
        Accepted hops and exchanges (projected) or hops (unprojected, second entry 0), over all
        chains.
    n_proposed : ndarray of int64, (2,)
        Proposals of each kind that were possible (a particle next to the hole, opposite spins).

    Raises
    ------
    ValueError
        For inconsistent shapes, too many particles, or no non-singular starting configuration
        found.
    TypeError
        For a bad seed.

    Examples
    --------
    >>> phi = pi_flux_orbitals(4, 7)[0]
    >>> chains = SlaterMetropolis((phi, phi[:, :6]), square_lattice_neighbours(4), n_chains=8)
    >>> chains.sweep(2).codes().shape
    (8, 16)
    """

    def __init__(
        self,
        orbitals: tuple[np.ndarray, np.ndarray],
        neighbours: np.ndarray,
        *,
        projected: bool = True,
        n_chains: int | None = None,
        hop_probability: float = 0.5,
        recompute_every: int = 500,
        seed: int | np.random.Generator = 0,
    ) -> None:
        caller = "SlaterMetropolis"
        if not isinstance(orbitals, (tuple, list)) or len(orbitals) != 2:
            raise TypeError(
                f"{caller}: orbitals must be a pair (up, down) of arrays; got "
                f"{type(orbitals).__name__}."
            )
        nbr = np.asarray(neighbours)
        if nbr.ndim != 2 or nbr.dtype.kind not in "iu":
            raise ValueError(
                f"{caller}: neighbours must be an integer array (n_sites, n_directions); got "
                f"dtype {nbr.dtype}, shape {nbr.shape}."
            )
        n_sites = nbr.shape[0]
        if nbr.size and (nbr.min() < 0 or nbr.max() >= n_sites):
            raise ValueError(f"{caller}: neighbours must hold site indices in [0, {n_sites}).")
        phis = []
        for name, phi in zip(("up", "down"), orbitals):
            p = np.asarray(phi)
            if p.ndim == 2:
                p = p[None]
            if p.ndim != 3 or p.shape[1] != n_sites or p.shape[2] < 1 or p.shape[2] > n_sites:
                raise ValueError(
                    f"{caller}: orbitals {name} must have shape (n_sites, n_sigma) or (n_chains, "
                    f"n_sites, n_sigma) with n_sites = {n_sites} and n_sigma >= 1; got shape "
                    f"{np.shape(phi)}."
                )
            phis.append(p)
        dtype = np.float64 if all(np.isrealobj(p) for p in phis) else np.complex128
        phis = [np.ascontiguousarray(p, dtype=dtype) for p in phis]
        per_chain = {p.shape[0] for p in phis if p.shape[0] > 1}
        if len(per_chain) > 1:
            raise ValueError(
                f"{caller}: per-chain orbitals must agree on n_chains; got {sorted(per_chain)}."
            )
        if n_chains is None:
            n_chains = per_chain.pop() if per_chain else 64
        self.n_chains = _int(n_chains, caller, "n_chains", 1)
        if per_chain and self.n_chains not in per_chain:
            raise ValueError(
                f"{caller}: n_chains must match the per-chain orbitals ({per_chain.pop()}); got "
                f"{self.n_chains}."
            )
        self.projected = bool(projected)
        self.counts = (phis[0].shape[2], phis[1].shape[2])
        if self.projected and sum(self.counts) > n_sites:
            raise ValueError(
                f"{caller}: projected chains need n_up + n_down <= n_sites = {n_sites}; got "
                f"{self.counts[0]} + {self.counts[1]}."
            )
        self.hop_probability = _real(hop_probability, caller, "hop_probability", 0.0, 1.0)
        self.recompute_every = _int(recompute_every, caller, "recompute_every", 1)
        self.neighbours = nbr.astype(np.int64)
        self.n_sites = n_sites
        self._phi = phis
        self._rng = _rng(seed, caller)
        self.n_steps = 0
        self.n_accepted = np.zeros(2, dtype=np.int64)
        self.n_proposed = np.zeros(2, dtype=np.int64)
        self._start()

    # ---------------------------------------------------------------------------- state

    def _orbital_rows(self, sigma: int, chains: np.ndarray, sites: np.ndarray) -> np.ndarray:
        """phi_sigma(site) of the given chains, (len(chains), n_sigma)."""
        phi = self._phi[sigma]
        return phi[chains if phi.shape[0] > 1 else 0, sites]

    def _matrices(self, sigma: int) -> np.ndarray:
        c = np.arange(self.n_chains)[:, None]
        phi = self._phi[sigma]
        return phi[c if phi.shape[0] > 1 else 0, self._sites[sigma]]

    def _start(self) -> None:
        """Random configurations with non-singular determinants."""
        n_up, n_down = self.counts
        c, n = self.n_chains, self.n_sites
        self._sites = [np.zeros((c, n_up), np.int64), np.zeros((c, n_down), np.int64)]
        todo = np.arange(c)
        for _ in range(100):
            if self.projected:
                perm = self._rng.permuted(np.tile(np.arange(n), (len(todo), 1)), axis=1)
                self._sites[0][todo] = perm[:, :n_up]
                self._sites[1][todo] = perm[:, n_up : n_up + n_down]
            else:
                for sigma, m in enumerate(self.counts):
                    perm = self._rng.permuted(np.tile(np.arange(n), (len(todo), 1)), axis=1)
                    self._sites[sigma][todo] = perm[:, :m]
            ok = np.ones(c, dtype=bool)
            for sigma in (0, 1):
                ok &= np.linalg.cond(self._matrices(sigma)) < 1e8
            todo = np.flatnonzero(~ok)
            if not len(todo):
                break
        else:
            raise ValueError(
                "SlaterMetropolis: no non-singular starting configuration found for "
                f"{len(todo)} chains in 100 tries; the orbitals may be degenerate on this lattice."
            )
        codes = np.full((c, n), _HOLE, dtype=np.int64)
        np.put_along_axis(codes, self._sites[0], _UP, axis=1)
        both = np.zeros((c, n), dtype=bool)
        np.put_along_axis(both, self._sites[1], True, axis=1)
        codes = np.where(both, np.where(codes == _UP, 3, _DOWN), codes)
        self.set_codes(codes)

    def set_codes(self, codes: np.ndarray) -> SlaterMetropolis:
        """Put every chain into a given configuration (site codes as :meth:`codes` returns).

        Parameters
        ----------
        codes : ndarray of int, (n_chains, n_sites)
            0 up, 1 down, 2 hole, 3 doubly occupied (unprojected only), with the chains'
            particle numbers.

        Returns
        -------
        SlaterMetropolis
            ``self``, with the inverses recomputed.

        Raises
        ------
        ValueError
            For a wrong shape, codes, particle numbers, or a configuration of zero weight.
        """
        caller = "SlaterMetropolis.set_codes"
        c = np.asarray(codes)
        allowed = 3 if self.projected else 4
        if (
            c.shape != (self.n_chains, self.n_sites)
            or c.dtype.kind not in "iu"
            or c.min() < 0
            or c.max() >= allowed
        ):
            raise ValueError(
                f"{caller}: codes must be integers in [0, {allowed}) of shape ({self.n_chains}, "
                f"{self.n_sites}); got dtype {c.dtype}, shape {c.shape}."
            )
        up, down = (c == _UP) | (c == 3), (c == _DOWN) | (c == 3)
        if (up.sum(axis=1) != self.counts[0]).any() or (down.sum(axis=1) != self.counts[1]).any():
            raise ValueError(
                f"{caller}: every chain must hold {self.counts[0]} up and {self.counts[1]} down "
                "particles."
            )
        self._sites = [
            np.nonzero(up)[1].reshape(self.n_chains, -1),
            np.nonzero(down)[1].reshape(self.n_chains, -1),
        ]
        self._rows = []
        for sigma in (0, 1):
            rows = np.full(c.shape, -1, dtype=np.int64)
            np.put_along_axis(rows, self._sites[sigma], np.arange(self.counts[sigma])[None], axis=1)
            self._rows.append(rows)
        if self.projected:
            self._holes = np.nonzero(c == _HOLE)[1].reshape(self.n_chains, -1)
        if not np.isfinite(self.log_weight()).all():
            raise ValueError(f"{caller}: a configuration has zero weight (a singular determinant).")
        return self.recompute()

    def recompute(self) -> SlaterMetropolis:
        """Recompute the inverse matrices from scratch (done every ``recompute_every`` steps)."""
        self._inv = [np.linalg.inv(self._matrices(sigma)) for sigma in (0, 1)]
        return self

    def inverse_error(self) -> float:
        """Largest entry of :math:`|D D^{-1} - 1|` over both species and all chains (drift)."""
        err = 0.0
        for sigma in (0, 1):
            prod = self._matrices(sigma) @ self._inv[sigma]
            err = max(err, float(np.abs(prod - np.eye(self.counts[sigma])).max()))
        return err

    def codes(self) -> np.ndarray:
        """Site codes (n_chains, n_sites), int8: 0 up, 1 down, 2 hole, 3 doubly occupied."""
        up, down = self._rows[0] >= 0, self._rows[1] >= 0
        out = np.full(up.shape, _HOLE, dtype=np.int8)
        out[up] = _UP
        out[down] = _DOWN
        out[up & down] = 3
        return out

    def log_weight(self) -> np.ndarray:
        r""":math:`\log |\det D_\uparrow \det D_\downarrow|^2` of every chain, (n_chains,)."""
        return sum(2 * np.linalg.slogdet(self._matrices(s))[1] for s in (0, 1))

    # ---------------------------------------------------------------------------- moves

    def _ratio(self, sigma, chains, rows, to_sites):
        a = self._orbital_rows(sigma, chains, to_sites)
        b = self._inv[sigma][chains, :, rows]
        return np.einsum("cm,cm->c", a, b)

    def _update(self, sigma, chains, rows, from_sites, to_sites, ratio):
        """Sherman-Morrison for row ``rows`` of D replaced by phi(to_sites); then bookkeeping."""
        if not len(chains):
            return
        inv = self._inv[sigma][chains]  # (c, n, n)
        u = np.einsum("cm,cmk->ck", self._orbital_rows(sigma, chains, to_sites), inv)
        u[np.arange(len(chains)), rows] -= 1.0
        column = inv[np.arange(len(chains)), :, rows]
        inv -= column[:, :, None] * (u / ratio[:, None])[:, None, :]
        self._inv[sigma][chains] = inv
        self._sites[sigma][chains, rows] = to_sites
        self._rows[sigma][chains, from_sites] = -1
        self._rows[sigma][chains, to_sites] = rows

    def step(self, n_steps: int = 1) -> SlaterMetropolis:
        """Advance every chain by ``n_steps`` proposals.

        Parameters
        ----------
        n_steps : int
            >= 0.

        Returns
        -------
        SlaterMetropolis
            ``self``.
        """
        for _ in range(_int(n_steps, "SlaterMetropolis.step", "n_steps", 0)):
            if self.projected:
                self._projected_step()
            else:
                self._free_step()
            self.n_steps += 1
            if self.n_steps % self.recompute_every == 0:
                self.recompute()
        return self

    def sweep(self, n_sweeps: int = 1) -> SlaterMetropolis:
        """Advance every chain by ``n_sweeps * n_sites`` proposals; returns ``self``."""
        return self.step(_int(n_sweeps, "SlaterMetropolis.sweep", "n_sweeps", 0) * self.n_sites)

    def _projected_step(self) -> None:
        rng, c = self._rng, self.n_chains
        chains = np.arange(c)
        n_dirs = self.neighbours.shape[1]
        n_holes = self._holes.shape[1]
        hop = rng.random(c) < (self.hop_probability if n_holes else 0.0)
        direction = rng.integers(n_dirs, size=c)
        which_hole = rng.integers(max(n_holes, 1), size=c)
        site = rng.integers(self.n_sites, size=c)
        accept_draw = rng.random(c)
        if n_holes:
            hole = self._holes[chains, which_hole]
            site = np.where(hop, hole, site)
        other = self.neighbours[site, direction]
        rows_up, rows_down = self._rows
        up_site, up_other = rows_up[chains, site] >= 0, rows_up[chains, other] >= 0
        down_site, down_other = rows_down[chains, site] >= 0, rows_down[chains, other] >= 0
        # hop: the particle on `other` moves into the hole `site`
        # exchange: an up and a down spin on `site` and `other` trade places
        exchange = ~hop & ((up_site & down_other) | (up_other & down_site))
        up_move = (hop & up_other) | exchange
        down_move = (hop & down_other) | exchange
        up_from = np.where(hop | up_other, other, site)
        up_to = np.where(hop | up_other, site, other)
        down_from = np.where(hop | down_other, other, site)
        down_to = np.where(hop | down_other, site, other)
        valid = up_move | down_move
        self.n_proposed += [int((valid & hop).sum()), int(exchange.sum())]
        ratio = valid.astype(self._phi[0].dtype)
        moves = []
        for sigma, move, src, dst in (
            (0, up_move, up_from, up_to),
            (1, down_move, down_from, down_to),
        ):
            ch = np.flatnonzero(move)
            rows = self._rows[sigma][ch, src[ch]]
            r = self._ratio(sigma, ch, rows, dst[ch])
            ratio[ch] *= r
            moves.append((ch, rows, r))
        accept = accept_draw < np.abs(ratio) ** 2
        self.n_accepted += [int((accept & hop).sum()), int((accept & ~hop).sum())]
        for sigma, (ch, rows, r), src, dst in zip(
            (0, 1), moves, (up_from, down_from), (up_to, down_to)
        ):
            ok = accept[ch]
            a = ch[ok]
            self._update(sigma, a, rows[ok], src[a], dst[a], r[ok])
        moved = np.flatnonzero(accept & hop)
        if len(moved):
            self._holes[moved, which_hole[moved]] = other[moved]

    def _free_step(self) -> None:
        rng, c = self._rng, self.n_chains
        species = (rng.random(c) >= 0.5).astype(np.int64)
        direction = rng.integers(self.neighbours.shape[1], size=c)
        pick = rng.random(c)
        accept_draw = rng.random(c)
        total_accepted = 0
        for sigma in (0, 1):
            ch = np.flatnonzero(species == sigma)
            rows = (pick[ch] * self.counts[sigma]).astype(np.int64)
            src = self._sites[sigma][ch, rows]
            dst = self.neighbours[src, direction[ch]]
            free = self._rows[sigma][ch, dst] < 0
            ch, rows, src, dst = ch[free], rows[free], src[free], dst[free]
            self.n_proposed[0] += len(ch)
            r = self._ratio(sigma, ch, rows, dst)
            ok = accept_draw[ch] < np.abs(r) ** 2
            total_accepted += int(ok.sum())
            self._update(sigma, ch[ok], rows[ok], src[ok], dst[ok], r[ok])
        self.n_accepted[0] += total_accepted


def pi_flux_chains(
    lattice_size: int = 10,
    n_holes: int = 9,
    *,
    projected: bool = True,
    n_up: int | None = None,
    n_chains: int = 256,
    boundary: tuple[int, int] = (1, -1),
    twist: tuple[float, float] = (0.0, 0.0),
    hop_probability: float = 0.5,
    seed: int | np.random.Generator = 0,
) -> SlaterMetropolis:
    """Markov chains of the (projected) pi-flux state, not yet thermalised.

    Builds :class:`SlaterMetropolis` with the orbitals of :func:`pi_flux_orbitals` for
    ``n_up`` and ``n_down = L^2 - n_holes - n_up`` fermions (``n_up = None``: the larger half).
    Open shells get one random filling per chain. For timing and autocorrelation studies;
    :func:`pi_flux` wraps it with a sampling protocol.

    Parameters
    ----------
    lattice_size : int
        L, even.
    n_holes : int
        L^2 minus the number of fermions; unprojected this fixes the particle numbers, not the
        number of empty sites.
    projected : bool
    n_up : int or None
    n_chains : int
    boundary, twist
        As in :func:`pi_flux_hamiltonian`.
    hop_probability : float
    seed : int or numpy.random.Generator

    Returns
    -------
    SlaterMetropolis

    Raises
    ------
    ValueError, TypeError
        For bad sizes, counts or seed.
    """
    caller = "snapshots.pi_flux_chains"
    size = _int(lattice_size, caller, "lattice_size", 2)
    holes = _int(n_holes, caller, "n_holes", 0)
    n_up, n_down = _check_counts(size, holes, caller, n_up)
    if min(n_up, n_down) < 1:
        raise ValueError(f"{caller}: n_up and n_down must both be >= 1; got {n_up} and {n_down}.")
    chains = _int(n_chains, caller, "n_chains", 1)
    rng = _rng(seed, caller)
    orbitals = tuple(
        pi_flux_orbitals(size, m, n_draws=chains, boundary=boundary, twist=twist, seed=rng)
        for m in (n_up, n_down)
    )
    # a closed shell gives identical copies: share them
    orbitals = tuple(o[0] if np.array_equal(o[0], o[-1]) else o for o in orbitals)
    return SlaterMetropolis(
        orbitals,
        square_lattice_neighbours(size),
        projected=projected,
        n_chains=chains,
        hop_probability=hop_probability,
        seed=rng,
    )


def _d4(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each (L, L) configuration under a random element of the square's symmetry group D4."""
    out = codes.copy()
    k = rng.integers(4, size=len(codes))
    flip = rng.random(len(codes)) < 0.5
    for r in range(4):
        for f in (False, True):
            sel = (k == r) & (flip == f)
            if sel.any():
                x = np.rot90(codes[sel], r, axes=(1, 2))
                out[sel] = x[:, :, ::-1] if f else x
    return out


def pi_flux(
    n_samples: int,
    lattice_size: int = 10,
    n_holes: int = 9,
    *,
    projected: bool = True,
    n_chains: int = 256,
    n_thermalize: int = 50,
    n_between: int = 6,
    symmetrize: bool = True,
    crop_radius: float | None = None,
    hop_probability: float = 0.5,
    boundary: tuple[int, int] = (1, -1),
    twist: tuple[float, float] = (0.0, 0.0),
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Snapshots of the Gutzwiller-projected pi-flux state (Metropolis, many chains at once).

    Protocol: ``n_chains`` chains start from random configurations, run ``n_thermalize`` sweeps,
    then every chain yields one snapshot every ``n_between`` sweeps until ``n_samples`` are
    collected (in the order time, then chain). The defaults come from the integrated
    autocorrelation times measured on 10 x 10 at 9 holes (``benchmarks/snapshots.py``, in sweeps):
    2.9 for the staggered magnetisation, 2.7 for a hole Fourier mode, 1.3 for the
    nearest-neighbour spin sum. Snapshots 6 sweeps apart are therefore about 2 tau_int apart, and
    50 sweeps of thermalisation are about 17 tau_int. At half filling (no hole hops) the
    staggered magnetisation decorrelates more slowly (tau_int 5.9 sweeps): use ``n_between=12``
    there.

    ``symmetrize`` maps each snapshot by a random element of D4 and exchanges up and down with
    probability 1/2. Both are exact symmetries of the projected state's ensemble up to the
    boundary conditions, which single out the y direction, and the spin imbalance of an odd
    particle number (46 up, 45 down): after symmetrisation both spin orientations and both
    boundary directions appear equally.

    Parameters
    ----------
    n_samples : int
        >= 1.
    lattice_size : int
        L, even.
    n_holes : int
        Holes per snapshot (projected); particles = L^2 - n_holes, split 46/45 at the default.
    projected : bool
        ``False``: the free-fermion Slater determinant with double occupancy allowed (a doubly
        occupied site is 1 in both spin channels; the hole channel then marks empty sites).
    n_chains : int
        Chains run in parallel (vectorised); at most ``n_samples`` are used.
    n_thermalize, n_between : int
        Sweeps (``L^2`` proposals per chain) before the first snapshot and between snapshots.
    symmetrize : bool
    crop_radius : float or None
        Apply :func:`circular_crop` with this radius; ``None``: the full lattice.
    hop_probability, boundary, twist
        As in :class:`SlaterMetropolis` and :func:`pi_flux_hamiltonian`.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)

    Raises
    ------
    ValueError, TypeError
        For bad counts, sweeps, sizes or seed.

    Examples
    --------
    >>> s = pi_flux(16, lattice_size=4, n_holes=2, n_chains=8, n_thermalize=5, seed=0)
    >>> s.shape, s.sum(axis=(2, 3))[0].tolist()
    ((16, 3, 4, 4), [7, 7, 2])
    """
    caller = "snapshots.pi_flux"
    n = _int(n_samples, caller, "n_samples", 1)
    thermalize = _int(n_thermalize, caller, "n_thermalize", 0)
    between = _int(n_between, caller, "n_between", 1)
    rng = _rng(seed, caller)
    chains = pi_flux_chains(
        lattice_size,
        n_holes,
        projected=projected,
        n_chains=min(_int(n_chains, caller, "n_chains", 1), n),
        boundary=boundary,
        twist=twist,
        hop_probability=hop_probability,
        seed=rng,
    )
    chains.sweep(thermalize)
    size = int(lattice_size)
    collected = []
    n_collected = 0
    while n_collected < n:
        chains.sweep(between)
        codes = chains.codes()
        collected.append(codes)
        n_collected += len(codes)
    codes = np.concatenate(collected)[:n].reshape(n, size, size)
    doubly = codes == 3
    if symmetrize:
        codes = _d4(codes, rng)
        doubly = codes == 3
        swap = rng.random(n) < 0.5
        spins = codes[swap]
        codes[swap] = np.where(spins == _UP, _DOWN, np.where(spins == _DOWN, _UP, spins))
    out = one_hot(np.where(doubly, _HOLE, codes).astype(np.int64))
    if doubly.any():  # unprojected: a doubly occupied site is up and down, not a hole
        out[:, _UP][doubly] = 1
        out[:, _DOWN][doubly] = 1
        out[:, _HOLE][doubly] = 0
    return circular_crop(out, crop_radius) if crop_radius is not None else out


# ==================================================================================================
# Classical Ising parents with couplings on the first neighbour shells
# ==================================================================================================


def shell_distances(n_shells: int) -> np.ndarray:
    """Squared lengths of the first ``n_shells`` neighbour shells of the square lattice.

    The distinct values of :math:`d_y^2 + d_x^2 > 0` in increasing order: 1, 2, 4, 5, 8, 9, 10,
    ... The first five are every displacement inside a 3 x 3 window (the span of a 3 x 3
    filter): distances 1, sqrt 2, 2, sqrt 5 and 2 sqrt 2.

    Parameters
    ----------
    n_shells : int
        >= 1.

    Returns
    -------
    ndarray of int64, (n_shells,)

    Examples
    --------
    >>> shell_distances(6).tolist()
    [1, 2, 4, 5, 8, 9]
    """
    n = _int(n_shells, "snapshots.shell_distances", "n_shells", 1)
    top = 1
    while True:
        values = sorted({dy * dy + dx * dx for dy in range(top + 1) for dx in range(top + 1)} - {0})
        if len(values) >= n and values[n - 1] <= top * top:
            return np.asarray(values[:n], dtype=np.int64)
        top += 1


def _shell_reach(n_shells: int) -> int:
    """The largest |dy| or |dx| of a displacement in the first ``n_shells`` shells."""
    return math.isqrt(int(shell_distances(n_shells)[-1]))


def shell_correlators(
    snapshots: np.ndarray, n_shells: int = 5, mask: np.ndarray | None = None
) -> np.ndarray:
    r"""Spin correlator :math:`\langle S^z_i S^z_j\rangle` on each neighbour shell, per snapshot.

    The mean of :func:`spin_correlation` over the displacements of each shell of
    :func:`shell_distances` (pairs of sites that both hold one particle; periodic unless
    ``mask`` is given). With the default five shells these are all the spin two-point functions a
    3 x 3 window sees.

    Parameters
    ----------
    snapshots : ndarray, (n_samples, 3, L, L)
    n_shells : int
        >= 1.
    mask : ndarray of bool, (L, L), or None

    Returns
    -------
    ndarray of float64, (n_samples, n_shells)
        -1/4, +1/4, +1/4, -1/4, +1/4 for a perfect Neel state.

    Raises
    ------
    TypeError, ValueError
        For a bad array, mask or shell count.

    Examples
    --------
    >>> neel = one_hot(np.indices((6, 6)).sum(axis=0)[None] % 2)
    >>> shell_correlators(neel, 5)[0].tolist()
    [-0.25, 0.25, 0.25, -0.25, 0.25]
    """
    d2 = shell_distances(n_shells)
    values, offsets = spin_correlation(snapshots, max(1, _shell_reach(len(d2))), mask)
    lengths = (offsets**2).sum(axis=1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN shells stay NaN
        return np.stack([np.nanmean(values[:, lengths == d], axis=1) for d in d2], axis=1)


def _shell_masks(size: int, n_shells: int) -> np.ndarray:
    """Boolean (n_shells, N, N): which site pairs of the periodic lattice lie on each shell."""
    y, x = np.divmod(np.arange(size * size), size)
    dy = np.abs(y[:, None] - y[None]) % size
    dx = np.abs(x[:, None] - x[None]) % size
    d2 = np.minimum(dy, size - dy) ** 2 + np.minimum(dx, size - dx) ** 2
    return np.stack([d2 == d for d in shell_distances(n_shells)])


def _check_shells(couplings: Any, size: int, caller: str, name: str = "couplings") -> np.ndarray:
    try:
        j = np.asarray(couplings, dtype=np.float64)
    except (TypeError, ValueError):
        j = np.empty(0)
    if j.ndim != 1 or not len(j) or not np.isfinite(j).all():
        raise ValueError(
            f"{caller}: {name} must be a non-empty 1-D sequence of finite numbers (one per "
            f"neighbour shell, nearest first); got {couplings!r}."
        )
    reach = _shell_reach(len(j))
    if size < 2 * reach + 1:
        raise ValueError(
            f"{caller}: {len(j)} shells reach {reach} sites along an axis, which the periodic "
            f"lattice resolves only for lattice_size >= {2 * reach + 1}; got {size}."
        )
    return j


class ShellIsing:
    r"""Markov chains of a classical Ising model with couplings on neighbour shells, at zero magnetisation.

    Spins :math:`\sigma_i = \pm 1` on the periodic ``L x L`` lattice (``L`` even, half of them
    up) with energy, in units of the temperature,

    .. math:: E(\sigma) = \sum_k J_k \sum_{\langle ij\rangle_k} \sigma_i \sigma_j ,

    where :math:`\langle ij\rangle_k` runs over the unordered pairs on shell k of
    :func:`shell_distances` (minimum image); :math:`J_1 > 0` is antiferromagnetic. Kawasaki
    dynamics with non-local exchanges: each step proposes to swap a random up spin with a random
    down spin in every chain and accepts with probability :math:`\min(1, e^{-\Delta E})`, so the
    magnetisation is exactly zero and the chains sample the canonical ensemble at
    :math:`M = 0`, the sector of a half-filled antiferromagnet's snapshots. The local fields are
    kept up to date, so a step costs O(chains x N) and all chains move at once.

    With couplings on the first five shells (every displacement inside a 3 x 3 window), this is
    the maximum-entropy spin model for given spin two-point functions in that window; the
    geometric-string generator uses it as a parent whose two-point functions are tuned
    (:func:`tune_shell_couplings`) rather than inherited.

    Parameters
    ----------
    lattice_size : int
        L, even, at least ``2 * reach + 1`` for the shells used.
    couplings : sequence of float
        :math:`J_1, J_2, \ldots`, one per shell.
    n_chains : int
        >= 1.
    seed : int or numpy.random.Generator
        Chains start from independent uniformly random configurations.

    Examples
    --------
    >>> chains = ShellIsing(6, [0.6], n_chains=200, seed=0).sweep(50)
    >>> s = chains.snapshots()
    >>> s.shape, bool(shell_correlators(s, 1).mean() < -0.1)
    ((200, 3, 6, 6), True)
    """

    def __init__(
        self,
        lattice_size: int,
        couplings: Sequence[float],
        *,
        n_chains: int = 1000,
        seed: int | np.random.Generator = 0,
    ) -> None:
        caller = "snapshots.ShellIsing"
        size = _int(lattice_size, caller, "lattice_size", 2)
        if size % 2:
            raise ValueError(
                f"{caller}: lattice_size must be even (half of the spins up); got {size}."
            )
        self.lattice_size = size
        self.n_chains = _int(n_chains, caller, "n_chains", 1)
        self._rng = _rng(seed, caller)
        self.set_couplings(couplings, _fields=False)
        n = size * size
        order = np.argsort(self._rng.random((self.n_chains, n)), axis=1)
        self._up, self._down = order[:, : n // 2].copy(), order[:, n // 2 :].copy()
        self.spins = np.full((self.n_chains, n), -1.0)
        np.put_along_axis(self.spins, self._up, 1.0, axis=1)
        self._fields = self.spins @ self._matrix
        self.acceptance = math.nan

    def set_couplings(self, couplings: Sequence[float], *, _fields: bool = True) -> ShellIsing:
        """Change the couplings (the chains keep their configurations)."""
        self.couplings = _check_shells(couplings, self.lattice_size, "snapshots.ShellIsing")
        self._masks = _shell_masks(self.lattice_size, len(self.couplings)).astype(np.float64)
        #: unordered pairs on each shell (P_k)
        self.pairs = self._masks.sum(axis=(1, 2)) / 2.0
        self._matrix = np.tensordot(self.couplings, self._masks, axes=1)
        if _fields:
            self._fields = self.spins @ self._matrix
        return self

    def energy(self) -> np.ndarray:
        """E(sigma) of every chain, (n_chains,)."""
        return 0.5 * np.einsum("ci,ci->c", self.spins, self._fields)

    def sweep(self, n_sweeps: int = 1) -> ShellIsing:
        """``n_sweeps`` x N/2 exchange proposals in every chain (each spin proposed once on average)."""
        sweeps = _int(n_sweeps, "snapshots.ShellIsing.sweep", "n_sweeps", 0)
        m, n = self.spins.shape
        rows = np.arange(m)
        half = n // 2
        accepted = 0
        for _ in range(sweeps * half):
            a = self._rng.integers(half, size=m)
            b = self._rng.integers(half, size=m)
            i, j = self._up[rows, a], self._down[rows, b]
            # flipping sigma_i = +1 and sigma_j = -1; the (i, j) bond itself is unchanged
            delta = 2.0 * (self._fields[rows, j] - self._fields[rows, i]) - 4.0 * self._matrix[i, j]
            ok = self._rng.random(m) < np.exp(-np.maximum(delta, 0.0))
            r, ia, ja = rows[ok], i[ok], j[ok]
            self.spins[r, ia], self.spins[r, ja] = -1.0, 1.0
            self._fields[r] += 2.0 * (self._matrix[ja] - self._matrix[ia])
            self._up[r, a[ok]], self._down[r, b[ok]] = ja, ia
            accepted += len(r)
        if sweeps:
            self.acceptance = accepted / (sweeps * half * m)
        return self

    def shell_means(self) -> np.ndarray:
        r"""Per chain, the mean of :math:`\sigma_i \sigma_j` over each shell's pairs, (n_chains, n_shells)."""
        products = np.einsum("ci,kij,cj->ck", self.spins, self._masks, self.spins)
        return products / (2.0 * self.pairs)

    def snapshots(self) -> np.ndarray:
        """The chains' current configurations, one-hot (n_chains, 3, L, L), up = +1, no holes."""
        codes = np.where(self.spins > 0, _UP, _DOWN).astype(np.int64)
        return one_hot(codes.reshape(-1, self.lattice_size, self.lattice_size))


def shell_ising(
    n_samples: int,
    lattice_size: int = 10,
    couplings: Sequence[float] = (0.5,),
    *,
    n_chains: int | None = None,
    n_thermalize: int = 300,
    n_between: int = 10,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    r"""Hole-free snapshots of the shell-coupled Ising model at zero magnetisation (:class:`ShellIsing`).

    ``n_chains`` chains (default ``min(n_samples, 1000)``) are thermalised for ``n_thermalize``
    sweeps from random configurations and then give one snapshot each every ``n_between`` sweeps;
    the snapshots are returned chain-interleaved (consecutive ones come from different chains).
    The defaults are ample for couplings of order 1 on 10 x 10: from a random start the shell
    correlators settle within about 50 sweeps (a Neel start needs about 150).

    Parameters
    ----------
    n_samples : int
        >= 1.
    lattice_size : int
        Even.
    couplings : sequence of float
        One per shell, nearest first (see :class:`ShellIsing`).
    n_chains : int or None
    n_thermalize, n_between : int
        Sweeps.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)
        Exactly L^2 / 2 up spins and no holes in every snapshot.

    Raises
    ------
    ValueError, TypeError
        For an odd lattice, couplings the lattice cannot resolve, or bad counts.

    Examples
    --------
    >>> s = shell_ising(100, lattice_size=6, couplings=[0.6, 0.2], seed=0)
    >>> s.shape, sorted(s[0].sum(axis=(1, 2)).tolist())
    ((100, 3, 6, 6), [0, 18, 18])
    """
    caller = "snapshots.shell_ising"
    n = _int(n_samples, caller, "n_samples", 1)
    chains = min(n, 1000) if n_chains is None else _int(n_chains, caller, "n_chains", 1)
    warm = _int(n_thermalize, caller, "n_thermalize", 0)
    between = _int(n_between, caller, "n_between", 1)
    sampler = ShellIsing(lattice_size, couplings, n_chains=chains, seed=_rng(seed, caller))
    sampler.sweep(warm)
    out = []
    for _ in range(-(-n // chains)):
        sampler.sweep(between)
        out.append(sampler.snapshots())
    return np.concatenate(out)[:n]


@dataclass(frozen=True)
class ShellFit:
    """Result of :func:`tune_shell_couplings`.

    Attributes
    ----------
    couplings : ndarray, (n_shells,)
        The tuned :math:`J_k` (averaged over the second half of the iterations).
    target : ndarray, (n_shells,)
        The shell correlators :math:`\\langle S^z S^z\\rangle` to reach.
    achieved : ndarray, (n_shells,)
        Those of fresh string snapshots on parents drawn with ``couplings``.
    standard_error : ndarray, (n_shells,)
        Of ``achieved`` (from the spread over snapshots).
    history : ndarray, (n_iterations, 2, n_shells)
        Per iteration the couplings used and the string correlators they gave.
    """

    couplings: np.ndarray
    target: np.ndarray
    achieved: np.ndarray
    standard_error: np.ndarray
    history: np.ndarray


def tune_shell_couplings(
    target: Sequence[float],
    *,
    lattice_size: int = 10,
    n_holes: int = 9,
    string_length: float | Sequence[float] = 1.0,
    max_string_length: int | None = None,
    flip_probability: float = 0.0,
    hole_patterns: np.ndarray | None = None,
    fix_magnetization: bool = True,
    mask: np.ndarray | None = None,
    initial: Sequence[float] | None = None,
    n_samples: int = 2000,
    n_iterations: int = 40,
    n_between: int = 10,
    n_thermalize: int = 100,
    damping: float = 0.7,
    ridge: float = 0.1,
    max_step: float = 0.1,
    seed: int = 0,
) -> ShellFit:
    r"""Couplings of :class:`ShellIsing` parents whose geometric strings have given spin correlators.

    Moment matching with the strings in the loop: the string snapshots' shell correlators
    :math:`C_k(J)` (:func:`shell_correlators`) must equal ``target``, one value per shell. For
    the parents alone :math:`\partial \langle\phi_k\rangle / \partial J_l = -P_l\,
    \mathrm{Cov}(\phi_k, \phi_l)` (:math:`\phi_k` the chain's mean of :math:`\sigma_i\sigma_j`
    over the :math:`P_k` pairs of shell k), and the strings shrink every correlator by about the
    same factor a (measured on the nearest-neighbour shell each iteration); the update is the
    damped Newton step

    .. math:: J \leftarrow J + \eta\, [P\,\mathrm{Cov} + \lambda]^{-1}\, 4\,(C(J) - C^*) / a ,

    regularised by a ridge :math:`\lambda` (``ridge`` times the mean diagonal of
    :math:`P\,\mathrm{Cov}`: without it the noisy covariance of the outer shells sends the
    couplings into an ordered phase) and cut to ``max_step`` per coupling and iteration; with
    persistent chains (``n_samples`` of them, ``n_between`` sweeps per iteration) and fresh
    strings every iteration. In the second half of the iterations the step shrinks as 1/t
    (Robbins-Monro) and the returned couplings are the mean over that half (Polyak), which
    averages out the Monte Carlo noise; ``achieved`` is measured on fresh
    snapshots drawn with them.

    Parameters
    ----------
    target : sequence of float
        :math:`\langle S^z S^z\rangle` on shells 1, 2, ... (e.g. :func:`shell_correlators` of
        the pi-flux snapshots averaged over samples); its length sets the number of shells.
    lattice_size, n_holes, string_length, max_string_length, flip_probability
        As in :func:`geometric_strings`.
    hole_patterns, fix_magnetization
        As in :func:`geometric_strings`.
    mask : ndarray of bool, (L, L), or None
        Measure the correlators inside this mask.
    initial : sequence of float or None
        Starting couplings; default 0.3 on the nearest shell (disordered: the square-lattice
        Ising model orders at 0.4407), 0 elsewhere.
    n_samples : int
        Chains and string snapshots per iteration.
    n_iterations : int
        >= 2.
    n_between, n_thermalize : int
        Sweeps per iteration and before the first.
    damping : float
        :math:`\eta` in (0, 1].
    ridge : float
        >= 0, relative to the mean diagonal of the Jacobian.
    max_step : float
        > 0, the largest change of one coupling in one iteration.
    seed : int

    Returns
    -------
    ShellFit

    Raises
    ------
    ValueError
        For a target with NaN or outside [-1/4, 1/4], or bad arguments.

    Warns
    -----
    RuntimeWarning
        If the final strings miss the target by more than 5 standard errors on some shell.

    Examples
    --------
    Without holes the strings are the parents, and the tuner inverts the Ising model:

    >>> truth = shell_ising(1000, 6, [0.4, 0.1], seed=1)
    >>> target = shell_correlators(truth, 2).mean(axis=0)
    >>> fit = tune_shell_couplings(target, lattice_size=6, n_holes=0, n_samples=1000, seed=0)
    >>> bool(np.allclose(fit.couplings, [0.4, 0.1], atol=0.05))
    True
    """
    caller = "snapshots.tune_shell_couplings"
    try:
        goal = np.asarray(target, dtype=np.float64)
    except (TypeError, ValueError):
        goal = np.empty(0)
    if (
        goal.ndim != 1
        or not len(goal)
        or not np.isfinite(goal).all()
        or (np.abs(goal) > 0.25).any()
    ):
        raise ValueError(
            f"{caller}: target must be a non-empty 1-D sequence of finite spin correlators "
            f"<Sz Sz> in [-1/4, 1/4], one per shell; got {target!r}."
        )
    size = _int(lattice_size, caller, "lattice_size", 2)
    holes = _int(n_holes, caller, "n_holes", 0)
    n = _int(n_samples, caller, "n_samples", 2)
    iterations = _int(n_iterations, caller, "n_iterations", 2)
    between = _int(n_between, caller, "n_between", 1)
    warm = _int(n_thermalize, caller, "n_thermalize", 0)
    eta = _real(damping, caller, "damping", 0.0, 1.0)
    if eta <= 0:
        raise ValueError(f"{caller}: damping must be in (0, 1]; got {damping!r}.")
    lam = _real(ridge, caller, "ridge", 0.0, math.inf)
    clip = _real(max_step, caller, "max_step", 0.0, math.inf)
    if clip <= 0:
        raise ValueError(f"{caller}: max_step must be > 0; got {max_step!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"{caller}: seed must be an int >= 0; got {type(seed).__name__}.")
    m = _check_mask(mask, size, caller)
    k = len(goal)
    j = np.zeros(k)
    j[0] = 0.3  # nearest-neighbour antiferromagnet above its Neel point (K_c = 0.4407)
    if initial is not None:
        j = _check_shells(initial, size, caller, "initial").copy()
        if len(j) != k:
            raise ValueError(
                f"{caller}: initial must have one coupling per target shell ({k}); got {len(j)}."
            )
    rng = np.random.default_rng(seed)
    sampler = ShellIsing(size, j, n_chains=n, seed=rng).sweep(warm)
    strings = {
        "lattice_size": size,
        "n_holes": holes,
        "flip_probability": flip_probability,
        "string_length": string_length,
        "max_string_length": max_string_length,
        "hole_patterns": hole_patterns,
        "fix_magnetization": fix_magnetization,
    }
    history = np.empty((iterations, 2, k))
    for it in range(iterations):
        sampler.set_couplings(j).sweep(between)
        phi = sampler.shell_means()
        made = geometric_strings(n, parents=sampler.snapshots(), seed=rng, **strings)
        achieved = np.nanmean(shell_correlators(made, k, m), axis=0)
        history[it] = j, achieved
        cov = np.atleast_2d(np.cov(phi, rowvar=False))
        shrink = achieved[0] / (0.25 * phi[:, 0].mean()) if phi[:, 0].mean() != 0 else 1.0
        shrink = float(np.clip(shrink, 0.2, 1.5))
        jac = cov * sampler.pairs[None]
        jac = jac + lam * np.trace(jac) / k * np.eye(k)
        step = np.linalg.solve(jac, 4.0 * (achieved - goal) / shrink)
        # constant steps while approaching, then Robbins-Monro steps ~ 1/t against the noise
        rate = eta * min(1.0, (iterations // 2) / (it + 1))
        j = j + rate * np.clip(step, -clip, clip)
    final = history[iterations // 2 :, 0].mean(axis=0)
    parents = shell_ising(n, size, final, n_thermalize=warm + 100, n_between=between, seed=rng)
    made = geometric_strings(n, parents=parents, seed=rng, **strings)
    values = shell_correlators(made, k, m)
    achieved = np.nanmean(values, axis=0)
    error = np.nanstd(values, axis=0) / math.sqrt(max(len(values) - 1, 1))
    worst = float(np.max(np.abs(achieved - goal) / np.maximum(error, 1e-12)))
    if worst > 5.0:
        warnings.warn(
            f"{caller}: the tuned strings miss the target by up to {worst:.1f} standard errors "
            f"(target {np.round(goal, 4).tolist()}, reached {np.round(achieved, 4).tolist()}); "
            "try more n_iterations, a smaller damping or other initial couplings.",
            RuntimeWarning,
            stacklevel=2,
        )
    return ShellFit(
        couplings=final,
        target=goal,
        achieved=achieved,
        standard_error=error,
        history=history,
    )


# ==================================================================================================
# Geometric strings
# ==================================================================================================


def string_length_distribution(
    string_length: float | Sequence[float], max_length: int | None = None
) -> np.ndarray:
    r"""Probabilities of string lengths 0, 1, 2, ...

    A number :math:`\ell_0 \ge 0` gives :math:`P(\ell) \propto e^{-\ell/\ell_0}` for
    :math:`\ell \le` ``max_length`` (default :math:`\lceil 20 \ell_0 \rceil`, where the tail is
    below :math:`e^{-20}`); :math:`\ell_0 = 0` puts every hole at its starting site. A sequence
    is taken as the (unnormalised) probabilities of lengths 0, 1, ... directly.

    Parameters
    ----------
    string_length : float or sequence of float
    max_length : int or None

    Returns
    -------
    ndarray of float64
        Sums to 1.

    Raises
    ------
    ValueError
        For a negative length scale or invalid probabilities.

    Examples
    --------
    >>> string_length_distribution(1.0, max_length=2).round(3).tolist()
    [0.665, 0.245, 0.09]
    """
    caller = "snapshots.string_length_distribution"
    if isinstance(string_length, numbers.Real) and not isinstance(string_length, bool):
        l0 = _real(string_length, caller, "string_length", 0.0, math.inf)
        if l0 == 0:
            return np.ones(1)
        top = (
            math.ceil(20 * l0) if max_length is None else _int(max_length, caller, "max_length", 0)
        )
        p = np.exp(-np.arange(top + 1) / l0)
        return p / p.sum()
    try:
        p = np.asarray(string_length, dtype=np.float64)
    except (TypeError, ValueError):
        p = np.empty(0)
    if p.ndim != 1 or not len(p) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise ValueError(
            f"{caller}: string_length must be a length scale >= 0 or a sequence of non-negative "
            "probabilities of lengths 0, 1, ... with a positive sum; got "
            f"{type(string_length).__name__}."
        )
    return p / p.sum()


def _symmetry_images(codes: np.ndarray, rng: np.random.Generator, *, spin_flip: bool) -> np.ndarray:
    """Configurations (n, L, L) under a random translation, D4 element and optional spin flip."""
    n, size, _ = codes.shape
    shift = rng.integers(size, size=(n, 2))
    y, x = np.mgrid[:size, :size]
    rows = np.arange(n)[:, None, None]
    out = codes[rows, (y[None] + shift[:, :1, None]) % size, (x[None] + shift[:, 1:, None]) % size]
    out = _d4(out, rng)
    if spin_flip:
        swap = rng.random(n) < 0.5
        sub = out[swap]
        out[swap] = np.where(sub == _UP, _DOWN, np.where(sub == _DOWN, _UP, sub))
    return out


def _codes_of(snapshots: np.ndarray, caller: str, name: str, size: int) -> np.ndarray:
    """Site codes (n, L, L) of one-hot snapshots whose every site holds exactly one channel."""
    s = _snapshot_array(snapshots, caller)
    if s.shape[-1] != size or not (s.sum(axis=1) == 1).all():
        raise ValueError(
            f"{caller}: {name} must be one-hot snapshots (n, 3, {size}, {size}) with exactly one "
            f"channel set at every site (no crop); got shape {s.shape}."
        )
    return np.argmax(s, axis=1).astype(np.int64)


def _string_snapshots(
    n: int,
    size: int,
    n_holes: int,
    p_flip: float,
    lengths: np.ndarray,
    fix_magnetization: bool,
    parents: np.ndarray | None,
    hole_patterns: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Site codes (n, L*L) of geometric-string snapshots (arguments already checked).

    Each hole's string is drawn backwards from its final site (a non-retracing walk
    w_0 = final, w_1, ..., w_l = start) and then run forwards: the particle at the start is
    removed and the hole moves w_l -> w_{l-1} -> ... -> w_0, each step pulling the particle in
    front of it into the site it leaves. For uniformly random final sites this is the same law as
    starting at uniformly random sites and walking forwards; it also lets the final hole pattern
    be prescribed. A walk that would pass over an earlier hole is drawn again.
    """
    n_sites = size * size
    nbr = square_lattice_neighbours(size)
    n_up, n_down = _check_counts(size, n_holes, "snapshots.geometric_strings")
    y, x = np.divmod(np.arange(n_sites), size)
    sublattice = (x + y) % 2
    max_length = len(lengths) - 1
    out = np.empty((n, n_sites), dtype=np.int64)
    todo = np.arange(n)
    for _ in range(1000):
        m = len(todo)
        if parents is None:  # Neel state of random orientation
            codes = np.broadcast_to(sublattice, (m, n_sites)) ^ (rng.random((m, 1)) < 0.5)
        else:
            pick = parents[rng.integers(len(parents), size=m)]
            codes = _symmetry_images(pick, rng, spin_flip=True).reshape(m, n_sites)
        codes = (codes ^ (rng.random((m, n_sites)) < p_flip)).astype(np.int64)
        if hole_patterns is None:
            finals = np.argsort(rng.random((m, n_sites)), axis=1)[:, :n_holes]
        else:
            pattern = hole_patterns[rng.integers(len(hole_patterns), size=m)]
            pattern = _symmetry_images(pattern, rng, spin_flip=False).reshape(m, n_sites)
            finals = np.argsort(pattern != _HOLE, axis=1, kind="stable")[:, :n_holes]
        rows = np.arange(m)
        for h in range(n_holes):
            walk = np.empty((m, max_length + 1), dtype=np.int64)
            length = np.zeros(m, dtype=np.int64)
            redo = rows
            for _ in range(1000):
                k = len(redo)
                length[redo] = rng.choice(len(lengths), size=k, p=lengths)
                top = int(length[redo].max(initial=0))
                walk[redo, 0] = finals[redo, h]
                direction = rng.integers(4, size=k)
                for t in range(1, top + 1):
                    if t > 1:
                        # non-retracing: left, straight or right, never back (d + 2)
                        direction = (direction + 3 + rng.integers(3, size=k)) % 4
                    walk[redo, t] = nbr[walk[redo, t - 1], direction]
                steps = np.arange(top + 1)[None] <= length[redo, None]
                on_hole = codes[redo[:, None], walk[redo, : top + 1]] == _HOLE
                redo = redo[(on_hole & steps).any(axis=1)]
                if not len(redo):
                    break
            else:
                length[redo] = 0  # a hole boxed in by holes stays where it is
            # run the string forwards: w_l -> ... -> w_0
            for t in range(int(length.max(initial=0)), 0, -1):
                r = rows[length >= t]
                codes[r, walk[r, t]] = codes[r, walk[r, t - 1]]
            codes[rows, walk[:, 0]] = _HOLE
        if fix_magnetization:
            ups = (codes == _UP).sum(axis=1)
            keep = (ups == n_up) | (ups == n_down)
        else:
            keep = np.ones(m, dtype=bool)
        out[todo[keep]] = codes[keep]
        todo = todo[~keep]
        if not len(todo):
            return out
    raise ValueError(  # pragma: no cover - needs a parent far from the pi-flux spin counts
        "snapshots.geometric_strings: fix_magnetization found no snapshot with the spin counts "
        f"{n_up}/{n_down} in 1000 rounds; the parents' magnetisation is too far from them."
    )


def geometric_strings(
    n_samples: int,
    lattice_size: int = 10,
    n_holes: int = 9,
    *,
    flip_probability: float = 0.0,
    string_length: float | Sequence[float] = 1.0,
    max_string_length: int | None = None,
    parents: np.ndarray | None = None,
    hole_patterns: np.ndarray | None = None,
    fix_magnetization: bool = True,
    crop_radius: float | None = None,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    r"""Snapshots of the geometric-string picture of a doped antiferromagnet.

    Recipe per snapshot (after Chiu et al. 2019 and Bohrdt et al. 2019):

    1. a parent spin configuration without holes: a Neel state of random orientation
       (``parents=None``), or one of ``parents`` (e.g. half-filled :func:`pi_flux` snapshots, our
       stand-in for the paper's Heisenberg quantum Monte Carlo snapshots) under a random
       translation, D4 element and global spin flip;
    2. each spin flipped independently with probability ``flip_probability``;
    3. ``n_holes`` final hole sites: distinct uniformly random sites, or the hole pattern of one of
       ``hole_patterns`` (under a random translation and D4 element), which makes every hole-only
       statistic equal to that of those snapshots;
    4. for each hole in turn a non-retracing random walk of length :math:`\ell \sim`
       :func:`string_length_distribution` that ends at its final site: the particle at the walk's
       start is removed, and the hole moves along the walk, each step moving the particle in front
       of it into the site it leaves. The spins along the string are thereby displaced by one site
       (the frustrated bonds that give strings away); particle numbers are unchanged;
    5. with ``fix_magnetization``, snapshots whose spin counts differ from those of
       :func:`pi_flux` (the particles split as evenly as possible, either spin the majority) are
       drawn again, so the counts agree exactly.

    Parameters
    ----------
    n_samples : int
        >= 1.
    lattice_size : int
        L >= 2.
    n_holes : int
        Holes per snapshot.
    flip_probability : float
        In [0, 1/2]; :func:`tune_flip_probability` matches the nearest-neighbour correlator.
    string_length : float or sequence of float
        :math:`\ell_0` of :math:`P(\ell) \propto e^{-\ell/\ell_0}`, or explicit probabilities of
        lengths 0, 1, ...
    max_string_length : int or None
        Cut-off of the exponential distribution (default :math:`\lceil 20\ell_0
    ceil`).
    parents : ndarray, (n_parents, 3, L, L), or None
        One-hot hole-free snapshots; drawn with replacement.
    hole_patterns : ndarray, (n_patterns, 3, L, L), or None
        One-hot snapshots with exactly ``n_holes`` holes each; drawn with replacement.
    fix_magnetization : bool
    crop_radius : float or None
        Apply :func:`circular_crop`; ``None``: the full lattice.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of int8, (n_samples, 3, L, L)

    Raises
    ------
    ValueError, TypeError
        For bad counts, probabilities, lengths, parents, hole patterns or seed.

    Examples
    --------
    >>> s = geometric_strings(3, lattice_size=4, n_holes=2, string_length=0.0)
    >>> float(nn_spin_correlator(s).max()) < 0         # holes at random sites, Neel otherwise
    True
    """
    caller = "snapshots.geometric_strings"
    n = _int(n_samples, caller, "n_samples", 1)
    size = _int(lattice_size, caller, "lattice_size", 2)
    holes = _int(n_holes, caller, "n_holes", 0)
    _check_counts(size, holes, caller)
    p = _real(flip_probability, caller, "flip_probability", 0.0, 0.5)
    lengths = string_length_distribution(string_length, max_string_length)
    parent_codes = pattern_codes = None
    if parents is not None:
        parent_codes = _codes_of(parents, caller, "parents", size)
        if (parent_codes == _HOLE).any():
            raise ValueError(f"{caller}: parents must have no holes (half filling).")
    if hole_patterns is not None:
        pattern_codes = _codes_of(hole_patterns, caller, "hole_patterns", size)
        counts = (pattern_codes == _HOLE).sum(axis=(1, 2))
        if (counts != holes).any():
            raise ValueError(
                f"{caller}: hole_patterns must have exactly n_holes = {holes} holes each; got "
                f"between {int(counts.min())} and {int(counts.max())}."
            )
    rng = _rng(seed, caller)
    codes = _string_snapshots(
        n, size, holes, p, lengths, bool(fix_magnetization), parent_codes, pattern_codes, rng
    )
    out = one_hot(codes.reshape(n, size, size))
    return circular_crop(out, crop_radius) if crop_radius is not None else out


def _tune(
    caller: str,
    target: Any,
    knob: str,
    bracket: tuple[float, float],
    strings: dict[str, Any],
    mask: Any,
    n_samples: Any,
    tolerance: Any,
    seed: Any,
) -> float:
    """Bisection of ``knob`` of :func:`geometric_strings` for a mean nn correlator of ``target``.

    The correlator rises (towards 0) with the knob; each evaluation uses the same ``seed``
    (common random numbers), so the estimate is a nearly smooth, monotone function of it.
    """
    value = _real(target, caller, "target_nn_correlator", -0.25, 0.25)
    n = _int(n_samples, caller, "n_samples", 1)
    tol = _real(tolerance, caller, "tolerance", 0.0, math.inf)
    if tol <= 0:
        raise ValueError(f"{caller}: tolerance must be > 0; got {tolerance!r}.")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"{caller}: seed must be an int >= 0; got {type(seed).__name__}.")
    m = _check_mask(mask, _int(strings["lattice_size"], caller, "lattice_size", 2), caller)

    def correlator(x: float) -> float:
        s = geometric_strings(n, **{**strings, knob: x}, seed=int(seed))
        return float(np.nanmean(nn_spin_correlator(s, m)))

    low, high = bracket
    c_low, c_high = correlator(low), correlator(high)
    if not c_low <= value <= c_high:
        raise ValueError(
            f"{caller}: target_nn_correlator must lie in [{c_low:.4f}, {c_high:.4f}], the range "
            f"the strings reach for {knob} in [{low:g}, {high:g}] with these settings; got "
            f"{value!r}."
        )
    while high - low > tol:
        mid = 0.5 * (low + high)
        if correlator(mid) < value:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def tune_flip_probability(
    target_nn_correlator: float,
    *,
    lattice_size: int = 10,
    n_holes: int = 9,
    string_length: float | Sequence[float] = 1.0,
    max_string_length: int | None = None,
    parents: np.ndarray | None = None,
    hole_patterns: np.ndarray | None = None,
    fix_magnetization: bool = True,
    mask: np.ndarray | None = None,
    n_samples: int = 4000,
    tolerance: float = 1e-4,
    seed: int = 0,
) -> float:
    """The flip probability at which :func:`geometric_strings` has a given nn spin correlator.

    Bisection on p in [0, 1/2] of the mean :func:`nn_spin_correlator` of ``n_samples`` string
    snapshots, every evaluation drawn with the same ``seed`` (common random numbers). Flips
    only weaken correlations: for a Neel parent without holes the correlator is exactly
    :math:`-(1 - 2p)^2 / 4`, and a target below the flip-free value cannot be reached.

    Parameters
    ----------
    target_nn_correlator : float
        Between the strings' correlator at p = 0 and 0.
    lattice_size, n_holes, string_length, max_string_length
        As in :func:`geometric_strings`.
    parents, hole_patterns, fix_magnetization
        As in :func:`geometric_strings`.
    mask : ndarray of bool, (L, L), or None
        Measure the correlator inside this mask (e.g. :func:`circular_mask`).
    n_samples : int
        Snapshots per evaluation.
    tolerance : float
        > 0; stop when the bracket on p is narrower.
    seed : int

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the target lies outside the reachable range (the message gives it), or for bad
        arguments.

    Examples
    --------
    >>> p = tune_flip_probability(
    ...     -0.09, lattice_size=6, n_holes=0, fix_magnetization=False, n_samples=2000
    ... )
    >>> round(p, 2), round(0.5 * (1 - (4 * 0.09) ** 0.5), 2)
    (0.2, 0.2)
    """
    strings = {
        "lattice_size": lattice_size,
        "n_holes": n_holes,
        "string_length": string_length,
        "max_string_length": max_string_length,
        "parents": parents,
        "hole_patterns": hole_patterns,
        "fix_magnetization": fix_magnetization,
    }
    return _tune(
        "snapshots.tune_flip_probability",
        target_nn_correlator,
        "flip_probability",
        (0.0, 0.5),
        strings,
        mask,
        n_samples,
        tolerance,
        seed,
    )


def tune_string_length(
    target_nn_correlator: float,
    *,
    lattice_size: int = 10,
    n_holes: int = 9,
    flip_probability: float = 0.0,
    max_length: float = 5.0,
    parents: np.ndarray | None = None,
    hole_patterns: np.ndarray | None = None,
    fix_magnetization: bool = True,
    mask: np.ndarray | None = None,
    n_samples: int = 4000,
    tolerance: float = 1e-3,
    seed: int = 0,
) -> float:
    r"""The string length :math:`\ell_0` at which :func:`geometric_strings` has a given correlator.

    Longer strings displace more spins and weaken the nearest-neighbour correlator; bisection on
    :math:`\ell_0` in [0, ``max_length``] as in :func:`tune_flip_probability`. This is the knob
    for a parent whose correlations are already about as weak as the target's (half-filled
    :func:`pi_flux` parents), where extra flips would only weaken them further.

    Parameters
    ----------
    target_nn_correlator : float
    lattice_size, n_holes, flip_probability, parents, hole_patterns, fix_magnetization
        As in :func:`geometric_strings`.
    max_length : float
        Upper end of the bracket, > 0.
    mask, n_samples, tolerance, seed
        As in :func:`tune_flip_probability`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the target lies outside the reachable range, or for bad arguments.
    """
    caller = "snapshots.tune_string_length"
    top = _real(max_length, caller, "max_length", 0.0, math.inf)
    if top <= 0:
        raise ValueError(f"{caller}: max_length must be > 0; got {max_length!r}.")
    strings = {
        "lattice_size": lattice_size,
        "n_holes": n_holes,
        "flip_probability": flip_probability,
        "parents": parents,
        "hole_patterns": hole_patterns,
        "fix_magnetization": fix_magnetization,
    }
    # the correlator rises (weakens) with l0: bisect on l0 directly, bracket [0, max_length]
    return _tune(
        caller,
        target_nn_correlator,
        "string_length",
        (0.0, top),
        strings,
        mask,
        n_samples,
        tolerance,
        seed,
    )
