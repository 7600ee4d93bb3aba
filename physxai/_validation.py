"""Checks at the public boundary: tensors, targets, baselines, devices, options.

Every public function that takes user input validates it here once, with messages of the form
``Caller: name must be <expected>; got <actual>. <hint>``. Tensor values are never interpolated
into messages; shapes, dtypes and devices are. Private helpers assume their inputs are valid.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "TargetFn",
    "check_inputs",
    "check_finite",
    "check_target",
    "check_baseline",
    "check_binary_labels",
    "check_model",
    "check_same_device",
    "check_positive_int",
    "check_positive_float",
    "check_choice",
    "check_generator",
    "warn_if_training",
    "model_device",
    "progress_bar",
]


class TargetCallable(Protocol):
    """A user read-out: maps a model output of shape ``(m, ...)`` to the explained ``(m,)``."""

    def __call__(self, output: Tensor) -> Tensor: ...


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + (",)" if t.dim() == 1 else ")")


def check_inputs(inputs: Any, caller: str, name: str = "inputs", min_dim: int = 1) -> Tensor:
    """Check that ``inputs`` is a finite floating-point tensor with a non-empty batch dimension."""
    if not isinstance(inputs, Tensor):
        raise TypeError(
            f"{caller}: {name} must be a torch.Tensor with the batch first; "
            f"got {type(inputs).__name__}. Try torch.as_tensor({name}, dtype=torch.float32)."
        )
    if not inputs.is_floating_point():
        raise ValueError(
            f"{caller}: {name} must be a floating-point tensor; got dtype {inputs.dtype}. "
            f"Spins stored as int8 need {name}.float() (or .double()) first."
        )
    if inputs.dim() < min_dim or inputs.shape[0] == 0:
        raise ValueError(
            f"{caller}: {name} must have a non-empty batch dimension first "
            f"(at least {min_dim} dims); got shape {_shape(inputs)}. "
            f"For a single sample try {name}[None]."
        )
    check_finite(inputs, caller, name)
    return inputs


def check_finite(t: Tensor, caller: str, name: str) -> None:
    """Raise if ``t`` holds NaN or infinity (counts only, never values)."""
    if t.is_floating_point() or t.is_complex():
        bad = ~torch.isfinite(t)
        if bool(bad.any()):
            n_nan = int(torch.isnan(t).sum())
            n_inf = int(bad.sum()) - n_nan
            raise ValueError(
                f"{caller}: {name} must be finite; got {n_nan} NaN and {n_inf} infinite "
                f"entries in a tensor of shape {_shape(t)}."
            )


class TargetFn:
    """A normalised target: ``select(output, sample_index) -> (m,)``.

    ``sample_index`` (``(m,)`` long) says which original sample each row of an expanded batch
    belongs to, so a per-sample target works on IG steps, SmoothGrad samples and coalitions.
    """

    def __init__(self, target: Any, n_samples: int, caller: str):
        self.target = target
        self.n_samples = n_samples
        self.caller = caller

    def __call__(self, output: Tensor, sample_index: Tensor) -> Tensor:
        caller, target = self.caller, self.target
        if not isinstance(output, Tensor):
            raise TypeError(
                f"{caller}: the model must return one tensor; got {type(output).__name__}. "
                "Wrap a model with several outputs in a Module that returns the one to explain."
            )
        m = output.shape[0] if output.dim() > 0 else 0
        if target is None:
            if output.dim() == 1:
                return output
            if output.dim() == 2 and output.shape[1] == 1:
                return output[:, 0]
            raise ValueError(
                f"{caller}: target is missing; the model output has shape {_shape(output)}, so "
                "say which output to explain: target=int (a column), a LongTensor (n,) of "
                "columns, or a callable output -> (n,)."
            )
        if callable(target):
            out = target(output)
            if not isinstance(out, Tensor) or out.shape != (m,):
                got = _shape(out) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(
                    f"{caller}: a callable target must map the model output of shape "
                    f"{_shape(output)} to shape ({m},); got {got}."
                )
            return out
        if output.dim() != 2:
            raise ValueError(
                f"{caller}: an int or LongTensor target selects a column of a 2-d output "
                f"(n, n_outputs); the model output has shape {_shape(output)}. "
                "Use a callable target for other outputs."
            )
        n_out = output.shape[1]
        if isinstance(target, int):
            if not -n_out <= target < n_out:
                raise ValueError(
                    f"{caller}: target must be a column in [0, {n_out}); got {target}."
                )
            return output[:, target]
        index = target.to(output.device)
        if int(index.max()) >= n_out or int(index.min()) < -n_out:
            raise ValueError(
                f"{caller}: target holds columns outside [0, {n_out}) for a model output "
                f"of shape {_shape(output)}."
            )
        cols = index[sample_index.to(output.device)]
        return output.gather(1, cols[:, None])[:, 0]


def check_target(target: Any, n_samples: int, caller: str) -> TargetFn:
    """Normalise the four target forms (None, int, LongTensor (n,), callable) into a TargetFn."""
    if target is None or callable(target):
        return TargetFn(target, n_samples, caller)
    if isinstance(target, bool):
        raise TypeError(f"{caller}: target must be None, an int, a LongTensor or a callable; got bool.")
    if isinstance(target, int):
        return TargetFn(int(target), n_samples, caller)
    if isinstance(target, Tensor):
        if target.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise ValueError(
                f"{caller}: a tensor target must hold integer columns (LongTensor); "
                f"got dtype {target.dtype}."
            )
        if target.dim() == 0:
            return TargetFn(int(target), n_samples, caller)
        if target.shape != (n_samples,):
            raise ValueError(
                f"{caller}: a tensor target must have one column per sample, shape "
                f"({n_samples},); got shape {_shape(target)}."
            )
        return TargetFn(target.long(), n_samples, caller)
    raise TypeError(
        f"{caller}: target must be None, an int, a LongTensor of shape ({n_samples},) or a "
        f"callable output -> (n,); got {type(target).__name__}."
    )


def check_baseline(
    baseline: Any, inputs: Tensor, caller: str, name: str = "baseline", default: float | None = 0.0
) -> Tensor:
    """Return ``baseline`` as a tensor that broadcasts against ``inputs`` as ``(1, *F)`` or ``(n, *F)``.

    A float becomes a constant tensor; ``None`` means ``default`` (a float) when one is given.
    The returned tensor has the dtype and device of ``inputs`` and is expanded to its shape.
    """
    if baseline is None:
        if default is None:
            raise ValueError(f"{caller}: {name} is required for this method; got None.")
        baseline = default
    if isinstance(baseline, bool) or not isinstance(baseline, (int, float, Tensor)):
        raise TypeError(
            f"{caller}: {name} must be a float or a tensor; got {type(baseline).__name__}."
        )
    if not isinstance(baseline, Tensor):
        if not math.isfinite(float(baseline)):
            raise ValueError(f"{caller}: {name} must be finite; got {baseline}.")
        return torch.full_like(inputs, float(baseline))
    if baseline.device != inputs.device:
        raise ValueError(
            f"{caller}: {name} must be on the device of inputs ({inputs.device}); "
            f"got {baseline.device}. Move it with {name}.to(inputs.device)."
        )
    if baseline.dtype != inputs.dtype:
        raise ValueError(
            f"{caller}: {name} must have the dtype of inputs ({inputs.dtype}); "
            f"got {baseline.dtype}. Try {name}.to(inputs.dtype)."
        )
    feat = tuple(inputs.shape[1:])
    ok = baseline.dim() == inputs.dim() and tuple(baseline.shape[1:]) == feat and baseline.shape[0] in (
        1,
        inputs.shape[0],
    )
    if not ok:
        hint = ""
        if tuple(baseline.shape) == feat:
            hint = f" Try {name}[None]."
        raise ValueError(
            f"{caller}: {name} must broadcast to inputs of shape {_shape(inputs)} as "
            f"(1, {', '.join(map(str, feat))}) or ({inputs.shape[0]}, {', '.join(map(str, feat))}); "
            f"got shape {_shape(baseline)}.{hint}"
        )
    check_finite(baseline, caller, name)
    return baseline.expand_as(inputs)


def check_model(model: Any, caller: str) -> Callable[[Tensor], Tensor]:
    """A model is an ``nn.Module`` or any callable tensor -> tensor."""
    if not callable(model):
        raise TypeError(
            f"{caller}: model must be a torch.nn.Module or a callable; got {type(model).__name__}."
        )
    return model


def model_device(model: Any) -> torch.device | None:
    """The device of the model's first parameter or buffer, or None for a parameter-free callable."""
    if isinstance(model, nn.Module):
        for t in model.parameters():
            return t.device
        for t in model.buffers():
            return t.device
    return None


