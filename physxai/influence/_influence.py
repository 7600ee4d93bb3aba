"""Influence functions: which training points made the model decide this.

Removing training point ``z_i`` from a training set of ``n`` points and retraining moves the
minimiser of ``J = (1/n) sum_j L_j`` (``L_j`` = loss of ``z_j`` plus ``l2 ||theta||^2``, see
:mod:`._objective`) by ``theta_{-i} - theta ~ (1/n) (H + d I)^{-1} grad L_i`` to first order
(Cook & Weisberg 1982; Koh & Liang 2017, Sec. 2.1 with epsilon = -1/n), so the loss of a test point
changes by

    I(z_i, z_test) = (1/n) grad L(z_test)^T (H + d I)^{-1} grad L(z_i)
                   ~ L(z_test; theta_{-i}) - L(z_test; theta).                       (*)

This is the convention of Dawid et al. (2020, 2022): **I > 0 means that removing z_i raises the
test loss, so z_i is helpful; I < 0 marks a harmful point.** Koh & Liang's upweighting influence
is ``I_up,loss = -n I``. ``H`` is the Hessian of J (with its ``2 l2 I``), ``d >= 0`` a damping
that makes ``H + d I`` positive definite when the parameters are not at a strict minimum (a
non-convex network usually has negative eigenvalues: Dawid et al. use d = 0.2).

The linear systems ``(H + d I) s = g`` are solved for all test points at once by one of three
methods: ``"exact"`` (Cholesky factor of the exact Hessian, models up to ~10^4 parameters),
``"cg"`` (conjugate gradient on Hessian-vector products, batched over right-hand sides), or
``"lissa"`` (the stochastic Neumann series of Agarwal et al. 2017 as used by Koh & Liang).
Influences on every training point then come from one pass of per-sample gradients.

References
----------
R. D. Cook, S. Weisberg, Residuals and Influence in Regression, Chapman & Hall (1982).
P. W. Koh, P. Liang, "Understanding black-box predictions via influence functions", ICML 2017,
arXiv:1703.04730.
N. Agarwal, B. Bullins, E. Hazan, "Second-order stochastic optimization for machine learning in
linear time", JMLR 18, 1 (2017), arXiv:1602.03943.
E. Barshan, M.-E. Brunet, G. K. Dziugaite, "RelatIF: identifying explanatory training examples via
relative influence", AISTATS 2020, arXiv:2003.11630.
A. Dawid et al., New J. Phys. 22, 115001 (2020), arXiv:2004.04711; Mach. Learn.: Sci. Technol. 3,
015002 (2022), arXiv:2108.02154.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_choice, check_positive_float, check_positive_int
from ..errors import NotFittedError
from ._hessian import DEFAULT_MAX_PARAMETERS, HessianOperator, _check_vectors, check_max_parameters
from ._objective import DEFAULT_MAX_BATCH_SIZE, LossSpec, Objective
from ._spectrum import lanczos

__all__ = ["METHODS", "InfluenceFunctions"]

METHODS = ("exact", "cg", "lissa")

# training-gradient matrices up to this many entries are kept between calls (128 MB in float64)
_CACHE_ENTRIES = 2**24


class InfluenceFunctions:
    """Influence of every training point on the loss of test points, by influence functions.

    Parameters
    ----------
    model : nn.Module
        The trained model, in eval mode if it holds dropout or batch norm; read at :meth:`fit`,
        never changed.
    loss_fn : {"cross_entropy", "bce", "mse"} or callable
        The per-sample loss the model was trained with (see :func:`hessian`); a callable
        returns per-sample losses ``(m,)``.
    train_inputs : Tensor, shape ``(n, ...)``
    train_targets : Tensor, shape ``(n, ...)``
        The full training set, in the parameters' dtype (float64 advised).
    l2 : float, default 0.0
        The ``l2 ||theta||^2`` penalty of training (:func:`physxai.models.fit`'s ``l2``). It
        must match the objective the model was trained with, or the Hessian and the per-example
        gradients describe another minimum.
    damping : float, default 0.01
        ``d`` in ``(H + d I)^{-1}``; 0 is exact for a strict minimum.
    method : {"exact", "cg", "lissa"}, default "exact"
        How ``(H + d I) s = g`` is solved.
    max_batch_size : int, default 2048
        Rows per vectorised pass (samples for gradients, sample x vector pairs for Hessian
        products); results do not depend on it beyond rounding.
    max_parameters : int, default 10000
        Largest model for ``method="exact"``.
    tol : float, default 1e-10
        Relative residual ``||(H + dI) s - g|| / ||g||`` at which CG and deterministic LiSSA stop.
    max_iterations : int or None
        CG iterations (None: ``n_parameters``) or LiSSA depth (None: 10,000).
    lissa_scale : float or None
        LiSSA divides ``H + d I`` by this; it must exceed the largest eigenvalue (of every
        mini-batch Hessian too). None: 1.1 x ``lambda_max(H + d I)`` by Lanczos at fit.
    lissa_batch_size : int or None
        Samples per stochastic Hessian estimate; None uses all (deterministic, the Richardson
        iteration, which stops at ``tol``).
    lissa_repeats : int, default 1
        Independent LiSSA runs averaged (only useful with ``lissa_batch_size``).
    generator : torch.Generator or None
        Draws LiSSA's mini-batches.

    Attributes
    ----------
    parameters_ : Tensor, shape ``(p,)``
        The parameters at fit.
    n_train_ : int
    hessian_ : Tensor, shape ``(p, p)``
        ``method="exact"`` only: the Hessian of J, without damping.
    lissa_scale_ : float
        ``method="lissa"`` only.

    Raises
    ------
    TypeError, ValueError
        At construction for bad arguments or data (see :func:`hessian`), an unknown method,
        or a model too large for the exact method.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x, y = torch.randn(30, 3, dtype=torch.float64), torch.randn(30, dtype=torch.float64)
    >>> inf = InfluenceFunctions(model, "mse", x, y, l2=0.1, damping=0.0).fit()
    >>> inf.influence(x[:2], y[:2]).shape
    torch.Size([2, 30])
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossSpec,
        train_inputs: Tensor,
        train_targets: Tensor,
        *,
        l2: float = 0.0,
        damping: float = 0.01,
        method: str = "exact",
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        max_parameters: int = DEFAULT_MAX_PARAMETERS,
        tol: float = 1e-10,
        max_iterations: int | None = None,
        lissa_scale: float | None = None,
        lissa_batch_size: int | None = None,
        lissa_repeats: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        caller = "InfluenceFunctions"
        self.model = model
        self.loss_fn = loss_fn
        self.train_inputs = train_inputs
        self.train_targets = train_targets
        self.l2 = l2
        self.damping = damping
        self.method = method
        self.max_batch_size = max_batch_size
        self.max_parameters = max_parameters
        self.tol = tol
        self.max_iterations = max_iterations
        self.lissa_scale = lissa_scale
        self.lissa_batch_size = lissa_batch_size
        self.lissa_repeats = lissa_repeats
        self.generator = generator
        check_choice(method, METHODS, caller, "method")
        check_positive_float(damping, caller, "damping", allow_zero=True)
        check_positive_float(tol, caller, "tol")
        if max_iterations is not None:
            check_positive_int(max_iterations, caller, "max_iterations")
        if lissa_scale is not None:
            check_positive_float(lissa_scale, caller, "lissa_scale")
        if lissa_batch_size is not None:
            check_positive_int(lissa_batch_size, caller, "lissa_batch_size")
        check_positive_int(lissa_repeats, caller, "lissa_repeats")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(
                f"{caller}: generator must be a torch.Generator or None; got "
                f"{type(generator).__name__}."
            )
        self._objective = Objective(
            model,
            loss_fn,
            train_inputs,
            train_targets,
            l2=l2,
            max_batch_size=max_batch_size,
            caller=caller,
            input_name="train_inputs",
            target_name="train_targets",
        )
        if method == "exact":
            check_max_parameters(self._objective, max_parameters, caller)
        self._fitted = False

    def __repr__(self) -> str:
        return (
            f"InfluenceFunctions(method={self.method!r}, l2={self.l2!r}, damping={self.damping!r}, "
            f"n_train={self._objective.n_samples}, n_parameters={self._objective.n_parameters})"
        )

    # -- fitting -----------------------------------------------------------------------------

    def fit(self) -> InfluenceFunctions:
        """Read the parameters and prepare the solver (Hessian and Cholesky factor for "exact").

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``method="exact"``: if ``H + d I`` is not positive definite (the parameters are not
            at a minimum, or the loss is flat in some direction); the message gives the
            smallest eigenvalue and the damping that would fix it.
        """
        obj = self._objective
        obj.theta = torch.cat(
            [p.detach().reshape(-1) for p in obj.model.parameters() if p.requires_grad]
        )
        self.parameters_ = obj.theta.clone()
        self.n_train_ = obj.n_samples
        self._train_gradients: Tensor | None = None
        self._train_solution_norms: Tensor | None = None
        if self.method == "exact":
            self.hessian_ = obj.hessian()
            damped = self.hessian_ + self.damping * torch.eye(
                obj.n_parameters, dtype=obj.dtype, device=obj.device
            )
            factor, info = torch.linalg.cholesky_ex(damped)
            if int(info) != 0:
                smallest = float(torch.linalg.eigvalsh(self.hessian_)[0])
                raise ValueError(
                    "InfluenceFunctions.fit: H + damping * I is not positive definite (the "
                    f"Hessian's smallest eigenvalue is {smallest:.3g}, damping = {self.damping!r}), "
                    "so the parameters are not at a strict minimum of the training loss. Use "
                    f"damping > {max(-smallest, 0.0):.3g} (Dawid et al. 2020 use 0.2 for a CNN), "
                    "train to convergence, or check that l2 matches the training objective."
                )
            self._cholesky = factor
        elif self.method == "lissa":
            if self.lissa_scale is None:
                self.lissa_scale_ = 1.1 * (self._largest_eigenvalue() + self.damping)
                if self.lissa_scale_ <= 0:
                    raise ValueError(
                        "InfluenceFunctions.fit: the largest eigenvalue of H + damping * I is not "
                        "positive, so LiSSA cannot converge; raise damping."
                    )
            else:
                self.lissa_scale_ = float(self.lissa_scale)
        self._fitted = True
        return self

    def _largest_eigenvalue(self) -> float:
        obj = self._objective
        if obj.n_parameters <= 64:  # small: the exact Hessian is cheaper than Lanczos
            return float(torch.linalg.eigvalsh(obj.hessian())[-1])
        operator = HessianOperator(
            obj.model,
            obj.loss_fn,
            obj.inputs,
            obj.targets,
            l2=obj.l2,
            max_batch_size=obj.max_batch_size,
        )
        return float(lanczos(operator, k=1, tol=1e-4)[0][0])

    def _check_fitted(self, name: str) -> None:
        if not self._fitted:
            raise NotFittedError(
                f"InfluenceFunctions.{name}: call fit() first; this InfluenceFunctions is not "
                "fitted yet."
            )

    # -- linear solves -----------------------------------------------------------------------

    def _apply(self, vectors: Tensor, index: Tensor | None = None) -> Tensor:
        # (H + d I) v, H of J (or of the mean over the samples in index, for LiSSA)
        return self._objective.hvp(vectors, index=index) + self.damping * vectors

    def inverse_hvp(self, vectors: Tensor) -> Tensor:
        """Solve ``(H + d I) s = v`` for one vector ``(p,)`` or the rows of ``(m, p)``.

        Parameters
        ----------
        vectors : Tensor, shape ``(p,)`` or ``(m, p)``
            In the parameters' dtype.

        Returns
        -------
        Tensor, shape of ``vectors``

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For vectors of the wrong shape or dtype; ``method="cg"`` when it meets negative
            curvature (``H + d I`` not positive definite; raise damping); ``method="lissa"``
            when the series diverges.
        """
        self._check_fitted("inverse_hvp")
        vectors = _check_vectors(vectors, self._objective, "InfluenceFunctions.inverse_hvp")
        single = vectors.dim() == 1
        out = self._solve(vectors[None] if single else vectors)
        return out[0] if single else out

    def _solve(self, rhs: Tensor) -> Tensor:
        if rhs.shape[0] == 0:
            return rhs.clone()
        if self.method == "exact":
            return torch.cholesky_solve(rhs.T, self._cholesky).T
        if self.method == "cg":
            return self._conjugate_gradient(rhs)
        return self._lissa(rhs)

    def _conjugate_gradient(self, rhs: Tensor) -> Tensor:
        """Batched CG (Hestenes & Stiefel 1952): one independent CG per row of ``rhs``."""
        caller = "InfluenceFunctions"
        p = rhs.shape[1]
        max_iterations = self.max_iterations or p
        x = torch.zeros_like(rhs)
        r = rhs.clone()
        d = r.clone()
        rs = (r * r).sum(dim=1)
        stop = (self.tol * rhs.norm(dim=1)) ** 2
        active = rs > stop
        for _ in range(max_iterations):
            if not bool(active.any()):
                break
            idx = active.nonzero()[:, 0]
            da = d[idx]
            ad = self._apply(da)
            curvature = (da * ad).sum(dim=1)
            if bool((curvature <= 0).any()):
                raise ValueError(
                    f"{caller}: conjugate gradient met non-positive curvature: H + damping * I is "
                    f"not positive definite (damping = {self.damping!r}). Raise damping above "
                    "-lambda_min(H) (lanczos(HessianOperator(...), which='SA') finds it)."
                )
            alpha = rs[idx] / curvature
            x[idx] += alpha[:, None] * da
            r[idx] -= alpha[:, None] * ad
            rs_new = (r[idx] * r[idx]).sum(dim=1)
            d[idx] = r[idx] + (rs_new / rs[idx])[:, None] * da
            rs[idx] = rs_new
            active[idx] = rs_new > stop[idx]
        if bool(active.any()):
            warnings.warn(
                f"{caller}: conjugate gradient did not reach tol={self.tol!r} in {max_iterations} "
                f"iterations for {int(active.sum())} of {rhs.shape[0]} right-hand sides; raise "
                "max_iterations or damping (which improves the conditioning).",
                UserWarning,
                stacklevel=4,
            )
        return x

    def _lissa(self, rhs: Tensor) -> Tensor:
        """LiSSA: h <- v + h - (H_batch + d I) h / scale, result h / scale (Agarwal et al. 2017)."""
        caller = "InfluenceFunctions"
        scale, n = self.lissa_scale_, self._objective.n_samples
        depth = self.max_iterations or 10_000
        batch = self.lissa_batch_size
        stochastic = batch is not None and batch < n
        norms = rhs.norm(dim=1)
        total = torch.zeros_like(rhs)
        for _ in range(self.lissa_repeats if stochastic else 1):
            h = rhs.clone()
            converged = False
            for _ in range(depth):
                index = None
                if stochastic:
                    index = torch.randint(n, (batch,), generator=self.generator).to(rhs.device)
                # residual of (H + dI)/scale h = v; h_{j+1} = h_j + residual is the Neumann step
                residual = rhs - self._apply(h, index) / scale
                h = h + residual
                size = residual.norm(dim=1)
                if not bool(torch.isfinite(h).all()) or bool((size > 1e8 * (norms + 1e-300)).any()):
                    raise ValueError(
                        f"{caller}: LiSSA diverged: lissa_scale={scale!r} must exceed the largest "
                        "eigenvalue of H + damping * I (of every mini-batch Hessian too) and "
                        "H + damping * I must be positive definite; raise lissa_scale or damping."
                    )
                if not stochastic and bool((size <= self.tol * norms).all()):
                    converged = True
                    break
            if not stochastic and not converged:
                warnings.warn(
                    f"{caller}: LiSSA did not reach tol={self.tol!r} in {depth} iterations; raise "
                    "max_iterations or damping (convergence goes as (1 - lambda_min / scale)^j).",
                    UserWarning,
                    stacklevel=4,
                )
            total += h / scale
        return total / (self.lissa_repeats if stochastic else 1)

    # -- gradients ---------------------------------------------------------------------------

    def _test_gradients(
        self, test_inputs: Any, test_targets: Any, include_l2: bool, caller: str
    ) -> Tensor:
        obj = self._objective
        saved, obj.caller = obj.caller, caller
        try:
            x, y = obj.check_data(test_inputs, test_targets, "test_inputs", "test_targets")
        finally:
            obj.caller = saved
        if not isinstance(include_l2, bool):
            raise TypeError(
                f"{caller}: include_l2 must be a bool; got {type(include_l2).__name__}."
            )
        return obj.sample_gradients(obj.theta, x, y, obj.l2 if include_l2 else 0.0)

    def _train_gradient_chunks(self) -> list[tuple[slice, Tensor]]:
        """Per-example gradients of ``L_i = loss_i + l2 ||theta||^2``, chunk by chunk."""
        obj = self._objective
        if self._train_gradients is not None:
            return [(slice(0, obj.n_samples), self._train_gradients)]
        if obj.n_samples * obj.n_parameters <= _CACHE_ENTRIES:
            self._train_gradients = obj.sample_gradients(obj.theta, obj.inputs, obj.targets, obj.l2)
            return [(slice(0, obj.n_samples), self._train_gradients)]
        return [
            (s, obj.sample_gradients(obj.theta, obj.inputs[s], obj.targets[s], obj.l2))
            for s in obj.chunks(obj.n_samples, obj.max_batch_size)
        ]

    # -- influences --------------------------------------------------------------------------

    def influence(
        self, test_inputs: Tensor, test_targets: Tensor, *, include_l2: bool = False
    ) -> Tensor:
        """``I(z_i, z_test) = (1/n) grad L(z_test)^T (H + d I)^{-1} grad L(z_i)`` for all pairs.

        Positive values mark helpful training points: removing them raises the test loss (Eq. (*)
        of the module docstring). One linear solve per test point, then one pass of per-sample
        training gradients for all of them.

        Parameters
        ----------
        test_inputs : Tensor, shape ``(n_test, ...)``
        test_targets : Tensor, shape ``(n_test, ...)``
        include_l2 : bool, default False
            Whether the test loss includes ``l2 ||theta||^2`` (Dawid et al. 2022 include it; Koh
            & Liang use the plain test loss). The training-point losses always include it.

        Returns
        -------
        Tensor, shape ``(n_test, n_train)``

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError, TypeError
            For test data that do not match the model and loss (lengths, dtype, NaN).
        """
        self._check_fitted("influence")
        g_test = self._test_gradients(
            test_inputs, test_targets, include_l2, "InfluenceFunctions.influence"
        )
        return self._influence_from(g_test)

    def _influence_from(self, g_test: Tensor) -> Tensor:
        obj = self._objective
        s_test = self._solve(g_test)  # (n_test, p): (H + dI)^{-1} grad L(z_test)
        out = torch.empty(g_test.shape[0], obj.n_samples, dtype=obj.dtype, device=obj.device)
        for s, g_train in self._train_gradient_chunks():
            out[:, s] = s_test @ g_train.T
        return out / obj.n_samples

    def predicted_loss_change(
        self, test_inputs: Tensor, test_targets: Tensor, *, include_l2: bool = False
    ) -> Tensor:
        """Predicted ``L(z_test; theta_{-i}) - L(z_test; theta)`` when point i is left out.

        The first-order change of each test loss when training point ``i`` is removed and the
        model retrained on the other ``n - 1`` points with the same objective (mean loss over
        them plus the same ``l2`` term); compare with :func:`leave_one_out`'s
        ``actual_change``. Under this class's sign convention it equals :meth:`influence`; the
        separate name keeps leave-one-out comparisons free of sign ambiguity.

        Parameters, Returns, Raises
            As :meth:`influence`: shape ``(n_test, n_train)``.
        """
        self._check_fitted("predicted_loss_change")
        g_test = self._test_gradients(
            test_inputs, test_targets, include_l2, "InfluenceFunctions.predicted_loss_change"
        )
        return self._influence_from(g_test)

    def self_influence(self) -> Tensor:
        """``(1/n) grad L(z_i)^T (H + d I)^{-1} grad L(z_i)`` for every training point.

        The predicted rise of a point's own loss (with its L2 share) when it is left out: large
        for points the model fits only because they are in the training set (outliers,
        mislabelled points; Koh & Liang 2017, Sec. 5.4). Non-negative when ``H + d I`` is
        positive definite; equals the diagonal of ``influence(train_inputs, train_targets,
        include_l2=True)``.

        Returns
        -------
        Tensor, shape ``(n_train,)``

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        self._check_fitted("self_influence")
        obj = self._objective
        out = torch.empty(obj.n_samples, dtype=obj.dtype, device=obj.device)
        for s, g in self._train_gradient_chunks():
            for c in obj.chunks(g.shape[0], obj.max_batch_size):
                gc = g[c]
                if self.method == "exact":
                    # g^T (L L^T)^{-1} g = ||L^{-1} g||^2
                    w = torch.linalg.solve_triangular(self._cholesky, gc.T, upper=False)
                    values = (w * w).sum(dim=0)
                else:
                    values = (gc * self._solve(gc)).sum(dim=1)
                out[s.start + c.start : s.start + c.stop] = values
        return out / obj.n_samples

    def relatif(
        self,
        test_inputs: Tensor,
        test_targets: Tensor,
        *,
        include_l2: bool = False,
    ) -> Tensor:
        """RelatIF: influence relative to the size of the parameter change it needs.

        The theta-relative influence of Barshan et al. (2020, Eq. 5),
        ``grad L(z_test)^T (H + dI)^{-1} grad L(z_i) / ||(H + dI)^{-1} grad L(z_i)||``, in this
        class's sign convention (positive = helpful). Dividing by the predicted parameter change
        ``||theta_{-i} - theta||`` (up to the factor 1/n, which cancels) demotes training points
        that are influential on every test point merely because they are outliers, and promotes
        the ones that explain this particular prediction.

        Parameters, Raises
            As :meth:`influence`.

        Returns
        -------
        Tensor, shape ``(n_test, n_train)``
        """
        self._check_fitted("relatif")
        g_test = self._test_gradients(
            test_inputs, test_targets, include_l2, "InfluenceFunctions.relatif"
        )
        obj = self._objective
        if self._train_solution_norms is None:
            norms = torch.empty(obj.n_samples, dtype=obj.dtype, device=obj.device)
            for s, g in self._train_gradient_chunks():
                for c in obj.chunks(g.shape[0], obj.max_batch_size):
                    norms[s.start + c.start : s.start + c.stop] = self._solve(g[c]).norm(dim=1)
            self._train_solution_norms = norms
        influence = self._influence_from(g_test) * obj.n_samples
        norms = self._train_solution_norms
        return torch.where(
            norms > 0,
            influence / norms.clamp_min(torch.finfo(obj.dtype).tiny),
            torch.zeros_like(influence),
        )

    def _top(
        self,
        test_inputs: Tensor,
        test_targets: Tensor,
        k: Any,
        include_l2: bool,
        name: str,
        sign: float,
    ) -> Tensor:
        self._check_fitted(name)
        caller = f"InfluenceFunctions.{name}"
        k = check_positive_int(k, caller, "k")
        if k > self._objective.n_samples:
            raise ValueError(
                f"{caller}: k must be at most n_train = {self._objective.n_samples}; got {k}."
            )
        g_test = self._test_gradients(test_inputs, test_targets, include_l2, caller)
        return torch.topk(sign * self._influence_from(g_test), k, dim=1).indices

    def most_helpful(
        self, test_inputs: Tensor, test_targets: Tensor, *, k: int = 5, include_l2: bool = False
    ) -> Tensor:
        """Indices of the k training points with the largest (positive) influence per test point.

        Removing them would raise the test loss most.

        Returns
        -------
        LongTensor, shape ``(n_test, k)``
            Most helpful first.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For ``k`` outside ``[1, n_train]`` or bad test data.
        """
        return self._top(test_inputs, test_targets, k, include_l2, "most_helpful", 1.0)

    def most_harmful(
        self, test_inputs: Tensor, test_targets: Tensor, *, k: int = 5, include_l2: bool = False
    ) -> Tensor:
        """Indices of the k training points with the most negative influence per test point.

        Removing them would lower the test loss most.

        Returns
        -------
        LongTensor, shape ``(n_test, k)``
            Most harmful first.

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        ValueError
            For ``k`` outside ``[1, n_train]`` or bad test data.
        """
        return self._top(test_inputs, test_targets, k, include_l2, "most_harmful", -1.0)
