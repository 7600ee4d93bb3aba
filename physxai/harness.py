"""The experiment contract: configs and presets, paper claims, the results writer and the table.

An experiment (``experiments/<firstauthor><year>_<topic>.py``) is a module with

- a frozen dataclass ``Config(ExperimentConfig)`` with a default for every knob;
- ``PRESETS = {"quick": Config(...), "full": Config()}``;
- ``CLAIMS``: a dict ``metric name -> Reference`` (the paper's number and our acceptance
  criterion), or a callable ``preset -> dict`` when the criteria differ per preset (a wider
  window for the quick preset); ``PAPER`` is accepted as an alias;
- ``run(cfg, out_dir) -> dict[str, float]``: data, model, analysis, figures; returns metrics.

:func:`run_experiment` resolves the preset and the ``key=value`` overrides, makes
``results/<name>/<preset>-<YYYYmmdd-HHMMSS>/``, writes ``config.json`` and ``env.json``, runs the
experiment with the global RNGs seeded from ``cfg.seed`` (and restored afterwards), writes
``metrics.json`` and ``claims.json``, and prints the paper-versus-ours table::

    claim                      paper     ours      criterion        ok
    T* from <|z|>              2.269     2.281     in [2.10, 2.45]  yes

Every file is written atomically (a temporary file, then ``os.replace``), so an interrupted run
never leaves a file that looks complete. :func:`save_figure` and :func:`save_arrays` are the
helpers experiments use for ``fig_<name>.png``/``.pdf`` and ``arrays.h5``. Experiments are found
by path at run time (:func:`find_experiments`); the library never imports ``experiments/``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib.util
import json
import math
import os
import platform
import random
import socket
import subprocess
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO, Union

import numpy as np
import torch

__all__ = [
    "ClaimResult",
    "ExperimentConfig",
    "Reference",
    "RunResult",
    "add_run_arguments",
    "apply_overrides",
    "check_claims",
    "experiment_dirs",
    "experiment_name",
    "experiment_summary",
    "find_experiments",
    "format_claims",
    "load_experiment",
    "main",
    "prepare_run",
    "run_experiment",
    "save_arrays",
    "save_figure",
]

#: environment variable naming extra experiment directories (``os.pathsep``-separated)
EXPERIMENTS_ENV = "PHYSXAI_EXPERIMENTS"
REFERENCE_KINDS = ("paper", "figure", "exact", "ours")


# ----------------------------------------------------------------------------------------------
# configs and claims


@dataclass(frozen=True)
class ExperimentConfig:
    """Base of every experiment's ``Config``: a frozen dataclass with a default for every knob.

    Subclass it with more fields, each typed and with a default::

        @dataclass(frozen=True)
        class Config(ExperimentConfig):
            lattice_size: int = 32
            temperatures: tuple[float, ...] = (1.5, 2.269, 3.0)

    Attributes
    ----------
    seed : int
        Seeds everything random in the run (the harness seeds the global RNGs with it; the
        experiment derives its generators from it).
    device : str
        Where models and tensors go (``"cpu"``, ``"cuda"``); the experiment moves its own
        objects there.
    """

    seed: int = 0
    device: str = "cpu"


def _fmt(x: float | None) -> str:
    """A compact number: 4 significant digits, at least 2 decimals for non-integers."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    s = f"{x:.4g}"
    if "e" in s or "." not in s:
        return s
    decimals = len(s.split(".")[1])
    return s + "0" * (2 - decimals) if decimals < 2 else s


