"""The quick preset of wetzel2020_siamese_invariants runs end to end and meets its claims; the
experiment's helpers (triplet construction, reference gradients) are checked exactly."""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from physxai.harness import load_experiment, run_experiment
from physxai.physics import orbits, relativity

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "experiments" / "wetzel2020_siamese_invariants.py"


@pytest.fixture(scope="module")
def m():
    return load_experiment(PATH)


def test_reference_gradients_match_autograd(m):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(50, 4, dtype=torch.float64, generator=gen) + 0.1
    for fn, grad in (
        (relativity.interval, m.grad_interval),
        (orbits.angular_momentum, m.grad_angular_momentum),
        (orbits.energy, m.grad_energy),
    ):
        xg = x.clone().requires_grad_(True)
        (auto,) = torch.autograd.grad(fn(xg).sum(), xg)
        torch.testing.assert_close(grad(x), auto, rtol=1e-12, atol=1e-12)


def test_triplets_use_both_orders_and_never_the_own_pair(m):
    d = relativity.event_pairs(6, seed=0, negative_fraction=0.0)
    trip = m.triplets_from_pairs(d.pairs, (1, 2))
    assert trip.shape == (24, 3, 4)
    s2 = relativity.interval(trip.numpy())
    np.testing.assert_allclose(s2[:, 0], s2[:, 1], atol=1e-12)  # anchor and positive share s^2
    assert (np.abs(s2[:, 0] - s2[:, 2]) > 1e-9).all()  # the negative never does
    # each pair appears as (first, second) and as (second, first)
    np.testing.assert_array_equal(trip[:6, 0].numpy(), d.pairs[:, 0])
    np.testing.assert_array_equal(trip[6:12, 0].numpy(), d.pairs[:, 1])
    with pytest.raises(ValueError, match="shifts must be non-empty"):
        m.triplets_from_pairs(d.pairs, (6,))  # 6 pairs: shift 6 pairs each anchor with itself
    with pytest.raises(ValueError, match="shifts must be non-empty"):
        m.triplets_from_pairs(d.pairs, ())


def test_claims_per_preset(m):
    assert set(m.CLAIMS("quick")) == set(m.SR_CLAIMS)
    assert set(m.CLAIMS("full")) == set(m.SR_CLAIMS) | set(m.CP_CLAIMS)
    assert not m.PRESETS["quick"].central_potential and m.PRESETS["full"].central_potential


@pytest.mark.slow
def test_quick_preset(tmp_path):
    result = run_experiment(PATH, preset="quick", out=tmp_path)
    for name in ("config.json", "metrics.json", "env.json", "claims.json", "arrays.h5"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "fig_relativity.png").is_file()
    assert not (tmp_path / "fig_central_potential.png").exists()  # quick is SR only
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["sr_n_triplets"] == 16000  # 2000 positive pairs x 2 orders x 4 shifts
    assert metrics["sr_n_analysis"] == 4000  # both members of the 2000 negative pairs
    # The claim is >= 0.98 (judged in the table). Over seeds the quick preset lands at 0.982-0.988
    # (0.975 at 15 epochs), too close to the line for a CI gate that must not flip with a CPU's
    # rounding; the test asserts a clearly learned invariant and that the claim is reported.
    assert metrics["sr_abs_spearman"] >= 0.95
    assert sorted(metrics["sr_top4_terms"]) == ["t^2", "x^2", "y^2", "z^2"]
    # Minkowski signs: t^2 opposite to the three spatial squares
    assert metrics["sr_coef_t2"] * metrics["sr_coef_x2"] < 0
    assert metrics["sr_coef_x2"] * metrics["sr_coef_y2"] > 0
    assert metrics["sr_coef_y2"] * metrics["sr_coef_z2"] > 0
    assert metrics["sr_fifth_over_fourth"] < 0.2
    assert metrics["sr_alignment"] >= 0.95
    assert not any(k.startswith("cp_") for k in metrics)

    with h5py.File(tmp_path / "arrays.h5") as f:
        assert f["relativity/inputs"].shape == (4000, 4)
        assert f["relativity/latent"].shape == (4000,)
        assert f["relativity/coefficients"].shape == (14,)
        assert f["relativity/cosine"].attrs["dims"] == "sample"
        s2 = relativity.interval(f["relativity/inputs"][...].astype(np.float64))
        np.testing.assert_allclose(f["relativity/interval"][...], s2)
    claims = {c.name: c for c in result.claims}
    assert set(claims) == {
        "sr_abs_spearman",
        "sr_top4_are_squares",
        "sr_top4_magnitude_spread",
        "sr_alignment",
    }
    for name in ("sr_top4_are_squares", "sr_top4_magnitude_spread", "sr_alignment"):
        assert claims[name].ok, result.table
    assert claims["sr_abs_spearman"].status in ("pass", "fail"), result.table
