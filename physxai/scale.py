"""Attribution of a whole HDF5 data set: streamed in chunks, resumable, sharded under torchrun.

:func:`attribute_dataset` (and ``physxai attribute``) explains every sample of a physxai data
file with one attribution method and stores the result as ``/attributions/<method>`` of an output
file, without ever holding the data set in memory. ``/inputs`` is read ``batch_size`` rows at a
time with h5py; each chunk is attributed with the method object built once, written into a
preallocated dataset of a hidden partial file, flushed, and only then counted in the dataset's
``rows_done`` attribute. Memory is therefore one chunk (plus what the method needs for it),
whatever the size of the file.

Files. The output is a complete physxai file: a byte copy of the data file (or of an existing
output file of the same data, whose other attributions are kept) with the new dataset added, so
:func:`physxai.data.read` gives the inputs, targets, parameters and attributions together. Its
root attributes are the data set's own provenance; the attribution dataset's attributes record
the method's ``options`` (JSON), the ``model`` (its spec), the ``target``, the weights' and the
model state's SHA-256, the input file and its provenance, batch size, device, dtype and versions.
A run works in ``.<out>.partial`` beside ``out`` (one partial per rank under torchrun:
``.<out>.part<rank>of<world>.partial``), which has no root attribute ``complete`` and is refused by
every reader. On success the partial gets ``complete = True`` and is moved onto ``out`` with
:func:`os.replace`, so a file under the output's name is always finished.

Resume. An interrupted run (crash, kill, Ctrl-C) leaves its partial file. ``resume=True``
(``--resume``) reopens it, checks that the run is the same one (method, options, target, model
spec, model state and weights digests, data shape and provenance, dtype, device type, batch size,
seed, number of processes) and continues after the last completed chunk. The attribution storage
is allocated contiguously when the partial is created, so writing a chunk changes no HDF5
structure and a kill between flushes cannot corrupt the file; only the small ``rows_done``
attribute is rewritten in place after each flush. Chunk boundaries never depend on where a run
stopped, and the methods that draw random numbers get one generator per chunk, seeded from
``(seed, chunk index)``, so a resumed run equals an uninterrupted one bit for bit.

Beyond one machine. Under ``torchrun --nproc-per-node=N -m physxai attribute ...`` (or any script
that calls :func:`attribute_dataset` after ``torch.distributed`` is initialised) the chunks are
split into ``N`` contiguous shards; each rank writes its shard to its own partial file and rank 0
joins them by copying the parts into the output (a copy, not an HDF5 virtual dataset, so the
result can be moved and the parts deleted). torch.distributed does all the coordination (gloo on
CPU, nccl on CUDA, where rank ``r`` uses ``cuda:LOCAL_RANK``): one all-reduce after setting up,
after the shard, and after the join, so an error on any rank stops every rank with its message.
Shards are whole chunks, so the joined file equals the single-process result bit for bit.

::

    from physxai import attribute_dataset
    attribute_dataset("mypkg.models:ising_cnn", "ising.h5", "integrated_gradients",
                      weights="cnn.pt", out="ising_ig.h5", target=1, n_steps=64)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import glob
import hashlib
import importlib
import inspect
import json
import os
import pickle
import re
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor, nn

from ._validation import check_positive_int, model_device, progress_bar
from .attribution import METHODS, Attribution, _split_options
from .data import schema
from .data._io import PHYSXAI_VERSION, _fsync_dir, stale_temp_files, temp_name
from .data.schema import decode_attrs
from .errors import InvalidDataError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "TARGETS_FROM_FILE",
    "add_attribute_arguments",
    "attribute_dataset",
    "cmd_attribute",
    "load_model",
    "parse_options",
    "parse_target",
]

#: rows per chunk: one read, one call of the method, one write, one resume point
DEFAULT_BATCH_SIZE = 256
#: ``target=TARGETS_FROM_FILE`` explains, for each sample, the output column given by its label
TARGETS_FROM_FILE = "targets"

_CALLER = "physxai.attribute_dataset"
_ROWS_DONE = "rows_done"
_RUN = "run"
#: HDF5 chunk cache for reading /inputs: a few compressed chunks, never the file
_READ_CACHE_BYTES = 16 * 2**20
_FACTORY_SPEC = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


# -- models ---------------------------------------------------------------------------------------


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_model(spec: str | os.PathLike, weights: str | os.PathLike | None = None) -> nn.Module:
    """Build the model a spec names, and load a state dict into it.

    Parameters
    ----------
    spec : str or path-like
        ``"package.module:factory"``: the module is imported (it must be importable, e.g. its
        directory on ``PYTHONPATH``) and ``factory`` (a function or class, dotted attribute paths
        allowed) is called with no arguments and must return an ``nn.Module``, which is put in
        eval mode. Or the path of a program saved with ``torch.export.save`` (``.pt2``): its
        ``module()`` is returned with the ``training`` flags set to False (an exported graph
        fixed its train/eval behaviour when it was exported).
    weights : str or path-like, optional
        A state dict saved with ``torch.save(model.state_dict(), path)``. It is read with
        ``torch.load(weights_only=True)`` only, so nothing in it can run code, and loaded
        strictly (every key must match).

    Returns
    -------
    torch.nn.Module
        The model, on the CPU.

    Raises
    ------
    FileNotFoundError
        If ``spec`` looks like a file name but there is no such file, or ``weights`` is missing.
    ValueError
        If ``spec`` is neither form, the module cannot be imported or lacks the attribute, the
        file is not a torch.export program, or ``weights`` is not a plain state dict (a whole
        pickled model, a training checkpoint with other entries) or does not fit the model.
    TypeError
        If the factory is not callable or does not return an ``nn.Module``.

    Examples
    --------
    >>> model = load_model("torch.nn:Identity")
    >>> type(model).__name__, model.training
    ('Identity', False)
    """
    caller = "physxai.scale.load_model"
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"{caller}: spec must be a string 'package.module:factory' or the path of a "
            f"torch.export program; got {type(spec).__name__}."
        )
    text = os.fspath(spec)
    if Path(text).is_file():
        model = _load_exported(Path(text), caller)
    elif _FACTORY_SPEC.fullmatch(text):
        model = _call_factory(text, caller)
    elif text.endswith((".pt2", ".pt", ".pth")) or os.sep in text:
        raise FileNotFoundError(f"{caller}: no such model file: {text}")
    else:
        raise ValueError(
            f"{caller}: the model spec must be 'package.module:factory' (imported and called "
            "with no arguments) or the path of a program saved with torch.export.save (.pt2); "
            f"got {text!r}."
        )
    if weights is not None:
        state = _load_weights(weights, caller)
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(
                f"{caller}: the state dict in {weights} does not fit the model {text}: "
                f"{_first_line(err, 600)}"
            ) from None
    return model


def _load_exported(path: Path, caller: str) -> nn.Module:
    try:
        program = torch.export.load(path)
    except Exception as err:  # noqa: BLE001 - any failure means: not an export archive
        raise ValueError(
            f"{caller}: {path} is not a program saved with torch.export.save "
            f"({type(err).__name__}: {_first_line(err)}). A state dict goes to --weights "
            "(weights=), with the model given as 'package.module:factory'."
        ) from None
    module = program.module()
    # eval() raises NotImplementedError on exported modules; their graph already fixed the
    # train/eval behaviour at export, so only the flag the attribution methods check is set.
    for sub in module.modules():
        sub.training = False
    return module


def _call_factory(text: str, caller: str) -> nn.Module:
    module_name, _, attr = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"{caller}: cannot import {module_name!r} for the model {text!r} ({err}). The module "
            "must be importable: install its package or put its directory on PYTHONPATH."
        ) from None
    factory: Any = module
    for part in attr.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            raise ValueError(
                f"{caller}: module {module_name!r} has no attribute {attr!r} (model {text!r})."
            ) from None
    if not callable(factory):
        raise TypeError(
            f"{caller}: {text} must be a function or class that builds the model; got "
            f"{type(factory).__name__}."
        )
    model = factory()
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{caller}: {text}() must return a torch.nn.Module; got {type(model).__name__}."
        )
    return model.eval()


def _load_weights(weights: str | os.PathLike, caller: str) -> dict[str, Tensor]:
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{caller}: no such weights file: {path}")
    save_hint = f"Save the weights with torch.save(model.state_dict(), {str(path)!r})."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "unsupported global" in str(err).lower():  # a class the file needs to unpickle
            raise ValueError(
                f"{caller}: {path} is not a plain state dict: it holds pickled Python objects "
                "(a whole model saved with torch.save(model), or a checkpoint with custom "
                "classes). physxai loads weights only with torch.load(weights_only=True), which "
                f"never runs code from the file. {save_hint}"
            ) from None
        raise ValueError(
            f"{caller}: {path} is not a file written by torch.save ({_first_line(err)})."
        ) from None
    except Exception as err:  # noqa: BLE001 - zip/format errors of a file that is no checkpoint
        raise ValueError(
            f"{caller}: {path} is not a file written by torch.save "
            f"({type(err).__name__}: {_first_line(err)})."
        ) from None
    if not isinstance(state, Mapping):
        raise ValueError(  # noqa: TRY004 - a wrong file content, not a wrong argument type
            f"{caller}: {path} must hold a state dict (parameter name -> tensor); got a "
            f"{type(state).__name__}. {save_hint}"
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, Tensor)]
    if bad:
        nested = [k for k in bad if isinstance(state[k], Mapping)]
        hint = (
            f" It looks like a training checkpoint: save its entry {nested[0]!r} on its own."
            if nested
            else ""
        )
        raise ValueError(
            f"{caller}: {path} is not a plain state dict: its entries "
            f"{', '.join(map(repr, bad[:5]))} are not tensors.{hint} {save_hint}"
        )
    return dict(state)


# -- digests and JSON records ---------------------------------------------------------------------


def _tensor_bytes(t: Tensor) -> np.ndarray:
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy() if flat.numel() else np.zeros(0, np.uint8)


def _state_digest(model: Any) -> str:
    """SHA-256 of a module's state dict (names, dtypes, shapes, bytes); '' for a plain callable."""
    if not isinstance(model, nn.Module):
        return ""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(_tensor_bytes(t))
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (Tensor, np.ndarray)):
        t = torch.as_tensor(value)
        digest = hashlib.sha256(_tensor_bytes(t)).hexdigest()[:16]
        return {"tensor": list(t.shape), "dtype": str(t.dtype), "sha256": digest}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    text = repr(value)
    if " at 0x" in text:  # a default object repr says nothing but the type
        return f"<{type(value).__module__}.{type(value).__qualname__}>"
    return text


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_json_default)


