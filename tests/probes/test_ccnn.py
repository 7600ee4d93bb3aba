"""Correlator CNNs: the recursion against brute force, D4 invariance, the L1 path, the errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from physxai.errors import NotFittedError
from physxai.probes.ccnn import (
    CCNNProbe,
    CorrelatorCNN,
    CorrelatorLabel,
    channel_weights,
    checkerboard_score,
    d4_filters,
    low_order_correlators,
    neel_contrast,
    regularization_path,
)

# --------------------------------------------------------------------------------------------
# helpers


def brute_force_correlators(x: np.ndarray, f: np.ndarray, order: int) -> np.ndarray:
    """sum over every window placement of the sums over products of n DISTINCT (offset,
    channel) pairs of f_k(a) S_k(x + a): the definition, no recursion. ``(n, F, order)``."""
    n, c, l1, l2 = x.shape
    k = f.shape[-1]
    pad = k - 1
    xp = np.zeros((n, c, l1 + 2 * pad, l2 + 2 * pad))
    xp[:, :, pad : pad + l1, pad : pad + l2] = x
    out = np.zeros((n, f.shape[0], order))
    tuples = {
        m: np.array(list(itertools.combinations(range(c * k * k), m))) for m in range(1, order + 1)
    }
    for s in range(n):
        for alpha in range(f.shape[0]):
            for i in range(l1 + k - 1):
                for j in range(l2 + k - 1):
                    values = (f[alpha] * xp[s, :, i : i + k, j : j + k]).ravel()
                    for m in range(1, order + 1):
                        out[s, alpha, m - 1] += values[tuples[m]].prod(axis=1).sum()
    return out


def one_hot(codes: np.ndarray, n_channels: int = 3) -> np.ndarray:
    return (codes[:, None] == np.arange(n_channels)[None, :, None, None]).astype(np.float64)


def d4_images(x: torch.Tensor) -> list[torch.Tensor]:
    """The 8 symmetric images of lattices ``(n, C, L, L)``."""
    return list(d4_filters(x).unbind(0))


def checkerboard_vs_random(n_each: int, size: int = 6, flip: float = 0.1, seed: int = 0):
    """Neel snapshots with a fraction ``flip`` of spins flipped (label 1) vs random spins (0)."""
    rng = np.random.default_rng(seed)
    i, j = np.indices((size, size))
    neel = ((i + j) % 2)[None] ^ rng.integers(0, 2, (n_each, 1, 1))
    neel = neel ^ (rng.random((n_each, size, size)) < flip)
    codes = np.concatenate([neel, rng.integers(0, 2, (n_each, size, size))])
    x = torch.tensor(one_hot(codes), dtype=torch.float32)
    return x, torch.cat([torch.ones(n_each), torch.zeros(n_each)]).long()


@pytest.fixture(scope="module")
def fitted():
    x, y = checkerboard_vs_random(60, seed=1)
    probe = CCNNProbe(order=2, epochs=10, batch_size=24, lr=0.05, gamma=0.01, progress=False)
    return probe.fit(x, y), x, y


# --------------------------------------------------------------------------------------------
# the recursion is the sum over distinct (site, channel) tuples


@pytest.mark.parametrize(
    "kernel_size, n_channels, binary", [(2, 3, False), (3, 2, False), (3, 3, True)]
)
def test_recursion_equals_brute_force_sum_over_distinct_tuples(kernel_size, n_channels, binary):
    gen = torch.Generator().manual_seed(3)
    if binary:
        x = torch.tensor(one_hot(np.random.default_rng(0).integers(0, 3, (2, 3, 4))))
    else:  # non-binary inputs: S^l != S, the general branch of Eq. (1)
        x = torch.rand(2, n_channels, 3, 4, generator=gen, dtype=torch.float64) * 1.5
    net = CorrelatorCNN(n_channels, 2, kernel_size, 4, symmetrize=False).double()
    with torch.no_grad():
        net.filters.copy_(torch.rand(net.filters.shape, generator=gen, dtype=torch.float64) - 0.3)
    got = net.correlators(x).detach().numpy()
    want = brute_force_correlators(x.numpy(), net.filters.detach().abs().numpy(), 4)
    assert np.abs(got - want).max() <= 1e-12 * np.abs(want).max()  # measured ~1e-15 relative


def test_order_one_is_the_channel_counts_times_the_filter_totals():
    x = torch.tensor(one_hot(np.random.default_rng(1).integers(0, 3, (5, 6, 6))))
    mask = torch.zeros(6, 6)
    mask[1:5, :] = 1
    net = CorrelatorCNN(order=2, mask=mask).double()
    counts = (x * mask).sum((-2, -1))  # (n, C)
    totals = net.positive_filters.detach().sum((-2, -1))  # (F, C)
    got = net.correlators(x)[:, :, 0].detach()
    torch.testing.assert_close(got, counts @ totals.T, rtol=1e-12, atol=1e-12)


def test_correlators_are_differentiable_in_the_filters():
    x = torch.rand(2, 3, 3, 3, dtype=torch.float64)
    net = CorrelatorCNN(order=3, symmetrize=False).double()
    assert torch.autograd.gradcheck(
        lambda f: _with_filters(net, f, x), (net.filters.detach().clone().requires_grad_(),)
    )


def _with_filters(net: CorrelatorCNN, filters: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    original = net.filters
    del net.filters
    net.filters = filters  # a plain tensor stands in for the parameter
    try:
        return net.correlators(x)
    finally:
        del net.filters
        net.filters = original


# --------------------------------------------------------------------------------------------
# D4


@pytest.mark.parametrize("with_mask", [False, True])
def test_d4_symmetrised_features_are_invariant_under_the_eight_lattice_symmetries(with_mask):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(3, 3, 7, 7, generator=gen, dtype=torch.float64)
    i, j = np.indices((7, 7))
    mask = torch.tensor((i - 3) ** 2 + (j - 3) ** 2 <= 9.0) if with_mask else None
    net = CorrelatorCNN(kernel_size=3, order=4, mask=mask).double()
    base = net.correlators(x).detach()
    with torch.no_grad():
        errors = [
            float(((net.correlators(g) - base).abs() / base.abs()).max()) for g in d4_images(x)
        ]
    assert len(errors) == 8
    assert max(errors) <= 1e-13  # measured ~3e-16
    # without symmetrisation a generic filter is not invariant: the test can fail
    plain = CorrelatorCNN(kernel_size=3, order=4, mask=mask, symmetrize=False).double()
    with torch.no_grad():
        plain.filters.copy_(net.filters)
    with torch.no_grad():
        rotated = plain.correlators(torch.rot90(x, 1, dims=(-2, -1)))
        assert float(((rotated - plain.correlators(x)).abs()).max()) > 1e-6


def test_folding_filters_equals_folding_snapshots_into_the_batch():
    """The paper averages over the 8 transformed snapshots; we transform the filters."""
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)  # not square: only the images of x matter
    sym = CorrelatorCNN(kernel_size=3, order=3).double()
    plain = CorrelatorCNN(kernel_size=3, order=3, symmetrize=False).double()
    with torch.no_grad():
        plain.filters.copy_(sym.filters)
    images = [torch.rot90(v, k, dims=(-2, -1)) for v in (x, x.transpose(-1, -2)) for k in range(4)]
    folded = torch.stack([plain.correlators(v) for v in images]).mean(0)
    torch.testing.assert_close(sym.correlators(x), folded, rtol=1e-12, atol=0)


def test_forward_shapes_and_named_head():
    net = CorrelatorCNN(n_filters=3, order=2)
    x = torch.zeros(4, 3, 5, 5)
    x[:, 2] = 1.0
    assert net.correlator_maps(x).shape == (4, 2, 8, 3, 7, 7)
    assert net.power_sums(x).shape == (4, 2, 8, 3, 7, 7)
    assert net.correlators(x).shape == (4, 3, 2)
    assert net(x).shape == (4, 2)
    assert isinstance(net.head.norm, torch.nn.BatchNorm1d) and net.head.norm.affine is False
    assert net.head.linear.in_features == 6


# --------------------------------------------------------------------------------------------
# the regularisation path


def planted(n: int = 400, strong: tuple[int, int] = (1, 2), shift: float = 1.0, seed: int = 0):
    """Gaussian features (n, 2 filters, 4 orders); only feature ``strong`` differs by class."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    c = rng.normal(size=(n, 2, 4))
    c[:, strong[0], strong[1]] += shift * y
    return c, y


