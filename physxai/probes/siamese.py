"""Siamese networks that learn invariants, and the protocol that reads the invariant back out.

A siamese network is one encoder ``z = f(x)`` applied with shared weights to the members of a
pair (or triplet) of inputs. Pairs are **positive** when the members are related by a symmetry
(an event ``x`` and its Lorentz transform ``Lambda x``) or by time evolution (two states on one
orbit), and **negative** when they come from different values of the invariant. Trained so that
positives share a latent and negatives do not, the latent becomes a function of the invariant
(Wetzel et al. 2020): the interval ``s^2 = t^2 - x^2 - y^2 - z^2`` for special relativity, the
angular momentum ``L = x1 v2 - x2 v1`` (and energy) for a central potential. Every objective fixes
the invariant only up to a monotone map ``z = g(I)``, which is why the interpretation below uses
rank correlation and gradient directions, both blind to ``g``.

Three objectives are offered by :class:`SiameseNetwork` (all trained by
:func:`physxai.models.fit`):

- ``"triplet"`` (the reference repository of Wetzel and co-workers): triplets ``(a, p, n)`` of an
  anchor, a positive and a negative, loss ``max(0, |z_a - z_p| - |z_a - z_n| + margin)``;
- ``"contrastive"`` (Hadsell, Chopra, LeCun 2006): labelled pairs, loss
  ``y d^2 + (1 - y) max(0, margin - d)^2`` with ``d = |z_1 - z_2|``;
- ``"pair_classification"`` (the paper's same/different classifier): labelled pairs, the logit
  ``b - exp(a) d^2`` with learned ``a, b`` and binary cross-entropy, so that "same" means "close
  in latent space".

:func:`discover_invariant` is the project's interpretation protocol (REPRODUCTIONS.md,
wetzel2020_siamese_invariants): the Spearman correlation of the latent with each candidate
invariant; a least-squares fit of the latent on all monomials of the **raw** inputs up to a degree
(standardised inputs would hide the Minkowski signs), with normalised coefficients, ``R^2`` and
the dominant terms named in the inputs' own variables (``t^2``, ``x1*v2``); and the alignment
``|cos(grad_x z, grad_x I)|`` of the latent's input gradient with each candidate's. The encoder
built by :class:`SiameseNetwork` contains its input standardisation as a fixed affine layer, so
its gradients are gradients with respect to the raw inputs.

References
----------
S. J. Wetzel, R. G. Melko, J. Scott, M. Panju, V. Ganesh, "Discovering symmetry invariants and
conserved quantities by interpreting siamese neural networks", Phys. Rev. Research 2, 033499
(2020), arXiv:2003.04299, doi:10.1103/PhysRevResearch.2.033499.
R. Hadsell, S. Chopra, Y. LeCun, "Dimensionality reduction by learning an invariant mapping",
CVPR 2006, doi:10.1109/CVPR.2006.100.
F. Schroff, D. Kalenichenko, J. Philbin, "FaceNet: a unified embedding for face recognition and
clustering", CVPR 2015, arXiv:1503.03832 (the triplet loss).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_choice,
    check_finite,
    check_positive_float,
    check_positive_int,
    check_same_device,
    model_device,
)
from ..errors import NotFittedError
from ..models import MLP, History, fit
from ..models._blocks import ActivationSpec, make_activation
from .compare import Correlation, spearman

__all__ = [
    "OBJECTIVES",
    "ORBIT_VARIABLES",
    "RELATIVITY_VARIABLES",
    "InvariantReport",
    "SiameseEncoder",
    "SiameseNetwork",
    "Standardize",
    "discover_invariant",
    "make_pairs",
    "make_triplets",
    "monomial_names",
]

#: The training objectives of :class:`SiameseNetwork`.
OBJECTIVES = ("triplet", "contrastive", "pair_classification")
#: Variable names of an event ``(t, x, y, z)`` (``physxai.physics.relativity``).
RELATIVITY_VARIABLES = ("t", "x", "y", "z")
#: Variable names of a state ``(x1, x2, v1, v2)`` (``physxai.physics.orbits``).
ORBIT_VARIABLES = ("x1", "x2", "v1", "v2")

_NEGATIVES = ("shift", "random")


# --------------------------------------------------------------------------------------------
# validation helpers


def _shape(t: Any) -> str:
    shape = tuple(t.shape)
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _as_tensor(x: Any, caller: str, name: str) -> Tensor:
    """A floating tensor from a tensor or a numpy array (kept as it is: no cast, no copy)."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, Tensor):
        raise TypeError(
            f"{caller}: {name} must be a torch.Tensor or numpy array; got {type(x).__name__}."
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{caller}: {name} must be floating point; got dtype {x.dtype}. Try {name}.float()."
        )
    return x


def _check_members(x: Any, caller: str, name: str, members: tuple[int, ...]) -> Tensor:
    """``(n, k, d)`` with ``k`` in ``members``, n >= 1, d >= 1, finite."""
    x = _as_tensor(x, caller, name)
    want = " or ".join(f"(n, {k}, d)" for k in members)
    if x.dim() != 3 or x.shape[1] not in members or x.shape[0] == 0 or x.shape[2] == 0:
        raise ValueError(f"{caller}: {name} must have shape {want}; got shape {_shape(x)}.")
    check_finite(x, caller, name)
    return x


def _check_matrix(x: Any, caller: str, name: str) -> Tensor:
    x = _as_tensor(x, caller, name)
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"{caller}: {name} must have shape (n_samples, n_features); got shape {_shape(x)}."
        )
    check_finite(x, caller, name)
    return x


def _check_labels(labels: Any, n: int, caller: str) -> Tensor:
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    if not isinstance(labels, Tensor):
        raise TypeError(
            f"{caller}: labels must be a torch.Tensor or numpy array; got {type(labels).__name__}."
        )
    if labels.shape != (n,):
        raise ValueError(
            f"{caller}: labels must have shape ({n},), one per pair; got shape {_shape(labels)}."
        )
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(
            f"{caller}: labels must be integer or bool (1 = same invariant, 0 = different); got "
            f"dtype {labels.dtype}."
        )
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError(f"{caller}: labels must be 0 or 1 (1 = same invariant, 0 = different).")
    return labels


def _check_hidden(hidden: Any, caller: str) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(
            f"{caller}: hidden must be a sequence of ints (widths); got {type(hidden).__name__}."
        )
    for h in hidden:
        check_positive_int(h, caller, "each hidden width")
    return tuple(hidden)


def _check_max_batch_size(value: Any, caller: str) -> int | None:
    if value is None:
        return None
    return check_positive_int(value, caller, "max_batch_size")


def _chunks(n: int, size: int | None) -> list[slice]:
    size = n if size is None else size
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


# --------------------------------------------------------------------------------------------
# the encoder


