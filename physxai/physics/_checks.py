"""Argument checks shared by the physics samplers (seeds, counts, fractions)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["_check_int", "_check_fraction", "_rng"]


def _check_int(value: Any, caller: str, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def _check_fraction(value: Any, caller: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{caller}: negative_fraction must be a number in [0, 1]; got {value!r}.")
    return float(value)


def _rng(seed: Any, caller: str) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(
            f"{caller}: seed must be an int >= 0 or a numpy.random.Generator; "
            f"got {type(seed).__name__}."
        )
    return np.random.default_rng(int(seed))
