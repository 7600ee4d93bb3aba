"""Coalitions of features, and the value of a coalition against a reference.

The perturbation methods (Shapley values, LIME) play a cooperative game whose players are
*features*: the elements of one sample, or groups of them given by an integer ``feature_mask``
(a column of a table, a spin, a patch of a lattice). A *coalition* ``S`` is a boolean vector over
the ``d`` groups; the input it stands for keeps ``x`` on the groups in ``S`` and takes a reference
value elsewhere. With a background set of ``m`` reference samples the value of a coalition is the
interventional expectation (Lundberg & Lee 2017; Janzing et al. 2020)::

    v_x(S) = (1 / m) * sum_b f(x_S, b_{not S})

and with a single baseline it is ``f(x_S, baseline_{not S})`` (``m = 1``). This module holds the
checks of ``feature_mask``, ``background`` and ``baseline`` shared by the family, and the batched
evaluation of ``v`` for many coalitions: (sample x coalition x reference row) inputs are built and
evaluated in chunks of at most ``max_batch_size`` rows, never one model call per coalition.

Results of the family are returned per element: a group's value ``phi_g`` is divided equally among
the group's elements, so the sum of the returned tensor over a sample equals the sum over groups
(efficiency holds for the tensor itself).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .._validation import TargetFn, _shape, check_baseline, check_finite
from ._base import Attribution, chunks

__all__ = [
    "CoalitionAttribution",
    "FeatureGroups",
    "all_coalitions",
    "check_feature_mask",
    "check_reference",
    "coalition_values",
    "lstsq",
]

_INTEGER_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


class FeatureGroups:
    """The groups of one sample's elements: ``index[e]`` is the group (0..d-1) of element ``e``.

    Parameters
    ----------
    index : LongTensor, shape ``(numel,)``
        Group of each element of one sample, flattened in C order, values ``0 .. d-1``.
    n_groups : int
        ``d``, the number of players of the game.
    shape : tuple of int
        The per-sample shape ``F``.
    """

    def __init__(self, index: Tensor, n_groups: int, shape: tuple[int, ...]):
        self.index = index
        self.n_groups = n_groups
        self.shape = shape
        self.sizes = torch.bincount(index, minlength=n_groups)
        #: every element is its own group, in order (no gather needed)
        self.identity = n_groups == index.numel() and bool(
            (index == torch.arange(n_groups, device=index.device)).all()
        )

    def element_masks(self, coalitions: Tensor) -> Tensor:
        """Boolean ``(k, *F)``: which elements each of the coalitions ``(k, d)`` keeps."""
        if not self.identity:
            coalitions = coalitions[:, self.index]
        return coalitions.reshape(coalitions.shape[0], *self.shape)

    def spread(self, values: Tensor) -> Tensor:
        """Per-group values ``(n, d)`` to per-element ``(n, *F)``, divided by the group's size."""
        per_element = values / self.sizes.to(values.dtype)
        return per_element[:, self.index].reshape(values.shape[0], *self.shape)


def check_feature_mask(feature_mask: Any, inputs: Tensor, caller: str) -> FeatureGroups:
    """Validate ``feature_mask`` against one sample of ``inputs``; relabel its ids to 0..d-1.

    ``None`` makes every element its own group (``d = numel`` of one sample). Otherwise the mask
    is an integer tensor that broadcasts to one sample's shape ``F`` (``(L, L)`` for inputs
    ``(n, 1, L, L)``); the groups are its distinct values, which need not be contiguous or
    consecutive, and group ``g`` of the result is the ``g``-th smallest id.
    """
    feat = tuple(inputs.shape[1:])
    numel = 1
    for s in feat:
        numel *= s
    if feature_mask is None:
        index = torch.arange(numel, device=inputs.device)
        return FeatureGroups(index, numel, feat)
    if not isinstance(feature_mask, Tensor):
        raise TypeError(
            f"{caller}: feature_mask must be an integer torch.Tensor (a group id per element of "
            f"one sample) or None; got {type(feature_mask).__name__}."
        )
    if feature_mask.dtype not in _INTEGER_DTYPES:
        raise ValueError(
            f"{caller}: feature_mask must have an integer dtype (group ids); got dtype "
            f"{feature_mask.dtype}. Try feature_mask.long()."
        )
    if feature_mask.device != inputs.device:
        raise ValueError(
            f"{caller}: feature_mask must be on the device of inputs ({inputs.device}); got "
            f"{feature_mask.device}. Move it with feature_mask.to(inputs.device)."
        )
    ok = feature_mask.dim() <= len(feat)
    if ok:
        try:
            ok = tuple(torch.broadcast_shapes(feature_mask.shape, feat)) == feat
        except RuntimeError:
            ok = False
    if not ok:
        hint = ""
        if feature_mask.dim() == len(feat) + 1 and feature_mask.shape[0] in (1, inputs.shape[0]):
            hint = (
                " One mask serves the whole batch: drop the batch dimension, e.g. feature_mask[0]."
            )
        raise ValueError(
            f"{caller}: feature_mask must broadcast to the shape of one sample "
            f"({', '.join(map(str, feat))}) of inputs {_shape(inputs)}; got shape "
            f"{_shape(feature_mask)}.{hint}"
        )
    full = feature_mask.expand(feat).reshape(-1).long()
    _, index = torch.unique(full, sorted=True, return_inverse=True)
    n_groups = int(index.max()) + 1
    return FeatureGroups(index, n_groups, feat)


