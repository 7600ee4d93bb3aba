"""Relevance heatmaps: zero-centred colour limits, per-sample normalisation, overlays, grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from physxai.plot import heatmap_grid, lattice_heatmap, normalize_relevance, relevance_heatmap


def axes():
    return Figure().subplots()


def test_colour_limits_are_symmetric_and_the_map_is_normalised():
    R = np.array([[4.0, -1.0], [0.5, 0.0]])
    ax = axes()
    image = relevance_heatmap(ax, R)
    assert image.get_clim() == (-1.0, 1.0)
    assert image.norm.vmin == -image.norm.vmax
    np.testing.assert_array_equal(image.get_array(), R / 4.0)
    assert image.norm(0.0) == 0.5  # zero relevance sits at the centre (white) of the colormap
    assert image.cmap.name == "bwr"


def test_raw_values_keep_a_symmetric_limit():
    R = np.array([[0.5, -3.0], [1.0, 2.0]])
    image = relevance_heatmap(axes(), R, normalize=None)
    assert image.get_clim() == (-3.0, 3.0)
    np.testing.assert_array_equal(image.get_array(), R)
    assert relevance_heatmap(axes(), R, normalize=None, vmax=10).get_clim() == (-10.0, 10.0)


def test_zero_map_and_tensors():
    image = relevance_heatmap(axes(), torch.zeros(1, 3, 3))
    assert image.get_clim() == (-1.0, 1.0) and not np.any(image.get_array())
    assert relevance_heatmap(axes(), torch.zeros(3, 3), normalize=None).get_clim() == (-1.0, 1.0)


def test_vector_relevance_is_one_row_of_features():
    ax = axes()
    image = relevance_heatmap(ax, torch.tensor([1.0, -2.0, 0.5]))
    assert image.get_array().shape == (1, 3)
    assert ax.get_xlabel() == "feature"


def test_per_sample_normalisation():
    batch = np.array([[[1.0, -2.0]], [[0.25, 0.125]], [[0.0, 0.0]]])
    normed = normalize_relevance(batch)
    np.testing.assert_array_equal(normed, [[[0.5, -1.0]], [[1.0, 0.5]], [[0.0, 0.0]]])
    np.testing.assert_array_equal(normalize_relevance(batch, per_sample=False), batch / 2.0)


def test_colorbar_and_labels():
    fig = Figure()
    ax = fig.subplots()
    relevance_heatmap(ax, np.eye(3), title="LRP")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "relevance (normalised)"
    assert ax.get_title() == "LRP" and ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    fig = Figure()
    relevance_heatmap(fig.subplots(), np.eye(3), normalize=None)
    assert fig.axes[1].get_ylabel() == "relevance"
    fig = Figure()
    relevance_heatmap(fig.subplots(), np.eye(3), colorbar=False)
    assert len(fig.axes) == 1


def test_overlay_draws_the_input_in_grey_under_translucent_relevance():
    ax = axes()
    x = np.arange(9.0).reshape(3, 3)
    R = np.array([[4.0, 0.0, -1.0], [0.0, 2.0, 0.0], [-4.0, 0.0, 1.0]])
    image = relevance_heatmap(ax, R, x=x, overlay_alpha=0.4)
    under, over = ax.get_images()
    assert over is image and image.get_clim() == (-1.0, 1.0)
    # opacity overlay_alpha * sqrt(|R| / max|R|): zero relevance is transparent
    np.testing.assert_allclose(image.get_alpha(), 0.4 * np.sqrt(np.abs(R) / 4.0))
    assert under.cmap.name == "Greys"
    np.testing.assert_array_equal(under.get_array(), x)


def test_lattice_markers_and_contours():
    L = 4
    spins = np.ones((L, L))
    spins[:, :2] = -1
    ax = axes()
    image = lattice_heatmap(ax, np.random.default_rng(0).normal(size=(L, L)), spins)
    assert image.get_clim() == (-1.0, 1.0)
    up, down = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(up.get_offsets()) == len(down.get_offsets()) == 8
    assert sorted({int(x) for x, _ in up.get_offsets()}) == [2, 3]  # columns of the up spins
    assert ax.get_xlabel() == "site x" and ax.get_ylabel() == "site y"
    ax = axes()
    lattice_heatmap(ax, np.zeros((L, L)), torch.tensor(spins), spin_style="contour")
    (walls,) = ax.collections
    # one vertical wall between columns 1 and 2, one segment per row, on the cell edges
    assert sorted(tuple(map(tuple, seg)) for seg in walls.get_segments()) == [
        ((1.5, i - 0.5), (1.5, i + 0.5)) for i in range(L)
    ]
    checkerboard = np.where(np.add.outer(np.arange(L), np.arange(L)) % 2 == 0, 1.0, -1.0)
    ax = axes()
    lattice_heatmap(ax, np.zeros((L, L)), checkerboard, spin_style="contour")
    assert len(ax.collections[0].get_segments()) == 2 * L * (L - 1)  # every bond is unlike


def test_heatmap_grid_methods_by_samples():
    rng = np.random.default_rng(1)
    maps = [[rng.normal(size=(4, 4)) * scale for scale in (1.0, 100.0, 0.01)] for _ in range(2)]
    fig = heatmap_grid(maps, ["saliency", "LRP"], ["s0", "s1", "s2"], title="comparison")
    cells = fig.axes[:6]
    assert len(fig.axes) == 7  # 2 x 3 cells and one colour bar
    assert fig.axes[6].get_ylabel() == "relevance (normalised)"
    for ax in cells:
        image = ax.get_images()[0]
        assert image.get_clim() == (-1.0, 1.0)
        assert np.abs(image.get_array()).max() == pytest.approx(1.0)  # each map on its own scale
    assert [cells[j].get_title() for j in range(3)] == ["s0", "s1", "s2"]
    assert cells[0].get_ylabel() == "saliency" and cells[3].get_ylabel() == "LRP"


def test_heatmap_grid_raw_values_share_one_limit():
    maps = [[np.full((2, 2), 1.0), np.full((2, 2), -5.0)]]
    fig = heatmap_grid(maps, normalize=None)
    assert [ax.get_images()[0].get_clim() for ax in fig.axes[:2]] == [(-5.0, 5.0)] * 2


def test_heatmap_grid_with_inputs_and_lattices():
    spins = [
        np.where(np.random.default_rng(i).normal(size=(3, 3)) > 0, 1.0, -1.0) for i in range(2)
    ]
    fig = heatmap_grid(
        [[np.ones((3, 3)), -np.ones((3, 3))]], inputs=spins, lattice=True, colorbar=False
    )
    assert len(fig.axes) == 2
    assert all(
        len([c for c in ax.collections if isinstance(c, PathCollection)]) == 2 for ax in fig.axes
    )
    fig = heatmap_grid([[np.ones((3, 3))]], inputs=[np.zeros((3, 3))], overlay_alpha=0.3)
    assert len(fig.axes[0].get_images()) == 2


def test_no_pyplot_state():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    heatmap_grid([[np.eye(2)]])
    relevance_heatmap(axes(), np.eye(2))
    assert plt.get_fignums() == before


def test_figure_saves(tmp_path):
    from physxai.harness import save_figure

    fig = heatmap_grid([[np.eye(3), -np.eye(3)]], ["m"], ["a", "b"])
    (png,) = save_figure(fig, tmp_path, "grid", formats=("png",))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: relevance_heatmap(axes(), np.zeros((2, 3, 3))),
            ValueError,
            r"one map of shape \(H, W\).*got shape \(2, 3, 3\)",
        ),
        (lambda: relevance_heatmap(axes(), np.array([[np.nan]])), ValueError, "R must be finite"),
        (
            lambda: relevance_heatmap(axes(), "map"),
            TypeError,
            "R must be an array or tensor of numbers",
        ),
        (
            lambda: relevance_heatmap(axes(), np.eye(3), x=np.eye(2)),
            ValueError,
            r"x must have the shape of R",
        ),
        (
            lambda: relevance_heatmap(axes(), np.eye(3), x=np.eye(3), overlay_alpha=1.5),
            ValueError,
            r"overlay_alpha must be in \[0, 1\]",
        ),
        (
            lambda: relevance_heatmap(axes(), np.eye(3), normalize="l2"),
            ValueError,
            "normalize must be 'max_abs' or None",
        ),
        (
            lambda: relevance_heatmap(axes(), np.eye(3), normalize=None, vmax=0),
            ValueError,
            "vmax must be a number > 0",
        ),
        (lambda: lattice_heatmap(axes(), np.eye(3), np.eye(3)), ValueError, r"spins must be \+-1"),
        (
            lambda: lattice_heatmap(axes(), np.eye(3), np.ones((2, 2))),
            ValueError,
            "spins must have the shape of R",
        ),
        (
            lambda: lattice_heatmap(axes(), np.eye(3), spin_style="arrows"),
            ValueError,
            "spin_style must be",
        ),
        (
            lambda: heatmap_grid([[np.eye(2)], [np.eye(2), np.eye(2)]]),
            ValueError,
            "same number of maps",
        ),
        (lambda: heatmap_grid([]), ValueError, "at least one row"),
        (
            lambda: heatmap_grid([[np.eye(2)]], ["a", "b"]),
            ValueError,
            "row_labels must have 1 entries",
        ),
        (
            lambda: heatmap_grid([[np.eye(2)]], col_labels=[]),
            ValueError,
            "col_labels must have 1 entries",
        ),
        (
            lambda: heatmap_grid([[np.eye(2)]], inputs=[np.eye(2)] * 2),
            ValueError,
            r"one input per column \(1\)",
        ),
        (lambda: heatmap_grid([[np.eye(2)]], normalize="sum"), ValueError, "normalize must be"),
        (
            lambda: heatmap_grid([[np.eye(2)]], cell_size=0),
            ValueError,
            "cell_size must be a number > 0",
        ),
    ],
)
def test_bad_inputs_raise(call, error, match):
    with pytest.raises(error, match=match):
        call()
