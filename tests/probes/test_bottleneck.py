"""Autoencoder and VAE probes: planted factors, literal losses, closed-form KL, reproducibility,
the conv architecture's periodic padding, and every public raise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import physxai
from physxai.errors import NotFittedError
from physxai.probes.bottleneck import Autoencoder, VariationalAutoencoder

FAST = {"hidden": (32,), "epochs": 10, "batch_size": 64, "lr": 3e-3, "progress": False}


def planted_spins(
    n: int = 1000, shape: tuple[int, ...] = (64,), seed: int = 1, dtype=torch.float32
):
    """Spins with P(s = +1) = (1 + m) / 2, m ~ U(-1, 1) per sample: m is the one hidden factor."""
    g = torch.Generator().manual_seed(seed)
    m = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    p = ((1 + m) / 2).reshape(n, *[1] * len(shape))
    spins = torch.where(torch.rand(n, *shape, generator=g, dtype=torch.float64) < p, 1.0, -1.0)
    return spins.to(dtype), m


def curve_data(n: int = 800, seed: int = 2, dtype=torch.float32):
    """A 1-d manifold in 8-d: x_j = sin(w_j t + phi_j) + noise, t ~ U(-1, 1)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.linspace(0.5, 1.5, 8, dtype=torch.float64)
    phi = torch.linspace(0.0, 3.0, 8, dtype=torch.float64)
    x = torch.sin(w * t[:, None] + phi) + 0.05 * torch.randn(n, 8, generator=g, dtype=torch.float64)
    return x.to(dtype), t


@pytest.fixture(scope="module")
def spins64():
    return planted_spins(400, (16,), seed=3, dtype=torch.float64)[0]


@pytest.fixture(scope="module")
def ae64(spins64):
    return Autoencoder(1, hidden=(8,), epochs=3, batch_size=64, progress=False).fit(spins64)


@pytest.fixture(scope="module")
def vae64(spins64):
    return VariationalAutoencoder(
        2, beta=1.0, hidden=(8,), epochs=3, batch_size=64, progress=False
    ).fit(spins64)


# -- planted factors -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Autoencoder, VariationalAutoencoder])
def test_recovers_planted_magnetisation(cls):
    spins, m = planted_spins()
    z = cls(1, **FAST).fit(spins).encode(spins)
    assert z.shape == (1000, 1) and z.dtype == torch.float32
    # the sufficient statistic (the sample magnetisation) reaches 0.985 here
    assert abs(spearmanr(z[:, 0], m).statistic) >= 0.95


def test_gaussian_likelihood_recovers_curve_coordinate():
    x, t = curve_data()
    ae = Autoencoder(
        1, likelihood="gaussian", hidden=(32,), epochs=30, batch_size=64, lr=3e-3, progress=False
    )
    z = ae.fit_transform(x)
    assert abs(spearmanr(z[:, 0], t).statistic) >= 0.95
    # the decoder mean is a reconstruction in input units, well inside the unit noise scale
    assert float((ae.reconstruct(x) - x).pow(2).mean()) < 0.02


def test_numpy_inputs_are_accepted():
    spins, _ = planted_spins(100, (16,))
    ae = Autoencoder(1, hidden=(8,), epochs=1, progress=False).fit(spins.numpy())
    z = ae.encode(spins.numpy())
    assert isinstance(z, torch.Tensor) and torch.equal(z, ae.encode(spins))


# -- losses against literal computations ---------------------------------------------------------
def test_bernoulli_reconstruction_loss_is_literal_bce(ae64, spins64):
    x = spins64[:50]
    with torch.no_grad():
        p = torch.sigmoid(ae64.decoder_(ae64.encoder_(x)))
    t = (x + 1) / 2
    literal = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).sum(1)
    loss = ae64.reconstruction_loss(x)
    assert loss.shape == (50,)
    torch.testing.assert_close(loss, literal, atol=1e-6, rtol=0)
    # decode returns the expected spin 2p - 1
    torch.testing.assert_close(ae64.reconstruct(x), 2 * p - 1, atol=1e-12, rtol=0)
    torch.testing.assert_close(ae64.score(x), -float(literal.mean()), atol=1e-6, rtol=0)


def test_gaussian_reconstruction_loss_is_literal_nll():
    x, _ = curve_data(200, dtype=torch.float64)
    ae = Autoencoder(1, likelihood="gaussian", hidden=(8,), epochs=2, progress=False).fit(x)
    with torch.no_grad():
        mean = ae.decoder_(ae.encoder_(x))
    literal = 0.5 * ((x - mean) ** 2).sum(1) + 0.5 * 8 * math.log(2 * math.pi)
    torch.testing.assert_close(ae.reconstruction_loss(x), literal, atol=1e-6, rtol=0)
    torch.testing.assert_close(ae.decode(ae.encode(x)), mean, atol=1e-12, rtol=0)


