"""Prototypes and criticisms by MMD-critic (Kim, Khanna, Koyejo 2016).

Prototypes summarise a data set by a few of its own points; criticisms are the points the
prototypes explain worst. MMD-critic works in any feature space -- raw inputs, or the activations
of a layer (:func:`~physxai.features.capture_activations`) -- with a kernel ``k`` (here the RBF
``k(x, y) = exp(-gamma |x - y|^2)``):

- **prototypes** ``S`` are chosen greedily to minimise the squared maximum mean discrepancy
  between the data and ``S``, i.e. to maximise (Kim et al. 2016, Eq. 4)
  ``J(S) = 2/(n|S|) sum_{i, j in S} k(x_i, x_j) - 1/|S|^2 sum_{i, j in S} k(x_i, x_j)``;
- the **witness function** ``w(x) = 1/n sum_i k(x, x_i) - 1/m sum_j k(x, p_j)`` is positive where
  the data are denser than the prototypes and negative where the prototypes over-represent them;
- **criticisms** ``C`` are non-prototype points chosen greedily to maximise
  ``sum_{c in C} |w(c)| + log det K_CC`` (Eq. 7); the log-determinant keeps them diverse and can be
  switched off.

References
----------
B. Kim, R. Khanna, O. Koyejo, "Examples are not enough, learn to criticize! Criticism for
interpretability", NeurIPS 29 (2016).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_inputs, check_positive_float, check_positive_int
from ..errors import NotFittedError

__all__ = ["MMDCritic", "rbf_kernel"]

REGULARIZERS = ("logdet", None)
WITNESS_SIGNS = ("abs", "positive")


def rbf_kernel(X: Tensor, Y: Tensor, gamma: float) -> Tensor:
    """``exp(-gamma |x_i - y_j|^2)``, shape ``(len(X), len(Y))``, for flattened rows."""
    X, Y = X.reshape(X.shape[0], -1), Y.reshape(Y.shape[0], -1)
    sq = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2 * X @ Y.T
    return torch.exp(-gamma * sq.clamp_min(0))


class MMDCritic:
    """Greedy MMD prototypes and witness-function criticisms.

    Parameters
    ----------
    n_prototypes : int, default 10
    n_criticisms : int, default 5
        0 selects none.
    gamma : float or None, default None
        RBF width; None uses the median heuristic ``1 / median |x_i - x_j|^2``.
    regularizer : {"logdet", None}, default "logdet"
        Diversity term of the criticisms (Kim et al. 2016, Eq. 7).
    witness_sign : {"abs", "positive"}, default "abs"
        ``"abs"`` scores a candidate by ``|w|`` as Kim et al. do; with few prototypes in a
        low-dimensional space the largest ``|w|`` then sits right next to a prototype (a single
        point over-represents its neighbourhood, ``w < 0``). ``"positive"`` scores by ``w``
        itself: the data the prototypes leave unexplained (a sparse region, an uncovered mode).

    Attributes
    ----------
    prototype_indices_ : LongTensor (n_prototypes,)
        In the order they were chosen.
    criticism_indices_ : LongTensor (n_criticisms,)
    witness_ : Tensor (n,)
        The witness function at every point (after all prototypes).
    mmd2_ : Tensor (n_prototypes,)
        Squared MMD between the data and the first 1, 2, ... prototypes (decreasing).
    gamma_ : float

    Examples
    --------
    >>> import torch
    >>> X = torch.cat([torch.zeros(5, 2), torch.ones(2, 2)]) + 0.01 * torch.randn(7, 2)
    >>> MMDCritic(n_prototypes=1, n_criticisms=0).fit(X).prototype_indices_.item() < 5
    True
    """

    def __init__(
        self,
        n_prototypes: int = 10,
        n_criticisms: int = 5,
        *,
        gamma: float | None = None,
        regularizer: str | None = "logdet",
        witness_sign: str = "abs",
    ):
        caller = "MMDCritic"
        check_positive_int(n_prototypes, caller, "n_prototypes")
        check_positive_int(n_criticisms, caller, "n_criticisms", minimum=0)
        if gamma is not None:
            check_positive_float(gamma, caller, "gamma")
        check_choice(regularizer, REGULARIZERS, caller, "regularizer")
        check_choice(witness_sign, WITNESS_SIGNS, caller, "witness_sign")
        self.n_prototypes = n_prototypes
        self.n_criticisms = n_criticisms
        self.gamma = gamma
        self.regularizer = regularizer
        self.witness_sign = witness_sign

    def __repr__(self) -> str:
        return (
            f"MMDCritic(n_prototypes={self.n_prototypes}, n_criticisms={self.n_criticisms}, "
            f"gamma={self.gamma}, regularizer={self.regularizer!r}, "
            f"witness_sign={self.witness_sign!r})"
        )

    def fit(self, X: Tensor | np.ndarray) -> MMDCritic:
        """Select prototypes and criticisms among the rows of ``X`` ``(n, *F)``; returns self.

        Raises
        ------
        ValueError
            ``n_prototypes + n_criticisms > n``, bad ``X``, all points identical with
            ``gamma=None``.
        """
        caller = "MMDCritic.fit"
        if isinstance(X, np.ndarray):
            X = torch.as_tensor(X)
        X = check_inputs(X, caller, "X")
        n = X.shape[0]
        if self.n_prototypes + self.n_criticisms > n:
            raise ValueError(
                f"{caller}: n_prototypes + n_criticisms must be at most the number of points "
                f"({n}); got {self.n_prototypes} + {self.n_criticisms}."
            )
        flat = X.detach().reshape(n, -1).double()
        gamma = self.gamma
        if gamma is None:
            sq = torch.cdist(flat, flat).pow(2)
            off = sq[~torch.eye(n, dtype=torch.bool, device=sq.device)]
            median = float(off.median()) if off.numel() else 0.0
            if median <= 0:
                raise ValueError(
                    f"{caller}: the median squared distance of X is 0 (most points coincide), so "
                    "the median heuristic has no scale; pass gamma explicitly."
                )
            gamma = 1.0 / median
        K = rbf_kernel(flat, flat, gamma)
        col_mean = K.mean(dim=0)  # 1/n sum_i k(x_i, c)

        chosen: list[int] = []
        in_s = torch.zeros(n, dtype=torch.bool, device=K.device)
        cross = torch.zeros(n, dtype=K.dtype, device=K.device)  # sum_{j in S} k(c, x_j)
        sum_data, sum_ss = 0.0, 0.0  # sum_{j in S} col_mean[j] ; sum_{i,j in S} K_ij
        mmd2 = []
        mean_kk = float(K.mean())
        for _ in range(self.n_prototypes):
            s = len(chosen) + 1
            # J(S + c), Kim et al. 2016 Eq. 4, for every candidate c at once
            gain = 2.0 / s * (sum_data + col_mean) - (sum_ss + 2 * cross + K.diagonal()) / s**2
            gain = gain.masked_fill(in_s, -torch.inf)
            c = int(gain.argmax())
            chosen.append(c)
            in_s[c] = True
            sum_ss += float(2 * cross[c] + K[c, c])
            sum_data += float(col_mean[c])
            cross += K[:, c]
            mmd2.append(mean_kk - float(gain[c]))
        proto = torch.tensor(chosen, dtype=torch.long)
        witness = col_mean - K[:, proto.to(K.device)].mean(dim=1)

        critics: list[int] = []
        blocked = in_s.clone()
        # "abs": Kim et al.'s |w| (points over- or under-represented by the prototypes);
        # "positive": only where the data are denser than the prototypes (unexplained data)
        score = witness.abs() if self.witness_sign == "abs" else witness
        for _ in range(self.n_criticisms):
            total = score.clone()
            if self.regularizer == "logdet" and critics:
                # log det K_{C+c} - log det K_C = log(k(c,c) - k_cC K_CC^{-1} k_Cc) (Schur)
                idx = torch.tensor(critics, device=K.device)
                kc = K[:, idx]
                inv = torch.linalg.inv(K[idx][:, idx])
                schur = K.diagonal() - ((kc @ inv) * kc).sum(dim=1)
                total = total + torch.log(schur.clamp_min(1e-12))
            total = total.masked_fill(blocked, -torch.inf)
            c = int(total.argmax())
            critics.append(c)
            blocked[c] = True
        self.gamma_ = float(gamma)
        self.prototype_indices_ = proto
        self.criticism_indices_ = torch.tensor(critics, dtype=torch.long)
        self.witness_ = witness.to(X.dtype)
        self.mmd2_ = torch.tensor(mmd2, dtype=torch.float64)
        self.n_features_in_ = flat.shape[1]
        return self

    def witness(self, X_data: Tensor, points: Tensor) -> Tensor:
        """The witness function at ``points`` ``(p, *F)`` for data ``X_data`` (the fitted set).

        Needs the same data that was fitted (the prototypes are indices into it).
        """
        caller = "MMDCritic.witness"
        if not hasattr(self, "prototype_indices_"):
            raise NotFittedError(f"{caller}: call fit(X) first.")
        X_data = check_inputs(X_data, caller, "X_data")
        points = check_inputs(points, caller, "points")
        d = X_data.reshape(X_data.shape[0], -1).shape[1]
        if d != self.n_features_in_ or points.reshape(points.shape[0], -1).shape[1] != d:
            raise ValueError(
                f"{caller}: X_data and points must have {self.n_features_in_} features per "
                f"sample like the fitted X; got shapes {tuple(X_data.shape)} and "
                f"{tuple(points.shape)}."
            )
        data = X_data.detach().reshape(X_data.shape[0], -1).double()
        pts = points.detach().reshape(points.shape[0], -1).double()
        proto = data[self.prototype_indices_.to(data.device)]
        w = rbf_kernel(pts, data, self.gamma_).mean(1) - rbf_kernel(pts, proto, self.gamma_).mean(1)
        return w.to(points.dtype)
