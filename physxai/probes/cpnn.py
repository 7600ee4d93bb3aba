"""Correlation probing neural networks (CPNN): which local correlations decide a phase?

A CPNN (Wetzel & Scherzer 2017) classifies a lattice configuration S through a deliberately
narrow bottleneck. A *local* network g sees only a k x k receptive field R_x of the lattice,
the same weights at every site x (periodic boundaries); its outputs are averaged over the
lattice,

    h(S) = N^-1 sum_x g(S | R_x),                                           (1)

and a small *prediction* network p turns the average into the decision D(S) = sigma(p(h)).
Because everything the decision knows passes through the lattice average of a function of k x k
spins, the smallest k that still classifies tells which correlations the phase is made of, and
the trained g and p can be written down explicitly: for a k x k field with ``k * k <= 16`` the
table of g over all 2^(k*k) spin patches (:meth:`CPNNProbe.local_map`) *is* the local network,
and with one local output the decision is a function of one number, D(h)
(:meth:`CPNNProbe.decision_curve`).

For the Ising model a 1 x 1 field suffices. Then g takes two values and (1) is exactly linear in
the magnetisation M = N^-1 sum_x s_x:

    h = g(-1) + (g(+1) - g(-1)) (1 + M) / 2,                                (2)

so D is a function of M, and a decision symmetric under the global flip M -> -M (which the
training data have, as the Hamiltonian does) is a function of |M|: the network has learned the
order parameter.

**Oddness of the local map, and its gauge.** The head p has a bias: adding a constant c to g
shifts h by c, and p can undo the shift, so the raw value g(+1) + g(-1) is not fixed by training
(it is whatever the initialisation left) and "g is odd" is meaningless until the constant is
fixed. Fixing it by construction (a local network without biases and with an odd activation)
would make g odd whatever was learned, and removing the mean of g(+1) and g(-1) would make any
two-valued map odd: both would turn the criterion into a tautology. We fix the constant with
what the head does: c is the *symmetry centre of the decision*, the midpoint h_0 of the two
points where D(h) crosses 1/2 (the two decision thresholds of a U-shaped D). The map is odd in
this gauge when

    max_S |g(S) + g(-S) - 2 h_0| <= 0.1 max_S |g(S) - g(-S)|,               (3)

the maximum running over the patches S (for k = 1: S = +1 only). By (2), for k = 1 this says
that the two thresholds on M, M_- and M_+, are symmetric about M = 0 to within 0.1, i.e. that
the network orders a configuration and its global flip alike: the learned decision acts on |M|.
:meth:`CPNNProbe.oddness` computes the ratio of the two sides of (3) (``center=0.0`` gives the
raw, gauge-dependent ratio for comparison).

Contents: :class:`CorrelationProbingNetwork` (the ``nn.Module``: submodules ``pad``, ``local``,
``pool``, ``head``, so ``layer="local.act1"`` and activation capture work), :class:`CPNNProbe`
(a scikit-learn-style estimator trained with :func:`physxai.models.fit`) and
:func:`scan_field_sizes` (train one probe per field size; the smallest one within a tolerance of
the best accuracy). The transition temperature follows from the crossing of the mean decision
with 1/2 (:func:`physxai.probes.compare.crossing`).

References
----------
S. J. Wetzel, M. Scherzer, "Machine learning of explicit order parameters: From the Ising model to
SU(2) lattice gauge theory", Phys. Rev. B 96, 184410 (2017), arXiv:1705.05582,
doi:10.1103/PhysRevB.96.184410.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import (
    _shape,
    check_binary_labels,
    check_choice,
    check_inputs,
    check_positive_float,
    check_positive_int,
)
from ..errors import NotFittedError
from ..models import MLP, History, fit
from ..models._blocks import make_activation

__all__ = [
    "CPNNProbe",
    "CorrelationProbingNetwork",
    "DecisionCurve",
    "FieldSizeScan",
    "LocalMap",
    "scan_field_sizes",
]

#: largest number of spins in a receptive field whose 2^(k*k) patches :meth:`local_map` tabulates
MAX_TABLE_SPINS = 16


def _check_sizes(value: Any, caller: str, name: str) -> tuple[int, ...]:
    ok = isinstance(value, (tuple, list)) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    )
    if not ok:
        raise ValueError(f"{caller}: {name} must be a tuple of positive ints; got {value!r}.")
    return tuple(value)


def all_patches(field_size: int, *, dtype: torch.dtype = torch.float32, device: Any = None):
    """Every spin patch of a ``k x k`` field: ``(2^(k*k), k, k)`` with entries +-1.

    Row p has spin ``+1`` at the flattened (row-major) position j when bit j of p is set and
    ``-1`` otherwise; so for k = 1 the rows are ``[-1]`` and ``[+1]``, and row ``2^(k*k) - 1 - p``
    is the global flip of row p.
    """
    n_spins = field_size * field_size
    index = torch.arange(2**n_spins, device=device)[:, None]
    bits = (index >> torch.arange(n_spins, device=device)) & 1
    return (2 * bits - 1).to(dtype).reshape(-1, field_size, field_size)


class CorrelationProbingNetwork(nn.Module):
    """The CPNN: a shared local network on every k x k field, a lattice average, a small head.

    ``forward(x) = head(pool(local(pad(x))))`` with

    - ``pad``: ``nn.CircularPad2d((0, k-1, 0, k-1))``, so that site (i, j) sees the field
      ``x[(i + a) mod L1, (j + b) mod L2]``, ``0 <= a, b < k`` (periodic boundaries; the field's
      top-left corner is the site);
    - ``local``: ``Conv2d(1, w1, k)`` then ``1 x 1`` convolutions (a per-site MLP) with
      activations, named ``conv1, act1, conv2, act2, ..., out``; ``out`` has ``n_local``
      channels: g(S|R_x) of Eq. (1) at every site, shape ``(n, n_local, L1, L2)``;
    - ``pool``: ``AdaptiveAvgPool2d(1)`` then ``Flatten``: h = N^-1 sum_x g, shape
      ``(n, n_local)``;
    - ``head``: :class:`physxai.models.MLP` ``n_local -> head_hidden -> n_classes`` logits.

    Parameters
    ----------
    field_size : int
        k, the side of the receptive field, >= 1.
    local_hidden : tuple of int
        Widths of the hidden layers of the local network (``()``: g is one linear map of the
        field).
    n_local : int
        Number of local outputs (channels of g and of h).
    head_hidden : tuple of int
        Widths of the hidden layers of the prediction network (``()``: a linear head, which can
        only give a decision monotone in h).
    n_classes : int
        Number of logits, >= 1.
    activation : str
        Any name of :mod:`physxai.models` (``"relu"``, ``"tanh"``, ``"elu"``, ``"softplus"``, ...):
        the activation of both networks.

    Notes
    -----
    Inputs are ``(n, L1, L2)`` or ``(n, 1, L1, L2)`` real lattices with ``k <= min(L1, L2)``;
    any lattice size works with the same weights (the average (1) does not care). The module
    itself accepts any real values (attribution baselines at 0 are fine); :class:`CPNNProbe`
    restricts its data to spins +-1.

    Examples
    --------
    >>> net = CorrelationProbingNetwork(2, local_hidden=(4,), head_hidden=(4,))
    >>> net(torch.ones(3, 8, 8)).shape, net.averaged(torch.ones(3, 8, 8)).shape
    (torch.Size([3, 2]), torch.Size([3, 1]))
    """

    def __init__(
        self,
        field_size: int = 1,
        *,
        local_hidden: Sequence[int] = (8,),
        n_local: int = 1,
        head_hidden: Sequence[int] = (16,),
        n_classes: int = 2,
        activation: str = "relu",
    ):
        super().__init__()
        caller = "CorrelationProbingNetwork"
        k = check_positive_int(field_size, caller, "field_size")
        widths = _check_sizes(local_hidden, caller, "local_hidden")
        n_local = check_positive_int(n_local, caller, "n_local")
        head_widths = _check_sizes(head_hidden, caller, "head_hidden")
        n_classes = check_positive_int(n_classes, caller, "n_classes")
        make_activation(activation, caller)  # validates the name (the models' one table)
        self.field_size, self.n_local = k, n_local
        self.pad = nn.CircularPad2d((0, k - 1, 0, k - 1))
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_channels, kernel = 1, k
        for i, width in enumerate(widths, start=1):
            layers[f"conv{i}"] = nn.Conv2d(in_channels, width, kernel)
            layers[f"act{i}"] = make_activation(activation, caller)
            in_channels, kernel = width, 1
        layers["out"] = nn.Conv2d(in_channels, n_local, kernel)
        self.local = nn.Sequential(layers)
        self.pool = nn.Sequential(
            OrderedDict(average=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten())
        )
        self.head = MLP(n_local, hidden=head_widths, out_features=n_classes, activation=activation)

    @staticmethod
    def _channel(x: Tensor) -> Tensor:
        return x.unsqueeze(1) if x.dim() == 3 else x

    def local_fields(self, x: Tensor) -> Tensor:
        """g(S|R_x) at every site: ``(n, n_local, L1, L2)`` for x ``(n, [1,] L1, L2)``."""
        return self.local(self.pad(self._channel(x)))

    def averaged(self, x: Tensor) -> Tensor:
        """h = N^-1 sum_x g(S|R_x), Eq. (1): ``(n, n_local)``."""
        return self.pool(self.local_fields(x))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(n, n_classes)`` of the prediction network applied to h."""
        return self.head(self.averaged(x))


