"""Tests of the Kepler-problem sampler: exact propagation against a high-order integrator,
conservation of E and L, Kepler's third law, circular orbits, near-collision rejection, pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from physxai.physics import orbits


def integrate(state, t_end, k=1.0):
    """Reference: DOP853 on Newton's equations with tight tolerances."""

    def rhs(_, y):
        r3 = (y[0] ** 2 + y[1] ** 2) ** 1.5
        return [y[2], y[3], -k * y[0] / r3, -k * y[1] / r3]

    sol = solve_ivp(rhs, (0.0, t_end), state, method="DOP853", rtol=1e-13, atol=1e-13)
    return sol.y[:, -1]


def relative_drift(values):
    return np.abs(values - values[..., :1]).max(-1) / np.abs(values[..., 0])


def test_invariants_by_hand():
    state = np.array([3.0, 4.0, 0.5, -1.0])  # r = 5
    assert float(orbits.energy(state, k=2.0)) == pytest.approx(0.5 * 1.25 - 2.0 / 5.0)
    assert float(orbits.angular_momentum(state)) == pytest.approx(3.0 * -1.0 - 4.0 * 0.5)
    lrl = orbits.runge_lenz(state, k=2.0)
    ell = -5.0
    assert lrl == pytest.approx([-1.0 * ell - 2.0 * 3 / 5, -0.5 * ell - 2.0 * 4 / 5])
    # |A| = k e with e^2 = 1 + 2 E L^2 / k^2
    e_ = 0.5 * 1.25 - 0.4
    assert np.linalg.norm(lrl) == pytest.approx(2.0 * math.sqrt(1 + 2 * e_ * ell**2 / 4.0))


def test_invariants_accept_tensors_and_differentiate():
    x = torch.tensor([[1.0, 2.0, 0.3, -0.4]], dtype=torch.float64, requires_grad=True)
    e_ = orbits.energy(x)
    ell = orbits.angular_momentum(x)
    assert isinstance(e_, torch.Tensor) and e_.shape == (1,)
    (grad_l,) = torch.autograd.grad(ell.sum(), x)
    assert grad_l[0].tolist() == pytest.approx([-0.4, -0.3, -2.0, 1.0])  # (v2, -v1, -x2, x1)
    (grad_e,) = torch.autograd.grad(orbits.energy(x).sum(), x)
    r3 = 5.0**1.5
    assert grad_e[0].tolist() == pytest.approx([1 / r3, 2 / r3, 0.3, -0.4])


def test_propagation_matches_dop853():
    rng = np.random.default_rng(7)
    states = rng.uniform(-1.0, 1.0, size=(60, 4))
    states[30:, 2:] *= 2.5  # many unbound orbits
    states = states[orbits.pericentre(states) > 0.15][:16]
    energies = orbits.energy(states)
    assert (energies < 0).sum() >= 4 and (energies > 0).sum() >= 4
    t_end = 7.3
    ours = orbits.propagate(states, [t_end, -t_end])
    worst = 0.0
    for state, out in zip(states, ours):
        worst = max(worst, np.abs(integrate(state, t_end) - out[0]).max())
        worst = max(worst, np.abs(integrate(state, -t_end) - out[1]).max())
    assert worst < 1e-8  # measured 4e-11 (the integrator's own error)


def test_near_parabolic_orbits_match_dop853():
    r = np.array([1.0, 0.3])
    escape = math.sqrt(2.0 / np.linalg.norm(r))
    direction = np.array([-0.2, 0.98]) / np.linalg.norm([-0.2, 0.98])
    for factor in (1 - 1e-9, 1.0, 1 + 1e-9, 1 + 1e-5):
        state = np.concatenate([r, factor * escape * direction])
        out = orbits.propagate(state[None], [6.0])[0, 0]
        assert np.abs(out - integrate(state, 6.0)).max() < 1e-9  # measured 8e-13


