"""The LRP engine: the gradient trick with per-call autograd nodes.

During one forward pass, a forward hook on every layer that has a rule swaps the layer's output
for an identical tensor produced by a custom autograd function whose backward is the layer's rule
(seed 001: "reuse forward and backward passes"). One ordinary backward pass from the explained
output, seeded with the output value itself, then carries *relevance* through the network: each
hooked layer turns the relevance at its output into relevance at its input, and the parameter-free
layers without a rule (max pooling, flatten, dropout, reshapes, functional ops) pass it with their
plain gradient. The gradient at the input is the relevance map.

Every call of a layer gets its own autograd node holding that call's input, so a module used twice
in the forward pass (one ReLU object applied after two layers, a weight-shared Linear) is handled
correctly. In-place activations (``nn.ReLU(inplace=True)``) are handled by keeping a copy of their
input from before the in-place write; any other in-place write to a tensor a rule still needs is
caught by autograd's version counter and reported as a clear error rather than giving a silently
wrong heatmap. Hooks live only inside :class:`Session` and are removed in ``finally``; rules
re-evaluate layers with detached, modified weights, so no parameter receives a gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..._validation import TargetFn
from ...errors import UnsupportedLayerError
from ._layer import AFFINE_TYPES, POOL_TYPES, Layer, display_path
from .canonizers import Canonizer, Merge
from .composites import ACTIVATION_TYPES, Composite
from .rules import Epsilon, Pass, Rule

__all__ = ["Session", "relevance"]


class _Call:
    """What one call of a hooked layer hands to its autograd node."""

    __slots__ = ("graph", "key", "layer", "output", "rule", "session", "version")

    def __init__(self, rule: Rule, layer: Layer, output: Tensor, session: Session, key: str):
        self.rule = rule
        self.layer = layer
        self.output = output  # the values the node returns (handed over in forward)
        self.session = session
        self.key = key
        # For the epsilon rule: the layer's own output with its forward graph, and the version of
        # its storage, so backward can reuse the graph (no re-evaluation) and detect whether a
        # later in-place op (a ReLU(inplace=True)) overwrote the values.
        self.graph: Tensor | None = None
        self.version = 0


class _RuleFunction(torch.autograd.Function):
    """Forward: the layer's own output. Backward: the layer's rule applied to the relevance."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, call: _Call) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)  # version-checked: an in-place write to x after this call raises
        ctx.call = call
        out, call.output = call.output, None
        return out

    @staticmethod
    def backward(ctx: Any, relevance: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        call: _Call = ctx.call
        with torch.enable_grad():
            graph, call.graph = call.graph, None
            # the layer's own graph is reusable unless a later in-place op (a following
            # ReLU(inplace=True)) overwrote its output; then the layer is re-evaluated
            if (
                isinstance(call.rule, Epsilon)
                and graph is not None
                and graph._version == call.version
            ):
                r = call.rule.propagate_on_graph(
                    call.layer, x, relevance.detach(), graph, graph.detach()
                )
            else:
                r = call.rule.propagate(call.layer, x.detach(), relevance.detach())
        call.session.record(call.key, r)
        return r, None


class _PassFunction(torch.autograd.Function):
    """Forward: the layer's own output. Backward: the relevance, unchanged (the Pass rule)."""

    @staticmethod
    def forward(ctx: Any, source: Tensor, call: _Call) -> Tensor:  # type: ignore[override]
        ctx.call = call
        out, call.output = call.output, None
        return out

    @staticmethod
    def backward(ctx: Any, relevance: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        ctx.call.session.record(ctx.call.key, relevance)
        return relevance, None


class _InplaceFunction(torch.autograd.Function):
    """For an in-place layer (``ReLU(inplace=True)``): rebase the overwritten tensor's history.

    ``h`` is the layer's input, already overwritten with its output; ``x`` a copy of the input
    taken before the write. The node marks ``h`` dirty, so ``h`` itself now comes from this node
    and its backward (the rule, from ``x``) replaces the layer's own gradient, whether the model
    uses the layer's return value or relies on the side effect.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, h: Tensor, call: _Call) -> Tensor:  # type: ignore[override]
        ctx.mark_dirty(h)
        ctx.save_for_backward(x)
        ctx.call = call
        call.output = None
        return h

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, relevance: Tensor
    ) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        call: _Call = ctx.call
        if isinstance(call.rule, Pass):
            r = relevance
        else:
            with torch.enable_grad():
                r = call.rule.propagate(call.layer, x.detach(), relevance.detach())
        call.session.record(call.key, r)
        return r, None, None


#: layers that write their input in place only when their ``inplace`` flag says so
_DECLARED = (*AFFINE_TYPES, *POOL_TYPES, *ACTIVATION_TYPES)


def _under(name: str, prefixes: list[str]) -> bool:
    return any(p == "" or name.startswith(p + ".") for p in prefixes)


class Session:
    """Hooks for one LRP attribution of ``model``; a context manager that always cleans up.

    Parameters
    ----------
    model : nn.Module
    composite : Composite
    canonizers : sequence of Canonizer
    caller : str
        Prefix of error messages (``"LRP.attribute"``).
    record : bool
        Keep the relevance at the input of every hooked layer (see :meth:`record`).
    """

    def __init__(
        self,
        model: nn.Module,
        composite: Composite,
        canonizers: Sequence[Canonizer],
        caller: str,
        record: bool = False,
    ):
        self.model = model
        self.composite = composite
        self.canonizers = list(canonizers)
        self.caller = caller
        self.records: dict[str, Tensor] | None = {} if record else None
        self.active = False
        self._handles: list[Any] = []
        self._stash: dict[int, Any] = {}
        self._pairs: dict[int, tuple[Tensor, Tensor]] = {}
        self._counts: dict[str, int] = {}

    # -- context -------------------------------------------------------------------------------
    def __enter__(self) -> Session:
        try:
            self._register()
        except BaseException:
            self._remove()
            raise
        self.active = True
        return self

    def __exit__(self, *exc: object) -> bool:
        self._remove()
        return False

    def _remove(self) -> None:
        self.active = False
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._stash.clear()
        self._pairs.clear()

    def finish_forward(self) -> None:
        """Called after the forward pass: no more hooks fire (rules re-run layers in backward)."""
        self.active = False
        self._stash.clear()
        if self._pairs:
            self._pairs.clear()
            raise UnsupportedLayerError(
                f"{self.caller}: a Linear/Conv layer merged with its BatchNorm was called without "
                "the BatchNorm being applied to its output; MergeBatchNorm cannot merge it. Pass "
                "canonizers=[] and give the BatchNorm a rule, or use a gradient method."
            )

    def record(self, key: str, relevance: Tensor) -> None:
        """Keep the relevance at the input of the layer call ``key`` (when recording)."""
        if self.records is not None:
            self.records[key] = relevance.detach()

    # -- registration --------------------------------------------------------------------------
    def _register(self) -> None:
        caller, model, composite = self.caller, self.model, self.composite
        modules = list(model.named_modules())
        known = [name for name, _ in modules]
        missing = [key for key in composite.names if key not in known]
        if missing:
            shown = ", ".join(repr(k) for k in known if k)
            raise ValueError(
                f"{caller}: the composite names layer(s) {', '.join(map(repr, missing))} that the "
                f"model does not have; its layers are: {shown}."
            )
        merges: list[Merge] = []
        problems: dict[str, str] = {}
        for canonizer in self.canonizers:
            found, issues = canonizer.plan(model)
            merges += found
            problems.update(issues)
        by_norm = {id(m.norm): m for m in merges}
        by_linear = {id(m.linear): m for m in merges}
        first = next((m for _, m in modules if isinstance(m, AFFINE_TYPES)), None)
        ruled: list[str] = []  # containers that got a rule: their children are not visited
        for name, module in modules:
            if _under(name, ruled):
                continue
            if id(module) in by_linear:
                continue  # hooked together with its BatchNorm below
            if id(module) in by_norm:
                merge = by_norm[id(module)]
                rule = composite.rule_for(
                    merge.linear_name, merge.linear, is_first=merge.linear is first
                )
                if rule is None:
                    raise self._no_rule(merge.linear_name, merge.linear)
                self._hook_merge(merge, rule)
                continue
            path = display_path(name, module)
            rule = composite.rule_for(name, module, is_first=module is first)
            if rule is not None:
                layer = Layer(module, path)
                if rule.needs_weights and layer.kind == "module":
                    raise UnsupportedLayerError(
                        f"{caller}: the rule {rule!r} modifies weights and applies only to "
                        f"Linear, Conv and average-pooling layers; layer {path} is none of them. "
                        "Give it Epsilon() (its own Jacobian) or Pass() in the composite."
                    )
                self._hook(name, module, rule, layer)
                if next(module.children(), None) is not None:
                    ruled.append(name)
                continue
            if name in problems:
                raise UnsupportedLayerError(
                    f"{caller}: layer {path} cannot be merged by MergeBatchNorm: {problems[name]}. "
                    f"Give it a rule in the composite (e.g. composite={{{name!r}: Pass()}}) or "
                    "use a gradient method (gradient_x_input, integrated_gradients)."
                )
            if next(module.parameters(recurse=False), None) is not None:
                raise self._no_rule(name, module)

    def _no_rule(self, name: str, module: nn.Module) -> UnsupportedLayerError:
        kind = type(module).__name__
        return UnsupportedLayerError(
            f"{self.caller}: layer {display_path(name, module)} has parameters but no LRP rule. "
            f"Give it a rule in a composite mapping, e.g. composite={{{name!r}: Pass()}} or "
            f"EpsilonPlus(mapping={{nn.{kind}: Epsilon()}}), or explain the model with a "
            "gradient method (gradient_x_input, integrated_gradients), which works with any "
            "differentiable layer."
        )

    def _key(self, name: str) -> str:
        k = self._counts.get(name, 0)
        self._counts[name] = k + 1
        return name if k == 0 else f"{name}#{k}"

    def _single_input(self, args: tuple, kwargs: dict, path: str) -> Tensor:
        if len(args) != 1 or kwargs or not isinstance(args[0], Tensor):
            raise UnsupportedLayerError(
                f"{self.caller}: layer {path} was called with {len(args)} positional and "
                f"{len(kwargs)} keyword argument(s); an LRP rule needs a layer called with one "
                "tensor. Wrap the call in a module of one input, or use a gradient method."
            )
        return args[0]

    def _hook(self, name: str, module: nn.Module, rule: Rule, layer: Layer) -> None:
        inplace = bool(getattr(module, "inplace", False))
        path = layer.path

        def pre(mod: nn.Module, args: tuple) -> None:
            if not self.active or not args or not isinstance(args[0], Tensor):
                return
            x = args[0]
            if not inplace:
                self._stash[id(mod)] = x._version  # to detect an undeclared in-place write
                return
            if not x.requires_grad:
                self._stash[id(mod)] = None
                return
            if x._is_view():
                raise UnsupportedLayerError(
                    f"{self.caller}: the in-place layer {path} is applied to a view of another "
                    "tensor; LRP cannot reroute its backward. Use inplace=False for this layer."
                )
            # An in-place layer overwrites its input. Keep a copy from before the write (it
            # carries the history below this layer), and detach the input itself so the layer's
            # own gradient node is never recorded; the post hook gives the overwritten tensor
            # its new history (the rule), whether the model uses the return value or not.
            self._stash[id(mod)] = x.clone()
            x.detach_()
            return

        def post(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            if not self.active:
                return None
            x = self._single_input(args, kwargs, path)
            entry = self._stash.pop(id(mod), None)
            if not isinstance(output, Tensor):
                raise UnsupportedLayerError(
                    f"{self.caller}: layer {path} returned {type(output).__name__}; an LRP rule "
                    "needs a layer that returns one tensor."
                )
            written = inplace and output is x
            if inplace:
                if entry is None:  # the input does not depend on the explained inputs
                    return None
                source = entry
                if not written:
                    x = source
            else:
                if entry is not None and x._version != entry:
                    raise UnsupportedLayerError(
                        f"{self.caller}: layer {path} modified its input in place; LRP needs the "
                        "input as it was. Use the out-of-place form of the layer."
                    )
                if not x.requires_grad:
                    return None
                source = x
            if isinstance(rule, Pass) and output.shape != source.shape:
                raise UnsupportedLayerError(
                    f"{self.caller}: Pass at layer {path} needs a layer that keeps the shape of "
                    f"its input; got input {tuple(source.shape)} and output {tuple(output.shape)}."
                )
            rule.check(layer, source, self.caller)
            call = _Call(rule, layer, output.detach(), self, self._key(name))
            if written:
                return _InplaceFunction.apply(source, output, call)
            if isinstance(rule, Pass):
                return _PassFunction.apply(source, call)
            if isinstance(rule, Epsilon) and not inplace and output.grad_fn is not None:
                call.graph, call.version = output, output._version
            return _RuleFunction.apply(source, call)

        # torch's own layers declare in-place writes (``inplace``); others are watched
        if inplace or not isinstance(module, _DECLARED):
            self._handles.append(module.register_forward_pre_hook(pre))
        self._handles.append(module.register_forward_hook(post, with_kwargs=True))

    def _hook_merge(self, merge: Merge, rule: Rule) -> None:
        layer = Layer(merge.linear, merge.path, merge.weight, merge.bias)
        lin_path = display_path(merge.linear_name, merge.linear)

        def post_linear(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            if not self.active:
                return
            x = self._single_input(args, kwargs, lin_path)
            if id(merge.norm) in self._pairs:
                self._pairs.clear()
                raise UnsupportedLayerError(
                    f"{self.caller}: cannot merge {merge.path}: {lin_path} was called again before "
                    "its BatchNorm; pass canonizers=[] and give the BatchNorm a rule."
                )
            self._pairs[id(merge.norm)] = (x, output)
            return

        def post_norm(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> Any:
            if not self.active:
                return None
            pending = self._pairs.pop(id(mod), None)
            if pending is None or len(args) != 1 or kwargs or args[0] is not pending[1]:
                raise UnsupportedLayerError(
                    f"{self.caller}: cannot merge {merge.path}: the BatchNorm's input is not the "
                    f"output of {lin_path}; pass canonizers=[] and give the BatchNorm a rule."
                )
            x = pending[0]
            if isinstance(merge.linear, nn.Linear) and output.dim() != 2:
                raise UnsupportedLayerError(
                    f"{self.caller}: cannot merge {merge.path}: a BatchNorm1d normalises dim 1, "
                    f"which is the Linear layer's feature dim only for 2-d outputs; got "
                    f"{output.dim()}-d."
                )
            if not x.requires_grad:
                return None
            rule.check(layer, x, self.caller)
            call = _Call(rule, layer, output.detach(), self, self._key(merge.linear_name))
            if isinstance(rule, Epsilon) and output.grad_fn is not None:
                call.graph, call.version = output, output._version
            return _RuleFunction.apply(x, call)

        self._handles.append(merge.linear.register_forward_hook(post_linear, with_kwargs=True))
        self._handles.append(merge.norm.register_forward_hook(post_norm, with_kwargs=True))


def relevance(
    model: nn.Module,
    composite: Composite,
    canonizers: Sequence[Canonizer],
    x: Tensor,
    target: TargetFn,
    caller: str,
    record: bool = False,
) -> tuple[Tensor, dict[str, Tensor] | None]:
    """Relevance at the input (shape of ``x``), and per layer if ``record``.

    The relevance at the model output is the explained output itself: ``R_out = out * d y/d out``
    with ``y`` the selected target (``y`` at its column for an int or per-sample target; for a
    linear read-out ``y = sum_k c_k out_k``, ``R_k = c_k out_k``), so ``sum R = f(x)`` wherever
    relevance is conserved.
    """
    index = torch.arange(x.shape[0], device=x.device)
    with Session(model, composite, canonizers, caller, record) as session, torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        # a copy, so that an in-place first layer writes neither the caller's tensor nor a leaf
        out = model(leaf.clone())
        session.finish_forward()
        selected = target(out, index)
        R: Tensor | None = None
        if out.requires_grad and selected.requires_grad:
            (g,) = torch.autograd.grad(selected.sum(), out, allow_unused=True)
            if g is not None:
                seed = out.detach() * g
                try:
                    (R,) = torch.autograd.grad(out, leaf, seed, allow_unused=True)
                except RuntimeError as err:
                    if "modified by an inplace operation" in str(err):
                        raise RuntimeError(
                            f"{caller}: the model wrote in place to a tensor that an LRP rule "
                            "still needs (a layer's input, changed after the layer used it). "
                            "Use out-of-place operations there (e.g. inplace=False)."
                        ) from err
                    raise
    if R is None:
        R = torch.zeros_like(x)
    return R.detach(), session.records