def check_same_device(model: Any, inputs: Tensor, caller: str) -> None:
    """Raise if the model's parameters live on another device than ``inputs``."""
    dev = model_device(model)
    if dev is not None and dev != inputs.device:
        raise ValueError(
            f"{caller}: model and inputs must be on one device; the model is on {dev} and "
            f"inputs on {inputs.device}. Move one of them (physxai never moves your objects)."
        )


def warn_if_training(model: Any, caller: str) -> None:
    """Warn (never toggle) when a module is in training mode: dropout and batch-norm make
    attributions depend on the batch and on chance."""
    if isinstance(model, nn.Module) and model.training:
        warnings.warn(
            f"{caller}: the model is in training mode, so dropout and batch statistics change "
            "the attribution; call model.eval() first (physxai does not toggle it for you).",
            UserWarning,
            stacklevel=4,
        )


def check_positive_int(value: Any, caller: str, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{caller}: {name} must be an int >= {minimum}; got {value!r}.")
    return value


def check_positive_float(value: Any, caller: str, name: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{caller}: {name} must be a finite number {bound}; got {value!r}.")
    return float(value)


def check_choice(value: Any, choices: Sequence[str], caller: str, name: str) -> str:
    if value not in choices:
        raise ValueError(
            f"{caller}: {name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )
    return value


def check_generator(generator: Any, inputs: Tensor, caller: str) -> torch.Generator | None:
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{caller}: generator must be a torch.Generator or None; got {type(generator).__name__}."
        )
    if generator.device.type != inputs.device.type:
        raise ValueError(
            f"{caller}: generator must be on the device of inputs ({inputs.device}); got "
            f"{generator.device}. Create it with torch.Generator(device=inputs.device)."
        )
    return generator


def check_binary_labels(y: Any, n: int, caller: str) -> Tensor:
    """Class labels 0/1 for n samples, both classes present, as a long tensor (numpy accepted)."""
    if isinstance(y, np.ndarray):
        if y.dtype.kind not in "iu":
            raise ValueError(
                f"{caller}: y must hold integer class labels 0/1; got numpy dtype {y.dtype}."
            )
        y = torch.as_tensor(y)
    if not isinstance(y, Tensor):
        raise TypeError(
            f"{caller}: y must be a torch.Tensor or numpy array; got {type(y).__name__}."
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(
            f"{caller}: y must hold integer class labels 0/1; got dtype {y.dtype}. Try y.long()."
        )
    if y.shape != (n,):
        raise ValueError(
            f"{caller}: y must have shape ({n},), one label per configuration; got shape "
            f"{_shape(y)}."
        )
    if bool(((y != 0) & (y != 1)).any()):
        raise ValueError(f"{caller}: y must hold the class labels 0 and 1 only; got others.")
    if int(y.sum()) in (0, n):
        raise ValueError(
            f"{caller}: y must contain both classes 0 and 1; got only class {int(y[0])}."
        )
    return y.long()


def progress_bar(
    total: int, *, enabled: bool | None, desc: str, unit: str = "it", initial: int = 0
) -> Any:
    """A tqdm bar on stderr for long work, or ``None`` when it should stay quiet.

    The one policy of the package (ARCHITECTURE.md, "Experiments"): ``enabled=None`` shows the
    bar only on a terminal and never under CI (``$CI`` set), so pipes and logs stay clean;
    ``True``/``False`` force it. Callers update the bar when it is not ``None`` and close it.
    """
    if enabled is None:
        enabled = sys.stderr.isatty() and not os.environ.get("CI")
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, leave=False
    )