class LocalMap(NamedTuple):
    """The table of the local network: ``values[p] = g(patches[p])``.

    Attributes
    ----------
    patches : Tensor, shape (2^(k*k), k, k)
        Every +-1 patch, in the order of :func:`all_patches` (row ``m - 1 - p`` is the flip of
        row p).
    values : Tensor, shape (2^(k*k), n_local)
        The local network's outputs on them.
    """

    patches: Tensor
    values: Tensor


class DecisionCurve(NamedTuple):
    """The decision as a function of the lattice average: ``decision[i] = D(h[i])``.

    Attributes
    ----------
    averaged : Tensor, shape (m,)
        Grid of h (one local output).
    decision : Tensor, shape (m,)
        P(class 1) of the prediction network at each h.
    """

    averaged: Tensor
    decision: Tensor


@dataclass
class FieldSizeScan:
    """Result of :func:`scan_field_sizes`.

    Attributes
    ----------
    sizes : tuple of int
        The field sizes k trained, ascending.
    accuracy : tuple of float
        Test accuracy of each.
    best_accuracy : float
        The largest of them.
    tolerance : float
        The selection tolerance.
    selected : int
        The smallest k whose accuracy is at least ``best_accuracy - tolerance``.
    probes : dict of int to CPNNProbe
        The fitted probe of each k.
    """

    sizes: tuple[int, ...]
    accuracy: tuple[float, ...]
    best_accuracy: float
    tolerance: float
    selected: int
    probes: dict[int, CPNNProbe] = field(repr=False)


