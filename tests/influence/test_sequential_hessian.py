"""The structured exact Hessian of piecewise-linear sequential networks against the generic path.

``hessian(..., algorithm="sequential")`` builds H from per-sample Jacobians and forward tangents
(Gauss-Newton part plus the residual cross blocks); ``algorithm="generic"`` by forward-over-reverse
automatic differentiation of the whole objective. They share no code beyond the model's forward
pass, so agreement to rounding on every layer kind, loss and chunk size is the test.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import physxai.influence._sequential as sequential_module
from physxai.influence import (
    InfluenceFunctions,
    flat_parameters,
    hessian,
    hessian_vector_product,
)

DTYPE = torch.float64


def _with_head(layers: list[nn.Module], x: torch.Tensor, n_out: int) -> nn.Sequential:
    """``layers`` followed by Flatten and a Linear head sized for the input ``x``."""
    body = nn.Sequential(*layers).to(DTYPE)
    with torch.no_grad():
        n_features = math.prod(body(x).shape[1:])
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(n_features, n_out)).to(DTYPE).eval()


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return (
        nn.Sequential(
            nn.Linear(4, 6),
            nn.ReLU(),
            nn.Linear(6, 5),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.3),
            nn.Linear(5, 4),
            nn.ReLU(),
            nn.Linear(4, 3),
        )
        .to(DTYPE)
        .eval()
    )


def _conv1d(x: torch.Tensor, n_out: int) -> nn.Sequential:
    # every convolution after the first meets its tangents both "sparse" (one channel per
    # tangent, from the layer before) and dense (from earlier layers), and is followed by a max
    # pooling (computed at the picked positions only), an average pooling without padding
    # (composed into one convolution) or something else; seed 3 leaves no layer dead
    torch.manual_seed(3)
    return _with_head(
        [
            nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2),
            nn.ReLU(),
            nn.Sequential(  # nested: flattened into the chain
                nn.Conv1d(4, 3, 3, padding=2, dilation=2, padding_mode="circular"),
                nn.MaxPool1d(2, stride=1, dilation=2),
            ),
            nn.LeakyReLU(0.2),
            nn.Identity(),
            nn.Conv1d(3, 3, 2, dilation=2),
            nn.AvgPool1d(3, stride=2),
            nn.ReLU(),
            nn.Conv1d(3, 4, 2, stride=2, padding=1, padding_mode="replicate", bias=False),
            nn.MaxPool1d(2),
            nn.LeakyReLU(0.1),
            nn.AvgPool1d(2, padding=1),
        ],
        x,
        n_out,
    )


def _conv2d(x: torch.Tensor, n_out: int) -> nn.Sequential:
    torch.manual_seed(3)
    return _with_head(
        [
            nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
            nn.ReLU(),
            nn.MaxPool2d(2, padding=1, ceil_mode=True),
            nn.Conv2d(3, 2, 3, padding="same", padding_mode="reflect"),
            nn.AvgPool2d(2, padding=1, count_include_pad=False),
            nn.LeakyReLU(0.3),
            nn.Dropout2d(0.5),
            nn.Conv2d(2, 3, 2, stride=(1, 2), padding=1),
            nn.AvgPool2d((2, 1)),
            nn.ReLU(),
            nn.Conv2d(3, 2, (2, 1), stride=(1, 2)),
            nn.MaxPool2d((1, 2), stride=1),
            nn.AdaptiveAvgPool2d((1, 2)),
        ],
        x,
        n_out,
    )


def _data(kind: str, loss: str, n: int = 9) -> tuple[torch.Tensor, torch.Tensor, nn.Module]:
    g = torch.Generator().manual_seed(1)
    shape = {"mlp": (n, 4), "conv1d": (n, 3, 30), "conv2d": (n, 2, 22, 12)}[kind]
    x = torch.randn(*shape, generator=g, dtype=DTYPE)
    n_out = {"cross_entropy": 3, "soft_labels": 3, "bce": 1, "bce2": 2, "mse": 2}[loss]
    if loss == "cross_entropy":
        y = torch.randint(3, (n,), generator=g)
    elif loss == "soft_labels":  # class probabilities, not normalised (weight 1.3)
        y = 1.3 * torch.softmax(torch.randn(n, 3, generator=g, dtype=DTYPE), dim=1)
    elif loss == "bce":  # one logit (n, 1) against targets (n,)
        y = torch.rand(n, generator=g, dtype=DTYPE)
    elif loss == "bce2":  # two independent logits per sample
        y = torch.rand(n, 2, generator=g, dtype=DTYPE)
    else:
        y = torch.randn(n, 2, generator=g, dtype=DTYPE)
    if kind == "mlp":
        model = _mlp()
        if n_out != 3:
            model[-1] = nn.Linear(4, n_out).to(DTYPE)
    else:
        model = (_conv1d if kind == "conv1d" else _conv2d)(x, n_out)
    return x, y, model


def _loss_name(loss: str) -> str:
    return {"soft_labels": "cross_entropy", "bce2": "bce"}.get(loss, loss)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def _assert_all_blocks_alive(h: torch.Tensor, model: nn.Module) -> None:
    """Every block between two parameter tensors is nonzero: no layer is cut off (dead ReLUs)
    from the loss, so a wrong tangent anywhere would show in the comparison."""
    sizes = [p.numel() for p in model.parameters() if p.requires_grad]
    scale = float(h.abs().max())
    for i, rows in enumerate(torch.split(h, sizes)):
        for j, block in enumerate(torch.split(rows, sizes, dim=1)):
            assert float(block.abs().max()) > 1e-6 * scale, (i, j)


@pytest.mark.parametrize("kind", ["mlp", "conv1d", "conv2d"])
@pytest.mark.parametrize("loss", ["cross_entropy", "soft_labels", "bce", "bce2", "mse"])
def test_sequential_equals_generic_for_every_layer_kind_and_loss(kind, loss):
    x, y, model = _data(kind, loss)
    name = _loss_name(loss)
    l2 = 0.0 if loss == "mse" else 0.03
    ref = hessian(model, name, x, y, l2=l2, algorithm="generic")
    _assert_all_blocks_alive(ref - 2 * l2 * torch.eye(ref.shape[0], dtype=DTYPE), model)
    results = [
        hessian(model, name, x, y, l2=l2, algorithm="sequential", max_batch_size=m)
        for m in (3, 40, 10_000)
    ]
    for h in results:
        assert h.shape == ref.shape and h.dtype == DTYPE
        assert _relative_error(h, ref) < 1e-10
        assert torch.equal(h, h.T)
        # chunking changes the order of the sums only
        assert _relative_error(h, results[-1]) < 1e-12


def test_sequential_equals_generic_for_conv3d_and_max_pool_ties():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(5, 2, 5, 6, 5, generator=g, dtype=DTYPE)
    y = torch.randint(2, (5,), generator=g)
    model = _with_head(
        [nn.Conv3d(2, 2, 2, padding=1), nn.MaxPool3d(2), nn.ReLU(), nn.Conv3d(2, 3, 2)], x, 2
    )
    h = hessian(model, "cross_entropy", x, y, algorithm="sequential", max_batch_size=64)
    ref = hessian(model, "cross_entropy", x, y, algorithm="generic")
    assert _relative_error(h, ref) < 1e-10
    # ReLU before max-pooling: most windows tie at 0, and both paths must pick the same entry
    x1 = torch.randn(8, 3, 20, generator=g, dtype=DTYPE)
    y1 = torch.randint(2, (8,), generator=g)
    model = _with_head(
        [nn.Conv1d(3, 4, 3), nn.ReLU(inplace=True), nn.MaxPool1d(3), nn.Conv1d(4, 3, 2)], x1, 2
    )
    with torch.no_grad():
        model[0].bias.fill_(-1.5)
    h = hessian(model, "cross_entropy", x1, y1, algorithm="sequential")
    ref = hessian(model, "cross_entropy", x1, y1, algorithm="generic")
    assert _relative_error(h, ref) < 1e-10


def test_frozen_parameters_and_a_single_layer():
    x, y, model = _data("mlp", "cross_entropy", n=11)
    model[2].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    h = hessian(model, "cross_entropy", x, y, l2=0.1, algorithm="sequential", max_batch_size=5)
    ref = hessian(model, "cross_entropy", x, y, l2=0.1, algorithm="generic")
    assert h.shape == (104 - 30 - 6,) * 2
    assert _relative_error(h, ref) < 1e-10
    linear = nn.Linear(4, 3).to(DTYPE).eval()  # logistic regression: Gauss-Newton part only
    single = nn.Sequential(linear).eval()
    h = hessian(single, "cross_entropy", x, y, algorithm="sequential")
    assert _relative_error(h, hessian(linear, "cross_entropy", x, y)) < 1e-12


class _HubbardCNN(nn.Sequential):
    """A subclass that keeps Sequential's forward, as experiments/dawid2020 defines its CNN."""