# -- targets --------------------------------------------------------------------------------------


@dataclass
class _Target:
    """A target normalised for chunked use: ``kind`` in none, int, file, array, callable."""

    kind: str
    value: Any
    label: str

    def chunk(self, start: int, stop: int, labels: h5py.Dataset | None, device: torch.device) -> Any:
        if self.kind == "file":
            assert labels is not None
            return torch.from_numpy(np.asarray(labels[start:stop], dtype=np.int64)).to(device)
        if self.kind == "array":
            return self.value[start:stop].to(device)
        return self.value


def _normalise_target(target: Any, n: int, data: Path) -> _Target:
    if target is None:
        return _Target("none", None, "none")
    if isinstance(target, bool):
        raise TypeError(f"{_CALLER}: target must be None, an int, 'targets', an array or a callable; got bool.")
    if isinstance(target, (int, np.integer)):
        return _Target("int", int(target), str(int(target)))
    if isinstance(target, str):
        if target == TARGETS_FROM_FILE:
            return _Target("file", None, TARGETS_FROM_FILE)
        raise ValueError(
            f"{_CALLER}: target must be None, an int column, {TARGETS_FROM_FILE!r} (each sample's "
            f"label in {data}:/targets), an integer array of shape ({n},) or a callable "
            f"output -> (n,); got the string {target!r}."
        )
    if isinstance(target, (Tensor, np.ndarray)):
        t = torch.as_tensor(target).detach().to("cpu")
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise ValueError(
                f"{_CALLER}: an array target must hold integer output columns; got dtype {t.dtype}."
            )
        if t.dim() == 0:
            return _Target("int", int(t), str(int(t)))
        if tuple(t.shape) != (n,):
            raise ValueError(
                f"{_CALLER}: an array target must have one column per sample of {data}, shape "
                f"({n},); got shape {tuple(t.shape)}."
            )
        digest = hashlib.sha256(_tensor_bytes(t.long())).hexdigest()[:16]
        return _Target("array", t.long(), f"array ({n},) sha256:{digest}")
    if callable(target):
        name = getattr(target, "__qualname__", type(target).__qualname__)
        module = getattr(target, "__module__", type(target).__module__)
        return _Target("callable", target, f"callable {module}.{name}")
    raise TypeError(
        f"{_CALLER}: target must be None, an int, {TARGETS_FROM_FILE!r}, an integer array of shape "
        f"({n},) or a callable output -> (n,); got {type(target).__name__}."
    )