@dataclass(frozen=True)
class Reference:
    """A published number and our acceptance criterion for the reproduced one.

    Parameters
    ----------
    value : float or None
        The paper's number; None when the paper shows only a figure and the criterion is ours.
    tol : float, optional
        Accept ``|ours - value| <= tol`` (needs ``value``).
    low, high : float, optional
        Accept ``ours >= low`` and/or ``ours <= high`` (both: ``ours in [low, high]``).
    source : str
        Where the number comes from (``"Fig. 3"``, ``"Table 1"``, ``"Eq. (12)"``).
    kind : {"paper", "figure", "exact", "ours"}, optional
        ``"paper"``: a number the paper states; ``"figure"``: read off a figure; ``"exact"``: an
        exact result (Onsager's T_c); ``"ours"``: the paper gives no number and the criterion is
        ours. Default: ``"paper"`` with a value, ``"ours"`` without.

    Every given condition must hold; bounds are inclusive. NaN never passes.

    Raises
    ------
    ValueError
        Without any criterion, with ``tol`` but no ``value``, a negative ``tol``, ``low > high``
        or an unknown ``kind``.

    Examples
    --------
    >>> r = Reference(2.269, low=2.10, high=2.45, source="Fig. 3")
    >>> r.check(2.281), r.criterion
    (True, 'in [2.10, 2.45]')
    >>> Reference(None, low=0.95).criterion
    '>= 0.95'
    """

    value: float | None
    _: KW_ONLY
    tol: float | None = None
    low: float | None = None
    high: float | None = None
    source: str = ""
    kind: str | None = None

    def __post_init__(self) -> None:
        caller = "Reference"
        for name in ("value", "tol", "low", "high"):
            v = getattr(self, name)
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
            ):
                raise ValueError(f"{caller}: {name} must be a finite number or None; got {v!r}.")
        if self.tol is None and self.low is None and self.high is None:
            raise ValueError(
                f"{caller}: give an acceptance criterion: tol= (with a value), low= and/or "
                "high=; got none."
            )
        if self.tol is not None:
            if self.value is None:
                raise ValueError(
                    f"{caller}: tol needs the paper's value to measure |ours - value|; got "
                    "value=None. Use low=/high= for a criterion of our own."
                )
            if self.tol < 0:
                raise ValueError(f"{caller}: tol must be >= 0; got {self.tol!r}.")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(
                f"{caller}: low must be <= high; got low={self.low!r}, high={self.high!r}."
            )
        if not isinstance(self.source, str):
            raise TypeError(f"{caller}: source must be a str; got {type(self.source).__name__}.")
        kind = self.kind
        if kind is None:
            kind = "paper" if self.value is not None else "ours"
        if kind not in REFERENCE_KINDS:
            raise ValueError(
                f"{caller}: kind must be one of {', '.join(map(repr, REFERENCE_KINDS))}; "
                f"got {kind!r}."
            )
        object.__setattr__(self, "kind", kind)

    def check(self, ours: float | None) -> bool:
        """Whether ``ours`` meets every condition (inclusive bounds; None and NaN fail)."""
        if ours is None:
            return False
        try:
            x = float(ours)
        except (TypeError, ValueError):
            return False
        if math.isnan(x):
            return False
        if self.tol is not None and self.value is not None and not abs(x - self.value) <= self.tol:
            return False
        if self.low is not None and not x >= self.low:
            return False
        return self.high is None or x <= self.high

    @property
    def criterion(self) -> str:
        """The criterion as text: ``"in [2.10, 2.45]"``, ``">= 0.95"``, ``"|d| <= 0.05"``."""
        parts = []
        if self.low is not None and self.high is not None:
            parts.append(f"in [{_fmt(self.low)}, {_fmt(self.high)}]")
        elif self.low is not None:
            parts.append(f">= {_fmt(self.low)}")
        elif self.high is not None:
            parts.append(f"<= {_fmt(self.high)}")
        if self.tol is not None:
            parts.append(f"|d| <= {_fmt(self.tol)}")
        return " and ".join(parts)


