"""Deep Taylor decomposition of bias-free ReLU networks on handwritten digits.

G. Montavon, S. Lapuschkin, A. Binder, W. Samek, K.-R. Mueller, Explaining nonlinear
classification decisions with deep Taylor decomposition, Pattern Recognition 65, 211 (2017),
arXiv:1512.02479; the side-by-side comparison of sensitivity, naive Taylor and deep Taylor is
the one of the ICASSP 2017 tutorial (Montavon, Samek, Mueller; seed 001).

Reproduced: the two properties the paper proves for bias-free ReLU networks (or networks with
non-positive biases), conservation sum_i R_i = f(x) and positivity R_i >= 0 of deep Taylor
relevance (z+ rule in the hidden layers, z^B rule with the pixel bounds at the input), checked on
a 3-layer MLP and a small CNN trained on scikit-learn's 8 x 8 digits (the paper uses MNIST, which
cannot be downloaded here); and the figure that sets deep Taylor beside sensitivity
(df/dx_i)^2 and naive Taylor at x~ = 0 (gradient x input). The paper states both properties as
exact results, with no tolerance; ours are float64 numbers: |sum R - f| / f <= 1e-6 and no
relevance below -1e-12 max R. Naive Taylor at 0 also conserves f exactly for a bias-free ReLU
network (Euler's theorem) but is not positive; sensitivity sums to ||grad f||^2, not to f.

Pixels are scaled from [0, 16] to [0, 1], so the z^B bounds are low = 0, high = 1. Only samples
whose explained output (the logit of the predicted class) is positive are explained, as the
paper requires; their share is reported.

Cost: quick (20 epochs, 300 test digits explained) about 20 s on 2 CPU cores; full (60 epochs,
every test digit) about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from physxai import attribute
from physxai.harness import ExperimentConfig, Reference, main, save_arrays, save_figure
from physxai.models import CNN, MLP, fit
from physxai.plot import heatmap_grid


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Knobs of the reproduction (every one has a default)."""

    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    mlp_hidden: tuple[int, ...] = (100, 100)
    cnn_channels: tuple[int, ...] = (16, 32)
    test_fraction: float = 0.3
    n_explained: int = 0  # 0: every test digit
    n_figure: int = 6


PRESETS = {
    "quick": Config(epochs=20, n_explained=300),
    "full": Config(),
}

_EXACT = "Pattern Recognit. 65, 211 (2017), Sec. 4 (exact for bias-free ReLU nets)"
CLAIMS = {
    "mlp_test_accuracy": Reference(None, low=0.90, source="ours: the model must have learned digits"),
    "cnn_test_accuracy": Reference(None, low=0.90, source="ours: the model must have learned digits"),
    "mlp_deep_taylor_conservation": Reference(0.0, high=1e-6, kind="exact", source=_EXACT),
    "cnn_deep_taylor_conservation": Reference(0.0, high=1e-6, kind="exact", source=_EXACT),
    "mlp_deep_taylor_min_relevance": Reference(0.0, low=-1e-12, kind="exact", source=_EXACT),
    "cnn_deep_taylor_min_relevance": Reference(0.0, low=-1e-12, kind="exact", source=_EXACT),
    "mlp_naive_taylor_conservation": Reference(0.0, high=1e-6, kind="exact", source="Euler's theorem"),
    "cnn_naive_taylor_conservation": Reference(0.0, high=1e-6, kind="exact", source="Euler's theorem"),
}


def load_data(cfg: Config):
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float64).unsqueeze(1)  # (n, 1, 8, 8)
    y = torch.tensor(digits.target, dtype=torch.long)
    idx_train, idx_test = train_test_split(
        np.arange(len(y)), test_size=cfg.test_fraction, random_state=cfg.seed, stratify=digits.target
    )
    return x[idx_train], y[idx_train], x[idx_test], y[idx_test]


def build_models(cfg: Config):
    torch.manual_seed(cfg.seed)
    mlp = MLP(64, hidden=cfg.mlp_hidden, out_features=10, bias=False).double()
    cnn = CNN(1, 10, channels=cfg.cnn_channels, pool="max", input_size=8, bias=False, head_hidden=(64,)).double()
    return {"mlp": mlp, "cnn": cnn}


def relevance_stats(R: torch.Tensor, f: torch.Tensor) -> dict[str, float]:
    """Conservation gap and positivity of relevance maps R (n, ...) for outputs f (n,)."""
    total = R.flatten(1).sum(1)
    scale = R.flatten(1).abs().amax(1)
    return {
        "conservation": float(((total - f).abs() / f.abs()).max()),
        "min_relevance": float((R.flatten(1).amin(1) / scale).min()),
        "negative_share": float((R.clamp(max=0).flatten(1).abs().sum(1) / R.flatten(1).abs().sum(1)).mean()),
    }


def run(cfg: Config, out_dir) -> dict[str, float]:
    x_train, y_train, x_test, y_test = load_data(cfg)
    metrics: dict[str, float] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, model in build_models(cfg).items():
        fit(model, (x_train, y_train), epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            validation=(x_test, y_test), seed=cfg.seed)
        with torch.no_grad():
            logits = model(x_test)
        pred = logits.argmax(1)
        metrics[f"{name}_test_accuracy"] = float((pred == y_test).double().mean())
        f = logits.gather(1, pred[:, None])[:, 0]
        keep = torch.nonzero(f > 0)[:, 0]
        metrics[f"{name}_positive_output_share"] = len(keep) / len(f)
        if cfg.n_explained:
            keep = keep[: cfg.n_explained]
        x, t, fx = x_test[keep], pred[keep], f[keep]
        maps = {
            "sensitivity": attribute(model, x, "saliency", target=t, mode="squared"),
            "naive_taylor": attribute(model, x, "gradient_x_input", target=t),
            "deep_taylor": attribute(model, x, "deep_taylor", target=t, low=0.0, high=1.0),
        }
        for method, R in maps.items():
            for key, value in relevance_stats(R, fx).items():
                metrics[f"{name}_{method}_{key}"] = value
            arrays[f"{name}/{method}"] = R[: cfg.n_figure * 4, 0].numpy()
        cols = range(min(cfg.n_figure, len(keep)))
        fig = heatmap_grid(
            [[maps[m][j, 0].numpy() for j in cols] for m in maps],
            row_labels=["sensitivity\n(df/dx)^2", "naive Taylor\nx df/dx", "deep Taylor\nz+ / zB"],
            col_labels=[f"digit {int(t[j])}, f = {float(fx[j]):.1f}" for j in cols],
            inputs=[x[j, 0].numpy() for j in cols],
            title=f"{name.upper()} (bias-free ReLU, test accuracy {metrics[f'{name}_test_accuracy']:.3f}): "
            "relevance of the predicted class, red = evidence for, blue = against",
        )
        save_figure(fig, out_dir, f"{name}_heatmaps")
    save_arrays(out_dir, arrays, {k: {"units": "relevance (logit units)", "dims": "sample,y,x"} for k in arrays},
                source_dataset="sklearn.datasets.load_digits")
    return metrics


if __name__ == "__main__":
    raise SystemExit(main(module=__import__(__name__)))
