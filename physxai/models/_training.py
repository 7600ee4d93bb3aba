"""The one training loop: ``fit(model, data, ...) -> History``.

Every model in physxai (reference classifiers, autoencoders, probes with a torch body) is trained
by this loop, so seeding, devices, L2 penalties, early stopping and divergence checks behave the
same everywhere. It minimises

    J(theta) = (1/|B|) sum_{i in B} loss(f(x_i; theta), y_i) + l2 * sum_p ||p||^2

over mini-batches B, where the sum runs over every trainable parameter tensor p (weights and
biases). The explicit ``l2`` term is what influence-function and Hessian analyses differentiate
(Dawid et al. 2022 use cross-entropy + lambda ||theta||^2 with lambda = 0.05); ``weight_decay``
is the optimiser's own decay, which the loss never sees (for plain SGD it equals l2 = wd / 2).

Reproducibility: shuffling uses its own ``torch.Generator`` seeded with ``seed``, and dropout
draws from the global generator re-seeded with ``seed`` inside ``torch.random.fork_rng``, so the
caller's global RNG state is restored afterwards. The initial parameters are the caller's: build
the model under a fixed seed to reproduce a run end to end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from .._validation import (
    check_choice,
    check_positive_float,
    check_positive_int,
    model_device,
    progress_bar,
)

__all__ = ["History", "fit"]

LossSpec = str | Callable[[Tensor, Tensor], Tensor]
MetricSpec = str | Callable[[Tensor, Tensor], Any] | None
DataSpec = tuple[Tensor, Tensor] | Dataset

LOSSES = ("cross_entropy", "bce", "mse")
METRICS = ("auto", "accuracy", "mse")
OPTIMIZERS = ("adam", "adamw", "sgd")
_CALLER = "fit"


@dataclass
class History:
    """What :func:`fit` did, one entry per epoch run.

    Attributes
    ----------
    train_loss : list of float
        Mean data loss over each epoch's training batches (weighted by batch size, measured in
        training mode as the batches were fitted; the ``l2`` penalty is not included, so it is
        comparable with ``val_loss``).
    val_loss : list of float
        Mean data loss on the validation data after each epoch, in eval mode; empty without
        validation data.
    val_metric : list of float
        The metric on the validation data after each epoch; empty without validation data or
        metric.
    metric : str or None
        Name of the metric (``"accuracy"``, ``"mse"``, the callable's ``__name__``) or None.
    epochs : int
        Number of epochs run (fewer than asked when early stopping triggered).
    best_epoch : int or None
        Index (0-based, into the lists above) of the epoch with the lowest validation loss; None
        without validation data.
    stopped_early : bool
        Whether early stopping ended the run.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric: str | None = None
    epochs: int = 0
    best_epoch: int | None = None
    stopped_early: bool = False


def fit(
    model: nn.Module,
    data: DataSpec,
    *,
    loss: LossSpec = "cross_entropy",
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    optimizer: str = "adam",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    l2: float = 0.0,
    validation: DataSpec | None = None,
    metric: MetricSpec = "auto",
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    early_stopping: int | None = None,
    shuffle: bool = True,
) -> History:
    """Train ``model`` in place on ``data`` with mini-batch gradient descent.

    Parameters
    ----------
    model : nn.Module
        The model to train; its parameters are updated in place. It is put in training mode
        for the training batches and in eval mode for validation, and is left in **eval mode**
        when ``fit`` returns or raises, ready for attribution.
    data : (Tensor, Tensor) or Dataset
        ``(inputs, targets)`` with inputs ``(n, ...)`` (floating point, the model's dtype) and
        targets ``(n, ...)``; or a ``torch.utils.data.Dataset`` whose items are
        ``(input, target)`` pairs.
    loss : {"cross_entropy", "bce", "mse"} or callable, default "cross_entropy"
        ``"cross_entropy"``: outputs ``(n, C)`` logits, targets ``(n,)`` integer classes (or
        ``(n, C)`` class probabilities). ``"bce"``: outputs ``(n,)`` or ``(n, 1)`` logits, targets
        ``(n,)`` floats in [0, 1]. ``"mse"``: outputs and targets of one shape (``(n, 1)``
        outputs also match ``(n,)`` targets). A callable ``loss(outputs, targets)`` must return
        the mean loss of the batch as a scalar tensor.
    epochs : int, default 10
        Passes over the data.
    batch_size : int, default 64
        Samples per gradient step (the last batch of an epoch may be smaller).
    lr : float, default 1e-3
        Learning rate.
    optimizer : {"adam", "adamw", "sgd"}, default "adam"
        The optimiser.
    momentum : float, default 0.0
        Momentum of ``"sgd"`` (only valid with ``optimizer="sgd"``).
    weight_decay : float, default 0.0
        The optimiser's weight decay (not part of the loss).
    l2 : float, default 0.0
        Coefficient of the explicit penalty ``l2 * sum_p ||p||^2`` over all trainable
        parameters (weights and biases), added to each batch's mean loss.
    validation : (Tensor, Tensor) or Dataset, optional
        Data evaluated after every epoch (``val_loss``, ``val_metric``, ``best_epoch``).
    metric : {"auto", "accuracy", "mse"}, callable or None, default "auto"
        Validation metric. ``"auto"`` is accuracy for ``"cross_entropy"`` and ``"bce"`` and
        none otherwise. Accuracy takes the argmax of ``(n, C)`` outputs, or thresholds a single
        logit at 0. A callable ``metric(outputs, targets) -> float`` sees the whole validation
        set at once.
    seed : int, default 0
        Seeds the shuffling generator and the dropout masks; the global RNG state is restored.
    device : str or torch.device, optional
        Where training runs; must be the model's device (``fit`` never moves the model). Data
        may live elsewhere: each batch is copied to this device. Default: the model's device.
    progress : bool, optional
        Show a per-epoch progress bar. Default: only when stderr is a terminal and the ``CI``
        environment variable is unset.
    early_stopping : int, optional
        Patience: stop when the validation loss has not improved for this many epochs, and
        load the parameters of the best epoch. Needs ``validation``.
    shuffle : bool, default True
        Reshuffle the training data every epoch.

    Returns
    -------
    History
        Per-epoch losses and metrics, the epochs run and the best epoch.

    Raises
    ------
    FloatingPointError
        If the training loss becomes NaN or infinite; the message names the epoch and batch and
        suggests a smaller learning rate.
    ValueError
        For invalid options, data of mismatched lengths or dtypes, or a device other than the
        model's.
    TypeError
        For a model that is not an ``nn.Module`` or data of the wrong kind.

    Examples
    --------
    >>> import torch
    >>> from physxai.models import MLP, fit
    >>> x = torch.randn(64, 2); y = (x[:, 0] > 0).long()
    >>> model = MLP(2, hidden=(8,), out_features=2)
    >>> history = fit(model, (x, y), epochs=3, lr=1e-2, progress=False)
    >>> history.epochs, model.training
    (3, False)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"{_CALLER}: model must be a torch.nn.Module; got {type(model).__name__}.")
    check_positive_int(epochs, _CALLER, "epochs")
    check_positive_int(batch_size, _CALLER, "batch_size")
    check_positive_float(lr, _CALLER, "lr")
    check_choice(optimizer, OPTIMIZERS, _CALLER, "optimizer")
    check_positive_float(momentum, _CALLER, "momentum", allow_zero=True)
    check_positive_float(weight_decay, _CALLER, "weight_decay", allow_zero=True)
    check_positive_float(l2, _CALLER, "l2", allow_zero=True)
    if momentum and optimizer != "sgd":
        raise ValueError(
            f"{_CALLER}: momentum applies to optimizer='sgd' only; got momentum={momentum!r} "
            f"with optimizer={optimizer!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{_CALLER}: seed must be an int; got {type(seed).__name__}.")
    if early_stopping is not None:
        check_positive_int(early_stopping, _CALLER, "early_stopping")
        if validation is None:
            raise ValueError(
                f"{_CALLER}: early_stopping needs validation data to monitor; got "
                "validation=None. Pass validation=(inputs, targets)."
            )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"{_CALLER}: progress must be True, False or None; got {progress!r}.")
    loss_fn, loss_name = _loss_function(loss)
    metric_fn, metric_name = _metric_function(metric, loss_name)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{_CALLER}: model has no trainable parameters (requires_grad=True).")
    dev = _training_device(model, device)
    train = _Batches(data, "data", batch_size, shuffle)
    val = _Batches(validation, "validation", batch_size, False) if validation is not None else None
    dtype = params[0].dtype

    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay
        )
    elif optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)

    history = History(metric=metric_name)
    shuffler = torch.Generator().manual_seed(seed)
    best_loss, best_state, waited = math.inf, None, 0
    bar = progress_bar(epochs, enabled=progress, desc="fit", unit="epoch")
    cuda = [dev] if dev.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda):
            # dropout masks come from the global generators: seed them inside the fork
            torch.random.default_generator.manual_seed(seed)
            if cuda:
                torch.cuda.manual_seed(seed)
            for epoch in range(epochs):
                model.train()
                total, count = 0.0, 0
                for b, (x, y) in enumerate(train.batches(shuffler)):
                    x, y = _to(x, dev), _to(y, dev)
                    if b == 0 and epoch == 0:
                        _check_dtype(x, dtype, train.name)
                    batch_loss = loss_fn(model(x), y)
                    if not bool(torch.isfinite(batch_loss)):
                        kind = "NaN" if bool(torch.isnan(batch_loss)) else "infinite"
                        raise FloatingPointError(
                            f"{_CALLER}: the training loss became {kind} at epoch {epoch + 1} of "
                            f"{epochs} (batch {b + 1}): the optimisation diverged. Try a smaller "
                            f"learning rate (lr={lr:g} now), standardise the inputs, or check "
                            f"the targets for loss={loss_name!r}."
                        )
                    objective = batch_loss
                    if l2:
                        # the explicit penalty l2 * sum_p ||p||^2 (see the module docstring)
                        objective = objective + l2 * sum(p.pow(2).sum() for p in params)
                    opt.zero_grad(set_to_none=True)
                    objective.backward()
                    opt.step()
                    total += float(batch_loss.detach()) * x.shape[0]
                    count += x.shape[0]
                history.train_loss.append(total / count)
                history.epochs = epoch + 1
                postfix = {"loss": f"{history.train_loss[-1]:.4g}"}
                if val is not None:
                    v_loss, v_metric = _evaluate(model, val, loss_fn, metric_fn, dev, dtype)
                    history.val_loss.append(v_loss)
                    postfix["val_loss"] = f"{v_loss:.4g}"
                    if metric_fn is not None:
                        history.val_metric.append(v_metric)
                        postfix[metric_name or "metric"] = f"{v_metric:.4g}"
                    if v_loss < best_loss:
                        best_loss, waited = v_loss, 0
                        history.best_epoch = epoch
                        if early_stopping is not None:
                            best_state = {
                                k: t.detach().clone() for k, t in model.state_dict().items()
                            }
                    else:
                        waited += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(postfix)
                if early_stopping is not None and waited >= early_stopping:
                    history.stopped_early = True
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
    finally:
        opt.zero_grad(set_to_none=True)  # no .grad left on the parameters
        model.eval()
        if bar is not None:
            bar.close()
    return history


class _Batches:
    """Mini-batches of a ``(inputs, targets)`` pair (indexed directly) or of a Dataset."""

    def __init__(self, data: Any, name: str, batch_size: int, shuffle: bool):
        self.name = name
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.pair: tuple[Tensor, Tensor] | None = None
        self.dataset: Dataset | None = None
        if isinstance(data, (tuple, list)):
            if len(data) != 2 or not all(isinstance(t, Tensor) for t in data):
                raise TypeError(
                    f"{_CALLER}: {name} must be a pair (inputs, targets) of tensors or a "
                    f"torch Dataset; got a {type(data).__name__} of "
                    f"{', '.join(type(t).__name__ for t in data) or 'nothing'}."
                )
            x, y = data
            if not x.is_floating_point():
                raise ValueError(
                    f"{_CALLER}: {name} inputs must be floating point; got dtype {x.dtype}. "
                    "Spins stored as int8 need .float() first."
                )
            if x.dim() == 0 or y.dim() == 0 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
                raise ValueError(
                    f"{_CALLER}: {name} inputs and targets must have the same non-empty first "
                    f"dimension; got shapes {tuple(x.shape)} and {tuple(y.shape)}."
                )
            for t, what in ((x, "inputs"), (y, "targets")):
                if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                    raise ValueError(
                        f"{_CALLER}: {name} {what} must be finite; the tensor of shape "
                        f"{tuple(t.shape)} holds NaN or infinite entries."
                    )
            self.pair = (x, y)
        elif isinstance(data, Dataset):
            if len(data) == 0:  # type: ignore[arg-type]
                raise ValueError(f"{_CALLER}: {name} is an empty Dataset.")
            self.dataset = data
        else:
            raise TypeError(
                f"{_CALLER}: {name} must be a pair (inputs, targets) of tensors or a torch "
                f"Dataset; got {type(data).__name__}."
            )

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple[Tensor, Tensor]]:
        if self.pair is not None:
            x, y = self.pair
            n = x.shape[0]
            if self.shuffle:
                order = torch.randperm(n, generator=generator)
                for start in range(0, n, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    yield x[idx.to(x.device)], y[idx.to(y.device)]
            else:
                for start in range(0, n, self.batch_size):
                    yield x[start : start + self.batch_size], y[start : start + self.batch_size]
            return
        loader = DataLoader(
            self.dataset,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            generator=generator if self.shuffle else None,
        )
        for item in loader:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(
                    f"{_CALLER}: the items of the {self.name} Dataset must be (input, target) "
                    f"pairs; got {type(item).__name__}."
                )
            yield item[0], item[1]


def _to(t: Tensor, device: torch.device) -> Tensor:
    return t if t.device == device else t.to(device)


def _check_dtype(x: Tensor, dtype: torch.dtype, name: str) -> None:
    if x.dtype != dtype:
        cast = {torch.float64: ".double()", torch.float32: ".float()"}.get(dtype, f".to({dtype})")
        raise ValueError(
            f"{_CALLER}: {name} inputs must have the dtype of the model's parameters ({dtype}); "
            f"got {x.dtype}. Try inputs{cast}."
        )


def _training_device(model: nn.Module, device: Any) -> torch.device:
    dev = model_device(model) or torch.device("cpu")
    if device is None:
        return dev
    try:
        want = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{_CALLER}: device must name a torch device; got {device!r}.") from err
    same = want.type == dev.type and (want.index is None or want.index == dev.index)
    if not same:
        raise ValueError(
            f"{_CALLER}: device={device!r} but the model is on {dev}; fit never moves the "
            f"model: call model.to({str(want)!r}) first."
        )
    return dev


def _align(out: Tensor, y: Tensor, loss: str) -> Tensor:
    # (n, 1) outputs against (n,) targets: one column, compared as (n,)
    if out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1:
        out = out[:, 0]
    if out.shape != y.shape:
        raise ValueError(
            f"{_CALLER}: loss={loss!r} needs outputs and targets of one shape; got outputs "
            f"{tuple(out.shape)} and targets {tuple(y.shape)}."
        )
    return out


def _cross_entropy(out: Tensor, y: Tensor) -> Tensor:
    if out.dim() != 2:
        raise ValueError(
            f"{_CALLER}: loss='cross_entropy' needs logits of shape (n, n_classes); got outputs "
            f"{tuple(out.shape)}. For one logit use loss='bce'."
        )
    if y.is_floating_point():
        if y.shape != out.shape:
            raise ValueError(
                f"{_CALLER}: loss='cross_entropy' needs integer class targets (n,) or class "
                f"probabilities of the outputs' shape {tuple(out.shape)}; got float targets "
                f"{tuple(y.shape)}. Try targets.long()."
            )
    elif y.shape != (out.shape[0],):
        raise ValueError(
            f"{_CALLER}: loss='cross_entropy' needs integer class targets of shape "
            f"({out.shape[0]},); got {tuple(y.shape)}."
        )
    return F.cross_entropy(out, y)


def _bce(out: Tensor, y: Tensor) -> Tensor:
    if not y.is_floating_point():
        raise ValueError(
            f"{_CALLER}: loss='bce' needs float targets in [0, 1]; got dtype {y.dtype}. "
            "Try targets.float()."
        )
    return F.binary_cross_entropy_with_logits(_align(out, y, "bce"), y.to(out.dtype))


def _mse(out: Tensor, y: Tensor) -> Tensor:
    if not y.is_floating_point():
        raise ValueError(
            f"{_CALLER}: loss='mse' needs float targets; got dtype {y.dtype}. Try targets.float()."
        )
    return F.mse_loss(_align(out, y, "mse"), y.to(out.dtype))


def _loss_function(loss: Any) -> tuple[Callable[[Tensor, Tensor], Tensor], str]:
    if isinstance(loss, str):
        check_choice(loss, LOSSES, _CALLER, "loss")
        return {"cross_entropy": _cross_entropy, "bce": _bce, "mse": _mse}[loss], loss
    if callable(loss):
        name = getattr(loss, "__name__", type(loss).__name__)

        def custom(out: Tensor, y: Tensor) -> Tensor:
            value = loss(out, y)
            if not isinstance(value, Tensor) or value.dim() != 0:
                if isinstance(value, Tensor):
                    got = f"shape {tuple(value.shape)}"
                else:
                    got = type(value).__name__
                raise ValueError(
                    f"{_CALLER}: a callable loss must return the batch's mean loss as a scalar "
                    f"tensor; {name} returned {got}."
                )
            return value

        return custom, name
    raise TypeError(
        f"{_CALLER}: loss must be one of {', '.join(map(repr, LOSSES))} or a callable "
        f"(outputs, targets) -> scalar tensor; got {type(loss).__name__}."
    )


def _accuracy(out: Tensor, y: Tensor) -> float:
    if out.dim() == 2 and out.shape[1] > 1:
        pred = out.argmax(dim=1)
        truth = y.argmax(dim=1) if y.is_floating_point() and y.dim() == 2 else y
    else:
        pred = out.reshape(out.shape[0]) > 0  # one logit: class 1 where it is positive
        truth = y.reshape(y.shape[0]) > 0.5
    return float((pred == truth).double().mean())


def _mse_metric(out: Tensor, y: Tensor) -> float:
    return float(F.mse_loss(_align(out, y, "mse"), y.to(out.dtype)))


def _metric_function(metric: Any, loss_name: str) -> tuple[Callable | None, str | None]:
    if metric is None:
        return None, None
    if isinstance(metric, str):
        check_choice(metric, METRICS, _CALLER, "metric")
        if metric == "auto":
            if loss_name in ("cross_entropy", "bce"):
                return _accuracy, "accuracy"
            return None, None
        return (_accuracy, "accuracy") if metric == "accuracy" else (_mse_metric, "mse")
    if callable(metric):
        return metric, getattr(metric, "__name__", type(metric).__name__)
    raise TypeError(
        f"{_CALLER}: metric must be one of {', '.join(map(repr, METRICS))}, a callable or None; "
        f"got {type(metric).__name__}."
    )


def _evaluate(
    model: nn.Module,
    batches: _Batches,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    metric_fn: Callable | None,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[float, float]:
    """Mean loss and metric over all batches, in eval mode and without gradients."""
    model.eval()
    total, count = 0.0, 0
    outputs, targets = [], []
    with torch.no_grad():
        for b, (x, y) in enumerate(batches.batches()):
            x, y = _to(x, device), _to(y, device)
            if b == 0:
                _check_dtype(x, dtype, batches.name)
            out = model(x)
            total += float(loss_fn(out, y)) * x.shape[0]
            count += x.shape[0]
            if metric_fn is not None:
                outputs.append(out)
                targets.append(y)
    value = math.nan
    if metric_fn is not None:
        value = float(metric_fn(torch.cat(outputs), torch.cat(targets)))
    return total / count, value
