"""Data sets: one HDF5 schema, atomic I/O, dataset cards, torch views, tabular sets.

Every data set is one HDF5 file (:mod:`physxai.data.schema`): ``/inputs``, ``/targets``,
``/params/<name>``, ``/observables/<name>``, ``/attributions/<method>`` and provenance
attributes. :func:`write` writes one atomically and :func:`read` checks the schema, raising
:class:`~physxai.errors.InvalidDataError` that names the file and the bad path. A dataset card
``datasets/<name>.toml`` (:mod:`physxai.data.cards`) says how a named set is made;
:func:`load` builds it into the cache on first use. :class:`TensorView` serves ``(input,
target)`` pairs to a ``DataLoader``.

Examples
--------
>>> from physxai.data import load                       # doctest: +SKIP
>>> d = load("wetzel2017_quick")                        # doctest: +SKIP
>>> d.inputs.shape, d.params["temperature"][:2]         # doctest: +SKIP
((4000, 16, 16), array([0.05, 0.05]))
"""

from ._generators import GENERATORS, Generator, expand_grid, register_generator
from ._io import describe, read, write, write_attribution
from .cards import (
    CARDS_ENV,
    DATA_ENV,
    Card,
    build,
    cache_path,
    find_cards,
    get_card,
    is_cached,
    load,
    read_card,
)
from .schema import Dataset, validate
from .views import TensorView

__all__ = [
    "CARDS_ENV",
    "DATA_ENV",
    "GENERATORS",
    "Card",
    "Dataset",
    "Generator",
    "TensorView",
    "build",
    "cache_path",
    "describe",
    "expand_grid",
    "find_cards",
    "get_card",
    "is_cached",
    "load",
    "read",
    "read_card",
    "register_generator",
    "validate",
    "write",
    "write_attribution",
]
