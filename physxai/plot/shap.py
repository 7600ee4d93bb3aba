"""Figures for Shapley values: beeswarm summary, mean-|SHAP| bars, waterfall, dependence, patches.

Shapley values ``phi`` (Lundberg & Lee 2017) explain one output of one sample. A set of them,
``values`` of shape ``(n_samples, n_features)``, also describes the model globally. The figures
follow the conventions of the ``shap`` package (Lundberg et al. 2020) without depending on it:

* :func:`summary_plot`, the beeswarm. There is one row per feature, sorted by ``mean |phi|``
  with the most important at the top. Each dot is one sample at ``x = phi``. Its colour is the
  feature's value, from low (blue) to high (red), and a colour bar says so. Dots that share a
  value are spread vertically, so the width of a row shows the density of the values.
* :func:`bar_plot`, ``mean |phi|`` per feature: the global importance.
* :func:`waterfall_plot`, one sample. The bars start at the expected output ``E[f(X)]``, add the
  features' values one at a time (red raises the output, blue lowers it) and end at ``f(x)``;
  efficiency makes the end ``E[f(X)] + sum_i phi_i``.
* :func:`dependence_plot`, ``phi_i`` against ``x_i``, coloured by a second feature to show an
  interaction.
* :func:`patch_heatmap`, Shapley values of lattice patches (``feature_mask`` groups) on the
  ``L x L`` lattice. It uses :func:`~physxai.plot.lattice_heatmap` with its zero-centred
  diverging map and draws the patch borders.

When there are more features than ``max_display``, the least important ones are merged into one
row, "N other features": the summary adds up their values per sample, the bar plot adds up their
mean ``|phi|``, and the waterfall adds up their ``phi``. Every figure is a new
``matplotlib.figure.Figure``, built without pyplot, and every axis is labelled. The inputs may be
numpy arrays or torch tensors.

References
----------
S. M. Lundberg, S.-I. Lee, "A unified approach to interpreting model predictions", NeurIPS 2017,
arXiv:1705.07874. S. M. Lundberg et al., "From local explanations to global understanding with
explainable AI for trees", Nat. Mach. Intell. 2, 56 (2020) (beeswarm and dependence plots).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .heatmaps import _as_array, _domain_walls, lattice_heatmap

__all__ = ["summary_plot", "bar_plot", "waterfall_plot", "dependence_plot", "patch_heatmap"]

SHAP_XLABEL = "SHAP value (impact on model output)"
#: low -> high feature values (blue -> red), as in the shap package's beeswarm
FEATURE_CMAP = "coolwarm"
POSITIVE_COLOR = "#d62728"  # raises the output (red, as in the relevance heatmaps)
NEGATIVE_COLOR = "#1f77b4"  # lowers it (blue)
OTHER_COLOR = "0.6"


# -- validation --------------------------------------------------------------------------------
def _matrix(value: Any, caller: str, name: str) -> np.ndarray:
    """A ``(n_samples, n_features)`` array; one sample ``(n_features,)`` becomes one row."""
    arr = _as_array(value, caller, name)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{caller}: {name} must have shape (n_samples, n_features); got shape {arr.shape}. "
            "Flatten each sample's values first (values.reshape(n, -1))."
        )
    return arr


def _names(feature_names: Any, n_features: int, caller: str) -> list[str]:
    if feature_names is None:
        return [f"feature {i}" for i in range(n_features)]
    if isinstance(feature_names, str) or not isinstance(feature_names, Sequence):
        raise TypeError(
            f"{caller}: feature_names must be a sequence of str, one per feature; got "
            f"{type(feature_names).__name__}."
        )
    if len(feature_names) != n_features:
        raise ValueError(
            f"{caller}: feature_names must have one name per feature ({n_features}); got "
            f"{len(feature_names)}."
        )
    return [str(name) for name in feature_names]


def _max_display(value: Any, caller: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{caller}: max_display must be an int >= 1; got {value!r}.")
    return int(value)


def _same_shape(values: np.ndarray, features: np.ndarray, caller: str) -> None:
    if features.shape != values.shape:
        raise ValueError(
            f"{caller}: features must have the shape of values, one feature value per SHAP "
            f"value; got features {features.shape} and values {values.shape}."
        )


def _feature_index(feature: Any, names: list[str], caller: str, name: str) -> int:
    if isinstance(feature, str):
        if feature not in names:
            raise ValueError(
                f"{caller}: {name} must be a feature name or index; got {feature!r}, which is "
                f"not among the {len(names)} feature_names."
            )
        return names.index(feature)
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
        raise TypeError(
            f"{caller}: {name} must be a feature name (str) or index (int); got "
            f"{type(feature).__name__}."
        )
    if not -len(names) <= feature < len(names):
        raise ValueError(
            f"{caller}: {name} must be an index in [0, {len(names)}); got {feature}."
        )
    return int(feature) % len(names)


def _split_display(importance: np.ndarray, max_display: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices shown one by one (most important first) and those merged into one row."""
    order = np.argsort(-importance, kind="stable")
    if len(order) <= max_display:
        return order, order[:0]
    return order[: max_display - 1], order[max_display - 1 :]


