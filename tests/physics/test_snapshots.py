"""Snapshot generators: Metropolis kernel, detailed balance, Wick's theorem, strings, statistics."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from physxai.physics import snapshots as S

# --------------------------------------------------------------------------------------------
# helpers: literal reference implementations


def _random_orbitals(n_sites, n, rng, complex_=True):
    z = rng.normal(size=(n_sites, n))
    if complex_:
        z = z + 1j * rng.normal(size=(n_sites, n))
    return np.linalg.qr(z)[0]


def _weight(config, phi_up, phi_down):
    """|det D_up det D_down|^2 of a configuration (tuple of codes 0 up, 1 down, 2 hole, 3 both)."""
    c = np.asarray(config)
    up, down = np.flatnonzero((c == 0) | (c == 3)), np.flatnonzero((c == 1) | (c == 3))
    return abs(np.linalg.det(phi_up[up])) ** 2 * abs(np.linalg.det(phi_down[down])) ** 2


def _configurations(n_sites, n_up, n_down, projected):
    out = []
    for up in itertools.combinations(range(n_sites), n_up):
        rest = [s for s in range(n_sites) if s not in up] if projected else range(n_sites)
        for down in itertools.combinations(rest, n_down):
            c = np.full(n_sites, 2)
            c[list(up)] = 0
            c[list(down)] = np.where(c[list(down)] == 0, 3, 1)
            out.append(tuple(c))
    return out


def _kernel(configs, weights, nbr, projected, hop_probability, counts):
    """Transition matrix of the documented proposals with min(1, w'/w) acceptance."""
    index = {c: k for k, c in enumerate(configs)}
    n_sites, n_dirs = nbr.shape
    p = np.zeros((len(configs), len(configs)))
    for a, conf in enumerate(configs):
        c = np.asarray(conf)
        moves = []  # (probability of the proposal, new configuration)
        if projected:
            holes = np.flatnonzero(c == 2)
            hop = hop_probability if len(holes) else 0.0
            for h in holes:
                for d in range(n_dirs):
                    j = nbr[h, d]
                    if c[j] != 2:
                        new = c.copy()
                        new[h], new[j] = c[j], 2
                        moves.append((hop / len(holes) / n_dirs, new))
            for i in range(n_sites):
                for d in range(n_dirs):
                    j = nbr[i, d]
                    if {c[i], c[j]} == {0, 1}:
                        new = c.copy()
                        new[i], new[j] = c[j], c[i]
                        moves.append(((1 - hop) / n_sites / n_dirs, new))
        else:
            for sigma in (0, 1):
                has = (c == sigma) | (c == 3)
                for i in np.flatnonzero(has):
                    for d in range(n_dirs):
                        j = nbr[i, d]
                        if has[j]:
                            continue
                        new_has = has.copy()
                        new_has[i], new_has[j] = False, True
                        other = (c == 1 - sigma) | (c == 3)
                        up, down = (new_has, other) if sigma == 0 else (other, new_has)
                        new = np.where(up & down, 3, np.where(up, 0, np.where(down, 1, 2)))
                        moves.append((0.5 / counts[sigma] / n_dirs, new))
        for q, new in moves:
            b = index[tuple(new)]
            p[a, b] += q * min(1.0, weights[b] / weights[a])
        p[a, a] += 1.0 - p[a].sum()
    return p


# --------------------------------------------------------------------------------------------
# lattice helpers and statistics


def test_neighbour_table_is_symmetric_and_opposite_directions_invert():
    for size in (3, 4, 10):
        nbr = S.square_lattice_neighbours(size)
        sites = np.arange(size * size)
        for d in range(4):
            np.testing.assert_array_equal(nbr[nbr[:, d], (d + 2) % 4], sites)


def test_circular_mask_counts_and_symmetry():
    mask = S.circular_mask(10)
    assert mask.sum() == 80 and mask.dtype == bool
    np.testing.assert_array_equal(mask, np.rot90(mask))
    np.testing.assert_array_equal(mask, mask.T)
    assert S.circular_mask(10, 1.0).sum() == 4  # the four central sites
    s = S.random_snapshots(2, 10, 45, 46, 9, seed=0)
    cropped = S.circular_crop(s, None)
    assert (cropped[:, :, ~mask] == 0).all() and (cropped[:, :, mask] == s[:, :, mask]).all()
    with pytest.raises(ValueError, match="radius must be"):
        S.circular_mask(10, 0.0)


def test_one_hot_round_trip_and_errors():
    rng = np.random.default_rng(0)
    codes = rng.integers(3, size=(5, 4, 4))
    s = S.one_hot(codes)
    assert s.dtype == np.int8 and s.shape == (5, 3, 4, 4)
    np.testing.assert_array_equal(s.argmax(axis=1), codes)
    assert (s.sum(axis=1) == 1).all()
    with pytest.raises(ValueError, match="values 0"):
        S.one_hot(codes + 1)
    with pytest.raises(ValueError, match="codes must be"):
        S.one_hot(codes[0])


def _spin_reference(s, offset, mask):
    """Literal loop: mean S_x S_{x+d} over pairs of singly occupied sites."""
    size = s.shape[-1]
    dy, dx = offset
    out = []
    for snap in s:
        total = count = 0.0
        for y, x in itertools.product(range(size), range(size)):
            y2, x2 = y + dy, x + dx
            if mask is not None and not (
                0 <= y2 < size and 0 <= x2 < size and mask[y, x] and mask[y2, x2]
            ):
                continue
            y2, x2 = y2 % size, x2 % size
            a, b = snap[:2, y, x], snap[:2, y2, x2]
            if a.sum() == 1 and b.sum() == 1:
                total += 0.25 * (a[0] - a[1]) * (b[0] - b[1])
                count += 1
        out.append(total / count if count else np.nan)
    return np.array(out)


def _two_point_reference(s, offset, mask):
    size = s.shape[-1]
    dy, dx = offset
    out = np.zeros((len(s), 3, 3))
    count = 0
    for y, x in itertools.product(range(size), range(size)):
        y2, x2 = y + dy, x + dx
        if mask is not None and not (
            0 <= y2 < size and 0 <= x2 < size and mask[y, x] and mask[y2, x2]
        ):
            continue
        count += 1
        out += np.einsum("na,nb->nab", s[:, :, y, x], s[:, :, y2 % size, x2 % size])
    return out / count


@pytest.mark.parametrize("use_mask", [False, True])
def test_statistics_match_literal_loops(use_mask):
    rng = np.random.default_rng(1)
    s = S.one_hot(rng.integers(3, size=(3, 6, 6)))
    mask = S.circular_mask(6) if use_mask else None
    values, offsets = S.spin_correlation(s, 2, mask)
    tp, offsets2 = S.two_point(s, 2, mask)
    np.testing.assert_array_equal(offsets, offsets2)
    assert len(offsets) == 12 and offsets[:2].tolist() == [[0, 1], [1, 0]]
    for k, off in enumerate(offsets):
        np.testing.assert_allclose(values[:, k], _spin_reference(s, off, mask), atol=1e-12)
        np.testing.assert_allclose(tp[:, k], _two_point_reference(s, off, mask), atol=1e-12)
    # the nn correlator pools the two nearest-neighbour displacements
    nn = S.nn_spin_correlator(s, mask)
    ref = []
    for snap in s[:, None]:
        v, _ = S.spin_correlation(snap, 1, mask)
        pairs = [S.two_point(snap, 1, mask)[0][0, k, :2, :2].sum() for k in (0, 1)]
        ref.append(np.nansum(v[0, :2] * pairs) / sum(pairs))
    np.testing.assert_allclose(nn, ref, atol=1e-12)


def test_neel_and_ferromagnet_limits():
    codes = np.indices((4, 4)).sum(axis=0) % 2
    neel = S.one_hot(codes[None])
    assert S.nn_spin_correlator(neel)[0] == -0.25
    values, _ = S.spin_correlation(neel, 2)
    np.testing.assert_allclose(values[0], [0.25 * (-1) ** (dy + dx) for dy, dx in _offs(2)])
    ferro = S.one_hot(np.zeros((1, 4, 4), dtype=int))
    assert S.nn_spin_correlator(ferro)[0] == 0.25
    empty = S.one_hot(np.full((1, 4, 4), 2))
    assert np.isnan(S.nn_spin_correlator(empty)[0])
    np.testing.assert_allclose(S.densities(neel), [[0.5, 0.5, 0.0]])


def _offs(d):
    return S.two_point(S.one_hot(np.zeros((1, 5, 5), dtype=int)), d)[1].tolist()


def test_statistics_reject_bad_input():
    s = S.random_snapshots(2, 4, 8, 8, 0, seed=0)
    with pytest.raises(TypeError, match="numpy array"):
        S.densities(s.tolist())
    with pytest.raises(ValueError, match=r"shape \(n_samples, 3, L, L\)"):
        S.nn_spin_correlator(s[:, :2])
    with pytest.raises(ValueError, match="hold numbers"):
        S.two_point(s.astype(str))
    with pytest.raises(ValueError, match="mask must be a boolean array of shape"):
        S.densities(s, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="max_distance must be an int >= 1"):
        S.spin_correlation(s, 0)


# --------------------------------------------------------------------------------------------
# antiferromagnet and random snapshots


def test_afm_and_random_like_share_every_density():
    afm = S.afm_snapshots(40, lattice_size=8, temperature=1.5, n_holes=3, seed=0)
    assert afm.shape == (40, 3, 8, 8) and afm.dtype == np.int8
    assert (afm.sum(axis=1) == 1).all() and (afm[:, 2].sum(axis=(1, 2)) == 3).all()
    assert S.nn_spin_correlator(afm).mean() < -0.2  # T = 1.5 < T_N: Neel order
    shuffled = S.random_like(afm, seed=1)
    np.testing.assert_array_equal(shuffled.sum(axis=(2, 3)), afm.sum(axis=(2, 3)))
    assert abs(S.nn_spin_correlator(shuffled).mean()) < 0.02
    np.testing.assert_array_equal(
        S.afm_snapshots(5, 8, 1.5, seed=3), S.afm_snapshots(5, 8, 1.5, seed=3)
    )
    cropped = S.circular_crop(afm, 3.0)
    again = S.random_like(cropped, seed=2)
    outside = ~S.circular_mask(8, 3.0)
    assert (again[:, :, outside] == 0).all()  # empty sites stay empty
    np.testing.assert_array_equal(again.sum(axis=(2, 3)), cropped.sum(axis=(2, 3)))


def test_random_snapshots_counts_and_errors():
    s = S.random_snapshots(2000, 4, 7, 6, 3, seed=0)
    assert (s.sum(axis=(2, 3)) == [7, 6, 3]).all()
    # uniform: every site equally likely to hold a hole (standard error 0.009)
    assert np.allclose(s[:, 2].mean(axis=0), 3 / 16, atol=0.04)
    with pytest.raises(ValueError, match="must equal the 16 sites"):
        S.random_snapshots(2, 4, 7, 6, 2, seed=0)
    with pytest.raises(TypeError, match="seed must be"):
        S.random_snapshots(2, 4, 8, 8, 0, seed="x")
    with pytest.raises(ValueError, match="n_holes must leave at least 2 particles"):
        S.afm_snapshots(2, 4, n_holes=15)


# --------------------------------------------------------------------------------------------
# the pi-flux Hamiltonian and orbitals


def test_pi_flux_hamiltonian_has_flux_pi_through_every_plaquette():
    size = 6
    h = S.pi_flux_hamiltonian(size, twist=(0.3, -0.7))
    np.testing.assert_allclose(h, h.conj().T)

    def site(x, y):
        return (y % size) * size + x % size

    for x, y in itertools.product(range(size), range(size)):
        loop = [site(x, y), site(x + 1, y), site(x + 1, y + 1), site(x, y + 1), site(x, y)]
        product = np.prod([h[b, a] for a, b in itertools.pairwise(loop)])
        np.testing.assert_allclose(product, -1.0, atol=1e-12)  # flux pi, t = 1


def test_pi_flux_levels_are_pairwise_degenerate_and_46_is_a_closed_shell():
    energy = np.linalg.eigvalsh(S.pi_flux_hamiltonian(10))
    np.testing.assert_allclose(energy[::2], energy[1::2], atol=1e-10)  # magnetic translations
    assert energy[46] - energy[45] == pytest.approx(0.7101, abs=1e-4)
    assert energy[45] - energy[44] < 1e-10  # 45 is an open shell
    np.testing.assert_allclose(energy.sum(), 0.0, atol=1e-10)  # traceless: no on-site terms
    for kwargs, match in [
        ({"lattice_size": 5}, "must be even"),
        ({"lattice_size": 4, "boundary": (1, 0)}, "boundary must be"),
        ({"lattice_size": 4, "twist": (0.1,)}, "twist must be"),
        ({"lattice_size": 4, "hopping": 0.0}, "hopping must be > 0"),
    ]:
        with pytest.raises(ValueError, match=match):
            S.pi_flux_hamiltonian(**kwargs)


def test_open_shell_orbitals_average_to_the_symmetric_projector():
    h = S.pi_flux_hamiltonian(10)
    energy, states = np.linalg.eigh(h.real)
    phi = S.pi_flux_orbitals(10, 45, n_draws=1500, seed=0)
    assert phi.shape == (1500, 100, 45) and phi.dtype == np.float64
    np.testing.assert_allclose(phi[7].T @ phi[7], np.eye(45), atol=1e-12)
    # every draw: the 38 closed-shell states plus 7 states of the eight-fold level at -1.328
    level = np.abs(energy - energy[44]) < 1e-8
    assert level.sum() == 8 and np.flatnonzero(level)[0] == 38
    one = phi[3] @ phi[3].T
    np.testing.assert_allclose(np.trace(one @ states[:, level] @ states[:, level].T), 7, atol=1e-10)
    # averaged over the draws: closed shell + (7/8) x the level's projector (Haar average)
    mean = np.einsum("dim,djm->ij", phi, phi) / len(phi)
    expected = states[:, :38] @ states[:, :38].T + 7 / 8 * states[:, level] @ states[:, level].T
    assert np.abs(mean - expected).max() < 0.02
    closed = S.pi_flux_orbitals(10, 46, n_draws=2)
    np.testing.assert_array_equal(closed[0], closed[1])
    with pytest.raises(ValueError, match="n_particles must be <= 16"):
        S.pi_flux_orbitals(4, 17)


# --------------------------------------------------------------------------------------------
# the Metropolis sampler: kernel, detailed balance, stationarity, drift


@pytest.mark.parametrize("projected", [True, False])
def test_the_kernel_obeys_detailed_balance_and_the_sampler_implements_it(projected):
    """Enumerate every configuration of a 3 x 3 torus, build the kernel the documented moves
    imply, check detailed balance against |det D_up det D_down|^2, then check one step of the
    vectorised sampler from a fixed configuration against that kernel's row."""
    rng = np.random.default_rng(0)
    counts = (2, 2) if projected else (2, 1)
    phi = [_random_orbitals(9, m, rng) for m in counts]
    nbr = S.square_lattice_neighbours(3)
    configs = _configurations(9, *counts, projected)
    weights = np.array([_weight(c, *phi) for c in configs])
    assert weights.min() > 0
    pi = weights / weights.sum()
    kernel = _kernel(configs, weights, nbr, projected, 0.4, counts)
    flow = pi[:, None] * kernel
    assert np.abs(flow - flow.T).max() < 1e-15  # detailed balance
    np.testing.assert_allclose(pi @ kernel, pi, atol=1e-15)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, atol=1e-13)

    n_chains = 40_000
    chains = S.SlaterMetropolis(
        tuple(phi), nbr, projected=projected, n_chains=n_chains, hop_probability=0.4, seed=1
    )
    start = int(np.argmin(weights))  # a low-weight start: most moves are accepted
    chains.set_codes(np.tile(np.asarray(configs[start]), (n_chains, 1)))
    chains.step(1)
    index = {c: k for k, c in enumerate(configs)}
    seen = np.bincount([index[tuple(c)] for c in chains.codes().tolist()], minlength=len(configs))
    freq = seen / n_chains
    row = kernel[start]
    assert (freq[row == 0] == 0).all()  # never a move the kernel forbids
    sigma = np.sqrt(row * (1 - row) / n_chains) + 1e-12
    assert np.abs(freq - row).max() < 5 * sigma.max()
    assert (np.abs(freq - row) / sigma)[row > 0].max() < 5


