"""Canonizers: rewrite a model, for the duration of one attribution, into a form the rules fit.

LRP rules are defined for linear layers followed by element-wise activations. A BatchNorm in
evaluation mode is an affine map per channel, ``y = gamma (z - mu) / sqrt(var + eps) + beta``; right
after a Linear or Conv layer it can be folded into that layer's weights and bias,

    W' = W * s,   b' = (b - mu) * s + beta,   s = gamma / sqrt(var + eps),

and the pair is then one linear layer that gets the rule of the Linear/Conv (Montavon et al.
2019, Sec. 10.2; zennit's SequentialMergeBatchNorm). physxai never writes the merged weights into
the model: the rule of the pair is evaluated with ``W'`` and ``b'`` directly, so the caller's
model is untouched before, during and after the attribution (and also if it raises), and the
forward pass computes exactly the model's own output.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._layer import display_path

__all__ = ["Canonizer", "MergeBatchNorm"]

_BATCH_NORM_TYPES: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PARTNER = {
    nn.Linear: nn.BatchNorm1d,
    nn.Conv1d: nn.BatchNorm1d,
    nn.Conv2d: nn.BatchNorm2d,
    nn.Conv3d: nn.BatchNorm3d,
}


@dataclass(frozen=True, eq=False)
class Merge:
    """A Linear/Conv layer and the BatchNorm right after it, with the merged weight and bias."""

    linear_name: str
    linear: nn.Module
    norm_name: str
    norm: nn.Module
    weight: Tensor
    bias: Tensor

    @property
    def path(self) -> str:
        types = f"{type(self.linear).__name__}+{type(self.norm).__name__}"
        return f"{self.linear_name}+{self.norm_name} ({types})"


class Canonizer:
    """Base class of canonizers.

    A canonizer inspects a model and returns the rewrites it makes (:meth:`plan`) and the layers
    it is responsible for but cannot rewrite, with the reason.
    """

    def plan(self, model: nn.Module) -> tuple[list[Merge], dict[str, str]]:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MergeBatchNorm(Canonizer):
    """Fold every BatchNorm1d/2d/3d that directly follows a Linear/Conv layer in an
    ``nn.Sequential`` into that layer, for the duration of an LRP attribution.

    ``LRP`` applies it by default (``canonizers=None``). A BatchNorm it cannot merge (not right
    after a Linear/Conv in a Sequential, in training mode, or without running statistics) keeps
    its composite rule if it has one and otherwise makes ``LRP.attribute`` raise
    :class:`~physxai.errors.UnsupportedLayerError` naming the layer and the reason.

    Examples
    --------
    >>> import torch; from torch import nn
    >>> from physxai.attribution.lrp import MergeBatchNorm
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU()).eval()
    >>> MergeBatchNorm().pairs(model)
    [('0', '1')]
    """

    def pairs(self, model: nn.Module) -> list[tuple[str, str]]:
        """The ``(linear name, batch-norm name)`` pairs that will be merged."""
        return [(m.linear_name, m.norm_name) for m in self.plan(model)[0]]

    @staticmethod
    def merge(linear: nn.Module, norm: nn.Module) -> tuple[Tensor, Tensor]:
        """The weight and bias of ``norm(linear(x))`` as one layer, detached.

        Follows the module's eval-mode formula with its running statistics.
        """
        weight = linear.weight.detach()
        var = norm.running_var.detach().to(weight.dtype)
        mean = norm.running_mean.detach().to(weight.dtype)
        scale = 1.0 / torch.sqrt(var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight.detach()
        shape = (-1,) + (1,) * (weight.dim() - 1)
        new_weight = weight * scale.reshape(shape)
        bias = torch.zeros_like(mean) if linear.bias is None else linear.bias.detach()
        new_bias = (bias - mean) * scale
        if norm.bias is not None:
            new_bias = new_bias + norm.bias.detach()
        return new_weight, new_bias

    def plan(self, model: nn.Module) -> tuple[list[Merge], dict[str, str]]:
        """The merges, and ``{batch-norm name: why it cannot be merged}`` for the others."""
        merges: list[Merge] = []
        problems: dict[str, str] = {}
        modules = list(model.named_modules())
        if not any(isinstance(m, _BATCH_NORM_TYPES) for _, m in modules):
            return merges, problems
        merged: set[int] = set()
        names = {id(m): name for name, m in modules}
        for _, parent in modules:
            if not isinstance(parent, nn.Sequential):
                continue
            children = list(parent.named_children())
            for (_, prev), (_, cur) in itertools.pairwise(children):
                if not isinstance(cur, _BATCH_NORM_TYPES) or id(cur) in merged:
                    continue
                lin_name, bn_name = names[id(prev)], names[id(cur)]
                partner = next((bn for t, bn in _PARTNER.items() if isinstance(prev, t)), None)
                if partner is None:
                    continue  # reported below as "does not follow a Linear/Conv"
                if type(cur) is not partner:
                    problems[bn_name] = (
                        f"a {type(cur).__name__} cannot follow a {type(prev).__name__} "
                        f"(expected {partner.__name__})"
                    )
                    continue
                n_out = prev.out_features if isinstance(prev, nn.Linear) else prev.out_channels
                if cur.num_features != n_out:
                    problems[bn_name] = (
                        f"its num_features={cur.num_features} differs from the {n_out} outputs of "
                        f"{display_path(lin_name, prev)}"
                    )
                    continue
                reason = self._unmergeable(cur)
                if reason:
                    problems[bn_name] = reason
                    continue
                weight, bias = self.merge(prev, cur)
                merges.append(Merge(lin_name, prev, bn_name, cur, weight, bias))
                merged.add(id(cur))
        for name, module in modules:
            if (
                isinstance(module, _BATCH_NORM_TYPES)
                and id(module) not in merged
                and name not in problems
            ):
                reason = self._unmergeable(module)
                problems[name] = (
                    reason or "it does not directly follow a Linear/Conv layer in an nn.Sequential"
                )
        return merges, problems

    @staticmethod
    def _unmergeable(norm: nn.Module) -> str:
        if norm.training:
            return "it is in training mode and normalises with batch statistics; call model.eval()"
        if norm.running_mean is None or norm.running_var is None:
            return "it has no running statistics (track_running_stats=False)"
        return ""