# -- the data file --------------------------------------------------------------------------------


@dataclass
class _Data:
    path: Path
    n: int
    shape: tuple[int, ...]
    dtype: np.dtype
    dims: str
    provenance: dict[str, Any]
    labels_dtype: np.dtype


def _inspect_data(path: Path) -> _Data:
    if not path.is_file():
        raise FileNotFoundError(f"{_CALLER}: no such data file: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise InvalidDataError(
            f"{path}: not a readable HDF5 file (truncated or corrupt: {_first_line(err)})."
        ) from None
    with f:
        n = schema.validate(f, path)
        inputs = f[schema.INPUTS]
        provenance = {k: v for k, v in decode_attrs(f.attrs).items() if k != schema.COMPLETE}
        return _Data(
            path=path,
            n=n,
            shape=tuple(inputs.shape),
            dtype=inputs.dtype,
            dims=str(decode_attrs(inputs.attrs).get("dims", "")),
            provenance=provenance,
            labels_dtype=f[schema.TARGETS].dtype,
        )


def _labels_range(data: _Data, block: int = 2**20) -> tuple[int, int]:
    """Smallest and largest label in /targets, read in blocks."""
    lo, hi = None, None
    with h5py.File(data.path, "r") as f:
        labels = f[schema.TARGETS]
        for start in range(0, data.n, block):
            part = labels[start : start + block]
            lo = int(part.min()) if lo is None else min(lo, int(part.min()))
            hi = int(part.max()) if hi is None else max(hi, int(part.max()))
    return (lo if lo is not None else 0), (hi if hi is not None else 0)


def _same_data(f: h5py.File, data: _Data) -> str:
    """'' if the open file ``f`` holds the same data set as ``data``; else what differs."""
    inputs = f[schema.INPUTS]
    if tuple(inputs.shape) != data.shape or inputs.dtype != data.dtype:
        return f"its /inputs is {tuple(inputs.shape)} {inputs.dtype}, not {data.shape} {data.dtype}"
    provenance = {k: v for k, v in decode_attrs(f.attrs).items() if k != schema.COMPLETE}
    if _to_json(provenance) != _to_json(data.provenance):
        keys = sorted(
            k for k in set(provenance) | set(data.provenance)
            if _to_json(provenance.get(k)) != _to_json(data.provenance.get(k))
        )
        return f"its provenance differs in {', '.join(keys[:5])}"
    return ""


# -- partial files --------------------------------------------------------------------------------


def _partial_path(out: Path, rank: int, world: int) -> Path:
    if world == 1:
        return out.with_name(f".{out.name}.partial")
    return out.with_name(f".{out.name}.part{rank}of{world}.partial")


def _partials(out: Path) -> dict[Path, int]:
    """Every partial file of ``out`` with the number of processes of the run that left it."""
    found = {}
    pattern = re.compile(re.escape(f".{out.name}.") + r"(?:part(\d+)of(\d+)\.)?partial")
    for p in out.parent.glob(glob.escape(f".{out.name}.") + "*partial"):
        m = pattern.fullmatch(p.name)
        if m:
            found[p] = int(m.group(2)) if m.group(2) else 1
    return found


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    _fsync_dir(path.parent)


def _create_attribution(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: np.dtype) -> h5py.Dataset:
    # Contiguous storage allocated now (and never filled): writing a chunk later touches raw data
    # only, no HDF5 structure, so a process killed between flushes leaves a readable file.
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    return group.create_dataset(name, shape=shape, dtype=dtype, dcpl=dcpl)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class _Run:
    """Everything one rank needs; built and checked before any file is written."""

    data: _Data
    out: Path
    base: Path
    method: str
    attributor: Attribution
    call_options: dict[str, Any]
    random: bool
    seed: int
    target: _Target
    device: torch.device
    dtype: torch.dtype
    batch_size: int
    rank: int
    world: int
    resume: bool
    overwrite: bool
    identity: dict[str, Any]
    attrs: dict[str, Any]
    log: Callable[[str], None]
    progress: bool | None
    fresh: bool = False
    rows: tuple[int, int] = field(default=(0, 0))

    @property
    def partial(self) -> Path:
        return _partial_path(self.out, self.rank, self.world)

    def rows_of(self, rank: int) -> tuple[int, int]:
        n_chunks = -(-self.data.n // self.batch_size)
        first, last = rank * n_chunks // self.world, (rank + 1) * n_chunks // self.world
        return min(first * self.batch_size, self.data.n), min(last * self.batch_size, self.data.n)

    def identity_of(self, rank: int) -> dict[str, Any]:
        return {**self.identity, "rank": rank, "rows": list(self.rows_of(rank))}


def _resolve_device(device: Any, model: Any) -> torch.device:
    if device is None:
        found = model_device(model) if isinstance(model, nn.Module) else None
        return found if found is not None else torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{_CALLER}: device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{_CALLER}: device={str(device)!r} but CUDA is not available "
                f"(torch.cuda.is_available() is False for torch {torch.__version__}); use 'cpu'."
            )
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    if isinstance(model, nn.Module):
        found = model_device(model)
        if found is not None:
            if found.type == "cuda" and found.index is None:  # pragma: no cover - cuda only
                found = torch.device("cuda", torch.cuda.current_device())
            if found != dev:
                raise ValueError(
                    f"{_CALLER}: the model is on {found} but device={str(device)!r}; "
                    "attribute_dataset never moves your model: call model.to(device) first, or "
                    "give the model as a spec string, which is loaded onto the device."
                )
    return dev