@dataclass(frozen=True)
class ClaimResult:
    """One row of the table: a claim, our number and whether it meets the criterion.

    ``status`` is ``"pass"``, ``"fail"`` or ``"missing"`` (the experiment returned no metric of
    that name, or one that is not a number).
    """

    name: str
    reference: Reference
    ours: float | None
    ok: bool
    status: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (written to ``claims.json``)."""
        ref = self.reference
        return {
            "claim": self.name,
            "paper": ref.value,
            "ours": self.ours,
            "criterion": ref.criterion,
            "ok": self.ok,
            "status": self.status,
            "source": ref.source,
            "kind": ref.kind,
        }


def check_claims(claims: Mapping[str, Reference], metrics: Mapping[str, Any]) -> list[ClaimResult]:
    """Check every claim against the metric of the same name.

    A claim without a metric of its name (or whose metric is not a number) fails with status
    ``"missing"``.
    """
    results = []
    for name, ref in claims.items():
        value = metrics.get(name)
        number = _as_number(value)
        if number is None:
            results.append(ClaimResult(name, ref, None, False, "missing"))
            continue
        ok = ref.check(number)
        results.append(ClaimResult(name, ref, number, ok, "pass" if ok else "fail"))
    return results


def _as_number(value: Any) -> float | None:
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return float(value)
    return None


def format_claims(results: Sequence[ClaimResult]) -> str:
    """The paper-versus-ours table, one line per claim (paper ``-`` when it gives no number)."""
    header = ("claim", "paper", "ours", "criterion", "ok")
    rows = [
        (
            r.name,
            _fmt(r.reference.value),
            "missing" if r.status == "missing" else _fmt(r.ours),
            r.reference.criterion,
            "yes" if r.ok else "no",
        )
        for r in results
    ]
    minimum = (25, 8, 8, 15, 2)
    widths = [max([minimum[i], len(header[i])] + [len(row[i]) for row in rows]) for i in range(4)]
    lines = []
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# overrides


def apply_overrides(cfg: Any, overrides: Sequence[str] = ()) -> Any:
    """A copy of the dataclass ``cfg`` with ``key=value`` overrides applied.

    Values are converted to the field's annotated type: ``int`` (``20000``, ``20_000``,
    ``1e4``), ``float``, ``bool`` (``true/false``, ``1/0``, ``yes/no``, ``on/off``), ``str``,
    tuples and lists (``1,2,3``, brackets optional; ``()`` is empty), ``Optional[X]`` (``none``
    gives None), ``Literal[...]`` and ``Path``.

    Parameters
    ----------
    cfg : dataclass instance
        The preset, e.g. ``PRESETS["quick"]``.
    overrides : sequence of str
        ``"key=value"`` strings; a later one wins over an earlier one for the same key.

    Returns
    -------
    dataclass instance
        ``dataclasses.replace(cfg, **converted)``; ``cfg`` is unchanged.

    Raises
    ------
    ValueError
        For an override without ``=``, an unknown key (the message lists the valid keys), or a
        value that does not parse as the field's type.
    TypeError
        If ``cfg`` is not a dataclass instance.

    Examples
    --------
    >>> cfg = apply_overrides(ExperimentConfig(), ["seed=3", "device=cuda"])
    >>> cfg.seed, cfg.device
    (3, 'cuda')
    """
    caller = "apply_overrides"
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"{caller}: cfg must be a dataclass instance; got {type(cfg).__name__}.")
    if isinstance(overrides, str):
        overrides = [overrides]
    fields = {f.name: f for f in dataclasses.fields(cfg) if f.init}
    try:
        hints = typing.get_type_hints(type(cfg))
    except (NameError, TypeError, AttributeError):  # unresolvable: use the values. types
        hints = {}
    changes: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(
                f"{caller}: an override must be a 'key=value' string; got {item!r}. "
                "Example: --set lattice_size=16."
            )
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise ValueError(
                f"{caller}: unknown config key {key!r} for {type(cfg).__name__}; valid keys: "
                f"{', '.join(sorted(fields))}."
            )
        tp = hints.get(key, fields[key].type)
        if isinstance(tp, str):  # an annotation that could not be resolved
            tp = type(getattr(cfg, key))
        changes[key] = _convert(text.strip(), tp, key, caller)
    return dataclasses.replace(cfg, **changes) if changes else cfg


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(text: str, tp: Any, key: str, caller: str) -> Any:
    """Parse ``text`` as the annotation ``tp``."""

    def fail(extra: str = "") -> ValueError:
        return ValueError(f"{caller}: {key} must be {_type_name(tp)}; got {text!r}.{extra}")

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return text
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        if type(None) in args and text.lower() in ("none", "null"):
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(text, option, key, caller)
            except ValueError:
                continue
        raise fail(" Use 'none' for no value." if type(None) in args else "")
    if origin is Literal:
        for option in args:
            if str(option) == text or (isinstance(option, str) and option.lower() == text.lower()):
                return option
        raise ValueError(
            f"{caller}: {key} must be one of {', '.join(map(repr, args))}; got {text!r}."
        )
    if tp is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise fail(" Use true or false.")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise fail() from None
            if number.is_integer():
                return int(number)
            raise fail() from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise fail() from None
    if tp is str:
        return text
    if tp is Path:
        return Path(text)
    if origin in (tuple, list) or tp in (tuple, list):
        container = origin or tp
        inner = text.strip()
        if inner[:1] in "([" and inner[-1:] in ")]":
            inner = inner[1:-1]
        items = [s.strip() for s in inner.split(",")] if inner.strip() else []
        if items and items[-1] == "":  # a trailing comma: "3,"
            items = items[:-1]
        if args and len(args) == 2 and args[1] is Ellipsis:
            kinds = [args[0]] * len(items)
        elif args and container is tuple:
            if len(args) != len(items):
                raise fail(f" Expected {len(args)} comma-separated values.")
            kinds = list(args)
        elif args:  # list[X]
            kinds = [args[0]] * len(items)
        else:
            kinds = [None] * len(items)
        values = [
            _convert(s, k, key, caller) if k is not None else _guess(s)
            for s, k in zip(items, kinds)
        ]
        return container(values)
    raise ValueError(
        f"{caller}: {key} has type {_type_name(tp)}, which --set cannot parse; supported: int, "
        "float, bool, str, Path, tuples and lists of these, Optional and Literal."
    )


def _guess(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# ----------------------------------------------------------------------------------------------
# finding and loading experiments


def experiment_dirs() -> list[Path]:
    """Where experiments are searched, in order: ``$PHYSXAI_EXPERIMENTS`` (``os.pathsep``-
    separated), ``./experiments`` and the ``experiments/`` beside the installed package."""
    dirs: list[Path] = []
    env = os.environ.get(EXPERIMENTS_ENV, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(Path.cwd() / "experiments")
    dirs.append(Path(__file__).resolve().parents[1] / "experiments")
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def find_experiments() -> dict[str, Path]:
    """Experiment name -> file, from :func:`experiment_dirs` (the first directory wins a name).

    Files whose names start with ``_`` (helpers, ``__init__.py``) are not experiments.
    """
    found: dict[str, Path] = {}
    for d in experiment_dirs():
        for path in sorted(d.glob("*.py")):
            if not path.name.startswith("_") and path.stem not in found:
                found[path.stem] = path
    return dict(sorted(found.items()))


def experiment_summary(path: str | Path) -> str:
    """The first line of an experiment file's docstring (read with ``ast``, without importing)."""
    try:
        doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError):
        return "(unreadable)"
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else "(no docstring)"


