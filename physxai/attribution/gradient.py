"""Gradient-family attribution: saliency, gradient x input, integrated and interior gradients,
SmoothGrad.

All of them read the gradient of the explained output with respect to the input, at the input
itself or at points derived from it. Methods that evaluate many points per sample (the steps of
integrated gradients, the noisy copies of SmoothGrad) lay the points out step-major, evaluate
them in chunks of at most ``max_batch_size`` rows, and accumulate per sample with ``index_add_``,
so memory is bounded by one chunk whatever ``n_steps`` or ``n_samples`` is, and the result does
not depend on the chunk size.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from .._validation import (
    TargetFn,
    check_baseline,
    check_choice,
    check_generator,
    check_positive_float,
    check_positive_int,
)
from ._base import DEFAULT_MAX_BATCH_SIZE, Attribution, batched_gradient

__all__ = ["Saliency", "GradientXInput", "IntegratedGradients", "InteriorGradients", "SmoothGrad"]


class Saliency(Attribution):
    """Saliency map: the gradient of the explained output with respect to the input.

    Parameters
    ----------
    model : nn.Module or callable
    mode : {"gradient", "abs", "squared"}
        ``"gradient"`` returns df/dx_i, ``"abs"`` its magnitude (Simonyan et al. 2013),
        ``"squared"`` the sensitivity R_i = (df/dx_i)^2 (seed 001, Montavon et al. 2018).

    References
    ----------
    K. Simonyan, A. Vedaldi, A. Zisserman, arXiv:1312.6034 (2013).
    """

    name = "saliency"

    def __init__(self, model: Callable[[Tensor], Tensor], *, mode: str = "gradient"):
        super().__init__(model)
        self.mode = check_choice(mode, ("gradient", "abs", "squared"), "Saliency", "mode")

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Return the (transformed) gradient, shaped like ``inputs``."""
        x, tgt = self._prepare(inputs, target)
        grad = batched_gradient(self.model, x, self._index(len(x), x.device), tgt)
        if self.mode == "abs":
            return grad.abs()
        if self.mode == "squared":
            return grad.square()
        return grad


class GradientXInput(Attribution):
    """Gradient times input, R_i = x_i df/dx_i (Shrikumar et al. 2016).

    For a bias-free ReLU network this is the naive Taylor decomposition at the root point
    x~ = 0 and conserves f(x) exactly (Euler's theorem for positively homogeneous functions).
    """

    name = "gradient_x_input"

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Return x * grad f(x), shaped like ``inputs``."""
        x, tgt = self._prepare(inputs, target)
        return x * batched_gradient(self.model, x, self._index(len(x), x.device), tgt)


_IG_METHODS = ("gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def integration_nodes(n_steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Nodes alpha_k in [0, 1] and weights w_k with sum_k w_k g(alpha_k) ~ int_0^1 g(a) da.

    Gauss-Legendre with ``n_steps`` nodes integrates polynomials of degree 2 n_steps - 1
    exactly; the Riemann rules are first order (left/right) or second order (middle,
    trapezoid) in 1/n_steps.
    """
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return (nodes + 1) / 2, weights / 2
    if method == "riemann_trapezoid":
        if n_steps == 1:
            return np.array([0.5]), np.array([1.0])
        alphas = np.linspace(0.0, 1.0, n_steps)
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] /= 2
        return alphas, w
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(n_steps) + offset) / n_steps, np.full(n_steps, 1.0 / n_steps)


def _step_chunks(n_points: int, n: int, max_batch_size: int):
    """Yield (first_point, n_points_in_chunk, row_slice_within_points) covering points x samples.

    Rows are laid out point-major (row = k * n + i). A chunk holds whole points when
    ``max_batch_size >= n`` and a part of one point otherwise.
    """
    if max_batch_size >= n:
        per = max_batch_size // n
        for k in range(0, n_points, per):
            yield k, min(per, n_points - k), slice(0, n)
    else:
        for k in range(n_points):
            for start in range(0, n, max_batch_size):
                yield k, 1, slice(start, min(start + max_batch_size, n))


