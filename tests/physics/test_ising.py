"""Tests of the 2D Ising samplers and exact references.

Exact results: Z of the 2x2 torus by hand, Kaufman's closed form for finite tori, Onsager's free
energy as a double integral, low- and high-temperature series. Samplers: literal transition
matrices of one sweep / one cluster flip on 2x2 (Boltzmann stationarity and the kernels'
empirical transition frequencies), exact enumeration of 4x4, Onsager on 32x32, Wolff against
Metropolis at T_c, and the exact gauge map between the ferro- and the antiferromagnet.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from physxai.physics import ising

TC = ising.CRITICAL_TEMPERATURE
STAGGER4 = np.array([[(-1) ** (x + y) for x in range(4)] for y in range(4)])


def binned_mean(x: np.ndarray, n_bins: int = 20) -> tuple[float, float]:
    """Mean and its standard error from n_bins consecutive blocks (robust to residual correlation)."""
    n = len(x) // n_bins * n_bins
    blocks = np.asarray(x[:n], dtype=np.float64).reshape(n_bins, -1).mean(axis=1)
    return float(x.mean()), float(blocks.std(ddof=1) / math.sqrt(n_bins))


def per_temperature(s: ising.IsingSamples, values: np.ndarray) -> list[np.ndarray]:
    n = len(s) // len(s.temperatures)
    return [values[i * n : (i + 1) * n] for i in range(len(s.temperatures))]


# ---------------------------------------------------------------------------------------------
# Exact references
# ---------------------------------------------------------------------------------------------


def kaufman_log_z(m: int, n: int, k: float) -> float:
    """ln Z of the m x n periodic lattice, B. Kaufman, Phys. Rev. 76, 1232 (1949), Eq. (39)."""
    s, c = math.sinh(2 * k), math.cosh(2 * k)
    gamma = np.arccosh(np.maximum(c * c / s - np.cos(np.pi * np.arange(2 * n) / n), 1.0))
    gamma[0] = 2 * k + math.log(math.tanh(k))  # gamma_0 changes sign at T_c
    odd, even = gamma[1::2], gamma[0::2]
    total = sum(np.prod(f(m * g / 2) * 2) for g in (odd, even) for f in (np.cosh, np.sinh))
    return math.log(0.5) + m * n / 2 * math.log(2 * s) + math.log(total)


def test_critical_temperature():
    assert TC == pytest.approx(2.269185314213022, abs=1e-12)
    assert math.sinh(2 / TC) == pytest.approx(1.0, abs=1e-12)  # Kramers-Wannier self-duality


def test_two_by_two_by_hand():
    # On the 2x2 torus each neighbouring pair is joined by two bonds:
    # E = -2J (s00 s01 + s10 s11 + s00 s10 + s01 s11). Levels: 2 states at -8J (all equal),
    # 12 at 0 (one spin flipped: 8, two neighbours flipped: 4), 2 at +8J (checkerboards).
    for temperature, coupling in [(0.7, 1.0), (1.0, 1.0), (2.5, 1.0), (3.0, -1.0)]:
        k = coupling / temperature
        z = 2 * math.exp(8 * k) + 12 + 2 * math.exp(-8 * k)
        e_total = (-16 * coupling * math.exp(8 * k) + 16 * coupling * math.exp(-8 * k)) / z
        e2_total = 128 * coupling**2 * (math.exp(8 * k) + math.exp(-8 * k)) / z
        abs_m = (2 * math.exp(8 * k) * 1.0 + 8 * 0.5) / z  # |M| = 1, 1/2, 0, 0
        abs_ms = (2 * math.exp(-8 * k) * 1.0 + 8 * 0.5) / z
        r = ising.exact_enumeration(2, temperature, coupling=coupling)
        assert r["log_partition_function"] == pytest.approx(math.log(z), rel=1e-14)
        assert r["energy"] == pytest.approx(e_total / 4, rel=1e-12)
        assert r["specific_heat"] == pytest.approx(
            (e2_total - e_total**2) / (4 * temperature**2), rel=1e-10
        )
        assert r["abs_magnetization"] == pytest.approx(abs_m, rel=1e-12)
        assert r["abs_staggered_magnetization"] == pytest.approx(abs_ms, rel=1e-12)
        assert r["magnetization"] == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("size", [2, 3, 4])
@pytest.mark.parametrize("temperature", [1.0, 2.0, TC, 2.5, 5.0])
def test_enumeration_matches_kaufman(size, temperature):
    r = ising.exact_enumeration(size, temperature)
    assert r["log_partition_function"] == pytest.approx(
        kaufman_log_z(size, size, 1 / temperature), rel=1e-13
    )


def test_enumeration_energy_is_minus_dlogz_dbeta():
    t, h = 2.1, 1e-5
    dlogz = (
        ising.exact_enumeration(4, 1 / (1 / t + h))["log_partition_function"]
        - ising.exact_enumeration(4, 1 / (1 / t - h))["log_partition_function"]
    ) / (2 * h)
    assert ising.exact_enumeration(4, t)["energy"] == pytest.approx(-dlogz / 16, rel=1e-8)


def test_four_by_four_specific_heat_peak_and_limits():
    temperatures = np.linspace(1.5, 3.5, 801)
    r = ising.exact_enumeration(4, temperatures)
    peak = temperatures[np.argmax(r["specific_heat"])]
    assert TC < peak < 2.6  # the finite periodic lattice peaks a little above T_c (2.44)
    assert r["specific_heat"].max() > 1.5 * max(r["specific_heat"][0], r["specific_heat"][-1])
    assert r["energy"].shape == temperatures.shape and np.all(np.diff(r["energy"]) > 0)

    low = ising.exact_enumeration(4, 0.2)
    assert low["energy"] == pytest.approx(-2.0, abs=1e-12)
    assert low["abs_magnetization"] == pytest.approx(1.0, abs=1e-12)
    assert low["specific_heat"] == pytest.approx(0.0, abs=1e-12)

    high = ising.exact_enumeration(4, 1e4)
    counts = np.array([math.comb(16, k) for k in range(17)])
    random_abs_m = float((counts * np.abs(2 * np.arange(17) - 16)).sum() / 2**16 / 16)
    assert high["abs_magnetization"] == pytest.approx(random_abs_m, rel=1e-3)
    assert high["energy"] == pytest.approx(-2 / 1e4, rel=1e-3)  # u ~ -2 J^2 / T
    assert high["log_partition_function"] == pytest.approx(16 * math.log(2), rel=1e-6)


def test_enumeration_paramagnet_antiferromagnet_and_field():
    t = 1.7
    para = ising.exact_enumeration(4, t, coupling=0.0, field=0.8)
    assert para["magnetization"] == pytest.approx(math.tanh(0.8 / t), rel=1e-12)
    assert para["energy"] == pytest.approx(-0.8 * math.tanh(0.8 / t), rel=1e-12)
    ferro = ising.exact_enumeration(4, t, coupling=1.0)
    anti = ising.exact_enumeration(4, t, coupling=-1.0)
    assert anti["energy"] == pytest.approx(ferro["energy"], rel=1e-12)
    assert anti["abs_staggered_magnetization"] == pytest.approx(
        ferro["abs_magnetization"], rel=1e-12
    )
    up = ising.exact_enumeration(4, t, field=0.1)["magnetization"]
    assert 0 < up == -ising.exact_enumeration(4, t, field=-0.1)["magnetization"]


def onsager_log_z_per_spin(k: float, n: int = 512) -> float:
    """Onsager's -beta f = ln 2 + (1/8 pi^2) int int ln[cosh^2 2K - sinh 2K (cos a + cos b)] da db,
    by the trapezoid rule on a periodic grid (spectrally accurate off T_c)."""
    a = 2 * np.pi * np.arange(n) / n
    arg = np.cosh(2 * k) ** 2 - np.sinh(2 * k) * (np.cos(a)[:, None] + np.cos(a)[None, :])
    return math.log(2) + 0.5 * float(np.log(arg).mean())


@pytest.mark.parametrize("temperature", [1.2, 1.8, 3.0, 5.0])
def test_onsager_energy_is_the_derivative_of_the_free_energy(temperature):
    h = 1e-5
    k = 1 / temperature
    u = -(onsager_log_z_per_spin(k + h) - onsager_log_z_per_spin(k - h)) / (2 * h)
    assert ising.onsager_energy(temperature) == pytest.approx(u, abs=1e-7)
    assert ising.onsager_energy(temperature, coupling=-1.0) == ising.onsager_energy(temperature)
    assert ising.onsager_energy(2 * temperature, coupling=2.0) == pytest.approx(
        2 * ising.onsager_energy(temperature), rel=1e-12
    )


def test_onsager_energy_known_points_and_series():
    assert ising.onsager_energy(TC) == pytest.approx(-math.sqrt(2), abs=1e-12)
    for eps in (1e-6, 1e-9):  # continuous through T_c despite the divergent elliptic integral
        assert ising.onsager_energy(TC + eps) == pytest.approx(-math.sqrt(2), abs=1e-4)
        assert ising.onsager_energy(TC - eps) == pytest.approx(-math.sqrt(2), abs=1e-4)
    x = math.exp(-2 / 1.0)  # low-T series: u = -2 + 8 x^4 + 24 x^6 + O(x^8), x = exp(-2K)
    assert ising.onsager_energy(1.0) == pytest.approx(-2 + 8 * x**4 + 24 * x**6, abs=2e-5)
    t = math.tanh(1 / 100.0)  # high-T series: u = -2 tanh K - 4 tanh^3 K + ...
    assert ising.onsager_energy(100.0) == pytest.approx(-2 * t - 4 * t**3, abs=1e-8)
    values = ising.onsager_energy(np.array([1.0, TC, 4.0]))
    assert isinstance(values, np.ndarray) and np.all(np.diff(values) > 0)


def test_onsager_magnetization():
    assert ising.onsager_magnetization(TC + 1e-9) == 0.0
    assert np.all(ising.onsager_magnetization(np.array([2.3, 3.0, 10.0])) == 0.0)
    x = math.exp(-2 / 1.0)  # low-T series: M = 1 - 2 x^4 - 8 x^6 - 34 x^8 - ...
    assert ising.onsager_magnetization(1.0) == pytest.approx(
        1 - 2 * x**4 - 8 * x**6 - 34 * x**8, abs=1e-6
    )
    eps = 1e-7  # M ~ (T_c - T)^(1/8)
    ratio = ising.onsager_magnetization(TC - 2 * eps) / ising.onsager_magnetization(TC - eps)
    assert ratio == pytest.approx(2**0.125, rel=1e-4)
    assert ising.onsager_magnetization(1.5, coupling=-1.0) == ising.onsager_magnetization(1.5)
    assert ising.onsager_magnetization(3.0, coupling=2.0) > 0.9  # T_c scales with |J|


# ---------------------------------------------------------------------------------------------
# Observables and the autocorrelation time
# ---------------------------------------------------------------------------------------------


def test_observables_on_hand_made_configurations():
    up = np.ones((4, 4), dtype=np.int8)
    checker = STAGGER4.astype(np.int8)
    rows = np.repeat(np.array([1, -1, 1, -1], dtype=np.int8)[:, None], 4, axis=1)
    columns = rows.T.copy()
    one_flipped = up.copy()
    one_flipped[1, 2] = -1
    o = ising.observables(
        np.stack([up, -up, checker, rows, columns, one_flipped]), coupling=1.0, field=0.5
    )
    np.testing.assert_array_equal(o["magnetization"], [1, -1, 0, 0, 0, 14 / 16])
    np.testing.assert_array_equal(o["staggered_magnetization"], [0, 0, 1, 0, 0, 1 / 8])
    # one flipped spin breaks 4 of the 32 bonds and 4 of the 32 diagonal pairs
    np.testing.assert_array_equal(o["nn_correlation"], [1, 1, -1, 0, 0, 24 / 32])
    np.testing.assert_array_equal(o["nnn_correlation"], [1, 1, 1, -1, -1, 24 / 32])
    np.testing.assert_allclose(
        o["energy"], [-2 - 0.5, -2 + 0.5, 2, 0, 0, -2 * 24 / 32 - 0.5 * 14 / 16], rtol=1e-15
    )
    t = ising.observables(torch.as_tensor(np.stack([checker, rows])), coupling=-1.0)
    np.testing.assert_array_equal(t["energy"], [-2, 0])  # the Neel state is the AFM ground state


def test_observables_two_by_two_counts_doubled_bonds():
    s = np.array([[[1, -1], [1, 1]]], dtype=np.int8)
    # E = -2J (s00 s01 + s10 s11 + s00 s10 + s01 s11) = -2 (-1 + 1 + 1 - 1) = 0
    assert ising.observables(s)["energy"][0] == 0.0
    energies = ising.observables(np.ones((1, 2, 2)))["energy"]
    assert energies[0] == -2.0  # -8J / 4 spins, as in exact_enumeration


def test_integrated_autocorrelation_time_of_ar1():
    rng = np.random.default_rng(0)
    phi, n_chains, n_times = 0.8, 16, 20000
    noise = rng.normal(size=(n_chains, n_times))
    x = np.empty_like(noise)
    x[:, 0] = noise[:, 0] / math.sqrt(1 - phi**2)
    for t in range(1, n_times):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    exact = (1 + phi) / (2 * (1 - phi))  # 4.5
    assert ising.integrated_autocorrelation_time(x) == pytest.approx(exact, rel=0.05)
    assert ising.integrated_autocorrelation_time(torch.as_tensor(x[0])) == pytest.approx(
        exact, rel=0.15
    )
    assert ising.integrated_autocorrelation_time(noise) == pytest.approx(0.5, abs=0.03)
    assert ising.integrated_autocorrelation_time(np.ones(100)) == 0.5
    with pytest.warns(UserWarning, match="too short"):
        ising.integrated_autocorrelation_time(np.cumsum(noise[0, :30]))  # a random walk


# ---------------------------------------------------------------------------------------------
# Transition matrices on 2x2 (all 16 states)
# ---------------------------------------------------------------------------------------------

STATES = np.array(
    [[[2 * ((i >> (2 * y + x)) & 1) - 1 for x in range(2)] for y in range(2)] for i in range(16)],
    dtype=np.int8,
)


def state_index(s: np.ndarray) -> np.ndarray:
    bits = (s.reshape(len(s), 4) > 0).astype(np.int64)
    return (bits * (1 << np.arange(4))).sum(axis=1)


def literal_energy(s: np.ndarray, coupling: float, field: float) -> float:
    """H = -J sum_i s_i (s_right + s_down) - h sum_i s_i, written out site by site."""
    total = 0.0
    for y, x in itertools.product(range(2), range(2)):
        total -= coupling * s[y, x] * (s[y, (x + 1) % 2] + s[(y + 1) % 2, x])
        total -= field * s[y, x]
    return total


def boltzmann(temperature: float, coupling: float, field: float) -> np.ndarray:
    w = np.array([math.exp(-literal_energy(s, coupling, field) / temperature) for s in STATES])
    return w / w.sum()


def literal_sweep_matrix(
    temperature: float, coupling: float, field: float, factor: float | None = None
) -> np.ndarray:
    """One checkerboard sweep: the sites with x + y even flip independently with probability
    f min(1, exp(-dE/T)), dE = 2 s_i (J sum of the 4 neighbours + h); then those with x + y odd."""
    scale = ising.METROPOLIS_ACCEPTANCE_FACTOR if factor is None else factor

    def sublattice(parity: int) -> np.ndarray:
        sites = [(y, x) for y in range(2) for x in range(2) if (x + y) % 2 == parity]
        p = np.zeros((16, 16))
        for i, s in enumerate(STATES):
            flip_prob = []
            for y, x in sites:
                nb = s[(y + 1) % 2, x] + s[(y - 1) % 2, x] + s[y, (x + 1) % 2] + s[y, (x - 1) % 2]
                de = 2 * s[y, x] * (coupling * nb + field)
                flip_prob.append(scale * min(1.0, math.exp(-de / temperature)))
            for flips in itertools.product([0, 1], repeat=len(sites)):
                t = s.copy()
                prob = 1.0
                for (y, x), f, q in zip(sites, flips, flip_prob):
                    prob *= q if f else 1 - q
                    if f:
                        t[y, x] = -t[y, x]
                p[i, state_index(t[None])[0]] += prob
        return p

    return sublattice(0) @ sublattice(1)


def literal_wolff_matrix(temperature: float, coupling: float) -> np.ndarray:
    """One Wolff step: a uniform seed; each of the 8 bonds (every site's right and down bond) is
    active with probability 1 - exp(-2|J|/T) if its spins agree (in the gauge s (-1)^(x+y) when
    J < 0); the seed's connected cluster flips."""
    p_bond = 1 - math.exp(-2 * abs(coupling) / temperature)
    gauge = np.array([[1, -1], [-1, 1]]) if coupling < 0 else np.ones((2, 2), dtype=int)
    bonds = [((y, x), (y, (x + 1) % 2)) for y in range(2) for x in range(2)]
    bonds += [((y, x), ((y + 1) % 2, x)) for y in range(2) for x in range(2)]
    p = np.zeros((16, 16))
    for i, s in enumerate(STATES):
        g = s * gauge
        for active in itertools.product([0, 1], repeat=8):
            prob = 1.0
            for on, (a, b) in zip(active, bonds):
                q = p_bond if g[a] == g[b] else 0.0
                prob *= q if on else 1 - q
            if prob == 0:
                continue
            for seed in itertools.product(range(2), range(2)):
                cluster, todo = {seed}, [seed]
                while todo:
                    site = todo.pop()
                    for on, (a, b) in zip(active, bonds):
                        for u, v in ((a, b), (b, a)):
                            if on and u == site and v not in cluster:
                                cluster.add(v)
                                todo.append(v)
                t = s.copy()
                for y, x in cluster:
                    t[y, x] = -t[y, x]
                p[i, state_index(t[None])[0]] += prob / 4
    return p


def empirical_matrix(step, n_copies: int, seed: int) -> np.ndarray:
    start = torch.as_tensor(np.repeat(STATES, n_copies, axis=0))
    end = step(start, torch.Generator().manual_seed(seed)).numpy()
    counts = np.zeros((16, 16))
    np.add.at(counts, (np.repeat(np.arange(16), n_copies), state_index(end)), 1)
    return counts / n_copies


def assert_matches(empirical: np.ndarray, exact: np.ndarray, n_copies: int) -> None:
    sigma = np.sqrt(np.maximum(exact * (1 - exact), 1 / n_copies) / n_copies)
    z = np.abs(empirical - exact) / sigma
    assert z.max() < 5, f"max |z| = {z.max():.2f}"
    assert np.all(empirical[exact == 0] == 0)  # forbidden transitions never happen


@pytest.mark.parametrize(
    "temperature, coupling, field",
    [(1.0, 1.0, 0.0), (2.5, 1.0, 0.0), (1.5, -1.0, 0.6), (2.0, 0.5, -0.4)],
)
def test_metropolis_sweep_has_the_boltzmann_distribution_stationary(temperature, coupling, field):
    exact = literal_sweep_matrix(temperature, coupling, field)
    pi = boltzmann(temperature, coupling, field)
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(pi @ exact, pi, atol=1e-14)  # the doubled bonds are consistent
    n = 6000
    emp = empirical_matrix(
        lambda s, g: ising.run_metropolis(
            s, temperature, coupling=coupling, field=field, generator=g
        ),
        n,
        seed=1,
    )
    assert_matches(emp, exact, n)
    assert np.all(exact > 0)  # every state reaches every state in one sweep: irreducible


def test_plain_checkerboard_metropolis_is_reducible():
    # With acceptance min(1, exp(-dE/T)) the stripe states of 2x2 (every site has dE = 0) are
    # forced into each other and never reached from the rest: five closed classes, so the chain
    # started in the ground state misses 6.5% of the Boltzmann weight at T = 2.5.
    plain = literal_sweep_matrix(2.5, 1.0, 0.0, factor=1.0)
    pi = boltzmann(2.5, 1.0, 0.0)
    np.testing.assert_allclose(pi @ plain, pi, atol=1e-14)  # stationary, yet not unique:
    assert np.sum(np.isclose(np.abs(np.linalg.eigvals(plain)), 1.0)) == 5
    stripes = [3, 5, 10, 12]
    assert np.all(plain[np.ix_(np.setdiff1d(np.arange(16), stripes), stripes)] == 0)
    assert pi[stripes].sum() == pytest.approx(0.0654, abs=1e-4)
    # ... which the sampler, with its acceptance factor, does not miss
    s = ising.sample(2, [1.0, 2.5, 10.0], 3000, seed=0, n_chains=1000)
    for t, e in zip([1.0, 2.5, 10.0], per_temperature(s, s.energy)):
        mean, err = binned_mean(e)
        assert abs(mean - ising.exact_enumeration(2, t)["energy"]) < 4 * err, (t, mean, err)


@pytest.mark.parametrize("temperature, coupling", [(1.5, 1.0), (3.0, -1.0)])
def test_wolff_step_has_the_boltzmann_distribution_stationary(temperature, coupling):
    exact = literal_wolff_matrix(temperature, coupling)
    pi = boltzmann(temperature, coupling, 0.0)
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-14)
    np.testing.assert_allclose(pi @ exact, pi, atol=1e-14)
    np.testing.assert_allclose(
        exact * pi[:, None], (exact * pi[:, None]).T, atol=1e-14
    )  # reversible
    n = 6000
    emp = empirical_matrix(
        lambda s, g: ising.run_wolff(s, temperature, coupling=coupling, generator=g), n, seed=2
    )
    assert_matches(emp, exact, n)


