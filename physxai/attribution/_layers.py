"""Resolving a ``layer=`` argument and capturing that layer's output during one forward pass.

Layer methods (CAM, Grad-CAM) name a module of the model either by its qualified name, as
``model.named_modules()`` spells it (``"features.conv2"``), or by the module object itself. The
activation is captured with a forward hook that lives only inside a context manager and is removed
in ``finally``, so the caller's model carries no hook afterwards, whatever happens.
"""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import Tensor, nn

__all__ = [
    "capture_input",
    "capture_output",
    "check_spatial",
    "resolve_layer",
    "single_capture",
    "to_input_shape",
]


def resolve_layer(model: Any, layer: Any, caller: str, name: str = "layer") -> nn.Module:
    """The module that ``layer`` names in ``model``: a qualified name or a module object.

    Raises ``ValueError`` (listing the valid names and close ones) when a name is not found, and ``TypeError`` for
    anything that is neither a string nor an ``nn.Module``.
    """
    if isinstance(layer, nn.Module):
        if isinstance(model, nn.Module) and not any(m is layer for m in model.modules()):
            raise ValueError(
                f"{caller}: {name} must be a module of the model; got a "
                f"{type(layer).__name__} that is not among model.modules(). "
                f"Pass the module object from the model itself or its qualified name."
            )
        return layer
    if not isinstance(layer, str):
        raise TypeError(
            f"{caller}: {name} must be a qualified module name (str) or an nn.Module; "
            f"got {type(layer).__name__}."
        )
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{caller}: {name} given by name needs the model to be an nn.Module; got "
            f"{type(model).__name__}. Pass the module object as {name}= instead."
        )
    modules = {key: mod for key, mod in model.named_modules() if key}
    if layer in modules:
        return modules[layer]
    names = list(modules)
    if not names:
        raise ValueError(
            f"{caller}: {name} {layer!r} is not a module of the model; it has no submodules."
        )
    shown = ", ".join(map(repr, names[:30])) + (", ..." if len(names) > 30 else "")
    msg = f"{caller}: {name} {layer!r} is not a module of the model; valid names are {shown}."
    close = difflib.get_close_matches(layer, names, n=3, cutoff=0.5)
    if close:
        msg += f" Perhaps you meant {', '.join(map(repr, close))}."
    raise ValueError(msg)


@contextmanager
def capture_output(
    module: nn.Module, caller: str, *, differentiable: bool = False
) -> Iterator[list[Tensor]]:
    """Record the output of ``module`` during the forward passes run inside the context.

    Yields a list that receives the module's output at each call. With ``differentiable=True``
    the recorded tensor is a fresh leaf that requires grad (so ``torch.autograd.grad`` can take
    derivatives with respect to the activation, whatever the rest of the model requires), and
    the forward pass continues with a copy of it, so an in-place operation downstream (e.g.
    ``ReLU(inplace=True)``) can neither corrupt the recorded values nor break the graph. The hook
    is removed in ``finally``.
    """
    captured: list[Tensor] = []

    def hook(_mod: nn.Module, _inputs: Any, output: Any) -> Any:
        if not isinstance(output, Tensor):
            raise TypeError(
                f"{caller}: the layer must return one tensor (n, C, *spatial); it returned "
                f"{type(output).__name__}. Choose a layer that outputs a single tensor."
            )
        if not differentiable:
            captured.append(output.detach())
            return None
        leaf = output.detach().requires_grad_(True)
        captured.append(leaf)
        return leaf.clone()

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


@contextmanager
def capture_input(module: nn.Module, caller: str) -> Iterator[list[Tensor]]:
    """Record the first positional input of ``module`` as a differentiable leaf.

    The module then runs on that leaf, so ``torch.autograd.grad(y, leaf)`` is the derivative of
    the output with respect to what enters the module (CAM: the pooled features entering the
    linear head). The pre-hook is removed in ``finally``.
    """
    captured: list[Tensor] = []

    def hook(_mod: nn.Module, args: tuple) -> Any:
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(f"{caller}: the linear head must be called with one tensor.")
        leaf = args[0].detach().requires_grad_(True)
        captured.append(leaf)
        return (leaf, *args[1:])

    handle = module.register_forward_pre_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def single_capture(captured: list[Tensor], caller: str, layer: Any, name: str = "layer") -> Tensor:
    """The one recorded activation; a clear error when the layer ran zero or several times."""
    label = repr(layer) if isinstance(layer, str) else type(layer).__name__
    if not captured:
        raise ValueError(
            f"{caller}: {name} {label} was not called during the forward pass of the model; "
            "choose a module that the forward pass uses."
        )
    if len(captured) > 1:
        raise ValueError(
            f"{caller}: {name} {label} was called {len(captured)} times in one forward pass; "
            "its activation is ambiguous. Use a module that runs once (e.g. give a shared "
            "activation its own instance per use)."
        )
    return captured[0]


def check_spatial(activation: Tensor, caller: str, layer: Any) -> None:
    """A layer for CAM/Grad-CAM must output ``(n, C, *spatial)`` with at least one spatial dim."""
    if activation.dim() < 3:
        label = repr(layer) if isinstance(layer, str) else type(layer).__name__
        raise ValueError(
            f"{caller}: layer {label} must output (n, C, *spatial) with at least one spatial "
            f"dimension; got shape {tuple(activation.shape)}. Choose a convolutional layer "
            "before the pooling."
        )


@torch.no_grad()
def to_input_shape(cam: Tensor, inputs: Tensor, upsample: bool, caller: str) -> Tensor:
    """Bring a map ``(n, *spatial_layer)`` to the shape of ``inputs`` (or ``(n, 1, *spatial)``).

    With ``upsample`` the map is interpolated (linear, bilinear or trilinear,
    ``align_corners=False``) to the trailing spatial size of ``inputs`` and broadcast over the
    inputs' remaining per-sample dimensions (channels), so the result has exactly their shape.
    """
    n_spatial = cam.dim() - 1
    if not upsample:
        return cam.unsqueeze(1).to(inputs.dtype).contiguous()
    if inputs.dim() - 1 < n_spatial:
        raise ValueError(
            f"{caller}: the layer has {n_spatial} spatial dimension(s) but inputs of shape "
            f"{tuple(inputs.shape)} have only {inputs.dim() - 1} per-sample dimension(s) to "
            "upsample to. Use upsample=False for the map at layer resolution."
        )
    size = tuple(inputs.shape[inputs.dim() - n_spatial :])
    if tuple(cam.shape[1:]) != size:
        modes = {1: "linear", 2: "bilinear", 3: "trilinear"}
        if n_spatial not in modes:
            raise ValueError(
                f"{caller}: upsampling supports 1 to 3 spatial dimensions; the layer output has "
                f"{n_spatial}. Use upsample=False."
            )
        cam = nn.functional.interpolate(
            cam.unsqueeze(1), size=size, mode=modes[n_spatial], align_corners=False
        )[:, 0]
    lead = (1,) * (inputs.dim() - 1 - n_spatial)
    out = cam.reshape(cam.shape[0], *lead, *size).expand(inputs.shape)
    return out.to(inputs.dtype).contiguous()
