"""Global surrogate: fidelity 1 on a model that is a tree, rules in the feature names."""

from __future__ import annotations

import pytest
import torch

from physxai.errors import NotFittedError
from physxai.features import GlobalSurrogate

D = torch.float64


def tree_model(x: torch.Tensor) -> torch.Tensor:
    """Class 1 iff energy > 0.3 and magnetization <= -0.2, as two logits."""
    one = ((x[:, 1] > 0.3) & (x[:, 0] <= -0.2)).to(x.dtype)
    return torch.stack([1 - one, one], dim=1)


def test_fidelity_is_one_on_a_model_that_is_a_tree():
    g = torch.Generator().manual_seed(0)
    X_train, X_test = (
        torch.rand(400, 3, generator=g, dtype=D) * 2 - 1,
        torch.rand(200, 3, generator=g, dtype=D) * 2 - 1,
    )
    names = ["magnetization", "energy", "noise"]
    s = GlobalSurrogate(tree_model, max_depth=2, feature_names=names).fit(X_train)
    assert s.train_fidelity_ == 1.0
    assert s.fidelity(X_test) == 1.0
    text = s.rules()
    assert "energy" in text and "magnetization" in text and "noise" not in text
    assert torch.equal(s.predict(X_test), tree_model(X_test).argmax(1))
    # a stump cannot represent the AND of two thresholds
    assert GlobalSurrogate(tree_model, max_depth=1).fit(X_train).fidelity(X_test) < 1.0


def test_linear_surrogate_recovers_a_linear_regressor():
    w = torch.tensor([2.0, 0.0, -1.0], dtype=D)
    model = lambda x: x @ w + 0.5
    X = torch.randn(300, 3, dtype=D)
    s = GlobalSurrogate(model, kind="linear", task="regression", alpha=1e-4).fit(X)
    assert s.fidelity(torch.randn(100, 3, dtype=D)) > 0.999
    assert torch.allclose(torch.as_tensor(s.surrogate_.coef_), w, atol=1e-2)
    assert "x[0]" in s.rules() and "x[1]" not in s.rules()


def test_single_logit_classifier_and_lattice_names():
    model = lambda x: x[:, 1, 2] - 0.1
    X = torch.randn(200, 3, 3, dtype=D)
    s = GlobalSurrogate(model, max_depth=1).fit(X)
    assert s.fidelity(torch.randn(100, 3, 3, dtype=D)) == 1.0
    assert "x[1,2]" in s.rules()
    lin = GlobalSurrogate(model, kind="linear", alpha=0.01).fit(X)
    assert "logit(class 1)" in lin.rules()


def test_surrogate_errors():
    with pytest.raises(TypeError, match="model must be an nn.Module or a callable"):
        GlobalSurrogate(3)
    with pytest.raises(ValueError, match="kind must be one of"):
        GlobalSurrogate(tree_model, kind="forest")
    with pytest.raises(ValueError, match="target selects a regression output"):
        GlobalSurrogate(tree_model, target=0)
    with pytest.raises(TypeError, match="feature_names must be a sequence of str"):
        GlobalSurrogate(tree_model, feature_names="abc")
    s = GlobalSurrogate(tree_model, feature_names=["a", "b"])
    with pytest.raises(NotFittedError, match="not fitted"):
        s.predict(torch.zeros(2, 3, dtype=D))
    with pytest.raises(ValueError, match="one name per feature; X of shape \\(5, 3\\) has 3"):
        s.fit(torch.rand(5, 3, dtype=D))
    with pytest.raises(ValueError, match="predicts one class on all of X"):
        GlobalSurrogate(tree_model).fit(torch.ones(5, 3, dtype=D))
    with pytest.raises(ValueError, match="a classifier must output logits"):
        GlobalSurrogate(lambda x: x.reshape(-1, 1, 3)).fit(torch.rand(5, 3, dtype=D))
    fitted = GlobalSurrogate(tree_model).fit(torch.rand(50, 3, dtype=D) * 2 - 1)
    with pytest.raises(ValueError, match=r"per-sample shape \(3,\)"):
        fitted.fidelity(torch.rand(5, 4, dtype=D))
