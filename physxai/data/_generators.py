"""The generator registry: how each dataset card's ``generator`` turns parameters into data.

A generator is a function ``function(params, seed) -> (inputs, targets, params, observables,
extra_attrs)`` registered under a name in :data:`GENERATORS`, with the parameters it requires,
defaults for the others, which parameters are *grids* (a list of numbers, or ``{linspace =
[start, stop, num]}`` tables, concatenated in order), how its work splits into independent
chunks (so a build can resume after an interruption), and which parameters name the cache file.
``extra_attrs`` become root attributes of the file, except ``dims`` and ``units``, which describe
``/inputs``. A generator's ``version`` is part of the card hash, so bumping it rebuilds the cache.

The physics generators call the samplers in :mod:`physxai.physics` lazily (nothing runs at
import); the scikit-learn sets live in :mod:`physxai.data.tabular`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import tabular

__all__ = [
    "GENERATORS",
    "Generator",
    "GeneratorOutput",
    "expand_grid",
    "register_generator",
    "resolve_parameters",
]

GeneratorOutput = tuple[
    np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]
]


@dataclass(frozen=True)
class Generator:
    """One entry of the generator registry.

    Attributes
    ----------
    name : str
        The key cards use in ``generator = "..."``.
    function : callable
        ``function(params: dict, seed: int) -> (inputs, targets, params, observables,
        extra_attrs)``; ``params`` has the defaults filled in and the grids expanded to lists.
    version : str
        Bump when the output for the same card changes; part of the card hash.
    description : str
        One line for ``physxai data list``.
    required : tuple of str
        Parameters a card must give.
    defaults : mapping
        The other parameters and their defaults; a card giving any other key is an error.
    grids : tuple of str
        Parameters given as grids (lists or ``{linspace = [start, stop, num]}`` tables).
    split : callable or None
        ``split(params) -> list of params``: independent chunks, each generated with its own
        seed and saved as it completes, so an interrupted build resumes; ``None``: one chunk.
    filename_key : callable or None
        ``filename_key(params) -> str``: the key parameters in the cache file's name
        (``L16_T0.05-5x40_n100``).
    check : callable or None
        ``check(params, where)`` raises ``ValueError`` naming ``where`` (the card) and the field
        for a value out of range; called when a card is read.
    """

    name: str
    function: Callable[[dict[str, Any], int], GeneratorOutput]
    version: str = "1"
    description: str = ""
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    grids: tuple[str, ...] = ()
    split: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    filename_key: Callable[[dict[str, Any]], str] | None = None
    check: Callable[[dict[str, Any], str], None] | None = None


#: generator name -> :class:`Generator`; cards name one of these keys
GENERATORS: dict[str, Generator] = {}


def register_generator(generator: Generator, *, replace: bool = False) -> Generator:
    """Add a generator to :data:`GENERATORS` so cards can name it.

    Parameters
    ----------
    generator : Generator
        The entry; its ``name`` becomes the key.
    replace : bool, default False
        Allow replacing an existing entry of the same name.

    Returns
    -------
    Generator
        ``generator``.

    Raises
    ------
    TypeError
        If ``generator`` is not a :class:`Generator`.
    ValueError
        If the name is taken and ``replace`` is false.
    """
    if not isinstance(generator, Generator):
        raise TypeError(
            "register_generator: generator must be a physxai.data.Generator; "
            f"got {type(generator).__name__}."
        )
    if generator.name in GENERATORS and not replace:
        raise ValueError(
            f"register_generator: a generator named {generator.name!r} exists; pass "
            "replace=True to replace it."
        )
    GENERATORS[generator.name] = generator
    return generator


# --------------------------------------------------------------------------------------------
# parameters


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def expand_grid(value: Any, where: str) -> list[float]:
    """A grid parameter as a flat list of floats.

    Parameters
    ----------
    value : number, list or table
        A number, a list of numbers, a table ``{linspace = [start, stop, num]}`` (``num``
        points including both ends, as ``numpy.linspace``) or ``{values = [...]}``, or a list
        mixing these, concatenated in order.
    where : str
        Names the card and field in error messages.

    Returns
    -------
    list of float

    Raises
    ------
    ValueError
        If the value is none of the forms above or the grid is empty.

    Examples
    --------
    >>> expand_grid([{"linspace": [0, 1, 3]}, 2.5], "card.toml: v1")
    [0.0, 0.5, 1.0, 2.5]
    """
    hint = (
        "a number, a list of numbers, {linspace = [start, stop, num]}, {values = [...]}, or a "
        "list of these"
    )
    out: list[float] = []

    def add(item: Any, top: bool) -> None:
        if _is_number(item):
            out.append(float(item))
        elif isinstance(item, Mapping):
            if set(item) == {"linspace"}:
                spec = item["linspace"]
                ok = (
                    isinstance(spec, list)
                    and len(spec) == 3
                    and _is_number(spec[0])
                    and _is_number(spec[1])
                    and isinstance(spec[2], int)
                    and not isinstance(spec[2], bool)
                    and spec[2] >= 1
                )
                if not ok:
                    raise ValueError(
                        f"{where}: linspace must be [start, stop, num] with num an int >= 1; "
                        f"got {spec!r}."
                    )
                out.extend(float(v) for v in np.linspace(spec[0], spec[1], spec[2]))
            elif set(item) == {"values"} and isinstance(item["values"], list):
                for v in item["values"]:
                    add(v, False)
            else:
                raise ValueError(f"{where} must be {hint}; got a table with keys {sorted(item)}.")
        elif isinstance(item, list) and top:
            for v in item:
                add(v, False)
        else:
            raise ValueError(f"{where} must be {hint}; got {item!r}.")

    add(value, True)
    if not out:
        raise ValueError(f"{where} must not be empty; give {hint}.")
    return out


def resolve_parameters(generator: Generator, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A card's ``[parameters]`` checked against a generator, with the defaults filled in.

    Grids are checked but not expanded (the resolved form is what the card hash and the file's
    ``parameters`` attribute record).

    Parameters
    ----------
    generator : Generator
    raw : mapping
        The card's ``[parameters]`` table.
    where : str
        The card's file, for error messages.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        Naming the card file and the field, for a missing required parameter, an unknown one,
        or a malformed grid.
    """
    known = set(generator.required) | set(generator.defaults)
    for key in generator.required:
        if key not in raw:
            raise ValueError(
                f"{where}: [parameters] {key} is missing; generator {generator.name!r} requires "
                f"{', '.join(generator.required)}."
            )
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(
            f"{where}: [parameters] {unknown[0]} is not a parameter of generator "
            f"{generator.name!r}; known parameters: {', '.join(sorted(known)) or 'none'}."
        )
    params = {**dict(generator.defaults), **dict(raw)}
    for key in generator.grids:
        expand_grid(params[key], f"{where}: [parameters] {key}")
    if generator.check is not None:
        generator.check(params, where)
    return params