def check_reference(background: Any, baseline: Any, inputs: Tensor, caller: str) -> Tensor:
    """The reference rows ``(n_ref, m, *F)`` (``n_ref`` 1 or n) from ``background`` or ``baseline``.

    ``background`` is ``(m, *F)``: ``m`` reference samples shared by the batch. ``baseline`` is a
    float or a tensor ``(1, *F)`` / ``(n, *F)`` (one reference row, possibly per sample). Each is
    validated on its own first; giving both, or neither, raises.
    """
    ref = None
    if background is not None:
        if not isinstance(background, Tensor):
            raise TypeError(
                f"{caller}: background must be a torch.Tensor of reference samples (m, *F); got "
                f"{type(background).__name__}."
            )
        feat = tuple(inputs.shape[1:])
        if background.device != inputs.device:
            raise ValueError(
                f"{caller}: background must be on the device of inputs ({inputs.device}); got "
                f"{background.device}. Move it with background.to(inputs.device)."
            )
        if background.dtype != inputs.dtype:
            raise ValueError(
                f"{caller}: background must have the dtype of inputs ({inputs.dtype}); got "
                f"{background.dtype}. Try background.to(inputs.dtype)."
            )
        if (
            background.dim() != inputs.dim()
            or tuple(background.shape[1:]) != feat
            or background.shape[0] == 0
        ):
            hint = " Try background[None]." if tuple(background.shape) == feat else ""
            raise ValueError(
                f"{caller}: background must have shape (m, {', '.join(map(str, feat))}) with "
                f"m >= 1 reference samples for inputs {_shape(inputs)}; got shape "
                f"{_shape(background)}.{hint}"
            )
        check_finite(background, caller, "background")
        ref = background.detach()[None]
    if baseline is not None:
        base = check_baseline(baseline, inputs, caller, default=None).detach()
        if ref is not None:
            raise ValueError(
                f"{caller}: background and baseline are alternatives; got both. Pass background "
                "(m, *F) for interventional Shapley values over m reference samples, or one "
                "baseline."
            )
        # one reference row per sample, or one shared row (a float, or an expanded (1, *F))
        shared = not isinstance(baseline, Tensor) or base.shape[0] == 1 or base.stride(0) == 0
        ref = base[:1, None] if shared else base[:, None]
    if ref is None:
        raise ValueError(
            f"{caller}: background or baseline is required; got neither. Shapley values and "
            "LIME explain f(x) against a reference: pass background=<tensor (m, *F) of reference "
            "samples> (interventional values), or baseline=0.0 (or a tensor (1, *F) / (n, *F))."
        )
    return ref


def lstsq(a: Tensor, b: Tensor) -> Tensor:
    """Minimum-norm least-squares solution of ``a x = b``, reproducible bit for bit.

    On the CPU LAPACK's default ``gelsy`` driver is not bitwise reproducible from call to call
    (measured with torch 2.13), which would break "same generator, same result"; the SVD-based
    ``gelsd`` is, and it also handles rank-deficient designs. CUDA's only driver (``gels``)
    assumes full rank, so other devices use the pseudo-inverse (also SVD-based).
    """
    if a.device.type == "cpu":
        return torch.linalg.lstsq(a, b, driver="gelsd").solution
    return torch.linalg.pinv(a) @ b


def all_coalitions(n_groups: int) -> Callable[[Tensor], Tensor]:
    """Coalition ``c`` of all ``2^d`` is the bitmask of the integer ``c`` (bit i: group i)."""

    def masks(c: Tensor) -> Tensor:
        bits = torch.arange(n_groups, device=c.device)
        return ((c[:, None] >> bits) & 1).bool()

    return masks


