"""The quick preset of koh2017_influence_loo runs end to end and meets its claims."""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(
        ROOT / "experiments" / "koh2017_influence_loo.py", preset="quick", out=tmp_path
    )
    for name in (
        "config.json",
        "metrics.json",
        "env.json",
        "claims.json",
        "arrays.h5",
        "fig_loo.png",
    ):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # logistic regression: a strict minimum, so the retrainings converge and nothing drifts
    assert metrics["lr_polish_gradient_norm"] < 1e-10
    assert metrics["lr_loo_max_gradient_norm"] < 1e-9
    assert metrics["lr_n_parameters"] == 650
    assert metrics["lr_test_accuracy"] > 0.9 and metrics["mlp_test_accuracy"] > 0.9
    assert min(metrics["lr_pearson_r_per_test"]) > 0.95
    assert metrics["mlp_n_parameters"] == 1210
    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["lr/predicted"].shape == f["lr/actual"].shape == (2, 15)
        assert f["mlp/actual"].attrs["dims"] == "test,left_out"
    assert result.passed, result.table
