"""Special relativity: events, random Lorentz transformations, and electromagnetic fields.

An event is ``(t, x, y, z)`` with ``c = 1``; the metric is ``eta = diag(1, -1, -1, -1)`` and the
invariant interval is ``s^2 = t^2 - x^2 - y^2 - z^2`` (:func:`interval`). A Lorentz transformation
``Lambda`` satisfies ``Lambda^T eta Lambda = eta``; the proper orthochronous ones
(``det = +1``, ``Lambda^0_0 >= 1``) are drawn by :func:`random_lorentz` as

    Lambda = R1 . B_z(phi) . R2,

with ``R1``, ``R2`` Haar-random rotations of SO(3) (uniform unit quaternions) and ``B_z`` a boost
along z of rapidity ``phi``. Every proper orthochronous transformation has this form (the
Cartan, or KAK, decomposition), and the random rotations make the boost direction uniform on the
sphere. Boosts follow the passive convention ``t' = gamma (t - beta x)``,
``x' = gamma (x - beta t)`` (:func:`boost`).

The electromagnetic field tensor (Jackson, Eq. 11.137) is ``F^{0i} = -E_i``,
``F^{ij} = -epsilon_{ijk} B_k``, and transforms as ``F' = Lambda F Lambda^T``
(:func:`transform_fields`). Its two invariants are ``E^2 - B^2`` and ``E . B``
(:func:`field_invariants`).

The pair generators (:func:`event_pairs`, :func:`field_pairs`) produce the data of the
siamese-network experiment: a positive pair is an object and its Lorentz transform, a negative
pair an object and the transform of an independent one. :func:`interval` and
:func:`field_invariants` work on numpy arrays and torch tensors alike (differentiably); the rest is
float64 numpy.

References
----------
S. J. Wetzel, R. G. Melko, J. Scott, M. Panju, V. Ganesh, "Discovering symmetry invariants and
conserved quantities by interpreting siamese neural networks", Phys. Rev. Research 2, 033499
(2020), arXiv:2003.04299.
J. D. Jackson, *Classical Electrodynamics*, 3rd ed. (Wiley, 1999), Sec. 11.10.
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
    "METRIC",
    "EventPairs",
    "FieldPairs",
    "boost",
    "event_pairs",
    "field_invariants",
    "field_pairs",
    "field_tensor",
    "fields_from_tensor",
    "interval",
    "random_events",
    "random_fields",
    "random_lorentz",
    "random_rotations",
    "transform_fields",
]

#: The Minkowski metric ``diag(1, -1, -1, -1)`` (read-only).
METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
METRIC.setflags(write=False)

_DISTRIBUTIONS = ("rapidity", "velocity")

# Levi-Civita symbol epsilon_{ijk}.
_EPSILON = np.zeros((3, 3, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _EPSILON[_i, _j, _k], _EPSILON[_i, _k, _j] = 1.0, -1.0


# --------------------------------------------------------------------------------------------
# validation helpers


def _check_positive(value: Any, caller: str, name: str, allow_inf: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and float(value) > 0 and (allow_inf or math.isfinite(float(value)))
    if not ok:
        raise ValueError(f"{caller}: {name} must be a finite number > 0; got {value!r}.")
    return float(value)


def _last_dim(x: Any, size: int, caller: str, name: str, what: str) -> Any:
    if not isinstance(x, torch.Tensor):
        x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(
            f"{caller}: {name} must have shape (..., {size}) = {what}; got shape {tuple(x.shape)}."
        )
    return x


def _check_fields(e_field: Any, b_field: Any, caller: str) -> tuple[Any, Any]:
    e_field = _last_dim(e_field, 3, caller, "E", "(Ex, Ey, Ez)")
    b_field = _last_dim(b_field, 3, caller, "B", "(Bx, By, Bz)")
    if tuple(e_field.shape) != tuple(b_field.shape):
        raise ValueError(
            f"{caller}: E and B must have the same shape; got {tuple(e_field.shape)} and "
            f"{tuple(b_field.shape)}."
        )
    return e_field, b_field


def _check_lorentz(lorentz: Any, caller: str) -> np.ndarray:
    lorentz = np.asarray(lorentz, dtype=np.float64)
    if lorentz.ndim < 2 or lorentz.shape[-2:] != (4, 4):
        raise ValueError(
            f"{caller}: lorentz must have shape (..., 4, 4); got shape {lorentz.shape}."
        )
    return lorentz


# --------------------------------------------------------------------------------------------
# events and transformations


def interval(events: Any) -> Any:
    """The invariant interval ``s^2 = t^2 - x^2 - y^2 - z^2``.

    Parameters
    ----------
    events : array_like or torch.Tensor
        ``(..., 4)`` events ``(t, x, y, z)``.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        ``(...)``: positive for timelike, negative for spacelike separation from the origin. A
        tensor (differentiable) for a tensor input, float64 numpy otherwise.

    Raises
    ------
    ValueError
        If the last axis is not 4.

    Examples
    --------
    >>> float(interval([2.0, 1.0, 0.0, 1.0]))
    2.0
    """
    events = _last_dim(events, 4, "interval", "events", "(t, x, y, z)")
    return events[..., 0] ** 2 - events[..., 1] ** 2 - events[..., 2] ** 2 - events[..., 3] ** 2


def _rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    # A normalised Gaussian 4-vector is a uniform unit quaternion, whose rotation is Haar on SO(3)
    # (Shoemake 1992).
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def random_rotations(n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Haar-random rotations of three-dimensional space.

    Parameters
    ----------
    n : int
        Number of rotations.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.

    Returns
    -------
    numpy.ndarray
        ``(n, 3, 3)`` float64 orthogonal matrices with determinant +1, distributed uniformly
        (Haar measure) on SO(3).

    Raises
    ------
    ValueError
        If ``n`` is not a positive int.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.
    """
    n = _check_int(n, "random_rotations", "n", 1)
    return _rotations(_rng(seed, "random_rotations"), n)