def test_energy_and_angular_momentum_are_conserved_along_every_trajectory():
    for prior, options in (("box", {}), ("invariants", {"energy_range": (-3.0, -0.2)})):
        o = orbits.sample_orbits(300, 200, t_max=20.0, prior=prior, seed=1, **options)
        e_ = orbits.energy(o.states)
        ell = orbits.angular_momentum(o.states)
        assert relative_drift(e_).max() < 1e-6  # measured 3e-12
        assert relative_drift(ell).max() < 1e-6  # measured 6e-14
        np.testing.assert_allclose(e_[:, 0], o.energy, rtol=1e-15)
        np.testing.assert_allclose(ell[:, 0], o.angular_momentum, rtol=1e-15)
        # The Runge-Lenz vector (perihelion direction) is conserved as well.
        lrl = orbits.runge_lenz(o.states)
        assert np.abs(lrl - lrl[:, :1]).max() < 1e-9


def test_raw_propagation_conserves_unbound_orbits_too():
    rng = np.random.default_rng(3)
    states = rng.uniform(-1.0, 1.0, size=(400, 4)) * np.array([1, 1, 2.5, 2.5])
    states = states[orbits.pericentre(states) > 0.02]
    traj = orbits.propagate(states, np.linspace(-10.0, 30.0, 50))
    assert (orbits.energy(states) > 0).mean() > 0.5
    assert relative_drift(orbits.energy(traj)).max() < 1e-9  # measured 1e-12
    assert relative_drift(orbits.angular_momentum(traj)).max() < 1e-9  # measured 4e-11


def test_keplers_third_law():
    o = orbits.sample_orbits(40, 2, prior="invariants", energy_range=(-2.0, -0.3), k=2.5, seed=4)
    states = o.states[:, 0]
    a = -2.5 / (2.0 * o.energy)
    period = 2.0 * np.pi * a**1.5 / math.sqrt(2.5)
    np.testing.assert_allclose(orbits.period(o.energy, k=2.5), period, rtol=1e-14)
    back = orbits.propagate(states, np.stack([period, 0.5 * period, 7 * period], 1), k=2.5)
    assert np.abs(back[:, 0] - states).max() < 1e-10  # measured 3e-12
    assert np.abs(back[:, 2] - states).max() < 1e-10  # measured 2e-11
    assert np.abs(back[:, 1] - states).max(-1).min() > 1e-3  # not back after half a period
    # The angle swept over one period is exactly 2 pi (no earlier return: L keeps its sign).
    t = np.linspace(0.0, 1.0, 2001)[None] * period[:, None]
    path = orbits.propagate(states, t, k=2.5)
    angle = np.unwrap(np.arctan2(path[..., 1], path[..., 0]), axis=1)
    np.testing.assert_allclose(np.abs(angle[:, -1] - angle[:, 0]), 2 * np.pi, atol=1e-10)
    # Independent of our propagator: DOP853 returns to the start after P.
    for state, p in zip(states[:3], period[:3]):
        assert np.abs(integrate(state, p, k=2.5) - state).max() < 1e-8  # measured 2e-11


@pytest.mark.parametrize("k", [1.0, 2.5])
@pytest.mark.parametrize("radius", [0.4, 1.0, 3.0])
def test_circular_orbit(k, radius):
    speed = math.sqrt(k / radius)
    state = np.array([[radius, 0.0, 0.0, speed]])
    t = np.linspace(0.0, 5.0, 101)
    path = orbits.propagate(state, t, k=k)[0]
    np.testing.assert_allclose(np.hypot(path[:, 0], path[:, 1]), radius, rtol=1e-12)
    np.testing.assert_allclose(np.hypot(path[:, 2], path[:, 3]), speed, rtol=1e-12)
    np.testing.assert_allclose(
        np.arctan2(path[:, 1], path[:, 0]), np.angle(np.exp(1j * speed / radius * t)), atol=1e-10
    )
    assert float(orbits.period(orbits.energy(state[0], k), k)) == pytest.approx(
        2 * math.pi * radius**1.5 / math.sqrt(k)
    )
    # A slightly faster start is not circular.
    faster = orbits.propagate(np.array([[radius, 0.0, 0.0, 1.01 * speed]]), t, k=k)[0]
    assert np.ptp(np.hypot(faster[:, 0], faster[:, 1])) > 1e-3 * radius


