"""Similarity of maps: identities, sign handling, scipy's Spearman and scikit-image's SSIM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physxai.evaluation import (
    SIMILARITIES,
    pearson_correlation,
    spearman_correlation,
    structural_similarity,
)


@pytest.mark.parametrize("shape", [(4, 30), (4, 8, 8), (4, 2, 9, 7)])
@pytest.mark.parametrize("name", sorted(SIMILARITIES))
def test_identical_maps_give_one(name, shape):
    a = torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(SIMILARITIES[name](a, a.clone()), torch.ones(4, dtype=torch.float64))


def test_negative_map_signed_minus_one_and_absolute_one():
    a = torch.randn(5, 6, 6, dtype=torch.float64)
    ones = torch.ones(5, dtype=torch.float64)
    torch.testing.assert_close(spearman_correlation(a, -a), -ones)
    torch.testing.assert_close(spearman_correlation(a, -a, absolute=True), ones)
    torch.testing.assert_close(pearson_correlation(a, -a), -ones)
    torch.testing.assert_close(structural_similarity(a, -a, absolute=True), ones)
    assert bool((structural_similarity(a, -a) < -0.5).all())


def test_spearman_matches_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 5, (6, 40), generator=g).double()  # many ties
    b = a + torch.randint(-2, 3, (6, 40), generator=g).double()
    ours = spearman_correlation(a, b)
    ref = [stats.spearmanr(a[i].numpy(), b[i].numpy()).statistic for i in range(6)]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12)
    assert torch.isnan(spearman_correlation(torch.zeros(1, 4), torch.randn(1, 4))).all()


def test_ssim_matches_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 16, 20, generator=g, dtype=torch.float64)
    b = a + 0.7 * torch.randn(3, 16, 20, generator=g, dtype=torch.float64)
    ours = structural_similarity(a, b)
    for i in range(3):
        na = (0.5 * (a[i] / a[i].abs().max() + 1)).numpy()
        nb = (0.5 * (b[i] / b[i].abs().max() + 1)).numpy()
        ref = metrics.structural_similarity(
            na, nb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0
        )
        assert float(ours[i]) == pytest.approx(ref, abs=1e-10)


def test_raises():
    a = torch.randn(2, 5)
    with pytest.raises(TypeError, match="a must be a torch.Tensor"):
        spearman_correlation(a.numpy(), a)
    with pytest.raises(ValueError, match="b must be floating point"):
        pearson_correlation(a, a.long())
    with pytest.raises(ValueError, match="at least one feature"):
        spearman_correlation(a[0], a[0])
    with pytest.raises(ValueError, match="must have one shape"):
        structural_similarity(a, a[:, :4])
    with pytest.raises(ValueError, match="must be finite"):
        spearman_correlation(a, a * float("nan"))
    with pytest.raises(ValueError, match="sigma must be"):
        structural_similarity(a, a, sigma=0.0)
    with pytest.raises(ValueError, match="window_size must be"):
        structural_similarity(a, a, window_size=0)
