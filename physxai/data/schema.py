"""The physxai HDF5 schema: one file per data set, checked on every read.

Every data set is one HDF5 file with this layout (ARCHITECTURE.md, "Data")::

    /inputs                (n, ...)  float32 or int8; attrs: dims ("sample,y,x"), units
    /targets               (n,)      class labels (int64) or regression targets (float)
    /params/<name>         (n,)      physical parameters a sample was drawn at (temperature, v1)
    /observables/<name>    (n,)      known quantities per sample (magnetization, energy, ...)
    /attributions/<method> (n, ...)  written by ``physxai attribute``; attrs: options, model, target
    root attrs: name, generator, generator_version, physxai_version, seed, parameters (JSON),
                created, and ``complete = True`` written last

The root attribute ``complete`` is the last thing a writer sets before the atomic rename, so a
file without it is an interrupted write and is refused. :func:`validate` checks an open file
against the schema and raises :class:`~physxai.errors.InvalidDataError` naming the file and the
missing or malformed path; :class:`Dataset` is the in-memory result of a read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from ..errors import InvalidDataError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .views import TensorView

__all__ = [
    "ATTRIBUTIONS",
    "COMPLETE",
    "INPUTS",
    "OBSERVABLES",
    "PARAMS",
    "REQUIRED_ATTRS",
    "TARGETS",
    "Dataset",
    "decode_attrs",
    "validate",
]

INPUTS = "inputs"
TARGETS = "targets"
PARAMS = "params"
OBSERVABLES = "observables"
ATTRIBUTIONS = "attributions"
#: root attribute written last; a file without it is an interrupted write
COMPLETE = "complete"
#: provenance attributes every file carries on its root group
REQUIRED_ATTRS = (
    "name",
    "generator",
    "generator_version",
    "physxai_version",
    "seed",
    "parameters",
    "created",
)
_GROUPS = (PARAMS, OBSERVABLES, ATTRIBUTIONS)


def _decode(value: Any) -> Any:
    """An HDF5 attribute value as a plain Python object (str, int, float, bool, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return [_decode(v) for v in value.tolist()]
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode_attrs(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """The attributes of an HDF5 object as a dict of plain Python values.

    Parameters
    ----------
    attrs : h5py.AttributeManager
        ``obj.attrs`` of an open file, group or dataset.

    Returns
    -------
    dict
        Strings for string attributes, Python scalars for numeric ones, lists for arrays.
    """
    return {key: _decode(attrs[key]) for key in attrs}


@dataclass
class Dataset:
    """A physxai data set in memory: what :func:`physxai.data.read` and ``load`` return.

    Attributes
    ----------
    inputs : numpy.ndarray, shape (n, ...)
        Model inputs: spins ``(n, L, L)`` int8, wave functions ``(n, dim)``, tabular ``(n, d)``.
    targets : numpy.ndarray, shape (n,)
        Class labels (int64) or regression targets (float).
    params : dict of str to numpy.ndarray, each (n,)
        Physical parameters each sample was drawn at (``temperature``, ``v1``).
    observables : dict of str to numpy.ndarray, each (n,)
        Known quantities per sample (``magnetization``, ``energy``, ``interval``).
    attrs : dict
        Root attributes: provenance (name, generator, generator_version, physxai_version, seed,
        parameters as a JSON string, created) and generator extras (``feature_names``).
    input_attrs : dict
        Attributes of ``/inputs``: ``dims`` (e.g. ``"sample,y,x"``) and ``units``.
    attributions : dict of str to numpy.ndarray, each (n, ...)
        Stored attributions by method name, as written by ``physxai attribute``.
    attribution_attrs : dict of str to dict
        Attributes of each stored attribution (``options``, ``model``, ``target``).
    path : pathlib.Path or None
        The file it was read from.
    """

    inputs: np.ndarray
    targets: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    observables: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    input_attrs: dict[str, Any] = field(default_factory=dict)
    attributions: dict[str, np.ndarray] = field(default_factory=dict)
    attribution_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, inputs={self.inputs.shape} {self.inputs.dtype}, "
            f"targets={self.targets.dtype}, params={sorted(self.params)}, "
            f"observables={sorted(self.observables)}, path={str(self.path) if self.path else None})"
        )

    @property
    def name(self) -> str:
        """The data set's name (root attribute ``name``)."""
        return str(self.attrs.get("name", ""))

    @property
    def parameters(self) -> dict[str, Any]:
        """The generator parameters the file was made with (root attribute ``parameters``)."""
        return json.loads(self.attrs.get("parameters", "{}"))

    @property
    def dims(self) -> tuple[str, ...]:
        """Names of the axes of ``inputs``, e.g. ``("sample", "y", "x")``."""
        return tuple(str(self.input_attrs.get("dims", "")).split(","))

    def torch_dataset(
        self, dtype: torch.dtype | None = None, target_dtype: torch.dtype | None = None
    ) -> TensorView:
        """A ``torch.utils.data.Dataset`` of ``(input, target)`` pairs over this data set.

        Parameters
        ----------
        dtype : torch.dtype, optional
            Floating dtype of the inputs; default ``torch.float32``.
        target_dtype : torch.dtype, optional
            Dtype of the targets; default ``torch.int64`` for integer labels and ``dtype``
            for regression targets.

        Returns
        -------
        TensorView
        """
        from .views import TensorView

        return TensorView(self, dtype=dtype, target_dtype=target_dtype)


def _fail(file: str | Path, where: str, problem: str) -> InvalidDataError:
    return InvalidDataError(
        f"{file}: {where} {problem}. Rebuild the file (`physxai data build NAME --force`) or "
        "write it again with physxai.data.write."
    )


def _check_numeric(file: str | Path, dset: h5py.Dataset, kinds: str, what: str) -> None:
    if dset.dtype.kind not in kinds:
        raise _fail(file, f"/{dset.name.lstrip('/')}", f"must hold {what}; got dtype {dset.dtype}")


def validate(f: h5py.File, file: str | Path | None = None) -> int:
    """Check an open HDF5 file against the physxai schema.

    Parameters
    ----------
    f : h5py.File
        The open file.
    file : str or Path, optional
        The name used in messages; default ``f.filename``.

    Returns
    -------
    int
        The number of samples ``n``.

    Raises
    ------
    InvalidDataError
        Naming the file and the first missing or malformed path or attribute: no
        ``complete`` root attribute (an interrupted write), a missing ``/inputs`` or
        ``/targets``, a non-numeric dtype, a ``/params``, ``/observables`` or ``/attributions``
        member whose length is not ``n``, a missing provenance attribute, or ``parameters``
        that are not JSON.
    """
    file = f.filename if file is None else file
    if not bool(f.attrs.get(COMPLETE, False)):
        raise _fail(
            file,
            "root attribute 'complete'",
            "is missing: the write was interrupted and the file is incomplete",
        )
    for key in (INPUTS, TARGETS):
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise _fail(file, f"/{key}", "is missing (expected a dataset)")
    inputs, targets = f[INPUTS], f[TARGETS]
    if inputs.ndim < 1:
        raise _fail(file, "/inputs", f"must have shape (n, ...); got shape {inputs.shape}")
    _check_numeric(file, inputs, "fiu", "numbers (float32 or int8)")
    n = int(inputs.shape[0])
    if targets.shape != (n,):
        raise _fail(file, "/targets", f"must have shape ({n},) like /inputs; got {targets.shape}")
    _check_numeric(file, targets, "fiu", "class labels (int64) or regression targets (float)")
    dims = inputs.attrs.get("dims")
    if dims is None:
        raise _fail(file, "/inputs attribute 'dims'", "is missing (e.g. 'sample,y,x')")
    if len(str(_decode(dims)).split(",")) != inputs.ndim:
        raise _fail(
            file,
            "/inputs attribute 'dims'",
            f"must name {inputs.ndim} axes for shape {inputs.shape}; got {_decode(dims)!r}",
        )
    for group in _GROUPS:
        if group not in f:
            continue
        if not isinstance(f[group], h5py.Group):
            raise _fail(file, f"/{group}", "must be a group")
        for key, member in f[group].items():
            where = f"/{group}/{key}"
            if not isinstance(member, h5py.Dataset):
                raise _fail(file, where, "must be a dataset")
            _check_numeric(file, member, "fiub", "numbers")
            if group == ATTRIBUTIONS:
                if member.ndim < 1 or member.shape[0] != n:
                    raise _fail(file, where, f"must have shape ({n}, ...); got {member.shape}")
            elif member.shape != (n,):
                raise _fail(file, where, f"must have shape ({n},) like /inputs; got {member.shape}")
    for key in REQUIRED_ATTRS:
        if key not in f.attrs:
            raise _fail(file, f"root attribute {key!r}", "is missing")
    try:
        parameters = json.loads(_decode(f.attrs["parameters"]))
    except (TypeError, ValueError):
        raise _fail(file, "root attribute 'parameters'", "is not valid JSON") from None
    if not isinstance(parameters, dict):
        raise _fail(file, "root attribute 'parameters'", "must be a JSON object")
    return n