def load_experiment(experiment: str | Path) -> types.ModuleType:
    """Import an experiment by name (see :func:`find_experiments`) or from a ``.py`` path.

    The module is executed fresh and registered in ``sys.modules`` as
    ``_physxai_experiment_<name>`` (dataclasses and ``typing.get_type_hints`` need that).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known experiments and where they were
        searched.
    """
    path = Path(experiment)
    if not (path.suffix == ".py" and path.is_file()):
        name = str(experiment)
        known = find_experiments()
        if name not in known:
            where = ", ".join(str(d) for d in experiment_dirs()) or "no experiments/ directory"
            listing = ", ".join(known) if known else "none"
            raise ValueError(
                f"unknown experiment {name!r}; known experiments: {listing} (searched: {where}; "
                f"set ${EXPERIMENTS_ENV} to add a directory)."
            )
        path = known[name]
    module_name = f"_physxai_experiment_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load an experiment from {str(path)!r}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def experiment_name(module: types.ModuleType) -> str:
    """``module.NAME`` if set, else the file's stem (also for a module run as ``__main__``)."""
    name = getattr(module, "NAME", None)
    if isinstance(name, str) and name:
        return name
    file = getattr(module, "__file__", None)
    if file:
        return Path(file).stem
    return module.__name__.rsplit(".", 1)[-1]


