"""The generic attribution core: one call shape for every method, on any ``nn.Module`` or callable.

>>> from physxai import attribute                                  # doctest: +SKIP
>>> R = attribute(model, x, "integrated_gradients", target=3, baseline=0.0, n_steps=64)
>>> R = IntegratedGradients(model, n_steps=64).attribute(x, target=3, baseline=0.0)

The class and the function are two doors to the same code. ``METHODS`` maps each registered
name to its class; the attribution layer never imports physics, data or models.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from torch import Tensor

from ._base import DEFAULT_MAX_BATCH_SIZE, Attribution
from .backprop import Deconvnet, GuidedBackprop, RectGrad
from .cam import CAM, GradCAM
from .deeplift import DeepLift
from .diagnostics import completeness_delta, conservation_delta
from .gradient import GradientXInput, IntegratedGradients, InteriorGradients, Saliency, SmoothGrad
from .lime import Lime
from .lrp import LRP, DeepTaylor
from .occlusion import Occlusion
from .pattern import PatternAttribution, PatternNet
from .shapley import DeepShap, ExactShapley, GradientShap, KernelShap, ShapleySampling

__all__ = [
    "attribute",
    "METHODS",
    "Attribution",
    "DEFAULT_MAX_BATCH_SIZE",
    "completeness_delta",
    "conservation_delta",
    "Saliency",
    "GradientXInput",
    "IntegratedGradients",
    "InteriorGradients",
    "SmoothGrad",
    "Deconvnet",
    "GuidedBackprop",
    "RectGrad",
    "DeepLift",
    "LRP",
    "DeepTaylor",
    "Occlusion",
    "CAM",
    "GradCAM",
    "ExactShapley",
    "ShapleySampling",
    "KernelShap",
    "GradientShap",
    "DeepShap",
    "Lime",
    "PatternNet",
    "PatternAttribution",
]

_CLASSES: tuple[type[Attribution], ...] = (
    Saliency,
    GradientXInput,
    IntegratedGradients,
    InteriorGradients,
    SmoothGrad,
    Deconvnet,
    GuidedBackprop,
    RectGrad,
    DeepLift,
    LRP,
    DeepTaylor,
    Occlusion,
    CAM,
    GradCAM,
    ExactShapley,
    ShapleySampling,
    KernelShap,
    GradientShap,
    DeepShap,
    Lime,
    PatternNet,
    PatternAttribution,
)

#: registry name -> method class
METHODS: dict[str, type[Attribution]] = {cls.name: cls for cls in _CLASSES}


def _split_options(cls: type[Attribution], options: dict[str, Any]) -> tuple[dict, dict]:
    """Route keyword options to the constructor or to ``attribute`` by their signatures."""
    init = set(inspect.signature(cls.__init__).parameters) - {"self", "model"}
    call = set(inspect.signature(cls.attribute).parameters) - {"self", "inputs"}
    ctor, run, unknown = {}, {}, []
    for key, value in options.items():
        if key in call:
            run[key] = value
        elif key in init:
            ctor[key] = value
        else:
            unknown.append(key)
    if unknown:
        valid = sorted((init | call) - {"args", "kwargs"})
        raise TypeError(
            f"attribute: method {cls.name!r} got unexpected option(s) "
            f"{', '.join(map(repr, sorted(unknown)))}; its options are {', '.join(valid)}."
        )
    return ctor, run


def attribute(model: Callable[[Tensor], Tensor], inputs: Tensor, method: str, **options: Any) -> Tensor:
    """Attribute the model's output to the input features with a named method.

    Parameters
    ----------
    model : nn.Module or callable
        Maps a batch ``(n, *F)`` to outputs ``(n,)``, ``(n, 1)`` or ``(n, n_outputs)``.
    inputs : Tensor, shape ``(n, *F)``
        Spins ``(n, L, L)`` or ``(n, 1, L, L)``, tabular ``(n, d)``, ...; floating point.
    method : str
        A key of :data:`METHODS`.
    **options
        Hyperparameters of the method's constructor and keyword arguments of its ``attribute``
        (``target``, ``baseline``, ``n_steps``, ``max_batch_size``, ``generator``, ...).

    Returns
    -------
    Tensor
        Relevance with the shape, dtype and device of ``inputs``.

    Raises
    ------
    ValueError
        For an unknown method name (the message lists the known ones) or bad input.
    TypeError
        For an option the method does not take.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(
            f"attribute: method must be one of {', '.join(sorted(METHODS))}; got {method!r}."
        )
    cls = METHODS[method]
    ctor, run = _split_options(cls, options)
    return cls(model, **ctor).attribute(inputs, **run)
