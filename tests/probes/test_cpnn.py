"""Correlation probing networks: the architecture's exact properties, the read-outs, the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from physxai.errors import NotFittedError
from physxai.probes.compare import spearman
from physxai.probes.cpnn import (
    CorrelationProbingNetwork,
    CPNNProbe,
    _standardize_average,
    all_patches,
    scan_field_sizes,
)

FAST = {"epochs": 20, "lr": 1e-2, "batch_size": 32, "progress": False}


def magnetised(m_values, n_each, size, seed=0, dtype=torch.float32):
    """iid spins with P(+1) = (1 + m) / 2; label 1 (ordered) where m != 0."""
    gen = torch.Generator().manual_seed(seed)
    m = torch.tensor(m_values, dtype=torch.float64).repeat_interleave(n_each)
    up = (
        torch.rand(m.numel(), size, size, generator=gen, dtype=torch.float64)
        < ((1 + m) / 2)[:, None, None]
    )
    x = torch.where(up, 1.0, -1.0).to(dtype)
    return x, (m != 0).long()


@pytest.fixture(scope="module")
def ordered_vs_disordered():
    """Ordered (m = +-0.8) against disordered (m = 0), 8 x 8, train and test sets."""
    x, y = magnetised([0.8, -0.8, 0.0, 0.0], 60, 8, seed=1)
    x_test, y_test = magnetised([0.8, -0.8, 0.0, 0.0], 40, 8, seed=2)
    return x, y, x_test, y_test


@pytest.fixture(scope="module")
def probe_k1(ordered_vs_disordered):
    x, y, _, _ = ordered_vs_disordered
    return CPNNProbe(1, **FAST).fit(x, y)


# --------------------------------------------------------------------------------------------
# what a 1x1 CPNN learns on magnetised lattices


def test_k1_learns_an_odd_local_map_and_a_decision_monotone_in_abs_m(
    probe_k1, ordered_vs_disordered
):
    _, _, x_test, y_test = ordered_vs_disordered
    assert probe_k1.score(x_test, y_test) >= 0.97
    # odd about the decision's centre: the two thresholds on M are symmetric about 0
    assert probe_k1.oddness() <= 0.1
    g = probe_k1.local_map().values[:, 0].double()
    low, high = probe_k1.decision_thresholds()
    m_low, m_high = (2 * (h - g[0]) / (g[1] - g[0]) - 1 for h in (low, high))
    assert -0.8 < m_low < -0.1 and 0.1 < m_high < 0.8  # between the clusters at 0 and +-0.8
    assert abs(m_low + m_high) <= 0.2  # |M0| <= 0.1 is the same statement as oddness <= 0.1
    m = x_test.double().mean((1, 2))
    # rank correlation over two clusters of |M| (0 and 0.8) with a saturating decision: ties in
    # the flat parts of the ReLU head cap rho below 1 (the Ising experiment asks >= 0.95)
    rho = spearman(probe_k1.decision_function(x_test), m.abs())
    assert rho.value >= 0.9
    assert abs(spearman(probe_k1.decision_function(x_test), m).value) < 0.3  # not signed M
    # the decision along M: rising to both sides of M = 0 within the data's range (to 1e-4: the
    # flat bottom of a ReLU head need not have its minimum exactly at M = 0)
    grid = torch.linspace(0, 0.9, 10, dtype=torch.float64)
    h_plus = (g[0] + (g[1] - g[0]) * (1 + grid) / 2).float()
    h_minus = (g[0] + (g[1] - g[0]) * (1 - grid) / 2).float()
    for h in (h_plus, h_minus):
        d = probe_k1.decision_curve(h).decision
        assert bool((d[1:] >= d[:-1] - 1e-4).all())
        assert float(d[-1] - d[0]) > 0.9


def test_oddness_is_not_trivial_without_the_flipped_sector():
    """Trained without negative M the decision need not be symmetric: the criterion fails."""
    x, y = magnetised([0.8, 0.0], 120, 8, seed=3)
    probe = CPNNProbe(1, **FAST).fit(x, y)
    assert probe.score(x, y) >= 0.97
    odd = probe.oddness()
    assert math.isnan(odd) or odd > 0.1


def test_k1_lattice_average_is_linear_in_the_magnetisation(probe_k1):
    """Eq. (2): h = g(-1) + (g(+1) - g(-1)) (1 + M) / 2 exactly, for any lattice size."""
    x, _ = magnetised([0.3, -0.6], 5, 11, seed=4)
    g = probe_k1.local_map().values[:, 0]
    m = x.mean((1, 2))
    expected = g[0] + (g[1] - g[0]) * (1 + m) / 2
    torch.testing.assert_close(probe_k1.averaged(x)[:, 0], expected, rtol=0, atol=1e-5)


def test_oddness_formula_and_raw_gauge(probe_k1):
    g = probe_k1.local_map().values[:, 0].double()
    raw = abs(float(g[0] + g[1])) / abs(float(g[1] - g[0]))
    assert probe_k1.oddness(center=0.0) == pytest.approx(raw, rel=1e-12)
    low, high = probe_k1.decision_thresholds()
    c = (low + high) / 2
    assert probe_k1.oddness() == pytest.approx(abs(float(g[0] + g[1]) - 2 * c) / float(g[1] - g[0]))


def test_scan_picks_the_one_site_field(ordered_vs_disordered):
    x, y, x_test, y_test = ordered_vs_disordered
    scan = scan_field_sizes(x, y, x_test, y_test, sizes=(2, 1), tolerance=0.01, **FAST)
    assert scan.sizes == (1, 2) and set(scan.probes) == {1, 2}
    assert scan.selected == 1
    assert scan.best_accuracy == max(scan.accuracy) and scan.accuracy[0] >= 0.97
    assert scan.probes[2].field_size == 2


def test_scan_rule_takes_the_smallest_within_tolerance(ordered_vs_disordered):
    x, y, x_test, y_test = ordered_vs_disordered
    scan = scan_field_sizes(
        x, y, x_test, y_test, sizes=(1,), tolerance=0.0, epochs=1, lr=1e-4, progress=False
    )
    assert scan.selected == 1  # one size: it is the best and the smallest
    with pytest.raises(ValueError, match="sizes must be distinct"):
        scan_field_sizes(x, y, x_test, y_test, sizes=(1, 1))
    with pytest.raises(ValueError, match="sizes must be a non-empty sequence"):
        scan_field_sizes(x, y, x_test, y_test, sizes=())
    with pytest.raises(ValueError, match="tolerance must be"):
        scan_field_sizes(x, y, x_test, y_test, tolerance=-0.1)
    with pytest.raises(ValueError, match="not field_size="):
        scan_field_sizes(x, y, x_test, y_test, field_size=2)


# --------------------------------------------------------------------------------------------
# exact properties of the architecture


def test_translation_invariance():
    torch.manual_seed(0)
    net = CorrelationProbingNetwork(3, local_hidden=(5, 4), n_local=2, head_hidden=(6,))
    x, _ = magnetised([0.2, -0.5, 0.0], 3, 9, seed=5)
    shifted = torch.roll(x, shifts=(4, -2), dims=(1, 2))
    with torch.no_grad():
        torch.testing.assert_close(net(shifted), net(x), rtol=0, atol=1e-6)
        net64 = net.double()
        a, b = net64(x.double()), net64(shifted.double())
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k, shape", [(2, (6, 6)), (3, (5, 7))])
def test_periodic_field_sum_matches_an_explicit_loop(k, shape):
    torch.manual_seed(1)
    net = CorrelationProbingNetwork(k, local_hidden=(4,), n_local=2, head_hidden=(3,)).double()
    gen = torch.Generator().manual_seed(6)
    x = torch.where(torch.rand(2, *shape, generator=gen) < 0.5, 1.0, -1.0).double()
    n_rows, n_cols = shape
    total = torch.zeros(2, 2, dtype=torch.float64)
    with torch.no_grad():
        for i in range(n_rows):
            for j in range(n_cols):
                rows = [(i + a) % n_rows for a in range(k)]
                cols = [(j + b) % n_cols for b in range(k)]
                patch = x[:, rows][:, :, cols]  # (2, k, k), wrapped around the edges
                total += net.local(patch[:, None]).flatten(1)
        got = net.averaged(x)
    torch.testing.assert_close(got, total / (n_rows * n_cols), rtol=0, atol=1e-12)
    assert net.local_fields(x).shape == (2, 2, *shape)


def test_initial_lattice_average_is_standardised():
    """fit starts from h with mean 0 and std 1 over the training data (the saddle fix)."""
    torch.manual_seed(2)
    net = CorrelationProbingNetwork(2, n_local=3).double()
    x, _ = magnetised([0.6, -0.2, 0.0], 20, 6, seed=8, dtype=torch.float64)
    _standardize_average(net, x, batch_size=7)
    with torch.no_grad():
        h = net.averaged(x)
    torch.testing.assert_close(h.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(h.std(0), torch.ones(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_channel_dimension_is_optional():
    net = CorrelationProbingNetwork(2)
    x, _ = magnetised([0.5], 3, 6)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x[:, None]), rtol=0, atol=0)
    assert [n for n, _ in net.named_children()] == ["pad", "local", "pool", "head"]
    assert net(x).shape == (3, 2)


def test_all_patches_enumerates_and_pairs_flips():
    p = all_patches(2, dtype=torch.float64)
    assert p.shape == (16, 2, 2)
    assert len({tuple(r.flatten().tolist()) for r in p}) == 16
    torch.testing.assert_close(p.flip(0), -p)  # row 15 - i is the flip of row i
    torch.testing.assert_close(all_patches(1).flatten(), torch.tensor([-1.0, 1.0]))


def test_local_map_table_for_k2_is_the_network_on_each_patch(ordered_vs_disordered):
    x, y, _, _ = ordered_vs_disordered
    probe = CPNNProbe(2, local_hidden=(4,), epochs=2, progress=False).fit(x.double(), y)
    table = probe.local_map()
    assert table.patches.shape == (16, 2, 2) and table.values.shape == (16, 1)
    assert table.values.dtype == torch.float64
    net = probe.model_
    with torch.no_grad():
        for patch, value in zip(table.patches, table.values):
            # a 2x2 lattice of this patch, tiled periodically, evaluated at site (0, 0)
            fields = net.local_fields(patch[None])  # (1, 1, 2, 2)
            torch.testing.assert_close(fields[0, :, 0, 0], value, rtol=0, atol=1e-12)
    torch.testing.assert_close(probe.local_response(table.patches[3:5]), table.values[3:5])


def test_decision_curve_is_the_head_on_h(probe_k1):
    curve = probe_k1.decision_curve(n_points=11)
    g = probe_k1.local_map().values[:, 0]
    assert curve.averaged.shape == (11,) and curve.decision.shape == (11,)
    assert float(curve.averaged[0]) == pytest.approx(float(g.min()))
    assert float(curve.averaged[-1]) == pytest.approx(float(g.max()))
    with torch.no_grad():
        expected = probe_k1.model_.head(curve.averaged[:, None]).softmax(-1)[:, 1]
    torch.testing.assert_close(curve.decision, expected)
    # and the probe's decision on lattices is the curve at their h
    x, _ = magnetised([0.4, -0.1], 3, 8, seed=7)
    h = probe_k1.averaged(x)[:, 0]
    torch.testing.assert_close(
        probe_k1.decision_curve(h).decision, probe_k1.predict_proba(x)[:, 1], atol=1e-6, rtol=0
    )


def test_predictions_do_not_depend_on_max_batch_size(probe_k1, ordered_vs_disordered):
    _, _, x_test, y_test = ordered_vs_disordered
    a = probe_k1.predict_proba(x_test, max_batch_size=7)
    b = probe_k1.predict_proba(x_test, max_batch_size=4096)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a.sum(1), torch.ones(len(x_test)))
    assert probe_k1.predict(x_test).dtype == torch.int64
    assert probe_k1.score(x_test.numpy(), y_test.numpy()) == probe_k1.score(x_test, y_test)


def test_seed_reproduces_and_global_rng_is_untouched(ordered_vs_disordered):
    x, y, _, _ = ordered_vs_disordered
    state = torch.random.get_rng_state()
    a = CPNNProbe(1, epochs=2, progress=False, seed=3).fit(x, y).local_map().values
    assert torch.equal(torch.random.get_rng_state(), state)
    b = CPNNProbe(1, epochs=2, progress=False, seed=3).fit(x, y).local_map().values
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fit_accepts_numpy_and_channel_inputs(ordered_vs_disordered):
    x, y, _, _ = ordered_vs_disordered
    probe = CPNNProbe(1, epochs=1, progress=False).fit(x[:, None].numpy(), y.numpy())
    assert probe.model_.local.out.weight.dtype == torch.float32
    assert probe.averaged(x).shape == (len(x), 1)
    assert probe.history_.epochs == 1 and probe.classes_.tolist() == [0, 1]


# --------------------------------------------------------------------------------------------
# errors


def test_not_fitted():
    probe = CPNNProbe(1)
    x, _ = magnetised([0.5], 2, 4)
    for call in (
        lambda: probe.predict_proba(x),
        lambda: probe.predict(x),
        lambda: probe.averaged(x),
        lambda: probe.local_map(),
        lambda: probe.decision_curve(),
        lambda: probe.oddness(),
        lambda: probe.local_response(x[:, :1, :1]),
    ):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            call()


def test_bad_inputs(ordered_vs_disordered, probe_k1):
    x, y, _, _ = ordered_vs_disordered
    probe = CPNNProbe(1, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"spin lattices of shape .*got shape \(240, 64\)"):
        probe.fit(x.flatten(1), y)
    with pytest.raises(ValueError, match=r"got shape \(240, 2, 4, 8\)"):
        probe.fit(x.reshape(240, 2, 4, 8), y)
    with pytest.raises(ValueError, match="must be spins"):
        probe.fit((x + 1) / 2, y)
    bad = x.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="must be finite"):
        probe.fit(bad, y)
    with pytest.raises(ValueError, match="floating-point"):
        probe.fit(x.to(torch.int8), y)
    with pytest.raises(ValueError, match="astype"):
        probe.fit(x.numpy().astype(np.int8), y)
    with pytest.raises(TypeError, match="torch.Tensor"):
        probe.fit(x.tolist(), y)
    with pytest.raises(ValueError, match="larger than the lattice"):
        CPNNProbe(9, epochs=1).fit(x, y)
    with pytest.raises(ValueError, match="larger than the lattice"):
        CPNNProbe(3, epochs=1, progress=False).fit(x, y).predict(x[:, :2, :2])
    with pytest.raises(ValueError, match="device"):
        CPNNProbe(1, device="meta").fit(x, y)
    # labels
    with pytest.raises(ValueError, match="both classes"):
        probe.fit(x, torch.ones_like(y))
    with pytest.raises(ValueError, match="labels 0 and 1 only"):
        probe.fit(x, 2 * y)
    with pytest.raises(ValueError, match="integer class labels"):
        probe.fit(x, y.float())
    with pytest.raises(ValueError, match=r"shape \(240,\)"):
        probe.fit(x, y[:10])
    with pytest.raises(TypeError, match="y must be"):
        probe.fit(x, y.tolist())
    # after fitting: dtype, the local map's +-1 patches, k * k > 16, n_local, grids
    with pytest.raises(ValueError, match="model's dtype"):
        probe_k1.predict_proba(x.double())
    with pytest.raises(ValueError, match="must be spins"):
        probe_k1.local_response(torch.full((2, 1, 1), 0.5))
    with pytest.raises(ValueError, match="k x k = 1 x 1"):
        probe_k1.local_response(torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match="max_batch_size must be"):
        probe_k1.predict_proba(x, max_batch_size=0)
    with pytest.raises(ValueError, match="averaged must be 1-d"):
        probe_k1.decision_curve(torch.zeros(3, 1))
    with pytest.raises(ValueError, match="n_points must be"):
        probe_k1.decision_curve(n_points=1)
    with pytest.raises(ValueError, match="center must be one of"):
        probe_k1.oddness(center="zero")
    with pytest.raises(TypeError, match="center must be"):
        probe_k1.oddness(center=None)
    with pytest.raises(ValueError, match="center must be finite"):
        probe_k1.oddness(center=math.inf)
    with pytest.raises(ValueError, match="y must be integer labels"):
        probe_k1.score(x, y[:3])
    big, _ = magnetised([0.0, 0.5], 4, 5)
    wide = CPNNProbe(5, local_hidden=(2,), epochs=1, progress=False).fit(
        big, torch.tensor([0, 1] * 4)
    )
    with pytest.raises(ValueError, match=r"limited to k \* k <= 16"):
        wide.local_map()
    with pytest.raises(ValueError, match="pass averaged="):
        wide.decision_curve()
    two = CPNNProbe(1, n_local=2, epochs=1, progress=False).fit(x, y)
    assert two.local_map().values.shape == (2, 2)
    with pytest.raises(ValueError, match="n_local = 1"):
        two.decision_curve()
    with pytest.raises(ValueError, match="n_local = 1"):
        two.oddness()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"field_size": 0}, ValueError, "field_size must be an int >= 1"),
        ({"local_hidden": (0,)}, ValueError, "local_hidden must be a tuple"),
        ({"head_hidden": 8}, ValueError, "head_hidden must be a tuple"),
        ({"n_local": 0}, ValueError, "n_local must be"),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
        ({"epochs": 0}, ValueError, "epochs must be"),
        ({"lr": -1.0}, ValueError, "lr must be"),
        ({"l2": -1.0}, ValueError, "l2 must be"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"device": 3}, TypeError, "device must be"),
        ({"progress": "yes"}, TypeError, "progress must be"),
    ],
)
def test_constructor_validates(kwargs, error, match):
    with pytest.raises(error, match=match):
        CPNNProbe(**kwargs)


def test_network_constructor_validates():
    with pytest.raises(ValueError, match="CorrelationProbingNetwork: field_size"):
        CorrelationProbingNetwork(0)
    with pytest.raises(ValueError, match="n_classes must be"):
        CorrelationProbingNetwork(1, n_classes=0)
