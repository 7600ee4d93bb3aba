"""Exact Hessians of piecewise-linear sequential networks, built from their layer structure.

A chain of affine layers (Linear, Conv) and piecewise-linear maps (ReLU, LeakyReLU, max and
average pooling, Flatten, eval-mode dropout) is, for a fixed activation pattern (which units are
on, which entry each max-pool picks), a composition of linear maps and affine layers, so its output
``f(x; theta)`` is affine in the parameters ``theta_a = (W_a, b_a)`` of any one affine layer when
the others are held fixed. The pattern is constant almost everywhere, and there the Hessian of the
objective of :mod:`._objective` splits into a Gauss-Newton part and a residual part,

    H = (1/n) sum_i J_i^T A_i J_i + R + 2 l2 I,      R = (1/n) sum_i sum_k r_ik d^2 f_ik/dtheta^2,

with ``J_i = df(x_i)/dtheta``, ``r_i = dloss_i/df`` and ``A_i = d^2 loss_i/df^2`` in closed form
(softmax ``diag(s) - s s^T`` for cross-entropy, ``sigma (1 - sigma)`` for BCE, ``(2/m) I`` for the
per-sample mean squared error of m outputs). ``R`` has zero diagonal blocks (f is affine in one
layer's parameters), zero rows and columns for every bias of the later layer, and for layers
``a`` before ``b``

    R_ab[alpha, beta] = (1/n) sum_i < delta_b,i , dz_b/dW_b,beta evaluated at u_alpha,i >,      (*)

where ``z_b`` is the output of layer b, ``delta_b,i = d(r_i . f(x_i))/dz_b`` its back-propagated
error signal (independent of theta_a and theta_b given the pattern) and ``u_alpha,i =
dh_{b-1}(x_i)/dtheta_a,alpha`` the forward tangent of layer b's input: (*) is the weight gradient
of layer b with the tangent in place of the input. The tangent of layer a's own output for the
unit vector of ``W_a[o, c, k]`` is the unfolded input (im2col column ``(c, k)``) in output channel
o alone, and it stays in that channel through the channel-wise maps up to the next affine layer,
so it is stored with one channel per tangent (the next convolution acts on it as a grouped one).
A convolution followed by max pooling is evaluated at the picked positions only (it reuses the
primal pass's argmax indices), one followed by average pooling without padding as one composite
convolution. The exact Hessian thus costs one forward pass per (sample, parameter) pair that
starts at the parameter's own layer, plus one backward pass per output unit and sample, instead
of a forward-over-reverse pass through the whole network per parameter (the generic path of
:meth:`Objective.hessian`, which any other model uses): about 25 times faster for the Hubbard CNN
of Dawid et al. (benchmarks/hessian.py).

References
----------
N. N. Schraudolph, "Fast curvature matrix-vector products for second-order gradient descent",
Neural Comput. 14, 1723 (2002) (the Gauss-Newton split).
A. Botev, H. Ritter, D. Barber, "Practical Gauss-Newton optimisation for deep learning", ICML 2017,
arXiv:1706.03662 (the residual term vanishes within a layer of a piecewise-linear network).
A. Dawid et al., New J. Phys. 22, 115001 (2020), arXiv:2004.04711 (the 740-parameter CNN whose
Hessian this path was written for).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._objective import LOSSES, Objective, _align

__all__ = ["SUPPORTED_LAYERS", "SequentialPlan", "plan_sequential", "sequential_hessian"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_MAX_POOL = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_LINEAR_POOL = (
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
)
_GATE = (nn.ReLU, nn.LeakyReLU)
# identities in eval mode (Objective refuses a model whose dropout is in training mode)
_IDENTITY = (
    nn.Identity,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
)
#: Layer types of the structured path; subclasses do not qualify (they may override forward).
SUPPORTED_LAYERS = (nn.Linear, *_CONV, *_GATE, *_MAX_POOL, *_LINEAR_POOL, nn.Flatten, *_IDENTITY)

_CONV_FN = (F.conv1d, F.conv2d, F.conv3d)
_MAX_POOL_FN = (F.max_pool1d, F.max_pool2d, F.max_pool3d)


@dataclass(eq=False)
class _Step:
    """One leaf layer of the flattened chain, with what the probe learnt about it."""

    path: str
    module: nn.Module
    kind: str  # "linear", "conv", "gate", "max_pool", "pool", "flatten" or "identity"
    n_dims: int = 0  # spatial dimensions of a convolution or pooling
    in_shape: tuple[int, ...] = ()  # per-sample input shape
    out_shape: tuple[int, ...] = ()  # per-sample output shape
    # affine layers only
    weight_offset: int | None = None  # position of the weight in theta, None when frozen
    bias_offset: int | None = None  # position of the bias in theta, None when frozen or absent
    in_channels: int = 0  # channels of the tangents reaching this layer (see _weight_view)
    params: tuple[Tensor, Tensor | None] = field(default=(), repr=False)  # type: ignore[assignment]
    # a convolution followed by an average pooling without padding: the composite convolution
    # (weight, stride, kernel size, output shape), whose output is the pooled output
    pooled: tuple[Tensor, tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = field(
        default=None, repr=False
    )

    @property
    def affine(self) -> bool:
        return self.kind in ("linear", "conv")

    @property
    def n_weight_features(self) -> int:
        """Input features of one output unit: ``C * prod(kernel)`` or ``in_features``."""
        if self.weight_offset is None:
            return 0
        weight = self.module.weight
        return weight[0].numel()

    @property
    def n_features(self) -> int:
        return self.n_weight_features + (self.bias_offset is not None)

    @property
    def n_groups(self) -> int:
        return self.module.weight.shape[0]


@dataclass(eq=False)
class SequentialPlan:
    """The flattened chain of a qualifying model and the positions of its parameters."""

    steps: list[_Step]
    n_outputs: int


# ---------------------------------------------------------------------------------------------
# qualification


def _leaves(module: nn.Module, prefix: str) -> Iterator[tuple[str, nn.Module]]:
    # _modules, not named_children(): the latter skips a module's second appearance, which
    # Sequential.forward does run
    for name, child in module._modules.items():
        if child is None:
            continue
        path = f"{prefix}{name}"
        if _base_type(child) is nn.Sequential:
            yield path, child  # the container itself, checked for hooks
            yield from _leaves(child, f"{path}.")
        else:
            yield path, child


def _chain(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The (path, module) leaves whose composition is ``model``'s forward, or ``None``.

    An ``nn.Sequential`` (or a subclass keeping its forward) is its own chain. A class that
    declares ``_sequential_chain`` (child names, e.g. ``("features", "head")`` of
    :class:`physxai.models.MLP` and :class:`physxai.models.CNN`, whose forward is
    ``head(features(x))`` after an input check) is the chain of those children, unless a
    subclass overrides the declaring class's forward.
    """
    if _base_type(model) is nn.Sequential:
        return list(_leaves(model, ""))
    names = getattr(type(model), "_sequential_chain", None)
    owner = next((c for c in type(model).__mro__ if "_sequential_chain" in c.__dict__), None)
    if not names or owner is None or type(model).forward is not owner.forward:
        return None
    out: list[tuple[str, nn.Module]] = []
    for name in names:
        child = getattr(model, name, None)
        if not isinstance(child, nn.Module):
            return None
        out.append((name, child))
        if _base_type(child) is nn.Sequential:
            out.extend(_leaves(child, f"{name}."))
    return out