def test_path_turns_the_planted_feature_on_first():
    c, y = planted(shift=1.0)
    ct, yt = planted(shift=1.0, seed=1)
    path = regularization_path(c, y, test_features=ct, test_labels=yt, n_penalties=12)
    j = 1 * 4 + 2  # filter 1, order 3
    assert path.first_active == (j,)
    assert path.entry_sequence[0] == j
    assert str(path.first_label) == "c3[f1]" and path.first_label.order == 3
    assert int(np.argmax(path.gradient_at_zero)) == j
    # the grid starts at the KKT point C_min = 1 / max|g|, where the model is still empty
    assert np.all(path.coefficients[0] == 0) and path.penalties[0] == pytest.approx(path.c_min)
    assert path.coefficients[1, j] > 0 and np.all(np.delete(path.coefficients[1], j) == 0)
    assert path.test_accuracy[-1] >= 0.65 and path.train_accuracy[-1] >= 0.65
    assert np.all(np.diff(path.penalties) > 0) and path.converged.all()
    assert path.coefficients.shape == (12, 8) and path.intercepts.shape == (12,)


def test_c_min_is_where_the_first_coefficient_leaves_zero():
    """Just below C_min scikit-learn keeps every coefficient at 0, just above it does not."""
    from sklearn.linear_model import LogisticRegression

    c, y = planted(shift=0.7, seed=4)
    path = regularization_path(c, y, n_penalties=3)
    z = (c.reshape(len(c), -1) - path.mean) / path.scale
    kwargs = {"solver": "saga", "class_weight": "balanced", "tol": 1e-10, "max_iter": 100_000}
    kwargs["l1_ratio" if "l1_ratio" in LogisticRegression().get_params() else "penalty"] = 1.0
    below = LogisticRegression(C=0.97 * path.c_min, **kwargs).fit(z, y)
    above = LogisticRegression(C=1.05 * path.c_min, **kwargs).fit(z, y)
    assert np.all(below.coef_ == 0)
    assert np.flatnonzero(above.coef_[0]).tolist() == [path.first_active[0]]


