"""What a model learned: feature visualisation over inputs, layers and data sets.

- :class:`Objective` names what to look at: a class logit or log-probability, an output column
  (a latent unit), a neuron, a channel summed over positions, a layer's squared norm, or any
  callable ``(model, x) -> (n,)``; layers by their ``named_modules`` names.
- Activation maximisation (:func:`maximize_activation`, :mod:`.maximization`): gradient ascent
  with L2, total variation, jitter, blur and random transforms; bounded (tanh) or projected
  inputs; a density expert (:class:`GaussianMixtureDensity`); code space of a generator; batched
  restarts with a diversity term. :func:`deep_dream` enhances what a layer sees in an input.
- :func:`dataset_examples`: the inputs of a data set that most and least activate a unit.
- :func:`capture_activations`, :func:`embed`, :func:`layer_embedding` (PCA, t-SNE) and
  :func:`separation_scores` (k-NN accuracy, neighbourhood hit, silhouette).
- :class:`GlobalSurrogate`: a decision tree or sparse linear model imitating the model, with
  fidelity and rules in the feature names.
- :class:`MMDCritic`: prototypes and criticisms (Kim et al. 2016) in any feature space.
- :func:`layer_filters`: the weights of convolutional and dense layers, per filter.

The caller's model is never modified: hooks are removed in ``finally``, the train/eval mode is
not toggled (training mode warns), parameters and their ``requires_grad`` are left alone.
Figures are in :mod:`physxai.plot` (``filter_grid``, ``maximization_grid``,
``embedding_scatter``).
"""

from ._capture import capture_activations
from .embedding import Embedding, embed, layer_embedding, separation_scores
from .examples import DatasetExamples, dataset_examples
from .filters import layer_filters
from .maximization import (
    ActivationMaximization,
    GaussianMixtureDensity,
    class_means,
    deep_dream,
    maximize_activation,
    total_variation,
)
from .objectives import Objective
from .prototypes import MMDCritic, rbf_kernel
from .surrogate import GlobalSurrogate

__all__ = [
    "ActivationMaximization",
    "DatasetExamples",
    "Embedding",
    "GaussianMixtureDensity",
    "GlobalSurrogate",
    "MMDCritic",
    "Objective",
    "capture_activations",
    "class_means",
    "dataset_examples",
    "deep_dream",
    "embed",
    "layer_embedding",
    "layer_filters",
    "maximize_activation",
    "rbf_kernel",
    "separation_scores",
    "total_variation",
]
