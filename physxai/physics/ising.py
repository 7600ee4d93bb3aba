r"""The 2D Ising model on a periodic square lattice: samplers and exact references.

The Hamiltonian of ``lattice_size`` x ``lattice_size`` spins :math:`s_i = \pm 1` is

.. math::  H = -J \sum_i s_i (s_{i+\hat x} + s_{i+\hat y}) - h \sum_i s_i ,

every site owning its right and its down bond, so there are 2N bonds (N = L^2). ``coupling`` J > 0
is the ferromagnet, J < 0 the antiferromagnet, ``field`` is h; units k_B = 1. On a 2 x 2 lattice the
right and the left neighbour of a site are the same spin, so each neighbouring pair is joined by two
bonds and counts twice; the samplers, :func:`observables` and :func:`exact_enumeration` all use this
one convention. Energies and magnetisations are per spin.

Two Markov-chain Monte Carlo samplers, vectorised over many chains and temperatures at once (torch,
so they run on a GPU with ``device="cuda"``):

- ``"metropolis"``: checkerboard single-spin-flip Metropolis (int8 spins, one 32-bit uniform per
  attempt against a lookup table of exp(-beta dE)); any J, any h; even L. The acceptance is
  (1 - 2^-6) min(1, exp(-beta dE)) (see ``METROPOLIS_ACCEPTANCE_FACTOR``): the plain rule leaves
  the checkerboard chain reducible.
- ``"wolff"``: Wolff's single-cluster algorithm (bond probability 1 - exp(-2 beta |J|)), multi-spin
  coded (64 chains per int64 word). The antiferromagnet is simulated as the ferromagnet on the
  gauge-transformed spins s_i (-1)^(x+y), which is exact on a bipartite (even L) lattice. Wolff
  needs h = 0.

:func:`sample` wraps either in an equilibration and decorrelation protocol built on a measured
integrated autocorrelation time (Sokal's automatic windowing, see
:func:`integrated_autocorrelation_time`): a pilot run from the ordered ground state measures
tau_int of the order parameter (|M|, or |M_s| for J < 0) and of the energy, discards at least
20 tau_int, and then keeps configurations at least 2 tau_int apart.

Exact references: Onsager's critical temperature, energy and spontaneous magnetisation of the
infinite lattice, and exact enumeration of all 2^(L^2) states for L <= 4.

References
----------
L. Onsager, Phys. Rev. 65, 117 (1944). C. N. Yang, Phys. Rev. 85, 808 (1952).
U. Wolff, Phys. Rev. Lett. 62, 361 (1989), doi:10.1103/PhysRevLett.62.361.
A. D. Sokal, Monte Carlo Methods in Statistical Mechanics: Foundations and New Algorithms (1996);
N. Madras and A. D. Sokal, J. Stat. Phys. 50, 109 (1988).

Examples
--------
>>> from physxai.physics import ising
>>> s = ising.sample(lattice_size=8, temperatures=[1.5, 3.0], n_samples=20, seed=0)
>>> s.spins.shape, s.spins.dtype.name
((40, 8, 8), 'int8')
>>> round(ising.CRITICAL_TEMPERATURE, 4)
2.2692
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import ellipk
from torch import Tensor

from ._ising_kernels import ACCEPTANCE_FACTOR, CheckerboardMetropolis, PackedWolff, stagger

__all__ = [
    "ALGORITHMS",
    "CRITICAL_TEMPERATURE",
    "METROPOLIS_ACCEPTANCE_FACTOR",
    "IsingSamples",
    "exact_enumeration",
    "integrated_autocorrelation_time",
    "observables",
    "onsager_energy",
    "onsager_magnetization",
    "run_metropolis",
    "run_wolff",
    "sample",
]

#: Onsager's critical temperature of the square lattice for |J| = 1: 2 / ln(1 + sqrt 2).
CRITICAL_TEMPERATURE: float = 2.0 / math.log(1.0 + math.sqrt(2.0))

#: The samplers :func:`sample` knows.
ALGORITHMS: tuple[str, ...] = ("metropolis", "wolff")

#: Metropolis accepts a flip with probability METROPOLIS_ACCEPTANCE_FACTOR * min(1, exp(-dE/T)).
#: The factor 1 - 2^-6 keeps detailed balance and makes the checkerboard chain irreducible: with
#: the plain min(1, .) states where every site has dE <= 0 (width-1 stripes) are never reached
#: (a quarter of the 2x2 states, 6.5% of the Boltzmann weight at T = 2.5; 36 states of 4x4).
METROPOLIS_ACCEPTANCE_FACTOR: float = ACCEPTANCE_FACTOR

_MAX_ENUMERATION_SIZE = 4
_PILOT_START = 64  # first pilot length, in steps
_EQUILIBRATION_TAUS = 20.0  # discard at least this many tau_int
_SPACING_TAUS = 2.0  # keep samples at least this many tau_int apart
_PILOT_TAUS = 2 * _EQUILIBRATION_TAUS  # the first half of the pilot is the equilibration
_ESTIMATION_TAUS = 300.0  # chains x (second half of the pilot) must cover this many tau_int
_MAX_SERIES_CHAINS = 32  # chains per temperature whose time series are kept for tau_int


# ==================================================================================================
# Exact references
# ==================================================================================================


def _as_temperature(temperature: Any, caller: str, name: str = "temperature") -> np.ndarray:
    """Temperatures as a float64 array, all finite and > 0."""
    try:
        t = np.asarray(temperature, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{caller}: {name} must be a number or a sequence of numbers; got "
            f"{type(temperature).__name__}."
        ) from None
    bad = ~(np.isfinite(t) & (t > 0))
    if bad.any():
        raise ValueError(
            f"{caller}: {name} must be finite and > 0; got {int(bad.sum())} of {t.size} "
            "entries that are not."
        )
    return t


def _as_float(value: Any, caller: str, name: str) -> float:
    """A finite real number (not a bool), as float."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):
        raise ValueError(f"{caller}: {name} must be a finite number; got {value!r}.")
    return float(value)


def _as_int(value: Any, caller: str, name: str, minimum: int) -> int:
    """An int (numpy ints too, not bools) >= minimum."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or int(value) < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _scalar_or_array(x: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else as the array."""
    return float(x) if x.ndim == 0 else x