@pytest.mark.parametrize("projected", [True, False])
def test_independent_chains_reach_the_exact_distribution(projected):
    """One configuration from each of 10,000 independent chains after 80 sweeps: a chi-square
    test against the exactly enumerated |det D_up det D_down|^2. (These random orbitals leave a
    region of tiny weight that takes the chains some 50 sweeps to equilibrate: at 25 sweeps the
    projected chi-square is still 3.5 sigma high.)"""
    rng = np.random.default_rng(2)
    counts = (1, 1) if projected else (1, 2)
    phi = [_random_orbitals(9, m, rng) for m in counts]
    configs = _configurations(9, *counts, projected)
    weights = np.array([_weight(c, *phi) for c in configs])
    chains = S.SlaterMetropolis(
        tuple(phi), S.square_lattice_neighbours(3), projected=projected, n_chains=10_000, seed=3
    )
    chains.sweep(80)
    index = {c: k for k, c in enumerate(configs)}
    seen = np.bincount([index[tuple(c)] for c in chains.codes().tolist()], minlength=len(configs))
    expected = 10_000 * weights / weights.sum()
    keep = expected >= 5
    chi2 = ((seen[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    dof = keep.sum() - 1
    assert abs(chi2 - dof) / np.sqrt(2 * dof) < 4, (chi2, dof)
    # total variation distance against its expectation for 10,000 exact draws
    p = weights / weights.sum()
    expected_tv = 0.5 * np.sqrt(2 * p * (1 - p) / (np.pi * 10_000)).sum()
    assert 0.5 * np.abs(seen / 10_000 - p).sum() < 1.5 * expected_tv


def test_sherman_morrison_drift_is_small_and_recompute_resets_it():
    chains = S.pi_flux_chains(10, 9, n_chains=8, seed=0)
    chains.recompute_every = 10**9
    chains.step(1500)
    drift = chains.inverse_error()
    assert drift < 1e-9
    assert chains.recompute().inverse_error() < 1e-12
    assert chains.n_steps == 1500 and chains.n_accepted.sum() > 0.2 * 1500 * 8
    # the weights the chains moved through stay finite and the configurations valid
    codes = chains.codes()
    assert ((codes == 0).sum(axis=1) == 46).all() and ((codes == 2).sum(axis=1) == 9).all()
    assert np.isfinite(chains.log_weight()).all()


def test_sampler_rejects_bad_arguments():
    phi = _random_orbitals(9, 2, np.random.default_rng(0))
    nbr = S.square_lattice_neighbours(3)
    with pytest.raises(TypeError, match="pair"):
        S.SlaterMetropolis(phi, nbr)
    with pytest.raises(ValueError, match="neighbours must be an integer array"):
        S.SlaterMetropolis((phi, phi), nbr.astype(float))
    with pytest.raises(ValueError, match="site indices"):
        S.SlaterMetropolis((phi, phi), nbr + 5)
    with pytest.raises(ValueError, match="orbitals down must have shape"):
        S.SlaterMetropolis((phi, phi[:4]), nbr)
    with pytest.raises(ValueError, match="per-chain orbitals must agree"):
        S.SlaterMetropolis((np.stack([phi] * 2), np.stack([phi] * 3)), nbr)
    with pytest.raises(ValueError, match="n_chains must match"):
        S.SlaterMetropolis((np.stack([phi] * 2), phi), nbr, n_chains=3)
    big = _random_orbitals(9, 5, np.random.default_rng(1))
    with pytest.raises(ValueError, match="n_up \\+ n_down <= n_sites"):
        S.SlaterMetropolis((big, big), nbr)
    chains = S.SlaterMetropolis((phi, phi), nbr, n_chains=2)
    with pytest.raises(ValueError, match="codes must be integers"):
        chains.set_codes(np.zeros((2, 8), int))
    with pytest.raises(ValueError, match="2 up and 2 down"):
        chains.set_codes(np.full((2, 9), 2))
    with pytest.raises(ValueError, match="n_steps must be an int >= 0"):
        chains.step(-1)
    with pytest.raises(ValueError, match="n_up and n_down must both be >= 1"):
        S.pi_flux_chains(4, 14, n_up=14)


# --------------------------------------------------------------------------------------------
# Wick's theorem: unprojected sampling of a Slater determinant


def _wick_check(snapshots, orbitals_up, orbitals_down):
    """Largest |z| of the sampled densities against G_ii and of the density covariances of
    distinct sites against -|G_ij|^2 (same spin) and 0 (opposite spins). The variance of one
    site is left out: for a 0/1 variable it is a function of the density, and its z-score is
    ill-conditioned near half filling (its standard error is proportional to 1 - 2 n_i)."""
    n = len(snapshots)
    occ = [
        snapshots[:, 0].reshape(n, -1).astype(float),
        snapshots[:, 1].reshape(n, -1).astype(float),
    ]
    g = [orbitals_up @ orbitals_up.conj().T, orbitals_down @ orbitals_down.conj().T]
    off = ~np.eye(occ[0].shape[1], dtype=bool)
    z_max = 0.0
    for a, b in ((0, 0), (1, 1), (0, 1)):
        da, db = occ[a] - occ[a].mean(axis=0), occ[b] - occ[b].mean(axis=0)
        products = da[:, :, None] * db[:, None, :]
        cov = products.mean(axis=0)
        se = products.std(axis=0) / np.sqrt(n) + 1e-12
        if a == b:
            exact = -(np.abs(g[a]) ** 2)  # Wick: <n_i n_j> - <n_i><n_j> = -|G_ij|^2, i != j
            density = np.diag(g[a]).real
            z_density = np.abs(occ[a].mean(axis=0) - density) / np.sqrt(density * (1 - density) / n)
            z_max = max(z_max, float(z_density.max()))
        else:
            exact = np.zeros_like(cov)
        z_max = max(z_max, float((np.abs(cov - exact) / se)[off].max()))
    return z_max


def test_unprojected_sampler_reproduces_wicks_theorem():
    """Free fermions, 4 up and 4 down (closed shells) on the 4 x 4 pi-flux torus: one snapshot
    from each of 2000 independent chains. Same-spin density covariance = -|G_ij|^2 (Wick),
    opposite spins independent; every |z| < 5."""
    s = S.pi_flux(
        2000, 4, 8, projected=False, n_chains=2000, n_thermalize=20, symmetrize=False, seed=0
    )
    up = S.pi_flux_orbitals(4, 4)[0]
    assert s[:, 0].sum(axis=(1, 2)).tolist() == [4] * 2000
    assert (s[:, :2].sum(axis=1) == 2).any()  # double occupancy appears
    assert _wick_check(s, up, up) < 5


@pytest.mark.slow
def test_unprojected_sampler_reproduces_wicks_theorem_on_10x10():
    s = S.pi_flux(
        3000, 10, 8, projected=False, n_chains=1500, n_between=10, symmetrize=False, seed=1
    )
    up = S.pi_flux_orbitals(10, 46)[0]
    # two snapshots per chain, 10 sweeps (> 3 tau_int) apart; 3 x 9900 covariances
    assert _wick_check(s, up, up) < 5.5


def test_projected_snapshots_have_fixed_counts_and_are_reproducible():
    s = S.pi_flux(24, 4, 2, n_chains=8, n_thermalize=5, n_between=1, seed=0)
    assert s.shape == (24, 3, 4, 4) and s.dtype == np.int8 and (s.sum(axis=1) == 1).all()
    counts = s.sum(axis=(2, 3))
    assert (counts[:, 2] == 2).all() and set(map(tuple, counts[:, :2].tolist())) <= {(7, 7)}
    np.testing.assert_array_equal(
        s, S.pi_flux(24, 4, 2, n_chains=8, n_thermalize=5, n_between=1, seed=0)
    )
    odd = S.pi_flux(40, 4, 3, n_chains=8, n_thermalize=5, seed=1)
    spins = set(map(tuple, odd.sum(axis=(2, 3))[:, :2].tolist()))
    assert spins == {(7, 6), (6, 7)}  # symmetrised: both spin orientations
    cropped = S.pi_flux(4, 4, 2, n_chains=4, n_thermalize=1, crop_radius=1.0, seed=0)
    assert cropped[:, :, ~S.circular_mask(4, 1.0)].sum() == 0


# --------------------------------------------------------------------------------------------
# geometric strings


def test_string_length_distribution():
    p = S.string_length_distribution(1.5)
    np.testing.assert_allclose(p[1:] / p[:-1], np.exp(-1 / 1.5))
    assert len(p) == 31 and p.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(S.string_length_distribution([0, 2, 2]), [0, 0.5, 0.5])
    np.testing.assert_array_equal(S.string_length_distribution(0.0), [1.0])
    for bad in (-1.0, [0.0, 0.0], [1.0, -1.0], "a"):
        with pytest.raises(ValueError, match="string_length must"):
            S.string_length_distribution(bad)


def test_strings_conserve_particle_numbers():
    for kwargs in (
        {"string_length": 3.0, "flip_probability": 0.2},
        {"string_length": 3.0, "flip_probability": 0.2, "fix_magnetization": False},
        {"string_length": [0, 0, 0, 1]},
    ):
        s = S.geometric_strings(200, 10, 9, seed=0, **kwargs)
        assert (s.sum(axis=1) == 1).all()
        counts = s.sum(axis=(2, 3))
        assert (counts[:, 2] == 9).all() and (counts[:, :2].sum(axis=1) == 91).all()
        if kwargs.get("fix_magnetization", True):
            assert set(map(tuple, counts[:, :2].tolist())) == {(46, 45), (45, 46)}
    parents = S.one_hot(np.indices((10, 10)).sum(axis=0)[None] % 2)
    s = S.geometric_strings(50, 10, 12, parents=parents, string_length=2.0, seed=1)
    assert set(map(tuple, s.sum(axis=(2, 3)).tolist())) == {(44, 44, 12)}


def test_a_string_of_length_one_displaces_one_spin_next_to_the_hole():
    s = S.geometric_strings(100, 6, 1, string_length=[0, 1], fix_magnetization=False, seed=0)
    codes = s.argmax(axis=1)
    for c in codes:
        (hy,), (hx,) = np.nonzero(c == 2)
        # the Neel orientation is random: take it from a site the string cannot have touched
        far = ((hy + 3) % 6, (hx + 3) % 6)
        neel = (np.indices((6, 6)).sum(axis=0) + sum(far) + c[far]) % 2
        wrong = np.argwhere((c != neel) & (c != 2))
        assert len(wrong) == 1  # the spin that sat on the hole's site, moved one site on
        wy, wx = wrong[0]
        assert min(abs(wy - hy), 6 - abs(wy - hy)) + min(abs(wx - hx), 6 - abs(wx - hx)) == 1
        assert c[wy, wx] == neel[hy, hx]


def test_strings_end_on_the_prescribed_hole_patterns():
    pattern = np.zeros((1, 8, 8), dtype=int)
    pattern[0, 0, [0, 1, 2]] = 2
    pattern[0, 1, 0] = 2  # an L-shaped tetromino of holes
    patterns = S.one_hot(pattern)
    s = S.geometric_strings(60, 8, 4, hole_patterns=patterns, string_length=2.0, seed=0)
    images = set()
    for k, flip in itertools.product(range(4), (False, True)):
        base = np.rot90(pattern[0] == 2, k)
        base = base[:, ::-1] if flip else base
        for dy, dx in itertools.product(range(8), range(8)):
            images.add(np.roll(base, (dy, dx), axis=(0, 1)).tobytes())
    assert all((snap[2] == 1).tobytes() in images for snap in s)
    with pytest.raises(ValueError, match="exactly n_holes = 3 holes"):
        S.geometric_strings(2, 8, 3, hole_patterns=patterns)
    with pytest.raises(ValueError, match="parents must have no holes"):
        S.geometric_strings(2, 8, 4, parents=patterns)
    with pytest.raises(ValueError, match="one-hot snapshots"):
        S.geometric_strings(2, 8, 4, parents=S.circular_crop(patterns, 2.0))


def test_tuning_recovers_known_parameters():
    # without holes the Neel correlator is exactly -(1 - 2p)^2 / 4
    p = S.tune_flip_probability(
        -0.09, lattice_size=6, n_holes=0, fix_magnetization=False, n_samples=3000, tolerance=1e-3
    )
    assert p == pytest.approx(0.5 * (1 - np.sqrt(0.36)), abs=0.006)
    # strings: tuning l0 back to a correlator measured at l0 = 1.5
    strings = {"lattice_size": 8, "n_holes": 6, "flip_probability": 0.1}
    target = S.nn_spin_correlator(S.geometric_strings(600, **strings, string_length=1.5, seed=4))
    length = S.tune_string_length(
        float(target.mean()), n_samples=600, tolerance=0.01, seed=4, **strings
    )
    # the spread over seeds is about 0.02 at 1000 snapshots, 0.03 at 600
    assert length == pytest.approx(1.5, abs=0.12)
    with pytest.raises(ValueError, match="must lie in"):
        S.tune_flip_probability(-0.249, lattice_size=6, n_holes=4, n_samples=50)
    with pytest.raises(ValueError, match="tolerance must be > 0"):
        S.tune_string_length(-0.1, tolerance=0.0)
    with pytest.raises(ValueError, match="max_length must be > 0"):
        S.tune_string_length(-0.1, max_length=0.0)


# --------------------------------------------------------------------------------------------
# shell-coupled Ising parents


def _literal_shell_energy(spins, size, couplings):
    """sum_k J_k sum over unordered pairs on shell k (minimum image) of s_i s_j, by loops."""
    d2 = S.shell_distances(len(couplings)).tolist()
    total = 0.0
    for i in range(size * size):
        for j in range(i + 1, size * size):
            dy, dx = abs(i // size - j // size), abs(i % size - j % size)
            r2 = min(dy, size - dy) ** 2 + min(dx, size - dx) ** 2
            if r2 in d2:
                total += couplings[d2.index(r2)] * spins[i] * spins[j]
    return total


def test_shell_distances_and_correlators_match_literal_loops():
    assert S.shell_distances(8).tolist() == [1, 2, 4, 5, 8, 9, 10, 13]
    neel = S.one_hot(np.indices((6, 6)).sum(axis=0)[None] % 2)
    np.testing.assert_allclose(
        S.shell_correlators(neel, 6), [[-0.25, 0.25, 0.25, -0.25, 0.25, -0.25]]
    )
    s = S.random_snapshots(3, 6, 14, 16, 6, seed=1)
    values = S.shell_correlators(s, 5)
    codes = np.argmax(s, axis=1)
    half_plane = [(dy, dx) for dy in range(3) for dx in range(-2, 3) if dy > 0 or dx > 0]
    for n in range(3):
        spin = np.where(codes[n] == 0, 0.5, -0.5)
        for k, d2 in enumerate(S.shell_distances(5)):
            means = []
            for dy, dx in half_plane:
                if dy * dy + dx * dx != d2:
                    continue
                prods = [
                    spin[y, x] * spin[(y + dy) % 6, (x + dx) % 6]
                    for y in range(6)
                    for x in range(6)
                    if codes[n, y, x] != 2 and codes[n, (y + dy) % 6, (x + dx) % 6] != 2
                ]
                means.append(np.mean(prods))
            assert values[n, k] == pytest.approx(np.mean(means))


def test_shell_ising_samples_the_exact_distribution_of_a_small_lattice():
    """4 x 4 torus, 8 up spins (12870 configurations), couplings on two shells with a
    frustrating second one: the sampled shell means agree with exact enumeration (|z| < 5)."""
    size, couplings = 4, [0.45, 0.25]
    chains = S.ShellIsing(size, couplings, n_chains=4000, seed=0).sweep(60)
    # the fields are kept up to date and the magnetisation is exactly zero
    np.testing.assert_allclose(chains._fields, chains.spins @ chains._matrix, atol=1e-12)
    assert (chains.spins.sum(axis=1) == 0).all()
    for c in range(3):
        assert chains.energy()[c] == pytest.approx(
            _literal_shell_energy(chains.spins[c], size, couplings)
        )
    masks = S._shell_masks(size, 2).astype(float)
    weights, phis = [], []
    for up in itertools.combinations(range(16), 8):
        s = -np.ones(16)
        s[list(up)] = 1
        phi = np.einsum("i,kij,j->k", s, masks, s) / masks.sum(axis=(1, 2))
        pairs = masks.sum(axis=(1, 2)) / 2
        weights.append(-np.dot(couplings, phi * pairs))
        phis.append(phi)
    w = np.exp(np.array(weights) - max(weights))
    exact = (w[:, None] * np.array(phis)).sum(axis=0) / w.sum()
    sampled = chains.shell_means()
    z = (sampled.mean(axis=0) - exact) / (sampled.std(axis=0) / np.sqrt(len(sampled)))
    assert np.abs(z).max() < 5, (sampled.mean(axis=0), exact)
    assert 0.05 < chains.sweep(1).acceptance < 0.95


def test_shell_ising_snapshots_and_errors():
    s = S.shell_ising(30, 6, [0.3, 0.1], n_chains=7, n_thermalize=5, n_between=2, seed=0)
    assert s.shape == (30, 3, 6, 6) and s.dtype == np.int8
    assert (s.sum(axis=(2, 3)) == [18, 18, 0]).all()
    np.testing.assert_array_equal(
        s, S.shell_ising(30, 6, [0.3, 0.1], n_chains=7, n_thermalize=5, n_between=2, seed=0)
    )
    with pytest.raises(ValueError, match="lattice_size must be even"):
        S.ShellIsing(5, [0.3])
    with pytest.raises(ValueError, match="lattice_size >= 5"):
        S.shell_ising(4, 4, [0.3, 0.1, 0.1])
    with pytest.raises(ValueError, match="couplings must be a non-empty"):
        S.shell_ising(4, 6, [])
    with pytest.raises(ValueError, match="couplings must be a non-empty"):
        S.shell_ising(4, 6, [0.1, np.nan])


def test_tuned_shell_couplings_recover_the_parents_of_given_strings():
    """Strings on parents with known couplings give a target; tuning from the default start
    finds couplings whose strings reach it (and the known couplings themselves)."""
    truth = [0.9, 0.4, 0.2]
    strings = {"lattice_size": 8, "n_holes": 6, "string_length": 1.0}
    parents = S.shell_ising(2000, 8, truth, seed=1)
    made = S.geometric_strings(2000, parents=parents, seed=2, **strings)
    target = S.shell_correlators(made, 3).mean(axis=0)
    fit = S.tune_shell_couplings(target, n_samples=800, n_iterations=30, seed=3, **strings)
    assert fit.history.shape == (30, 2, 3)
    assert np.abs(fit.achieved - target).max() < 5 * fit.standard_error.max() + 0.002
    np.testing.assert_allclose(fit.couplings, truth, atol=0.1)
    with pytest.raises(ValueError, match="target must be"):
        S.tune_shell_couplings([0.3])
    with pytest.raises(ValueError, match="initial must be a non-empty"):
        S.tune_shell_couplings([-0.1], initial=[np.nan])
    with pytest.raises(ValueError, match="one coupling per target shell"):
        S.tune_shell_couplings([-0.1, 0.02], initial=[0.3])
    with pytest.raises(ValueError, match="damping must be in"):
        S.tune_shell_couplings([-0.1], damping=0.0)
    with pytest.raises(ValueError, match="max_step must be > 0"):
        S.tune_shell_couplings([-0.1], max_step=0.0)
    with pytest.raises(ValueError, match="ridge must be"):
        S.tune_shell_couplings([-0.1], ridge=-1.0)


# --------------------------------------------------------------------------------------------
# the two classes of the full preset: matched one- and two-point statistics


def _control_accuracy(a, b, mask, c=0.01):
    """Test accuracy of an L1 logistic regression (penalty 1/c) on densities + all 3 x 3-window
    2-point functions (standardised), 30 % held out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    def features(x):
        tp, _ = S.two_point(x, 2, mask)
        return np.concatenate([S.densities(x, mask), tp.reshape(len(x), -1)], axis=1)

    x = np.concatenate([features(a), features(b)])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    scale = StandardScaler().fit(xtr)
    clf = LogisticRegression(l1_ratio=1.0, solver="saga", C=c, max_iter=5000)
    clf.fit(scale.transform(xtr), ytr)
    return clf.score(scale.transform(xte), yte)


@pytest.mark.slow
def test_pi_flux_and_strings_share_one_and_two_point_statistics():
    """The recipe of datasets/miles2021_full.toml at 1500 snapshots per class: strings on
    shell-Ising parents tuned so that the spin correlators of all 12 shells of the 10 x 10 torus
    (distances up to sqrt 20, the five of a 3 x 3 window among them) match pi-flux, ending on
    the pi-flux hole patterns. Then the one-hot one- and two-point functions in the window carry
    (almost) no information: 0.50 at C = 0.01 and 0.50-0.53 at C = 1 here. The previous recipe
    (half-filled pi-flux parents, only the nn correlator matched) gave 0.58-0.62 and a Neel
    parent with flips 0.98: the check can fail."""
    pf = S.pi_flux(1500, 10, 9, n_chains=250, seed=0)
    target = S.shell_correlators(pf, 12).mean(axis=0)
    strings = {"string_length": 1.0, "hole_patterns": pf}
    fit = S.tune_shell_couplings(target, n_samples=1500, seed=2, **strings)
    parents = S.shell_ising(750, 10, fit.couplings, seed=1)
    st = S.geometric_strings(1500, parents=parents, seed=3, **strings)
    # one-point: identical counts in every snapshot
    np.testing.assert_array_equal(
        np.sort(S.densities(pf), axis=0)[:, 2], np.sort(S.densities(st), axis=0)[:, 2]
    )
    np.testing.assert_allclose(
        S.densities(pf).mean(axis=0), S.densities(st).mean(axis=0), atol=1e-3
    )
    # two-point: the spin correlator of every shell matched within the statistical error
    # (of the two samples; the tuning adds its own, hence 5 rather than 3 standard errors)
    a, b = S.shell_correlators(pf, 12), S.shell_correlators(st, 12)
    se = np.hypot(a.std(axis=0), b.std(axis=0)) / np.sqrt(1500)
    assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) < 5 * se).all()
    mask = S.circular_mask(10)
    assert max(_control_accuracy(pf, st, mask, c) for c in (0.01, 1.0)) < 0.56
    nn = float(S.nn_spin_correlator(pf).mean())
    neel = S.geometric_strings(
        1500, flip_probability=S.tune_flip_probability(nn, n_samples=1000), seed=4
    )
    assert _control_accuracy(pf, neel, mask) > 0.9


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: S.square_lattice_neighbours(0), ValueError, "lattice_size must be an int >= 1"),
        (lambda: S.circular_crop(np.zeros((2, 3, 4, 5))), ValueError, "shape"),
        (lambda: S.pi_flux(4, 4, 2, n_between=0), ValueError, "n_between must be an int >= 1"),
        (lambda: S.pi_flux(4, 4, 2, hop_probability=1.5), ValueError, "hop_probability must be"),
        (lambda: S.pi_flux(4, 4, 2, seed=-1), TypeError, "seed must be"),
        (lambda: S.pi_flux_chains(4, 15), ValueError, "n_holes must leave at least 2"),
        (lambda: S.geometric_strings(2, 4, 2, flip_probability=0.6), ValueError, "in \\[0, 0.5\\]"),
        (lambda: S.geometric_strings(2, 4, -1), ValueError, "n_holes must be an int >= 0"),
        (lambda: S.tune_flip_probability(-0.1, seed=1.5), TypeError, "seed must be an int"),
        (lambda: S.tune_flip_probability(0.3), ValueError, "target_nn_correlator must be"),
        (lambda: S.afm_snapshots(0), ValueError, "n_samples must be an int >= 1"),
    ],
)
def test_public_functions_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_configuration_of_zero_weight_is_refused():
    # two up orbitals living only on sites 0 and 1: any configuration without both is singular
    phi = np.zeros((9, 2))
    phi[0, 0] = phi[1, 1] = 1.0
    other = _random_orbitals(9, 1, np.random.default_rng(0), complex_=False)
    chains = S.SlaterMetropolis((phi, other), S.square_lattice_neighbours(3), n_chains=1, seed=0)
    codes = np.full((1, 9), 2)
    codes[0, [0, 2]] = 0
    codes[0, 4] = 1
    with pytest.raises(ValueError, match="zero weight"):
        chains.set_codes(codes)