def test_quarter_circle_by_hand():
    out = orbits.propagate([[1.0, 0.0, 0.0, 1.0]], [math.pi / 2, math.pi])[0]
    np.testing.assert_allclose(out, [[0, 1, -1, 0], [-1, 0, 0, -1]], atol=1e-14)


def test_near_collisions_are_rejected():
    o = orbits.sample_orbits(400, 400, t_max=10.0, min_pericentre=0.1, seed=2)
    assert o.n_rejected > 0  # about 80% of U[0,1)^4 draws pass within 0.1 of the centre
    assert orbits.pericentre(o.states[:, 0]).min() >= 0.1
    assert np.hypot(o.states[..., 0], o.states[..., 1]).min() >= 0.1
    loose = orbits.sample_orbits(400, 2, min_pericentre=0.0, seed=2)
    assert orbits.pericentre(loose.states[:, 0]).min() < 0.01
    assert loose.n_rejected < o.n_rejected


def test_energy_range_and_bound_only():
    o = orbits.sample_orbits(200, 3, energy_range=(-1.5, -0.5), seed=3)
    assert o.energy.min() >= -1.5 and o.energy.max() < -0.5
    free = orbits.sample_orbits(100, 3, bound_only=False, box=(0.0, 2.0), seed=3)
    assert (free.energy > 0).any() and (free.energy < 0).any()
    assert orbits.sample_orbits(100, 3, seed=3).energy.max() < 0
    inv = orbits.sample_orbits(300, 2, prior="invariants", energy_range=(-2.0, -1.0), seed=3)
    assert inv.energy.min() >= -2.0 and inv.energy.max() < -1.0
    ratio = np.abs(inv.angular_momentum) * np.sqrt(-2.0 * inv.energy)  # L / L_c(E)
    assert ratio.max() <= 1.0 + 1e-12 and ratio.min() < 0.3


def test_result_layout():
    o = orbits.sample_orbits(5, 7, t_max=2.0, seed=0)
    assert o.states.shape == (5, 7, 4) and o.states.dtype == np.float64
    assert o.energy.shape == (5,) and o.angular_momentum.shape == (5,)
    np.testing.assert_array_equal(o.times, np.linspace(0.0, 2.0, 7))
    s = orbits.sample_states(5, 7, t_max=2.0, seed=0)
    np.testing.assert_array_equal(s.states, o.states.reshape(35, 4))
    np.testing.assert_array_equal(s.energy, np.repeat(o.energy, 7))
    np.testing.assert_allclose(orbits.energy(s.states), s.energy, rtol=1e-12)
    np.testing.assert_allclose(orbits.angular_momentum(s.states), s.angular_momentum, rtol=1e-12)
    assert s.orbit.tolist() == np.repeat(np.arange(5), 7).tolist()
    np.testing.assert_array_equal(s.time, np.tile(o.times, 5))


def test_pairs_are_labelled_correctly():
    d = orbits.orbit_pairs(1000, seed=5, negative_fraction=0.3)
    assert d.pairs.shape == (1000, 2, 4) and d.labels.dtype == np.int64
    assert (d.labels == 0).sum() == 300
    np.testing.assert_allclose(d.energy, orbits.energy(d.pairs))
    np.testing.assert_allclose(d.angular_momentum, orbits.angular_momentum(d.pairs))
    pos, neg = d.labels == 1, d.labels == 0
    de = np.abs(d.energy[:, 0] - d.energy[:, 1]) / np.abs(d.energy[:, 0])
    dl = np.abs(d.angular_momentum[:, 0] - d.angular_momentum[:, 1])
    assert de[pos].max() < 1e-9 and dl[pos].max() < 1e-9  # same orbit
    assert np.minimum(de[neg], dl[neg]).min() > 1e-6  # different orbits; measured 5e-4
    # Positives are genuinely two different times on one orbit.
    assert np.abs(d.pairs[pos, 0] - d.pairs[pos, 1]).max(-1).min() > 0
    assert (d.times >= 0).all() and (d.times <= 3.0).all()
    for fraction, n_neg in ((0.0, 0), (1.0, 1000)):
        labels = orbits.orbit_pairs(1000, seed=5, negative_fraction=fraction).labels
        assert (labels == 0).sum() == n_neg


