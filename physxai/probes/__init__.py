"""Physics probes: what a model learned, compared with what physics knows.

- :mod:`~physxai.probes.bottleneck`: autoencoders and variational autoencoders (dense or
  periodic-convolutional, Bernoulli likelihood for +-1 spins or Gaussian) whose latent is read as
  an order parameter and whose reconstruction loss flags a transition (Wetzel 2017).
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
    "CPNNProbe",
    "ClusterCount",
    "ComparisonRow",
    "ComparisonTable",
    "Correlation",
    "CorrelationProbingNetwork",
    "DecisionCurve",
    "FieldSizeScan",
    "InvariantReport",
    "LocalMap",
    "SiameseEncoder",
    "SiameseNetwork",
    "Standardize",
    "Transition",
    "VariationalAutoencoder",
    "count_clusters",
    "crossing",
    "discover_invariant",
    "make_pairs",
    "make_triplets",
    "monomial_names",
    "mutual_information",
    "partial_correlation",
    "pearson",
    "r_squared",
    "scan_field_sizes",
    "spearman",
    "steepest_change",
]
