"""Activation maximisation (AM): the input a model finds most typical of a class or a unit.

AM solves ``x* = argmax_x  A(x) - lambda ||x||^2 + ...`` by gradient ascent, where ``A`` is an
:class:`~physxai.features.Objective` (a class logit, a log-probability, a neuron, a channel, a
layer's norm). Plain AM produces unnatural patterns (Simonyan et al. 2013); three families of
remedies are available and combine freely:

- **regularisers**: an L2 penalty (Simonyan's ``lambda ||x||^2``), total variation (the seed
  slides' ``R(x)``), random jitter and any random transformation of the input before each step
  (transformation robustness), periodic Gaussian blur of the iterate (Yosinski et al. 2015);
- **constraints**: a bounded parameterisation ``x = lo + (hi - lo) (tanh(v) + 1) / 2`` (``+-1`` spins,
  pixel ranges), or projection onto a box (``[0, 16]`` for the digits) or an L2 ball after each
  step;
- **data priors** (Montavon, Samek, Mueller 2018, Sec. 3.2-3.3; Nguyen et al. 2016): a density
  expert, ``+ w log q(x)`` with ``q`` a :class:`GaussianMixtureDensity` fitted on data or any
  callable log-density; or optimisation in the code space of a generator ``x = g(z)`` (the
  decoder of an autoencoder/VAE, e.g. ``Autoencoder.decoder_``) with ``- lambda ||z||^2``.

Every start (noise, the data mean, class means: see :func:`class_means`) is optimised with
``n_restarts`` perturbed copies, all in one batch, with an optional diversity term between the
copies. :func:`deep_dream` enhances what a layer detects in a given input. The model is never
modified: no hooks remain, its mode is not toggled (training mode warns), its parameters and
their ``requires_grad`` flags are untouched (gradients are taken only with respect to the
optimised variable).

References
----------
K. Simonyan, A. Vedaldi, A. Zisserman, arXiv:1312.6034 (2013).
A. Nguyen et al., NeurIPS 2016, arXiv:1605.09304.
G. Montavon, W. Samek, K.-R. Mueller, Digit. Signal Process. 73, 1 (2018), arXiv:1706.07979.
J. Yosinski et al., arXiv:1506.06579 (2015).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_generator,
    check_inputs,
    check_positive_float,
    check_positive_int,
    check_same_device,
    warn_if_training,
)
from ..errors import NotFittedError
from .objectives import Objective, as_objective, check_objective_layers, evaluate_objective

__all__ = [
    "ActivationMaximization",
    "GaussianMixtureDensity",
    "class_means",
    "deep_dream",
    "maximize_activation",
    "total_variation",
]

PARAMETERIZATIONS = ("identity", "tanh")
OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class ActivationMaximization:
    """The result of :func:`maximize_activation`.

    Attributes
    ----------
    inputs : Tensor, shape ``(m, n_restarts, *F)``
        The optimised inputs (``g(z)`` in code space), detached.
    codes : Tensor or None, shape ``(m, n_restarts, *Z)``
        The optimised codes when a decoder was given.
    objective : Tensor, shape ``(m, n_restarts)``
        The objective at the optimised inputs (no transformation applied).
    trajectory : Tensor, shape ``(n_steps + 1, m, n_restarts)``
        The objective at every step (on the transformed input when jitter or a transform is on)
        and, last, at the result.
    total_trajectory : Tensor, shape ``(n_steps, m, n_restarts)``
        The penalised quantity that was ascended (objective - penalties + density term).
    init : Tensor, shape ``(m, *F)`` or ``(m, *Z)``
        The starting points as given.
    settings : dict
        The objective's description and every setting (lambda, step size, iterations,
        optimiser, parameterisation, bounds, density weight, ...).
    """

    inputs: Tensor
    codes: Tensor | None
    objective: Tensor
    trajectory: Tensor
    total_trajectory: Tensor
    init: Tensor
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Tensor:
        """The best restart of every start, ``(m, *F)``."""
        idx = self.objective.argmax(dim=1)
        return self.inputs[torch.arange(self.inputs.shape[0]), idx]


def total_variation(x: Tensor, n_spatial: int | None = None) -> Tensor:
    """Anisotropic total variation per sample, ``sum |x_{i,j+1} - x_{i,j}| + |x_{i+1,j} - x_{i,j}|``.

    Parameters
    ----------
    x : Tensor, shape ``(n, *F)``
    n_spatial : int or None
        The number of trailing dimensions that are spatial; ``None`` means
        ``min(2, x.dim() - 1)`` (a lattice ``(n, L, L)``, an image ``(n, C, H, W)``, a vector).

    Returns
    -------
    Tensor, shape ``(n,)``
        Differences along each spatial dimension (open boundaries), absolute values summed.

    Examples
    --------
    >>> import torch
    >>> total_variation(torch.tensor([[[0., 1.], [0., 1.]]])).tolist()
    [2.0]
    """
    if n_spatial is None:
        n_spatial = min(2, x.dim() - 1)
    tv = x.new_zeros(x.shape[0])
    for d in range(x.dim() - n_spatial, x.dim()):
        tv = tv + x.diff(dim=d).abs().reshape(x.shape[0], -1).sum(dim=1)
    return tv


def class_means(inputs: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """The mean input of every class, the usual AM starting points (Montavon et al. 2018).

    Parameters
    ----------
    inputs : Tensor, shape ``(n, *F)``
    labels : LongTensor, shape ``(n,)``

    Returns
    -------
    classes : LongTensor, shape ``(k,)``
        The sorted distinct labels.
    means : Tensor, shape ``(k, *F)``
        ``means[i]`` is the mean of the inputs labelled ``classes[i]``.

    Raises
    ------
    ValueError
        Labels that are not a 1-d integer tensor with one entry per input.

    Examples
    --------
    >>> import torch
    >>> c, mu = class_means(torch.tensor([[0.], [2.], [5.]]), torch.tensor([1, 1, 0]))
    >>> c.tolist(), mu[:, 0].tolist()
    ([0, 1], [5.0, 1.0])
    """
    caller = "class_means"
    inputs = check_inputs(inputs, caller)
    if (
        not isinstance(labels, Tensor)
        or labels.is_floating_point()
        or labels.shape != (inputs.shape[0],)
    ):
        got = (
            f"dtype {labels.dtype} and shape {tuple(labels.shape)}"
            if isinstance(labels, Tensor)
            else type(labels).__name__
        )
        raise ValueError(
            f"{caller}: labels must be an integer tensor of shape ({inputs.shape[0]},); got {got}."
        )
    classes = torch.unique(labels)
    means = torch.stack([inputs[labels == c].mean(dim=0) for c in classes])
    return classes, means


class GaussianMixtureDensity:
    """A Gaussian mixture ``q(x)`` fitted on data, with a differentiable torch log-density.

    The density expert of Montavon et al. (2018), Sec. 3.2. Fitted with scikit-learn's
    ``GaussianMixture`` on the flattened inputs; :meth:`log_density` evaluates
    ``log q(x) = logsumexp_k [log pi_k + log N(x | mu_k, Sigma_k)]`` in torch so that AM can
    differentiate it.

    Pixels that are constant in the data (the corners of the digits) have zero variance; their
    covariance is then ``reg_covar`` alone, and ``log q`` punishes any change of them by
    ``(dx)^2 / (2 reg_covar)``. With scikit-learn's default ``1e-6`` this term dominates the
    objective, so ``reg_covar`` is an explicit setting here (default 0.1, in squared input units)
    and the number of zero-variance features is reported in ``zero_variance_features_``.

    Parameters
    ----------
    n_components : int, default 10
    reg_covar : float, default 0.1
        Added to the diagonal of every covariance.
    covariance_type : {"full", "diag"}, default "full"
    max_iter : int, default 200
    random_state : int, default 0

    Attributes
    ----------
    weights_ : Tensor (k,); means_ : Tensor (k, d); precisions_cholesky_ : Tensor (k, d, d)
    feature_shape_ : tuple, the per-sample shape of the fitted inputs
    zero_variance_features_ : int, features with zero variance in the data
    gmm_ : sklearn.mixture.GaussianMixture

    References
    ----------
    G. Montavon, W. Samek, K.-R. Mueller, Digit. Signal Process. 73, 1 (2018), Sec. 3.2.
    """

    def __init__(
        self,
        n_components: int = 10,
        *,
        reg_covar: float = 0.1,
        covariance_type: str = "full",
        max_iter: int = 200,
        random_state: int = 0,
    ):
        caller = "GaussianMixtureDensity"
        check_positive_int(n_components, caller, "n_components")
        check_positive_float(reg_covar, caller, "reg_covar")
        check_choice(covariance_type, ("full", "diag"), caller, "covariance_type")
        check_positive_int(max_iter, caller, "max_iter")
        check_positive_int(random_state, caller, "random_state", minimum=0)
        self.n_components = n_components
        self.reg_covar = reg_covar
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.random_state = random_state

    def __repr__(self) -> str:
        return (
            f"GaussianMixtureDensity(n_components={self.n_components}, reg_covar={self.reg_covar}, "
            f"covariance_type={self.covariance_type!r})"
        )

    def fit(self, X: Tensor) -> GaussianMixtureDensity:
        """Fit the mixture on ``X`` of shape ``(n, *F)`` (flattened to ``(n, d)``); returns self."""
        from sklearn.mixture import GaussianMixture

        caller = "GaussianMixtureDensity.fit"
        X = check_inputs(X, caller, "X")
        if X.shape[0] < self.n_components:
            raise ValueError(
                f"{caller}: X must have at least n_components={self.n_components} rows; got "
                f"shape {tuple(X.shape)}."
            )
        flat = X.detach().reshape(X.shape[0], -1).cpu().double().numpy()
        gmm = GaussianMixture(
            self.n_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            random_state=self.random_state,
        ).fit(flat)
        self.gmm_ = gmm
        self.feature_shape_ = tuple(X.shape[1:])
        self.zero_variance_features_ = int((flat.var(axis=0) < 1e-12).sum())
        self.weights_ = torch.as_tensor(gmm.weights_)
        self.means_ = torch.as_tensor(gmm.means_)
        chol = gmm.precisions_cholesky_
        if self.covariance_type == "diag":
            chol = np.stack([np.diag(c) for c in chol])
        self.precisions_cholesky_ = torch.as_tensor(chol)
        return self

    def log_density(self, x: Tensor) -> Tensor:
        """``log q(x)`` per row, ``(n,)``, differentiable in ``x`` (of shape ``(n, *F)``)."""
        caller = "GaussianMixtureDensity.log_density"
        if not hasattr(self, "means_"):
            raise NotFittedError(f"{caller}: call fit(X) first.")
        if not isinstance(x, Tensor) or tuple(x.shape[1:]) != self.feature_shape_:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(
                f"{caller}: x must have shape (n, {', '.join(map(str, self.feature_shape_))}) "
                f"like the fitted data; got {got}."
            )
        flat = x.reshape(x.shape[0], -1)
        mu = self.means_.to(flat)
        chol = self.precisions_cholesky_.to(flat)
        # y_k = (x - mu_k)^T P_k with P_k P_k^T = Sigma_k^{-1}: the Mahalanobis term is |y_k|^2
        y = torch.einsum("nd,kde->nke", flat, chol) - torch.einsum("kd,kde->ke", mu, chol)
        log_det = torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(dim=1)
        d = flat.shape[1]
        log_normal = -0.5 * (d * math.log(2 * math.pi) + y.pow(2).sum(dim=2)) + log_det
        return torch.logsumexp(log_normal + torch.log(self.weights_.to(flat)), dim=1)

    __call__ = log_density


def _gaussian_blur(v: Tensor, sigma: float, n_spatial: int) -> Tensor:
    """Separable Gaussian blur over the trailing ``n_spatial`` dims (replicate padding)."""
    radius = max(1, math.ceil(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=v.dtype, device=v.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = v
    for d in range(v.dim() - n_spatial, v.dim()):
        moved = out.movedim(d, -1)
        shape = moved.shape
        rows = moved.reshape(-1, 1, shape[-1])
        rows = nn.functional.pad(rows, (radius, radius), mode="replicate")
        rows = nn.functional.conv1d(rows, kernel[None, None])
        out = rows.reshape(shape).movedim(-1, d)
    return out


def _check_bounds(bounds: Any, caller: str) -> tuple[float, float] | None:
    if bounds is None:
        return None
    ok = (
        isinstance(bounds, (tuple, list))
        and len(bounds) == 2
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
        and all(math.isfinite(b) for b in bounds)
        and bounds[0] < bounds[1]
    )
    if not ok:
        raise ValueError(
            f"{caller}: bounds must be a pair (low, high) with low < high; got {bounds!r}."
        )
    return float(bounds[0]), float(bounds[1])


def maximize_activation(
    model: Any,
    objective: Objective | Callable[[Any, Tensor], Tensor],
    init: Tensor,
    *,
    n_restarts: int = 1,
    init_noise: float = 0.0,
    n_steps: int = 200,
    step_size: float = 0.05,
    optimizer: str = "adam",
    l2: float = 0.0,
    tv: float = 0.0,
    jitter: int = 0,
    blur_sigma: float = 0.0,
    blur_every: int = 4,
    transform: Callable[[Tensor, torch.Generator | None], Tensor] | None = None,
    parameterization: str = "identity",
    bounds: tuple[float, float] | None = None,
    max_norm: float | None = None,
    density: Callable[[Tensor], Tensor] | None = None,
    density_weight: float = 1.0,
    decoder: Callable[[Tensor], Tensor] | None = None,
    diversity: float = 0.0,
    n_spatial: int | None = None,
    generator: torch.Generator | None = None,
) -> ActivationMaximization:
    """Gradient ascent on an objective, with regularisers, constraints and data priors.

    Ascends, for every row,

    ``A(T(x)) - l2 ||v||^2 - tv TV(x) + density_weight log q(x) - diversity <cos(x_r, x_s)>``

    where ``v`` is the optimised variable (``x`` itself, or the code ``z`` with ``x = g(z)``), ``T``
    the random jitter/transform of this step, and the last term the mean cosine similarity between
    the restarts of one start.

    Parameters
    ----------
    model : nn.Module or callable
        The network; ``x -> output``. Never modified.
    objective : Objective or callable ``(model, x) -> (n,)``
        What to maximise (:class:`~physxai.features.Objective`). A per-row target
        (``Objective.logit(LongTensor (m,))``) gives each start its own class.
    init : Tensor, shape ``(m, *F)`` (or ``(m, *Z)`` with a decoder)
        The starting points: noise (``torch.randn(m, *F, generator=g)``), the data mean
        (``X.mean(0, keepdim=True)``), class means (:func:`class_means`), or codes.
    n_restarts : int, default 1
        Copies of each start, optimised in the same batch.
    init_noise : float, default 0
        Standard deviation of Gaussian noise added to each copy of a start.
    n_steps : int, default 200
    step_size : float, default 0.05
        Learning rate of the optimiser.
    optimizer : {"adam", "sgd"}, default "adam"
        ``"sgd"`` is plain gradient ascent ``v += step_size * grad``.
    l2 : float, default 0
        lambda of the ``- lambda ||v||^2`` penalty (on ``x``, or on ``z`` with a decoder).
    tv : float, default 0
        Weight of the total variation of ``x`` (:func:`total_variation`).
    jitter : int, default 0
        Roll ``x`` by a random shift in ``[-jitter, jitter]`` along each spatial dim before the
        model sees it (one shift per step for the batch; periodic, like a lattice).
    blur_sigma : float, default 0
        Blur the optimised variable with a Gaussian of this width every ``blur_every`` steps.
    blur_every : int, default 4
    transform : callable ``(x, generator) -> x`` or None
        A random transformation applied before the model at every step (transformation
        robustness); it must keep the shape.
    parameterization : {"identity", "tanh"}, default "identity"
        ``"tanh"``: ``x = lo + (hi - lo)(tanh(v) + 1)/2`` stays inside ``bounds`` (default
        ``(-1, 1)``, the spins' range); ``"identity"`` with ``bounds`` projects (clamps) after
        each step, e.g. onto the pixel range ``(0, 16)``.
    bounds : (float, float) or None
    max_norm : float or None
        Project every row of ``v`` onto the L2 ball of this radius after each step.
    density : callable ``x -> (n,)`` or None
        A log-density ``log q(x)`` (a fitted :class:`GaussianMixtureDensity`).
    density_weight : float, default 1
    decoder : callable ``z -> x`` or None
        Optimise in code space: ``init`` holds codes, the model sees ``decoder(z)``. Use the
        bottleneck probe's ``decoder_`` (wrap a Bernoulli decoder's logits in a sigmoid).
    diversity : float, default 0
        Weight of the mean pairwise cosine similarity between restarts (needs n_restarts > 1).
    n_spatial : int or None
        Trailing spatial dims of ``x`` for TV, jitter and blur; default ``min(2, x.dim() - 1)``.
    generator : torch.Generator or None
        Source of the restarts' noise and the jitter; None uses torch's global generator.

    Returns
    -------
    ActivationMaximization
        ``inputs (m, n_restarts, *F)``, ``codes``, ``objective (m, n_restarts)``,
        ``trajectory (n_steps + 1, m, n_restarts)``, ``total_trajectory``, ``init`` and
        ``settings``.

    Raises
    ------
    ValueError
        An objective naming a layer the model does not have (the message lists the valid ones),
        bad init, a non-positive setting, inconsistent options (``max_norm`` with ``tanh``, blur
        or bounds with a decoder, diversity with one restart).
    TypeError
        An objective that is neither an ``Objective`` nor a callable.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from physxai.features import Objective, maximize_activation
    >>> model = nn.Linear(3, 2)
    >>> res = maximize_activation(model, Objective.logit(0), torch.zeros(1, 3), max_norm=1.0,
    ...                           n_steps=50, optimizer="sgd", step_size=0.5)
    >>> res.inputs.shape
    torch.Size([1, 1, 3])

    References
    ----------
    Simonyan et al., arXiv:1312.6034; Montavon et al., arXiv:1706.07979, Sec. 3;
    Nguyen et al., arXiv:1605.09304; Yosinski et al., arXiv:1506.06579.
    """
    caller = "maximize_activation"
    objective = as_objective(objective, caller)
    init = check_inputs(init, caller, "init")
    check_positive_int(n_restarts, caller, "n_restarts")
    init_noise = check_positive_float(init_noise, caller, "init_noise", allow_zero=True)
    check_positive_int(n_steps, caller, "n_steps")
    step_size = check_positive_float(step_size, caller, "step_size")
    check_choice(optimizer, OPTIMIZERS, caller, "optimizer")
    l2 = check_positive_float(l2, caller, "l2", allow_zero=True)
    tv = check_positive_float(tv, caller, "tv", allow_zero=True)
    check_positive_int(jitter, caller, "jitter", minimum=0)
    blur_sigma = check_positive_float(blur_sigma, caller, "blur_sigma", allow_zero=True)
    check_positive_int(blur_every, caller, "blur_every")
    check_choice(parameterization, PARAMETERIZATIONS, caller, "parameterization")
    bounds = _check_bounds(bounds, caller)
    if max_norm is not None:
        max_norm = check_positive_float(max_norm, caller, "max_norm")
    density_weight = check_positive_float(density_weight, caller, "density_weight", allow_zero=True)
    diversity = check_positive_float(diversity, caller, "diversity", allow_zero=True)
    for name, fn in (("transform", transform), ("density", density), ("decoder", decoder)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{caller}: {name} must be callable or None; got {type(fn).__name__}.")
    if parameterization == "tanh":
        if max_norm is not None:
            raise ValueError(f"{caller}: max_norm needs parameterization='identity'; got 'tanh'.")
        bounds = bounds or (-1.0, 1.0)
    if decoder is not None and blur_sigma > 0:
        raise ValueError(
            f"{caller}: blur_sigma smooths the optimised input; with a decoder the code is "
            "optimised, so set blur_sigma=0 (the decoder's range is already smooth)."
        )
    if diversity > 0 and n_restarts < 2:
        raise ValueError(
            f"{caller}: diversity compares restarts of one start; it needs n_restarts >= 2, got "
            f"{n_restarts}."
        )
    gen = check_generator(generator, init, caller)
    check_same_device(model, init, caller)
    modules = check_objective_layers(model, objective, caller)
    warn_if_training(model, caller)

    m, n_rows = init.shape[0], init.shape[0] * n_restarts
    row_index = torch.arange(m, device=init.device).repeat_interleave(n_restarts)
    start = init.detach().repeat_interleave(n_restarts, dim=0)
    if init_noise > 0:
        start = start + init_noise * torch.randn(
            start.shape, generator=gen, dtype=start.dtype, device=start.device
        )
    lo, hi = bounds if bounds is not None else (None, None)
    if parameterization == "tanh":
        # invert x = lo + (hi - lo)(tanh(v) + 1)/2, clipped inside the open interval
        unit = (2 * (start - lo) / (hi - lo) - 1).clamp(-1 + 1e-6, 1 - 1e-6)
        v0 = torch.atanh(unit)
    else:
        v0 = start.clamp(lo, hi) if bounds is not None else start
    v = v0.clone().requires_grad_(True)

    def to_input(var: Tensor) -> Tensor:
        if decoder is not None:
            var = decoder(var)
        if parameterization == "tanh":
            return lo + (hi - lo) * (torch.tanh(var) + 1) / 2
        return var

    with torch.no_grad():
        x_probe = to_input(v0)
    if not isinstance(x_probe, Tensor) or x_probe.dim() < 1 or x_probe.shape[0] != n_rows:
        got = tuple(x_probe.shape) if isinstance(x_probe, Tensor) else type(x_probe).__name__
        raise ValueError(
            f"{caller}: the decoder must map codes ({n_rows}, ...) to a batch of inputs; got {got}."
        )
    if n_spatial is None:
        n_spatial = min(2, x_probe.dim() - 1)
    if not 0 <= n_spatial <= x_probe.dim() - 1:
        raise ValueError(
            f"{caller}: n_spatial must be in [0, {x_probe.dim() - 1}] for inputs of shape "
            f"{tuple(x_probe.shape)}; got {n_spatial}."
        )
    spatial = list(range(x_probe.dim() - n_spatial, x_probe.dim()))

    # Adam (Kingma & Ba 2015) or plain ascent, written out: torch.optim's first use imports
    # the compiler stack (~3 s), and the update is a few lines
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    moment1, moment2 = torch.zeros_like(v), torch.zeros_like(v)
    trajectory, totals = [], []
    for step in range(n_steps):
        x = to_input(v)
        seen = x
        if jitter > 0 and spatial:
            shifts = torch.randint(
                -jitter, jitter + 1, (len(spatial),), generator=gen, device=x.device
            ).tolist()
            seen = torch.roll(seen, shifts=shifts, dims=spatial)
        if transform is not None:
            seen = transform(seen, gen)
            if not isinstance(seen, Tensor) or seen.shape != x.shape:
                raise ValueError(f"{caller}: transform must keep the shape {tuple(x.shape)}.")
        if step == 0:
            value = _first_evaluation(model, seen, objective, caller, row_index, modules, init)
        else:
            value = evaluate_objective(model, seen, objective, caller, row_index, modules)
        total = value
        if l2 > 0:
            total = total - l2 * v.reshape(n_rows, -1).pow(2).sum(dim=1)
        if tv > 0:
            total = total - tv * total_variation(x, n_spatial)
        if density is not None:
            log_q = density(x)
            if not isinstance(log_q, Tensor) or log_q.shape != (n_rows,):
                raise ValueError(
                    f"{caller}: density must return a log-density of shape ({n_rows},)."
                )
            total = total + density_weight * log_q
        if diversity > 0:
            flat = nn.functional.normalize(x.reshape(m, n_restarts, -1), dim=2)
            cos = flat @ flat.transpose(1, 2)
            off = (cos.sum(dim=(1, 2)) - cos.diagonal(dim1=1, dim2=2).sum(dim=1)) / (
                n_restarts * (n_restarts - 1)
            )
            total = total - diversity * off.repeat_interleave(n_restarts)
        trajectory.append(value.detach())
        totals.append(total.detach())
        (grad,) = torch.autograd.grad(total.sum(), v)
        with torch.no_grad():
            if optimizer == "sgd":
                v.add_(step_size * grad)  # ascent
            else:
                moment1.mul_(beta1).add_((1 - beta1) * grad)
                moment2.mul_(beta2).add_((1 - beta2) * grad * grad)
                m_hat = moment1 / (1 - beta1 ** (step + 1))
                v_hat = moment2 / (1 - beta2 ** (step + 1))
                v.add_(step_size * m_hat / (v_hat.sqrt() + eps))
            if blur_sigma > 0 and (step + 1) % blur_every == 0 and spatial:
                v.copy_(_gaussian_blur(v, blur_sigma, n_spatial))
            if parameterization == "identity" and bounds is not None:
                v.clamp_(lo, hi)
            if max_norm is not None:
                norms = v.reshape(n_rows, -1).norm(dim=1).clamp_min(max_norm)
                v.mul_((max_norm / norms).reshape(-1, *([1] * (v.dim() - 1))))
    v = v.detach()
    with torch.enable_grad():
        x_final = to_input(v).detach()
        final = evaluate_objective(model, x_final, objective, caller, row_index, modules).detach()
    trajectory.append(final)
    settings = {
        "objective": objective.description,
        "n_restarts": n_restarts,
        "init_noise": init_noise,
        "n_steps": n_steps,
        "step_size": step_size,
        "optimizer": optimizer,
        "l2": l2,
        "l2_on": "codes" if decoder is not None else "inputs",
        "tv": tv,
        "jitter": jitter,
        "blur_sigma": blur_sigma,
        "blur_every": blur_every,
        "transform": None if transform is None else getattr(transform, "__name__", "callable"),
        "parameterization": parameterization,
        "bounds": bounds,
        "max_norm": max_norm,
        "density": None if density is None else repr(density),
        "density_weight": density_weight if density is not None else 0.0,
        "decoder": None if decoder is None else type(decoder).__name__,
        "diversity": diversity,
        "n_spatial": n_spatial,
    }
    shape = (m, n_restarts)
    return ActivationMaximization(
        inputs=x_final.reshape(*shape, *x_final.shape[1:]),
        codes=None if decoder is None else v.reshape(*shape, *v.shape[1:]),
        objective=final.reshape(shape),
        trajectory=torch.stack(trajectory).reshape(n_steps + 1, *shape),
        total_trajectory=torch.stack(totals).reshape(n_steps, *shape),
        init=init.detach().clone(),
        settings=settings,
    )


def _first_evaluation(
    model: Any,
    x: Tensor,
    objective: Objective,
    caller: str,
    row_index: Tensor,
    modules: dict[str, nn.Module],
    init: Tensor,
) -> Tensor:
    """The first forward pass, with a shape mismatch between init and the model named clearly."""
    try:
        return evaluate_objective(model, x, objective, caller, row_index, modules)
    except RuntimeError as err:
        raise ValueError(
            f"{caller}: the model could not run on inputs of shape {tuple(x.shape)} built from "
            f"init of shape {tuple(init.shape)}; init must be (m, *F) with the model's input "
            f"shape F (or the decoder's code shape). The model said: {err}"
        ) from err


def deep_dream(
    model: Any,
    inputs: Tensor,
    objective: str | Objective | Callable[[Any, Tensor], Tensor],
    *,
    n_steps: int = 20,
    step_size: float = 0.05,
    jitter: int = 0,
    bounds: tuple[float, float] | None = None,
    n_spatial: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DeepDream: enhance in a given input what a chosen layer detects.

    Normalised gradient ascent from the input itself, ``x <- x + step_size g / mean|g|`` (per
    sample), on the squared L2 norm of a layer's activation (or any objective), with optional
    jitter and projection onto ``bounds``. Mordvintsev, Olah, Tyka, "Inceptionism" (2015).

    Parameters
    ----------
    model : nn.Module or callable
    inputs : Tensor, shape ``(n, *F)``
        The inputs to dream on; not modified.
    objective : str, Objective or callable
        A layer name (its :meth:`Objective.layer_norm` is ascended) or any objective.
    n_steps : int, default 20
    step_size : float, default 0.05
        Step in units of the mean absolute gradient.
    jitter : int, default 0
    bounds : (float, float) or None
    n_spatial : int or None
    generator : torch.Generator or None

    Returns
    -------
    Tensor
        Shape, dtype and device of ``inputs``.

    Raises
    ------
    ValueError
        A layer name the model does not have (the message lists the valid ones), bad inputs.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    >>> deep_dream(model, torch.ones(2, 4), "1", n_steps=3).shape
    torch.Size([2, 4])
    """
    caller = "deep_dream"
    if isinstance(objective, str):
        objective = Objective.layer_norm(objective)
    objective = as_objective(objective, caller)
    inputs = check_inputs(inputs, caller)
    check_positive_int(n_steps, caller, "n_steps")
    step_size = check_positive_float(step_size, caller, "step_size")
    check_positive_int(jitter, caller, "jitter", minimum=0)
    bounds = _check_bounds(bounds, caller)
    gen = check_generator(generator, inputs, caller)
    check_same_device(model, inputs, caller)
    modules = check_objective_layers(model, objective, caller)
    warn_if_training(model, caller)
    if n_spatial is None:
        n_spatial = min(2, inputs.dim() - 1)
    spatial = list(range(inputs.dim() - n_spatial, inputs.dim()))
    x = inputs.detach().clone()
    for _ in range(n_steps):
        x.requires_grad_(True)
        seen, shifts = x, []
        if jitter > 0 and spatial:
            shifts = torch.randint(-jitter, jitter + 1, (len(spatial),), generator=gen).tolist()
            seen = torch.roll(x, shifts=shifts, dims=spatial)
        value = evaluate_objective(model, seen, objective, caller, modules=modules)
        (grad,) = torch.autograd.grad(value.sum(), x)
        with torch.no_grad():
            scale = grad.reshape(grad.shape[0], -1).abs().mean(dim=1).clamp_min(1e-12)
            x = x + step_size * grad / scale.reshape(-1, *([1] * (grad.dim() - 1)))
            if bounds is not None:
                x = x.clamp(*bounds)
        x = x.detach()
    return x