def test_order_divisors_penalise_higher_orders():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 300)
    c = rng.normal(size=(600, 2, 4))
    c[:, 0, 1] += 0.9 * y  # order 2, filter 0
    c[:, 1, 3] += 1.0 * y  # order 4, filter 1: slightly stronger
    assert regularization_path(c, y, n_penalties=4).first_label.order == 4
    divided = regularization_path(c, y, n_penalties=4, order_divisors=(1.0, 1.1, 1.2, 1.3))
    assert divided.first_label.order == 2
    assert divided.scale[3] == pytest.approx(1.3 * c[:, 0, 3].std())


def test_order_one_can_be_left_out_and_blank_filters_are_dropped():
    c, y = planted(strong=(0, 0), shift=2.0)
    assert regularization_path(c, y, n_penalties=3).first_active[0] == 0
    path = regularization_path(c, y, n_penalties=6, include_order_1=False)
    assert not path.included[0::4].any() and np.all(path.coefficients[:, 0::4] == 0)
    assert path.entry_index[0] == -1 and path.gradient_at_zero[0] == 0
    # filter 1 weighs less than 10% of filter 0: blank, its features never enter
    filters = np.ones((2, 3, 3, 3))
    filters[1] *= 0.05
    filters[0, 2] = 0.0  # filter 0 sees no holes
    c, y = planted(strong=(1, 1), shift=2.0)
    path = regularization_path(c, y, n_penalties=4, filters=filters)
    assert path.blank_filters == (1,) and not path.included[4:].any()
    assert path.feature_labels[0] == CorrelatorLabel(1, 0, ("up", "down"))
    assert path.feature_labels[5].channels == ("up", "down", "hole")
    kept = regularization_path(c, y, n_penalties=4, filters=filters, blank_threshold=0.0)
    assert kept.first_active[0] == 5 and kept.blank_filters == ()