def dawid_cnn() -> nn.Sequential:
    """CNN1D_tiny_ED of Dawid et al. (2020), 740 parameters (as in benchmarks/hessian.py)."""
    torch.manual_seed(17)
    return (
        _HubbardCNN(
            nn.Conv1d(1, 5, 15, padding=1),
            nn.MaxPool1d(4),
            nn.ReLU(),
            nn.Conv1d(5, 8, 5),
            nn.MaxPool1d(4),
            nn.ReLU(),
            nn.Conv1d(8, 10, 2, padding=1),
            nn.AvgPool1d(4),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Flatten(),
            nn.Linear(140, 2),
        )
        .to(DTYPE)
        .eval()
    )


def _hubbard_like(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 1, 924, generator=g, dtype=DTYPE)
    return x / x.norm(dim=2, keepdim=True), torch.randint(2, (n,), generator=g)


def test_dawid_cnn_hessian_matches_generic_products_and_auto_picks_it(monkeypatch):
    calls = []
    original = sequential_module.sequential_hessian
    monkeypatch.setattr(
        sequential_module,
        "sequential_hessian",
        lambda *args: calls.append(1) or original(*args),
    )
    model = dawid_cnn()
    x, y = _hubbard_like(50)
    h = hessian(model, "cross_entropy", x, y, l2=0.025)  # auto
    assert calls == [1] and h.shape == (740, 740)
    # the generic path's H v for random vectors and for unit vectors of every parameter tensor
    # (its full matrix costs ~10 s here; see the slow test below)
    g = torch.Generator().manual_seed(3)
    starts = [0, 75, 80, 280, 288, 448, 458, 738]  # first entry of each weight and bias
    v = torch.cat(
        [
            torch.randn(3, 740, generator=g, dtype=DTYPE),
            torch.eye(740, dtype=DTYPE)[starts],
        ]
    )
    hv = hessian_vector_product(model, "cross_entropy", x, y, v, l2=0.025)
    assert _relative_error(v @ h, hv) < 1e-10


