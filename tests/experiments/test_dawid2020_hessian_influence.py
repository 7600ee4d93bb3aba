"""The quick preset of dawid2020_hessian_influence runs end to end.

Two claims are honestly missed on the quick preset (L = 10, 200 + 200 training points):
``ll_fraction`` cannot hold because the CDW training grid has only 3 points in (1, 1.5] (the
criterion asks for 4 of the top-5 harmful there), and ``flip_fraction`` misses at V1 = 2.0 and
2.066, where the test cross-entropy gradient is smaller than the L2 term of Dawid's per-example
loss, which then sets the ranking. The test checks the pipeline, the claims that hold and the
parts of the missed ones that the grid allows.
"""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]
MISSED = {"ll_fraction", "flip_fraction"}


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(
        ROOT / "experiments" / "dawid2020_hessian_influence.py", preset="quick", out=tmp_path
    )
    for name in (
        "config.json",
        "metrics.json",
        "env.json",
        "claims.json",
        "arrays.h5",
        "fig_hessian_spectrum.png",
        "fig_influence_vs_v1.png",
        "fig_loo.png",
    ):
        assert (tmp_path / name).is_file(), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for claim in result.claims:
        if claim.name not in MISSED:
            assert claim.ok, (claim.name, claim.ours)
    assert metrics["n_parameters"] == 520  # the paper's CNN at 252 amplitudes
    assert metrics["lambda_1"] > 10  # one outlier eigenvalue (paper: 68.6 at L = 12)
    # LL tests lean on the training points next to the transition (the half of ll_fraction the
    # quick grid allows), and the largest |influence| sits just above the transition
    assert metrics["ll_helpful_v1_fraction"] >= 0.9
    assert 1.0 < metrics["max_abs_influence_test_v1"] <= 2.0
    assert metrics["flip_fraction"] >= 0.6  # 1.27, 1.51, 1.755 flip
    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["influence/values"].shape == (45, 400)
        assert f["hessian/eigenvalues"].shape == (520,)
        assert f["loo/actual"].shape == (3, 10)
    assert not result.passed
