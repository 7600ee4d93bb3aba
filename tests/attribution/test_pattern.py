"""PatternNet and PatternAttribution (Kindermans et al. 2018, arXiv:1705.05598).

What is checked:

* the paper's toy: data ``x = a_s y + a_d eps``. The filter must cancel the distractor,
  so the gradient ``w`` is not parallel to ``a_s``, but the fitted pattern recovers ``a_s`` and
  PatternNet returns the signal ``s = a_s y``;
* the estimators' defining properties: ``w^T a = 1`` for every neuron, and the residual
  ``x - a y`` is uncorrelated with ``y`` (for the two-component estimator: orthogonal to
  ``y - E[y]`` within each regime, and the regimes' ``pi_r q_r`` add up to ``cov(x, y)``);
* for a linear model, the two estimators agree exactly when the distractor is uncorrelated with
  the signal in both regimes; PatternAttribution is ``r = w * a * y`` with ``sum r = f(x)``, and
  ``x - a y`` is a root of ``f``;
* in a bias-free ReLU network each layer conserves relevance, and what is lost is exactly the
  relevance of the inactive units;
* a slow reference written from the paper (numpy, one neuron and one receptive field at a
  time) against the hook-based implementation, on an MLP and on CNNs with circular padding,
  stride, dilation, groups and "same" padding;
* the API: fit returns self, NotFittedError before fit, fit_inputs, independence of
  max_batch_size, the model is left untouched, and the errors.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from physxai.attribution import PatternAttribution, PatternNet, Saliency, attribute
from physxai.errors import NotFittedError, UnsupportedLayerError
from physxai.testing import tiny_cnn, tiny_mlp

METHODS = [PatternNet, PatternAttribution]
ESTIMATORS = ["two_component", "linear"]


def cosine(a, b) -> float:
    a, b = torch.as_tensor(a).flatten().double(), torch.as_tensor(b).flatten().double()
    return float(a @ b / (a.norm() * b.norm()))


def linear_model(weight: torch.Tensor) -> nn.Sequential:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(weight)
    return nn.Sequential(layer).eval()


def filter_for(a_s: torch.Tensor, a_d: torch.Tensor) -> torch.Tensor:
    """The min-norm filter with w^T a_s = 1 and w^T a_d = 0 for every distractor column."""
    A = torch.cat([a_s[:, None], a_d], dim=1)  # (d, 1 + k)
    rhs = torch.zeros(A.shape[1], dtype=A.dtype)
    rhs[0] = 1.0
    return torch.linalg.pinv(A.T) @ rhs


# -- the paper's toy: the pattern finds the signal, the gradient does not ----------------------
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("dims", [(2, 1), (16, 3)])
def test_toy_pattern_recovers_signal_direction_where_gradient_does_not(estimator, dims):
    d, k = dims
    gen = torch.Generator().manual_seed(1)
    if d == 2:  # Fig. 2 of the paper: a_s = (1, 0), a_d = (1, 1), w = (1, -1)
        a_s = torch.tensor([1.0, 0.0], dtype=torch.float64)
        a_d = torch.tensor([[1.0], [1.0]], dtype=torch.float64)
    else:
        a_s = torch.randn(d, generator=gen, dtype=torch.float64)
        # distractors that resemble the signal: the filter must turn away from a_s to cancel them
        a_d = a_s[:, None] + 0.7 * torch.randn(d, k, generator=gen, dtype=torch.float64)
    w = filter_for(a_s, a_d)
    n = 20_000
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    eps = torch.randn(n, k, generator=gen, dtype=torch.float64)
    signal = y[:, None] * a_s
    x = signal + eps @ a_d.T
    model = linear_model(w[None])
    torch.testing.assert_close(model(x)[:, 0], y)  # w recovers y exactly: it cancels a_d

    method = PatternNet(model, estimator=estimator).fit(x)
    gradient = Saliency(model).attribute(x[:1])[0]
    torch.testing.assert_close(gradient, w)
    assert cosine(gradient, a_s) < 0.9  # d=2: exactly 1/sqrt(2)
    patterns = [method.patterns_["0"][0]]
    if estimator == "two_component":
        patterns.append(method.negative_patterns_["0"][0])
    for a in patterns:
        assert cosine(a, a_s) > 0.99
    # PatternNet returns the signal part of every input, S(x) = a y ~ a_s y (measured: relative
    # error 0.01-0.04, sampling noise of the fit); y * w, the gradient's version, misses it by ~0.9
    S = method.attribute(x)
    assert float((S - signal).norm() / signal.norm()) < 0.1
    assert float((y[:, None] * gradient - signal).norm() / signal.norm()) > 0.5


def test_toy_estimators_agree_exactly_when_distractor_is_uncorrelated_in_each_regime():
    gen = torch.Generator().manual_seed(2)
    d, n = 5, 600
    a_s = torch.randn(d, generator=gen, dtype=torch.float64)
    a_d = torch.randn(d, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    eps = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    for regime in (y > 0, y <= 0):  # remove the sample correlation with [1, y] per regime
        basis = torch.stack([torch.ones_like(y[regime]), y[regime]], dim=1)
        coef = torch.linalg.lstsq(basis, eps[regime]).solution
        eps[regime] = eps[regime] - basis @ coef
    x = y[:, None] * a_s + eps @ a_d.T
    model = linear_model(filter_for(a_s, a_d)[None])
    fits = {e: PatternNet(model, estimator=e).fit(x) for e in ESTIMATORS}
    a = fits["linear"].patterns_["0"][0]
    torch.testing.assert_close(a, a_s, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fits["two_component"].patterns_["0"][0], a_s, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(
        fits["two_component"].negative_patterns_["0"][0], a_s, rtol=1e-10, atol=1e-10
    )
    for cls in METHODS:
        R = {e: cls(model, estimator=e).fit(x).attribute(x[:7]) for e in ESTIMATORS}
        torch.testing.assert_close(R["two_component"], R["linear"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(fits["linear"].attribute(x[:7]), y[:7, None] * a_s)


# -- what the estimators guarantee ---------------------------------------------------------------
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("kind", ["mlp", "cnn", "cnn_nobias"])
def test_patterns_are_normalised_w_dot_a_is_one(estimator, kind):
    if kind == "mlp":
        model, x = tiny_mlp(), torch.randn(300, 6, dtype=torch.float64)
    else:
        model, x = tiny_cnn(bias=kind == "cnn"), torch.randn(40, 1, 8, 8, dtype=torch.float64)
    method = PatternNet(model, estimator=estimator).fit(x)
    layers = dict(model.named_modules())
    checked = 0
    tables = [method.patterns_]
    if estimator == "two_component":
        tables.append(method.negative_patterns_)
    for table in tables:
        assert set(table) == {n for n, m in layers.items() if isinstance(m, (nn.Linear, nn.Conv2d))}
        for name, a in table.items():
            w = layers[name].weight
            assert a.shape == w.shape and a.dtype == w.dtype
            dot = (w.detach() * a).flatten(1).sum(1)
            used = a.flatten(1).abs().sum(1) > 0  # neurons with data in that regime
            ones = torch.ones_like(dot[used])
            torch.testing.assert_close(dot[used], ones, rtol=1e-10, atol=1e-10)
            checked += int(used.sum())
    assert checked >= 10


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_residual_is_orthogonal_to_the_centred_output(estimator):
    """What the estimators are built for. Linear: cov(x - a y, y) = 0. Two-component: in each
    regime E_r[(x - a_r y)(y - E[y])] = 0, with E[y] the mean over all samples (the paper's
    split cov(x, y) = pi_+ q_+ + pi_- q_-, q_r = E_r[x y] - E_r[x] E[y])."""
    model = tiny_mlp(bias=True)
    x = torch.randn(500, 6, dtype=torch.float64) + 0.7  # a mean, so E_r[x] matters
    method = PatternNet(model, estimator=estimator).fit(x)
    layer = model[0]
    w, b = layer.weight.detach(), layer.bias.detach()
    y = x @ w.T  # response without bias; the regime is decided by y + b
    for o in range(w.shape[0]):
        if estimator == "linear":
            parts = [(torch.ones(len(x), dtype=torch.bool), method.patterns_["0"][o])]
        else:
            pos = y[:, o] + b[o] > 0
            parts = [(pos, method.patterns_["0"][o]), (~pos, method.negative_patterns_["0"][o])]
        centred = y[:, o] - y[:, o].mean()
        q_sum = torch.zeros(6, dtype=torch.float64)
        for mask, a in parts:
            if int(mask.sum()) < 2:
                assert not a.any()
                continue
            residual = x[mask] - y[mask, o, None] * a
            orthogonal = (residual * centred[mask, None]).mean(0)
            assert float(orthogonal.abs().max()) < 1e-12
            q_sum += (x[mask] * centred[mask, None]).sum(0) / len(x)  # pi_r q_r
        cov = ((x - x.mean(0)) * centred[:, None]).mean(0)
        torch.testing.assert_close(q_sum, cov, rtol=1e-10, atol=1e-12)
        assert float(cov.abs().max()) > 0.05  # x itself does co-vary with y


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_linear_model_closed_forms_and_conservation(estimator):
    """For f(x) = W x: PatternNet = a_t y_t, PatternAttribution = w_t * a_t * y_t, sum r = y_t,
    and the root point x - a_t y_t of deep Taylor is a root of f_t."""
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(3, 7, generator=gen, dtype=torch.float64)
    model = linear_model(W)
    x_fit = torch.randn(400, 7, generator=gen, dtype=torch.float64) @ torch.randn(
        7, 7, generator=gen, dtype=torch.float64
    ) + 0.5
    x = x_fit[:9]
    target = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2])
    net = PatternNet(model, estimator=estimator).fit(x_fit)
    pat = PatternAttribution(model, estimator=estimator).fit(x_fit)
    y = model(x).detach().gather(1, target[:, None])[:, 0]
    a = net.patterns_["0"][target]
    if estimator == "two_component":
        a = torch.where((y > 0)[:, None], a, net.negative_patterns_["0"][target])
    S = net.attribute(x, target=target)
    torch.testing.assert_close(S, a * y[:, None], rtol=1e-10, atol=1e-12)
    R = pat.attribute(x, target=target)
    torch.testing.assert_close(R, W[target] * a * y[:, None], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(R.sum(1), y, rtol=1e-10, atol=1e-12)
    root = x - a * y[:, None]
    f_root = model(root).detach().gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(f_root, torch.zeros_like(f_root), rtol=0, atol=1e-10)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_relu_network_each_layer_conserves_and_inactive_units_lose_relevance(estimator):
    """Bias-free ReLU net x -> Linear -> ReLU -> Linear: sum of input relevance equals the
    relevance of the active hidden units, r_j = w2_tj a2_tj y_t."""
    model = tiny_mlp(in_features=6, hidden=(10,), out_features=2, bias=False)
    x_fit = torch.randn(400, 6, dtype=torch.float64)
    x, t = x_fit[:8], 1
    method = PatternAttribution(model, estimator=estimator).fit(x_fit)
    R = method.attribute(x, target=t)
    h = torch.relu(model[0](x)).detach()
    y = model(x)[:, t].detach()
    a2 = method.patterns_["2"][t]
    if estimator == "two_component":
        a2 = torch.where((y > 0)[:, None], a2, method.negative_patterns_["2"][t])
    r_hidden = model[2].weight[t].detach() * a2 * y[:, None]
    torch.testing.assert_close(r_hidden.sum(1), y, rtol=1e-10, atol=1e-12)  # the top layer
    active = (h > 0).double()
    torch.testing.assert_close(R.sum(1), (r_hidden * active).sum(1), rtol=1e-10, atol=1e-12)
    assert bool(((r_hidden * (1 - active)).abs().sum(1) > 1e-6).any())  # something is lost


# -- a slow reference written from the paper ----------------------------------------------------
def _pads(conv) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim, from the layer's documented geometry."""
    if conv.padding == "same":
        total = [d * (k - 1) for k, d in zip(conv.kernel_size, conv.dilation)]
        return [(t // 2, t - t // 2) for t in total]
    if conv.padding == "valid":
        return [(0, 0)] * len(conv.kernel_size)
    return [(p, p) for p in conv.padding]


def _windows(conv, shape):
    """Every (output position, index arrays into the padded input) of a 2-d convolution."""
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    H, W = shape
    out_h = (H - dh * (kh - 1) - 1) // sh + 1
    out_w = (W - dw * (kw - 1) - 1) // sw + 1
    for i in range(out_h):
        for j in range(out_w):
            rows = i * sh + dh * np.arange(kh)
            cols = j * sw + dw * np.arange(kw)
            yield (i, j), np.ix_(rows, cols)


class LiteralConv:
    """A Conv2d written out receptive field by receptive field (numpy, float64)."""

    def __init__(self, conv: nn.Conv2d):
        self.conv = conv
        self.w = conv.weight.detach().numpy()
        self.b = None if conv.bias is None else conv.bias.detach().numpy()
        self.pads = _pads(conv)
        self.mode = "wrap" if conv.padding_mode == "circular" else "constant"
        self.groups = conv.groups

    def padded(self, x):  # x (n, C, H, W)
        return np.pad(x, [(0, 0), (0, 0), *self.pads], mode=self.mode)

    def channels(self, o):
        c_g = self.w.shape[1]
        g = o // (self.w.shape[0] // self.groups)
        return slice(g * c_g, (g + 1) * c_g)

    def samples(self, x, o):
        """Patches (n * positions, D) of output channel o, and the outputs (bias included)."""
        xp = self.padded(x)
        ch = self.channels(o)
        patches = [xp[:, ch][(slice(None), slice(None)) + idx].reshape(len(x), -1)
                   for _, idx in _windows(self.conv, xp.shape[2:])]
        P = np.concatenate(patches, axis=0)
        z = P @ self.w[o].ravel() + (0.0 if self.b is None else self.b[o])
        return P, z

    def forward(self, x):
        xp = self.padded(x)
        positions = list(_windows(self.conv, xp.shape[2:]))
        out_h, out_w = positions[-1][0][0] + 1, positions[-1][0][1] + 1
        out = np.zeros((len(x), self.w.shape[0], out_h, out_w))
        for o in range(self.w.shape[0]):
            ch = self.channels(o)
            for (i, j), idx in positions:
                patch = xp[:, ch][(slice(None), slice(None)) + idx]
                out[:, o, i, j] = (patch * self.w[o]).sum((1, 2, 3))
            if self.b is not None:
                out[:, o] += self.b[o]
        return out

    def backward(self, g, x_shape, matrix_for):
        """Spread g (n, O, h, w) back through the transposed map.

        ``matrix_for(o, i, j)`` gives the (n, C_g, kh, kw) filter replacing the weight there."""
        n, C, H, W = x_shape
        (pt, pb), (pl, pr) = self.pads
        gp = np.zeros((n, C, H + pt + pb, W + pl + pr))
        for o in range(self.w.shape[0]):
            ch = self.channels(o)
            for (i, j), (rows, cols) in _windows(self.conv, gp.shape[2:]):
                block = g[:, o, i, j][:, None, None, None] * matrix_for(o, i, j)
                view = gp[:, ch]
                view[:, :, rows, cols] += block
                gp[:, ch] = view
        if self.mode == "constant":
            return gp[:, :, pt : pt + H, pl : pl + W]
        out = np.zeros(x_shape)  # circular: fold the wrapped border back onto its source
        for a in range(gp.shape[2]):
            for c in range(gp.shape[3]):
                out[:, :, (a - pt) % H, (c - pl) % W] += gp[:, :, a, c]
        return out


def literal_patterns(samples_of, w_rows, n_out, estimator):
    """The estimators neuron by neuron, in plain numpy, from the unshifted moments."""
    pos, neg = [], []
    for o in range(n_out):
        X, z = samples_of(o)
        y = X @ w_rows[o]
        masks = [np.ones(len(z), bool)] if estimator == "linear" else [z > 0, z <= 0]
        found = []
        for m in masks:
            if m.sum() < 2:
                found.append(np.zeros_like(w_rows[o]))
                continue
            # q = E_r[x y] - E_r[x] E[y], E[y] over all samples; a = q / (w^T q)
            q = (X[m] * y[m, None]).mean(0) - X[m].mean(0) * y.mean()
            found.append(q / (w_rows[o] @ q) if abs(w_rows[o] @ q) > 1e-9 else 0 * q)
        pos.append(found[0])
        neg.append(found[-1])
    return np.array(pos), np.array(neg)


def literal(model: nn.Sequential, x_fit: torch.Tensor, x: torch.Tensor, target: int, estimator: str,
            times_weight: bool) -> np.ndarray:
    layers = [m for m in model.modules() if not list(m.children())]
    # 1) patterns, fitted layer by layer on the fit data's activations
    h = x_fit.detach().numpy()
    fitted = {}
    for layer in layers:
        if isinstance(layer, nn.Linear):
            w = layer.weight.detach().numpy()
            b = 0.0 if layer.bias is None else layer.bias.detach().numpy()
            z = h @ w.T + b
            samples = lambda o, h=h, z=z: (h, z[:, o])  # noqa: E731
            fitted[id(layer)] = literal_patterns(samples, w, w.shape[0], estimator)
        elif isinstance(layer, nn.Conv2d):
            lc = LiteralConv(layer)
            z = lc.forward(h)
            np.testing.assert_allclose(z, layer(torch.from_numpy(h)).detach().numpy(), atol=1e-12)
            w_rows = lc.w.reshape(lc.w.shape[0], -1)
            samples = lambda o, h=h, lc=lc: lc.samples(h, o)  # noqa: E731
            pos, neg = literal_patterns(samples, w_rows, w_rows.shape[0], estimator)
            fitted[id(layer)] = (pos.reshape(lc.w.shape), neg.reshape(lc.w.shape))
        h = layer(torch.from_numpy(h)).detach().numpy()
    # 2) forward of the explained batch, keeping every layer's input and output
    h = x.detach().numpy()
    record = []
    for layer in layers:
        out = layer(torch.from_numpy(h)).detach().numpy()
        record.append((layer, h, out))
        h = out
    # 3) backward from the output value y_t, one layer at a time
    g = np.zeros_like(h)
    g[:, target] = h[:, target]
    for layer, inp, out in reversed(record):
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            pos, neg = fitted[id(layer)]
            w = layer.weight.detach().numpy()
            if times_weight:
                pos, neg = w * pos, w * neg
            if isinstance(layer, nn.Linear):
                g = (g * (out > 0)) @ pos + (g * (out <= 0)) @ neg
            else:
                lc = LiteralConv(layer)
                g = lc.backward(
                    g, inp.shape,
                    lambda o, i, j, p=pos, q=neg, z=out: np.where(
                        (z[:, o, i, j] > 0)[:, None, None, None], p[o][None], q[o][None]
                    ),
                )
        elif isinstance(layer, nn.ReLU):
            g = g * (inp > 0)
        elif isinstance(layer, nn.AdaptiveAvgPool2d):
            g = np.broadcast_to(g, inp.shape) / (inp.shape[2] * inp.shape[3])
        elif isinstance(layer, nn.Flatten):
            g = g.reshape(inp.shape)
        else:
            raise AssertionError(type(layer))
    return g


def small_cnn(padding_mode: str) -> nn.Sequential:
    torch.manual_seed(5)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, padding_mode=padding_mode),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2, padding_mode=padding_mode),
        nn.ReLU(inplace=True),
        nn.Conv2d(4, 3, (2, 3), padding="same", dilation=(1, 2), bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(3, 3),
    )
    return model.double().eval()