class Standardize(nn.Module):
    """The fixed affine map ``x -> (x - mean) / scale`` (buffers, not parameters).

    Inside an encoder it makes the network see standardised inputs while the encoder as a whole
    remains a function of the raw inputs, so ``grad_x`` of its output is the gradient with
    respect to the raw coordinates (the chain rule supplies the ``1 / scale``).

    Parameters
    ----------
    mean : Tensor
        ``(d,)`` the offsets.
    scale : Tensor
        ``(d,)`` the scales, all > 0.

    Raises
    ------
    ValueError
        If the shapes differ, or a scale is not finite and > 0.
    """

    def __init__(self, mean: Tensor, scale: Tensor):
        super().__init__()
        caller = "Standardize"
        mean, scale = _as_tensor(mean, caller, "mean"), _as_tensor(scale, caller, "scale")
        if mean.dim() != 1 or mean.shape != scale.shape:
            raise ValueError(
                f"{caller}: mean and scale must both have shape (d,); got {_shape(mean)} and "
                f"{_shape(scale)}."
            )
        if not bool((torch.isfinite(scale) & (scale > 0)).all()) or not bool(
            torch.isfinite(mean).all()
        ):
            raise ValueError(f"{caller}: mean must be finite and scale finite and > 0.")
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("scale", scale.detach().clone())

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.scale


class SiameseEncoder(nn.Module):
    """The shared encoder of a siamese network: ``Standardize -> MLP -> latent``.

    Parameters
    ----------
    in_features : int
        Number of input variables d (4 for events and orbit states).
    latent_dim : int, default 1
        Number of latent units.
    hidden : tuple of int, default (256, 256)
        Hidden widths of the MLP (the reference repository uses width 256).
    activation : str or nn.Module class, default "relu"
        Hidden activation, as in :class:`physxai.models.MLP`.
    mean, scale : Tensor, optional
        ``(d,)`` input standardisation; default zeros and ones (the identity).

    Attributes
    ----------
    standardize : Standardize
        The fixed input affine map.
    network : MLP
        ``features.fc1, features.act1, ..., head``; its output is the latent.

    Examples
    --------
    >>> enc = SiameseEncoder(4, hidden=(8,))
    >>> enc(torch.zeros(5, 4)).shape
    torch.Size([5, 1])
    """

    def __init__(
        self,
        in_features: int,
        latent_dim: int = 1,
        hidden: Sequence[int] = (256, 256),
        activation: ActivationSpec = "relu",
        mean: Tensor | None = None,
        scale: Tensor | None = None,
    ):
        super().__init__()
        caller = "SiameseEncoder"
        check_positive_int(in_features, caller, "in_features")
        check_positive_int(latent_dim, caller, "latent_dim")
        hidden = _check_hidden(hidden, caller)
        mean = torch.zeros(in_features) if mean is None else mean
        scale = torch.ones(in_features) if scale is None else scale
        if tuple(mean.shape) != (in_features,):
            raise ValueError(
                f"{caller}: mean and scale must have shape ({in_features},); got {_shape(mean)}."
            )
        self.standardize = Standardize(mean, scale)
        self.network = MLP(
            in_features, hidden=hidden, out_features=latent_dim, activation=activation
        )

    def forward(self, x: Tensor) -> Tensor:
        """``(n, d)`` raw inputs -> ``(n, latent_dim)`` latents."""
        return self.network(self.standardize(x))


class _SiameseTrainer(nn.Module):
    """The training view: ``(n, k, d)`` stacked members -> what the objective's loss needs.

    ``"triplet"`` and ``"contrastive"``: the latents ``(n, k, latent_dim)``.
    ``"pair_classification"``: the "same" logits ``(n,)`` = ``bias - exp(log_weight) d^2``.
    """

    def __init__(self, encoder: SiameseEncoder, objective: str, dtype: torch.dtype):
        super().__init__()
        self.encoder = encoder
        self.objective = objective
        if objective == "pair_classification":
            device = model_device(encoder)
            self.log_weight = nn.Parameter(torch.zeros((), dtype=dtype, device=device))
            self.bias = nn.Parameter(torch.ones((), dtype=dtype, device=device))

    def forward(self, x: Tensor) -> Tensor:
        n, k, d = x.shape
        z = self.encoder(x.reshape(n * k, d)).reshape(n, k, -1)
        if self.objective != "pair_classification":
            return z
        d2 = (z[:, 0] - z[:, 1]).pow(2).sum(-1)
        return self.bias - self.log_weight.exp() * d2


def _triplet_loss(margin: float) -> Callable[[Tensor, Tensor], Tensor]:
    def triplet_loss(z: Tensor, _: Tensor) -> Tensor:
        # max(0, |z_a - z_p| - |z_a - z_n| + m) (Schroff et al. 2015, Eq. 1 without squares,
        # as in the reference repository)
        d_pos = torch.linalg.vector_norm(z[:, 0] - z[:, 1], dim=-1)
        d_neg = torch.linalg.vector_norm(z[:, 0] - z[:, 2], dim=-1)
        return F.relu(d_pos - d_neg + margin).mean()

    return triplet_loss


def _contrastive_loss(margin: float) -> Callable[[Tensor, Tensor], Tensor]:
    def contrastive_loss(z: Tensor, y: Tensor) -> Tensor:
        # y d^2 + (1 - y) max(0, m - d)^2 (Hadsell et al. 2006, Eq. 4 with the 1/2 dropped)
        d = torch.linalg.vector_norm(z[:, 0] - z[:, 1], dim=-1)
        y = y.to(d.dtype)
        return (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2)).mean()

    return contrastive_loss


def _pair_loss(logits: Tensor, y: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))