# ----------------------------------------------------------------------------------------------
# running


@dataclass
class RunResult:
    """What :func:`run_experiment` did.

    Attributes
    ----------
    name, preset : str
        The experiment and preset.
    out_dir : Path
        The directory holding ``config.json``, ``env.json``, ``metrics.json``, ``claims.json``,
        and the experiment's ``arrays.h5`` and ``fig_*`` files.
    config : dataclass instance
        The config that ran (preset plus overrides).
    metrics : dict
        What ``run`` returned.
    claims : list of ClaimResult
        One per claim of the preset.
    check : bool
        Whether the run was asked to check its claims (``--check``).
    """

    name: str
    preset: str
    out_dir: Path
    config: Any
    metrics: dict[str, Any]
    claims: list[ClaimResult] = field(default_factory=list)
    check: bool = False

    @property
    def passed(self) -> bool:
        """True when every claim passed (also when there are none)."""
        return all(c.ok for c in self.claims)

    @property
    def exit_code(self) -> int:
        """1 when ``check`` was asked for and a claim failed, else 0."""
        return 1 if self.check and not self.passed else 0

    @property
    def table(self) -> str:
        """The claims table as printed."""
        return format_claims(self.claims)


@dataclass(frozen=True)
class PreparedRun:
    """A resolved run: the module, its name, the config and the claims of the preset."""

    module: types.ModuleType
    name: str
    preset: str
    config: Any
    claims: dict[str, Reference]


def _module_claims(module: types.ModuleType, preset: str, name: str) -> dict[str, Reference]:
    claims = getattr(module, "CLAIMS", getattr(module, "PAPER", {}))
    if callable(claims):
        claims = claims(preset)
    if not isinstance(claims, Mapping):
        raise TypeError(
            f"experiment {name}: CLAIMS must be a dict name -> Reference or a callable "
            f"preset -> dict; got {type(claims).__name__}."
        )
    for key, ref in claims.items():
        if not isinstance(key, str) or not isinstance(ref, Reference):
            raise TypeError(
                f"experiment {name}: CLAIMS must map metric names (str) to Reference objects; "
                f"got {key!r} -> {type(ref).__name__}."
            )
    return dict(claims)


def prepare_run(
    experiment: str | Path | types.ModuleType,
    preset: str = "quick",
    overrides: Sequence[str] = (),
) -> PreparedRun:
    """Load the experiment and resolve its config and claims, without running anything.

    Raises
    ------
    ValueError
        For an unknown experiment, an unknown preset (the message lists the presets), or a bad
        override.
    TypeError
        For a module that lacks ``run`` or ``PRESETS`` or whose presets or claims are malformed.
    """
    module = experiment if isinstance(experiment, types.ModuleType) else load_experiment(experiment)
    name = experiment_name(module)
    if not callable(getattr(module, "run", None)):
        raise TypeError(f"experiment {name}: the module must define run(cfg, out_dir) -> dict.")
    presets = getattr(module, "PRESETS", None)
    if not isinstance(presets, Mapping) or not presets:
        raise TypeError(
            f"experiment {name}: the module must define PRESETS, a dict such as "
            "{'quick': Config(...), 'full': Config()}."
        )
    if preset not in presets:
        raise ValueError(
            f"experiment {name}: preset must be one of {', '.join(map(repr, presets))}; "
            f"got {preset!r}."
        )
    cfg = presets[preset]
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(
            f"experiment {name}: PRESETS[{preset!r}] must be a Config instance (a dataclass); "
            f"got {type(cfg).__name__}."
        )
    cfg = apply_overrides(cfg, list(overrides))
    return PreparedRun(module, name, preset, cfg, _module_claims(module, preset, name))


