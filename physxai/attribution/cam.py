"""Class activation maps: CAM and Grad-CAM, coarse localisation maps from one layer.

A convolutional layer's output ``A`` (n, C, *spatial) keeps the spatial layout of the input.
**CAM** (Zhou et al. 2016) applies to networks that end in global average pooling (GAP) and a
linear head, ``y_k = sum_c w_{k,c} mean(A_c) + b_k``: the map ``M_k = sum_c w_{k,c} A_c`` then says
where in the layer's grid the evidence for output ``k`` sits, and its spatial mean plus ``b_k``
is exactly ``y_k``. **Grad-CAM** (Selvaraju et al. 2017) replaces the head weights by the spatially
averaged gradient ``alpha_c = mean(d y / d A_c)`` and keeps the positive part,
``ReLU(sum_c alpha_c A_c)``; it works for any differentiable head and any target. For a GAP +
linear head ``alpha_c = w_{k,c} / (h w)``, so Grad-CAM without the ReLU is CAM divided by the
number of spatial positions.

Both maps live at the layer's resolution. By default they are upsampled (linear, bilinear or
trilinear interpolation) to the inputs' trailing spatial size and broadcast over the inputs'
channel dimension, so the result has exactly the shape of ``inputs``; ``upsample=False`` returns
the map at layer resolution with shape ``(n, 1, *spatial_layer)``, the one exception to the rule
that an attribution has the shape of its inputs.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from ._base import Attribution
from ._layers import (
    capture_input,
    capture_output,
    check_spatial,
    resolve_layer,
    single_capture,
    to_input_shape,
)

__all__ = ["CAM", "GradCAM"]

#: relative tolerance of the check that the head's input is the global average of the layer
_HEAD_RTOL = {torch.float16: 1e-2, torch.bfloat16: 1e-2, torch.float32: 1e-4, torch.float64: 1e-8}


def _check_bool(value: Any, caller: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{caller}: {name} must be a bool; got {type(value).__name__}.")
    return value


def _last_linear(model: Any) -> nn.Linear | None:
    last = None
    if isinstance(model, nn.Module):
        for mod in model.modules():
            if isinstance(mod, nn.Linear):
                last = mod
    return last


class CAM(Attribution):
    """Class activation mapping for networks ending in global average pooling + a linear head.

    ``M_k(u) = sum_c w_{k,c} A_c(u)`` (Eq. 2 of Zhou et al. 2016), where ``A`` is the output of
    ``layer`` (the tensor that the global average pooling reduces) and ``w`` the weight of the
    final linear layer; the bias is not part of the map, and the map's spatial mean plus the bias
    is the model's output ``y_k``. Each call checks that the input of the linear head is the
    global average of ``A``, so a layer that is not the pooled one (a convolution whose ReLU
    comes after it, a model with a dense head) raises instead of giving a wrong heatmap.

    The channel weights are computed as the derivative of the explained output with respect to
    the pooled features, ``v_c = d y / d z_c`` with ``z = GAP(A)``: for an output of the linear
    head itself (``target=k``, the usual case) this is exactly the row ``w_k``, bit for bit. For a
    read-out applied after the head (a callable target such as a sum of logits, a column picked
    by a wrapper) it is that read-out's linearisation, exact when the read-out is linear. So all
    four target forms work, and ``CAM = (h w) * GradCAM(relu=False)`` on these models.

    Parameters
    ----------
    model : nn.Module
        Contains ``layer -> global average pooling -> [Flatten] -> fc``.
    layer : str or nn.Module
        The module whose output ``(n, C, *spatial)`` is pooled: a qualified name from
        ``model.named_modules()`` (``"features.relu2"``) or the module object. Choose the
        activation that feeds the pooling (after the last ReLU), not the convolution before it.
    fc : str, nn.Linear or None
        The linear head; None takes the last ``nn.Linear`` in ``model.modules()``. Its
        ``in_features`` must equal the layer's channel count ``C``.
    upsample : bool
        Interpolate the map to the inputs' spatial size and broadcast over their channels
        (result shaped like ``inputs``); False returns ``(n, 1, *spatial_layer)``.

    Raises
    ------
    ValueError
        When ``layer`` is not in the model (the message lists close names), when the model has no
        ``nn.Linear``, and (at ``attribute``) when the head is not GAP + linear.
    TypeError
        For a ``layer`` or ``fc`` that is neither a name nor a module, or an ``fc`` that is not
        an ``nn.Linear``.

    References
    ----------
    B. Zhou, A. Khosla, A. Lapedriza, A. Oliva, A. Torralba, "Learning Deep Features for
    Discriminative Localization", CVPR 2016, arXiv:1512.04150.

    Examples
    --------
    >>> import torch
    >>> from physxai.testing import tiny_cnn
    >>> model = tiny_cnn(pool="gap")
    >>> x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    >>> CAM(model, layer="features.relu2").attribute(x, target=1).shape
    torch.Size([2, 1, 8, 8])
    """

    name = "cam"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        layer: str | nn.Module,
        fc: str | nn.Linear | None = None,
        upsample: bool = True,
    ):
        super().__init__(model)
        cls = type(self).__name__
        self.layer = layer
        self.fc = fc
        self.upsample = _check_bool(upsample, cls, "upsample")
        self._module = resolve_layer(model, layer, cls, "layer")
        if fc is None:
            head = _last_linear(model)
            if head is None:
                raise ValueError(
                    f"{cls}: fc is None and the model has no nn.Linear; CAM needs a global "
                    "average pooling followed by a linear head. Pass fc= explicitly, or use "
                    "grad_cam, which works with any differentiable head."
                )
        else:
            head = resolve_layer(model, fc, cls, "fc")
            if not isinstance(head, nn.Linear):
                raise TypeError(f"{cls}: fc must be an nn.Linear; got {type(head).__name__}.")
        self._fc: nn.Linear = head

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """The class activation map of the target output.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            The batch; its trailing dimensions are the spatial ones the map is upsampled to.
        target : None, int, LongTensor of shape ``(n,)``, or callable output -> (n,)
            The explained output; ``k`` selects the head row ``w_k``.

        Returns
        -------
        Tensor
            Shaped like ``inputs`` (``upsample=True``) or ``(n, 1, *spatial_layer)``.

        Raises
        ------
        ValueError
            When the layer's channels differ from the head's ``in_features`` or the head's input
            is not the global average of the layer's output.
        """
        caller = self._caller
        x, tgt = self._prepare(inputs, target)
        index = self._index(x.shape[0], x.device)
        head = self._fc
        with torch.enable_grad():
            with (
                capture_output(self._module, caller) as acts,
                capture_input(head, caller) as pooled,
            ):
                output = self.model(x)
            act = single_capture(acts, caller, self.layer)
            check_spatial(act, caller, self.layer)
            n_channels = act.shape[1]
            if head.in_features != n_channels:
                raise ValueError(
                    f"{caller}: CAM needs global average pooling + a linear head after the layer; "
                    f"the layer has {n_channels} channels but the last linear layer has "
                    f"in_features={head.in_features}. Use grad_cam for this model, or pass fc= "
                    "the head."
                )
            z = single_capture(pooled, caller, self.fc if self.fc is not None else head, "fc")
            self._check_gap(act, z, caller)
            selected = tgt(output, index)
            # v_c = d y / d z_c; for y = (W z + b)_k this is w_{k,c} exactly
            (weight,) = torch.autograd.grad(selected.sum(), z, allow_unused=True)
        if weight is None:  # the target does not depend on the head
            weight = torch.zeros_like(z)
        # Eq. (2), Zhou et al. 2016: M_k = sum_c w_{k,c} A_c (the bias is not spatial)
        cam = torch.einsum("nc,nc...->n...", weight.reshape(act.shape[:2]), act)
        return to_input_shape(cam, x, self.upsample, caller)

    def _check_gap(self, act: Tensor, z: Tensor, caller: str) -> None:
        """The head's input must be the global average of the layer output (Zhou et al. 2016)."""
        gap = act.flatten(2).mean(2)
        z = z.detach()
        ok = z.shape == gap.shape
        if ok:
            tol = _HEAD_RTOL.get(gap.dtype, 1e-4)
            scale = float(gap.abs().max()) + 1.0 if gap.numel() else 1.0
            ok = bool(((z - gap).abs() <= tol * scale).all())
        if not ok:
            raise ValueError(
                f"{caller}: the input of the linear head is not the global average of the layer "
                "output, so the class activation map would be wrong. CAM needs layer -> global "
                "average pooling -> linear head; if the layer is a convolution followed by an "
                "activation, pass the activation module (the one whose output is pooled). Use "
                "grad_cam for other models."
            )