@pytest.mark.slow
def test_dawid_cnn_hessian_equals_generic_matrix():
    model = dawid_cnn()
    x, y = _hubbard_like(50)
    h = hessian(model, "cross_entropy", x, y, l2=0.025, algorithm="sequential")
    ref = hessian(model, "cross_entropy", x, y, l2=0.025, algorithm="generic")
    assert _relative_error(h, ref) < 1e-10


def test_auto_falls_back_to_generic_for_smooth_activations(monkeypatch):
    calls = []
    monkeypatch.setattr(sequential_module, "sequential_hessian", lambda *args: calls.append(1))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).to(DTYPE).eval()
    x, y, _ = _data("mlp", "cross_entropy")
    h = hessian(model, "cross_entropy", x, y, l2=0.05)
    assert calls == []
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def objective(theta):
        params = {k: t.view(s) for k, t, s in zip(names, torch.split(theta, sizes), shapes)}
        out = torch.func.functional_call(model, params, (x,))
        return nn.functional.cross_entropy(out, y) + 0.05 * theta.pow(2).sum()

    ref = torch.autograd.functional.hessian(objective, flat_parameters(model))
    assert _relative_error(h, ref) < 1e-10


def test_auto_falls_back_for_a_forward_hook(monkeypatch):
    x, y, model = _data("mlp", "cross_entropy")
    before = hessian(model, "cross_entropy", x, y)
    handle = model[1].register_forward_hook(lambda module, inputs, out: 2 * out)
    try:
        hooked = hessian(model, "cross_entropy", x, y)
        with pytest.raises(ValueError, match=r"layer '1' \(ReLU\) has forward hooks"):
            hessian(model, "cross_entropy", x, y, algorithm="sequential")
    finally:
        handle.remove()
    assert not torch.allclose(hooked, before)  # the hook's doubling is in the Hessian
    calls = []
    original = sequential_module.sequential_hessian
    monkeypatch.setattr(
        sequential_module,
        "sequential_hessian",
        lambda *args: calls.append(1) or original(*args),
    )
    handle = model.register_forward_hook(lambda module, inputs, out: out)
    try:
        h = hessian(model, "cross_entropy", x, y)
        with pytest.raises(ValueError, match="forward hooks are registered on the model"):
            hessian(model, "cross_entropy", x, y, algorithm="sequential")
    finally:
        handle.remove()
    assert calls == [] and _relative_error(h, before) < 1e-10
    hessian(model, "cross_entropy", x, y)
    assert calls == [1]


