"""Bottleneck probes: autoencoders whose narrow latent layer reveals an order parameter.

An autoencoder is trained to reproduce its input through a latent layer of a few units. When the
data are spin configurations sampled across a phase transition, the cheapest thing to keep in one
number is the magnetisation: Wetzel (2017) found the latent of a one-unit autoencoder and of a
variational autoencoder (VAE) to be roughly linear in M, with the VAE latent histogram split into
the three clusters M = -1, 0, +1 and the reconstruction loss changing steeply at T_c. The
estimators here are the models of that paper (input -> 256 ReLU -> latent -> 256 ReLU -> output,
sigmoid output with cross-entropy on (s + 1) / 2) in scikit-learn form:

>>> ae = VariationalAutoencoder(latent_dim=1, beta=1.0).fit(spins)        # doctest: +SKIP
>>> z = ae.encode(spins)                       # (n, 1): the encoder mean     # doctest: +SKIP
>>> loss = ae.reconstruction_loss(spins)       # (n,): nats per sample        # doctest: +SKIP

Two likelihoods are offered. ``"bernoulli"`` is for +-1 spins: the target of site i is
t_i = (s_i + 1) / 2, the decoder returns a logit l_i per site, and the negative log-likelihood of
one sample is the binary cross-entropy summed over sites,

    NLL(x) = sum_i [ softplus(l_i) - t_i l_i ] = -sum_i [ t_i ln p_i + (1 - t_i) ln(1 - p_i) ],

with p_i = sigmoid(l_i) = P(s_i = +1). ``"gaussian"`` is for continuous data: the decoder returns
the mean mu_i and the likelihood is a unit-variance Gaussian,

    NLL(x) = 1/2 sum_i (x_i - mu_i)^2 + (D / 2) ln(2 pi),   D = number of features,

where the constant makes it a true negative log-likelihood in nats (it changes no gradient).
The VAE adds the closed-form Kullback-Leibler divergence of the diagonal Gaussian posterior
q(z|x) = N(mu, diag sigma^2) from the prior N(0, 1) (Kingma & Welling 2014, Appendix B),

    KL(x) = 1/2 sum_k ( mu_k^2 + sigma_k^2 - ln sigma_k^2 - 1 ),

weighted by beta (Higgins et al. 2017); training minimises the batch mean of
NLL(decode(mu + sigma * eps)) + beta * KL with eps ~ N(0, 1) (the reparameterisation trick).

Every model is trained by :func:`physxai.models.fit`, the package's one training loop, and built
under the estimator's seed, so a fit is reproducible parameter for parameter. The fitted
``encoder_`` is an ordinary ``nn.Module`` mapping inputs to the latent mean, so the attribution
core explains a latent unit directly: ``attribute(ae.encoder_, x, "gradient_x_input", target=0)``.

References
----------
S. J. Wetzel, Unsupervised learning of phase transitions: from principal component analysis to
variational autoencoders, Phys. Rev. E 96, 022140 (2017), arXiv:1703.02435.
D. P. Kingma, M. Welling, Auto-encoding variational Bayes, ICLR (2014), arXiv:1312.6114.
I. Higgins et al., beta-VAE: learning basic visual concepts with a constrained variational
framework, ICLR (2017).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_finite,
    check_generator,
    check_positive_float,
    check_positive_int,
)
from ..errors import NotFittedError
from ..models import History, fit
from ..models._blocks import ActivationSpec, check_sizes, make_activation

__all__ = ["ARCHITECTURES", "LIKELIHOODS", "Autoencoder", "VariationalAutoencoder"]

#: encoder/decoder layouts: fully connected, or stride-2 circular convolutions for lattices
ARCHITECTURES: tuple[str, ...] = ("dense", "conv")
#: decoder likelihoods: Bernoulli per site for +-1 spins, unit-variance Gaussian otherwise
LIKELIHOODS: tuple[str, ...] = ("bernoulli", "gaussian")
_OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "sgd")

#: hidden sizes used when ``hidden=None``: Wetzel (2017)'s 256 units, or two conv blocks
_DEFAULT_HIDDEN = {"dense": (256,), "conv": (16, 32)}
_DEFAULT_MAX_BATCH_SIZE = 4096
_LOG_2PI = math.log(2.0 * math.pi)


# -- networks ----------------------------------------------------------------------------------
class _Encoder(nn.Module):
    """``x -> latent mean``; a VAE also has a ``log_var`` head used by :meth:`distribution`."""

    def __init__(self, body: nn.Sequential, width: int, latent_dim: int, variational: bool):
        super().__init__()
        self.body = body
        self.mean = nn.Linear(width, latent_dim)
        self.log_var = nn.Linear(width, latent_dim) if variational else None

    def forward(self, x: Tensor) -> Tensor:
        return self.mean(self.body(x))

    def distribution(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, ln sigma^2)`` of q(z|x), each ``(n, latent_dim)``, from one pass of the body."""
        h = self.body(x)
        assert self.log_var is not None  # internal: only VAEs call this
        return self.mean(h), self.log_var(h)


