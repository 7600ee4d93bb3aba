"""Public test helpers: tolerances, tiny reference models, and axiom assertions.

Users who write their own attribution method or model can reuse these in their tests: the
dtype-keyed tolerance table, small seeded models (bias-free or not, ReLU MLP and CNN, with and
without global average pooling), and assertions for completeness and Z2 equivariance.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

__all__ = [
    "TOLERANCE",
    "tolerance",
    "tiny_mlp",
    "tiny_cnn",
    "assert_completeness",
    "assert_z2_equivariant",
]

#: relative/absolute tolerance by dtype, one table for the whole suite
TOLERANCE: dict[torch.dtype, float] = {torch.float32: 1e-5, torch.float64: 1e-10}


def tolerance(dtype: torch.dtype) -> float:
    """The suite's tolerance for ``dtype`` (float32: 1e-5, float64: 1e-10)."""
    return TOLERANCE[dtype]


def tiny_mlp(
    in_features: int = 6,
    hidden: tuple[int, ...] = (8, 8),
    out_features: int = 3,
    *,
    bias: bool = True,
    activation: type[nn.Module] = nn.ReLU,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> nn.Sequential:
    """A seeded ``Linear -> act -> ... -> Linear`` network in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = (in_features, *hidden)
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b, bias=bias), activation()]
    layers.append(nn.Linear(sizes[-1], out_features, bias=bias))
    model = nn.Sequential(*layers).to(dtype)
    _reinit(model, gen)
    return model.eval()


def tiny_cnn(
    in_channels: int = 1,
    size: int = 8,
    out_features: int = 3,
    *,
    channels: tuple[int, int] = (4, 6),
    bias: bool = True,
    pool: str = "gap",
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> nn.Sequential:
    """A seeded small CNN for ``(n, in_channels, size, size)`` inputs, in eval mode.

    ``pool="gap"`` ends in ReLU -> AdaptiveAvgPool2d(1) -> Flatten -> Linear (the CAM shape);
    ``pool="flatten"`` uses MaxPool2d(2) after the first block and a dense head.
    The last convolution is named ``features.conv2`` for ``layer=`` arguments.
    """
    gen = torch.Generator().manual_seed(seed)
    c1, c2 = channels
    features = nn.Sequential()
    features.add_module("conv1", nn.Conv2d(in_channels, c1, 3, padding=1, bias=bias))
    features.add_module("relu1", nn.ReLU())
    if pool == "flatten":
        features.add_module("pool1", nn.MaxPool2d(2))
    features.add_module("conv2", nn.Conv2d(c1, c2, 3, padding=1, bias=bias))
    features.add_module("relu2", nn.ReLU())
    if pool == "gap":
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c2, out_features, bias=bias))
    elif pool == "flatten":
        n_flat = c2 * (size // 2) ** 2
        head = nn.Sequential(nn.Flatten(), nn.Linear(n_flat, 16, bias=bias), nn.ReLU(), nn.Linear(16, out_features, bias=bias))
    else:
        raise ValueError(f"tiny_cnn: pool must be 'gap' or 'flatten'; got {pool!r}.")
    model = nn.Sequential()
    model.add_module("features", features)
    model.add_module("head", head)
    model = model.to(dtype)
    _reinit(model, gen)
    return model.eval()


def _reinit(model: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / fan_in**0.5)


def assert_completeness(
    model: Callable[[Tensor], Tensor],
    inputs: Tensor,
    attributions: Tensor,
    *,
    target: Any = None,
    baseline: Any = 0.0,
    rtol: float | None = None,
    atol: float | None = None,
) -> None:
    """Assert sum(R) = f(x) - f(baseline) per sample (IG, DeepLIFT, Shapley values)."""
    from .attribution import completeness_delta

    delta = completeness_delta(model, inputs, attributions, target=target, baseline=baseline)
    tol = tolerance(inputs.dtype)
    rtol = tol if rtol is None else rtol
    atol = tol if atol is None else atol
    from .attribution.diagnostics import _selected_output

    scale = _selected_output(model, inputs, target).abs()
    bad = delta.abs() > atol + rtol * scale
    if bool(bad.any()):
        raise AssertionError(
            f"completeness violated for {int(bad.sum())} of {len(delta)} samples; "
            f"max |sum R - (f(x) - f(baseline))| = {float(delta.abs().max()):.3e}"
        )


def assert_z2_equivariant(
    method: Callable[[Tensor], Tensor], spins: Tensor, *, sign: int = 1, atol: float | None = None
) -> None:
    """Assert ``method(-x) == sign * method(x)`` (sign=+1 for spin-flip-invariant models)."""
    a = method(spins)
    b = method(-spins)
    atol = tolerance(spins.dtype) if atol is None else atol
    torch.testing.assert_close(b, sign * a, atol=atol, rtol=atol)
