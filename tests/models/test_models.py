"""The reference architectures: shapes, layer names, exact properties, and argument errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.models import CNN, MLP


@pytest.mark.parametrize("hidden", [(), (8,), (8, 4)])
@pytest.mark.parametrize("out_features", [1, 3])
def test_mlp_shapes(hidden, out_features):
    model = MLP(5, hidden=hidden, out_features=out_features)
    assert model(torch.randn(7, 5)).shape == (7, out_features)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    assert n_linear == len(hidden) + 1


def test_mlp_flattens_lattices():
    model = MLP(16, hidden=(4,), out_features=2).double()
    spins = torch.randn(3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(model(spins), model(spins.reshape(3, 16)), rtol=0, atol=0)


def test_mlp_is_linear_without_hidden_layers():
    model = MLP(3, hidden=(), out_features=2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    expected = x @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(model(x), expected)


def test_mlp_layer_names_and_distinct_activations():
    model = MLP(4, hidden=(8, 8, 8), activation="tanh", dropout=0.1)
    names = [name for name, _ in model.named_modules()]
    for expected in ("features.fc1", "features.act1", "features.drop1", "features.fc3", "head"):
        assert expected in names
    acts = [m for m in model.modules() if isinstance(m, nn.Tanh)]
    assert len(acts) == 3 and len({id(a) for a in acts}) == 3
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_mlp_bias_free():
    model = MLP(4, hidden=(6,), bias=False)
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))
    assert torch.equal(model(torch.zeros(2, 4)), torch.zeros(2, 1))  # f(0) = 0 without biases


def test_mlp_accepts_an_activation_class():
    model = MLP(4, hidden=(3, 3), activation=nn.Softsign)
    assert sum(isinstance(m, nn.Softsign) for m in model.modules()) == 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"in_features": 0}, ValueError, "in_features must be an int >= 1"),
        ({"hidden": (8, 0)}, ValueError, "hidden must be a tuple of positive ints"),
        ({"out_features": 2.0}, ValueError, "out_features must be an int"),
        ({"dropout": 1.0}, ValueError, r"dropout must be a probability in \[0, 1\)"),
        ({"activation": "swish"}, ValueError, "activation must be one of"),
        ({"activation": nn.ReLU()}, TypeError, "not an instance"),
        ({"activation": lambda: nn.ReLU(inplace=True)}, ValueError, "must not be in-place"),
        ({"activation": 3}, TypeError, "activation must be a name or an nn.Module class"),
        ({"activation": lambda: 3}, TypeError, "must return an nn.Module"),
        ({"bias": 1}, TypeError, "bias must be a bool"),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs, error, match):
    args = {"in_features": 4, **kwargs}
    with pytest.raises(error, match=match):
        MLP(**args)


def test_mlp_rejects_inputs_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"inputs must have shape \(n, 4\)"):
        MLP(4)(torch.zeros(2, 5))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("pool", ["gap", "max", "avg", "flatten"])
def test_cnn_shapes(dims, pool):
    size = 8
    model = CNN(2, 3, channels=(4, 5), input_size=size, pool=pool, dims=dims)
    x = torch.randn(2, 2, *([size] * dims))
    assert model(x).shape == (2, 3)


def test_cnn_layer_names_for_grad_cam():
    model = CNN(1, 2)
    modules = dict(model.named_modules())
    assert isinstance(modules["features.conv2"], nn.Conv2d)
    assert isinstance(modules["features.act2"], nn.ReLU)
    assert isinstance(modules["head.gap"], nn.AdaptiveAvgPool2d)
    assert isinstance(modules["head.fc"], nn.Linear)
    acts = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len({id(a) for a in acts}) == len(acts) == 2


def test_cnn_gap_accepts_any_size_and_is_the_cam_shape():
    model = CNN(1, 2, channels=(3,)).double()
    for size in (5, 9):
        x = torch.randn(2, 1, size, size, dtype=torch.float64)
        # CAM identity: the logit is the spatial mean of the class-weighted feature maps
        maps = model.features(x)
        cam = torch.einsum("kc,nchw->nkhw", model.head.fc.weight, maps).mean(dim=(2, 3))
        torch.testing.assert_close(model(x), cam + model.head.fc.bias)


def test_cnn_periodic_padding_is_translation_equivariant():
    # circular padding: features(roll(x)) == roll(features(x)) exactly, for any shift
    model = CNN(1, 2, channels=(3, 4), periodic=True).double()
    x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
    shifted = model.features(torch.roll(x, shifts=(2, -1), dims=(2, 3)))
    torch.testing.assert_close(shifted, torch.roll(model.features(x), shifts=(2, -1), dims=(2, 3)))
    # so a GAP model is translation invariant
    torch.testing.assert_close(model(torch.roll(x, 3, dims=3)), model(x))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_cnn_valid_padding_and_even_kernels():
    model = CNN(
        1, 2, dims=1, channels=(3,), kernel_size=4, padding="valid", pool="flatten", input_size=10
    )
    assert model.head.fc.in_features == 3 * 7
    assert model(torch.randn(2, 1, 10)).shape == (2, 2)
    same = CNN(1, 2, dims=1, channels=(3,), kernel_size=4, pool="flatten", input_size=10)
    assert same(torch.randn(2, 1, 10)).shape == (2, 2)


def test_cnn_head_hidden():
    model = CNN(1, 2, pool="max", input_size=8, head_hidden=(16,))
    names = [n for n, _ in model.head.named_children()]
    assert names == ["flatten", "fc_hidden1", "act_hidden1", "fc"]
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"pool": "max"}, ValueError, "input_size is required"),
        ({"pool": "mean"}, ValueError, "pool must be one of"),
        ({"dims": 4}, ValueError, "dims must be 1, 2 or 3"),
        ({"channels": ()}, ValueError, "channels must be a non-empty tuple"),
        ({"kernel_size": 0}, ValueError, "kernel_size must be an int >= 1"),
        ({"padding": "full"}, ValueError, "padding must be one of"),
        ({"periodic": True, "kernel_size": 2}, ValueError, "periodic=True needs"),
        ({"periodic": 1}, TypeError, "periodic must be a bool"),
        ({"input_size": (8,)}, ValueError, "input_size must be a positive int or a tuple of 2"),
        (
            {"pool": "max", "input_size": 4, "channels": (2, 2, 2)},
            ValueError,
            "input_size .* is too small",
        ),
        (
            {"pool": "flatten", "input_size": 3, "padding": "valid", "kernel_size": 5},
            ValueError,
            "too small",
        ),
    ],
)
def test_cnn_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CNN(1, 2, **kwargs)


def test_cnn_rejects_inputs_without_channels():
    with pytest.raises(ValueError, match=r"Add the channel axis with x\[:, None\]"):
        CNN(1, 2)(torch.zeros(3, 8, 8))
