"""Correlator convolutional neural networks (CCNN): which multi-site correlators decide a class?

A CCNN (Miles et al. 2021) classifies multi-channel lattice snapshots S_k(x) (one-hot channels
k = up, down, hole) through features that are, by construction, *correlators*. Each of a few
positive filters f_{alpha,k}(a) (K x K offsets a, one weight per channel) defines at every
placement x of the window the sum over products of n **distinct** (offset, channel) pairs,

    C_alpha^(n)(x) = sum_{(a_1,k_1) < ... < (a_n,k_n)} prod_j f_{alpha,k_j}(a_j) S_{k_j}(x + a_j),

the elementary symmetric polynomial e_n of the K*K*C numbers f S in the window. With the power
sums P_l(x) = sum_{a,k} f_{alpha,k}(a)^l S_k(x + a)^l (one convolution of S^l with f^l each)
Newton's identities (Newton-Girard) give all orders at the cost of n convolutions,

    C^(0) = 1,    C^(n) = (1/n) sum_{l=1..n} (-1)^(l-1) P_l C^(n-l),                  (1)

and the features are the spatial sums c_alpha^(n) = sum_x C_alpha^(n)(x). For one-hot inputs
S^l = S and a product over two channels of one site vanishes, so C^(n) counts the n-site
configurations in the window weighted by the filter: c^(2) of a filter with up weights on one
sublattice and down weights on the other measures antiferromagnetic order, c^(4) of a filter
that sees holes and spins measures the spin pattern around a hole. The features are averaged
over the 8 symmetries of the square (D4), and a normalised linear head (BatchNorm without
affine parameters, then a linear map to 2 logits) makes the decision: the logit difference is
linear in the standardised correlators.

Implementation choices (the paper's code, PAPERS.md section 5, and ours):

- **Positivity**: the effective filters are ``abs(filters)``, initialised uniform in
  [0, 2 / sqrt(K^2 C)) as in the paper's code.
- **Padding**: zero padding K - 1 on each side, so every placement of the window that overlaps
  the lattice is summed (the paper's 2 floor(K/2) for odd K; for even K the extra placements
  see no site and add nothing). With it, sum_x C^(1) = sum_k (sum_a f_k(a)) N_k exactly:
  order 1 is the channel counts N_k and nothing else.
- **Crop**: an optional mask (e.g. a disc of about 80 sites inside 10 x 10, as in the
  experiment) multiplies the input, so sites outside it are empty in every channel.
- **D4**: the paper folds the 8 rotated/reflected snapshots into the batch. Because the spatial
  sum over all placements of a transformed snapshot equals that of the snapshot with the
  inversely transformed filter, we fold the 8 filters into the output channels instead: the
  same numbers (a test checks it against transformed inputs) from one convolution of the
  untransformed batch.
- **Head**: the paper forces the linear head's weights >= 0. With two logits the decision
  depends only on w_1 - w_0, which such a constraint does not restrict, so we use a plain
  linear layer.
- **Loss**: cross-entropy + gamma sum |f| (L1 on the filters), trained with
  :func:`physxai.models.fit`.

The **regularisation path** (:func:`regularization_path`) then freezes the filters, standardises
the correlator features on the training set, and fits an L1 logistic regression (SAGA, balanced
classes, warm start) on a log grid of the inverse penalty C = 1/lambda. The first features to
become non-zero are the most important correlators. By the optimality (KKT) condition of the L1
problem the path is empty for C <= C_min = 1 / max_j |g_j|, where g_j is the gradient of the
class-weighted log-loss at zero coefficients; the grid starts there, and the first feature to
enter is argmax_j |g_j| (``RegularizationPath.gradient_at_zero``), the standardised correlator
whose class means differ most. **Order 1 takes part by default** (``include_order_1=True``):
with our padding order-1 features are exactly channel counts, so if they enter first the two
classes differ in densities and the path should say so, rather than hide it as the paper's
script does (it zeroes them, marked temporary there). ``include_order_1=False`` reproduces that.

**What training does to the filters** (measured on the AFM-vs-random data of the experiment).
After the BatchNorm every feature is invariant under f_alpha -> s f_alpha, so the cross-entropy
never resists the L1 term's shrinking of a filter's scale: the filters drift towards the
optimiser's noise floor (Adam moves each weight by about the learning rate per step), the
BatchNorm running averages lag behind (:class:`CCNNProbe` recomputes them after training), and a
filter the L1 term has switched off keeps a residual pattern of tiny weights that
standardisation would blow back up, hence ``blank_threshold`` in :func:`regularization_path`.
Where the classes are easy to separate many filters work and the one found depends on the
initial weights: on a strongly ordered antiferromagnet vs random spins, 2 of 5 seeds learn a
checkerboard (up and down on opposite sublattices, :func:`checkerboard_score` > 0.9), the others
ferromagnetic clusters (parallel neighbours, which the antiferromagnet lacks); both give an
order-2 first feature, with coefficients of opposite sign, as :func:`neel_contrast` predicts.

Contents: :class:`CorrelatorCNN` (the ``nn.Module``), :class:`CCNNProbe` (a scikit-learn style
estimator), :func:`regularization_path` with :class:`RegularizationPath` and
:class:`CorrelatorLabel`, :func:`checkerboard_score` (how much a filter's spin weight sits on
the two sublattices), :func:`neel_contrast` (how much Neel order raises or lowers each
correlator) and :func:`low_order_correlators` (one- and two-point correlators in a window: the
control that must *not* separate classes whose difference lies at higher order).

References
----------
C. Miles, A. Bohrdt, R. Wu, C. Chiu, M. Xu, G. Ji, M. Greiner, K. Q. Weinberger, E. Demler,
E.-A. Kim, "Correlator convolutional neural networks as an interpretable architecture for
image-like quantum matter data", Nat. Commun. 12, 3905 (2021), arXiv:2011.03474,
doi:10.1038/s41467-021-23952-w.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    _shape,
    check_binary_labels,
    check_inputs,
    check_positive_float,
    check_positive_int,
)
from ..errors import NotFittedError
from ..models import History, fit

__all__ = [
    "CHANNEL_NAMES",
    "CCNNProbe",
    "CorrelatorCNN",
    "CorrelatorLabel",
    "RegularizationPath",
    "channel_weights",
    "checkerboard_score",
    "d4_filters",
    "low_order_correlators",
    "neel_contrast",
    "regularization_path",
]

#: default channel names of one-hot snapshots (``physxai.physics.snapshots.CHANNELS``)
CHANNEL_NAMES = ("up", "down", "hole")


# ---------------------------------------------------------------------------------------------
# the module


def d4_filters(filters: Tensor) -> Tensor:
    """The 8 images of filters ``(..., K, K)`` under the square's symmetries: ``(8, ..., K, K)``.

    Order: rotations by 0, 90, 180, 270 degrees, then the transpose (a reflection) followed by the
    same four rotations.
    """
    transposed = filters.transpose(-1, -2)
    return torch.stack(
        [torch.rot90(f, k, dims=(-2, -1)) for f in (filters, transposed) for k in range(4)]
    )


def _check_mask(mask: Any, caller: str) -> Tensor | None:
    if mask is None:
        return None
    if isinstance(mask, np.ndarray):
        mask = torch.as_tensor(mask)
    if not isinstance(mask, Tensor):
        raise TypeError(
            f"{caller}: mask must be a 2-d tensor or array of 0/1 (or bool) or None; got "
            f"{type(mask).__name__}."
        )
    if mask.dim() != 2 or mask.numel() == 0:
        raise ValueError(
            f"{caller}: mask must be 2-d (L1, L2), one entry per lattice site; got shape "
            f"{_shape(mask)}."
        )
    if mask.is_complex() or bool(((mask != 0) & (mask != 1)).any()):
        raise ValueError(f"{caller}: mask must hold 0/1 (or bool) entries only; got others.")
    if not bool(mask.any()):
        raise ValueError(f"{caller}: mask selects no site; it must contain at least one 1.")
    return mask.detach().to(torch.float32).clone()


class CorrelatorCNN(nn.Module):
    """The CCNN: positive filters, correlators of every order up to N, D4 average, linear head.

    ``forward(x) = head(correlators(x).flatten(1))`` with ``head = norm -> linear``
    (``BatchNorm1d(n_filters * order, affine=False)`` then ``Linear(n_filters * order,
    n_classes)``). Feature ``j`` of the flattened correlators is filter ``j // order``, order
    ``j % order + 1``.

    Parameters
    ----------
    n_channels : int, default 3
        C, channels of the snapshots (up, down, hole).
    n_filters : int, default 2
        Number of filters alpha.
    kernel_size : int, default 3
        K, the side of the window.
    order : int, default 4
        Highest correlator order N; every order 1..N is a feature.
    mask : Tensor or ndarray of shape (L1, L2), optional
        0/1 crop applied to every snapshot (sites outside are empty); inputs must then be
        ``L1 x L2``. None: no crop, any lattice size.
    symmetrize : bool, default True
        Average the features over the 8 symmetries of the square.
    n_classes : int, default 2
        Logits of the head.

    Attributes
    ----------
    filters : nn.Parameter, shape (n_filters, n_channels, K, K)
        Raw filter parameters; the filters are their absolute values
        (:attr:`positive_filters`).
    head : nn.Sequential
        ``norm`` (BatchNorm1d, no affine) and ``linear``.

    Notes
    -----
    Inputs are ``(n, C, L1, L2)`` real tensors. For one-hot snapshots every order is a weighted
    count of site configurations; for other non-negative inputs (occupation probabilities) Eq.
    (1) still gives the sums over distinct (site, channel) tuples.

    References
    ----------
    C. Miles et al., Nat. Commun. 12, 3905 (2021), arXiv:2011.03474.

    Examples
    --------
    >>> net = CorrelatorCNN(order=3)
    >>> x = torch.zeros(4, 3, 6, 6); x[:, 0] = 1.0
    >>> net.correlators(x).shape, net(x).shape
    (torch.Size([4, 2, 3]), torch.Size([4, 2]))
    """

    def __init__(
        self,
        n_channels: int = 3,
        n_filters: int = 2,
        kernel_size: int = 3,
        order: int = 4,
        *,
        mask: Tensor | np.ndarray | None = None,
        symmetrize: bool = True,
        n_classes: int = 2,
    ):
        super().__init__()
        caller = "CorrelatorCNN"
        self.n_channels = check_positive_int(n_channels, caller, "n_channels")
        self.n_filters = check_positive_int(n_filters, caller, "n_filters")
        self.kernel_size = check_positive_int(kernel_size, caller, "kernel_size")
        self.order = check_positive_int(order, caller, "order")
        n_classes = check_positive_int(n_classes, caller, "n_classes")
        if not isinstance(symmetrize, bool):
            raise TypeError(
                f"{caller}: symmetrize must be a bool; got {type(symmetrize).__name__}."
            )
        self.symmetrize = symmetrize
        k = self.kernel_size
        # uniform positive initialisation on [0, 2 / sqrt(K^2 C)), the paper's code: the range
        # of PyTorch's default convolution initialisation folded onto positive values
        bound = 2.0 / math.sqrt(k * k * n_channels)
        self.filters = nn.Parameter(bound * torch.rand(n_filters, n_channels, k, k))
        self.register_buffer("mask", _check_mask(mask, caller))
        n_features = n_filters * order
        self.head = nn.Sequential()
        self.head.add_module("norm", nn.BatchNorm1d(n_features, affine=False))
        self.head.add_module("linear", nn.Linear(n_features, n_classes))

    @property
    def positive_filters(self) -> Tensor:
        """The filters f = |filters|: ``(n_filters, n_channels, K, K)``."""
        return self.filters.abs()

    def power_sums(self, x: Tensor) -> Tensor:
        """P_l(x) = sum_{a,k} f_k(a)^l S_k(x+a)^l for l = 1..N at every placement.

        Returns
        -------
        Tensor, shape (n, order, n_symmetries, n_filters, L1 + K - 1, L2 + K - 1)
            ``n_symmetries`` is 8 (filters under D4, :func:`d4_filters`) or 1.
        """
        if self.mask is not None:
            x = x * self.mask.to(x.dtype)
        f = self.positive_filters
        bank = d4_filters(f) if self.symmetrize else f[None]  # (G, F, C, K, K)
        n_sym = bank.shape[0]
        powers = range(1, self.order + 1)
        weight = torch.cat([bank if p == 1 else bank.pow(p) for p in powers]).flatten(0, 1)
        pad = self.kernel_size - 1
        if bool(((x == 0) | (x == 1)).all()):
            # 0/1 inputs (one-hot snapshots): S^l = S, so one convolution of S with the stacked
            # f^l gives every P_l (exactly the general branch below, without the l-th powers)
            out = F.conv2d(x, weight, padding=pad)
        else:
            # group l convolves S^l with the 8 x F filters f^l
            inputs = torch.cat([x if p == 1 else x.pow(p) for p in powers], dim=1)
            out = F.conv2d(inputs, weight, padding=pad, groups=self.order)
        return out.view(x.shape[0], self.order, n_sym, self.n_filters, *out.shape[-2:])

    def _maps(self, x: Tensor) -> list[Tensor]:
        # unbind rather than index: its backward stacks the gradients instead of filling a
        # zero tensor of the full size for every slice
        power = self.power_sums(x).unbind(1)
        maps: list[Tensor] = [torch.ones_like(power[0])]
        for n in range(1, self.order + 1):
            # Newton-Girard, Eq. (1): n e_n = sum_l (-1)^(l-1) p_l e_{n-l} (fused multiply-adds)
            total = power[0] * maps[n - 1]
            for l in range(2, n + 1):
                total = torch.addcmul(total, power[l - 1], maps[n - l], value=(-1) ** (l - 1))
            maps.append(total * (1.0 / n))
        return maps[1:]

    def correlator_maps(self, x: Tensor) -> Tensor:
        """C^(n)(x) for n = 1..N at every placement, Eq. (1).

        Returns
        -------
        Tensor, shape (n, order, n_symmetries, n_filters, L1 + K - 1, L2 + K - 1)
        """
        return torch.stack(self._maps(x), dim=1)

    def correlators(self, x: Tensor) -> Tensor:
        """Spatially summed, D4-averaged correlators c_alpha^(n): ``(n, n_filters, order)``."""
        sums = [m.sum(dim=(-2, -1)).mean(dim=1) for m in self._maps(x)]  # each (n, F)
        return torch.stack(sums, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(n, n_classes)`` of the normalised linear head on the correlators."""
        return self.head(self.correlators(x).flatten(1))