@torch.no_grad()
def coalition_values(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    reference: Tensor,
    groups: FeatureGroups,
    masks: Tensor | Callable[[Tensor], Tensor],
    n_coalitions: int,
    target: TargetFn,
    max_batch_size: int,
) -> Tensor:
    """``v_x(S)`` for every sample and coalition: ``(n, k)``, the mean over the reference rows.

    Parameters
    ----------
    masks : BoolTensor ``(k, d)`` or callable
        The coalitions, or a function from coalition indices ``(r,)`` to their masks ``(r, d)``
        (so that all ``2^d`` need not be held at once).
    n_coalitions : int
        ``k``.

    The (sample, coalition) cells are taken in chunks of ``max_batch_size // m`` and each cell's
    ``m`` rows (one per reference row) are built by one broadcast ``where`` into a reused buffer,
    so a chunk is one model call of at most ``max_batch_size`` rows. With at least that many
    coalitions a chunk stays within one sample (the input row and the coalition block are views:
    no index arithmetic per chunk); otherwise a chunk spans samples. When ``m > max_batch_size``
    a cell's rows are split over several calls and summed in order.
    """
    n, m, k = inputs.shape[0], reference.shape[1], n_coalitions
    dev, feat = inputs.device, inputs.shape[1:]
    per_sample = reference.shape[0] > 1

    def keep_of(c: Tensor | slice) -> Tensor:
        """Element masks ``(cells, 1, *F)`` of coalitions given by indices or a slice."""
        if keep_all is not None:
            return keep_all[c]
        if isinstance(c, slice):
            c = torch.arange(c.start, c.stop, device=dev)
        return groups.element_masks(masks[c] if isinstance(masks, Tensor) else masks(c))[:, None]

    # all element masks at once when they are small (LIME, Kernel SHAP, permutation prefixes)
    numel = math.prod(feat)
    keep_all = None
    if isinstance(masks, Tensor) and k * numel <= 1 << 24:
        keep_all = groups.element_masks(masks)[:, None]

    if m > max_batch_size:  # one cell's reference rows need several calls
        out = torch.empty(n, k, dtype=inputs.dtype, device=dev)
        for j in range(n):
            ref = reference[j if per_sample else 0][None]
            index = torch.full((max_batch_size,), j, dtype=torch.long, device=dev)
            for c in range(k):
                keep = keep_of(slice(c, c + 1))
                total = torch.zeros((), dtype=inputs.dtype, device=dev)
                for bl in chunks(m, max_batch_size):
                    rows = torch.where(keep, inputs[j : j + 1, None], ref[:, bl]).view(-1, *feat)
                    f = target(model(rows), index[: rows.shape[0]])
                    total = total + f.to(inputs.dtype).sum()
                out[j, c] = total
        return out / m

    cells_per_call = max_batch_size // m
    buffer = torch.empty(min(cells_per_call, n * k), m, *feat, dtype=inputs.dtype, device=dev)
    parts: list[Tensor] = []
    if k >= cells_per_call:
        for j in range(n):
            x_rows = inputs[j : j + 1, None]  # (1, 1, *F)
            ref = reference[j if per_sample else 0][None]  # (1, m, *F)
            index = torch.full((cells_per_call * m,), j, dtype=torch.long, device=dev)
            for cs in chunks(k, cells_per_call):
                c = cs.stop - cs.start
                rows = torch.where(keep_of(cs), x_rows, ref, out=buffer[:c]).view(c * m, *feat)
                parts.append(target(model(rows), index[: c * m]).view(c, m).sum(1))
    else:
        for cl in chunks(n * k, cells_per_call):
            cell = torch.arange(cl.start, cl.stop, device=dev)
            j, c = cell // k, cell % k
            ref = reference[j] if per_sample else reference[:1]  # (cells | 1, m, *F)
            rows = torch.where(keep_of(c), inputs[j][:, None], ref, out=buffer[: len(cell)])
            rows = rows.view(-1, *feat)
            parts.append(target(model(rows), j.repeat_interleave(m)).view(len(cell), m).sum(1))
    return (torch.cat(parts).to(inputs.dtype) / m).view(n, k)


class CoalitionAttribution(Attribution):
    """Base of the coalition-based methods: their shared boundary checks."""

    def _setup(
        self,
        inputs: Tensor,
        target: Any,
        feature_mask: Any,
        background: Any,
        baseline: Any,
        max_batch_size: Any,
    ) -> tuple[Tensor, TargetFn, FeatureGroups, Tensor, int]:
        step = self._check_max_batch_size(max_batch_size)
        x, tgt = self._prepare(inputs, target)
        groups = check_feature_mask(feature_mask, x, self._caller)
        ref = check_reference(background, baseline, x, self._caller)
        return x, tgt, groups, ref, step