def _model_dtype(model: Any) -> torch.dtype:
    if isinstance(model, nn.Module):
        for p in list(model.parameters()) + list(model.buffers()):
            if p.is_floating_point():
                return p.dtype
    return torch.float32


def _probe(run: _Run, model: Any) -> None:
    """One forward pass on the first chunk: the input shape and the target must fit the model."""
    data, target = run.data, run.target
    where = f"{data.path}:/inputs"
    m = min(run.batch_size, data.n)
    with h5py.File(data.path, "r") as f:
        x = _read_rows(f[schema.INPUTS], 0, m, run)
    try:
        with torch.no_grad():
            output = model(x)
    except Exception as err:  # noqa: BLE001 - whatever the model raises, name the file
        raise ValueError(
            f"{_CALLER}: {where} has shape {data.shape} ({data.dtype}), but the model rejects a "
            f"batch of it, shape {tuple(x.shape)} ({x.dtype}): {type(err).__name__}: "
            f"{_first_line(err)}. Check the input shape the model expects (e.g. (n, 1, L, L) "
            "against (n, L, L))."
        ) from None
    if not isinstance(output, Tensor) or output.dim() == 0 or output.shape[0] != m:
        got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(
            f"{_CALLER}: the model must return one tensor with the batch first for a batch of "
            f"{where} of shape {tuple(x.shape)}, i.e. shape ({m}, ...); got {got}."
        )
    shape = tuple(output.shape)
    if target.kind == "none":
        if not (output.dim() == 1 or (output.dim() == 2 and shape[1] == 1)):
            raise ValueError(
                f"{_CALLER}: target is missing: the model output for {where} has shape {shape}, "
                f"so say which output to explain: an int column in [0, {shape[-1]}), or "
                f"{TARGETS_FROM_FILE!r} for each sample's label in {data.path}:/targets."
            )
        return
    if target.kind == "callable":
        return
    if output.dim() != 2:
        raise ValueError(
            f"{_CALLER}: target {target.label} selects a column of a 2-d model output "
            f"(n, n_outputs), but the output for {where} has shape {shape}; use target none "
            "for an output of shape (n,) or (n, 1)."
        )
    k = shape[1]
    if target.kind == "int" and not -k <= target.value < k:
        raise ValueError(
            f"{_CALLER}: target {target.value} is not an output column of the model: its output "
            f"for {where} has shape {shape}, columns 0 to {k - 1}."
        )
    if target.kind in ("file", "array"):
        if target.kind == "file":
            lo, hi = _labels_range(data)
            what = f"{data.path}:/targets holds labels"
        else:
            lo, hi = int(target.value.min()), int(target.value.max())
            what = "the target array holds columns"
        if lo < -k or hi >= k:
            raise ValueError(
                f"{_CALLER}: {what} from {lo} to {hi}, but the model output for {where} has "
                f"shape {shape}, columns 0 to {k - 1}."
            )


def _read_rows(inputs: h5py.Dataset, start: int, stop: int, run: _Run) -> Tensor:
    block = np.ascontiguousarray(inputs[start:stop])
    return torch.from_numpy(block).to(device=run.device, dtype=run.dtype)


def _prepare(
    model: Any,
    data_path: Path,
    method: str,
    out: Path,
    *,
    target: Any,
    weights: Any,
    batch_size: int,
    device: Any,
    seed: int,
    resume: bool,
    overwrite: bool,
    progress: bool | None,
    log: Callable[[str], None],
    options: dict[str, Any],
    rank: int,
    world: int,
) -> _Run:
    data = _inspect_data(data_path)
    if data.n == 0:
        raise ValueError(f"{_CALLER}: {data.path}:/inputs has no samples (shape {data.shape}).")
    target_ = _normalise_target(target, data.n, data.path)
    if target_.kind == "file" and data.labels_dtype.kind not in "iu":
        raise ValueError(
            f"{_CALLER}: target {TARGETS_FROM_FILE!r} needs class labels, but {data.path}:/targets "
            f"holds {data.labels_dtype} values (regression targets); give an int column instead."
        )

    # the model: a spec is ours to load and place; a module is the caller's and never moved
    if isinstance(model, (str, os.PathLike)):
        spec = os.fspath(model)
        loaded = load_model(spec, weights)
        dev = _resolve_device(device, None)
        loaded = loaded.to(dev)
        model_label = str(Path(spec).resolve()) if Path(spec).is_file() else spec
        weights_label = "" if weights is None else str(weights)
        weights_digest = "" if weights is None else _file_digest(Path(weights))
    else:
        if weights is not None:
            raise TypeError(
                f"{_CALLER}: weights= goes with a model spec string; load them into your module "
                "with model.load_state_dict(...) before passing it."
            )
        if not callable(model):
            raise TypeError(
                f"{_CALLER}: model must be an nn.Module, a callable, or a spec string "
                f"'package.module:factory' / a .pt2 path; got {type(model).__name__}."
            )
        loaded = model
        dev = _resolve_device(device, model)
        model_type = type(model)
        model_label = f"{model_type.__module__}.{model_type.__qualname__}"
        weights_label, weights_digest = "", ""
    dtype = _model_dtype(loaded)
    if dtype not in (torch.float16, torch.float32, torch.float64):
        raise ValueError(
            f"{_CALLER}: the model computes in {dtype}, which HDF5 cannot store; attribute in "
            "float32 or float64 (model.float() or model.double())."
        )

    # the method: built once, its options split between the constructor and attribute()
    cls = METHODS[method]
    if "generator" in options:
        raise TypeError(
            f"{_CALLER}: generator is not an option here: each chunk draws from its own "
            "generator seeded from (seed, chunk index), so pass seed= instead."
        )
    ctor, call = _split_options(cls, options)
    attributor = cls(loaded, **ctor)
    random = "generator" in inspect.signature(cls.attribute).parameters

    identity = {
        "method": method,
        "options": _to_json(options),
        "target": target_.label,
        "model": model_label,
        "model_sha256": _state_digest(loaded),
        "weights_sha256": weights_digest,
        "data_shape": list(data.shape),
        "data_dtype": str(data.dtype),
        "data_provenance_sha256": hashlib.sha256(_to_json(data.provenance).encode()).hexdigest(),
        "dtype": str(dtype).removeprefix("torch."),
        "device": dev.type,
        "batch_size": batch_size,
        "seed": seed if random else None,
        "n_processes": world,
    }
    attrs: dict[str, Any] = {
        "method": method,
        "options": identity["options"],
        "model": model_label,
        "target": target_.label,
        "weights": weights_label,
        "weights_sha256": weights_digest,
        "model_sha256": identity["model_sha256"],
        "data": str(data.path.resolve()),
        "data_provenance": _to_json(data.provenance),
        "dims": data.dims,
        "dtype": identity["dtype"],
        "device": dev.type,
        "batch_size": batch_size,
        "n_processes": world,
        "physxai_version": PHYSXAI_VERSION,
        "torch_version": str(torch.__version__),  # a str subclass h5py cannot store
    }
    if random:
        attrs["seed"] = seed
    run = _Run(
        data=data,
        out=out,
        base=data.path,
        method=method,
        attributor=attributor,
        call_options=call,
        random=random,
        seed=seed,
        target=target_,
        device=dev,
        dtype=dtype,
        batch_size=batch_size,
        rank=rank,
        world=world,
        resume=resume,
        overwrite=overwrite,
        identity=identity,
        attrs=attrs,
        log=log,
        progress=progress,
    )
    run.rows = run.rows_of(rank)
    run.base = _check_out(run)
    _probe(run, loaded)
    _check_partials(run)  # last: with overwrite it deletes an interrupted run's files
    return run


