"""The quick preset of samek2017_pixel_flipping runs end to end; the claims that hold on digits hold.

On digits with the paper's noise replacement, sensitivity ties with or beats epsilon-LRP (noise on a
zero background pixel with a large negative gradient lowers the score, and only the gradient sees
such pixels; epsilon-LRP gives zero pixels zero relevance), so the claim
``*_lrp_epsilon_minus_sensitivity_low`` is honestly missed (also in the full preset) and
``result.passed`` is False. The test checks the pipeline, the claims that hold (accuracy,
sensitivity > random), and the zero-replacement ablation, where the paper's ordering holds.
"""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
MISSED = {"mlp_lrp_epsilon_minus_sensitivity_low", "cnn_lrp_epsilon_minus_sensitivity_low"}


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(ROOT / "experiments" / "samek2017_pixel_flipping.py", preset="quick", out=tmp_path)
    for name in ("config.json", "metrics.json", "env.json", "claims.json", "arrays.h5",
                 "fig_perturbation_curves.png", "fig_mlp_heatmaps.png", "fig_cnn_heatmaps.png"):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for claim in result.claims:
        if claim.name not in MISSED:
            assert claim.ok, (claim.name, claim.ours)
    for model in ("mlp", "cnn"):
        # every heatmap beats the random order with the paper's noise replacement
        for method in ("lrp_epsilon", "lrp_alpha_beta", "sensitivity"):
            assert metrics[f"{model}_aopc_{method}"] > metrics[f"{model}_aopc_random"] > 0
        # the bootstrap interval brackets the difference of the means
        d = metrics[f"{model}_lrp_epsilon_minus_sensitivity"]
        assert metrics[f"{model}_lrp_epsilon_minus_sensitivity_low"] <= d <= metrics[
            f"{model}_lrp_epsilon_minus_sensitivity_high"]
        # zero replacement (removing ink): the paper's ordering, LRP > deconvnet > sensitivity > random
        assert metrics[f"{model}_zero_lrp_epsilon_minus_sensitivity_low"] > 0
        assert metrics[f"{model}_zero_deconvnet_minus_sensitivity_low"] > 0
        assert metrics[f"{model}_zero_sensitivity_minus_random_low"] > 0
    with h5py.File(tmp_path / "arrays.h5") as f:
        curves = f["mlp/noise/curves/lrp_epsilon"]
        assert curves.shape == (150, 17)
        assert curves.attrs["dims"] == "sample,step"
        assert f["cnn/zero/aopc/random"].shape == (150,)
