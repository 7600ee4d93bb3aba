"""Occlusion: exact results on linear models, literal sliding-window loops, periodic windows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from physxai.attribution import Occlusion, attribute
from physxai.attribution.occlusion import _membership, _starts
from physxai.testing import tiny_cnn, tiny_mlp


class Lattice(nn.Module):
    """A nonlinear model of an (n, L, L) lattice: a periodic conv, tanh, a dense read-out."""

    def __init__(self, size: int = 6, seed: int = 1):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.kernel = nn.Parameter(torch.randn(3, 1, 3, 3, generator=gen, dtype=torch.float64) / 3)
        self.readout = nn.Parameter(
            torch.randn(3 * size * size, 2, generator=gen, dtype=torch.float64) / size
        )

    def forward(self, x):
        h = nn.functional.pad(x[:, None], (1, 1, 1, 1), mode="circular")
        h = torch.tanh(nn.functional.conv2d(h, self.kernel))
        return h.flatten(1) @ self.readout


def literal_periodic(model, x, window, stride, baseline, target):
    """Zeiler & Fergus occlusion with windows wrapped by np.roll, one window at a time."""
    xs = x.numpy()
    _, size_y, size_x = xs.shape
    total = np.zeros_like(xs)
    count = np.zeros((size_y, size_x))
    f_x = model(x)[:, target].detach().numpy()
    for a in range(0, size_y, stride[0]):
        for b in range(0, size_x, stride[1]):
            patch = np.zeros((size_y, size_x), dtype=bool)
            patch[: window[0], : window[1]] = True
            patch = np.roll(patch, (a, b), axis=(0, 1))
            occluded = np.where(patch, baseline, xs)
            f_occ = model(torch.from_numpy(occluded))[:, target].detach().numpy()
            total += (f_x - f_occ)[:, None, None] * patch
            count += patch
    return total / count, count


def literal_open(model, x, window, stride, baseline, target):
    """Non-periodic windows over the last two dims with captum's start positions, cut at edges."""
    xs = x.numpy()
    size_y, size_x = xs.shape[-2:]
    total = np.zeros_like(xs)
    count = np.zeros((size_y, size_x))
    f_x = model(x)[:, target].detach().numpy()
    starts = []
    for size, w, s in zip((size_y, size_x), window, stride):
        k = int(np.ceil((size - w) / s)) + 1
        starts.append([i * s for i in range(k) if i * s < size])
    for a, b in itertools.product(*starts):
        patch = np.zeros((size_y, size_x), dtype=bool)
        patch[a : a + window[0], b : b + window[1]] = True
        occluded = np.where(patch, baseline, xs)
        f_occ = model(torch.from_numpy(occluded))[:, target].detach().numpy()
        total += (f_x - f_occ).reshape(-1, *([1] * (xs.ndim - 1))) * patch
        count += patch
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / count, 0.0), count


def test_linear_window_one_is_exact():
    gen = torch.Generator().manual_seed(3)
    model = nn.Linear(7, 1).double().eval()
    with torch.no_grad():
        model.weight[0, 4] = 0.0  # a dummy feature
    x = torch.randn(5, 7, generator=gen, dtype=torch.float64)
    b = torch.randn(1, 7, generator=gen, dtype=torch.float64)
    R = Occlusion(model, window=1).attribute(x, baseline=b)
    expected = (x - b) * model.weight.detach()
    torch.testing.assert_close(R, expected, rtol=1e-12, atol=1e-12)
    assert bool((R[:, 4] == 0).all())
    # a float baseline and the registry door give the same numbers
    R2 = attribute(model, x, "occlusion", window=1, baseline=0.5)
    torch.testing.assert_close(R2, (x - 0.5) * model.weight.detach(), rtol=1e-12, atol=1e-12)