class IntegratedGradients(Attribution):
    """Integrated gradients (Sundararajan, Taly, Yan 2017).

    R_i = (x_i - b_i) int_0^1 df/dx_i(b + a (x - b)) da, with the integral taken by
    Gauss-Legendre quadrature (default) or a Riemann rule. Completeness sum_i R_i = f(x) - f(b)
    holds up to the quadrature error; check it with :func:`completeness_delta`.

    Parameters
    ----------
    model : nn.Module or callable
    n_steps : int
        Number of quadrature nodes along the straight path.
    quadrature : {"gausslegendre", "riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid"}

    References
    ----------
    M. Sundararajan, A. Taly, Q. Yan, Axiomatic attribution for deep networks, ICML 2017,
    arXiv:1703.01365.
    """

    name = "integrated_gradients"

    def __init__(self, model: Callable[[Tensor], Tensor], *, n_steps: int = 50, quadrature: str = "gausslegendre"):
        super().__init__(model)
        self.n_steps = check_positive_int(n_steps, "IntegratedGradients", "n_steps")
        self.quadrature = check_choice(quadrature, _IG_METHODS, "IntegratedGradients", "quadrature")

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        baseline: float | Tensor | None = 0.0,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> Tensor:
        """Return integrated gradients shaped like ``inputs``.

        ``baseline`` is a float or a tensor broadcastable as ``(1, *F)`` or ``(n, *F)``;
        ``None`` means the zero baseline. All ``n_steps x n`` path points are evaluated in
        chunks of at most ``max_batch_size`` rows.
        """
        x, tgt = self._prepare(inputs, target)
        base = check_baseline(baseline, x, self._caller)
        step = self._check_max_batch_size(max_batch_size)
        alphas, weights = integration_nodes(self.n_steps, self.quadrature)
        avg_grad = _path_gradient(self.model, x, base, tgt, alphas, weights, step)
        return (x - base) * avg_grad


def _path_gradient(
    model: Callable, x: Tensor, base: Tensor, tgt: TargetFn, alphas: np.ndarray, weights: np.ndarray, step: int
) -> Tensor:
    """sum_k w_k grad f(b + alpha_k (x - b)), accumulated chunk by chunk."""
    n = x.shape[0]
    delta = x - base
    a = torch.as_tensor(alphas, dtype=x.dtype, device=x.device)
    w = torch.as_tensor(weights, dtype=x.dtype, device=x.device)
    feat = (1,) * (x.dim() - 1)
    total = torch.zeros_like(x)
    for k0, nk, rows in _step_chunks(len(alphas), n, step):
        ak = a[k0 : k0 + nk].view(nk, 1, *feat)
        points = (base[rows].unsqueeze(0) + ak * delta[rows].unsqueeze(0)).reshape(-1, *x.shape[1:])
        index = torch.arange(n, device=x.device)[rows].repeat(nk)
        grad = batched_gradient(model, points, index, tgt)
        total[rows] += (grad.view(nk, -1, *x.shape[1:]) * w[k0 : k0 + nk].view(nk, 1, *feat)).sum(0)
    return total


class InteriorGradients(Attribution):
    """Interior gradients: the gradient at a scaled-down input b + alpha (x - b), 0 < alpha <= 1.

    Gradients at the input itself are often saturated; at interior points of the straight path
    from the baseline they show which features the model is sensitive to before saturation
    (Sundararajan, Taly, Yan 2016, arXiv:1611.02639; seed 002). With ``multiply_by_inputs`` the
    gradient is multiplied by (x - b), as in gradient x input.
    """

    name = "interior_gradients"

    def __init__(
        self, model: Callable[[Tensor], Tensor], *, alpha: float = 0.5, multiply_by_inputs: bool = False
    ):
        super().__init__(model)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 1:
            raise ValueError(f"InteriorGradients: alpha must be a number in (0, 1]; got {alpha!r}.")
        self.alpha = float(alpha)
        if not isinstance(multiply_by_inputs, bool):
            raise TypeError(
                f"InteriorGradients: multiply_by_inputs must be a bool; got {type(multiply_by_inputs).__name__}."
            )
        self.multiply_by_inputs = multiply_by_inputs

    def attribute(self, inputs: Tensor, *, target: Any = None, baseline: float | Tensor | None = 0.0) -> Tensor:
        """Return grad f(b + alpha (x - b)) (times x - b if ``multiply_by_inputs``)."""
        x, tgt = self._prepare(inputs, target)
        base = check_baseline(baseline, x, self._caller)
        grad = batched_gradient(self.model, base + self.alpha * (x - base), self._index(len(x), x.device), tgt)
        return grad * (x - base) if self.multiply_by_inputs else grad


