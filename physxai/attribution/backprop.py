"""Modified ReLU backward passes: deconvnet, guided backpropagation and rectified gradient.

The gradient of a ReLU network is a product of linear maps and ReLU masks,
``dR/dx = W1^T D1 W2^T D2 ... w``, with ``D = diag(1[z > 0])`` (z: the ReLU's input). The three
methods here keep the linear maps and replace the mask applied to the signal ``g`` arriving at
each ReLU from above:

===================  =========================================  ==============================
method               signal passed to the ReLU's input           reference
===================  =========================================  ==============================
gradient             ``1[z > 0] * g``                            Simonyan et al. 2014
deconvnet            ``max(g, 0)``                               Zeiler & Fergus 2014
guided backprop      ``1[z > 0] * max(g, 0)``                    Springenberg et al. 2015
RectGrad             ``1[a * g > tau] * g``, ``a = relu(z)``     Kim et al. 2019
===================  =========================================  ==============================

Deconvnet ignores the forward pass at the ReLUs (only the switches of max pooling remain),
guided backpropagation combines both masks, and RectGrad keeps a unit only where its importance
``a_i * g_i`` exceeds the ``q``-th percentile ``tau`` of the importances of that layer in that
sample; its attribution is ``x * rectified gradient`` (the authors' code; seed 002).

Only ``nn.ReLU`` modules are modified (also ``inplace=True`` and one module called several times:
each call is one layer). A ReLU applied as a function inside ``forward`` (``F.relu(x)``,
``x.relu()``) cannot be hooked and keeps its ordinary gradient; the methods detect these calls and
warn. ``torch.clamp(x, min=0)`` and other spellings are not detected. Other activations (Tanh,
LeakyReLU, ...) and max pooling pass the ordinary gradient.

References
----------
M. D. Zeiler, R. Fergus, "Visualizing and understanding convolutional networks", ECCV 2014,
arXiv:1311.2901. J. T. Springenberg, A. Dosovitskiy, T. Brox, M. Riedmiller, "Striving for
simplicity: the all convolutional net", ICLR workshop 2015, arXiv:1412.6806. B. Kim, J. Seo,
S. Jeon, J. Koo, J. Choe, T. Jeon, "Why are saliency maps noisy? Cause of and solution to noisy
saliency maps", ICCV workshops 2019, arXiv:1902.04893.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import TargetFn
from ._base import Attribution, batched_gradient, no_param_grad
from ._modified_backward import RELU_FUNCTIONS, ActivationRule, FunctionalSpy, modified_backward

__all__ = ["Deconvnet", "GuidedBackprop", "RectGrad"]


class _DeconvnetRule(ActivationRule):
    def backward(self, state: Any, grad: Tensor, y: Tensor | None) -> Tensor:
        # Zeiler & Fergus 2014, Sec. 2.1: the reconstruction passes a ReLU, whatever the forward did
        return grad.clamp(min=0)


class _GuidedRule(ActivationRule):
    def forward(self, module: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        return x > 0  # a new tensor: x itself may be overwritten by an in-place ReLU

    def backward(self, state: Tensor, grad: Tensor, y: Tensor | None) -> Tensor:
        # Springenberg et al. 2015, Fig. 1: R_l = 1[f_l > 0] * 1[R_{l+1} > 0] * R_{l+1}
        return torch.where(state & (grad > 0), grad, torch.zeros_like(grad))


class _RectGradRule(ActivationRule):
    needs_output = True

    def __init__(self, percentile: float):
        self.quantile = percentile / 100.0

    def backward(self, state: Any, grad: Tensor, y: Tensor | None) -> Tensor:
        assert y is not None
        # Kim et al. 2019, rectified gradient: R^(l)_i = 1[a_i R^(l+1)_i > tau] R^(l+1)_i, with tau the q-th
        # percentile of {a_j R^(l+1)_j} of this layer, per sample (not over the batch)
        importance = (y * grad).flatten(1)
        tau = _row_quantile(importance, self.quantile)
        keep = (importance > tau[:, None]).view_as(grad)
        return torch.where(keep, grad, torch.zeros_like(grad))


def _row_quantile(v: Tensor, q: float) -> Tensor:
    """The ``q``-quantile of each row of ``v`` (n, m), linear interpolation between order
    statistics as ``numpy.percentile``'s default. Uses ``kthvalue`` because ``torch.quantile``
    refuses inputs above 2**24 elements (one 64 x 64 x 64 feature map for 64 samples)."""
    m = v.shape[1]
    pos = q * (m - 1)
    lo = math.floor(pos)
    frac = pos - lo
    low = v.kthvalue(lo + 1, dim=1).values
    if frac == 0.0 or lo + 1 >= m:
        return low
    high = v.kthvalue(lo + 2, dim=1).values
    return low + frac * (high - low)


def _relu_backprop(
    model: Callable[[Tensor], Tensor],
    x: Tensor,
    target: TargetFn,
    rule: ActivationRule,
    caller: str,
) -> Tensor:
    """Gradient of the target w.r.t. ``x`` with every ``nn.ReLU`` back-propagating by ``rule``.

    Warns (never silently mixes rules) when the forward pass applied ReLU as a function.
    """
    spy = FunctionalSpy(RELU_FUNCTIONS)

    def forward(rows: Tensor) -> Tensor:
        with spy:
            return model(rows)

    with no_param_grad(model), modified_backward(model, (nn.ReLU,), rule, caller=caller, spy=spy):
        grad = batched_gradient(forward, x, torch.arange(x.shape[0], device=x.device), target)
    if spy.seen:
        where = (
            "outside an nn.ReLU module"
            if isinstance(model, nn.Module)
            else "and the model is not an nn.Module, so no ReLU module could be hooked"
        )
        fix = (
            "Use nn.ReLU modules to modify them too."
            if isinstance(model, nn.Module)
            else "Pass the nn.Module itself, not a function that calls it."
        )
        warnings.warn(
            f"{caller}: the model applies {', '.join(spy.seen)} as a function in forward, {where}; "
            "those ReLUs keep their ordinary gradient, so the result mixes this method with the "
            f"plain gradient. {fix}",
            UserWarning,
            stacklevel=3,
        )
    return grad


class Deconvnet(Attribution):
    """Deconvnet (Zeiler & Fergus 2014): the gradient with each ReLU's backward replaced by a ReLU
    of the incoming signal, ``R_l = max(R_{l+1}, 0)``.

    The ReLU masks of the forward pass are ignored, so the map depends on the input only through
    max-pooling switches and non-ReLU layers; for a ReLU network without pooling it is the same
    for every input (Nie et al. 2018 discuss this). Only ``nn.ReLU`` modules are modified; see
    the module docstring.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(n, *F)`` to ``(n,)``, ``(n, 1)`` or ``(n, n_outputs)``; should be in eval mode.

    Examples
    --------
    >>> import torch; from physxai.testing import tiny_mlp
    >>> from physxai.attribution import Deconvnet
    >>> x = torch.randn(4, 6, dtype=torch.float64)
    >>> Deconvnet(tiny_mlp()).attribute(x, target=0).shape
    torch.Size([4, 6])

    References
    ----------
    M. D. Zeiler, R. Fergus, ECCV 2014, arXiv:1311.2901.
    """

    name = "deconvnet"

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Deconvnet signal at the input, shape, dtype and device of ``inputs``.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            Floating-point batch.
        target : None, int, LongTensor ``(n,)`` or callable ``output -> (n,)``
            The explained output.

        Returns
        -------
        Tensor
            The modified gradient ``(n, *F)``.

        Raises
        ------
        TypeError, ValueError
            For malformed inputs or targets.
        """
        x, tgt = self._prepare(inputs, target)
        return _relu_backprop(self.model, x, tgt, _DeconvnetRule(), self._caller)


