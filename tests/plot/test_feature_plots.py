"""Feature figures: filter grids, AM grids and embedding scatters draw what they are given."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from physxai.plot import embedding_scatter, filter_grid, maximization_grid


def images(fig: Figure) -> list:
    return [im for ax in fig.axes for im in ax.get_images()]


def test_filter_grid_is_zero_centred_with_one_scale():
    w = torch.randn(6, 1, 3, 3)
    fig = filter_grid(w, ncols=4)
    ims = images(fig)
    assert len(ims) == 6
    vmax = float(w.abs().max())
    assert all(im.get_clim() == pytest.approx((-vmax, vmax)) for im in ims)
    assert np.allclose(ims[2].get_array(), w[2, 0].numpy())
    assert [ax.get_title() for ax in fig.axes[:2]] == ["0", "1"]


def test_maximization_grid_flattens_restarts_and_titles_values():
    x = torch.rand(2, 3, 1, 4, 4)
    vals = torch.arange(6.0).reshape(2, 3)
    fig = maximization_grid(x, values=vals)
    ims = images(fig)
    assert len(ims) == 6
    assert np.allclose(ims[4].get_array(), x[1, 1, 0].numpy())
    assert fig.axes[5].get_title() == "5"


def test_embedding_scatter_by_label_and_by_temperature():
    xy = np.random.default_rng(0).normal(size=(20, 2))
    fig = embedding_scatter(xy, labels=np.arange(20) % 3)
    ax = fig.axes[0]
    assert len(ax.collections) == 3 and len(ax.get_legend().get_texts()) == 3
    fig = embedding_scatter(xy, values=np.linspace(1, 3.5, 20), value_label="temperature")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "temperature"
    assert np.allclose(fig.axes[0].collections[0].get_array(), np.linspace(1, 3.5, 20))


def test_feature_plot_errors():
    with pytest.raises(ValueError, match=r"coordinates must have shape \(n, 2\)"):
        embedding_scatter(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="not both"):
        embedding_scatter(np.zeros((5, 2)), labels=np.zeros(5), values=np.zeros(5))
    with pytest.raises(ValueError, match="labels must have 5 entries"):
        embedding_scatter(np.zeros((5, 2)), labels=np.zeros(4))
    with pytest.raises(ValueError, match="values must have 5 entries"):
        embedding_scatter(np.zeros((5, 2)), values=np.zeros(4))
    with pytest.raises(ValueError, match="each panel must be 2-d"):
        filter_grid(torch.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="titles must give one title per panel"):
        filter_grid(torch.randn(4, 1, 3, 3), titles=["a"])
    with pytest.raises(ValueError, match="values must hold one number per panel"):
        maximization_grid(torch.rand(3, 4, 4), values=[1.0])
    with pytest.raises(ValueError, match="must be finite"):
        maximization_grid(torch.full((2, 3, 3), float("nan")))
    with pytest.raises(TypeError, match="must be an array or tensor of numbers"):
        filter_grid(["a", "b"])
    with pytest.raises(ValueError, match="must be a non-empty batch"):
        filter_grid(torch.zeros(3))
