"""A particle in the central potential V(r) = -k/r in two dimensions (the Kepler problem).

A state is ``(x1, x2, v1, v2)`` (mass 1, force centre at the origin, ``k > 0``). Three quantities
are conserved along an orbit: the energy ``E = |v|^2 / 2 - k / r``, the angular momentum
``L = x1 v2 - x2 v1``, and the Runge-Lenz vector ``A = v x L - k r / r``, which points to the
pericentre (:func:`runge_lenz`). Bound orbits (``E < 0``) are ellipses with semi-major axis
``a = -k / (2E)`` and period ``P = 2 pi a^(3/2) / sqrt(k)`` (Kepler's third law, :func:`period`);
unbound ones are hyperbolae.

Trajectories are not integrated step by step: :func:`propagate` solves the two-body problem
exactly. Kepler's equation in the universal variable ``chi`` (for an ellipse ``chi = sqrt(a)``
times the change of eccentric anomaly; one formulation for ellipses, parabolae and hyperbolae),

    sqrt(k) t = sigma0 chi^2 C(z) + (1 - alpha r0) chi^3 S(z) + r0 chi,   z = alpha chi^2,
    alpha = 1/a = 2/r0 - v0^2/k,  sigma0 = (r0 . v0) / sqrt(k),

with the Stumpff functions ``C``, ``S`` (series near ``z = 0``), is solved by Newton's method
safeguarded by bisection, vectorised over all orbits and times; the state follows from the Lagrange
coefficients ``r = f r0 + g v0``, ``v = fdot r0 + gdot v0`` (Battin 1987, Ch. 4; Curtis,
*Orbital Mechanics for Engineering Students*, Algs. 3.3-3.4). Times are first reduced modulo the
period of a bound orbit, so long times lose no accuracy. E and L are conserved to rounding
(about 1e-12 relative); the samplers also check every returned trajectory against
``CONSERVATION_TOLERANCE`` and redraw the rare orbit that fails (in practice one with ``|E|`` so
close to 0 that rounding in ``|v|^2 / 2 - k / r`` alone exceeds the relative tolerance).

**Near-collisions.** An orbit whose pericentre distance ``q = L^2 / (k (1 + e))`` is below
``min_pericentre`` is rejected and redrawn, whether or not the returned time window reaches the
pericentre: close passages have huge speeds and are, physically, collisions with the central body.
Each sampler reports how many draws it rejected (``n_rejected``).

Two priors for the initial states are offered. ``prior="box"`` (the default) draws
``(x1, x2, v1, v2)`` uniformly from a box, ``U[0, 1)^4`` by default, as the generator of the
siamese-network study does; about 40% of its draws pass within 0.01 of the centre and are redrawn,
and E and ``|L|`` are correlated (Spearman about 0.4). ``prior="invariants"`` draws bound orbits by
their invariants: E uniform in ``energy_range``, ``L / L_c(E)`` uniform in ``[-1, 1]``
(``L_c = k / sqrt(-2E)`` is the circular orbit's), a uniform direction of the pericentre and a
uniform phase along the orbit; the shape of an orbit (its eccentricity) is then independent of its
energy, though ``|L| <= L_c(E)`` still ties ``|L|`` to E.

References
----------
S. J. Wetzel, R. G. Melko, J. Scott, M. Panju, V. Ganesh, "Discovering symmetry invariants and
conserved quantities by interpreting siamese neural networks", Phys. Rev. Research 2, 033499
(2020), arXiv:2003.04299.
R. H. Battin, *An Introduction to the Mathematics and Methods of Astrodynamics* (AIAA, 1987).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._validation import check_choice
from ._checks import _check_fraction, _check_int, _rng

__all__ = [
    "CONSERVATION_TOLERANCE",
    "OrbitPairs",
    "OrbitStates",
    "Orbits",
    "angular_momentum",
    "energy",
    "orbit_pairs",
    "pericentre",
    "period",
    "propagate",
    "runge_lenz",
    "sample_orbits",
    "sample_states",
]

#: Largest relative change of E or L along a trajectory that the samplers accept.
CONSERVATION_TOLERANCE = 1e-9

_PRIORS = ("box", "invariants")
_MAX_ROUNDS = 200


# --------------------------------------------------------------------------------------------
# validation helpers


def _check_float(
    value: Any, caller: str, name: str, *, positive: bool, allow_zero: bool = False
) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok and positive:
        ok = float(value) >= 0 if allow_zero else float(value) > 0
    if not ok:
        what = "a finite number" + ((" >= 0" if allow_zero else " > 0") if positive else "")
        raise ValueError(f"{caller}: {name} must be {what}; got {value!r}.")
    return float(value)


def _check_states(states: Any, caller: str, name: str = "states") -> Any:
    if not isinstance(states, torch.Tensor):
        states = np.asarray(states, dtype=np.float64)
    if states.ndim < 1 or states.shape[-1] != 4:
        raise ValueError(
            f"{caller}: {name} must have shape (..., 4) = (x1, x2, v1, v2); "
            f"got shape {tuple(states.shape)}."
        )
    return states


def _check_range(value: Any, caller: str, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{caller}: {name} must be a pair (low, high) of numbers; got {value!r}."
        ) from None
    if math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(
            f"{caller}: {name} must be a pair (low, high) with low < high; got {value!r}."
        )
    return lo, hi


# --------------------------------------------------------------------------------------------
# invariants


def _sqrt(x: Any) -> Any:
    return torch.sqrt(x) if isinstance(x, torch.Tensor) else np.sqrt(x)


def energy(states: Any, k: float = 1.0) -> Any:
    """Energy per unit mass ``E = (v1^2 + v2^2) / 2 - k / r``.

    Parameters
    ----------
    states : array_like or torch.Tensor
        ``(..., 4)`` states ``(x1, x2, v1, v2)``.
    k : float, default 1.0
        Strength of the attraction, ``V(r) = -k / r``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(...)``; a tensor for a tensor input (differentiable), float64 numpy otherwise.

    Raises
    ------
    ValueError
        If the last axis of ``states`` is not 4 or ``k`` is not positive.

    Examples
    --------
    >>> float(energy([1.0, 0.0, 0.0, 1.0]))   # circular orbit at r = 1: E = -k / (2r)
    -0.5
    """
    states = _check_states(states, "energy")
    k = _check_float(k, "energy", "k", positive=True)
    x1, x2, v1, v2 = states[..., 0], states[..., 1], states[..., 2], states[..., 3]
    return 0.5 * (v1**2 + v2**2) - k / _sqrt(x1**2 + x2**2)


def angular_momentum(states: Any) -> Any:
    """Angular momentum per unit mass ``L = x1 v2 - x2 v1``.

    Parameters
    ----------
    states : array_like or torch.Tensor
        ``(..., 4)`` states ``(x1, x2, v1, v2)``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(...)``; positive for a counter-clockwise orbit.

    Raises
    ------
    ValueError
        If the last axis of ``states`` is not 4.

    Examples
    --------
    >>> float(angular_momentum([1.0, 0.0, 0.0, 1.0]))
    1.0
    """
    states = _check_states(states, "angular_momentum")
    return states[..., 0] * states[..., 3] - states[..., 1] * states[..., 2]


def runge_lenz(states: Any, k: float = 1.0) -> Any:
    """The Runge-Lenz vector ``A = v x L - k r / r`` (in the plane), conserved for ``V = -k/r``.

    It points from the centre to the pericentre and has length ``k e`` (``e`` the eccentricity).
    Since it is conserved too, a model trained to find invariants of this system may encode its
    direction as well as E and L.

    Parameters
    ----------
    states : array_like or torch.Tensor
        ``(..., 4)`` states ``(x1, x2, v1, v2)``.
    k : float, default 1.0
        Strength of the attraction.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(..., 2)``.

    Raises
    ------
    ValueError
        If the last axis of ``states`` is not 4 or ``k`` is not positive.
    """
    states = _check_states(states, "runge_lenz")
    k = _check_float(k, "runge_lenz", "k", positive=True)
    x1, x2, v1, v2 = states[..., 0], states[..., 1], states[..., 2], states[..., 3]
    ell = x1 * v2 - x2 * v1
    r = _sqrt(x1**2 + x2**2)
    # v x (L e_z) = (v2 L, -v1 L)
    a1 = v2 * ell - k * x1 / r
    a2 = -v1 * ell - k * x2 / r
    stack = torch.stack if isinstance(states, torch.Tensor) else np.stack
    return stack([a1, a2], -1)


def _pericentre(e_: np.ndarray, ell: np.ndarray, k: float) -> np.ndarray:
    ecc = np.sqrt(np.maximum(0.0, 1.0 + 2.0 * e_ * ell**2 / k**2))
    # q = a (1 - e) written without a, so it holds for every conic and has no cancellation.
    return ell**2 / (k * (1.0 + ecc))


def pericentre(states: Any, k: float = 1.0) -> np.ndarray:
    """Closest approach to the centre of the orbit through each state, ``q = L^2 / (k (1 + e))``.

    Parameters
    ----------
    states : array_like
        ``(..., 4)`` states.
    k : float, default 1.0
        Strength of the attraction.

    Returns
    -------
    numpy.ndarray
        ``(...)`` float64; ``q = a (1 - e)`` for an ellipse, ``0`` for a radial orbit.

    Raises
    ------
    ValueError
        If the last axis of ``states`` is not 4 or ``k`` is not positive.
    """
    states = np.asarray(_check_states(states, "pericentre"), dtype=np.float64)
    k = _check_float(k, "pericentre", "k", positive=True)
    return _pericentre(energy(states, k), angular_momentum(states), k)


def period(energy: Any, k: float = 1.0) -> np.ndarray:
    """Kepler's third law: ``P = 2 pi a^(3/2) / sqrt(k)`` with ``a = -k / (2E)``.

    Parameters
    ----------
    energy : array_like
        Orbital energies; ``inf`` is returned where ``E >= 0`` (unbound).
    k : float, default 1.0
        Strength of the attraction.

    Returns
    -------
    numpy.ndarray
        Periods, the shape of ``energy``.

    Raises
    ------
    ValueError
        If ``k`` is not positive.

    Examples
    --------
    >>> round(float(period(-0.5)), 12) == round(2 * math.pi, 12)
    True
    """
    k = _check_float(k, "period", "k", positive=True)
    e_ = np.asarray(energy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = -k / (2.0 * e_)
        return np.where(e_ < 0, 2.0 * np.pi * a**1.5 / np.sqrt(k), np.inf)


# --------------------------------------------------------------------------------------------
# exact propagation


def _stumpff(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stumpff functions C(z) = (1 - cos sqrt z) / z and S(z) = (sqrt z - sin sqrt z) / sqrt z^3."""
    c = np.empty_like(z)
    s = np.empty_like(z)
    small = np.abs(z) < 1.0
    pos = z >= 1.0
    neg = z <= -1.0
    if small.any():
        # Series C = sum (-z)^m / (2m+2)!, S = sum (-z)^m / (2m+3)! by Horner; 12 terms reach
        # 1e-25 for |z| < 1, where the closed forms lose digits to cancellation.
        w = -z[small]
        cs = np.full_like(w, 1.0 / math.factorial(24))
        ss = np.full_like(w, 1.0 / math.factorial(25))
        for m in range(10, -1, -1):
            cs = cs * w + 1.0 / math.factorial(2 * m + 2)
            ss = ss * w + 1.0 / math.factorial(2 * m + 3)
        c[small], s[small] = cs, ss
    if pos.any():
        zp = z[pos]
        sp = np.sqrt(zp)
        c[pos] = 2.0 * np.sin(0.5 * sp) ** 2 / zp
        s[pos] = (sp - np.sin(sp)) / (sp * zp)
    if neg.any():
        zn = -z[neg]
        sn = np.sqrt(zn)
        with np.errstate(over="ignore", invalid="ignore"):
            c[neg] = 2.0 * np.sinh(0.5 * sn) ** 2 / zn
            s[neg] = (np.sinh(sn) - sn) / (sn * zn)
    nan = np.isnan(z)
    if nan.any():
        c[nan] = s[nan] = np.nan
    return c, s


