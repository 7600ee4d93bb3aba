"""``physxai attribute`` through ``physxai.cli.main``: arguments, output, exit codes, messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from physxai import attribute, attribute_dataset, cli
from physxai.data import read, write
from physxai.scale import parse_options, parse_target

MODELS = '''
import torch
from torch import nn


def net():
    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model.eval()
'''


@pytest.fixture
def setup(tmp_path, monkeypatch):
    (tmp_path / "cli_attr_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    write(tmp_path / "D.h5", inputs=rng.normal(size=(30, 3, 3)), targets=rng.integers(0, 2, 30))
    import cli_attr_models

    return tmp_path, cli_attr_models.net()


ARGS = ["attribute", "--model", "cli_attr_models:net", "--data", "D.h5", "--out", "A.h5"]


def test_attribute_writes_what_the_python_api_writes(setup, capsys):
    tmp_path, model = setup
    code = cli.main([*ARGS, "--method", "integrated_gradients", "--target", "targets",
                     "--option", "n_steps=16", "--option", "baseline=0.0", "--batch-size", "7"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "wrote /attributions/integrated_gradients to A.h5"
    stored = read(tmp_path / "A.h5")
    assert json.loads(stored.attribution_attrs["integrated_gradients"]["options"]) == {
        "n_steps": 16, "baseline": 0.0}
    assert stored.attribution_attrs["integrated_gradients"]["model"] == "cli_attr_models:net"
    assert stored.attribution_attrs["integrated_gradients"]["target"] == "targets"
    api = attribute_dataset(model, tmp_path / "D.h5", "integrated_gradients", out=tmp_path / "B.h5",
                            target="targets", batch_size=7, n_steps=16, baseline=0.0)
    np.testing.assert_array_equal(stored.attributions["integrated_gradients"],
                                  read(api).attributions["integrated_gradients"])
    x = torch.from_numpy(stored.inputs)
    whole = attribute(model, x, "integrated_gradients", target=torch.from_numpy(stored.targets),
                      n_steps=16)
    np.testing.assert_allclose(stored.attributions["integrated_gradients"], whole.numpy(), atol=1e-12)


def test_text_options_and_a_second_method_into_the_same_file(setup):
    tmp_path, _ = setup
    assert cli.main([*ARGS, "--method", "lrp", "--target", "1", "--option", "composite=epsilon",
                     "--no-progress"]) == 0
    assert cli.main([*ARGS, "--method", "saliency", "--target", "0", "--option", "mode=abs"]) == 0
    stored = read(tmp_path / "A.h5")
    assert sorted(stored.attributions) == ["lrp", "saliency"]
    assert json.loads(stored.attribution_attrs["lrp"]["options"]) == {"composite": "epsilon"}


@pytest.mark.parametrize(
    "extra, code, message",
    [
        (["--method", "saliency", "--target", "5"], 2, "target 5 is not an output column"),
        (["--method", "saliency"], 2, "target is missing: the model output for D.h5:/inputs"),
        (["--method", "saliency", "--target", "first"], 2, "--target must be an output column"),
        (["--method", "saliency", "--target", "0", "--option", "n_steps"], 2, "--option must be KEY=VALUE"),
        (["--method", "integrated_gradients", "--target", "0", "--option", "n_stepz=4"], 2,
         "unexpected option(s) 'n_stepz'"),
        (["--method", "saliency", "--target", "0", "--weights", "w.pt"], 2, "no such weights file"),
        (["--method", "saliency", "--target", "0", "--device", "tpu:x"], 2, "device must be"),
    ],
)
def test_errors_exit_2_with_a_message(setup, capsys, extra, code, message):
    assert cli.main([*ARGS, *extra]) == code
    err = capsys.readouterr().err
    assert err.startswith("physxai attribute: error:") and message in err, err
    assert "Traceback" not in err


def test_a_pickled_model_as_weights_is_refused_on_the_command_line(setup, capsys):
    tmp_path, model = setup
    torch.save(model, tmp_path / "whole.pt")
    assert cli.main([*ARGS, "--method", "saliency", "--target", "0", "--weights", "whole.pt"]) == 2
    assert "save the weights with torch.save(model.state_dict()" in capsys.readouterr().err.lower()


def test_an_input_shape_the_model_rejects(setup, capsys):
    tmp_path, _ = setup
    write(tmp_path / "E.h5", inputs=np.zeros((5, 4, 4)), targets=np.zeros(5, np.int64))
    args = ["attribute", "--model", "cli_attr_models:net", "--data", "E.h5", "--method",
            "saliency", "--target", "0", "--out", "A.h5"]
    assert cli.main(args) == 2
    assert "E.h5:/inputs has shape (5, 4, 4) (float64), but the model rejects" in capsys.readouterr().err


def test_an_existing_output_and_a_corrupt_data_file(setup, capsys):
    tmp_path, _ = setup
    assert cli.main([*ARGS, "--method", "saliency", "--target", "0"]) == 0
    assert cli.main([*ARGS, "--method", "saliency", "--target", "0"]) == 2
    assert "already holds /attributions/saliency" in capsys.readouterr().err
    assert cli.main([*ARGS, "--method", "saliency", "--target", "1", "--overwrite"]) == 0
    (tmp_path / "D.h5").write_bytes(b"broken")
    assert cli.main([*ARGS, "--method", "saliency", "--target", "0", "--overwrite"]) == 1
    assert "not a readable HDF5 file" in capsys.readouterr().err


def test_an_unknown_method_is_an_argparse_error(setup, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([*ARGS, "--method", "nope"])
    assert exc.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_parse_target_and_options():
    assert parse_target("none") is None and parse_target("None") is None
    assert parse_target("targets") == "targets" and parse_target(" 3 ") == 3
    with pytest.raises(ValueError, match="got 'x'"):
        parse_target("x")
    assert parse_options(["n_steps=64", "baseline=0.0", "composite=epsilon_plus", "window=[2, 2]",
                          "periodic=true", "base_options={\"mode\": \"abs\"}"]) == {
        "n_steps": 64, "baseline": 0.0, "composite": "epsilon_plus", "window": (2, 2),
        "periodic": True, "base_options": {"mode": "abs"}}
    # an option that takes text but no number keeps its text: the Sequential submodule "4"
    assert parse_options(["layer=4"], "grad_cam") == {"layer": "4"}
    assert parse_options(["layer=4"]) == {"layer": 4}
    assert parse_options(["window=3"], "occlusion") == {"window": 3}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["=3"])
    with pytest.raises(ValueError, match="given twice"):
        parse_options(["a=1", "a=2"])