# --------------------------------------------------------------------------------------------
# the estimator


def test_probe_learns_a_checkerboard_and_its_outputs_are_consistent(fitted):
    probe, x, _ = fitted
    x_test, y_test = checkerboard_vs_random(100, seed=2)
    assert probe.score(x_test, y_test) >= 0.95
    proba = probe.predict_proba(x_test)
    torch.testing.assert_close(proba.sum(1), torch.ones(len(x_test)))
    assert torch.equal(probe.predict(x_test), (proba[:, 1] > 0.5).long())
    feats = probe.correlators(x_test)
    assert feats.shape == (200, 2, 2)
    torch.testing.assert_close(probe.correlators(x_test, max_batch_size=7), feats)
    # the BatchNorm statistics are those of the training set under the final filters
    train = probe.correlators(x).flatten(1)
    torch.testing.assert_close(probe.model_.head.norm.running_mean, train.mean(0))
    assert probe.filters_.shape == (2, 3, 3, 3) and bool((probe.filters_ >= 0).all())
    assert probe.model_.training is False and len(probe.history_.train_loss) == 10
    labels = probe.feature_labels()
    assert [(lab.order, lab.filter) for lab in labels] == [(1, 0), (2, 0), (1, 1), (2, 1)]


def test_probe_path_uses_its_filters(fitted):
    probe, x, y = fitted
    path = probe.regularization_path(x, y, x_test=x, y_test=y, n_penalties=5)
    assert path.first_label.order == 2  # order 1 holds no information here (equal densities)
    assert path.feature_labels == probe.feature_labels()
    assert np.isfinite(path.test_accuracy).all()


