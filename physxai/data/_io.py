"""Reading and writing physxai HDF5 files, atomically.

A write goes to a temporary file in the target's directory (``.NAME.PID.XXXX.tmp``), sets the
root attribute ``complete = True`` last, is flushed and fsync'ed, and is then moved over the
target with :func:`os.replace` (atomic on POSIX and Windows within one file system); the directory
is fsync'ed too. A write interrupted at any point therefore leaves the old file (or none) and at
most a hidden temporary file, never a file under the target's name that looks complete. A read
checks the schema (:func:`physxai.data.schema.validate`) and turns h5py's ``OSError`` on a
truncated or corrupt file into :class:`~physxai.errors.InvalidDataError` naming the file.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InvalidDataError
from . import schema
from .schema import Dataset, decode_attrs

__all__ = ["PHYSXAI_VERSION", "atomic_path", "describe", "read", "write", "write_attribution"]


def _physxai_version() -> str:
    try:
        return metadata.version("physxai")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


PHYSXAI_VERSION = _physxai_version()
_TMP_SUFFIX = ".tmp"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def temp_name(path: Path) -> Path:
    """A fresh hidden temporary name beside ``path``: ``.NAME.PID.RANDOM.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{_TMP_SUFFIX}")


def stale_temp_files(path: Path) -> list[Path]:
    """Temporary files of ``path`` left by writers that no longer run (killed mid-write)."""
    stale = []
    for tmp in path.parent.glob(f".{path.name}.*{_TMP_SUFFIX}"):
        pid = tmp.name[len(path.name) + 2 :].split(".")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:  # pragma: no cover - someone else's live process
            alive = True
        if not alive:
            stale.append(tmp)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and move it onto ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is
    untouched. The caller writes the whole file to the yielded path and closes it.
    """
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _as_array(caller: str, name: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        raise TypeError(
            f"{caller}: {name} must be a numpy array; got a torch.Tensor. "
            "Pass tensor.detach().cpu().numpy()."
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{caller}: {name} must hold numbers; got dtype {arr.dtype}.")
    return arr


def _check_members(
    caller: str, group: str, members: Mapping[str, Any] | None, n: int
) -> dict[str, np.ndarray]:
    if members is None:
        return {}
    if not isinstance(members, Mapping):
        raise TypeError(
            f"{caller}: {group} must be a dict of name -> array; got {type(members).__name__}."
        )
    out = {}
    for key, value in members.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(
                f"{caller}: {group} names must be non-empty strings without '/'; got {key!r}."
            )
        arr = _as_array(caller, f"{group}[{key!r}]", value)
        if arr.shape != (n,):
            raise ValueError(
                f"{caller}: {group}[{key!r}] must have shape ({n},), one value per sample; "
                f"got shape {arr.shape}."
            )
        out[key] = arr
    return out


def _attr_value(caller: str, key: str, value: Any) -> Any:
    """A Python value as something h5py stores: str, number, bool, string or number array."""
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, (str, bool, int, float, np.generic)):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        return value
    if isinstance(value, Sequence):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return np.array(items, dtype=h5py.string_dtype("utf-8"))
        if all(isinstance(v, (int, float, bool, np.generic)) for v in items):
            return np.asarray(items)
    raise TypeError(
        f"{caller}: attrs[{key!r}] must be a str, number, bool, dict (stored as JSON) or a list "
        f"of str or numbers; got {type(value).__name__}."
    )


def _root_attrs(caller: str, path: Path, attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    attrs = dict(attrs or {})
    if schema.COMPLETE in attrs:
        raise ValueError(
            f"{caller}: attrs must not set {schema.COMPLETE!r}; write sets it last itself."
        )
    out: dict[str, Any] = {
        "name": path.stem,
        "generator": "user",
        "generator_version": "",
        "physxai_version": PHYSXAI_VERSION,
        "seed": -1,
        "parameters": {},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    out.update(attrs)
    if isinstance(out["parameters"], str):
        try:
            json.loads(out["parameters"])
        except ValueError:
            raise ValueError(
                f"{caller}: attrs['parameters'] must be a dict or a JSON string; got a string "
                "that is not JSON."
            ) from None
    elif not isinstance(out["parameters"], Mapping):
        raise TypeError(
            f"{caller}: attrs['parameters'] must be a dict or a JSON string; "
            f"got {type(out['parameters']).__name__}."
        )
    return {key: _attr_value(caller, key, value) for key, value in out.items()}


def write(
    path: str | os.PathLike,
    *,
    inputs: np.ndarray,
    targets: np.ndarray,
    params: Mapping[str, np.ndarray] | None = None,
    observables: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
    dims: str | Sequence[str] | None = None,
    units: str = "dimensionless",
    compression: str | None = "gzip",
) -> Path:
    """Write a data set to one HDF5 file, atomically.

    Parameters
    ----------
    path : str or path-like
        The file to write; an existing file is replaced only once the new one is complete.
    inputs : numpy.ndarray, shape (n, ...)
        Model inputs; the cards write float32 or int8 (any real dtype is accepted).
    targets : numpy.ndarray, shape (n,)
        Class labels (int64) or regression targets (float).
    params : dict of str to array (n,), optional
        Physical parameters of each sample, stored under ``/params/<name>``.
    observables : dict of str to array (n,), optional
        Known quantities per sample, stored under ``/observables/<name>``.
    attrs : dict, optional
        Root attributes. Provenance not given is filled in: ``name`` (the file's stem),
        ``generator`` (``"user"``), ``generator_version`` (``""``), ``seed`` (-1: unknown),
        ``parameters`` (``{}``; a dict is stored as JSON), ``physxai_version`` and ``created``
        (now, UTC). Lists of strings (``feature_names``) are stored as string arrays.
    dims : str or sequence of str, optional
        Names of the axes of ``inputs``, the first being ``sample``: ``"sample,y,x"``. Default
        ``sample,axis1,...``.
    units : str, default "dimensionless"
        Units of ``inputs``, stored as an attribute of ``/inputs``.
    compression : str or None, default "gzip"
        HDF5 compression of ``/inputs``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If an array is not numeric (or is a torch tensor), or an attribute has a type HDF5
        cannot hold.
    ValueError
        If ``targets``, a parameter or an observable does not have shape ``(n,)``, ``dims`` does
        not name every axis of ``inputs``, or ``attrs`` sets ``complete``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from physxai.data import read, write
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.h5")
    >>> _ = write(path, inputs=np.ones((3, 2), np.float32), targets=np.arange(3),
    ...           params={"temperature": np.array([1.0, 2.0, 3.0])})
    >>> read(path).params["temperature"].tolist()
    [1.0, 2.0, 3.0]
    """
    caller = "physxai.data.write"
    path = Path(path)
    x = _as_array(caller, "inputs", inputs)
    if x.ndim < 1:
        raise ValueError(f"{caller}: inputs must have shape (n, ...); got shape {x.shape}.")
    n = int(x.shape[0])
    y = _as_array(caller, "targets", targets)
    if y.shape != (n,):
        raise ValueError(
            f"{caller}: targets must have shape ({n},) to match inputs {x.shape}; "
            f"got shape {y.shape}."
        )
    params_ = _check_members(caller, "params", params, n)
    observables_ = _check_members(caller, "observables", observables, n)
    if dims is None:
        dims = ["sample"] + [f"axis{i}" for i in range(1, x.ndim)]
    dims_str = dims if isinstance(dims, str) else ",".join(dims)
    if len(dims_str.split(",")) != x.ndim:
        raise ValueError(
            f"{caller}: dims must name the {x.ndim} axes of inputs {x.shape}; got {dims_str!r}."
        )
    root = _root_attrs(caller, path, attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        chunks = None if compression is None or n == 0 else True
        ds = f.create_dataset(schema.INPUTS, data=x, compression=compression if chunks else None)
        ds.attrs["dims"] = dims_str
        ds.attrs["units"] = units
        f.create_dataset(schema.TARGETS, data=y)
        for group, members in ((schema.PARAMS, params_), (schema.OBSERVABLES, observables_)):
            g = f.create_group(group)
            for key, arr in members.items():
                g.create_dataset(key, data=arr)
        for key, value in root.items():
            f.attrs[key] = value
        f.flush()
        f.attrs[schema.COMPLETE] = True  # last: a file without it is an interrupted write
    return path


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise FileNotFoundError(f"physxai.data.read: no such file: {path}")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise InvalidDataError(
            f"{path}: not a readable HDF5 file (truncated or corrupt: {err}). Rebuild it "
            "(`physxai data build NAME --force`) or write it again with physxai.data.write."
        ) from None


def read(path: str | os.PathLike) -> Dataset:
    """Read a physxai HDF5 file into memory after checking its schema.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    Dataset
        Inputs, targets, params, observables, stored attributions and all attributes.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    InvalidDataError
        If the file is truncated or corrupt, was not completely written (no root attribute
        ``complete``), or breaks the schema; the message names the file and the path.
    """
    path = Path(path)
    with _open(path) as f:
        try:
            schema.validate(f, path)
            params = {k: v[()] for k, v in f.get(schema.PARAMS, {}).items()}
            observables = {k: v[()] for k, v in f.get(schema.OBSERVABLES, {}).items()}
            attributions = {k: v[()] for k, v in f.get(schema.ATTRIBUTIONS, {}).items()}
            attribution_attrs = {
                k: decode_attrs(v.attrs) for k, v in f.get(schema.ATTRIBUTIONS, {}).items()
            }
            return Dataset(
                inputs=f[schema.INPUTS][()],
                targets=f[schema.TARGETS][()],
                params=params,
                observables=observables,
                attrs=decode_attrs(f.attrs),
                input_attrs=decode_attrs(f[schema.INPUTS].attrs),
                attributions=attributions,
                attribution_attrs=attribution_attrs,
                path=path,
            )
        except (OSError, KeyError, RuntimeError) as err:
            raise InvalidDataError(
                f"{path}: could not read the file (truncated or corrupt: {err}). Rebuild it "
                "(`physxai data build NAME --force`)."
            ) from None


def write_attribution(
    path: str | os.PathLike,
    method: str,
    values: np.ndarray,
    *,
    options: Mapping[str, Any] | None = None,
    model: str = "",
    target: str = "",
) -> Path:
    """Store an attribution array as ``/attributions/<method>`` of an existing file, atomically.

    The file is copied, the copy gets the new dataset (replacing one of the same name) and is
    moved over the original, so an interrupted call leaves the original file unchanged.

    Parameters
    ----------
    path : str or path-like
        A valid physxai file.
    method : str
        The attribution method's name (``"integrated_gradients"``).
    values : numpy.ndarray, shape (n, ...)
        One attribution per sample of the file.
    options : dict, optional
        The method's options, stored as JSON in the attribute ``options``.
    model : str, default ""
        Which model was explained (a path or a name).
    target : str, default ""
        Which output was explained.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``method`` is empty or contains ``/``, or ``values`` does not have ``n`` rows.
    InvalidDataError
        If the file is not a valid physxai file.
    """
    caller = "physxai.data.write_attribution"
    path = Path(path)
    if not isinstance(method, str) or not method or "/" in method:
        raise ValueError(f"{caller}: method must be a non-empty name without '/'; got {method!r}.")
    arr = _as_array(caller, "values", values)
    with _open(path) as f:
        n = schema.validate(f, path)
    if arr.ndim < 1 or arr.shape[0] != n:
        raise ValueError(
            f"{caller}: values must have shape ({n}, ...), one row per sample of {path.name}; "
            f"got shape {arr.shape}."
        )
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with h5py.File(tmp, "r+") as f:
            group = f.require_group(schema.ATTRIBUTIONS)
            if method in group:
                del group[method]
            ds = group.create_dataset(method, data=arr)
            ds.attrs["options"] = json.dumps(dict(options or {}), sort_keys=True, default=str)
            ds.attrs["model"] = model
            ds.attrs["target"] = target
    return path


def _walk(f: h5py.File) -> list[tuple[str, h5py.Dataset | h5py.Group]]:
    items: list[tuple[str, Any]] = []
    f.visititems(lambda name, obj: items.append(("/" + name, obj)))
    return items


def describe(path: str | os.PathLike) -> tuple[str, bool]:
    """A human-readable summary of a file: schema (paths, shapes, dtypes) and provenance.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    text : str
        One line per dataset and attribute, then the schema check's verdict.
    valid : bool
        Whether the file passes the schema check.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    InvalidDataError
        If the file cannot be opened as HDF5 (truncated or corrupt).
    """
    path = Path(path)
    with _open(path) as f:
        lines = [f"file: {path} ({path.stat().st_size / 1e6:.2f} MB)"]
        try:
            lines.append("schema:")
            for name, obj in _walk(f):
                if isinstance(obj, h5py.Dataset):
                    extra = ", ".join(f"{k}={v!r}" for k, v in decode_attrs(obj.attrs).items())
                    shape = str(tuple(obj.shape))
                    lines.append(
                        f"  {name:<32} {shape:<18} {obj.dtype}" + (f"  [{extra}]" if extra else "")
                    )
                else:
                    lines.append(f"  {name + '/':<32} group")
            lines.append("provenance:")
            for key, value in decode_attrs(f.attrs).items():
                text = repr(value) if not isinstance(value, str) else value
                text = text.replace("\n", "\\n")
                if len(text) > 200:
                    text = text[:197] + "..."
                lines.append(f"  {key:<18} {text}")
            try:
                n = schema.validate(f, path)
                lines.append(f"check: ok ({n} samples)")
                valid = True
            except InvalidDataError as err:
                lines.append(f"check: INVALID: {err}")
                valid = False
        except (OSError, KeyError, RuntimeError) as err:
            raise InvalidDataError(f"{path}: could not read the file (corrupt: {err}).") from None
    return "\n".join(lines), valid
