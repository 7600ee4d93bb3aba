"""Shapley values: exact enumeration, permutation sampling, Kernel SHAP, and two gradient forms.

The Shapley value of player ``i`` of a cooperative game ``v`` on ``d`` players is its average
marginal contribution (Shapley 1953; Lundberg & Lee 2017, Eq. 4)::

    phi_i = sum_{S subset of D \\ {i}} |S|! (d - |S| - 1)! / d! * [v(S + i) - v(S)]

Here the players are the features of one sample, or groups of them (``feature_mask``: a column,
a spin, a lattice patch), and ``v`` is the *interventional* value of a coalition against a
reference: with a background set of ``m`` samples ``v_x(S) = E_b f(x_S, b_notS)``, with a single
baseline ``v_x(S) = f(x_S, baseline_notS)`` (see :mod:`._coalitions`). The values are efficient,
``sum_i phi_i = f(x) - E_b f(b)``, symmetric, zero for a dummy feature and linear in ``f``.

* :class:`ExactShapley` evaluates all ``2^d`` coalitions (d <= 20).
* :class:`ShapleySampling` averages marginal contributions over random (and reversed)
  permutations (Castro et al. 2009; antithetic pairs, Mitchell et al. 2022).
* :class:`KernelShap` fits the Shapley-kernel weighted linear regression of Lundberg & Lee (2017,
  Theorem 2) with efficiency as an exact constraint, on paired coalition samples.
* :class:`GradientShap`: expected gradients (Erion et al. 2021), the path-integral form of SHAP
  averaged over the background.
* :class:`DeepShap`: DeepLIFT's rescale rule averaged over the background rows as baselines
  (Lundberg & Lee 2017, Sec. 4.2).

Conventions shared by the family. ``background`` (``(m, *F)``) and ``baseline`` (a float or
``(1, *F)`` / ``(n, *F)``) are alternatives and one of them is required: Shapley values explain
``f(x)`` *against* a reference and there is no neutral default. A group's value is divided
equally among its elements in the returned tensor (shaped like ``inputs``), so summing the tensor
over a sample sums the groups' values and efficiency holds for the tensor:
``completeness_delta(model, x, R, baseline=b) == 0`` for a single baseline ``b``. The sampling
methods draw their coalitions from ``generator`` once per call and share them across the batch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_generator, check_positive_int
from ._base import DEFAULT_MAX_BATCH_SIZE, Attribution, chunks, evaluate, no_param_grad
from ._coalitions import (
    CoalitionAttribution,
    all_coalitions,
    check_feature_mask,
    check_reference,
    coalition_values,
    lstsq,
)
from .deeplift import DeepLift

__all__ = ["DeepShap", "ExactShapley", "GradientShap", "KernelShap", "ShapleySampling"]


def _shapley_weights(d: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``|S|! (d - |S| - 1)! / d! = 1 / (d * C(d-1, |S|))`` for ``|S| = 0 .. d-1``."""
    return torch.tensor(
        [1.0 / (d * math.comb(d - 1, s)) for s in range(d)], dtype=dtype, device=device
    )


def shapley_from_values(values: Tensor, n_groups: int) -> Tensor:
    """Shapley values ``(n, d)`` from the values ``(n, 2^d)`` of all coalitions (bitmask order).

    For each player ``i`` the coalitions without ``i`` are the indices with bit ``i`` clear; their
    partners with ``i`` are the same indices with the bit set (Shapley 1953; Lundberg & Lee 2017,
    Eq. 4), weighted by the size of the coalition without ``i``.
    """
    d = n_groups
    n, k = values.shape
    dev = values.device
    idx = torch.arange(k, device=dev)
    size = torch.zeros(k, dtype=torch.long, device=dev)
    for i in range(d):
        size += (idx >> i) & 1
    weight = _shapley_weights(d, values.dtype, dev)
    phi = torch.empty(n, d, dtype=values.dtype, device=dev)
    for i in range(d):
        without = idx[((idx >> i) & 1) == 0]
        marginal = values[:, without | (1 << i)] - values[:, without]
        phi[:, i] = marginal @ weight[size[without]]
    return phi