# ---------------------------------------------------------------------------------------------
# labels and measurements of filters


@dataclass(frozen=True)
class CorrelatorLabel:
    """What a correlator feature is: its order, its filter and the channels that filter uses.

    Attributes
    ----------
    order : int
        n of c^(n).
    filter : int
        alpha, the filter index.
    channels : tuple of str
        Channels whose total filter weight is at least ``channel_threshold`` times that of the
        filter's strongest channel (empty when no filters were given).
    """

    order: int
    filter: int
    channels: tuple[str, ...] = ()

    def __str__(self) -> str:
        used = f": {'+'.join(self.channels)}" if self.channels else ""
        return f"c{self.order}[f{self.filter}{used}]"


def _filters_numpy(filters: Any, caller: str) -> np.ndarray:
    if isinstance(filters, Tensor):
        filters = filters.detach().cpu().numpy()
    if not isinstance(filters, np.ndarray):
        raise TypeError(
            f"{caller}: filters must be a tensor or array (n_filters, n_channels, K, K); got "
            f"{type(filters).__name__}."
        )
    if filters.ndim != 4 or filters.dtype.kind != "f":
        raise ValueError(
            f"{caller}: filters must be a floating array (n_filters, n_channels, K, K); got shape "
            f"{filters.shape} and dtype {filters.dtype}."
        )
    if not np.all(np.isfinite(filters)):
        raise ValueError(f"{caller}: filters must be finite; got NaN or infinite entries.")
    return np.abs(filters.astype(np.float64))