def _embed(rotation: np.ndarray) -> np.ndarray:
    out = np.zeros(rotation.shape[:-2] + (4, 4))
    out[..., 0, 0] = 1.0
    out[..., 1:, 1:] = rotation
    return out


def boost(rapidity: Any, direction: Any = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Pure boosts: ``Lambda^0_0 = cosh phi``, ``Lambda^0_i = Lambda^i_0 = -n_i sinh phi``,
    ``Lambda^i_j = delta_ij + (cosh phi - 1) n_i n_j``.

    This is the passive transformation to a frame moving with velocity ``beta = tanh phi`` along
    the unit vector ``n``: for ``n = x``, ``t' = gamma (t - beta x)``, ``x' = gamma (x - beta t)``.

    Parameters
    ----------
    rapidity : array_like
        Rapidities ``phi``, any shape ``(...)``.
    direction : array_like, default (0, 0, 1)
        ``(3,)`` or ``(..., 3)`` boost directions (normalised here; must be non-zero).

    Returns
    -------
    numpy.ndarray
        ``(..., 4, 4)`` float64.

    Raises
    ------
    ValueError
        If a rapidity is not finite, or a direction is not a non-zero 3-vector.

    Examples
    --------
    >>> b = boost(math.atanh(0.6), (1.0, 0.0, 0.0))   # gamma = 1.25, gamma beta = 0.75
    >>> np.round(b[:2, :2], 12).tolist()
    [[1.25, -0.75], [-0.75, 1.25]]
    """
    caller = "boost"
    phi = np.asarray(rapidity, dtype=np.float64)
    if not np.isfinite(phi).all():
        raise ValueError(f"{caller}: rapidity must be finite; got non-finite entries.")
    n = _last_dim(direction, 3, caller, "direction", "(nx, ny, nz)")
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    if not (np.isfinite(norm).all() and (norm > 0).all()):
        raise ValueError(f"{caller}: direction must be a finite non-zero 3-vector.")
    n = n / norm
    shape = np.broadcast_shapes(phi.shape, n.shape[:-1])
    phi = np.broadcast_to(phi, shape)
    n = np.broadcast_to(n, shape + (3,))
    ch, sh = np.cosh(phi), np.sinh(phi)
    out = np.empty(shape + (4, 4))
    out[..., 0, 0] = ch
    out[..., 0, 1:] = -sh[..., None] * n
    out[..., 1:, 0] = -sh[..., None] * n
    out[..., 1:, 1:] = np.eye(3) + (ch - 1.0)[..., None, None] * n[..., :, None] * n[..., None, :]
    return out


def _lorentz(
    rng: np.random.Generator, n: int, max_rapidity: float, distribution: str
) -> np.ndarray:
    if distribution == "rapidity":
        phi = rng.uniform(0.0, max_rapidity, size=n)
    else:
        phi = np.arctanh(rng.uniform(0.0, math.tanh(max_rapidity), size=n))
    r1, r2 = _rotations(rng, n), _rotations(rng, n)
    return _embed(r1) @ boost(phi) @ _embed(r2)


def _check_boost_options(max_rapidity: Any, distribution: Any, caller: str) -> float:
    check_choice(distribution, _DISTRIBUTIONS, caller, "distribution")
    max_rapidity = _check_positive(
        max_rapidity, caller, "max_rapidity", allow_inf=distribution == "velocity"
    )
    return max_rapidity


def random_lorentz(
    n: int,
    seed: int | np.random.Generator = 0,
    *,
    max_rapidity: float = 2.0,
    distribution: str = "rapidity",
) -> np.ndarray:
    """Random proper orthochronous Lorentz transformations ``R1 . B_z(phi) . R2``.

    Parameters
    ----------
    n : int
        Number of transformations.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.
    max_rapidity : float, default 2.0
        Largest rapidity (``gamma <= cosh(max_rapidity)``, 3.76 by default).
    distribution : {"rapidity", "velocity"}, default "rapidity"
        ``"rapidity"``: ``phi`` uniform in ``[0, max_rapidity]``. ``"velocity"``: the speed
        ``beta = tanh phi`` uniform in ``[0, tanh(max_rapidity))``; with ``max_rapidity=inf`` this
        is the ``beta ~ U(0, 1)`` of the siamese-network generator, whose ``gamma`` is unbounded.

    Returns
    -------
    numpy.ndarray
        ``(n, 4, 4)`` float64 with ``Lambda^T eta Lambda = eta``, ``det = +1``,
        ``Lambda^0_0 >= 1``.

    Raises
    ------
    ValueError
        If ``n`` or ``max_rapidity`` is out of range or ``distribution`` unknown.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.

    Examples
    --------
    >>> lam = random_lorentz(3)
    >>> bool(np.allclose(lam.transpose(0, 2, 1) @ METRIC @ lam, METRIC))
    True
    """
    caller = "random_lorentz"
    n = _check_int(n, caller, "n", 1)
    max_rapidity = _check_boost_options(max_rapidity, distribution, caller)
    return _lorentz(_rng(seed, caller), n, max_rapidity, distribution)


def _events(rng: np.random.Generator, n: int, scale: float, centred: bool) -> np.ndarray:
    low = -scale if centred else 0.0
    return rng.uniform(low, scale, size=(n, 4))


def random_events(
    n: int, seed: int | np.random.Generator = 0, *, scale: float = 1.0, centred: bool = False
) -> np.ndarray:
    """Random events, each coordinate uniform.

    Parameters
    ----------
    n : int
        Number of events.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.
    scale : float, default 1.0
        Coordinates are uniform in ``[0, scale)`` (the ``U[0, 1)^4`` of the siamese-network
        generator), or in ``[-scale, scale)`` when ``centred``.
    centred : bool, default False
        Draw symmetrically about the origin.

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` float64 events ``(t, x, y, z)``.

    Raises
    ------
    ValueError
        If ``n`` or ``scale`` is out of range.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.
    """
    caller = "random_events"
    n = _check_int(n, caller, "n", 1)
    scale = _check_positive(scale, caller, "scale")
    return _events(_rng(seed, caller), n, scale, bool(centred))


def _labels(rng: np.random.Generator, n_pairs: int, negative_fraction: float) -> np.ndarray:
    labels = np.ones(n_pairs, dtype=np.int64)
    labels[rng.permutation(n_pairs)[: round(negative_fraction * n_pairs)]] = 0
    return labels


@dataclass(frozen=True, eq=False)
class EventPairs:
    """Pairs of events for a siamese network.

    Attributes
    ----------
    pairs : numpy.ndarray
        ``(n_pairs, 2, 4)`` float64 events ``(t, x, y, z)``.
    labels : numpy.ndarray
        ``(n_pairs,)`` int64: 1 when ``pairs[:, 1] = Lambda pairs[:, 0]`` (same interval), 0 when
        ``pairs[:, 1]`` is the transform of an independent event.
    interval : numpy.ndarray
        ``(n_pairs, 2)`` intervals of both members.
    lorentz : numpy.ndarray
        ``(n_pairs, 4, 4)`` the transformation applied to the second member's source event.
    """

    pairs: np.ndarray
    labels: np.ndarray
    interval: np.ndarray
    lorentz: np.ndarray


def event_pairs(
    n_pairs: int,
    seed: int | np.random.Generator = 0,
    *,
    negative_fraction: float = 0.5,
    max_rapidity: float = 2.0,
    distribution: str = "rapidity",
    scale: float = 1.0,
    centred: bool = False,
) -> EventPairs:
    """Pairs of events: positives ``(e, Lambda e)``, negatives ``(e, Lambda e')``.

    In a negative pair ``e'`` is an independent event (its interval differs from that of ``e``
    with probability 1). Transforming it too gives the second member of every pair the same
    distribution, so only the relation between the members tells the labels apart. Exactly
    ``round(negative_fraction * n_pairs)`` pairs are negative, at random positions.

    Parameters
    ----------
    n_pairs : int
        Number of pairs.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.
    negative_fraction : float, default 0.5
        Fraction of negative pairs, in ``[0, 1]``.
    max_rapidity, distribution
        As in :func:`random_lorentz`.
    scale, centred
        As in :func:`random_events`.

    Returns
    -------
    EventPairs
        ``pairs (n_pairs, 2, 4)``, ``labels (n_pairs,)``, ``interval (n_pairs, 2)``,
        ``lorentz (n_pairs, 4, 4)``.

    Raises
    ------
    ValueError
        If an argument is out of range.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.

    Examples
    --------
    >>> d = event_pairs(6, seed=2)
    >>> d.pairs.shape, d.labels.tolist().count(0)
    ((6, 2, 4), 3)
    """
    caller = "event_pairs"
    n_pairs = _check_int(n_pairs, caller, "n_pairs", 1)
    negative_fraction = _check_fraction(negative_fraction, caller)
    max_rapidity = _check_boost_options(max_rapidity, distribution, caller)
    scale = _check_positive(scale, caller, "scale")
    rng = _rng(seed, caller)
    labels = _labels(rng, n_pairs, negative_fraction)
    first = _events(rng, n_pairs, scale, bool(centred))
    other = _events(rng, n_pairs, scale, bool(centred))
    source = np.where(labels[:, None] == 1, first, other)
    lam = _lorentz(rng, n_pairs, max_rapidity, distribution)
    second = np.einsum("nij,nj->ni", lam, source)
    pairs = np.stack([first, second], 1)
    return EventPairs(pairs=pairs, labels=labels, interval=interval(pairs), lorentz=lam)


# --------------------------------------------------------------------------------------------
# electromagnetic fields


def field_tensor(e_field: Any, b_field: Any) -> np.ndarray:
    """The field-strength tensor ``F^{mu nu}``: ``F^{0i} = -E_i``, ``F^{ij} = -epsilon_ijk B_k``.

    Parameters
    ----------
    e_field, b_field : array_like
        ``(..., 3)`` electric and magnetic fields (``c = 1``).

    Returns
    -------
    numpy.ndarray
        ``(..., 4, 4)`` float64, antisymmetric.

    Raises
    ------
    ValueError
        If the shapes are not ``(..., 3)`` or differ.
    """
    e_field, b_field = _check_fields(e_field, b_field, "field_tensor")
    e_field, b_field = np.asarray(e_field, np.float64), np.asarray(b_field, np.float64)
    out = np.zeros(e_field.shape[:-1] + (4, 4))
    out[..., 0, 1:] = -e_field
    out[..., 1:, 0] = e_field
    out[..., 1:, 1:] = -np.einsum("ijk,...k->...ij", _EPSILON, b_field)
    return out


def fields_from_tensor(tensor: Any) -> tuple[np.ndarray, np.ndarray]:
    """Read ``E`` and ``B`` back from ``F^{mu nu}`` (the inverse of :func:`field_tensor`).

    Parameters
    ----------
    tensor : array_like
        ``(..., 4, 4)`` field tensors.

    Returns
    -------
    tuple of numpy.ndarray
        ``E``, ``B``, each ``(..., 3)``; ``E_i = F^{i0}``, ``B_k = -epsilon_ijk F^{ij} / 2``.

    Raises
    ------
    ValueError
        If the shape is not ``(..., 4, 4)``.
    """
    tensor = np.asarray(tensor, dtype=np.float64)
    if tensor.ndim < 2 or tensor.shape[-2:] != (4, 4):
        raise ValueError(
            f"fields_from_tensor: tensor must have shape (..., 4, 4); got shape {tensor.shape}."
        )
    e_field = tensor[..., 1:, 0].copy()
    b_field = -0.5 * np.einsum("ijk,...ij->...k", _EPSILON, tensor[..., 1:, 1:])
    return e_field, b_field


def transform_fields(e_field: Any, b_field: Any, lorentz: Any) -> tuple[np.ndarray, np.ndarray]:
    """Transform fields with ``F'^{mu nu} = Lambda^mu_alpha Lambda^nu_beta F^{alpha beta}``.

    For a boost with velocity ``beta`` this gives ``E'_par = E_par``,
    ``E'_perp = gamma (E + beta x B)_perp``, ``B'_perp = gamma (B - beta x E)_perp`` (Jackson,
    Eq. 11.149).

    Parameters
    ----------
    e_field, b_field : array_like
        ``(..., 3)`` fields.
    lorentz : array_like
        ``(..., 4, 4)`` transformations, broadcastable against the fields' batch shape.

    Returns
    -------
    tuple of numpy.ndarray
        ``E'``, ``B'``, each ``(..., 3)`` float64.

    Raises
    ------
    ValueError
        If the shapes do not fit.

    Examples
    --------
    >>> e, b = transform_fields([0.0, 1.0, 0.0], [0.0, 0.0, 0.0], boost(math.atanh(0.6), (1, 0, 0)))
    >>> (np.round(e, 12) + 0.0).tolist(), (np.round(b, 12) + 0.0).tolist()  # gamma = 1.25
    ([0.0, 1.25, 0.0], [0.0, 0.0, -0.75])
    """
    caller = "transform_fields"
    e_field, b_field = _check_fields(e_field, b_field, caller)
    lorentz = _check_lorentz(lorentz, caller)
    try:
        np.broadcast_shapes(np.shape(e_field)[:-1], lorentz.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{caller}: lorentz of shape {lorentz.shape} does not broadcast against fields of "
            f"shape {tuple(np.shape(e_field))}."
        ) from None
    tensor = field_tensor(e_field, b_field)
    return fields_from_tensor(lorentz @ tensor @ np.swapaxes(lorentz, -1, -2))


def field_invariants(e_field: Any, b_field: Any) -> tuple[Any, Any]:
    """The two Lorentz invariants of the field: ``E^2 - B^2`` and ``E . B``.

    (``F_{mu nu} F^{mu nu} = 2 (B^2 - E^2)`` and ``F_{mu nu} *F^{mu nu} = -4 E . B``.)

    Parameters
    ----------
    e_field, b_field : array_like or torch.Tensor
        ``(..., 3)`` fields.

    Returns
    -------
    tuple
        ``(E^2 - B^2, E . B)``, each ``(...)``; tensors for tensor inputs.

    Raises
    ------
    ValueError
        If the shapes are not ``(..., 3)`` or differ.

    Examples
    --------
    >>> [float(v) for v in field_invariants([1.0, 2.0, 0.0], [0.0, 1.0, 1.0])]
    [3.0, 2.0]
    """
    e_field, b_field = _check_fields(e_field, b_field, "field_invariants")
    return (e_field**2).sum(-1) - (b_field**2).sum(-1), (e_field * b_field).sum(-1)


def _fields(rng: np.random.Generator, n: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    return scale * rng.standard_normal((n, 3)), scale * rng.standard_normal((n, 3))


def random_fields(
    n: int, seed: int | np.random.Generator = 0, *, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Random field configurations, every component of E and B independent ``N(0, scale^2)``.

    Parameters
    ----------
    n : int
        Number of configurations.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.
    scale : float, default 1.0
        Standard deviation of each component.

    Returns
    -------
    tuple of numpy.ndarray
        ``E``, ``B``, each ``(n, 3)`` float64.

    Raises
    ------
    ValueError
        If ``n`` or ``scale`` is out of range.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.
    """
    caller = "random_fields"
    n = _check_int(n, caller, "n", 1)
    scale = _check_positive(scale, caller, "scale")
    return _fields(_rng(seed, caller), n, scale)


@dataclass(frozen=True, eq=False)
class FieldPairs:
    """Pairs of field configurations for a siamese network.

    Attributes
    ----------
    pairs : numpy.ndarray
        ``(n_pairs, 2, 6)`` float64, each member ``(Ex, Ey, Ez, Bx, By, Bz)``.
    labels : numpy.ndarray
        ``(n_pairs,)`` int64: 1 when the second member is a Lorentz transform of the first, 0 when
        it is the transform of an independent configuration.
    invariants : numpy.ndarray
        ``(n_pairs, 2, 2)``: ``[..., 0]`` is ``E^2 - B^2``, ``[..., 1]`` is ``E . B``.
    lorentz : numpy.ndarray
        ``(n_pairs, 4, 4)`` the transformation applied.
    """

    pairs: np.ndarray
    labels: np.ndarray
    invariants: np.ndarray
    lorentz: np.ndarray


def field_pairs(
    n_pairs: int,
    seed: int | np.random.Generator = 0,
    *,
    negative_fraction: float = 0.5,
    max_rapidity: float = 2.0,
    distribution: str = "rapidity",
    scale: float = 1.0,
) -> FieldPairs:
    """Pairs of EM fields: positives ``(F, Lambda F Lambda^T)``, negatives with an independent F'.

    Built like :func:`event_pairs`, with fields from :func:`random_fields`.

    Parameters
    ----------
    n_pairs : int
        Number of pairs.
    seed : int or numpy.random.Generator, default 0
        Seed (or generator) of the draws.
    negative_fraction : float, default 0.5
        Fraction of negative pairs, in ``[0, 1]``.
    max_rapidity, distribution
        As in :func:`random_lorentz`.
    scale : float, default 1.0
        As in :func:`random_fields`.

    Returns
    -------
    FieldPairs
        ``pairs (n_pairs, 2, 6)``, ``labels``, ``invariants (n_pairs, 2, 2)``, ``lorentz``.

    Raises
    ------
    ValueError
        If an argument is out of range.
    TypeError
        If ``seed`` is neither an int nor a numpy Generator.
    """
    caller = "field_pairs"
    n_pairs = _check_int(n_pairs, caller, "n_pairs", 1)
    negative_fraction = _check_fraction(negative_fraction, caller)
    max_rapidity = _check_boost_options(max_rapidity, distribution, caller)
    scale = _check_positive(scale, caller, "scale")
    rng = _rng(seed, caller)
    labels = _labels(rng, n_pairs, negative_fraction)
    e1, b1 = _fields(rng, n_pairs, scale)
    e2, b2 = _fields(rng, n_pairs, scale)
    keep = labels[:, None] == 1
    lam = _lorentz(rng, n_pairs, max_rapidity, distribution)
    e_t, b_t = transform_fields(np.where(keep, e1, e2), np.where(keep, b1, b2), lam)
    pairs = np.stack([np.concatenate([e1, b1], -1), np.concatenate([e_t, b_t], -1)], 1)
    inv = np.stack(field_invariants(pairs[..., :3], pairs[..., 3:]), -1)
    return FieldPairs(pairs=pairs, labels=labels, invariants=inv, lorentz=lam)