class ExactShapley(CoalitionAttribution):
    """Exact Shapley values by enumerating all ``2^d`` coalitions of the ``d`` feature groups.

    Every coalition is evaluated against every reference row in batched model calls
    (``2^d * m * n`` rows in chunks of ``max_batch_size``), then the Shapley sum is formed for
    each feature from the table of values. Limited to ``d <= 20`` groups: group features with
    ``feature_mask`` or use :class:`KernelShap` / :class:`ShapleySampling` beyond that.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(m, *F)`` to ``(m,)``, ``(m, 1)`` or ``(m, n_outputs)``.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Linear(3, 1).double().eval()
    >>> x, bg = torch.randn(2, 3, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)
    >>> R = ExactShapley(model).attribute(x, background=bg)
    >>> expected = model.weight.detach() * (x - bg.mean(0))  # phi_i = w_i (x_i - E b_i)
    >>> torch.allclose(R, expected)
    True

    References
    ----------
    L. S. Shapley, "A value for n-person games", Contributions to the Theory of Games II (1953).
    S. Lundberg, S.-I. Lee, "A unified approach to interpreting model predictions",
    NeurIPS 2017, arXiv:1705.07874.
    """

    name = "exact_shapley"
    #: the largest number of feature groups enumerated (2^20 coalitions)
    MAX_GROUPS = 20

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        background: Tensor | None = None,
        baseline: float | Tensor | None = None,
        feature_mask: Tensor | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> Tensor:
        """Exact interventional Shapley values, spread over the elements of each group.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            The explained batch (floating point).
        target : None, int, LongTensor of shape ``(n,)``, or callable output -> (n,)
            The explained output.
        background, baseline
            The reference; exactly one is required (see the module docstring).
        feature_mask : integer Tensor broadcastable to ``F``, optional
            Group id of each element of one sample; None makes every element a player.
        max_batch_size : int
            At most this many model rows per call.

        Returns
        -------
        Tensor
            Shaped like ``inputs``: each element holds its group's Shapley value divided by the
            group's size, so a sample's sum is ``f(x) - mean_b f(b)``.

        Raises
        ------
        ValueError
            For more than 20 feature groups (use kernel_shap), a missing or doubled reference, or
            a malformed feature_mask, background or baseline.
        """
        x, tgt, groups, ref, step = self._setup(
            inputs, target, feature_mask, background, baseline, max_batch_size
        )
        d = groups.n_groups
        if d > self.MAX_GROUPS:
            raise ValueError(
                f"{self._caller}: exact Shapley values enumerate 2^d coalitions, so d must be <= "
                f"{self.MAX_GROUPS} feature groups; got d = {d} for inputs of shape "
                f"{tuple(x.shape)}. Group features with feature_mask (columns, lattice patches), "
                "or estimate the values with kernel_shap (or shapley_sampling)."
            )
        values = coalition_values(self.model, x, ref, groups, all_coalitions(d), 1 << d, tgt, step)
        return groups.spread(shapley_from_values(values, d))


