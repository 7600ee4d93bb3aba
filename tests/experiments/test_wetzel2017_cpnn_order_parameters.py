"""The quick preset of wetzel2017_cpnn_order_parameters runs end to end and meets its claims."""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("local_map", "decision_vs_m", "p_ordered_vs_t", "accuracy_vs_field")


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(
        ROOT / "experiments" / "wetzel2017_cpnn_order_parameters.py", preset="quick", out=tmp_path
    )
    for name in (
        "config.json",
        "metrics.json",
        "env.json",
        "claims.json",
        "arrays.h5",
        *(f"fig_{f}.png" for f in FIGURES),
    ):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["lattice_size"] == 16 and metrics["n_test"] == 31 * 50
    # the 1x1 CPNN's decision thresholds on M sit between the phases and mirror each other
    assert -0.9 < metrics["m_threshold_low"] < -0.3 and 0.3 < metrics["m_threshold_high"] < 0.9
    # the decision is a function of |M|, not of the signed M
    assert abs(metrics["spearman_decision_m"]) < 0.3
    # the T_c interval brackets the estimate
    assert metrics["tc_low"] <= metrics["tc_crossing"] <= metrics["tc_high"]
    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["cpnn_1x1/local_map"].shape == (2,)
        assert f["cpnn_2x2/local_map"].shape == (16,)
        assert f["test/decision_1x1"].shape == (31 * 50,)
        assert f["scan/accuracy"].shape == (3,)
    assert result.passed, result.table
