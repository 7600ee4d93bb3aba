"""DeepLIFT with the rescale rule: differences from a reference, propagated by multipliers.

DeepLIFT explains the difference ``f(x) - f(x_ref)`` of the output between the input and a
reference input (the *baseline*). Every neuron gets a difference ``dz = z(x) - z(x_ref)`` and a
multiplier ``m = dR/dz``; multipliers follow the chain rule (Shrikumar et al. 2017, Sec. 3.2), and
the attribution of an input feature is ``R_i = (x_i - x_ref_i) * m_i``.

* Linear layers (Linear, Conv, average pooling, BatchNorm in eval, Flatten) pass multipliers
  like gradients: for them the difference is exactly linear.
* At an elementwise nonlinearity ``y = f(z)`` the *rescale rule* (Sec. 3.5.2) replaces the
  derivative by the secant slope ``m = (f(z) - f(z_ref)) / (z - z_ref)``, falling back to the
  derivative ``f'(z)`` where ``|z - z_ref|`` is below a dtype tolerance (1e-10 in float64).

With every nonlinearity an elementwise activation module, ``dz_out = m * dz_in`` holds exactly at
every unit, so the attributions sum to the difference of outputs (summation-to-delta, Eq. 1):
``sum_i R_i = f(x) - f(x_ref)``. Operations without a rule pass the ordinary gradient and break
this: max pooling (Captum uses a special max-pool rule; we do not), softmax, products of
activations, normalisation layers with batch statistics, and activations applied as functions in
``forward`` (``F.relu``, ``torch.tanh``), which no hook can reach. After each call the method
checks summation-to-delta and warns when it fails, naming any functional activation it saw.

The reference activations come from a separate forward pass of the baseline (expanded to the
batch); the activation modules are matched call by call, so one module used twice and in-place
activations are handled, and a model that takes a different path for the baseline raises.

References
----------
A. Shrikumar, P. Greenside, A. Kundaje, "Learning important features through propagating
activation differences", ICML 2017, arXiv:1704.02685. M. Ancona, E. Ceolini, C. Oeztireli,
M. Gross, "Towards better understanding of gradient-based attribution methods for deep neural
networks", ICLR 2018, arXiv:1711.06104 (DeepLIFT rescale as a modified gradient).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_baseline
from ._base import Attribution, no_param_grad
from ._modified_backward import (
    ELEMENTWISE_ACTIVATIONS,
    NONLINEAR_FUNCTIONS,
    ActivationRule,
    FunctionalSpy,
    modified_backward,
    module_names,
)

__all__ = ["DeepLift"]


def _secant_tolerance(dtype: torch.dtype) -> float:
    """Below this ``|z - z_ref|`` the secant slope is replaced by the derivative: 1e-10 in float64
    (Captum's value), ``8 * eps`` for lower precisions, where the quotient of two rounded
    differences would otherwise be noise (float32: 9.5e-7)."""
    return max(1e-10, 8 * torch.finfo(dtype).eps)


class _RecordRule(ActivationRule):
    """Reference pass: keep each call's module, input and output; the backward is never used."""

    def __init__(self) -> None:
        self.calls: list[tuple[nn.Module, Tensor, Tensor]] = []

    def forward(self, module: nn.Module, x: Tensor, y: Tensor) -> None:
        self.calls.append((module, x.clone(), y))

    def backward(self, state: Any, grad: Tensor, y: Tensor | None) -> Tensor:  # pragma: no cover
        raise AssertionError("the reference pass is not differentiated")


class _RescaleRule(ActivationRule):
    """Input pass: each call's multiplier is the secant slope to the matching reference call."""

    def __init__(
        self, reference: list[tuple[nn.Module, Tensor, Tensor]], names: dict[int, str], caller: str
    ):
        self.reference = reference
        self.names = names
        self.caller = caller
        self.n_calls = 0

    def _name(self, module: nn.Module) -> str:
        return self.names.get(id(module), type(module).__name__)

    def forward(self, module: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        k = self.n_calls
        self.n_calls += 1
        if k >= len(self.reference) or self.reference[k][0] is not module:
            ref = self._name(self.reference[k][0]) if k < len(self.reference) else "no call"
            raise ValueError(
                f"{self.caller}: the model called its activation modules in a different order "
                f"for the inputs than for the baseline (call {k + 1}: {self._name(module)} for the "
                f"inputs, {ref} for the baseline). DeepLIFT needs the same computation path for "
                "both; use a baseline that takes the same branches."
            )
        _, x_ref, y_ref = self.reference[k]
        if x_ref.shape != x.shape:
            raise ValueError(
                f"{self.caller}: activation {self._name(module)} got shape {tuple(x.shape)} "
                f"for the inputs and {tuple(x_ref.shape)} for the baseline; DeepLIFT pairs them "
                "elementwise."
            )
        dx = x - x_ref
        dy = y - y_ref
        small = dx.abs() < _secant_tolerance(x.dtype)
        # rescale rule, Shrikumar et al. 2017, Sec. 3.5.2: m = dy / dx
        multiplier = dy / torch.where(small, torch.ones_like(dx), dx)
        if bool(small.any()):
            # limit dx -> 0 of the secant: the derivative at x
            multiplier = torch.where(small, _derivative(module, x), multiplier)
        return multiplier

    def backward(self, state: Tensor, grad: Tensor, y: Tensor | None) -> Tensor:
        # chain rule for multipliers, Sec. 3.2: m_in = m_out * (dy / dx)
        return grad * state


def _derivative(module: nn.Module, x: Tensor) -> Tensor:
    """``f'(x)`` of an elementwise activation module, by autograd on its ``forward`` (no hooks)."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        (d,) = torch.autograd.grad(module.forward(leaf.clone()).sum(), leaf)
    return d


class DeepLift(Attribution):
    """DeepLIFT with the rescale rule (Shrikumar et al. 2017).

    ``R_i = (x_i - baseline_i) * m_i``, where the multipliers ``m`` are the gradient with each
    elementwise activation's derivative replaced by its secant slope between the baseline's and
    the input's pre-activation. For a network of linear layers and elementwise activation
    modules, ``sum_i R_i = f(x) - f(baseline)`` exactly; see the module docstring for what breaks
    this (max pooling passes the plain gradient) and the warning that reports it.

    Hooked activations: ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, SELU, CELU, GELU, SiLU, Mish,
    Sigmoid, Tanh, Softplus, Softsign, Hardtanh, Hardsigmoid, Hardswish, LogSigmoid, Tanhshrink,
    Softshrink, Hardshrink, Threshold; in place or not, one module possibly called several times.

    Parameters
    ----------
    model : nn.Module or callable
        Maps ``(n, *F)`` to ``(n,)``, ``(n, 1)`` or ``(n, n_outputs)``. It should be in eval mode
        and treat rows independently: the baseline goes through it as a second batch.

    Examples
    --------
    >>> import torch; from physxai.testing import tiny_mlp
    >>> from physxai.attribution import DeepLift, completeness_delta
    >>> model = tiny_mlp(activation=torch.nn.Tanh)
    >>> x = torch.randn(4, 6, dtype=torch.float64)
    >>> R = DeepLift(model).attribute(x, target=0, baseline=0.0)
    >>> bool(completeness_delta(model, x, R, target=0, baseline=0.0).abs().max() < 1e-12)
    True

    References
    ----------
    A. Shrikumar, P. Greenside, A. Kundaje, ICML 2017, arXiv:1704.02685.
    """

    name = "deeplift"

    def __init__(self, model: Callable[[Tensor], Tensor]):
        super().__init__(model)

    def attribute(
        self, inputs: Tensor, *, target: Any = None, baseline: float | Tensor | None = 0.0
    ) -> Tensor:
        """DeepLIFT (rescale) contributions of each feature to ``f(x) - f(baseline)``.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            Floating-point batch.
        target : None, int, LongTensor ``(n,)`` or callable ``output -> (n,)``
            The explained output (a nonlinear read-out passes its plain gradient).
        baseline : float, Tensor ``(1, *F)`` or ``(n, *F)``, or None
            The reference input; ``None`` means 0.0. Same dtype and device as ``inputs``.

        Returns
        -------
        Tensor
            Contributions ``(n, *F)`` with the dtype and device of ``inputs``.

        Raises
        ------
        TypeError, ValueError
            For malformed inputs, targets or baselines (``baseline must broadcast``), or when
            the model calls its activations in another order for the baseline than for the
            inputs.

        Warns
        -----
        UserWarning
            When ``sum R`` differs from ``f(x) - f(baseline)`` beyond rounding: some nonlinearity
            had no rescale rule (max pooling, functional activations, a nonlinear target).
        """
        caller = self._caller
        x, tgt = self._prepare(inputs, target)
        base = check_baseline(baseline, x, caller).contiguous()
        model = self.model
        index = torch.arange(x.shape[0], device=x.device)
        names = module_names(model)
        spy = FunctionalSpy(NONLINEAR_FUNCTIONS)
        record = _RecordRule()
        with no_param_grad(model):
            # reference pass: the baseline's activations, call by call
            with (
                torch.no_grad(),
                modified_backward(model, ELEMENTWISE_ACTIVATIONS, record, caller=caller),
            ):
                f_ref = tgt(model(base), index)
            rescale = _RescaleRule(record.calls, names, caller)
            with (
                torch.enable_grad(),
                modified_backward(model, ELEMENTWISE_ACTIVATIONS, rescale, caller=caller, spy=spy),
            ):
                leaf = x.detach().requires_grad_(True)
                with spy:
                    out = model(leaf)
                selected = tgt(out, index)
                if rescale.n_calls != len(record.calls):
                    raise ValueError(
                        f"{caller}: the model called activation modules {rescale.n_calls} "
                        f"times for the inputs and {len(record.calls)} times for the baseline; "
                        "DeepLIFT needs the same computation path for both."
                    )
                (grad,) = torch.autograd.grad(selected.sum(), leaf, allow_unused=True)
        grad = torch.zeros_like(x) if grad is None else grad
        attribution = (x - base) * grad
        self._check_summation(attribution, selected.detach() - f_ref, spy.seen)
        return attribution

    def _check_summation(
        self, attribution: Tensor, delta_out: Tensor, functional: list[str]
    ) -> None:
        """Warn when summation-to-delta (Eq. 1) fails beyond rounding."""
        gap = (attribution.flatten(1).sum(1) - delta_out).abs()
        eps = torch.finfo(attribution.dtype).eps
        scale = attribution.flatten(1).abs().sum(1) + delta_out.abs() + 1.0
        if bool((gap > eps**0.5 * scale).any()):
            seen = f" It saw {', '.join(functional)} applied as a function." if functional else ""
            warnings.warn(
                f"{self._caller}: sum of attributions differs from f(x) - f(baseline) by up to "
                f"{float(gap.max()):.3g}: some nonlinearity has no rescale rule and passed the "
                "plain gradient (max pooling, softmax, activations applied as functions in "
                f"forward, a nonlinear target).{seen} Use activation modules, or average pooling, "
                "for exact DeepLIFT.",
                UserWarning,
                stacklevel=3,
            )
