"""Occlusion: slide a window over the input, replace it by a baseline, and watch the output.

Zeiler & Fergus (2014) grey out one square of an image at a time and record how much the class
score drops. Here the window spans any number of trailing per-sample dimensions (a 3 x 3 patch of
an ``L x L`` lattice, one column of a table) and covers the leading ones (channels) whole. For a
window position ``W`` the occluded input is ``x`` with the features in ``W`` set to the baseline,
and the attribution of a feature is the average over the windows that cover it of the output
difference::

    R_i = (1 / |{W : i in W}|) * sum_{W : i in W} [f(x) - f(x with W occluded)]

which is Captum's normalisation (sum of the differences divided by the number of windows covering
the feature). Window positions start at 0 and advance by the stride until the window has reached
the end of each dimension; like Captum, the last window in a dimension may be cut off by the edge.
Features that no window covers (a stride larger than the window) get 0.

With ``periodic=True`` the windows wrap around the edges, as on a spin lattice with periodic
boundary conditions: positions run over every offset ``0, s, 2s, ...`` of the torus, so the
treatment of the sites is invariant under the lattice translations by the stride (every site is
covered ``prod_d w_d / s_d`` times when each stride divides its window).

All (window position x sample) occluded inputs are built chunk by chunk and evaluated in batched
model calls of at most ``max_batch_size`` rows; the result does not depend on ``max_batch_size``.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from .._validation import check_baseline
from ._base import DEFAULT_MAX_BATCH_SIZE, Attribution, chunks, evaluate

__all__ = ["Occlusion"]


def _as_sizes(value: Any, caller: str, name: str, length: int | None = None) -> tuple[int, ...]:
    """An int or a sequence of ints >= 1 as a tuple (an int broadcasts to ``length``)."""

    def bad() -> ValueError:
        expected = "an int >= 1 or a tuple of ints >= 1"
        if length is not None:
            expected += f" of length {length} (one per window dimension)"
        return ValueError(f"{caller}: {name} must be {expected}; got {value!r}.")

    if isinstance(value, bool):
        raise bad()
    if isinstance(value, int):
        sizes: tuple[int, ...] = (value,) * (1 if length is None else length)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        sizes = tuple(value)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, int) for s in sizes):
            raise bad()
        if length is not None and len(sizes) != length:
            raise bad()
    else:
        raise bad()
    if any(s < 1 for s in sizes):
        raise bad()
    return sizes


def _starts(size: int, window: int, stride: int, periodic: bool) -> Tensor:
    """Window start positions along one dimension of length ``size``."""
    if periodic:
        return torch.arange(0, size, stride)
    # Captum's count: ceil((size - window) / stride) + 1 positions, the last possibly cut off;
    # positions at or past the end (only when stride > window) would occlude nothing.
    n_pos = -(-(size - window) // stride) + 1
    starts = torch.arange(n_pos) * stride
    return starts[starts < size]


def _membership(starts: Tensor, size: int, window: int, periodic: bool) -> Tensor:
    """Boolean ``(n_positions, size)``: which sites of the dimension each window covers."""
    offset = torch.arange(size)[None, :] - starts[:, None]
    if periodic:
        offset = offset % size
    return (offset >= 0) & (offset < window)


class Occlusion(Attribution):
    """Sliding-window occlusion (Zeiler & Fergus 2014), with optional periodic wrapping.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(m, *F)`` to outputs ``(m,)``, ``(m, 1)`` or ``(m, n_outputs)``.
    window : int or tuple of int
        The window's size over the TRAILING per-sample dimensions: ``(3, 3)`` is a 3 x 3 patch of
        the last two dimensions of ``(n, L, L)`` or ``(n, 1, L, L)`` (all channels at once); an
        int is a window over the last dimension only (``window=1`` on tabular ``(n, d)``
        occludes one column at a time).
    stride : int, tuple of int, or None
        Step between window positions per window dimension; an int applies to every window
        dimension; None means the window size (non-overlapping windows).
    periodic : bool
        Wrap windows around the edges of the window dimensions (periodic lattices). The stride
        must then divide each dimension's length.

    Raises
    ------
    ValueError
        For a window or stride that is not positive ints, or a stride tuple whose length is not
        the window's.
    TypeError
        For a non-bool ``periodic``.

    References
    ----------
    M. D. Zeiler, R. Fergus, "Visualizing and Understanding Convolutional Networks",
    ECCV 2014, arXiv:1311.2901.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(4, 1, bias=False).double().eval()
    >>> x = torch.ones(2, 4, dtype=torch.float64)
    >>> R = Occlusion(model, window=1).attribute(x, baseline=0.0)
    >>> torch.allclose(R, model.weight.detach().expand(2, 4))
    True
    """

    name = "occlusion"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        window: int | tuple[int, ...],
        stride: int | tuple[int, ...] | None = None,
        periodic: bool = False,
    ):
        super().__init__(model)
        cls = type(self).__name__
        self.window = window
        self.stride = stride
        if not isinstance(periodic, bool):
            raise TypeError(f"{cls}: periodic must be a bool; got {type(periodic).__name__}.")
        self.periodic = periodic
        self._window = _as_sizes(window, cls, "window")
        self._stride = (
            self._window if stride is None else _as_sizes(stride, cls, "stride", len(self._window))
        )

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        baseline: float | Tensor | None = 0.0,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> Tensor:
        """Average output drop over the windows covering each feature.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            The batch; the window covers the last ``len(window)`` dimensions of ``F``.
        target : None, int, LongTensor of shape ``(n,)``, or callable output -> (n,)
            The explained output.
        baseline : float or Tensor of shape ``(1, *F)`` or ``(n, *F)``
            The value occluded features take; None means 0.
        max_batch_size : int
            At most this many occluded rows are built and evaluated at a time.

        Returns
        -------
        Tensor
            Shaped like ``inputs``; equal over the leading (non-window) per-sample dimensions.

        Raises
        ------
        ValueError
            When the window has more dimensions than a sample, is larger than a dimension, or
            (periodic) a stride does not divide its dimension; for a bad baseline or batch size.
        """
        caller = self._caller
        max_batch_size = self._check_max_batch_size(max_batch_size)
        x, tgt = self._prepare(inputs, target)
        base = check_baseline(baseline, x, caller)
        win_shape = self._check_shape(x, caller)
        n, k = x.shape[0], len(self._window)
        n_lead = x.dim() - 1 - k
        dev = x.device

        starts = [
            _starts(size, w, s, self.periodic)
            for size, w, s in zip(win_shape, self._window, self._stride)
        ]
        member = [
            _membership(st, size, w, self.periodic).to(dev)
            for st, size, w in zip(starts, win_shape, self._window)
        ]
        n_pos = [len(st) for st in starts]
        n_windows = math.prod(n_pos)

        index = self._index(n, dev)
        f_x = evaluate(self.model, x, index, tgt, max_batch_size)
        total = torch.zeros((n, *win_shape), dtype=x.dtype, device=dev)
        # rows are window-major: row r occludes window r // n of sample r % n
        for sl in chunks(n_windows * n, max_batch_size):
            rows = torch.arange(sl.start, sl.stop, device=dev)
            window_id, sample = rows // n, rows % n
            mask = self._mask(window_id, member, n_pos)  # (m, *win_shape), bool
            mask_in = mask.reshape(mask.shape[0], *(1,) * n_lead, *win_shape)
            occluded = torch.where(mask_in, base[sample], x[sample])
            with torch.no_grad():
                f_occ = tgt(self.model(occluded), sample)
            diff = (f_x[sample] - f_occ).to(x.dtype)
            contribution = diff.reshape(-1, *(1,) * k) * mask.to(x.dtype)
            total.index_add_(0, sample, contribution)

        # coverage factorises over the window dimensions: count(j) = prod_d count_d(j_d)
        count = torch.ones(win_shape, dtype=x.dtype, device=dev)
        for d, m in enumerate(member):
            shape = [1] * k
            shape[d] = win_shape[d]
            count = count * m.sum(0).to(x.dtype).reshape(shape)
        attr = torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))
        attr = attr.reshape(n, *(1,) * n_lead, *win_shape).expand(x.shape)
        return attr.contiguous()

    @staticmethod
    def _mask(window_id: Tensor, member: list[Tensor], n_pos: list[int]) -> Tensor:
        """Boolean ``(m, *win_shape)`` occlusion masks of the given flat window indices."""
        k = len(member)
        mask = None
        rem = window_id
        # unravel the flat window index in C order (last window dimension fastest)
        for d in reversed(range(k)):
            pos_d = rem % n_pos[d]
            rem = rem // n_pos[d]
            part = member[d][pos_d]  # (m, size_d)
            shape = [part.shape[0]] + [1] * k
            shape[1 + d] = part.shape[1]
            part = part.reshape(shape)
            mask = part if mask is None else mask & part
        assert mask is not None
        return mask

    def _check_shape(self, x: Tensor, caller: str) -> tuple[int, ...]:
        feat = tuple(x.shape[1:])
        k = len(self._window)
        if k > len(feat):
            raise ValueError(
                f"{caller}: window {self._window} has {k} dimensions but one sample of inputs "
                f"{tuple(x.shape)} has only {len(feat)}; the window covers trailing per-sample "
                "dimensions."
            )
        win_shape = feat[len(feat) - k :]
        if any(w > size for w, size in zip(self._window, win_shape)):
            raise ValueError(
                f"{caller}: window {self._window} is larger than the trailing dimensions "
                f"{win_shape} of inputs {tuple(x.shape)}. Use a smaller window."
            )
        if self.periodic:
            for s, size in zip(self._stride, win_shape):
                if size % s:
                    raise ValueError(
                        f"{caller}: with periodic=True each stride must divide its dimension so "
                        f"that the windows tile the torus; got stride {self._stride} for "
                        f"dimensions {win_shape}. Try stride=1 or periodic=False."
                    )
        return win_shape
