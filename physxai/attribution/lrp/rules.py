"""LRP rules: how relevance passes backwards through one layer.

A rule maps the relevance ``R_j`` at a layer's outputs to relevance ``R_i`` at its inputs. The
rules here are the z-rules of layer-wise relevance propagation and deep Taylor decomposition,

    R_i = sum_j  q_ij(x, W) / sum_i' q_i'j(x, W)  R_j,

and differ only in the contributions ``q_ij``. Each is evaluated with the *gradient trick* (seed
001, Montavon, Samek, Mueller 2017): re-run the layer with modified weights (and inputs),
``z = layer_mod(x_mod)``, divide the upper relevance by ``z`` and take one vector-Jacobian product,
``c = J_mod^T (R / z)``; then ``R_in = x_mod * c``. Because the layer is linear, the product
``J_mod^T s`` is exactly ``sum_j w_mod_ij s_j``, so the result is the formula above, vectorised over
the batch and valid for dense, convolutional and pooling layers alike.

Biases enter as an extra input ``a_0 = 1`` with weight ``b_j`` (Montavon et al. 2019), so the
rules that keep them (Epsilon, Gamma, ZPlus, AlphaBeta) let the bias absorb its share of relevance;
in a bias-free network they conserve relevance exactly. The stabilisers follow seed 001: only the
epsilon rule adds epsilon on purpose; every other rule guards only denominators that are exactly
zero (their relevance is dropped), and is otherwise the exact formula.

References
----------
S. Bach et al., PLoS ONE 10, e0130140 (2015) (epsilon, alpha-beta).
G. Montavon et al., Pattern Recognit. 65, 211 (2017), arXiv:1512.02479 (z+, z^B, w^2).
G. Montavon et al., in Explainable AI, LNCS 11700, 193 (2019) (gamma, composites).
S. Lapuschkin et al., Nat. Commun. 10, 1096 (2019) (flat).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..._validation import check_positive_float
from ...errors import UnsupportedLayerError
from ._layer import Layer, WeightFn

__all__ = ["AlphaBeta", "Epsilon", "Flat", "Gamma", "Pass", "Rule", "WSquare", "ZBox", "ZPlus"]


def _positive(w: Tensor) -> Tensor:
    return w.clamp(min=0)


def _negative(w: Tensor) -> Tensor:
    return w.clamp(max=0)


def _ones(w: Tensor) -> Tensor:
    return torch.ones_like(w)


def _square(w: Tensor) -> Tensor:
    return w * w


def safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator``, and 0 where the denominator is exactly zero.

    The stabiliser of z+, z^B, gamma, alpha-beta, flat and w^2 (seed 001: "add a stabiliser only
    where a denominator is exactly zero"): a neuron with a zero denominator passes no relevance.
    """
    zero = denominator == 0
    return (numerator / (denominator + zero)).masked_fill_(zero, 0.0)


def _leaf(t: Tensor) -> Tensor:
    return t.detach().requires_grad_(True)


def _vjps(terms: list[tuple[Tensor | None, Tensor, Tensor]]) -> list[Tensor | None]:
    """``J_k^T s_k`` for each ``(z_k, leaf_k, s_k)``; None where ``z_k`` is None (a zero map).

    One autograd call for all terms; each term has its own leaf, so gradients never mix.
    """
    live = [t for t in terms if t[0] is not None]
    if not live:
        return [None] * len(terms)
    grads = torch.autograd.grad(
        [t[0] for t in live], [t[1] for t in live], [t[2] for t in live], allow_unused=True
    )
    out: list[Tensor | None] = []
    it = iter(grads)
    for z, leaf, _ in terms:
        if z is None:
            out.append(None)
        else:
            g = next(it)
            out.append(torch.zeros_like(leaf) if g is None else g)
    return out


def _sum(parts: list[Tensor | None], like: Tensor) -> Tensor:
    total: Tensor | None = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return torch.zeros_like(like) if total is None else total


def _mul(a: Tensor, b: Tensor | None) -> Tensor | None:
    return None if b is None else a * b


def _split(x: Tensor) -> tuple[Tensor, Tensor | None]:
    """``(x+, x-)``; ``x-`` is None when no entry is negative (after a ReLU), to skip its terms."""
    if bool((x < 0).any()):
        return x.clamp(min=0), x.clamp(max=0)
    return x, None


