"""The quick preset of adebayo2018_sanity_checks runs end to end; the claims that hold hold.

Guided backprop keeps a |map| rank correlation near 0.8 while the dense layers and the second
convolution are randomised, but falls to about 0.35 once the first convolution of this shallow
digits CNN is randomised too, so ``guided_backprop_cascade_spearman_abs`` (>= 0.7 after *all*
layers) is honestly missed (also in the full preset; PAPERS.md anticipates a weaker invariance in
shallow nets) and ``result.passed`` is False.
"""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
MISSED = {"guided_backprop_cascade_spearman_abs"}


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(ROOT / "experiments" / "adebayo2018_sanity_checks.py", preset="quick", out=tmp_path)
    for name in ("config.json", "metrics.json", "env.json", "claims.json", "arrays.h5",
                 "fig_cascade_heatmaps.png", "fig_similarity.png", "fig_data_randomization.png"):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for claim in result.claims:
        if claim.name not in MISSED:
            assert claim.ok, (claim.name, claim.ours)
    assert metrics["layers_top_down"] == ["head.fc", "head.fc_hidden1", "features.conv2", "features.conv1"]
    gradient = metrics["gradient_cascade_spearman_abs_per_layer"]
    guided = metrics["guided_backprop_cascade_spearman_abs_per_layer"]
    assert len(gradient) == len(guided) == 4
    # the gradient forgets the model at once; guided backprop holds on through the dense layers
    assert gradient[0] < 0.5 and gradient[-1] < gradient[0]
    assert min(guided[:3]) > 0.6
    assert all(g > d for g, d in zip(guided, gradient))
    # data randomisation: the gradient of the shuffled-label model is unrelated to the original
    assert metrics["gradient_shuffled_labels_spearman"] < 0.2
    assert 0 < metrics["shuffled_train_accuracy"] <= 1
    with h5py.File(tmp_path / "arrays.h5") as f:
        sim = f["cascade/gradient/spearman_abs"]
        assert sim.shape == (4, 64)
        assert sim.attrs["dims"] == "layers_randomised,sample"
        assert f["cascade/guided_backprop/maps"].shape == (5, 3, 8, 8)
