"""Sanity checks for saliency maps: randomise the model (or the labels) and see if the map cares.

Adebayo et al. (2018) observe that a map that does not change when the model's weights are
replaced by random ones cannot explain what the model learned. Three tests:

- **cascading randomisation**: re-initialise the layers from the top (logits) down, one more
  layer per step, and compare each step's map with the original;
- **independent randomisation**: re-initialise one layer at a time, the others trained;
- **data randomisation**: shuffle the training labels, train a fresh model to memorise them, and
  compare its maps with those of the model trained on the true labels.

The layer order: "layers" are the modules that own parameters directly (plus batch-norm layers),
and *top down* is the reverse of their order of registration in the model (``named_modules``),
which for ``nn.Sequential`` stacks and for :class:`physxai.models.MLP`/``CNN`` is the reverse
data flow; pass ``layers=[...]`` (module names, top first) where registration order differs from
the data flow. A layer is re-initialised with its own ``reset_parameters()`` (the original
initialiser, as in the paper) under ``torch.manual_seed`` in a forked RNG; batch-norm layers reset
their running statistics too. Each layer's seed depends only on ``seed`` and its name, so a layer
gets the same random weights in the cascading and the independent test. All of it happens on a
``copy.deepcopy`` of the model: the caller's parameters, buffers, mode and hooks are untouched.

Similarities are computed per sample with the functions of :mod:`physxai.evaluation` (Spearman
signed and absolute, SSIM signed and absolute, Pearson; see ``SIMILARITIES``).

References
----------
J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim, Sanity checks for saliency
maps, NeurIPS 2018, arXiv:1810.03292.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .._validation import check_inputs, check_same_device, check_target
from ..models import fit
from ._common import accuracy, check_dict, make_explainer, warn_training
from ._similarity import SIMILARITIES

__all__ = [
    "DataRandomizationResult",
    "RandomizationResult",
    "cascading_randomization",
    "data_randomization",
    "independent_randomization",
    "randomization_layers",
    "randomize_layers",
]

DEFAULT_SIMILARITIES = ("spearman", "spearman_abs", "ssim", "ssim_abs")


@dataclass(frozen=True)
class RandomizationResult:
    """Maps of a model whose layers were randomised step by step, and their similarity to the original.

    Attributes
    ----------
    mode : str
        ``"cascading"`` or ``"independent"``.
    layers : list of str
        Step ``k`` (1-based) randomised ``layers[:k]`` (cascading) or ``layers[k - 1]`` only
        (independent).
    attributions : Tensor, shape ``(n_layers + 1, n, *F)``
        Index 0: the original model's maps; index k: after step k.
    similarity : dict of str to Tensor ``(n_layers, n)``
        Per step and sample, the similarity of the step's map with the original.
    """

    mode: str
    layers: list[str]
    attributions: Tensor
    similarity: dict[str, Tensor]

    def median(self, name: str) -> Tensor:
        """Median over samples of one similarity per step, NaN-ignoring, ``(n_layers,)``."""
        return torch.nanmedian(self.similarity[name], dim=1).values


@dataclass(frozen=True)
class DataRandomizationResult:
    """Maps of the model trained on true labels and of one trained on shuffled labels.

    Attributes
    ----------
    attributions : Tensor, shape ``(2, n, *F)``
        Index 0: the given model; index 1: the model trained on shuffled labels.
    similarity : dict of str to Tensor ``(n,)``
    train_accuracy : float
        Accuracy of the shuffled-label model on its own (shuffled) training set: near 1 once it
        has memorised them, as the test requires.
    model : nn.Module
        The model trained on shuffled labels (eval mode).
    """

    attributions: Tensor
    similarity: dict[str, Tensor]
    train_accuracy: float
    model: nn.Module


def randomization_layers(model: nn.Module) -> list[str]:
    """Names of the randomisable layers, top layer first.

    The modules that own parameters directly, and batch-norm layers, in reverse order of
    registration (``model.named_modules()``).

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.

    Examples
    --------
    >>> from torch import nn
    >>> randomization_layers(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)))
    ['2', '0']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"randomization_layers: model must be an nn.Module; got {type(model).__name__}.")
    names = [
        name
        for name, module in model.named_modules()
        if name and (any(True for _ in module.parameters(recurse=False)) or isinstance(module, nn.modules.batchnorm._NormBase))
    ]
    return names[::-1]