def test_reproducible_with_the_seed():
    a = orbits.sample_orbits(20, 5, seed=11)
    b = orbits.sample_orbits(20, 5, seed=11)
    c = orbits.sample_orbits(20, 5, seed=12)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)
    p = orbits.orbit_pairs(50, seed=3)
    q = orbits.orbit_pairs(50, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(p.pairs, q.pairs)
    np.testing.assert_array_equal(p.labels, q.labels)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 4\)"):
        orbits.energy(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 4\)"):
        orbits.angular_momentum(np.ones(5))
    with pytest.raises(ValueError, match="k must be a finite number > 0"):
        orbits.energy(np.ones(4), k=-1.0)
    with pytest.raises(ValueError, match="k must be a finite number > 0"):
        orbits.runge_lenz(np.ones(4), k=0.0)
    with pytest.raises(ValueError, match=r"states must have shape \(\.\.\., 4\)"):
        orbits.pericentre(np.ones(2))
    with pytest.raises(ValueError, match="k must be a finite number > 0"):
        orbits.period(-1.0, k=float("inf"))
    with pytest.raises(ValueError, match=r"states must have shape \(n, 4\)"):
        orbits.propagate(np.ones(4), [1.0])
    with pytest.raises(ValueError, match=r"times must have shape \(m,\) or \(2, m\)"):
        orbits.propagate(np.ones((2, 4)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="states and times must be finite"):
        orbits.propagate(np.ones((1, 4)), [np.nan])
    with pytest.raises(ValueError, match="every state must have r > 0"):
        orbits.propagate([[0.0, 0.0, 1.0, 0.0]], [1.0])
    with pytest.raises(ValueError, match="n_orbits must be an int >= 1"):
        orbits.sample_orbits(0, 5)
    with pytest.raises(ValueError, match="n_times must be an int >= 1"):
        orbits.sample_orbits(5, 2.5)
    with pytest.raises(ValueError, match="t_max must be a finite number >= 0"):
        orbits.sample_orbits(5, 5, t_max=-1.0)
    with pytest.raises(ValueError, match="prior must be one of"):
        orbits.sample_orbits(5, 5, prior="gaussian")
    with pytest.raises(ValueError, match="energy_range must reach below 0"):
        orbits.sample_orbits(5, 5, energy_range=(0.1, 1.0))
    with pytest.raises(
        ValueError, match=r"energy_range must be a pair \(low, high\) with low < high"
    ):
        orbits.sample_orbits(5, 5, energy_range=(-0.5, -1.0))
    with pytest.raises(ValueError, match=r"energy_range must be a pair \(low, high\) of numbers"):
        orbits.sample_orbits(5, 5, energy_range=-1.0)
    with pytest.raises(ValueError, match="energy_range must be finite and negative"):
        orbits.sample_orbits(5, 5, prior="invariants")
    with pytest.raises(ValueError, match="box must be finite"):
        orbits.sample_orbits(5, 5, box=(0.0, math.inf))
    with pytest.raises(ValueError, match="min_pericentre must be a finite number >= 0"):
        orbits.sample_orbits(5, 5, min_pericentre=-0.1)
    with pytest.raises(TypeError, match="seed must be an int >= 0 or a numpy.random.Generator"):
        orbits.sample_orbits(5, 5, seed="zero")
    with pytest.raises(ValueError, match="accepted only 0 of 5 orbits"):
        orbits.sample_orbits(5, 5, energy_range=(-100.0, -90.0))
    with pytest.raises(ValueError, match=r"negative_fraction must be a number in \[0, 1\]"):
        orbits.orbit_pairs(5, negative_fraction=1.5)
    with pytest.raises(ValueError, match="n_pairs must be an int >= 1"):
        orbits.orbit_pairs(-1)