def test_losses_are_per_sample_and_max_batch_size_invariant(vae64, spins64):
    x = spins64[:37]
    full = vae64.loss_per_sample(x)
    for method in ("reconstruction_loss", "kl_divergence", "loss_per_sample", "encode"):
        a = getattr(vae64, method)(x)
        b = getattr(vae64, method)(x, max_batch_size=5)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    # per sample: one sample's loss does not depend on its batch mates
    torch.testing.assert_close(vae64.loss_per_sample(x[3:4]), full[3:4], atol=1e-12, rtol=0)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    torch.testing.assert_close(
        vae64.encode(x, sample=True, generator=g1),
        vae64.encode(x, sample=True, generator=g2, max_batch_size=4),
        atol=1e-12,
        rtol=0,
    )


def test_kl_matches_closed_form_and_torch_distributions(vae64, spins64):
    x = spins64[:40]
    with torch.no_grad():
        h = vae64.encoder_.body(x)
        mu, log_var = vae64.encoder_.mean(h), vae64.encoder_.log_var(h)
    sigma = torch.exp(0.5 * log_var)
    closed = (-torch.log(sigma) + (sigma**2 + mu**2) / 2 - 0.5).sum(1)
    peer = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, sigma), torch.distributions.Normal(0.0, 1.0)
    ).sum(1)
    kl = vae64.kl_divergence(x)
    torch.testing.assert_close(kl, closed, atol=1e-10, rtol=0)
    torch.testing.assert_close(kl, peer, atol=1e-10, rtol=0)
    mu2, log_var2 = vae64.encode_distribution(x)
    torch.testing.assert_close(mu2, mu, atol=1e-12, rtol=0)
    torch.testing.assert_close(log_var2, log_var, atol=1e-12, rtol=0)
    torch.testing.assert_close(vae64.encode(x), mu, atol=1e-12, rtol=0)
    torch.testing.assert_close(
        vae64.loss_per_sample(x), vae64.reconstruction_loss(x) + vae64.beta * kl, atol=1e-12, rtol=0
    )


def test_history_loss_is_the_documented_loss():
    spins, _ = planted_spins(200, (16,), dtype=torch.float64)
    for cls, kw in ((Autoencoder, {}), (VariationalAutoencoder, {"beta": 0.7})):
        est = cls(
            1, hidden=(8,), epochs=2, validation_fraction=0.25, seed=4, progress=False, **kw
        ).fit(spins)
        assert len(est.history_.val_loss) == 2 == est.history_.epochs
        # the split is a seeded permutation; its first quarter is the validation set
        order = torch.randperm(200, generator=torch.Generator().manual_seed(4))
        expected = float(est.loss_per_sample(spins[order[:50]]).mean())
        assert est.history_.val_loss[-1] == pytest.approx(expected, abs=1e-9)