@pytest.mark.parametrize("cls", METHODS)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_against_literal_reference_mlp(cls, estimator):
    model = tiny_mlp(bias=True)
    x_fit = torch.randn(200, 6, dtype=torch.float64) + 0.3
    x = torch.randn(5, 6, dtype=torch.float64)
    R = cls(model, estimator=estimator).fit(x_fit).attribute(x, target=2)
    ref = literal(model, x_fit, x, 2, estimator, times_weight=cls is PatternAttribution)
    np.testing.assert_allclose(R.numpy(), ref, rtol=1e-9, atol=1e-12)
    assert np.abs(ref).max() > 1e-3


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own note
@pytest.mark.parametrize("cls", METHODS)
@pytest.mark.parametrize("padding_mode", ["zeros", "circular"])
def test_against_literal_reference_cnn(cls, padding_mode):
    model = small_cnn(padding_mode)
    x_fit = torch.randn(24, 2, 6, 6, dtype=torch.float64)
    x = torch.randn(3, 2, 6, 6, dtype=torch.float64)
    R = cls(model).fit(x_fit, max_batch_size=7).attribute(x, target=0)
    ref = literal(model, x_fit, x, 0, "two_component", times_weight=cls is PatternAttribution)
    np.testing.assert_allclose(R.numpy(), ref, rtol=1e-9, atol=1e-12)
    assert np.abs(ref).max() > 1e-3