def _check_out(run: _Run) -> Path:
    """The file the output starts from: an existing output of the same data, else the data."""
    out, data = run.out, run.data
    if not out.exists():
        return data.path
    if not out.is_file():
        raise ValueError(f"{_CALLER}: out {out} exists and is not a file.")
    flag = " (--overwrite)"
    if out.samefile(data.path):
        differs = ""
        holds = _holds(out, run.method)
    else:
        try:
            with h5py.File(out, "r") as f:
                schema.validate(f, out)
                differs = _same_data(f, data)
                holds = run.method in f.get(schema.ATTRIBUTIONS, {})
        except (OSError, InvalidDataError) as err:
            if run.overwrite:
                return data.path
            raise ValueError(
                f"{_CALLER}: out {out} exists and is not a complete physxai file "
                f"({_first_line(err)}); pass overwrite=True{flag} to replace it, or choose "
                "another out."
            ) from None
    if differs:
        if run.overwrite:
            return data.path
        raise ValueError(
            f"{_CALLER}: out {out} exists and holds another data set than {data.path} "
            f"({differs}); pass overwrite=True{flag} to replace it, or choose another out."
        )
    if holds and not run.overwrite:
        raise FileExistsError(
            f"{_CALLER}: {out} already holds /attributions/{run.method}; pass "
            f"overwrite=True{flag} to replace it, or choose another out."
        )
    return out


def _holds(path: Path, method: str) -> bool:
    with h5py.File(path, "r") as f:
        return method in f.get(schema.ATTRIBUTIONS, {})


def _check_partials(run: _Run) -> None:
    if run.rank == 0 and run.out.parent.is_dir():
        for tmp in stale_temp_files(run.out):  # left by a process killed while copying
            tmp.unlink(missing_ok=True)
    found = _partials(run.out)
    if not found:
        return
    names = ", ".join(sorted(p.name for p in found))
    if run.overwrite:
        if run.rank == 0:  # other process counts' leftovers; each rank removes its own below
            for p, world in found.items():
                if world != run.world:
                    p.unlink(missing_ok=True)
        run.partial.unlink(missing_ok=True)
        return
    if not run.resume:
        raise FileExistsError(
            f"{_CALLER}: an interrupted run left {names} beside {run.out}; pass resume=True "
            "(--resume) to continue it, or overwrite=True (--overwrite) to start over."
        )
    worlds = set(found.values())
    if worlds != {run.world}:
        raise ValueError(
            f"{_CALLER}: the interrupted run of {run.out} ran on "
            f"{' and '.join(map(str, sorted(worlds)))} process(es) ({names}) and this one on "
            f"{run.world}; resume it with the same number of processes, or pass overwrite=True "
            "to start over."
        )


def _open_partial(run: _Run) -> int:
    """Create this rank's partial file, or reopen it to resume; return the rows already done."""
    path = run.partial
    if path.exists() and run.resume:
        try:
            with h5py.File(path, "r") as f:
                ds = f[f"{schema.ATTRIBUTIONS}/{run.method}"]
                before = json.loads(str(decode_attrs(ds.attrs)[_RUN]))
                done = int(ds.attrs[_ROWS_DONE])
        except (OSError, KeyError, ValueError) as err:
            warnings.warn(
                f"{_CALLER}: the partial file {path} could not be read ({_first_line(err)}); "
                "starting this shard over.",
                UserWarning,
                stacklevel=3,
            )
            path.unlink(missing_ok=True)
        else:
            now = run.identity_of(run.rank)
            differ = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
            if differ:
                k = differ[0]
                was, is_ = (_short(before.get(k)), _short(now.get(k)))
                raise ValueError(
                    f"{_CALLER}: cannot resume {path}: the interrupted run differs from this one in "
                    f"{', '.join(differ)} ({k}: {was} then, {is_} now); rerun with the same "
                    "settings, or pass overwrite=True (--overwrite) to start over."
                )
            run.log(f"resuming {path.name}: {done} of {run.rows[1] - run.rows[0]} rows done")
            return done
    run.fresh = True
    start, stop = run.rows
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(run.out)  # the data layer's pattern: stale ones get cleaned
    try:
        if run.world == 1:
            shutil.copyfile(run.base, tmp)  # streamed by the OS; memory stays flat
            f = h5py.File(tmp, "r+")
        else:
            f = h5py.File(tmp, "w")
        with f:
            if schema.COMPLETE in f.attrs:
                del f.attrs[schema.COMPLETE]  # the copy is not finished until the end
            group = f.require_group(schema.ATTRIBUTIONS)
            if run.method in group:
                del group[run.method]
            shape = (stop - start, *run.data.shape[1:])
            ds = _create_attribution(group, run.method, shape, np.dtype(str(run.identity["dtype"])))
            ds.attrs[_RUN] = _to_json(run.identity_of(run.rank))
            ds.attrs[_ROWS_DONE] = 0
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return 0


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _chunk_generator(seed: int, chunk: int, device: torch.device) -> torch.Generator:
    """An independent generator for chunk ``chunk`` of a run seeded with ``seed``."""
    state = np.random.SeedSequence([seed, chunk]).generate_state(2, dtype=np.uint32)
    g = torch.Generator(device=device)
    g.manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    return g