# -- the VAE's noise ------------------------------------------------------------------------------
def test_vae_sampling_is_reproducible_and_centred_on_mu(vae64, spins64):
    x = spins64[:3]
    draws = vae64.encode(x.repeat(4000, 1), sample=True, generator=torch.Generator().manual_seed(0))
    again = vae64.encode(x.repeat(4000, 1), sample=True, generator=torch.Generator().manual_seed(0))
    other = vae64.encode(x.repeat(4000, 1), sample=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(draws, again) and not torch.equal(draws, other)
    mu, log_var = vae64.encode_distribution(x)
    sigma = torch.exp(0.5 * log_var)
    draws = draws.reshape(4000, 3, 2)
    # 5 standard errors of the sample mean; the sample std within 10 % of sigma
    assert bool(((draws.mean(0) - mu).abs() < 5 * sigma / math.sqrt(4000)).all())
    torch.testing.assert_close(draws.std(0), sigma, rtol=0.1, atol=0)
    # without a generator the draw is random but leaves the global RNG alone
    state = torch.get_rng_state()
    vae64.encode(x, sample=True)
    assert torch.equal(torch.get_rng_state(), state)


def test_beta_zero_vae_trains():
    spins, m = planted_spins(500)
    vae = VariationalAutoencoder(1, beta=0.0, **FAST).fit(spins)
    losses = vae.history_.train_loss
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert abs(spearmanr(vae.encode(spins)[:, 0], m).statistic) >= 0.9
    torch.testing.assert_close(vae.loss_per_sample(spins), vae.reconstruction_loss(spins))


# -- reproducibility -------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Autoencoder, VariationalAutoencoder])
def test_fit_is_reproducible(cls):
    spins, _ = planted_spins(200, (16,))
    state = torch.get_rng_state()
    a = cls(1, hidden=(8,), epochs=3, seed=7, progress=False)
    assert a.fit(spins) is a
    assert torch.equal(torch.get_rng_state(), state)  # the caller's RNG is untouched
    b = cls(1, hidden=(8,), epochs=3, seed=7, progress=False).fit(spins)
    c = cls(1, hidden=(8,), epochs=3, seed=8, progress=False).fit(spins)
    assert a.history_.epochs == 3 == len(a.history_.train_loss)
    assert a.history_.train_loss == b.history_.train_loss
    pa, pb, pc = (dict(e.module_.named_parameters()) for e in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def test_fitted_attributes(vae64, spins64):
    assert vae64.input_shape_ == (16,) and vae64.n_features_in_ == 16
    assert vae64.dtype_ == torch.float64
    assert vae64.encoder_(spins64[:4]).shape == (4, 2)
    assert vae64.decoder_(torch.zeros(4, 2, dtype=torch.float64)).shape == (4, 16)
    assert not vae64.module_.training
    assert "beta=1.0" in repr(vae64) and repr(Autoencoder()).startswith("Autoencoder(latent_dim=1")


# -- attribution and the conv architecture ---------------------------------------------------------
def test_encoder_works_with_attribute(ae64, spins64):
    x = spins64[:6]
    R = physxai.attribute(ae64.encoder_, x, "gradient_x_input", target=0)
    assert R.shape == x.shape
    xr = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(ae64.encoder_(xr)[:, 0].sum(), xr)
    torch.testing.assert_close(R, grad * x, atol=1e-12, rtol=0)


def test_conv_learns_planted_factor_on_lattice():
    spins, m = planted_spins(400, (8, 8))
    ae = Autoencoder(
        1, architecture="conv", hidden=(8, 16), epochs=8, batch_size=64, lr=3e-3, progress=False
    )
    z = ae.fit_transform(spins)
    assert z.shape == (400, 1)
    assert ae.reconstruct(spins).shape == (400, 8, 8)
    assert ae.decode(z).shape == (400, 8, 8)
    assert abs(spearmanr(z[:, 0], m).statistic) >= 0.9
    R = physxai.attribute(ae.encoder_, spins[:3], "gradient_x_input", target=0)
    assert R.shape == (3, 8, 8)


def test_conv_padding_is_periodic():
    # two stride-2 circular convolutions commute exactly with a translation by 4 sites, which
    # moves the (L/4 x L/4) feature map by one cell; zero padding would break this at the edges
    spins, _ = planted_spins(64, (2, 8, 12), dtype=torch.float64)
    vae = VariationalAutoencoder(
        1, architecture="conv", hidden=(4, 6), epochs=1, progress=False
    ).fit(spins)
    convs = vae.encoder_.body[:-1]  # everything before the flatten
    x = spins[:5]
    with torch.no_grad():
        shifted = convs(torch.roll(x, shifts=(4, -8), dims=(2, 3)))
        expected = torch.roll(convs(x), shifts=(1, -2), dims=(2, 3))
    assert shifted.shape == (5, 6, 2, 3)
    torch.testing.assert_close(shifted, expected, atol=1e-12, rtol=0)
    assert vae.reconstruct(x).shape == (5, 2, 8, 12)


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"latent_dim": 0}, ValueError, "latent_dim must be an int >= 1"),
        ({"hidden": (0,)}, ValueError, "hidden must be a tuple of positive ints"),
        ({"hidden": "big"}, ValueError, "hidden must be a tuple"),
        ({"hidden": (), "architecture": "conv"}, ValueError, "hidden must be a non-empty tuple"),
        ({"architecture": "rnn"}, ValueError, "architecture must be one of 'dense', 'conv'"),
        (
            {"likelihood": "poisson"},
            ValueError,
            "likelihood must be one of 'bernoulli', 'gaussian'",
        ),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of"),
        ({"weight_decay": -1.0}, ValueError, "weight_decay must be a finite number >= 0"),
        (
            {"validation_fraction": 1.0},
            ValueError,
            r"validation_fraction must be a number in \[0, 1\)",
        ),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"device": "nonsense"}, ValueError, "device must name a torch device"),
        ({"progress": "yes"}, TypeError, "progress must be True, False or None"),
    ],
)
def test_constructor_rejects_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        Autoencoder(**kwargs)


@pytest.mark.parametrize("beta", [-1.0, float("nan"), "1"])
def test_vae_rejects_bad_beta(beta):
    with pytest.raises(
        ValueError, match="VariationalAutoencoder: beta must be a finite number >= 0"
    ):
        VariationalAutoencoder(beta=beta)