def _signed(
    layer: Layer,
    x: Tensor,
    weight_pos: WeightFn,
    weight_neg: WeightFn,
    relevance: Tensor,
) -> Tensor:
    """The z-rule for ``z = layer(x+; weight_pos(W), weight_pos(b)) + layer(x-; weight_neg(W))``.

    ``R_in = x+ * weight_pos(W)^T s + x- * weight_neg(W)^T s`` with ``s = R / z``: the form shared
    by z+ (W+, W-), alpha-beta and gamma, where inputs of either sign are paired with the weights
    that give contributions of the wanted sign.
    """
    xp, xn = _split(x)
    lp = _leaf(xp)
    terms = [(layer.forward(lp, weight_pos, weight_pos), lp)]
    if xn is not None:
        ln = _leaf(xn)
        terms.append((layer.forward(ln, weight_neg, use_bias=False), ln))
    z = _sum([None if t[0] is None else t[0].detach() for t in terms], relevance)
    grads = _vjps([(zt, leaf, safe_divide(relevance, z)) for zt, leaf in terms])
    return _sum([_mul(xp, grads[0])] + ([_mul(xn, grads[1])] if xn is not None else []), x)


class Rule:
    """Base class of LRP rules.

    A rule implements :meth:`propagate`, mapping the relevance at a layer's output to the
    relevance at its input, for a whole batch at once. ``needs_weights`` says whether it modifies
    the weights (so applies only to Linear, Conv and average-pooling layers).
    """

    #: True if the rule modifies the layer's weights (Linear, Conv, average pooling only)
    needs_weights: bool = True

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        """Relevance at the layer input, shape of ``x``, from ``relevance`` at its output."""
        raise NotImplementedError

    def check(self, layer: Layer, x: Tensor, caller: str) -> None:
        """Validate the rule against the layer's input during the forward pass (fail fast)."""

    def _params(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({inner})"


class Epsilon(Rule):
    """LRP-epsilon: ``R_i = sum_j a_i w_ij / (z_j + eps sign(z_j)) R_j``.

    Here ``z_j = sum_i a_i w_ij + b_j``.

    Eq. (58), Bach et al. 2015, with sign(0) = +1. ``epsilon=0`` is LRP-0 (relevance equals
    gradient x input on a bias-free ReLU network); then exactly-zero denominators drop their
    relevance. Applies to any layer with one input (it uses the layer's own Jacobian), which is
    how average pooling is handled by default (LRP-0).

    Parameters
    ----------
    epsilon : float, default 1e-6
        Non-negative stabiliser; larger values absorb weak or contradictory relevance.
    """

    needs_weights = False

    def __init__(self, epsilon: float = 1e-6):
        self.epsilon = check_positive_float(epsilon, "Epsilon", "epsilon", allow_zero=True)

    def _params(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon}

    def _divide(self, relevance: Tensor, z: Tensor) -> Tensor:
        if self.epsilon > 0:  # z + eps sign(z), sign(0) = +1
            return relevance / torch.where(z >= 0, z + self.epsilon, z - self.epsilon)
        return safe_divide(relevance, z)

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        leaf = _leaf(x)
        z = layer.forward(leaf)
        (g,) = _vjps([(z, leaf, self._divide(relevance, z.detach()))])
        return x * g

    def propagate_on_graph(
        self, layer: Layer, x: Tensor, relevance: Tensor, output: Tensor, z: Tensor
    ) -> Tensor:
        """The same rule from the layer's own forward graph ``output(x)`` and its values ``z``.

        The weights are unmodified, so ``J^T s`` is the plain vector-Jacobian product of the graph
        the forward pass built anyway (for a dense layer simply ``s W``): no re-evaluation.
        """
        s = self._divide(relevance, z)
        if layer.kind == "affine" and isinstance(layer.module, nn.Linear):
            g = s @ layer.weight
        else:
            (g,) = torch.autograd.grad(output, x, s)
        return x.detach() * g


class ZPlus(Rule):
    """The z+ rule: ``R_i = sum_j x_i w+_ij / sum_i' x_i' w+_i'j R_j`` (deep Taylor, hidden layers).

    Eq. (5)/(11), Montavon et al. 2017, for non-negative inputs (after a ReLU). For inputs of
    either sign it counts the positive contributions, ``(x_i w_ij)^+``, and the positive bias
    ``b+_j`` (the alpha=1, beta=0 rule, as in zennit). Relevance is non-negative when the upper
    relevance is.
    """

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        # negative inputs pair with negative weights: both give positive contributions
        return _signed(layer, x, _positive, _negative, relevance)


class AlphaBeta(Rule):
    """The alpha-beta rule: ``R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j``.

    Eq. (60), Bach et al. 2015, with ``z+_ij = (x_i w_ij)^+``, ``z+_j = sum_i z+_ij + b+_j`` and
    likewise for the negative parts. Conserves relevance only if ``alpha - beta = 1``, which is
    enforced.

    Parameters
    ----------
    alpha, beta : float, default 2.0, 1.0
        Non-negative weights of the positive and negative contributions, alpha - beta = 1.
    """

    def __init__(self, alpha: float = 2.0, beta: float = 1.0):
        alpha = check_positive_float(alpha, "AlphaBeta", "alpha", allow_zero=True)
        beta = check_positive_float(beta, "AlphaBeta", "beta", allow_zero=True)
        if not math.isclose(alpha - beta, 1.0, rel_tol=0.0, abs_tol=1e-12):
            raise ValueError(
                f"AlphaBeta: alpha - beta must equal 1 so that relevance is conserved; got "
                f"alpha={alpha!r}, beta={beta!r}. Try AlphaBeta(alpha=2.0, beta=1.0) or "
                "AlphaBeta(alpha=1.0, beta=0.0)."
            )
        self.alpha = alpha
        self.beta = beta

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta}

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        r = self.alpha * _signed(layer, x, _positive, _negative, relevance)
        if self.beta != 0:  # the negative contributions, normalised by their own sum z-_j
            r = r - self.beta * _signed(layer, x, _negative, _positive, relevance)
        return r


