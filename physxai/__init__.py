"""physxai: interpretability for physics models.

Attribution methods for tabular data and spin configurations, physics probes that compare what a
model learned with known physical quantities, and experiments that reproduce published analyses.
Nothing runs at import; the public names here are ``attribute``, ``METHODS``, ``__version__`` and
``attribute_dataset`` (attribution of a whole HDF5 data set, imported on first use so that
``import physxai`` does not load h5py).
"""

from typing import Any

from .attribution import METHODS, attribute

__version__ = "0.1.0"

__all__ = ["METHODS", "__version__", "attribute", "attribute_dataset"]


def __getattr__(name: str) -> Any:
    # PEP 562: the data-set layer (h5py, the data schema) loads only when it is asked for
    if name == "attribute_dataset":
        from .scale import attribute_dataset

        return attribute_dataset
    raise AttributeError(f"module 'physxai' has no attribute {name!r}")
