"""The LRP and deep Taylor attribution methods (registry names ``"lrp"`` and ``"deep_taylor"``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from .._base import Attribution
from ._core import relevance
from .canonizers import Canonizer, MergeBatchNorm
from .composites import Composite, DeepTaylorComposite, resolve_composite

__all__ = ["LRP", "DeepTaylor"]


def _check_module(model: Any, caller: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"{caller}: model must be a torch.nn.Module (LRP rules attach to its layers); got "
            f"{type(model).__name__}. For an arbitrary callable use gradient_x_input or "
            "integrated_gradients."
        )


def _resolve_canonizers(canonizers: Any, caller: str) -> list[Canonizer]:
    if canonizers is None:
        return [MergeBatchNorm()]
    if isinstance(canonizers, Canonizer) or not isinstance(canonizers, (list, tuple)):
        raise TypeError(
            f"{caller}: canonizers must be None (merge BatchNorm layers) or a list of canonizers, "
            f"e.g. [MergeBatchNorm()] or []; got {type(canonizers).__name__}."
        )
    for c in canonizers:
        if not isinstance(c, Canonizer):
            raise TypeError(
                f"{caller}: canonizers must hold Canonizer instances such as MergeBatchNorm(); "
                f"got {type(c).__name__}."
            )
    return list(canonizers)


class LRP(Attribution):
    """Layer-wise relevance propagation (Bach et al. 2015; Montavon et al. 2019).

    The explained output ``f(x)`` is redistributed backwards layer by layer with the rule that the
    composite assigns to each layer, until it reaches the input: ``R`` has the shape of the
    inputs and, for conservative rules in a bias-free network, ``sum_i R_i = f(x)`` (check with
    :func:`~physxai.attribution.conservation_delta`). Implemented with the gradient trick: one
    forward and one modified backward pass for the whole batch.

    Parameters
    ----------
    model : nn.Module
        Built from Linear, Conv1d/2d/3d, average/max pooling, BatchNorm (merged), element-wise
        activations, Flatten, Dropout (eval) and containers; other layers with parameters need a
        rule in the composite.
    composite : str, Composite or dict, default "epsilon_plus"
        A name (``"epsilon"``, ``"zplus"``, ``"epsilon_plus"``, ``"epsilon_plus_flat"``,
        ``"epsilon_alpha2_beta1"``, ``"deep_taylor"``; ``"epsilon_gamma_box"`` needs bounds, so
        pass ``EpsilonGammaBox(low, high)``), a :class:`Composite`, or a dict
        ``{layer name or type: rule}`` whose entries take precedence over ``"epsilon_plus"``.
    canonizers : list of Canonizer, optional
        Default (None): ``[MergeBatchNorm()]``. ``[]`` disables merging.

    Raises
    ------
    UnsupportedLayerError
        (from ``attribute``) for a layer with parameters and no rule, or a BatchNorm that cannot be
        merged; the message names the layer's path, e.g. ``features.3 (LayerNorm)``.

    Notes
    -----
    Parameter-free modules without a rule and functional operations in ``forward`` pass
    relevance with their plain gradient: exact for max pooling (winner takes all), flatten,
    reshapes and dropout in eval mode, but a functional sum (a residual connection) hands its full
    relevance to both summands, and a softmax mixes it; explain logits, and give such modules a
    rule or wrap them. Biases absorb relevance, so ``sum R = f(x)`` holds exactly only for
    bias-free networks (and for z+ only where the explained output is positive).

    Examples
    --------
    >>> import torch
    >>> from physxai.attribution import LRP, conservation_delta
    >>> from physxai.testing import tiny_mlp
    >>> model = tiny_mlp(bias=False)
    >>> x = torch.rand(4, 6, dtype=torch.float64)
    >>> R = LRP(model, composite="epsilon").attribute(x, target=0)
    >>> R.shape
    torch.Size([4, 6])
    >>> bool(conservation_delta(model, x, R, target=0).abs().max() < 1e-5)
    True

    References
    ----------
    S. Bach et al., PLoS ONE 10, e0130140 (2015).
    G. Montavon et al., in Explainable AI, LNCS 11700, 193 (2019).
    """

    name = "lrp"

    def __init__(
        self,
        model: nn.Module,
        *,
        composite: str | Composite | Mapping[Any, Any] = "epsilon_plus",
        canonizers: Sequence[Canonizer] | None = None,
    ):
        super().__init__(model)
        _check_module(model, "LRP")
        self.composite = composite
        self.canonizers = canonizers
        self._composite = resolve_composite(composite, "LRP")
        self._canonizers = _resolve_canonizers(canonizers, "LRP")

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Relevance of every input feature for the selected output.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
        target : None, int, LongTensor ``(n,)`` or callable ``output -> (n,)``
            The explained output; the relevance at the model output is ``out * dy/dout``
            (the selected value itself for a column).

        Returns
        -------
        Tensor
            Shape, dtype and device of ``inputs``.
        """
        x, tgt = self._prepare(inputs, target)
        R, _ = relevance(self.model, self._composite, self._canonizers, x, tgt, self._caller)
        return R

    def layer_relevances(self, inputs: Tensor, *, target: Any = None) -> dict[str, Tensor]:
        """Relevance at the input of every layer that has a rule, keyed by the layer's name.

        A layer called more than once gets one entry per call (``"act"``, ``"act#1"``, ...); a
        BatchNorm merged into its Linear/Conv appears under the Linear/Conv's name. Useful to
        check conservation layer by layer or to look at relevance at an intermediate layer.
        """
        caller = f"{type(self).__name__}.layer_relevances"
        x, tgt = self._prepare(inputs, target)
        _, records = relevance(
            self.model, self._composite, self._canonizers, x, tgt, caller, record=True
        )
        assert records is not None
        return records


class DeepTaylor(Attribution):
    """Deep Taylor decomposition (Montavon et al. 2017): z+ inside, z^B or w^2 at the input.

    For a ReLU network each neuron is Taylor-expanded at a root point on its positive segment,
    which gives the z+ rule ``R_i = sum_j x_i w+_ij / sum_i' x_i' w+_i'j R_j`` in hidden layers; at
    the input, a box-bounded domain ``low <= x <= high`` gives the z^B rule and an unbounded one the
    w^2 rule. The relevance is non-negative and sums to ``f(x)`` for a bias-free ReLU network and a
    positive output.

    Parameters
    ----------
    model : nn.Module
    low, high : float or Tensor, optional
        Bounds of the input domain (both or neither), e.g. 0 and 16 for 8x8 digits.

    References
    ----------
    G. Montavon, S. Lapuschkin, A. Binder, W. Samek, K.-R. Mueller, Pattern Recognit. 65, 211
    (2017), arXiv:1512.02479.
    """

    name = "deep_taylor"

    def __init__(
        self,
        model: nn.Module,
        *,
        low: float | Tensor | None = None,
        high: float | Tensor | None = None,
    ):
        super().__init__(model)
        _check_module(model, "DeepTaylor")
        self.low = low
        self.high = high
        self._composite = DeepTaylorComposite(low, high)
        self._canonizers: list[Canonizer] = [MergeBatchNorm()]

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """Non-negative relevance of every input feature (see :class:`LRP`)."""
        x, tgt = self._prepare(inputs, target)
        R, _ = relevance(self.model, self._composite, self._canonizers, x, tgt, self._caller)
        return R