def test_run_functions_leave_inputs_alone_and_zero_steps_is_identity():
    g = torch.Generator().manual_seed(0)
    s = torch.as_tensor(np.repeat(STATES[5:6], 3, axis=0).repeat(2, axis=1).repeat(2, axis=2))
    before = s.clone()
    out = ising.run_metropolis(s, torch.tensor([1.0, 2.0, 3.0]), n_sweeps=4, generator=g)
    assert out.dtype == torch.int8 and out.shape == s.shape and torch.equal(s, before)
    assert torch.equal(ising.run_metropolis(s, 1.0, n_sweeps=0, generator=g), s)
    assert torch.equal(ising.run_wolff(s, 1.0, n_steps=0, generator=g), s)
    out = ising.run_wolff(s, 2.0, n_steps=3, coupling=-1.0, generator=g)
    assert set(out.unique().tolist()) <= {-1, 1} and torch.equal(s, before)


# ---------------------------------------------------------------------------------------------
# Samplers against exact results
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "algorithm, coupling, field",
    [
        ("metropolis", 1.0, 0.0),
        ("wolff", 1.0, 0.0),
        ("metropolis", 1.0, 0.3),
        ("metropolis", -1.0, 0.5),
    ],
)
def test_samplers_match_exact_enumeration_of_4x4(algorithm, coupling, field):
    temperatures = [1.5, 2.27, 3.5]
    s = ising.sample(
        4, temperatures, 3000, algorithm=algorithm, coupling=coupling, field=field, seed=11
    )
    order = np.abs(s.staggered_magnetization if coupling < 0 else s.magnetization)
    for t, e, m in zip(temperatures, per_temperature(s, s.energy), per_temperature(s, order)):
        exact = ising.exact_enumeration(4, t, coupling=coupling, field=field)
        exact_m = exact["abs_staggered_magnetization" if coupling < 0 else "abs_magnetization"]
        for values, target in ((e, exact["energy"]), (m, exact_m)):
            mean, err = binned_mean(values)
            assert abs(mean - target) < 4 * err, (t, mean, target, err)
    assert np.all(s.tau_int > 0) and np.all(s.n_steps_between >= 1)