class Gamma(Rule):
    """LRP-gamma: ``R_i = sum_j a_i (w_ij + gamma w+_ij) / sum_i' a_i' (w_i'j + gamma w+_i'j) R_j``.

    Montavon et al. 2019, Eq. (4.2), for non-negative inputs and positive outputs; bias
    ``b_j + gamma b+_j``. Generalised to inputs of either sign and to negative outputs as in
    zennit (Andeol et al. 2021): for ``z_j > 0`` the contributions that have the sign of ``z_j``
    are favoured (``x+ (w + gamma w+)``, ``x- (w + gamma w-)``), for ``z_j < 0`` the negative ones
    (``x+ (w + gamma w-)``, ``x- (w + gamma w+)``, bias ``b_j + gamma b-_j``); ``z_j = 0``
    passes nothing. gamma = 0 is LRP-0; gamma -> infinity tends to z+.

    Parameters
    ----------
    gamma : float, default 0.25
        Non-negative weight of the positive (favoured) contributions.
    """

    def __init__(self, gamma: float = 0.25):
        self.gamma = check_positive_float(gamma, "Gamma", "gamma", allow_zero=True)

    def _params(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        g = self.gamma

        def up(w: Tensor) -> Tensor:
            return w + g * w.clamp(min=0)

        def down(w: Tensor) -> Tensor:
            return w + g * w.clamp(max=0)

        with torch.no_grad():
            z = layer.forward(x)
        zero = torch.zeros_like(relevance)
        # outputs z_j > 0 favour positive contributions, z_j < 0 negative ones, z_j = 0 pass none
        r = _signed(layer, x, up, down, torch.where(z > 0, relevance, zero))
        if bool((z < 0).any()):
            r = r + _signed(layer, x, down, up, torch.where(z < 0, relevance, zero))
        return r


def _check_bound(value: Any, name: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, Tensor)):
        raise TypeError(f"ZBox: {name} must be a float or a tensor; got {type(value).__name__}.")
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise ValueError(
                f"ZBox: {name} must be a floating-point tensor; got dtype {value.dtype}."
            )
        if not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"ZBox: {name} must be finite; use WSquare() for an input without bounds."
            )
        return value
    if not math.isfinite(value):
        raise ValueError(
            f"ZBox: {name} must be finite; got {value!r}. Use WSquare() for unbounded inputs."
        )
    return float(value)


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(map(str, t.shape)) + (",)" if t.dim() == 1 else ")")


