"""The quick preset of lundberg2017_shap runs end to end and meets its claims."""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("convergence", "breast_cancer_summary", "breast_cancer_waterfall", "ising_bars")


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(
        ROOT / "experiments" / "lundberg2017_shap.py", preset="quick", out=tmp_path
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

    # Fig. 3: the exact references are exact, and the three estimators behave as in the paper
    assert metrics["dense_exact_check"] < 1e-9
    assert metrics["sparse_exact_check"] < 1e-12
    assert metrics["sparse_dummy_group_value"] < 1e-12  # the 97 unused features are a null player
    for kind in ("dense", "sparse"):
        assert metrics[f"{kind}_evaluations_at_criterion"] == 992
        assert 0 < metrics[f"{kind}_kernel_shap_band"] < metrics[f"{kind}_shapley_sampling_band"]
        assert metrics[f"{kind}_band_ratio"] <= 0.5
        assert metrics[f"{kind}_lime_bias"] > 2 * metrics[f"{kind}_kernel_shap_bias"]
        assert 0 < metrics[f"{kind}_sampling_unique_fraction"] <= 1
    # repeated small/large prefixes are evaluated once for d = 10, hardly ever for d = 100
    assert (
        metrics["dense_sampling_unique_fraction"] < 0.9 < metrics["sparse_sampling_unique_fraction"]
    )

    # breast cancer: efficient SHAP values of a good model; a large perimeter points to malignant
    assert metrics["bc_test_accuracy"] >= 0.93
    assert metrics["bc_efficiency_gap"] < 1e-3  # float32 model
    assert metrics["bc_spearman_worst_perimeter"] < -0.5
    assert metrics["bc_spearman_mean_perimeter"] < -0.5
    assert 1 <= metrics["bc_rank_worst_perimeter"] <= 30
    assert len(metrics["bc_top_features"]) == 5

    # Ising: E/N and nn are one column up to a factor; the noise column is the least important
    assert metrics["ising_energy_nn_correlation"] == pytest.approx(-1.0, abs=1e-12)
    assert metrics["ising_noise_rank"] == 5
    assert metrics["ising_magnetization_over_noise"] > 1

    with h5py.File(tmp_path / "arrays.h5") as f:
        est = f["convergence/dense/estimates"]
        assert est.shape == (3, 3, 40)  # budgets, methods, repeats
        assert est.attrs["dims"] == "budget,method,repeat"
        assert f["breast_cancer/shap"].shape == (171, 30)
        assert f["ising/shap"].shape[1] == 5
    assert result.passed, result.table