def _layer_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**62)


def _check_layers(model: nn.Module, layers: Any, caller: str) -> list[str]:
    if layers is None:
        names = randomization_layers(model)
        if not names:
            raise ValueError(f"{caller}: the model has no layers with parameters to randomise.")
        return names
    if isinstance(layers, str) or not isinstance(layers, Sequence) or not all(isinstance(n, str) for n in layers):
        raise TypeError(f"{caller}: layers must be a list of module names (str), top layer first; got {layers!r}.")
    if len(layers) == 0 or len(set(layers)) != len(layers):
        raise ValueError(f"{caller}: layers must be a non-empty list of distinct module names; got {list(layers)!r}.")
    modules = dict(model.named_modules())
    for name in layers:
        if name not in modules or not name:
            known = randomization_layers(model)
            raise ValueError(
                f"{caller}: layers holds {name!r}, which is not a submodule of the model; the "
                f"randomisable layers are {', '.join(map(repr, known[:20]))}"
                f"{' ...' if len(known) > 20 else ''}."
            )
    return list(layers)


def _reinitialise(
    module: nn.Module, name: str, seed: int, initializer: Callable[[nn.Module], None] | None, caller: str
) -> None:
    devices = sorted({t.device.index or 0 for t in module.parameters(recurse=True) if t.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(_layer_seed(seed, name))
        if initializer is not None:
            initializer(module)
        elif hasattr(module, "reset_parameters") and callable(module.reset_parameters):
            module.reset_parameters()  # BatchNorm: also resets running_mean/var/num_batches_tracked
        else:
            raise TypeError(
                f"{caller}: layer {name!r} ({type(module).__name__}) has no reset_parameters(); pass "
                "initializer=callable(module) that re-initialises it in place, or leave it out with "
                "layers=[...]."
            )


def randomize_layers(
    model: nn.Module,
    layers: Sequence[str],
    *,
    seed: int = 0,
    initializer: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """A deep copy of ``model`` with the named layers re-initialised.

    Parameters
    ----------
    model : nn.Module
        Never changed.
    layers : sequence of str
        Module names (``model.named_modules()``).
    seed : int, default 0
        With the layer's name, seeds its re-initialisation.
    initializer : callable (module) -> None, optional
        Re-initialises a module in place instead of its ``reset_parameters()``; it runs under the
        layer's seed, so draws from the global RNG inside it are reproducible.

    Returns
    -------
    nn.Module
        The copy, in the mode of ``model``.

    Raises
    ------
    TypeError
        For a non-module, a ``layers`` that is not a list of str, or a layer without
        ``reset_parameters`` (and no ``initializer``).
    ValueError
        For unknown, duplicate or no layer names.
    """
    caller = "randomize_layers"
    if not isinstance(model, nn.Module):
        raise TypeError(f"{caller}: model must be an nn.Module; got {type(model).__name__}.")
    names = _check_layers(model, layers, caller)
    _check_seed(seed, caller)
    _check_initializer(initializer, caller)
    clone = copy.deepcopy(model)
    modules = dict(clone.named_modules())
    for name in names:
        _reinitialise(modules[name], name, seed, initializer, caller)
    return clone


def _check_seed(seed: Any, caller: str) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{caller}: seed must be an int >= 0; got {seed!r}.")


def _check_initializer(initializer: Any, caller: str) -> None:
    if initializer is not None and not callable(initializer):
        raise TypeError(f"{caller}: initializer must be a callable (module) -> None; got {type(initializer).__name__}.")


def _check_similarities(similarities: Any, caller: str) -> tuple[str, ...]:
    if isinstance(similarities, str) or not isinstance(similarities, Sequence) or len(similarities) == 0:
        raise ValueError(
            f"{caller}: similarities must be a non-empty list of names from {', '.join(SIMILARITIES)}; "
            f"got {similarities!r}."
        )
    for name in similarities:
        if name not in SIMILARITIES:
            raise ValueError(f"{caller}: similarities must be names from {', '.join(SIMILARITIES)}; got {name!r}.")
    return tuple(similarities)


def _similarities(names: Sequence[str], original: Tensor, other: Tensor) -> dict[str, Tensor]:
    return {name: SIMILARITIES[name](original, other) for name in names}


def _randomization(
    mode: str,
    model: nn.Module,
    inputs: Tensor,
    method: Any,
    target: Any,
    method_options: Any,
    layers: Any,
    seed: int,
    initializer: Any,
    similarities: Any,
) -> RandomizationResult:
    caller = f"{mode}_randomization"
    if not isinstance(model, nn.Module):
        raise TypeError(f"{caller}: model must be an nn.Module (it is deep-copied); got {type(model).__name__}.")
    x = check_inputs(inputs, caller).detach()
    check_same_device(model, x, caller)
    check_target(target, x.shape[0], caller)
    explain = make_explainer(method, method_options, caller)
    names = _check_layers(model, layers, caller)
    _check_seed(seed, caller)
    _check_initializer(initializer, caller)
    sims = _check_similarities(similarities, caller)
    warn_training(model, caller)

    original = explain(model, x, target).detach()
    maps = [original]
    scores: dict[str, list[Tensor]] = {name: [] for name in sims}
    cascade = copy.deepcopy(model) if mode == "cascading" else None
    for name in names:
        if cascade is not None:  # one more layer of the same copy, top down
            _reinitialise(dict(cascade.named_modules())[name], name, seed, initializer, caller)
            randomised = cascade
        else:  # a fresh copy with this one layer randomised
            randomised = copy.deepcopy(model)
            _reinitialise(dict(randomised.named_modules())[name], name, seed, initializer, caller)
        current = explain(randomised, x, target).detach()
        maps.append(current)
        for key, value in _similarities(sims, original, current).items():
            scores[key].append(value)
    return RandomizationResult(
        mode=mode,
        layers=names,
        attributions=torch.stack(maps),
        similarity={k: torch.stack(v) for k, v in scores.items()},
    )


def cascading_randomization(
    model: nn.Module,
    inputs: Tensor,
    method: Any,
    *,
    target: Any = None,
    method_options: dict[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    initializer: Callable[[nn.Module], None] | None = None,
    similarities: Sequence[str] = DEFAULT_SIMILARITIES,
) -> RandomizationResult:
    """Cascading model-parameter randomisation (Adebayo et al. 2018, Sec. 3.1).

    Step k re-initialises layers ``1 .. k`` counted from the top, on one deep copy of the model,
    and compares the map with the original model's.

    Parameters
    ----------
    model : nn.Module
        The trained model; never changed (the test works on ``copy.deepcopy(model)``).
    inputs : Tensor, shape ``(n, *F)``
        Samples to explain.
    method : str or callable
        A name of :data:`physxai.attribution.METHODS`, or ``explain(model, inputs, target=...)``
        returning a tensor shaped like ``inputs``.
    target : None, int, LongTensor ``(n,)`` or callable
        The explained output, the same for every step (pass the original model's predicted
        classes as a LongTensor to follow the paper).
    method_options : dict, optional
        Options of a named method (``baseline``, ``n_steps``, ``composite``, ...).
    layers : sequence of str, optional
        Layers to randomise, top first. Default: :func:`randomization_layers`.
    seed : int, default 0
        Seeds each layer's re-initialisation (with its name).
    initializer : callable (module) -> None, optional
        Used instead of each layer's ``reset_parameters()``.
    similarities : sequence of str, default ("spearman", "spearman_abs", "ssim", "ssim_abs")
        Names from ``SIMILARITIES``.

    Returns
    -------
    RandomizationResult

    Raises
    ------
    TypeError
        For a model that is not an ``nn.Module``, a bad method, layers or initializer kind, or a
        layer without ``reset_parameters``.
    ValueError
        For bad inputs, an unknown method, layer or similarity name, a negative seed.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    >>> result = cascading_randomization(model, torch.randn(5, 4), "saliency", target=0)
    >>> result.layers, result.attributions.shape, result.similarity["spearman"].shape
    (['2', '0'], torch.Size([3, 5, 4]), torch.Size([2, 5]))
    """
    return _randomization(
        "cascading", model, inputs, method, target, method_options, layers, seed, initializer, similarities
    )


def independent_randomization(
    model: nn.Module,
    inputs: Tensor,
    method: Any,
    *,
    target: Any = None,
    method_options: dict[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    seed: int = 0,
    initializer: Callable[[nn.Module], None] | None = None,
    similarities: Sequence[str] = DEFAULT_SIMILARITIES,
) -> RandomizationResult:
    """Independent randomisation: one layer at a time, the others as trained (Adebayo et al. 2018).

    Parameters and result as :func:`cascading_randomization`; step k randomises ``layers[k - 1]``
    only, on a fresh deep copy.

    Raises
    ------
    TypeError, ValueError
        As :func:`cascading_randomization`.
    """
    return _randomization(
        "independent", model, inputs, method, target, method_options, layers, seed, initializer, similarities
    )


def data_randomization(
    model: nn.Module,
    train_inputs: Tensor,
    train_targets: Tensor,
    inputs: Tensor,
    method: Any,
    *,
    model_factory: Callable[[], nn.Module],
    fit_options: dict[str, Any] | None = None,
    target: Any = None,
    method_options: dict[str, Any] | None = None,
    seed: int = 0,
    similarities: Sequence[str] = DEFAULT_SIMILARITIES,
) -> DataRandomizationResult:
    """The data-randomisation test: retrain on shuffled labels and compare the maps.

    Parameters
    ----------
    model : nn.Module or callable
        The model trained on the true labels (only evaluated).
    train_inputs : Tensor, shape ``(n_train, *F)``
    train_targets : Tensor, shape ``(n_train, ...)``
        True labels; they are permuted with a generator seeded by ``seed``.
    inputs : Tensor, shape ``(n, *F)``
        Samples whose maps are compared.
    method : str or callable
        As in :func:`cascading_randomization`.
    model_factory : callable () -> nn.Module
        A fresh model, built under ``torch.manual_seed(seed)`` in a forked RNG.
    fit_options : dict, optional
        Options of :func:`physxai.models.fit`; train long enough to memorise the shuffled
        labels (``train_accuracy`` near 1). ``seed`` comes from ``seed``.
    target : None, int, LongTensor ``(n,)`` or callable
        The explained output of both models.
    method_options : dict, optional
    seed : int, default 0
    similarities : sequence of str

    Returns
    -------
    DataRandomizationResult

    Raises
    ------
    TypeError
        For bad kinds of arguments, a factory that returns no ``nn.Module``.
    ValueError
        For bad inputs, mismatched lengths, ``fit_options`` holding ``seed``.
    """
    caller = "data_randomization"
    x = check_inputs(inputs, caller).detach()
    xtr = check_inputs(train_inputs, caller, "train_inputs").detach()
    if not isinstance(train_targets, Tensor) or train_targets.shape[:1] != xtr.shape[:1]:
        got = tuple(train_targets.shape) if isinstance(train_targets, Tensor) else type(train_targets).__name__
        raise ValueError(f"{caller}: train_targets must be a tensor with one entry per training sample ({xtr.shape[0]}); got {got}.")
    if not callable(model_factory):
        raise TypeError(f"{caller}: model_factory must be a callable () -> nn.Module; got {type(model_factory).__name__}.")
    check_same_device(model, x, caller)
    check_target(target, x.shape[0], caller)
    explain = make_explainer(method, method_options, caller)
    _check_seed(seed, caller)
    sims = _check_similarities(similarities, caller)
    options = check_dict(fit_options, caller, "fit_options")
    if "seed" in options:
        raise ValueError(f"{caller}: fit_options must not hold 'seed'; it is set from seed=.")
    options.setdefault("progress", False)
    warn_training(model, caller)

    gen = torch.Generator(device=train_targets.device).manual_seed(seed)
    permutation = torch.randperm(xtr.shape[0], generator=gen, device=train_targets.device)
    shuffled = train_targets[permutation]
    cuda = [xtr.device.index or 0] if xtr.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        randomised = model_factory()
    if not isinstance(randomised, nn.Module):
        raise TypeError(f"{caller}: model_factory must return an nn.Module; got {type(randomised).__name__}.")
    fit(randomised, (xtr, shuffled), seed=seed, **options)
    with torch.no_grad():
        train_accuracy = accuracy(randomised(xtr), shuffled)
    original = explain(model, x, target).detach()
    other = explain(randomised, x, target).detach()
    return DataRandomizationResult(
        attributions=torch.stack([original, other]),
        similarity=_similarities(sims, original, other),
        train_accuracy=train_accuracy,
        model=randomised,
    )
