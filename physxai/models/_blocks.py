"""Shared pieces of the reference architectures: activation lookup and argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

ActivationSpec = str | Callable[[], nn.Module]

#: activation names accepted by ``MLP`` and ``CNN``; each call builds a fresh module instance
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "gelu": nn.GELU,
}


def make_activation(spec: ActivationSpec, caller: str) -> nn.Module:
    """A new activation module (never shared between layers, never in-place)."""
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise ValueError(
                f"{caller}: activation must be one of {', '.join(map(repr, ACTIVATIONS))} or an "
                f"nn.Module class; got {spec!r}."
            )
        return ACTIVATIONS[spec]()
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        module = spec()
    elif isinstance(spec, nn.Module):
        raise TypeError(
            f"{caller}: activation must be a name or an nn.Module class, not an instance "
            f"({type(spec).__name__}); one instance reused in every layer breaks hook-based "
            f"attribution. Pass the class, e.g. activation=nn.{type(spec).__name__}."
        )
    elif callable(spec):
        module = spec()
    else:
        raise TypeError(
            f"{caller}: activation must be a name or an nn.Module class; got {type(spec).__name__}."
        )
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"{caller}: activation() must return an nn.Module; got {type(module).__name__}."
        )
    if getattr(module, "inplace", False):
        raise ValueError(
            f"{caller}: activation must not be in-place ({type(module).__name__}(inplace=True)); "
            "in-place activations overwrite the tensors that backward hooks need."
        )
    return module


def check_sizes(value: Any, caller: str, name: str, allow_empty: bool = True) -> tuple[int, ...]:
    """A tuple of positive ints (an int is a 1-tuple)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    ok = isinstance(value, (tuple, list)) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    )
    if not ok or (not allow_empty and len(value) == 0):
        least = "" if allow_empty else "non-empty "
        raise ValueError(
            f"{caller}: {name} must be a {least}tuple of positive ints; got {value!r}."
        )
    return tuple(value)