def _run_shard(run: _Run) -> None:
    done = _open_partial(run)
    start, stop = run.rows
    name = f"{schema.ATTRIBUTIONS}/{run.method}"
    desc = run.method if run.world == 1 else f"{run.method} (rank 0 of {run.world})"
    bar = (
        progress_bar(stop - start, enabled=run.progress, desc=desc, unit="sample", initial=done)
        if run.rank == 0
        else None
    )
    try:
        with h5py.File(run.data.path, "r", rdcc_nbytes=_READ_CACHE_BYTES) as fin, h5py.File(
            run.partial, "r+"
        ) as fout:
            inputs = fin[schema.INPUTS]
            labels = fin[schema.TARGETS] if run.target.kind == "file" else None
            ds = fout[name]
            for a in range(start + done, stop, run.batch_size):
                b = min(a + run.batch_size, stop)
                x = _read_rows(inputs, a, b, run)
                kwargs = dict(run.call_options)
                kwargs["target"] = run.target.chunk(a, b, labels, run.device)
                if run.random:
                    kwargs["generator"] = _chunk_generator(run.seed, a // run.batch_size, run.device)
                relevance = run.attributor.attribute(x, **kwargs)
                ds[a - start : b - start] = relevance.detach().to("cpu").numpy()
                fout.flush()
                # counted only after the rows are flushed: a kill before this line redoes the chunk
                ds.attrs[_ROWS_DONE] = done = b - start
                fout.flush()
                if bar is not None:
                    bar.update(b - a)
    except BaseException:
        if done == 0 and run.fresh:  # nothing worth resuming
            run.partial.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()


def _final_attrs(run: _Run) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return {**run.attrs, "created": now, "n_samples": run.data.n}


def _finish_single(run: _Run) -> None:
    path = run.partial
    with h5py.File(path, "r+") as f:
        ds = f[f"{schema.ATTRIBUTIONS}/{run.method}"]
        if int(ds.attrs[_ROWS_DONE]) != run.data.n:  # pragma: no cover - internal invariant
            raise RuntimeError(f"{_CALLER}: {path} is not finished")
        del ds.attrs[_ROWS_DONE], ds.attrs[_RUN]
        for key, value in _final_attrs(run).items():
            ds.attrs[key] = value
        f.flush()
        f.attrs[schema.COMPLETE] = True  # last: a file without it is an interrupted write
    _fsync(path)
    os.replace(path, run.out)
    _fsync(run.out)


def _join(run: _Run) -> None:
    """Rank 0: copy every rank's part into one output file, atomically."""
    out = run.out
    tmp = temp_name(out)
    parts = [_partial_path(out, r, run.world) for r in range(run.world)]
    try:
        shutil.copyfile(run.base, tmp)
        with h5py.File(tmp, "r+") as f:
            if schema.COMPLETE in f.attrs:
                del f.attrs[schema.COMPLETE]
            group = f.require_group(schema.ATTRIBUTIONS)
            if run.method in group:
                del group[run.method]
            dtype = np.dtype(str(run.identity["dtype"]))
            ds = _create_attribution(group, run.method, run.data.shape, dtype)
            for rank, part in enumerate(parts):
                start, stop = run.rows_of(rank)
                with h5py.File(part, "r") as p:
                    src = p[f"{schema.ATTRIBUTIONS}/{run.method}"]
                    if json.loads(str(decode_attrs(src.attrs)[_RUN])) != run.identity_of(rank) or int(
                        src.attrs[_ROWS_DONE]
                    ) != stop - start:  # pragma: no cover - every rank reported success
                        raise RuntimeError(f"{_CALLER}: {part} is not the finished part of rank {rank}")
                    for a in range(0, stop - start, run.batch_size):
                        b = min(a + run.batch_size, stop - start)
                        ds[start + a : start + b] = src[a:b]
            for key, value in _final_attrs(run).items():
                ds.attrs[key] = value
            f.flush()
            f.attrs[schema.COMPLETE] = True
        _fsync(tmp)
        os.replace(tmp, out)
        _fsync(out)
    finally:
        tmp.unlink(missing_ok=True)
    for part in parts:
        part.unlink(missing_ok=True)
    run.log(f"joined {run.world} parts into {out}")


# -- torch.distributed ----------------------------------------------------------------------------


@contextlib.contextmanager
def _distributed(device_type: str) -> Iterator[tuple[int, int]]:
    """(rank, world size): an initialised process group's, torchrun's (init here), or (0, 1)."""
    import torch.distributed as dist

    if not dist.is_available():  # pragma: no cover - builds without distributed support
        yield 0, 1
        return
    if dist.is_initialized():
        yield dist.get_rank(), dist.get_world_size()
        return
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        yield 0, 1
        return
    backend = "gloo"
    if device_type == "cuda":  # pragma: no cover - needs GPUs
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "nccl"
    dist.init_process_group(backend=backend)  # env:// : MASTER_ADDR, RANK, ... set by torchrun
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        dist.destroy_process_group()


def _agree(failure: Exception | None, world: int) -> None:
    """All ranks learn whether any failed; each re-raises its own error or reports another's."""
    if world > 1:
        import torch.distributed as dist

        on_gpu = dist.get_backend() == "nccl"
        dev = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
        flag = torch.tensor([0.0 if failure is None else 1.0], device=dev)
        dist.all_reduce(flag)
        if failure is None and float(flag.item()) > 0:
            raise RuntimeError(
                f"{_CALLER}: another rank failed (its error is printed above); this rank stops "
                "too. Finished chunks are kept: fix the cause and rerun with resume (--resume)."
            )
    if failure is not None:
        raise failure


# -- the public function --------------------------------------------------------------------------


def attribute_dataset(
    model: nn.Module | Callable[[Tensor], Tensor] | str | os.PathLike,
    path: str | os.PathLike,
    method: str,
    *,
    out: str | os.PathLike,
    target: Any = None,
    weights: str | os.PathLike | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device | None = None,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    **options: Any,
) -> Path:
    """Attribute every sample of an HDF5 data set, streaming it in chunks, into an output file.

    Parameters
    ----------
    model : nn.Module, callable, str or path-like
        The model, on ``device``; or a spec that :func:`load_model` loads (then onto ``device``):
        ``"package.module:factory"`` or the path of a ``torch.export`` program (``.pt2``).
    path : str or path-like
        A physxai data file; ``/inputs`` of shape ``(n, *F)`` is read ``batch_size`` rows at a
        time and converted to the model's floating dtype (float32 for a parameter-free callable).
    method : str
        A key of :data:`physxai.METHODS`.
    out : str or path-like
        The output file: a copy of ``path`` with ``/attributions/<method>`` of shape
        ``(n, *F)`` added. If ``out`` exists and holds the same data set (``out`` may be
        ``path`` itself), its other attributions are kept.
    target : None, int, ``"targets"``, integer array ``(n,)`` or callable, optional
        What to explain: ``None`` for a model output ``(n,)`` or ``(n, 1)``, an output column,
        ``"targets"`` for each sample's label in ``path:/targets``, one column per sample, or a
        read-out ``output -> (m,)``. Checked against the model's output on the first chunk.
    weights : str or path-like, optional
        A state dict for a model given as a spec (see :func:`load_model`).
    batch_size : int, default 256
        Rows per chunk: per read, per call of the method (methods that expand the batch still
        honour their own ``max_batch_size``), per write and per resume point.
    device : str or torch.device, optional
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; default the model's device (CPU for a spec). A
        module must already be there: it is never moved. Under torchrun with ``"cuda"`` each rank
        uses ``cuda:LOCAL_RANK``.
    seed : int, default 0
        For methods that draw random numbers (SmoothGrad, LIME, Shapley sampling, Kernel and
        gradient SHAP): chunk ``k`` draws from a generator seeded from ``(seed, k)``. Ignored by
        deterministic methods.
    resume : bool, default False
        Continue an interrupted run of the same settings after its last completed chunk.
    overwrite : bool, default False
        Replace ``/attributions/<method>`` in an existing ``out`` (or an ``out`` of another data
        set), and discard an interrupted run's partial files.
    progress : bool or None, default None
        A progress bar over samples (rank 0 only); ``None``: only when stderr is a terminal and
        ``$CI`` is unset.
    log : callable, optional
        Called with one-line status messages (resuming, joining parts).
    **options
        The method's hyperparameters and ``attribute`` keywords (``n_steps=64``,
        ``composite="epsilon_plus"``, ``baseline=0.0``, ``max_batch_size``), stored as JSON
        in the dataset's ``options`` attribute. ``generator`` is refused (use ``seed``).

    Returns
    -------
    pathlib.Path
        ``out``, complete (root attribute ``complete = True``).

    Raises
    ------
    FileNotFoundError
        If the data file, the model file or the weights file does not exist.
    InvalidDataError
        If the data file is corrupt, incomplete or breaks the schema.
    FileExistsError
        If ``out`` already holds ``/attributions/<method>``, or an interrupted run left partial
        files, and neither ``overwrite`` nor ``resume`` says what to do.
    ValueError
        For an unknown method, a model spec or weights file that cannot be used (a pickled model
        instead of a state dict), inputs the model rejects or a target it does not have (the
        message names the file and dataset), a device that is unavailable or is not the
        model's, or a partial run with other settings than this one.
    TypeError
        For a method option the method does not take, ``generator``, or ``weights`` with a
        module.
    RuntimeError
        Under torch.distributed, on the ranks that did not fail when another rank failed.

    Examples
    --------
    >>> import os, tempfile, numpy as np, torch
    >>> from physxai.data import read, write
    >>> d = tempfile.mkdtemp()
    >>> _ = write(os.path.join(d, "toy.h5"), inputs=np.ones((10, 3), np.float32),
    ...           targets=np.zeros(10, np.int64))
    >>> model = torch.nn.Linear(3, 2).eval()
    >>> out = attribute_dataset(model, os.path.join(d, "toy.h5"), "saliency", target=1,
    ...                         out=os.path.join(d, "toy_saliency.h5"), batch_size=4)
    >>> r = read(out).attributions["saliency"]
    >>> r.shape, bool(np.allclose(r, model.weight[1].detach().numpy()))
    ((10, 3), True)
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"{_CALLER}: method must be one of {', '.join(sorted(METHODS))}; got {method!r}."
        )
    check_positive_int(batch_size, _CALLER, "batch_size")
    check_positive_int(seed, _CALLER, "seed", minimum=0)
    for name, flag in (("resume", resume), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise TypeError(f"{_CALLER}: {name} must be True or False; got {type(flag).__name__}.")
    if resume and overwrite:
        raise ValueError(
            f"{_CALLER}: resume and overwrite exclude each other: resume continues an "
            "interrupted run, overwrite discards it."
        )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"{_CALLER}: progress must be True, False or None; got {progress!r}.")
    if not isinstance(path, (str, os.PathLike)) or not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{_CALLER}: path and out must be file paths (str or os.PathLike).")
    data_path, out_path = Path(path), Path(out)
    if device is not None:
        try:
            device_type = torch.device(device).type
        except (RuntimeError, TypeError):
            device_type = ""  # _prepare raises the message on every rank
    else:
        found = model_device(model) if isinstance(model, nn.Module) else None
        device_type = found.type if found is not None else "cpu"

    with _distributed(device_type) as (rank, world):
        say = log or (lambda message: None)
        if world > 1:
            say = (lambda message, _say=say, _r=rank: _say(f"[rank {_r}] {message}"))
        run: _Run | None = None
        failure: Exception | None = None
        try:
            run = _prepare(
                model, data_path, method, out_path, target=target, weights=weights,
                batch_size=batch_size, device=device, seed=seed, resume=resume,
                overwrite=overwrite, progress=progress, log=say, options=dict(options),
                rank=rank, world=world,
            )
        except Exception as err:  # noqa: BLE001 - shared with the other ranks, then re-raised
            failure = err
        _agree(failure, world)
        assert run is not None
        try:
            _run_shard(run)
        except Exception as err:  # noqa: BLE001
            failure = err
        _agree(failure, world)
        if world == 1:
            _finish_single(run)
        else:
            try:
                if rank == 0:
                    _join(run)
            except Exception as err:  # noqa: BLE001
                failure = err
            _agree(failure, world)
        if rank == 0:
            for leftover in _partials(out_path):
                leftover.unlink(missing_ok=True)
    return out_path


# -- the command line -----------------------------------------------------------------------------


def parse_target(text: str) -> int | str | None:
    """``--target``: ``"none"`` -> None, ``"targets"`` -> ``"targets"``, ``"3"`` -> 3.

    Raises
    ------
    ValueError
        For anything else.
    """
    word = text.strip()
    if word.lower() == "none":
        return None
    if word == TARGETS_FROM_FILE:
        return TARGETS_FROM_FILE
    try:
        return int(word)
    except ValueError:
        raise ValueError(
            f"--target must be an output column (an int), {TARGETS_FROM_FILE!r} (each sample's "
            f"label in the file's /targets) or 'none'; got {text!r}."
        ) from None


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _text_only(method: str | None, key: str) -> bool:
    """Whether the method's option ``key`` takes text but no number (``layer``, ``composite``)."""
    if method not in METHODS:
        return False
    cls = METHODS[method]
    for fn in (cls.__init__, cls.attribute):
        param = inspect.signature(fn).parameters.get(key)
        if param is not None:
            note = str(param.annotation)
            return "str" in note and not any(w in note for w in ("int", "float", "bool"))
    return False


def parse_options(items: Sequence[str], method: str | None = None) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs as keyword arguments.

    A value is read as JSON when it parses (``64``, ``0.0``, ``true``, ``null``, ``[2, 2]``,
    lists becoming tuples) and kept as text otherwise (``epsilon_plus``). An option whose
    annotation in ``method`` takes text but no number (Grad-CAM's ``layer``) keeps its text
    (``layer=4`` names the submodule ``"4"``).

    Raises
    ------
    ValueError
        For an item without ``=``, a key that is not an identifier, or a key given twice.

    Examples
    --------
    >>> parse_options(["n_steps=64", "baseline=0.0", "composite=epsilon_plus", "window=[2, 2]"])
    {'n_steps': 64, 'baseline': 0.0, 'composite': 'epsilon_plus', 'window': (2, 2)}
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"--option must be KEY=VALUE with KEY a name (n_steps=64); got {item!r}.")
        if key in options:
            raise ValueError(f"--option {key} is given twice.")
        if _text_only(method, key):
            options[key] = text
            continue
        try:
            options[key] = _tuples(json.loads(text))
        except ValueError:
            options[key] = text
    return options


def add_attribute_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``physxai attribute``."""
    p = parser
    p.add_argument(
        "--model", required=True, metavar="SPEC",
        help="package.module:factory (imported, called with no arguments; the module must be "
        "importable, e.g. on PYTHONPATH) or a program saved with torch.export.save (.pt2)",
    )
    p.add_argument(
        "--weights", metavar="W.pt",
        help="a state dict saved with torch.save(model.state_dict(), W.pt); read with "
        "torch.load(weights_only=True), so a whole pickled model is refused",
    )
    p.add_argument("--data", required=True, metavar="D.h5", help="a physxai data file")
    p.add_argument(
        "--method", required=True, metavar="M", choices=sorted(METHODS),
        help="an attribution method: " + ", ".join(sorted(METHODS)),
    )
    p.add_argument(
        "--target", default="none", metavar="T",
        help="an output column (int), 'targets' (each sample's label in D.h5:/targets), or "
        "'none' for a model output of shape (n,) or (n, 1) (default)",
    )
    p.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE",
        help="a method option, VALUE read as JSON when it parses (n_steps=64, baseline=0.0, "
        "window=[2,2]) and as text otherwise (composite=epsilon_plus); repeat for more",
    )
    p.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="B",
        help=f"rows per chunk: read, attribute, write, resume point (default {DEFAULT_BATCH_SIZE})",
    )
    p.add_argument(
        "--device", default="cpu",
        help="cpu (default), cuda or cuda:N; under torchrun with cuda each rank takes cuda:LOCAL_RANK",
    )
    p.add_argument(
        "--seed", type=int, default=0,
        help="seed of the random methods (smoothgrad, lime, kernel_shap, ...): chunk k draws from "
        "a generator seeded from (seed, k) (default 0)",
    )
    p.add_argument("--out", required=True, metavar="A.h5", help="the output file")
    p.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted run (same arguments) after its last completed chunk",
    )
    p.add_argument(
        "--overwrite", action="store_true",
        help="replace /attributions/M in an existing --out and discard an interrupted run",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def cmd_attribute(args: argparse.Namespace) -> int:
    """Run ``physxai attribute`` from parsed arguments; returns the exit status.

    0 on success; 2 for bad arguments, missing files, a model, target or input shape that does
    not fit, or an output that exists; 1 for a corrupt data file or a failure on another rank;
    130 when interrupted (the finished chunks are kept for ``--resume``).
    """
    prefix = "physxai attribute: error:"
    try:
        target = parse_target(args.target)
        options = parse_options(args.option, args.method)
    except ValueError as err:
        print(f"{prefix} {err}", file=sys.stderr)
        return 2
    try:
        out = attribute_dataset(
            args.model, args.data, args.method, out=args.out, target=target,
            weights=args.weights, batch_size=args.batch_size, device=args.device, seed=args.seed,
            resume=args.resume, overwrite=args.overwrite,
            progress=False if args.no_progress else None, log=_stderr, **options,
        )
    except KeyboardInterrupt:
        print(
            "physxai attribute: interrupted; the finished chunks are kept: rerun the same command "
            "with --resume to continue.",
            file=sys.stderr,
        )
        return 130
    except InvalidDataError as err:
        print(f"{prefix} {err}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as err:
        print(f"{prefix} {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"{prefix} {err}", file=sys.stderr)
        return 1
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) and int(os.environ.get("RANK", "0")) == 0:
        print(f"wrote /attributions/{args.method} to {out}")
    return 0