def _universal(chi, alpha, r0, sigma0, sqrt_k, dt):
    """Kepler's equation F(chi) and its derivative dF/dchi = r(chi)."""
    z = alpha * chi**2
    c, s = _stumpff(z)
    with np.errstate(over="ignore", invalid="ignore"):
        chi2 = chi**2
        terms = (sigma0 * chi2 * c, (1.0 - alpha * r0) * chi2 * chi * s, r0 * chi, sqrt_k * dt)
        f_val = terms[0] + terms[1] + terms[2] - terms[3]
        radius = chi2 * c + sigma0 * chi * (1.0 - z * s) + r0 * (1.0 - z * c)
        # The rounding floor of f_val: Newton cannot improve chi beyond it.
        floor = 4e-16 * (np.abs(terms[0]) + np.abs(terms[1]) + np.abs(terms[2]) + terms[3])
    return f_val, radius, z, c, s, floor


def _propagate(states0: np.ndarray, dt: np.ndarray, k: float) -> np.ndarray:
    """Exact Kepler propagation; ``states0`` (n, 4), ``dt`` (n, m) -> (n, m, 4)."""
    shape = dt.shape
    sign = np.where(dt < 0, -1.0, 1.0)
    dt = np.abs(dt)
    r0v = np.broadcast_to(states0[:, None, :2], shape + (2,))
    # Backwards in time = forwards with the velocity reversed (time-reversal symmetry).
    v0v = states0[:, None, 2:] * sign[..., None]
    r0 = np.sqrt((r0v**2).sum(-1))
    alpha = 2.0 / r0 - (v0v**2).sum(-1) / k
    sqrt_k = math.sqrt(k)
    sigma0 = (r0v * v0v).sum(-1) / sqrt_k
    bound = alpha > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        period_ = np.where(
            bound, 2.0 * np.pi / (np.where(bound, alpha, 1.0) ** 1.5 * sqrt_k), np.inf
        )
    dt = np.where(bound, np.mod(dt, period_), dt)

    lo = np.zeros(dt.size)
    # One period is chi = 2 pi sqrt(a), where F = sqrt(k) (P - dt) >= 0: a bracket for ellipses.
    hi = np.where(bound, 2.0 * np.pi / np.sqrt(np.where(bound, alpha, 1.0)), 0.0).ravel()
    flat = [a.ravel() for a in (alpha, r0, sigma0, dt)]
    unbound = np.flatnonzero(~bound.ravel())
    if unbound.size:
        # Unbound: double hi until F(hi) >= 0 (F is increasing, F' = r > 0).
        hi[unbound] = np.maximum(sqrt_k * flat[3][unbound] / flat[1][unbound], 1e-300)
        grow = unbound
        for _ in range(2100):
            f_hi = _universal(hi[grow], *(x[grow] for x in flat[:3]), sqrt_k, flat[3][grow])[0]
            grow = grow[f_hi < 0]
            if grow.size == 0:
                break
            hi[grow] *= 2.0
    guess = np.where(bound, sqrt_k * dt * alpha, sqrt_k * dt / r0).ravel()
    chi = np.clip(guess, lo, hi)
    # Newton on the elements not yet converged; a step leaving the bracket [lo, hi] (where
    # F(lo) <= 0 <= F(hi)) is replaced by bisection, so every element converges.
    active = np.arange(chi.size)
    for _ in range(200):
        a_, r_, s_, t_ = (x[active] for x in flat)
        c_, l_, h_ = chi[active], lo[active], hi[active]
        f_val, radius, *_, floor = _universal(c_, a_, r_, s_, sqrt_k, t_)
        too_high = (f_val > 0) | np.isnan(f_val)
        l_ = np.where(too_high, l_, c_)
        h_ = np.where(too_high, c_, h_)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = c_ - f_val / radius
        outside = ~((new >= l_) & (new <= h_))
        new = np.where(outside, 0.5 * (l_ + h_), new)
        done = (np.abs(new - c_) <= 2e-16 * np.abs(new)) | (np.abs(f_val) <= floor)
        done |= (h_ - l_) <= 4e-16 * h_
        chi[active], lo[active], hi[active] = new, l_, h_
        active = active[~done]
        if active.size == 0:
            break
    chi = chi.reshape(shape)
    _, radius, z, c, s, _ = _universal(chi, alpha, r0, sigma0, sqrt_k, dt)
    chi2 = chi**2
    # Lagrange coefficients in universal variables (Curtis, Alg. 3.4).
    f = 1.0 - chi2 * c / r0
    g = dt - chi2 * chi * s / sqrt_k
    fdot = sqrt_k * chi * (z * s - 1.0) / (radius * r0)
    gdot = 1.0 - chi2 * c / radius
    r = f[..., None] * r0v + g[..., None] * v0v
    v = (fdot[..., None] * r0v + gdot[..., None] * v0v) * sign[..., None]
    return np.concatenate([r, v], -1)


