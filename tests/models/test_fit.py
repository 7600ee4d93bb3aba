"""The one training loop: it learns, it is reproducible, its L2 term is exact, it fails loudly."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from physxai.models import MLP, History, fit


def blobs(n: int = 200, seed: int = 0, dtype=torch.float32):
    """Two well-separated Gaussian blobs in 2D: a linearly separable problem."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    centres = torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=dtype)
    x = centres[y] + 0.5 * torch.randn(n, 2, generator=g, dtype=dtype)
    return x, y


def model_at(seed: int, **kwargs) -> MLP:
    torch.manual_seed(seed)
    return MLP(2, **{"hidden": (16,), "out_features": 2, **kwargs})


def test_fit_learns_a_separable_problem():
    x, y = blobs()
    model = model_at(1)
    history = fit(
        model, (x, y), epochs=20, lr=1e-2, batch_size=32, validation=(x, y), progress=False
    )
    assert isinstance(history, History)
    assert history.epochs == 20 and len(history.train_loss) == len(history.val_loss) == 20
    assert history.train_loss[-1] < history.train_loss[0] / 5
    assert history.metric == "accuracy" and history.val_metric[-1] == 1.0
    assert history.best_epoch == min(range(20), key=history.val_loss.__getitem__)
    assert (model(x).argmax(1) == y).all()


def test_fit_is_reproducible_and_restores_the_global_rng():
    x, y = blobs(64)
    params = []
    for _ in range(2):
        model = model_at(1, dropout=0.3)  # dropout masks must be reproducible too
        state = torch.get_rng_state()
        fit(model, (x, y), epochs=3, batch_size=16, seed=7, progress=False)
        assert torch.equal(torch.get_rng_state(), state)
        params.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*params))
    other = model_at(1, dropout=0.3)
    fit(other, (x, y), epochs=3, batch_size=16, seed=8, progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(params[0], other.parameters()))


def test_fit_leaves_eval_mode_and_no_grad():
    x, y = blobs(32)
    model = model_at(0)
    model.train()
    fit(model, (x, y), epochs=1, progress=False)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_l2_term_is_exactly_l2_times_sum_of_squares():
    # one full-batch SGD step: theta' = theta - lr * (grad L + 2 * l2 * theta), float64
    x, y = blobs(16, dtype=torch.float64)
    model = model_at(2).double()
    start = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    lr, l2 = 0.1, 0.05
    fit(model, (x, y), epochs=1, batch_size=16, lr=lr, optimizer="sgd", l2=l2, progress=False)
    for p, p0, g in zip(model.parameters(), start, grads):
        torch.testing.assert_close(p.detach(), p0 - lr * (g + 2 * l2 * p0), rtol=1e-12, atol=1e-12)


