"""physxai: interpretability for physics models.

Attribution methods for tabular data and spin configurations, physics probes that compare what a
model learned with known physical quantities, and experiments that reproduce published analyses.
Nothing runs at import; the public names here are ``attribute``, ``METHODS`` and ``__version__``.
"""

from .attribution import METHODS, attribute

__version__ = "0.1.0"

__all__ = ["attribute", "METHODS", "__version__"]
