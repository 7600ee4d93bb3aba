"""The quick preset of montavon2017_deep_taylor runs end to end and meets its claims."""

import json
from pathlib import Path

import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(ROOT / "experiments" / "montavon2017_deep_taylor.py", preset="quick", out=tmp_path)
    for name in ("config.json", "metrics.json", "env.json", "arrays.h5", "fig_mlp_heatmaps.png", "fig_cnn_heatmaps.png",
                 "fig_aopc.png"):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # deep Taylor is exactly conservative and positive; sensitivity is neither
    assert metrics["mlp_deep_taylor_conservation"] < 1e-6
    assert metrics["cnn_deep_taylor_min_relevance"] >= -1e-12
    assert metrics["mlp_sensitivity_conservation"] > 1e-3
    assert metrics["mlp_naive_taylor_negative_share"] > 0
    # AOPC (reported, no criterion): every heatmap beats the random order; intervals bracket differences
    for model in ("mlp", "cnn"):
        for method in ("sensitivity", "naive_taylor", "deep_taylor"):
            assert metrics[f"{model}_aopc_{method}"] > metrics[f"{model}_aopc_random"]
        d = metrics[f"{model}_aopc_deep_taylor_minus_sensitivity"]
        low, high = (metrics[f"{model}_aopc_deep_taylor_minus_sensitivity_{s}"] for s in ("low", "high"))
        assert low <= d <= high
    assert result.passed, result.table
