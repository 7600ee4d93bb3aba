"""The HDF5 schema and atomic I/O: round trips, corrupt and wrong-schema files, torch views."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from physxai.data import Dataset, TensorView, describe, read, write, write_attribution
from physxai.errors import InvalidDataError

N = 6


def _arrays(rng=None):
    rng = np.random.default_rng(0) if rng is None else rng
    return {
        "inputs": rng.choice(np.array([-1, 1], dtype=np.int8), size=(N, 4, 4)),
        "targets": np.arange(N, dtype=np.int64) % 2,
        "params": {"temperature": np.linspace(1.0, 3.0, N)},
        "observables": {
            "magnetization": rng.normal(size=N).astype(np.float32),
            "energy": rng.normal(size=N),
        },
    }


@pytest.fixture
def valid(tmp_path):
    path = tmp_path / "valid.h5"
    write(path, **_arrays(), attrs={"name": "valid", "seed": 3}, dims="sample,y,x", units="spin")
    return path


def test_round_trip_keeps_every_group_dtype_and_attribute(tmp_path):
    data = _arrays()
    attrs = {
        "name": "toy",
        "generator": "ising",
        "generator_version": "2",
        "seed": 7,
        "parameters": {"lattice_size": 4, "temperatures": [1.0, 3.0]},
        "feature_names": ["a", "b", "c"],
        "critical_temperature": 2.269,
        "flag": True,
        "codes": np.array([3, 5, 6]),
    }
    path = write(tmp_path / "toy.h5", **data, attrs=attrs, dims=["sample", "y", "x"], units="spin")
    d = read(path)
    assert isinstance(d, Dataset) and d.path == path and len(d) == N and d.name == "toy"
    np.testing.assert_array_equal(d.inputs, data["inputs"])
    assert d.inputs.dtype == np.int8 and d.targets.dtype == np.int64
    np.testing.assert_array_equal(d.targets, data["targets"])
    assert set(d.params) == {"temperature"} and set(d.observables) == {"magnetization", "energy"}
    np.testing.assert_array_equal(d.params["temperature"], data["params"]["temperature"])
    for key, value in data["observables"].items():
        assert d.observables[key].dtype == value.dtype
        np.testing.assert_array_equal(d.observables[key], value)
    assert d.input_attrs == {"dims": "sample,y,x", "units": "spin"}
    assert d.dims == ("sample", "y", "x")
    assert d.parameters == attrs["parameters"]
    assert json.loads(d.attrs["parameters"]) == attrs["parameters"]
    assert d.attrs["feature_names"] == ["a", "b", "c"]
    assert d.attrs["codes"] == [3, 5, 6]
    assert d.attrs["critical_temperature"] == 2.269 and d.attrs["flag"] is True
    assert d.attrs["seed"] == 7 and d.attrs["generator"] == "ising"
    assert d.attrs["generator_version"] == "2" and d.attrs["complete"] is True
    assert d.attrs["physxai_version"] and d.attrs["created"].startswith("20")
    assert d.attributions == {}


def test_write_fills_in_provenance_and_float_targets_round_trip(tmp_path):
    x = np.zeros((3, 2), np.float32)
    y = np.array([0.5, 1.5, 2.5])
    d = read(write(tmp_path / "plain.h5", inputs=x, targets=y))
    assert d.targets.dtype == np.float64 and d.inputs.dtype == np.float32
    np.testing.assert_array_equal(d.targets, y)
    assert d.attrs["name"] == "plain" and d.attrs["generator"] == "user"
    assert d.attrs["seed"] == -1 and d.parameters == {}
    assert d.input_attrs == {"dims": "sample,axis1", "units": "dimensionless"}
    assert d.params == {} and d.observables == {}


def test_write_replaces_a_file_and_leaves_no_temporary_file(tmp_path, valid):
    write(valid, inputs=np.ones((2, 3), np.float32), targets=np.array([0, 1]))
    assert read(valid).inputs.shape == (2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valid.h5"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, valid, monkeypatch):
    before = valid.read_bytes()

    def boom(self, *args, **kwargs):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C half-way through the write

    monkeypatch.setattr(h5py.Group, "create_group", boom)
    with pytest.raises(KeyboardInterrupt):
        write(valid, **_arrays(np.random.default_rng(1)))
    monkeypatch.undo()
    assert valid.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valid.h5"]
    np.testing.assert_array_equal(read(valid).inputs, _arrays()["inputs"])


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.6, 0.95])
def test_a_truncated_file_is_invalid_data_naming_the_file(valid, keep):
    raw = valid.read_bytes()
    valid.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(InvalidDataError, match=r"valid\.h5.*(truncated|corrupt|missing)"):
        read(valid)


def test_garbage_bytes_are_invalid_data(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(InvalidDataError, match=r"garbage\.h5: not a readable HDF5 file"):
        read(path)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read(tmp_path / "absent.h5")


def _edit(path, action):
    with h5py.File(path, "r+") as f:
        action(f)


def _replace(f, key, value):
    del f[key]
    f[key] = value


@pytest.mark.parametrize(
    "action, match",
    [
        (lambda f: f.__delitem__("inputs"), r"/inputs is missing"),
        (lambda f: f.__delitem__("targets"), r"/targets is missing"),
        (lambda f: _replace(f, "targets", np.arange(N - 1)), r"/targets must have shape \(6,\)"),
        (
            lambda f: _replace(f, "params/temperature", np.ones(N + 2)),
            r"/params/temperature must have shape \(6,\).*got \(8,\)",
        ),
        (
            lambda f: _replace(f, "observables/energy", np.ones((N, 2))),
            r"/observables/energy must have shape \(6,\)",
        ),
        (lambda f: f.attrs.__delitem__("complete"), r"root attribute 'complete' is missing"),
        (lambda f: f.attrs.__setitem__("complete", False), r"'complete' is missing"),
        (lambda f: f.attrs.__delitem__("seed"), r"root attribute 'seed' is missing"),
        (lambda f: f.attrs.__setitem__("parameters", "{not json"), r"'parameters' is not valid"),
        (lambda f: f.attrs.__setitem__("parameters", "[1, 2]"), r"must be a JSON object"),
        (lambda f: f["inputs"].attrs.__delitem__("dims"), r"/inputs attribute 'dims' is missing"),
        (lambda f: f["inputs"].attrs.__setitem__("dims", "sample,x"), r"must name 3 axes"),
        (
            lambda f: _replace(f, "inputs", np.array(["a"] * N, dtype="S1")),
            r"/inputs must hold numbers",
        ),
        (lambda f: _replace(f, "targets", np.array([b"x"] * N)), r"/targets must hold"),
        (lambda f: _replace(f, "params", np.ones(N)), r"/params must be a group"),
        (
            lambda f: f.create_dataset("attributions/saliency", data=np.ones((N + 1, 4, 4))),
            r"/attributions/saliency must have shape \(6, \.\.\.\)",
        ),
    ],
)
def test_a_wrong_schema_names_the_file_and_the_path(valid, action, match):
    _edit(valid, action)
    with pytest.raises(InvalidDataError, match=r"valid\.h5: .*" + match):
        read(valid)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"targets": np.arange(N + 1)}, ValueError, r"targets must have shape \(6,\)"),
        ({"params": {"temperature": np.ones(N - 1)}}, ValueError, r"params\['temperature'\]"),
        ({"observables": {"e": np.ones((N, 1))}}, ValueError, r"observables\['e'\] must have"),
        ({"params": {"a/b": np.ones(N)}}, ValueError, r"params names must be .* without '/'"),
        ({"params": [np.ones(N)]}, TypeError, r"params must be a dict"),
        ({"inputs": torch.ones(N, 2)}, TypeError, r"got a torch.Tensor"),
        ({"inputs": np.array(["a"] * N)}, TypeError, r"inputs must hold numbers"),
        ({"inputs": np.float32(1.0)}, ValueError, r"inputs must have shape \(n, \.\.\.\)"),
        ({"dims": "sample,x"}, ValueError, r"dims must name the 3 axes"),
        ({"attrs": {"complete": True}}, ValueError, r"must not set 'complete'"),
        ({"attrs": {"bad": object()}}, TypeError, r"attrs\['bad'\] must be"),
        ({"attrs": {"parameters": "{oops"}}, ValueError, r"not JSON"),
        ({"attrs": {"parameters": 3}}, TypeError, r"attrs\['parameters'\] must be a dict"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, change, error, match):
    kwargs = {**_arrays(), "dims": "sample,y,x", **change}
    with pytest.raises(error, match=r"physxai\.data\.write: .*" + match):
        write(tmp_path / "bad.h5", **kwargs)
    assert not list(tmp_path.iterdir())


def test_write_attribution_adds_a_dataset_atomically(valid, tmp_path):
    values = np.random.default_rng(2).normal(size=(N, 4, 4))
    write_attribution(valid, "saliency", values, options={"mode": "abs"}, model="m.pt", target="1")
    d = read(valid)
    np.testing.assert_array_equal(d.attributions["saliency"], values)
    assert json.loads(d.attribution_attrs["saliency"]["options"]) == {"mode": "abs"}
    assert d.attribution_attrs["saliency"]["model"] == "m.pt"
    write_attribution(valid, "saliency", 2 * values)  # replaces the method's dataset
    np.testing.assert_array_equal(read(valid).attributions["saliency"], 2 * values)
    np.testing.assert_array_equal(read(valid).inputs, _arrays()["inputs"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valid.h5"]


@pytest.mark.parametrize(
    "method, values, match",
    [
        ("saliency", np.ones((N + 1, 4, 4)), r"values must have shape \(6, \.\.\.\)"),
        ("a/b", np.ones((N, 4, 4)), r"method must be a non-empty name"),
        ("", np.ones((N, 4, 4)), r"method must be a non-empty name"),
    ],
)
def test_write_attribution_rejects_bad_arguments(valid, method, values, match):
    with pytest.raises(ValueError, match=match):
        write_attribution(valid, method, values)


def test_describe_lists_paths_shapes_dtypes_and_provenance(valid):
    text, ok = describe(valid)
    assert ok
    assert "/inputs" in text and "(6, 4, 4)" in text and "int8" in text
    assert "/params/temperature" in text and "float64" in text
    assert "provenance:" in text and "seed" in text and "check: ok (6 samples)" in text
    _edit(valid, lambda f: f.__delitem__("targets"))
    text, ok = describe(valid)
    assert not ok and "check: INVALID" in text and "/targets is missing" in text


def test_describe_of_a_corrupt_file_raises(valid):
    valid.write_bytes(valid.read_bytes()[:100])
    with pytest.raises(InvalidDataError, match="valid.h5"):
        describe(valid)


def test_tensor_view_serves_input_target_pairs(valid):
    d = read(valid)
    view = d.torch_dataset()
    assert isinstance(view, TensorView) and len(view) == N
    x, y = view[2]
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape == (4, 4)
    assert torch.equal(x, torch.from_numpy(d.inputs[2]).float())
    assert int(y) == d.targets[2]
    xb, yb = next(iter(DataLoader(view, batch_size=4, shuffle=False)))
    assert xb.shape == (4, 4, 4) and yb.tolist() == d.targets[:4].tolist()
    regression = Dataset(inputs=d.inputs, targets=d.params["temperature"])
    x64, y64 = TensorView(regression, dtype=torch.float64)[0]
    assert x64.dtype == torch.float64 and y64.dtype == torch.float64
    assert "TensorView" in repr(view) and "valid" in repr(d)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.ones(3),), r"TensorView: dataset must be a physxai.data.Dataset"),
        ((Dataset(np.ones((2, 2)), np.ones(2)), torch.int64), r"dtype must be a floating"),
        ((Dataset(np.ones((2, 2)), np.ones(2)), torch.float32, "long"), r"target_dtype must be"),
    ],
)
def test_tensor_view_rejects_bad_arguments(args, match):
    with pytest.raises(TypeError, match=match):
        TensorView(*args)


def test_written_file_is_fsynced_and_renamed(tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1]
    )
    write(tmp_path / "x.h5", inputs=np.ones((2, 1), np.float32), targets=np.zeros(2))
    assert calls[:2] == ["fsync", "replace"]