def test_conv1d_same_padding_matches_conv2d_of_height_one():
    torch.manual_seed(6)
    c1 = nn.Conv1d(2, 3, 4, padding="same", dilation=2, padding_mode="circular").double()
    c2 = nn.Conv2d(2, 3, (1, 4), padding="same", dilation=(1, 2), padding_mode="circular").double()
    with torch.no_grad():
        c2.weight.copy_(c1.weight[:, :, None])
        c2.bias.copy_(c1.bias)
    m1 = nn.Sequential(c1, nn.ReLU(), nn.Flatten(), nn.Linear(3 * 9, 2).double()).eval()
    m2 = nn.Sequential(c2, nn.ReLU(), nn.Flatten(), nn.Linear(3 * 9, 2).double()).eval()
    m2[3].load_state_dict(m1[3].state_dict())
    x_fit = torch.randn(50, 2, 9, dtype=torch.float64)
    for cls in METHODS:
        r1 = cls(m1, fit_inputs=x_fit).attribute(x_fit[:4], target=1)
        r2 = cls(m2, fit_inputs=x_fit[:, :, None]).attribute(x_fit[:4, :, None], target=1)
        torch.testing.assert_close(r1, r2[:, :, 0], rtol=1e-10, atol=1e-12)


# -- API ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", METHODS)
def test_fit_returns_self_and_not_fitted_before(cls):
    model, x = tiny_mlp(), torch.randn(20, 6, dtype=torch.float64)
    method = cls(model)
    assert not hasattr(method, "patterns_")
    with pytest.raises(NotFittedError, match=r"call \.fit\(x\) first"):
        method.attribute(x, target=0)
    assert method.fit(x) is method
    assert method.n_samples_ == 20
    assert method.negative_patterns_ is not None
    assert cls(model, estimator="linear").fit(x).negative_patterns_ is None


