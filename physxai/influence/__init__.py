"""Influence of training points and the curvature of the loss.

Which training points made the model decide this, and how sharp is the minimum it sits in? Both
questions are answered by the Hessian ``H`` of the training objective

    J(theta) = (1/n) sum_i loss(f(x_i; theta), y_i) + l2 * sum_p ||p||^2

(the objective of :func:`physxai.models.fit`, L2 term included) at the trained parameters:

- :func:`hessian` builds ``H`` exactly, chunked over the data: for a piecewise-linear
  ``nn.Sequential`` (Linear/Conv, ReLU/LeakyReLU, max/avg pooling) by a structured path
  (Gauss-Newton part from per-sample Jacobians plus the cross-layer blocks from forward tangents),
  for any other model by vectorised forward-over-reverse; both give the same matrix;
  :func:`hessian_vector_product` and :class:`HessianOperator` give ``H v`` without forming it,
  :func:`per_sample_gradients` the gradient of every training point's loss.
- :func:`lanczos` finds the top/bottom eigenpairs of models too large for the exact Hessian;
  :func:`spectrum` summarises a full spectrum (outliers, negative eigenvalues, conditioning).
- :class:`InfluenceFunctions` predicts how each test loss changes when a training point is left
  out, ``I(z_i, z_test) = (1/n) grad L(z_test)^T (H + d I)^{-1} grad L(z_i)`` (> 0: helpful),
  with self-influence, RelatIF and the most helpful/harmful points.
- :func:`leave_one_out` and :func:`retrain` measure the actual change by retraining, to validate
  the prediction.

Models holding dropout or batch norm are analysed in eval mode; nothing here changes a model
except :func:`set_flat_parameters`.
"""

from ._hessian import (
    DEFAULT_MAX_PARAMETERS,
    HessianOperator,
    hessian,
    hessian_vector_product,
    per_sample_gradients,
)
from ._influence import InfluenceFunctions
from ._objective import flat_parameters, set_flat_parameters
from ._retrain import LeaveOneOut, RetrainResult, leave_one_out, retrain
from ._spectrum import Spectrum, lanczos, spectrum

__all__ = [
    "DEFAULT_MAX_PARAMETERS",
    "HessianOperator",
    "InfluenceFunctions",
    "LeaveOneOut",
    "RetrainResult",
    "Spectrum",
    "flat_parameters",
    "hessian",
    "hessian_vector_product",
    "lanczos",
    "leave_one_out",
    "per_sample_gradients",
    "retrain",
    "set_flat_parameters",
    "spectrum",
]
