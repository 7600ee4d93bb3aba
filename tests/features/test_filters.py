"""Layer filters: exact copies of the weights, reshaped and normalised."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.features import layer_filters
from physxai.testing import tiny_cnn


def test_conv_and_dense_filters_are_detached_copies():
    model = tiny_cnn()
    w = layer_filters(model, "features.conv1")
    assert torch.equal(w, model.features.conv1.weight) and w.shape == (4, 1, 3, 3)
    w.zero_()
    assert float(model.features.conv1.weight.detach().abs().sum()) > 0
    dense = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    rows = layer_filters(dense, "1", input_shape=(4, 4))
    assert torch.equal(rows[2], dense[1].weight[2].reshape(4, 4))
    t = nn.Sequential(nn.ConvTranspose2d(2, 5, 3))
    assert layer_filters(t, "0").shape == (5, 2, 3, 3)


def test_normalisations():
    model = tiny_cnn()
    w = layer_filters(model, "features.conv2", normalize="max_abs")
    assert torch.allclose(w.reshape(6, -1).abs().amax(1), torch.ones(6, dtype=w.dtype))
    u = layer_filters(model, "features.conv2", normalize="unit_norm")
    assert torch.allclose(u.reshape(6, -1).norm(dim=1), torch.ones(6, dtype=u.dtype))


def test_filter_errors():
    model = tiny_cnn()
    with pytest.raises(ValueError, match="'features.conv5'.*valid names"):
        layer_filters(model, "features.conv5")
    with pytest.raises(TypeError, match="is a ReLU; filters exist for"):
        layer_filters(model, "features.relu1")
    with pytest.raises(ValueError, match="input_shape reshapes the rows of a dense layer"):
        layer_filters(model, "features.conv1", input_shape=(3, 3))
    with pytest.raises(ValueError, match=r"input_shape \(3, 3\) must hold the layer's in_features"):
        layer_filters(nn.Sequential(nn.Linear(16, 2)), "0", input_shape=(3, 3))
    with pytest.raises(ValueError, match="normalize must be one of"):
        layer_filters(model, "features.conv1", normalize="l1")