@pytest.mark.parametrize("cls", METHODS)
def test_fit_inputs_and_registry_door(cls):
    model, x_fit = tiny_cnn(bias=False), torch.randn(30, 1, 8, 8, dtype=torch.float64)
    x = x_fit[:4]
    ref = cls(model).fit(x_fit).attribute(x, target=1)
    at_once = cls(model, fit_inputs=x_fit).attribute(x, target=1)
    torch.testing.assert_close(at_once, ref, rtol=0, atol=0)
    R = attribute(model, x, cls.name, fit_inputs=x_fit, target=1, max_batch_size=8)
    torch.testing.assert_close(R, ref, rtol=1e-10, atol=1e-14)
    assert R.shape == x.shape and R.dtype == x.dtype


@pytest.mark.parametrize("cls", METHODS)
def test_fit_does_not_depend_on_max_batch_size(cls):
    model, x_fit = tiny_cnn(pool="flatten"), torch.randn(23, 1, 8, 8, dtype=torch.float64) + 2.0
    ref = cls(model).fit(x_fit)
    for size in (1, 5, 10_000):
        other = cls(model, max_batch_size=size).fit(x_fit)
        for name, a in ref.patterns_.items():
            torch.testing.assert_close(other.patterns_[name], a, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(
                other.negative_patterns_[name], ref.negative_patterns_[name], rtol=1e-9, atol=1e-12
            )


def test_float32_model_and_large_mean_data():
    """Statistics are accumulated shifted and in float64: a large offset does not wreck them."""
    model64 = tiny_mlp(dtype=torch.float64)
    model32 = copy.deepcopy(model64).float()
    x = torch.randn(400, 6, dtype=torch.float64) * 0.1 + 1000.0
    a32 = PatternNet(model32, max_batch_size=64).fit(x.float()).patterns_["0"]
    a64 = PatternNet(model64, max_batch_size=64).fit(x).patterns_["0"]
    assert a32.dtype == torch.float32
    assert float((a32.double() - a64).abs().max() / a64.abs().max()) < 1e-2


@pytest.mark.parametrize("cls", METHODS)
def test_model_untouched_and_hooks_removed(cls):
    model, x = tiny_cnn(pool="flatten"), torch.randn(10, 1, 8, 8, dtype=torch.float64)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = model(x).detach()
    x_copy = x.clone()
    cls(model, fit_inputs=x).attribute(x, target=0)
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert torch.equal(x, x_copy) and not x.requires_grad
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])
    torch.testing.assert_close(model(x).detach(), before, rtol=0, atol=0)