class ShapleySampling(CoalitionAttribution):
    """Shapley values estimated from random permutations of the feature groups.

    For an ordering ``pi`` of the ``d`` groups, the marginal contribution of ``pi_t`` is
    ``v({pi_1..pi_t}) - v({pi_1..pi_{t-1}})``; its mean over uniformly random orderings is the
    Shapley value (Castro et al. 2009). With ``antithetic=True`` each drawn ordering is also used
    reversed, which cancels the first-order error of the estimate (a negatively correlated pair).
    Every ordering telescopes to ``v(D) - v({})``, so efficiency holds exactly for any number of
    permutations. All prefixes of all orderings are evaluated together in batched passes; a
    coalition shared by several orderings is evaluated once.

    Parameters
    ----------
    model : nn.Module or callable
    n_permutations : int, default 25
        Random orderings drawn; with ``antithetic=True`` they are averaged with their reverses,
        ``2 * n_permutations`` orderings in all. Model rows: about
        ``n * m * n_orderings * (d - 1)``.
    antithetic : bool, default True
        Pair each ordering with its reverse.

    References
    ----------
    J. Castro, D. Gomez, J. Tejada, "Polynomial calculation of the Shapley value based on
    sampling", Computers & Operations Research 36, 1726 (2009).
    R. Mitchell, J. Cooper, E. Frank, G. Holmes, "Sampling permutations for Shapley value
    estimation", JMLR 23, 1 (2022), arXiv:2104.12199.
    """

    name = "shapley_sampling"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        n_permutations: int = 25,
        antithetic: bool = True,
    ):
        super().__init__(model)
        self.n_permutations = check_positive_int(
            n_permutations, "ShapleySampling", "n_permutations"
        )
        if not isinstance(antithetic, bool):
            raise TypeError(
                f"ShapleySampling: antithetic must be a bool; got {type(antithetic).__name__}."
            )
        self.antithetic = antithetic

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
        """Permutation-sampling estimate of the Shapley values, shaped like ``inputs``.

        Parameters are those of :meth:`ExactShapley.attribute`, plus ``generator``
        (``torch.Generator`` or None) from which the orderings are drawn, once per call and shared
        by the batch. Efficiency holds exactly; the other axioms in expectation.
        """
        x, tgt, groups, ref, step = self._setup(
            inputs, target, feature_mask, background, baseline, max_batch_size
        )
        gen = check_generator(generator, x, self._caller)
        d, n, dev = groups.n_groups, x.shape[0], x.device
        keys = torch.rand(self.n_permutations, d, generator=gen, device=dev, dtype=torch.float64)
        perm = keys.argsort(dim=1)  # (P, d) uniformly random orderings
        if self.antithetic:
            perm = torch.cat([perm, perm.flip(1)])
        n_orders = perm.shape[0]
        rank = perm.argsort(dim=1)  # rank[p, i]: position of group i in ordering p
        # prefix t (t = 0..d) of ordering p holds the groups with rank < t
        steps = torch.arange(d + 1, device=dev)
        prefixes = rank[:, None, :] < steps[None, :, None]  # (P', d + 1, d)
        coalitions, inverse = torch.unique(prefixes.reshape(-1, d), dim=0, return_inverse=True)
        values = coalition_values(
            self.model, x, ref, groups, coalitions, coalitions.shape[0], tgt, step
        )
        v = values[:, inverse].view(n, n_orders, d + 1)
        marginal = v[:, :, 1:] - v[:, :, :-1]  # contribution of perm[p, t]
        phi = torch.zeros(n, d, dtype=x.dtype, device=dev)
        phi.scatter_add_(1, perm.reshape(1, -1).expand(n, -1), marginal.reshape(n, -1))
        return groups.spread(phi / n_orders)


# -- Kernel SHAP ----------------------------------------------------------------------------------


def _size_mass(d: int) -> np.ndarray:
    """Total Shapley-kernel weight of each coalition size ``s = 0..d`` (0 at s = 0, d), summing to 1.

    The kernel ``pi(z) = (d - 1) / (C(d, s) s (d - s))`` (Lundberg & Lee 2017, Theorem 2) summed over
    the ``C(d, s)`` coalitions of size ``s`` is ``(d - 1) / (s (d - s))``.
    """
    mass = np.zeros(d + 1)
    s = np.arange(1, d)
    mass[1:d] = (d - 1) / (s * (d - s))
    return mass / mass.sum()


def _subsets(d: int, size: int, device: torch.device) -> Tensor:
    """All ``C(d, size)`` coalitions of one size, as a bool tensor ``(C, d)``."""
    if size == 0:
        return torch.zeros(1, d, dtype=torch.bool, device=device)
    combos = torch.combinations(torch.arange(d, device=device), r=size)
    if combos.dim() == 1:  # size == 1 with d == 1 returns a flat tensor
        combos = combos[:, None]
    mask = torch.zeros(combos.shape[0], d, dtype=torch.bool, device=device)
    return mask.scatter_(1, combos, True)