def run_experiment(
    experiment: str | Path | types.ModuleType,
    preset: str = "quick",
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    check: bool = False,
    *,
    stream: TextIO | None = None,
    threads: int | None = None,
) -> RunResult:
    """Run one experiment with a preset and overrides; write its results; print the claims table.

    Parameters
    ----------
    experiment : str, Path or module
        An experiment name (searched by :func:`find_experiments`), a path to its ``.py`` file,
        or the module itself.
    preset : str, default "quick"
        A key of the module's ``PRESETS``.
    overrides : sequence of str
        ``"key=value"`` strings applied with :func:`apply_overrides`.
    out : str or Path, optional
        The results directory; default ``results/<name>/<preset>-<YYYYmmdd-HHMMSS>/`` under the
        current directory.
    check : bool, default False
        Record that the claims are checked: :attr:`RunResult.exit_code` is then 1 when a
        claim fails (``--check`` exits with it).
    stream : text stream, optional
        Where the table is printed; default ``sys.stdout``.
    threads : int, optional
        Intra-op threads torch may use during the run (``torch.set_num_threads``), restored
        afterwards; default torch's own setting. On a shared machine, 1 avoids the
        oversubscription that makes small models many times slower; ``env.json`` records it.

    Returns
    -------
    RunResult

    Raises
    ------
    ValueError, TypeError
        As :func:`prepare_run`, or when ``run`` returns something other than a dict of numbers
        (JSON-serialisable values) keyed by str. Exceptions raised by the experiment propagate;
        ``config.json`` and ``env.json`` are already written then.
    """
    plan = prepare_run(experiment, preset, overrides)
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"run_experiment: threads must be a positive int or None; got {threads!r}.")
    stream = sys.stdout if stream is None else stream
    out_dir = _make_out_dir(plan.name, preset, out)
    cfg = plan.config
    seed = getattr(cfg, "seed", 0)
    _write_json(
        out_dir / "config.json",
        {
            "experiment": plan.name,
            "preset": preset,
            "overrides": list(overrides),
            "config": _config_dict(cfg),
        },
    )
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        env = _environment(plan.module, cfg)
        _write_json(out_dir / "env.json", env)
        start = time.perf_counter()
        with _seeded(seed):
            metrics = plan.module.run(cfg, out_dir)
    finally:
        torch.set_num_threads(previous_threads)
    env["wall_seconds"] = round(time.perf_counter() - start, 3)
    _write_json(out_dir / "env.json", env)

    metrics = _clean_metrics(metrics, plan.name)
    _write_json(out_dir / "metrics.json", metrics)
    results = check_claims(plan.claims, metrics)
    _write_json(out_dir / "claims.json", [r.as_dict() for r in results])

    result = RunResult(plan.name, preset, out_dir, cfg, metrics, results, bool(check))
    print(f"{plan.name} ({preset}): results in {out_dir}", file=stream)
    if results:
        print(result.table, file=stream)
        n_failed = sum(not r.ok for r in results)
        verdict = "all claims pass" if not n_failed else f"{n_failed} of {len(results)} claims fail"
        print(verdict, file=stream)
    else:
        print("(no claims for this preset)", file=stream)
    return result


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a run (``--preset``, ``--set``, ``--out``, ``--check``), shared by
    ``physxai run`` and an experiment's own ``main``."""
    parser.add_argument(
        "--preset", default="quick", help="a key of the experiment's PRESETS (default: quick)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="override config fields, e.g. --set lattice_size=16 epochs=3",
    )
    parser.add_argument(
        "--out", default=None, help="results directory (default: results/NAME/PRESET-TIMESTAMP)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a claim of the preset fails"
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="torch intra-op threads during the run (default: torch's own; 1 on a shared machine)",
    )


