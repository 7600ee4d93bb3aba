"""A small convolutional network with named layers, in 1, 2 or 3 spatial dimensions.

``CNN(in_channels, n_classes, channels=(8, 16))`` stacks one ``conv -> activation [-> pool]``
block per entry of ``channels`` in the submodule ``features`` (layers ``conv1``, ``act1``,
``pool1``, ``conv2``, ...), followed by ``head``. With ``pool="gap"`` the head is global average
pooling and one linear layer (``gap, flatten, fc``): the architecture that class activation
mapping (CAM, Zhou et al. 2016) requires, with ``layer="features.act2"`` (or ``features.conv2``)
for Grad-CAM. With ``pool="max"`` or ``"avg"`` every block halves the spatial size and the head
is dense, the shape of the Ising phase classifiers (Carrasquilla & Melko 2017); ``"flatten"``
keeps the full resolution. ``dims=1`` gives the 1D CNN used on wave-function amplitudes (Dawid
et al. 2020); ``periodic=True`` pads circularly, matching periodic lattices.
"""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_choice, check_positive_int
from ._blocks import ActivationSpec, check_sizes, make_activation

__all__ = ["CNN"]

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_GAP = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
POOLS = ("gap", "max", "avg", "flatten")


class CNN(nn.Module):
    """Convolution blocks followed by a classification or regression head.

    Parameters
    ----------
    in_channels : int
        Channels C of inputs ``(n, C, *spatial)``; ``len(spatial) == dims``.
    n_classes : int
        Outputs of the head (logits, or 1 for a regression or a binary logit); the output has
        shape ``(n, n_classes)``.
    channels : tuple of int, default (8, 16)
        Output channels of the convolution blocks, one block per entry.
    kernel_size : int, default 3
        Kernel size of every convolution (the same along every spatial axis).
    input_size : int or tuple of int, optional
        Spatial size of the inputs (an int means the same along every axis). Required for
        ``pool="max"``, ``"avg"`` and ``"flatten"``, whose dense head depends on it; ignored by
        ``"gap"``, which accepts any size.
    pool : {"gap", "max", "avg", "flatten"}, default "gap"
        ``"gap"``: no pooling between blocks, then global average pooling and one linear layer.
        ``"max"``/``"avg"``: a 2-wide max/average pooling after every block, then a dense head.
        ``"flatten"``: no pooling, dense head on the full-resolution feature maps.
    bias : bool, default True
        Whether convolutions and linear layers have biases.
    dims : {1, 2, 3}, default 2
        Number of spatial dimensions (Conv1d, Conv2d or Conv3d).
    activation : str or nn.Module class, default "relu"
        As in :class:`MLP`; one fresh instance per layer.
    padding : {"same", "valid"}, default "same"
        ``"same"`` keeps the spatial size (``kernel_size // 2`` on each side for odd kernels);
        ``"valid"`` pads nothing.
    periodic : bool, default False
        Pad circularly (``padding_mode="circular"``) so the convolution wraps around the edges of
        a periodic lattice. Needs ``padding="same"`` and an odd ``kernel_size``. Rule-based
        attribution that re-implements convolutions must honour ``padding_mode``.
    head_hidden : tuple of int, default ()
        Widths of hidden dense layers in the head (each followed by the activation), e.g.
        ``(64,)`` for conv -> dense(64) -> output.

    Attributes
    ----------
    features : nn.Sequential
        ``conv1, act1, [pool1,] conv2, act2, [pool2,] ...``.
    head : nn.Sequential
        ``gap, flatten, fc`` for ``pool="gap"``, else
        ``flatten, [fc_hidden1, act_hidden1, ...,] fc``.

    Raises
    ------
    ValueError
        For a missing ``input_size`` where the head needs it, or a spatial size that pooling
        would shrink below 1.

    Examples
    --------
    >>> import torch
    >>> model = CNN(1, 2, channels=(4, 8))
    >>> model(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 2])
    >>> CNN(1, 2, pool="max", input_size=8)(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 2])
    """

    #: ``forward`` is ``head(features(x))`` after an input check: the exact Hessian of
    #: :mod:`physxai.influence` reads the model as that chain of layers (the fast path)
    _sequential_chain = ("features", "head")

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        *,
        channels: tuple[int, ...] = (8, 16),
        kernel_size: int = 3,
        input_size: int | tuple[int, ...] | None = None,
        pool: str = "gap",
        bias: bool = True,
        dims: int = 2,
        activation: ActivationSpec = "relu",
        padding: str = "same",
        periodic: bool = False,
        head_hidden: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        caller = "CNN"
        check_positive_int(in_channels, caller, "in_channels")
        check_positive_int(n_classes, caller, "n_classes")
        channels = check_sizes(channels, caller, "channels", allow_empty=False)
        check_positive_int(kernel_size, caller, "kernel_size")
        check_choice(pool, POOLS, caller, "pool")
        check_choice(padding, ("same", "valid"), caller, "padding")
        if dims not in _CONV or isinstance(dims, bool):
            raise ValueError(f"{caller}: dims must be 1, 2 or 3; got {dims!r}.")
        for name, flag in (("bias", bias), ("periodic", periodic)):
            if not isinstance(flag, bool):
                raise TypeError(f"{caller}: {name} must be a bool; got {type(flag).__name__}.")
        head_hidden = check_sizes(head_hidden, caller, "head_hidden")
        if periodic and (padding != "same" or kernel_size % 2 == 0):
            raise ValueError(
                f"{caller}: periodic=True needs padding='same' and an odd kernel_size; got "
                f"padding={padding!r}, kernel_size={kernel_size}."
            )
        size = _check_input_size(input_size, dims, caller) if input_size is not None else None
        if pool != "gap" and size is None:
            raise ValueError(
                f"{caller}: pool={pool!r} has a dense head whose width depends on the input, so "
                f"input_size is required (e.g. input_size=16 for 16 x 16 lattices); "
                "pool='gap' works for any size."
            )

        self.in_channels = in_channels
        self.n_classes = n_classes
        self.channels = channels
        self.kernel_size = kernel_size
        self.input_size = size
        self.pool = pool
        self.dims = dims

        if padding == "valid":
            pad: int | str = 0
        elif kernel_size % 2 == 1:
            pad = kernel_size // 2
        else:
            pad = "same"  # asymmetric: torch pads one more on the right for even kernels
        mode = "circular" if periodic else "zeros"

        self.features = nn.Sequential()
        width = in_channels
        for i, c in enumerate(channels, start=1):
            conv = _CONV[dims](width, c, kernel_size, padding=pad, bias=bias, padding_mode=mode)
            self.features.add_module(f"conv{i}", conv)
            self.features.add_module(f"act{i}", make_activation(activation, caller))
            if pool == "max":
                self.features.add_module(f"pool{i}", _MAXPOOL[dims](2))
            elif pool == "avg":
                self.features.add_module(f"pool{i}", _AVGPOOL[dims](2))
            width = c

        self.head = nn.Sequential()
        if pool == "gap":
            self.head.add_module("gap", _GAP[dims](1))
            n_flat = width
        else:
            spatial = self._feature_shape(size)
            if min(spatial) < 1:
                raise ValueError(
                    f"{caller}: input_size {size} is too small for {len(channels)} blocks "
                    f"(kernel_size={kernel_size}, padding={padding!r}, pool={pool!r}): the "
                    f"feature maps would have spatial size {spatial}. Use fewer channels "
                    "entries, padding='same' or pool='gap'."
                )
            n_flat = width
            for s in spatial:
                n_flat *= s
        self.head.add_module("flatten", nn.Flatten())
        for j, h in enumerate(head_hidden, start=1):
            self.head.add_module(f"fc_hidden{j}", nn.Linear(n_flat, h, bias=bias))
            self.head.add_module(f"act_hidden{j}", make_activation(activation, caller))
            n_flat = h
        self.head.add_module("fc", nn.Linear(n_flat, n_classes, bias=bias))

    def _feature_shape(self, size: tuple[int, ...]) -> tuple[int, ...]:
        # spatial size after ``features``: "same" keeps it, "valid" loses kernel_size - 1, and
        # each 2-wide pooling floors it to half (PyTorch's default ceil_mode=False)
        out = list(size)
        for module in self.features:
            valid = getattr(module, "padding", None) == (0,) * self.dims
            if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and valid:
                out = [s - self.kernel_size + 1 for s in out]
            elif isinstance(module, tuple(_MAXPOOL.values()) + tuple(_AVGPOOL.values())):
                out = [s // 2 for s in out]
        return tuple(out)

    def forward(self, x: Tensor) -> Tensor:
        """Map inputs ``(n, in_channels, *spatial)`` to ``(n, n_classes)``."""
        if x.dim() != self.dims + 2 or x.shape[1] != self.in_channels:
            spatial = ", ".join(["size"] * self.dims)
            raise ValueError(
                f"CNN: inputs must have shape (n, {self.in_channels}, {spatial}); got shape "
                f"{tuple(x.shape)}."
                + (" Add the channel axis with x[:, None]." if x.dim() == self.dims + 1 else "")
            )
        return self.head(self.features(x))


def _check_input_size(value: object, dims: int, caller: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * dims
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == dims
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )
    if not ok:
        raise ValueError(
            f"{caller}: input_size must be a positive int or a tuple of {dims} positive ints "
            f"(one per spatial axis); got {value!r}."
        )
    return tuple(value)