class SiameseNetwork:
    """A twin network with shared weights whose latent learns an invariant.

    A scikit-learn style estimator: the constructor stores its arguments unchanged (validated),
    :meth:`fit` trains :class:`SiameseEncoder` with :func:`physxai.models.fit` and returns
    ``self``, and :meth:`transform` maps inputs to latents.

    Parameters
    ----------
    latent_dim : int, default 1
        Number of latent units (one in the paper).
    hidden : tuple of int, default (256, 256)
        Hidden widths of the encoder MLP.
    activation : str or nn.Module class, default "relu"
        Hidden activation (see :class:`physxai.models.MLP`); a smooth one (``"elu"``,
        ``"softplus"``, ``"tanh"``) gives smoother input gradients.
    objective : {"triplet", "contrastive", "pair_classification"}, default "triplet"
        The training objective (module docstring). ``"triplet"`` trains on ``(n, 3, d)``
        triplets (see :func:`make_triplets`); the other two on ``(n, 2, d)`` pairs with labels
        (1 = same invariant, 0 = different; see :func:`make_pairs`).
    margin : float, default 1.0
        The margin of the triplet and contrastive losses (unused by pair classification).
    epochs : int, default 20
        Passes over the training data.
    batch_size : int, default 256
        Pairs or triplets per step.
    lr : float, default 1e-3
        Adam learning rate.
    weight_decay : float, default 1e-4
        Adam weight decay (the reference repository's value).
    standardize : bool, default True
        Standardise the inputs with the mean and standard deviation of all members of the
        training data, as a fixed layer inside the encoder (recorded as ``mean_``, ``scale_``).
        Boosted events have an unbounded scale, so this matters.
    seed : int, default 0
        Seeds the initial weights (the global RNG state is restored) and the shuffling.
    device : str or torch.device, optional
        Where the encoder is built and trained; default CPU. Batches are copied there.
    progress : bool, optional
        Per-epoch progress bar (default: only on a terminal).

    Attributes
    ----------
    encoder_ : SiameseEncoder
        The trained encoder, ``(n, d)`` raw inputs -> ``(n, latent_dim)``, in eval mode, in the
        dtype of the training data.
    mean_, scale_ : Tensor
        ``(d,)`` the standardisation inside ``encoder_`` (zeros and ones when not standardising;
        a constant input column gets scale 1).
    history_ : physxai.models.History
        Per-epoch training (and validation) losses.
    n_features_in_ : int
        d.
    pair_weight_, pair_bias_ : float
        For ``"pair_classification"``: the fitted logit ``pair_bias_ - pair_weight_ * d^2``.

    Raises
    ------
    ValueError
        For an unknown objective or an out-of-range option.
    TypeError
        For ``hidden`` not a sequence of ints or ``seed`` not an int.

    Examples
    --------
    >>> from physxai.physics import relativity
    >>> d = relativity.event_pairs(64, seed=0, negative_fraction=0.0)
    >>> triplets = make_triplets(d.pairs[:, 0], d.pairs[:, 1])
    >>> net = SiameseNetwork(hidden=(16,), epochs=2, progress=False).fit(triplets)
    >>> net.transform(torch.from_numpy(d.pairs[:5, 0])).shape
    torch.Size([5, 1])
    """

    def __init__(
        self,
        latent_dim: int = 1,
        *,
        hidden: Sequence[int] = (256, 256),
        activation: ActivationSpec = "relu",
        objective: str = "triplet",
        margin: float = 1.0,
        epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        standardize: bool = True,
        seed: int = 0,
        device: str | torch.device | None = None,
        progress: bool | None = None,
    ):
        caller = "SiameseNetwork"
        check_positive_int(latent_dim, caller, "latent_dim")
        _check_hidden(hidden, caller)
        make_activation(activation, caller)  # fails fast on an unknown name
        check_choice(objective, OBJECTIVES, caller, "objective")
        check_positive_float(margin, caller, "margin")
        check_positive_int(epochs, caller, "epochs")
        check_positive_int(batch_size, caller, "batch_size")
        check_positive_float(lr, caller, "lr")
        check_positive_float(weight_decay, caller, "weight_decay", allow_zero=True)
        if not isinstance(standardize, bool):
            raise TypeError(
                f"{caller}: standardize must be a bool; got {type(standardize).__name__}."
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"{caller}: seed must be an int; got {type(seed).__name__}.")
        if device is not None:
            try:
                torch.device(device)
            except (RuntimeError, TypeError) as err:
                raise ValueError(
                    f"{caller}: device must name a torch device; got {device!r}."
                ) from err
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"{caller}: progress must be True, False or None; got {progress!r}.")
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.objective = objective
        self.margin = margin
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.progress = progress

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in (
                "latent_dim",
                "hidden",
                "activation",
                "objective",
                "margin",
                "epochs",
                "batch_size",
                "lr",
                "weight_decay",
                "standardize",
                "seed",
                "device",
            )
        )
        return f"SiameseNetwork({args})"

    # ---------------------------------------------------------------------------------------

    def _check_data(self, data: Any, labels: Any, caller: str, name: str) -> tuple[Tensor, Tensor]:
        if self.objective == "triplet":
            if labels is not None:
                raise ValueError(
                    f"{caller}: objective='triplet' takes (n, 3, d) triplets and no labels; got "
                    "labels. Build triplets from positive pairs with make_triplets(anchors, "
                    "positives), or choose objective='contrastive' or 'pair_classification'."
                )
            x = _check_members(data, caller, name, (3,))
            return x, torch.zeros(x.shape[0], device=x.device)
        x = _check_members(data, caller, name, (2,))
        if labels is None:
            raise ValueError(
                f"{caller}: objective={self.objective!r} needs labels (n,) for the {name} pairs "
                "(1 = same invariant, 0 = different); got None."
            )
        return x, _check_labels(labels, x.shape[0], caller).to(torch.int64)

    def fit(
        self,
        data: Tensor | np.ndarray,
        labels: Tensor | np.ndarray | None = None,
        *,
        validation: tuple[Any, Any] | Tensor | np.ndarray | None = None,
    ) -> SiameseNetwork:
        """Train the encoder.

        Parameters
        ----------
        data : Tensor or numpy.ndarray
            ``(n, 3, d)`` triplets ``(anchor, positive, negative)`` for ``"triplet"``;
            ``(n, 2, d)`` pairs for the other objectives. Floating point, finite; the encoder
            takes its dtype.
        labels : Tensor or numpy.ndarray, optional
            ``(n,)`` integer or bool, 1 when the pair shares the invariant and 0 when not;
            required for ``"contrastive"`` and ``"pair_classification"``, refused for
            ``"triplet"``.
        validation : optional
            Held-out data to report the loss on after every epoch: triplets for ``"triplet"``,
            ``(pairs, labels)`` otherwise.

        Returns
        -------
        SiameseNetwork
            ``self``, fitted.

        Raises
        ------
        ValueError
            If the data or labels have the wrong shape, hold NaN or infinity, or labels are not
            0/1, or labels are given to (or missing from) the objective.
        TypeError
            If the data are not a tensor or numpy array.
        FloatingPointError
            If training diverges (from :func:`physxai.models.fit`).
        """
        caller = "SiameseNetwork.fit"
        x, y = self._check_data(data, labels, caller, "data")
        val = None
        if validation is not None:
            if self.objective == "triplet":
                vx, vy = self._check_data(validation, None, caller, "validation")
            else:
                if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                    raise TypeError(
                        f"{caller}: validation must be a (pairs, labels) tuple for "
                        f"objective={self.objective!r}; got {type(validation).__name__}."
                    )
                vx, vy = self._check_data(validation[0], validation[1], caller, "validation")
            if vx.shape[2] != x.shape[2] or vx.dtype != x.dtype:
                raise ValueError(
                    f"{caller}: validation must match data in d and dtype; got shape "
                    f"{_shape(vx)} ({vx.dtype}) against {_shape(x)} ({x.dtype})."
                )
            val = (vx, vy)
        d = x.shape[2]
        flat = x.reshape(-1, d)
        if self.standardize:
            mean = flat.mean(0)
            scale = flat.std(0)
            # A constant column carries no information; scale 1 keeps the map invertible.
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        else:
            mean, scale = torch.zeros_like(flat[0]), torch.ones_like(flat[0])
        device = torch.device(self.device) if self.device is not None else torch.device("cpu")
        with torch.random.fork_rng(devices=[]):
            # the initial weights come from the seed; the caller's global RNG is restored
            torch.manual_seed(self.seed)
            encoder = SiameseEncoder(
                d,
                self.latent_dim,
                self.hidden,
                self.activation,
                mean=mean.detach().cpu(),
                scale=scale.detach().cpu(),
            ).to(device=device, dtype=x.dtype)
            trainer = _SiameseTrainer(encoder, self.objective, x.dtype)
        if self.objective == "triplet":
            loss = _triplet_loss(self.margin)
        elif self.objective == "contrastive":
            loss = _contrastive_loss(self.margin)
        else:
            loss = _pair_loss
        history = fit(
            trainer,
            (x, y),
            loss=loss,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            validation=val,
            metric=None,
            seed=self.seed,
            device=device,
            progress=self.progress,
        )
        encoder.eval()
        self.encoder_ = encoder
        self.mean_ = encoder.standardize.mean.detach().clone()
        self.scale_ = encoder.standardize.scale.detach().clone()
        self.history_: History = history
        self.n_features_in_ = d
        if self.objective == "pair_classification":
            self.pair_weight_ = float(trainer.log_weight.detach().exp())
            self.pair_bias_ = float(trainer.bias.detach())
        return self

    def _check_fitted(self, caller: str) -> None:
        if not hasattr(self, "encoder_"):
            raise NotFittedError(
                f"{caller}: this SiameseNetwork is not fitted yet; call fit(data) first."
            )

    def transform(
        self, inputs: Tensor | np.ndarray, *, max_batch_size: int | None = None
    ) -> Tensor:
        """The latents of single inputs.

        Parameters
        ----------
        inputs : Tensor or numpy.ndarray
            ``(n, d)`` raw inputs, in the training data's dtype and on the encoder's device.
        max_batch_size : int, optional
            Encode at most this many inputs at a time (the result does not depend on it).

        Returns
        -------
        Tensor
            ``(n, latent_dim)``, detached.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For a wrong shape, dtype or device, or non-finite inputs.
        """
        caller = "SiameseNetwork.transform"
        self._check_fitted(caller)
        x = _check_matrix(inputs, caller, "inputs")
        _check_input_like(x, self.encoder_, self.n_features_in_, caller)
        max_batch_size = _check_max_batch_size(max_batch_size, caller)
        with torch.no_grad():
            return torch.cat([self.encoder_(x[s]) for s in _chunks(x.shape[0], max_batch_size)])

    def pair_distance(self, pairs: Tensor | np.ndarray) -> Tensor:
        """Latent distance ``|z_1 - z_2|`` of each pair (small: same invariant).

        Parameters
        ----------
        pairs : Tensor or numpy.ndarray
            ``(n, 2, d)``.

        Returns
        -------
        Tensor
            ``(n,)``, detached.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For a wrong shape, dtype or device, or non-finite inputs.
        """
        caller = "SiameseNetwork.pair_distance"
        self._check_fitted(caller)
        x = _check_members(pairs, caller, "pairs", (2,))
        _check_input_like(x[:, 0], self.encoder_, self.n_features_in_, caller)
        with torch.no_grad():
            z = self.encoder_(x.reshape(-1, x.shape[2])).reshape(x.shape[0], 2, -1)
        return torch.linalg.vector_norm(z[:, 0] - z[:, 1], dim=-1)