def channel_weights(filters: Any) -> np.ndarray:
    """Total weight of each channel in each filter, sum_a |f_{alpha,k}(a)|: ``(n_filters, C)``."""
    return _filters_numpy(filters, "channel_weights").sum(axis=(-2, -1))


def _feature_labels(
    n_filters: int,
    order: int,
    filters: np.ndarray | None,
    channels: Sequence[str],
    threshold: float,
) -> tuple[CorrelatorLabel, ...]:
    used: list[tuple[str, ...]] = [()] * n_filters
    if filters is not None:
        totals = filters.sum(axis=(-2, -1))
        for alpha in range(n_filters):
            top = totals[alpha].max()
            used[alpha] = tuple(
                channels[k]
                for k in range(totals.shape[1])
                if top > 0 and totals[alpha, k] >= threshold * top
            )
    return tuple(
        CorrelatorLabel(n, alpha, used[alpha])
        for alpha in range(n_filters)
        for n in range(1, order + 1)
    )


def checkerboard_score(filters: Any, *, up: int = 0, down: int = 1) -> np.ndarray:
    """How much of each filter's spin weight sits on a checkerboard: ``(n_filters,)`` in [0, 1].

    With the sublattice sign e(a) = (-1)^(a_1 + a_2) over the K x K offsets a,

        score = |sum_a e(a) (f_up(a) - f_down(a))| / sum_a (f_up(a) + f_down(a)).

    It is 1 when every up weight sits on one sublattice and every down weight on the other (a
    Neel motif, however sparse: one antiparallel nearest-neighbour pair scores 1), and 0 for a
    spin-blind filter (f_up = f_down) or one whose up and down weights share their sites. For a
    perfectly Neel-ordered snapshot it is the contrast of the filter's response sum_{a,k} f S
    between the two registrations of the Neel pattern in its window. The sign is dropped: a
    global spin flip exchanges the sublattices.

    Parameters
    ----------
    filters : Tensor or ndarray, shape (n_filters, n_channels, K, K)
        Filters (absolute values are taken), K >= 2.
    up, down : int
        Indices of the up and down channels.

    Returns
    -------
    ndarray, shape (n_filters,)
        Scores in [0, 1]; 0 for a filter without spin weight.

    Raises
    ------
    TypeError, ValueError
        Filters not a finite floating 4-d array, smaller than 2 x 2, channel indices out of
        range.

    Examples
    --------
    >>> f = np.zeros((2, 3, 3, 3))
    >>> f[0, 0, 1, 1], f[0, 1, 1, 2] = 0.5, 0.2          # up at the centre, down to its right
    >>> f[1, 0], f[1, 1] = 1.0, 1.0                       # spin-blind
    >>> checkerboard_score(f)
    array([1., 0.])
    """
    caller = "checkerboard_score"
    f = _filters_numpy(filters, caller)
    if f.shape[-1] < 2 or f.shape[-2] < 2:
        raise ValueError(f"{caller}: filters must be at least 2 x 2; got shape {f.shape}.")
    for name, index in (("up", up), ("down", down)):
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < f.shape[1]:
            raise ValueError(
                f"{caller}: {name} must be a channel index in [0, {f.shape[1]}); got {index!r}."
            )
    rows, cols = np.indices(f.shape[-2:])
    sign = np.where((rows + cols) % 2 == 0, 1.0, -1.0)
    staggered = np.abs(((f[:, up] - f[:, down]) * sign).sum(axis=(-2, -1)))
    total = (f[:, up] + f[:, down]).sum(axis=(-2, -1))
    score = np.divide(staggered, total, out=np.zeros_like(total), where=total > 0)
    return np.clip(score, 0.0, 1.0)


def _elementary(values: np.ndarray, order: int) -> np.ndarray:
    """e_1..e_order of the numbers along the last axis (Newton-Girard, Eq. (1)): ``(..., order)``."""
    power = [np.sum(values**p, axis=-1) for p in range(1, order + 1)]
    e = [np.ones(values.shape[:-1])]
    for n in range(1, order + 1):
        e.append(sum((-1) ** (l - 1) * power[l - 1] * e[n - l] for l in range(1, n + 1)) / n)
    return np.stack(e[1:], axis=-1)


def neel_contrast(filters: Any, order: int, *, up: int = 0, down: int = 1) -> np.ndarray:
    """Relative excess of each correlator in a perfect Neel state over random spins.

    For one placement of the K x K window on a lattice with one spin per site,

        contrast^(n) = (E_Neel[C^(n)] - E_random[C^(n)]) / E_random[C^(n)],

    with E_Neel the mean over the two registrations of the Neel pattern and E_random over
    independent spins up or down with probability 1/2 (then, the sites being independent and a
    site holding one spin, E_random[C^(n)] = e_n of the site means (f_up + f_down) / 2). Positive:
    the correlator is enhanced by antiferromagnetic order (a checkerboard filter: for n = 2 and
    up and down weights on opposite sublattices it is +1); negative: suppressed (ferromagnetic
    clusters of one spin, -1 for n = 2 when every weight is parallel-on-neighbours). The hole
    channel does not enter.

    Parameters
    ----------
    filters : Tensor or ndarray, shape (n_filters, n_channels, K, K)
        Filters (absolute values are taken).
    order : int
        Highest order N.
    up, down : int
        Indices of the up and down channels.

    Returns
    -------
    ndarray, shape (n_filters, order)
        Contrast of orders 1..N (order 1 is 0: densities are equal); NaN where
        E_random[C^(n)] = 0.

    Raises
    ------
    TypeError, ValueError
        Filters not a finite floating 4-d array, a bad order or channel index.

    Examples
    --------
    >>> f = np.zeros((1, 3, 3, 3)); f[0, 0, 1, 1] = f[0, 1, 1, 2] = 1.0   # antiparallel pair
    >>> neel_contrast(f, 2).round(6).tolist()
    [[0.0, 1.0]]
    """
    caller = "neel_contrast"
    f = _filters_numpy(filters, caller)
    check_positive_int(order, caller, "order")
    for name, index in (("up", up), ("down", down)):
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < f.shape[1]:
            raise ValueError(
                f"{caller}: {name} must be a channel index in [0, {f.shape[1]}); got {index!r}."
            )
    rows, cols = np.indices(f.shape[-2:])
    a_sites = ((rows + cols) % 2 == 0).ravel()
    f_up = f[:, up].reshape(f.shape[0], -1)
    f_down = f[:, down].reshape(f.shape[0], -1)
    neel = 0.5 * (
        _elementary(np.where(a_sites, f_up, f_down), order)
        + _elementary(np.where(a_sites, f_down, f_up), order)
    )
    random = _elementary(0.5 * (f_up + f_down), order)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(random > 0, (neel - random) / random, np.nan)


