"""A multilayer perceptron with named layers, the reference model for tabular and flattened data.

``MLP(in_features, hidden, out_features)`` is ``Flatten -> (Linear -> activation [-> Dropout])
x len(hidden) -> Linear``. The hidden stack is the submodule ``features`` with layers named
``flatten``, ``fc1``, ``act1``, ``drop1``, ``fc2``, ...; the output layer is ``head``. The names
make ``layer="features.act2"`` arguments and activation capture readable, and every activation is
its own module instance (never reused, never in-place) so hook-based attribution (LRP, guided
backprop, DeepLIFT) sees each layer once.
"""

from __future__ import annotations

from torch import Tensor, nn

from .._validation import check_positive_int
from ._blocks import ActivationSpec, check_sizes, make_activation

__all__ = ["MLP"]


class MLP(nn.Module):
    """A fully connected network ``in_features -> hidden... -> out_features``.

    Parameters
    ----------
    in_features : int
        Number of input features d. Inputs of shape ``(n, d)`` are used as they are; inputs with
        more dimensions, e.g. spins ``(n, L, L)`` with ``d = L * L``, are flattened after the
        batch dimension.
    hidden : tuple of int, default (64,)
        Widths of the hidden layers; ``()`` gives a linear model.
    out_features : int, default 1
        Number of outputs: classes (logits) or regression targets. The output has shape
        ``(n, out_features)``, also for ``out_features=1``.
    activation : str or nn.Module class, default "relu"
        One of ``"relu"``, ``"leaky_relu"``, ``"elu"``, ``"tanh"``, ``"sigmoid"``,
        ``"softplus"``, ``"gelu"``, or a module class (a fresh instance is built per layer).
    bias : bool, default True
        Whether the linear layers have biases. Bias-free ReLU networks are the setting of deep
        Taylor decomposition (Montavon et al. 2017), where relevance is exactly conserved.
    dropout : float, default 0.0
        Dropout probability after every hidden activation, in ``[0, 1)``; 0 adds no module.

    Attributes
    ----------
    features : nn.Sequential
        ``flatten, fc1, act1, [drop1,] fc2, act2, ...``: the hidden representation.
    head : nn.Linear
        The output layer.

    Examples
    --------
    >>> import torch
    >>> model = MLP(4, hidden=(8, 8), out_features=3)
    >>> model(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    >>> [name for name, _ in model.features.named_children()]
    ['flatten', 'fc1', 'act1', 'fc2', 'act2']
    """

    #: ``forward`` is ``head(features(x))`` after an input check: the exact Hessian of
    #: :mod:`physxai.influence` reads the model as that chain of layers (the fast path)
    _sequential_chain = ("features", "head")

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] = (64,),
        out_features: int = 1,
        *,
        activation: ActivationSpec = "relu",
        bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        caller = "MLP"
        check_positive_int(in_features, caller, "in_features")
        hidden = check_sizes(hidden, caller, "hidden")
        check_positive_int(out_features, caller, "out_features")
        if not isinstance(bias, bool):
            raise TypeError(f"{caller}: bias must be a bool; got {type(bias).__name__}.")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0.0 <= dropout < 1.0
        ):
            raise ValueError(f"{caller}: dropout must be a probability in [0, 1); got {dropout!r}.")
        self.in_features = in_features
        self.hidden = hidden
        self.out_features = out_features
        self.dropout = float(dropout)

        self.features = nn.Sequential()
        self.features.add_module("flatten", nn.Flatten())
        width = in_features
        for i, h in enumerate(hidden, start=1):
            self.features.add_module(f"fc{i}", nn.Linear(width, h, bias=bias))
            self.features.add_module(f"act{i}", make_activation(activation, caller))
            if dropout > 0:
                self.features.add_module(f"drop{i}", nn.Dropout(dropout))
            width = h
        self.head = nn.Linear(width, out_features, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """Map inputs ``(n, in_features)`` (or ``(n, ...)``, flattened) to ``(n, out_features)``."""
        if x.dim() < 2 or x[0].numel() != self.in_features:
            raise ValueError(
                f"MLP: inputs must have shape (n, {self.in_features}) or (n, ...) with "
                f"{self.in_features} elements per sample; got shape {tuple(x.shape)}."
            )
        return self.head(self.features(x))