def main(argv: Sequence[str] | None = None, *, module: types.ModuleType | None = None) -> int:
    """Command line of one experiment, for its ``if __name__ == "__main__":`` block::

        if __name__ == "__main__":
            raise SystemExit(harness.main())

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default ``sys.argv[1:]``): ``--preset``, ``--set``, ``--out``, ``--check``.
    module : module, optional
        The experiment module; default the ``__main__`` module.

    Returns
    -------
    int
        0, or 1 when ``--check`` finds a failed claim, or 2 for a bad preset or override.
    """
    module = sys.modules["__main__"] if module is None else module
    parser = argparse.ArgumentParser(
        prog=experiment_name(module), description=(module.__doc__ or "").strip().split("\n")[0]
    )
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        plan = prepare_run(module, args.preset, args.overrides)
    except (ValueError, TypeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result = run_experiment(
        plan.module, args.preset, args.overrides, args.out, args.check, threads=args.threads
    )
    return result.exit_code


# ----------------------------------------------------------------------------------------------
# writing results


def _make_out_dir(name: str, preset: str, out: str | Path | None) -> Path:
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = Path("results") / name / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:  # two runs in one second
            k += 1
            path = base.with_name(f"{base.name}-{k}")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.generic,)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, (Path, torch.device, torch.dtype)):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically: a temporary file in the same directory, then ``os.replace``."""
    text = json.dumps(obj, indent=2, default=_jsonable)
    _atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` to a temporary beside ``path``, then move it there (the data layer's
    :func:`physxai.data._io.atomic_path`: fsync, rename, a name its stale-file sweep knows)."""
    from .data._io import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def _config_dict(cfg: Any) -> dict[str, Any]:
    return {"class": type(cfg).__name__, **dataclasses.asdict(cfg)}