def _check_input_like(x: Tensor, encoder: nn.Module, d: int, caller: str) -> None:
    if x.shape[-1] != d:
        raise ValueError(
            f"{caller}: inputs must have {d} features, as in training; got shape {_shape(x)}."
        )
    dtype = next(encoder.parameters()).dtype
    if x.dtype != dtype:
        raise ValueError(f"{caller}: inputs must have the encoder's dtype {dtype}; got {x.dtype}.")
    check_same_device(encoder, x, caller)


# --------------------------------------------------------------------------------------------
# pair and triplet sets


def _negative_index(
    n: int, negatives: str, shift: int, generator: torch.Generator | None, caller: str
) -> Tensor:
    if n < 2:
        raise ValueError(
            f"{caller}: negatives come from other pairs, so at least 2 pairs are needed; got {n}."
        )
    check_choice(negatives, _NEGATIVES, caller, "negatives")
    index = torch.arange(n)
    if negatives == "shift":
        if isinstance(shift, bool) or not isinstance(shift, int) or shift % n == 0:
            raise ValueError(
                f"{caller}: shift must be an int that is not a multiple of the number of pairs "
                f"({n}); got {shift!r}."
            )
        return (index + shift) % n
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{caller}: generator must be a torch.Generator or None; got {type(generator).__name__}."
        )
    # j = i + r (mod n) with r uniform in 1..n-1: a uniformly random *other* pair for every i
    offset = torch.randint(1, n, (n,), generator=generator)
    return (index + offset) % n


def _anchor_positive(anchors: Any, positives: Any, caller: str) -> tuple[Tensor, Tensor]:
    a = _check_matrix(anchors, caller, "anchors")
    p = _check_matrix(positives, caller, "positives")
    if a.shape != p.shape or a.dtype != p.dtype or a.device != p.device:
        raise ValueError(
            f"{caller}: anchors and positives must have one shape, dtype and device; got "
            f"{_shape(a)} {a.dtype} {a.device} and {_shape(p)} {p.dtype} {p.device}."
        )
    return a, p


