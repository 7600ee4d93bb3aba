"""ROAR and KAR on a task whose evidence is one known feature."""

from __future__ import annotations

import pytest
import torch

from physxai.evaluation import roar
from physxai.models import MLP

FIT = {"epochs": 25, "lr": 5e-2, "batch_size": 64}


def task(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(320, 4, generator=g)
    y = (x[:, 0] > 0).long()  # only feature 0 matters
    return x[:256], y[:256], x[256:], y[256:]


def factory():
    return MLP(4, hidden=(8,), out_features=2)


def ranking(first: int, n: int) -> torch.Tensor:
    """Attributions that rank feature ``first`` highest and the rest in index order."""
    scores = -torch.arange(4, dtype=torch.float32) - 1.0
    scores[first] = 10.0
    return scores.expand(n, 4).clone()


def test_removing_the_used_feature_is_most_harmful():
    xtr, ytr, xte, yte = task()
    accuracy = {}
    for first in range(4):
        result = roar(
            xtr, ytr, xte, yte, ranking(first, 256), ranking(first, 64),
            model_factory=factory, fractions=(0.25,), seeds=(0,), fit_options=FIT,
        )
        accuracy[first] = float(result.accuracy[0, 0])
    assert min(accuracy, key=accuracy.get) == 0
    assert accuracy[0] < 0.7 and min(accuracy[j] for j in (1, 2, 3)) > 0.9
    # KAR keeping only the top quarter: the used feature keeps the accuracy, any other loses it
    kept = roar(xtr, ytr, xte, yte, ranking(0, 256), ranking(0, 64), model_factory=factory,
                fractions=(0.25,), seeds=(0,), keep=True, fit_options=FIT)
    other = roar(xtr, ytr, xte, yte, ranking(3, 256), ranking(3, 64), model_factory=factory,
                 fractions=(0.25,), seeds=(0,), keep=True, fit_options=FIT)
    assert float(kept.accuracy[0, 0]) > 0.9
    assert float(other.accuracy[0, 0]) < 0.7


def test_random_reference_and_edge_fractions():
    xtr, ytr, xte, yte = task(1)
    rng = torch.random.get_rng_state()
    result = roar(xtr, ytr, xte, yte, None, None, model_factory=factory, fractions=(0.0, 1.0),
                  seeds=(0, 1), fit_options={**FIT, "epochs": 5}, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), rng)
    assert result.ranking == "random" and result.accuracy.shape == (2, 2) and result.seeds == (0, 1)
    assert bool((result.accuracy[0] > 0.85).all())  # nothing removed
    majority = max(float(yte.double().mean()), 1 - float(yte.double().mean()))
    assert bool((result.accuracy[1] <= majority + 1e-12).all())  # everything replaced by the mean
    assert result.mean.shape == (2,) and result.std.shape == (2,)


def test_ties_and_regions():
    xtr, ytr, xte, yte = task(2)
    # all-zero attributions tie everywhere: identical to the random ranking with the same generator
    options = {"model_factory": factory, "fractions": (0.5,), "seeds": (0,), "fit_options": {**FIT, "epochs": 3}}
    tied = roar(xtr, ytr, xte, yte, torch.zeros_like(xtr), torch.zeros_like(xte),
                generator=torch.Generator().manual_seed(3), **options)
    rand = roar(xtr, ytr, xte, yte, None, None, generator=torch.Generator().manual_seed(3), **options)
    torch.testing.assert_close(tied.accuracy, rand.accuracy)
    # regions {0, 1} and {2, 3}: removing half the regions by the true ranking removes feature 0
    mask = torch.tensor([0, 0, 1, 1])
    grouped = roar(xtr, ytr, xte, yte, ranking(0, 256), ranking(0, 64), feature_mask=mask,
                   replacement=0.0, **{**options, "fit_options": FIT})
    assert float(grouped.accuracy[0, 0]) < 0.7


def test_raises():
    xtr, ytr, xte, yte = task()
    R = ranking(0, 256)
    base = {"model_factory": factory, "fractions": (0.5,), "seeds": (0,)}
    with pytest.raises(ValueError, match="give both train_attributions and test_attributions"):
        roar(xtr, ytr, xte, yte, R, None, **base)
    with pytest.raises(ValueError, match="share feature shape"):
        roar(xtr, ytr, xte[:, :3], yte, None, None, **base)
    with pytest.raises(ValueError, match="test_targets must have one entry per sample"):
        roar(xtr, ytr, xte, yte[:3], None, None, **base)
    with pytest.raises(TypeError, match="train_targets must be a torch.Tensor"):
        roar(xtr, ytr.tolist(), xte, yte, None, None, **base)
    with pytest.raises(ValueError, match="test_attributions must have the shape"):
        roar(xtr, ytr, xte, yte, R, R, **base)
    with pytest.raises(TypeError, match="model_factory must be a callable"):
        roar(xtr, ytr, xte, yte, None, None, model_factory=3)
    with pytest.raises(ValueError, match=r"fractions must be numbers in \[0, 1\]"):
        roar(xtr, ytr, xte, yte, None, None, **{**base, "fractions": (0.5, 1.5)})
    with pytest.raises(ValueError, match="fractions must be a non-empty sequence"):
        roar(xtr, ytr, xte, yte, None, None, **{**base, "fractions": ()})
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of ints"):
        roar(xtr, ytr, xte, yte, None, None, **{**base, "seeds": (0.5,)})
    with pytest.raises(ValueError, match="must not hold 'seed'"):
        roar(xtr, ytr, xte, yte, None, None, fit_options={"seed": 0}, **base)
    with pytest.raises(TypeError, match="fit_options must be a dict"):
        roar(xtr, ytr, xte, yte, None, None, fit_options=[1], **base)
    with pytest.raises(ValueError, match="replacement must be 'mean', 'zero'"):
        roar(xtr, ytr, xte, yte, None, None, replacement="blur", **base)
    with pytest.raises(ValueError, match="a replacement tensor must have shape"):
        roar(xtr, ytr, xte, yte, None, None, replacement=torch.zeros(3), **base)
    with pytest.raises(TypeError, match="replacement must be 'mean', 'zero', a float or a tensor"):
        roar(xtr, ytr, xte, yte, None, None, replacement=[0.0], **base)
    with pytest.raises(TypeError, match="metric must be a callable"):
        roar(xtr, ytr, xte, yte, None, None, metric="auc", **base)
    with pytest.raises(TypeError, match="model_factory must return an nn.Module"):
        roar(xtr, ytr, xte, yte, None, None, model_factory=lambda: 3, fractions=(0.5,), seeds=(0,))
