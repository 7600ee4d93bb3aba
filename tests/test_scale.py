"""``physxai.attribute_dataset``: streamed attribution of an HDF5 data set, resume, sharding.

The reference for every stored attribution is the in-memory attribution core: the same method on
the same rows, chunk by chunk (bit for bit) and all at once (to float64 rounding). Models are
tiny float64 networks built by factories in a module written to a temporary directory and put on
``sys.path`` (and on ``PYTHONPATH`` for the subprocess tests), as a user's package would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

import physxai
from physxai import attribute, attribute_dataset
from physxai.data import read, write
from physxai.errors import InvalidDataError
from physxai.scale import load_model

MODELS = '''
import os

import torch
from torch import nn


def _init(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.5)
    return model.eval()


def classifier():
    """(n, 4, 4) float64 -> (n, 3) logits."""
    return _init(nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).double(), 0)


def spins_cnn():
    """(n, 4, 4) float32 spins -> (n, 2)."""
    return _init(nn.Sequential(nn.Unflatten(1, (1, 4)), nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
                               nn.Flatten(), nn.Linear(32, 2)), 1)


class CrashOnChunk(nn.Module):
    """The classifier, but the process dies (os._exit: no cleanup) on forward call number
    $PHYSXAI_TEST_CRASH_AT, as a killed job would."""

    def __init__(self):
        super().__init__()
        self.net = classifier()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if str(self.calls) == os.environ.get("PHYSXAI_TEST_CRASH_AT"):
            os._exit(3)
        return self.net(x)


def crash_on_chunk():
    return CrashOnChunk().eval()


def not_a_module():
    return lambda x: x.sum(1)
'''

N, SIZE, BATCH = 40, 4, 8


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("user_models")
    (d / "physxai_test_models.py").write_text(MODELS)
    return d


@pytest.fixture
def models(models_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(models_dir))
    import physxai_test_models

    return physxai_test_models


def make_data(path: Path, n: int = N, dtype=np.float64, labels=None, size: int = SIZE) -> Path:
    rng = np.random.default_rng(1)
    if dtype == np.int8:
        x = rng.choice(np.array([-1, 1], np.int8), size=(n, size, size))
    else:
        x = rng.normal(size=(n, size, size)).astype(dtype)
    y = rng.integers(0, 3, n) if labels is None else labels
    write(path, inputs=x, targets=y, params={"temperature": np.linspace(1, 3, n)},
          attrs={"generator": "test", "seed": 1}, dims="sample,y,x")
    return path


@pytest.fixture
def data(tmp_path):
    return make_data(tmp_path / "D.h5")


def chunked(model, x, method, batch=BATCH, target=None, **options):
    """The in-memory reference: the method on the same chunks the stream reads."""
    parts = []
    for a in range(0, x.shape[0], batch):
        t = target[a : a + batch] if isinstance(target, torch.Tensor) else target
        parts.append(attribute(model, x[a : a + batch], method, target=t, **options))
    return torch.cat(parts)


# -- round trip ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, target, options",
    [
        ("saliency", "targets", {}),
        ("integrated_gradients", 1, {"n_steps": 8, "baseline": 0.0}),
        ("lrp", 2, {"composite": "epsilon"}),
        ("occlusion", 0, {"window": (2, 2)}),
    ],
)
def test_round_trip_equals_the_in_memory_attribution(models, data, tmp_path, method, target, options):
    out = attribute_dataset("physxai_test_models:classifier", data, method, out=tmp_path / "A.h5",
                            target=target, batch_size=BATCH, **options)
    assert out == tmp_path / "A.h5"
    stored = read(out)
    x = torch.from_numpy(read(data).inputs)
    model = models.classifier()
    t = torch.from_numpy(stored.targets) if target == "targets" else target
    expected = chunked(model, x, method, target=t, **options)
    got = stored.attributions[method]
    assert got.dtype == np.float64 and got.shape == (N, SIZE, SIZE)
    np.testing.assert_array_equal(got, expected.numpy())  # same chunks: bit for bit
    whole = attribute(model, x, method, target=t, **options)
    np.testing.assert_allclose(got, whole.numpy(), rtol=1e-12, atol=1e-12)
    # the output is the data set plus the attribution, with the run's record
    original = read(data)
    np.testing.assert_array_equal(stored.inputs, original.inputs)
    np.testing.assert_array_equal(stored.params["temperature"], original.params["temperature"])
    assert stored.attrs["complete"] is True
    assert {k: v for k, v in stored.attrs.items() if k != "complete"} == {
        k: v for k, v in original.attrs.items() if k != "complete"
    }
    a = stored.attribution_attrs[method]
    assert json.loads(a["options"]) == json.loads(json.dumps(options))
    assert a["model"] == "physxai_test_models:classifier"
    assert a["target"] == str(target)
    assert a["data"] == str(data.resolve())
    assert json.loads(a["data_provenance"])["generator"] == "test"
    assert a["n_samples"] == N and a["batch_size"] == BATCH and a["dims"] == "sample,y,x"
    assert "rows_done" not in a and "run" not in a
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A.h5", "D.h5"]  # no partial left


def test_int8_spins_are_read_as_the_model_dtype(models, tmp_path):
    data = make_data(tmp_path / "spins.h5", dtype=np.int8)
    out = attribute_dataset("physxai_test_models:spins_cnn", data, "gradient_x_input",
                            out=tmp_path / "A.h5", target=1, batch_size=16)
    got = read(out).attributions["gradient_x_input"]
    x = torch.from_numpy(read(data).inputs).float()
    assert got.dtype == np.float32
    expected = chunked(models.spins_cnn(), x, "gradient_x_input", batch=16, target=1)
    np.testing.assert_array_equal(got, expected.numpy())


def test_a_module_and_array_or_callable_targets(models, data, tmp_path):
    model = models.classifier()
    labels = torch.from_numpy(read(data).targets)
    by_array = attribute_dataset(model, data, "saliency", out=tmp_path / "A.h5",
                                 target=labels.numpy(), batch_size=BATCH)
    by_file = attribute_dataset(model, data, "saliency", out=tmp_path / "B.h5", target="targets",
                                batch_size=BATCH)
    np.testing.assert_array_equal(read(by_array).attributions["saliency"],
                                  read(by_file).attributions["saliency"])
    assert read(by_array).attribution_attrs["saliency"]["target"].startswith(f"array ({N},)")
    summed = attribute_dataset(model, data, "saliency", out=tmp_path / "C.h5",
                               target=lambda out: out.sum(1), batch_size=BATCH)
    x = torch.from_numpy(read(data).inputs)
    expected = attribute(model, x, "saliency", target=lambda out: out.sum(1))
    np.testing.assert_allclose(read(summed).attributions["saliency"], expected.numpy(), atol=1e-12)
    assert "callable" in read(summed).attribution_attrs["saliency"]["target"]
    assert read(by_array).attribution_attrs["saliency"]["model"] == "torch.nn.modules.container.Sequential"


def test_the_output_collects_methods_and_replaces_one_only_when_asked(models, data, tmp_path):
    out = tmp_path / "A.h5"
    spec = "physxai_test_models:classifier"
    attribute_dataset(spec, data, "saliency", out=out, target=0, batch_size=BATCH)
    attribute_dataset(spec, data, "gradient_x_input", out=out, target=0, batch_size=BATCH)
    assert sorted(read(out).attributions) == ["gradient_x_input", "saliency"]
    before = read(out).attributions["saliency"]
    with pytest.raises(FileExistsError, match=r"already holds /attributions/saliency.*overwrite"):
        attribute_dataset(spec, data, "saliency", out=out, target=1, batch_size=BATCH)
    attribute_dataset(spec, data, "saliency", out=out, target=1, batch_size=BATCH, overwrite=True)
    after = read(out)
    assert sorted(after.attributions) == ["gradient_x_input", "saliency"]
    assert after.attribution_attrs["saliency"]["target"] == "1"
    assert not np.array_equal(after.attributions["saliency"], before)


def test_an_output_of_another_data_set_is_not_mixed_in(models, data, tmp_path):
    other = make_data(tmp_path / "other.h5", n=12)
    spec = "physxai_test_models:classifier"
    with pytest.raises(ValueError, match=r"holds another data set than .*D\.h5.*overwrite"):
        attribute_dataset(spec, data, "saliency", out=other, target=0)
    attribute_dataset(spec, data, "saliency", out=other, target=0, overwrite=True)
    assert read(other).inputs.shape == (N, SIZE, SIZE)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="is not a complete physxai file"):
        attribute_dataset(spec, data, "saliency", out=broken, target=0)


def test_the_data_file_itself_can_receive_the_attribution(models, data, tmp_path):
    attribute_dataset("physxai_test_models:classifier", data, "saliency", out=data, target=0,
                      batch_size=BATCH)
    d = read(data)
    x = torch.from_numpy(d.inputs)
    np.testing.assert_array_equal(d.attributions["saliency"],
                                  chunked(models.classifier(), x, "saliency", target=0).numpy())


def test_out_in_a_new_directory_and_stale_temporary_files(models, data, tmp_path):
    out = tmp_path / "results" / "A.h5"
    attribute_dataset("physxai_test_models:classifier", data, "saliency", out=out, target=0)
    stale = out.with_name(".A.h5.99999999.0badf00d.tmp")  # a copy whose writer was killed
    stale.write_bytes(b"half a copy")
    attribute_dataset("physxai_test_models:classifier", data, "saliency", out=out, target=1,
                      overwrite=True)
    assert sorted(p.name for p in out.parent.iterdir()) == ["A.h5"]


@pytest.mark.slow  # torch.export takes about 5 s
def test_an_exported_program_is_a_model_spec(models, data, tmp_path):
    model = models.classifier()
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.zeros(4, SIZE, SIZE, dtype=torch.float64),),
                                  dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "model.pt2")
    loaded = load_model(tmp_path / "model.pt2")
    assert not loaded.training
    (tmp_path / "fake.pt2").write_bytes(b"nope")
    with pytest.raises(ValueError, match="is not a program saved with torch.export.save"):
        load_model(tmp_path / "fake.pt2")
    out = attribute_dataset(str(tmp_path / "model.pt2"), data, "integrated_gradients",
                            out=tmp_path / "A.h5", target=2, batch_size=BATCH, n_steps=4)
    x = torch.from_numpy(read(data).inputs)
    expected = chunked(model, x, "integrated_gradients", target=2, n_steps=4)
    np.testing.assert_allclose(read(out).attributions["integrated_gradients"], expected.numpy(),
                               rtol=1e-12, atol=1e-14)


# -- weights ---------------------------------------------------------------------------------------


def test_weights_load_into_the_factory_model(models, data, tmp_path):
    trained = models.classifier()
    with torch.no_grad():
        trained[1].weight.mul_(-2.0)
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    out = attribute_dataset("physxai_test_models:classifier", data, "saliency",
                            weights=tmp_path / "w.pt", out=tmp_path / "A.h5", target=0,
                            batch_size=BATCH)
    x = torch.from_numpy(read(data).inputs)
    np.testing.assert_array_equal(read(out).attributions["saliency"],
                                  chunked(trained, x, "saliency", target=0).numpy())
    a = read(out).attribution_attrs["saliency"]
    assert a["weights"] == str(tmp_path / "w.pt") and len(a["weights_sha256"]) == 64


def test_a_pickled_model_or_checkpoint_is_refused(models, tmp_path):
    model = models.classifier()
    torch.save(model, tmp_path / "whole.pt")  # pickles the class: needs unpickling code to load
    spec = "physxai_test_models:classifier"
    with pytest.raises(ValueError, match=r"whole\.pt is not a plain state dict.*model\.state_dict\(\)"):
        load_model(spec, tmp_path / "whole.pt")
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    with pytest.raises(ValueError, match=r"training checkpoint: save its entry 'state_dict'"):
        load_model(spec, tmp_path / "ckpt.pt")
    torch.save([model.state_dict()], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="must hold a state dict"):
        load_model(spec, tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint")
    with pytest.raises(ValueError, match="is not a file written by torch.save"):
        load_model(spec, tmp_path / "junk.pt")
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit the model"):
        load_model(spec, tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        load_model(spec, tmp_path / "missing.pt")


def test_model_specs_that_cannot_be_used(models, tmp_path):
    with pytest.raises(ValueError, match=r"cannot import 'no_such_pkg_xyz.models'.*PYTHONPATH"):
        load_model("no_such_pkg_xyz.models:net")
    with pytest.raises(ValueError, match="has no attribute 'missing'"):
        load_model("physxai_test_models:missing")
    with pytest.raises(TypeError, match=r"must return a torch.nn.Module; got function"):
        load_model("physxai_test_models:not_a_module")
    with pytest.raises(ValueError, match="must be 'package.module:factory'"):
        load_model("just_a_name")
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(str(tmp_path / "model.pt2"))
    with pytest.raises(TypeError, match="spec must be a string"):
        load_model(3)


# -- targets and inputs the model does not fit -----------------------------------------------------


def test_a_target_the_model_lacks_names_the_file(models, data, tmp_path):
    spec = "physxai_test_models:classifier"
    out = tmp_path / "A.h5"
    with pytest.raises(ValueError, match=r"target 5 is not an output column.*D\.h5:/inputs has shape \(8, 3\), columns 0 to 2"):
        attribute_dataset(spec, data, "saliency", out=out, target=5, batch_size=BATCH)
    with pytest.raises(ValueError, match=r"target is missing.*D\.h5:/inputs has shape \(8, 3\)"):
        attribute_dataset(spec, data, "saliency", out=out, batch_size=BATCH)
    wide = make_data(tmp_path / "wide.h5", labels=np.arange(N) % 6)
    with pytest.raises(ValueError, match=r"wide\.h5:/targets holds labels from 0 to 5.*columns 0 to 2"):
        attribute_dataset(spec, wide, "saliency", out=out, target="targets")
    regression = make_data(tmp_path / "reg.h5", labels=np.linspace(0, 1, N))
    with pytest.raises(ValueError, match=r"reg\.h5:/targets holds float64 values"):
        attribute_dataset(spec, regression, "saliency", out=out, target="targets")
    with pytest.raises(ValueError, match=r"an array target must have one column per sample.*shape \(40,\)"):
        attribute_dataset(spec, data, "saliency", out=out, target=np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="must hold integer output columns"):
        attribute_dataset(spec, data, "saliency", out=out, target=np.zeros(N))
    with pytest.raises(ValueError, match="got the string 'label'"):
        attribute_dataset(spec, data, "saliency", out=out, target="label")
    with pytest.raises(TypeError, match="got bool"):
        attribute_dataset(spec, data, "saliency", out=out, target=True)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_an_input_shape_the_model_rejects_names_the_file_and_dataset(models, tmp_path):
    data = make_data(tmp_path / "D.h5", size=5)
    with pytest.raises(ValueError, match=r"D\.h5:/inputs has shape \(40, 5, 5\) \(float64\), but the model rejects a batch"):
        attribute_dataset("physxai_test_models:classifier", data, "saliency",
                          out=tmp_path / "A.h5", target=0)


def test_bad_arguments_are_refused(models, data, tmp_path):
    spec, out = "physxai_test_models:classifier", tmp_path / "A.h5"
    with pytest.raises(ValueError, match="method must be one of .*saliency"):
        attribute_dataset(spec, data, "nope", out=out)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        attribute_dataset(spec, data, "saliency", out=out, target=0, batch_size=0)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        attribute_dataset(spec, data, "saliency", out=out, target=0, seed=-1)
    with pytest.raises(ValueError, match="resume and overwrite exclude each other"):
        attribute_dataset(spec, data, "saliency", out=out, resume=True, overwrite=True)
    with pytest.raises(TypeError, match="resume must be True or False"):
        attribute_dataset(spec, data, "saliency", out=out, resume=1)
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        attribute_dataset(spec, data, "saliency", out=out, progress="yes")
    with pytest.raises(TypeError, match="path and out must be file paths"):
        attribute_dataset(spec, data, "saliency", out=None)
    with pytest.raises(TypeError, match="generator is not an option here.*seed="):
        attribute_dataset(spec, data, "smoothgrad", out=out, target=0, generator=torch.Generator())
    with pytest.raises(TypeError, match="unexpected option.*'n_stepz'"):
        attribute_dataset(spec, data, "integrated_gradients", out=out, target=0, n_stepz=3)
    with pytest.raises(TypeError, match="weights= goes with a model spec"):
        attribute_dataset(models.classifier(), data, "saliency", out=out, target=0, weights="w.pt")
    with pytest.raises(TypeError, match="model must be an nn.Module, a callable, or a spec"):
        attribute_dataset(3, data, "saliency", out=out, target=0)
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'; got 'gpu'"):
        attribute_dataset(spec, data, "saliency", out=out, target=0, device="gpu")
    with pytest.raises(FileNotFoundError, match="no such data file"):
        attribute_dataset(spec, tmp_path / "missing.h5", "saliency", out=out, target=0)
    with pytest.raises(ValueError, match="computes in torch.bfloat16"):
        attribute_dataset(models.classifier().bfloat16(), data, "saliency", out=out, target=0)
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(models, data, tmp_path):
    with pytest.raises(ValueError, match="device='cuda' but CUDA is not available"):
        attribute_dataset("physxai_test_models:classifier", data, "saliency",
                          out=tmp_path / "A.h5", target=0, device="cuda")


def test_an_incomplete_or_corrupt_data_file_is_refused(models, data, tmp_path):
    with h5py.File(data, "r+") as f:
        del f.attrs["complete"]
    with pytest.raises(InvalidDataError, match="'complete' is missing"):
        attribute_dataset("physxai_test_models:classifier", data, "saliency",
                          out=tmp_path / "A.h5", target=0)
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"garbage")
    with pytest.raises(InvalidDataError, match="not a readable HDF5 file"):
        attribute_dataset("physxai_test_models:classifier", junk, "saliency",
                          out=tmp_path / "A.h5", target=0)


# -- resume ----------------------------------------------------------------------------------------


class Flaky(nn.Module):
    """The classifier; ``forward`` raises on call number ``fail_at`` (a crash mid-run)."""

    def __init__(self, net: nn.Module, fail_at: int | None):
        super().__init__()
        self.net, self.fail_at, self.calls = net, fail_at, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("simulated crash")
        return self.net(x)


@pytest.mark.parametrize("method, options", [("saliency", {}), ("smoothgrad", {"n_samples": 3})])
def test_resume_after_a_crash_equals_an_uninterrupted_run(models, data, tmp_path, method, options):
    full = attribute_dataset(Flaky(models.classifier(), None).eval(), data, method,
                             out=tmp_path / "full.h5", target=1, batch_size=BATCH, **options)
    out = tmp_path / "A.h5"
    # call 1 is the probe, calls 2-3 chunks 0-1 (smoothgrad: one batched call per chunk)
    model = Flaky(models.classifier(), fail_at=4).eval()
    with pytest.raises(RuntimeError, match="simulated crash"):
        attribute_dataset(model, data, method, out=out, target=1, batch_size=BATCH, **options)
    partial = tmp_path / ".A.h5.partial"
    assert not out.exists() and partial.exists()
    with pytest.raises(InvalidDataError, match="'complete' is missing"):
        read(partial)  # never looks complete
    with h5py.File(partial, "r") as f:
        assert f[f"attributions/{method}"].attrs["rows_done"] == 2 * BATCH
    with pytest.raises(FileExistsError, match=r"interrupted run left \.A\.h5\.partial.*resume=True"):
        attribute_dataset(model, data, method, out=out, target=1, batch_size=BATCH, **options)
    model.fail_at, model.calls = None, 0
    messages = []
    attribute_dataset(model, data, method, out=out, target=1, batch_size=BATCH, resume=True,
                      log=messages.append, **options)
    assert model.calls == 1 + (N // BATCH - 2)  # the probe, then only the chunks not yet done
    assert messages == [f"resuming .A.h5.partial: {2 * BATCH} of {N} rows done"]
    np.testing.assert_array_equal(read(out).attributions[method], read(full).attributions[method])
    assert not partial.exists()


def test_resume_refuses_a_run_with_other_settings(models, data, tmp_path):
    out = tmp_path / "A.h5"
    model = Flaky(models.classifier(), fail_at=3).eval()
    with pytest.raises(RuntimeError, match="simulated crash"):
        attribute_dataset(model, data, "integrated_gradients", out=out, target=1,
                          batch_size=BATCH, n_steps=4)
    model.fail_at = None
    with pytest.raises(ValueError, match=r"cannot resume .*differs from this one in options \(options: '\{\"n_steps\": 4\}' then"):
        attribute_dataset(model, data, "integrated_gradients", out=out, target=1,
                          batch_size=BATCH, n_steps=5, resume=True)
    with pytest.raises(ValueError, match=r"differs from this one in batch_size \(batch_size: 8 then, 16 now\)"):
        attribute_dataset(model, data, "integrated_gradients", out=out, target=1,
                          batch_size=2 * BATCH, n_steps=4, resume=True)
    with torch.no_grad():
        model.net[1].bias.add_(1.0)
    with pytest.raises(ValueError, match="differs from this one in model_sha256"):
        attribute_dataset(model, data, "integrated_gradients", out=out, target=1,
                          batch_size=BATCH, n_steps=4, resume=True)
    # overwrite starts over
    attribute_dataset(model, data, "integrated_gradients", out=out, target=1, batch_size=BATCH,
                      n_steps=5, overwrite=True)
    assert read(out).attribution_attrs["integrated_gradients"]["options"] == '{"n_steps": 5}'
    assert not list(tmp_path.glob(".*partial"))


def test_a_failure_before_any_chunk_leaves_nothing_behind(models, data, tmp_path):
    model = Flaky(models.classifier(), fail_at=2).eval()
    with pytest.raises(RuntimeError, match="simulated crash"):
        attribute_dataset(model, data, "saliency", out=tmp_path / "A.h5", target=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.h5"]


def test_resume_without_a_partial_run_starts_fresh(models, data, tmp_path):
    out = attribute_dataset("physxai_test_models:classifier", data, "saliency",
                            out=tmp_path / "A.h5", target=0, resume=True)
    assert read(out).attributions["saliency"].shape == (N, SIZE, SIZE)


@pytest.mark.slow
def test_resume_after_the_process_is_killed(models_dir, models, data, tmp_path, monkeypatch):
    # os._exit in the model: no finally block, no flush, no cleanup runs, as with SIGKILL
    out = tmp_path / "A.h5"
    args = ["attribute", "--model", "physxai_test_models:crash_on_chunk", "--data", str(data),
            "--method", "saliency", "--target", "2", "--batch-size", str(BATCH), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(models_dir), os.environ.get("PYTHONPATH", "")]),
           "PHYSXAI_TEST_CRASH_AT": "4"}
    proc = subprocess.run([sys.executable, "-m", "physxai", *args], env=env, check=False, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert not out.exists()
    with h5py.File(tmp_path / ".A.h5.partial", "r") as f:
        assert f["attributions/saliency"].attrs["rows_done"] == 2 * BATCH
    from physxai import cli

    monkeypatch.delenv("PHYSXAI_TEST_CRASH_AT", raising=False)
    assert cli.main([*args, "--resume"]) == 0
    x = torch.from_numpy(read(data).inputs)
    expected = chunked(models.classifier(), x, "saliency", target=2)
    np.testing.assert_array_equal(read(out).attributions["saliency"], expected.numpy())


def test_random_methods_draw_one_seeded_generator_per_chunk(models, data, tmp_path):
    spec = "physxai_test_models:classifier"
    runs = [
        attribute_dataset(spec, data, "smoothgrad", out=tmp_path / f"{name}.h5", target=0,
                          batch_size=BATCH, seed=seed, n_samples=4)
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    ]
    a, b, c = (read(p).attributions["smoothgrad"] for p in runs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert read(runs[2]).attribution_attrs["smoothgrad"]["seed"] == 1
    plain = attribute_dataset(spec, data, "saliency", out=tmp_path / "d.h5", target=0, seed=5)
    assert "seed" not in read(plain).attribution_attrs["saliency"]


# -- memory ----------------------------------------------------------------------------------------


def _peak_traced_bytes(model, data, out, batch):
    tracemalloc.start()
    try:
        attribute_dataset(model, data, "saliency", out=out, target=0, batch_size=batch,
                          overwrite=True, progress=False)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_at_a_few_chunks_whatever_the_file_size(tmp_path):
    # numpy's buffers (what h5py reads and what is written back) are traced by tracemalloc; a
    # read or write of the whole array would show as at least the file's 1.6 or 6.6 MB
    model = nn.Sequential(nn.Flatten(), nn.Linear(400, 2)).eval()
    batch = 64  # 64 rows x 400 x 4 bytes = 100 kB per chunk
    small = make_data(tmp_path / "small.h5", n=1024, dtype=np.float32, size=20)
    large = make_data(tmp_path / "large.h5", n=4096, dtype=np.float32, size=20)
    _peak_traced_bytes(model, small, tmp_path / "warm.h5", batch)  # imports, caches
    peak_small = _peak_traced_bytes(model, small, tmp_path / "s.h5", batch)
    peak_large = _peak_traced_bytes(model, large, tmp_path / "l.h5", batch)
    chunk = batch * 400 * 4
    assert peak_large < 6 * chunk, (peak_small, peak_large)
    assert peak_large < peak_small + chunk, (peak_small, peak_large)


# -- the public surface ----------------------------------------------------------------------------


def test_attribute_dataset_is_exported():
    assert "attribute_dataset" in physxai.__all__
    assert physxai.attribute_dataset is attribute_dataset
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        physxai.nope  # noqa: B018


@pytest.mark.slow  # a fresh interpreter importing torch
def test_import_physxai_does_not_load_the_data_layer():
    code = "import sys, physxai; print('h5py' in sys.modules, 'physxai.scale' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["False", "False"], proc.stderr


# -- torchrun --------------------------------------------------------------------------------------


def _torchrun(models_dir, args, n_procs=2):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(models_dir), os.environ.get("PYTHONPATH", "")])}
    env.pop("PHYSXAI_TEST_CRASH_AT", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={n_procs}", "-m", "physxai", "attribute", *args]
    return subprocess.run(cmd, env=env, check=False, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("method, options", [("integrated_gradients", ["n_steps=6"]),
                                             ("smoothgrad", ["n_samples=3"])])
def test_two_cpu_ranks_give_exactly_the_single_process_result(models_dir, models, data, tmp_path,
                                                              method, options):
    single = attribute_dataset("physxai_test_models:classifier", data, method,
                               out=tmp_path / "single.h5", target="targets", batch_size=BATCH,
                               **{k: json.loads(v) for k, v in (o.split("=") for o in options)})
    out = tmp_path / "sharded.h5"
    args = ["--model", "physxai_test_models:classifier", "--data", str(data), "--method", method,
            "--target", "targets", "--batch-size", str(BATCH), "--out", str(out)]
    for o in options:
        args += ["--option", o]
    proc = _torchrun(models_dir, args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("wrote /attributions/") == 1  # rank 0 only
    assert "joined 2 parts" in proc.stderr
    sharded = read(out)
    np.testing.assert_array_equal(sharded.attributions[method], read(single).attributions[method])
    assert sharded.attribution_attrs[method]["n_processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.h5", "sharded.h5", "single.h5"]


@pytest.mark.slow
def test_an_error_on_the_ranks_is_reported_by_every_rank(models_dir, data, tmp_path):
    args = ["--model", "physxai_test_models:classifier", "--data", str(data), "--method",
            "saliency", "--target", "7", "--out", str(tmp_path / "A.h5")]
    proc = _torchrun(models_dir, args)
    assert proc.returncode != 0
    assert proc.stderr.count("target 7 is not an output column") == 2, proc.stderr[-3000:]
    assert not (tmp_path / "A.h5").exists()
