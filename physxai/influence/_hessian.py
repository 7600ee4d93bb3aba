"""Exact Hessians, Hessian-vector products and per-sample gradients of a training loss.

The Hessian ``H = d^2 J / d theta^2`` of the training objective (see :mod:`._objective`)

    J(theta) = (1/n) sum_i loss(f(x_i; theta), y_i) + l2 * sum_p ||p||^2,
    H = (1/n) sum_i d^2 loss_i / d theta^2 + 2 l2 I,

says how sharp a minimum is (its largest eigenvalues), whether the parameters sit at a minimum at
all (negative eigenvalues), and is the matrix that influence functions invert. For a few thousand
parameters :func:`hessian` builds it exactly with forward-over-reverse differentiation
(:func:`torch.func.jvp` of :func:`torch.func.grad`), vectorised over the unit tangents with
:func:`torch.func.vmap` and chunked over the data, instead of the p double-backpropagation passes of
the classic loop; for piecewise-linear ``nn.Sequential`` networks (ReLU, pooling, convolutions) a
structured path (:mod:`._sequential`) builds the same matrix from per-sample Jacobians and forward
tangents that start at each parameter's own layer, many times faster. For larger models
:class:`HessianOperator` exposes ``v -> H v`` as a SciPy ``LinearOperator`` (float64), the input
of :func:`physxai.influence.lanczos` and of the iterative influence solvers; ``H`` itself is never
formed.

References
----------
B. A. Pearlmutter, "Fast exact multiplication by the Hessian", Neural Comput. 6, 147 (1994),
doi:10.1162/neco.1994.6.1.147.
A. Dawid et al., "Hessian-based toolbox for reliable and interpretable machine learning in
physics", Mach. Learn.: Sci. Technol. 3, 015002 (2022), arXiv:2108.02154.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch import Tensor, nn

from .._validation import check_choice, check_finite, check_positive_int
from ._objective import ALGORITHMS, DEFAULT_MAX_BATCH_SIZE, LossSpec, Objective, _shape

__all__ = [
    "DEFAULT_MAX_PARAMETERS",
    "HessianOperator",
    "hessian",
    "hessian_vector_product",
    "per_sample_gradients",
]

#: The exact Hessian refuses more parameters than this: 10,000 parameters make an 800 MB
#: float64 matrix and about 10,000 Hessian-vector products' worth of work.
DEFAULT_MAX_PARAMETERS = 10_000


def check_max_parameters(obj: Objective, max_parameters: Any, caller: str) -> None:
    limit = check_positive_int(max_parameters, caller, "max_parameters")
    if obj.n_parameters > limit:
        raise ValueError(
            f"{caller}: the model has {obj.n_parameters} trainable parameters, more than "
            f"max_parameters={limit} for an exact ({obj.n_parameters} x {obj.n_parameters}) "
            "Hessian. Use HessianOperator with lanczos() for its extreme eigenpairs, and "
            "InfluenceFunctions(..., method='cg' or 'lissa'), which only need Hessian-vector "
            "products; or raise max_parameters if the memory is there."
        )


def hessian(
    model: nn.Module,
    loss_fn: LossSpec,
    inputs: Tensor,
    targets: Tensor,
    *,
    l2: float = 0.0,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    max_parameters: int = DEFAULT_MAX_PARAMETERS,
    algorithm: str = "auto",
) -> Tensor:
    """The exact Hessian of the mean training loss plus its L2 term, w.r.t. all parameters.

    ``H = (1/n) sum_i d^2 loss(f(x_i), y_i) / d theta^2 + 2 l2 I`` over the trainable parameters
    ``theta`` (flattened as in :func:`flat_parameters`), at the model's current parameters.

    Parameters
    ----------
    model : nn.Module
        Evaluated with ``torch.func.functional_call``; never changed. A model holding dropout
        or batch norm must be in eval mode (its Hessian in training mode is not defined).
    loss_fn : {"cross_entropy", "bce", "mse"} or callable
        The per-sample loss, with the conventions of :func:`physxai.models.fit`:
        ``"cross_entropy"`` takes logits ``(n, C)`` and classes ``(n,)``; ``"bce"`` logits and
        float targets of one shape (one logit ``(n,)`` or ``(n, 1)``, or several per sample,
        multi-label), averaged over a sample's outputs; ``"mse"`` the mean squared error of each
        sample. The mean over the samples of these is ``fit``'s training loss. A callable ``(outputs, targets) -> (m,)`` returns per-sample losses
        (``reduction="none"``) and must work under :func:`torch.func.vmap` (no ``.item()``).
    inputs : Tensor, shape ``(n, ...)``
        Training inputs, in the dtype of the parameters (float64 advised).
    targets : Tensor, shape ``(n, ...)``
    l2 : float, default 0.0
        Coefficient of the penalty ``l2 * sum_p ||p||^2`` the model was trained with; it adds
        ``2 l2`` to the diagonal.
    max_batch_size : int, default 2048
        Rows (one sample with one tangent vector) per vectorised pass; the result does not
        depend on it beyond rounding.
    max_parameters : int, default 10000
        Refuse larger models (the matrix has ``n_parameters ** 2`` entries).
    algorithm : {"auto", "generic", "sequential"}, default "auto"
        How to build it; all give the same matrix up to rounding. ``"sequential"`` uses the
        structure of a piecewise-linear network: an ``nn.Sequential`` (nested ones flattened;
        :class:`physxai.models.MLP` and :class:`~physxai.models.CNN` count as the chain
        ``features, head``) of
        ``Linear``, ``Conv1d/2d/3d`` (``groups=1``, any stride, dilation and padding),
        ``ReLU``, ``LeakyReLU``, ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``,
        ``AdaptiveAvgPool1d/2d/3d``, ``Flatten()``, ``Dropout`` (eval mode) and ``Identity``,
        with a named loss. Its Gauss-Newton part comes from per-sample Jacobians and the rest
        from one forward tangent per (sample, parameter) starting at the parameter's own layer
        (many times faster: the 740-parameter CNN of Dawid et al. on 1000 points in seconds).
        ``"generic"`` works for any model (forward-over-reverse, vectorised over unit tangents).
        ``"auto"`` takes the structured path when the model qualifies, else the generic one.

    Returns
    -------
    Tensor, shape ``(n_parameters, n_parameters)``
        Symmetric, in the parameters' dtype and on their device.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``loss_fn`` is neither a name nor callable.
    ValueError
        For inputs and targets of different lengths, non-finite data, a wrong dtype, no
        trainable parameters, a model in training mode with dropout or batch norm, more
        than ``max_parameters`` parameters (the message points to :func:`lanczos`), an unknown
        ``algorithm``, or ``algorithm="sequential"`` for a model that does not qualify (the
        message names the first offending layer).

    References
    ----------
    A. Dawid et al., New J. Phys. 22, 115001 (2020), arXiv:2004.04711 (the 740-parameter CNN,
    exact Hessian by double backpropagation).

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    >>> hessian(model, "mse", x, y, l2=0.1).shape
    torch.Size([4, 4])
    """
    caller = "hessian"
    check_choice(algorithm, ALGORITHMS, caller, "algorithm")
    obj = Objective(
        model, loss_fn, inputs, targets, l2=l2, max_batch_size=max_batch_size, caller=caller
    )
    check_max_parameters(obj, max_parameters, caller)
    return obj.hessian(algorithm=algorithm)


def _check_vectors(vectors: Any, obj: Objective, caller: str) -> Tensor:
    p = obj.n_parameters
    if not isinstance(vectors, Tensor):
        raise TypeError(f"{caller}: vectors must be a torch.Tensor; got {type(vectors).__name__}.")
    if vectors.dim() not in (1, 2) or vectors.shape[-1] != p:
        raise ValueError(
            f"{caller}: vectors must have shape ({p},) or (m, {p}) for a model with {p} trainable "
            f"parameters; got shape {_shape(vectors)}."
        )
    if vectors.dtype != obj.dtype or vectors.device != obj.device:
        raise ValueError(
            f"{caller}: vectors must have the parameters' dtype {obj.dtype} and device "
            f"{obj.device}; got {vectors.dtype} on {vectors.device}."
        )
    check_finite(vectors, caller, "vectors")
    return vectors


def hessian_vector_product(
    model: nn.Module,
    loss_fn: LossSpec,
    inputs: Tensor,
    targets: Tensor,
    vectors: Tensor,
    *,
    l2: float = 0.0,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """Hessian-vector products ``H v`` without forming ``H`` (Pearlmutter 1994).

    Parameters
    ----------
    model, loss_fn, inputs, targets, l2, max_batch_size
        As in :func:`hessian`.
    vectors : Tensor, shape ``(n_parameters,)`` or ``(m, n_parameters)``
        One vector or m vectors (rows), in the parameters' dtype.

    Returns
    -------
    Tensor, shape of ``vectors``
        ``H v`` for each vector; costs about two forward and two backward passes per vector.

    Raises
    ------
    ValueError
        As :func:`hessian`, and for vectors of the wrong shape, dtype or device.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    >>> hessian_vector_product(model, "mse", x, y, torch.ones(4, dtype=torch.float64)).shape
    torch.Size([4])
    """
    caller = "hessian_vector_product"
    obj = Objective(
        model, loss_fn, inputs, targets, l2=l2, max_batch_size=max_batch_size, caller=caller
    )
    vectors = _check_vectors(vectors, obj, caller)
    if vectors.dim() == 1:
        return obj.hvp(vectors[None])[0]
    return obj.hvp(vectors)


def per_sample_gradients(
    model: nn.Module,
    loss_fn: LossSpec,
    inputs: Tensor,
    targets: Tensor,
    *,
    l2: float = 0.0,
    max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
) -> Tensor:
    """The gradient of every sample's loss with respect to all trainable parameters.

    Row ``i`` is ``d/dtheta [loss(f(x_i), y_i) + l2 ||theta||^2]``: the per-example loss with
    its share of the penalty, whose mean over ``i`` is the gradient of J (Koh & Liang 2017).
    With ``l2=0`` it is the plain loss gradient.

    Parameters
    ----------
    model, loss_fn, inputs, targets, l2
        As in :func:`hessian`.
    max_batch_size : int, default 2048
        Samples per vectorised pass; the result does not depend on it.

    Returns
    -------
    Tensor, shape ``(n, n_parameters)``

    Raises
    ------
    ValueError, TypeError
        As :func:`hessian`.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 2).double()
    >>> x, y = torch.randn(5, 3, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    >>> per_sample_gradients(model, "cross_entropy", x, y).shape
    torch.Size([5, 8])
    """
    obj = Objective(
        model,
        loss_fn,
        inputs,
        targets,
        l2=l2,
        max_batch_size=max_batch_size,
        caller="per_sample_gradients",
    )
    return obj.sample_gradients(obj.theta, obj.inputs, obj.targets, obj.l2)


class HessianOperator(LinearOperator):
    """The Hessian of a training loss as a matrix-free SciPy ``LinearOperator``.

    ``op @ v`` (numpy, float64) and :meth:`hvp` (torch, the parameters' dtype) compute ``H v``
    with one forward-over-reverse pass per vector, chunked over the data; ``H`` is never
    formed, so the memory is that of a few gradients. Feed it to :func:`lanczos` for the top
    or bottom eigenpairs, or to :class:`InfluenceFunctions` with ``method="cg"``/``"lissa"``.

    Parameters
    ----------
    model, loss_fn, inputs, targets, l2, max_batch_size
        As in :func:`hessian`. The parameters are read once, at construction: later changes to
        the model do not change the operator.

    Attributes
    ----------
    n_parameters : int
    shape : tuple of int
        ``(n_parameters, n_parameters)``.
    dtype : numpy.dtype
        float64 (the SciPy side); torch computations run in the parameters' dtype.
    n_products : int
        Number of Hessian-vector products computed so far (a cost counter).

    Raises
    ------
    TypeError, ValueError
        As :func:`hessian`.

    Examples
    --------
    >>> model = torch.nn.Linear(3, 1).double()
    >>> x, y = torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    >>> op = HessianOperator(model, "mse", x, y, l2=0.1)
    >>> (op @ np.ones(4)).shape
    (4,)
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: LossSpec,
        inputs: Tensor,
        targets: Tensor,
        *,
        l2: float = 0.0,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
    ) -> None:
        self._objective = Objective(
            model,
            loss_fn,
            inputs,
            targets,
            l2=l2,
            max_batch_size=max_batch_size,
            caller="HessianOperator",
        )
        self.n_parameters = self._objective.n_parameters
        self.n_products = 0
        super().__init__(np.dtype(np.float64), (self.n_parameters, self.n_parameters))

    def hvp(self, vectors: Tensor) -> Tensor:
        """``H v`` for a tensor ``(p,)`` or the rows of ``(m, p)``, in the parameters' dtype."""
        caller = "HessianOperator.hvp"
        vectors = _check_vectors(vectors, self._objective, caller)
        single = vectors.dim() == 1
        rows = vectors[None] if single else vectors
        self.n_products += rows.shape[0]
        out = self._objective.hvp(rows)
        return out[0] if single else out

    def _matmat(self, matrix: np.ndarray) -> np.ndarray:
        obj = self._objective
        rows = torch.as_tensor(np.ascontiguousarray(matrix.T), dtype=obj.dtype, device=obj.device)
        self.n_products += rows.shape[0]
        return obj.hvp(rows).T.detach().cpu().numpy().astype(np.float64)

    def _matvec(self, vector: np.ndarray) -> np.ndarray:
        return self._matmat(np.asarray(vector).reshape(-1, 1)).reshape(-1)

    def _adjoint(self) -> HessianOperator:
        return self  # the Hessian is symmetric