def kernel_design(
    d: int,
    n_samples: int,
    paired: bool,
    generator: torch.Generator | None,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Coalitions ``(k, d)`` and regression weights ``(k,)`` (summing to 1) for Kernel SHAP.

    The empty and the full coalition are left out (they enter as constraints). Following
    Lundberg & Lee's implementation, coalition sizes are taken in pairs ``(s, d - s)`` from the
    outside in (their kernel weight per coalition is largest), and a pair is enumerated completely
    while the budget's share of its kernel mass covers all its coalitions; those get their exact
    kernel weight. The rest of the budget is sampled: a size with probability proportional to its
    remaining kernel mass, then a uniform subset of that size (with its complement when
    ``paired``). Repeated draws are merged and counted, so ``n_samples`` distinct coalitions are
    evaluated; the sampled coalitions share the remaining kernel mass in proportion to their
    counts. With ``n_samples >= 2^d - 2`` every coalition is enumerated and the regression gives
    the exact Shapley values.
    """
    if d < 2:  # one player: no coalition besides the empty and the full one
        return torch.zeros(0, d, dtype=torch.bool, device=device), torch.zeros(
            0, dtype=torch.float64, device=device
        )
    mass = _size_mass(d)
    rows: list[Tensor] = []
    weights: list[Tensor] = []
    budget = n_samples
    done = 0  # sizes 1..done and d-done..d-1 are enumerated
    for s in range(1, d // 2 + 1):
        pair = (s,) if 2 * s == d else (s, d - s)
        count = sum(math.comb(d, t) for t in pair)
        pair_mass = float(sum(mass[t] for t in pair))
        remaining = float(mass[s : d - s + 1].sum())
        if count > budget or budget * pair_mass / remaining < count * (1 - 1e-8):
            break
        small = _subsets(d, s, device)
        block = [small] if 2 * s == d else [small, ~small]
        for z in block:
            rows.append(z)
            weights.append(
                torch.full(
                    (z.shape[0],), mass[s] / math.comb(d, s), dtype=torch.float64, device=device
                )
            )
        budget -= count
        done = s
    lo, hi = done + 1, d - 1 - done  # sizes still to sample
    if lo <= hi and budget > 0:
        z, w = _sample_coalitions(d, lo, hi, mass, budget, paired, generator, device)
        if z.shape[0]:
            rows.append(z)
            weights.append(w * (float(mass[lo : hi + 1].sum()) / float(w.sum())))
    if not rows:
        return torch.zeros(0, d, dtype=torch.bool, device=device), torch.zeros(
            0, dtype=torch.float64, device=device
        )
    return torch.cat(rows), torch.cat(weights)


def _sample_coalitions(
    d: int,
    lo: int,
    hi: int,
    mass: np.ndarray,
    budget: int,
    paired: bool,
    generator: torch.Generator | None,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Distinct random coalitions of sizes ``lo..hi`` and their draw counts (see kernel_design)."""
    if paired:
        # one draw gives z (size t <= d/2) and its complement; a middle size (t = d/2) yields two
        # coalitions of that size, so it is drawn half as often to keep sizes in proportion
        sizes = torch.arange(lo, d // 2 + 1)
        prob = torch.tensor([mass[t] / (2.0 if 2 * t == d else 1.0) for t in sizes.tolist()])
        n_target = budget // 2
    else:
        sizes = torch.arange(lo, hi + 1)
        prob = torch.tensor([mass[t] for t in sizes.tolist()])
        n_target = budget
    if n_target == 0:
        return torch.zeros(0, d, dtype=torch.bool, device=device), torch.zeros(
            0, dtype=torch.float64, device=device
        )
    n_draws = (
        4 * n_target
    )  # as many draws as the shap package makes; enough unless the space is small
    pick = torch.multinomial(
        prob.to(device, torch.float64), n_draws, replacement=True, generator=generator
    )
    size = sizes.to(device)[pick]
    keys = torch.rand(n_draws, d, generator=generator, device=device, dtype=torch.float64)
    z = keys.argsort(dim=1).argsort(dim=1) < size[:, None]  # a uniform subset of each size
    if paired and d % 2 == 0:
        # a middle-size z and its complement are the same pair: keep the member holding group 0
        middle = (size == d // 2)[:, None]
        z = torch.where(middle & ~z[:, :1], ~z, z)
    unique, inverse = torch.unique(z, dim=0, return_inverse=True)
    order = torch.arange(n_draws, device=device)
    first = torch.full((unique.shape[0],), n_draws, dtype=torch.long, device=device)
    first.scatter_reduce_(0, inverse, order, reduce="amin")
    by_first = first.argsort()
    # keep the first n_target distinct coalitions; the draws up to the next new one count them
    cut = int(first[by_first[n_target]]) if unique.shape[0] > n_target else n_draws
    chosen = by_first[: min(n_target, unique.shape[0])]
    counts = torch.bincount(inverse[:cut], minlength=unique.shape[0]).to(torch.float64)
    z, w = unique[chosen], counts[chosen]
    if paired:
        z, w = torch.cat([z, ~z]), torch.cat([w, w])
    return z, w


class KernelShap(CoalitionAttribution):
    """Kernel SHAP: Shapley values as a weighted linear regression over coalitions.

    Lundberg & Lee (2017, Theorem 2): the Shapley values solve
    ``min_phi sum_z pi(z) [v(z) - v({}) - z . phi]^2`` subject to ``sum phi = v(D) - v({})``,
    with the Shapley kernel ``pi(z) = (d - 1) / (C(d, |z|) |z| (d - |z|))``. The constraint is
    enforced exactly by eliminating the last group's value, so efficiency holds for every budget;
    the coalitions are drawn as in :func:`kernel_design` (whole size classes enumerated where the
    budget allows, paired samples for the rest). With ``n_samples >= 2^d - 2`` all coalitions are
    enumerated and the result is exact. One regression solves all samples of the batch at once.

    Parameters
    ----------
    model : nn.Module or callable
    n_samples : int, default 2048
        Coalitions evaluated besides the empty and the full one (each against every reference
        row): ``n * m * (n_samples + 2)`` model rows.
    paired : bool, default True
        Sample coalitions with their complements (Covert & Lee 2021), which lowers the variance.

    References
    ----------
    S. Lundberg, S.-I. Lee, NeurIPS 2017, arXiv:1705.07874.
    I. Covert, S.-I. Lee, "Improving KernelSHAP: practical Shapley value estimation via linear
    regression", AISTATS 2021, arXiv:2012.01536.
    """

    name = "kernel_shap"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        n_samples: int = 2048,
        paired: bool = True,
    ):
        super().__init__(model)
        self.n_samples = check_positive_int(n_samples, "KernelShap", "n_samples", minimum=2)
        if not isinstance(paired, bool):
            raise TypeError(f"KernelShap: paired must be a bool; got {type(paired).__name__}.")
        self.paired = paired

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
        """Kernel SHAP estimate of the Shapley values, shaped like ``inputs``.

        Parameters are those of :meth:`ExactShapley.attribute`, plus ``generator`` from which the
        sampled coalitions are drawn (once per call, shared by the batch). Efficiency,
        ``sum R = f(x) - mean_b f(b)``, holds exactly.

        Warns
        -----
        UserWarning
            When the coalitions cannot determine the ``d - 1`` free values (fewer than about
            ``2 d`` paired samples): the least-squares solution is then the minimum-norm one.
        """
        x, tgt, groups, ref, step = self._setup(
            inputs, target, feature_mask, background, baseline, max_batch_size
        )
        gen = check_generator(generator, x, self._caller)
        d, dev = groups.n_groups, x.device
        z, w = kernel_design(d, self.n_samples, self.paired, gen, dev)
        ends = torch.stack(
            [
                torch.zeros(d, dtype=torch.bool, device=dev),
                torch.ones(d, dtype=torch.bool, device=dev),
            ]
        )
        coalitions = torch.cat([ends, z])
        values = coalition_values(
            self.model, x, ref, groups, coalitions, coalitions.shape[0], tgt, step
        )
        v0, v1, vz = values[:, 0], values[:, 1], values[:, 2:]
        delta = v1 - v0
        if d == 1 or z.shape[0] == 0:
            phi = (delta / d)[:, None].expand(-1, d)
            return groups.spread(phi.contiguous())
        # a coalition and its complement give the same design row up to sign
        directions = torch.unique(torch.where(z[:, :1], z, ~z), dim=0).shape[0]
        if directions < d - 1:
            warnings.warn(
                f"{self._caller}: {z.shape[0]} coalitions span at most {directions} of the "
                f"{d - 1} free directions of the regression for d = {d} feature groups, so the "
                "result is the minimum-norm least-squares solution, not a Shapley estimate. Use "
                f"n_samples >= {2 * d}, or fewer groups (feature_mask).",
                UserWarning,
                stacklevel=2,
            )
        zf = z.to(x.dtype)
        w = w.to(x.dtype)
        # eliminate phi_d = delta - sum_{i<d} phi_i (Lundberg & Lee's implementation)
        design = zf[:, :-1] - zf[:, -1:]  # (k, d - 1)
        response = (vz - v0[:, None]) - delta[:, None] * zf[:, -1][None, :]  # (n, k)
        root = w.sqrt()[:, None]
        solution = lstsq(root * design, root * response.T)  # (d - 1, n)
        phi = torch.cat([solution.T, (delta - solution.sum(0))[:, None]], dim=1)
        return groups.spread(phi)


# -- gradient forms -------------------------------------------------------------------------------


class GradientShap(Attribution):
    """Expected gradients: SHAP values as integrated gradients averaged over a background.

    ``R_i = E_{b ~ background, alpha ~ U(0, 1)} [(x_i - b_i) * d f / d x_i (b + alpha (x - b))]``
    (Erion et al. 2021, Eq. 5; Lundberg & Lee's GradientExplainer). Each of ``n_samples`` draws
    per sample picks a background row uniformly (with replacement) and a point uniformly on the
    straight path from it to ``x``. In expectation the sum over features is
    ``f(x) - E_b f(b)``, and for a linear model ``R = w (x - E b)``. All ``n * n_samples`` path
    points are differentiated in batched passes of ``max_batch_size`` rows; the draws are made
    before the chunking, so the result does not depend on it.

    Parameters
    ----------
    model : nn.Module or callable
    n_samples : int, default 200
        (background row, alpha) draws per sample.

    References
    ----------
    G. Erion, J. D. Janizek, P. Sturmfels, S. M. Lundberg, S.-I. Lee, "Improving performance of
    deep learning models with axiomatic attribution priors and expected gradients", Nature
    Machine Intelligence 3, 620 (2021), arXiv:1906.10670.
    """

    name = "gradient_shap"

    def __init__(self, model: Callable[[Tensor], Tensor], *, n_samples: int = 200):
        super().__init__(model)
        self.n_samples = check_positive_int(n_samples, "GradientShap", "n_samples")

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        background: Tensor | None = None,
        baseline: float | Tensor | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Expected-gradients attribution, shaped like ``inputs``.

        Parameters
        ----------
        inputs, target
            As for every method.
        background, baseline
            The reference; exactly one is required. With a single baseline this is integrated
            gradients with random (Monte Carlo) path points.
        max_batch_size : int
            At most this many path points per forward/backward pass.
        generator : torch.Generator or None
            Source of the background rows and path positions.

        Raises
        ------
        ValueError
            For a missing or doubled reference, or a malformed background or baseline.
        """
        step = self._check_max_batch_size(max_batch_size)
        x, tgt = self._prepare(inputs, target)
        ref = check_reference(background, baseline, x, self._caller)
        gen = check_generator(generator, x, self._caller)
        n, m, dev = x.shape[0], ref.shape[1], x.device
        per_sample = ref.shape[0] > 1
        n_rows = n * self.n_samples
        # all draws first, in one order, so that the chunking cannot change them
        pick = torch.randint(m, (n_rows,), generator=gen, device=dev)
        alpha = torch.rand(n_rows, generator=gen, device=dev, dtype=torch.float64).to(x.dtype)
        total = torch.zeros_like(x)
        feat = (1,) * (x.dim() - 1)
        with no_param_grad(self.model):
            for sl in chunks(n_rows, step):
                j = torch.arange(sl.start, sl.stop, device=dev) // self.n_samples
                base = ref[j, pick[sl]] if per_sample else ref[0, pick[sl]]
                diff = x[j] - base
                point = base + alpha[sl].view(-1, *feat) * diff
                with torch.enable_grad():
                    leaf = point.detach().requires_grad_(True)
                    selected = tgt(self.model(leaf), j)
                    (grad,) = torch.autograd.grad(selected.sum(), leaf, allow_unused=True)
                if grad is None:
                    continue
                total.index_add_(0, j, diff * grad)
        return total / self.n_samples


class DeepShap(Attribution):
    """DeepSHAP: DeepLIFT (rescale rule) averaged over background rows used as baselines.

    ``R(x) = (1 / m) sum_b DeepLIFT(x; baseline = b)`` (Lundberg & Lee 2017, Sec. 4.2), so
    ``sum R = f(x) - mean_b f(b)`` exactly wherever DeepLIFT's summation-to-delta holds (networks
    of linear layers and elementwise activation modules; see :class:`DeepLift`), and for a linear
    model ``R = w (x - mean b)``. The ``n * m`` (sample, background row) pairs go through
    :class:`DeepLift` in chunks of ``max_batch_size`` rows. DeepLIFT's warning about a broken
    summation is passed on once.

    Parameters
    ----------
    model : nn.Module or callable
        As for :class:`DeepLift`.

    References
    ----------
    S. Lundberg, S.-I. Lee, NeurIPS 2017, arXiv:1705.07874. A. Shrikumar, P. Greenside,
    A. Kundaje, ICML 2017, arXiv:1704.02685.
    """

    name = "deep_shap"

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(
        self,
        inputs: Tensor,
        *,
        target: Any = None,
        background: Tensor | None = None,
        baseline: float | Tensor | None = None,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> Tensor:
        """DeepLIFT contributions averaged over the background, shaped like ``inputs``.

        Parameters
        ----------
        inputs, target
            As for every method.
        background, baseline
            The reference; exactly one is required. With a single baseline the result is
            :class:`DeepLift`'s.
        max_batch_size : int
            At most this many (sample, background row) pairs per DeepLIFT pass.

        Raises
        ------
        ValueError
            For a missing or doubled reference, a malformed background or baseline, or a model
            that takes another path for a background row than for the input.

        Warns
        -----
        UserWarning
            When summation-to-delta fails (a nonlinearity without a rescale rule).
        """
        step = self._check_max_batch_size(max_batch_size)
        x, tgt = self._prepare(inputs, target)
        ref = check_reference(background, baseline, x, self._caller)
        n, m, dev = x.shape[0], ref.shape[1], x.device
        per_sample = ref.shape[0] > 1
        inner = DeepLift(self.model)
        total = torch.zeros_like(x)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for sl in chunks(n * m, step):
                r = torch.arange(sl.start, sl.stop, device=dev)
                j, b = r // m, r % m
                base = ref[j, b] if per_sample else ref[0, b]

                def row_target(output: Tensor, index: Tensor = j) -> Tensor:
                    return tgt(output, index)

                total.index_add_(0, j, inner.attribute(x[j], target=row_target, baseline=base))
        seen: set[str] = set()
        summation = None
        for w in caught:
            text = str(w.message)
            if "sum of attributions" in text:
                summation = summation or text
                continue
            if "training mode" in text or text in seen:
                continue  # the training-mode warning was already given once, for DeepShap
            seen.add(text)
            warnings.warn(
                text.replace("DeepLift.attribute", self._caller), w.category, stacklevel=2
            )
        if summation is not None:
            self._warn_summation(x, tgt, ref, total / m, summation, step)
        return total / m

    def _warn_summation(
        self, x: Tensor, tgt: Any, ref: Tensor, attribution: Tensor, inner: str, step: int
    ) -> None:
        """One warning for the whole call, with the gap of the averaged attribution."""
        groups = check_feature_mask(None, x, self._caller)
        empty = torch.zeros(1, groups.n_groups, dtype=torch.bool, device=x.device)
        f_ref = coalition_values(self.model, x, ref, groups, empty, 1, tgt, step)[:, 0]
        f_x = evaluate(self.model, x, torch.arange(x.shape[0], device=x.device), tgt, step)
        gap = (attribution.flatten(1).sum(1) - (f_x - f_ref)).abs().max()
        reason = (
            inner[inner.index("some nonlinearity") :] if "some nonlinearity" in inner else inner
        )
        warnings.warn(
            f"{self._caller}: sum of attributions differs from f(x) - mean_b f(b) by up to "
            f"{float(gap):.3g}: {reason}",
            UserWarning,
            stacklevel=3,
        )