def test_sample_result_structure():
    s = ising.sample(
        lattice_size=6, temperatures=[3.0, 1.5], n_samples=7, algorithm="wolff", seed=0, n_chains=3
    )
    assert s.spins.shape == (14, 6, 6) and s.spins.dtype == np.int8 and len(s) == 14
    assert set(np.unique(s.spins)) <= {-1, 1}
    np.testing.assert_array_equal(s.temperature, [3.0] * 7 + [1.5] * 7)
    np.testing.assert_array_equal(s.temperatures, [3.0, 1.5])
    obs = ising.observables(s.spins)
    for name in (
        "magnetization",
        "staggered_magnetization",
        "energy",
        "nn_correlation",
        "nnn_correlation",
    ):
        np.testing.assert_array_equal(getattr(s, name), obs[name])
        assert getattr(s, name).shape == (14,)
    assert (s.lattice_size, s.coupling, s.field, s.algorithm, s.seed, s.n_chains) == (
        6,
        1.0,
        0.0,
        "wolff",
        0,
        3,
    )
    for name in (
        "tau_int",
        "tau_int_energy",
        "n_steps_between",
        "n_sweeps_between",
        "n_equilibration",
        "mean_cluster_size",
    ):
        assert getattr(s, name).shape == (2,)
    # Wolff: sweep-equivalents = steps x mean cluster size / N; equilibration >= 20 tau_int
    np.testing.assert_allclose(s.n_sweeps_between, s.n_steps_between * s.mean_cluster_size / 36)
    assert np.all(s.n_equilibration >= 20 * np.maximum(s.tau_int, s.tau_int_energy))
    assert np.all(s.n_sweeps_between >= 2 * np.maximum(s.tau_int, s.tau_int_energy) - 1e-12)
    assert s.mean_cluster_size[1] > s.mean_cluster_size[0]  # big clusters in the ordered phase
    with pytest.raises(ValueError, match="read-only"):
        s.spins[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1
    m = ising.sample(4, 2.0, 5, seed=0, n_equilibration=10, n_between=3)
    assert np.isnan(m.tau_int).all() and m.n_steps_between[0] == 3 and m.n_equilibration[0] == 10
    assert np.isnan(m.mean_cluster_size).all()


def test_same_seed_same_spins():
    for algorithm in ising.ALGORITHMS:
        a = ising.sample(6, [1.8, 2.6], 20, algorithm=algorithm, seed=5)
        b = ising.sample(6, [1.8, 2.6], 20, algorithm=algorithm, seed=5)
        c = ising.sample(6, [1.8, 2.6], 20, algorithm=algorithm, seed=6)
        np.testing.assert_array_equal(a.spins, b.spins)
        np.testing.assert_array_equal(a.tau_int, b.tau_int)
        assert not np.array_equal(a.spins, c.spins)
    d = ising.sample(4, 2.0, 3)
    np.testing.assert_array_equal(ising.sample(4, 2.0, 3, seed=d.seed).spins, d.spins)


@pytest.mark.parametrize("algorithm", ising.ALGORITHMS)
def test_antiferromagnet_is_the_gauge_image_of_the_ferromagnet(algorithm):
    kw = {
        "lattice_size": 8,
        "temperatures": [1.6, 2.3, 3.2],
        "n_samples": 40,
        "algorithm": algorithm,
        "seed": 3,
    }
    ferro = ising.sample(coupling=1.0, **kw)
    anti = ising.sample(coupling=-1.0, **kw)
    sign = np.array([[(-1) ** (x + y) for x in range(8)] for y in range(8)], dtype=np.int8)
    np.testing.assert_array_equal(anti.spins, ferro.spins * sign)  # exact, same random numbers
    np.testing.assert_array_equal(anti.staggered_magnetization, ferro.magnetization)
    np.testing.assert_array_equal(anti.energy, ferro.energy)
    np.testing.assert_array_equal(anti.tau_int, ferro.tau_int)


def test_symmetrize_gives_both_signs_and_tau_warning():
    s = ising.sample(8, 1.5, 200, seed=0)  # Metropolis never tunnels at T = 1.5, L = 8
    assert 60 < (s.magnetization > 0).sum() < 140
    s = ising.sample(8, 1.5, 50, seed=0, symmetrize=False, n_chains=10)
    assert np.all(s.magnetization > 0)
    with pytest.warns(UserWarning, match="not resolved within max_pilot_steps=64"):
        ising.sample(16, TC, 8, seed=0, max_pilot_steps=64)


def test_critical_slowing_down_and_wolff_at_tc():
    s = ising.sample(16, [TC, 3.5], 64, seed=0)
    assert s.tau_int[0] > 3 * s.tau_int[1]  # Metropolis slows down at T_c
    w = ising.sample(16, TC, 64, algorithm="wolff", seed=0)
    assert w.tau_int[0] < 5 and w.tau_int[0] < s.tau_int[0] / 3


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ising.ALGORITHMS)
def test_samplers_match_onsager_on_32x32(algorithm):
    s = ising.sample(32, [1.5, 3.0], 400, algorithm=algorithm, seed=21)
    e15, e30 = per_temperature(s, s.energy)
    allowance = 0.002  # finite size: correlation lengths are ~1-2 sites, corrections ~exp(-L/xi)
    for e, t in ((e15, 1.5), (e30, 3.0)):
        mean, err = binned_mean(e)
        assert abs(mean - ising.onsager_energy(t)) < 4 * err + allowance, (t, mean, err)
    mean, err = binned_mean(np.abs(per_temperature(s, s.magnetization)[0]))
    assert abs(mean - ising.onsager_magnetization(1.5)) < 4 * err + allowance


