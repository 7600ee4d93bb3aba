"""Layer-wise relevance propagation (LRP) and deep Taylor decomposition.

LRP explains one output ``f(x)`` by passing it backwards through the network as *relevance*,
layer by layer, until it reaches the input (Bach et al. 2015). Three ideas are kept apart, as in
zennit:

- a **rule** says how relevance passes through one layer (:class:`Epsilon`, :class:`Gamma`,
  :class:`ZPlus`, :class:`AlphaBeta`, :class:`ZBox`, :class:`Flat`, :class:`WSquare`,
  :class:`Pass`), see :mod:`.rules`;
- a **composite** says which rule each layer gets, by layer type or qualified name
  (``"epsilon"``, ``"zplus"``, ``"epsilon_plus"``, ``"epsilon_plus_flat"``,
  ``"epsilon_alpha2_beta1"``, ``"epsilon_gamma_box"``, ``"deep_taylor"``, or your own
  :class:`Composite`), see :mod:`.composites`;
- a **canonizer** lets the rules apply to a model they do not fit as written (fold a BatchNorm into
  the preceding Linear/Conv layer: :class:`MergeBatchNorm`), without changing the model.

Deep Taylor decomposition (Montavon et al. 2017) is LRP with z+ in hidden layers and z^B (bounded
input) or w^2 (unbounded input) at the input: :class:`DeepTaylor`.

>>> from physxai.attribution.lrp import LRP, EpsilonGammaBox          # doctest: +SKIP
>>> composite = EpsilonGammaBox(low=-1.0, high=1.0)                  # doctest: +SKIP
>>> R = LRP(model, composite=composite).attribute(x, target=0)        # doctest: +SKIP
"""

from ._methods import LRP, DeepTaylor
from .canonizers import Canonizer, MergeBatchNorm
from .composites import (
    COMPOSITES,
    Composite,
    DeepTaylorComposite,
    EpsilonAlpha2Beta1,
    EpsilonComposite,
    EpsilonGammaBox,
    EpsilonPlus,
    EpsilonPlusFlat,
    ZPlusComposite,
)
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Pass, Rule, WSquare, ZBox, ZPlus

__all__ = [
    "COMPOSITES",
    "LRP",
    "AlphaBeta",
    "Canonizer",
    "Composite",
    "DeepTaylor",
    "DeepTaylorComposite",
    "Epsilon",
    "EpsilonAlpha2Beta1",
    "EpsilonComposite",
    "EpsilonGammaBox",
    "EpsilonPlus",
    "EpsilonPlusFlat",
    "Flat",
    "Gamma",
    "MergeBatchNorm",
    "Pass",
    "Rule",
    "WSquare",
    "ZBox",
    "ZPlus",
    "ZPlusComposite",
]
