"""Class sensitivity and localisation on models whose evidence is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from physxai.attribution import attribute
from physxai.evaluation import class_sensitivity, localization, spearman_correlation


def test_localization_is_one_for_a_model_reading_only_the_planted_region():
    g = torch.Generator().manual_seed(0)
    region = torch.zeros(6, 6, dtype=torch.bool)
    region[1:3, 2:5] = True
    weights = torch.rand(6, 6, generator=g, dtype=torch.float64) * region
    model = lambda x: (x * weights).flatten(1).sum(1)
    x = torch.rand(10, 6, 6, generator=g, dtype=torch.float64) + 0.1
    R = attribute(model, x, "gradient_x_input")
    result = localization(R, region)
    ones = torch.ones(10, dtype=torch.float64)
    torch.testing.assert_close(result.positive_share, ones)
    torch.testing.assert_close(result.absolute_share, ones)
    torch.testing.assert_close(result.chance, torch.full((10,), 6 / 36, dtype=torch.float64))
    torch.testing.assert_close(result.enrichment, ones * 6.0)
    # a map unrelated to the region sits near chance on average
    noise = torch.rand(2000, 6, 6, generator=g, dtype=torch.float64)
    assert float(localization(noise, region).positive_share.mean()) == pytest.approx(6 / 36, abs=0.01)


def test_localization_per_sample_regions_and_nan_without_positive_relevance():
    R = torch.tensor([[1.0, -1.0, 2.0, 0.0], [-1.0, -2.0, 0.0, 0.0]])
    region = torch.tensor([[True, True, False, False], [False, True, True, True]])
    result = localization(R, region)
    torch.testing.assert_close(result.positive_share[0], torch.tensor(1 / 3))
    assert torch.isnan(result.positive_share[1])
    torch.testing.assert_close(result.absolute_share, torch.tensor([0.5, 2 / 3]))
    torch.testing.assert_close(result.chance, torch.tensor([0.5, 0.75]))


def ignore_target(model, inputs, target):
    """A fake method whose map is the input itself, whatever the target."""
    return inputs.clone()


def test_class_sensitivity_flags_a_map_that_ignores_the_target():
    g = torch.Generator().manual_seed(1)
    weights = torch.randn(4, 12, generator=g, dtype=torch.float64)
    model = lambda x: x @ weights.T
    x = torch.randn(16, 12, generator=g, dtype=torch.float64)
    fake = class_sensitivity(model, x, ignore_target)
    assert fake.flagged and fake.median == pytest.approx(1.0)
    honest = class_sensitivity(model, x, "saliency")
    assert not honest.flagged
    # saliency of a linear model is the weight row of the explained class
    top = (x @ weights.T).topk(2, dim=1).indices
    torch.testing.assert_close(honest.classes, top)
    expected = spearman_correlation(weights[top[:, 0]], weights[top[:, 1]])
    torch.testing.assert_close(honest.correlation, expected)
    # the threshold decides: a threshold below the median flags even the honest method
    assert class_sensitivity(model, x, "saliency", threshold=-1.0).flagged


def test_class_sensitivity_of_guided_backprop_on_a_deep_relu_net_is_higher_than_saliency():
    torch.manual_seed(3)
    layers = [nn.Linear(16, 32), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Linear(32, 32), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(32, 5)).double().eval()
    x = torch.randn(32, 16, dtype=torch.float64)
    guided = class_sensitivity(model, x, "guided_backprop")
    plain = class_sensitivity(model, x, "saliency")
    assert guided.median > plain.median


def test_raises():
    weights = torch.randn(3, 4, dtype=torch.float64)
    model = lambda x: x @ weights.T
    x = torch.randn(5, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="threshold must be"):
        class_sensitivity(model, x, "saliency", threshold=2.0)
    with pytest.raises(TypeError, match="absolute must be a bool"):
        class_sensitivity(model, x, "saliency", absolute=1)
    with pytest.raises(ValueError, match=r"class scores \(n, C\) with C >= 2"):
        class_sensitivity(lambda t: t.sum(1), x, "saliency")
    with pytest.raises(TypeError, match="model must be"):
        class_sensitivity(3, x, "saliency")
    with pytest.raises(ValueError, match="method must be one of"):
        class_sensitivity(model, x, "nonsense")
    with pytest.raises(TypeError, match="method must be a method name"):
        class_sensitivity(model, x, 3)
    with pytest.raises(ValueError, match="must not hold 'target'"):
        class_sensitivity(model, x, "saliency", method_options={"target": 0})
    with pytest.raises(ValueError, match="method_options apply to a method name only"):
        class_sensitivity(model, x, ignore_target, method_options={"a": 1})
    with pytest.raises(TypeError, match="method_options must be a dict"):
        class_sensitivity(model, x, "saliency", method_options=[1])
    with pytest.raises(ValueError, match="callable method must return a tensor shaped like"):
        class_sensitivity(model, x, lambda m, t, target: t[:, :2])
    R = torch.randn(2, 4)
    with pytest.raises(TypeError, match="region must be a bool torch.Tensor"):
        localization(R, [True])
    with pytest.raises(ValueError, match="dtype torch.bool"):
        localization(R, torch.ones(4))
    with pytest.raises(ValueError, match="region must have shape"):
        localization(R, torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one element"):
        localization(R, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="attributions must have a non-empty batch"):
        localization(R[0], torch.ones(4, dtype=torch.bool))
