"""Matplotlib figures for explanations: zero-centred diverging relevance heatmaps.

- :func:`relevance_heatmap`: one map, per-sample max-abs normalisation, optional grey input
  underneath.
- :func:`lattice_heatmap`: an ``L x L`` lattice with the spins as markers or domain walls.
- :func:`heatmap_grid`: methods x samples side by side with one colour bar.
- :func:`normalize_relevance`: the per-sample ``R / max |R|`` scaling on its own.
- SHAP figures (:mod:`physxai.plot.shap`): :func:`summary_plot` (beeswarm), :func:`bar_plot`
  (mean |SHAP|), :func:`waterfall_plot` (one sample), :func:`dependence_plot`, and
  :func:`patch_heatmap` (lattice patch attributions).
- Correlator-CNN figures (:mod:`physxai.plot.ccnn`): :func:`correlator_filters` (positive
  filters per channel), :func:`coefficient_path` (the L1 regularisation path) and
  :func:`path_accuracy` (accuracy along it).
- Feature figures (:mod:`physxai.plot.features`): :func:`filter_grid` (layer filters),
  :func:`maximization_grid` (activation-maximisation results), :func:`embedding_scatter`
  (t-SNE/PCA maps coloured by label or temperature).

Figures are ``matplotlib.figure.Figure`` objects built without pyplot: no global state, no
window; nothing is drawn at import.
"""

from .ccnn import coefficient_path, correlator_filters, path_accuracy
from .features import embedding_scatter, filter_grid, maximization_grid
from .heatmaps import heatmap_grid, lattice_heatmap, normalize_relevance, relevance_heatmap
from .shap import bar_plot, dependence_plot, patch_heatmap, summary_plot, waterfall_plot

__all__ = [
    "heatmap_grid",
    "lattice_heatmap",
    "normalize_relevance",
    "relevance_heatmap",
    "summary_plot",
    "bar_plot",
    "waterfall_plot",
    "dependence_plot",
    "patch_heatmap",
    "filter_grid",
    "maximization_grid",
    "embedding_scatter",
    "correlator_filters",
    "coefficient_path",
    "path_accuracy",
]