def test_linear_larger_window_averages_window_sums():
    # f = w.x: the drop of a window is sum_{j in W} w_j (x_j - b_j); each feature averages them
    model = nn.Linear(6, 1, bias=False).double().eval()
    x = torch.randn(3, 6, dtype=torch.float64)
    R = Occlusion(model, window=2, stride=1).attribute(x)
    c = (x * model.weight.detach()).numpy()
    drops = np.stack([c[:, p : p + 2].sum(1) for p in range(5)], 1)  # 5 windows
    expected = np.stack([drops[:, max(0, i - 1) : min(i, 4) + 1].mean(1) for i in range(6)], 1)
    np.testing.assert_allclose(R.numpy(), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "window,stride", [((2, 2), (1, 1)), ((3, 2), (1, 2)), ((2, 3), (2, 3)), ((6, 1), (1, 1))]
)
def test_periodic_matches_rolled_loop(window, stride):
    model = Lattice(size=6).eval()
    x = torch.randn(4, 6, 6, dtype=torch.float64)
    R = Occlusion(model, window=window, stride=stride, periodic=True).attribute(
        x, target=1, baseline=-0.3, max_batch_size=17
    )
    expected, count = literal_periodic(model, x, window, stride, -0.3, 1)
    np.testing.assert_allclose(R.numpy(), expected, rtol=1e-11, atol=1e-13)
    # each stride divides its window here, so every site is covered equally often
    assert np.all(count == (window[0] // stride[0]) * (window[1] // stride[1]))


def test_periodic_coverage_is_window_size():
    # with stride 1 on the torus every site is covered prod(window) times
    for size, w in [(6, 1), (6, 3), (5, 5), (8, 4)]:
        member = _membership(_starts(size, w, 1, periodic=True), size, w, periodic=True)
        assert member.shape == (size, size)
        assert bool((member.sum(0) == w).all())
    cover = torch.outer(*(_membership(_starts(6, w, 1, True), 6, w, True).sum(0) for w in (2, 3)))
    assert bool((cover == 6).all())


def test_periodic_is_translation_equivariant():
    # rolling the lattice rolls the attribution for a translation-invariant (circular conv) model
    class Invariant(nn.Module):
        def __init__(self):
            super().__init__()
            self.kernel = nn.Parameter(torch.randn(2, 1, 3, 3, dtype=torch.float64))

        def forward(self, x):
            h = nn.functional.pad(x[:, None], (1, 1, 1, 1), mode="circular")
            return torch.tanh(nn.functional.conv2d(h, self.kernel)).pow(2).mean((2, 3))

    model = Invariant().eval()
    x = torch.randn(2, 6, 6, dtype=torch.float64)
    method = Occlusion(model, window=(2, 2), stride=1, periodic=True)
    R = method.attribute(x, target=0)
    R_rolled = method.attribute(torch.roll(x, (2, 3), dims=(1, 2)), target=0)
    torch.testing.assert_close(R_rolled, torch.roll(R, (2, 3), dims=(1, 2)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "window,stride",
    [((3, 3), (1, 1)), ((3, 3), None), ((3, 2), (2, 2)), ((2, 2), (3, 1)), ((8, 8), (1, 1))],
)
def test_open_windows_match_literal_loop(window, stride):
    model = tiny_cnn(pool="flatten")
    x = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    R = Occlusion(model, window=window, stride=stride).attribute(x, target=2, baseline=0.2)
    expected, count = literal_open(model, x, window, window if stride is None else stride, 0.2, 2)
    np.testing.assert_allclose(R.numpy(), expected, rtol=1e-11, atol=1e-13)
    if stride is not None and any(s > w for s, w in zip(stride, window)):
        assert (count == 0).any()  # gaps between windows get exactly 0
        assert bool((R.numpy()[..., count == 0] == 0).all())


def test_window_covers_leading_dims_whole():
    # a (1, 3, 3) captum-style window on (n, C, L, L) = our (3, 3) window over the last two dims
    model = tiny_cnn(in_channels=2, pool="gap")
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)
    R = Occlusion(model, window=(2, 2), stride=1).attribute(x, target=0)
    assert R.shape == x.shape
    torch.testing.assert_close(R[:, 0], R[:, 1], rtol=0, atol=0)


def test_tensor_target_and_callable_target():
    model = tiny_mlp(in_features=6, out_features=3)
    x = torch.randn(4, 6, dtype=torch.float64)
    cols = torch.tensor([0, 2, 1, 2])
    method = Occlusion(model, window=2, stride=1)
    R = method.attribute(x, target=cols)
    for i in range(4):
        torch.testing.assert_close(
            R[i : i + 1],
            method.attribute(x[i : i + 1], target=int(cols[i])),
            rtol=1e-12,
            atol=1e-14,
        )
    R_sum = method.attribute(x, target=lambda out: out.sum(1))
    R_each = sum(method.attribute(x, target=k) for k in range(3))
    torch.testing.assert_close(R_sum, R_each, rtol=1e-10, atol=1e-12)  # linear in the target


@pytest.mark.parametrize("periodic", [False, True])
def test_invariant_to_max_batch_size(periodic):
    model = Lattice(size=6).eval()
    x = torch.randn(5, 6, 6, dtype=torch.float64)
    method = Occlusion(model, window=(2, 3), stride=(1, 3), periodic=periodic)
    ref = method.attribute(x, target=0, max_batch_size=10_000)
    for mbs in (1, 7):
        torch.testing.assert_close(
            method.attribute(x, target=0, max_batch_size=mbs), ref, rtol=1e-12, atol=1e-14
        )


def test_no_side_effects():
    model = tiny_cnn(pool="gap")
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    x0 = x.clone()
    params = [p.detach().clone() for p in model.parameters()]
    out0 = model(x).detach()
    Occlusion(model, window=(2, 2)).attribute(x, target=1)
    assert torch.equal(x, x0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), params))
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(model(x).detach(), out0)
    assert not model.training


def test_bad_inputs_raise():
    model = tiny_cnn(pool="gap")
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="larger than the trailing dimensions"):
        Occlusion(model, window=(9, 2)).attribute(x, target=0)
    with pytest.raises(ValueError, match="has 4 dimensions but one sample"):
        Occlusion(model, window=(1, 1, 2, 2)).attribute(x, target=0)
    with pytest.raises(ValueError, match="stride must be"):
        Occlusion(model, window=(2, 2), stride=0)
    with pytest.raises(ValueError, match="stride must be"):
        Occlusion(model, window=(2, 2), stride=(1, -1))
    with pytest.raises(ValueError, match="stride must be .* of length 2"):
        Occlusion(model, window=(2, 2), stride=(1, 1, 1))
    with pytest.raises(ValueError, match="window must be"):
        Occlusion(model, window=0)
    with pytest.raises(ValueError, match="window must be"):
        Occlusion(model, window=())
    with pytest.raises(ValueError, match="window must be"):
        Occlusion(model, window=2.5)
    with pytest.raises(TypeError, match="periodic must be a bool"):
        Occlusion(model, window=2, periodic=1)
    with pytest.raises(ValueError, match="each stride must divide its dimension"):
        Occlusion(model, window=(3, 3), periodic=True).attribute(x, target=0)
    with pytest.raises(ValueError, match="max_batch_size must be"):
        Occlusion(model, window=2).attribute(x, target=0, max_batch_size=0)
    with pytest.raises(ValueError, match="baseline must broadcast"):
        Occlusion(model, window=2).attribute(
            x, target=0, baseline=torch.zeros(8, 8, dtype=torch.float64)
        )