def expand(generator: Generator, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with every grid parameter replaced by its list of floats."""
    out = dict(params)
    for key in generator.grids:
        out[key] = expand_grid(params[key], f"[parameters] {key}")
    return out


def _split_grid(key: str, size_key: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """A ``split`` that cuts the grid ``key`` into consecutive pieces of ``params[size_key]``."""

    def split(params: dict[str, Any]) -> list[dict[str, Any]]:
        size = int(params[size_key])
        grid = list(params[key])
        return [{**params, key: grid[i : i + size]} for i in range(0, len(grid), size)]

    return split


def _check_ints(params: Mapping[str, Any], where: str, *keys: str) -> None:
    for key in keys:
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: [parameters] {key} must be an int >= 1; got {value!r}.")


def _check_table(params: Mapping[str, Any], where: str, key: str) -> None:
    if not isinstance(params[key], Mapping):
        raise ValueError(  # noqa: TRY004 - a bad value in a card file, as every card error
            f"{where}: [parameters] {key} must be a table of extra sampler options; "
            f"got {params[key]!r}."
        )


def _check_choice(params: Mapping[str, Any], where: str, key: str, choices: tuple) -> None:
    if params[key] not in choices:
        raise ValueError(
            f"{where}: [parameters] {key} must be one of {', '.join(map(repr, choices))}; "
            f"got {params[key]!r}."
        )


def _check_real(params: Mapping[str, Any], where: str, key: str, low: float, high: float) -> None:
    value = params[key]
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(
            f"{where}: [parameters] {key} must be a number in [{low:g}, {high:g}]; got {value!r}."
        )


def _grid_name(values: list[float]) -> str:
    return f"{min(values):g}-{max(values):g}x{len(values)}"


# --------------------------------------------------------------------------------------------
# Ising


def _ising(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """Ising snapshots at each temperature; targets: phase (1 ordered, T < T_c) or T."""
    from ..physics import ising

    temperatures = np.asarray(params["temperatures"], dtype=np.float64)
    s = ising.sample(
        lattice_size=params["lattice_size"],
        temperatures=temperatures,
        n_samples=params["n_samples"],
        algorithm=params["algorithm"],
        coupling=params["coupling"],
        seed=seed,
        **dict(params["sampler"]),
    )
    temperature = np.asarray(s.temperature, dtype=np.float64)
    # T_c = 2|J| / ln(1 + sqrt 2) (Onsager 1944), in units where k_B = 1
    critical = abs(float(params["coupling"])) * float(ising.CRITICAL_TEMPERATURE)
    if params["target"] == "phase":
        targets = (temperature < critical).astype(np.int64)
    else:
        targets = temperature.copy()
    observables = {}
    for key in (
        "magnetization",
        "energy",
        "staggered_magnetization",
        "nn_correlation",
        "nnn_correlation",
    ):
        if hasattr(s, key):
            observables[key] = np.asarray(getattr(s, key), dtype=np.float64)
    extra = {
        "dims": "sample,y,x",
        "units": "spin (+1/-1)",
        "critical_temperature": critical,
        "observable_units": "per spin",
    }
    if params["target"] == "phase":
        extra["target_names"] = ["disordered", "ordered"]
    return (
        np.asarray(s.spins, dtype=np.int8),
        targets,
        {"temperature": temperature},
        observables,
        extra,
    )


def _ising_check(params: dict[str, Any], where: str) -> None:
    _check_ints(params, where, "lattice_size", "n_samples", "temperatures_per_chunk")
    _check_choice(params, where, "target", ("phase", "temperature"))
    _check_choice(params, where, "algorithm", ("wolff", "metropolis"))
    _check_real(params, where, "coupling", -math.inf, math.inf)
    _check_table(params, where, "sampler")


def _ising_key(params: dict[str, Any]) -> str:
    temps = expand_grid(params["temperatures"], "temperatures")
    return f"L{params['lattice_size']}_T{_grid_name(temps)}_n{params['n_samples']}"


# --------------------------------------------------------------------------------------------
# Hubbard


def _hubbard(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """Exact ground states of the spinless extended Fermi-Hubbard chain at each V1."""
    from ..physics import hubbard

    v1 = np.asarray(params["v1"], dtype=np.float64)
    n_sites, n_particles = params["n_sites"], params["n_particles"]
    psi = hubbard.ground_states(
        v1,
        n_sites=n_sites,
        n_particles=n_particles,
        j=params["j"],
        h1=params["h1"],
        periodic=params["periodic"],
    )
    observables = {
        "cdw_order_parameter": np.asarray(
            hubbard.cdw_order_parameter(psi, n_sites, n_particles), dtype=np.float64
        )
    }
    occupations = np.asarray(hubbard.basis(n_sites, n_particles))
    codes = (occupations.astype(np.int64) << np.arange(n_sites, dtype=np.int64)).sum(axis=1)
    extra = {
        "dims": "sample,basis",
        "units": "amplitude (positive, unit norm)",
        "target_names": ["luttinger_liquid", "cdw_i"],
        "transition": float(params["transition"]),
        # basis state m occupies site i iff bit i of basis_codes[m] is set (hubbard.basis order)
        "basis_codes": codes,
    }
    targets = (v1 > params["transition"]).astype(np.int64)
    return psi.astype(np.float32), targets, {"v1": v1}, observables, extra


def _hubbard_check(params: dict[str, Any], where: str) -> None:
    _check_ints(params, where, "n_sites", "n_particles", "values_per_chunk")
    for key in ("transition", "j", "h1"):
        _check_real(params, where, key, -math.inf, math.inf)
    _check_choice(params, where, "periodic", (True, False))


def _hubbard_key(params: dict[str, Any]) -> str:
    v1 = expand_grid(params["v1"], "v1")
    return f"L{params['n_sites']}_N{params['n_particles']}_V{_grid_name(v1)}"


# --------------------------------------------------------------------------------------------
# siamese pairs


def _pairs(
    inputs: np.ndarray,
    labels: np.ndarray,
    observables: dict[str, np.ndarray],
    extra: dict[str, Any],
) -> GeneratorOutput:
    return (
        np.asarray(inputs, dtype=np.float32),
        np.asarray(labels, dtype=np.int64),
        {},
        {k: np.asarray(v, dtype=np.float64) for k, v in observables.items()},
        extra,
    )


def _unpack_pairs(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(pairs (n, 2, 4), labels (n,))`` from a sampler's ``*_pairs`` return value."""
    if isinstance(result, tuple):
        return np.asarray(result[0]), np.asarray(result[1])
    return np.asarray(result.pairs), np.asarray(result.labels)


def _per_member(result: Any, key: str, fallback: Callable[[np.ndarray], np.ndarray], pairs):
    """``(n, 2)`` values of an invariant for both members: the sampler's own, else computed."""
    value = getattr(result, key, None)
    if value is not None and np.shape(value) == pairs.shape[:2]:
        return np.asarray(value, dtype=np.float64)
    return np.stack([fallback(pairs[:, 0]), fallback(pairs[:, 1])], axis=1)


def _sampler_options(params: dict[str, Any]) -> dict[str, Any]:
    # TOML has no tuples; the samplers take ranges such as box = [0.0, 1.0] as tuples
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params["sampler"].items()}


