"""SHAP figures: ordering, the waterfall's arithmetic, symmetric colour limits, labels, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from physxai.plot.shap import (
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    SHAP_XLABEL,
    bar_plot,
    dependence_plot,
    patch_heatmap,
    summary_plot,
    waterfall_plot,
)

NAMES = ["temperature", "field", "coupling", "size", "noise"]
SCALES = np.array([0.5, 3.0, 0.1, 1.0, 2.0])  # importance order: field, noise, size, temp, coupling


def data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(SCALES)))
    phi = x * SCALES  # a linear model's SHAP values (centred features)
    return phi, x


def yticks(ax) -> list[str]:
    """Tick labels from the top of the axes to the bottom."""
    ticks = sorted(zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()]))
    return [label for _, label in reversed(ticks)]


def bars(ax) -> list[Rectangle]:
    """Bar rectangles from bottom to top."""
    found = [p for p in ax.patches if isinstance(p, Rectangle)]
    return sorted(found, key=lambda r: r.get_y())


# -- summary (beeswarm) -------------------------------------------------------------------------
def test_summary_rows_sorted_by_mean_abs_and_labelled():
    phi, x = data()
    fig = summary_plot(phi, x, NAMES)
    ax = fig.axes[0]
    expected = [NAMES[i] for i in np.argsort(-np.abs(phi).mean(0))]
    assert expected == ["field", "noise", "size", "temperature", "coupling"]
    assert yticks(ax) == expected
    assert ax.get_xlabel() == SHAP_XLABEL
    assert ax.get_ylabel()
    colorbar_ax = fig.axes[1]
    assert colorbar_ax.get_ylabel() == "feature value"
    assert [t.get_text() for t in colorbar_ax.get_yticklabels()] == ["low", "high"]
    # each row's dots are that feature's SHAP values, at the row's height +- the jitter
    for row, name in enumerate(expected):
        offsets = ax.collections[row].get_offsets()
        np.testing.assert_allclose(offsets[:, 0], phi[:, NAMES.index(name)])
        centre = len(expected) - 1 - row
        assert np.all(np.abs(offsets[:, 1] - centre) <= 0.4 + 1e-12)
    # colour follows the feature value, low (blue) to high (red), clipped at the 5/95 percentiles
    top = ax.collections[0]
    values = x[:, NAMES.index("field")]
    shade = np.asarray(top.get_array())
    order = np.argsort(values)
    assert np.all(np.diff(shade[order]) >= 0)
    assert shade[order[0]] == 0.0 and shade[order[-1]] == 1.0
    red, blue = top.to_rgba(1.0), top.to_rgba(0.0)
    assert red[0] > red[2] and blue[2] > blue[0]


def test_summary_jitter_spreads_dense_rows_and_is_deterministic():
    phi = np.zeros((40, 2))
    phi[:, 1] = np.linspace(-1, 1, 40)
    x = np.random.default_rng(1).normal(size=(40, 2))
    ax = summary_plot(phi, x, ["flat", "spread"]).axes[0]
    by_name = dict(zip(yticks(ax), ax.collections))
    y_flat = by_name["flat"].get_offsets()[:, 1]
    y_spread = by_name["spread"].get_offsets()[:, 1]
    assert len(np.unique(y_flat)) == 40  # identical values stack into distinct layers
    assert np.ptp(y_flat) > 0.7 and np.ptp(y_spread) < 0.1  # all in one bin vs spread along x
    again = summary_plot(phi, x, ["flat", "spread"]).axes[0]
    np.testing.assert_array_equal(again.collections[1].get_offsets(), by_name["flat"].get_offsets())


def test_summary_max_display_merges_the_rest():
    phi, x = data()
    ax = summary_plot(torch.from_numpy(phi), torch.from_numpy(x), NAMES, max_display=3).axes[0]
    assert yticks(ax) == ["field", "noise", "3 other features"]
    other = ax.collections[2].get_offsets()[:, 0]
    rest = [NAMES.index(n) for n in ("size", "temperature", "coupling")]
    np.testing.assert_allclose(other, phi[:, rest].sum(1))


# -- bars ---------------------------------------------------------------------------------------
def test_bar_plot_heights_and_order():
    phi, _ = data()
    ax = bar_plot(phi, NAMES, max_display=4).axes[0]
    importance = np.abs(phi).mean(0)
    order = np.argsort(-importance)
    assert yticks(ax) == [NAMES[i] for i in order[:3]] + ["2 other features"]
    widths = [r.get_width() for r in reversed(bars(ax))]  # top to bottom
    np.testing.assert_allclose(widths[:3], importance[order[:3]])
    np.testing.assert_allclose(widths[3], importance[order[3:]].sum())
    assert ax.get_xlabel().startswith("mean(|SHAP value|)")
    assert ax.get_ylabel() == "feature"
    one = bar_plot(phi[0], NAMES).axes[0]  # one sample: its |phi|
    np.testing.assert_allclose(sorted(r.get_width() for r in bars(one)), np.sort(np.abs(phi[0])))


# -- waterfall ----------------------------------------------------------------------------------
@pytest.mark.parametrize("max_display", [10, 3])
def test_waterfall_walks_from_base_to_output(max_display):
    phi = np.array([0.5, -1.5, 0.25, 2.0, -0.125])
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    base = 0.75
    ax = waterfall_plot(phi, base, x, NAMES, max_display=max_display).axes[0]
    rects = bars(ax)
    assert len(rects) == min(len(phi), max_display)
    position = base
    for r in rects:  # each bar starts where the one below ended
        assert r.get_x() == pytest.approx(position, abs=1e-12)
        position = r.get_x() + r.get_width()
        colour = POSITIVE_COLOR if r.get_width() >= 0 else NEGATIVE_COLOR
        assert r.get_facecolor() == to_rgba(colour)
    assert position == pytest.approx(base + phi.sum(), abs=1e-12)
    # largest |phi| on top, labelled with the feature value
    assert yticks(ax)[0] == "size = 4"
    assert yticks(ax)[1] == "field = 2"
    if max_display == 3:
        assert yticks(ax)[-1] == "3 other features"
        assert rects[0].get_width() == pytest.approx(0.5 + 0.25 - 0.125)
    texts = [t.get_text() for t in ax.texts]
    assert f"f(x) = {base + phi.sum():.3g}" in texts and "E[f(X)] = 0.75" in texts
    assert ax.get_xlabel() and ax.get_ylabel() == "feature = value"


def test_waterfall_accepts_tensors_and_no_feature_values():
    phi = torch.tensor([[0.2, -0.1, 0.4]])
    ax = waterfall_plot(phi, torch.tensor(1.0), None, ["a", "b", "c"]).axes[0]
    assert yticks(ax) == ["c", "a", "b"]
    end = bars(ax)[-1]
    assert end.get_x() + end.get_width() == pytest.approx(1.5, abs=1e-6)


# -- dependence ---------------------------------------------------------------------------------
def test_dependence_plot_points_labels_and_interaction():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 3))
    phi = np.stack([x[:, 0] * x[:, 2], 0.1 * x[:, 1], 0.2 * x[:, 2]], axis=1)
    names = ["spin", "energy", "temperature"]
    fig = dependence_plot(phi, x, names, "spin")
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.stack([x[:, 0], phi[:, 0]], 1))
    assert ax.get_xlabel() == "spin" and ax.get_ylabel() == "SHAP value for spin"
    assert len(fig.axes) == 1  # no colour bar without an interaction feature
    auto = dependence_plot(phi, x, names, 0, interaction="auto")
    assert auto.axes[1].get_ylabel() == "temperature"  # the planted interaction x0 * x2
    chosen = dependence_plot(phi, x, names, 0, interaction="energy")
    assert chosen.axes[1].get_ylabel() == "energy"
    np.testing.assert_allclose(chosen.axes[0].collections[0].get_array(), x[:, 1])


# -- lattice patches ----------------------------------------------------------------------------
def patches_4x4():
    mask = np.repeat(np.repeat(np.array([[0, 1], [2, 3]]), 2, axis=0), 2, axis=1)
    return mask, np.array([0.5, -2.0, 1.0, 0.25])


def test_patch_heatmap_symmetric_limits_and_values():
    mask, phi = patches_4x4()
    spins = np.where(np.arange(16).reshape(4, 4) % 3 == 0, 1, -1)
    fig = patch_heatmap(phi, torch.from_numpy(mask)[None], spins)
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.get_clim() == (-2.0, 2.0)
    np.testing.assert_array_equal(image.get_array(), phi[mask])
    assert fig.axes[1].get_ylabel() == "SHAP value of patch"
    assert ax.get_xlabel() == "site x" and ax.get_ylabel() == "site y"
    # a per-site map as the Shapley methods return it (value / patch size) gives the same figure
    per_site = phi[mask] / 4.0
    again = patch_heatmap(torch.from_numpy(per_site)[None], mask).axes[0].images[0]
    np.testing.assert_allclose(again.get_array(), phi[mask])
    assert again.get_clim() == (-2.0, 2.0)


def test_patch_ids_need_not_be_consecutive():
    mask, phi = patches_4x4()
    image = patch_heatmap(phi, mask * 10 + 7).axes[0].images[0]  # ids 7, 17, 27, 37
    np.testing.assert_array_equal(image.get_array(), phi[mask])


# -- errors -------------------------------------------------------------------------------------
def test_errors():
    phi, x = data(n=10)
    with pytest.raises(ValueError, match="features must have the shape of values"):
        summary_plot(phi, x[:, :4], NAMES)
    with pytest.raises(ValueError, match=r"feature_names must have one name per feature \(5\); got 4"):
        summary_plot(phi, x, NAMES[:4])
    with pytest.raises(TypeError, match="feature_names must be a sequence of str"):
        bar_plot(phi, "temperature")
    with pytest.raises(ValueError, match="max_display must be an int >= 1"):
        bar_plot(phi, NAMES, max_display=0)
    with pytest.raises(ValueError, match=r"values must have shape \(n_samples, n_features\)"):
        bar_plot(np.zeros((2, 2, 2)), None)
    with pytest.raises(ValueError, match=r"features must hold one value per SHAP value \(5\); got 4"):
        waterfall_plot(phi[0], 0.0, x[0, :4], NAMES)
    with pytest.raises(ValueError, match=r"phi must be one sample's SHAP values"):
        waterfall_plot(phi, 0.0, None, NAMES)
    with pytest.raises(ValueError, match="base_value must be a finite number"):
        waterfall_plot(phi[0], float("nan"), None, NAMES)
    with pytest.raises(ValueError, match="phi must be finite"):
        waterfall_plot(np.array([np.inf, 0, 0, 0, 0]), 0.0, None, NAMES)
    with pytest.raises(ValueError, match="feature must be a feature name or index; got 'mass'"):
        dependence_plot(phi, x, NAMES, "mass")
    with pytest.raises(ValueError, match=r"interaction must be an index in \[0, 5\); got 9"):
        dependence_plot(phi, x, NAMES, 0, interaction=9)
    with pytest.raises(TypeError, match="feature must be a feature name"):
        dependence_plot(phi, x, NAMES, 1.5)
    mask, patch_phi = patches_4x4()
    with pytest.raises(ValueError, match=r"values must hold one value per patch \(4,\) or one per site"):
        patch_heatmap(patch_phi[:3], mask)
    with pytest.raises(ValueError, match=r"patch_mask must be one lattice of patch ids"):
        patch_heatmap(patch_phi, mask.ravel())
    with pytest.raises(ValueError, match="patch_mask must hold integer patch ids"):
        patch_heatmap(patch_phi, mask + 0.5)
    with pytest.raises(ValueError, match="spins must have the shape of R"):
        patch_heatmap(patch_phi, mask, np.ones((3, 3)))


# -- rendering ----------------------------------------------------------------------------------
def test_every_figure_renders_to_png(tmp_path):
    phi, x = data(n=120)
    mask, patch_phi = patches_4x4()
    spins = np.where(np.random.default_rng(3).random((4, 4)) < 0.5, 1, -1)
    figures = {
        "summary": summary_plot(phi, x, NAMES, max_display=4),
        "bar": bar_plot(phi, NAMES),
        "waterfall": waterfall_plot(phi[0], 0.3, x[0], NAMES, max_display=4),
        "dependence": dependence_plot(phi, x, NAMES, "field", interaction="auto"),
        "patches": patch_heatmap(patch_phi, mask, spins, title="Kernel SHAP, 2x2 patches"),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        for ax in fig.axes[:1]:
            assert ax.get_xlabel() and ax.get_ylabel(), name
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=60)
        assert path.stat().st_size > 2000, name