@pytest.mark.slow
def test_wolff_and_metropolis_agree_at_tc_on_16x16():
    kw = {"lattice_size": 16, "temperatures": [TC], "n_samples": 2000}
    m = ising.sample(algorithm="metropolis", seed=1, **kw)
    w = ising.sample(algorithm="wolff", seed=2, **kw)
    for a, b in (
        (m.energy, w.energy),
        (np.abs(m.magnetization), np.abs(w.magnetization)),
        (m.nn_correlation, w.nn_correlation),
        (m.nnn_correlation, w.nnn_correlation),
    ):
        (ma, ea), (mb, eb) = binned_mean(a), binned_mean(b)
        assert abs(ma - mb) < 4 * math.hypot(ea, eb), (ma, mb, ea, eb)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("algorithm", ising.ALGORITHMS)
def test_cuda_matches_exact_enumeration(algorithm):
    s = ising.sample(4, [2.27], 3000, algorithm=algorithm, seed=0, device="cuda")
    assert s.device.startswith("cuda") and s.spins.dtype == np.int8
    mean, err = binned_mean(s.energy)
    assert abs(mean - ising.exact_enumeration(4, 2.27)["energy"]) < 4 * err


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"lattice_size": 1}, ValueError, "lattice_size must be an int >= 2"),
        ({"lattice_size": 4.0}, ValueError, "lattice_size must be an int"),
        ({"lattice_size": 5}, ValueError, "must be even for the checkerboard"),
        ({"temperatures": []}, ValueError, "non-empty 1-d"),
        ({"temperatures": [[1.0, 2.0]]}, ValueError, "non-empty 1-d"),
        ({"temperatures": [1.0, -2.0, np.nan]}, ValueError, "finite and > 0; got 2 of 3"),
        ({"temperatures": "hot"}, ValueError, "temperatures must be a number"),
        ({"n_samples": 0}, ValueError, "n_samples must be an int >= 1"),
        ({"algorithm": "heat_bath"}, ValueError, "one of 'metropolis', 'wolff'"),
        ({"coupling": float("nan")}, ValueError, "coupling must be a finite number"),
        ({"field": "x"}, ValueError, "field must be a finite number"),
        ({"algorithm": "wolff", "field": 0.1}, ValueError, "Use algorithm='metropolis'"),
        ({"algorithm": "wolff", "coupling": 0.0}, ValueError, "nonzero coupling"),
        ({"algorithm": "wolff", "coupling": -1.0, "lattice_size": 5}, ValueError, "bipartite"),
        ({"coupling": 0.0}, ValueError, "both 0"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"device": "tpu"}, ValueError, "device must be"),
        ({"n_chains": 0}, ValueError, "n_chains must be an int >= 1"),
        ({"n_equilibration": -1}, ValueError, "n_equilibration must be an int >= 0"),
        ({"n_between": 0}, ValueError, "n_between must be an int >= 1"),
        ({"max_pilot_steps": 10}, ValueError, "max_pilot_steps must be an int >= 64"),
        ({"symmetrize": 1}, TypeError, "symmetrize must be a bool"),
    ],
)
def test_sample_validation(kwargs, error, match):
    args = {"lattice_size": 4, "temperatures": [2.0], "n_samples": 2} | kwargs
    with pytest.raises(error, match=match):
        ising.sample(**args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_request_without_cuda():
    with pytest.raises(ValueError, match="torch.cuda.is_available"):
        ising.sample(4, 2.0, 2, device="cuda")


def test_reference_validation():
    with pytest.raises(ValueError, match=r"lattice_size must be an int in \[2, 4\]"):
        ising.exact_enumeration(5, 2.0)
    with pytest.raises(ValueError, match="lattice_size must be an int in"):
        ising.exact_enumeration(1, 2.0)
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        ising.exact_enumeration(2, [1.0, 0.0])
    with pytest.raises(ValueError, match="field must be a finite"):
        ising.exact_enumeration(2, 1.0, field=np.inf)
    for f in (ising.onsager_energy, ising.onsager_magnetization):
        with pytest.raises(ValueError, match="temperature must be finite and > 0"):
            f(-1.0)
        with pytest.raises(ValueError, match="coupling must be nonzero"):
            f(1.0, coupling=0.0)
    with pytest.raises(TypeError, match="spins must be a numpy array or a torch.Tensor"):
        ising.observables([[[1]]])
    with pytest.raises(ValueError, match=r"shape \(n, L, L\)"):
        ising.observables(np.ones((4, 4)))
    with pytest.raises(ValueError, match="spins must be \\+-1; got 1 entries"):
        ising.observables(np.array([[[1, 0], [1, 1]]]))
    with pytest.raises(ValueError, match="must hold numbers"):
        ising.observables(np.ones((1, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match="coupling must be a finite"):
        ising.observables(np.ones((1, 2, 2)), coupling=np.nan)
    tau = ising.integrated_autocorrelation_time
    with pytest.raises(ValueError, match="n_times >= 2"):
        tau(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="series must be finite"):
        tau(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="window_factor must be > 0"):
        tau(np.arange(10.0), window_factor=0.0)


def test_run_validation():
    s = torch.ones(2, 4, 4, dtype=torch.int8)
    g = torch.Generator().manual_seed(0)
    cases = [
        (lambda: ising.run_metropolis(s.numpy(), 1.0), TypeError, "must be a torch.Tensor"),
        (lambda: ising.run_metropolis(s[0], 1.0), ValueError, r"shape \(n, L, L\)"),
        (lambda: ising.run_metropolis(s.float(), 1.0), ValueError, "dtype torch.int8"),
        (lambda: ising.run_metropolis(s * 0, 1.0), ValueError, "spins must be \\+-1; got 32"),
        (lambda: ising.run_metropolis(s, [1.0, 2.0, 3.0]), ValueError, r"shape \(2,\)"),
        (lambda: ising.run_metropolis(s, 0.0), ValueError, "finite and > 0"),
        (
            lambda: ising.run_metropolis(s, 1.0, n_sweeps=-1),
            ValueError,
            "n_sweeps must be an int >= 0",
        ),
        (lambda: ising.run_metropolis(s, 1.0, generator=0), TypeError, "torch.Generator or None"),
        (
            lambda: ising.run_metropolis(torch.ones(1, 3, 3, dtype=torch.int8), 1.0),
            ValueError,
            "must be even",
        ),
        (
            lambda: ising.run_wolff(s, 1.0, coupling=0.0, generator=g),
            ValueError,
            "nonzero coupling",
        ),
        (lambda: ising.run_wolff(s, 1.0, n_steps=1.5), ValueError, "n_steps must be an int"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()
