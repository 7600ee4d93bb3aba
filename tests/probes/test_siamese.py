"""Tests of physxai.probes.siamese: pair sets, the twin-network estimator, and the interpretation
protocol (monomial fit, rank correlation, gradient alignment) against planted invariants."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from physxai.errors import NotFittedError
from physxai.physics import orbits, relativity
from physxai.probes.siamese import (
    ORBIT_VARIABLES,
    RELATIVITY_VARIABLES,
    SiameseEncoder,
    SiameseNetwork,
    discover_invariant,
    make_pairs,
    make_triplets,
    monomial_names,
)

# --------------------------------------------------------------------------------------------
# helpers


class Planted(nn.Module):
    """A parameter-free "encoder" computing a known function of its inputs."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.eval()

    def forward(self, x):
        return self.fn(x)[:, None]


def _events(n: int = 400, seed: int = 0) -> torch.Tensor:
    """Events on both sides of the origin and boosts of other events, float64: a generic spread
    with no two intervals equal (negative pairs), so rank ties cannot arise."""
    d = relativity.event_pairs(n // 2, seed=seed, negative_fraction=1.0, centred=True)
    return torch.from_numpy(d.pairs.reshape(-1, 4))


def _states(n: int = 400, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(orbits.sample_states(n // 20, 20, seed=seed).states)


def grad_interval(e):  # PAPERS.md section 2: grad s^2 = 2 (t, -x, -y, -z)
    return 2 * e * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=e.dtype)


def grad_angular_momentum(s):  # grad L = (v2, -v1, -x2, x1)
    x1, x2, v1, v2 = s.unbind(-1)
    return torch.stack([v2, -v1, -x2, x1], -1)


def grad_energy(s):  # grad E = (x1 / r^3, x2 / r^3, v1, v2), k = 1
    x1, x2, v1, v2 = s.unbind(-1)
    r3 = (x1**2 + x2**2) ** 1.5
    return torch.stack([x1 / r3, x2 / r3, v1, v2], -1)


# --------------------------------------------------------------------------------------------
# monomial fit


def test_monomial_names_count_and_order():
    names = [n for n, _ in monomial_names(RELATIVITY_VARIABLES, 2)]
    assert len(names) + 1 == math.comb(4 + 2, 2) == 15  # PAPERS.md: 15 terms with the constant
    assert names[:4] == ["t", "x", "y", "z"]
    assert names[4:8] == ["t^2", "t*x", "t*y", "t*z"]
    cubic = monomial_names(ORBIT_VARIABLES, 3)
    assert len(cubic) + 1 == math.comb(7, 3)
    assert ("x1^2*v2", (2, 0, 0, 1)) in cubic


def test_monomial_fit_recovers_the_interval_exactly():
    x = _events()
    enc = Planted(lambda e: 3 * relativity.interval(e) + 1)
    r = discover_invariant(enc, x, variable_names=RELATIVITY_VARIABLES)
    assert r.r_squared == pytest.approx(1.0, abs=1e-10)
    top = dict(r.dominant_terms(4))
    assert set(top) == {"t^2", "x^2", "y^2", "z^2"}
    for term, want in (("t^2", 1.0), ("x^2", -1.0), ("y^2", -1.0), ("z^2", -1.0)):
        assert top[term] == pytest.approx(want, abs=1e-10)
    assert np.abs(r.coefficients[4:]).max() < 1e-10
    assert r.scale == pytest.approx(3.0, abs=1e-10)
    assert r.intercept == pytest.approx(1.0 / 3.0, abs=1e-10)
    # the overall sign of the latent is kept
    neg = discover_invariant(
        Planted(lambda e: -relativity.interval(e)), x, variable_names=RELATIVITY_VARIABLES
    )
    assert neg.coefficient("t^2") == pytest.approx(-1.0, abs=1e-10)
    assert neg.coefficient("z^2") == pytest.approx(1.0, abs=1e-10)


def test_monomial_fit_recovers_angular_momentum_exactly():
    x = _states()
    r = discover_invariant(Planted(orbits.angular_momentum), x, variable_names=ORBIT_VARIABLES)
    assert r.r_squared == pytest.approx(1.0, abs=1e-10)
    top = dict(r.dominant_terms(2))
    assert set(top) == {"x1*v2", "x2*v1"}
    assert top["x1*v2"] == pytest.approx(1.0, abs=1e-10)
    assert top["x2*v1"] == pytest.approx(-1.0, abs=1e-10)
    assert np.abs(r.coefficients[2:]).max() < 1e-10


def test_monomial_fit_recovers_every_planted_coefficient():
    # a random cubic: every one of the 34 coefficients (and the constant) comes back
    gen = np.random.default_rng(3)
    monomials = monomial_names(ORBIT_VARIABLES, 3)
    coef = gen.normal(size=len(monomials))
    exps = torch.tensor([e for _, e in monomials])

    def cubic(s):
        return (s[:, None, :] ** exps).prod(-1) @ torch.from_numpy(coef) + 0.25

    x = torch.from_numpy(gen.uniform(-1, 1, size=(300, 4)))
    r = discover_invariant(Planted(cubic), x, degree=3, variable_names=ORBIT_VARIABLES)
    got = {t: c * r.scale for t, c in zip(r.terms, r.coefficients)}
    want = {name: c for (name, _), c in zip(monomials, coef)}
    assert got.keys() == want.keys()
    assert max(abs(got[k] - want[k]) for k in want) < 1e-9
    assert r.intercept * r.scale == pytest.approx(0.25, abs=1e-9)
    assert r.r_squared == pytest.approx(1.0, abs=1e-10)


def test_default_variable_names():
    r = discover_invariant(Planted(lambda s: s[:, 0] * s[:, 2]), _states(100), degree=2)
    assert r.terms[0] == "x0*x2" and r.variable_names == ("x0", "x1", "x2", "x3")


# --------------------------------------------------------------------------------------------
# reference gradients, alignment, correlation


def test_reference_gradients_match_autograd_of_the_physics_functions():
    for fn, grad, x in (
        (relativity.interval, grad_interval, _events(50)),
        (orbits.angular_momentum, grad_angular_momentum, _states(60)),
        (orbits.energy, grad_energy, _states(60)),
    ):
        xg = x.clone().requires_grad_()
        (auto,) = torch.autograd.grad(fn(xg).sum(), xg)
        torch.testing.assert_close(auto, grad(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "fn, grad, inputs, names",
    [
        (relativity.interval, grad_interval, _events, RELATIVITY_VARIABLES),
        (orbits.angular_momentum, grad_angular_momentum, _states, ORBIT_VARIABLES),
        (orbits.energy, grad_energy, _states, ORBIT_VARIABLES),
    ],
)
def test_alignment_is_one_for_the_invariant_itself(fn, grad, inputs, names):
    x = inputs(200)
    for gradients in (None, {"I": grad}):  # autograd of the candidate, then analytic
        r = discover_invariant(Planted(fn), x, {"I": fn}, variable_names=names, gradients=gradients)
        assert r.alignment["I"] == pytest.approx(1.0, abs=1e-10)
        assert r.correlations["I"].value == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(r.cosines["I"], 1.0, atol=1e-10)


def test_monotone_maps_keep_spearman_and_alignment_at_one():
    x = _events(300)
    for g, sign in ((torch.tanh, 1.0), (lambda s: -torch.exp(s), -1.0)):
        r = discover_invariant(
            Planted(lambda e, g=g: g(relativity.interval(e))),
            x,
            {"interval": relativity.interval},
            variable_names=RELATIVITY_VARIABLES,
        )
        assert r.correlations["interval"].value == pytest.approx(sign, abs=1e-12)
        assert r.alignment["interval"] == pytest.approx(1.0, abs=1e-10)
        np.testing.assert_allclose(np.sign(r.cosines["interval"]), sign)


def test_alignment_below_one_for_a_different_function():
    x = _events(300)
    euclid = Planted(lambda e: (e**2).sum(-1))  # t^2 + x^2 + y^2 + z^2, not invariant
    r = discover_invariant(
        euclid, x, {"interval": relativity.interval}, variable_names=RELATIVITY_VARIABLES
    )
    assert r.alignment["interval"] < 0.8
    assert abs(r.correlations["interval"].value) < 0.9
    # L and E are different invariants: neither aligns with the other
    s = _states(200)
    r = discover_invariant(
        Planted(orbits.angular_momentum), s, {"energy": orbits.energy, "L": orbits.angular_momentum}
    )
    assert r.alignment["energy"] < 0.9 and r.alignment["L"] == pytest.approx(1.0, abs=1e-10)


def test_array_candidates_and_multi_latent_encoders():
    x = _events(100)
    enc = lambda e: torch.stack([relativity.interval(e), e[:, 0]], -1)
    s2 = relativity.interval(x).numpy()
    r = discover_invariant(
        enc,
        x,
        {"interval": s2, "t": torch.tensor(x[:, 0].numpy())},
        latent=1,
        gradients={"interval": grad_interval},
    )
    assert r.correlations["t"].value == pytest.approx(1.0)
    assert "t" not in r.alignment  # an array has no gradient
    assert r.terms[0] == "x0"


def test_results_do_not_depend_on_max_batch_size():
    torch.manual_seed(1)
    enc = SiameseEncoder(4, hidden=(16, 16), activation="tanh").double().eval()
    x = _events(90)
    kw = {"variable_names": RELATIVITY_VARIABLES}
    full = discover_invariant(enc, x, {"interval": relativity.interval}, **kw)
    part = discover_invariant(enc, x, {"interval": relativity.interval}, max_batch_size=7, **kw)
    np.testing.assert_allclose(part.latent, full.latent, rtol=0, atol=1e-14)
    np.testing.assert_allclose(part.cosines["interval"], full.cosines["interval"], atol=1e-13)
    assert part.terms == full.terms
    np.testing.assert_allclose(part.coefficients, full.coefficients, atol=1e-10)


def test_report_str_and_to_dict():
    r = discover_invariant(
        Planted(relativity.interval),
        _events(100),
        {"interval": relativity.interval},
        variable_names=RELATIVITY_VARIABLES,
    )
    text = str(r)
    assert "interval" in text and "R^2 = 1.000000" in text and "t^2" in text
    d = r.to_dict()
    assert all(isinstance(v, float) for v in d.values())
    assert d["spearman_interval"] == pytest.approx(1.0) and d["coef_t^2"] == pytest.approx(1.0)
    assert d["alignment_interval"] == pytest.approx(1.0) and "r_squared" in d
    with pytest.raises(KeyError, match="no monomial named 'w\\^2'"):
        r.coefficient("w^2")


def test_constant_latent_warns_and_gives_nan_r_squared():
    with pytest.warns(RuntimeWarning, match="latent is constant"):
        r = discover_invariant(
            Planted(lambda e: 0 * e[:, 0] + 1), _events(50), {"interval": relativity.interval}
        )
    assert math.isnan(r.r_squared) and math.isnan(r.correlations["interval"].value)


# --------------------------------------------------------------------------------------------
# pair and triplet sets


def test_relativity_triplets_respect_the_interval():
    d = relativity.event_pairs(300, seed=4, negative_fraction=0.0)
    for negatives in ("shift", "random"):
        t = make_triplets(
            d.pairs[:, 0],
            d.pairs[:, 1],
            negatives=negatives,
            generator=torch.Generator().manual_seed(0),
        )
        s2 = relativity.interval(t)  # (n, 3)
        assert t.shape == (300, 3, 4) and t.dtype == torch.float64
        assert (s2[:, 0] - s2[:, 1]).abs().max() < 1e-9  # s^2(x) == s^2(Lambda x)
        assert (s2[:, 0] - s2[:, 2]).abs().min() > 1e-6  # negatives differ (generically)


def test_orbit_pairs_respect_energy_and_angular_momentum():
    d = orbits.orbit_pairs(120, seed=5, negative_fraction=0.0)
    pairs, labels = make_pairs(d.pairs[:, 0], d.pairs[:, 1], shift=7)
    assert pairs.shape == (240, 2, 4) and labels.tolist() == [1] * 120 + [0] * 120
    tol = orbits.CONSERVATION_TOLERANCE
    for fn in (orbits.energy, orbits.angular_momentum):
        q = fn(pairs)
        rel = (q[:, 0] - q[:, 1]).abs() / q[:, 0].abs()
        assert rel[labels == 1].max() <= tol
        assert rel[labels == 0].min() > 1e-6


def test_negative_choice_is_never_the_own_pair_and_is_reproducible():
    a = torch.arange(10.0)[:, None]
    t = make_triplets(a, a + 100, shift=3)
    assert (t[:, 2, 0] - 100 == (a[:, 0] + 3) % 10).all()
    r1 = make_triplets(a, a + 100, negatives="random", generator=torch.Generator().manual_seed(2))
    r2 = make_triplets(a, a + 100, negatives="random", generator=torch.Generator().manual_seed(2))
    assert torch.equal(r1, r2) and (r1[:, 2, 0] - 100 != a[:, 0]).all()


# --------------------------------------------------------------------------------------------
# the estimator


def test_encoder_contains_the_standardisation():
    d = relativity.event_pairs(64, seed=0, negative_fraction=0.0)
    trip = torch.from_numpy(make_triplets(d.pairs[:, 0], d.pairs[:, 1]).numpy())
    net = SiameseNetwork(hidden=(8,), activation="tanh", epochs=1, progress=False).fit(trip)
    flat = trip.reshape(-1, 4)
    torch.testing.assert_close(net.mean_, flat.mean(0))
    torch.testing.assert_close(net.scale_, flat.std(0))
    x = _events(20)
    # gradient w.r.t. the raw inputs, checked against central finite differences
    xg = x.clone().requires_grad_()
    (g,) = torch.autograd.grad(net.encoder_(xg).sum(), xg)
    h = 1e-6
    fd = torch.stack(
        [
            (
                net.encoder_(x + h * torch.eye(4, dtype=x.dtype)[i])
                - net.encoder_(x - h * torch.eye(4, dtype=x.dtype)[i])
            )[:, 0]
            / (2 * h)
            for i in range(4)
        ],
        -1,
    )
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(net.transform(x), net.encoder_.network((x - net.mean_) / net.scale_))


def test_fit_is_seeded_and_leaves_the_global_rng_alone():
    d = relativity.event_pairs(64, seed=0, negative_fraction=0.0)
    trip = make_triplets(d.pairs[:, 0], d.pairs[:, 1]).float()
    state = torch.random.get_rng_state()
    a = SiameseNetwork(hidden=(8,), epochs=2, seed=3, progress=False).fit(trip)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = SiameseNetwork(hidden=(8,), epochs=2, seed=3, progress=False).fit(trip)
    x = trip[:5, 0]
    assert torch.equal(a.transform(x), b.transform(x))
    assert a.history_.epochs == 2 and a.encoder_.training is False
    assert a.transform(x, max_batch_size=2).shape == (5, 1)


@pytest.mark.parametrize("objective", ["contrastive", "pair_classification"])
def test_pair_objectives_learn_to_separate_pairs(objective):
    d = relativity.event_pairs(400, seed=1, negative_fraction=0.5)
    pairs, labels = torch.from_numpy(d.pairs).float(), torch.from_numpy(d.labels)
    net = SiameseNetwork(
        hidden=(32,), objective=objective, epochs=15, lr=3e-3, batch_size=64, progress=False
    ).fit(pairs, labels, validation=(pairs[:50], labels[:50]))
    assert len(net.history_.val_loss) == 15
    assert net.history_.train_loss[-1] < net.history_.train_loss[0]
    dist = net.pair_distance(pairs)
    assert dist[labels == 1].median() < dist[labels == 0].median()
    if objective == "pair_classification":
        assert net.pair_weight_ > 0 and math.isfinite(net.pair_bias_)


@pytest.mark.slow
def test_triplet_training_learns_the_interval():
    # The quick card's setting (U[0,1)^4 events and their boosts, rapidity <= 2) with 2000
    # positive pairs; each pair is used in both orders and with two cyclic shifts for the
    # negatives (8000 triplets). Measured: |rho| = 0.935, alignment 0.971 after 8 epochs.
    d = relativity.event_pairs(2000, seed=0, negative_fraction=0.0)
    a, p = torch.from_numpy(d.pairs[:, 0]).float(), torch.from_numpy(d.pairs[:, 1]).float()
    a, p = torch.cat([a, p]), torch.cat([p, a])
    trip = torch.cat([make_triplets(a, p, shift=s) for s in (1, 2)])
    start = time.perf_counter()
    net = SiameseNetwork(hidden=(64, 64), epochs=8, progress=False).fit(trip)
    elapsed = time.perf_counter() - start
    test = relativity.event_pairs(500, seed=9, negative_fraction=1.0).pairs.reshape(-1, 4)
    r = discover_invariant(
        net,
        torch.from_numpy(test).float(),
        {"interval": relativity.interval},
        variable_names=RELATIVITY_VARIABLES,
    )
    print(f"triplet training: {elapsed:.1f} s\n{r}")
    assert abs(r.correlations["interval"].value) >= 0.9
    assert r.alignment["interval"] >= 0.9
    assert {t for t, _ in r.dominant_terms(4)} == {"t^2", "x^2", "y^2", "z^2"}


# --------------------------------------------------------------------------------------------
# bad inputs


def test_estimator_bad_options():
    with pytest.raises(ValueError, match="objective must be one of 'triplet'"):
        SiameseNetwork(objective="siamese")
    with pytest.raises(ValueError, match="latent_dim must be an int >= 1"):
        SiameseNetwork(0)
    with pytest.raises(ValueError, match="margin must be a finite number > 0"):
        SiameseNetwork(margin=0.0)
    with pytest.raises(TypeError, match="hidden must be a sequence of ints"):
        SiameseNetwork(hidden=256)
    with pytest.raises(ValueError, match="each hidden width must be an int >= 1"):
        SiameseNetwork(hidden=(8, 0))
    with pytest.raises(TypeError, match="seed must be an int"):
        SiameseNetwork(seed=1.5)
    with pytest.raises(ValueError, match="SiameseNetwork: activation must be one of 'relu'"):
        SiameseNetwork(activation="swish")
    with pytest.raises(TypeError, match="standardize must be a bool"):
        SiameseNetwork(standardize=1)
    with pytest.raises(ValueError, match="device must name a torch device"):
        SiameseNetwork(device="gpu0")


def test_fit_bad_data():
    trip = torch.rand(10, 3, 4)
    pairs, labels = torch.rand(10, 2, 4), torch.randint(0, 2, (10,))
    net = SiameseNetwork(hidden=(4,), epochs=1, progress=False)
    with pytest.raises(
        ValueError, match=r"data must have shape \(n, 3, d\); got shape \(10, 2, 4\)"
    ):
        net.fit(pairs)
    with pytest.raises(ValueError, match="takes \\(n, 3, d\\) triplets and no labels"):
        net.fit(trip, labels)
    bad = trip.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        net.fit(bad)
    with pytest.raises(TypeError, match="data must be a torch.Tensor or numpy array"):
        net.fit(trip.tolist())
    with pytest.raises(ValueError, match="data must be floating point"):
        net.fit(trip.long())
    pair_net = SiameseNetwork(hidden=(4,), objective="contrastive", epochs=1, progress=False)
    with pytest.raises(ValueError, match="needs labels"):
        pair_net.fit(pairs)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        pair_net.fit(pairs, labels[:5])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        pair_net.fit(pairs, labels + 1)
    with pytest.raises(ValueError, match="labels must be integer or bool"):
        pair_net.fit(pairs, labels.float())
    with pytest.raises(TypeError, match="validation must be a \\(pairs, labels\\) tuple"):
        pair_net.fit(pairs, labels, validation=pairs)
    with pytest.raises(ValueError, match="validation must match data in d and dtype"):
        pair_net.fit(pairs, labels, validation=(pairs.double(), labels))


def test_not_fitted_and_transform_errors():
    net = SiameseNetwork(hidden=(4,), epochs=1, progress=False)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        net.transform(torch.rand(3, 4))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        discover_invariant(net, torch.rand(30, 4))
    net.fit(torch.rand(8, 3, 4))
    with pytest.raises(ValueError, match="inputs must have 4 features"):
        net.transform(torch.rand(3, 5))
    with pytest.raises(ValueError, match="inputs must have the encoder's dtype"):
        net.transform(torch.rand(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"inputs must have shape \(n_samples, n_features\)"):
        net.transform(torch.rand(3, 2, 4))
    with pytest.raises(ValueError, match=r"pairs must have shape \(n, 2, d\)"):
        net.pair_distance(torch.rand(3, 3, 4))


def test_pair_helpers_bad_inputs():
    a = torch.rand(5, 4)
    with pytest.raises(ValueError, match="anchors and positives must have one shape"):
        make_triplets(a, a[:4])
    with pytest.raises(ValueError, match="at least 2 pairs are needed; got 1"):
        make_pairs(a[:1], a[:1])
    with pytest.raises(ValueError, match="shift must be an int that is not a multiple"):
        make_triplets(a, a, shift=5)
    with pytest.raises(ValueError, match="negatives must be one of 'shift', 'random'"):
        make_triplets(a, a, negatives="hard")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        make_triplets(a, a, negatives="random", generator=0)
    with pytest.raises(ValueError, match=r"anchors must have shape \(n_samples, n_features\)"):
        make_pairs(a[:, None], a)


def test_discover_invariant_bad_inputs():
    x = _events(40)
    enc = Planted(relativity.interval)
    with pytest.raises(ValueError, match="degree must be an int >= 1"):
        discover_invariant(enc, x, degree=0)
    with pytest.raises(ValueError, match="variable_names must name each of the 4 input"):
        discover_invariant(enc, x, variable_names=("t", "x", "y"))
    with pytest.raises(ValueError, match="variable_names must be distinct"):
        discover_invariant(enc, x, variable_names=("t", "x", "x", "z"))
    with pytest.raises(
        ValueError,
        match=r"candidate 'bad' must return one value per input, "
        r"shape \(40,\); got shape \(40, 1\)",
    ):
        discover_invariant(enc, x, {"bad": lambda e: relativity.interval(e)[:, None]})
    with pytest.raises(ValueError, match=r"candidate 'arr' must hold one value per input"):
        discover_invariant(enc, x, {"arr": np.zeros(39)})
    with pytest.raises(ValueError, match="candidate 'nan' has NaN or infinite values"):
        discover_invariant(enc, x, {"nan": np.full(40, np.nan)})
    with pytest.raises(ValueError, match="candidate 'one' is constant on inputs"):
        discover_invariant(enc, x, {"one": np.ones(40)})
    with pytest.raises(ValueError, match="confidence must be a float in \\(0, 1\\)"):
        discover_invariant(enc, x, {"s2": relativity.interval}, confidence=95)
    with pytest.raises(TypeError, match="candidate 'c' must be a callable or an \\(n,\\) array"):
        discover_invariant(enc, x, {"c": 3.0})
    with pytest.raises(ValueError, match="gradients given for \\['E'\\], which are not candidates"):
        discover_invariant(enc, x, {"s2": relativity.interval}, gradients={"E": grad_interval})
    with pytest.raises(ValueError, match=r"gradients\['s2'\] must return shape \(n, 4\)"):
        discover_invariant(
            enc, x, {"s2": relativity.interval}, gradients={"s2": lambda e: e[:, :3]}
        )
    bad = x.clone()
    bad[3, 1] = float("inf")
    with pytest.raises(ValueError, match="inputs .*infinite"):
        discover_invariant(enc, bad)
    with pytest.raises(ValueError, match=r"inputs must have shape \(n_samples, n_features\)"):
        discover_invariant(enc, x[:, None])
    with pytest.raises(ValueError, match="needs at least 15 inputs; got 10"):
        discover_invariant(enc, x[:10])
    with pytest.raises(ValueError, match="latent must index one of the encoder's 1 outputs"):
        discover_invariant(enc, x, latent=1)
    with pytest.raises(ValueError, match="encoder must map inputs \\(n, d\\) to \\(n,\\)"):
        discover_invariant(lambda e: e[None], x)
    with pytest.raises(TypeError, match="encoder must be an nn.Module, a callable"):
        discover_invariant("mlp", x)
    with pytest.raises(ValueError, match="inputs must have the encoder's dtype"):
        discover_invariant(SiameseEncoder(4, hidden=(4,)), x)
