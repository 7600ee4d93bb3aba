"""Small reference architectures from the papers, and the one training loop.

- :class:`MLP`: fully connected, layers named ``features.fc1``, ``features.act1``, ..., ``head``.
- :class:`CNN`: convolution blocks (1D, 2D or 3D) named ``features.conv1``, ``features.act1``,
  ..., and a ``head`` with global average pooling (the CAM shape) or a dense head.
- :func:`fit`: seeded mini-batch training with an explicit L2 term, validation, early stopping
  and a divergence check; returns a :class:`History`.

This layer imports only ``errors``, ``_validation`` and torch: attribution never depends on it,
and any ``nn.Module`` works with the attribution core, not only these.
"""

from ._cnn import CNN
from ._mlp import MLP
from ._training import History, fit

__all__ = ["CNN", "MLP", "History", "fit"]