def _as_tensor(x: Any, caller: str, name: str, device: Any) -> Tensor:
    """Numpy arrays become tensors on ``device`` (created there, nothing moved)."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind != "f":
            raise ValueError(
                f"{caller}: {name} must be floating point; got numpy dtype {x.dtype}. Spins "
                f"stored as int8 need {name}.astype(np.float32) first."
            )
        return torch.as_tensor(x, device=device)
    return x


def _check_spins(x: Any, caller: str, name: str, device: Any = None) -> Tensor:
    """A floating tensor ``(n, L1, L2)`` or ``(n, 1, L1, L2)``, finite, every entry +-1."""
    x = check_inputs(_as_tensor(x, caller, name, device), caller, name)
    if not (x.dim() == 3 or (x.dim() == 4 and x.shape[1] == 1)):
        raise ValueError(
            f"{caller}: {name} must be spin lattices of shape (n, L1, L2) or (n, 1, L1, L2); "
            f"got shape {_shape(x)}."
        )
    n_bad = int((x.abs() != 1).sum())
    if n_bad:
        raise ValueError(
            f"{caller}: {name} must be spins +-1; got {n_bad} entries of {x.numel()} with other "
            f"values (dtype {x.dtype}, shape {_shape(x)}). Map 0/1 occupations with 2 * x - 1."
        )
    return x


def _standardize_average(model: CorrelationProbingNetwork, x: Tensor, batch_size: int) -> None:
    """Data-dependent initialisation: rescale the local network's last layer so that every
    channel of h has mean 0 and standard deviation 1 over the training configurations.

    h is affine in the weights of ``local.out`` (Eq. 1), so ``W <- W / s``, ``b <- (b - mu) / s``
    gives exactly standardised h. Why: with symmetric data (M and -M in one class) the decision
    must be U-shaped in h, which a ReLU head can only form where its hidden units' kinks lie
    inside the range of h. Left at its initial scale, h can span a small interval with no kink
    inside; the head is then linear there, the gradients of the two magnetisation sectors cancel
    and training stalls at the saddle D = 1/2 (observed for one seed in six without this step).
    The same idea as LSUV (Mishkin & Matas 2016, arXiv:1511.06422) applied to one layer.
    """
    with torch.no_grad():
        h = torch.cat([model.averaged(chunk) for chunk in torch.split(x, max(batch_size, 256))])
        mean, std = h.mean(0), h.std(0)
        std = torch.where(std > 0, std, torch.ones_like(std))  # a constant h: only centre it
        out = model.local.out
        out.weight.div_(std.view(-1, *([1] * (out.weight.dim() - 1))))
        out.bias.sub_(mean).div_(std)


def _check_int_arg(value: Any, caller: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{caller}: {name} must be an int; got {type(value).__name__}.")
    return value


class CPNNProbe:
    """Train a correlation probing network on labelled spin configurations and read it out.

    A scikit-learn style estimator around :class:`CorrelationProbingNetwork`: ``fit`` trains the
    network with :func:`physxai.models.fit` (2 logits, cross-entropy), ``predict_proba`` and
    friends apply it, and the read-out methods write the trained network down: the local map
    as a table over all patches (:meth:`local_map`), the lattice average h (:meth:`averaged`),
    the decision as a function of h (:meth:`decision_curve`) and the oddness of the local map
    in the decision's own gauge (:meth:`oddness`, see the module docstring).

    Parameters
    ----------
    field_size : int, default 1
        k, the side of the receptive field.
    local_hidden : tuple of int, default (8,)
        Hidden widths of the local network g.
    n_local : int, default 1
        Outputs of g (the dimension of h). The decision-curve and oddness read-outs need 1.
    head_hidden : tuple of int, default (16,)
        Hidden widths of the prediction network p (a U-shaped decision in h needs at least two
        hidden units).
    activation : str, default "relu"
        Any name of :mod:`physxai.models` (``"relu"``, ``"tanh"``, ``"elu"``, ``"softplus"``, ...):
        the activation of both networks.
    epochs, batch_size, lr : int, int, float
        Training options of :func:`physxai.models.fit` (Adam).
    l2 : float, default 0.0
        Explicit L2 penalty on all parameters.
    seed : int, default 0
        Seeds the initial weights (under a forked global RNG, which is restored) and the
        shuffling.
    device : str or None, default None
        Where the network is built and trained; tensors passed in must already be there (numpy
        arrays are created there). None: the device of the training inputs.
    progress : bool or None, default None
        Progress bar of the training loop (None: on a terminal only).

    Attributes
    ----------
    model_ : CorrelationProbingNetwork
        The trained network, in eval mode, in the dtype of the training inputs.
    history_ : physxai.models.History
        Training losses per epoch.
    classes_ : Tensor, shape (2,)
        ``tensor([0, 1])``; the decision D is the probability of class 1.

    References
    ----------
    S. J. Wetzel, M. Scherzer, Phys. Rev. B 96, 184410 (2017), arXiv:1705.05582.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> m = torch.tensor([0.8, -0.8, 0.0, 0.0]).repeat(50)          # ordered, ordered, disordered
    >>> x = torch.where(torch.rand(200, 6, 6, generator=g) < ((1 + m) / 2)[:, None, None], 1.0, -1.0)
    >>> probe = CPNNProbe(1, epochs=10, lr=1e-2, progress=False).fit(x, (m != 0).long())
    >>> probe.local_map().values.shape
    torch.Size([2, 1])
    """

    _caller = "CPNNProbe"

    def __init__(
        self,
        field_size: int = 1,
        *,
        local_hidden: Sequence[int] = (8,),
        n_local: int = 1,
        head_hidden: Sequence[int] = (16,),
        activation: str = "relu",
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 3e-3,
        l2: float = 0.0,
        seed: int = 0,
        device: str | torch.device | None = None,
        progress: bool | None = None,
    ):
        caller = self._caller
        check_positive_int(field_size, caller, "field_size")
        _check_sizes(local_hidden, caller, "local_hidden")
        check_positive_int(n_local, caller, "n_local")
        _check_sizes(head_hidden, caller, "head_hidden")
        make_activation(activation, caller)  # validates the name (the models' one table)
        check_positive_int(epochs, caller, "epochs")
        check_positive_int(batch_size, caller, "batch_size")
        check_positive_float(lr, caller, "lr")
        check_positive_float(l2, caller, "l2", allow_zero=True)
        _check_int_arg(seed, caller, "seed")
        if device is not None and not isinstance(device, (str, torch.device)):
            raise TypeError(
                f"{caller}: device must be a str, torch.device or None; got "
                f"{type(device).__name__}."
            )
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{caller}: progress must be a bool or None; got {progress!r}.")
        self.field_size = field_size
        self.local_hidden = local_hidden
        self.n_local = n_local
        self.head_hidden = head_hidden
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.l2 = l2
        self.seed = seed
        self.device = device
        self.progress = progress

    def __repr__(self) -> str:
        return (
            f"CPNNProbe(field_size={self.field_size}, local_hidden={self.local_hidden!r}, "
            f"n_local={self.n_local}, head_hidden={self.head_hidden!r}, "
            f"activation={self.activation!r}, epochs={self.epochs}, lr={self.lr!r})"
        )

    # ------------------------------------------------------------------ fitting

    def fit(self, x: Any, y: Any) -> CPNNProbe:
        """Train the network on spin configurations x with phase labels y.

        Parameters
        ----------
        x : Tensor or ndarray, shape (n, L1, L2) or (n, 1, L1, L2)
            Spins +-1, floating point (float32 or float64: the network takes this dtype).
        y : Tensor or ndarray, shape (n,)
            Integer labels 0/1, both present (e.g. 1 = ordered).

        Returns
        -------
        CPNNProbe
            self, fitted.

        Notes
        -----
        Before training, the last layer of the local network is rescaled so that h has mean 0
        and standard deviation 1 over x (a data-dependent initialisation; without it a ReLU head
        can start linear over the whole range of h and stall at the saddle D = 1/2 when both
        magnetisation sectors share a label). It changes the starting point only: h stays an
        average of a local map with free weights.

        Raises
        ------
        TypeError
            x or y of the wrong kind.
        ValueError
            x not a batch of +-1 lattices (shape, dtype, NaN, other values), a field larger
            than the lattice, x on another device than ``device``, bad labels.
        """
        caller = f"{self._caller}.fit"
        x = _check_spins(x, caller, "x", self.device)
        if self.device is not None:
            want = torch.device(self.device)
            same = x.device.type == want.type and want.index in (None, x.device.index)
            if not same:
                raise ValueError(
                    f"{caller}: x must be on device {want} (the probe's device); got "
                    f"{x.device}. Move it with x.to({str(want)!r})."
                )
        k = self.field_size
        if k > min(x.shape[-2:]):
            raise ValueError(
                f"{caller}: field_size k = {k} is larger than the lattice "
                f"({x.shape[-2]} x {x.shape[-1]}); it must be <= {min(x.shape[-2:])}."
            )
        y = check_binary_labels(y, x.shape[0], caller)
        with torch.random.fork_rng(devices=[]):
            # initial weights from the probe's seed, without touching the caller's global RNG
            torch.manual_seed(self.seed)
            model = CorrelationProbingNetwork(
                k,
                local_hidden=tuple(self.local_hidden),
                n_local=self.n_local,
                head_hidden=tuple(self.head_hidden),
                n_classes=2,
                activation=self.activation,
            )
        model = model.to(device=x.device, dtype=x.dtype)
        _standardize_average(model, x, self.batch_size)
        history = fit(
            model,
            (x, y.to(x.device)),
            loss="cross_entropy",
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            l2=self.l2,
            seed=self.seed,
            progress=self.progress,
        )
        self.model_ = model
        self.history_: History = history
        self.classes_ = torch.tensor([0, 1])
        return self

    def _check_fitted(self, caller: str) -> CorrelationProbingNetwork:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(
                f"{caller}: this CPNNProbe is not fitted yet; call fit(x, y) first."
            )
        return model

    def _inputs(self, x: Any, caller: str) -> tuple[CorrelationProbingNetwork, Tensor]:
        model = self._check_fitted(caller)
        weight = model.local.out.weight
        x = _check_spins(x, caller, "x", weight.device)
        if x.device != weight.device:
            raise ValueError(
                f"{caller}: x must be on the model's device {weight.device}; got {x.device}."
            )
        if x.dtype != weight.dtype:
            raise ValueError(
                f"{caller}: x must have the model's dtype {weight.dtype} (that of the training "
                f"data); got {x.dtype}."
            )
        k = self.field_size
        if k > min(x.shape[-2:]):
            raise ValueError(
                f"{caller}: field_size k = {k} is larger than the lattice "
                f"({x.shape[-2]} x {x.shape[-1]}); it must be <= {min(x.shape[-2:])}."
            )
        return model, x

    @staticmethod
    def _batched(
        fn: Callable[[Tensor], Tensor], x: Tensor, max_batch_size: int, caller: str
    ) -> Tensor:
        check_positive_int(max_batch_size, caller, "max_batch_size")
        with torch.no_grad():
            return torch.cat([fn(chunk) for chunk in torch.split(x, max_batch_size)])

    # ------------------------------------------------------------------ prediction

    def predict_proba(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Class probabilities ``(n, 2)``; column 1 is the decision D.

        Parameters
        ----------
        x : Tensor or ndarray, shape (n, L1, L2) or (n, 1, L1, L2)
            Spins +-1 in the model's dtype and on its device; any lattice size >= k.
        max_batch_size : int
            Configurations per forward pass (the result does not depend on it).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            As in :meth:`fit`, or a dtype/device other than the model's.
        """
        caller = f"{self._caller}.predict_proba"
        model, x = self._inputs(x, caller)
        return self._batched(lambda c: model(c).softmax(-1), x, max_batch_size, caller)

    def decision_function(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Log-odds of class 1, ``logit_1 - logit_0``: ``(n,)``.

        A strictly increasing function of D that does not saturate in floating point, which is
        what rank statistics (Spearman's rho with |M|) should see. Raises as
        :meth:`predict_proba`.
        """
        caller = f"{self._caller}.decision_function"
        model, x = self._inputs(x, caller)

        def log_odds(c: Tensor) -> Tensor:
            z = model(c)
            return z[:, 1] - z[:, 0]

        return self._batched(log_odds, x, max_batch_size, caller)

    def predict(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """Predicted class ``(n,)`` (int64): 1 where D > 1/2. Raises as :meth:`predict_proba`."""
        return (self.decision_function(x, max_batch_size=max_batch_size) > 0).long()

    def score(self, x: Any, y: Any, *, max_batch_size: int = 1024) -> float:
        """Accuracy of :meth:`predict` against labels y ``(n,)`` (0/1 integers).

        Raises as :meth:`predict_proba`, and ``ValueError`` for bad labels (one class only is
        allowed here).
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

    def averaged(self, x: Any, *, max_batch_size: int = 1024) -> Tensor:
        """The lattice average h of Eq. (1): ``(n, n_local)``. Raises as :meth:`predict_proba`."""
        caller = f"{self._caller}.averaged"
        model, x = self._inputs(x, caller)
        return self._batched(model.averaged, x, max_batch_size, caller)

    # ------------------------------------------------------------------ read-outs

    def local_response(self, patches: Any) -> Tensor:
        """The local network g on given k x k patches: ``(m, n_local)``.

        Parameters
        ----------
        patches : Tensor or ndarray, shape (m, k, k) or (m, 1, k, k)
            Spin patches +-1 in the model's dtype, k = ``field_size``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            Patches of another size, non-+-1 entries, NaN, another dtype or device.
        """
        caller = f"{self._caller}.local_response"
        model = self._check_fitted(caller)
        weight = model.local.out.weight
        patches = _check_spins(patches, caller, "patches", weight.device)
        k = self.field_size
        if tuple(patches.shape[-2:]) != (k, k):
            raise ValueError(
                f"{caller}: patches must be k x k = {k} x {k} (the field size); got shape "
                f"{_shape(patches)}."
            )
        if patches.dtype != weight.dtype or patches.device != weight.device:
            raise ValueError(
                f"{caller}: patches must have the model's dtype {weight.dtype} and device "
                f"{weight.device}; got {patches.dtype} on {patches.device}."
            )
        with torch.no_grad():
            # no padding: a k x k patch is exactly one receptive field, the output one site
            return model.local(model._channel(patches)).flatten(1)

    def local_map(self) -> LocalMap:
        """The table of the local network over all 2^(k*k) spin patches.

        Returns
        -------
        LocalMap
            ``patches (2^(k*k), k, k)`` (order of :func:`all_patches`: for k = 1, ``[-1]``
            then ``[+1]``) and ``values (2^(k*k), n_local)`` = g(patch).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            When ``k * k > 16`` (more than 65 536 patches): use :meth:`local_response` on the
            patches of interest instead.
        """
        caller = f"{self._caller}.local_map"
        model = self._check_fitted(caller)
        k = self.field_size
        if k * k > MAX_TABLE_SPINS:
            raise ValueError(
                f"{caller}: a {k} x {k} field has 2^{k * k} patches; the table is limited to "
                f"k * k <= {MAX_TABLE_SPINS} spins (k <= 4). Call local_response(patches) on "
                "the patches of interest instead."
            )
        weight = model.local.out.weight
        patches = all_patches(k, dtype=weight.dtype, device=weight.device)
        return LocalMap(patches, self.local_response(patches))

    def _single_output(self, caller: str) -> CorrelationProbingNetwork:
        model = self._check_fitted(caller)
        if self.n_local != 1:
            raise ValueError(
                f"{caller}: needs one local output (n_local = 1) so that the decision is a "
                f"function of one number h; got n_local = {self.n_local}."
            )
        return model

    def decision_curve(self, averaged: Any = None, *, n_points: int = 1001) -> DecisionCurve:
        """The prediction network's decision D = P(class 1) as a function of h.

        Parameters
        ----------
        averaged : Tensor, shape (m,), optional
            Values of h (model dtype and device). Default: ``n_points`` equally spaced values
            from ``min g`` to ``max g`` over the local map's patches, the range the lattice
            average can take (for k = 1, h(M = -1) to h(M = +1), Eq. (2)).
        n_points : int
            Grid size of the default grid, >= 2.

        Returns
        -------
        DecisionCurve
            ``averaged (m,)`` and ``decision (m,)``.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            ``n_local != 1``; no grid given for ``k * k > 16``; a grid that is not 1-d,
            finite, in the model's dtype and on its device.
        """
        caller = f"{self._caller}.decision_curve"
        model = self._single_output(caller)
        weight = model.local.out.weight
        if averaged is None:
            check_positive_int(n_points, caller, "n_points", minimum=2)
            if self.field_size**2 > MAX_TABLE_SPINS:
                raise ValueError(
                    f"{caller}: the default grid spans the local map, which needs k * k <= "
                    f"{MAX_TABLE_SPINS}; pass averaged= (e.g. from averaged(x))."
                )
            g = self.local_map().values[:, 0]
            averaged = torch.linspace(
                float(g.min()), float(g.max()), n_points, dtype=weight.dtype, device=weight.device
            )
        else:
            averaged = check_inputs(averaged, caller, "averaged")
            if averaged.dim() != 1:
                raise ValueError(
                    f"{caller}: averaged must be 1-d, one value of h per point; got shape "
                    f"{_shape(averaged)}."
                )
            if averaged.dtype != weight.dtype or averaged.device != weight.device:
                raise ValueError(
                    f"{caller}: averaged must have the model's dtype {weight.dtype} and device "
                    f"{weight.device}; got {averaged.dtype} on {averaged.device}."
                )
        with torch.no_grad():
            decision = model.head(averaged[:, None]).softmax(-1)[:, 1]
        return DecisionCurve(averaged, decision)

    def decision_thresholds(self, *, n_points: int = 4001) -> tuple[float, float]:
        """The outermost values of h where D(h) crosses 1/2 on the local map's range.

        Linear interpolation on a grid of ``n_points`` (:meth:`decision_curve`); NaN for a
        threshold that does not exist (D crosses 1/2 fewer than twice: the decision is not
        U-shaped, so it cannot be symmetric under the global flip). Raises as
        :meth:`decision_curve`.
        """
        curve = self.decision_curve(n_points=n_points)
        h = curve.averaged.double().cpu().numpy()
        d = curve.decision.double().cpu().numpy() - 0.5
        side = d >= 0
        idx = np.flatnonzero(side[:-1] != side[1:])
        if idx.size < 2:
            return math.nan, math.nan

        def at(i: int) -> float:
            return float(h[i] + (0 - d[i]) / (d[i + 1] - d[i]) * (h[i + 1] - h[i]))

        return at(int(idx[0])), at(int(idx[-1]))

    def oddness(self, *, center: float | str = "decision") -> float:
        """How far the local map is from odd, in the decision's gauge (module docstring, Eq. 3).

        ``max_S |g(S) + g(-S) - 2c| / max_S |g(S) - g(-S)|`` over all patches S of the local
        map: 0 for an exactly odd map, 1 or more for one with no odd part to speak of.

        Parameters
        ----------
        center : "decision" or float
            The constant c the head cannot see. ``"decision"``: the symmetry centre of the
            decision, the midpoint of the two 1/2-crossings of D(h)
            (:meth:`decision_thresholds`); NaN when they do not exist. A number fixes c (0.0
            gives the raw, initialisation-dependent ratio).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            ``n_local != 1``, ``k * k > 16``, or a bad ``center``.
        """
        caller = f"{self._caller}.oddness"
        self._single_output(caller)
        if isinstance(center, str):
            check_choice(center, ("decision",), caller, "center")
            low, high = self.decision_thresholds()
            c = 0.5 * (low + high)
        elif isinstance(center, (int, float)) and not isinstance(center, bool):
            if not math.isfinite(center):
                raise ValueError(f"{caller}: center must be finite; got {center!r}.")
            c = float(center)
        else:
            raise TypeError(
                f"{caller}: center must be 'decision' or a number; got {type(center).__name__}."
            )
        g = self.local_map().values[:, 0].double().cpu()
        flipped = g.flip(0)  # row m - 1 - p is the global flip of row p (all_patches)
        even = (g + flipped - 2 * c).abs().max()
        odd = (g - flipped).abs().max()
        return float(even / odd) if float(odd) > 0 else math.inf


def scan_field_sizes(
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    sizes: Sequence[int] = (1, 2, 3),
    *,
    tolerance: float = 0.01,
    **options: Any,
) -> FieldSizeScan:
    """Train a CPNN per receptive-field size and pick the smallest one that still classifies.

    "Still classifies" is the rule of this function: the selected k is the smallest whose test
    accuracy is at least ``max_k accuracy(k) - tolerance``. With the default tolerance of one
    percentage point, a larger field is chosen only when it is better by more than one point
    (Wetzel & Scherzer shrink the field until the classification fails).

    Parameters
    ----------
    x_train, y_train : spins (n, L1, L2) and labels (n,)
        Training data, as for :meth:`CPNNProbe.fit`.
    x_test, y_test : spins (m, L1', L2') and labels (m,)
        Data the accuracies are measured on (e.g. held-out configurations away from T_c).
    sizes : sequence of int
        Field sizes to try (distinct, >= 1).
    tolerance : float
        Accuracy (a fraction, not points) a smaller field may lose, >= 0.
    **options
        Keyword arguments of :class:`CPNNProbe` (all but ``field_size``), the same for every k.

    Returns
    -------
    FieldSizeScan

    Raises
    ------
    ValueError
        Empty or repeated ``sizes``, a negative ``tolerance``, ``field_size`` among the options,
        and whatever :meth:`CPNNProbe.fit` raises.
    """
    caller = "scan_field_sizes"
    ok = (
        isinstance(sizes, (tuple, list))
        and len(sizes) > 0
        and all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in sizes)
    )
    if not ok:
        raise ValueError(
            f"{caller}: sizes must be a non-empty sequence of ints >= 1; got {sizes!r}."
        )
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"{caller}: sizes must be distinct; got {tuple(sizes)!r}.")
    check_positive_float(tolerance, caller, "tolerance", allow_zero=True)
    if "field_size" in options:
        raise ValueError(f"{caller}: pass the field sizes as sizes=, not field_size=.")
    ordered = tuple(sorted(sizes))
    probes = {k: CPNNProbe(k, **options).fit(x_train, y_train) for k in ordered}
    accuracy = tuple(probes[k].score(x_test, y_test) for k in ordered)
    best = max(accuracy)
    selected = next(k for k, a in zip(ordered, accuracy) if a >= best - tolerance)
    return FieldSizeScan(ordered, accuracy, best, float(tolerance), selected, probes)
