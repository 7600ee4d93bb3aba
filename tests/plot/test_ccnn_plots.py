"""Correlator-CNN figures draw the filters, the path and the accuracy they are given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physxai.plot import coefficient_path, correlator_filters, path_accuracy
from physxai.probes.ccnn import regularization_path


@pytest.fixture(scope="module")
def path():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100)
    c = rng.normal(size=(200, 2, 3))
    c[:, 1, 1] += 1.5 * y
    c[:, 0, 2] += 0.8 * y
    filters = np.ones((2, 3, 3, 3))
    filters[:, 2] = 0.0
    return regularization_path(c, y, test_features=c, test_labels=y, n_penalties=6, filters=filters)


def test_correlator_filters_one_image_per_filter_and_channel_on_one_positive_scale():
    f = torch.rand(2, 3, 3, 3)
    fig = correlator_filters(-f, title="learned filters")  # absolute values are drawn
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 6
    assert all(im.get_clim() == pytest.approx((0.0, float(f.max()))) for im in images)
    np.testing.assert_allclose(images[4].get_array(), f[1, 1].numpy())
    assert [fig.axes[i].get_title() for i in range(3)] == ["up", "down", "hole"]
    assert fig.axes[0].get_ylabel().startswith("filter 0") and fig.axes[-1].get_ylabel() == (
        "filter weight |f|"
    )


def test_coefficient_path_labels_the_entering_features_in_order(path):
    fig = coefficient_path(path)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "1/lambda" in ax.get_xlabel()
    assert ax.get_ylabel() == "coefficient of the standardised correlator"
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == str(path.first_label) == "c2[f1: up+down]"
    assert "first to turn on: c2[f1: up+down]" in ax.get_title()
    assert len(ax.get_lines()) == 6 + 2  # every feature, the zero line and the entry marker
    fig = coefficient_path(path, max_labels=0)
    assert fig.axes[0].get_legend() is None


def test_path_accuracy_draws_train_test_and_references(path):
    fig = path_accuracy(path, references={"CCNN": 0.9})
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["test", "train", "CCNN: 0.900", "chance 0.5"]
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), path.train_accuracy)
    assert ax.get_ylabel() == "accuracy" and ax.get_xscale() == "log"


def test_ccnn_plot_errors(path):
    with pytest.raises(TypeError, match="correlator_filters: filters must be an array or tensor"):
        correlator_filters([[1.0]])
    with pytest.raises(ValueError, match=r"filters must be a floating array \(n_filters"):
        correlator_filters(np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="filters must be finite"):
        correlator_filters(np.full((1, 3, 3, 3), np.nan))
    with pytest.raises(ValueError, match="channels must name each of the 3 channels"):
        correlator_filters(np.ones((1, 3, 3, 3)), channels=("up",))
    with pytest.raises(ValueError, match=r"row_titles must give one title per filter \(1\)"):
        correlator_filters(np.ones((1, 3, 3, 3)), row_titles=("a", "b"))
    with pytest.raises(TypeError, match="coefficient_path: path must be a RegularizationPath"):
        coefficient_path(object())
    with pytest.raises(ValueError, match="max_labels must be an int >= 0"):
        coefficient_path(path, max_labels=-1)
    with pytest.raises(TypeError, match="path_accuracy: references must map names to numbers"):
        path_accuracy(path, references={"CNN": "high"})
