"""Relevance heatmaps: diverging, zero-centred, normalised per sample.

A relevance map R has a sign: positive evidence for the explained output (red) and negative
evidence (blue). It is drawn with a diverging colormap whose colour limits are symmetric,
``vmin = -vmax``, so white always means zero relevance. With ``normalize="max_abs"`` (the
default) each map is divided by its own ``max |R|`` (Samek et al. 2017 normalise the same way),
so maps of different methods and samples share the colour scale [-1, 1] and one colour bar; with
``normalize=None`` the raw values are shown with ``vmax = max |R|`` (or the ``vmax`` given, e.g.
one shared by a whole grid). Lattice maps can carry the spin configuration as markers or as
domain-wall contours, and any map can be drawn translucently over its input in grey.

Figures are built with ``matplotlib.figure.Figure`` directly (never pyplot), so no global state
is kept and no window opens; save them with :func:`physxai.harness.save_figure` or
``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

__all__ = ["heatmap_grid", "lattice_heatmap", "normalize_relevance", "relevance_heatmap"]

NORMALIZATIONS = ("max_abs", None)
DEFAULT_CMAP = "bwr"


def _as_array(value: Any, caller: str, name: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor: plot a copy on the CPU
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{caller}: {name} must be an array or tensor of numbers; got {type(value).__name__}."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{caller}: {name} must be finite; it holds NaN or infinite entries.")
    return arr


def _as_map(value: Any, caller: str, name: str) -> np.ndarray:
    """A 2-d map: leading singleton axes are dropped, a 1-d vector becomes one row."""
    arr = _as_array(value, caller, name)
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(
            f"{caller}: {name} must be one map of shape (H, W) (or (1, H, W), or (d,) for "
            f"features); got shape {arr.shape}. Plot a batch with heatmap_grid."
        )
    return arr


def normalize_relevance(R: Any, *, per_sample: bool = True) -> np.ndarray:
    """Divide relevance by its maximum absolute value, per sample (axis 0) or over all.

    Parameters
    ----------
    R : array or tensor, shape ``(n, ...)``
        Relevance of a batch (or of one map with ``per_sample=False``).
    per_sample : bool, default True
        Scale each ``R[i]`` by ``max |R[i]|``; otherwise scale the whole array by one number.

    Returns
    -------
    numpy.ndarray
        Values in [-1, 1]; a map that is zero everywhere stays zero.

    Examples
    --------
    >>> normalize_relevance([[1.0, -2.0], [0.5, 0.25]]).tolist()
    [[0.5, -1.0], [1.0, 0.5]]
    """
    arr = _as_array(R, "normalize_relevance", "R")
    if per_sample and arr.ndim >= 1 and arr.shape[0] > 0:
        flat = np.abs(arr.reshape(arr.shape[0], -1))
        scale = flat.max(axis=1) if flat.shape[1] else np.zeros(arr.shape[0])
        scale = np.where(scale > 0, scale, 1.0).reshape((-1,) + (1,) * (arr.ndim - 1))
        return arr / scale
    peak = float(np.abs(arr).max()) if arr.size else 0.0
    return arr / peak if peak > 0 else arr.copy()


def _limits(
    R: np.ndarray, normalize: str | None, vmax: float | None, caller: str
) -> tuple[np.ndarray, float]:
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"{caller}: normalize must be 'max_abs' or None; got {normalize!r}.")
    if normalize == "max_abs":
        return normalize_relevance(R, per_sample=False), 1.0
    if vmax is not None:
        if isinstance(vmax, bool) or not isinstance(vmax, (int, float)) or not vmax > 0:
            raise ValueError(f"{caller}: vmax must be a number > 0; got {vmax!r}.")
        return R, float(vmax)
    peak = float(np.abs(R).max())
    return R, peak if peak > 0 else 1.0


def _colorbar(ax: Axes, image: AxesImage, normalized: bool) -> None:
    label = "relevance (normalised)" if normalized else "relevance"
    ax.figure.colorbar(image, ax=ax, label=label)


def relevance_heatmap(
    ax: Axes,
    R: Any,
    *,
    x: Any = None,
    overlay_alpha: float = 0.9,
    cmap: str = DEFAULT_CMAP,
    normalize: str | None = "max_abs",
    vmax: float | None = None,
    title: str | None = None,
    colorbar: bool = True,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> AxesImage:
    """Draw one relevance map with a zero-centred diverging colormap.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    R : array or tensor, shape ``(H, W)``, ``(1, H, W)`` or ``(d,)``
        The relevance of one sample; a vector is drawn as one row of features.
    x : array or tensor, optional
        The input, same shape as ``R``; drawn in light greys (dark = large values) under the
        relevance, which is then translucent: each pixel has opacity
        ``overlay_alpha * sqrt(|R| / vmax)``, so the input shows where relevance is near zero.
    overlay_alpha : float, default 0.9
        Opacity of the strongest relevance over the input, in [0, 1]; ignored without ``x``.
    cmap : str, default "bwr"
        A diverging colormap (blue negative, white zero, red positive).
    normalize : {"max_abs", None}, default "max_abs"
        ``"max_abs"``: divide by ``max |R|`` and use limits [-1, 1]. None: raw values with
        limits ``[-vmax, vmax]``.
    vmax : float, optional
        The colour limit for ``normalize=None`` (default ``max |R|``), e.g. one shared by a grid.
    title : str, optional
        Axes title.
    colorbar : bool, default True
        Add a colour bar labelled "relevance (normalised)" (or "relevance").
    xlabel, ylabel : str, optional
        Axis labels; default "x" and "y" for maps and "feature" for vectors.

    Returns
    -------
    matplotlib.image.AxesImage
        The relevance image; its ``get_clim()`` is ``(-vmax, vmax)``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> relevance_heatmap(ax, [[1.0, -4.0], [2.0, 0.0]]).get_clim()
    (-1.0, 1.0)
    """
    caller = "relevance_heatmap"
    raw = _as_array(R, caller, "R")
    vector = raw.ndim == 1
    rmap = _as_map(raw, caller, "R")
    values, limit = _limits(rmap, normalize, vmax, caller)
    alpha: float | np.ndarray = 1.0
    if x is not None:
        xmap = _as_map(x, caller, "x")
        if xmap.shape != rmap.shape:
            raise ValueError(
                f"{caller}: x must have the shape of R to be overlaid; got x {xmap.shape} and "
                f"R {rmap.shape}."
            )
        if (
            isinstance(overlay_alpha, bool)
            or not isinstance(overlay_alpha, (int, float))
            or not (0.0 <= overlay_alpha <= 1.0)
        ):
            raise ValueError(f"{caller}: overlay_alpha must be in [0, 1]; got {overlay_alpha!r}.")
        # the input in light greys (ink dark on white), then the relevance with an opacity
        # that grows with |R|: zero relevance is transparent so the input shows through
        ax.imshow(xmap, cmap="Greys", alpha=0.5, interpolation="nearest", aspect="equal")
        alpha = overlay_alpha * np.sqrt(np.abs(values) / limit).clip(0.0, 1.0)
    image = ax.imshow(
        values,
        cmap=cmap,
        norm=Normalize(vmin=-limit, vmax=limit),
        interpolation="nearest",
        alpha=alpha,
        aspect="auto" if vector else "equal",
    )
    if vector:
        ax.set_yticks([])
    ax.set_xlabel(xlabel if xlabel is not None else ("feature" if vector else "x"))
    ax.set_ylabel(ylabel if ylabel is not None else ("" if vector else "y"))
    if title is not None:
        ax.set_title(title)
    if colorbar:
        _colorbar(ax, image, normalize == "max_abs")
    return image


def lattice_heatmap(
    ax: Axes,
    R: Any,
    spins: Any = None,
    *,
    spin_style: str = "markers",
    cmap: str = DEFAULT_CMAP,
    normalize: str | None = "max_abs",
    vmax: float | None = None,
    title: str | None = None,
    colorbar: bool = True,
    marker_size: float | None = None,
) -> AxesImage:
    """Draw the relevance of an ``L x L`` spin configuration, with the spins on top.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    R : array or tensor, shape ``(L, L)`` or ``(1, L, L)``
        Relevance per site.
    spins : array or tensor of +-1, same shape, optional
        The configuration. ``spin_style="markers"`` draws up spins as filled black dots and
        down spins as open circles; ``"contour"`` draws the domain walls: a line on every cell
        edge between two unlike nearest neighbours (the lattice's own boundary is open here).
    spin_style : {"markers", "contour"}, default "markers"
    cmap, normalize, vmax, title, colorbar
        As in :func:`relevance_heatmap`.
    marker_size : float, optional
        Marker area in points^2; default scales with the lattice so markers do not overlap.

    Returns
    -------
    matplotlib.image.AxesImage
        The relevance image (limits ``(-vmax, vmax)``).

    Raises
    ------
    ValueError
        For spins that are not +-1, whose shape differs from ``R``, or an unknown style.
    """
    caller = "lattice_heatmap"
    if spin_style not in ("markers", "contour"):
        raise ValueError(
            f"{caller}: spin_style must be 'markers' or 'contour'; got {spin_style!r}."
        )
    rmap = _as_map(R, caller, "R")
    image = relevance_heatmap(
        ax,
        rmap,
        cmap=cmap,
        normalize=normalize,
        vmax=vmax,
        title=title,
        colorbar=colorbar,
        xlabel="site x",
        ylabel="site y",
    )
    if spins is not None:
        s = _as_map(spins, caller, "spins")
        if s.shape != rmap.shape:
            raise ValueError(
                f"{caller}: spins must have the shape of R; got spins {s.shape} and R {rmap.shape}."
            )
        if not np.all(np.abs(s) == 1):
            raise ValueError(f"{caller}: spins must be +-1 (Ising convention); got other values.")
        if spin_style == "markers":
            size = marker_size if marker_size is not None else max(2.0, 400.0 / max(s.shape))
            ys, xs = np.nonzero(s > 0)
            ax.scatter(xs, ys, s=size, c="k", marker="o", linewidths=0, label="spin up")
            ys, xs = np.nonzero(s < 0)
            ax.scatter(
                xs,
                ys,
                s=size,
                facecolors="none",
                edgecolors="k",
                marker="o",
                linewidths=0.6,
                label="spin down",
            )
            ax.set_xlim(-0.5, s.shape[1] - 0.5)
            ax.set_ylim(s.shape[0] - 0.5, -0.5)
        else:
            ax.add_collection(LineCollection(_domain_walls(s), colors="k", linewidths=1.2))
    return image


def _domain_walls(spins: np.ndarray) -> list[list[tuple[float, float]]]:
    """Segments on the cell edges between unlike nearest neighbours (open boundaries)."""
    segments = []
    for i, j in zip(*np.nonzero(spins[:, 1:] != spins[:, :-1])):  # wall between columns j, j+1
        segments.append([(j + 0.5, i - 0.5), (j + 0.5, i + 0.5)])
    for i, j in zip(*np.nonzero(spins[1:, :] != spins[:-1, :])):  # wall between rows i, i+1
        segments.append([(j - 0.5, i + 0.5), (j + 0.5, i + 0.5)])
    return segments


def heatmap_grid(
    rows_of_maps: Sequence[Sequence[Any]],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    inputs: Sequence[Any] | None = None,
    lattice: bool = False,
    overlay_alpha: float = 0.9,
    cmap: str = DEFAULT_CMAP,
    normalize: str | None = "max_abs",
    cell_size: float = 2.0,
    colorbar: bool = True,
    title: str | None = None,
) -> Figure:
    """A grid of relevance maps, e.g. methods (rows) x samples (columns), with one colour bar.

    Parameters
    ----------
    rows_of_maps : sequence of sequences of maps, or an array ``(n_rows, n_cols, H, W)``
        ``rows_of_maps[i][j]`` is drawn in row i, column j; every row has the same length.
    row_labels, col_labels : sequence of str, optional
        One label per row (on the left) and per column (on top).
    inputs : sequence, optional
        One input per column (the samples): drawn in grey under the maps, or, with
        ``lattice=True``, as spin markers on top.
    lattice : bool, default False
        Draw cells with :func:`lattice_heatmap` (``inputs`` are then +-1 spins).
    overlay_alpha, cmap : as in :func:`relevance_heatmap`
    normalize : {"max_abs", None}, default "max_abs"
        ``"max_abs"``: every map is scaled by its own ``max |R|`` (limits [-1, 1]). None: raw
        values with one ``vmax`` shared by the whole grid, so cells compare directly.
    cell_size : float, default 2.0
        Inches per cell.
    colorbar : bool, default True
        One colour bar for the grid.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        A new figure (not registered with pyplot).

    Raises
    ------
    ValueError
        For ragged rows, label counts that do not match, or inputs not one per column.
    """
    caller = "heatmap_grid"
    rows = [list(r) for r in rows_of_maps]
    if not rows or not rows[0]:
        raise ValueError(f"{caller}: rows_of_maps must hold at least one row with one map.")
    n_rows, n_cols = len(rows), len(rows[0])
    if any(len(r) != n_cols for r in rows):
        raise ValueError(
            f"{caller}: every row must hold the same number of maps; got row lengths "
            f"{[len(r) for r in rows]}."
        )
    for labels, n, what in ((row_labels, n_rows, "row_labels"), (col_labels, n_cols, "col_labels")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{caller}: {what} must have {n} entries; got {len(labels)}.")
    if inputs is not None and len(inputs) != n_cols:
        raise ValueError(
            f"{caller}: inputs must hold one input per column ({n_cols}); got {len(inputs)}."
        )
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"{caller}: normalize must be 'max_abs' or None; got {normalize!r}.")
    if isinstance(cell_size, bool) or not isinstance(cell_size, (int, float)) or cell_size <= 0:
        raise ValueError(f"{caller}: cell_size must be a number > 0; got {cell_size!r}.")
    maps = [
        [_as_map(m, caller, f"rows_of_maps[{i}][{j}]") for j, m in enumerate(r)]
        for i, r in enumerate(rows)
    ]
    shared = None
    if normalize is None:
        peak = max(float(np.abs(m).max()) for r in maps for m in r)
        shared = peak if peak > 0 else 1.0

    width = cell_size * n_cols + (0.8 if colorbar else 0.0)
    height = cell_size * n_rows + (0.4 if title else 0.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    image = None
    for i in range(n_rows):
        for j in range(n_cols):
            ax = axes[i][j]
            x = None if inputs is None else inputs[j]
            if lattice:
                image = lattice_heatmap(
                    ax, maps[i][j], x, cmap=cmap, normalize=normalize, vmax=shared, colorbar=False
                )
            else:
                image = relevance_heatmap(
                    ax,
                    maps[i][j],
                    x=x,
                    overlay_alpha=overlay_alpha,
                    cmap=cmap,
                    normalize=normalize,
                    vmax=shared,
                    colorbar=False,
                )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel(row_labels[i] if (row_labels is not None and j == 0) else "")
            if col_labels is not None and i == 0:
                ax.set_title(col_labels[j])
    if colorbar and image is not None:
        label = "relevance (normalised)" if normalize == "max_abs" else "relevance"
        fig.colorbar(image, ax=axes.ravel().tolist(), label=label, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig
