"""Dataset cards: named, versioned recipes for data sets, built once into a cache.

A card is a TOML file ``datasets/<name>.toml``::

    name = "wetzel2017_quick"
    description = "2D Ising, L=16, 40 temperatures in [0.05, 5] x 100 samples (Wolff)"
    generator = "ising"          # a key of physxai.data.GENERATORS
    seed = 0

    [parameters]                 # checked against the generator's parameters
    lattice_size = 16
    temperatures = { linspace = [0.05, 5.0, 40] }
    n_samples = 100

:func:`build` runs the generator and writes the result atomically to the cache
(``$PHYSXAI_DATA``, else ``cache/`` beside the card) under a name that encodes the key
parameters, the seed and a short hash of the card's content (``wetzel2017_quick_L16_T0.05-5x40_
n100_s0_1a2b3c4d.h5``): editing the card or bumping the generator's version changes the name, so a
stale file is never served. Generators that split into chunks (temperatures, values of V1) save
each finished chunk to a hidden ``.<file>.parts/`` directory, so a killed build resumes where it
stopped; the final file appears only once complete. :func:`load` builds on first use and reads.

Cards are found in ``$PHYSXAI_CARDS`` (``os.pathsep``-separated directories), ``./datasets`` and
the repository's ``datasets/``; the first directory that has a name wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, published as tomli
    import tomli as tomllib

from .._validation import progress_bar
from ._generators import GENERATORS, Generator, expand, resolve_parameters
from ._io import atomic_path, read, stale_temp_files, write
from .schema import Dataset

__all__ = [
    "CARDS_ENV",
    "DATA_ENV",
    "Card",
    "build",
    "cache_path",
    "card_dirs",
    "find_cards",
    "get_card",
    "is_cached",
    "load",
    "read_card",
]

CARDS_ENV = "PHYSXAI_CARDS"
DATA_ENV = "PHYSXAI_DATA"
_FIELDS = ("name", "description", "generator", "seed", "parameters")


@dataclass(frozen=True)
class Card:
    """A parsed, checked dataset card.

    Attributes
    ----------
    name : str
        The data set's name; equals the card file's stem.
    description : str
        What the set is, one line.
    generator : str
        A key of :data:`physxai.data.GENERATORS`.
    seed : int
        Seed of the generator (chunks derive their own seeds from it).
    parameters : dict
        The ``[parameters]`` table with the generator's defaults filled in (grids unexpanded).
    path : pathlib.Path
        The card file.
    """

    name: str
    description: str
    generator: str
    seed: int
    parameters: dict[str, Any]
    path: Path

    @property
    def spec(self) -> Generator:
        """The registry entry of the card's generator."""
        return GENERATORS[self.generator]

    @property
    def digest(self) -> str:
        """Eight hex digits of SHA-256 over generator, its version, seed and parameters."""
        content = {
            "generator": self.generator,
            "version": self.spec.version,
            "seed": self.seed,
            "parameters": self.parameters,
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]

    @property
    def filename(self) -> str:
        """Cache file name: ``<name>_<key parameters>_s<seed>_<digest>.h5``."""
        key = self.spec.filename_key(self.parameters) if self.spec.filename_key else ""
        parts = [self.name] + ([key] if key else []) + [f"s{self.seed}", self.digest]
        return "_".join(parts) + ".h5"

    def expanded_parameters(self) -> dict[str, Any]:
        """The parameters with every grid expanded to its list of values."""
        return expand(self.spec, self.parameters)