def propagate(states: Any, times: Any, *, k: float = 1.0) -> np.ndarray:
    """Move states along their exact Kepler orbits.

    Parameters
    ----------
    states : array_like
        ``(n, 4)`` initial states ``(x1, x2, v1, v2)`` at time 0 (``r > 0``).
    times : array_like
        ``(m,)`` times shared by all states, or ``(n, m)`` per state; negative times go backwards.
    k : float, default 1.0
        Strength of the attraction.

    Returns
    -------
    numpy.ndarray
        ``(n, m, 4)`` float64 states at the given times. Radial orbits (``L = 0``) are followed
        only up to the collision; unbound orbits at extreme times may overflow to ``inf``.

    Raises
    ------
    ValueError
        If the shapes do not fit, a value is not finite, a state sits at the centre, or ``k`` is
        not positive.

    Examples
    --------
    >>> out = propagate([[1.0, 0.0, 0.0, 1.0]], [0.0, math.pi / 2])   # quarter of a circle
    >>> np.round(out[0, 1], 12) + 0.0
    array([ 0.,  1., -1.,  0.])
    """
    caller = "propagate"
    k = _check_float(k, caller, "k", positive=True)
    states = np.asarray(_check_states(states, caller), dtype=np.float64)
    if states.ndim != 2:
        raise ValueError(
            f"{caller}: states must have shape (n, 4); got shape {states.shape}. "
            "For one state try states[None]."
        )
    times = np.asarray(times, dtype=np.float64)
    n = states.shape[0]
    if times.ndim == 1:
        times = np.broadcast_to(times, (n, times.shape[0]))
    if times.ndim != 2 or times.shape[0] != n:
        raise ValueError(
            f"{caller}: times must have shape (m,) or ({n}, m) for states of shape {states.shape}; "
            f"got shape {times.shape}."
        )
    if not (np.isfinite(states).all() and np.isfinite(times).all()):
        raise ValueError(f"{caller}: states and times must be finite.")
    if (np.hypot(states[:, 0], states[:, 1]) == 0).any():
        raise ValueError(f"{caller}: every state must have r > 0; a state sits at the centre.")
    return _propagate(states, times, k)