def _other_label(n: int) -> str:
    return f"{n} other feature" + ("s" if n != 1 else "")


# -- beeswarm ----------------------------------------------------------------------------------
def _swarm_offsets(phi: np.ndarray, n_bins: int = 100, height: float = 0.4) -> np.ndarray:
    """Vertical offsets of a beeswarm row: points in the same bin of ``phi`` stack up
    alternately above and below the row (0, +1, -1, +2, ...), scaled so the densest bin fills
    ``height``; the spread of a row is thereby proportional to the density of its values."""
    n = len(phi)
    span = float(phi.max() - phi.min()) if n else 0.0
    if n < 2 or span == 0.0:
        bins = np.zeros(n, dtype=int)
    else:
        bins = np.minimum((n_bins * (phi - phi.min()) / span).astype(int), n_bins - 1)
    order = np.argsort(bins, kind="stable")
    sorted_bins = bins[order]
    starts = np.searchsorted(sorted_bins, sorted_bins, side="left")
    rank = np.arange(n) - starts  # position within the bin
    layer = np.where(rank % 2 == 1, (rank + 1) // 2, -(rank // 2)).astype(float)
    offsets = np.empty(n)
    offsets[order] = layer
    peak = np.abs(offsets).max() if n else 0.0
    return offsets * (height / peak) if peak > 0 else offsets


def _colour_values(x: np.ndarray) -> np.ndarray:
    """Feature values scaled to [0, 1] by their 5th and 95th percentiles (outliers clipped,
    so one extreme sample does not wash out the colours); constant features sit at 0.5."""
    lo, hi = np.percentile(x, [5, 95])
    if hi <= lo:
        lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return np.full_like(x, 0.5)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def summary_plot(
    values: Any,
    features: Any,
    feature_names: Sequence[str] | None,
    *,
    max_display: int = 20,
) -> Figure:
    """Beeswarm summary of SHAP values: one row per feature, sorted by mean ``|phi|``.

    Parameters
    ----------
    values : array or tensor, shape ``(n_samples, n_features)``
        SHAP values, one row per explained sample.
    features : array or tensor, shape ``(n_samples, n_features)``
        The samples' feature values, which give the dots their colours.
    feature_names : sequence of str, length ``n_features``, or None
        Row labels; None gives "feature 0", "feature 1", ...
    max_display : int, default 20
        At most this many rows. With more features, the least important are summed per sample
        into one grey row at the bottom, "N other features".

    Returns
    -------
    matplotlib.figure.Figure
        One axes, with rows from the most important (top) to the least important (bottom), the
        x axis labelled "SHAP value (impact on model output)" and a colour bar "feature value"
        running from low to high.

    Raises
    ------
    ValueError
        For arrays that are not 2-d, ``features`` of another shape than ``values``, a wrong
        number of names, or ``max_display < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> phi = np.array([[0.1, -2.0], [0.3, 1.0]])
    >>> fig = summary_plot(phi, np.ones((2, 2)), ["a", "b"])
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]   # bottom to top
    ['a', 'b']
    """
    caller = "summary_plot"
    phi = _matrix(values, caller, "values")
    x = _matrix(features, caller, "features")
    _same_shape(phi, x, caller)
    names = _names(feature_names, phi.shape[1], caller)
    shown, rest = _split_display(np.abs(phi).mean(0), _max_display(max_display, caller))
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = [
        (names[i], phi[:, i], _colour_values(x[:, i])) for i in shown
    ]
    if len(rest):
        rows.append((_other_label(len(rest)), phi[:, rest].sum(1), None))

    n_rows = len(rows)
    fig = Figure(figsize=(7.0, 1.2 + 0.42 * n_rows), layout="constrained")
    ax = fig.subplots()
    cmap = FEATURE_CMAP
    for k, (_, row_phi, colour) in enumerate(rows):
        y = n_rows - 1 - k + _swarm_offsets(row_phi)  # most important row at the top
        if colour is None:
            ax.scatter(row_phi, y, s=12, c=OTHER_COLOR, linewidths=0, alpha=0.9)
        else:
            ax.scatter(
                row_phi, y, s=12, c=colour, cmap=cmap, vmin=0.0, vmax=1.0, linewidths=0,
                alpha=0.9,
            )
    ax.axvline(0.0, color="0.4", linewidth=0.8, zorder=0)
    ax.set_yticks(range(n_rows), [label for label, _, _ in reversed(rows)])
    ax.set_ylim(-0.6, n_rows - 0.4)
    for y in range(n_rows):
        ax.axhline(y, color="0.9", linewidth=0.6, zorder=-1)
    ax.set_xlabel(SHAP_XLABEL)
    ax.set_ylabel("feature")
    bar = fig.colorbar(
        ScalarMappable(norm=Normalize(0.0, 1.0), cmap=cmap), ax=ax, ticks=[0.0, 1.0], aspect=40
    )
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value")
    return fig


# -- global bars -------------------------------------------------------------------------------
def bar_plot(
    values: Any, feature_names: Sequence[str] | None, *, max_display: int = 20
) -> Figure:
    """Mean absolute SHAP value per feature, as horizontal bars, the largest at the top.

    Parameters
    ----------
    values : array or tensor, shape ``(n_samples, n_features)`` or ``(n_features,)``
        SHAP values; one sample gives its ``|phi|``.
    feature_names : sequence of str, length ``n_features``, or None
        Bar labels.
    max_display : int, default 20
        At most this many bars. With more features, the rest are merged into one grey bar
        "N other features" whose length is the sum of their mean ``|phi|``.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; each bar is labelled with its value.

    Raises
    ------
    ValueError
        For a wrong number of names, a 3-d array, or ``max_display < 1``.
    """
    caller = "bar_plot"
    phi = _matrix(values, caller, "values")
    names = _names(feature_names, phi.shape[1], caller)
    importance = np.abs(phi).mean(0)
    shown, rest = _split_display(importance, _max_display(max_display, caller))
    labels = [names[i] for i in shown]
    heights = list(importance[shown])
    colours = [POSITIVE_COLOR] * len(shown)
    if len(rest):
        labels.append(_other_label(len(rest)))
        heights.append(float(importance[rest].sum()))
        colours.append(OTHER_COLOR)
    n_rows = len(labels)
    fig = Figure(figsize=(7.0, 1.0 + 0.38 * n_rows), layout="constrained")
    ax = fig.subplots()
    ys = np.arange(n_rows)[::-1]  # first (largest) at the top
    bars = ax.barh(ys, heights, color=colours, height=0.7)
    ax.bar_label(bars, labels=[f"{h:.3g}" for h in heights], padding=3, fontsize=8)
    ax.set_yticks(ys, labels)
    ax.set_xlim(0.0, max(max(heights), 1e-300) * 1.15)
    ax.set_xlabel("mean(|SHAP value|) (average impact on model output magnitude)")
    ax.set_ylabel("feature")
    return fig


# -- one sample --------------------------------------------------------------------------------
def waterfall_plot(
    phi: Any,
    base_value: float,
    features: Any,
    feature_names: Sequence[str] | None,
    *,
    max_display: int = 10,
) -> Figure:
    """One sample's explanation as a walk from ``E[f(X)]`` to ``f(x)``.

    Parameters
    ----------
    phi : array or tensor, shape ``(n_features,)``
        The sample's SHAP values.
    base_value : float
        The expected output over the background, ``E[f(X)]``.
    features : array or tensor, shape ``(n_features,)``, or None
        The sample's feature values, shown in the labels ("name = value").
    feature_names : sequence of str, length ``n_features``, or None
        Feature names.
    max_display : int, default 10
        At most this many bars. With more features, the ``max_display - 1`` largest ``|phi|``
        are shown and the rest summed into one bar "N other features" at the bottom.

    Returns
    -------
    matplotlib.figure.Figure
        One axes with one horizontal bar per row. The bottom bar starts at ``base_value`` and
        each bar starts where the one below it ended; the top bar ends at
        ``base_value + sum(phi)``, which is ``f(x)`` for efficient SHAP values. Red bars raise the
        output and blue bars lower it. Each bar is labelled with its ``phi``, and dashed lines
        mark ``E[f(X)]`` and ``f(x)``.

    Raises
    ------
    ValueError
        For ``phi``, ``features`` or names of different lengths, or a non-finite base value.
    """
    caller = "waterfall_plot"
    values = _as_array(phi, caller, "phi")
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"{caller}: phi must be one sample's SHAP values, shape (n_features,); got shape "
            f"{values.shape}. Pick a sample: values[i]."
        )
    d = values.size
    x = None
    if features is not None:
        x = _as_array(features, caller, "features").reshape(-1)
        if x.size != d:
            raise ValueError(
                f"{caller}: features must hold one value per SHAP value ({d}); got {x.size}."
            )
    names = _names(feature_names, d, caller)
    if isinstance(base_value, bool) or not np.isfinite(np.asarray(base_value, dtype=float)).all():
        raise ValueError(f"{caller}: base_value must be a finite number; got {base_value!r}.")
    base = float(np.asarray(base_value, dtype=float).reshape(-1)[0])
    shown, rest = _split_display(np.abs(values), _max_display(max_display, caller))

    rows = []  # top to bottom: (label, phi)
    for i in shown:
        label = names[i] if x is None else f"{names[i]} = {x[i]:.3g}"
        rows.append((label, float(values[i])))
    if len(rest):
        rows.append((_other_label(len(rest)), float(values[rest].sum())))
    n_rows = len(rows)
    fig = Figure(figsize=(7.0, 1.4 + 0.42 * n_rows), layout="constrained")
    ax = fig.subplots()
    start = base
    bars = []
    for k, (_, value) in enumerate(reversed(rows)):  # from the bottom up
        colour = POSITIVE_COLOR if value >= 0 else NEGATIVE_COLOR
        (bar,) = ax.barh(k, value, left=start, color=colour, height=0.7)
        bars.append(bar)
        end = start + value
        # the label sits just past the bar's end, on the side it points to
        ha = "left" if value >= 0 else "right"
        ax.text(end, k, f" {value:+.3g} ", va="center", ha=ha, fontsize=8)
        start = end
    fx = start
    ax.axvline(base, color="0.4", linestyle="--", linewidth=0.8)
    ax.axvline(fx, color="0.2", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(n_rows), [label for label, _ in reversed(rows)])
    ax.set_ylim(-1.0, n_rows)
    lo = min(base, fx, *(b.get_x() + min(b.get_width(), 0.0) for b in bars))
    hi = max(base, fx, *(b.get_x() + max(b.get_width(), 0.0) for b in bars))
    pad = 0.15 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(lo - pad, hi + pad)
    boxed = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
    ax.text(base, -0.65, f"E[f(X)] = {base:.3g}", ha="center", va="center", fontsize=8, bbox=boxed)
    ax.text(fx, n_rows - 0.35, f"f(x) = {fx:.3g}", ha="center", va="center", fontsize=8, bbox=boxed)
    ax.set_xlabel("model output (from E[f(X)] to f(x))")
    ax.set_ylabel("feature" if x is None else "feature = value")
    return fig


