"""Modified backward passes: swap the gradient rule of activation modules for one forward pass.

Deconvnet, guided backpropagation, RectGrad and DeepLIFT (rescale) all compute the ordinary chain
rule through the linear parts of a network and replace only the local Jacobian of each
nonlinearity by another factor. This module holds the one mechanism they share.

Inside :func:`modified_backward`, every module of the given types (``nn.ReLU`` for the first three,
all elementwise activations for DeepLIFT) is hooked:

* a forward *pre*-hook keeps the activation's input ``x`` (with its autograd history) and hands
  the module a detached copy, so the module builds no graph of its own and, when it works in
  place (``nn.ReLU(inplace=True)``), overwrites the copy and not the caller's tensor;
* a forward hook gives the rule the input and output values of that call (``rule.forward``) and
  returns in place of the module's output a tensor with the same values whose backward is
  ``rule.backward``: ``d out / d x`` becomes whatever the rule says. For an in-place module the
  result is also written back into ``x`` (so code relying on the in-place side effect still sees
  the activated values, now with the modified backward).

Each call of a module gets its own rule state, so one activation module used twice in ``forward``
is handled like two separate modules. The hooks are removed in ``finally``, also when the model
raises. Only modules can be hooked: an activation applied as a function (``F.relu(x)``,
``x.relu()``) keeps its ordinary gradient. :class:`FunctionalSpy` records such calls during the
forward pass so that the methods can warn instead of returning a silently mixed result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

__all__ = [
    "ELEMENTWISE_ACTIVATIONS",
    "NONLINEAR_FUNCTIONS",
    "RELU_FUNCTIONS",
    "ActivationRule",
    "FunctionalSpy",
    "modified_backward",
    "module_names",
]

#: elementwise activation modules: y_i = f(x_i) (PReLU per channel, RReLU deterministic in eval)
ELEMENTWISE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Softsign,
    nn.Hardtanh,
    nn.Hardsigmoid,
    nn.Hardswish,
    nn.LogSigmoid,
    nn.Tanhshrink,
    nn.Softshrink,
    nn.Hardshrink,
    nn.Threshold,
)

#: the functional spellings of ReLU that no module hook can reach
RELU_FUNCTIONS: frozenset = frozenset(
    {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}
)

#: functional nonlinearities (elementwise activations and max pooling) for DeepLIFT's warning
NONLINEAR_FUNCTIONS: frozenset = RELU_FUNCTIONS | frozenset(
    {
        F.leaky_relu,
        F.elu,
        F.selu,
        F.celu,
        F.gelu,
        F.silu,
        F.mish,
        F.softplus,
        F.softsign,
        F.hardtanh,
        F.relu6,
        F.hardsigmoid,
        F.hardswish,
        F.logsigmoid,
        F.sigmoid,
        F.tanh,
        torch.sigmoid,
        torch.tanh,
        torch.Tensor.sigmoid,
        torch.Tensor.tanh,
        F.max_pool1d,
        F.max_pool2d,
        F.max_pool3d,
    }
)


class ActivationRule:
    """How the gradient passes one call of an activation module.

    ``forward`` sees the values of that call and returns the state its backward needs; it must
    copy (not alias) whatever it keeps of ``x``, which an in-place module overwrites afterwards.
    ``backward`` maps the gradient arriving at the output to the gradient passed to the input.
    With ``needs_output = True`` the output is saved by autograd and handed to ``backward``; an
    in-place change of it between forward and backward then raises instead of corrupting the rule.
    """

    needs_output: bool = False

    def forward(self, module: nn.Module, x: Tensor, y: Tensor) -> Any:
        """State for ``backward`` from input ``x`` and output ``y`` of one call (both detached)."""
        return None

    def backward(self, state: Any, grad: Tensor, y: Tensor | None) -> Tensor:  # pragma: no cover
        raise NotImplementedError


class _SwapBackward(torch.autograd.Function):
    """Returns the module's output values with ``rule.backward`` as the local backward.

    The output tensor travels inside a tuple so that autograd does not treat it as an input:
    it becomes this node's output, and its only path back to the graph is the edge to ``x``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, payload: tuple[Tensor, ActivationRule, Any]) -> Tensor:
        y, rule, state = payload
        ctx.rule, ctx.state = rule, state
        if rule.needs_output:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        y = ctx.saved_tensors[0] if ctx.rule.needs_output else None
        return ctx.rule.backward(ctx.state, grad, y), None


class FunctionalSpy(TorchFunctionMode):
    """Records calls of watched torch functions made outside the hooked modules."""

    def __init__(self, watch: Iterable[Callable]):
        super().__init__()
        self.watch = frozenset(watch)
        self.depth = 0  # > 0 while a hooked module runs: its own F.relu is expected
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if self.depth == 0 and func in self.watch:
            name = getattr(func, "__name__", str(func))
            if name not in self.seen:
                self.seen.append(name)
        return func(*args, **(kwargs or {}))


def module_names(model: Any) -> dict[int, str]:
    """``id(module) -> 'path (Type)'`` for messages that point at one layer."""
    if not isinstance(model, nn.Module):
        return {}
    return {id(m): f"{name or '<model>'} ({type(m).__name__})" for name, m in model.named_modules()}


@contextmanager
def modified_backward(
    model: Any,
    types: tuple[type[nn.Module], ...],
    rule: ActivationRule,
    *,
    caller: str,
    spy: FunctionalSpy | None = None,
) -> Iterator[None]:
    """Context in which every module of ``types`` in ``model`` back-propagates by ``rule``.

    Parameters
    ----------
    model : nn.Module or callable
        A callable that is not a module has nothing to hook; the context then does nothing.
    types : tuple of module classes
        The activation modules whose backward is replaced.
    rule : ActivationRule
        The replacement, called once per module call.
    caller : str
        Prefix of error messages.
    spy : FunctionalSpy or None
        Told when a hooked module runs, so that its own functional call is not reported.
    """
    modules = (
        [m for m in model.modules() if isinstance(m, types)] if isinstance(model, nn.Module) else []
    )
    names = module_names(model)
    stack: list[tuple[nn.Module, Tensor]] = []

    def pre_hook(module: nn.Module, args: tuple) -> tuple:
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(
                f"{caller}: activation module {names.get(id(module), type(module).__name__)} "
                "must be called with its input tensor as the first positional argument."
            )
        x = args[0]
        inner = x.detach()
        if getattr(module, "inplace", False):
            inner = inner.clone()  # the module overwrites this copy; x keeps its history
        stack.append((module, x))
        if spy is not None:
            spy.depth += 1
        return (inner, *args[1:])

    def post_hook(module: nn.Module, args: tuple, output: Tensor) -> Tensor:
        owner, x = stack.pop()
        assert owner is module, "activation hooks out of order"
        y = output.detach()
        # x still holds the pre-activation values: an in-place module worked on a copy
        state = rule.forward(module, x.detach(), y)
        if spy is not None:
            spy.depth -= 1
        out = _SwapBackward.apply(x, (y, rule, state))
        if getattr(module, "inplace", False):
            # keep the in-place contract: x now holds the activation, its history the rule
            x.copy_(out)
            return x
        return out

    handles = []
    try:
        for m in modules:
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(post_hook))
        yield
    finally:
        for h in handles:
            h.remove()
        stack.clear()