# --------------------------------------------------------------------------------------------
# samplers


@dataclass(frozen=True)
class _Prior:
    k: float
    prior: str
    box: tuple[float, float]
    energy_range: tuple[float, float]
    bound_only: bool
    min_pericentre: float


def _make_prior(
    caller: str,
    k: Any,
    prior: Any,
    box: Any,
    energy_range: Any,
    bound_only: bool,
    min_pericentre: Any,
) -> _Prior:
    k = _check_float(k, caller, "k", positive=True)
    check_choice(prior, _PRIORS, caller, "prior")
    box = _check_range(box, caller, "box")
    if not all(math.isfinite(b) for b in box):
        raise ValueError(f"{caller}: box must be finite; got {box!r}.")
    min_pericentre = _check_float(
        min_pericentre, caller, "min_pericentre", positive=True, allow_zero=True
    )
    if energy_range is None:
        energy_range = (-math.inf, math.inf)
    lo, hi = _check_range(energy_range, caller, "energy_range")
    if bound_only or prior == "invariants":
        if lo >= 0:
            raise ValueError(
                f"{caller}: energy_range must reach below 0 for bound orbits; "
                f"got {energy_range!r}. "
                "Pass bound_only=False for unbound orbits."
            )
        hi = min(hi, 0.0)
    if prior == "invariants" and not (math.isfinite(lo) and lo < 0):
        raise ValueError(
            f"{caller}: prior='invariants' draws E uniformly, so energy_range must be finite and "
            f"negative, e.g. (-2.0, -0.25); got {energy_range!r}."
        )
    return _Prior(
        k, prior, box, (lo, hi), bool(bound_only or prior == "invariants"), min_pericentre
    )


