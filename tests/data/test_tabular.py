"""scikit-learn's digits and breast-cancer sets through their cards, in the physxai layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits

from physxai.data import cache_path, load


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSXAI_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("PHYSXAI_CARDS", raising=False)
    return tmp_path / "cache"


def test_digits_match_scikit_learn_with_names(cache):
    d = load("digits")
    assert d.path.parent == cache and d.path == cache_path("digits")
    ref = load_digits()
    assert d.inputs.shape == (1797, 64) and d.inputs.dtype == np.float32
    np.testing.assert_array_equal(d.inputs, ref.data)  # gray levels 0-16 are exact in float32
    assert d.targets.dtype == np.int64
    np.testing.assert_array_equal(d.targets, ref.target)
    assert d.attrs["feature_names"][:2] == ["pixel_0_0", "pixel_0_1"]
    assert len(d.attrs["feature_names"]) == 64 and d.attrs["feature_names"][63] == "pixel_7_7"
    assert d.attrs["target_names"] == [str(i) for i in range(10)]
    assert d.attrs["generator"] == "sklearn_digits" and d.dims == ("sample", "feature")
    assert d.params == {} and d.observables == {}
    x, y = d.torch_dataset(dtype=torch.float64)[5]
    assert x.dtype == torch.float64 and x.shape == (64,) and int(y) == ref.target[5]


def test_digits_as_images(cache, tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "digits_images.toml").write_text(
        'name = "digits_images"\ndescription = "8x8 images"\ngenerator = "sklearn_digits"\n'
        "seed = 0\n[parameters]\nimages = true\n"
    )
    monkeypatch.setenv("PHYSXAI_CARDS", str(cards))
    d = load("digits_images")
    assert d.inputs.shape == (1797, 8, 8) and d.dims == ("sample", "y", "x")
    np.testing.assert_array_equal(d.inputs, load_digits().images)


def test_breast_cancer_matches_scikit_learn_with_feature_names(cache):
    d = load("breast_cancer")
    ref = load_breast_cancer()
    assert d.inputs.shape == (569, 30) and d.inputs.dtype == np.float32
    np.testing.assert_allclose(d.inputs, ref.data, rtol=1e-7)  # float32 rounding only
    np.testing.assert_array_equal(d.targets, ref.target)
    assert d.attrs["feature_names"] == list(ref.feature_names)
    assert "worst perimeter" in d.attrs["feature_names"]
    assert d.attrs["target_names"] == ["malignant", "benign"]
    assert (d.targets == 0).sum() == 212  # malignant