def onsager_energy(temperature: float | np.ndarray, coupling: float = 1.0) -> float | np.ndarray:
    r"""Energy per spin of the infinite square-lattice Ising model at h = 0 (Onsager 1944).

    .. math:: u = -|J| \coth(2K) \left[1 + \tfrac{2}{\pi} (2\tanh^2 2K - 1) K_1(k^2)\right],
              \quad K = |J|/T,\; k = 2\sinh 2K / \cosh^2 2K,

    with :math:`K_1(m)` the complete elliptic integral of the first kind (``scipy.special.ellipk``
    takes the parameter m = k^2). At T_c the bracket's second term vanishes (0 times a logarithmic
    divergence), so u(T_c) = -sqrt(2) |J|. The energy depends on |J| only: the antiferromagnet maps
    to the ferromagnet by flipping one sublattice.

    Parameters
    ----------
    temperature : float or array
        T > 0.
    coupling : float
        J (nonzero).

    Returns
    -------
    float or ndarray
        u(T) per spin, shaped like ``temperature``.

    Raises
    ------
    ValueError
        If a temperature is not finite and > 0, or the coupling is zero or not finite.

    Examples
    --------
    >>> round(onsager_energy(CRITICAL_TEMPERATURE), 6)
    -1.414214
    """
    caller = "ising.onsager_energy"
    t = _as_temperature(temperature, caller)
    j = abs(_as_float(coupling, caller, "coupling"))
    if j == 0:
        raise ValueError(f"{caller}: coupling must be nonzero; got 0.0 (then u = 0 for all T).")
    k2 = 2.0 * j / t  # 2K
    with np.errstate(over="ignore"):
        modulus = 2.0 * np.tanh(k2) / np.cosh(k2)  # = 2 sinh 2K / cosh^2 2K, finite at low T
    m = np.clip(modulus**2, 0.0, 1.0)
    factor = 2.0 * np.tanh(k2) ** 2 - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        term = np.where(m < 1.0, factor * ellipk(np.where(m < 1.0, m, 0.0)), 0.0)
    u = -j / np.tanh(k2) * (1.0 + 2.0 / np.pi * term)  # Onsager (1944), as given above
    return _scalar_or_array(u)


def onsager_magnetization(
    temperature: float | np.ndarray, coupling: float = 1.0
) -> float | np.ndarray:
    r"""Spontaneous magnetisation per spin of the infinite lattice (Onsager; Yang 1952).

    .. math:: M = (1 - \sinh(2|J|/T)^{-4})^{1/8} \text{ for } T < T_c, \quad 0 \text{ above}.

    For the antiferromagnet (J < 0) this is the spontaneous *staggered* magnetisation.

    Parameters
    ----------
    temperature : float or array
        T > 0.
    coupling : float
        J (nonzero); T_c = 2 |J| / ln(1 + sqrt 2).

    Returns
    -------
    float or ndarray
        Shaped like ``temperature``.

    Raises
    ------
    ValueError
        If a temperature is not finite and > 0, or the coupling is zero or not finite.

    Examples
    --------
    >>> onsager_magnetization(3.0)
    0.0
    """
    caller = "ising.onsager_magnetization"
    t = _as_temperature(temperature, caller)
    j = abs(_as_float(coupling, caller, "coupling"))
    if j == 0:
        raise ValueError(f"{caller}: coupling must be nonzero; got 0.0 (no ordered phase).")
    with np.errstate(over="ignore", divide="ignore"):
        x = 1.0 - np.sinh(2.0 * j / t) ** -4.0
    m = np.where(t < CRITICAL_TEMPERATURE * j, np.clip(x, 0.0, 1.0) ** 0.125, 0.0)
    return _scalar_or_array(m)


def _all_states(lattice_size: int) -> np.ndarray:
    """All 2^(L^2) configurations as an int8 array (2^N, L, L), state index bits = spins up."""
    n = lattice_size * lattice_size
    index = np.arange(2**n, dtype=np.int64)
    bits = (index[:, None] >> np.arange(n, dtype=np.int64)) & 1
    return (2 * bits - 1).astype(np.int8).reshape(-1, lattice_size, lattice_size)


@functools.cache
def _density_of_states(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Levels (bond sum, M, M_s) of the L x L torus, as float64, and their degeneracies."""
    s = _all_states(size).astype(np.int64)
    bonds = (s * (np.roll(s, -1, axis=2) + np.roll(s, -1, axis=1))).sum(axis=(1, 2))
    mag = s.sum(axis=(1, 2))
    stag = (s * stagger(size).numpy().astype(np.int64)).sum(axis=(1, 2))
    levels, degeneracy = np.unique(np.stack([bonds, mag, stag], axis=1), axis=0, return_counts=True)
    out = tuple(levels[:, i].astype(np.float64) for i in range(3)) + (degeneracy,)
    for a in out:
        a.flags.writeable = False
    return out  # type: ignore[return-value]


def exact_enumeration(
    lattice_size: int,
    temperature: float | np.ndarray,
    *,
    coupling: float = 1.0,
    field: float = 0.0,
) -> dict[str, float | np.ndarray]:
    r"""Exact thermodynamics of the periodic L x L lattice by summing over all 2^(L^2) states.

    The states are grouped by (bond sum, M, M_s) into a density of states (65,536 states for L = 4
    collapse to a few hundred levels); Z and the averages then follow in float64 with log-sum-exp,
    for all temperatures at once. The energy convention is the module's (2N bonds, doubled on
    L = 2), the one the samplers use.

    Parameters
    ----------
    lattice_size : int
        L, 2 <= L <= 4.
    temperature : float or array
        T > 0; the results take its shape.
    coupling, field : float
        J and h.

    Returns
    -------
    dict
        Per spin unless stated: ``log_partition_function`` (ln Z of the whole lattice),
        ``energy`` <E>/N, ``specific_heat`` (<E^2> - <E>^2) / (N T^2), ``magnetization`` <M>,
        ``abs_magnetization`` <|M|>, ``abs_staggered_magnetization`` <|M_s|>,
        ``susceptibility`` N (<M^2> - <|M|>^2) / T.

    Raises
    ------
    ValueError
        If L is not an int in [2, 4], a temperature is not finite and > 0, or J or h is not finite.

    Examples
    --------
    >>> r = exact_enumeration(2, 1.0)
    >>> round(r["abs_magnetization"], 4)
    0.9987
    """
    caller = "ising.exact_enumeration"
    if (
        not isinstance(lattice_size, (int, np.integer))
        or isinstance(lattice_size, bool)
        or not 2 <= lattice_size <= _MAX_ENUMERATION_SIZE
    ):
        raise ValueError(
            f"{caller}: lattice_size must be an int in [2, {_MAX_ENUMERATION_SIZE}]; got "
            f"{lattice_size!r}. 2^(L^2) states are summed: L = 5 would be 3.4e7 states; "
            "use ising.sample for larger lattices."
        )
    size = int(lattice_size)
    t = _as_temperature(temperature, caller)
    j = _as_float(coupling, caller, "coupling")
    h = _as_float(field, caller, "field")
    n = size * size

    bonds, mag, stag, degeneracy = _density_of_states(size)
    energy = -j * bonds - h * mag  # total energy of each level

    beta = 1.0 / t.reshape(-1, 1)
    log_w = np.log(degeneracy)[None, :] - beta * energy[None, :]
    log_z = log_w.max(axis=1, keepdims=True)
    log_z = log_z + np.log(np.exp(log_w - log_z).sum(axis=1, keepdims=True))  # log-sum-exp
    p = np.exp(log_w - log_z)  # (n_T, n_levels), rows sum to 1

    def mean(x: np.ndarray) -> np.ndarray:
        return p @ x

    e1, m_abs = mean(energy), mean(np.abs(mag))
    # centred second moments: no cancellation when the fluctuations are tiny (low T)
    e_var = (p * (energy[None, :] - e1[:, None]) ** 2).sum(axis=1)
    m_var = (p * (np.abs(mag)[None, :] - m_abs[:, None]) ** 2).sum(axis=1)
    out = {
        "log_partition_function": log_z[:, 0],
        "energy": e1 / n,
        "specific_heat": e_var * beta[:, 0] ** 2 / n,
        "magnetization": mean(mag) / n,
        "abs_magnetization": m_abs / n,
        "abs_staggered_magnetization": mean(np.abs(stag)) / n,
        "susceptibility": m_var * beta[:, 0] / n,
    }
    return {k: _scalar_or_array(v.reshape(t.shape)) for k, v in out.items()}


# ==================================================================================================
# Observables
# ==================================================================================================


def _as_spin_array(spins: Any, caller: str) -> np.ndarray:
    """An (n, L, L) numpy array of +-1 from an array or a tensor."""
    if isinstance(spins, Tensor):
        spins = spins.detach().cpu().numpy()
    if not isinstance(spins, np.ndarray):
        raise TypeError(
            f"{caller}: spins must be a numpy array or a torch.Tensor of shape (n, L, L); "
            f"got {type(spins).__name__}."
        )
    if spins.ndim != 3 or spins.shape[1] != spins.shape[2] or spins.shape[0] == 0:
        raise ValueError(
            f"{caller}: spins must have shape (n, L, L) with n >= 1; got shape {spins.shape}. "
            "For one configuration try spins[None]."
        )
    if not (np.issubdtype(spins.dtype, np.integer) or np.issubdtype(spins.dtype, np.floating)):
        raise ValueError(f"{caller}: spins must hold numbers +-1; got dtype {spins.dtype}.")
    n_bad = int((np.abs(spins) != 1).sum())
    if n_bad:
        raise ValueError(
            f"{caller}: spins must be +-1; got {n_bad} entries that are not. Binary 0/1 "
            "occupations map to spins by 2 * x - 1."
        )
    return spins


def observables(
    spins: np.ndarray | Tensor, *, coupling: float = 1.0, field: float = 0.0
) -> dict[str, np.ndarray]:
    r"""Per-configuration observables, each per spin, float64 ``(n,)``.

    - ``magnetization`` :math:`M = N^{-1} \sum_i s_i`;
    - ``staggered_magnetization`` :math:`M_s = N^{-1} \sum_i (-1)^{x_i + y_i} s_i`;
    - ``nn_correlation`` :math:`(2N)^{-1} \sum_i s_i (s_{i+\hat x} + s_{i+\hat y})`;
    - ``nnn_correlation`` :math:`(2N)^{-1} \sum_i s_i (s_{i+\hat x+\hat y} + s_{i+\hat x-\hat y})`;
    - ``energy`` :math:`E/N = -2J\,\mathrm{nn} - h M` (the module's bond convention).

    Parameters
    ----------
    spins : ndarray or Tensor, (n, L, L)
        Values +-1 (any integer or float dtype).
    coupling, field : float
        J and h for the energy.

    Returns
    -------
    dict[str, ndarray]
        The five observables above.

    Raises
    ------
    TypeError
        If ``spins`` is not an array or a tensor.
    ValueError
        If it is not (n, L, L) with values +-1, or J or h is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> o = observables(np.ones((1, 4, 4), dtype=np.int8))
    >>> float(o["energy"][0]), float(o["magnetization"][0])
    (-2.0, 1.0)
    """
    caller = "ising.observables"
    s_all = _as_spin_array(spins, caller)
    j = _as_float(coupling, caller, "coupling")
    h = _as_float(field, caller, "field")
    n_conf, size = s_all.shape[0], s_all.shape[1]
    n = size * size
    sign = stagger(size).numpy()
    out = {
        k: np.empty(n_conf)
        for k in ("magnetization", "staggered_magnetization", "nn_correlation", "nnn_correlation")
    }
    chunk = max(1, 2**22 // n)
    for start in range(0, n_conf, chunk):
        s = s_all[start : start + chunk].astype(np.int8)
        right, down = np.roll(s, -1, axis=2), np.roll(s, -1, axis=1)
        diag_down, diag_up = np.roll(right, -1, axis=1), np.roll(right, 1, axis=1)
        part = slice(start, start + s.shape[0])
        out["magnetization"][part] = s.sum(axis=(1, 2), dtype=np.int64) / n
        out["staggered_magnetization"][part] = (s * sign).sum(axis=(1, 2), dtype=np.int64) / n
        out["nn_correlation"][part] = (
            (s * right).sum(axis=(1, 2), dtype=np.int64)
            + (s * down).sum(axis=(1, 2), dtype=np.int64)
        ) / (2 * n)
        out["nnn_correlation"][part] = (
            (s * diag_down).sum(axis=(1, 2), dtype=np.int64)
            + (s * diag_up).sum(axis=(1, 2), dtype=np.int64)
        ) / (2 * n)
    out["energy"] = -2.0 * j * out["nn_correlation"] - h * out["magnetization"]
    return out


# ==================================================================================================
# Autocorrelation
# ==================================================================================================


def _tau_int(series: np.ndarray, window_factor: float) -> tuple[float, bool]:
    """Sokal's windowed tau_int of (n_chains, n_times) series; and whether a window was found."""
    x = np.asarray(series, dtype=np.float64)
    x = x - x.mean()  # one mean over all chains: they sample one distribution
    n_times = x.shape[1]
    variance = float((x * x).mean())
    if not variance > 1e-300 * max(1.0, float(np.abs(x).max(initial=0.0)) ** 2):
        return 0.5, True  # a constant series: no fluctuations to be correlated
    max_window = max(1, n_times // 2)  # lags up to T/2: beyond, the estimate is mostly noise
    f = np.fft.rfft(x, n=2 * n_times, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=2 * n_times, axis=1)[:, : max_window + 1].mean(axis=0)
    acov /= n_times - np.arange(max_window + 1)  # unbiased: sum over the T - t pairs at lag t
    rho = acov / acov[0]
    tau = 0.5 + np.cumsum(rho[1:])  # tau(W) = 1/2 + sum_{t=1}^{W} rho(t), W = 1, 2, ...
    windows = np.arange(1, max_window + 1)
    ok = windows >= window_factor * tau  # Sokal: the smallest W >= c tau(W)
    if ok.any():
        return float(tau[np.argmax(ok)]), True
    return float(tau[-1]), False


def integrated_autocorrelation_time(
    series: np.ndarray | Tensor, *, window_factor: float = 6.0
) -> float:
    r"""Integrated autocorrelation time with Sokal's automatic window.

    .. math:: \tau_{int} = \tfrac12 + \sum_{t=1}^{W} \rho(t), \quad W = \min\{W : W \ge c\,\tau_{int}(W)\},

    with :math:`\rho` the normalised autocorrelation function (FFT, averaged over chains, one mean
    over all of them, each lag t normalised by its T - t pairs) and c = ``window_factor``
    (Madras & Sokal 1988 use 4 to 10); windows up to half the series are searched. With this
    convention independent samples have tau_int = 1/2 and the variance of a mean of n samples is
    2 tau_int sigma^2 / n. A constant series gives 1/2.

    Parameters
    ----------
    series : array or Tensor, (n_times,) or (n_chains, n_times)
        Equilibrium time series of one observable; several chains of one ensemble share the
        estimate.
    window_factor : float
        c > 0.

    Returns
    -------
    float
        tau_int in units of the series' time step.

    Raises
    ------
    ValueError
        If the series is not 1-d or 2-d with at least 2 times, holds NaN or infinity, or c <= 0.

    Warns
    -----
    UserWarning
        If the series is shorter than 50 tau_int, or no window W <= n_times / 2 satisfies
        W >= c tau(W) (then tau(n_times / 2) is returned): the estimate is unreliable.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(4, 4096))
    >>> abs(integrated_autocorrelation_time(x) - 0.5) < 0.05
    True
    """
    caller = "ising.integrated_autocorrelation_time"
    if isinstance(series, Tensor):
        series = series.detach().cpu().numpy()
    x = np.asarray(series, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(
            f"{caller}: series must have shape (n_times,) or (n_chains, n_times) with "
            f"n_times >= 2; got shape {np.shape(series)}."
        )
    if not np.isfinite(x).all():
        raise ValueError(
            f"{caller}: series must be finite; got {int((~np.isfinite(x)).sum())} "
            "NaN or infinite entries."
        )
    c = _as_float(window_factor, caller, "window_factor")
    if c <= 0:
        raise ValueError(f"{caller}: window_factor must be > 0; got {window_factor!r}.")
    tau, found = _tau_int(x, c)
    if not found or x.shape[1] < 50 * tau:
        warnings.warn(
            f"{caller}: the series ({x.shape[1]} times) is too short for tau_int (about "
            f"{tau:.3g} or more): it should be at least 50 tau_int long"
            + ("" if found else f", and no window W <= {x.shape[1] // 2} has W >= {c} tau(W)")
            + ". The estimate is unreliable; run longer.",
            UserWarning,
            stacklevel=2,
        )
    return tau


# ==================================================================================================
# Samples and the sampling protocol
# ==================================================================================================


@dataclass(frozen=True, eq=False)
class IsingSamples:
    """Configurations drawn by :func:`sample`, with their observables and how they were drawn.

    Arrays are read-only. Samples are grouped by temperature: rows
    ``[i * n_samples, (i + 1) * n_samples)`` belong to ``temperatures[i]``; within a temperature
    they are ordered by time, then by chain.

    Attributes
    ----------
    spins : ndarray, (n, L, L) int8
        +-1 configurations, n = n_samples * len(temperatures).
    temperature : ndarray, (n,) float64
        Temperature of every configuration.
    magnetization, staggered_magnetization, energy, nn_correlation, nnn_correlation : ndarray, (n,)
        Per spin, as :func:`observables` defines them (energy with this coupling and field).
    temperatures : ndarray, (n_T,)
        The temperature grid, in the order given.
    lattice_size, coupling, field, algorithm, seed, n_chains, device
        How the samples were made; ``seed`` is the one actually used (drawn from the OS when
        ``sample`` got ``seed=None``), so ``sample(..., seed=s.seed)`` reproduces them.
    tau_int : ndarray, (n_T,)
        Integrated autocorrelation time of the order parameter (|M|, or |M_s| for J < 0), in
        sweeps (Wolff: sweep-equivalents, cluster flips times mean cluster size / N). NaN where
        not measured (``n_equilibration`` and ``n_between`` both given).
    tau_int_energy : ndarray, (n_T,)
        The same for the energy.
    n_steps_between : ndarray, (n_T,) int64
        Algorithm steps between kept samples of a chain (Metropolis: sweeps; Wolff: cluster flips).
    n_sweeps_between : ndarray, (n_T,) float64
        The same in sweeps (sweep-equivalents for Wolff).
    n_equilibration : ndarray, (n_T,) float64
        Sweeps (or sweep-equivalents) every chain ran before its first kept sample.
    mean_cluster_size : ndarray, (n_T,) float64
        Wolff: mean number of spins flipped per step; NaN for Metropolis.
    """

    spins: np.ndarray
    temperature: np.ndarray
    magnetization: np.ndarray
    staggered_magnetization: np.ndarray
    energy: np.ndarray
    nn_correlation: np.ndarray
    nnn_correlation: np.ndarray
    temperatures: np.ndarray
    lattice_size: int
    coupling: float
    field: float
    algorithm: str
    seed: int
    n_chains: int
    device: str
    tau_int: np.ndarray
    tau_int_energy: np.ndarray
    n_steps_between: np.ndarray
    n_sweeps_between: np.ndarray
    n_equilibration: np.ndarray
    mean_cluster_size: np.ndarray

    def __post_init__(self) -> None:
        for value in self.__dict__.values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False

    def __len__(self) -> int:
        return int(self.spins.shape[0])


class _MetropolisChains:
    """Adapter: physical spins in, per-spin observables and physical spins out."""

    def __init__(
        self, spins: Tensor, beta: Tensor, coupling: float, field: float, generator: torch.Generator
    ):
        self.kernel = CheckerboardMetropolis(spins, beta, coupling, field, generator)
        self.coupling, self.field = coupling, field
        self.n_sites = spins.shape[-1] ** 2

    def advance(self, measure: bool) -> tuple[np.ndarray, np.ndarray, None] | None:
        out = self.kernel.advance(measure)
        if out is None:
            return None
        m, ms, bonds = (x.cpu().numpy().astype(np.float64) for x in out)
        order = np.abs(ms if self.coupling < 0 else m) / self.n_sites
        energy = (-self.coupling * bonds - self.field * m) / self.n_sites
        return order, energy, None

    def spins(self, chains: Tensor) -> Tensor:
        return self.kernel.spins(chains)

    def keep(self, chains: Tensor) -> None:
        self.kernel.keep(chains)


class _WolffChains:
    """Adapter: the antiferromagnet runs as the ferromagnet on spins * (-1)^(x+y)."""

    def __init__(self, spins: Tensor, beta: Tensor, coupling: float, generator: torch.Generator):
        size = spins.shape[-1]
        self.gauge = stagger(size, spins.device) if coupling < 0 else None
        if self.gauge is not None:
            spins = spins * self.gauge
        self.kernel = PackedWolff(spins, beta, abs(coupling), generator)
        self.coupling = abs(coupling)
        self.n_sites = size * size

    def advance(self, measure: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        out = self.kernel.advance(measure)
        if out is None:
            return None
        m, bonds, cluster = (x.cpu().numpy().astype(np.float64) for x in out)
        order = np.abs(m) / self.n_sites
        energy = -self.coupling * bonds / self.n_sites
        return order, energy, cluster

    def spins(self, chains: Tensor) -> Tensor:
        s = self.kernel.spins(chains)
        return s * self.gauge if self.gauge is not None else s

    def keep(self, chains: Tensor) -> None:
        self.kernel.keep(chains)


def _check_device(device: Any, caller: str) -> torch.device:
    """'cpu' or an available CUDA device, as torch.device."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{caller}: device must be 'cpu', 'cuda' or a torch.device; got {device!r}."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{caller}: device is {device!r} but torch.cuda.is_available() is False. "
            "Use device='cpu'."
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{caller}: device must be 'cpu' or 'cuda'; got {device!r}.")
    return dev


def _check_model(
    lattice_size: int, algorithm: str, coupling: float, field: float, caller: str
) -> None:
    """Raise for a model the chosen algorithm cannot sample (see the messages)."""
    if algorithm == "metropolis":
        if lattice_size % 2:
            raise ValueError(
                f"{caller}: lattice_size must be even for the checkerboard Metropolis sampler; "
                f"got {lattice_size}. Use an even L, or algorithm='wolff' for the ferromagnet."
            )
        if coupling == 0 and field == 0:
            raise ValueError(
                f"{caller}: coupling and field are both 0, so every Metropolis move is accepted "
                "and the chain is deterministic. Every configuration is equally likely: draw "
                "uniform random spins instead."
            )
    else:
        if field != 0:
            raise ValueError(
                f"{caller}: the Wolff algorithm needs field == 0 (a cluster flip in a field is not "
                f"a valid Monte Carlo move); got field={field}. Use algorithm='metropolis'."
            )
        if coupling == 0:
            raise ValueError(
                f"{caller}: the Wolff algorithm needs a nonzero coupling; got 0. "
                "Use algorithm='metropolis'."
            )
        if coupling < 0 and lattice_size % 2:
            raise ValueError(
                f"{caller}: the antiferromagnet (coupling < 0) needs an even lattice_size, "
                f"a bipartite lattice, for Wolff's gauge map; got {lattice_size}."
            )


def _ground_state(lattice_size: int, coupling: float, field: float, device: torch.device) -> Tensor:
    """The lowest-energy configuration among all up, all down and the two Neel states."""
    up = torch.ones(lattice_size, lattice_size, dtype=torch.int8, device=device)
    neel = stagger(lattice_size, device)
    candidates = torch.stack([up, -up, neel, -neel])
    energy = observables(candidates, coupling=coupling, field=field)["energy"]
    return candidates[int(np.argmin(energy))]  # argmin takes the first of equal energies


def _make_generator(seed: Any, device: torch.device, caller: str) -> tuple[torch.Generator, int]:
    """A torch.Generator on ``device`` seeded with ``seed`` (drawn from the OS when None)."""
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**63)
    seed = _as_int(seed, caller, "seed", 0)
    return torch.Generator(device=device).manual_seed(seed), seed


def sample(
    lattice_size: int,
    temperatures: float | list[float] | np.ndarray,
    n_samples: int,
    *,
    algorithm: str = "metropolis",
    coupling: float = 1.0,
    field: float = 0.0,
    seed: int | None = None,
    n_chains: int | None = None,
    device: str | torch.device = "cpu",
    symmetrize: bool = True,
    n_equilibration: int | None = None,
    n_between: int | None = None,
    max_pilot_steps: int = 2**16,
) -> IsingSamples:
    """Equilibrium configurations of the 2D Ising model at several temperatures.

    All chains of all temperatures advance together in one vectorised kernel. Protocol, per
    temperature (a "step" is a sweep for Metropolis, one cluster flip per chain for Wolff):

    1. Start every chain in the ground state (all up; the Neel state for J < 0; in a field the
       lowest of these).
    2. Pilot: run P steps measuring |M| (|M_s| for J < 0) and E of up to 32 chains; estimate
       tau_int of both on the second half with Sokal's automatic window, averaged over the chains,
       and take tau = the larger. The pilot is long enough when P >= 40 tau (so the discarded first
       half covers >= 20 tau) and chains x P/2 >= 300 tau; otherwise P grows (up to
       ``max_pilot_steps``, with a warning if still too short).
    3. Keep one configuration of every chain every ceil(2 tau) steps until ``n_samples`` are kept;
       a temperature that is done leaves the kernel.
    4. At h = 0 with ``symmetrize``, flip each kept configuration as a whole with probability 1/2:
       H is symmetric under s -> -s, so this is exact, and both signs of M appear even where a
       local sampler cannot tunnel between them.

    Parameters
    ----------
    lattice_size : int
        L >= 2; even for Metropolis and for the Wolff antiferromagnet.
    temperatures : float or sequence of float
        T > 0, finite; any order, repeats allowed.
    n_samples : int
        Configurations per temperature, >= 1.
    algorithm : {"metropolis", "wolff"}
        Checkerboard Metropolis (any J, h) or Wolff clusters (h = 0).
    coupling, field : float
        J (> 0 ferromagnet, < 0 antiferromagnet) and h.
    seed : int or None
        Seeds a ``torch.Generator`` on ``device``: the same seed, device and arguments give
        identical spins (CPU and CUDA streams differ). ``None`` draws a seed from the OS and
        records it in the result.
    n_chains : int or None
        Independent chains per temperature; ``None``: min(n_samples, max(4, 64 // n_T)). More
        chains vectorise better; each one pays the equilibration.
    device : {"cpu", "cuda"} or torch.device
        Where the kernels run; results come back as numpy arrays.
    symmetrize : bool
        Random global flips at h = 0 (step 4).
    n_equilibration, n_between : int or None
        Override the protocol, in steps: discard this many steps before the first sample / keep
        samples this many steps apart. With both given no pilot runs and tau_int is NaN.
    max_pilot_steps : int
        Longest pilot, in steps.

    Returns
    -------
    IsingSamples

    Raises
    ------
    ValueError
        For a bad lattice size, temperature, count, coupling, field, seed or device; an unknown
        algorithm (the message lists them); Wolff with a field; Metropolis with L odd or with
        J = h = 0.

    Warns
    -----
    UserWarning
        If tau_int could not be resolved within ``max_pilot_steps``.

    Notes
    -----
    Cost. A Metropolis sweep costs about 10 ns per spin and chain on 2 CPU cores (L = 64, 64
    chains); tau_int(|M|) grows like L^2.17 at T_c (about 45 sweeps at L = 32). A Wolff step draws
    every bond of every chain (2N random numbers per chain) and grows the clusters in as many
    bitwise iterations as the largest cluster is deep, so it is cheapest per flipped spin near and
    below T_c, where clusters hold a good fraction of the lattice (tau_int of about 1-2
    sweep-equivalents at T_c). Far above T_c clusters hold a few spins, a sweep-equivalent takes
    N / <|C|> steps, and Metropolis (tau_int of 1-2 sweeps there) is much cheaper.

    Examples
    --------
    >>> s = sample(8, [1.5, 3.0], 50, algorithm="wolff", seed=1)
    >>> s.energy.shape, bool(s.energy[:50].mean() < s.energy[50:].mean())
    ((100,), True)
    """
    caller = "ising.sample"
    size = _as_int(lattice_size, caller, "lattice_size", 2)
    if isinstance(temperatures, Tensor):
        temperatures = temperatures.detach().cpu().numpy()
    temps = np.atleast_1d(_as_temperature(temperatures, caller, "temperatures"))
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError(
            f"{caller}: temperatures must be a non-empty 1-d sequence; got shape {temps.shape}."
        )
    n_samples = _as_int(n_samples, caller, "n_samples", 1)
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"{caller}: algorithm must be one of {', '.join(map(repr, ALGORITHMS))}; "
            f"got {algorithm!r}."
        )
    j = _as_float(coupling, caller, "coupling")
    h = _as_float(field, caller, "field")
    _check_model(size, algorithm, j, h, caller)
    dev = _check_device(device, caller)
    n_temps = temps.size
    if n_chains is None:
        n_chains = min(n_samples, max(4, 64 // n_temps))
    n_chains = _as_int(n_chains, caller, "n_chains", 1)
    if n_equilibration is not None:
        n_equilibration = _as_int(n_equilibration, caller, "n_equilibration", 0)
    if n_between is not None:
        n_between = _as_int(n_between, caller, "n_between", 1)
    max_pilot_steps = _as_int(max_pilot_steps, caller, "max_pilot_steps", _PILOT_START)
    if not isinstance(symmetrize, bool):
        raise TypeError(f"{caller}: symmetrize must be a bool; got {type(symmetrize).__name__}.")
    generator, seed = _make_generator(seed, dev, caller)

    n_total = n_temps * n_chains
    start = _ground_state(size, j, h, dev).expand(n_total, size, size).contiguous()
    beta = torch.as_tensor(1.0 / np.repeat(temps, n_chains), dtype=torch.float64, device=dev)
    if algorithm == "metropolis":
        chains: Any = _MetropolisChains(start, beta, j, h, generator)
    else:
        chains = _WolffChains(start, beta, j, generator)
    run = _Protocol(
        chains,
        n_temps,
        n_chains,
        n_samples,
        size,
        generator,
        symmetrize=symmetrize and h == 0.0,
        is_wolff=algorithm == "wolff",
        n_equilibration=n_equilibration,
        n_between=n_between,
        max_pilot_steps=max_pilot_steps,
    )
    run.execute()
    if run.unresolved:
        warnings.warn(
            f"{caller}: tau_int was not resolved within max_pilot_steps={max_pilot_steps} at "
            f"temperatures {sorted(float(temps[g]) for g in run.unresolved)}; the estimate used "
            "may be too small, so samples may be correlated. Raise max_pilot_steps or n_chains.",
            UserWarning,
            stacklevel=2,
        )

    spins = run.samples.reshape(n_temps * n_samples, size, size)
    obs = observables(spins, coupling=j, field=h)
    return IsingSamples(
        spins=spins,
        temperature=np.repeat(temps, n_samples),
        magnetization=obs["magnetization"],
        staggered_magnetization=obs["staggered_magnetization"],
        energy=obs["energy"],
        nn_correlation=obs["nn_correlation"],
        nnn_correlation=obs["nnn_correlation"],
        temperatures=temps.copy(),
        lattice_size=size,
        coupling=j,
        field=h,
        algorithm=algorithm,
        seed=seed,
        n_chains=n_chains,
        device=str(dev),
        tau_int=run.tau_order * run.sweeps_per_step,
        tau_int_energy=run.tau_energy * run.sweeps_per_step,
        n_steps_between=run.spacing.copy(),
        n_sweeps_between=run.spacing * run.sweeps_per_step,
        n_equilibration=run.first_record * run.sweeps_per_step,
        mean_cluster_size=run.sweeps_per_step * size * size
        if algorithm == "wolff"
        else np.full(n_temps, np.nan),
    )


class _Protocol:
    """The pilot / equilibration / sampling schedule of :func:`sample` (see its docstring).

    Time is counted in steps from the start; ``advance`` returns observables of the state before
    the step, so column t of a series is the state after t steps. Temperature groups move through
    phases 0 (pilot), 1 (sampling), 2 (done); a done group's chains leave the kernel.
    """

    def __init__(
        self,
        chains: Any,
        n_groups: int,
        n_chains: int,
        n_samples: int,
        size: int,
        generator: torch.Generator,
        *,
        symmetrize: bool,
        is_wolff: bool,
        n_equilibration: int | None,
        n_between: int | None,
        max_pilot_steps: int,
    ):
        self.chains, self.generator = chains, generator
        self.n_groups, self.n_chains, self.n_samples = n_groups, n_chains, n_samples
        self.size, self.n_sites = size, size * size
        self.symmetrize, self.is_wolff = symmetrize, is_wolff
        self.n_equilibration, self.n_between = n_equilibration, n_between
        self.max_pilot_steps = max_pilot_steps
        self.records_per_chain = -(-n_samples // n_chains)
        self.samples = np.empty((n_groups, n_samples, size, size), dtype=np.int8)
        self.phase = np.zeros(n_groups, dtype=np.int64)
        self.next_record = np.zeros(n_groups, dtype=np.int64)
        self.n_recorded = np.zeros(n_groups, dtype=np.int64)
        self.first_record = np.zeros(n_groups, dtype=np.float64)
        self.spacing = np.zeros(n_groups, dtype=np.int64)
        self.tau_order = np.full(n_groups, np.nan)
        self.tau_energy = np.full(n_groups, np.nan)
        self.sweeps_per_step = np.ones(n_groups) if not is_wolff else np.full(n_groups, np.nan)
        self.cluster_sum = np.zeros(n_groups)
        self.cluster_steps = np.zeros(n_groups)
        self.unresolved: list[int] = []
        # chain id -> position in the kernel (-1 once its group is done)
        self.position = np.arange(n_groups * n_chains)
        self.n_series = min(n_chains, _MAX_SERIES_CHAINS)
        # time series of the pilot: rows (group, chain) of the groups still in their pilot only
        self.series_group = np.repeat(np.arange(n_groups), self.n_series)
        self.series_chains = (
            np.arange(n_groups)[:, None] * n_chains + np.arange(self.n_series)[None, :]
        ).reshape(-1)
        self.series = np.zeros((3, self.series_chains.size, _PILOT_START), dtype=np.float32)
        self.pilot_target = _PILOT_START
        if n_equilibration is not None and n_between is not None:
            self.phase[:] = 1
            self.spacing[:] = n_between
            self.next_record[:] = n_equilibration
            self.first_record[:] = n_equilibration

    def execute(self) -> None:
        step = 0
        while True:
            for g in np.flatnonzero((self.phase == 1) & (self.next_record == step)):
                self._record(g)
            if (self.phase == 0).any() and step == self.pilot_target:
                self._evaluate_pilot(step)
                for g in np.flatnonzero((self.phase == 1) & (self.next_record == step)):
                    self._record(g)
            if (self.phase == 2).all():
                return
            piloting = bool((self.phase == 0).any())
            # Wolff always counts its clusters (cheap): the sweep-equivalent of a step
            order, energy, cluster = self._advance(piloting or self.is_wolff)
            if piloting:
                self._store(step, order, energy, cluster)
            if cluster is not None:
                # mean cluster size per group over the sampling phase, for the sweep conversion
                alive = self.position >= 0
                group = np.flatnonzero(alive) // self.n_chains
                per_group = (
                    np.bincount(
                        group, weights=cluster[self.position[alive]], minlength=self.n_groups
                    )
                    / self.n_chains
                )
                sampling = self.phase == 1
                self.cluster_sum[sampling] += per_group[sampling]
                self.cluster_steps[sampling] += 1
            step += 1

    def _advance(self, measure: bool) -> tuple[Any, Any, Any]:
        out = self.chains.advance(measure)
        return (None, None, None) if out is None else out

    def _store(
        self, step: int, order: np.ndarray, energy: np.ndarray, cluster: np.ndarray | None
    ) -> None:
        capacity = self.series.shape[2]
        if step >= capacity:
            pad = np.zeros((3, self.series.shape[1], capacity), dtype=np.float32)
            self.series = np.concatenate([self.series, pad], axis=2)
        at = self.position[self.series_chains]  # groups in their pilot are all in the kernel
        self.series[0, :, step] = order[at]
        self.series[1, :, step] = energy[at]
        if cluster is not None:
            self.series[2, :, step] = cluster[at]

    def _evaluate_pilot(self, step: int) -> None:
        wanted = []
        half = step // 2
        for g in np.flatnonzero(self.phase == 0):
            rows = self.series_group == g
            tau_m, ok_m = _tau_int(self.series[0, rows, half:step], 6.0)
            tau_e, ok_e = _tau_int(self.series[1, rows, half:step], 6.0)
            tau = max(tau_m, tau_e)
            need = max(_PILOT_TAUS * tau, 2 * _ESTIMATION_TAUS * tau / self.n_series)
            resolved = ok_m and ok_e and step >= need
            if not resolved and step < self.max_pilot_steps:
                wanted.append(max(math.ceil(1.25 * step), math.ceil(1.1 * need)))
                continue
            if not resolved:
                self.unresolved.append(int(g))
            self.tau_order[g], self.tau_energy[g] = tau_m, tau_e
            if self.is_wolff:
                self.cluster_sum[g] += self.series[2, rows, half:step].mean(axis=0).sum()
                self.cluster_steps[g] += step - half
            self.phase[g] = 1
            self.spacing[g] = self.n_between or max(1, math.ceil(_SPACING_TAUS * tau))
            equilibration = self.n_equilibration if self.n_equilibration is not None else 0
            self.next_record[g] = max(step, equilibration)
            self.first_record[g] = self.next_record[g]
        if wanted:
            self.pilot_target = min(self.max_pilot_steps, min(wanted))
        keep = self.phase[self.series_group] == 0  # drop the series of resolved groups
        self.series_group, self.series_chains = self.series_group[keep], self.series_chains[keep]
        self.series = self.series[:, keep, : max(step, _PILOT_START)].copy()

    def _record(self, g: int) -> None:
        chains = self.position[g * self.n_chains : (g + 1) * self.n_chains]
        spins = self.chains.spins(torch.as_tensor(chains))
        if self.symmetrize:
            sign = torch.randint(
                0,
                2,
                (self.n_chains, 1, 1),
                generator=self.generator,
                device=spins.device,
                dtype=torch.int8,
            )
            spins = spins * (1 - 2 * sign)
        lo = int(self.n_recorded[g]) * self.n_chains
        hi = min(lo + self.n_chains, self.n_samples)
        self.samples[g, lo:hi] = spins[: hi - lo].cpu().numpy()
        self.n_recorded[g] += 1
        self.next_record[g] += self.spacing[g]
        if self.n_recorded[g] == self.records_per_chain:
            self._finish(g)

    def _finish(self, g: int) -> None:
        self.phase[g] = 2
        if self.is_wolff and self.cluster_steps[g] > 0:
            self.sweeps_per_step[g] = self.cluster_sum[g] / self.cluster_steps[g] / self.n_sites
        self.position[g * self.n_chains : (g + 1) * self.n_chains] = -1
        alive = np.flatnonzero(self.position >= 0)
        if alive.size:
            self.chains.keep(torch.as_tensor(self.position[alive]))
            self.position[alive] = np.arange(alive.size)


# ==================================================================================================
# Running chains directly
# ==================================================================================================


def _check_chain_inputs(
    spins: Any, temperature: Any, generator: Any, caller: str
) -> tuple[Tensor, Tensor, torch.Generator]:
    """Validate the inputs of run_metropolis / run_wolff; returns spins, beta (n,), generator."""
    if not isinstance(spins, Tensor):
        raise TypeError(
            f"{caller}: spins must be a torch.Tensor of shape (n, L, L), dtype int8; got "
            f"{type(spins).__name__}. Try torch.as_tensor(spins, dtype=torch.int8)."
        )
    if (
        spins.dim() != 3
        or spins.shape[1] != spins.shape[2]
        or spins.shape[0] == 0
        or spins.shape[1] < 2
    ):
        raise ValueError(
            f"{caller}: spins must have shape (n, L, L) with n >= 1 and L >= 2; got shape "
            f"{tuple(spins.shape)}. For one configuration try spins[None]."
        )
    if spins.dtype != torch.int8:
        raise ValueError(
            f"{caller}: spins must have dtype torch.int8; got {spins.dtype}. "
            "Try spins.to(torch.int8)."
        )
    if bool((spins.abs() != 1).any()):
        raise ValueError(
            f"{caller}: spins must be +-1; got {int((spins.abs() != 1).sum())} "
            "entries that are not."
        )
    n = spins.shape[0]
    t = temperature.detach().cpu().numpy() if isinstance(temperature, Tensor) else temperature
    t = _as_temperature(t, caller)
    if t.ndim == 0:
        t = np.full(n, float(t))
    if t.shape != (n,):
        raise ValueError(
            f"{caller}: temperature must be a float or have shape ({n},), one per chain; "
            f"got shape {t.shape}."
        )
    beta = torch.as_tensor(1.0 / t, dtype=torch.float64, device=spins.device)
    if generator is None:
        generator = torch.Generator(device=spins.device)
        generator.seed()
    elif not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{caller}: generator must be a torch.Generator or None; got "
            f"{type(generator).__name__}."
        )
    elif generator.device.type != spins.device.type:
        raise ValueError(
            f"{caller}: generator must be on the device of spins ({spins.device}); got "
            f"{generator.device}. Create it with torch.Generator(device=spins.device)."
        )
    return spins, beta, generator


def run_metropolis(
    spins: Tensor,
    temperature: float | np.ndarray | Tensor,
    *,
    n_sweeps: int = 1,
    coupling: float = 1.0,
    field: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Advance configurations by ``n_sweeps`` checkerboard Metropolis sweeps (no protocol).

    One sweep updates all sites with x + y even, then all with x + y odd, each with acceptance
    f min(1, exp(-dE/T)), dE = 2 s_i (J sum_neighbours s_j + h), f = METROPOLIS_ACCEPTANCE_FACTOR
    (1 - 2^-6: every flip stays optional, which makes the chain irreducible).

    Parameters
    ----------
    spins : Tensor, (n, L, L) int8
        +-1, L even; not modified.
    temperature : float or (n,) array/Tensor
        One temperature for all chains or one per chain.
    n_sweeps : int
        >= 0.
    coupling, field : float
        J and h (not both 0).
    generator : torch.Generator or None
        On the device of ``spins``; ``None`` seeds a fresh one from the OS.

    Returns
    -------
    Tensor, (n, L, L) int8
        On the device of ``spins``.

    Raises
    ------
    TypeError
        If ``spins`` is not a tensor or ``generator`` not a torch.Generator.
    ValueError
        For a bad shape, dtype, value, temperature, count, or L odd.

    Examples
    --------
    >>> s = torch.ones(2, 4, 4, dtype=torch.int8)
    >>> run_metropolis(s, 1.0, n_sweeps=3, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 4, 4])
    """
    caller = "ising.run_metropolis"
    spins, beta, generator = _check_chain_inputs(spins, temperature, generator, caller)
    n_sweeps = _as_int(n_sweeps, caller, "n_sweeps", 0)
    j = _as_float(coupling, caller, "coupling")
    h = _as_float(field, caller, "field")
    _check_model(spins.shape[-1], "metropolis", j, h, caller)
    kernel = CheckerboardMetropolis(spins, beta, j, h, generator)
    for _ in range(n_sweeps):
        kernel.advance()
    return kernel.spins()


def run_wolff(
    spins: Tensor,
    temperature: float | np.ndarray | Tensor,
    *,
    n_steps: int = 1,
    coupling: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Advance configurations by ``n_steps`` Wolff cluster flips each (h = 0, no protocol).

    Parameters
    ----------
    spins : Tensor, (n, L, L) int8
        +-1; not modified. L even for J < 0.
    temperature : float or (n,) array/Tensor
        One temperature for all chains or one per chain.
    n_steps : int
        >= 0 cluster flips per chain.
    coupling : float
        J != 0; J < 0 runs on the gauge-transformed ferromagnet.
    generator : torch.Generator or None
        On the device of ``spins``; ``None`` seeds a fresh one from the OS.

    Returns
    -------
    Tensor, (n, L, L) int8

    Raises
    ------
    TypeError
        If ``spins`` is not a tensor or ``generator`` not a torch.Generator.
    ValueError
        For a bad shape, dtype, value, temperature, count, J = 0, or J < 0 with L odd.

    Examples
    --------
    >>> s = torch.ones(2, 4, 4, dtype=torch.int8)
    >>> run_wolff(s, 2.0, n_steps=3, generator=torch.Generator().manual_seed(0)).dtype
    torch.int8
    """
    caller = "ising.run_wolff"
    spins, beta, generator = _check_chain_inputs(spins, temperature, generator, caller)
    n_steps = _as_int(n_steps, caller, "n_steps", 0)
    j = _as_float(coupling, caller, "coupling")
    _check_model(spins.shape[-1], "wolff", j, 0.0, caller)
    chains = _WolffChains(spins, beta, j, generator)
    for _ in range(n_steps):
        chains.kernel.advance(False)
    return chains.spins(torch.arange(spins.shape[0]))