class GradCAM(Attribution):
    """Gradient-weighted class activation mapping (Grad-CAM).

    ``alpha_c = mean_u d y / d A_c(u)`` (Eq. 1 of Selvaraju et al. 2017) and
    ``M = ReLU(sum_c alpha_c A_c)`` (Eq. 2), where ``A`` is the output of ``layer`` and ``y`` the
    selected output. Works for any differentiable model and all four target forms.

    Parameters
    ----------
    model : nn.Module
        Any differentiable model; one forward and one backward pass per call.
    layer : str or nn.Module
        A module that outputs ``(n, C, *spatial)``, by qualified name (``"features.conv2"``) or
        as the module object. It must run exactly once per forward pass.
    upsample : bool
        Interpolate the map (linear/bilinear/trilinear, ``align_corners=False``) to the inputs'
        trailing spatial size and broadcast over their channels, so the result has the shape of
        ``inputs``; False returns ``(n, 1, *spatial_layer)`` at layer resolution.
    relu : bool
        Keep only the positive evidence (the paper's choice); False keeps the sign.

    Raises
    ------
    ValueError
        When ``layer`` is not in the model; the message lists close names.
    TypeError
        For a ``layer`` that is neither a name nor a module, or non-bool flags.

    References
    ----------
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra, "Grad-CAM: Visual
    Explanations from Deep Networks via Gradient-based Localization", ICCV 2017,
    arXiv:1610.02391.

    Examples
    --------
    >>> import torch
    >>> from physxai.testing import tiny_cnn
    >>> model = tiny_cnn(pool="flatten")
    >>> x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    >>> GradCAM(model, layer="features.conv2").attribute(x, target=0).shape
    torch.Size([2, 1, 8, 8])
    """

    name = "grad_cam"

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        layer: str | nn.Module,
        upsample: bool = True,
        relu: bool = True,
    ):
        super().__init__(model)
        cls = type(self).__name__
        self.layer = layer
        self.upsample = _check_bool(upsample, cls, "upsample")
        self.relu = _check_bool(relu, cls, "relu")
        self._module = resolve_layer(model, layer, cls, "layer")

    def attribute(self, inputs: Tensor, *, target: Any = None) -> Tensor:
        """The Grad-CAM map of the target output.

        Parameters
        ----------
        inputs : Tensor, shape ``(n, *F)``
            The batch; its trailing dimensions are the spatial ones the map is upsampled to.
        target : None, int, LongTensor of shape ``(n,)``, or callable output -> (n,)
            The explained output.

        Returns
        -------
        Tensor
            Shaped like ``inputs`` (``upsample=True``) or ``(n, 1, *spatial_layer)``.
        """
        caller = self._caller
        x, tgt = self._prepare(inputs, target)
        index = self._index(x.shape[0], x.device)
        with torch.enable_grad():
            with capture_output(self._module, caller, differentiable=True) as captured:
                output = self.model(x)
            act = single_capture(captured, caller, self.layer)
            check_spatial(act, caller, self.layer)
            selected = tgt(output, index)
            # rows do not interact in an eval-mode model: d sum(y) / d A_i = d y_i / d A_i
            (grad,) = torch.autograd.grad(selected.sum(), act, allow_unused=True)
        if grad is None:  # the target does not depend on the layer
            grad = torch.zeros_like(act)
        act = act.detach()
        spatial = tuple(range(2, act.dim()))
        alpha = grad.mean(dim=spatial, keepdim=True)  # Eq. (1), Selvaraju et al. 2017
        cam = (alpha * act).sum(dim=1)  # Eq. (2), before the ReLU
        if self.relu:
            cam = torch.relu(cam)
        return to_input_shape(cam, x, self.upsample, caller)
