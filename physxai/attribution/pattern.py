"""PatternNet and PatternAttribution: explanations from signal patterns fitted on data.

Kindermans et al. (2018) start from the linear model. Let the data be ``x = s + d``, where the
signal ``s = a_s y`` carries the output ``y`` and the distractor ``d`` does not. A filter ``w``
that recovers ``y = w^T x`` must cancel the distractor (``w^T a_d = 0``) as well as pick up the
signal (``w^T a_s = 1``). So ``w``, which is the gradient, generally does not point along the
signal direction ``a_s``. The *pattern* ``a`` does: it is the direction in which ``x`` co-varies
with ``y``. It comes from a signal estimator fitted on data:

* linear, ``S_a(x) = a w^T x`` with ``a = cov(x, y) / (w^T cov(x, y))``. It is the optimal
  estimator for a linear model: the residual ``x - S_a(x)`` is uncorrelated with ``y``.
* two-component, ``S_{a+-}(x) = a_+ w^T x`` where ``w^T x > 0`` and ``a_- w^T x`` elsewhere. The
  paper splits the covariance by regime, ``cov(x, y) = pi_+ q_+ + pi_- q_-`` with
  ``q_+- = E_+-[x y] - E_+-[x] E[y]``. Here ``E_+-`` averages over the samples of one regime,
  ``pi_+-`` is the fraction of samples in it, and ``E[y]`` is the mean over all samples. Then
  ``a_+- = q_+- / (w^T q_+-)``. A ReLU passes only the positive regime, so this is the
  estimator the paper uses for ReLU networks. Note that iNNvestigate, the authors' Keras
  package, uses ``E[y 1(y > 0)]`` in place of ``E[y]``; we follow the paper.

Patterns are fitted per output neuron of every ``nn.Linear`` and ``nn.Conv1d/2d/3d``. The
statistics are those of the layer's input ``x`` and its response ``y = w^T x`` (bias excluded)
over the fit data, which runs through the model in chunks. For a convolution every receptive
field (the unfolded patch of the padded input, with the layer's own padding mode) is one sample
of its output channel, so a channel has one pattern the shape of its filter. The statistics are
running sums per regime, kept in float64 and shifted by the first chunk's means (the
shifted-data algorithm), so the moments do not cancel away when the data have a large mean. A
regime is chosen by the sign of the layer's actual output, bias included, since that is what the
next ReLU sees (iNNvestigate does the same). Every pattern satisfies ``w^T a = 1``, and within
each regime the residual is orthogonal to the centred output,
``E_+-[(x - a_+- y)(y - E[y])] = 0``.
A neuron with no usable data in a regime gets the pattern zero there: fewer than two samples,
``q = 0``, or ``w`` orthogonal to ``q``. Its signal is then dropped.

Both methods back-propagate the explained output value ``y_t`` (not 1). They keep the ordinary
backward of every parameter-free layer, so a ReLU gates by its forward activation and max pooling
uses its switches, as in the paper. They change the backward of the linear layers only:

===================== ============================================ ===============================
method                backward of a Linear / Conv layer            result
===================== ============================================ ===============================
PatternNet            the weights replaced by the patterns ``a``   signal ``s`` in input space
PatternAttribution    ``w * a``, weight times pattern elementwise  relevance ``r``
===================== ============================================ ===============================

With the two-component estimator, each output neuron uses ``a_+`` or ``a_-`` according to its
regime in the forward pass. For a bias-free linear model ``f(x) = w^T x`` the results are the
paper's closed forms: PatternNet gives ``S_a(x) = a y``, the signal, and PatternAttribution gives
``r = w * a * y``. The latter is deep Taylor decomposition with the root point
``x0 = x - a w^T x``, for which ``w^T x0 = 0``, so ``sum_i r_i = y``. In a deep ReLU
network every layer conserves the relevance it passes down, because ``sum_i w_ij a_ij = 1``, but
the ReLU gates drop the relevance that reaches inactive units. The total is therefore not
conserved.

The backward is swapped with hooks, in a context that removes them in ``finally``. A forward hook
on each Linear/Conv returns that layer's output values, with the pattern backward attached
(:mod:`._modified_backward`). Other layers with parameters (BatchNorm, LayerNorm, ...) have no
pattern rule and raise :class:`~physxai.errors.UnsupportedLayerError`. Fold a BatchNorm into its
preceding layer first.

References
----------
P.-J. Kindermans, K. T. Schuett, M. Alber, K.-R. Mueller, D. Erhan, B. Kim, S. Daehne,
"Learning how to explain neural networks: PatternNet and PatternAttribution", ICLR 2018,
arXiv:1705.05598.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    TargetFn,
    check_choice,
    check_inputs,
    check_positive_int,
    check_same_device,
    warn_if_training,
)
from ..errors import NotFittedError, UnsupportedLayerError
from ._base import DEFAULT_MAX_BATCH_SIZE, Attribution, chunks, no_param_grad
from ._modified_backward import ActivationRule, modified_backward

__all__ = ["PatternNet", "PatternAttribution", "ESTIMATORS", "PATTERN_LAYERS"]

#: the signal estimators of Kindermans et al. 2018: S_{a+-} and S_a
ESTIMATORS: tuple[str, ...] = ("two_component", "linear")

#: layers that get a pattern; every other layer with parameters is refused
PATTERN_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

#: a pattern is left at zero where |w^T q| <= this times |w| |q| (w nearly orthogonal to q)
_DEGENERATE = 1e-10

_CONV_INPUT = {
    1: torch.nn.grad.conv1d_input,
    2: torch.nn.grad.conv2d_input,
    3: torch.nn.grad.conv3d_input,
}


# -- layer geometry ----------------------------------------------------------------------------
def _padding(conv: nn.Module) -> tuple[list[int], str]:
    """``F.pad`` amounts (last dim first) and mode reproducing the convolution's own padding."""
    n_sp = len(conv.kernel_size)
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            pads = [0] * (2 * n_sp)
        else:  # "same": torch puts the odd extra pixel on the right
            pads = []
            for k, d in zip(reversed(conv.kernel_size), reversed(conv.dilation)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
    else:
        pads = [p for p in reversed(conv.padding) for _ in range(2)]
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    return pads, mode


def _pad(x: Tensor, pads: list[int], mode: str) -> Tensor:
    return F.pad(x, pads, mode=mode) if any(pads) else x


def _patches(conv: nn.Module, x: Tensor) -> Tensor:
    """Receptive fields of a batched convolution input, ``(n * n_positions, C_in * prod(k))``.

    A row is flattened in the layout of ``weight[o].flatten()``: channel first, then kernel.
    """
    n_sp = len(conv.kernel_size)
    pads, mode = _padding(conv)
    h = _pad(x, pads, mode)
    for i, (k, s, d) in enumerate(zip(conv.kernel_size, conv.stride, conv.dilation)):
        h = h.unfold(2 + i, d * (k - 1) + 1, s)  # appends the window as the last dim
        if d > 1:
            h = h[..., ::d]
    # (n, C, L_1..L_k, k_1..k_k) -> (n, L_1..L_k, C, k_1..k_k)
    order = [0, *range(2, 2 + n_sp), 1, *range(2 + n_sp, 2 + 2 * n_sp)]
    h = h.permute(order)
    return h.reshape(-1, x.shape[1] * _prod(conv.kernel_size))


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _is_unbatched(module: nn.Module, x: Tensor) -> bool:
    return not isinstance(module, nn.Linear) and x.dim() == len(module.kernel_size) + 1


def _rows(module: nn.Module, x: Tensor, out: Tensor) -> tuple[Tensor, Tensor]:
    """One layer call as samples of each output neuron: inputs ``(m, G, D_g)`` and outputs
    ``(m, G, O_g)`` (bias included), ``G`` the convolution groups (1 for Linear)."""
    if isinstance(module, nn.Linear):
        return x.reshape(-1, 1, x.shape[-1]), out.reshape(-1, 1, out.shape[-1])
    if _is_unbatched(module, x):
        x, out = x[None], out[None]
    groups = module.groups
    patches = _patches(module, x)
    z = out.movedim(1, -1).reshape(-1, out.shape[1])
    return patches.reshape(patches.shape[0], groups, -1), z.reshape(z.shape[0], groups, -1)


def _grouped_weight(module: nn.Module) -> Tensor:
    """The weight as ``(G, O_g, D_g)``, matching :func:`_rows`."""
    w = module.weight.detach()
    groups = 1 if isinstance(module, nn.Linear) else module.groups
    return w.reshape(groups, w.shape[0] // groups, -1)


# -- statistics --------------------------------------------------------------------------------
class _LayerStats:
    """Running sums for one layer, per regime (positive and non-positive output), in float64.

    Sums are of values shifted by the first chunk's means, which keeps ``E[xy] - E[x]E[y]`` from
    cancelling away in finite precision; :meth:`patterns` undoes the shift exactly. Both regimes
    are summed separately (their sum serves the linear estimator), so a small regime is not the
    difference of two large sums.
    """

    def __init__(self, module: nn.Module):
        self.module = module
        self.shift_x: Tensor | None = None
        self.shift_y: Tensor | None = None
        self.sums: dict[str, Tensor] = {}

    def update(self, x: Tensor, out: Tensor) -> None:
        X, Z = _rows(self.module, x.detach(), out.detach())
        X, Z = X.double(), Z.double()
        bias = self.module.bias
        # y = w^T x: the layer's response without bias (the covariance ignores it anyway)
        Y = Z if bias is None else Z - bias.detach().double().reshape(1, *Z.shape[1:])
        if self.shift_x is None:
            self.shift_x, self.shift_y = X.mean(0), Y.mean(0)
        Xs, Ys = X - self.shift_x, Y - self.shift_y
        Xg = Xs.transpose(0, 1)  # (G, m, D_g)
        positive = Z > 0  # the regime the next ReLU sees: bias included
        for key, mask in (("+", positive), ("-", ~positive)):
            M = mask.double()
            MY = M * Ys
            new = {  # per output neuron: count, sum y, sum x (G, O_g, D_g), sum x y
                "n" + key: M.sum(0),
                "y" + key: MY.sum(0),
                "x" + key: M.transpose(0, 1).transpose(1, 2) @ Xg,
                "xy" + key: MY.transpose(0, 1).transpose(1, 2) @ Xg,
            }
            for name, value in new.items():
                self.sums[name] = self.sums[name] + value if name in self.sums else value

    def patterns(self, estimator: str) -> tuple[Tensor, Tensor | None]:
        """``a`` (linear) or ``(a_+, a_-)`` (two-component), shaped like the weight."""
        w = _grouped_weight(self.module).double()
        weight = self.module.weight
        if not self.sums:  # the layer never ran on the fit data
            zero = torch.zeros_like(weight, memory_format=torch.contiguous_format)
            return zero, (zero.clone() if estimator == "two_component" else None)
        s = self.sums
        n_all = s["n+"] + s["n-"]
        # E[y] over all samples (shifted), the same for both regimes
        mean_y = (s["y+"] + s["y-"]) / n_all.clamp(min=1.0)
        if estimator == "two_component":
            regimes = {
                "+": (s["n+"], s["x+"], s["y+"], s["xy+"]),
                "-": (s["n-"], s["x-"], s["y-"], s["xy-"]),
            }
        else:
            regimes = {"all": (n_all, s["x+"] + s["x-"], s["y+"] + s["y-"], s["xy+"] + s["xy-"])}
        shift_x = self.shift_x[:, None, :]  # (G, 1, D_g)
        out = {}
        for key, (n, sx, sy, sxy) in regimes.items():
            safe_n = n.clamp(min=1.0)[..., None]
            # q = E_r[x y] - E_r[x] E[y] (Kindermans et al. 2018, two-component estimator; the
            # covariance for the linear one), in shifted values x' = x - K_x, y' = y - K_y:
            # q = E_r[x' y'] - E_r[x'] E[y'] + K_x (E_r[y'] - E[y'])
            q = sxy / safe_n - (sx / safe_n) * mean_y[..., None]
            q = q + shift_x * (sy[..., None] / safe_n - mean_y[..., None])
            # a = q / (w^T q), so that w^T a = 1
            denom = (w * q).sum(-1)
            scale = w.norm(dim=-1) * q.norm(dim=-1)
            ok = (n >= 2) & (denom.abs() > _DEGENERATE * scale) & (scale > 0)
            a = torch.where(ok[..., None], q / torch.where(ok, denom, 1.0)[..., None], 0.0)
            out[key] = a.reshape(weight.shape).to(dtype=weight.dtype, device=weight.device)
        if estimator == "two_component":
            return out["+"], out["-"]
        return out["all"], None


# -- the modified backward ---------------------------------------------------------------------
def _transpose(module: nn.Module, matrix: Tensor, grad: Tensor, in_shape: torch.Size) -> Tensor:
    """The layer's transposed linear map with ``matrix`` in place of the weight."""
    if isinstance(module, nn.Linear):
        return grad @ matrix
    n_sp = len(module.kernel_size)
    unbatched = len(in_shape) == n_sp + 1
    shape = [1, *in_shape] if unbatched else list(in_shape)
    if unbatched:
        grad = grad[None]
    pads, mode = _padding(module)
    padded = list(shape)
    for i in range(n_sp):  # F.pad lists the last dim first
        padded[-1 - i] += pads[2 * i] + pads[2 * i + 1]
    g = _CONV_INPUT[n_sp](
        padded, matrix, grad, stride=module.stride, padding=0, dilation=module.dilation,
        groups=module.groups,
    )
    if any(pads):
        g = _unpad(g, shape, pads, mode)
    return g[0] if unbatched else g


def _unpad(grad: Tensor, shape: list[int], pads: list[int], mode: str) -> Tensor:
    """Adjoint of ``F.pad``: slicing for zero padding, a vector-Jacobian product otherwise
    (circular padding adds the wrapped border back onto the opposite edge)."""
    if mode == "constant":
        index = [slice(None)] * len(shape)
        for i in range(len(pads) // 2):
            start = pads[2 * i]
            index[len(shape) - 1 - i] = slice(start, start + shape[len(shape) - 1 - i])
        return grad[tuple(index)]
    with torch.enable_grad():
        z = torch.zeros(shape, dtype=grad.dtype, device=grad.device, requires_grad=True)
        (g,) = torch.autograd.grad(F.pad(z, pads, mode=mode), z, grad)
    return g


class _PatternRule(ActivationRule):
    """Backward of a Linear/Conv call with patterns (or weights x patterns) as the weight."""

    def __init__(self, table: dict[int, tuple[Tensor, Tensor | None]]):
        self.table = table

    def forward(self, module: nn.Module, x: Tensor, y: Tensor) -> Any:
        positive, negative = self.table[id(module)]
        regime = None if negative is None else y > 0  # S_{a+-}: the regime of this call
        return module, positive, negative, regime, x.shape

    def backward(self, state: Any, grad: Tensor, y: Tensor | None) -> Tensor:
        module, positive, negative, regime, shape = state
        if regime is None:
            return _transpose(module, positive, grad, shape)
        zero = torch.zeros((), dtype=grad.dtype, device=grad.device)
        return _transpose(module, positive, torch.where(regime, grad, zero), shape) + _transpose(
            module, negative, torch.where(regime, zero, grad), shape
        )


# -- shared by both methods --------------------------------------------------------------------
def _pattern_layers(model: Any, owner: str) -> list[tuple[str, nn.Module]]:
    """The Linear/Conv layers of ``model``; refuse other layers with parameters."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{owner}: model must be a torch.nn.Module (patterns are fitted per Linear/Conv "
            f"layer); got {type(model).__name__}. Pass the module itself, not a function that "
            "calls it."
        )
    layers = []
    for name, module in model.named_modules():
        if isinstance(module, PATTERN_LAYERS):
            layers.append((name, module))
        elif any(True for _ in module.parameters(recurse=False)):
            raise UnsupportedLayerError(
                f"{owner}: layer {name or '<model>'} ({type(module).__name__}) has parameters "
                "but no pattern rule; PatternNet and PatternAttribution fit patterns for Linear "
                "and Conv1d/2d/3d layers only. Fold a BatchNorm into the preceding layer, or use "
                "a gradient-based method (integrated_gradients, gradient_x_input)."
            )
    if not layers:
        raise ValueError(
            f"{owner}: model must contain at least one Linear or Conv1d/2d/3d layer to fit "
            "patterns for; it has none."
        )
    return layers


def _fit(method: Any, inputs: Tensor, max_batch_size: int | None, caller: str) -> None:
    """Accumulate the statistics of every layer over ``inputs`` and store the fitted patterns."""
    if max_batch_size is None:
        max_batch_size = method.max_batch_size
    step = check_positive_int(max_batch_size, caller, "max_batch_size")
    x = check_inputs(inputs, caller)
    check_same_device(method.model, x, caller)
    warn_if_training(method.model, caller)
    layers = _pattern_layers(method.model, type(method).__name__)
    stats = {id(m): _LayerStats(m) for _, m in layers}

    def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
        stats[id(module)].update(args[0], output)

    handles = []
    try:
        for _, module in layers:
            handles.append(module.register_forward_hook(hook))
        with torch.no_grad():
            for sl in chunks(x.shape[0], step):
                method.model(x[sl].detach())
    finally:
        for h in handles:
            h.remove()
    positive, negative = {}, {}
    for name, module in layers:
        positive[name], negative[name] = stats[id(module)].patterns(method.estimator)
    method.patterns_ = positive
    method.negative_patterns_ = negative if method.estimator == "two_component" else None
    method.n_samples_ = int(x.shape[0])


def _backward_matrices(method: Any, times_weight: bool) -> dict[int, tuple[Tensor, Tensor | None]]:
    """``id(layer) -> (matrix for y > 0, matrix for y <= 0 or None)`` from the fitted patterns."""
    caller = method._caller
    if not hasattr(method, "patterns_"):
        raise NotFittedError(
            f"{caller}: this {type(method).__name__} is not fitted yet; call .fit(x) first with "
            "data from the training distribution (or pass fit_inputs=x to the constructor)."
        )
    table = {}
    negatives = method.negative_patterns_
    for name, module in _pattern_layers(method.model, type(method).__name__):
        a = method.patterns_.get(name)
        if a is None or a.shape != module.weight.shape:
            raise NotFittedError(
                f"{caller}: layer {name or '<model>'} ({type(module).__name__}) has no fitted "
                "pattern of its weight's shape; the model changed after fit. Call .fit(x) again."
            )
        a_neg = None if negatives is None else negatives[name]
        if times_weight:  # PatternAttribution: the weight times the pattern, elementwise
            w = module.weight.detach()
            a, a_neg = w * a, (None if a_neg is None else w * a_neg)
        table[id(module)] = (a, a_neg)
    return table


def _pattern_backward(method: Any, x: Tensor, target: TargetFn, times_weight: bool) -> Tensor:
    """Back-propagate the target's output value with the layers' backward swapped."""
    table = _backward_matrices(method, times_weight)
    model = method.model
    index = torch.arange(x.shape[0], device=x.device)
    rule = _PatternRule(table)
    swapped = modified_backward(model, PATTERN_LAYERS, rule, caller=method._caller)
    with no_param_grad(model), swapped, torch.enable_grad():
        rows = x.detach().requires_grad_(True)
        selected = target(model(rows), index)
        # start from the output value y_t, not 1: S_a(x) = a y, r = w * a * y at the top
        (grad,) = torch.autograd.grad(
            selected, rows, grad_outputs=selected.detach(), allow_unused=True
        )
    return torch.zeros_like(x) if grad is None else grad.detach()


def _init(method: Any, estimator: str, max_batch_size: int, fit_inputs: Tensor | None) -> None:
    owner = type(method).__name__
    method.estimator = check_choice(estimator, ESTIMATORS, owner, "estimator")
    method.max_batch_size = check_positive_int(max_batch_size, owner, "max_batch_size")
    _pattern_layers(method.model, owner)  # fail fast on an unsupported model
    if fit_inputs is not None:
        method.fit(fit_inputs)


class PatternNet(Attribution):
    """PatternNet (Kindermans et al. 2018): the signal of the input that produced the output.

    The explained output ``y_t`` is back-propagated with every Linear/Conv weight replaced by its
    fitted pattern (per regime for the two-component estimator). Parameter-free layers keep their
    gradient, so ReLUs gate by their forward activation. For a linear model the result is the
    signal estimate ``S(x) = a y``, which points along the signal direction ``a_s``. The gradient
    ``w`` points elsewhere whenever the data hold a distractor. The module docstring has the
    estimators and what they guarantee.

    Parameters
    ----------
    model : nn.Module
        A network of Linear/Conv1d/2d/3d layers and parameter-free layers (ReLU, pooling,
        Flatten, ...). Any other layer with parameters raises UnsupportedLayerError.
    estimator : {"two_component", "linear"}, default "two_component"
        The signal estimator: ``S_{a+-}`` (separate patterns for positive and non-positive
        outputs of each neuron, the paper's choice for ReLU networks) or ``S_a`` (one pattern).
    max_batch_size : int, default DEFAULT_MAX_BATCH_SIZE
        Rows per forward pass while fitting; the patterns do not depend on it.
    fit_inputs : Tensor, shape ``(n_fit, *F)``, optional
        Data to fit the patterns on right away, so the functional door works in one call:
        ``attribute(model, x, "pattern_net", fit_inputs=x_train, target=k)``. Without it, call
        :meth:`fit` before :meth:`attribute`. The tensor is not stored.

    Attributes
    ----------
    patterns_ : dict[str, Tensor]
        Layer path -> pattern ``a`` (linear) or ``a_+`` (two-component), shaped like the weight;
        ``(w * a).flatten(1).sum(1) == 1`` for every neuron with usable data.
    negative_patterns_ : dict[str, Tensor] or None
        Layer path -> ``a_-`` for the two-component estimator; None for the linear one.
    n_samples_ : int
        Number of samples the patterns were fitted on.

    Examples
    --------
    >>> import torch
    >>> from physxai.testing import tiny_mlp
    >>> model, x = tiny_mlp(), torch.randn(200, 6, dtype=torch.float64)
    >>> method = PatternNet(model).fit(x)
    >>> method.attribute(x[:4], target=0).shape
    torch.Size([4, 6])

    References
    ----------
    P.-J. Kindermans et al., ICLR 2018, arXiv:1705.05598 (PatternNet).
    """

    name = "pattern_net"

    def __init__(
        self,
        model: nn.Module,
        *,
        estimator: str = "two_component",
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        fit_inputs: Tensor | None = None,
    ):
        super().__init__(model)
        _init(self, estimator, max_batch_size, fit_inputs)

    def fit(self, inputs: Tensor, *, max_batch_size: int | None = None) -> PatternNet:
        """Fit the patterns of every Linear/Conv layer on ``inputs``; returns ``self``.

        Parameters
        ----------
        inputs : Tensor, shape ``(n_fit, *F)``
            Data from the distribution the model is explained on (the training set): the
            patterns are its covariances. Forwarded in chunks; memory stays bounded.
        max_batch_size : int, optional
            Rows per forward pass; default the constructor's. The result does not depend on it.

        Returns
        -------
        PatternNet
            ``self``, fitted.
        """
        _fit(self, inputs, max_batch_size, f"{type(self).__name__}.fit")
        return self

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """The signal of ``inputs`` that produced the explained output.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
        target : None, int, LongTensor ``(n,)`` or callable
            The explained output (see :func:`physxai.attribute`).

        Returns
        -------
        Tensor
            The signal estimate, shaped like ``inputs`` (in the units of the input).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`, or when the model's layers changed after it.
        """
        x, tgt = self._prepare(inputs, target)
        return _pattern_backward(self, x, tgt, times_weight=False)


class PatternAttribution(Attribution):
    """PatternAttribution (Kindermans et al. 2018): relevance from weights times patterns.

    The explained output ``y_t`` is back-propagated with every Linear/Conv weight replaced by
    ``w * a``, the weight times its fitted pattern, elementwise. Parameter-free layers keep their
    gradient. This is the deep Taylor decomposition with the root point ``x0 = x - a w^T x``,
    which the signal estimator provides. For a bias-free linear model ``r = w * a * y`` and
    ``sum_i r_i = f(x)``. In a ReLU network each layer conserves the relevance it passes down
    (``sum_i w_ij a_ij = 1``), but the ReLU gates drop the relevance that reaches inactive units.

    Parameters
    ----------
    model : nn.Module
        A network of Linear/Conv1d/2d/3d layers and parameter-free layers (ReLU, pooling,
        Flatten, ...). Any other layer with parameters raises UnsupportedLayerError.
    estimator : {"two_component", "linear"}, default "two_component"
        The signal estimator: ``S_{a+-}`` (separate patterns for positive and non-positive
        outputs of each neuron, the paper's choice for ReLU networks) or ``S_a`` (one pattern).
    max_batch_size : int, default DEFAULT_MAX_BATCH_SIZE
        Rows per forward pass while fitting; the patterns do not depend on it.
    fit_inputs : Tensor, shape ``(n_fit, *F)``, optional
        Data to fit the patterns on right away, so the functional door works in one call:
        ``attribute(model, x, "pattern_attribution", fit_inputs=x_train, target=k)``. Without
        it, call :meth:`fit` before :meth:`attribute`. The tensor is not stored.

    Attributes
    ----------
    patterns_, negative_patterns_, n_samples_
        As in :class:`PatternNet`.

    Examples
    --------
    >>> import torch
    >>> from physxai import attribute
    >>> from physxai.testing import tiny_cnn
    >>> model, x = tiny_cnn(bias=False), torch.randn(64, 1, 8, 8, dtype=torch.float64)
    >>> attribute(model, x[:2], "pattern_attribution", fit_inputs=x, target=1).shape
    torch.Size([2, 1, 8, 8])

    References
    ----------
    P.-J. Kindermans et al., ICLR 2018, arXiv:1705.05598 (PatternAttribution).
    """

    name = "pattern_attribution"

    def __init__(
        self,
        model: nn.Module,
        *,
        estimator: str = "two_component",
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        fit_inputs: Tensor | None = None,
    ):
        super().__init__(model)
        _init(self, estimator, max_batch_size, fit_inputs)

    def fit(self, inputs: Tensor, *, max_batch_size: int | None = None) -> PatternAttribution:
        """Fit the patterns of every Linear/Conv layer on ``inputs``; returns ``self``.

        Parameters and behaviour as :meth:`PatternNet.fit`.
        """
        _fit(self, inputs, max_batch_size, f"{type(self).__name__}.fit")
        return self

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Relevance of each input feature for the explained output.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
        target : None, int, LongTensor ``(n,)`` or callable
            The explained output (see :func:`physxai.attribute`).

        Returns
        -------
        Tensor
            Relevance shaped like ``inputs``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`, or when the model's layers changed after it.
        """
        x, tgt = self._prepare(inputs, target)
        return _pattern_backward(self, x, tgt, times_weight=True)
