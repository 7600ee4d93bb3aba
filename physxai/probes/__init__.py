"""Physics probes: what a model learned, compared with what physics knows.

- :mod:`~physxai.probes.bottleneck`: autoencoders and variational autoencoders (dense or
  periodic-convolutional, Bernoulli likelihood for +-1 spins or Gaussian) whose latent is read as
  an order parameter and whose reconstruction loss flags a transition (Wetzel 2017).
- :mod:`~physxai.probes.ccnn`: correlator convolutional networks: positive filters whose
  correlators of every order (spatially summed, D4-averaged) feed a linear head, and the L1
  regularisation path over the frozen correlators that names the decisive one (Miles et al.
  2021); the one- and two-point control (:func:`low_order_correlators`).
- :mod:`~physxai.probes.compare`: compare anything a model learned (a latent, a neuron, an output)
  with known quantities: correlations with confidence intervals, R^2 of polynomial fits, mutual
  information, partial correlations, a printed table; transition estimators (steepest change of a
  temperature-averaged curve, crossing of a classifier output) with bootstrap intervals; the
  number of clusters in a latent by Gaussian-mixture BIC.
- :mod:`~physxai.probes.cpnn`: correlation-probing networks: one small network on every k x k
  receptive field, averaged over the lattice, then a decision; the smallest field that still
  classifies, its local map and the decision as a function of the average (Wetzel & Scherzer
  2017).
- :mod:`~physxai.probes.siamese`: twin encoders trained on pairs related by a symmetry or by time
  evolution, and :func:`discover_invariant`, which reads the invariant off the latent (Spearman
  with candidates, a monomial fit in raw coordinates, gradient alignment; Wetzel et al. 2020).

Every probe is a scikit-learn style estimator: ``fit`` returns ``self``, fitted attributes end in
``_``, and using a probe before ``fit`` raises :class:`~physxai.errors.NotFittedError`.

The table builder :func:`physxai.probes.compare.compare` is not re-exported here: the name
``physxai.probes.compare`` stays the module.
"""

from .bottleneck import ARCHITECTURES, LIKELIHOODS, Autoencoder, VariationalAutoencoder
from .ccnn import (
    CCNNProbe,
    CorrelatorCNN,
    CorrelatorLabel,
    RegularizationPath,
    channel_weights,
    checkerboard_score,
    low_order_correlators,
    neel_contrast,
    regularization_path,
)
from .compare import (
    ClusterCount,
    ComparisonRow,
    ComparisonTable,
    Correlation,
    Transition,
    count_clusters,
    crossing,
    mutual_information,
    partial_correlation,
    pearson,
    r_squared,
    spearman,
    steepest_change,
)
from .cpnn import (
    CorrelationProbingNetwork,
    CPNNProbe,
    DecisionCurve,
    FieldSizeScan,
    LocalMap,
    scan_field_sizes,
)
from .siamese import (
    OBJECTIVES,
    ORBIT_VARIABLES,
    RELATIVITY_VARIABLES,
    InvariantReport,
    SiameseEncoder,
    SiameseNetwork,
    Standardize,
    discover_invariant,
    make_pairs,
    make_triplets,
    monomial_names,
)

__all__ = [
    "ARCHITECTURES",
    "LIKELIHOODS",
    "OBJECTIVES",
    "ORBIT_VARIABLES",
    "RELATIVITY_VARIABLES",
    "Autoencoder",
    "CCNNProbe",
    "CPNNProbe",
    "ClusterCount",
    "ComparisonRow",
    "ComparisonTable",
    "Correlation",
    "CorrelationProbingNetwork",
    "CorrelatorCNN",
    "CorrelatorLabel",
    "DecisionCurve",
    "FieldSizeScan",
    "InvariantReport",
    "LocalMap",
    "RegularizationPath",
    "SiameseEncoder",
    "SiameseNetwork",
    "Standardize",
    "Transition",
    "VariationalAutoencoder",
    "channel_weights",
    "checkerboard_score",
    "count_clusters",
    "crossing",
    "discover_invariant",
    "low_order_correlators",
    "make_pairs",
    "make_triplets",
    "monomial_names",
    "mutual_information",
    "neel_contrast",
    "partial_correlation",
    "pearson",
    "r_squared",
    "regularization_path",
    "scan_field_sizes",
    "spearman",
    "steepest_change",
]
