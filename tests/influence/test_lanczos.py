"""Lanczos eigenpairs against numpy's dense eigh, and the spectrum summary."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from physxai.influence import HessianOperator, hessian, lanczos, spectrum


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double().eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 4, generator=g, dtype=torch.float64)
    y = torch.randint(3, (40,), generator=g)
    op = HessianOperator(model, "cross_entropy", x, y, l2=0.01)
    h = hessian(model, "cross_entropy", x, y, l2=0.01).numpy()
    return op, h


def _check_pairs(values, vectors, ref_values, ref_vectors):
    np.testing.assert_allclose(values.numpy(), ref_values, atol=1e-8, rtol=0)
    for j in range(len(ref_values)):
        # vectors up to sign
        dot = abs(float(vectors[:, j].numpy() @ ref_vectors[:, j]))
        assert dot == pytest.approx(1.0, abs=1e-6)


def test_top_k_matches_eigh(problem):
    op, h = problem
    w, v = np.linalg.eigh(h)
    values, vectors = lanczos(op, k=4, which="LA")
    assert values.dtype == torch.float64 and vectors.shape == (h.shape[0], 4)
    _check_pairs(values, vectors, w[::-1][:4], v[:, ::-1][:, :4])
    assert torch.all(values[:-1] >= values[1:])


def test_bottom_k_matches_eigh(problem):
    op, h = problem
    w, v = np.linalg.eigh(h)
    values, vectors = lanczos(op, k=3, which="SA")
    _check_pairs(values, vectors, w[:3][::-1], v[:, :3][:, ::-1])


def test_both_ends_and_dense_input(problem):
    _, h = problem
    w = np.linalg.eigvalsh(h)
    values, vectors = lanczos(torch.from_numpy(h), k=4, which="BE")
    np.testing.assert_allclose(sorted(values.numpy()), sorted([*w[:2], *w[-2:]]), atol=1e-8)
    # signs are fixed: the largest-magnitude entry of each eigenvector is positive
    idx = vectors.abs().argmax(dim=0)
    assert torch.all(vectors[idx, torch.arange(4)] > 0)


def test_same_seed_same_result(problem):
    op, _ = problem
    a = lanczos(op, k=2, seed=3)
    b = lanczos(op, k=2, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_spectrum_reports_negatives_outliers_and_conditioning():
    values = torch.tensor(
        [68.6, 0.55, 0.22, 0.19, *np.linspace(-0.01, 0.01, 40), -0.18], dtype=torch.float64
    )
    s = spectrum(values)
    assert s.largest == pytest.approx(68.6) and s.smallest == pytest.approx(-0.18)
    assert s.n_negative == 21  # 20 of the linspace + (-0.18)
    assert s.top_ratio == pytest.approx(68.6 / 0.55)
    assert set(s.outliers.tolist()) == {68.6, 0.55, 0.22, 0.19, -0.18}
    assert s.n_outliers == 5
    assert s.condition_number == pytest.approx(68.6 / float(values.abs().min()))


def test_spectrum_of_a_matrix_equals_that_of_its_eigenvalues():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 6, generator=g, dtype=torch.float64)
    h = a @ a.T - 0.5 * torch.eye(6, dtype=torch.float64)
    s = spectrum(h)
    ref = torch.sort(torch.linalg.eigvalsh(h), descending=True).values
    assert torch.allclose(s.eigenvalues, ref, atol=1e-12)
    assert s.n_negative == int((ref < 0).sum())
    assert math.isfinite(s.condition_number)


def test_bad_arguments_raise(problem):
    op, _ = problem
    with pytest.raises(ValueError, match="which must be one of"):
        lanczos(op, k=2, which="LM")
    with pytest.raises(ValueError, match="k must be smaller"):
        lanczos(op, k=op.shape[0])
    with pytest.raises(TypeError, match="operator must be"):
        lanczos([[1.0, 0.0], [0.0, 1.0]], k=1)
    with pytest.raises(ValueError, match="square"):
        lanczos(np.ones((3, 4)), k=1)
    with pytest.raises(ValueError, match="symmetric"):
        spectrum(torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="at least two"):
        spectrum(torch.tensor([1.0], dtype=torch.float64))
    with pytest.raises(TypeError, match="as a tensor"):
        spectrum(np.ones(3))
