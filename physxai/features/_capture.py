"""Capturing the activations of named layers, with hooks that never outlive the call.

Feature visualisation reads a model's inner layers: a neuron, a channel, a layer's norm. A layer
is named as ``model.named_modules()`` spells it (``"features.act1"``). :func:`layer_capture` is a
context manager that records the output of each named module during the forward passes run inside
it, keeps the recorded tensor in the autograd graph (so activation maximisation can
differentiate an objective on it), and hands the rest of the network a *copy*, so an in-place
operation downstream (``ReLU(inplace=True)``) cannot change what was recorded. The hooks are
removed in ``finally``. :func:`capture_activations` runs a whole data set through the model in
batches and returns each layer's activations, detached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_inputs, check_positive_int, check_same_device, warn_if_training
from ..attribution._layers import resolve_layer

__all__ = ["capture_activations", "layer_capture", "resolve_layers"]


def resolve_layers(
    model: Any, layers: Sequence[str], caller: str, where: str = "layers"
) -> dict[str, nn.Module]:
    """Map each layer name to its module (the attribution core's ``resolve_layer``, which names
    the valid layers and close matches when one is missing)."""
    if not layers:
        return {}
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{caller}: {where} needs inner layers ({', '.join(map(repr, layers))}), so the "
            f"model must be a torch.nn.Module; got {type(model).__name__}."
        )
    found = {}
    for layer in layers:
        if not isinstance(layer, str):
            raise TypeError(
                f"{caller}: layer names must be str (as model.named_modules() spells them); "
                f"got {type(layer).__name__}."
            )
        found[layer] = resolve_layer(model, layer, caller, name=f"the layer of {where}")
    return found


@contextmanager
def layer_capture(
    modules: dict[str, nn.Module], caller: str, *, detach: bool = False
) -> Iterator[dict[str, list[Tensor]]]:
    """Record the outputs of ``modules`` during the forward passes run inside the context.

    Yields ``{name: [output of each call]}``. With ``detach=False`` the recorded tensor stays in
    the graph and the network continues with a clone of it (safe against in-place layers
    downstream). Hooks are removed in ``finally``.
    """
    captured: dict[str, list[Tensor]] = {name: [] for name in modules}
    handles = []

    def make_hook(name: str) -> Callable[..., Any]:
        def hook(_mod: nn.Module, _inputs: Any, output: Any) -> Any:
            if not isinstance(output, Tensor):
                raise TypeError(
                    f"{caller}: layer {name!r} must return one tensor; it returned "
                    f"{type(output).__name__}. Choose a layer with a single tensor output."
                )
            if detach:
                captured[name].append(output.detach().clone())
                return None
            captured[name].append(output)
            return output.clone()

        return hook

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make_hook(name)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def single_output(captured: dict[str, list[Tensor]], caller: str) -> dict[str, Tensor]:
    """The one output of each layer in one forward pass; errors for layers run 0 or 2+ times."""
    out = {}
    for name, values in captured.items():
        if not values:
            raise ValueError(
                f"{caller}: layer {name!r} was not called during the forward pass of the model; "
                "choose a module that the forward pass uses."
            )
        if len(values) > 1:
            raise ValueError(
                f"{caller}: layer {name!r} was called {len(values)} times in one forward pass, "
                "so its activation is ambiguous. Give a shared module its own instance per use."
            )
        out[name] = values[0]
    return out


def capture_activations(
    model: nn.Module,
    inputs: Tensor,
    layers: str | Sequence[str],
    *,
    max_batch_size: int = 256,
    flatten: bool = False,
) -> dict[str, Tensor]:
    """The activations of named layers over a data set, computed in batches.

    Parameters
    ----------
    model : nn.Module
        The network; its mode is not toggled (training mode warns) and no hook remains.
    inputs : Tensor, shape ``(n, *F)``
        The data set, on the model's device.
    layers : str or sequence of str
        Qualified module names (``"features.act1"``); ``""`` is not a layer (use the model's
        output directly).
    max_batch_size : int, default 256
        Rows per forward pass; the result does not depend on it.
    flatten : bool, default False
        Return each activation as ``(n, prod(shape))`` instead of its own shape.

    Returns
    -------
    dict of str to Tensor
        ``{layer: activations (n, *shape)}``, detached, on the inputs' device.

    Raises
    ------
    ValueError
        A name that is not a module of the model (the message lists the valid names), a layer
        the forward pass does not use or uses twice, bad inputs or ``max_batch_size``.
    TypeError
        A model that is not an ``nn.Module``.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from physxai.features import capture_activations
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> acts = capture_activations(model, torch.randn(10, 3), ["1"])
    >>> acts["1"].shape
    torch.Size([10, 4])
    """
    caller = "capture_activations"
    inputs = check_inputs(inputs, caller)
    check_positive_int(max_batch_size, caller, "max_batch_size")
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise ValueError(f"{caller}: layers must name at least one layer; got an empty list.")
    modules = resolve_layers(model, names, caller)
    check_same_device(model, inputs, caller)
    warn_if_training(model, caller)
    parts: dict[str, list[Tensor]] = {name: [] for name in names}
    with torch.no_grad():
        for start in range(0, inputs.shape[0], max_batch_size):
            with layer_capture(modules, caller, detach=True) as captured:
                model(inputs[start : start + max_batch_size])
            for name, value in single_output(captured, caller).items():
                parts[name].append(value)
    out = {name: torch.cat(values) for name, values in parts.items()}
    if flatten:
        out = {name: value.reshape(value.shape[0], -1) for name, value in out.items()}
    return out