# -- dependence --------------------------------------------------------------------------------
def _strongest_interaction(phi_i: np.ndarray, x: np.ndarray, i: int) -> int | None:
    """The feature whose values best explain the spread of ``phi_i`` at a fixed ``x_i``.

    Samples are sorted by ``x_i`` and cut into about ten chunks; in each chunk the absolute
    correlation of ``phi_i`` with every other feature is taken, and their sum decides.
    """
    n, d = x.shape
    if d < 2:
        return None
    order = np.argsort(x[:, i], kind="stable")
    size = max(min(n // 10, 50), 2)
    scores = np.zeros(d)
    for start in range(0, n, size):
        rows = order[start : start + size]
        if len(rows) < 2 or np.std(phi_i[rows]) == 0:
            continue
        p = phi_i[rows] - phi_i[rows].mean()
        for j in range(d):
            if j == i:
                continue
            v = x[rows, j] - x[rows, j].mean()
            denom = np.sqrt((p @ p) * (v @ v))
            if denom > 0:
                scores[j] += abs(p @ v) / denom
    scores[i] = -1.0
    best = int(np.argmax(scores))
    return best if scores[best] > 0 else None


def dependence_plot(
    values: Any,
    features: Any,
    feature_names: Sequence[str] | None,
    feature: int | str,
    *,
    interaction: int | str | None = None,
) -> Figure:
    """SHAP value of one feature against that feature's value, one dot per sample.

    Parameters
    ----------
    values, features : array or tensor, shape ``(n_samples, n_features)``
        SHAP values and the samples' feature values.
    feature_names : sequence of str, length ``n_features``, or None
        Feature names.
    feature : int or str
        The feature on the x axis (index or name).
    interaction : int, str, "auto" or None, default None
        Colour the dots by this second feature's value (a colour bar names it). With "auto",
        the feature that best explains the vertical spread is chosen (the sum over ten chunks of
        ``x_i`` of the absolute correlation with ``phi_i``). None gives one colour.

    Returns
    -------
    matplotlib.figure.Figure
        x: the feature's value, y: "SHAP value for <name>".

    Raises
    ------
    ValueError
        For shapes that do not match, or an unknown feature name or index.
    """
    caller = "dependence_plot"
    phi = _matrix(values, caller, "values")
    x = _matrix(features, caller, "features")
    _same_shape(phi, x, caller)
    names = _names(feature_names, phi.shape[1], caller)
    i = _feature_index(feature, names, caller, "feature")
    j: int | None
    if interaction is None:
        j = None
    elif isinstance(interaction, str) and interaction == "auto":
        j = _strongest_interaction(phi[:, i], x, i)
    else:
        j = _feature_index(interaction, names, caller, "interaction")
    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    if j is None:
        ax.scatter(x[:, i], phi[:, i], s=14, c=NEGATIVE_COLOR, linewidths=0, alpha=0.8)
    else:
        lo, hi = np.percentile(x[:, j], [5, 95])  # outliers clipped, as in the summary
        if hi <= lo:
            lo, hi = float(x[:, j].min()), float(x[:, j].max())
        if hi <= lo:  # a constant feature: one colour, still a valid colour bar
            lo, hi = lo - 0.5, hi + 0.5
        points = ax.scatter(
            x[:, i], phi[:, i], s=14, c=x[:, j], cmap=FEATURE_CMAP, vmin=lo, vmax=hi,
            linewidths=0, alpha=0.8,
        )
        fig.colorbar(points, ax=ax, label=names[j], aspect=40)
    ax.axhline(0.0, color="0.4", linewidth=0.8, zorder=0)
    ax.set_xlabel(names[i])
    ax.set_ylabel(f"SHAP value for {names[i]}")
    return fig


# -- lattice patches ---------------------------------------------------------------------------
def patch_heatmap(
    values: Any, patch_mask: Any, spins: Any = None, *, title: str | None = None
) -> Figure:
    """Shapley values of lattice patches drawn on the ``L x L`` lattice.

    Parameters
    ----------
    values : array or tensor, shape ``(n_patches,)`` or ``(L, L)``
        One value per patch, where patch ``g`` is the ``g``-th smallest id in ``patch_mask``
        (the order that ``feature_mask`` uses in the Shapley methods). Alternatively, the
        per-site map that those methods return, ``(L, L)`` or ``(1, L, L)``. That map holds each
        patch's value divided by the patch's size, and the sites of a patch are summed back
        into its value.
    patch_mask : integer array or tensor, shape ``(L, L)`` or ``(1, L, L)``
        The patch id of every site, the ``feature_mask`` of the attribution.
    spins : array or tensor of +-1, shape ``(L, L)``, optional
        The configuration, drawn as markers (filled dots up, open dots down).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        Every site shows its patch's Shapley value on a zero-centred diverging map, with colour
        limits ``(-m, m)`` where ``m = max |phi_g|``. Patch borders are drawn as grey lines, and
        the colour bar is labelled "SHAP value of patch".

    Raises
    ------
    ValueError
        For a mask that is not 2-d or not integer-valued, values that fit neither
        ``(n_patches,)`` nor the mask's shape, or spins of another shape.
    """
    caller = "patch_heatmap"
    mask_arr = _as_array(patch_mask, caller, "patch_mask")
    while mask_arr.ndim > 2 and mask_arr.shape[0] == 1:
        mask_arr = mask_arr[0]
    if mask_arr.ndim != 2 or mask_arr.size == 0:
        raise ValueError(
            f"{caller}: patch_mask must be one lattice of patch ids, shape (L, L); got shape "
            f"{mask_arr.shape}."
        )
    if not np.all(mask_arr == np.round(mask_arr)):
        raise ValueError(
            f"{caller}: patch_mask must hold integer patch ids; got fractional values."
        )
    ids, inverse = np.unique(mask_arr.astype(np.int64), return_inverse=True)
    inverse = inverse.reshape(-1)
    vals = _as_array(values, caller, "values")
    squeezed = vals
    while squeezed.ndim > 2 and squeezed.shape[0] == 1:
        squeezed = squeezed[0]
    if squeezed.shape == mask_arr.shape and not (vals.ndim == 1 and vals.size == len(ids)):
        # a per-site map: the patch's value was spread over its sites; add it back up
        per_patch = np.bincount(inverse, weights=squeezed.reshape(-1), minlength=len(ids))
    elif vals.ndim == 1 and vals.size == len(ids):
        per_patch = vals
    else:
        raise ValueError(
            f"{caller}: values must hold one value per patch ({len(ids)},) or one per site "
            f"{mask_arr.shape}; got shape {vals.shape}."
        )
    R = per_patch[inverse].reshape(mask_arr.shape)
    fig = Figure(figsize=(5.2, 4.3), layout="constrained")
    ax = fig.subplots()
    image = lattice_heatmap(ax, R, spins, normalize=None, colorbar=False, title=title)
    ax.add_collection(LineCollection(_domain_walls(mask_arr), colors="0.35", linewidths=1.6))
    fig.colorbar(image, ax=ax, label="SHAP value of patch")
    return fig
