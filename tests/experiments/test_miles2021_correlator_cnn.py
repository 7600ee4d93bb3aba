"""The quick preset of miles2021_correlator_cnn runs end to end and meets its robust claims."""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("filters", "path", "path_accuracy", "first_feature")


@pytest.mark.slow
def test_quick_preset(tmp_path):
    run_experiment(
        ROOT / "experiments" / "miles2021_correlator_cnn.py", preset="quick", out=tmp_path
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

    # clear margins, and true for every seed tried (0-4): AFM vs random is trivially separable,
    # order 2 enters first, and the coefficient's sign is what Neel order does to its correlator
    assert metrics["ccnn_test_accuracy"] >= 0.99
    assert metrics["first_feature_order"] == 2
    assert metrics["path_test_accuracy_at_first_entry"] >= 0.99
    assert metrics["first_feature_sign_consistent"] == 1.0
    assert metrics["first_feature_sign"] * metrics["first_feature_neel_contrast"] > 0.1
    # the control sees the same two-point difference: AFM vs random is an order-2 problem
    assert metrics["control_accuracy"] >= 0.99
    # order 1 is the channel counts, identical in both classes (random_like keeps them)
    assert "c1" not in metrics["entry_sequence"][0]
    # whether the filter is a checkerboard (seed 0: 0.97) or a ferromagnetic-cluster motif
    # depends on the seed (2 of seeds 0-4 give a checkerboard): not gated here, but recorded
    assert 0.0 <= metrics["first_feature_checkerboard"] <= 1.0
    claims = {c["claim"]: c for c in json.loads((tmp_path / "claims.json").read_text())}
    assert set(claims) == {
        "ccnn_test_accuracy",
        "first_feature_order",
        "first_feature_checkerboard",
        "first_feature_sign_consistent",
    }
    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["ccnn/filters"].shape == (2, 3, 3, 3)
        assert f["path/coefficients"].shape == (20, 8)
        assert f["ccnn/test_correlators"].attrs["dims"] == "sample,filter,order"