def test_errors():
    model = tiny_mlp()
    x = torch.randn(8, 6, dtype=torch.float64)
    with pytest.raises(ValueError, match="estimator must be one of 'two_component', 'linear'"):
        PatternNet(model, estimator="quadratic")
    with pytest.raises(ValueError, match="max_batch_size must be an int >= 1"):
        PatternNet(model, max_batch_size=0)
    with pytest.raises(ValueError, match="max_batch_size must be an int >= 1"):
        PatternNet(model).fit(x, max_batch_size=0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        PatternAttribution(lambda t: model(t))
    bn = nn.Sequential(nn.Linear(6, 4), nn.Sequential(nn.BatchNorm1d(4)), nn.Linear(4, 2))
    bn = bn.double().eval()
    with pytest.raises(UnsupportedLayerError, match=r"layer 1\.0 \(BatchNorm1d\) has parameters"):
        PatternNet(bn)
    with pytest.raises(ValueError, match="at least one Linear or Conv"):
        PatternNet(nn.Sequential(nn.ReLU()))
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="must be finite"):
        PatternNet(model).fit(bad)
    with pytest.raises(ValueError, match="one device"):
        PatternNet(tiny_mlp().to("meta"), fit_inputs=x)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        attribute(model, x, "pattern_attribution", target=0)
    method = PatternNet(model).fit(x)
    model_changed = tiny_mlp(hidden=(8, 5))
    method.model = model_changed
    changed = r"layer 2 \(Linear\) has no fitted pattern.*changed after fit"
    with pytest.raises(NotFittedError, match=changed):
        method.attribute(x, target=0)


def test_training_mode_warns_in_fit():
    model = tiny_mlp().train()
    with pytest.warns(UserWarning, match="training mode"):
        PatternNet(model).fit(torch.randn(8, 6, dtype=torch.float64))
    assert model.training