# ---------------------------------------------------------------------------------------------
# one- and two-point correlators (the control)


def _displacement_class(dy: int, dx: int) -> tuple[int, int]:
    return (max(abs(dy), abs(dx)), min(abs(dy), abs(dx)))


def low_order_correlators(
    x: Any,
    *,
    window: int = 3,
    mask: Any = None,
    symmetrize: bool = True,
    channels: Sequence[str] = CHANNEL_NAMES,
) -> tuple[Tensor, tuple[str, ...]]:
    """One- and two-point correlators of multi-channel snapshots inside a K x K window.

    One-point: the density of each channel over the (masked) sites, N^-1 sum_x S_k(x). Two-point:
    for every displacement d between two sites of a ``window x window`` window (d != 0,
    ``|d_i| <= window - 1``) and every pair of channels, the mean over site pairs (x, x + d)
    with both sites inside the lattice and the mask of S_k(x) S_k'(x + d) (open boundaries).
    Every correlator of order <= 2 of a CCNN with that kernel size is a linear combination of
    these counts (times the numbers of pairs), so a linear classifier on them bounds what orders
    1 and 2 can do.

    Parameters
    ----------
    x : Tensor or ndarray, shape (n, C, L1, L2)
        Snapshots (one-hot channels), floating point.
    window : int, default 3
        Side of the window, >= 2 (displacements up to ``window - 1`` along each axis).
    mask : Tensor or ndarray (L1, L2) of 0/1, optional
        Crop: only pairs with both sites inside count.
    symmetrize : bool, default True
        Average over the 8 symmetries of the square: displacements in one orbit are averaged
        (classes labelled by (max |d_i|, min |d_i|)) and the channel pair becomes unordered.
        False: the displacements of one half-plane (d and -d give the same pairs) with ordered
        channel pairs.
    channels : sequence of str
        Channel names for the labels.

    Returns
    -------
    features : Tensor, shape (n, n_features)
        One-point densities first, then the two-point means; dtype and device of x.
    labels : tuple of str
        ``"n(up)"``, ``"up.down@(1,0)"`` (symmetrised: displacement class; else the
        displacement (dy, dx)).

    Raises
    ------
    TypeError, ValueError
        Bad snapshots, window, mask or channel names.

    Examples
    --------
    >>> x = torch.zeros(2, 3, 4, 4); x[:, 0] = 1.0
    >>> feats, labels = low_order_correlators(x, window=2)
    >>> feats.shape, labels[:3], float(feats[0, labels.index("up.up@(1,0)")])
    (torch.Size([2, 15]), ('n(up)', 'n(down)', 'n(hole)'), 1.0)
    """
    caller = "low_order_correlators"
    x = _check_snapshots(x, caller, "x", None, None)
    n_channels = x.shape[1]
    check_positive_int(window, caller, "window", minimum=2)
    if not isinstance(symmetrize, bool):
        raise TypeError(f"{caller}: symmetrize must be a bool; got {type(symmetrize).__name__}.")
    channels = _check_channels(channels, n_channels, caller)
    m = _check_mask(mask, caller)
    size = tuple(x.shape[-2:])
    if m is not None and tuple(m.shape) != size:
        raise ValueError(
            f"{caller}: mask must have the lattice's shape {size}; got shape {_shape(m)}."
        )
    m = (m if m is not None else torch.ones(size)).to(dtype=x.dtype, device=x.device)
    xm = x * m
    features = [xm.sum((-2, -1)) / m.sum()]
    labels = [f"n({c})" for c in channels]
    reach = window - 1
    pair: dict[tuple[int, int], Tensor] = {}
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if (dy, dx) == (0, 0) or abs(dy) >= size[0] or abs(dx) >= size[1]:
                continue
            ya, yb = (
                slice(max(0, -dy), size[0] - max(0, dy)),
                slice(max(0, dy), size[0] + min(0, dy)),
            )
            xa, xb = (
                slice(max(0, -dx), size[1] - max(0, dx)),
                slice(max(0, dx), size[1] + min(0, dx)),
            )
            count = (m[ya, xa] * m[yb, xb]).sum()
            if float(count) == 0:
                continue
            # G[k, k'] = mean over pairs (x, x + d) of S_k(x) S_k'(x + d)
            pair[(dy, dx)] = (
                torch.einsum("nkhw,nlhw->nkl", xm[..., ya, xa], xm[..., yb, xb]) / count
            )
    if symmetrize:
        classes = sorted({_displacement_class(*d) for d in pair})
        for cls in classes:
            members = [g for d, g in pair.items() if _displacement_class(*d) == cls]
            mean = torch.stack(members).mean(0)
            mean = 0.5 * (mean + mean.transpose(-1, -2))
            for k in range(n_channels):
                for l in range(k, n_channels):
                    features.append(mean[:, k, l, None])
                    labels.append(f"{channels[k]}.{channels[l]}@{cls[0], cls[1]}".replace(" ", ""))
    else:
        for (dy, dx), g in pair.items():
            if (dy, dx) < (0, 0):
                continue  # -d gives the same pairs as d
            for k in range(n_channels):
                for l in range(n_channels):
                    features.append(g[:, k, l, None])
                    labels.append(f"{channels[k]}.{channels[l]}@({dy},{dx})")
    return torch.cat(features, dim=1), tuple(labels)


# ---------------------------------------------------------------------------------------------
# validation helpers


def _check_channels(channels: Any, n_channels: int, caller: str) -> tuple[str, ...]:
    if isinstance(channels, str) or not isinstance(channels, Sequence):
        raise TypeError(
            f"{caller}: channels must be a sequence of names, one per channel; got "
            f"{type(channels).__name__}."
        )
    if len(channels) != n_channels or not all(isinstance(c, str) for c in channels):
        raise ValueError(
            f"{caller}: channels must name each of the {n_channels} channels with a str; got "
            f"{len(channels)} entries."
        )
    return tuple(channels)