@pytest.mark.parametrize(
    "X, kwargs, error, match",
    [
        (torch.ones(10, 4, dtype=torch.int8), {}, ValueError, r"got dtype torch.int8.*X.float\(\)"),
        (torch.full((10, 4), float("nan")), {}, ValueError, "X must be finite; got 40 NaN"),
        (torch.ones(10), {}, ValueError, r"at least 2 dims; got shape \(10,\)"),
        (
            torch.full((10, 4), 2.0),
            {},
            ValueError,
            r"likelihood='bernoulli' expects \+-1 spins.*Use likelihood='gaussian' for continuous",
        ),
        (torch.ones(0, 4), {}, ValueError, "at least one sample"),
        ([[1.0, -1.0]], {}, TypeError, "X must be a torch.Tensor"),
        (
            torch.ones(10, 64),
            {"architecture": "conv"},
            ValueError,
            r"\(n, L, L\) or \(n, C, L, L\); got shape \(10, 64\)",
        ),
        (
            torch.ones(10, 10, 10),
            {"architecture": "conv", "hidden": (4, 4)},
            ValueError,
            r"divisible by 4; got X of shape \(10, 10, 10\)",
        ),
        (torch.ones(10, 4), {"validation_fraction": 0.01}, ValueError, "leaves 0 for validation"),
        (torch.ones(10, 4, device="meta"), {}, ValueError, "X is on meta but device='cpu'"),
    ],
)
def test_fit_rejects_bad_inputs(X, kwargs, error, match):
    options = {"hidden": (4,), "epochs": 1, "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        Autoencoder(1, **options).fit(X)


def test_fit_rejects_y():
    with pytest.raises(TypeError, match="unsupervised; y must be None"):
        Autoencoder(progress=False).fit(torch.ones(4, 2), torch.ones(4))


@pytest.mark.parametrize(
    "method",
    [
        "encode",
        "transform",
        "reconstruct",
        "reconstruction_loss",
        "loss_per_sample",
        "score",
        "decode",
        "encode_distribution",
        "kl_divergence",
    ],
)
def test_methods_before_fit_raise_not_fitted(method):
    with pytest.raises(
        NotFittedError, match="this VariationalAutoencoder is not fitted yet; call fit"
    ):
        getattr(VariationalAutoencoder(), method)(torch.ones(3, 2))


def test_inputs_unlike_the_fitted_ones_raise(ae64, spins64):
    with pytest.raises(
        ValueError,
        match=r"shape \(n, 16\) as in fit \(input_shape_=\(16,\)\); got shape \(3, 4, 4\)",
    ):
        ae64.encode(spins64[:3].reshape(3, 4, 4))
    with pytest.raises(ValueError, match=r"got shape \(16,\)\. For a single sample try X\[None\]"):
        ae64.reconstruction_loss(spins64[0])
    with pytest.raises(
        ValueError, match="dtype of the fitted data \\(torch.float64\\); got torch.float32"
    ):
        ae64.reconstruct(spins64[:3].float())
    with pytest.raises(ValueError, match="X is on meta but the model on cpu"):
        ae64.encode(torch.ones(3, 16, dtype=torch.float64, device="meta"))
    with pytest.raises(ValueError, match="'bernoulli' expects \\+-1 spins"):
        ae64.encode(spins64[:3] * 1.5)
    with pytest.raises(ValueError, match="max_batch_size must be an int >= 1"):
        ae64.encode(spins64[:3], max_batch_size=0)
    with pytest.raises(ValueError, match="sample=True draws from a VAE's posterior"):
        ae64.encode(spins64[:3], sample=True)
    with pytest.raises(ValueError, match="generator is used only with sample=True"):
        ae64.encode(spins64[:3], generator=torch.Generator())
    with pytest.raises(TypeError, match="y must be None"):
        ae64.score(spins64[:3], torch.ones(3))


def test_vae_generator_must_be_a_generator(vae64, spins64):
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        vae64.encode(spins64[:3], sample=True, generator=0)


def test_decode_rejects_bad_codes(ae64):
    with pytest.raises(
        ValueError, match=r"Z must have shape \(n, 1\) \(n >= 1\); got shape \(3, 2\)"
    ):
        ae64.decode(torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(
        ValueError, match="Z must have dtype torch.float64 on cpu; got torch.float32"
    ):
        ae64.decode(torch.zeros(3, 1))
    with pytest.raises(ValueError, match="Z must be finite"):
        ae64.decode(torch.full((3, 1), float("inf"), dtype=torch.float64))
    with pytest.raises(TypeError, match="Z must be a torch.Tensor or numpy array"):
        ae64.decode([[0.0]])
    assert ae64.decode(np.zeros((2, 1))).shape == (2, 16)