class _AutoencoderNet(nn.Module):
    """``x -> decoder(encoder(x))``: the reconstruction's logits (Bernoulli) or means (Gaussian),
    decoded from the latent mean, in the input's shape."""

    def __init__(self, encoder: _Encoder, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


class _TrainingView(nn.Module):
    """What :func:`physxai.models.fit` trains: one tensor per sample, ``(n, D [+ 2k])``.

    ``fit`` handles one output tensor, so a VAE packs its flattened decoder output, mu and
    ln sigma^2 side by side along dim 1 and the loss splits them. In training mode the decoder
    sees z = mu + sigma * eps with eps drawn from the global generator, which ``fit`` seeds inside
    ``torch.random.fork_rng``; in eval mode (``fit``'s validation pass) it sees z = mu, so the
    validation loss is the deterministic :meth:`Autoencoder.loss_per_sample`.
    """

    def __init__(self, net: _AutoencoderNet, variational: bool):
        super().__init__()
        self.net = net
        self.variational = variational

    def forward(self, x: Tensor) -> Tensor:
        if not self.variational:
            return self.net(x).flatten(1)
        mean, log_var = self.net.encoder.distribution(x)
        z = mean
        if self.training:
            z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)  # reparameterisation
        return torch.cat([self.net.decoder(z).flatten(1), mean, log_var], dim=1)


def _dense_parts(
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...],
    latent_dim: int,
    activation: ActivationSpec,
    variational: bool,
    caller: str,
) -> tuple[_Encoder, nn.Sequential]:
    n_features = math.prod(input_shape)
    body: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    width = n_features
    for i, h in enumerate(hidden, 1):
        body += [(f"fc{i}", nn.Linear(width, h)), (f"act{i}", make_activation(activation, caller))]
        width = h
    encoder = _Encoder(nn.Sequential(OrderedDict(body)), width, latent_dim, variational)
    dec: list[tuple[str, nn.Module]] = []
    width = latent_dim
    for i, h in enumerate(reversed(hidden), 1):
        dec += [(f"fc{i}", nn.Linear(width, h)), (f"act{i}", make_activation(activation, caller))]
        width = h
    dec += [("out", nn.Linear(width, n_features)), ("unflatten", nn.Unflatten(1, input_shape))]
    return encoder, nn.Sequential(OrderedDict(dec))


def _conv_parts(
    input_shape: tuple[int, ...],
    hidden: tuple[int, ...],
    latent_dim: int,
    activation: ActivationSpec,
    variational: bool,
    caller: str,
) -> tuple[_Encoder, nn.Sequential]:
    # (L, L) lattices get a channel axis; (C, H, W) are used as they are
    n_channels = 1 if len(input_shape) == 2 else input_shape[0]
    height, width = input_shape[-2:]
    factor = 2 ** len(hidden)
    body: list[tuple[str, nn.Module]] = []
    if len(input_shape) == 2:
        body.append(("unflatten", nn.Unflatten(1, (1, height))))
    c_in = n_channels
    for i, c in enumerate(hidden, 1):
        # kernel 3, stride 2, circular padding 1: L -> L / 2 with periodic boundaries
        conv = nn.Conv2d(c_in, c, 3, stride=2, padding=1, padding_mode="circular")
        body += [(f"conv{i}", conv), (f"act{i}", make_activation(activation, caller))]
        c_in = c
    body.append(("flatten", nn.Flatten()))
    small = (height // factor, width // factor)
    n_small = hidden[-1] * small[0] * small[1]
    encoder = _Encoder(nn.Sequential(OrderedDict(body)), n_small, latent_dim, variational)
    dec: list[tuple[str, nn.Module]] = [
        ("fc", nn.Linear(latent_dim, n_small)),
        ("act0", make_activation(activation, caller)),
        ("unflatten", nn.Unflatten(1, (hidden[-1], *small))),
    ]
    channels = [*reversed(hidden), n_channels]
    for i in range(len(hidden)):
        # nearest-neighbour upsampling then a circular 3x3 conv: L -> 2L, periodic, and free of
        # the checkerboard artefacts of transposed convolutions
        dec += [
            (f"up{i + 1}", nn.Upsample(scale_factor=2, mode="nearest")),
            (
                f"conv{i + 1}",
                nn.Conv2d(channels[i], channels[i + 1], 3, padding=1, padding_mode="circular"),
            ),
        ]
        if i < len(hidden) - 1:
            dec.append((f"act{i + 1}", make_activation(activation, caller)))
    dec += [("flatten", nn.Flatten()), ("reshape", nn.Unflatten(1, input_shape))]
    return encoder, nn.Sequential(OrderedDict(dec))


# -- losses ------------------------------------------------------------------------------------
def _nll(out: Tensor, target: Tensor, likelihood: str) -> Tensor:
    """Per-sample negative log-likelihood in nats, ``(n,)``, of flattened ``(n, D)`` tensors.

    Bernoulli: ``target`` = (s + 1) / 2 and ``out`` the logits; Gaussian: ``out`` the means.
    """
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, target, reduction="none").sum(1)
    return 0.5 * (target - out).pow(2).sum(1) + 0.5 * out.shape[1] * _LOG_2PI