def test_influence_functions_exact_uses_the_structured_hessian(monkeypatch):
    calls = []
    original = sequential_module.sequential_hessian
    monkeypatch.setattr(
        sequential_module,
        "sequential_hessian",
        lambda *args: calls.append(1) or original(*args),
    )
    x, y, model = _data("mlp", "cross_entropy", n=12)
    inf = InfluenceFunctions(model, "cross_entropy", x, y, l2=0.05, damping=1.0).fit()
    assert calls == [1]
    ref = hessian(model, "cross_entropy", x, y, l2=0.05, algorithm="generic")
    assert _relative_error(inf.hessian_, ref) < 1e-10


# -- refusals -----------------------------------------------------------------------------------


def test_forced_sequential_names_the_offending_layer():
    x, y, _ = _data("mlp", "cross_entropy")
    tanh = nn.Sequential(nn.Linear(4, 5), nn.Sequential(nn.Tanh()), nn.Linear(5, 3)).to(DTYPE)
    with pytest.raises(ValueError, match=r"algorithm='sequential'.*layer '1\.0' \(Tanh\)"):
        hessian(tanh.eval(), "cross_entropy", x, y, algorithm="sequential")
    with pytest.raises(ValueError, match="loss_fn must be one of.*callable"):
        hessian(
            _mlp(),
            lambda out, t: nn.functional.cross_entropy(out, t, reduction="none"),
            x,
            y,
            algorithm="sequential",
        )

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _mlp()

        def forward(self, t):
            return self.net(t)

    with pytest.raises(ValueError, match="Wrapper, not a torch.nn.Sequential"):
        hessian(Wrapper().eval(), "cross_entropy", x, y, algorithm="sequential")
    grouped = nn.Sequential(nn.Conv1d(2, 2, 3, groups=2), nn.Flatten(), nn.Linear(6, 3))
    xc = torch.randn(9, 2, 5, dtype=DTYPE)
    with pytest.raises(ValueError, match=r"layer '0' \(Conv1d\) has groups=2"):
        hessian(grouped.to(DTYPE).eval(), "cross_entropy", xc, y, algorithm="sequential")
    partial = nn.Sequential(nn.Conv1d(2, 2, 3), nn.Flatten(2), nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"layer '1' \(Flatten\) has start_dim=2"):
        hessian(
            partial.to(DTYPE).eval(),
            "mse",
            xc,
            torch.randn(9, 2, 3, dtype=DTYPE),
            algorithm="sequential",
        )
    per_position = nn.Sequential(nn.Conv1d(2, 2, 3), nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"layer '1' \(Linear\) receives inputs of shape"):
        hessian(
            per_position.to(DTYPE).eval(),
            "mse",
            xc,
            torch.randn(9, 2, 1, dtype=DTYPE),
            algorithm="sequential",
        )

    class Scaled(nn.Linear):
        def forward(self, t):
            return 2 * super().forward(t)

    scaled = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), Scaled(5, 3)).to(DTYPE).eval()
    with pytest.raises(ValueError, match=r"layer '2' \(Scaled\) is not supported"):
        hessian(scaled, "cross_entropy", x, y, algorithm="sequential")
    shared = nn.Linear(4, 4)
    twice = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 3)).to(DTYPE).eval()
    with pytest.raises(ValueError, match=r"layer '2' \(Linear\) appears twice"):
        hessian(twice, "cross_entropy", x, y, algorithm="sequential")
    tied = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.Linear(4, 3))
    tied[2].weight = tied[0].weight
    with pytest.raises(ValueError, match=r"layer '2' \(Linear\) shares its weight"):
        hessian(tied.to(DTYPE).eval(), "cross_entropy", x, y, algorithm="sequential")
    extra = _mlp()
    extra.register_parameter("scale", nn.Parameter(torch.ones(1, dtype=DTYPE)))
    with pytest.raises(ValueError, match="parameter 'scale' does not belong to a Linear or Conv"):
        hessian(extra, "cross_entropy", x, y, algorithm="sequential")
    # max pooling over the features of (n, features): torch reads it as unbatched (C, L)
    feature_pool = nn.Sequential(nn.Linear(4, 6), nn.MaxPool1d(2), nn.Linear(3, 3))
    with pytest.raises(ValueError, match=r"layer '1' \(MaxPool1d\) receives inputs with 1 dim"):
        hessian(feature_pool.to(DTYPE).eval(), "cross_entropy", x, y, algorithm="sequential")
    # the generic path takes them all
    assert hessian(twice, "cross_entropy", x, y).shape == (35, 35)
    assert hessian(extra, "cross_entropy", x, y).shape == (105, 105)
    assert hessian(feature_pool, "cross_entropy", x, y).shape == (42, 42)