def read_card(path: str | os.PathLike) -> Card:
    """Parse and check one card file.

    Parameters
    ----------
    path : str or path-like
        A ``.toml`` card.

    Returns
    -------
    Card

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        Naming the card file and the field: invalid TOML, a missing or unknown field, a field of
        the wrong type, a name that differs from the file's stem, an unknown generator, or a
        parameter the generator does not know, lacks or rejects.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"physxai.data.read_card: no such card: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML ({err}).") from None
    for key in _FIELDS:
        if key not in raw:
            raise ValueError(
                f"{path}: field {key!r} is missing; a card needs {', '.join(_FIELDS)} "
                "(see datasets/README.md)."
            )
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ValueError(
            f"{path}: field {unknown[0]!r} is not a card field; the fields are "
            f"{', '.join(_FIELDS)}."
        )
    for key, kind, what in (
        ("name", str, "a string"),
        ("description", str, "a string"),
        ("generator", str, "a string"),
        ("parameters", dict, "a table"),
    ):
        if not isinstance(raw[key], kind):  # a card's content: ValueError, as every card error
            message = f"{path}: field {key!r} must be {what}; got {raw[key]!r}."
            raise ValueError(message)  # noqa: TRY004
    seed = raw["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{path}: field 'seed' must be an int >= 0; got {seed!r}.")
    if raw["name"] != path.stem:
        raise ValueError(
            f"{path}: field 'name' must equal the file's stem {path.stem!r}; got {raw['name']!r}."
        )
    if raw["generator"] not in GENERATORS:
        raise ValueError(
            f"{path}: field 'generator' names an unknown generator {raw['generator']!r}; known: "
            f"{', '.join(sorted(GENERATORS))}."
        )
    params = resolve_parameters(GENERATORS[raw["generator"]], raw["parameters"], str(path))
    return Card(raw["name"], raw["description"], raw["generator"], seed, params, path)


def card_dirs() -> list[Path]:
    """Directories searched for cards, in order: ``$PHYSXAI_CARDS``, ``./datasets``, the
    repository's ``datasets/``."""
    dirs = [Path(p) for p in os.environ.get(CARDS_ENV, "").split(os.pathsep) if p]
    dirs.append(Path.cwd() / "datasets")
    dirs.append(Path(__file__).resolve().parents[2] / "datasets")
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def find_cards() -> dict[str, Path]:
    """Card name -> card file over :func:`card_dirs`; the first directory wins a name."""
    found: dict[str, Path] = {}
    for d in card_dirs():
        for path in sorted(d.glob("*.toml")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def get_card(name: str | os.PathLike | Card) -> Card:
    """The card named ``name``, or the card file at ``name`` (a path ending in ``.toml``).

    Parameters
    ----------
    name : str, path-like or Card

    Returns
    -------
    Card

    Raises
    ------
    ValueError
        If no card has that name (the message lists the known cards), or the card is invalid.
    """
    if isinstance(name, Card):
        return name
    if str(name).endswith(".toml"):
        return read_card(name)
    found = find_cards()
    if name not in found:
        where = ", ".join(str(d) for d in card_dirs()) or "no datasets/ directory"
        raise ValueError(
            f"physxai.data: no dataset card named {str(name)!r}; known: "
            f"{', '.join(found) or 'none'} (searched {where}; set ${CARDS_ENV} to add a "
            "directory)."
        )
    return read_card(found[str(name)])


def cache_path(card: str | os.PathLike | Card) -> Path:
    """Where the card's data set is (or will be) cached.

    ``$PHYSXAI_DATA/<filename>`` if the variable is set, else ``cache/<filename>`` in the
    card's directory.
    """
    card = get_card(card)
    env = os.environ.get(DATA_ENV)
    directory = Path(env) if env else card.path.parent / "cache"
    return directory / card.filename


def is_cached(card: str | os.PathLike | Card) -> bool:
    """Whether the card's data set has been built (a complete cache file exists)."""
    return cache_path(card).is_file()


def _chunk_seed(seed: int, index: int) -> int:
    """An independent seed for chunk ``index`` of a build seeded with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


_PREFIX = {"params": "params:", "observables": "observables:"}


def _save_part(path: Path, out: tuple) -> None:
    inputs, targets, params, observables, extra = out
    arrays = {"inputs": np.asarray(inputs), "targets": np.asarray(targets)}
    arrays.update({_PREFIX["params"] + k: np.asarray(v) for k, v in params.items()})
    arrays.update({_PREFIX["observables"] + k: np.asarray(v) for k, v in observables.items()})
    arrays["extra"] = np.array(json.dumps(extra, default=_jsonable))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"extra attribute of type {type(value).__name__} is not JSON serialisable")


def _load_part(path: Path) -> tuple | None:
    """A saved chunk, or ``None`` if it is missing or unreadable (then it is generated again)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        params = {k[len("params:") :]: v for k, v in data.items() if k.startswith("params:")}
        observables = {
            k[len("observables:") :]: v for k, v in data.items() if k.startswith("observables:")
        }
        extra = json.loads(str(data["extra"]))
        return data["inputs"], data["targets"], params, observables, extra
    except Exception:  # noqa: BLE001 - a damaged part is regenerated, whatever the damage
        path.unlink(missing_ok=True)
        return None


def _join(parts: list[tuple], card: Card) -> tuple:
    """Concatenate chunk outputs along the sample axis; the keys must agree across chunks."""
    first = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        for j, group in ((2, "params"), (3, "observables")):
            if set(part[j]) != set(first[j]):
                raise RuntimeError(
                    f"generator {card.generator!r}: chunk {i} returned {group} "
                    f"{sorted(part[j])}, chunk 0 returned {sorted(first[j])}"
                )
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        {k: np.concatenate([p[2][k] for p in parts]) for k in first[2]},
        {k: np.concatenate([p[3][k] for p in parts]) for k in first[3]},
        dict(first[4]),
    )