def test_probe_is_reproducible_and_leaves_the_global_rng_alone():
    x, y = checkerboard_vs_random(20, size=4)
    state = torch.random.get_rng_state()
    a = CCNNProbe(order=2, epochs=2, progress=False, seed=3).fit(x, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = CCNNProbe(order=2, epochs=2, progress=False, seed=3).fit(x, y)
    assert torch.equal(a.filters_, b.filters_)


def test_checkerboard_score():
    f = np.zeros((5, 3, 3, 3))
    sub = (np.indices((3, 3)).sum(0) % 2 == 0).astype(float)
    f[0, 0], f[0, 1] = sub, 1 - sub  # up on A, down on B
    f[1, 0] = 2 * sub  # up on A only
    f[2, 0] = f[2, 1] = 1.0  # spin-blind
    f[3, 0, 0, :] = 1.0  # a row of ups: A, B, A
    f[4, 0, 1, 1], f[4, 1, 0, 1] = 0.7, 0.1  # one antiparallel nearest-neighbour pair
    f[:, 2] = 5.0  # the hole channel does not count
    np.testing.assert_allclose(checkerboard_score(f), [1.0, 1.0, 0.0, 1 / 3, 1.0], atol=1e-12)
    np.testing.assert_allclose(checkerboard_score(torch.tensor(-f)), checkerboard_score(f))
    assert checkerboard_score(np.zeros((1, 3, 2, 2)))[0] == 0.0
    np.testing.assert_allclose(channel_weights(f)[0], [5.0, 4.0, 45.0])


def test_neel_contrast_equals_enumeration_over_spin_configurations():
    rng = np.random.default_rng(7)
    f = rng.random((2, 3, 3, 3))
    sites = np.indices((3, 3)).sum(0).ravel() % 2 == 0
    tuples = {m: np.array(list(itertools.combinations(range(27), m))) for m in (1, 2, 3)}

    def e(spins):  # spins (9,) in {0: up, 1: down}: the definition over distinct (a, k)
        x = one_hot(spins.reshape(1, 3, 3))[0]
        out = np.zeros((2, 3))
        for alpha in range(2):
            values = (f[alpha] * x).ravel()
            out[alpha] = [values[tuples[m]].prod(axis=1).sum() for m in (1, 2, 3)]
        return out

    configs = (np.arange(512)[:, None] >> np.arange(9)) & 1
    random = np.mean([e(c) for c in configs], axis=0)
    neel = 0.5 * (e(np.where(sites, 0, 1)) + e(np.where(sites, 1, 0)))
    np.testing.assert_allclose(
        neel_contrast(f, 3), (neel - random) / random, rtol=1e-12, atol=1e-14
    )
    # an antiparallel neighbour pair is +1 at order 2, a parallel one -1
    pair = np.zeros((2, 3, 3, 3))
    pair[0, 0, 1, 1] = pair[0, 1, 0, 1] = 1.0
    pair[1, 0, 1, 1] = pair[1, 0, 0, 1] = 1.0
    np.testing.assert_allclose(neel_contrast(pair, 2), [[0.0, 1.0], [0.0, -1.0]], atol=1e-12)
    assert np.isnan(neel_contrast(np.zeros((1, 3, 3, 3)), 1)).all()
    with pytest.raises(ValueError, match="neel_contrast: order must be an int >= 1"):
        neel_contrast(f, 0)
    with pytest.raises(ValueError, match="down must be a channel index"):
        neel_contrast(f, 2, down=-1)


def test_low_order_correlators_match_loops():
    rng = np.random.default_rng(6)
    x = one_hot(rng.integers(0, 3, (3, 5, 4)))
    mask = np.ones((5, 4))
    mask[0, 0] = mask[4, 3] = 0
    feats, labels = low_order_correlators(torch.tensor(x), window=2, mask=mask, symmetrize=False)
    xm = x * mask
    np.testing.assert_allclose(feats[:, :3].numpy(), xm.sum((-2, -1)) / mask.sum())
    for dy, dx, k, l in [(0, 1, 0, 1), (1, -1, 2, 2), (1, 1, 1, 0)]:
        total = count = 0.0
        for i in range(5):
            for j in range(4):
                if 0 <= i + dy < 5 and 0 <= j + dx < 4 and mask[i, j] and mask[i + dy, j + dx]:
                    total = total + x[:, k, i, j] * x[:, l, i + dy, j + dx]
                    count += 1
        name = f"{['up', 'down', 'hole'][k]}.{['up', 'down', 'hole'][l]}@({dy},{dx})"
        np.testing.assert_allclose(feats[:, labels.index(name)].numpy(), total / count)
    _, sym_labels = low_order_correlators(torch.tensor(x), window=3)
    assert len(sym_labels) == 3 + 5 * 6 and "up.down@(2,1)" in sym_labels
    # symmetrised features are invariant under the lattice symmetries of a square lattice
    sq = torch.tensor(one_hot(rng.integers(0, 3, (2, 5, 5))))
    base = low_order_correlators(sq)[0]
    for g in d4_images(sq):
        torch.testing.assert_close(low_order_correlators(g)[0], base)


# --------------------------------------------------------------------------------------------
# errors


def test_module_errors():
    with pytest.raises(ValueError, match="CorrelatorCNN: order must be an int >= 1"):
        CorrelatorCNN(order=0)
    with pytest.raises(TypeError, match="CorrelatorCNN: symmetrize must be a bool"):
        CorrelatorCNN(symmetrize=1)
    with pytest.raises(TypeError, match="CorrelatorCNN: mask must be a 2-d tensor"):
        CorrelatorCNN(mask=[[1, 0]])
    with pytest.raises(ValueError, match="mask must be 2-d"):
        CorrelatorCNN(mask=torch.ones(3))
    with pytest.raises(ValueError, match="mask must hold 0/1"):
        CorrelatorCNN(mask=torch.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="mask selects no site"):
        CorrelatorCNN(mask=np.zeros((3, 3)))


def test_helper_errors():
    with pytest.raises(TypeError, match="checkerboard_score: filters must be a tensor or array"):
        checkerboard_score([1.0])
    with pytest.raises(ValueError, match="filters must be a floating array"):
        checkerboard_score(np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="filters must be finite"):
        checkerboard_score(np.full((1, 3, 3, 3), np.nan))
    with pytest.raises(ValueError, match="at least 2 x 2"):
        checkerboard_score(np.ones((1, 3, 1, 1)))
    with pytest.raises(ValueError, match="up must be a channel index"):
        checkerboard_score(np.ones((1, 3, 3, 3)), up=3)
    x = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="low_order_correlators: window must be an int >= 2"):
        low_order_correlators(x, window=1)
    with pytest.raises(TypeError, match="symmetrize must be a bool"):
        low_order_correlators(x, symmetrize="yes")
    with pytest.raises(TypeError, match="channels must be a sequence of names"):
        low_order_correlators(x, channels="udh")
    with pytest.raises(ValueError, match="channels must name each of the 3 channels"):
        low_order_correlators(x, channels=("up", "down"))
    with pytest.raises(ValueError, match=r"mask must have the lattice's shape \(4, 4\)"):
        low_order_correlators(x, mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="x must be floating point; got numpy dtype int8"):
        low_order_correlators(np.zeros((2, 3, 4, 4), dtype=np.int8))
    with pytest.raises(ValueError, match=r"shape \(n, channels, L1, L2\)"):
        low_order_correlators(torch.zeros(2, 4, 4))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        low_order_correlators([[0.0]])


