"""The experiment harness: claims, overrides, the results writer and the table."""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import h5py
import numpy as np
import pytest
import torch

from physxai import harness
from physxai.harness import (
    ExperimentConfig,
    Reference,
    apply_overrides,
    check_claims,
    format_claims,
    run_experiment,
    save_arrays,
)

FAKE_EXPERIMENT = '''
"""Fake et al. 2024, a toy experiment for the harness tests (arXiv:0000.00000).

Reproduces nothing; quick and full both take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from physxai.harness import ExperimentConfig, Reference, save_arrays, save_figure


@dataclass(frozen=True)
class Config(ExperimentConfig):
    scale: float = 1.0
    n_points: int = 4
    sizes: tuple[int, ...] = (1, 2)
    label: str | None = None
    plot: bool = False


PRESETS = {"quick": Config(n_points=3), "full": Config(n_points=8)}


def CLAIMS(preset):
    claims = {
        "scale": Reference(1.0, tol=0.1, source="Eq. (1)"),
        "positive": Reference(None, low=0.0),
    }
    if preset == "full":
        claims["absent"] = Reference(2.0, low=1.5, high=2.5, source="Fig. 2")
    return claims


def run(cfg, out_dir):
    noise = torch.rand(cfg.n_points)  # global RNG: the harness seeds it from cfg.seed
    if cfg.plot:
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot(noise.numpy())
        save_figure(fig, out_dir, "noise")
    save_arrays(out_dir, {"noise": noise}, {"noise": {"units": "1", "dims": "point"}},
                source_dataset="none")
    return {"scale": cfg.scale, "positive": 1.0, "noise0": float(noise[0]),
            "sizes": list(cfg.sizes), "label": cfg.label}


if __name__ == "__main__":
    from physxai.harness import main

    raise SystemExit(main())
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake experiment written to tmp_path/exps and findable through $PHYSXAI_EXPERIMENTS."""
    exps = tmp_path / "exps"
    exps.mkdir()
    (exps / "fake2024_toy.py").write_text(FAKE_EXPERIMENT)
    monkeypatch.setenv("PHYSXAI_EXPERIMENTS", str(exps))
    monkeypatch.chdir(tmp_path)
    return exps / "fake2024_toy.py"


# ---------------------------------------------------------------------------------------------
# Reference


@pytest.mark.parametrize(
    "ref, ours, ok",
    [
        (Reference(None, low=2.0, high=3.0), 2.0, True),  # bounds are inclusive
        (Reference(None, low=2.0, high=3.0), 3.0, True),
        (Reference(None, low=2.0, high=3.0), np.nextafter(2.0, 0), False),
        (Reference(None, low=2.0, high=3.0), np.nextafter(3.0, 4), False),
        (Reference(None, low=0.95), 0.95, True),
        (Reference(None, low=0.95), 0.9499, False),
        (Reference(None, high=0.1), 0.1, True),
        (Reference(None, high=0.1), 0.1001, False),
        (Reference(1.0, tol=0.5), 1.5, True),  # |d| = tol exactly (binary-exact numbers)
        (Reference(1.0, tol=0.5), 0.5, True),
        (Reference(1.0, tol=0.5), 1.5000001, False),
        (Reference(1.0, tol=0.0), 1.0, True),
        (Reference(1.0, tol=1.0, low=0.5), 0.25, False),  # every condition must hold
        (Reference(None, low=0.0), float("nan"), False),
        (Reference(None, low=0.0), None, False),
        (Reference(None, low=0.0), float("inf"), True),
        (Reference(None, high=0.0), float("-inf"), True),
        (Reference(None, low=1.0), True, True),
        (Reference(None, low=1.0), "1.5", True),
        (Reference(None, low=1.0), "high", False),
    ],
)
def test_reference_check_boundaries(ref, ours, ok):
    assert ref.check(ours) is ok


@pytest.mark.parametrize(
    "ref, text",
    [
        (Reference(2.269, low=2.1, high=2.45), "in [2.10, 2.45]"),
        (Reference(None, low=0.95), ">= 0.95"),
        (Reference(None, high=0.1), "<= 0.10"),
        (Reference(2.269, tol=0.05), "|d| <= 0.05"),
        (Reference(20.0, low=20), ">= 20"),
        (Reference(1.0, tol=0.1, high=1.05), "<= 1.05 and |d| <= 0.10"),
        (Reference(0.0, tol=1e-6), "|d| <= 1e-06"),
    ],
)
def test_reference_criterion_text(ref, text):
    assert ref.criterion == text


def test_reference_kind_defaults():
    assert Reference(2.269, tol=0.05).kind == "paper"
    assert Reference(None, low=0.9).kind == "ours"
    assert Reference(2.269, tol=0.05, kind="exact").kind == "exact"


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((1.0,), {}, ValueError, "give an acceptance criterion"),
        ((None,), {"tol": 0.1}, ValueError, "tol needs the paper's value"),
        ((1.0,), {"tol": -0.1}, ValueError, "tol must be >= 0"),
        ((None,), {"low": 2.0, "high": 1.0}, ValueError, "low must be <= high"),
        ((1.0,), {"tol": 0.1, "kind": "guess"}, ValueError, "kind must be one of"),
        ((float("nan"),), {"tol": 0.1}, ValueError, "value must be a finite number"),
        (("2.269",), {"tol": 0.1}, ValueError, "value must be a finite number"),
        ((1.0,), {"tol": 0.1, "source": 3}, TypeError, "source must be a str"),
    ],
)
def test_reference_rejects_bad_arguments(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        Reference(*args, **kwargs)


def test_reference_value_is_positional_only_the_rest_keyword():
    with pytest.raises(TypeError):
        Reference(1.0, 0.1)  # tol must be named


def test_claims_table():
    claims = {
        "T* from <|z|>": Reference(2.269, low=2.10, high=2.45, source="Fig. 3"),
        "|r(PC1, M)|": Reference(None, low=0.95),
        "absent": Reference(1.0, tol=0.1),
    }
    results = check_claims(claims, {"T* from <|z|>": 2.281, "|r(PC1, M)|": 0.9, "other": 1.0})
    assert [r.status for r in results] == ["pass", "fail", "missing"]
    lines = format_claims(results).splitlines()
    assert lines[0].split() == ["claim", "paper", "ours", "criterion", "ok"]
    assert re.fullmatch(r"T\* from <\|z\|> +2\.269 +2\.281 +in \[2\.10, 2\.45\] +yes", lines[1])
    assert re.fullmatch(r"\|r\(PC1, M\)\| +- +0\.90 +>= 0\.95 +no", lines[2])
    assert re.fullmatch(r"absent +1 +missing +\|d\| <= 0\.10 +no", lines[3])
    # the columns line up: every row has "paper" where the header has it
    col = lines[0].index("paper")
    assert all(line[col - 2 : col] == "  " for line in lines)


# ---------------------------------------------------------------------------------------------
# apply_overrides


@dataclass(frozen=True)
class Knobs(ExperimentConfig):
    lattice_size: int = 32
    temperature: float = 2.269
    wolff: bool = True
    name: str = "ising"
    temperatures: tuple[float, ...] = (1.5, 3.0)
    window: tuple[int, int] = (2, 2)
    layers: list[str] = ("a",)  # type: ignore[assignment]
    epochs: Optional[int] = None  # noqa: UP045  (typing.Union, beside int | None below)
    width: int | None = 8
    method: Literal["lrp", "ig"] = "lrp"
    cache: Path = Path("cache")
    anything: tuple = ()


@pytest.mark.parametrize(
    "override, field, value",
    [
        ("lattice_size=16", "lattice_size", 16),
        ("lattice_size=20_000", "lattice_size", 20000),
        ("lattice_size=1e4", "lattice_size", 10000),
        ("temperature=3", "temperature", 3.0),
        ("temperature=-1.5e-3", "temperature", -1.5e-3),
        ("wolff=false", "wolff", False),
        ("wolff=No", "wolff", False),
        ("wolff=1", "wolff", True),
        ("wolff=on", "wolff", True),
        ("name=hubbard chain", "name", "hubbard chain"),
        ("name=a=b", "name", "a=b"),
        ("temperatures=1,2.5,3", "temperatures", (1.0, 2.5, 3.0)),
        ("temperatures=(1.0, 2.0)", "temperatures", (1.0, 2.0)),
        ("temperatures=[2]", "temperatures", (2.0,)),
        ("temperatures=2,", "temperatures", (2.0,)),
        ("temperatures=()", "temperatures", ()),
        ("window=3,1", "window", (3, 1)),
        ("layers=conv1,conv2", "layers", ["conv1", "conv2"]),
        ("epochs=none", "epochs", None),
        ("epochs=5", "epochs", 5),
        ("width=None", "width", None),
        ("width=4", "width", 4),
        ("method=ig", "method", "ig"),
        ("cache=/tmp/x", "cache", Path("/tmp/x")),
        ("anything=1,2.5,x", "anything", (1, 2.5, "x")),
        ("seed=3", "seed", 3),
        ("device=cuda:0", "device", "cuda:0"),
        (" lattice_size = 8 ", "lattice_size", 8),
    ],
)
def test_apply_overrides_converts_types(override, field, value):
    cfg = Knobs()
    new = apply_overrides(cfg, [override])
    got = getattr(new, field)
    assert got == value and type(got) is type(value)
    assert cfg == Knobs()  # the preset is unchanged


def test_apply_overrides_later_wins_and_no_overrides_is_identity():
    cfg = Knobs()
    assert apply_overrides(cfg, ["lattice_size=8", "lattice_size=4"]).lattice_size == 4
    assert apply_overrides(cfg, []) is cfg
    assert apply_overrides(cfg, "seed=2").seed == 2  # one string is one override


@pytest.mark.parametrize(
    "override, error, match",
    [
        (
            "size=8",
            ValueError,
            r"unknown config key 'size' for Knobs; valid keys: anything, cache, device, epochs, lattice_size",
        ),
        ("lattice_size", ValueError, "must be a 'key=value' string"),
        ("lattice_size=big", ValueError, r"lattice_size must be int; got 'big'"),
        ("lattice_size=2.5", ValueError, "lattice_size must be int"),
        ("temperature=hot", ValueError, "temperature must be float"),
        ("wolff=maybe", ValueError, "Use true or false"),
        ("epochs=many", ValueError, r"epochs must be Optional\[int\]; got 'many'. Use 'none'"),
        ("window=1,2,3", ValueError, "Expected 2 comma-separated values"),
        ("temperatures=1,x", ValueError, "temperatures must be float; got 'x'"),
        ("method=shap", ValueError, r"method must be one of 'lrp', 'ig'"),
    ],
)
def test_apply_overrides_rejects(override, error, match):
    with pytest.raises(error, match=match):
        apply_overrides(Knobs(), [override])


def test_apply_overrides_rejects_unsupported_types_and_non_dataclasses():
    @dataclass(frozen=True)
    class Odd(ExperimentConfig):
        table: dict = None  # type: ignore[assignment]

    with pytest.raises(ValueError, match="which --set cannot parse"):
        apply_overrides(Odd(), ["table=a"])
    with pytest.raises(TypeError, match="cfg must be a dataclass instance"):
        apply_overrides({"seed": 0}, ["seed=1"])


# ---------------------------------------------------------------------------------------------
# running an experiment


def test_run_experiment_writes_every_file_and_prints_the_table(fake, tmp_path, capsys):
    out = tmp_path / "run1"
    result = run_experiment(
        "fake2024_toy", "quick", ["scale=1.05", "plot=true", "label=x", "sizes=3,4"], out=out
    )
    printed = capsys.readouterr().out
    assert result.out_dir == out and result.name == "fake2024_toy" and result.passed
    for name in (
        "config.json",
        "env.json",
        "metrics.json",
        "claims.json",
        "arrays.h5",
        "fig_noise.png",
        "fig_noise.pdf",
    ):
        assert (out / name).is_file(), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    config = json.loads((out / "config.json").read_text())
    assert config["experiment"] == "fake2024_toy" and config["preset"] == "quick"
    assert config["config"]["scale"] == 1.05 and config["config"]["sizes"] == [3, 4]
    assert config["config"]["n_points"] == 3 and config["config"]["class"] == "Config"
    env = json.loads((out / "env.json").read_text())
    for key in ("python", "torch", "numpy", "physxai", "git_commit", "device", "seed", "hostname"):
        assert key in env
    assert env["torch"] == torch.__version__ and env["seed"] == 0 and env["wall_seconds"] >= 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scale"] == 1.05 and metrics["sizes"] == [3, 4] and metrics["label"] == "x"
    claims = json.loads((out / "claims.json").read_text())
    assert [c["claim"] for c in claims] == ["scale", "positive"]
    assert claims[0] == {
        "claim": "scale",
        "paper": 1.0,
        "ours": 1.05,
        "criterion": "|d| <= 0.10",
        "ok": True,
        "status": "pass",
        "source": "Eq. (1)",
        "kind": "paper",
    }
    with h5py.File(out / "arrays.h5") as f:
        assert f["noise"].shape == (3,)
        assert f["noise"].attrs["units"] == "1" and f["noise"].attrs["dims"] == "point"
        assert f["noise"].attrs["source_dataset"] == "none"
    lines = printed.splitlines()
    assert lines[0] == f"fake2024_toy (quick): results in {out}"
    assert lines[1].split() == ["claim", "paper", "ours", "criterion", "ok"]
    assert re.fullmatch(r"scale +1 +1\.05 +\|d\| <= 0\.10 +yes", lines[2])
    assert re.fullmatch(r"positive +- +1 +>= 0 +yes", lines[3])
    assert lines[4] == "all claims pass"


def test_run_experiment_is_seeded_and_restores_global_rngs(fake, tmp_path):
    state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    a = run_experiment(fake, out=tmp_path / "a", stream=_Null())
    b = run_experiment(fake, out=tmp_path / "b", stream=_Null())
    c = run_experiment(fake, overrides=["seed=1"], out=tmp_path / "c", stream=_Null())
    assert a.metrics["noise0"] == b.metrics["noise0"] != c.metrics["noise0"]
    assert torch.equal(torch.get_rng_state(), state)
    assert np.array_equal(np.random.get_state()[1], np_state)


def test_claims_can_differ_per_preset_and_missing_metrics_fail(fake, tmp_path, capsys):
    result = run_experiment(fake, "full", out=tmp_path / "full", check=True)
    printed = capsys.readouterr().out
    assert [c.name for c in result.claims] == ["scale", "positive", "absent"]
    assert result.claims[2].status == "missing" and not result.passed and result.exit_code == 1
    assert re.search(r"absent +2 +missing +in \[1\.50, 2\.50\] +no", printed)
    assert "1 of 3 claims fail" in printed


def test_exit_code_needs_check(fake, tmp_path):
    failing = ["scale=5"]
    assert (
        run_experiment(fake, overrides=failing, out=tmp_path / "x", stream=_Null()).exit_code == 0
    )
    assert (
        run_experiment(
            fake, overrides=failing, out=tmp_path / "y", check=True, stream=_Null()
        ).exit_code
        == 1
    )


def test_default_results_directory(fake, tmp_path):
    first = run_experiment("fake2024_toy", stream=_Null())
    second = run_experiment("fake2024_toy", stream=_Null())
    assert re.fullmatch(r"quick-\d{8}-\d{6}(-\d+)?", first.out_dir.name)
    assert first.out_dir.parent == Path("results") / "fake2024_toy"
    assert first.out_dir != second.out_dir  # two runs in one second do not collide
    assert (tmp_path / first.out_dir / "metrics.json").is_file()


def test_main_of_an_experiment(fake, tmp_path, capsys):
    module = harness.load_experiment(fake)
    assert harness.main(["--out", str(tmp_path / "m"), "--check"], module=module) == 0
    assert (
        harness.main(["--out", str(tmp_path / "n"), "--check", "--set", "scale=2"], module=module)
        == 1
    )
    assert harness.main(["--preset", "huge"], module=module) == 2
    assert "preset must be one of 'quick', 'full'; got 'huge'" in capsys.readouterr().err


def test_run_experiment_rejects_bad_modules(fake, tmp_path):
    with pytest.raises(
        ValueError, match=r"unknown experiment 'nope'; known experiments: (.*, )?fake2024_toy"
    ):
        run_experiment("nope")
    with pytest.raises(ValueError, match="preset must be one of 'quick', 'full'"):
        run_experiment(fake, "medium")
    with pytest.raises(ValueError, match="unknown config key 'size'"):
        run_experiment(fake, overrides=["size=3"])
    bad = tmp_path / "exps" / "broken2024_x.py"
    bad.write_text('"""Broken."""\nPRESETS = {}\n')
    with pytest.raises(TypeError, match=r"must define run\(cfg, out_dir\)"):
        run_experiment("broken2024_x")
    bad.write_text('"""Broken."""\ndef run(cfg, out):\n    return {}\nPRESETS = {}\n')
    with pytest.raises(TypeError, match="must define PRESETS"):
        run_experiment("broken2024_x")
    bad.write_text('"""Broken."""\ndef run(cfg, out):\n    return {}\nPRESETS = {"quick": 3}\n')
    with pytest.raises(TypeError, match=r"PRESETS\['quick'\] must be a Config instance"):
        run_experiment("broken2024_x")
    bad.write_text(
        '"""Broken."""\nfrom physxai.harness import ExperimentConfig\n'
        'def run(cfg, out):\n    return {}\nPRESETS = {"quick": ExperimentConfig()}\nCLAIMS = {"x": 1.0}\n'
    )
    with pytest.raises(TypeError, match="CLAIMS must map metric names"):
        run_experiment("broken2024_x")
    bad.write_text(
        '"""Broken."""\nfrom physxai.harness import ExperimentConfig\n'
        'def run(cfg, out):\n    return [1.0]\nPRESETS = {"quick": ExperimentConfig()}\n'
    )
    with pytest.raises(TypeError, match="must return a dict of metrics; got list"):
        run_experiment("broken2024_x", out=tmp_path / "b", stream=_Null())
    bad.write_text(
        '"""Broken."""\nfrom physxai.harness import ExperimentConfig\n'
        'def run(cfg, out):\n    return {"x": object()}\nPRESETS = {"quick": ExperimentConfig()}\n'
    )
    with pytest.raises(TypeError, match="metric 'x' must be a number"):
        run_experiment("broken2024_x", out=tmp_path / "c", stream=_Null())


def test_find_experiments_skips_private_files_and_reads_summaries(fake):
    (fake.parent / "_helpers.py").write_text("x = 1\n")
    found = harness.find_experiments()
    assert found["fake2024_toy"] == fake and "_helpers" not in found
    summary = harness.experiment_summary(fake)
    assert summary == "Fake et al. 2024, a toy experiment for the harness tests (arXiv:0000.00000)."


# ---------------------------------------------------------------------------------------------
# arrays and figures


def test_save_arrays_appends_and_validates(tmp_path):
    save_arrays(
        tmp_path, {"attributions/lrp": torch.ones(2, 3)}, {"attributions/lrp": {"dims": "sample,x"}}
    )
    save_arrays(
        tmp_path,
        {"attributions/ig": np.zeros((2, 3)), "labels": [0, 1]},
        {"labels": {"units": "class", "classes": ["a", "b"]}},
        source_dataset="ising_L8",
    )
    with h5py.File(tmp_path / "arrays.h5") as f:
        assert set(f["attributions"]) == {"lrp", "ig"}  # the earlier array is kept
        assert f["attributions/lrp"].attrs["dims"] == "sample,x"
        assert f["labels"].attrs["units"] == "class"
        assert json.loads(f["labels"].attrs["classes"]) == ["a", "b"]
        assert f["attributions/ig"].attrs["source_dataset"] == "ising_L8"
        assert "physxai_version" in f.attrs
    with pytest.raises(ValueError, match=r"dims of 'r' must name its 2 axes; got dims 'sample'"):
        save_arrays(tmp_path, {"r": np.zeros((2, 2))}, {"r": {"dims": "sample"}})
    with pytest.raises(ValueError, match="attrs name arrays that are not given: q"):
        save_arrays(tmp_path, {"r": np.zeros(2)}, {"q": {"units": "1"}})


def test_save_figure_rejects_bad_names(tmp_path):
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="name must be a file-name stem"):
        harness.save_figure(Figure(), tmp_path, "a/b")
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        harness.save_figure("figure", tmp_path, "a")
    paths = harness.save_figure(Figure(figsize=(1, 1)), tmp_path, "fig_empty", formats=("png",))
    assert paths == [tmp_path / "fig_empty.png"] and paths[0].stat().st_size > 0


class _Null:
    def write(self, text):
        return len(text)

    def flush(self):
        pass


def test_fake_source_is_valid():
    # keep the fixture honest: the fake experiment parses and has its docstring first
    compile(textwrap.dedent(FAKE_EXPERIMENT), "fake", "exec")


def test_threads_apply_during_the_run_are_recorded_and_restored(fake, tmp_path):
    before = torch.get_num_threads()
    wanted = 1 if before != 1 else 2
    run_experiment(fake, out=tmp_path / "t", stream=_Null(), threads=wanted)
    env = json.loads((tmp_path / "t" / "env.json").read_text())
    assert env["torch_threads"] == wanted
    assert torch.get_num_threads() == before
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive int"):
            run_experiment(fake, out=tmp_path / "bad", stream=_Null(), threads=bad)


def test_threads_option_of_main(fake, tmp_path, capsys):
    module = harness.prepare_run("fake2024_toy", "quick", []).module
    assert harness.main(["--out", str(tmp_path / "m"), "--threads", "1"], module=module) == 0
    assert json.loads((tmp_path / "m" / "env.json").read_text())["torch_threads"] == 1
    with pytest.raises(SystemExit):
        harness.main(["--out", str(tmp_path / "n"), "--threads", "0"], module=module)
    assert "expected a positive integer" in capsys.readouterr().err