class GuidedBackprop(Attribution):
    """Guided backpropagation (Springenberg et al. 2015): the signal passes a ReLU only where
    both the forward input and the incoming signal are positive,
    ``R_l = 1[z > 0] * 1[R_{l+1} > 0] * R_{l+1}``.

    Only ``nn.ReLU`` modules are modified (also in-place ones and one module called several
    times); a functional ``F.relu`` in ``forward`` keeps its ordinary gradient and triggers a
    warning. The method has no baseline.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(n, *F)`` to ``(n,)``, ``(n, 1)`` or ``(n, n_outputs)``; should be in eval mode.

    Examples
    --------
    >>> import torch; from physxai.testing import tiny_cnn
    >>> from physxai.attribution import GuidedBackprop
    >>> x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    >>> GuidedBackprop(tiny_cnn()).attribute(x, target=1).shape
    torch.Size([2, 1, 8, 8])

    References
    ----------
    J. T. Springenberg, A. Dosovitskiy, T. Brox, M. Riedmiller, ICLR workshop 2015,
    arXiv:1412.6806.
    """

    name = "guided_backprop"

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Guided-backpropagation signal at the input, shape, dtype and device of ``inputs``.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            Floating-point batch.
        target : None, int, LongTensor ``(n,)`` or callable ``output -> (n,)``
            The explained output.

        Returns
        -------
        Tensor
            The guided gradient ``(n, *F)``.

        Raises
        ------
        TypeError, ValueError
            For malformed inputs or targets.
        """
        x, tgt = self._prepare(inputs, target)
        return _relu_backprop(self.model, x, tgt, _GuidedRule(), self._caller)


class RectGrad(Attribution):
    """Rectified gradient (Kim et al. 2019): layer-wise thresholding of the backward signal.

    At each ``nn.ReLU`` with output ``a`` and incoming signal ``g``, the signal passes only where
    the importance ``a_i * g_i`` is above ``tau``, the ``percentile``-th percentile of the
    importances of that layer in that sample (the paper's rule; linear interpolation between
    order statistics, as ``numpy.percentile``). The indicator replaces the ReLU's derivative as in
    the authors' code: for ``tau >= 0`` (the usual case, e.g. the default 98) it implies
    ``a_i > 0``; a ``tau < 0`` (low percentiles when many importances are negative) also lets the
    signal through inactive units, whose importance is 0. The attribution is
    ``x * rectified gradient``.

    ``percentile=0`` is not guided backpropagation: tau is then the smallest importance, and only
    the units at that minimum are dropped. A constant threshold ``tau = 0`` (a variant in the
    authors' code) keeps ``a_i g_i > 0``, i.e. ``z_i > 0`` and ``g_i > 0``: that is
    ``GuidedBackprop`` multiplied by the input. The authors' optional final thresholding of the
    map and their zeroing of gradients at padded borders are not applied.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(n, *F)`` to ``(n,)``, ``(n, 1)`` or ``(n, n_outputs)``; should be in eval mode.
        The batch dimension must stay first inside the model (thresholds are per sample).
    percentile : float, default 98.0
        ``q`` in ``[0, 100)``; the paper uses 98 on ImageNet and CIFAR-10.

    Examples
    --------
    >>> import torch; from physxai.testing import tiny_mlp
    >>> from physxai.attribution import RectGrad
    >>> x = torch.randn(4, 6, dtype=torch.float64)
    >>> RectGrad(tiny_mlp(), percentile=90.0).attribute(x, target=2).shape
    torch.Size([4, 6])

    References
    ----------
    B. Kim, J. Seo, S. Jeon, J. Koo, J. Choe, T. Jeon, "Why are saliency maps noisy? Cause of and
    solution to noisy saliency maps", ICCV workshops 2019, arXiv:1902.04893; code:
    github.com/1202kbs/Rectified-Gradient.
    """

    name = "rectgrad"

    def __init__(self, model: Callable[[Tensor], Tensor], *, percentile: float = 98.0):
        super().__init__(model)
        ok = isinstance(percentile, (int, float)) and not isinstance(percentile, bool)
        if not ok or not (0.0 <= percentile < 100.0):  # also rejects NaN
            raise ValueError(
                f"RectGrad: percentile must be a number in [0, 100); got {percentile!r}. "
                "The paper uses 98; 100 would drop every unit."
            )
        self.percentile = percentile

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Input times rectified gradient, shape, dtype and device of ``inputs``.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            Floating-point batch.
        target : None, int, LongTensor ``(n,)`` or callable ``output -> (n,)``
            The explained output.

        Returns
        -------
        Tensor
            ``inputs * rectified gradient``, ``(n, *F)``.

        Raises
        ------
        TypeError, ValueError
            For malformed inputs or targets.
        """
        x, tgt = self._prepare(inputs, target)
        rule = _RectGradRule(float(self.percentile))
        return x * _relu_backprop(self.model, x, tgt, rule, self._caller)
