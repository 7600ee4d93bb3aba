"""The ``physxai`` command: list, run, exit codes, and ``python -m physxai``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from physxai import cli

TOY = '''
"""Toy et al. 2024, Phys. Rev. X 1, 1 (2024): a CLI test experiment.

Second line of the docstring, not listed.
"""

from dataclasses import dataclass

from physxai.harness import ExperimentConfig, Reference


@dataclass(frozen=True)
class Config(ExperimentConfig):
    value: float = 2.0


PRESETS = {"quick": Config(), "full": Config(value=2.2)}
CLAIMS = {"value": Reference(2.0, tol=0.1, source="Tab. 1")}


def run(cfg, out_dir):
    return {"value": cfg.value}
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    exps = tmp_path / "exps"
    exps.mkdir()
    (exps / "toy2024_cli.py").write_text(TOY)
    (exps / "_shared.py").write_text("HELPER = 1\n")
    monkeypatch.setenv("PHYSXAI_EXPERIMENTS", str(exps))
    monkeypatch.chdir(tmp_path)
    return exps


def test_list_shows_names_and_citations(toy, capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    toy_lines = [line for line in lines if line.startswith("toy2024_cli")]
    assert toy_lines == ["toy2024_cli" + toy_lines[0][len("toy2024_cli") :]]
    assert (
        toy_lines[0].split(None, 1)[1]
        == "Toy et al. 2024, Phys. Rev. X 1, 1 (2024): a CLI test experiment."
    )
    assert not any(line.startswith("_shared") for line in lines)


def test_list_without_experiments(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PHYSXAI_EXPERIMENTS", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.harness, "experiment_dirs", list)
    assert cli.main(["list"]) == 0
    assert "no experiments found" in capsys.readouterr().err


def test_run_check_exit_codes(toy, tmp_path, capsys):
    assert cli.main(["run", "toy2024_cli", "--out", str(tmp_path / "a"), "--check"]) == 0
    out = capsys.readouterr().out
    assert "value" in out and "yes" in out and "all claims pass" in out
    # full preset: 2.2 is outside 2.0 +- 0.1
    assert (
        cli.main(
            ["run", "toy2024_cli", "--preset", "full", "--out", str(tmp_path / "b"), "--check"]
        )
        == 1
    )
    assert "1 of 1 claims fail" in capsys.readouterr().out
    # a failing claim without --check still exits 0
    assert cli.main(["run", "toy2024_cli", "--preset", "full", "--out", str(tmp_path / "c")]) == 0
    # --set takes several overrides, and may be repeated
    assert (
        cli.main(
            [
                "run",
                "toy2024_cli",
                "--set",
                "value=2.05",
                "seed=4",
                "--set",
                "device=cpu",
                "--out",
                str(tmp_path / "d"),
                "--check",
            ]
        )
        == 0
    )
    config = json.loads((tmp_path / "d" / "config.json").read_text())
    assert config["config"]["value"] == 2.05 and config["config"]["seed"] == 4
    assert config["overrides"] == ["value=2.05", "seed=4", "device=cpu"]


def test_run_by_path(toy, tmp_path):
    path = str(toy / "toy2024_cli.py")
    assert cli.main(["run", path, "--out", str(tmp_path / "p"), "--check"]) == 0
    assert (tmp_path / "p" / "metrics.json").is_file()


def test_run_default_out_dir(toy, tmp_path, capsys):
    assert cli.main(["run", "toy2024_cli"]) == 0
    runs = list((tmp_path / "results" / "toy2024_cli").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("quick-")
    assert sorted(p.name for p in runs[0].iterdir()) == [
        "claims.json",
        "config.json",
        "env.json",
        "metrics.json",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "nope"], r"unknown experiment 'nope'; known experiments: (.*, )?toy2024_cli"),
        (
            ["run", "toy2024_cli", "--preset", "huge"],
            r"preset must be one of 'quick', 'full'; got 'huge'",
        ),
        (
            ["run", "toy2024_cli", "--set", "size=3"],
            "unknown config key 'size' for Config; valid keys: device, seed, value",
        ),
        (["run", "toy2024_cli", "--set", "value=big"], "value must be float; got 'big'"),
        ([], "a command is required"),
    ],
)
def test_usage_errors_exit_2(toy, capsys, argv, message):
    assert cli.main(argv) == 2
    assert re.search(message, capsys.readouterr().err)


def test_argparse_errors_exit_2(toy, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["explain"])
    assert info.value.code == 2
    assert "invalid choice: 'explain'" in capsys.readouterr().err


def test_python_dash_m(toy):
    env = {**os.environ, "PHYSXAI_EXPERIMENTS": str(toy)}
    done = subprocess.run(
        [sys.executable, "-m", "physxai", "list"],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "toy2024_cli" in done.stdout