def _check_snapshots(x: Any, caller: str, name: str, n_channels: int | None, device: Any) -> Tensor:
    """A finite floating tensor ``(n, C, L1, L2)``; numpy floating arrays become tensors."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise ValueError(
                f"{caller}: {name} must be floating point; got numpy dtype {x.dtype}. One-hot "
                f"snapshots stored as int8 need {name}.astype(np.float32) first."
            )
        x = torch.as_tensor(x, device=device)
    x = check_inputs(x, caller, name)
    if x.dim() != 4:
        raise ValueError(
            f"{caller}: {name} must be snapshots of shape (n, channels, L1, L2); got shape "
            f"{_shape(x)}."
        )
    if n_channels is not None and x.shape[1] != n_channels:
        raise ValueError(
            f"{caller}: {name} must have {n_channels} channels (dim 1); got shape {_shape(x)}."
        )
    return x


def _check_int_arg(value: Any, caller: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{caller}: {name} must be an int; got {type(value).__name__}.")
    return value


# ---------------------------------------------------------------------------------------------
# the regularisation path


@dataclass
class RegularizationPath:
    """Result of :func:`regularization_path`: an L1 logistic-regression path over correlators.

    Features are indexed ``j = alpha * order + (n - 1)`` (filter alpha, order n), as in
    :meth:`CorrelatorCNN.correlators` flattened.

    Attributes
    ----------
    penalties : ndarray, shape (n_penalties,)
        The inverse penalties C = 1/lambda, ascending; ``penalties[0] = c_min``.
    coefficients : ndarray, shape (n_penalties, n_features)
        Coefficients on the standardised (and divided) features; excluded features stay 0.
    intercepts : ndarray, shape (n_penalties,)
    train_accuracy, test_accuracy : ndarray, shape (n_penalties,)
        Accuracy along the path (test: NaN without test data).
    feature_labels : tuple of CorrelatorLabel
        Order, filter and used channels of each feature.
    included : ndarray of bool, shape (n_features,)
        Features that take part (order 1 is left out with ``include_order_1=False``).
    entry_index : ndarray of int, shape (n_features,)
        First grid index where each feature is non-zero; -1 if never.
    first_active : tuple of int
        The features non-zero at the first grid point where any is, in order of entry.
    entry_sequence : tuple of int
        Every feature that turns on, in order of entry: by grid step, and within a step by the
        KKT score |g_j| at the previous step's solution (a feature enters when C |g_j| = 1);
        ``entry_sequence[0]`` is exactly argmax ``gradient_at_zero``.
    gradient_at_zero : ndarray, shape (n_features,)
        |d loss / d w_j| at w = 0 (class-weighted log-loss, intercept at its optimum): the first
        feature of the exact path is its argmax, and C_min = 1 / max. 0 for excluded features.
    c_min : float
        The smallest C with a non-empty model.
    mean, scale : ndarray, shape (n_features,)
        Standardisation (training set); ``scale`` includes the order divisor.
    order : int
        Correlator orders per filter.
    converged : ndarray of bool, shape (n_penalties,)
        Whether the solver converged at each step.
    blank_filters : tuple of int
        Filters left out as blank (``blank_threshold``); their features are not included.
    """

    penalties: np.ndarray
    coefficients: np.ndarray
    intercepts: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    feature_labels: tuple[CorrelatorLabel, ...]
    included: np.ndarray
    entry_index: np.ndarray
    first_active: tuple[int, ...]
    entry_sequence: tuple[int, ...]
    gradient_at_zero: np.ndarray
    c_min: float
    mean: np.ndarray = field(repr=False)
    scale: np.ndarray = field(repr=False)
    order: int = 1
    converged: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    blank_filters: tuple[int, ...] = ()

    @property
    def first_label(self) -> CorrelatorLabel | None:
        """Label of the first feature to turn on (None if none does on the grid)."""
        return self.feature_labels[self.first_active[0]] if self.first_active else None


def _as_numpy_features(value: Any, caller: str, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{caller}: {name} must be a tensor or array (n, n_filters, order); got "
            f"{type(value).__name__}."
        )
    if value.ndim != 3 or value.shape[0] == 0 or value.dtype.kind != "f":
        raise ValueError(
            f"{caller}: {name} must be a floating array (n, n_filters, order) with n >= 1; got "
            f"shape {value.shape} and dtype {value.dtype}."
        )
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{caller}: {name} must be finite; got NaN or infinite entries.")
    return value.astype(np.float64)


def _as_numpy_labels(value: Any, n: int, caller: str, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{caller}: {name} must be a tensor or array of 0/1; got {type(value).__name__}."
        )
    if value.dtype.kind not in "iub" or value.shape != (n,):
        raise ValueError(
            f"{caller}: {name} must be integer class labels 0/1 of shape ({n},); got shape "
            f"{value.shape} and dtype {value.dtype}."
        )
    if np.any((value != 0) & (value != 1)):
        raise ValueError(f"{caller}: {name} must hold the class labels 0 and 1 only; got others.")
    return value.astype(np.int64)


def _l1_logistic(**kwargs: Any) -> Any:
    """An L1 logistic regression in any scikit-learn >= 1.3 (``penalty`` is deprecated in 1.8)."""
    from sklearn.linear_model import LogisticRegression

    default = inspect.signature(LogisticRegression).parameters["penalty"].default
    if default == "deprecated":
        return LogisticRegression(l1_ratio=1.0, **kwargs)
    return LogisticRegression(penalty="l1", **kwargs)


def regularization_path(
    features: Any,
    labels: Any,
    *,
    test_features: Any = None,
    test_labels: Any = None,
    n_penalties: int = 20,
    decades: float = 3.0,
    order_divisors: Sequence[float] | None = None,
    include_order_1: bool = True,
    filters: Any = None,
    channels: Sequence[str] = CHANNEL_NAMES,
    channel_threshold: float = 0.2,
    blank_threshold: float = 0.1,
    tol: float = 1e-4,
    max_iter: int = 10_000,
    seed: int = 0,
) -> RegularizationPath:
    """L1 logistic-regression path over frozen correlator features: which turns on first?

    The features are standardised on the training set (``(c - mean) / std``), divided by the
    order's divisor (a divisor > 1 shrinks a feature, so its coefficient costs more L1: higher
    orders are penalised more), and an L1 logistic regression (SAGA, ``class_weight="balanced"``,
    warm start) is fitted at C = C_min * 10^(decades * i / (n_penalties - 1)), i = 0..n-1.
    C_min = 1 / max_j |g_j| is where the first coefficient leaves zero (the KKT condition of
    min ||w||_1 + C sum_i s_i loss_i, g_j the gradient of the weighted loss at w = 0).

    Parameters
    ----------
    features : Tensor or ndarray, shape (n, n_filters, order)
        Correlators c_alpha^(n) of the training snapshots (:meth:`CCNNProbe.correlators`).
    labels : Tensor or ndarray, shape (n,)
        Class labels 0/1, both present.
    test_features, test_labels : optional
        Held-out data (same layout) for ``test_accuracy``; standardised with the training
        statistics.
    n_penalties : int, default 20
        Grid points (>= 2).
    decades : float, default 3.0
        Span of the grid above C_min, in powers of 10.
    order_divisors : sequence of float, optional
        One positive divisor per order (e.g. ``(1.0, 1.1, 1.2, 1.3)``); default all 1.
    include_order_1 : bool, default True
        Whether order-1 features take part (with zero padding they are exactly the channel
        counts). False reproduces the paper's path script, which zeroes them.
    filters : Tensor or ndarray (n_filters, n_channels, K, K), optional
        The frozen filters, to label each feature with the channels its filter uses.
    channels : sequence of str
        Channel names (default up, down, hole).
    channel_threshold : float, default 0.2
        A channel is "used" by a filter when its total weight is at least this fraction of the
        filter's strongest channel.
    blank_threshold : float, default 0.1
        With ``filters``: a filter whose total weight sum |f| is below this fraction of the
        heaviest filter's is *blank* (the L1 term switched it off) and its features are left
        out. Standardisation would otherwise blow the residual pattern of its tiny weights
        (Adam keeps L1-penalised weights oscillating at about the learning rate, not at 0) back
        up to unit variance, on an equal footing with the filters the CCNN uses. 0 keeps every
        filter.
    tol, max_iter : float, int
        SAGA's stopping tolerance (the paper's 1e-4) and iteration cap per grid point.
    seed : int
        SAGA's random state.

    Returns
    -------
    RegularizationPath

    Raises
    ------
    TypeError, ValueError
        Features not a finite floating (n, n_filters, order) array, bad labels (shape, values, a
        single class), test data of another layout, bad divisors, filters that do not match the
        number of filters, no feature left to fit.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 100)
    >>> c = rng.normal(size=(200, 2, 3)); c[:, 1, 2] += 1.5 * y
    >>> path = regularization_path(c, y, n_penalties=5)
    >>> path.first_active[0], str(path.first_label)
    (5, 'c3[f1]')
    """
    caller = "regularization_path"
    x = _as_numpy_features(features, caller, "features")
    y = _as_numpy_labels(labels, x.shape[0], caller, "labels")
    if y.min() == y.max():
        raise ValueError(f"{caller}: labels must contain both classes 0 and 1; got one class.")
    n, n_filters, order = x.shape
    check_positive_int(n_penalties, caller, "n_penalties", minimum=2)
    decades = check_positive_float(decades, caller, "decades")
    if not isinstance(include_order_1, bool):
        raise TypeError(
            f"{caller}: include_order_1 must be a bool; got {type(include_order_1).__name__}."
        )
    check_positive_float(channel_threshold, caller, "channel_threshold")
    check_positive_float(blank_threshold, caller, "blank_threshold", allow_zero=True)
    check_positive_float(tol, caller, "tol")
    check_positive_int(max_iter, caller, "max_iter")
    _check_int_arg(seed, caller, "seed")
    if order_divisors is None:
        divisors = np.ones(order)
    else:
        divisors = (
            np.asarray(order_divisors, dtype=float)
            if isinstance(order_divisors, Sequence)
            else None
        )
        if (
            divisors is None
            or divisors.shape != (order,)
            or not np.all(np.isfinite(divisors))
            or np.any(divisors <= 0)
        ):
            raise ValueError(
                f"{caller}: order_divisors must be {order} positive numbers, one per order; got "
                f"{order_divisors!r}."
            )
    f = None
    if filters is not None:
        f = _filters_numpy(filters, caller)
        if f.shape[0] != n_filters:
            raise ValueError(
                f"{caller}: filters must have one filter per feature filter ({n_filters}); got "
                f"shape {f.shape}."
            )
        channels = _check_channels(channels, f.shape[1], caller)
    feature_labels = _feature_labels(n_filters, order, f, channels, channel_threshold)
    has_test = test_features is not None or test_labels is not None
    if has_test:
        if test_features is None or test_labels is None:
            raise ValueError(f"{caller}: give both test_features and test_labels, or neither.")
        xt = _as_numpy_features(test_features, caller, "test_features")
        if xt.shape[1:] != x.shape[1:]:
            raise ValueError(
                f"{caller}: test_features must have the layout {x.shape[1:]} of features; got "
                f"shape {xt.shape}."
            )
        yt = _as_numpy_labels(test_labels, xt.shape[0], caller, "test_labels")

    flat = x.reshape(n, -1)
    included = np.ones(flat.shape[1], dtype=bool)
    blank: tuple[int, ...] = ()
    if f is not None and blank_threshold > 0:
        weight = f.sum(axis=(1, 2, 3))
        blank = tuple(int(a) for a in np.flatnonzero(weight < blank_threshold * weight.max()))
        for alpha in blank:
            included[alpha * order : (alpha + 1) * order] = False
    if not include_order_1:
        included[0::order] = False
    mean = flat.mean(0)
    std = flat.std(0)
    # a constant feature stays 0 after centring: any scale will do
    std = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    scale = std * np.tile(divisors, n_filters)
    z = ((flat - mean) / scale)[:, included]
    if z.shape[1] == 0:
        raise ValueError(
            f"{caller}: no feature takes part (order {order} with include_order_1=False, or "
            "every filter blank, leaves none); keep order 1 or use a higher order."
        )

    # KKT at w = 0: with balanced class weights s_i = n / (2 n_c) the optimal intercept has
    # sigma(b) = sum s_i y_i / sum s_i = 1/2, and the first coefficient moves at C = 1 / max|g|
    weights = np.where(y == 1, n / (2.0 * y.sum()), n / (2.0 * (n - y.sum())))
    gradient = np.zeros(flat.shape[1])
    gradient[included] = np.abs(((0.5 - y) * weights) @ z)
    if gradient.max() <= 0:
        raise ValueError(
            f"{caller}: every feature is constant on the training set; nothing to fit."
        )
    c_min = float(1.0 / gradient.max())
    penalties = c_min * 10.0 ** (decades * np.arange(n_penalties) / (n_penalties - 1))

    coefficients = np.zeros((n_penalties, flat.shape[1]))
    intercepts = np.zeros(n_penalties)
    train_acc = np.zeros(n_penalties)
    test_acc = np.full(n_penalties, np.nan)
    converged = np.ones(n_penalties, dtype=bool)
    zt = ((xt.reshape(xt.shape[0], -1) - mean) / scale)[:, included] if has_test else None
    from sklearn.exceptions import ConvergenceWarning

    model = _l1_logistic(
        C=float(penalties[0]),
        solver="saga",
        class_weight="balanced",
        warm_start=True,
        tol=tol,
        max_iter=max_iter,
        random_state=seed,
    )
    for i, c in enumerate(penalties):
        model.set_params(C=float(c))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(z, y)
        converged[i] = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        coefficients[i, included] = model.coef_[0]
        intercepts[i] = model.intercept_[0]
        train_acc[i] = model.score(z, y)
        if zt is not None:
            test_acc[i] = model.score(zt, yt)
    if not converged.all():
        warnings.warn(
            f"{caller}: SAGA did not converge at {int((~converged).sum())} of {n_penalties} "
            f"grid points (max_iter={max_iter}, tol={tol:g}); raise max_iter for a clean path.",
            UserWarning,
            stacklevel=2,
        )
    nonzero = coefficients != 0
    entry = np.where(nonzero.any(0), nonzero.argmax(0), -1)
    # Order of entry: features that leave zero between grid points k - 1 and k are ranked by
    # the KKT score |g_j| at the solution of step k - 1 (a feature enters when C |g_j| reaches
    # 1), so the first one is exactly argmax |g_j(0)| even on a coarse grid.
    sequence: list[int] = []
    first: tuple[int, ...] = ()
    for k in np.unique(entry[entry >= 0]):
        new = np.flatnonzero(entry == k)
        if k == 0:
            score = gradient[new]
        else:
            margin = z @ coefficients[k - 1, included] + intercepts[k - 1]
            residual = weights * (1.0 / (1.0 + np.exp(-margin)) - y)
            score = np.zeros(flat.shape[1])
            score[included] = np.abs(residual @ z)
            score = score[new]
        ranked = [int(j) for j in new[np.argsort(-score, kind="stable")]]
        if not sequence:
            first = tuple(ranked)
        sequence += ranked
    return RegularizationPath(
        penalties=penalties,
        coefficients=coefficients,
        intercepts=intercepts,
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        feature_labels=feature_labels,
        included=included,
        entry_index=entry,
        first_active=first,
        entry_sequence=tuple(sequence),
        gradient_at_zero=gradient,
        c_min=c_min,
        mean=mean,
        scale=scale,
        order=order,
        converged=converged,
        blank_filters=blank,
    )


# ---------------------------------------------------------------------------------------------
# the estimator


def _calibrate_norm(model: CorrelatorCNN, x: Tensor, batch_size: int) -> None:
    """Set the head's BatchNorm statistics to the final filters' correlators on x.

    During training the L1 term keeps shrinking the filters while the cross-entropy does not
    resist (the standardised features are invariant under f -> s f), so the correlators drift by
    orders of magnitude and the running averages lag behind: an eval-mode network built on them
    can predict one class only. The statistics of the training set under the final filters are
    what the head's weights were trained against (batch statistics), so we recompute them.
    """
    with torch.no_grad():
        feats = torch.cat([model.correlators(c).flatten(1) for c in torch.split(x, batch_size)])
        norm = model.head.norm
        norm.running_mean.copy_(feats.mean(0))
        norm.running_var.copy_(feats.var(0) if feats.shape[0] > 1 else torch.ones_like(feats[0]))
        norm.num_batches_tracked.zero_()


class CCNNProbe:
    """Train a correlator CNN on labelled snapshots, then read its correlators and their path.

    A scikit-learn style estimator around :class:`CorrelatorCNN`: ``fit`` trains it with
    :func:`physxai.models.fit` on cross-entropy + ``gamma * sum |f|`` (L1 on the filters),
    ``predict_proba`` and friends apply it, :meth:`correlators` gives the frozen features and
    :meth:`regularization_path` runs :func:`regularization_path` on them with the filters'
    labels.

    Parameters
    ----------
    n_filters : int, default 2
    kernel_size : int, default 3
    order : int, default 4
        As in :class:`CorrelatorCNN`.
    mask : Tensor or ndarray (L1, L2) of 0/1, optional
        Crop applied to every snapshot (the same for both classes).
    symmetrize : bool, default True
        D4 average of the features.
    gamma : float, default 0.005
        L1 coefficient on the filters (the paper's string/pi-flux value; its AFM demo uses 0.5).
    epochs, batch_size, lr : int, int, float
        Adam training options of :func:`physxai.models.fit` (paper: 400, 256, 0.005).
    channels : sequence of str, default ("up", "down", "hole")
        Channel names (the number of channels of the snapshots).
    seed : int, default 0
        Seeds the initial filters and head (under a forked global RNG, restored after) and the
        shuffling.
    device : str or None
        Where the network is built; tensors must already be there (numpy arrays are created
        there). None: the device of the training snapshots.
    progress : bool or None
        Progress bar of the training loop (None: on a terminal only).

    Attributes
    ----------
    model_ : CorrelatorCNN
        The trained network, eval mode, dtype of the training snapshots. Its BatchNorm
        statistics are those of the training snapshots under the final filters (see
        :meth:`fit`).
    filters_ : Tensor, shape (n_filters, n_channels, K, K)
        The positive filters |f| (detached).
    history_ : physxai.models.History
    classes_ : Tensor
        ``tensor([0, 1])``.

    References
    ----------
    C. Miles et al., Nat. Commun. 12, 3905 (2021), arXiv:2011.03474.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> up = (torch.rand(64, 6, 6, generator=g) < 0.5).float()
    >>> x = torch.stack([up, 1 - up, torch.zeros_like(up)], 1)
    >>> y = torch.arange(64) % 2
    >>> probe = CCNNProbe(order=2, epochs=2, progress=False).fit(x, y)
    >>> probe.correlators(x).shape
    torch.Size([64, 2, 2])
    """

    _caller = "CCNNProbe"

    def __init__(
        self,
        *,
        n_filters: int = 2,
        kernel_size: int = 3,
        order: int = 4,
        mask: Tensor | np.ndarray | None = None,
        symmetrize: bool = True,
        gamma: float = 0.005,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 0.005,
        channels: Sequence[str] = CHANNEL_NAMES,
        seed: int = 0,
        device: str | torch.device | None = None,
        progress: bool | None = None,
    ):
        caller = self._caller
        check_positive_int(n_filters, caller, "n_filters")
        check_positive_int(kernel_size, caller, "kernel_size")
        check_positive_int(order, caller, "order")
        _check_mask(mask, caller)
        if not isinstance(symmetrize, bool):
            raise TypeError(
                f"{caller}: symmetrize must be a bool; got {type(symmetrize).__name__}."
            )
        check_positive_float(gamma, caller, "gamma", allow_zero=True)
        check_positive_int(epochs, caller, "epochs")
        check_positive_int(batch_size, caller, "batch_size")
        check_positive_float(lr, caller, "lr")
        if isinstance(channels, str) or not isinstance(channels, Sequence) or not channels:
            raise TypeError(
                f"{caller}: channels must be a non-empty sequence of names; got "
                f"{type(channels).__name__}."
            )
        _check_channels(channels, len(channels), caller)
        _check_int_arg(seed, caller, "seed")
        if device is not None and not isinstance(device, (str, torch.device)):
            raise TypeError(
                f"{caller}: device must be a str, torch.device or None; got "
                f"{type(device).__name__}."
            )
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{caller}: progress must be a bool or None; got {progress!r}.")
        self.n_filters = n_filters
        self.kernel_size = kernel_size
        self.order = order
        self.mask = mask
        self.symmetrize = symmetrize
        self.gamma = gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.channels = channels
        self.seed = seed
        self.device = device
        self.progress = progress

    def __repr__(self) -> str:
        return (
            f"CCNNProbe(n_filters={self.n_filters}, kernel_size={self.kernel_size}, "
            f"order={self.order}, gamma={self.gamma!r}, epochs={self.epochs}, lr={self.lr!r})"
        )

    def _check_lattice(self, x: Tensor, caller: str, name: str) -> None:
        if self.mask is not None and tuple(x.shape[-2:]) != tuple(self.mask.shape):
            raise ValueError(
                f"{caller}: {name} must have the mask's lattice shape {tuple(self.mask.shape)}; "
                f"got shape {_shape(x)}."
            )

    def fit(self, x: Any, y: Any) -> CCNNProbe:
        """Train the CCNN on snapshots x with class labels y.

        Parameters
        ----------
        x : Tensor or ndarray, shape (n, C, L1, L2)
            Snapshots (one-hot channels), float32 or float64 (the network takes this dtype);
            C = ``len(channels)``.
        y : Tensor or ndarray, shape (n,)
            Integer labels 0/1, both present.

        Returns
        -------
        CCNNProbe
            self, fitted.

        Notes
        -----
        After training, the BatchNorm running statistics are recomputed on x with the final
        filters. The L1 term keeps shrinking the filters during training (the cross-entropy is
        invariant under f -> s f per filter after standardisation), so the correlators drift by
        orders of magnitude and the running averages lag; without this step the eval-mode
        network can predict one class only.

        Raises
        ------
        TypeError
            x or y of the wrong kind.
        ValueError
            x not finite floating snapshots with C channels, a lattice other than the mask's,
            x on another device than ``device``, bad labels.
        """
        caller = f"{self._caller}.fit"
        x = _check_snapshots(x, caller, "x", len(self.channels), self.device)
        self._check_lattice(x, caller, "x")
        if self.device is not None:
            want = torch.device(self.device)
            if not (x.device.type == want.type and want.index in (None, x.device.index)):
                raise ValueError(
                    f"{caller}: x must be on device {want} (the probe's device); got {x.device}. "
                    f"Move it with x.to({str(want)!r})."
                )
        y = check_binary_labels(y, x.shape[0], caller)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial filters from the probe's seed only
            model = CorrelatorCNN(
                len(self.channels),
                self.n_filters,
                self.kernel_size,
                self.order,
                mask=self.mask,
                symmetrize=self.symmetrize,
            )
        model = model.to(device=x.device, dtype=x.dtype)
        gamma = self.gamma

        def loss(outputs: Tensor, targets: Tensor) -> Tensor:
            # cross-entropy + gamma sum |f| (L1 on the positive filters)
            return F.cross_entropy(outputs, targets) + gamma * model.filters.abs().sum()

        history = fit(
            model,
            (x, y.to(x.device)),
            loss=loss,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            seed=self.seed,
            progress=self.progress,
        )
        _calibrate_norm(model, x, max(self.batch_size, 1024))
        self.model_ = model
        self.filters_ = model.positive_filters.detach().clone()
        self.history_: History = history
        self.classes_ = torch.tensor([0, 1])
        return self

    def _check_fitted(self, caller: str) -> CorrelatorCNN:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(
                f"{caller}: this CCNNProbe is not fitted yet; call fit(x, y) first."
            )
        return model

    def _inputs(self, x: Any, caller: str) -> tuple[CorrelatorCNN, Tensor]:
        model = self._check_fitted(caller)
        ref = model.filters
        x = _check_snapshots(x, caller, "x", len(self.channels), ref.device)
        self._check_lattice(x, caller, "x")
        if x.device != ref.device or x.dtype != ref.dtype:
            raise ValueError(
                f"{caller}: x must have the model's dtype {ref.dtype} and device {ref.device} "
                f"(those of the training data); got {x.dtype} on {x.device}."
            )
        return model, x

    def _batched(self, fn: Any, x: Tensor, max_batch_size: int, caller: str) -> Tensor:
        check_positive_int(max_batch_size, caller, "max_batch_size")
        with torch.no_grad():
            return torch.cat([fn(chunk) for chunk in torch.split(x, max_batch_size)])

    def correlators(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """The frozen correlator features c_alpha^(n): ``(n, n_filters, order)``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            As in :meth:`fit`, or a dtype/device other than the model's.
        """
        caller = f"{self._caller}.correlators"
        model, x = self._inputs(x, caller)
        return self._batched(model.correlators, x, max_batch_size, caller)

    def predict_proba(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Class probabilities ``(n, 2)``. Raises as :meth:`correlators`."""
        caller = f"{self._caller}.predict_proba"
        model, x = self._inputs(x, caller)
        return self._batched(lambda c: model(c).softmax(-1), x, max_batch_size, caller)

    def decision_function(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Log-odds of class 1, ``logit_1 - logit_0``: ``(n,)``. Raises as :meth:`correlators`."""
        caller = f"{self._caller}.decision_function"
        model, x = self._inputs(x, caller)

        def log_odds(c: Tensor) -> Tensor:
            z = model(c)
            return z[:, 1] - z[:, 0]

        return self._batched(log_odds, x, max_batch_size, caller)

    def predict(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Predicted class ``(n,)`` (int64). Raises as :meth:`correlators`."""
        return (self.decision_function(x, max_batch_size=max_batch_size) > 0).long()

    def score(self, x: Any, y: Any, *, max_batch_size: int = 1024) -> float:
        """Accuracy of :meth:`predict` against labels y ``(n,)`` (0/1 integers).

        Raises as :meth:`correlators`, and ``ValueError`` for labels of another shape or kind.
        """
        caller = f"{self._caller}.score"
        pred = self.predict(x, max_batch_size=max_batch_size)
        if isinstance(y, np.ndarray) and y.dtype.kind in "iu":
            y = torch.as_tensor(y)
        if not isinstance(y, Tensor) or y.is_floating_point() or y.shape != pred.shape:
            kind = _shape(y) if isinstance(y, (Tensor, np.ndarray)) else type(y).__name__
            raise ValueError(
                f"{caller}: y must be integer labels of shape {_shape(pred)}; got {kind}."
            )
        return float((pred.cpu() == y.cpu()).double().mean())

    def feature_labels(self, *, channel_threshold: float = 0.2) -> tuple[CorrelatorLabel, ...]:
        """Labels (order, filter, used channels) of the flattened features. Raises before fit."""
        caller = f"{self._caller}.feature_labels"
        self._check_fitted(caller)
        check_positive_float(channel_threshold, caller, "channel_threshold")
        f = self.filters_.double().cpu().numpy()
        return _feature_labels(
            self.n_filters, self.order, f, tuple(self.channels), channel_threshold
        )

    def regularization_path(
        self,
        x: Any,
        y: Any,
        *,
        x_test: Any = None,
        y_test: Any = None,
        max_batch_size: int = 1024,
        **options: Any,
    ) -> RegularizationPath:
        """:func:`regularization_path` on this probe's frozen correlators of x (and x_test).

        ``options`` go to :func:`regularization_path` (``n_penalties``, ``decades``,
        ``order_divisors``, ``include_order_1``, ``channel_threshold``, ``tol``, ``max_iter``,
        ``seed``); the filters and channel names are the probe's. Raises as :meth:`correlators`
        and :func:`regularization_path`.
        """
        caller = f"{self._caller}.regularization_path"
        for key in ("filters", "channels", "test_features", "test_labels"):
            if key in options:
                raise TypeError(f"{caller}: {key} comes from the probe; do not pass it.")
        if (x_test is None) != (y_test is None):
            raise ValueError(f"{caller}: give both x_test and y_test, or neither.")
        feats = self.correlators(x, max_batch_size=max_batch_size)
        test = (
            self.correlators(x_test, max_batch_size=max_batch_size) if x_test is not None else None
        )
        return regularization_path(
            feats,
            y,
            test_features=test,
            test_labels=y_test,
            filters=self.filters_,
            channels=tuple(self.channels),
            **options,
        )
