"""Dataset examples equal a brute-force argsort; activation capture cleans up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from physxai.features import Objective, capture_activations, dataset_examples
from physxai.testing import tiny_cnn

D = torch.float64


@pytest.mark.parametrize("max_batch_size", [1, 7, 1000])
def test_dataset_examples_equal_brute_force_argsort(max_batch_size):
    model = tiny_cnn(dtype=D)
    X = torch.randn(40, 1, 8, 8, dtype=D)
    res = dataset_examples(
        model, X, Objective.channel("features.conv2", 3), k=5, max_batch_size=max_batch_size
    )
    with torch.no_grad():
        a = model.features.conv2(model.features.relu1(model.features.conv1(X)))[:, 3].sum((1, 2))
    order = np.argsort(-a.numpy(), kind="stable")
    assert res.top_indices.tolist() == order[:5].tolist()
    assert res.bottom_indices.tolist() == np.argsort(a.numpy(), kind="stable")[:5].tolist()
    assert torch.allclose(res.values, a)
    assert torch.equal(res.top_inputs, X[res.top_indices])
    assert bool((res.top_values[:-1] >= res.top_values[1:]).all())


def test_ties_go_to_the_lower_index_and_per_sample_targets_work():
    model = nn.Sequential(nn.Linear(2, 3)).to(D).eval()
    X = torch.zeros(6, 2, dtype=D)  # every value ties
    res = dataset_examples(model, X, Objective.neuron("0", 1), k=3, max_batch_size=4)
    assert res.top_indices.tolist() == [0, 1, 2] and res.bottom_indices.tolist() == [0, 1, 2]
    X = torch.randn(6, 2, dtype=D)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    res = dataset_examples(model, X, Objective.logit(labels), k=2, max_batch_size=4)
    with torch.no_grad():
        ref = model(X).gather(1, labels[:, None])[:, 0]
    assert torch.allclose(res.values, ref)


def test_dataset_examples_errors():
    model = tiny_cnn(dtype=D)
    X = torch.randn(4, 1, 8, 8, dtype=D)
    with pytest.raises(ValueError, match="k must be at most the number of inputs"):
        dataset_examples(model, X, Objective.logit(0), k=5)
    with pytest.raises(ValueError, match="'features.conv7'.*valid names"):
        dataset_examples(model, X, Objective.neuron("features.conv7", 0), k=2)
    with pytest.raises(TypeError, match="inputs must be a torch.Tensor"):
        dataset_examples(model, X.numpy(), Objective.logit(0), k=2)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        dataset_examples(model, X, Objective.logit(0), k=0)


def test_capture_activations_batches_and_leaves_no_hooks():
    model = tiny_cnn(dtype=D)
    X = torch.randn(9, 1, 8, 8, dtype=D)
    acts = capture_activations(model, X, ["features.relu1", "features.conv2"], max_batch_size=4)
    with torch.no_grad():
        r1 = model.features.relu1(model.features.conv1(X))
    assert torch.equal(acts["features.relu1"], r1)
    assert acts["features.conv2"].shape == (9, 6, 8, 8)
    flat = capture_activations(model, X, "features.relu1", flatten=True)
    assert flat["features.relu1"].shape == (9, 4 * 64)
    assert not any(m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="'features.relu3'.*valid names"):
        capture_activations(model, X, ["features.relu3"])
    assert not any(m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="layers must name at least one layer"):
        capture_activations(model, X, [])
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        capture_activations(lambda t: t, X, ["a"])
    with pytest.raises(TypeError, match="layer names must be str"):
        capture_activations(model, X, [3])
