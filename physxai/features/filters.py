"""Weights and filters of a layer, as arrays ready to be looked at.

The first layer of a network sees the input directly, so its weights can be drawn in the input's
own geometry: the kernels of a convolution ``(out_channels, in_channels, *kernel)`` are small
patches, and the rows of a dense first layer reshaped to the lattice ``(L, L)`` show which spins
each hidden unit weighs (Carrasquilla & Melko 2017 read the magnetisation off such weights).
:func:`layer_filters` returns a detached copy of the weights, optionally normalised per filter;
:func:`physxai.plot.filter_grid` draws them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .._validation import check_choice
from ._capture import resolve_layers

__all__ = ["layer_filters"]

NORMALIZATIONS = (None, "max_abs", "unit_norm")
_CONVS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def layer_filters(
    model: nn.Module,
    layer: str,
    *,
    input_shape: Sequence[int] | None = None,
    normalize: str | None = None,
) -> Tensor:
    """The weights of a convolutional or dense layer, one filter per row, as a detached copy.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A qualified module name (``"features.conv1"``); a ``Conv1d/2d/3d`` (or transposed) or a
        ``Linear`` layer.
    input_shape : sequence of int or None
        Dense layers only: reshape each row of the weight (``in_features``) to this shape, e.g.
        ``(L, L)`` for a first layer on flattened lattices.
    normalize : {None, "max_abs", "unit_norm"}, default None
        Divide every filter by its maximum absolute value or by its L2 norm (zero filters stay
        zero).

    Returns
    -------
    Tensor
        Convolution: ``(out_channels, in_channels, *kernel)`` (transposed convolutions:
        ``(out_channels, in_channels, *kernel)`` as well, the weight's first two dims swapped);
        dense: ``(out_features, *input_shape)`` or ``(out_features, in_features)``.

    Raises
    ------
    ValueError
        A layer the model does not have (the message lists the valid names), ``input_shape``
        that does not hold ``in_features`` values, an unknown ``normalize``.
    TypeError
        A layer that is neither a convolution nor a ``Linear`` layer.

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    >>> layer_filters(model, "0").shape
    torch.Size([4, 1, 3, 3])
    """
    caller = "layer_filters"
    check_choice(normalize, NORMALIZATIONS, caller, "normalize")
    module = resolve_layers(model, [layer], caller, where="layer")[layer]
    if isinstance(module, _CONVS):
        w = module.weight.detach().clone()
        if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            w = w.transpose(0, 1).contiguous()
        if input_shape is not None:
            raise ValueError(
                f"{caller}: input_shape reshapes the rows of a dense layer; layer {layer!r} is a "
                f"{type(module).__name__}, whose kernels keep their own shape. Drop input_shape."
            )
    elif isinstance(module, nn.Linear):
        w = module.weight.detach().clone()
        if input_shape is not None:
            shape = tuple(int(s) for s in input_shape)
            if int(torch.tensor(shape).prod()) != w.shape[1]:
                raise ValueError(
                    f"{caller}: input_shape {shape} must hold the layer's in_features = "
                    f"{w.shape[1]} values."
                )
            w = w.reshape(w.shape[0], *shape)
    else:
        raise TypeError(
            f"{caller}: layer {layer!r} is a {type(module).__name__}; filters exist for "
            "Conv1d/2d/3d (and transposed) and Linear layers."
        )
    if normalize is not None:
        flat = w.reshape(w.shape[0], -1)
        scale = flat.abs().amax(dim=1) if normalize == "max_abs" else flat.norm(dim=1)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        w = w / scale.reshape(-1, *([1] * (w.dim() - 1)))
    return w
