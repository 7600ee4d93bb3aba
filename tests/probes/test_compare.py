"""Tests of physxai.probes.compare: correlations against scipy and closed forms, interval
coverage, fits against scikit-learn, the Kraskov estimator against the Gaussian formula,
transitions on planted steps and crossings, and cluster counts on planted mixtures."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import PolynomialFeatures

from physxai.probes import compare as cmp
from physxai.probes.compare import (
    ClusterCount,
    ComparisonTable,
    Correlation,
    Transition,
    compare,
    count_clusters,
    crossing,
    mutual_information,
    partial_correlation,
    pearson,
    r_squared,
    spearman,
    steepest_change,
)


def _bivariate(rng: np.random.Generator, n: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=n)


# ---------------------------------------------------------------------------------------------
# correlations


@pytest.mark.parametrize("n", [5, 40, 500])
def test_pearson_and_spearman_match_scipy(n):
    rng = np.random.default_rng(n)
    x, y = _bivariate(rng, n, 0.4)
    ties = np.round(x * 2) / 2  # many ties: the averaged ranks must match scipy's
    for a, b in [(x, y), (ties, y), (x, np.exp(y))]:
        r, ref = pearson(a, b), stats.pearsonr(a, b)
        assert abs(r.value - ref.statistic) < 1e-12
        assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        rho, ref = spearman(a, b), stats.spearmanr(a, b)
        assert abs(rho.value - ref.statistic) < 1e-12
        assert rho.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


def test_fisher_intervals_follow_the_formulas():
    rng = np.random.default_rng(1)
    x, y = _bivariate(rng, 30, 0.5)
    q = stats.norm.ppf(0.95)  # 90% interval
    r = pearson(x, y, confidence=0.9)
    z = math.atanh(r.value)
    assert r.low == pytest.approx(math.tanh(z - q / math.sqrt(27)), abs=1e-14)
    assert r.high == pytest.approx(math.tanh(z + q / math.sqrt(27)), abs=1e-14)
    rho = spearman(x, y, confidence=0.9)
    z = math.atanh(rho.value)
    se = math.sqrt(1.06 / 27)  # Fieller, Hartley & Pearson (1957)
    assert (rho.low, rho.high) == pytest.approx((math.tanh(z - q * se), math.tanh(z + q * se)))
    assert (r.method, r.n, r.confidence, rho.method) == ("pearson", 30, 0.9, "spearman")
    assert "pearson r = " in str(r) and "90% CI" in str(r) and "rho" in str(rho)


def test_interval_coverage_of_the_true_correlation():
    rho_true, n, repeats = 0.6, 40, 200
    rho_s = 6 / math.pi * math.asin(rho_true / 2)  # Spearman's rho of a bivariate Gaussian
    rng = np.random.default_rng(7)
    hit_p = hit_s = 0
    for _ in range(repeats):
        x, y = _bivariate(rng, n, rho_true)
        r, s = pearson(x, y), spearman(x, y)
        hit_p += r.low <= rho_true <= r.high
        hit_s += s.low <= rho_s <= s.high
    assert 0.9 <= hit_p / repeats <= 0.99
    assert 0.9 <= hit_s / repeats <= 0.99


def test_spearman_of_a_monotone_map_is_exactly_one():
    x = np.random.default_rng(2).uniform(-3, 3, size=100)
    assert spearman(np.exp(3 * x), x).value == 1.0
    assert spearman(-(x**3) - x, x).value == -1.0
    assert spearman(np.exp(3 * x), x).p_value == 0.0
    assert pearson(np.exp(3 * x), x).value < 0.9  # not linear, so Pearson is below one


def test_partial_correlation_removes_a_planted_confounder():
    rng = np.random.default_rng(3)
    c = rng.normal(size=400)
    x, y = c + 0.3 * rng.normal(size=400), c + 0.3 * rng.normal(size=400)
    assert pearson(x, y).value > 0.85
    for method in ("pearson", "spearman"):
        p = partial_correlation(x, y, c, method=method)
        assert p.method == f"partial_{method}"
        assert p.low < 0 < p.high and abs(p.value) < 0.15


def test_partial_correlation_equals_the_three_variable_closed_form():
    rng = np.random.default_rng(4)
    z = rng.normal(size=60)
    x = z + rng.normal(size=60)
    y = 0.5 * z - 0.4 * x + rng.normal(size=60)
    rxy, rxz, ryz = (pearson(a, b).value for a, b in [(x, y), (x, z), (y, z)])
    closed = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    p = partial_correlation(x, y, z)
    assert abs(p.value - closed) < 1e-12
    # the interval and the test lose one degree of freedom per control
    q = stats.norm.ppf(0.975)
    assert p.low == pytest.approx(math.tanh(math.atanh(closed) - q / math.sqrt(60 - 1 - 3)))
    t = closed * math.sqrt(57 / (1 - closed**2))
    assert p.p_value == pytest.approx(2 * stats.t.sf(abs(t), 57), rel=1e-9)
    # Spearman's version is the same formula on ranks
    rk = [stats.rankdata(v) for v in (x, y, z)]
    sxy, sxz, syz = (
        pearson(a, b).value for a, b in [(rk[0], rk[1]), (rk[0], rk[2]), (rk[1], rk[2])]
    )
    closed_s = (sxy - sxz * syz) / math.sqrt((1 - sxz**2) * (1 - syz**2))
    assert abs(partial_correlation(x, y, z, method="spearman").value - closed_s) < 1e-12


def test_partial_correlation_with_several_controls_matches_sklearn_residuals():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(80, 3))
    x = z @ [1.0, -2.0, 0.5] + rng.normal(size=80)
    y = z @ [0.3, 1.0, 1.0] + 0.5 * x + rng.normal(size=80)
    rx = x - LinearRegression().fit(z, x).predict(z)
    ry = y - LinearRegression().fit(z, y).predict(z)
    assert abs(partial_correlation(x, y, z).value - stats.pearsonr(rx, ry).statistic) < 1e-12


def test_torch_inputs_are_accepted_and_detached():
    rng = np.random.default_rng(6)
    x, y = _bivariate(rng, 50, 0.3)
    xt = torch.tensor(x, requires_grad=True)[:, None]  # a (n, 1) latent with a graph
    assert pearson(xt, torch.tensor(y, dtype=torch.float32)).value == pytest.approx(
        pearson(x, y.astype(np.float32)).value, abs=1e-15
    )
    assert isinstance(spearman(xt, y).value, float)


# ---------------------------------------------------------------------------------------------
# fits and information


def test_r_squared_of_exact_polynomials():
    x = np.linspace(-2.0, 2.0, 41)
    assert abs(r_squared(3 * x - 1, x) - 1) < 1e-12
    assert abs(r_squared(x**2, x, degree=1)) < 1e-12  # symmetric x: no linear part at all
    assert abs(r_squared(x**2, x, degree=2) - 1) < 1e-12
    # an offset, narrow range and degree 5 stay exact thanks to the scaled Legendre basis
    t = 1000.0 + np.linspace(0.0, 1.0, 50)
    y = (t - 1000.3) ** 5 - 2 * (t - 1000.3) ** 2
    assert abs(r_squared(y, t, degree=5) - 1) < 1e-10
    assert r_squared(y, t, degree=4) < 1 - 1e-6


def test_r_squared_of_noise_is_small_and_equals_pearson_squared():
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=2000), rng.normal(size=2000)
    assert r_squared(y, x) < 0.005
    assert r_squared(y, x) == pytest.approx(pearson(y, x).value ** 2, abs=1e-12)


def test_r_squared_matches_sklearn_regression():
    rng = np.random.default_rng(9)
    known = rng.normal(size=(200, 3)) * [1.0, 10.0, 0.01] + [0.0, 100.0, 5.0]
    y = known @ [1.0, 0.1, 50.0] + 0.2 * known[:, 0] ** 2 * known[:, 2] + rng.normal(size=200)
    assert r_squared(y, known) == pytest.approx(
        LinearRegression().fit(known, y).score(known, y), abs=1e-12
    )
    # the span of the monomials is invariant under per-column affine maps, so a well-conditioned
    # reference fits them on standardised columns; sklearn on the raw monomials (up to 1e6 times
    # 1e-6) loses digits and can only do worse than the exact least squares
    std = (known - known.mean(axis=0)) / known.std(axis=0)
    poly = PolynomialFeatures(3, include_bias=False).fit_transform(std)
    ref = LinearRegression().fit(poly, y).score(poly, y)
    assert r_squared(y, known, degree=3) == pytest.approx(ref, abs=1e-10)
    raw = PolynomialFeatures(3, include_bias=False).fit_transform(known)
    assert r_squared(y, known, degree=3) >= LinearRegression().fit(raw, y).score(raw, y) - 1e-12
    x1 = known[:, 0]
    poly1 = PolynomialFeatures(3, include_bias=False).fit_transform(x1[:, None])
    ref1 = LinearRegression().fit(poly1, y).score(poly1, y)
    assert r_squared(y, x1, degree=3) == pytest.approx(ref1, abs=1e-12)


def test_mutual_information_independent_and_gaussian():
    rng = np.random.default_rng(10)
    assert mutual_information(rng.normal(size=2000), rng.normal(size=2000)) < 0.05
    for rho in (0.5, 0.9):
        x, y = _bivariate(rng, 2000, rho)
        assert mutual_information(y, x) == pytest.approx(-0.5 * math.log(1 - rho**2), abs=0.05)
    # a dependence no correlation sees: z = |m|, symmetric m
    m = rng.normal(size=2000)
    assert abs(pearson(np.abs(m), m).value) < 0.1 and mutual_information(np.abs(m), m) > 0.5


# ---------------------------------------------------------------------------------------------
# comparison table


def test_compare_tabulates_every_pair():
    rng = np.random.default_rng(11)
    n = 300
    m, e = rng.normal(size=n), rng.normal(size=n)
    z = np.column_stack([rng.normal(size=n), np.tanh(m) + 0.05 * rng.normal(size=n), e**3])
    known = {"magnetization": m, "energy": torch.tensor(e)}
    table = compare(z, known, learned_names=["a", "b", "c"], degree=3)
    assert isinstance(table, ComparisonTable)
    assert [(r.learned, r.known) for r in table.rows] == [
        (a, k) for a in "abc" for k in ("magnetization", "energy")
    ]
    assert table.best("magnetization") == "b" and table.best("energy") == "c"
    row = table.row("b", "magnetization")
    assert row.pearson == pearson(z[:, 1], m) and row.spearman == spearman(z[:, 1], m)
    assert row.r2_linear == pytest.approx(r_squared(z[:, 1], m), abs=1e-12)
    assert row.r2_poly == pytest.approx(r_squared(z[:, 1], m, degree=3), abs=1e-12)
    assert row.mutual_information == pytest.approx(mutual_information(z[:, 1], m), abs=1e-12)
    assert table.row("c", "energy").r2_poly == pytest.approx(1.0, abs=1e-12)
    flat = table.to_dict()
    metrics = [
        "pearson",
        "pearson_low",
        "pearson_high",
        "pearson_p",
        "spearman",
        "spearman_low",
        "spearman_high",
        "spearman_p",
        "r2_linear",
        "r2_poly",
        "mutual_information",
    ]
    assert set(flat) == {f"{a}~{k}/{s}" for a in "abc" for k in known for s in metrics}
    assert all(isinstance(v, float) for v in flat.values())
    assert flat["b~magnetization/spearman"] == row.spearman.value
    text = str(table)
    lines = text.splitlines()
    assert len(lines) == 7 and "magnetization" in text and "R2 deg3" in lines[0]
    assert len({line.index("R2 lin") if "R2 lin" in line else None for line in lines[:1]}) == 1
    # default names, no mutual information
    t2 = compare(z[:, 1], {"magnetization": m}, mutual_info=False)
    assert t2.learned_names == ("z0",) and "z0~magnetization/mutual_information" not in t2.to_dict()
    assert "MI" not in str(t2)


def test_compare_table_lookups_raise_on_unknown_names():
    rng = np.random.default_rng(12)
    table = compare(rng.normal(size=(20, 2)), {"m": rng.normal(size=20)}, mutual_info=False)
    with pytest.raises(ValueError, match="known_name must be one of"):
        table.best("energy")
    with pytest.raises(ValueError, match="no pair"):
        table.row("z5", "m")


# ---------------------------------------------------------------------------------------------
# transitions


def _step(rng, grid, n_per, center=2.3, width=0.15, noise=0.3):
    t = np.repeat(grid, n_per)
    return t, -np.tanh((t - center) / width) + noise * rng.normal(size=t.size)


def test_steepest_change_finds_a_noisy_step():
    grid = np.linspace(1.0, 3.5, 40)
    t, m = _step(np.random.default_rng(13), grid, 50)
    tr = steepest_change(t, m, n_bootstrap=300)
    assert isinstance(tr, Transition) and tr.method == "steepest_change"
    assert abs(tr.estimate - 2.3) < grid[1] - grid[0]
    assert tr.low <= 2.3 <= tr.high
    means = np.array([m[t == g].mean() for g in grid])
    np.testing.assert_allclose(tr.parameters, grid)
    np.testing.assert_allclose(tr.curve, means, atol=1e-12)
    np.testing.assert_allclose(tr.derivative, np.gradient(means, grid, edge_order=2), atol=1e-10)
    assert str(tr).startswith("T* = 2.") and "(95%, steepest change)" in str(tr)


def test_steepest_change_interval_shrinks_with_more_samples():
    grid = np.linspace(1.0, 3.5, 40)
    widths = []
    # a broad step (width 0.4): for a step much sharper than the grid the interval is bounded by
    # the peak's neighbours (the vertex stays between them) and shrinks only once noise is small
    for n_per in (10, 160):
        t, m = _step(np.random.default_rng(14), grid, n_per, width=0.4)
        tr = steepest_change(t, m, n_bootstrap=200)
        widths.append(tr.high - tr.low)
    assert widths[1] < 0.5 * widths[0]


def test_steepest_change_on_a_non_uniform_grid_with_abs_and_smoothing():
    rng = np.random.default_rng(15)
    # coarse (0.2) far from the step, fine (0.04) near it
    grid = np.concatenate(
        [np.linspace(0.4, 1.8, 8), np.linspace(2.0, 2.6, 16), np.linspace(2.8, 4.0, 7)]
    )
    t = np.repeat(grid, 100)
    magnitude = 0.5 * (1 - np.tanh((t - 2.3) / 0.15)) + 0.1 * rng.normal(size=t.size)
    z = magnitude * rng.choice([-1.0, 1.0], size=t.size)  # a latent whose sign is a Z2 choice
    spacing = np.diff(grid)[np.searchsorted(grid, 2.3) - 1]
    tr = steepest_change(t, z, absolute=True, n_bootstrap=200)
    assert abs(tr.estimate - 2.3) < spacing and tr.low <= 2.3 <= tr.high
    smooth = steepest_change(t, z, absolute=True, smoothing=0.05, n_bootstrap=0)
    assert abs(smooth.estimate - 2.3) < spacing
    assert math.isnan(smooth.low) and "no bootstrap" in str(smooth)
    # without |.| the mean of a sign-symmetric latent is flat noise: no longer near the step
    assert np.abs(steepest_change(t, z, n_bootstrap=0).curve).max() < 0.2


def test_steepest_change_parabola_is_exact_for_a_quadratic_peak():
    # C(T) = T - (T - 1.37)^3 / 3: a central difference of a cubic is exactly
    # C' + h^2 C''' / 6 = 1 - (T - 1.37)^2 - h^2 / 3, a parabola peaked between grid points,
    # so the three-point vertex must land on 1.37 to rounding
    grid = np.linspace(1.0, 2.0, 11)
    curve = grid - (grid - 1.37) ** 3 / 3
    tr = steepest_change(np.repeat(grid, 2), np.repeat(curve, 2), n_bootstrap=0)
    assert abs(tr.estimate - 1.37) < 1e-12


def test_bootstrap_resamples_within_each_parameter_value():
    grid = np.linspace(1.0, 3.5, 12)
    rng = np.random.default_rng(16)
    t = np.repeat(grid, 5)
    rng.shuffle(t)
    v = -np.tanh((t - 2.3) / 0.3)  # no spread within a temperature: every replicate is the curve
    tr = steepest_change(t, v, n_bootstrap=50)
    assert tr.low == pytest.approx(tr.estimate, abs=1e-12) and tr.high == pytest.approx(
        tr.estimate, abs=1e-12
    )
    cr = crossing(t, (v + 1) / 2, n_bootstrap=50)
    assert cr.low == pytest.approx(cr.estimate, abs=1e-12) and cr.high == pytest.approx(
        cr.estimate, abs=1e-12
    )


def test_bootstrap_chunking_does_not_change_the_result(monkeypatch):
    t, m = _step(np.random.default_rng(17), np.linspace(1.0, 3.5, 20), 10)
    whole = steepest_change(t, m, n_bootstrap=64, seed=3)
    monkeypatch.setattr(cmp, "_BOOTSTRAP_CHUNK", 7 * t.size)  # chunks of 7 replicates
    chunked = steepest_change(t, m, n_bootstrap=64, seed=3)
    assert (whole.low, whole.high) == (chunked.low, chunked.high)
    other = steepest_change(t, m, n_bootstrap=64, seed=4)
    assert (whole.low, whole.high) != (other.low, other.high)


def test_crossing_of_a_logistic_curve():
    grid = np.linspace(1.0, 3.5, 40)
    rng = np.random.default_rng(18)
    t = np.repeat(grid, 50)
    p = 1 / (1 + np.exp((t - 2.269) / 0.1)) + 0.1 * rng.normal(size=t.size)
    cr = crossing(t, p, n_bootstrap=300)
    assert cr.method == "crossing" and cr.derivative is None and cr.n_dropped == 0
    assert abs(cr.estimate - 2.269) < 0.02 and cr.low <= 2.269 <= cr.high
    # increasing curves cross too
    up = crossing(t, 1 - p, n_bootstrap=0)
    assert abs(up.estimate - cr.estimate) < 1e-12


def test_crossing_interpolates_linearly_between_grid_points():
    t = np.array([0.0, 0.0, 1.0, 1.0, 3.0, 3.0])
    v = np.array([1.0, 1.0, 0.7, 0.9, 0.1, 0.3])  # means 1, 0.8, 0.2
    assert crossing(t, v, n_bootstrap=0).estimate == pytest.approx(1.0 + 2.0 * 0.3 / 0.6, abs=1e-14)
    assert crossing(t, v, level=0.8, n_bootstrap=0).estimate == pytest.approx(1.0, abs=1e-14)


def test_crossing_warns_on_several_crossings_and_picks_the_best_step():
    grid = np.arange(6.0)
    means = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1])  # crosses at 1-2, 2-3 and 3-4
    with pytest.warns(UserWarning, match="crosses level 0.5 3 times"):
        cr = crossing(grid, means, n_bootstrap=0)
    # the step down between 1 and 2 leaves only 0.6 (0.1 above) on the wrong side
    assert cr.estimate == pytest.approx(1.6, abs=1e-14)
    # neither the first nor the last crossing: an early dip and a late bump are outvoted
    means = np.array([0.9, 0.4, 0.9, 0.8, 0.3, 0.2, 0.6, 0.1])
    with pytest.warns(UserWarning, match="5 times"):
        cr = crossing(np.arange(8.0), means, n_bootstrap=0)
    assert cr.estimate == pytest.approx(3.6, abs=1e-14)


def test_crossing_warns_when_bootstrap_curves_do_not_cross():
    rng = np.random.default_rng(19)
    t = np.repeat(np.arange(5.0), 6)
    v = np.where(t < 4, 0.9, 0.48) + np.where(t == 4, 0.3, 0.0) * rng.normal(size=t.size)
    v[t == 4] += 0.48 - v[t == 4].mean()  # the mean curve barely dips below 0.5 at the end
    with pytest.warns(UserWarning, match="never cross"):
        cr = crossing(t, v, n_bootstrap=100)
    assert cr.n_dropped > 5


# ---------------------------------------------------------------------------------------------
# clusters


def test_count_clusters_on_planted_mixtures():
    rng = np.random.default_rng(20)
    three = np.concatenate([rng.normal(c, 0.1, 300) for c in (1.0, -1.0, 0.0)])
    cc = count_clusters(torch.tensor(three), max_components=4, n_init=1)
    assert isinstance(cc, ClusterCount) and cc.n_clusters == 3 and cc.bic.shape == (4,)
    np.testing.assert_allclose(cc.means, [-1.0, 0.0, 1.0], atol=0.03)
    np.testing.assert_allclose(cc.weights, [1 / 3] * 3, atol=0.02)
    assert int(np.argmin(cc.bic)) == 2 and "3 cluster" in str(cc)
    assert count_clusters(rng.normal(size=500), max_components=4, n_init=1).n_clusters == 1
    two = np.concatenate(
        [rng.normal([0.0, 2.0], 0.2, (200, 2)), rng.normal([1.0, -1.0], 0.2, (200, 2))]
    )
    cc2 = count_clusters(two, max_components=4, n_init=1)
    assert cc2.n_clusters == 2 and cc2.means.shape == (2, 2)
    np.testing.assert_allclose(cc2.means, [[0.0, 2.0], [1.0, -1.0]], atol=0.05)


# ---------------------------------------------------------------------------------------------
# validation at the boundary

_X = np.linspace(0.0, 1.0, 10)
_Y = _X**2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pearson(_X, _Y[:9]), r"same number of samples; got shapes \(10,\) and \(9,\)"),
        (
            lambda: spearman(_X, np.r_[_Y[:9], np.nan]),
            "known must be finite; got 1 NaN and 0 infinite",
        ),
        (
            lambda: pearson(np.r_[_X[:9], np.inf], _Y),
            "learned must be finite; got 0 NaN and 1 infinite",
        ),
        (lambda: pearson(np.ones(10), _Y), r"learned is constant \(column 0\)"),
        (lambda: spearman(_X, np.ones(10)), r"known is constant \(column 0\)"),
        (lambda: pearson(_X[:3], _Y[:3]), "needs at least 4 samples; got n = 3"),
        (
            lambda: pearson(_X, np.column_stack([_Y, _Y])),
            r"known must have shape \(n,\); got shape \(10, 2\)",
        ),
        (lambda: spearman(_X, _Y[:, None]), r"Try known\[:, 0\]"),
        (lambda: pearson(np.column_stack([_X, _Y]), _Y), "Compare several columns with compare"),
        (lambda: pearson(_X, _Y, confidence=1.0), r"confidence must be a float in \(0, 1\)"),
        (lambda: spearman(_X, _Y, confidence=0), r"confidence must be a float in \(0, 1\)"),
        (lambda: pearson(_X, _Y, confidence=True), "confidence must be"),
        (lambda: pearson(np.empty(0), np.empty(0)), "non-empty sample dimension"),
        (
            lambda: partial_correlation(_X, _Y, _X**3, method="kendall"),
            "method must be 'pearson' or 'spearman'",
        ),
        (lambda: partial_correlation(_X, _Y, np.ones(10)), r"controls is constant \(column 0\)"),
        (lambda: partial_correlation(_X, _Y, np.ones((9, 1))), r"got shapes \(10,\) and \(9, 1\)"),
        (
            lambda: partial_correlation(_X[:5], _Y[:5], np.random.rand(5, 2)),
            "needs at least 6 samples; got n = 5",
        ),
        (
            lambda: partial_correlation(2 * _X + 1, _Y, _X),
            "learned is a linear function of controls",
        ),
        (lambda: r_squared(_Y, _X, degree=0), "degree must be an int >= 1; got 0"),
        (lambda: r_squared(_Y, _X, degree=9), "has 10 parameters"),
        (
            lambda: r_squared(_Y, np.column_stack([_X, np.ones(10)])),
            r"known is constant \(column 1\)",
        ),
        (lambda: r_squared(_Y, np.ones((10, 2, 2))), r"known must have shape \(n,\) or \(n, c\)"),
        (lambda: mutual_information(_X, _Y, n_neighbors=10), "n_neighbors must be smaller"),
        (lambda: compare(_X, {}), "at least one quantity"),
        (
            lambda: compare(_X, {"m": _Y}, learned_names=["a", "b"]),
            "learned_names must be 1 distinct",
        ),
        (
            lambda: compare(
                np.column_stack([_X, np.ones(10)]), {"m": _Y}, learned_names=["a", "dead"]
            ),
            r"learned is constant \(column dead\)",
        ),
        (lambda: compare(_X, {"m": np.ones(10)}), r"known\['m'\] is constant"),
        (lambda: compare(_X, {"m": _Y[:8]}), r"got shapes \(10, 1\) and \(8,\)"),
        (lambda: compare(_X, {"m": _Y}, degree=0), "degree must be an int >= 1"),
        (
            lambda: steepest_change(np.repeat([1.0, 2.0], 5), _X),
            r"at least 3 distinct values \(the grid of the curve\); got 2",
        ),
        (lambda: steepest_change(_X, _Y, smoothing=-1.0), "smoothing must be a finite number >= 0"),
        (lambda: steepest_change(_X, _Y, n_bootstrap=-1), "n_bootstrap must be an int >= 0"),
        (lambda: steepest_change(_X, _Y[:9]), r"parameter and values must have the same number"),
        (lambda: crossing(_X, _Y, level=2.0), "never crosses level 2; it ranges from 0 to 1"),
        (lambda: crossing(_X, _Y, level=float("nan")), "level must be a finite number"),
        (
            lambda: crossing(np.ones(10), _Y),
            r"at least 2 distinct values \(the grid of the curve\); got 1",
        ),
        (lambda: count_clusters(_X, max_components=11), "max_components must not exceed"),
        (lambda: count_clusters(np.ones((3, 2, 2))), r"latent must have shape \(n,\) or \(n, k\)"),
        (lambda: count_clusters(_X, n_init=0), "n_init must be an int >= 1"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: pearson(np.array(["a"] * 10), _Y), "learned must hold real numbers"),
        (lambda: pearson(torch.ones(10, dtype=torch.complex64), _Y), "learned must be real"),
        (lambda: compare(_X, [_Y]), "known must be a mapping"),
    ],
)
def test_bad_kinds_raise_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_results_are_frozen():
    r = pearson(_X, _Y)
    assert isinstance(r, Correlation)
    with pytest.raises(AttributeError):
        r.value = 0.0  # type: ignore[misc]
    tr = steepest_change(_X, _Y, n_bootstrap=0)
    with pytest.raises(ValueError):
        tr.curve[0] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crossing(_X, _Y, level=0.3, n_bootstrap=0)  # one crossing: no warning