def _relativity_pairs(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """Event pairs (x, Lambda x) labelled 1, and pairs of unrelated events labelled 0."""
    from ..physics import relativity

    result = relativity.event_pairs(
        params["n_pairs"],
        seed=seed,
        negative_fraction=params["negative_fraction"],
        **_sampler_options(params),
    )
    pairs, labels = _unpack_pairs(result)
    # s^2 = t^2 - x^2 - y^2 - z^2 of both events
    interval = _per_member(result, "interval", relativity.interval, pairs)
    observables = {"interval": interval[:, 0], "interval_second": interval[:, 1]}
    extra = {
        "dims": "sample,member,component",
        "units": "event (t, x, y, z), c = 1",
        "target_names": ["different_interval", "same_interval"],
    }
    return _pairs(pairs, labels, observables, extra)


def _orbit_pairs(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """Two states on one orbit labelled 1, states on different orbits labelled 0."""
    from ..physics import orbits

    result = orbits.orbit_pairs(
        params["n_pairs"],
        seed=seed,
        negative_fraction=params["negative_fraction"],
        **_sampler_options(params),
    )
    pairs, labels = _unpack_pairs(result)
    energy = _per_member(result, "energy", orbits.energy, pairs)
    momentum = _per_member(result, "angular_momentum", orbits.angular_momentum, pairs)
    observables = {
        "energy": energy[:, 0],
        "angular_momentum": momentum[:, 0],
        "energy_second": energy[:, 1],
        "angular_momentum_second": momentum[:, 1],
    }
    extra = {
        "dims": "sample,member,component",
        "units": "state (x1, x2, v1, v2)",
        "target_names": ["different_orbit", "same_orbit"],
    }
    return _pairs(pairs, labels, observables, extra)


def _pairs_check(params: dict[str, Any], where: str) -> None:
    _check_ints(params, where, "n_pairs")
    _check_real(params, where, "negative_fraction", 0.0, 1.0)
    _check_table(params, where, "sampler")


def _pairs_key(params: dict[str, Any]) -> str:
    return f"n{params['n_pairs']}"


# --------------------------------------------------------------------------------------------
# lattice snapshots (Miles et al. 2021)


def _snapshots(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """Two classes of one-hot (up, down, hole) snapshots; targets 0 and 1, grouped by class."""
    from ..physics import snapshots

    rng = np.random.default_rng(seed)
    n, size, n_holes = params["n_samples"], params["lattice_size"], params["n_holes"]
    radius = float(params["crop_radius"]) or None
    extra: dict[str, Any] = {}
    if params["kind"] == "afm_vs_random":
        positive = snapshots.afm_snapshots(
            n, size, params["temperature"], n_holes=n_holes, seed=rng
        )
        negative = snapshots.random_like(positive, seed=rng)
        target_names = ["random", "antiferromagnet"]
        extra["temperature"] = float(params["temperature"])
    else:
        negative = snapshots.pi_flux(n, size, n_holes, seed=rng, **dict(params["pi_flux"]))
        target = float(np.nanmean(snapshots.nn_spin_correlator(negative)))
        parents = None
        n_parents = params["n_parents"] or max(1, n // 2)
        if params["parent"] == "pi_flux":
            parents = snapshots.pi_flux(
                n_parents,
                size,
                0,
                seed=rng,
                **{**dict(params["pi_flux"]), **dict(params["parents"])},
            )
        strings = {
            "lattice_size": size,
            "n_holes": n_holes,
            "parents": parents,
            "hole_patterns": negative if params["match_holes"] else None,
        }
        length, flip = params["string_length"], params["flip_probability"]
        tune_seed = int(rng.integers(2**31))
        if params["parent"] == "shell_ising":
            couplings = np.asarray(params["shell_couplings"], dtype=np.float64)
            if params["match"] == "two_point":
                goal = snapshots.shell_correlators(negative, params["n_shells"]).mean(axis=0)
                fit = snapshots.tune_shell_couplings(
                    goal,
                    lattice_size=size,
                    n_holes=n_holes,
                    string_length=length,
                    flip_probability=flip,
                    hole_patterns=strings["hole_patterns"],
                    n_samples=params["n_tune"],
                    seed=tune_seed,
                    **dict(params["tune"]),
                )
                couplings = fit.couplings
                extra.update(
                    shell_target=fit.target.tolist(),
                    shell_tuned=fit.achieved.tolist(),
                    shell_tuned_standard_error=fit.standard_error.tolist(),
                )
            strings["parents"] = snapshots.shell_ising(
                n_parents, size, couplings, seed=rng, **dict(params["parents"])
            )
            extra["shell_couplings"] = [float(c) for c in couplings]
        if params["match"] == "string_length":
            length = snapshots.tune_string_length(
                target, flip_probability=flip, n_samples=params["n_tune"], seed=tune_seed, **strings
            )
        elif params["match"] == "flip_probability":
            flip = snapshots.tune_flip_probability(
                target, string_length=length, n_samples=params["n_tune"], seed=tune_seed, **strings
            )
        positive = snapshots.geometric_strings(
            n, flip_probability=flip, string_length=length, seed=rng, **strings
        )
        shells = params["n_shells"]
        extra.update(
            shell_correlators_pi_flux=snapshots.shell_correlators(negative, shells)
            .mean(axis=0)
            .tolist(),
            shell_correlators_strings=snapshots.shell_correlators(positive, shells)
            .mean(axis=0)
            .tolist(),
        )
        target_names = ["pi_flux", "geometric_strings"]
        extra.update(
            string_length=float(length),
            flip_probability=float(flip),
            nn_spin_correlator_pi_flux=target,
            nn_spin_correlator_strings=float(np.nanmean(snapshots.nn_spin_correlator(positive))),
        )
    inputs = np.concatenate([negative, positive])
    if radius is not None:
        inputs = snapshots.circular_crop(inputs, radius)
    mask = snapshots.circular_mask(size, radius) if radius is not None else None
    rho = snapshots.densities(inputs, mask)
    observables = {
        "up_density": rho[:, 0],
        "down_density": rho[:, 1],
        "hole_density": rho[:, 2],
        "nn_spin_correlator": snapshots.nn_spin_correlator(inputs, mask),
    }
    extra.update(
        dims="sample,channel,y,x",
        units="one-hot occupation (0 or 1)",
        channel_names=list(snapshots.CHANNELS),
        target_names=target_names,
        crop_radius=float(radius or 0.0),
    )
    targets = np.repeat(np.array([0, 1], dtype=np.int64), n)
    return inputs.astype(np.int8), targets, {}, observables, extra


def _snapshots_check(params: dict[str, Any], where: str) -> None:
    _check_ints(params, where, "lattice_size", "n_samples", "n_tune")
    _check_choice(params, where, "kind", ("afm_vs_random", "pi_flux_vs_strings"))
    _check_choice(params, where, "parent", ("pi_flux", "neel", "shell_ising"))
    _check_choice(
        params, where, "match", ("string_length", "flip_probability", "two_point", "none")
    )
    if (
        params["kind"] == "pi_flux_vs_strings"
        and params["parent"] == "shell_ising"
        and params["match"] != "two_point"
        and not params["shell_couplings"]
    ):
        raise ValueError(
            f"{where}: [parameters] parent = 'shell_ising' needs shell_couplings (one per "
            "neighbour shell) or match = 'two_point' to tune them; got neither."
        )
    if params["match"] == "two_point" and params["parent"] != "shell_ising":
        raise ValueError(
            f"{where}: [parameters] match = 'two_point' tunes the couplings of shell_ising "
            f"parents; got parent = {params['parent']!r}."
        )
    _check_ints(params, where, "n_shells")
    couplings = params["shell_couplings"]
    if not isinstance(couplings, list) or not all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
        for c in couplings
    ):
        raise ValueError(
            f"{where}: [parameters] shell_couplings must be a list of finite numbers; "
            f"got {couplings!r}."
        )
    _check_choice(params, where, "match_holes", (True, False))
    for key in ("n_holes", "n_parents"):
        value = params[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}: [parameters] {key} must be an int >= 0; got {value!r}.")
    _check_real(params, where, "temperature", 1e-9, math.inf)
    _check_real(params, where, "crop_radius", 0.0, math.inf)
    _check_real(params, where, "string_length", 0.0, math.inf)
    _check_real(params, where, "flip_probability", 0.0, 0.5)
    _check_table(params, where, "pi_flux")
    _check_table(params, where, "parents")
    _check_table(params, where, "tune")


def _snapshots_key(params: dict[str, Any]) -> str:
    return f"L{params['lattice_size']}_h{params['n_holes']}_n{params['n_samples']}"


# --------------------------------------------------------------------------------------------
# registry

for _g in (
    Generator(
        name="ising",
        function=_ising,
        version="1",
        description="2D Ising snapshots (physics.ising.sample), grouped by temperature",
        required=("lattice_size", "temperatures", "n_samples"),
        defaults={
            "algorithm": "wolff",
            "coupling": 1.0,
            "target": "phase",
            "temperatures_per_chunk": 5,
            "sampler": {},
        },
        grids=("temperatures",),
        split=_split_grid("temperatures", "temperatures_per_chunk"),
        filename_key=_ising_key,
        check=_ising_check,
    ),
    Generator(
        name="hubbard",
        function=_hubbard,
        version="1",
        description="exact ground states of the extended Fermi-Hubbard chain (physics.hubbard)",
        required=("n_sites", "n_particles", "v1"),
        defaults={
            "transition": 1.0,
            "j": 1.0,
            "h1": 1e-7,
            "periodic": True,
            "values_per_chunk": 100,
        },
        grids=("v1",),
        split=_split_grid("v1", "values_per_chunk"),
        filename_key=_hubbard_key,
        check=_hubbard_check,
    ),
    Generator(
        name="relativity_pairs",
        function=_relativity_pairs,
        version="1",
        description="special-relativity event pairs related by random Lorentz transformations",
        required=("n_pairs",),
        defaults={"negative_fraction": 0.5, "sampler": {}},
        filename_key=_pairs_key,
        check=_pairs_check,
    ),
    Generator(
        name="orbit_pairs",
        function=_orbit_pairs,
        version="1",
        description="pairs of states on orbits in the central potential -k/r",
        required=("n_pairs",),
        defaults={"negative_fraction": 0.5, "sampler": {}},
        filename_key=_pairs_key,
        check=_pairs_check,
    ),
    Generator(
        name="snapshots",
        function=_snapshots,
        version="2",  # 2: shell-Ising parents, shell correlator attrs
        description=(
            "one-hot (up, down, hole) lattice snapshots, two classes: Ising antiferromagnet vs "
            "random, or pi-flux vs geometric strings (physics.snapshots)"
        ),
        required=("kind", "lattice_size", "n_samples"),
        defaults={
            "n_holes": 0,
            "temperature": 2.0,
            "crop_radius": 0.0,
            "pi_flux": {},
            "parent": "pi_flux",
            "n_parents": 0,
            "parents": {"n_between": 12},
            "match": "string_length",
            "match_holes": True,
            "string_length": 1.0,
            "flip_probability": 0.0,
            "n_tune": 2000,
            "n_shells": 5,
            "shell_couplings": [],
            "tune": {},
        },
        filename_key=_snapshots_key,
        check=_snapshots_check,
    ),
    Generator(
        name="sklearn_digits",
        function=tabular.digits,
        version="1",
        description="scikit-learn's 8x8 handwritten digits (1797 samples, 10 classes)",
        defaults={"images": False},
        check=lambda params, where: _check_choice(params, where, "images", (True, False)),
    ),
    Generator(
        name="sklearn_breast_cancer",
        function=tabular.breast_cancer,
        version="1",
        description="scikit-learn's breast-cancer set (569 samples, 30 features, 2 classes)",
    ),
):
    register_generator(_g)
del _g
