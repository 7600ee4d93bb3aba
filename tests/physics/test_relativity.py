"""Tests of special relativity: Lorentz group properties, the textbook boost, Haar rotations,
field transformation against Jackson's formulas, invariants, and the pair generators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from physxai.physics import relativity

ETA = np.diag([1.0, -1.0, -1.0, -1.0])


def test_metric_and_interval_by_hand():
    np.testing.assert_array_equal(relativity.METRIC, ETA)
    assert float(relativity.interval([2.0, 1.0, 0.5, -1.0])) == pytest.approx(4 - 1 - 0.25 - 1)
    events = np.random.default_rng(0).standard_normal((5, 3, 4))
    np.testing.assert_allclose(
        relativity.interval(events), np.einsum("...i,ij,...j", events, ETA, events)
    )


def test_interval_accepts_tensors_and_differentiates():
    x = torch.tensor([[1.0, 2.0, -0.5, 3.0]], dtype=torch.float64, requires_grad=True)
    s2 = relativity.interval(x)
    assert isinstance(s2, torch.Tensor) and s2.shape == (1,)
    (grad,) = torch.autograd.grad(s2.sum(), x)
    assert grad[0].tolist() == [2.0, -4.0, 1.0, -6.0]  # 2 (t, -x, -y, -z)


@pytest.mark.parametrize("distribution", ["rapidity", "velocity"])
def test_random_lorentz_is_proper_orthochronous(distribution):
    lam = relativity.random_lorentz(2000, seed=1, max_rapidity=3.0, distribution=distribution)
    assert lam.shape == (2000, 4, 4) and lam.dtype == np.float64
    gram = np.swapaxes(lam, 1, 2) @ ETA @ lam
    scale = np.abs(lam).max(axis=(1, 2)) ** 2
    assert (np.abs(gram - ETA).max(axis=(1, 2)) / scale).max() < 1e-10  # measured 2e-15
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, atol=1e-10)
    assert lam[:, 0, 0].min() >= 1.0
    assert lam[:, 0, 0].max() <= math.cosh(3.0) * (1 + 1e-12)
    events = relativity.random_events(2000, seed=2, centred=True)
    moved = np.einsum("nij,nj->ni", lam, events)
    size = (moved**2).sum(-1) + (events**2).sum(-1)
    error = np.abs(relativity.interval(moved) - relativity.interval(events)) / size
    assert error.max() < 1e-10  # measured 2e-15


def test_boost_matches_the_textbook_matrix():
    beta = 0.6
    gamma = 1.0 / math.sqrt(1 - beta**2)
    phi = math.atanh(beta)
    for axis in range(3):
        direction = np.eye(3)[axis]
        expected = np.eye(4)
        expected[0, 0] = expected[axis + 1, axis + 1] = gamma
        expected[0, axis + 1] = expected[axis + 1, 0] = -gamma * beta
        np.testing.assert_allclose(relativity.boost(phi, direction), expected, atol=1e-15)
    # t' = gamma (t - beta x), x' = gamma (x - beta t) on an event
    event = np.array([2.0, 1.0, 5.0, -3.0])
    moved = relativity.boost(phi, (1.0, 0.0, 0.0)) @ event
    np.testing.assert_allclose(moved, [gamma * (2 - beta), gamma * (1 - 2 * beta), 5.0, -3.0])
    # Boosts along one direction add rapidities and invert with the opposite rapidity.
    n = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(
        relativity.boost(0.3, n) @ relativity.boost(0.9, n), relativity.boost(1.2, n), atol=1e-14
    )
    np.testing.assert_allclose(
        relativity.boost(0.7, n) @ relativity.boost(-0.7, n), np.eye(4), atol=1e-14
    )
    assert relativity.boost(np.zeros((2, 3)), n).shape == (2, 3, 4, 4)


def test_random_lorentz_is_a_rotation_boost_rotation():
    lam = relativity.random_lorentz(500, seed=3, max_rapidity=1.5)
    # The rapidity of R1 B R2 is arccosh(Lambda^0_0), uniform on [0, 1.5].
    phi = np.arccosh(np.clip(lam[:, 0, 0], 1.0, None))
    assert phi.max() <= 1.5 + 1e-12
    assert abs(phi.mean() - 0.75) < 0.06
    velocity = relativity.random_lorentz(
        4000, seed=3, max_rapidity=math.inf, distribution="velocity"
    )
    beta = np.tanh(np.arccosh(np.clip(velocity[:, 0, 0], 1.0, None)))
    assert abs(beta.mean() - 0.5) < 0.02 and beta.max() < 1.0  # beta ~ U(0, 1)


def test_random_rotations_are_haar():
    rot = relativity.random_rotations(20000, seed=4)
    np.testing.assert_allclose(
        np.swapaxes(rot, 1, 2) @ rot, np.broadcast_to(np.eye(3), rot.shape), atol=1e-14
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    # Haar: E[R] = 0 and E[R_ij^2] = 1/3; the rotated z axis is uniform on the sphere.
    assert np.abs(rot.mean(0)).max() < 0.02
    np.testing.assert_allclose((rot**2).mean(0), 1 / 3, atol=0.01)
    cos_polar = rot[:, 2, 2]
    assert abs(np.mean(cos_polar < 0.5) - 0.75) < 0.01  # P(cos theta < 1/2) = 3/4


def test_field_tensor_round_trip():
    e_, b_ = relativity.random_fields(10, seed=5)
    tensor = relativity.field_tensor(e_, b_)
    np.testing.assert_array_equal(tensor, -np.swapaxes(tensor, 1, 2))
    assert (
        tensor[0, 0, 1] == -e_[0, 0] and tensor[0, 1, 2] == -b_[0, 2]
    )  # F^{01} = -Ex, F^{12} = -Bz
    back = relativity.fields_from_tensor(tensor)
    np.testing.assert_array_equal(back[0], e_)
    np.testing.assert_array_equal(back[1], b_)
    # F_{mu nu} F^{mu nu} = 2 (B^2 - E^2)
    lowered = ETA @ tensor @ ETA
    invariant, _ = relativity.field_invariants(e_, b_)
    np.testing.assert_allclose((lowered * tensor).sum((1, 2)), -2 * invariant)


def test_pure_boosts_by_hand():
    beta, gamma = 0.6, 1.25
    lam = relativity.boost(math.atanh(beta), (1.0, 0.0, 0.0))
    # E along y, no B: E' = (0, gamma, 0), B' = (0, 0, -gamma beta)
    e_, b_ = relativity.transform_fields([0.0, 1.0, 0.0], [0.0, 0.0, 0.0], lam)
    np.testing.assert_allclose(e_, [0, gamma, 0], atol=1e-15)
    np.testing.assert_allclose(b_, [0, 0, -gamma * beta], atol=1e-15)
    inv = relativity.field_invariants(e_, b_)
    assert float(inv[0]) == pytest.approx(1.0) and float(inv[1]) == pytest.approx(0.0)
    # E = B = y: E' = (0, gamma, gamma beta), B' = (0, gamma, -gamma beta); E.B = 1, E^2 - B^2 = 0
    e_, b_ = relativity.transform_fields([0.0, 1.0, 0.0], [0.0, 1.0, 0.0], lam)
    np.testing.assert_allclose(e_, [0, gamma, gamma * beta], atol=1e-15)
    np.testing.assert_allclose(b_, [0, gamma, -gamma * beta], atol=1e-15)
    assert float(np.dot(e_, b_)) == pytest.approx(1.0)
    assert float(np.dot(e_, e_) - np.dot(b_, b_)) == pytest.approx(0.0, abs=1e-14)
    # Fields parallel to the boost do not change.
    e_, b_ = relativity.transform_fields([2.0, 0.0, 0.0], [-1.0, 0.0, 0.0], lam)
    np.testing.assert_allclose(np.concatenate([e_, b_]), [2, 0, 0, -1, 0, 0], atol=1e-15)


def test_transform_fields_matches_jacksons_general_boost():
    rng = np.random.default_rng(6)
    e_, b_ = relativity.random_fields(300, seed=7)
    beta = rng.standard_normal((300, 3))
    beta *= rng.uniform(0.0, 0.97, (300, 1)) / np.linalg.norm(beta, axis=1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - (beta**2).sum(1, keepdims=True))
    # Jackson Eq. (11.149)
    e_ref = gamma * (e_ + np.cross(beta, b_)) - gamma**2 / (gamma + 1) * beta * (beta * e_).sum(
        1, keepdims=True
    )
    b_ref = gamma * (b_ - np.cross(beta, e_)) - gamma**2 / (gamma + 1) * beta * (beta * b_).sum(
        1, keepdims=True
    )
    lam = relativity.boost(np.arctanh(np.linalg.norm(beta, axis=1)), beta)
    e_new, b_new = relativity.transform_fields(e_, b_, lam)
    assert np.abs(e_new - e_ref).max() < 1e-12  # measured 4e-15
    assert np.abs(b_new - b_ref).max() < 1e-12
    # A rotation turns both fields as vectors.
    rot = relativity.random_rotations(300, seed=8)
    embed = np.zeros((300, 4, 4))
    embed[:, 0, 0] = 1.0
    embed[:, 1:, 1:] = rot
    e_rot, b_rot = relativity.transform_fields(e_, b_, embed)
    np.testing.assert_allclose(e_rot, np.einsum("nij,nj->ni", rot, e_), atol=1e-14)
    np.testing.assert_allclose(b_rot, np.einsum("nij,nj->ni", rot, b_), atol=1e-14)


def test_field_invariants_are_preserved():
    e_, b_ = relativity.random_fields(2000, seed=9)
    lam = relativity.random_lorentz(2000, seed=10)
    e_new, b_new = relativity.transform_fields(e_, b_, lam)
    before = relativity.field_invariants(e_, b_)
    after = relativity.field_invariants(e_new, b_new)
    size = (e_new**2).sum(-1) + (b_new**2).sum(-1)
    for x, y in zip(before, after):
        assert (np.abs(x - y) / size).max() < 1e-10  # measured 4e-15
    # one transformation broadcast over many fields
    e_one, b_one = relativity.transform_fields(e_, b_, lam[0])
    np.testing.assert_allclose(relativity.field_invariants(e_one, b_one)[1], before[1], atol=1e-12)


def test_event_pairs():
    d = relativity.event_pairs(1000, seed=11, negative_fraction=0.4)
    assert d.pairs.shape == (1000, 2, 4) and d.labels.dtype == np.int64
    assert (d.labels == 0).sum() == 400
    np.testing.assert_allclose(d.interval, relativity.interval(d.pairs))
    pos, neg = d.labels == 1, d.labels == 0
    np.testing.assert_allclose(
        np.einsum("nij,nj->ni", d.lorentz[pos], d.pairs[pos, 0]), d.pairs[pos, 1]
    )
    size = (d.pairs**2).sum((1, 2))
    gap = np.abs(d.interval[:, 0] - d.interval[:, 1]) / size
    assert gap[pos].max() < 1e-10  # measured 1e-15
    assert gap[neg].min() > 1e-8
    assert (d.pairs[:, 0] >= 0).all() and (d.pairs[:, 0] < 1).all()  # U[0, 1)^4 events


def test_field_pairs():
    d = relativity.field_pairs(600, seed=12)
    assert d.pairs.shape == (600, 2, 6) and d.invariants.shape == (600, 2, 2)
    assert (d.labels == 0).sum() == 300
    e_, b_ = d.pairs[..., :3], d.pairs[..., 3:]
    np.testing.assert_allclose(d.invariants, np.stack(relativity.field_invariants(e_, b_), -1))
    pos, neg = d.labels == 1, d.labels == 0
    size = (d.pairs**2).sum((1, 2))[:, None]
    gap = np.abs(d.invariants[:, 0] - d.invariants[:, 1]) / size
    assert gap[pos].max() < 1e-10
    assert gap[neg].max(-1).min() > 1e-8


def test_reproducible_with_the_seed():
    np.testing.assert_array_equal(relativity.random_lorentz(5, 3), relativity.random_lorentz(5, 3))
    assert not np.array_equal(relativity.random_lorentz(5, 3), relativity.random_lorentz(5, 4))
    a = relativity.event_pairs(20, seed=1)
    b = relativity.event_pairs(20, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(a.pairs, b.pairs)
    np.testing.assert_array_equal(
        relativity.field_pairs(5, 2).pairs, relativity.field_pairs(5, 2).pairs
    )
    np.testing.assert_array_equal(relativity.random_events(4, 9), relativity.random_events(4, 9))
    np.testing.assert_array_equal(
        relativity.random_fields(4, 9)[1], relativity.random_fields(4, 9)[1]
    )


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match=r"events must have shape \(\.\.\., 4\)"):
        relativity.interval(np.ones((2, 3)))
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        relativity.random_lorentz(0)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        relativity.random_rotations(1.5)
    with pytest.raises(ValueError, match="max_rapidity must be a finite number > 0"):
        relativity.random_lorentz(3, max_rapidity=math.inf)
    with pytest.raises(ValueError, match="max_rapidity must be a finite number > 0"):
        relativity.random_lorentz(3, max_rapidity=-1.0)
    with pytest.raises(ValueError, match="distribution must be one of"):
        relativity.random_lorentz(3, distribution="gamma")
    with pytest.raises(TypeError, match="seed must be an int >= 0 or a numpy.random.Generator"):
        relativity.random_lorentz(3, seed=-1)
    with pytest.raises(ValueError, match="rapidity must be finite"):
        relativity.boost(np.inf)
    with pytest.raises(ValueError, match="direction must be a finite non-zero 3-vector"):
        relativity.boost(1.0, (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match=r"direction must have shape \(\.\.\., 3\)"):
        relativity.boost(1.0, (1.0, 0.0))
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        relativity.random_events(3, scale=0.0)
    with pytest.raises(ValueError, match="scale must be a finite number > 0"):
        relativity.random_fields(3, scale=-2.0)
    with pytest.raises(ValueError, match=r"negative_fraction must be a number in \[0, 1\]"):
        relativity.event_pairs(10, negative_fraction=-0.1)
    with pytest.raises(ValueError, match="n_pairs must be an int >= 1"):
        relativity.field_pairs(0)
    with pytest.raises(ValueError, match="E and B must have the same shape"):
        relativity.field_invariants(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"B must have shape \(\.\.\., 3\)"):
        relativity.field_tensor(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"tensor must have shape \(\.\.\., 4, 4\)"):
        relativity.fields_from_tensor(np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"lorentz must have shape \(\.\.\., 4, 4\)"):
        relativity.transform_fields(np.ones(3), np.ones(3), np.eye(3))
    with pytest.raises(ValueError, match="does not broadcast against fields"):
        relativity.transform_fields(np.ones((5, 3)), np.ones((5, 3)), np.ones((4, 4, 4)))