def make_triplets(
    anchors: Tensor | np.ndarray,
    positives: Tensor | np.ndarray,
    *,
    negatives: str = "shift",
    shift: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Triplets ``(anchor_i, positive_i, positive_j)`` with ``j != i`` from positive pairs.

    The negative of pair ``i`` is the positive member of another pair ``j``. With
    ``negatives="shift"`` (the reference repository's construction: the orbit index shifted
    cyclically) ``j = (i + shift) mod n``; with ``"random"`` ``j = (i + r_i) mod n`` with ``r_i``
    uniform in ``1..n-1``, a uniformly random other pair. The negative shares the anchor's
    invariant only by accident (probability 0 for continuous invariants).

    Parameters
    ----------
    anchors, positives : Tensor or numpy.ndarray
        ``(n, d)`` the two members of n positive pairs (same shape, dtype, device), n >= 2.
    negatives : {"shift", "random"}, default "shift"
        How the other pair is chosen.
    shift : int, default 1
        The cyclic shift for ``"shift"`` (not a multiple of n).
    generator : torch.Generator, optional
        Randomness of ``"random"`` (CPU generator).

    Returns
    -------
    Tensor
        ``(n, 3, d)``: ``[:, 0]`` anchors, ``[:, 1]`` positives, ``[:, 2]`` negatives.

    Raises
    ------
    ValueError
        For mismatched or malformed inputs, n < 2, non-finite entries, an unknown
        ``negatives`` or a bad ``shift``.
    TypeError
        For inputs that are not tensors or arrays, or a generator that is not a
        ``torch.Generator``.

    Examples
    --------
    >>> a = torch.arange(6.0).reshape(3, 2); p = a + 0.5
    >>> make_triplets(a, p)[0].tolist()
    [[0.0, 1.0], [0.5, 1.5], [2.5, 3.5]]
    """
    caller = "make_triplets"
    a, p = _anchor_positive(anchors, positives, caller)
    j = _negative_index(a.shape[0], negatives, shift, generator, caller).to(a.device)
    return torch.stack([a, p, p[j]], dim=1)


def make_pairs(
    anchors: Tensor | np.ndarray,
    positives: Tensor | np.ndarray,
    *,
    negatives: str = "shift",
    shift: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Labelled pairs from positive pairs: the n positives and n negatives built from them.

    Rows ``0..n-1`` are the positive pairs ``(anchor_i, positive_i)`` (label 1); rows
    ``n..2n-1`` are ``(anchor_i, positive_j)`` with ``j`` chosen as in :func:`make_triplets`
    (label 0). Shuffling is left to the training loop.

    Parameters
    ----------
    anchors, positives, negatives, shift, generator
        As in :func:`make_triplets`.

    Returns
    -------
    pairs : Tensor
        ``(2n, 2, d)``.
    labels : Tensor
        ``(2n,)`` int64, 1 then 0.

    Raises
    ------
    ValueError, TypeError
        As in :func:`make_triplets`.

    Examples
    --------
    >>> a = torch.arange(6.0).reshape(3, 2)
    >>> pairs, labels = make_pairs(a, a + 0.5)
    >>> pairs.shape, labels.tolist()
    (torch.Size([6, 2, 2]), [1, 1, 1, 0, 0, 0])
    """
    caller = "make_pairs"
    a, p = _anchor_positive(anchors, positives, caller)
    n = a.shape[0]
    j = _negative_index(n, negatives, shift, generator, caller).to(a.device)
    pairs = torch.cat([torch.stack([a, p], 1), torch.stack([a, p[j]], 1)])
    labels = torch.cat([torch.ones(n, dtype=torch.int64), torch.zeros(n, dtype=torch.int64)])
    return pairs, labels.to(a.device)


# --------------------------------------------------------------------------------------------
# interpretation


def monomial_names(
    variable_names: Sequence[str], degree: int = 2
) -> list[tuple[str, tuple[int, ...]]]:
    """All monomials of degree 1..``degree`` in the variables, named and with exponents.

    Ordered by degree, then lexicographically in the variables' order (``t, x, y, z, t^2, t*x,
    ...``). A variable to the power k > 1 is written ``name^k`` and factors are joined by ``*``.

    Parameters
    ----------
    variable_names : sequence of str
        d distinct names.
    degree : int, default 2
        Highest total degree, >= 1.

    Returns
    -------
    list of (str, tuple of int)
        ``(name, exponents)`` with ``exponents`` of length d; ``comb(d + degree, degree) - 1``
        entries (the constant is not included).

    Raises
    ------
    ValueError
        For ``degree < 1`` or names that are empty or repeated.

    Examples
    --------
    >>> [name for name, _ in monomial_names(["x1", "v2"])]
    ['x1', 'v2', 'x1^2', 'x1*v2', 'v2^2']
    """
    caller = "monomial_names"
    names = _check_names(variable_names, None, caller)
    check_positive_int(degree, caller, "degree")
    d = len(names)
    out: list[tuple[str, tuple[int, ...]]] = []
    for k in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(d), k):
            exps = [0] * d
            for i in combo:
                exps[i] += 1
            parts = [names[i] if e == 1 else f"{names[i]}^{e}" for i, e in enumerate(exps) if e]
            out.append(("*".join(parts), tuple(exps)))
    return out


def _check_names(variable_names: Any, d: int | None, caller: str) -> tuple[str, ...]:
    if isinstance(variable_names, (str, bytes)) or not isinstance(variable_names, Sequence):
        raise TypeError(
            f"{caller}: variable_names must be a sequence of str; got "
            f"{type(variable_names).__name__}."
        )
    names = tuple(variable_names)
    if not all(isinstance(s, str) and s for s in names):
        raise ValueError(f"{caller}: variable_names must be non-empty strings; got {names!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{caller}: variable_names must be distinct; got {names!r}.")
    if d is not None and len(names) != d:
        raise ValueError(
            f"{caller}: variable_names must name each of the {d} input variables; got "
            f"{len(names)} names {names!r}."
        )
    return names


