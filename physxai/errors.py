"""Errors raised by physxai.

Plain mistakes raise the builtin exceptions (``ValueError`` for a wrong value, shape, dtype or
device; ``TypeError`` for a wrong kind of object). A named :class:`PhysxaiError` subclass exists
only where the explanation needs more than one line; its docstring says what to do.
"""

from __future__ import annotations

__all__ = [
    "PhysxaiError",
    "UnsupportedLayerError",
    "NotFittedError",
    "InvalidDataError",
]

DOCS_URL = "https://github.com/physxai/physxai#readme"


class PhysxaiError(Exception):
    """Base class of the named physxai errors."""


class UnsupportedLayerError(PhysxaiError, TypeError):
    """A layer with parameters that a rule-based method (LRP, deep Taylor) has no rule for.

    What to do: give the layer a rule explicitly through a composite mapping
    (``{"features.3": Epsilon()}`` or ``{nn.LayerNorm: Pass()}``), rewrite the model with a
    canonizer, or use a gradient-based method (``integrated_gradients``, ``gradient_x_input``)
    which works with any differentiable layer.
    """


class NotFittedError(ValueError, AttributeError):
    """An estimator or a method that needs ``fit`` was used before it was fitted.

    What to do: call ``.fit(...)`` first. Subclasses both ``ValueError`` and ``AttributeError``,
    as scikit-learn's ``NotFittedError`` does.
    """


class InvalidDataError(PhysxaiError, ValueError):
    """A data file is corrupt, incomplete, or does not follow the physxai HDF5 schema.

    What to do: the message names the file and the missing or malformed path. Rebuild the file
    (``physxai data build NAME``) or write it again with ``physxai.data.write``, which writes
    atomically so an interrupted write never leaves a file that looks complete.
    """
