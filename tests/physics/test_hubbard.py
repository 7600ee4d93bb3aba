"""Tests of the extended Hubbard chain: a literal loop-built Hamiltonian, free fermions, Perron
positivity, the LL-CDW crossover, and sparse versus dense diagonalisation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg

from physxai.physics import hubbard


def literal_hamiltonian(n_sites, n_particles, v1, j, h1, periodic, statistics):
    """H written term by term from the formula, with fermion operators acting on bit strings."""
    states = [
        tuple(1 if s in occ else 0 for s in range(n_sites))
        for occ in itertools.combinations(range(n_sites), n_particles)
    ]
    index = {s: a for a, s in enumerate(states)}
    dim = len(states)
    h = np.zeros((dim, dim))

    def annihilate(state, site):
        if state[site] == 0:
            return None, 0
        sign = (-1) ** sum(state[:site]) if statistics == "fermion" else 1
        new = list(state)
        new[site] = 0
        return tuple(new), sign

    def create(state, site):
        if state[site] == 1:
            return None, 0
        sign = (-1) ** sum(state[:site]) if statistics == "fermion" else 1
        new = list(state)
        new[site] = 1
        return tuple(new), sign

    bonds = range(n_sites) if periodic else range(n_sites - 1)
    for a, state in enumerate(states):
        for i in bonds:
            k = (i + 1) % n_sites
            h[a, a] += v1 * (state[i] - 0.5) * (state[k] - 0.5)
            for dst, src in ((i, k), (k, i)):  # c+_i c_k + c+_k c_i
                mid, s1 = annihilate(state, src)
                if mid is None:
                    continue
                out, s2 = create(mid, dst)
                if out is None:
                    continue
                h[index[out], a] += -0.5 * j * s1 * s2
        for i in range(n_sites):
            h[a, a] += h1 * (-1) ** i * state[i]
    return h


def free_energy(n_sites, n_particles, j, twist, periodic=True):
    """Sum of the N lowest single-particle energies -J cos k."""
    if periodic:
        k = 2 * np.pi * (np.arange(n_sites) + twist) / n_sites
    else:
        k = np.pi * np.arange(1, n_sites + 1) / (n_sites + 1)
    return np.sort(-j * np.cos(k))[:n_particles].sum()


def test_basis_order_and_dimension():
    occ = hubbard.basis(5, 2)
    expected = [[1 if s in c else 0 for s in range(5)] for c in itertools.combinations(range(5), 2)]
    assert occ.dtype == np.int8 and occ.tolist() == expected
    assert hubbard.basis(12, 6).shape == (924, 12)
    assert hubbard.hamiltonian(12, 6, 1.5).shape == (924, 924)
    assert hubbard.ground_state().shape == (math.comb(12, 6),)
    assert hubbard.basis(4, 0).tolist() == [[0, 0, 0, 0]]


@pytest.mark.parametrize("n_sites", [4, 6])
@pytest.mark.parametrize("statistics", ["boson", "fermion"])
@pytest.mark.parametrize("periodic", [True, False])
def test_matches_the_literal_hamiltonian(n_sites, statistics, periodic):
    for n_particles in range(n_sites + 1):
        args = (n_sites, n_particles, 1.3)
        fast = hubbard.hamiltonian(
            *args, j=0.7, h1=0.21, periodic=periodic, statistics=statistics
        ).toarray()
        slow = literal_hamiltonian(*args, 0.7, 0.21, periodic, statistics)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-14)
        assert np.abs(fast - fast.T).max() == 0


@pytest.mark.parametrize("n_sites", [4, 6])
def test_ground_state_energy_matches_dense_literal(n_sites):
    for n_particles in range(1, n_sites):
        for v1 in (0.0, 0.8, 2.5):
            psi = hubbard.ground_state(n_sites, n_particles, v1, h1=0.05)
            slow = literal_hamiltonian(n_sites, n_particles, v1, 1.0, 0.05, True, "boson")
            exact = scipy.linalg.eigh(slow, eigvals_only=True)[0]
            assert float(hubbard.energy(psi, slow)) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("n_sites", [4, 5, 6, 7, 8])
def test_free_chain_equals_free_fermions(n_sites):
    # V1 = h1 = 0. Hard-core bosons = fermions with periodic (N odd) or antiperiodic (N even)
    # boundary conditions; statistics="fermion" is the periodic fermion chain for every N.
    for n_particles in range(1, n_sites):
        twist = 0.0 if n_particles % 2 else 0.5
        for statistics, phi in (("boson", twist), ("fermion", 0.0)):
            h = hubbard.hamiltonian(n_sites, n_particles, 0.0, h1=0.0, statistics=statistics)
            e0 = scipy.linalg.eigh(h.toarray(), eigvals_only=True)[0]
            assert e0 == pytest.approx(free_energy(n_sites, n_particles, 1.0, phi), abs=1e-12)
        h = hubbard.hamiltonian(n_sites, n_particles, 0.0, j=2.0, h1=0.0, periodic=False)
        e0 = scipy.linalg.eigh(h.toarray(), eigvals_only=True)[0]
        assert e0 == pytest.approx(free_energy(n_sites, n_particles, 2.0, 0, False), abs=1e-12)


def test_odd_n_bosons_and_fermions_coincide():
    a = hubbard.hamiltonian(7, 3, 1.1, statistics="boson").toarray()
    b = hubbard.hamiltonian(7, 3, 1.1, statistics="fermion").toarray()
    assert np.array_equal(a, b)
    c = hubbard.hamiltonian(8, 4, 1.1, statistics="fermion").toarray()
    assert (c > 0).any()  # the fermion chain with even N has positive off-diagonals


@pytest.mark.parametrize("v1", [0.0, 0.5, 1.0, 1.5, 3.0, 10.0, 40.0])
def test_ground_state_is_positive_and_normalised(v1):
    psi = hubbard.ground_state(12, 6, v1)
    assert psi.dtype == np.float64 and psi.shape == (924,)
    assert psi.min() >= 0
    assert float(psi @ psi) == pytest.approx(1.0, abs=1e-12)
    h = hubbard.hamiltonian(12, 6, v1)
    residual = h @ psi - hubbard.energy(psi, h) * psi
    assert np.abs(residual).max() < 1e-8


def test_sparse_agrees_with_dense_at_l10():
    values = [0.7, 2.0, 6.0]
    sparse = hubbard.ground_states(values, 10, 5, method="sparse")
    dense = hubbard.ground_states(values, 10, 5, method="dense")
    assert sparse.shape == (3, 252)
    assert np.abs(sparse - dense).max() < 1e-9  # measured 4e-13
    for v1, psi, ref in zip(values, sparse, dense):
        h = hubbard.hamiltonian(10, 5, v1)
        assert float(hubbard.energy(psi, h)) == pytest.approx(hubbard.energy(ref, h), abs=1e-11)


def test_ground_states_equals_ground_state_loop():
    values = np.array([2.0, 0.3, 1.1])
    batch = hubbard.ground_states(values, 8, 4, h1=1e-3)
    loop = np.stack([hubbard.ground_state(8, 4, v, h1=1e-3) for v in values])
    np.testing.assert_allclose(batch, loop, atol=1e-12)


def test_cdw_order_parameter_rises_across_the_transition():
    values = np.linspace(0.0, 4.0, 9)
    order = hubbard.cdw_order_parameter(hubbard.ground_states(values, 10, 5), 10, 5)
    assert np.all(np.diff(order) > 0), order  # measured 0.20, 0.27, 0.37, ..., 0.90
    psi = hubbard.ground_states([0.5, 3.0], 10, 5)
    low, high = hubbard.cdw_order_parameter(psi, 10, 5)
    assert high > 2.5 * low  # measured 0.78 vs 0.27
    deep = hubbard.ground_state(10, 5, 30.0)
    assert float(hubbard.cdw_order_parameter(deep, 10, 5)) > 0.99


def test_cdw_order_parameter_by_hand():
    occ = hubbard.basis(4, 2)
    psi = np.zeros(6)
    psi[occ.tolist().index([1, 0, 1, 0])] = 1.0
    assert float(hubbard.cdw_order_parameter(psi, 4, 2)) == pytest.approx(1.0)
    psi[occ.tolist().index([0, 1, 0, 1])] = 1.0  # superposition of both patterns
    assert float(hubbard.cdw_order_parameter(psi, 4, 2)) == pytest.approx(1.0)
    # |1100>: M_s = 1 - 1 - 1 + 1 = 0
    other = np.zeros(6)
    other[occ.tolist().index([1, 1, 0, 0])] = 1.0
    assert float(hubbard.cdw_order_parameter(other, 4, 2)) == pytest.approx(0.0)


def test_staggered_field_selects_one_pattern():
    psi = hubbard.ground_state(10, 5, 10.0, h1=1e-3)
    n = hubbard.density(psi, 10, 5)
    assert n.sum() == pytest.approx(5.0)
    assert n[1::2].min() > 0.9 and n[::2].max() < 0.1  # h1 > 0 favours the odd sites


def test_density_correlations_sum_rules():
    psi = hubbard.ground_states([0.4, 2.0], 8, 4, h1=0.0)
    corr = hubbard.density_correlations(psi, 8, 4)
    assert corr.shape == (2, 8, 8)
    # Fixed N: sum_j C_ij = Cov(n_i, N) = 0.
    assert np.abs(corr.sum(-1)).max() < 1e-12
    np.testing.assert_allclose(corr, np.swapaxes(corr, -1, -2), atol=1e-14)
    # Translation invariance at h1 = 0: C_ij depends on (i - j) mod L only.
    for shift in range(8):
        rolled = np.roll(np.roll(corr, shift, -1), shift, -2)
        np.testing.assert_allclose(rolled, corr, atol=1e-10)
    # Hard-core: <n_i n_i> = <n_i>, so C_ii = n (1 - n) = 1/4 at half filling.
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 0.25, atol=1e-10)


def test_energy_is_the_rayleigh_quotient():
    h = hubbard.hamiltonian(6, 3, 0.9)
    psi = np.random.default_rng(0).standard_normal((4, 20))
    dense = h.toarray()
    expected = np.einsum("ma,ab,mb->m", psi, dense, psi) / (psi**2).sum(-1)
    np.testing.assert_allclose(hubbard.energy(3.0 * psi, h), expected, rtol=1e-13)


def test_make_positive_rejects_a_state_with_nodes():
    with pytest.raises(RuntimeError, match="amplitudes of both signs"):
        hubbard._make_positive(np.array([0.6, -0.5, 0.4, 0.1]), "ground_state")
    out = hubbard._make_positive(-np.array([0.6, 0.5, 0.0, 1e-18]), "ground_state")
    assert out.min() >= 0


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="n_particles must be at most n_sites"):
        hubbard.basis(4, 5)
    with pytest.raises(ValueError, match="n_sites must be an int >= 2"):
        hubbard.hamiltonian(1, 0, 1.0)
    with pytest.raises(ValueError, match="n_sites must be at most 30"):
        hubbard.basis(31, 1)
    with pytest.raises(ValueError, match="n_particles must be an int >= 0"):
        hubbard.ground_state(4, 2.0)
    with pytest.raises(ValueError, match="v1 must be a finite real number"):
        hubbard.hamiltonian(4, 2, float("nan"))
    with pytest.raises(ValueError, match="statistics must be one of"):
        hubbard.hamiltonian(4, 2, 1.0, statistics="anyon")
    with pytest.raises(ValueError, match="method must be one of"):
        hubbard.ground_state(4, 2, 1.0, method="lanczos")
    with pytest.raises(ValueError, match="v1_values must be a non-empty 1-d array"):
        hubbard.ground_states([], 4, 2)
    with pytest.raises(ValueError, match=r"psi must be a real float array of shape \(\.\.\., 6\)"):
        hubbard.cdw_order_parameter(np.ones(5), 4, 2)
    with pytest.raises(ValueError, match="psi must be a real float array"):
        hubbard.density(np.ones(6, dtype=np.int64), 4, 2)
    with pytest.raises(ValueError, match="psi must be a real float array"):
        hubbard.density_correlations(np.ones((2, 7)), 4, 2)
    with pytest.raises(ValueError, match="hamiltonian must be a square"):
        hubbard.energy(np.ones(6), np.ones((6, 5)))
    with pytest.raises(ValueError, match=r"psi must have shape \(\.\.\., 6\)"):
        hubbard.energy(np.ones(5), hubbard.hamiltonian(4, 2, 1.0))