def _kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) summed over latents, ``(n,)`` (Kingma & Welling 2014)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - log_var - 1.0).sum(1)


# -- the estimators ----------------------------------------------------------------------------
class Autoencoder:
    """An autoencoder with a ``latent_dim``-unit bottleneck, fitted as a scikit-learn estimator.

    Parameters
    ----------
    latent_dim : int, default 1
        Number of latent units k. Wetzel (2017) uses 1 for the Ising model (2 for XY).
    hidden : tuple of int, optional
        ``architecture="dense"``: widths of the encoder's hidden layers; the decoder mirrors them
        (``(256,)`` gives the paper's input -> 256 -> k -> 256 -> output; ``()`` a linear
        autoencoder). ``architecture="conv"``: channels of the encoder's stride-2 convolutions,
        each halving the lattice. Default: ``(256,)`` for dense, ``(16, 32)`` for conv.
    architecture : {"dense", "conv"}, default "dense"
        ``"dense"``: ``Flatten -> [Linear -> act] per hidden -> Linear(k)``, and the decoder
        ``[Linear -> act] per reversed hidden -> Linear(D) -> reshape``. Any per-sample shape.
        ``"conv"``: for lattices ``(n, L, L)`` or ``(n, C, H, W)``. Encoder: per entry c of
        ``hidden`` a 3x3 convolution with stride 2 and **circular** padding (periodic
        boundaries) to c channels and an activation, then ``Flatten -> Linear(k)``. Decoder:
        ``Linear -> act -> reshape (c_last, H/2^m, W/2^m)``, then m times ``Upsample(x2,
        nearest) -> circular 3x3 conv`` (activations between, none after the last) back to C
        channels, reshaped to the input's shape. H and W must be divisible by 2^m,
        m = len(hidden) (4 for the default).
    likelihood : {"bernoulli", "gaussian"}, default "bernoulli"
        ``"bernoulli"``: inputs are spins in [-1, 1] (normally +-1); the decoder gives one logit
        per site for P(s = +1) and the loss is the binary cross-entropy on (s + 1) / 2 summed
        over sites (the paper's sigmoid output with cross-entropy). ``"gaussian"``: any real
        data; the decoder gives means and the loss is the unit-variance Gaussian NLL summed
        over features (squared error / 2 plus (D/2) ln 2 pi).
    activation : str, default "relu"
        Hidden activation: ``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"tanh"``, ``"sigmoid"``,
        ``"softplus"``, ``"gelu"``, or an ``nn.Module`` class.
    epochs, batch_size, lr, optimizer, weight_decay
        Passed to :func:`physxai.models.fit` (optimizer one of ``"adam"``, ``"adamw"``,
        ``"sgd"``).
    validation_fraction : float, default 0.0
        Fraction in [0, 1) of the samples held out (a split seeded by ``seed``) and passed to
        ``fit`` as validation data, so ``history_.val_loss`` holds the held-out loss per epoch.
    seed : int, default 0
        Seeds the initial parameters, the validation split, the shuffling and (VAE) the
        reparameterisation noise: the same seed gives the same fitted parameters.
    device : str or torch.device, default "cpu"
        Where the model lives; inputs must already be there (nothing is moved for you).
    progress : bool, optional
        Progress bar during ``fit`` (default: on a terminal outside CI).

    Attributes
    ----------
    encoder_ : nn.Module
        ``x (n, *input_shape_) -> latent mean (n, latent_dim)``, in eval mode; usable with
        :func:`physxai.attribute` (``target=j`` explains latent unit j).
    decoder_ : nn.Module
        ``z (n, latent_dim) -> (n, *input_shape_)`` logits (Bernoulli) or means (Gaussian).
    module_ : nn.Module
        The whole network, ``x -> decoder_(encoder_(x))`` (logits or means).
    history_ : physxai.models.History
        Per-epoch training (and validation) loss: the batch mean of :meth:`loss_per_sample`
        (for a VAE with sampled latents in training, at the mean in validation).
    input_shape_ : tuple of int
        Shape of one sample seen in ``fit``.
    n_features_in_ : int
        Number of features D = prod(input_shape_).
    dtype_ : torch.dtype
        The dtype of the fitted inputs and parameters.
    device_ : torch.device
        The device of the fitted inputs and parameters.

    References
    ----------
    S. J. Wetzel, Phys. Rev. E 96, 022140 (2017), arXiv:1703.02435.

    Examples
    --------
    >>> import torch
    >>> m = torch.rand(200, 1) * 2 - 1                       # planted magnetisation
    >>> spins = torch.where(torch.rand(200, 16) < (1 + m) / 2, 1.0, -1.0)
    >>> ae = Autoencoder(1, hidden=(16,), epochs=5, progress=False).fit(spins)
    >>> ae.encode(spins).shape, ae.reconstruction_loss(spins).shape
    (torch.Size([200, 1]), torch.Size([200]))
    """

    _variational = False

    def __init__(
        self,
        latent_dim: int = 1,
        *,
        hidden: tuple[int, ...] | None = None,
        architecture: str = "dense",
        likelihood: str = "bernoulli",
        activation: ActivationSpec = "relu",
        epochs: int = 50,
        batch_size: int = 128,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        validation_fraction: float = 0.0,
        seed: int = 0,
        device: str | torch.device = "cpu",
        progress: bool | None = None,
    ) -> None:
        caller = type(self).__name__
        check_positive_int(latent_dim, caller, "latent_dim")
        check_choice(architecture, ARCHITECTURES, caller, "architecture")
        if hidden is not None:
            check_sizes(hidden, caller, "hidden", allow_empty=architecture == "dense")
        check_choice(likelihood, LIKELIHOODS, caller, "likelihood")
        make_activation(activation, caller)  # validates the name or class
        check_positive_int(epochs, caller, "epochs")
        check_positive_int(batch_size, caller, "batch_size")
        check_positive_float(lr, caller, "lr")
        check_choice(optimizer, _OPTIMIZERS, caller, "optimizer")
        check_positive_float(weight_decay, caller, "weight_decay", allow_zero=True)
        ok = isinstance(validation_fraction, (int, float)) and not isinstance(
            validation_fraction, bool
        )
        if not ok or not 0.0 <= validation_fraction < 1.0:
            raise ValueError(
                f"{caller}: validation_fraction must be a number in [0, 1); got "
                f"{validation_fraction!r}."
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"{caller}: seed must be an int; got {type(seed).__name__}.")
        try:
            torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"{caller}: device must name a torch device; got {device!r}.") from err
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{caller}: progress must be True, False or None; got {progress!r}.")
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.architecture = architecture
        self.likelihood = likelihood
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.device = device
        self.progress = progress

    def __repr__(self) -> str:
        names = [
            "latent_dim",
            "hidden",
            "architecture",
            "likelihood",
            "activation",
            "epochs",
            "batch_size",
            "lr",
            "optimizer",
            "weight_decay",
            "validation_fraction",
            "seed",
            "device",
        ]
        if self._variational:
            names.insert(1, "beta")
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in names)})"

    # -- checks --------------------------------------------------------------------------------
    def _caller(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    def _check_fitted(self, caller: str) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError(
                f"{caller}: this {type(self).__name__} is not fitted yet; call fit(X) first."
            )

    def _check_X(self, X: Any, caller: str, fitting: bool = False) -> Tensor:
        """The inputs as a tensor, checked against the settings (``fit``) or the fitted model."""
        if isinstance(X, np.ndarray):
            X = torch.as_tensor(X)
        if not isinstance(X, Tensor):
            raise TypeError(
                f"{caller}: X must be a torch.Tensor (or numpy array) with the batch first; got "
                f"{type(X).__name__}."
            )
        if not X.is_floating_point():
            raise ValueError(
                f"{caller}: X must be a floating-point tensor; got dtype {X.dtype}. Spins stored "
                "as int8 need X.float() (or .double()) first."
            )
        if fitting:
            if self.architecture == "conv" and X.dim() not in (3, 4):
                raise ValueError(
                    f"{caller}: architecture='conv' needs lattices of shape (n, L, L) or "
                    f"(n, C, L, L); got shape {tuple(X.shape)}. Use architecture='dense' for "
                    "other shapes."
                )
            if X.dim() < 2:
                raise ValueError(
                    f"{caller}: X must have shape (n_samples, ...) with at least 2 dims; got "
                    f"shape {tuple(X.shape)}. For one feature per sample try X[:, None]."
                )
            if self.architecture == "conv":
                self._check_lattice(tuple(X.shape), caller)
            want = torch.device(self.device)
            same = X.device.type == want.type and (
                want.index is None or X.device.index == want.index
            )
            if not same:
                raise ValueError(
                    f"{caller}: X is on {X.device} but device={self.device!r}; move it with "
                    f"X.to({str(want)!r}) (nothing is moved for you)."
                )
        else:
            if tuple(X.shape[1:]) != self.input_shape_ or X.dim() < 2:
                hint = (
                    " For a single sample try X[None]."
                    if tuple(X.shape) == self.input_shape_
                    else ""
                )
                raise ValueError(
                    f"{caller}: X must have shape (n, {', '.join(map(str, self.input_shape_))}) "
                    f"as in fit (input_shape_={self.input_shape_}); got shape "
                    f"{tuple(X.shape)}.{hint}"
                )
            if X.dtype != self.dtype_:
                raise ValueError(
                    f"{caller}: X must have the dtype of the fitted data ({self.dtype_}); got "
                    f"{X.dtype}. Try X.to({self.dtype_})."
                )
            if X.device != self.device_:
                raise ValueError(
                    f"{caller}: X is on {X.device} but the model on {self.device_}; move it with "
                    f"X.to({str(self.device_)!r})."
                )
        if X.shape[0] == 0:
            raise ValueError(
                f"{caller}: X must hold at least one sample; got shape {tuple(X.shape)}."
            )
        check_finite(X, caller, "X")
        if self.likelihood == "bernoulli" and bool(((X < -1) | (X > 1)).any()):
            raise ValueError(
                f"{caller}: likelihood='bernoulli' expects +-1 spins; X of shape "
                f"{tuple(X.shape)} holds values outside [-1, 1]. Use likelihood='gaussian' for "
                "continuous data."
            )
        return X

    def _check_lattice(self, shape: tuple[int, ...], caller: str) -> None:
        hidden = self._hidden()
        factor = 2 ** len(hidden)
        height, width = shape[-2:]
        if height % factor or width % factor:
            raise ValueError(
                f"{caller}: architecture='conv' with hidden={hidden} halves the lattice "
                f"{len(hidden)} times, so its sides must be divisible by {factor}; got X of shape "
                f"{shape}. Use L in {{{factor}, {2 * factor}, {3 * factor}, ...}}, fewer conv "
                "layers (a shorter hidden), or architecture='dense'."
            )

    def _hidden(self) -> tuple[int, ...]:
        return tuple(self.hidden) if self.hidden is not None else _DEFAULT_HIDDEN[self.architecture]

    def _check_batch_size(self, max_batch_size: Any, caller: str) -> int:
        return check_positive_int(max_batch_size, caller, "max_batch_size")

    # -- fitting -------------------------------------------------------------------------------
    def _targets(self, X: Tensor) -> Tensor:
        flat = X.flatten(1)
        return (flat + 1) / 2 if self.likelihood == "bernoulli" else flat

    def _loss(self) -> Callable[[Tensor, Tensor], Tensor]:
        likelihood, k = self.likelihood, self.latent_dim
        beta = float(getattr(self, "beta", 0.0))
        variational = self._variational

        def autoencoder_loss(out: Tensor, target: Tensor) -> Tensor:
            n_features = target.shape[1]
            per_sample = _nll(out[:, :n_features], target, likelihood)
            if variational:
                mean = out[:, n_features : n_features + k]
                log_var = out[:, n_features + k :]
                per_sample = per_sample + beta * _kl(mean, log_var)
            return per_sample.mean()

        return autoencoder_loss

    def fit(self, X: Tensor | np.ndarray, y: Any = None) -> Autoencoder:
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : Tensor or ndarray, shape (n_samples, ...)
            Floating-point inputs: spins ``(n, L, L)`` or ``(n, N)`` in [-1, 1] for the
            Bernoulli likelihood, any finite values for the Gaussian one. The model is built in
            ``X``'s dtype on ``device``.
        y : ignored
            Present for scikit-learn pipelines; must be None.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For non-floating, non-finite or wrongly shaped ``X``, values outside [-1, 1] with
            ``likelihood="bernoulli"``, a lattice not divisible for ``architecture="conv"``, a
            validation split that leaves no sample on one side, or ``X`` on another device.
        TypeError
            If ``X`` is not a tensor or array, or ``y`` is given.
        FloatingPointError
            If the training loss diverges (from :func:`physxai.models.fit`).
        """
        caller = self._caller("fit")
        if y is not None:
            raise TypeError(
                f"{caller}: an autoencoder is unsupervised; y must be None, got {type(y).__name__}."
            )
        X = self._check_X(X, caller, fitting=True)
        n = X.shape[0]
        n_val = round(self.validation_fraction * n)
        if self.validation_fraction > 0 and not 1 <= n_val < n:
            raise ValueError(
                f"{caller}: validation_fraction={self.validation_fraction!r} of {n} samples leaves "
                f"{n_val} for validation and {n - n_val} for training; both need at least one."
            )
        input_shape = tuple(X.shape[1:])
        device = torch.device(self.device)
        builder = _conv_parts if self.architecture == "conv" else _dense_parts
        # the initial parameters come from the global generator: seed it inside a fork so the
        # fit is reproducible and the caller's RNG state is left as it was
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            encoder, decoder = builder(
                input_shape,
                self._hidden(),
                self.latent_dim,
                self.activation,
                self._variational,
                type(self).__name__,
            )
        net = _AutoencoderNet(encoder, decoder).to(device=device, dtype=X.dtype)
        target = self._targets(X)
        validation = None
        if n_val:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
            val_idx, train_idx = order[:n_val].to(X.device), order[n_val:].to(X.device)
            data = (X[train_idx], target[train_idx])
            validation = (X[val_idx], target[val_idx])
        else:
            data = (X, target)
        history = fit(
            _TrainingView(net, self._variational),
            data,
            loss=self._loss(),
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
            weight_decay=self.weight_decay,
            validation=validation,
            metric=None,
            seed=self.seed,
            device=device,
            progress=self.progress,
        )
        net.eval()
        self.module_ = net
        self.encoder_ = net.encoder
        self.decoder_ = net.decoder
        self.history_: History = history
        self.input_shape_ = input_shape
        self.n_features_in_ = math.prod(input_shape)
        self.dtype_ = X.dtype
        self.device_ = X.device
        return self

    # -- inference -----------------------------------------------------------------------------
    def _batched(self, fn: Callable[[Tensor], Tensor], X: Tensor, max_batch_size: int) -> Tensor:
        with torch.no_grad():
            return torch.cat(
                [fn(X[i : i + max_batch_size]) for i in range(0, X.shape[0], max_batch_size)]
            )

    def encode(
        self,
        X: Tensor | np.ndarray,
        *,
        sample: bool = False,
        generator: torch.Generator | None = None,
        max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE,
    ) -> Tensor:
        """The latent code of each sample, ``(n, latent_dim)``.

        Parameters
        ----------
        X : Tensor or ndarray, shape (n, *input_shape_)
        sample : bool, default False
            False: the encoder mean mu (deterministic; the latent Wetzel 2017 reads). True (VAE
            only): a draw z = mu + sigma * eps from q(z|x).
        generator : torch.Generator, optional
            Source of eps when ``sample=True``; the same generator state gives the same draw.
            None draws from a fresh, randomly seeded generator (the global RNG is not touched).
        max_batch_size : int, default 4096
            Samples per forward pass; the result does not depend on it.

        Returns
        -------
        Tensor, shape (n, latent_dim)

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For inputs unlike the fitted ones (shape, dtype, device, values), ``sample=True`` on
            a plain autoencoder, or a ``generator`` without ``sample=True``.
        """
        caller = self._caller("encode")
        self._check_fitted(caller)
        X = self._check_X(X, caller)
        max_batch_size = self._check_batch_size(max_batch_size, caller)
        if sample and not self._variational:
            raise ValueError(
                f"{caller}: sample=True draws from a VAE's posterior; a plain Autoencoder's code "
                "is deterministic. Use VariationalAutoencoder or sample=False."
            )
        if generator is not None and not sample:
            raise ValueError(
                f"{caller}: generator is used only with sample=True; got sample=False."
            )
        if not sample:
            return self._batched(self.encoder_, X, max_batch_size)
        generator = check_generator(generator, X, caller)
        if generator is None:
            generator = torch.Generator(device=X.device)
            generator.seed()
        mean, log_var = self._distribution(X, max_batch_size)
        # all noise drawn at once, so the draw does not depend on max_batch_size
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + torch.exp(0.5 * log_var) * eps

    def _distribution(self, X: Tensor, max_batch_size: int) -> tuple[Tensor, Tensor]:
        both = self._batched(
            lambda x: torch.cat(self.encoder_.distribution(x), 1), X, max_batch_size
        )
        return both[:, : self.latent_dim], both[:, self.latent_dim :]

    def transform(self, X: Tensor | np.ndarray) -> Tensor:
        """The encoder mean, ``(n, latent_dim)``: the same as ``encode(X)``."""
        return self.encode(X)

    def fit_transform(self, X: Tensor | np.ndarray, y: Any = None) -> Tensor:
        """``fit(X)`` then ``encode(X)``: the training data's latent mean, ``(n, latent_dim)``."""
        return self.fit(X, y).encode(X)

    def decode(
        self, Z: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """The reconstruction from latent codes, in the units of the input.

        Parameters
        ----------
        Z : Tensor or ndarray, shape (n, latent_dim)
        max_batch_size : int, default 4096

        Returns
        -------
        Tensor, shape (n, *input_shape_)
            Bernoulli: the **expected spin** E[s_i] = 2 p_i - 1 in [-1, 1], with
            p_i = sigmoid(logit_i) = P(s_i = +1) (not a sample of spins, and not the logits,
            which ``decoder_`` returns). Gaussian: the decoder mean.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For a ``Z`` that is not finite floating point of shape (n, latent_dim) in the fitted
            dtype and device.
        TypeError
            If ``Z`` is not a tensor or array.
        """
        caller = self._caller("decode")
        self._check_fitted(caller)
        if isinstance(Z, np.ndarray):
            Z = torch.as_tensor(Z)
        if not isinstance(Z, Tensor):
            raise TypeError(
                f"{caller}: Z must be a torch.Tensor or numpy array; got {type(Z).__name__}."
            )
        if Z.dim() != 2 or Z.shape[1] != self.latent_dim or Z.shape[0] == 0:
            raise ValueError(
                f"{caller}: Z must have shape (n, {self.latent_dim}) (n >= 1); got shape "
                f"{tuple(Z.shape)}."
            )
        if Z.dtype != self.dtype_ or Z.device != self.device_:
            raise ValueError(
                f"{caller}: Z must have dtype {self.dtype_} on {self.device_}; got {Z.dtype} on "
                f"{Z.device}. Try Z.to({self.dtype_})."
            )
        check_finite(Z, caller, "Z")
        max_batch_size = self._check_batch_size(max_batch_size, caller)
        out = self._batched(self.decoder_, Z, max_batch_size)
        return 2 * torch.sigmoid(out) - 1 if self.likelihood == "bernoulli" else out

    def reconstruct(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """``decode(encode(X))``: the reconstruction from the latent mean, shaped like ``X``
        (Bernoulli: expected spins 2p - 1; Gaussian: means)."""
        caller = self._caller("reconstruct")
        self._check_fitted(caller)
        X = self._check_X(X, caller)
        max_batch_size = self._check_batch_size(max_batch_size, caller)
        out = self._batched(self.module_, X, max_batch_size)
        return 2 * torch.sigmoid(out) - 1 if self.likelihood == "bernoulli" else out

    def reconstruction_loss(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """Per-sample negative log-likelihood of ``X`` under the decoder of the encoder mean.

        NLL(x) = -ln p(x | z = mu(x)), in nats, summed over sites; deterministic. Bernoulli:
        ``sum_i BCE(sigmoid(logit_i), (s_i + 1) / 2)``. Gaussian:
        ``0.5 * ||x - mean||^2 + 0.5 * D * ln(2 pi)`` (unit variance, D = n_features_in_). The
        mean over a temperature is the loss Wetzel (2017) proposes as an indicator of T_c.

        Parameters
        ----------
        X : Tensor or ndarray, shape (n, *input_shape_)
        max_batch_size : int, default 4096
            Samples per forward pass; the result does not depend on it.

        Returns
        -------
        Tensor, shape (n,)

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For inputs unlike the fitted ones (shape, dtype, device, values).
        """
        caller = self._caller("reconstruction_loss")
        self._check_fitted(caller)
        X = self._check_X(X, caller)
        max_batch_size = self._check_batch_size(max_batch_size, caller)
        likelihood = self.likelihood

        def nll(x: Tensor) -> Tensor:
            return _nll(self.module_(x).flatten(1), self._targets(x), likelihood)

        return self._batched(nll, X, max_batch_size)

    def loss_per_sample(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """The per-sample objective, ``(n,)``, at the encoder mean: for a plain autoencoder the
        :meth:`reconstruction_loss`. ``score`` and ``history_.val_loss`` average it."""
        return self.reconstruction_loss(X, max_batch_size=max_batch_size)

    def score(self, X: Tensor | np.ndarray, y: Any = None) -> float:
        """Mean of ``-loss_per_sample(X)`` (higher is better, the scikit-learn convention)."""
        if y is not None:
            raise TypeError(f"{self._caller('score')}: y must be None; got {type(y).__name__}.")
        return -float(self.loss_per_sample(X).mean())


class VariationalAutoencoder(Autoencoder):
    """A (beta-)variational autoencoder: a diagonal-Gaussian encoder q(z|x) = N(mu, sigma^2).

    The encoder has two heads, ``mean`` and ``log_var`` (ln sigma^2), on the shared body; the
    prior is N(0, 1). Training minimises the batch mean of

        NLL(x | z) + beta * KL(q(z|x) || N(0, 1)),  z = mu + sigma * eps,  eps ~ N(0, 1),

    with KL = 1/2 sum_k (mu_k^2 + sigma_k^2 - ln sigma_k^2 - 1) (Kingma & Welling 2014;
    Wetzel 2017 Eq. for L; Higgins et al. 2017 for beta != 1). The noise comes from the global
    generator seeded by :func:`physxai.models.fit` inside a fork, so fits are reproducible.
    ``encoder_`` returns mu, the latent Wetzel (2017) reads.

    Parameters
    ----------
    latent_dim : int, default 1
    beta : float, default 1.0
        Weight of the KL term, >= 0. beta = 0 trains a (noisy-latent) autoencoder; too large a
        beta collapses the posterior onto the prior and the latent stops tracking M (Wetzel
        2017 tunes it per problem and does not give its value).
    hidden, architecture, likelihood, activation, epochs, batch_size, lr, optimizer
        As in :class:`Autoencoder`.
    weight_decay, validation_fraction, seed, device, progress
        As in :class:`Autoencoder`.

    Attributes
    ----------
    The attributes of :class:`Autoencoder`; ``encoder_`` also has ``distribution(x) ->
    (mu, log_var)``.

    References
    ----------
    D. P. Kingma, M. Welling, ICLR (2014), arXiv:1312.6114.
    I. Higgins et al., ICLR (2017).
    S. J. Wetzel, Phys. Rev. E 96, 022140 (2017), arXiv:1703.02435.

    Examples
    --------
    >>> import torch
    >>> spins = torch.where(torch.rand(100, 16) < 0.5, 1.0, -1.0)
    >>> vae = VariationalAutoencoder(1, beta=0.5, hidden=(16,), epochs=2, progress=False).fit(spins)
    >>> mu, log_var = vae.encode_distribution(spins)
    >>> z = vae.encode(spins, sample=True, generator=torch.Generator().manual_seed(0))
    >>> mu.shape == z.shape == (100, 1)
    True
    """

    _variational = True

    def __init__(
        self,
        latent_dim: int = 1,
        *,
        beta: float = 1.0,
        hidden: tuple[int, ...] | None = None,
        architecture: str = "dense",
        likelihood: str = "bernoulli",
        activation: ActivationSpec = "relu",
        epochs: int = 50,
        batch_size: int = 128,
        lr: float = 1e-3,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
        validation_fraction: float = 0.0,
        seed: int = 0,
        device: str | torch.device = "cpu",
        progress: bool | None = None,
    ) -> None:
        check_positive_float(beta, type(self).__name__, "beta", allow_zero=True)
        self.beta = beta
        super().__init__(
            latent_dim,
            hidden=hidden,
            architecture=architecture,
            likelihood=likelihood,
            activation=activation,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            optimizer=optimizer,
            weight_decay=weight_decay,
            validation_fraction=validation_fraction,
            seed=seed,
            device=device,
            progress=progress,
        )

    def encode_distribution(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> tuple[Tensor, Tensor]:
        """The posterior q(z|x): ``(mu, log_var)``, each ``(n, latent_dim)``, log_var = ln sigma^2.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For inputs unlike the fitted ones.
        """
        caller = self._caller("encode_distribution")
        self._check_fitted(caller)
        X = self._check_X(X, caller)
        return self._distribution(X, self._check_batch_size(max_batch_size, caller))

    def kl_divergence(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """KL(q(z|x) || N(0, 1)) per sample, ``(n,)``, in nats, summed over latent units.

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError
            For inputs unlike the fitted ones.
        """
        caller = self._caller("kl_divergence")
        self._check_fitted(caller)
        X = self._check_X(X, caller)
        mean, log_var = self._distribution(X, self._check_batch_size(max_batch_size, caller))
        return _kl(mean, log_var)

    def loss_per_sample(
        self, X: Tensor | np.ndarray, *, max_batch_size: int = _DEFAULT_MAX_BATCH_SIZE
    ) -> Tensor:
        """``reconstruction_loss(X) + beta * kl_divergence(X)``, ``(n,)``, in nats.

        The reconstruction term decodes the mean z = mu, not a sample, so this is the training
        objective with the noise switched off (deterministic; what ``history_.val_loss``
        averages). It is not the negative ELBO, whose NLL term is an expectation over
        z ~ q(z|x), and with beta != 1 it is not a bound on -ln p(x).
        """
        return self.reconstruction_loss(
            X, max_batch_size=max_batch_size
        ) + self.beta * self.kl_divergence(X, max_batch_size=max_batch_size)