class SmoothGrad(Attribution):
    """SmoothGrad: an attribution averaged over noisy copies of the input.

    R = E_eps[A(x + eps)], eps ~ N(0, sigma^2) (Smilkov et al. 2017); ``variant="squared"``
    gives E[A^2] (SmoothGrad-squared) and ``"vargrad"`` gives Var[A] (Adebayo et al. 2018), the
    two that beat random removal in ROAR (Hooker et al. 2019).

    Parameters
    ----------
    model : nn.Module or callable
    base_method : str or Attribution subclass
        The wrapped method (``"saliency"`` by default; any registered gradient-family name such
        as ``"gradient_x_input"``, ``"integrated_gradients"``, ``"guided_backprop"``).
    n_samples : int
        Noisy copies per input.
    noise_level : float
        With ``noise="relative"`` sigma = noise_level * (max(x) - min(x)) per sample (the
        paper's 10-20 %); with ``noise="absolute"`` sigma = noise_level.
    variant : {"mean", "squared", "vargrad"}
    base_options : dict or None
        Constructor options of the wrapped method (``{"n_steps": 16}``).

    References
    ----------
    D. Smilkov et al., SmoothGrad: removing noise by adding noise, arXiv:1706.03825 (2017).
    """

    name = "smoothgrad"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        base_method: str | type[Attribution] = "saliency",
        n_samples: int = 50,
        noise_level: float = 0.15,
        noise: str = "relative",
        variant: str = "mean",
        base_options: dict[str, Any] | None = None,
    ):
        super().__init__(model)
        self.base_method = base_method
        self.n_samples = check_positive_int(n_samples, "SmoothGrad", "n_samples")
        self.noise_level = check_positive_float(noise_level, "SmoothGrad", "noise_level", allow_zero=True)
        self.noise = check_choice(noise, ("relative", "absolute"), "SmoothGrad", "noise")
        self.variant = check_choice(variant, ("mean", "squared", "vargrad"), "SmoothGrad", "variant")
        if base_options is not None and not isinstance(base_options, dict):
            raise TypeError(
                f"SmoothGrad: base_options must be a dict or None; got {type(base_options).__name__}."
            )
        self.base_options = base_options
        self.inner_ = self._build_inner()

    def _build_inner(self) -> Attribution:
        from . import METHODS  # the registry imports this module; resolve names lazily

        cls = self.base_method
        if isinstance(cls, str):
            if cls not in METHODS or cls == "smoothgrad":
                names = ", ".join(sorted(set(METHODS) - {"smoothgrad"}))
                raise ValueError(f"SmoothGrad: base_method must be one of {names}; got {cls!r}.")
            cls = METHODS[cls]
        elif not (isinstance(cls, type) and issubclass(cls, Attribution)) or cls is SmoothGrad:
            raise TypeError(
                f"SmoothGrad: base_method must be a method name or an Attribution subclass; got {cls!r}."
            )
        try:
            return cls(self.model, **(self.base_options or {}))
        except TypeError as err:
            raise TypeError(f"SmoothGrad: base_options do not fit {cls.__name__}: {err}") from err

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        baseline: float | Tensor | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Return the smoothed attribution shaped like ``inputs``.

        ``baseline`` is passed to the wrapped method and is only accepted when that method
        takes one (integrated gradients, DeepLIFT, ...). Noise is drawn from ``generator``
        one noisy copy of the batch at a time, so the result does not depend on
        ``max_batch_size``.
        """
        x, _ = self._prepare(inputs, target)
        step = self._check_max_batch_size(max_batch_size)
        gen = check_generator(generator, x, self._caller)
        inner_params = inspect.signature(self.inner_.attribute).parameters
        extra: dict[str, Any] = {}
        if baseline is not None:
            if "baseline" not in inner_params:
                raise TypeError(
                    f"{self._caller}: the wrapped method {type(self.inner_).__name__} takes no baseline; got one."
                )
        n = x.shape[0]
        feat = (1,) * (x.dim() - 1)
        if self.noise == "relative":
            span = (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(n, *feat)
            sigma = self.noise_level * span
        else:
            sigma = torch.full((n, *feat), self.noise_level, dtype=x.dtype, device=x.device)
        base = check_baseline(baseline, x, self._caller) if baseline is not None else None
        first = torch.zeros_like(x)
        second = torch.zeros_like(x)
        per = max(1, step // n)
        k = 0
        while k < self.n_samples:
            nk = min(per, self.n_samples - k)
            # one draw per noisy copy of the whole batch, in order: independent of the chunking
            noise = torch.stack(
                [torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device) for _ in range(nk)]
            )
            rows = (x.unsqueeze(0) + sigma.unsqueeze(0) * noise).reshape(nk * n, *x.shape[1:])
            index = torch.arange(n, device=x.device).repeat(nk)
            if base is not None:
                extra["baseline"] = base[index]
            if "max_batch_size" in inner_params:
                extra["max_batch_size"] = step
            a = self.inner_.attribute(rows, target=_expand_target(target, index), **extra)
            a = a.view(nk, n, *x.shape[1:])
            first += a.sum(0)
            second += a.square().sum(0)
            k += nk
        mean = first / self.n_samples
        if self.variant == "mean":
            return mean
        if self.variant == "squared":
            return second / self.n_samples
        return (second / self.n_samples - mean.square()).clamp_min(0)


def _expand_target(target: Any, index: Tensor) -> Any:
    """A per-sample LongTensor target follows its sample into the expanded batch."""
    if isinstance(target, Tensor) and target.dim() == 1:
        return target.to(index.device)[index]
    return target