def _has_hooks(module: nn.Module) -> bool:
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or getattr(module, "_forward_hooks_with_kwargs", None)
    )


def _base_type(module: nn.Module) -> type | None:
    """The supported class (or ``nn.Sequential``) that ``module`` is, if its class computes its
    output with that class's code (a subclass that overrides ``forward`` does not qualify)."""
    for base in (nn.Sequential, *SUPPORTED_LAYERS):
        if isinstance(module, base):
            cls = type(module)
            if cls.forward is not base.forward:
                return None
            if base in _CONV and cls._conv_forward is not base._conv_forward:
                return None
            return base
    return None


def _kind(base: type) -> str:
    if base is nn.Linear:
        return "linear"
    if base in _CONV:
        return "conv"
    if base in _GATE:
        return "gate"
    if base in _MAX_POOL:
        return "max_pool"
    if base in _LINEAR_POOL:
        return "pool"
    if base is nn.Flatten:
        return "flatten"
    return "identity"


def _describe(path: str, module: nn.Module) -> str:
    return f"layer '{path}' ({type(module).__name__})"


def plan_sequential(obj: Objective) -> SequentialPlan | str:
    """The plan of the structured path for ``obj``, or why the model does not qualify.

    Returns a one-line reason (a string) naming the first offending layer by its path and type,
    or the loss, instead of raising, so that ``algorithm="auto"`` can fall back silently.
    """
    model = obj.model
    if not isinstance(obj.loss_fn, str) or obj.loss_fn not in LOSSES:
        return (
            "loss_fn must be one of "
            + ", ".join(map(repr, LOSSES))
            + " (their curvature in the outputs is known in closed form); got a callable"
        )
    chain = _chain(model)
    if chain is None:
        return (
            f"the model is a {type(model).__name__}, not a torch.nn.Sequential (subclasses "
            "qualify when they keep Sequential's forward) nor a physxai.models MLP/CNN"
        )
    hooks = (
        torch.nn.modules.module._global_forward_hooks,
        torch.nn.modules.module._global_forward_pre_hooks,
    )
    if any(hooks) or _has_hooks(model):
        return "forward hooks are registered on the model (they may change its output)"
    steps: list[_Step] = []
    seen: set[int] = set()
    for path, module in chain:
        if _has_hooks(module):
            return f"{_describe(path, module)} has forward hooks (they may change its output)"
        base = _base_type(module)
        if base is nn.Sequential:
            continue
        if base is None:
            return (
                f"{_describe(path, module)} is not supported; the structured path takes Linear, "
                "Conv1d/2d/3d, ReLU, LeakyReLU, MaxPool, AvgPool, AdaptiveAvgPool, Flatten, "
                "Dropout and Identity (not subclasses that override forward)"
            )
        if id(module) in seen:
            return f"{_describe(path, module)} appears twice in the chain (shared parameters)"
        seen.add(id(module))
        kind = _kind(base)
        if kind == "conv" and module.groups != 1:
            return (
                f"{_describe(path, module)} has groups={module.groups}; only groups=1 is supported"
            )
        if kind == "flatten" and (module.start_dim != 1 or module.end_dim != -1):
            return (
                f"{_describe(path, module)} has start_dim={module.start_dim}, "
                f"end_dim={module.end_dim}; only Flatten(1, -1) is supported"
            )
        n_dims = 0
        if kind in ("conv", "max_pool", "pool"):
            n_dims = int(base.__name__[-2])  # Conv1d, MaxPool2d, AdaptiveAvgPool3d, ...
        steps.append(_Step(path, module, kind, n_dims))

    # every trainable parameter must be the weight or bias of one of the affine steps
    offsets: dict[str, int] = {}
    start = 0
    for name, numel in zip(obj.names, obj.numels):
        offsets[name] = start
        start += numel
    owner: dict[int, tuple[_Step, str]] = {}
    for step in steps:
        if step.affine:
            for attr in ("weight", "bias"):
                p = getattr(step.module, attr)
                if p is not None:
                    if id(p) in owner:
                        return f"{_describe(step.path, step.module)} shares its {attr}"
                    owner[id(p)] = (step, attr)
    named = dict(model.named_parameters())
    for name in obj.names:
        hit = owner.get(id(named[name]))
        if hit is None:
            return f"parameter '{name}' does not belong to a Linear or Conv layer"
        step, attr = hit
        if attr == "weight":
            step.weight_offset = offsets[name]
        else:
            step.bias_offset = offsets[name]

    # a probe on one sample: the shapes every step sees (and that the chain runs as expected)
    h = obj.inputs[:1]
    channels = 0
    with torch.no_grad():
        for step in steps:
            module = step.module
            step.in_shape = tuple(h.shape[1:])
            if step.kind == "linear" and h.dim() != 2:
                return (
                    f"{_describe(step.path, module)} receives inputs of shape "
                    f"(n, {', '.join(map(str, step.in_shape))}); the structured path needs "
                    "(n, features): flatten first"
                )
            if step.n_dims and h.dim() != 2 + step.n_dims:
                return (
                    f"{_describe(step.path, module)} receives inputs with "
                    f"{h.dim() - 1} dimensions per sample; it needs (channels, "
                    f"{step.n_dims} spatial dimensions)"
                )
            if step.affine:
                step.in_channels = channels
                channels = module.weight.shape[0]
            h = module(h)
            step.out_shape = tuple(h.shape[1:])
    out = h
    n_outputs = out[0].numel()
    if obj.loss_fn != "cross_entropy":
        n_outputs = _align(out, obj.targets[:1])[0].numel()
    return SequentialPlan(steps, n_outputs)