def _clean_metrics(metrics: Any, name: str) -> dict[str, Any]:
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"experiment {name}: run(cfg, out_dir) must return a dict of metrics; got "
            f"{type(metrics).__name__}."
        )
    clean: dict[str, Any] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"experiment {name}: metric names must be str; got {key!r}.")
        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.detach().cpu().tolist()
        elif isinstance(value, (np.generic, np.ndarray)):
            value = value.tolist()
        try:
            json.dumps(value, default=_jsonable)
        except TypeError:
            raise TypeError(
                f"experiment {name}: metric {key!r} must be a number (or JSON-serialisable); "
                f"got {type(value).__name__}."
            ) from None
        clean[key] = value
    return clean


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _environment(module: types.ModuleType, cfg: Any) -> dict[str, Any]:
    from . import __version__

    where = Path(getattr(module, "__file__", None) or Path.cwd()).resolve()
    where = where.parent if where.is_file() else where
    commit = _git(["rev-parse", "HEAD"], where)
    dirty = None
    if commit is not None:
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = bool(status) if status is not None else None
    device = str(getattr(cfg, "device", "cpu"))
    env: dict[str, Any] = {
        "physxai": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "git_commit": commit,
        "git_dirty": dirty,
        "device": device,
        "seed": getattr(cfg, "seed", None),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": list(sys.argv),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        env["cuda_device"] = torch.cuda.get_device_name(torch.device(device))
        env["cuda"] = torch.version.cuda
    return env


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's, NumPy's and torch's global RNGs; restore the CPU states afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # also seeds CUDA, whose state is not restored
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def save_figure(
    fig: Any,
    out_dir: str | Path,
    name: str,
    *,
    formats: Sequence[str] = ("png", "pdf"),
    dpi: int = 150,
) -> list[Path]:
    """Write ``fig_<name>.png`` and ``fig_<name>.pdf`` into ``out_dir``, each atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (build it with ``Figure()`` rather than pyplot, so no global state is kept).
    out_dir : str or Path
        The run's results directory.
    name : str
        A short name without path separators, e.g. ``"heatmaps"``.
    formats : sequence of str, default ("png", "pdf")
        File formats matplotlib can write.
    dpi : int, default 150
        Resolution of raster formats.

    Returns
    -------
    list of Path
        The files written.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(
            f"save_figure: name must be a file-name stem like 'heatmaps'; got {name!r}."
        )
    if not hasattr(fig, "savefig"):
        raise TypeError(f"save_figure: fig must be a matplotlib Figure; got {type(fig).__name__}.")
    stem = name if name.startswith("fig_") else f"fig_{name}"
    paths = []
    for ext in formats:
        path = Path(out_dir) / f"{stem}.{ext}"
        _atomic_write(
            path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight")
        )
        paths.append(path)
    return paths


def save_arrays(
    out_dir: str | Path,
    arrays: Mapping[str, Any],
    attrs: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    source_dataset: str = "",
    filename: str = "arrays.h5",
) -> Path:
    """Write arrays into ``out_dir/arrays.h5`` with ``units``, ``dims`` and ``source_dataset``.

    Parameters
    ----------
    out_dir : str or Path
        The run's results directory.
    arrays : mapping str -> array-like
        Name -> array (numpy, tensor or nested lists). A name with ``/`` makes groups
        (``"attributions/lrp"``).
    attrs : mapping str -> mapping, optional
        Per array: ``{"units": "1", "dims": "sample,y,x", ...}``. ``dims`` must name every
        axis (comma-separated); other keys are stored too (non-scalars as JSON).
    source_dataset : str
        The dataset card or file the arrays came from; stored on every array unless its attrs
        give one.
    filename : str, default "arrays.h5"

    Returns
    -------
    Path
        The file. Arrays already in it under other names are kept; the file is rewritten
        atomically.

    Raises
    ------
    ValueError
        For attrs naming an array not in ``arrays`` or ``dims`` that do not match an array's
        number of axes.
    """
    import h5py

    attrs = dict(attrs or {})
    unknown = sorted(set(attrs) - set(arrays))
    if unknown:
        raise ValueError(
            f"save_arrays: attrs name arrays that are not given: {', '.join(unknown)}; arrays: "
            f"{', '.join(sorted(arrays))}."
        )
    data: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        meta = dict(attrs.get(key, {}))
        dims = meta.get("dims")
        if dims is not None and len(str(dims).split(",")) != arr.ndim:
            raise ValueError(
                f"save_arrays: dims of {key!r} must name its {arr.ndim} axes; got dims "
                f"{dims!r} for shape {arr.shape}."
            )
        data[key] = arr
    path = Path(out_dir) / filename

    def write(tmp: Path) -> None:
        from . import __version__

        with h5py.File(tmp, "w") as dst:
            if path.exists():
                with h5py.File(path, "r") as src:
                    for key in src:
                        src.copy(src[key], dst, name=key)
                    for k, v in src.attrs.items():
                        dst.attrs[k] = v
            dst.attrs["physxai_version"] = __version__
            dst.attrs["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            for key, arr in data.items():
                if key in dst:
                    del dst[key]
                dset = dst.create_dataset(key, data=arr)
                meta = dict(attrs.get(key, {}))
                meta.setdefault("units", "")
                meta.setdefault("dims", "")
                meta.setdefault("source_dataset", source_dataset)
                for k, v in meta.items():
                    scalar = isinstance(v, (str, int, float, bool, np.number))
                    dset.attrs[k] = v if scalar else json.dumps(v, default=_jsonable)

    _atomic_write(path, write)
    return path