@dataclass(frozen=True, eq=False)
class InvariantReport:
    """What :func:`discover_invariant` found: correlations, a monomial fit, gradient alignment.

    Attributes
    ----------
    variable_names : tuple of str
        Names of the d input variables.
    degree : int
        Highest degree of the monomial fit.
    n_samples : int
        Number of inputs analysed.
    latent : numpy.ndarray
        ``(n_samples,)`` float64, the analysed latent.
    correlations : dict of str to Correlation
        Spearman rank correlation of the latent with each candidate (value, confidence
        interval, p-value; :func:`physxai.probes.compare.spearman`).
    terms : tuple of str
        Monomial names, sorted by decreasing ``|coefficient|`` (the intercept excluded).
    coefficients : numpy.ndarray
        ``(n_terms,)`` the fitted coefficients of ``terms`` divided by ``scale``, so the largest
        in magnitude is exactly +1 or -1 and the overall sign of the latent is kept.
    intercept : float
        The fitted constant divided by ``scale``.
    scale : float
        ``max |raw coefficient|`` over the monomials (the intercept excluded).
    r_squared : float
        ``1 - SS_res / SS_tot`` of the least-squares fit (with intercept) on the raw inputs.
    alignment : dict of str to float
        ``mean_i |cos(grad_x z(x_i), grad_x I(x_i))|`` for each candidate with a gradient; a
        sample where either gradient vanishes counts as 0.
    cosines : dict of str to numpy.ndarray
        ``(n_samples,)`` the per-sample signed cosines behind ``alignment``.
    """

    variable_names: tuple[str, ...]
    degree: int
    n_samples: int
    latent: np.ndarray
    correlations: dict[str, Correlation]
    terms: tuple[str, ...]
    coefficients: np.ndarray
    intercept: float
    scale: float
    r_squared: float
    alignment: dict[str, float] = field(default_factory=dict)
    cosines: dict[str, np.ndarray] = field(default_factory=dict)

    def coefficient(self, term: str) -> float:
        """The normalised coefficient of one monomial, e.g. ``"t^2"`` or ``"x1*v2"``.

        Raises
        ------
        KeyError
            If no such monomial was fitted (the message lists the names).
        """
        try:
            return float(self.coefficients[self.terms.index(term)])
        except ValueError:
            raise KeyError(
                f"InvariantReport.coefficient: no monomial named {term!r}; the fitted terms are "
                f"{', '.join(sorted(self.terms))}."
            ) from None

    def dominant_terms(self, n_terms: int = 4) -> list[tuple[str, float]]:
        """The ``n_terms`` monomials with the largest ``|coefficient|``, as ``(name, coef)``."""
        check_positive_int(n_terms, "InvariantReport.dominant_terms", "n_terms")
        return [(t, float(c)) for t, c in zip(self.terms[:n_terms], self.coefficients[:n_terms])]

    def _confidence_label(self) -> str:
        levels = {c.confidence for c in self.correlations.values()}
        return f"{100 * levels.pop():g}%" if len(levels) == 1 else "mixed"

    def to_dict(self) -> dict[str, float]:
        """Flat ``{name: float}`` metrics for ``metrics.json``.

        Keys: ``spearman_<candidate>`` (and ``_low``, ``_high``, ``_p_value``),
        ``alignment_<candidate>``, ``r_squared``, ``coef_<term>`` for every monomial,
        ``coef_intercept`` and ``coef_scale``.
        """
        out: dict[str, float] = {}
        for name, c in self.correlations.items():
            out[f"spearman_{name}"] = float(c.value)
            out[f"spearman_{name}_low"] = float(c.low)
            out[f"spearman_{name}_high"] = float(c.high)
            out[f"spearman_{name}_p_value"] = float(c.p_value)
        for name, a in self.alignment.items():
            out[f"alignment_{name}"] = float(a)
        out["r_squared"] = float(self.r_squared)
        for t, c in zip(self.terms, self.coefficients):
            out[f"coef_{t}"] = float(c)
        out["coef_intercept"] = float(self.intercept)
        out["coef_scale"] = float(self.scale)
        return out

    def __str__(self) -> str:
        return self.summary()

    def summary(self, n_terms: int = 8) -> str:
        """A readable report: correlations and alignment per candidate, then the ``n_terms``
        largest monomials of the fit (``str(report)`` is ``summary(8)``)."""
        check_positive_int(n_terms, "InvariantReport.summary", "n_terms")
        lines = [
            f"Invariant report: n = {self.n_samples}, variables ({', '.join(self.variable_names)})",
        ]
        if self.correlations:
            width = max(len("candidate"), *(len(n) for n in self.correlations))
            head = f"spearman [{self._confidence_label()} CI]"
            # a row's correlation column "+0.1234 [+0.1234, +0.1234]" is 26 characters
            lines.append(f"  {'candidate':<{width}}  {head:<26}  |cos(grad z, grad I)|")
            for name, c in self.correlations.items():
                align = self.alignment.get(name)
                align_s = f"{align:.4f}" if align is not None else "n/a"
                lines.append(
                    f"  {name:<{width}}  {c.value:+.4f} [{c.low:+.4f}, {c.high:+.4f}]  {align_s}"
                )
        lines.append(
            f"  monomial fit up to degree {self.degree}: R^2 = {self.r_squared:.6f}; "
            f"coefficients / max|coef| (max|coef| = {self.scale:.4g}, intercept "
            f"{self.intercept:+.4f}):"
        )
        width = max(len(t) for t in self.terms[:n_terms])
        for t, c in zip(self.terms[:n_terms], self.coefficients[:n_terms]):
            lines.append(f"    {t:<{width}}  {c:+.4f}")
        if len(self.terms) > n_terms:
            lines.append(f"    ... {len(self.terms) - n_terms} smaller terms")
        return "\n".join(lines)


def _encoder_callable(encoder: Any, caller: str) -> Callable[[Tensor], Tensor]:
    if isinstance(encoder, SiameseNetwork):
        encoder._check_fitted(caller)
        return encoder.encoder_
    if not callable(encoder):
        raise TypeError(
            f"{caller}: encoder must be an nn.Module, a callable or a fitted SiameseNetwork; got "
            f"{type(encoder).__name__}."
        )
    return encoder