# ---------------------------------------------------------------------------------------------
# the primal pass


@dataclass(eq=False)
class _Record:
    """What the forward pass of one chunk leaves for the tangents: per-step states."""

    inputs: list[Tensor | None]  # affine steps: their input
    factors: list[Tensor | None]  # gates: the derivative of the activation, input-shaped
    indices: list[Tensor | None]  # max pools: flat argmax positions per channel plane
    deltas: list[Tensor | None]  # affine steps: d(r . f)/dz, output-shaped


def _conv_forward(step: _Step, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The convolution as ``nn.Conv*d._conv_forward`` computes it (same kernels, same pattern)."""
    m = step.module
    conv = _CONV_FN[step.n_dims - 1]
    if m.padding_mode != "zeros":
        padded = F.pad(h, m._reversed_padding_repeated_twice, mode=m.padding_mode)
        return conv(padded, weight, bias, m.stride, 0, m.dilation, 1)
    return conv(h, weight, bias, m.stride, m.padding, m.dilation, 1)


def _pad(step: _Step, x: Tensor) -> Tensor:
    """Pad ``(batch, C, *spatial)`` as the convolution of ``step`` pads its input."""
    m = step.module
    amounts = list(m._reversed_padding_repeated_twice)
    if not any(amounts):
        return x
    mode = "constant" if m.padding_mode == "zeros" else m.padding_mode
    return F.pad(x, amounts, mode=mode)


def _offsets(step: _Step) -> list[tuple[slice, ...]]:
    """Per kernel offset ``k`` (row-major, the order of the weight), the slices of the padded
    input that meet it: positions ``l * stride + k * dilation`` for all output positions l."""
    m = step.module
    return _kernel_slices(m.kernel_size, m.dilation, m.stride, step.out_shape[1:])


def _kernel_slices(
    kernel: tuple[int, ...],
    dilation: tuple[int, ...],
    stride: tuple[int, ...],
    out_spatial: tuple[int, ...],
) -> list[tuple[slice, ...]]:
    views = []
    for k in itertools.product(*(range(size) for size in kernel)):
        views.append(
            tuple(
                slice(ki * d, ki * d + s * (length - 1) + 1, s)
                for ki, d, s, length in zip(k, dilation, stride, out_spatial)
            )
        )
    return views


def _forward(plan: SequentialPlan, x: Tensor) -> tuple[Tensor, list[Tensor | None], _Record]:
    """Run the chain on ``x`` with a graph from the input, recording the pattern."""
    n_steps = len(plan.steps)
    record = _Record([None] * n_steps, [None] * n_steps, [None] * n_steps, [None] * n_steps)
    outputs: list[Tensor | None] = [None] * n_steps
    h = x.detach().requires_grad_(True)  # a graph to every z, none through the weights
    for i, step in enumerate(plan.steps):
        m = step.module
        if step.kind == "conv":
            record.inputs[i] = h.detach()
            h = _conv_forward(step, h, *step.params)
            outputs[i] = h
        elif step.kind == "linear":
            record.inputs[i] = h.detach()
            h = F.linear(h, *step.params)
            outputs[i] = h
        elif step.kind == "gate":
            # the derivative autograd uses: 1 (or the slope) where the input is > 0, else 0
            slope = m.negative_slope if isinstance(m, nn.LeakyReLU) else 0.0
            positive = h.detach() > 0
            one, other = h.new_ones(()), h.new_full((), slope)  # in h's dtype (0.01 exactly)
            record.factors[i] = torch.where(positive, one, other)
            h = F.leaky_relu(h, slope) if slope else F.relu(h)
        elif step.kind == "max_pool":
            h, idx = _MAX_POOL_FN[step.n_dims - 1](
                h, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True
            )
            record.indices[i] = idx
        elif step.kind == "pool":
            h = m(h)
        elif step.kind == "flatten":
            h = h.flatten(1)
    return h, outputs, record


def _output_curvature(loss: str, out: Tensor, y: Tensor) -> tuple[Tensor, Tensor, bool]:
    """``r = dloss/df`` ``(m, k)`` and ``A = d^2 loss/df^2``, full ``(m, k, k)`` or diagonal
    ``(m, k)`` (flag), of the per-sample losses of :mod:`._objective`."""
    if loss == "cross_entropy":
        s = torch.softmax(out, dim=1)
        if y.is_floating_point():  # class probabilities: loss = -sum_k y_k log s_k
            weight = y.sum(dim=1)
            r = weight[:, None] * s - y
        else:
            weight = torch.ones(out.shape[0], dtype=out.dtype, device=out.device)
            r = s - F.one_hot(y, out.shape[1]).to(out.dtype)
        a = torch.diag_embed(s) - s[:, :, None] * s[:, None, :]
        return r, weight[:, None, None] * a, False
    f = _align(out, y).reshape(out.shape[0], -1)
    t = y.reshape(y.shape[0], -1)
    m = f.shape[1]  # both: the mean over the m outputs of a sample, as fit's losses
    if loss == "bce":
        sigma = torch.sigmoid(f)
        return (sigma - t) / m, sigma * (1 - sigma) / m, True
    return 2.0 * (f - t) / m, torch.full_like(f, 2.0 / m), True


# ---------------------------------------------------------------------------------------------
# forward tangents


def _select(
    state: Tensor, channels: slice | None, n_channels: int, rest: tuple[int, ...]
) -> Tensor:
    """Per-channel ``state`` of a chunk as ``(m, 1, C_t, *rest)``, for the tangent channels."""
    view = state.reshape(state.shape[0], n_channels, *rest)
    if channels is not None:
        view = view[:, channels]
    return view.unsqueeze(1)


def _propagate(
    plan: SequentialPlan,
    record: _Record,
    xs: slice,
    a: int,
    last: int,
    fs: slice,
    gs: slice,
    rows: Tensor,
    h_r: Tensor,
) -> None:
    """Carry the tangents ``(features fs) x (output units gs)`` of affine step ``a`` for the
    samples ``xs`` through the chain to step ``last``, adding (*) of each later affine step to
    the rows ``rows`` of ``h_r``.

    A tangent tensor is ``(m, T, C_t, *rest)``: m samples, T tangents, C_t channels of the
    per-channel shape ``rest``. Until the next affine step a tangent of unit g lives in channel g
    only, so it is kept "sparse": T runs over the features, C_t over the units gs, and channel
    ``gs[j]`` is the only one of tangent ``(f, j)``. After an affine step it is dense: T runs
    over (feature, unit) pairs and C_t over all channels.
    """
    steps = plan.steps
    source = steps[a]
    x_in = record.inputs[a][xs]
    n = x_in.shape[0]
    n_weight = source.n_weight_features
    n_f = fs.stop - fs.start
    # the own tangent dz_a/dtheta_a for feature f: column f of the unfolded input, or 1 (bias)
    parts = []
    w_stop = min(fs.stop, n_weight)
    if source.kind == "conv":
        spatial = source.out_shape[1:]
        if fs.start < w_stop:
            padded = _pad(source, x_in)
            cols = torch.stack([padded[(..., *sl)] for sl in _offsets(source)], dim=2)
            cols = cols.reshape(n, -1, *spatial)  # (m, C * K, *L) in the weight's order
            parts.append(cols[:, fs.start : w_stop])
        if fs.stop > n_weight:
            parts.append(x_in.new_ones(n, 1, *spatial))
    else:
        if fs.start < w_stop:
            parts.append(x_in[:, fs.start : w_stop])
        if fs.stop > n_weight:
            parts.append(x_in.new_ones(n, 1))
    own = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    n_g = gs.stop - gs.start
    t = own.unsqueeze(2).expand(n, n_f, n_g, *own.shape[2:])
    channels: slice | None = gs
    n_channels = source.module.weight.shape[0]
    b = a + 1
    while b <= last:
        step = steps[b]
        m = step.module
        rest = tuple(t.shape[3:])
        if step.kind == "gate":
            t = t * _select(record.factors[b][xs], channels, n_channels, rest)
        elif step.kind == "max_pool":
            idx = record.indices[b][xs]
            if channels is not None:
                idx = idx[:, channels]
            n_t, c_t = t.shape[1], t.shape[2]
            flat = idx.reshape(n, 1, c_t, -1).expand(n, n_t, c_t, -1)
            t = t.reshape(n, n_t, c_t, -1).gather(3, flat).reshape(n, n_t, c_t, *idx.shape[2:])
        elif step.kind == "pool":
            n_t, c_t = t.shape[1], t.shape[2]
            pooled = m(t.reshape(n * n_t, c_t, *rest))
            t = pooled.reshape(n, n_t, c_t, *pooled.shape[2:])
        elif step.kind == "flatten":
            t = t.reshape(*t.shape[:3], -1)
        elif step.affine:
            if step.weight_offset is not None:
                _contract(step, t, channels, record.deltas[b][xs], rows, h_r)
            if b < last:
                after = steps[b + 1]
                if step.pooled is not None:  # the convolution and its average pooling at once
                    t = _affine_tangent(step, t, channels, n_channels, pooled=True)
                    b += 1
                elif step.kind == "conv" and after.kind == "max_pool" and channels is not None:
                    # only the positions the pooling picks
                    t = _conv_max_pool_tangent(step, t, channels, record.indices[b + 1][xs])
                    b += 1
                else:
                    t = _affine_tangent(step, t, channels, n_channels)
                channels, n_channels = None, m.weight.shape[0]
        b += 1


def _weight_view(step: _Step) -> tuple[int, ...]:
    """The weight's shape as ``(units, tangent channels, per-channel shape)``."""
    w = step.module.weight
    if step.kind == "conv":
        return tuple(w.shape)
    return (w.shape[0], step.in_channels, w.shape[1] // step.in_channels)


def _contract(
    step: _Step, t: Tensor, channels: slice | None, delta: Tensor, rows: Tensor, h_r: Tensor
) -> None:
    """Add (*): ``sum_i <delta_i, dz/dW evaluated at the tangent>`` for every tangent."""
    n, n_t, c_t = t.shape[:3]
    n_units = delta.shape[1]
    if step.kind == "conv":
        padded = _pad(step, t.reshape(n * n_t, c_t, *t.shape[3:]))
        padded = padded.reshape(n, n_t, c_t, *padded.shape[2:])
        d = delta.reshape(n, n_units, -1).transpose(1, 2)  # (m, L, units)
        # the weight gradient of the convolution, one kernel offset at a time (no im2col copy)
        per_offset = [
            torch.bmm(padded[(..., *sl)].reshape(n, n_t * c_t, -1), d).sum(0)
            for sl in _offsets(step)
        ]
        res = torch.stack(per_offset, dim=-1)  # (T * C_t, units, K)
    else:
        flat = t.reshape(n, -1)
        res = (flat.T @ delta).reshape(n_t, c_t, -1, n_units).transpose(2, 3)  # (T, C_t, u, S)
    res = res.reshape(n_t, c_t, n_units, -1)
    cols = step.weight_offset + torch.arange(step.module.weight.numel(), device=t.device).reshape(
        *_weight_view(step)[:2], -1
    )  # (units, C, per-channel)
    if channels is None:  # dense: all channels of every tangent
        vals = res.transpose(1, 2).reshape(n_t, -1)
        h_r.index_put_((rows.reshape(-1, 1), cols.reshape(1, -1)), vals, accumulate=True)
    else:  # sparse: tangent (f, j) meets the weights of input channel channels[j] only
        sel = cols[:, channels].transpose(0, 1).reshape(1, c_t, -1)  # (1, G, units * per)
        vals = res.reshape(n_t, c_t, -1)
        h_r.index_put_((rows.unsqueeze(2), sel), vals, accumulate=True)


def _affine_tangent(
    step: _Step, t: Tensor, channels: slice | None, n_channels: int, pooled: bool = False
) -> Tensor:
    """The tangent of the output of affine step ``step`` (its bias carries none): dense.

    With ``pooled``, that of the average pooling after the convolution, by the composite
    convolution of :func:`_fuse_avg_pool`.
    """
    w = step.params[0]
    n, n_t, c_t = t.shape[:3]
    n_units = w.shape[0]
    if step.kind == "conv":
        m = step.module
        stride, dilation, kernel = m.stride, m.dilation, m.kernel_size
        out_spatial = step.out_shape[1:]
        if pooled:
            assert step.pooled is not None
            w, stride, kernel, out_spatial = step.pooled
            dilation = (1,) * step.n_dims
        padded = _pad(step, t.reshape(n * n_t, c_t, *t.shape[3:]))
        if channels is None:
            out = _CONV_FN[step.n_dims - 1](padded, w, None, stride, 0, dilation, 1)
            return out.reshape(n, n_t, n_units, *out.shape[2:])
        # channel j of the input meets w[:, channels[j]] only: a grouped convolution, summed
        # here one kernel offset at a time (CPU float64 grouped convolutions loop over groups)
        padded = padded.reshape(n, n_t, c_t, 1, *padded.shape[2:])
        w_sel = w[:, channels].transpose(0, 1).reshape(c_t, n_units, -1)  # (G, units, K)
        ones = (1,) * step.n_dims
        out = None
        for k, sl in enumerate(_kernel_slices(kernel, dilation, stride, out_spatial)):
            term = padded[(..., *sl)]
            w_k = w_sel[:, :, k].reshape(c_t, n_units, *ones)
            out = term * w_k if out is None else out.addcmul_(term, w_k)
        return out.reshape(n, n_t * c_t, n_units, *out.shape[4:])
    per = w.shape[1] // n_channels
    if channels is None:
        return (t.reshape(n * n_t, -1) @ w.T).reshape(n, n_t, n_units)
    w_sel = w.reshape(n_units, n_channels, per)[:, channels]  # (units, G, per)
    out = torch.einsum("ntgs,ugs->ntgu", t.reshape(n, n_t, c_t, per), w_sel)
    return out.reshape(n, n_t * c_t, n_units)


def _conv_max_pool_tangent(step: _Step, t: Tensor, channels: slice, indices: Tensor) -> Tensor:
    """The sparse tangent through convolution ``step`` and the max pooling after it, computed at
    the positions the pooling picks only (``indices`` ``(m, units, *pooled)``, flat positions in
    the convolution's output plane): one in four outputs of a 4-pooling. Dense result."""
    m = step.module
    w = step.params[0]
    n, n_t, c_t = t.shape[:3]
    n_units = w.shape[0]
    padded = _pad(step, t.reshape(n * n_t, c_t, *t.shape[3:]))
    padded_shape = padded.shape[2:]
    padded = padded.reshape(n, n_t, c_t, -1)
    # row-major strides of the padded plane
    strides = [math.prod(padded_shape[i + 1 :]) for i in range(step.n_dims)]
    out_spatial = step.out_shape[1:]
    # output position l reads the input at l * stride + k * dilation: the base l * stride
    remaining = indices.reshape(n, -1)
    base = torch.zeros_like(remaining)
    for i in reversed(range(step.n_dims)):
        base += (remaining % out_spatial[i]) * (m.stride[i] * strides[i])
        remaining = remaining // out_spatial[i]
    n_picked = indices[0, 0].numel()
    w_sel = w[:, channels].transpose(0, 1).reshape(c_t, n_units, 1, -1)  # (G, units, 1, K)
    out = None
    for k, offset in enumerate(itertools.product(*(range(size) for size in m.kernel_size))):
        shift = sum(o * d * st for o, d, st in zip(offset, m.dilation, strides))
        positions = (base + shift).reshape(n, 1, 1, -1).expand(n, n_t, c_t, -1)
        term = padded.gather(3, positions).reshape(n, n_t, c_t, n_units, n_picked)
        w_k = w_sel[..., k]
        out = term * w_k if out is None else out.addcmul_(term, w_k)
    return out.reshape(n, n_t * c_t, n_units, *indices.shape[2:])


def _as_tuple(value: int | tuple[int, ...] | None, n_dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n_dims  # type: ignore[return-value]


def _fuse_avg_pool(
    conv: _Step, pool: _Step, weight: Tensor
) -> tuple[Tensor, tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """The composite of convolution ``conv`` and the average pooling ``pool`` after it, when the
    pooling has no padding: a convolution with kernel ``W'[q] = (1/|p|) sum_{m s + k d = q} W[k]``
    (m over the pooling window, s and d the convolution's stride and dilation) and stride
    ``s * pooling stride``; ``None`` when the pooling does not fit."""
    p = pool.module
    if not isinstance(p, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)) or pool.n_dims != conv.n_dims:
        return None
    n_dims = conv.n_dims
    padding = _as_tuple(p.padding, n_dims)
    if any(padding) or p.ceil_mode or getattr(p, "divisor_override", None):
        return None
    window = _as_tuple(p.kernel_size, n_dims)
    pool_stride = _as_tuple(p.stride if p.stride is not None else p.kernel_size, n_dims)
    m = conv.module
    kernel = tuple(
        (w - 1) * s + (k - 1) * d + 1
        for w, s, k, d in zip(window, m.stride, m.kernel_size, m.dilation)
    )
    composite = weight.new_zeros(*weight.shape[:2], *kernel)
    for shift in itertools.product(*(range(w) for w in window)):
        view = composite[
            (
                ...,
                *(
                    slice(j * s, j * s + (k - 1) * d + 1, d)
                    for j, s, k, d in zip(shift, m.stride, m.kernel_size, m.dilation)
                ),
            )
        ]
        view += weight
    composite /= math.prod(window)
    stride = tuple(s * ps for s, ps in zip(m.stride, pool_stride))
    return composite, stride, kernel, tuple(pool.out_shape[1:])


# ---------------------------------------------------------------------------------------------
# the Hessian


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _jacobian(step: _Step, x_in: Tensor, d: Tensor, jac: Tensor) -> None:
    """Write ``df_k/dtheta`` of ``step``'s trainable tensors for every sample into ``jac``
    ``(m, k, p)``, from ``d = df_k/dz`` ``(m, k, units, *L)``."""
    n, n_out, n_units = d.shape[:3]
    if step.weight_offset is not None:
        w = step.module.weight
        if step.kind == "conv":
            padded = _pad(step, x_in)
            dm = d.reshape(n, n_out * n_units, -1)
            cols = [
                torch.bmm(dm, padded[(..., *sl)].reshape(n, padded.shape[1], -1).transpose(1, 2))
                for sl in _offsets(step)
            ]
            jw = torch.stack(cols, dim=-1).reshape(n, n_out, -1)  # (o, c, k) order
        else:
            jw = (d[..., None] * x_in[:, None, None, :]).reshape(n, n_out, -1)
        jac[:, :, step.weight_offset : step.weight_offset + w.numel()] = jw
    if step.bias_offset is not None:
        jac[:, :, step.bias_offset : step.bias_offset + n_units] = d.reshape(
            n, n_out, n_units, -1
        ).sum(-1)


def sequential_hessian(obj: Objective, theta: Tensor, plan: SequentialPlan) -> Tensor:
    """The exact Hessian of ``obj`` at ``theta`` by the structured path (module docstring).

    Memory is bounded like the generic path: at most ``obj.max_batch_size`` rows go through a
    pass, a row being one (sample, output unit) pair for the Jacobians and one (sample, tangent)
    pair for the forward tangents.
    """
    p, n_samples = obj.n_parameters, obj.n_samples
    params = obj.unflatten(theta)
    steps = plan.steps
    for step in steps:
        if step.affine:
            weight = params.get(f"{step.path}.weight", step.module.weight).detach()
            bias = step.module.bias
            bias = params.get(f"{step.path}.bias", bias) if bias is not None else None
            step.params = (weight, None if bias is None else bias.detach())
    for step, after in itertools.pairwise(steps):
        if step.kind == "conv":
            step.pooled = _fuse_avg_pool(step, after, step.params[0])
    affine = [i for i, s in enumerate(steps) if s.affine]
    trainable_weight = [i for i in affine if steps[i].weight_offset is not None]
    # sources of forward tangents: affine steps with trainable parameters and a later step
    # with a trainable weight (the residual term pairs them); the last such step ends the pass
    sources = []
    for a in affine:
        later = [b for b in trainable_weight if b > a]
        if steps[a].n_features and later:
            sources.append((a, later[-1]))
    rows_of: dict[int, Tensor] = {}
    for a, _ in sources:
        s = steps[a]
        n_w, n_g = s.n_weight_features, s.n_groups
        units = torch.arange(n_g, device=obj.device)
        blocks = []
        if s.weight_offset is not None:
            blocks.append(
                s.weight_offset
                + units[None, :] * n_w
                + torch.arange(n_w, device=obj.device)[:, None]
            )
        if s.bias_offset is not None:
            blocks.append((s.bias_offset + units)[None, :])
        rows_of[a] = torch.cat(blocks)  # (features, units) -> row of H

    mbs = obj.max_batch_size
    gauss_newton = torch.zeros(p, p, dtype=obj.dtype, device=obj.device)
    h_r = torch.zeros(p, p, dtype=obj.dtype, device=obj.device)
    needed = [
        i for i in affine if steps[i].weight_offset is not None or steps[i].bias_offset is not None
    ]
    outer = max(1, mbs // plan.n_outputs)
    for xs in _chunks(n_samples, outer):
        x, y = obj.inputs[xs], obj.targets[xs]
        with torch.enable_grad():
            out, zs, record = _forward(plan, x)
            r, curvature, diagonal = _output_curvature(obj.loss_fn, out.detach(), y)
            f = _align(out, y) if obj.loss_fn != "cross_entropy" else out
            f = f.reshape(f.shape[0], -1)
            n, k_out = f.shape
            jac = torch.zeros(n, k_out, p, dtype=obj.dtype, device=obj.device)
            deltas: dict[int, Tensor] = {i: 0 for i in needed}  # type: ignore[misc]
            for k in range(k_out):
                # rows do not interact, so the gradient of the sum over the samples of output
                # k holds every sample's df_k/dz (a scalar output: no grad_outputs to check)
                grads = torch.autograd.grad(
                    f[:, k].sum(), [zs[i] for i in needed], retain_graph=k < k_out - 1
                )
                for i, g in zip(needed, grads):
                    deltas[i] = deltas[i] + r[:, k].reshape(-1, *[1] * (g.dim() - 1)) * g
                    if k == 0:
                        record.deltas[i] = torch.empty(
                            n, k_out, *g.shape[1:], dtype=g.dtype, device=g.device
                        )
                    record.deltas[i][:, k] = g
        for i in needed:
            _jacobian(steps[i], record.inputs[i], record.deltas[i], jac)
            record.deltas[i] = deltas[i]
        weighted = curvature.unsqueeze(-1) * jac if diagonal else torch.bmm(curvature, jac)
        gauss_newton += jac.reshape(-1, p).T @ weighted.reshape(-1, p)
        del jac, weighted
        # the residual term: forward tangents of each source step, chunked
        for a, last in sources:
            n_f, n_g = steps[a].n_features, steps[a].n_groups
            g_size = min(n_g, mbs)
            f_size = max(1, min(n_f, mbs // g_size))
            x_size = max(1, mbs // (f_size * g_size))
            for sub in _chunks(n, x_size):
                for fs in _chunks(n_f, f_size):
                    for gs in _chunks(n_g, g_size):
                        _propagate(plan, record, sub, a, last, fs, gs, rows_of[a][fs, gs], h_r)
    h = (gauss_newton + gauss_newton.T) / 2 + h_r + h_r.T
    h /= n_samples
    if obj.l2:
        h.diagonal().add_(2.0 * obj.l2)  # Hessian of l2 ||theta||^2 is 2 l2 I
    return h