def test_path_errors():
    c, y = planted(n=20)
    caller = "regularization_path"
    with pytest.raises(TypeError, match=f"{caller}: features must be a tensor or array"):
        regularization_path(c.tolist(), y)
    with pytest.raises(ValueError, match=r"features must be a floating array \(n, n_filters"):
        regularization_path(c[:, 0], y)
    with pytest.raises(ValueError, match="features must be finite"):
        regularization_path(np.full_like(c, np.inf), y)
    with pytest.raises(TypeError, match="labels must be a tensor or array of 0/1"):
        regularization_path(c, list(y))
    with pytest.raises(
        ValueError, match=r"labels must be integer class labels 0/1 of shape \(20,\)"
    ):
        regularization_path(c, y[:5])
    with pytest.raises(ValueError, match="labels must hold the class labels 0 and 1 only"):
        regularization_path(c, 2 * y)
    with pytest.raises(ValueError, match="labels must contain both classes"):
        regularization_path(c, np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="n_penalties must be an int >= 2"):
        regularization_path(c, y, n_penalties=1)
    with pytest.raises(ValueError, match="decades must be a finite number > 0"):
        regularization_path(c, y, decades=0)
    with pytest.raises(TypeError, match="include_order_1 must be a bool"):
        regularization_path(c, y, include_order_1=None)
    with pytest.raises(ValueError, match="channel_threshold must be a finite number > 0"):
        regularization_path(c, y, channel_threshold=-1)
    with pytest.raises(ValueError, match="blank_threshold must be a finite number >= 0"):
        regularization_path(c, y, blank_threshold=-1)
    with pytest.raises(ValueError, match="tol must be a finite number > 0"):
        regularization_path(c, y, tol=0)
    with pytest.raises(ValueError, match="max_iter must be an int >= 1"):
        regularization_path(c, y, max_iter=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        regularization_path(c, y, seed=1.5)
    with pytest.raises(ValueError, match="order_divisors must be 4 positive numbers"):
        regularization_path(c, y, order_divisors=(1.0, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="order_divisors must be 4 positive numbers"):
        regularization_path(c, y, order_divisors=2.0)
    with pytest.raises(ValueError, match=r"filters must have one filter per feature filter \(2\)"):
        regularization_path(c, y, filters=np.ones((3, 3, 3, 3)))
    with pytest.raises(ValueError, match="give both test_features and test_labels"):
        regularization_path(c, y, test_features=c)
    with pytest.raises(ValueError, match=r"test_features must have the layout \(2, 4\)"):
        regularization_path(c, y, test_features=c[:, :1], test_labels=y)
    with pytest.raises(ValueError, match="no feature takes part"):
        regularization_path(c[:, :, :1], y, include_order_1=False)
    with pytest.raises(ValueError, match="every feature is constant"):
        regularization_path(np.ones_like(c), y)


def test_probe_errors(fitted):
    probe, x, y = fitted
    with pytest.raises(ValueError, match="CCNNProbe: gamma must be a finite number >= 0"):
        CCNNProbe(gamma=-1.0)
    with pytest.raises(ValueError, match="CCNNProbe: epochs must be an int >= 1"):
        CCNNProbe(epochs=0)
    with pytest.raises(TypeError, match="CCNNProbe: symmetrize must be a bool"):
        CCNNProbe(symmetrize=None)
    with pytest.raises(TypeError, match="CCNNProbe: channels must be a non-empty sequence"):
        CCNNProbe(channels="up")
    with pytest.raises(ValueError, match="CCNNProbe: channels must name each"):
        CCNNProbe(channels=("up", 2))
    with pytest.raises(TypeError, match="CCNNProbe: seed must be an int"):
        CCNNProbe(seed="0")
    with pytest.raises(TypeError, match="CCNNProbe: device must be a str"):
        CCNNProbe(device=0)
    with pytest.raises(TypeError, match="CCNNProbe: progress must be a bool or None"):
        CCNNProbe(progress=1)
    with pytest.raises(ValueError, match="mask must hold 0/1"):
        CCNNProbe(mask=np.full((3, 3), 2.0))
    with pytest.raises(ValueError, match=r"CCNNProbe.fit: x must have 3 channels"):
        CCNNProbe().fit(x[:, :2], y)
    with pytest.raises(ValueError, match=r"x must have the mask's lattice shape \(5, 5\)"):
        CCNNProbe(mask=np.ones((5, 5))).fit(x, y)
    with pytest.raises(ValueError, match="x must be on device meta"):
        CCNNProbe(device="meta").fit(x, y)
    with pytest.raises(ValueError, match="CCNNProbe.fit: y must contain both classes"):
        CCNNProbe().fit(x, torch.zeros(len(x), dtype=torch.long))
    with pytest.raises(NotFittedError, match="CCNNProbe.correlators: this CCNNProbe is not fitted"):
        CCNNProbe().correlators(x)
    with pytest.raises(NotFittedError, match="feature_labels"):
        CCNNProbe().feature_labels()
    with pytest.raises(ValueError, match="CCNNProbe.predict_proba: x must have the model's dtype"):
        probe.predict_proba(x.double())
    with pytest.raises(ValueError, match="max_batch_size must be an int >= 1"):
        probe.correlators(x, max_batch_size=0)
    with pytest.raises(
        ValueError, match=r"CCNNProbe.score: y must be integer labels of shape \(120,\)"
    ):
        probe.score(x, y.float())
    with pytest.raises(ValueError, match="channel_threshold must be a finite number > 0"):
        probe.feature_labels(channel_threshold=0)
    with pytest.raises(TypeError, match="filters comes from the probe"):
        probe.regularization_path(x, y, filters=probe.filters_)
    with pytest.raises(ValueError, match="give both x_test and y_test"):
        probe.regularization_path(x, y, x_test=x)
