"""Sanity checks: layer order, one layer at a time, the caller's model untouched, data randomisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.evaluation import (
    cascading_randomization,
    data_randomization,
    independent_randomization,
    randomization_layers,
    randomize_layers,
)
from physxai.models import MLP
from physxai.testing import tiny_mlp


def bn_model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3)
    ).double()
    with torch.no_grad():  # trained-looking running statistics
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
        model[1].num_batches_tracked.fill_(7)
    return model.eval()


def changed_layers(original: nn.Module, other: nn.Module) -> set[str]:
    before = dict(original.named_modules())
    changed = set()
    for name, module in other.named_modules():
        own = list(module.state_dict(keep_vars=False).items()) if name else []
        ref = before[name].state_dict() if name else {}
        for key, value in own:
            if "." not in key and not torch.equal(value, ref[key]):
                changed.add(name)
    return changed


def test_default_layer_order_is_top_down():
    assert randomization_layers(bn_model()) == ["5", "3", "1", "0"]
    assert randomization_layers(MLP(4, hidden=(8, 8), out_features=2)) == ["head", "features.fc2", "features.fc1"]


@pytest.mark.parametrize("mode", ["cascading", "independent"])
def test_each_step_randomises_the_expected_layers(mode):
    model = bn_model()
    seen = []

    def record(m, inputs, target):
        seen.append(changed_layers(model, m))
        return inputs * 0 + m(inputs)[:, :1]

    run = cascading_randomization if mode == "cascading" else independent_randomization
    x = torch.randn(4, 6, dtype=torch.float64)
    result = run(model, x, record, target=0)
    layers = ["5", "3", "1", "0"]
    assert result.layers == layers
    assert seen[0] == set()
    if mode == "cascading":
        assert seen[1:] == [set(layers[:k]) for k in range(1, 5)]
    else:
        assert seen[1:] == [{name} for name in layers]
    assert result.attributions.shape == (5, 4, 6)
    assert set(result.similarity) == {"spearman", "spearman_abs", "ssim", "ssim_abs"}
    assert result.similarity["spearman"].shape == (4, 4) and result.median("spearman").shape == (4,)


def test_callers_model_is_untouched():
    model = bn_model()
    calls = []
    handle = model[3].register_forward_hook(lambda m, i, o: calls.append(1))
    model[0].weight.requires_grad_(False)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {name: m.training for name, m in model.named_modules()}
    hooks = {name: dict(m._forward_hooks) for name, m in model.named_modules()}
    x = torch.randn(4, 6, dtype=torch.float64)
    rng = torch.random.get_rng_state()
    cascading_randomization(model, x, "saliency", target=1)
    independent_randomization(model, x, "gradient_x_input", target=1, layers=["3", "0"])
    randomize_layers(model, ["1"], seed=2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert {name: dict(m._forward_hooks) for name, m in model.named_modules()} == hooks
    assert not model[0].weight.requires_grad and model[3].weight.requires_grad
    assert torch.equal(torch.random.get_rng_state(), rng)
    handle.remove()


def test_randomize_layers_resets_parameters_and_running_statistics_reproducibly():
    model = bn_model()
    a = randomize_layers(model, ["1", "3"], seed=4)
    b = randomize_layers(model, ["3", "1"], seed=4)  # the seed depends on the name, not the order
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert torch.equal(a[1].running_mean, torch.zeros(8, dtype=torch.float64))
    assert torch.equal(a[1].running_var, torch.ones(8, dtype=torch.float64))
    assert int(a[1].num_batches_tracked) == 0
    assert float(a[3].weight.detach().abs().max()) <= 8**-0.5  # nn.Linear's own kaiming-uniform bound
    assert not torch.equal(a[3].weight, model[3].weight)
    assert torch.equal(a[0].weight, model[0].weight) and torch.equal(a[5].weight, model[5].weight)
    assert not torch.equal(randomize_layers(model, ["3"], seed=5)[3].weight, a[3].weight)


def test_cascade_and_independent_agree_on_the_first_step_and_gradient_changes():
    model = tiny_mlp(in_features=6, hidden=(16, 16))
    x = torch.randn(8, 6, dtype=torch.float64)
    cascade = cascading_randomization(model, x, "saliency", target=0, seed=1)
    single = independent_randomization(model, x, "saliency", target=0, seed=1)
    torch.testing.assert_close(cascade.attributions[:2], single.attributions[:2])
    torch.testing.assert_close(cascade.attributions[0], torch.autograd.functional.jacobian(
        lambda t: model(t)[:, 0].sum(), x))
    # fully randomised, the gradient map is no longer the original one
    assert float(cascade.median("spearman")[-1]) < 0.9


def test_data_randomization():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = (x[:, 0] > 0).long()
    model = MLP(4, hidden=(16,), out_features=2)
    from physxai.models import fit
    fit(model, (x, y), epochs=30, lr=3e-2, progress=False)
    rng = torch.random.get_rng_state()
    factory = lambda: MLP(4, hidden=(32,), out_features=2)
    result = data_randomization(
        model, x, y, x[:16], "saliency", model_factory=factory, target=1,
        fit_options={"epochs": 150, "lr": 3e-2, "batch_size": 64},
    )
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert result.attributions.shape == (2, 16, 4)
    assert result.train_accuracy > 0.8  # memorised shuffled labels
    assert not result.model.training
    # the true-label model reads feature 0; the shuffled-label model does not
    top = result.attributions.abs().mean(dim=1).argmax(dim=1)
    assert int(top[0]) == 0
    again = data_randomization(
        model, x, y, x[:16], "saliency", model_factory=factory, target=1,
        fit_options={"epochs": 150, "lr": 3e-2, "batch_size": 64},
    )
    torch.testing.assert_close(again.attributions, result.attributions)


class RawParameter(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3, dtype=torch.float64))

    def forward(self, x):
        return x * self.weight


def test_raises():
    model = bn_model()
    x = torch.randn(2, 6, dtype=torch.float64)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        cascading_randomization(lambda t: t, x, "saliency")
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        randomization_layers(lambda t: t)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        randomize_layers(lambda t: t, ["0"])
    with pytest.raises(ValueError, match="not a submodule"):
        cascading_randomization(model, x, "saliency", target=0, layers=["7"])
    with pytest.raises(ValueError, match="distinct module names"):
        independent_randomization(model, x, "saliency", target=0, layers=["0", "0"])
    with pytest.raises(TypeError, match="layers must be a list of module names"):
        randomize_layers(model, "0")
    with pytest.raises(ValueError, match="no layers with parameters"):
        cascading_randomization(nn.Sequential(nn.ReLU()), x, "saliency")
    with pytest.raises(TypeError, match="has no reset_parameters"):
        randomize_layers(nn.Sequential(RawParameter()), ["0"])
    randomize_layers(nn.Sequential(RawParameter()), ["0"], initializer=lambda m: nn.init.normal_(m.weight))
    with pytest.raises(TypeError, match="initializer must be a callable"):
        randomize_layers(model, ["0"], initializer=3)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        randomize_layers(model, ["0"], seed=-1)
    with pytest.raises(ValueError, match="similarities must be names"):
        cascading_randomization(model, x, "saliency", target=0, similarities=["hog"])
    with pytest.raises(ValueError, match="similarities must be a non-empty list"):
        cascading_randomization(model, x, "saliency", target=0, similarities="ssim")
    with pytest.raises(ValueError, match="target must be a column"):
        cascading_randomization(model, x, "saliency", target=5)
    y = torch.zeros(2, dtype=torch.long)
    factory = lambda: nn.Linear(6, 2).double()
    with pytest.raises(ValueError, match="train_targets must be a tensor with one entry"):
        data_randomization(model, x, y[:1], x, "saliency", model_factory=factory, target=0)
    with pytest.raises(TypeError, match="model_factory must be a callable"):
        data_randomization(model, x, y, x, "saliency", model_factory=None, target=0)
    with pytest.raises(TypeError, match="model_factory must return an nn.Module"):
        data_randomization(model, x, y, x, "saliency", model_factory=lambda: 3, target=0)
    with pytest.raises(ValueError, match="must not hold 'seed'"):
        data_randomization(model, x, y, x, "saliency", model_factory=factory, target=0, fit_options={"seed": 1})