class ZBox(Rule):
    """The z^B rule for inputs in a box ``low <= x <= high`` (deep Taylor, input layer).

    ``R_i = sum_j q_ij / sum_i' q_i'j R_j`` with ``q_ij = x_i w_ij - l_i w+_ij - h_i w-_ij``
    (Montavon et al. 2017, Eq. (13)). Every term is non-negative for ``x`` inside the box, so the
    relevance is non-negative when the upper relevance is; biases do not enter.

    Parameters
    ----------
    low, high : float or Tensor
        The box. A tensor broadcasts against one sample (``(*F,)``, ``(1, *F)`` or per channel,
        e.g. ``(1, C, 1, 1)``) or against the batch ``(n, *F)``; it must have the dtype and
        device of the layer's input. For digits, ``low=0, high=16``.
    """

    def __init__(self, low: float | Tensor, high: float | Tensor):
        low = _check_bound(low, "low")
        high = _check_bound(high, "high")
        if isinstance(low, Tensor) or isinstance(high, Tensor):
            lo = low if isinstance(low, Tensor) else torch.tensor(low)
            hi = high if isinstance(high, Tensor) else torch.tensor(high)
            try:
                torch.broadcast_shapes(lo.shape, hi.shape)
            except RuntimeError:
                raise ValueError(
                    f"ZBox: low and high must broadcast against each other; got shapes "
                    f"{_shape(lo)} and {_shape(hi)}."
                ) from None
            if lo.device == hi.device:
                bad = int((lo > hi).sum())
                if bad:
                    raise ValueError(
                        f"ZBox: low must be <= high everywhere; got low > high at {bad} entries."
                    )
        elif low > high:
            raise ValueError(f"ZBox: low must be <= high; got low={low!r} > high={high!r}.")
        self.low = low
        self.high = high

    def _params(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}

    def _bound(self, value: float | Tensor, x: Tensor, name: str, where: str) -> Tensor:
        if not isinstance(value, Tensor):
            return torch.full_like(x, value)
        if value.device != x.device:
            raise ValueError(
                f"{where}: ZBox {name} must be on the device of the layer input ({x.device}); got "
                f"{value.device}. Create the bound with device=inputs.device."
            )
        if value.dtype != x.dtype:
            raise ValueError(
                f"{where}: ZBox {name} must have the dtype of the layer input ({x.dtype}); got "
                f"{value.dtype}. Try {name}.to({x.dtype})."
            )
        per_sample = tuple(x.shape[1:])
        ok = value.dim() <= x.dim()
        if ok:
            try:
                if value.dim() == x.dim():
                    ok = value.shape[0] in (1, x.shape[0]) and torch.broadcast_shapes(
                        value.shape[1:], per_sample
                    ) == torch.Size(per_sample)
                else:
                    ok = torch.broadcast_shapes(value.shape, per_sample) == torch.Size(per_sample)
            except RuntimeError:
                ok = False
        if not ok:
            raise ValueError(
                f"{where}: ZBox {name} must broadcast to the layer input of shape {_shape(x)} "
                f"(one sample: {per_sample}); got shape {_shape(value)}."
            )
        return value.expand_as(x)

    def check(self, layer: Layer, x: Tensor, caller: str) -> None:
        where = f"{caller} at layer {layer.path}"
        self._bound(self.low, x, "low", where)
        self._bound(self.high, x, "high", where)

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        low = self._bound(self.low, x, "low", "ZBox")
        high = self._bound(self.high, x, "high", "ZBox")
        lx, ll, lh = _leaf(x), _leaf(low), _leaf(high)
        zx = layer.forward(lx, use_bias=False)
        zl = layer.forward(ll, _positive, use_bias=False)
        zh = layer.forward(lh, _negative, use_bias=False)
        z = zx.detach()
        if zl is not None:
            z = z - zl.detach()
        if zh is not None:
            z = z - zh.detach()
        s = safe_divide(relevance, z)
        gx, gl, gh = _vjps([(zx, lx, s), (zl, ll, s), (zh, lh, s)])
        r = x * gx
        if gl is not None:
            r = r - low * gl
        if gh is not None:
            r = r - high * gh
        return r


class Flat(Rule):
    """The flat rule: ``R_i = sum_j 1 / (number of inputs of j) R_j`` (Lapuschkin et al. 2019).

    Spreads each output's relevance uniformly over its receptive field, ignoring the input values
    and the weights; for the input layer, where values say little (e.g. signs of spins).
    """

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        leaf = _leaf(torch.ones_like(x))
        z = layer.forward(leaf, _ones, use_bias=False)
        (g,) = _vjps([(z, leaf, safe_divide(relevance, z.detach()))])
        return g


class WSquare(Rule):
    """The w^2 rule: ``R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j`` (Montavon et al. 2017, Eq. (12)).

    The deep Taylor rule for an unbounded input domain (root point on the line through x along
    w); independent of the input values.
    """

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        leaf = _leaf(torch.ones_like(x))
        z = layer.forward(leaf, _square, use_bias=False)
        (g,) = _vjps([(z, leaf, safe_divide(relevance, z.detach()))])
        return g


class Pass(Rule):
    """Relevance passes through unchanged: ``R_in = R_out``.

    For element-wise layers (activations: ReLU, LeakyReLU, Tanh, Sigmoid, ELU, ...) where every
    output depends on one input only; the layer must keep the shape of its input. Also a way to
    step over a layer LRP has no rule for (e.g. a LayerNorm) when its effect is to be ignored.
    """

    needs_weights = False

    def propagate(self, layer: Layer, x: Tensor, relevance: Tensor) -> Tensor:
        if relevance.shape != x.shape:
            raise UnsupportedLayerError(
                f"Pass at layer {layer.path}: the rule needs a layer that keeps the shape of its "
                f"input; got input {_shape(x)} and output {_shape(relevance)}."
            )
        return relevance