def _latent_and_gradient(
    encoder: Callable[[Tensor], Tensor], x: Tensor, latent: int, caller: str
) -> tuple[Tensor, Tensor]:
    """z (n,) and grad_x z (n, d) for one chunk; samples are independent, so the gradient of
    sum_i z_i is the stack of the per-sample gradients."""
    xg = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = encoder(xg)
        if not isinstance(out, Tensor):
            raise TypeError(f"{caller}: encoder must return a Tensor; got {type(out).__name__}.")
        if out.dim() == 1:
            out = out[:, None]
        if out.dim() != 2 or out.shape[0] != x.shape[0]:
            raise ValueError(
                f"{caller}: encoder must map inputs (n, d) to (n,) or (n, latent_dim); got shape "
                f"{_shape(out)} for inputs {_shape(x)}."
            )
        if not 0 <= latent < out.shape[1]:
            raise ValueError(
                f"{caller}: latent must index one of the encoder's {out.shape[1]} outputs; got "
                f"{latent}."
            )
        z = out[:, latent]
        if not z.requires_grad:
            raise ValueError(
                f"{caller}: the encoder's output does not depend differentiably on its inputs "
                "(no autograd graph); gradient alignment needs a torch-differentiable encoder."
            )
        (grad,) = torch.autograd.grad(z.sum(), xg, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(x)
    return z.detach(), grad.detach()


def _candidate_chunk(
    fn: Callable[[Tensor], Any], x: Tensor, name: str, want_grad: bool, caller: str
) -> tuple[np.ndarray, Tensor | None]:
    xg = x.detach().clone().requires_grad_(want_grad)
    with torch.enable_grad():
        value = fn(xg)
    n = x.shape[0]
    if isinstance(value, Tensor):
        if tuple(value.shape) != (n,):
            raise ValueError(
                f"{caller}: candidate {name!r} must return one value per input, shape ({n},); "
                f"got shape {_shape(value)}."
            )
        grad = None
        if want_grad and value.requires_grad:
            (grad,) = torch.autograd.grad(value.sum(), xg, allow_unused=True)
            grad = torch.zeros_like(x) if grad is None else grad.detach()
        return value.detach().cpu().double().numpy(), grad
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(
            f"{caller}: candidate {name!r} must return one value per input, shape ({n},); got "
            f"shape {arr.shape}."
        )
    return arr, None


def _fit_monomials(
    inputs: np.ndarray, latent: np.ndarray, monomials: list[tuple[str, tuple[int, ...]]]
) -> tuple[np.ndarray, float, float]:
    """Least squares ``z ~ c0 + sum_k c_k m_k(x)``; returns (c_k, c0, R^2)."""
    exps = np.array([e for _, e in monomials], dtype=np.int64)  # (n_terms, d)
    design = np.prod(inputs[:, None, :] ** exps[None, :, :], axis=-1)  # (n, n_terms)
    design = np.concatenate([np.ones((inputs.shape[0], 1)), design], axis=1)
    # Scaling each column to unit norm changes nothing in exact arithmetic and keeps the
    # problem well conditioned when the monomials' magnitudes differ (high degrees, boosts).
    norms = np.linalg.norm(design, axis=0)
    norms[norms == 0] = 1.0
    sol, *_ = np.linalg.lstsq(design / norms, latent, rcond=None)
    coef = sol / norms
    residual = latent - design @ coef
    ss_tot = float(((latent - latent.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / ss_tot if ss_tot > 0 else math.nan
    return coef[1:], float(coef[0]), r2


def discover_invariant(
    encoder: nn.Module | Callable[[Tensor], Tensor] | SiameseNetwork,
    inputs: Tensor | np.ndarray,
    candidates: Mapping[str, Callable[[Tensor], Any] | np.ndarray | Tensor] | None = None,
    *,
    degree: int = 2,
    variable_names: Sequence[str] | None = None,
    gradients: Mapping[str, Callable[[Tensor], Any]] | None = None,
    latent: int = 0,
    confidence: float = 0.95,
    max_batch_size: int | None = None,
) -> InvariantReport:
    """Read an invariant out of a latent: rank correlations, a monomial fit, gradient alignment.

    The protocol of REPRODUCTIONS.md (wetzel2020_siamese_invariants):

    1. Spearman's rho of the latent ``z(x)`` with each candidate ``I(x)`` (rank based, so blind to
       the monotone map ``z = g(I)`` that the siamese objectives leave free).
    2. Ordinary least squares of ``z`` on an intercept and all monomials of the **raw** inputs
       of degree 1 to ``degree`` (``comb(d + degree, degree)`` columns in all). The coefficients
       are reported divided by ``scale = max_k |c_k|`` over the monomials (the intercept
       excluded), so the dominant one is exactly +-1 and the latent's overall sign is kept; the
       terms are sorted by ``|c_k|`` and named with ``variable_names``. ``R^2`` is
       ``1 - SS_res / SS_tot``. A linear read-out of ``z`` is meaningful where ``g`` is close to
       linear over the data; a low ``R^2`` with a high rho signals a curved ``g``.
    3. For each candidate with a gradient, ``mean_i |cos(grad_x z, grad_x I)|`` at the inputs
       (the absolute value because ``g`` may be decreasing; a sample where either gradient is
       zero counts as 0). The gradient of ``z`` is taken by autograd through the encoder, which
       must therefore include any input standardisation (as :class:`SiameseEncoder` does). The
       gradient of ``I`` comes from ``gradients[name]`` when given, else from autograd of a
       callable candidate that returns a tensor with a graph (e.g.
       ``physxai.physics.relativity.interval``); array candidates without one get no alignment.

    Parameters
    ----------
    encoder : nn.Module, callable or SiameseNetwork
        ``(n, d) -> (n,)`` or ``(n, latent_dim)``; a fitted :class:`SiameseNetwork` means its
        ``encoder_``. Must act on each sample independently (eval mode for dropout or batch
        norm) and be differentiable.
    inputs : Tensor or numpy.ndarray
        ``(n, d)`` raw inputs, finite, in the encoder's dtype and on its device.
    candidates : mapping of str to callable or array, optional
        Known invariants by name: a callable ``inputs (n, d) -> (n,)`` (tensor or array), or the
        ``(n,)`` values directly.
    degree : int, default 2
        Highest degree of the monomials, >= 1.
    variable_names : sequence of str, optional
        Names of the d inputs for the terms (``RELATIVITY_VARIABLES``, ``ORBIT_VARIABLES``);
        default ``x0, ..., x{d-1}``.
    gradients : mapping of str to callable, optional
        Analytic gradients ``inputs (n, d) -> (n, d)`` of some candidates (keys must be
        candidate names); they take precedence over autograd.
    latent : int, default 0
        Which output unit of the encoder to analyse.
    confidence : float, default 0.95
        Level of the Spearman confidence intervals.
    max_batch_size : int, optional
        Evaluate the encoder, the candidates and the gradients on at most this many inputs at a
        time; the results do not depend on it.

    Returns
    -------
    InvariantReport
        ``correlations``, ``terms``/``coefficients``/``r_squared``, ``alignment``; ``str()`` of it
        is a readable report and ``to_dict()`` gives flat metrics.

    Raises
    ------
    ValueError
        For inputs of the wrong shape, dtype or device or with NaN/inf; ``degree < 1``; fewer
        inputs than fitted coefficients; ``variable_names`` of the wrong length; a candidate or
        gradient of the wrong shape or non-finite; a gradient key that is not a candidate; an
        encoder output of the wrong shape or a ``latent`` index out of range.
    TypeError
        For an encoder that is not callable, candidates that are neither callables nor arrays,
        or gradients that are not callables.
    NotFittedError
        For an unfitted :class:`SiameseNetwork`.

    References
    ----------
    S. J. Wetzel et al., Phys. Rev. Research 2, 033499 (2020), arXiv:2003.04299.

    Examples
    --------
    >>> from physxai.physics import relativity
    >>> x = torch.rand(200, 4, dtype=torch.float64)
    >>> report = discover_invariant(lambda e: torch.tanh(relativity.interval(e)), x,
    ...                             {"interval": relativity.interval},
    ...                             variable_names=RELATIVITY_VARIABLES)
    >>> round(report.correlations["interval"].value, 6), round(report.alignment["interval"], 6)
    (1.0, 1.0)
    """
    caller = "discover_invariant"
    fn = _encoder_callable(encoder, caller)
    x = _check_matrix(inputs, caller, "inputs")
    n, d = x.shape
    check_positive_int(degree, caller, "degree")
    names = (
        tuple(f"x{i}" for i in range(d))
        if variable_names is None
        else _check_names(variable_names, d, caller)
    )
    if isinstance(latent, bool) or not isinstance(latent, int):
        raise TypeError(f"{caller}: latent must be an int; got {type(latent).__name__}.")
    max_batch_size = _check_max_batch_size(max_batch_size, caller)
    ok = isinstance(confidence, (int, float)) and not isinstance(confidence, bool)
    if not ok or not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"{caller}: confidence must be a float in (0, 1); got {confidence!r}.")
    candidates = {} if candidates is None else candidates
    if not isinstance(candidates, Mapping):
        raise TypeError(
            f"{caller}: candidates must be a mapping of name -> callable or (n,) array; got "
            f"{type(candidates).__name__}."
        )
    gradients = {} if gradients is None else gradients
    if not isinstance(gradients, Mapping):
        raise TypeError(
            f"{caller}: gradients must be a mapping of candidate name -> callable; got "
            f"{type(gradients).__name__}."
        )
    unknown = [k for k in gradients if k not in candidates]
    if unknown:
        raise ValueError(
            f"{caller}: gradients given for {unknown!r}, which are not candidates "
            f"({list(candidates)!r})."
        )
    for k, g in gradients.items():
        if not callable(g):
            raise TypeError(
                f"{caller}: gradients[{k!r}] must be a callable inputs (n, d) -> (n, d); got "
                f"{type(g).__name__}."
            )
    monomials = monomial_names(names, degree)
    # the fit needs one input per coefficient; the Spearman interval needs n > 3
    if n < max(len(monomials) + 1, 4):
        raise ValueError(
            f"{caller}: the degree-{degree} fit in {d} variables has {len(monomials) + 1} "
            f"coefficients (with the intercept), so it needs at least "
            f"{max(len(monomials) + 1, 4)} inputs; got {n}. Pass more inputs or lower degree."
        )
    if isinstance(fn, nn.Module):
        check_same_device(fn, x, caller)
        params = list(fn.parameters())
        if params and params[0].dtype != x.dtype:
            raise ValueError(
                f"{caller}: inputs must have the encoder's dtype {params[0].dtype}; got "
                f"{x.dtype}. Try inputs.to({params[0].dtype})."
            )
        if fn.training:
            warnings.warn(
                f"{caller}: the encoder is in training mode, so dropout and batch statistics "
                "change the latent; call encoder.eval() first (physxai does not toggle it).",
                UserWarning,
                stacklevel=2,
            )

    chunks = _chunks(n, max_batch_size)
    z_parts, gz_parts = [], []
    for s in chunks:
        z, gz = _latent_and_gradient(fn, x[s], latent, caller)
        z_parts.append(z)
        gz_parts.append(gz)
    z_t, grad_z = torch.cat(z_parts), torch.cat(gz_parts)
    z_np = z_t.cpu().double().numpy()
    if not np.isfinite(z_np).all():
        raise ValueError(f"{caller}: the encoder returned NaN or infinite latents on inputs.")

    values: dict[str, np.ndarray] = {}
    grads: dict[str, Tensor] = {}
    for name, cand in candidates.items():
        if not isinstance(name, str):
            raise TypeError(f"{caller}: candidate names must be str; got {type(name).__name__}.")
        if callable(cand):
            want_grad = name not in gradients
            parts = [_candidate_chunk(cand, x[s], name, want_grad, caller) for s in chunks]
            values[name] = np.concatenate([p[0] for p in parts])
            if want_grad and all(p[1] is not None for p in parts):
                grads[name] = torch.cat([p[1] for p in parts])  # type: ignore[misc]
        elif isinstance(cand, (Tensor, np.ndarray, list, tuple)):
            arr = (
                cand.detach().cpu().double().numpy()
                if isinstance(cand, Tensor)
                else np.asarray(cand, dtype=np.float64)
            )
            if arr.shape != (n,):
                raise ValueError(
                    f"{caller}: candidate {name!r} must hold one value per input, shape ({n},); "
                    f"got shape {arr.shape}."
                )
            values[name] = arr
        else:
            raise TypeError(
                f"{caller}: candidate {name!r} must be a callable or an (n,) array; got "
                f"{type(cand).__name__}."
            )
        if not np.isfinite(values[name]).all():
            raise ValueError(f"{caller}: candidate {name!r} has NaN or infinite values on inputs.")
        if np.ptp(values[name]) == 0:
            raise ValueError(
                f"{caller}: candidate {name!r} is constant on inputs, so no correlation with it "
                "is defined; pass inputs on which it varies."
            )
        if name in gradients:
            g_parts = []
            for s in chunks:
                g = gradients[name](x[s].detach())
                g = g.detach() if isinstance(g, Tensor) else torch.as_tensor(np.asarray(g))
                if tuple(g.shape) != (s.stop - s.start, d):
                    raise ValueError(
                        f"{caller}: gradients[{name!r}] must return shape (n, {d}) like inputs; "
                        f"got shape {_shape(g)} for inputs {_shape(x[s])}."
                    )
                g_parts.append(g.to(device=grad_z.device, dtype=grad_z.dtype))
            grads[name] = torch.cat(g_parts)
            if not bool(torch.isfinite(grads[name]).all()):
                raise ValueError(f"{caller}: gradients[{name!r}] has NaN or infinite entries.")

    constant = bool(np.ptp(z_np) == 0)
    if constant:
        warnings.warn(
            f"{caller}: the latent is constant on these inputs, so correlations and R^2 are "
            "undefined (NaN); the encoder has learned nothing here.",
            RuntimeWarning,
            stacklevel=2,
        )
    nan = math.nan
    correlations = {
        name: Correlation(nan, nan, nan, nan, "spearman", n, float(confidence))
        if constant
        else spearman(z_np, v, confidence=confidence)
        for name, v in values.items()
    }

    coef, intercept, r2 = _fit_monomials(x.detach().cpu().double().numpy(), z_np, monomials)
    scale = float(np.abs(coef).max())
    norm = scale if scale > 0 else 1.0
    order = np.argsort(-np.abs(coef), kind="stable")
    terms = tuple(monomials[i][0] for i in order)

    alignment: dict[str, float] = {}
    cosines: dict[str, np.ndarray] = {}
    for name, g in grads.items():
        g = g.to(device=grad_z.device, dtype=grad_z.dtype)
        dot = (grad_z * g).sum(-1)
        den = torch.linalg.vector_norm(grad_z, dim=-1) * torch.linalg.vector_norm(g, dim=-1)
        # a vanishing gradient (a dead ReLU region, a critical point of I) aligns with nothing
        cos = torch.where(
            den > 0, dot / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den)
        )
        cosines[name] = cos.cpu().double().numpy()
        alignment[name] = float(np.abs(cosines[name]).mean())

    return InvariantReport(
        variable_names=names,
        degree=degree,
        n_samples=n,
        latent=z_np,
        correlations=correlations,
        terms=terms,
        coefficients=coef[order] / norm,
        intercept=intercept / norm,
        scale=scale,
        r_squared=r2,
        alignment=alignment,
        cosines=cosines,
    )