def test_dataset_and_tuple_give_the_same_training_without_shuffling():
    x, y = blobs(40)
    a, b = model_at(3), model_at(3)
    fit(a, (x, y), epochs=2, batch_size=8, shuffle=False, progress=False)
    fit(b, TensorDataset(x, y), epochs=2, batch_size=8, shuffle=False, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    fit(b, TensorDataset(x, y), epochs=1, batch_size=8, progress=False)  # shuffled loader runs


@pytest.mark.parametrize("out_shape", ["column", "flat"])
def test_bce_and_mse_with_one_output(out_shape):
    x, y = blobs(64)
    torch.manual_seed(0)
    model = MLP(2, hidden=(8,), out_features=1)
    if out_shape == "flat":
        model = torch.nn.Sequential(model, torch.nn.Flatten(0))
    h = fit(
        model,
        (x, y.float()),
        loss="bce",
        epochs=15,
        lr=1e-2,
        validation=(x, y.float()),
        progress=False,
    )
    assert h.val_metric[-1] == 1.0
    h = fit(
        model,
        (x, y.float()),
        loss="mse",
        epochs=2,
        metric="mse",
        validation=(x, y.float()),
        progress=False,
    )
    assert h.metric == "mse" and h.val_metric[-1] == pytest.approx(h.val_loss[-1])


def test_custom_loss_and_metric():
    x, y = blobs(32)

    def worst_case(out, target):
        return torch.nn.functional.cross_entropy(out, target, reduction="none").max()

    def error_rate(out, target):
        return float((out.argmax(1) != target).float().mean())

    h = fit(
        model_at(0),
        (x, y),
        loss=worst_case,
        metric=error_rate,
        epochs=2,
        validation=(x, y),
        progress=False,
    )
    assert h.metric == "error_rate" and len(h.val_metric) == 2


def test_early_stopping_restores_the_best_epoch():
    x, y = blobs(64)
    g = torch.Generator().manual_seed(5)
    y_val = torch.randint(0, 2, (64,), generator=g)  # labels unrelated to x: overfits at once
    model = model_at(4)
    h = fit(
        model, (x, y), epochs=50, lr=5e-2, validation=(x, y_val), early_stopping=3, progress=False
    )
    assert h.stopped_early and h.epochs < 50
    assert h.epochs - 1 - h.best_epoch == 3
    final = torch.nn.functional.cross_entropy(model(x), y_val).item()
    assert final == pytest.approx(h.val_loss[h.best_epoch], rel=1e-6)


def test_nan_loss_raises_with_the_epoch_and_a_hint():
    x, _ = blobs(64)
    with pytest.raises(
        FloatingPointError,
        match=r"loss became (NaN|infinite) at epoch \d+ of 5 .*smaller learning rate",
    ):
        fit(
            model_at(0),
            (x * 1e3, x * 1e3),
            loss="mse",
            optimizer="sgd",
            lr=1e12,
            epochs=5,
            progress=False,
        )


def test_progress_bar_only_when_asked_or_on_a_terminal(capsys, monkeypatch):
    x, y = blobs(16)
    fit(model_at(0), (x, y), epochs=2, progress=True)
    assert "fit" in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    fit(model_at(0), (x, y), epochs=2)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"model": lambda t: t}, TypeError, "model must be a torch.nn.Module"),
        (
            {"data": (torch.zeros(4, 2), torch.zeros(3).long())},
            ValueError,
            "same non-empty first dimension",
        ),
        (
            {"data": (torch.zeros(4, 2).long(), torch.zeros(4).long())},
            ValueError,
            "inputs must be floating point",
        ),
        (
            {"data": (torch.full((4, 2), float("nan")), torch.zeros(4).long())},
            ValueError,
            "must be finite",
        ),
        (
            {"data": (torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4).long())},
            ValueError,
            r"dtype of the model's parameters \(torch.float32\)",
        ),
        ({"data": [torch.zeros(4, 2)]}, TypeError, r"pair \(inputs, targets\)"),
        (
            {"data": "data.h5"},
            TypeError,
            r"pair \(inputs, targets\) of tensors or a torch Dataset; got str",
        ),
        ({"data": (torch.zeros(4, 2), torch.zeros(4))}, ValueError, "integer class targets"),
        (
            {"loss": "bce", "data": (torch.zeros(4, 2), torch.zeros(4).long())},
            ValueError,
            r"float targets in \[0, 1\]",
        ),
        (
            {"loss": "mse", "data": (torch.zeros(4, 2), torch.zeros(4, 3))},
            ValueError,
            r"outputs and targets of one shape; got outputs \(4, 2\)",
        ),
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"loss": 3}, TypeError, "loss must be one of"),
        (
            {"loss": lambda o, t: (o - 0).sum(1)},
            ValueError,
            "must return the batch's mean loss as a scalar",
        ),
        ({"metric": "f1"}, ValueError, "metric must be one of"),
        ({"metric": 2}, TypeError, "metric must be one of"),
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be an int"),
        ({"lr": -1.0}, ValueError, "lr must be a finite number > 0"),
        ({"optimizer": "lbfgs"}, ValueError, "optimizer must be one of"),
        ({"momentum": 0.9}, ValueError, "momentum applies to optimizer='sgd' only"),
        ({"l2": -0.1}, ValueError, "l2 must be a finite number >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"early_stopping": 3}, ValueError, "early_stopping needs validation data"),
        ({"progress": "yes"}, TypeError, "progress must be True, False or None"),
        ({"device": "cuda"}, ValueError, r"fit never moves the model: call model.to\('cuda'\)"),
        ({"device": "tpu9"}, ValueError, "device must name a torch device"),
        (
            {"validation": (torch.zeros(3, 2), torch.zeros(2).long())},
            ValueError,
            "validation inputs and targets",
        ),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, match):
    args = {"model": model_at(0), "data": blobs(8), "epochs": 1, "progress": False, **kwargs}
    model, data = args.pop("model"), args.pop("data")
    with pytest.raises(error, match=match):
        fit(model, data, **args)


def test_fit_rejects_a_model_without_trainable_parameters():
    model = model_at(0)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(model, blobs(8), progress=False)


def test_fit_rejects_dataset_items_that_are_not_pairs():
    class Singles(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(2)

    with pytest.raises(TypeError, match=r"must be \(input, target\) pairs"):
        fit(model_at(0), Singles(), progress=False)
    with pytest.raises(ValueError, match="empty Dataset"):
        fit(model_at(0), TensorDataset(torch.zeros(0, 2), torch.zeros(0)), progress=False)