def build(
    name: str | os.PathLike | Card,
    *,
    force: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Build a card's data set into the cache, resuming an interrupted build.

    Processes that build the same card at once take turns (a file lock, on POSIX systems): the
    later ones wait and then read the file the first one wrote.

    Parameters
    ----------
    name : str, path-like or Card
        A card name (``"wetzel2017_quick"``), a card file, or a :class:`Card`.
    force : bool, default False
        Rebuild from scratch even if the file or saved chunks exist; the old file stays
        readable until the new one replaces it.
    progress : bool or None, default None
        Show a progress bar over chunks; ``None``: only when stderr is a terminal.
    log : callable, optional
        Called with one-line status messages (what is built, how many chunks resume, where
        the file went).

    Returns
    -------
    pathlib.Path
        The cache file.

    Raises
    ------
    ValueError
        If the card is unknown or invalid.
    Exception
        Whatever the generator raises; chunks finished before it are kept for the next build.
    """
    card = get_card(name)
    target = cache_path(card)
    say = log or (lambda message: None)
    for tmp in stale_temp_files(target):  # left by a writer that was killed mid-write
        tmp.unlink(missing_ok=True)
    if target.is_file() and not force:
        say(f"{card.name}: already built: {target}")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(target, say) as waited:
        if waited and target.is_file():  # another process built it while this one waited
            say(f"{card.name}: built by another process: {target}")
            return target
        return _build_locked(card, target, force, progress, say)


@contextlib.contextmanager
def _build_lock(target: Path, say: Callable[[str], Any]) -> Iterator[bool]:
    """Hold an exclusive lock on ``target``'s build across processes; yield whether it waited.

    Two processes that build one card at once (two experiments sharing a card) would otherwise
    write the same chunk files and remove each other's parts directory. The lock is an advisory
    ``flock`` on a hidden file beside the target (POSIX; elsewhere no lock), removed after a
    successful build.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield False
        return
    lock_path = target.with_name(f".{target.name}.lock")
    with open(lock_path, "a+b") as fh:
        waited, locked = False, True
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{target.name}: another process is building it; waiting")
            fcntl.flock(fh, fcntl.LOCK_EX)
            waited = True
        except OSError:  # a file system without locks (some network mounts): build unlocked
            locked = False
        try:
            yield waited
            if target.is_file():
                lock_path.unlink(missing_ok=True)
        finally:
            if locked:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _build_locked(
    card: Card, target: Path, force: bool, progress: bool | None, say: Callable[[str], Any]
) -> Path:
    """The build itself, under :func:`_build_lock`."""
    parts_dir = target.with_name(f".{target.stem}.parts")
    if force and parts_dir.exists():
        shutil.rmtree(parts_dir)
    spec = card.spec
    params = card.expanded_parameters()
    chunks = spec.split(params) if spec.split else [params]
    parts_dir.mkdir(exist_ok=True)
    part_paths = [parts_dir / f"chunk_{i:05d}.npz" for i in range(len(chunks))]
    done = sum(p.is_file() for p in part_paths)
    resume = f", resuming with {done} done" if done else ""
    say(f"{card.name}: generator {card.generator}, {len(chunks)} chunk(s){resume} -> {target}")
    bar = (
        progress_bar(len(chunks), enabled=progress, desc=card.name, unit="chunk")
        if len(chunks) > 1
        else None
    )
    outputs = []
    try:
        for i, (chunk, part_path) in enumerate(zip(chunks, part_paths)):
            out = _load_part(part_path)
            if out is None:
                seed = card.seed if len(chunks) == 1 else _chunk_seed(card.seed, i)
                out = spec.function(chunk, seed)
                # extras as they come back from a saved chunk, so resumed and fresh builds agree
                out = (*out[:4], json.loads(json.dumps(out[4], default=_jsonable)))
                _save_part(part_path, out)
            outputs.append(out)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    inputs, targets, params_, observables, extra = _join(outputs, card)
    dims = extra.pop("dims", None)
    units = extra.pop("units", "dimensionless")
    attrs = {
        **extra,
        "name": card.name,
        "description": card.description,
        "generator": card.generator,
        "generator_version": spec.version,
        "seed": card.seed,
        "parameters": card.parameters,
        "card_digest": card.digest,
        "card": card.path.read_text(encoding="utf-8"),
    }
    write(
        target,
        inputs=inputs,
        targets=targets,
        params=params_,
        observables=observables,
        attrs=attrs,
        dims=dims,
        units=units,
    )
    shutil.rmtree(parts_dir, ignore_errors=True)
    say(f"{card.name}: built {len(inputs)} samples, {target.stat().st_size / 1e6:.2f} MB: {target}")
    return target


def load(
    name: str | os.PathLike | Card, *, force: bool = False, progress: bool | None = None
) -> Dataset:
    """A named data set, built from its card on first use and read from the cache after.

    Parameters
    ----------
    name : str, path-like or Card
        A card name (``"wetzel2017_quick"``, ``"digits"``), a card file (``.toml``), or a
        physxai HDF5 file (``.h5``/``.hdf5``), which is read directly.
    force : bool, default False
        Rebuild the cache file first.
    progress : bool or None, default None
        Progress bar while building; ``None``: only on a terminal.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If no card has that name or the card is invalid.
    InvalidDataError
        If the cached file is corrupt (rebuild it with ``force=True``).

    Examples
    --------
    >>> from physxai.data import load
    >>> d = load("breast_cancer")  # doctest: +SKIP
    >>> d.inputs.shape, d.attrs["feature_names"][0]  # doctest: +SKIP
    ((569, 30), 'mean radius')
    """
    if str(name).endswith((".h5", ".hdf5")) and Path(name).is_file():
        return read(name)
    card = get_card(name)
    path = cache_path(card)
    if force or not path.is_file():
        build(card, force=force, progress=progress)
    return read(path)
