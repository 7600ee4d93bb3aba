"""MMD-critic: greedy prototypes and criticisms against a literal re-implementation."""

from __future__ import annotations

import itertools

import pytest
import torch

from physxai.errors import NotFittedError
from physxai.features import MMDCritic, rbf_kernel

D = torch.float64


def clusters(seed: int, n_large: int = 200, n_small: int = 100, n_sparse: int = 15):
    g = torch.Generator().manual_seed(seed)
    large = torch.randn(n_large, 2, generator=g, dtype=D)
    small = torch.randn(n_small, 2, generator=g, dtype=D) + torch.tensor([6.0, 0.0], dtype=D)
    sparse = 0.3 * torch.randn(n_sparse, 2, generator=g, dtype=D) + torch.tensor(
        [3.0, 6.0], dtype=D
    )
    return torch.cat([large, small, sparse])


def literal_mmd2(K: torch.Tensor, S: list[int]) -> float:
    """MMD^2 between the data and the prototypes S, straight from the definition."""
    n, m = K.shape[0], len(S)
    return float(K.sum() / n**2 - 2 * K[:, S].sum() / (n * m) + K[S][:, S].sum() / m**2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_prototype_in_the_larger_cluster_and_criticism_in_the_sparse_region(seed):
    X = clusters(seed)
    m = MMDCritic(n_prototypes=3, n_criticisms=1, witness_sign="positive").fit(X)
    assert int(m.prototype_indices_[0]) < 200
    assert int(m.criticism_indices_[0]) >= 300
    g = torch.Generator().manual_seed(seed)
    two = torch.cat(
        [torch.randn(80, 2, generator=g, dtype=D), torch.randn(20, 2, generator=g, dtype=D) + 5]
    )
    assert int(MMDCritic(1, 0).fit(two).prototype_indices_[0]) < 80


def test_greedy_prototypes_match_a_literal_greedy_search():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(25, 3, generator=g, dtype=D)
    m = MMDCritic(n_prototypes=4, n_criticisms=0, gamma=0.3).fit(X)
    K = rbf_kernel(X, X, 0.3)
    chosen: list[int] = []
    for _ in range(4):
        rest = [c for c in range(25) if c not in chosen]
        chosen.append(min(rest, key=lambda c: literal_mmd2(K, chosen + [c])))
    assert m.prototype_indices_.tolist() == chosen
    assert torch.allclose(
        m.mmd2_,
        torch.tensor([literal_mmd2(K, chosen[: i + 1]) for i in range(4)], dtype=D),
        atol=1e-12,
    )
    assert bool((m.mmd2_[1:] <= m.mmd2_[:-1]).all())
    # witness: mean kernel to the data minus mean kernel to the prototypes
    assert torch.allclose(m.witness_, K.mean(1) - K[:, chosen].mean(1), atol=1e-12)
    assert torch.allclose(m.witness(X, X[:5]), m.witness_[:5], atol=1e-12)


def test_criticisms_match_a_literal_logdet_search():
    g = torch.Generator().manual_seed(4)
    X = torch.randn(20, 2, generator=g, dtype=D)
    m = MMDCritic(n_prototypes=3, n_criticisms=3, gamma=0.5).fit(X)
    K = rbf_kernel(X, X, 0.5)
    w = m.witness_
    crit: list[int] = []
    for _ in range(3):
        rest = [c for c in range(20) if c not in crit and c not in m.prototype_indices_.tolist()]

        def score(c):  # Kim et al. 2016, Eq. 7
            C = crit + [c]
            return float(w[C].abs().sum() + torch.logdet(K[C][:, C]))

        crit.append(max(rest, key=score))
    assert m.criticism_indices_.tolist() == crit
    plain = MMDCritic(3, 3, gamma=0.5, regularizer=None).fit(X)
    rest = [c for c in range(20) if c not in plain.prototype_indices_.tolist()]
    assert plain.criticism_indices_.tolist() == sorted(rest, key=lambda c: -float(w[c].abs()))[:3]


def test_median_heuristic_and_errors():
    X = torch.randn(10, 2, dtype=D)
    m = MMDCritic(2, 1).fit(X)
    d2 = torch.cdist(X, X).pow(2)
    off = torch.tensor([float(d2[i, j]) for i, j in itertools.permutations(range(10), 2)], dtype=D)
    assert m.gamma_ == pytest.approx(1 / float(off.median()))
    with pytest.raises(ValueError, match="n_prototypes must be an int >= 1"):
        MMDCritic(0)
    with pytest.raises(ValueError, match="witness_sign must be one of"):
        MMDCritic(witness_sign="negative")
    with pytest.raises(ValueError, match="regularizer must be one of"):
        MMDCritic(regularizer="trace")
    with pytest.raises(ValueError, match="must be at most the number of points"):
        MMDCritic(8, 3).fit(X)
    with pytest.raises(ValueError, match="median squared distance of X is 0"):
        MMDCritic(1, 0).fit(torch.zeros(5, 2))
    with pytest.raises(NotFittedError, match="call fit"):
        MMDCritic().witness(X, X)
    with pytest.raises(ValueError, match="must have 2 features per sample"):
        m.witness(X, torch.zeros(3, 5, dtype=D))
