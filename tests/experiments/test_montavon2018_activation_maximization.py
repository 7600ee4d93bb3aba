"""The quick preset of montavon2018_activation_maximization runs end to end.

Every digits claim holds (class probability >= 0.99 for the three variants; realism ranked
generator >= density > plain by the held-out judge mixture and by the distance to the nearest
held-out digit). The Ising claim (ours: the "ordered" prototype has |M| >= 0.9) is missed
honestly: the phase MLP is satisfied (p(ordered) ~ 0.997) by a noisy configuration with |M| ~ 0.4,
far below the real ordered snapshots (mean |M| ~ 0.9); the module docstring and ``fig_ising``
show why. The test asserts that miss as it is, so that a change in it is noticed.

Two digits claims sit close to their lines on quick (the density variant's lowest probability
0.9902 against 0.99; generator minus density judge log-likelihood +4.7, negative on full), so a
CI gate on them could flip with a machine's rounding: the test checks that they are reported and
near their lines, and gates on the claims with clear margins.
"""

import json
from pathlib import Path

import h5py
import pytest

from physxai.harness import run_experiment

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(
        ROOT / "experiments" / "montavon2018_activation_maximization.py",
        preset="quick",
        out=tmp_path,
    )
    for name in (
        "config.json",
        "metrics.json",
        "env.json",
        "claims.json",
        "arrays.h5",
        "fig_grid.png",
        "fig_ising.png",
    ):
        assert (tmp_path / name).is_file(), name
    m = json.loads((tmp_path / "metrics.json").read_text())

    assert m["test_accuracy"] >= 0.93
    for variant in ("plain", "generator"):
        assert m[f"{variant}_min_probability"] >= 0.99
    assert m["density_min_probability"] >= 0.95  # claim >= 0.99, reported in the table
    # realism: density > plain by both measures with wide margins (~390 nats, ~16 pixel units);
    # generator vs density is close (the claim's verdict is in the table)
    assert m["density_judge_loglik"] > m["plain_judge_loglik"] + 50
    assert m["density_nearest_distance"] < m["plain_nearest_distance"] - 5
    # the constant border pixels are what reg_covar regularises
    assert m["expert_zero_variance_pixels"] >= 1

    # Ising: a good phase classifier; its 'ordered' prototype is confidently classified but not
    # magnetised like a real ordered state (the honest miss), the 'disordered' one has M ~ 0
    assert m["ising_test_accuracy"] >= 0.85
    assert m["ising_ordered_probability"] >= 0.99
    assert m["ising_disordered_probability"] >= 0.99
    assert m["ising_real_ordered_mean_abs_magnetization"] > 0.8
    assert m["ising_disordered_abs_magnetization"] < m["ising_ordered_abs_magnetization"] < 0.9

    claims = {c["claim"]: c for c in json.loads((tmp_path / "claims.json").read_text())}
    failed = {name for name, c in claims.items() if not c["ok"]}
    assert "ising_ordered_abs_magnetization" in failed, result.table
    near_the_line = {
        "density_min_probability",
        "judge_loglik_generator_minus_density",
        "nearest_distance_density_minus_generator",
    }
    assert failed <= {"ising_ordered_abs_magnetization"} | near_the_line, result.table

    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["digits/plain"].shape == (20, 8, 8)
        assert f["digits/generator"].attrs["units"] == "pixel intensity (0-16)"
        assert f["ising/prototypes"].shape == (2, 4, 16, 16)
