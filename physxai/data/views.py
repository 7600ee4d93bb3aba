"""Torch views of a data set: ``(input, target)`` pairs for ``DataLoader``.

:class:`TensorView` converts a :class:`~physxai.data.Dataset`'s arrays to tensors once (inputs
to a floating dtype, class labels to int64) and serves ``(input, target)`` pairs, so a data set
read from HDF5 plugs into ``torch.utils.data.DataLoader`` and the training loop unchanged.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from .schema import Dataset

__all__ = ["TensorView"]


class TensorView(TorchDataset):
    """``(input, target)`` pairs of a physxai data set as tensors.

    Parameters
    ----------
    dataset : Dataset
        A data set from :func:`physxai.data.load` or :func:`physxai.data.read`.
    dtype : torch.dtype, optional
        Floating dtype of the inputs (int8 spins become +-1.0); default ``torch.float32``.
    target_dtype : torch.dtype, optional
        Dtype of the targets; default ``torch.int64`` for integer class labels and ``dtype``
        for floating regression targets.

    Attributes
    ----------
    inputs : torch.Tensor, shape (n, ...)
    targets : torch.Tensor, shape (n,)

    Raises
    ------
    TypeError
        If ``dataset`` is not a physxai Dataset or ``dtype`` is not a floating torch dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from physxai.data import Dataset, TensorView
    >>> d = Dataset(inputs=np.ones((4, 2, 2), np.int8), targets=np.arange(4))
    >>> x, y = TensorView(d)[1]
    >>> x.dtype, x.shape, int(y)
    (torch.float32, torch.Size([2, 2]), 1)
    """

    def __init__(
        self,
        dataset: Dataset,
        dtype: torch.dtype | None = None,
        target_dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(dataset, Dataset):
            raise TypeError(
                "TensorView: dataset must be a physxai.data.Dataset; "
                f"got {type(dataset).__name__}. Use physxai.data.load or read."
            )
        dtype = torch.float32 if dtype is None else dtype
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"TensorView: dtype must be a floating torch.dtype; got {dtype!r}.")
        if target_dtype is not None and not isinstance(target_dtype, torch.dtype):
            raise TypeError(
                f"TensorView: target_dtype must be a torch.dtype or None; got {target_dtype!r}."
            )
        self.dataset = dataset
        self.dtype = dtype
        self.inputs = torch.from_numpy(np.ascontiguousarray(dataset.inputs)).to(dtype)
        targets = np.ascontiguousarray(dataset.targets)
        if target_dtype is None:
            target_dtype = torch.int64 if targets.dtype.kind in "iub" else dtype
        self.target_dtype = target_dtype
        self.targets = torch.from_numpy(targets).to(target_dtype)

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]

    def __repr__(self) -> str:
        return (
            f"TensorView({self.dataset.name or 'unnamed'}, n={len(self)}, "
            f"inputs={tuple(self.inputs.shape)} {self.dtype}, targets={self.target_dtype})"
        )
