"""LRP composites: which rule each layer of a model gets.

A composite maps layers to rules, by the layer's qualified name (``"features.0"``, as
``model.named_modules()`` spells it) or by its type (``nn.Conv2d``); names take precedence over
types, and a type mapping is searched in insertion order with ``isinstance``. A composite may also
name a rule for the *first* linear layer (the first ``Linear``/``Conv`` in the order of
``model.named_modules()``, i.e. registration order, as in zennit): the input layer of deep Taylor
decomposition gets z^B or w^2, that of ``epsilon_plus_flat`` the flat rule.

Layers no mapping names fall back to built-in defaults: element-wise activations get
:class:`~physxai.attribution.lrp.Pass` and average pooling LRP-0 (``Epsilon(0)``). Max pooling,
flatten, dropout, identity and other parameter-free modules get no rule: relevance passes them
with their plain gradient (winner-take-all for max pooling). A layer with parameters and no rule
raises :class:`~physxai.errors.UnsupportedLayerError`.

The named composites follow Montavon et al. 2019 and zennit's layer assignment:

====================  ==========================  ===============  =====================
name                  first Linear/Conv layer     convolutions     dense (Linear) layers
====================  ==========================  ===============  =====================
epsilon               (as the others)             Epsilon          Epsilon
zplus                 (as the others)             ZPlus            ZPlus
epsilon_plus          (as the others)             ZPlus            Epsilon
epsilon_plus_flat     Flat                        ZPlus            Epsilon
epsilon_alpha2_beta1  (as the others)             AlphaBeta(2, 1)  Epsilon
epsilon_gamma_box     ZBox(low, high)             Gamma            Epsilon
deep_taylor           ZBox(low, high) or WSquare  ZPlus            ZPlus
====================  ==========================  ===============  =====================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from ._layer import AFFINE_TYPES, CONV_TYPES, POOL_TYPES
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Pass, Rule, WSquare, ZBox, ZPlus

__all__ = [
    "COMPOSITES",
    "Composite",
    "DeepTaylorComposite",
    "EpsilonAlpha2Beta1",
    "EpsilonComposite",
    "EpsilonGammaBox",
    "EpsilonPlus",
    "EpsilonPlusFlat",
    "ZPlusComposite",
    "resolve_composite",
]

LayerKey = str | type | tuple

#: element-wise activations: relevance passes through them unchanged (zennit's Activation types)
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = tuple(
    getattr(nn, name)
    for name in (
        "ReLU",
        "LeakyReLU",
        "Tanh",
        "Sigmoid",
        "ELU",
        "ReLU6",
        "RReLU",
        "SELU",
        "CELU",
        "GELU",
        "SiLU",
        "Mish",
        "Softplus",
        "Softsign",
        "Softshrink",
        "Hardshrink",
        "Hardsigmoid",
        "Hardtanh",
        "Hardswish",
        "LogSigmoid",
        "Tanhshrink",
        "Threshold",
        "PReLU",
    )
    if hasattr(nn, name)
)


def _check_key(key: Any, caller: str) -> None:
    if isinstance(key, str):
        return
    types = key if isinstance(key, tuple) else (key,)
    if not types or not all(isinstance(t, type) and issubclass(t, nn.Module) for t in types):
        raise TypeError(
            f"{caller}: a composite key must be a layer name (str), an nn.Module subclass or a "
            f"tuple of them; got {key!r}."
        )


class Composite:
    """A mapping from layers to LRP rules.

    Parameters
    ----------
    mapping : dict, optional
        ``{key: rule}`` with keys a qualified layer name (``"features.0"``), an ``nn.Module``
        subclass (``nn.Linear``) or a tuple of subclasses. Names take precedence over types;
        types are matched with ``isinstance`` in insertion order.
    first : Rule, optional
        Rule for the first ``Linear``/``Conv`` layer in ``model.named_modules()`` order (the input
        layer); it takes precedence over type mappings, not over names.

    Layers no entry matches get the defaults: activations :class:`Pass`, average pooling
    ``Epsilon(0)`` (LRP-0); parameter-free layers otherwise pass relevance with their gradient.

    Examples
    --------
    >>> from torch import nn
    >>> from physxai.attribution.lrp import Composite, Epsilon, ZBox, ZPlus
    >>> rules = {"features.0": ZBox(0.0, 16.0), nn.Conv2d: ZPlus(), nn.Linear: Epsilon()}
    >>> composite = Composite(rules)
    """

    #: registry name of a named composite ("" for a user composite)
    name: str = ""

    def __init__(
        self, mapping: Mapping[LayerKey, Rule] | None = None, *, first: Rule | None = None
    ):
        caller = type(self).__name__
        mapping = {} if mapping is None else mapping
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"{caller}: mapping must be a dict {{layer name or type: rule}}; got "
                f"{type(mapping).__name__}."
            )
        for key, rule in mapping.items():
            _check_key(key, caller)
            if not isinstance(rule, Rule):
                raise TypeError(
                    f"{caller}: the rule for {key!r} must be an LRP rule (Epsilon(), ZPlus(), "
                    f"Pass(), ...); got {type(rule).__name__}."
                )
        if first is not None and not isinstance(first, Rule):
            raise TypeError(
                f"{caller}: first must be an LRP rule or None; got {type(first).__name__}."
            )
        self.mapping: dict[LayerKey, Rule] = dict(mapping)
        self.first = first

    @property
    def names(self) -> dict[str, Rule]:
        """The entries keyed by qualified layer name."""
        return {k: v for k, v in self.mapping.items() if isinstance(k, str)}

    def rule_for(self, name: str, module: nn.Module, *, is_first: bool = False) -> Rule | None:
        """The rule of the layer ``name`` (``module``), or None if it has none.

        Order: the layer's name, then ``first`` (for the first linear layer), then the type
        mapping, then the defaults (activations: Pass; average pooling: Epsilon(0)).
        """
        rule = self.mapping.get(name)
        if rule is not None:
            return rule
        if is_first and self.first is not None:
            return self.first
        for key, rule in self.mapping.items():
            if not isinstance(key, str) and isinstance(module, key):
                return rule
        if isinstance(module, ACTIVATION_TYPES):
            return _PASS
        if isinstance(module, POOL_TYPES):
            return _LRP0
        return None

    def __repr__(self) -> str:
        parts = []
        for key, rule in self.mapping.items():
            if isinstance(key, tuple):
                label = "(" + ", ".join(t.__name__ for t in key) + ")"
            elif isinstance(key, type):
                label = key.__name__
            else:
                label = repr(key)
            parts.append(f"{label}: {rule!r}")
        first = f", first={self.first!r}" if self.first is not None else ""
        return f"{type(self).__name__}({{{', '.join(parts)}}}{first})"


_PASS = Pass()
_LRP0 = Epsilon(0.0)


def _named(
    own: dict[LayerKey, Rule], mapping: Mapping[LayerKey, Rule] | None
) -> dict[LayerKey, Rule]:
    merged: dict[LayerKey, Rule] = dict(mapping or {})
    for key, rule in own.items():
        merged.setdefault(key, rule)
    return merged


class EpsilonComposite(Composite):
    """``"epsilon"``: LRP-epsilon in every Linear and Conv layer (Bach et al. 2015).

    Parameters
    ----------
    epsilon : float, default 1e-6
    mapping : dict, optional
        Extra ``{name or type: rule}`` entries that take precedence over the composite's own.
    """

    name = "epsilon"

    def __init__(self, epsilon: float = 1e-6, *, mapping: Mapping[LayerKey, Rule] | None = None):
        super().__init__(_named({AFFINE_TYPES: Epsilon(epsilon)}, mapping))


class ZPlusComposite(Composite):
    """``"zplus"``: the z+ rule in every Linear and Conv layer (excitation-backprop-like)."""

    name = "zplus"

    def __init__(self, *, mapping: Mapping[LayerKey, Rule] | None = None):
        super().__init__(_named({AFFINE_TYPES: ZPlus()}, mapping))


class EpsilonPlus(Composite):
    """``"epsilon_plus"``: z+ in convolutions, epsilon in dense layers (zennit's EpsilonPlus).

    Parameters
    ----------
    epsilon : float, default 1e-6
    mapping : dict, optional
        Extra entries that take precedence (e.g. ``{nn.LayerNorm: Pass()}``).
    """

    name = "epsilon_plus"

    def __init__(self, epsilon: float = 1e-6, *, mapping: Mapping[LayerKey, Rule] | None = None):
        super().__init__(_named({CONV_TYPES: ZPlus(), nn.Linear: Epsilon(epsilon)}, mapping))


class EpsilonPlusFlat(Composite):
    """``"epsilon_plus_flat"``: :class:`EpsilonPlus` with the flat rule in the first layer."""

    name = "epsilon_plus_flat"

    def __init__(self, epsilon: float = 1e-6, *, mapping: Mapping[LayerKey, Rule] | None = None):
        super().__init__(
            _named({CONV_TYPES: ZPlus(), nn.Linear: Epsilon(epsilon)}, mapping), first=Flat()
        )


class EpsilonAlpha2Beta1(Composite):
    """``"epsilon_alpha2_beta1"``: alpha=2, beta=1 in convolutions, epsilon in dense layers."""

    name = "epsilon_alpha2_beta1"

    def __init__(self, epsilon: float = 1e-6, *, mapping: Mapping[LayerKey, Rule] | None = None):
        super().__init__(
            _named({CONV_TYPES: AlphaBeta(2.0, 1.0), nn.Linear: Epsilon(epsilon)}, mapping)
        )


class EpsilonGammaBox(Composite):
    """``"epsilon_gamma_box"``: z^B in the first linear layer, gamma in convolutions, epsilon in
    dense layers (Montavon et al. 2019; zennit's EpsilonGammaBox).

    Unlike zennit, whose box rule goes to the first *convolution* only, the first Linear layer of
    an MLP on bounded inputs gets the box rule too.

    Parameters
    ----------
    low, high : float or Tensor
        Bounds of the input (see :class:`ZBox`).
    epsilon : float, default 1e-6
    gamma : float, default 0.25
    mapping : dict, optional
        Extra entries that take precedence.
    """

    name = "epsilon_gamma_box"

    def __init__(
        self,
        low: Any,
        high: Any,
        *,
        epsilon: float = 1e-6,
        gamma: float = 0.25,
        mapping: Mapping[LayerKey, Rule] | None = None,
    ):
        super().__init__(
            _named({CONV_TYPES: Gamma(gamma), nn.Linear: Epsilon(epsilon)}, mapping),
            first=ZBox(low, high),
        )


class DeepTaylorComposite(Composite):
    """``"deep_taylor"``: deep Taylor decomposition (Montavon et al. 2017).

    z+ in every Linear and Conv layer except the first, which gets z^B for a bounded input
    (``low``, ``high`` given) or w^2 for an unbounded one.

    Parameters
    ----------
    low, high : float or Tensor, optional
        Bounds of the input; both or neither.
    mapping : dict, optional
        Extra entries that take precedence.
    """

    name = "deep_taylor"

    def __init__(
        self, low: Any = None, high: Any = None, *, mapping: Mapping[LayerKey, Rule] | None = None
    ):
        if (low is None) != (high is None):
            raise ValueError(
                "DeepTaylor: low and high must be given together (a bounded input, z^B rule) or "
                f"both left None (w^2 rule); got low={'None' if low is None else 'a value'}, "
                f"high={'None' if high is None else 'a value'}."
            )
        first: Rule = WSquare() if low is None else ZBox(low, high)
        super().__init__(_named({AFFINE_TYPES: ZPlus()}, mapping), first=first)


#: registry name -> composite class (those needing bounds cannot be built from the name alone)
COMPOSITES: dict[str, type[Composite]] = {
    cls.name: cls
    for cls in (
        EpsilonComposite,
        ZPlusComposite,
        EpsilonPlus,
        EpsilonPlusFlat,
        EpsilonAlpha2Beta1,
        EpsilonGammaBox,
        DeepTaylorComposite,
    )
}


def resolve_composite(composite: Any, caller: str) -> Composite:
    """A Composite from a registry name, a Composite, or a dict (rules over ``epsilon_plus``)."""
    if isinstance(composite, Composite):
        return composite
    if isinstance(composite, str):
        if composite not in COMPOSITES:
            raise ValueError(
                f"{caller}: composite must be one of {', '.join(map(repr, COMPOSITES))}, a "
                f"Composite or a dict {{layer name or type: rule}}; got {composite!r}."
            )
        if composite == "epsilon_gamma_box":
            raise ValueError(
                f"{caller}: composite 'epsilon_gamma_box' needs the input bounds; pass "
                "composite=EpsilonGammaBox(low=..., high=...) instead of the name."
            )
        return COMPOSITES[composite]()
    if isinstance(composite, Mapping):
        return EpsilonPlus(mapping=composite)
    raise TypeError(
        f"{caller}: composite must be a name ({', '.join(map(repr, COMPOSITES))}), a Composite "
        f"or a dict {{layer name or type: rule}}; got {type(composite).__name__}."
    )
