"""Tabular data sets shipped inside scikit-learn, in the physxai layout.

scikit-learn bundles ``load_digits`` (1797 handwritten digits, 8x8 gray levels 0-16, 10 classes)
and ``load_breast_cancer`` (569 tumours, 30 real features, malignant/benign) with the package,
so they need no download. The generator functions here turn them into the ``(inputs, targets,
params, observables, extra_attrs)`` tuple every physxai generator returns, with the feature and
class names kept as attributes, so ``physxai.data.load("digits")`` and
``load("breast_cancer")`` give the same :class:`~physxai.data.Dataset` as the physics sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["breast_cancer", "digits"]

GeneratorOutput = tuple[
    np.ndarray, np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]
]


def digits(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """scikit-learn's digits: float32 gray levels 0-16 and int64 labels 0-9.

    Parameters
    ----------
    params : dict
        ``images`` (bool): inputs ``(1797, 8, 8)`` with dims ``sample,y,x`` if true, else the
        flattened ``(1797, 64)`` with dims ``sample,feature``.
    seed : int
        Unused (the set is fixed); recorded in the file's provenance.

    Returns
    -------
    tuple
        ``(inputs, targets, params, observables, extra_attrs)``; ``extra_attrs`` holds
        ``feature_names`` (``pixel_<row>_<col>``), ``target_names``, ``dims``, ``units`` and
        ``source``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float32)
    images = bool(params.get("images", False))
    if images:
        x = x.reshape(-1, 8, 8)
    extra = {
        "feature_names": [f"pixel_{i // 8}_{i % 8}" for i in range(64)],
        "target_names": [str(t) for t in bunch.target_names],
        "dims": "sample,y,x" if images else "sample,feature",
        "units": "gray level (0-16)",
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)",
    }
    return x, np.asarray(bunch.target, dtype=np.int64), {}, {}, extra


def breast_cancer(params: dict[str, Any], seed: int) -> GeneratorOutput:
    """scikit-learn's breast-cancer set: 30 float32 features, label 0 malignant / 1 benign.

    Parameters
    ----------
    params : dict
        No parameters.
    seed : int
        Unused (the set is fixed); recorded in the file's provenance.

    Returns
    -------
    tuple
        ``(inputs, targets, params, observables, extra_attrs)``; ``extra_attrs`` holds the 30
        ``feature_names`` ("mean radius", ..., "worst fractal dimension") and ``target_names``
        (``["malignant", "benign"]``).
    """
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    extra = {
        "feature_names": [str(f) for f in bunch.feature_names],
        "target_names": [str(t) for t in bunch.target_names],
        "dims": "sample,feature",
        "units": "feature-specific (unscaled)",
        "source": "sklearn.datasets.load_breast_cancer (UCI Wisconsin diagnostic breast cancer)",
    }
    return (
        np.asarray(bunch.data, dtype=np.float32),
        np.asarray(bunch.target, dtype=np.int64),
        {},
        {},
        extra,
    )
