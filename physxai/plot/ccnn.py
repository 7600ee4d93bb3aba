"""Figures of a correlator CNN: its filters per channel, the L1 coefficient path, the accuracy.

- :func:`correlator_filters`: one row per filter, one small image per channel (up, down, hole),
  a sequential colour map from 0 (the filters are positive) on one shared scale.
- :func:`coefficient_path`: the coefficients of the standardised correlators along the L1
  regularisation path against the inverse penalty C = 1/lambda (log axis), the features that
  turn on drawn in colour and labelled (order, filter, channels), the first one marked.
- :func:`path_accuracy`: train and test accuracy along the same path, with optional reference
  lines (the CCNN itself, a plain CNN, chance).

The path figures take a :class:`physxai.probes.ccnn.RegularizationPath` (any object with its
attributes). Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global
state).

References
----------
C. Miles et al., Nat. Commun. 12, 3905 (2021), arXiv:2011.03474 (Figs. 2-4: filters, paths).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["coefficient_path", "correlator_filters", "path_accuracy"]

_PATH_FIELDS = (
    "penalties",
    "coefficients",
    "feature_labels",
    "first_active",
    "entry_index",
    "train_accuracy",
    "test_accuracy",
)


def _filters(value: Any, caller: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{caller}: filters must be an array or tensor (n_filters, n_channels, K, K); got "
            f"{type(value).__name__}."
        )
    if value.ndim != 4 or value.dtype.kind != "f" or value.shape[0] == 0:
        raise ValueError(
            f"{caller}: filters must be a floating array (n_filters, n_channels, K, K); got "
            f"shape {value.shape} and dtype {value.dtype}."
        )
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{caller}: filters must be finite; it holds NaN or infinite entries.")
    return np.abs(value.astype(np.float64))


def correlator_filters(
    filters: Any,
    *,
    channels: Sequence[str] = ("up", "down", "hole"),
    row_titles: Sequence[str] | None = None,
    cmap: str = "magma_r",
    panel_size: float = 1.3,
    title: str | None = None,
) -> Figure:
    """The positive filters of a CCNN as small images, one row per filter, one column per channel.

    Parameters
    ----------
    filters : array or Tensor, shape ``(n_filters, n_channels, K, K)``
        ``CCNNProbe.filters_`` (absolute values are drawn).
    channels : sequence of str
        Column titles, one per channel.
    row_titles : sequence of str, optional
        One label per filter (default ``"filter 0"``, ...), drawn left of each row.
    cmap : str, default "magma_r"
        A sequential map: white is 0, dark is the largest weight (one scale for every panel).
    panel_size : float
        Inches per panel.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        ``n_filters * n_channels`` image axes and a colour bar "filter weight |f|".

    Raises
    ------
    TypeError, ValueError
        Filters not a finite floating 4-d array; channel names or row titles of the wrong
        length.
    """
    caller = "correlator_filters"
    f = _filters(filters, caller)
    n_filters, n_channels = f.shape[:2]
    if isinstance(channels, str) or len(channels) != n_channels:
        raise ValueError(
            f"{caller}: channels must name each of the {n_channels} channels; got {channels!r}."
        )
    if row_titles is None:
        row_titles = [f"filter {a}" for a in range(n_filters)]
    elif isinstance(row_titles, str) or len(row_titles) != n_filters:
        raise ValueError(
            f"{caller}: row_titles must give one title per filter ({n_filters}); got "
            f"{row_titles!r}."
        )
    vmax = float(f.max()) or 1.0
    fig = Figure(
        figsize=(panel_size * n_channels + 1.6, panel_size * n_filters + 0.6), layout="constrained"
    )
    axes = fig.subplots(n_filters, n_channels, squeeze=False)
    image = None
    k1, k2 = f.shape[-2:]
    for a in range(n_filters):
        for c in range(n_channels):
            ax = axes[a, c]
            image = ax.imshow(f[a, c], cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
            ax.set_xticks(range(k2))
            ax.set_yticks(range(k1))
            ax.tick_params(labelsize=6, length=0)
            if a == 0:
                ax.set_title(channels[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(f"{row_titles[a]}\nrow a_y", fontsize=8)
            if a == n_filters - 1:
                ax.set_xlabel("column a_x", fontsize=8)
    cbar = fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.85)
    cbar.set_label("filter weight |f|")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _path(path: Any, caller: str) -> Any:
    missing = [name for name in _PATH_FIELDS if not hasattr(path, name)]
    if missing:
        raise TypeError(
            f"{caller}: path must be a RegularizationPath (physxai.probes.ccnn); got "
            f"{type(path).__name__} without {', '.join(missing)}."
        )
    return path


def coefficient_path(
    path: Any,
    *,
    max_labels: int = 8,
    title: str | None = None,
    ax: Any = None,
) -> Figure:
    """Coefficients of the standardised correlators along the L1 path against C = 1/lambda.

    Parameters
    ----------
    path : RegularizationPath
        From :func:`physxai.probes.ccnn.regularization_path`.
    max_labels : int, default 8
        Features labelled in the legend, in their order of entry; later ones and features that
        never turn on are drawn thin and grey.
    title : str, optional
        Axes title (default names the first feature).
    ax : matplotlib Axes, optional
        Draw into this axes (its figure is returned) instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``path`` without the fields of a RegularizationPath.
    ValueError
        ``max_labels`` < 0.
    """
    caller = "coefficient_path"
    path = _path(path, caller)
    if isinstance(max_labels, bool) or not isinstance(max_labels, int) or max_labels < 0:
        raise ValueError(f"{caller}: max_labels must be an int >= 0; got {max_labels!r}.")
    if ax is None:
        fig = Figure(figsize=(7.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    c = np.asarray(path.penalties, dtype=float)
    coef = np.asarray(path.coefficients, dtype=float)
    sequence = list(getattr(path, "entry_sequence", ()))
    sequence += [j for j in np.flatnonzero(np.asarray(path.entry_index) >= 0) if j not in sequence]
    labelled = sequence[:max_labels]
    colours = [f"C{i % 10}" for i in range(len(labelled))]
    for j in range(coef.shape[1]):
        if j not in labelled:
            ax.plot(c, coef[:, j], color="0.75", linewidth=0.8, zorder=1)
    for colour, j in zip(colours, labelled):
        label = path.feature_labels[j]
        order = getattr(label, "order", 2)
        ax.plot(
            c,
            coef[:, j],
            color=colour,
            linewidth=2.0,
            linestyle=("-", "--", "-.", ":")[(order - 1) % 4],
            label=str(label),
            zorder=2,
        )
    if path.first_active:
        j = path.first_active[0]
        step = int(np.asarray(path.entry_index)[j])
        ax.axvline(c[step], color="black", linewidth=0.8, linestyle=":", zorder=0)
        ax.annotate(
            f"first: {path.feature_labels[j]}",
            xy=(c[step], coef[step, j]),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=8,
        )
    ax.axhline(0.0, color="0.5", linewidth=0.6, zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("inverse L1 penalty C = 1/lambda (log scale)")
    ax.set_ylabel("coefficient of the standardised correlator")
    if labelled:
        ax.legend(
            fontsize=7,
            loc="best",
            title="cN[filter: channels]; line style = order",
            title_fontsize=7,
        )
    first = str(path.feature_labels[path.first_active[0]]) if path.first_active else "none"
    ax.set_title(title or f"L1 logistic-regression path; first to turn on: {first}", fontsize=9)
    return fig


def path_accuracy(
    path: Any,
    *,
    references: Mapping[str, float] | None = None,
    chance: float | None = 0.5,
    title: str | None = None,
    ax: Any = None,
) -> Figure:
    """Train and test accuracy of the L1 logistic regression along the path.

    Parameters
    ----------
    path : RegularizationPath
        From :func:`physxai.probes.ccnn.regularization_path` (test accuracy drawn when finite).
    references : mapping str -> float, optional
        Horizontal reference lines, e.g. ``{"CCNN": 0.97, "plain CNN": 0.98}``.
    chance : float or None, default 0.5
        A dotted chance line (None: none).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError
        ``path`` without the fields of a RegularizationPath, references not a mapping of
        numbers.
    """
    caller = "path_accuracy"
    path = _path(path, caller)
    if references is not None and (
        not isinstance(references, Mapping)
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in references.values()
        )
    ):
        raise TypeError(f"{caller}: references must map names to numbers; got {references!r}.")
    if ax is None:
        fig = Figure(figsize=(7.0, 3.4), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    c = np.asarray(path.penalties, dtype=float)
    test = np.asarray(path.test_accuracy, dtype=float)
    if np.isfinite(test).any():
        ax.plot(c, test, color="crimson", linewidth=2.5, marker="o", markersize=3, label="test")
    # train on top, dashed, so that it stays visible where the two agree
    ax.plot(
        c,
        path.train_accuracy,
        color="black",
        linewidth=1.2,
        linestyle="--",
        marker="o",
        markersize=2,
        label="train",
        zorder=3,
    )
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(
            value,
            color=f"C{(i + 2) % 10}",
            linestyle="--",
            linewidth=1.0,
            label=f"{name}: {value:.3f}",
        )
    if chance is not None:
        ax.axhline(chance, color="0.5", linestyle=":", linewidth=1.0, label=f"chance {chance:g}")
    ax.set_xscale("log")
    ax.set_xlabel("inverse L1 penalty C = 1/lambda (log scale)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title or "accuracy along the L1 path", fontsize=9)
    return fig
