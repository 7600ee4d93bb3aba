"""LIME: a sparse linear surrogate of the model, fitted on random on/off masks around one input.

Ribeiro, Singh & Guestrin (2016) explain ``f`` at ``x`` by a linear model ``g(z) = w0 + w . z``
over an *interpretable representation*: binary masks ``z`` over the ``d`` feature groups, where
``z_g = 1`` keeps group ``g`` of ``x`` and ``z_g = 0`` replaces it by the reference (a baseline, or
each row of a background set with the outputs averaged, as for the Shapley methods). Algorithm 1
(K-Lasso) of the paper:

1. draw ``N`` masks around ``x'`` (the all-ones mask) and evaluate the model on them;
2. weight each mask by the locality kernel ``pi_x(z) = exp(-D(z)^2 / sigma^2)``;
3. select ``K`` groups along the weighted Lasso path (the last point on it with at most ``K``
   non-zero coefficients), then
4. refit a weighted ridge regression on those ``K`` groups; its coefficients are the explanation.

Choices made here, following the ``lime`` package where the paper leaves them open:

* sampling: the first mask is ``x'`` itself; each other mask switches off a number of groups drawn
  uniformly from ``1..d``, chosen uniformly at random (``lime``'s text explainer); all samples of
  the batch share the masks, and a mask drawn twice is evaluated once;
* distance: the cosine distance between ``z`` and the all-ones mask,
  ``D(z) = 1 - sqrt(|z| / d)``, in ``[0, 1]`` (``lime``'s image and text explainers);
* kernel: the paper's ``exp(-D^2 / sigma^2)`` with ``sigma = kernel_width = 0.25`` by default
  (``lime`` uses the square root of this kernel, i.e. ``sigma = 0.25 * sqrt(2)``);
* refit: weighted ridge with an intercept and penalty ``alpha`` (``lime``'s ``Ridge(alpha=1)``);
* ``n_features=None`` keeps every group (no selection): a dense local linear explanation.

The result has the shape of ``inputs``; as for the Shapley methods a group's coefficient is divided
equally among its elements, so the sum over a group's elements is its coefficient. LIME is not
efficient: the coefficients need not sum to ``f(x) - f(reference)``.

References
----------
M. T. Ribeiro, S. Singh, C. Guestrin, "Why should I trust you? Explaining the predictions of any
classifier", KDD 2016, arXiv:1602.04938.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_choice, check_generator, check_positive_float, check_positive_int
from ._base import DEFAULT_MAX_BATCH_SIZE
from ._coalitions import CoalitionAttribution, coalition_values, lstsq

__all__ = ["Lime"]

_SELECTIONS = ("lasso_path", "highest_weights")


class Lime(CoalitionAttribution):
    """LIME with K-Lasso (Ribeiro et al. 2016, Algorithm 1) on binary masks over feature groups.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(m, *F)`` to ``(m,)``, ``(m, 1)`` or ``(m, n_outputs)``.
    n_samples : int, default 1000
        Masks ``N`` (the first is the unperturbed input); ``n * m * N`` model rows at most.
    kernel_width : float, default 0.25
        ``sigma`` of the kernel ``exp(-D^2 / sigma^2)`` on the cosine distance ``D`` in [0, 1].
    n_features : int or None, default None
        ``K``, the number of groups kept; None keeps all (no selection step).
    feature_selection : {"lasso_path", "highest_weights"}, default "lasso_path"
        How the ``K`` groups are chosen when ``n_features`` is smaller than the number of groups:
        along the weighted Lasso path (K-Lasso), or by the largest ``|coefficient|`` of the ridge
        fit on all groups.
    alpha : float, default 1.0
        Ridge penalty of the final weighted fit (``>= 0``).

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(4, 1).double().eval()
    >>> x = torch.randn(2, 4, dtype=torch.float64)
    >>> R = Lime(model, alpha=0.0).attribute(x, baseline=0.0, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(R, model.weight.detach() * x)  # a linear model is its own surrogate
    True

    References
    ----------
    M. T. Ribeiro, S. Singh, C. Guestrin, KDD 2016, arXiv:1602.04938.
    """

    name = "lime"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        n_samples: int = 1000,
        kernel_width: float = 0.25,
        n_features: int | None = None,
        feature_selection: str = "lasso_path",
        alpha: float = 1.0,
    ):
        super().__init__(model)
        self.n_samples = check_positive_int(n_samples, "Lime", "n_samples", minimum=2)
        self.kernel_width = check_positive_float(kernel_width, "Lime", "kernel_width")
        if n_features is not None:
            check_positive_int(n_features, "Lime", "n_features")
        self.n_features = n_features
        self.feature_selection = check_choice(
            feature_selection, _SELECTIONS, "Lime", "feature_selection"
        )
        self.alpha = check_positive_float(alpha, "Lime", "alpha", allow_zero=True)

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        background: Tensor | None = None,
        baseline: float | Tensor | None = None,
        feature_mask: Tensor | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The LIME coefficients of each feature group, spread over the group's elements.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            The explained batch (floating point); one surrogate per sample.
        target : None, int, LongTensor of shape ``(n,)``, or callable output -> (n,)
            The explained output.
        background : Tensor of shape ``(m, *F)``, optional
            Reference samples; a switched-off group takes each background row's values in turn
            and the outputs are averaged.
        baseline : float or Tensor of shape ``(1, *F)`` or ``(n, *F)``, optional
            A single reference. Exactly one of ``background`` and ``baseline`` is required.
        feature_mask : integer Tensor broadcastable to ``F``, optional
            Group id of each element of one sample (superpixels, lattice patches, columns);
            None makes every element its own group.
        max_batch_size : int
            At most this many model rows per call.
        generator : torch.Generator or None
            Source of the masks (drawn once per call, shared by the batch).

        Returns
        -------
        Tensor
            Shaped like ``inputs``: each element holds its group's coefficient divided by the
            group's size.

        Raises
        ------
        ValueError
            For a missing or doubled reference, a malformed feature_mask, background or baseline.
        """
        x, tgt, groups, ref, step = self._setup(
            inputs, target, feature_mask, background, baseline, max_batch_size
        )
        gen = check_generator(generator, x, self._caller)
        d, dev = groups.n_groups, x.device
        masks = self._sample_masks(d, gen, dev)
        unique, inverse = torch.unique(masks, dim=0, return_inverse=True)
        values = coalition_values(self.model, x, ref, groups, unique, unique.shape[0], tgt, step)
        labels = values[:, inverse].to(torch.float64)  # (n, N)
        z = masks.to(torch.float64)
        # cosine distance to the all-ones mask, D = 1 - |z| / sqrt(|z| d); Ribeiro et al. Sec. 3.3
        distance = 1.0 - (z.sum(1) / d).sqrt()
        weight = torch.exp(-distance.square() / self.kernel_width**2)
        coef = self._fit(z, labels, weight)
        return groups.spread(coef.to(x.dtype))

    # -- steps of Algorithm 1 ---------------------------------------------------------------------
    def _sample_masks(self, d: int, gen: torch.Generator | None, dev: torch.device) -> Tensor:
        """``(N, d)`` bool: the all-ones mask, then masks with ``U{1..d}`` groups switched off."""
        n_rand = self.n_samples - 1
        n_off = torch.randint(1, d + 1, (n_rand,), generator=gen, device=dev)
        keys = torch.rand(n_rand, d, generator=gen, device=dev, dtype=torch.float64)
        rank = keys.argsort(dim=1).argsort(dim=1)
        masks = rank >= n_off[:, None]  # the n_off lowest-ranked groups are switched off
        return torch.cat([torch.ones(1, d, dtype=torch.bool, device=dev), masks])

    def _fit(self, z: Tensor, labels: Tensor, weight: Tensor) -> Tensor:
        """Coefficients ``(n, d)``: selection (K-Lasso) then the weighted ridge refit."""
        n, d = labels.shape[0], z.shape[1]
        k = self.n_features
        if k is None or k >= d:
            return _weighted_ridge(z, labels, weight, self.alpha)
        coef = torch.zeros(n, d, dtype=torch.float64, device=z.device)
        if self.feature_selection == "highest_weights":
            full = _weighted_ridge(z, labels, weight, self.alpha)
            chosen = full.abs().topk(k, dim=1).indices
            selected = [chosen[i].sort().values for i in range(n)]
        else:
            selected = [
                torch.as_tensor(_lasso_path_selection(z, labels[i], weight, k), device=z.device)
                for i in range(n)
            ]
        for i, cols in enumerate(selected):
            if cols.numel():  # refit on the selected groups only
                refit = _weighted_ridge(z[:, cols], labels[i : i + 1], weight, self.alpha)
                coef[i, cols] = refit[0]
        return coef


def _weighted_ridge(z: Tensor, labels: Tensor, weight: Tensor, alpha: float) -> Tensor:
    """Weighted ridge with intercept for several responses: ``(n, d)`` coefficients.

    Minimises ``sum_s w_s (y_s - b - z_s . beta)^2 + alpha |beta|^2`` (scikit-learn's ``Ridge``
    with ``sample_weight``): centre by the weighted means, then solve the normal equations.
    """
    w = weight / weight.sum()
    z_mean = w @ z
    zc = z - z_mean
    y_mean = labels @ w
    yc = labels - y_mean[:, None]
    gram = zc.T @ (w[:, None] * zc)
    # the penalty acts on the unnormalised weights: scale it by 1 / sum(weight)
    gram = gram + (alpha / float(weight.sum())) * torch.eye(
        z.shape[1], dtype=z.dtype, device=z.device
    )
    rhs = zc.T @ (w[:, None] * yc.T)  # (d, n)
    return lstsq(gram, rhs).T


def _lasso_path_selection(z: Tensor, label: Tensor, weight: Tensor, k: int) -> np.ndarray:
    """The groups active at the last point of the weighted Lasso path with at most ``k`` of them."""
    from sklearn.linear_model import lars_path  # scikit-learn is a core dependency

    w = weight.cpu().numpy()
    data = z.cpu().numpy()
    y = label.cpu().numpy()
    root = np.sqrt(w)[:, None]
    weighted_data = (data - np.average(data, axis=0, weights=w)) * root
    weighted_labels = (y - np.average(y, weights=w)) * root[:, 0]
    _, _, coefs = lars_path(weighted_data, weighted_labels, method="lasso")
    for column in range(coefs.shape[1] - 1, -1, -1):
        active = np.flatnonzero(coefs[:, column])
        if len(active) <= k:
            return active
    return np.zeros(0, dtype=np.int64)
