"""How good is an explanation? Metrics that test attribution maps against the model and the data.

- :mod:`~physxai.evaluation.perturbation`: region perturbation (pixel flipping) curves, MoRF /
  LeRF / random orders, AOPC per sample, paired bootstrap comparison of two methods
  (Samek et al. 2017).
- :mod:`~physxai.evaluation.roar`: remove (ROAR) or keep (KAR) the top features and retrain with
  :func:`physxai.models.fit` (Hooker et al. 2019).
- :mod:`~physxai.evaluation.randomization`: sanity checks, cascading and independent
  randomisation of the layers (top down, on a deep copy) and the data-randomisation test
  (Adebayo et al. 2018), with the similarity measures of :mod:`._similarity`.
- :mod:`~physxai.evaluation.faithfulness`: faithfulness correlation (Bhatt et al. 2020),
  infidelity and max-sensitivity (Yeh et al. 2019).
- :mod:`~physxai.evaluation.localization`: class sensitivity (maps for the top-1 and top-2 class
  must differ) and localisation (share of relevance in a known region vs chance).

Every metric takes the model (any ``nn.Module`` or callable) and precomputed maps, or a method
name of the attribution core (or a callable ``explain(model, inputs, target=...)``) where it must
explain a model it changed. The caller's model is never modified; randomness comes from explicit
generators or seeds; batch-expanding metrics take ``max_batch_size`` and do not depend on it.
"""

from ._similarity import (
    SIMILARITIES,
    pearson_correlation,
    spearman_correlation,
    structural_similarity,
)
from .faithfulness import faithfulness_correlation, infidelity, max_sensitivity
from .localization import (
    ClassSensitivityResult,
    LocalizationResult,
    class_sensitivity,
    localization,
)
from .perturbation import AOPCComparison, aopc, bootstrap_mean, compare_aopc, perturbation_curves
from .randomization import (
    DataRandomizationResult,
    RandomizationResult,
    cascading_randomization,
    data_randomization,
    independent_randomization,
    randomization_layers,
    randomize_layers,
)
from .roar import RoarResult, roar

__all__ = [
    "SIMILARITIES",
    "AOPCComparison",
    "ClassSensitivityResult",
    "DataRandomizationResult",
    "LocalizationResult",
    "RandomizationResult",
    "RoarResult",
    "aopc",
    "bootstrap_mean",
    "cascading_randomization",
    "class_sensitivity",
    "compare_aopc",
    "data_randomization",
    "faithfulness_correlation",
    "independent_randomization",
    "infidelity",
    "localization",
    "max_sensitivity",
    "pearson_correlation",
    "perturbation_curves",
    "randomization_layers",
    "randomize_layers",
    "roar",
    "spearman_correlation",
    "structural_similarity",
]
