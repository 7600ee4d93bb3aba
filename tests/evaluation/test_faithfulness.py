"""Faithfulness correlation, infidelity and max-sensitivity: exact zeros and ones, literal Monte Carlo."""

from __future__ import annotations

import pytest
import torch

from physxai.attribution import attribute
from physxai.evaluation import faithfulness_correlation, infidelity, max_sensitivity
from physxai.testing import tiny_mlp


def linear_setup(seed: int = 0, n: int = 6, d: int = 8):
    g = torch.Generator().manual_seed(seed)
    weights = torch.randn(d, generator=g, dtype=torch.float64)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return (lambda t: t @ weights), x, weights


def test_faithfulness_correlation_is_one_for_exact_contributions():
    model, x, _ = linear_setup()
    R = attribute(model, x, "gradient_x_input")
    ones = torch.ones(x.shape[0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    torch.testing.assert_close(faithfulness_correlation(model, x, R, subset_size=3, generator=g), ones)
    torch.testing.assert_close(faithfulness_correlation(model, x, -R, subset_size=3, generator=g), -ones)
    # with regions: the relevance of a region is the sum of its contributions
    mask = torch.arange(8) // 2
    torch.testing.assert_close(faithfulness_correlation(model, x, R, feature_mask=mask, generator=g), ones)
    # a map unrelated to the model is far from 1
    noise = torch.randn(x.shape, generator=g, dtype=torch.float64)
    assert float(faithfulness_correlation(model, x, noise, generator=g).mean()) < 0.9


def test_faithfulness_correlation_equals_a_literal_loop_and_ignores_max_batch_size():
    model = tiny_mlp(in_features=6)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 6, generator=g, dtype=torch.float64)
    R = torch.randn(3, 6, generator=g, dtype=torch.float64)
    ours = [
        faithfulness_correlation(
            model, x, R, target=1, subset_size=2, n_subsets=20, baseline=0.5,
            generator=torch.Generator().manual_seed(7), max_batch_size=size,
        )
        for size in (1, 9, 1000)
    ]
    keys = torch.rand(3, 20, 6, generator=torch.Generator().manual_seed(7))
    chosen = keys.topk(2, dim=2, largest=False).indices
    with torch.no_grad():
        for i in range(3):
            sums, drops = [], []
            f_x = float(model(x[i : i + 1])[0, 1])
            for k in range(20):
                perturbed = x[i].clone()
                perturbed[chosen[i, k]] = 0.5
                sums.append(float(R[i, chosen[i, k]].sum()))
                drops.append(f_x - float(model(perturbed[None])[0, 1]))
            expected = torch.corrcoef(torch.tensor([sums, drops], dtype=torch.float64))[0, 1]
            for value in ours:
                assert float(value[i]) == pytest.approx(float(expected), abs=1e-10)


def test_infidelity_is_zero_for_matching_perturbations_on_a_linear_model():
    model, x, _ = linear_setup()
    g = torch.Generator().manual_seed(3)
    grad_x_input = attribute(model, x, "gradient_x_input")
    saliency = attribute(model, x, "saliency")
    assert float(infidelity(model, x, grad_x_input, perturbation="subset", generator=g).max()) < 1e-25
    assert float(infidelity(model, x, saliency, perturbation="gaussian", generator=g).max()) < 1e-25
    # mismatched: gradient x input judged against Gaussian noise is not zero
    assert float(infidelity(model, x, grad_x_input, perturbation="gaussian", generator=g).min()) > 1e-6
    # normalize forgives a wrong scale, not a wrong direction
    doubled = 2 * saliency
    assert float(infidelity(model, x, doubled, generator=g).min()) > 1e-6
    assert float(infidelity(model, x, doubled, normalize=True, generator=g).max()) < 1e-25


def test_infidelity_equals_a_literal_monte_carlo_and_ignores_max_batch_size():
    model = tiny_mlp(in_features=5)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 5, generator=g, dtype=torch.float64)
    R = torch.randn(2, 5, generator=g, dtype=torch.float64)
    ours = [
        infidelity(model, x, R, target=0, n_perturbations=16, noise_scale=0.3,
                   generator=torch.Generator().manual_seed(5), max_batch_size=size)
        for size in (1, 5, 1000)
    ]
    draws = 0.3 * torch.randn(2, 16, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with torch.no_grad():
        for i in range(2):
            errors = []
            for k in range(16):
                shift = draws[i, k]
                change = float(model(x[i : i + 1])[0, 0] - model((x[i] - shift)[None])[0, 0])
                errors.append((float(shift @ R[i]) - change) ** 2)
            for value in ours:
                assert float(value[i]) == pytest.approx(sum(errors) / 16, rel=1e-10)


def constant_map(model, inputs, target):
    return torch.ones_like(inputs)


def test_max_sensitivity():
    model, x, weights = linear_setup()
    g = torch.Generator().manual_seed(6)
    zeros = torch.zeros(x.shape[0], dtype=torch.float64)
    torch.testing.assert_close(max_sensitivity(model, x, constant_map, generator=g), zeros)
    torch.testing.assert_close(max_sensitivity(model, x, "saliency", generator=g), zeros)
    # gradient x input of a linear model moves by w * delta: bounded by r ||w||, and a literal max
    r = 0.2
    ours = max_sensitivity(model, x, "gradient_x_input", radius=r, n_samples=7,
                           generator=torch.Generator().manual_seed(8), max_batch_size=5)
    delta = r * (2 * torch.rand(x.shape[0], 7, 8, generator=torch.Generator().manual_seed(8), dtype=torch.float64) - 1)
    expected = torch.linalg.vector_norm(delta * weights, dim=2).amax(dim=1)
    torch.testing.assert_close(ours, expected)
    assert bool((ours <= r * torch.linalg.vector_norm(weights)).all())
    normalized = max_sensitivity(model, x, "gradient_x_input", radius=r, n_samples=7, normalize=True,
                                 generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(normalized, expected / torch.linalg.vector_norm(x * weights, dim=1))


def test_max_sensitivity_repeats_a_per_sample_target():
    seen = []

    def record(model, inputs, target):
        seen.append(target.clone())
        return inputs.clone()

    model = tiny_mlp(in_features=6)
    x = torch.randn(3, 6, dtype=torch.float64)
    target = torch.tensor([2, 0, 1])
    max_sensitivity(model, x, record, target=target, n_samples=4, max_batch_size=5)
    assert torch.equal(seen[0], target)
    assert torch.equal(torch.cat(seen[1:]), target.repeat_interleave(4))


def test_raises():
    model, x, _ = linear_setup()
    R = torch.randn_like(x)
    with pytest.raises(ValueError, match="subset_size must be at most the number of regions"):
        faithfulness_correlation(model, x, R, subset_size=9)
    with pytest.raises(ValueError, match="n_subsets must be an int >= 2"):
        faithfulness_correlation(model, x, R, n_subsets=1)
    with pytest.raises(ValueError, match="baseline must broadcast"):
        faithfulness_correlation(model, x, R, baseline=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="attributions must have the shape"):
        faithfulness_correlation(model, x, R[:2])
    with pytest.raises(ValueError, match="perturbation must be one of"):
        infidelity(model, x, R, perturbation="uniform")
    with pytest.raises(ValueError, match="noise_scale must be"):
        infidelity(model, x, R, noise_scale=0)
    with pytest.raises(ValueError, match="subset_fraction must be"):
        infidelity(model, x, R, subset_fraction=1.5)
    with pytest.raises(ValueError, match="n_perturbations must be"):
        infidelity(model, x, R, n_perturbations=0)
    with pytest.raises(TypeError, match="normalize must be a bool"):
        infidelity(model, x, R, normalize="yes")
    with pytest.raises(TypeError, match="generator must be"):
        infidelity(model, x, R, generator=0)
    with pytest.raises(ValueError, match="max_batch_size must be"):
        infidelity(model, x, R, max_batch_size=0)
    with pytest.raises(ValueError, match="radius must be"):
        max_sensitivity(model, x, "saliency", radius=-1.0)
    with pytest.raises(ValueError, match="n_samples must be"):
        max_sensitivity(model, x, "saliency", n_samples=0)
    with pytest.raises(TypeError, match="normalize must be a bool"):
        max_sensitivity(model, x, "saliency", normalize=None)
    with pytest.raises(ValueError, match="method must be one of"):
        max_sensitivity(model, x, "gradient")
    with pytest.raises(TypeError, match="model must be"):
        max_sensitivity(None, x, "saliency")
