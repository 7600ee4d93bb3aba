"""Figures of what a model learned: filter grids, activation-maximisation grids, embeddings.

- :func:`filter_grid`: one small panel per filter (a convolution kernel, or a dense layer's row
  reshaped to the lattice), diverging colours centred on zero with one shared scale.
- :func:`maximization_grid`: the optimised inputs of activation maximisation (or any batch of
  images/lattices), one panel each, optionally titled by their objective values.
- :func:`embedding_scatter`: a 2-d embedding (t-SNE, PCA) coloured by class label (discrete
  legend) or by a physical parameter such as the temperature (continuous colour bar).

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global state).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

__all__ = ["embedding_scatter", "filter_grid", "maximization_grid"]


def _array(value: Any, caller: str, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
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


def _panels(arr: np.ndarray, caller: str, name: str) -> np.ndarray:
    """``(n, ...)`` -> ``(n, H, W)``: singleton axes dropped, 1-d rows drawn as one row."""
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ValueError(
            f"{caller}: {name} must be a non-empty batch (n, ...); got shape {arr.shape}."
        )
    out = arr.reshape(arr.shape[0], *[s for s in arr.shape[1:] if s != 1])
    if out.ndim == 1:
        out = out[:, None, None]
    if out.ndim == 2:
        out = out[:, None, :]
    if out.ndim != 3:
        raise ValueError(
            f"{caller}: each panel must be 2-d after dropping singleton axes; {name} has shape "
            f"{arr.shape}. Select one input channel first (e.g. filters[:, 0])."
        )
    return out


def _grid(
    panels: np.ndarray,
    ncols: int | None,
    cmap: str,
    vmin: float,
    vmax: float,
    titles: Sequence[str] | None,
    panel_size: float,
    colorbar_label: str | None,
) -> Figure:
    n = panels.shape[0]
    ncols = ncols or min(n, 8)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel_size * ncols + 0.8, panel_size * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    image = None
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        image = ax.imshow(panels[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if image is not None:
        cbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
        if colorbar_label:
            cbar.set_label(colorbar_label)
    return fig


def filter_grid(
    filters: Any,
    *,
    ncols: int | None = None,
    cmap: str = "bwr",
    titles: Sequence[str] | None = None,
    panel_size: float = 1.2,
) -> Figure:
    """One panel per filter, zero-centred diverging colours on one shared scale.

    Parameters
    ----------
    filters : array or Tensor, shape ``(n_filters, *kernel)``
        From :func:`physxai.features.layer_filters`; singleton axes (one input channel) are
        dropped. Several input channels: pass ``filters[:, c]``.
    ncols : int or None
        Panels per row (default up to 8).
    cmap : str, default "bwr"
    titles : sequence of str or None
        One per filter (default ``"0"``, ``"1"``, ...).
    panel_size : float, default 1.2

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Filters that are not a batch of 2-d (or 1-d) maps, non-finite values, wrong titles.
    """
    caller = "filter_grid"
    panels = _panels(_array(filters, caller, "filters"), caller, "filters")
    titles = _titles(titles, panels.shape[0], caller) or [str(i) for i in range(panels.shape[0])]
    vmax = float(np.abs(panels).max()) or 1.0
    return _grid(panels, ncols, cmap, -vmax, vmax, titles, panel_size, "weight")


def maximization_grid(
    inputs: Any,
    *,
    values: Any = None,
    ncols: int | None = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    titles: Sequence[str] | None = None,
    panel_size: float = 1.2,
) -> Figure:
    """The inputs found by activation maximisation (or any batch), one panel each.

    Parameters
    ----------
    inputs : array or Tensor, shape ``(n, *F)`` or ``(m, n_restarts, *F)`` with 2-d ``F``
        ``ActivationMaximization.inputs`` is flattened over starts and restarts when its
        trailing dims form one map each.
    values : array or Tensor of n numbers, or None
        Objective values shown as panel titles (``ActivationMaximization.objective``).
    ncols, cmap, vmin, vmax, titles, panel_size
        Layout and colours; one colour scale for all panels (default: the data range).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Inputs that are not a batch of maps, values or titles that do not match its length.
    """
    caller = "maximization_grid"
    arr = _array(inputs, caller, "inputs")
    if arr.ndim >= 4 and arr.ndim - 2 >= 2:
        arr = arr.reshape(-1, *arr.shape[2:])
    panels = _panels(arr, caller, "inputs")
    n = panels.shape[0]
    titles = _titles(titles, n, caller)
    if values is not None:
        vals = _array(values, caller, "values").ravel()
        if vals.shape[0] != n:
            raise ValueError(
                f"{caller}: values must hold one number per panel ({n}); got {vals.shape[0]}."
            )
        titles = titles or [f"{v:.3g}" for v in vals]
    lo = float(panels.min()) if vmin is None else vmin
    hi = float(panels.max()) if vmax is None else vmax
    if hi <= lo:
        hi = lo + 1.0
    return _grid(panels, ncols, cmap, lo, hi, titles, panel_size, None)


def embedding_scatter(
    coordinates: Any,
    *,
    labels: Any = None,
    values: Any = None,
    value_label: str = "temperature",
    cmap: str | None = None,
    title: str | None = None,
    point_size: float = 8.0,
) -> Figure:
    """A 2-d embedding as a scatter plot, coloured by class label or by a physical parameter.

    Parameters
    ----------
    coordinates : array or Tensor, shape ``(n, 2)``
        ``Embedding.coordinates``.
    labels : array or Tensor of n integers, or None
        Discrete colours with a legend (one entry per class).
    values : array or Tensor of n numbers, or None
        Continuous colours with a colour bar (e.g. the temperature of each sample).
    value_label : str, default "temperature"
        The colour bar's label.
    cmap : str or None
        Default ``"tab10"`` for labels, ``"coolwarm"`` for values.
    title : str or None
    point_size : float, default 8

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Coordinates that are not ``(n, 2)``, both or wrong-length ``labels``/``values``.
    """
    caller = "embedding_scatter"
    xy = _array(coordinates, caller, "coordinates")
    if xy.ndim != 2 or xy.shape[1] != 2 or xy.shape[0] == 0:
        raise ValueError(f"{caller}: coordinates must have shape (n, 2); got shape {xy.shape}.")
    if labels is not None and values is not None:
        raise ValueError(f"{caller}: colour by labels or by values, not both.")
    n = xy.shape[0]
    fig = Figure(figsize=(5, 4.2))
    ax = fig.add_subplot()
    if labels is not None:
        lab = _array(labels, caller, "labels").ravel()
        if lab.shape[0] != n:
            raise ValueError(f"{caller}: labels must have {n} entries; got {lab.shape[0]}.")
        cm = matplotlib.colormaps[cmap or "tab10"]
        classes = np.unique(lab)
        for i, c in enumerate(classes):
            sel = lab == c
            ax.scatter(xy[sel, 0], xy[sel, 1], s=point_size, color=cm(i % cm.N), label=f"{c:g}")
        ax.legend(fontsize=7, markerscale=2, loc="best")
    elif values is not None:
        val = _array(values, caller, "values").ravel()
        if val.shape[0] != n:
            raise ValueError(f"{caller}: values must have {n} entries; got {val.shape[0]}.")
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=val, s=point_size, cmap=cmap or "coolwarm")
        fig.colorbar(sc, ax=ax).set_label(value_label)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=point_size, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def _titles(titles: Sequence[str] | None, n: int, caller: str) -> list[str] | None:
    if titles is None:
        return None
    titles = list(titles)
    if len(titles) != n:
        raise ValueError(
            f"{caller}: titles must give one title per panel ({n}); got {len(titles)}."
        )
    return titles