def _draw_candidates(rng: np.random.Generator, n: int, p: _Prior) -> np.ndarray:
    if p.prior == "box":
        return rng.uniform(p.box[0], p.box[1], size=(n, 4))
    e_ = rng.uniform(p.energy_range[0], p.energy_range[1], size=n)
    a = -p.k / (2.0 * e_)
    ell = np.sqrt(p.k * a) * rng.uniform(-1.0, 1.0, size=n)
    q = _pericentre(e_, ell, p.k)
    omega = rng.uniform(0.0, 2.0 * np.pi, size=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = ell / q  # tangential speed at the pericentre
    cos, sin = np.cos(omega), np.sin(omega)
    states = np.stack([q * cos, q * sin, -speed * sin, speed * cos], -1)
    ok = q > 0
    phase_time = rng.uniform(0.0, 1.0, size=n) * 2.0 * np.pi * a**1.5 / math.sqrt(p.k)
    out = np.full((n, 4), np.nan)
    if ok.any():
        # A uniform time along the orbit is a uniform mean anomaly.
        out[ok] = _propagate(states[ok], phase_time[ok, None], p.k)[:, 0]
    return out


def _acceptable(states: np.ndarray, p: _Prior) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e_ = energy(states, p.k)
        q = _pericentre(e_, angular_momentum(states), p.k)
    ok = np.isfinite(states).all(-1) & np.isfinite(e_)
    ok &= (e_ >= p.energy_range[0]) & (e_ < p.energy_range[1])
    if p.bound_only:
        ok &= e_ < 0
    ok &= (q >= p.min_pericentre) & (q > 0)
    return ok


def _conserved(traj: np.ndarray, k: float) -> np.ndarray:
    e_ = energy(traj, k)
    ell = angular_momentum(traj)
    with np.errstate(divide="ignore", invalid="ignore"):
        de = np.abs(e_ - e_[:, :1]).max(1) / np.abs(e_[:, 0])
        dl = np.abs(ell - ell[:, :1]).max(1) / np.abs(ell[:, 0])
    return (de <= CONSERVATION_TOLERANCE) & (dl <= CONSERVATION_TOLERANCE)


def _sample(
    rng: np.random.Generator, n: int, times: np.ndarray, p: _Prior, caller: str
) -> tuple[np.ndarray, int]:
    """Draw ``n`` accepted orbits and their trajectories at ``times`` ((m,) or (n, m))."""
    accepted: list[np.ndarray] = []
    have = rejected = drawn = 0
    for _ in range(_MAX_ROUNDS):
        need = n - have
        if need == 0:
            break
        batch = max(16, 2 * need)
        cand = _draw_candidates(rng, batch, p)
        drawn += batch
        ok = _acceptable(cand, p)
        index = np.flatnonzero(ok)[:need]
        cand = cand[index]
        if times.ndim == 2:
            t = times[have : have + index.size]
        else:
            t = np.broadcast_to(times, (index.size, times.shape[0]))
        traj = _propagate(cand, t, p.k)
        good = _conserved(traj, p.k)
        # Keep the leading run of good orbits so that per-orbit times stay aligned; a failure of
        # the (rounding-level) conservation check is rare, and the orbits after it go unused.
        stop = index.size if good.all() else int(np.argmin(good))
        accepted.append(traj[:stop])
        have += stop
        # Count the draws rejected up to the last one examined; later draws were never needed.
        if stop < index.size:
            last = index[stop]
        elif index.size == need:
            last = index[-1]
        else:
            last = batch - 1
        rejected += int((~ok[: last + 1]).sum()) + int(stop < index.size)
    if have < n:
        raise ValueError(
            f"{caller}: accepted only {have} of {n} orbits after {drawn} draws; the constraints "
            f"(energy_range {p.energy_range}, min_pericentre {p.min_pericentre}, prior "
            f"{p.prior!r}, box {p.box}) leave too little of the prior. Widen energy_range or "
            "lower min_pericentre."
        )
    return np.concatenate(accepted), rejected


@dataclass(frozen=True, eq=False)
class Orbits:
    """Sampled trajectories of the Kepler problem.

    Attributes
    ----------
    states : numpy.ndarray
        ``(n_orbits, n_times, 4)`` float64 states ``(x1, x2, v1, v2)``.
    energy, angular_momentum : numpy.ndarray
        ``(n_orbits,)`` the invariants of each orbit (of its initial state).
    times : numpy.ndarray
        ``(n_times,)`` the times of the states (the initial state is at 0).
    k : float
        Strength of the attraction.
    n_rejected : int
        Draws rejected (energy outside the range, unbound, near-collision, failed conservation
        check) while collecting the orbits.
    """

    states: np.ndarray
    energy: np.ndarray
    angular_momentum: np.ndarray
    times: np.ndarray
    k: float
    n_rejected: int


def sample_orbits(
    n_orbits: int,
    n_times: int,
    *,
    k: float = 1.0,
    t_max: float = 3.0,
    energy_range: tuple[float, float] | None = None,
    bound_only: bool = True,
    prior: str = "box",
    box: tuple[float, float] = (0.0, 1.0),
    min_pericentre: float = 0.01,
    seed: int | np.random.Generator = 0,
) -> Orbits:
    """Sample orbits and their exact trajectories on a time grid.

    Parameters
    ----------
    n_orbits : int
        Number of orbits.
    n_times : int
        Number of times, ``linspace(0, t_max, n_times)``.
    k : float, default 1.0
        Strength of the attraction, ``V = -k / r``.
    t_max : float, default 3.0
        Last time (the siamese-network generator integrates over ``[0, 3]``).
    energy_range : (float, float), optional
        Accept orbits with ``low <= E < high`` only. ``None``: any energy (below 0 when
        ``bound_only``). Required and finite for ``prior="invariants"``.
    bound_only : bool, default True
        Reject unbound orbits (``E >= 0``).
    prior : {"box", "invariants"}, default "box"
        How initial states are drawn (see the module docstring); ``"invariants"`` always gives
        bound orbits.
    box : (float, float), default (0.0, 1.0)
        For ``prior="box"``: each of ``x1, x2, v1, v2`` is uniform in ``[low, high)``.
    min_pericentre : float, default 0.01
        Near-collision threshold: orbits passing closer to the centre are redrawn.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws; the same seed gives the same orbits.

    Returns
    -------
    Orbits
        ``states (n_orbits, n_times, 4)``, ``energy``, ``angular_momentum`` ``(n_orbits,)``,
        ``times (n_times,)``, ``k`` and ``n_rejected``.

    Raises
    ------
    ValueError
        If an argument is out of range, or the constraints reject nearly every draw.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.

    Examples
    --------
    >>> o = sample_orbits(8, 50, seed=1)
    >>> o.states.shape, bool((o.energy < 0).all())
    ((8, 50, 4), True)
    """
    caller = "sample_orbits"
    n_orbits = _check_int(n_orbits, caller, "n_orbits", 1)
    n_times = _check_int(n_times, caller, "n_times", 1)
    t_max = _check_float(t_max, caller, "t_max", positive=True, allow_zero=True)
    p = _make_prior(caller, k, prior, box, energy_range, bound_only, min_pericentre)
    rng = _rng(seed, caller)
    times = np.linspace(0.0, t_max, n_times)
    traj, rejected = _sample(rng, n_orbits, times, p, caller)
    initial = traj[:, 0]
    return Orbits(
        states=traj,
        energy=energy(initial, p.k),
        angular_momentum=angular_momentum(initial),
        times=times,
        k=p.k,
        n_rejected=int(rejected),
    )


@dataclass(frozen=True, eq=False)
class OrbitStates:
    """States along sampled trajectories, flattened.

    Attributes
    ----------
    states : numpy.ndarray
        ``(n_orbits * n_times, 4)``; orbit-major (the first ``n_times`` rows are orbit 0).
    energy, angular_momentum : numpy.ndarray
        ``(n,)`` invariants of the orbit each state lies on.
    orbit : numpy.ndarray
        ``(n,)`` int64 index of that orbit.
    time : numpy.ndarray
        ``(n,)`` time of each state on its orbit.
    n_rejected : int
        As in :class:`Orbits`.
    """

    states: np.ndarray
    energy: np.ndarray
    angular_momentum: np.ndarray
    orbit: np.ndarray
    time: np.ndarray
    n_rejected: int


def sample_states(
    n_orbits: int,
    n_times: int,
    *,
    k: float = 1.0,
    t_max: float = 3.0,
    energy_range: tuple[float, float] | None = None,
    bound_only: bool = True,
    prior: str = "box",
    box: tuple[float, float] = (0.0, 1.0),
    min_pericentre: float = 0.01,
    seed: int | np.random.Generator = 0,
) -> OrbitStates:
    """States along :func:`sample_orbits` trajectories, flat ``(n, 4)``, with their invariants.

    Parameters are those of :func:`sample_orbits`; the result holds the same numbers.

    Returns
    -------
    OrbitStates
        ``states (n_orbits * n_times, 4)`` and per-state ``energy``, ``angular_momentum``,
        ``orbit``, ``time``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`sample_orbits`.

    Examples
    --------
    >>> s = sample_states(4, 10)
    >>> s.states.shape, s.orbit[:12].tolist()
    ((40, 4), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1])
    """
    o = sample_orbits(
        n_orbits,
        n_times,
        k=k,
        t_max=t_max,
        energy_range=energy_range,
        bound_only=bound_only,
        prior=prior,
        box=box,
        min_pericentre=min_pericentre,
        seed=seed,
    )
    n_o, n_t = o.states.shape[:2]
    return OrbitStates(
        states=o.states.reshape(n_o * n_t, 4),
        energy=np.repeat(o.energy, n_t),
        angular_momentum=np.repeat(o.angular_momentum, n_t),
        orbit=np.repeat(np.arange(n_o, dtype=np.int64), n_t),
        time=np.tile(o.times, n_o),
        n_rejected=o.n_rejected,
    )


@dataclass(frozen=True, eq=False)
class OrbitPairs:
    """Pairs of states for a siamese network: on one orbit (label 1) or on two (label 0).

    Attributes
    ----------
    pairs : numpy.ndarray
        ``(n_pairs, 2, 4)`` float64; ``pairs[:, 0]`` and ``pairs[:, 1]`` are the two members.
    labels : numpy.ndarray
        ``(n_pairs,)`` int64, 1 when both states lie on one orbit (same E, L and Runge-Lenz vector),
        0 when they lie on two independently drawn orbits.
    energy, angular_momentum : numpy.ndarray
        ``(n_pairs, 2)`` invariants of both members.
    times : numpy.ndarray
        ``(n_pairs, 2)`` the time of each member on its orbit.
    n_rejected : int
        As in :class:`Orbits`.
    """

    pairs: np.ndarray
    labels: np.ndarray
    energy: np.ndarray
    angular_momentum: np.ndarray
    times: np.ndarray
    n_rejected: int


def orbit_pairs(
    n_pairs: int,
    *,
    seed: int | np.random.Generator = 0,
    negative_fraction: float = 0.5,
    k: float = 1.0,
    t_max: float = 3.0,
    energy_range: tuple[float, float] | None = None,
    bound_only: bool = True,
    prior: str = "box",
    box: tuple[float, float] = (0.0, 1.0),
    min_pericentre: float = 0.01,
) -> OrbitPairs:
    """Pairs of states for the siamese-network experiment of Wetzel et al. (2020).

    Every pair has its own orbit ``A`` and two times drawn uniformly in ``[0, t_max]``. A positive
    pair (label 1) is ``A`` at both times. A negative pair (label 0) is ``A`` at the first time and
    a second, independently drawn orbit ``B`` at the second time, so both members of every pair
    have the same distribution and only their relation differs. Exactly
    ``round(negative_fraction * n_pairs)`` pairs are negative, at random positions.

    Parameters
    ----------
    n_pairs : int
        Number of pairs.
    seed : int or numpy.random.Generator, default 0
        Seed of the draws.
    negative_fraction : float, default 0.5
        Fraction of negative pairs, in ``[0, 1]``.
    k, t_max, energy_range, bound_only, prior, box, min_pericentre
        As in :func:`sample_orbits`.

    Returns
    -------
    OrbitPairs
        ``pairs (n_pairs, 2, 4)``, ``labels (n_pairs,)``, invariants ``(n_pairs, 2)``.

    Raises
    ------
    ValueError, TypeError
        As in :func:`sample_orbits`, or if ``negative_fraction`` is not in ``[0, 1]``.

    Examples
    --------
    >>> d = orbit_pairs(10, seed=3)
    >>> d.pairs.shape, int(d.labels.sum())
    ((10, 2, 4), 5)
    """
    caller = "orbit_pairs"
    n_pairs = _check_int(n_pairs, caller, "n_pairs", 1)
    negative_fraction = _check_fraction(negative_fraction, caller)
    t_max = _check_float(t_max, caller, "t_max", positive=True, allow_zero=True)
    p = _make_prior(caller, k, prior, box, energy_range, bound_only, min_pericentre)
    rng = _rng(seed, caller)
    n_neg = round(negative_fraction * n_pairs)
    labels = np.ones(n_pairs, dtype=np.int64)
    labels[rng.permutation(n_pairs)[:n_neg]] = 0
    times = rng.uniform(0.0, t_max, size=(n_pairs, 2))
    traj, rejected = _sample(rng, n_pairs, times, p, caller)
    pairs = traj.copy()
    negative = np.flatnonzero(labels == 0)
    if negative.size:
        other, rejected_b = _sample(rng, negative.size, times[negative, 1:], p, caller)
        pairs[negative, 1] = other[:, 0]
        rejected += rejected_b
    return OrbitPairs(
        pairs=pairs,
        labels=labels,
        energy=energy(pairs, p.k),
        angular_momentum=angular_momentum(pairs),
        times=times,
        n_rejected=int(rejected),
    )
