"""Dataset examples: the inputs of a data set that most (and least) activate a unit.

The data-driven counterpart of activation maximisation (SUTD 50.039 notes, seed 004, Sec. 1.2):
instead of synthesising an input, rank the real ones. The objective (a neuron, a channel summed
over positions, a class logit: any :class:`~physxai.features.Objective`) is evaluated on the
whole data set in batches of ``max_batch_size`` rows, and the ``k`` highest and lowest are
returned with their indices. Ties are broken by the lower index (a stable sort), so the result is
exactly ``argsort`` of the values and does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .._validation import check_inputs, check_positive_int, check_same_device, warn_if_training
from .objectives import Objective, as_objective, check_objective_layers, evaluate_objective

__all__ = ["DatasetExamples", "dataset_examples"]


@dataclass(frozen=True)
class DatasetExamples:
    """The result of :func:`dataset_examples`.

    Attributes
    ----------
    values : Tensor, shape ``(n,)``
        The objective of every input.
    top_indices, bottom_indices : LongTensor, shape ``(k,)``
        Indices of the ``k`` highest values (highest first) and ``k`` lowest (lowest first).
    top_values, bottom_values : Tensor, shape ``(k,)``
    top_inputs, bottom_inputs : Tensor, shape ``(k, *F)``
    objective : str
        The objective's description.
    """

    values: Tensor
    top_indices: Tensor
    top_values: Tensor
    top_inputs: Tensor
    bottom_indices: Tensor
    bottom_values: Tensor
    bottom_inputs: Tensor
    objective: str


def dataset_examples(
    model: Any,
    inputs: Tensor,
    objective: Objective | Callable[[Any, Tensor], Tensor],
    *,
    k: int = 9,
    max_batch_size: int = 256,
) -> DatasetExamples:
    """The ``k`` inputs that most and least activate ``objective``, over the whole data set.

    Parameters
    ----------
    model : nn.Module or callable
    inputs : Tensor, shape ``(n, *F)``
    objective : Objective or callable ``(model, x) -> (n,)``
        E.g. ``Objective.neuron("features.act1", 3)`` or ``Objective.channel("features.conv2", 0)``.
    k : int, default 9
        How many examples on each side; at most ``n``.
    max_batch_size : int, default 256
        Rows per forward pass; the result does not depend on it.

    Returns
    -------
    DatasetExamples

    Raises
    ------
    ValueError
        ``k > n``, a layer name the model does not have (listing the valid ones), bad inputs.
    TypeError
        An objective that is neither an ``Objective`` nor a callable.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from physxai.features import Objective, dataset_examples
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    >>> ex = dataset_examples(model, torch.randn(20, 2), Objective.neuron("1", 0), k=3)
    >>> ex.top_indices.shape
    torch.Size([3])
    """
    caller = "dataset_examples"
    objective = as_objective(objective, caller)
    inputs = check_inputs(inputs, caller)
    check_positive_int(k, caller, "k")
    check_positive_int(max_batch_size, caller, "max_batch_size")
    n = inputs.shape[0]
    if k > n:
        raise ValueError(f"{caller}: k must be at most the number of inputs ({n}); got {k}.")
    check_same_device(model, inputs, caller)
    modules = check_objective_layers(model, objective, caller)
    warn_if_training(model, caller)
    parts = []
    with torch.no_grad():
        for start in range(0, n, max_batch_size):
            chunk = inputs[start : start + max_batch_size]
            rows = torch.arange(start, start + chunk.shape[0], device=inputs.device)
            parts.append(evaluate_objective(model, chunk, objective, caller, rows, modules))
    values = torch.cat(parts)
    order = torch.sort(values, descending=True, stable=True).indices
    low = torch.sort(values, descending=False, stable=True).indices
    top, bottom = order[:k], low[:k]
    return DatasetExamples(
        values=values,
        top_indices=top,
        top_values=values[top],
        top_inputs=inputs[top].detach().clone(),
        bottom_indices=bottom,
        bottom_values=values[bottom],
        bottom_inputs=inputs[bottom].detach().clone(),
        objective=objective.description,
    )