def test_unknown_algorithm_raises():
    x, y, model = _data("mlp", "cross_entropy")
    with pytest.raises(ValueError, match="algorithm must be one of 'auto', 'generic'"):
        hessian(model, "cross_entropy", x, y, algorithm="fast")


def test_physxai_mlp_and_cnn_take_the_structured_path(monkeypatch):
    """physxai.models.MLP and CNN compute head(features(x)): the structured Hessian reads them
    as that chain (equal to the generic one); a subclass that changes forward falls back."""
    from physxai.models import CNN, MLP

    calls = []
    original = sequential_module.sequential_hessian
    monkeypatch.setattr(
        sequential_module,
        "sequential_hessian",
        lambda *args: calls.append(1) or original(*args),
    )
    torch.manual_seed(3)
    g = torch.Generator().manual_seed(4)
    mlp = MLP(6, (5, 4), 3).to(DTYPE).eval()
    x = torch.randn(11, 2, 3, generator=g, dtype=DTYPE)  # flattened by the MLP
    y = torch.randint(3, (11,), generator=g)
    cnn = CNN(2, 3, channels=(3, 4), input_size=(6, 6), pool="max").to(DTYPE).eval()
    xc = torch.randn(11, 2, 6, 6, generator=g, dtype=DTYPE)
    for model, inputs in ((mlp, x), (cnn, xc)):
        calls.clear()
        fast = hessian(model, "cross_entropy", inputs, y, l2=0.01, algorithm="sequential")
        slow = hessian(model, "cross_entropy", inputs, y, l2=0.01, algorithm="generic")
        assert calls == [1] and _relative_error(fast, slow) < 1e-12
        _assert_all_blocks_alive(fast - 0.02 * torch.eye(len(fast), dtype=DTYPE), model)

    class Doubled(MLP):
        def forward(self, x):
            return 2 * super().forward(x)

    doubled = Doubled(6, (5, 4), 3).to(DTYPE).eval()
    calls.clear()
    hessian(doubled, "cross_entropy", x, y)  # auto: generic
    assert calls == []
    with pytest.raises(ValueError, match="not a torch.nn.Sequential"):
        hessian(doubled, "cross_entropy", x, y, algorithm="sequential")
