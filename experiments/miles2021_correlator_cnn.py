"""Correlator CNNs: which multi-site correlators tell two kinds of quantum-gas snapshots apart.

C. Miles, A. Bohrdt, R. Wu, C. Chiu, M. Xu, G. Ji, M. Greiner, K. Q. Weinberger, E. Demler,
E.-A. Kim, Correlator convolutional neural networks as an interpretable architecture for
image-like quantum matter data, Nat. Commun. 12, 3905 (2021), arXiv:2011.03474.

Reproduced: the CCNN and its regularisation path (``physxai.probes.ccnn``). A CCNN with two
positive 3 x 3 filters over the channels (up, down, hole) computes, for every order n <= 4, the
spatial sum c_alpha^(n) of the filter-weighted sums over products of n distinct (site, channel)
pairs (Newton-Girard recursion), averages them over the 8 symmetries of the square and classifies
with a normalised linear head; L1 on the filters. The filters are then frozen, the correlators
standardised on the training set (and divided by the order divisors 1.0, 1.1, 1.2, 1.3 of the
paper's path script, which penalise higher orders more), and an L1 logistic regression is
followed over a log grid of C = 1/lambda: the first correlator to turn on is the most important.
Order 1 takes part (the paper's script zeroes it): with our zero padding order 1 is exactly the
channel counts, so if it entered first the classes would differ in densities.

- **quick** (Miles et al.'s demo notebook, there with Heisenberg QMC data): classical Ising
  antiferromagnet snapshots (16 x 16, T = 2.0 < T_N) against the same snapshots with their sites
  shuffled (card ``miles2021_quick``: equal densities, no correlations); 600 training snapshots,
  60 epochs of batch 64, lr 0.005, gamma 0.01. Criteria: accuracy >= 0.95; the first feature on
  the path is beta^(2) (the demo's finding); its filter is a *checkerboard*, measured as the
  staggered share of its spin weight |sum_a (-1)^(a_x + a_y) (f_up - f_down)| / sum_a (f_up +
  f_down) >= 0.7 (``checkerboard_score``: 1 when up and down weights sit on opposite
  sublattices); and the sign of its path coefficient is that of its Neel contrast (how much a
  perfect Neel state raises the correlator over random spins, ``neel_contrast``). The demo's
  own settings (lr 0.05, gamma 0.5) leave our filters at Adam's noise floor (weights ~ lr):
  checkerboard scores <= 0.5 in 3 of 3 seeds, hence the smaller values.
- **full** (the paper's headline, Fig. 4): geometric strings vs the doped pi-flux state at 9%
  doping, 10 x 10 cropped to the 80-site disc (card ``miles2021_full``: our generators, not the
  paper's data; hole positions matched exactly, and the spin correlators on all 12 neighbour
  shells the torus resolves matched by tuning the couplings of classical Ising parents,
  ``snapshots.tune_shell_couplings``). Paper
  settings (lr 0.005, gamma 0.005, batch 256; 100 epochs instead of 400). Criteria
  (REPRODUCTIONS.md): the CCNN within 5 points of a plain CNN (ConvNetBN of the paper's code:
  four bias-free 3 x 3 convolutions 24-48-48-96 with BatchNorm, two max-pools, 150 hidden;
  trained on the 8 D4 images of every snapshot with early stopping on a tenth of the training
  split, without which it memorises the data and reaches 0.60); the first feature on the path
  has order >= 3 and uses the hole channel (its filter's hole weight is at least 0.2 of its
  strongest channel's; the metric ``first_feature_separation_without_holes`` checks that the
  holes matter); and the control, an L1 logistic regression on all one- and two-point
  correlators within a 3 x 3 window (the 3 densities and the D4-averaged pair correlators of
  every channel pair at the 5 displacement classes, ``low_order_correlators``), stays at or
  below 0.60 test accuracy at its best C (chosen on the test set: the most generous control).

Our results (seed 0, 1 torch thread). Quick: accuracy 1.000, first feature c2[f0: up+down] with
checkerboard score 0.97 (both filters are checkerboards, 0.97 and 0.99), coefficient sign +1 =
sign of its Neel contrast (+0.95); control 1.000 (AFM vs random is a two-point problem). Over
seeds 0-4 the accuracy (1.000) and the order-2 first feature hold every time, but only seeds 0
and 2 learn checkerboards (0.97, 0.95): seeds 1, 3, 4 learn ferromagnetic clusters (parallel
spins on neighbouring sites, checkerboard score <= 0.14), whose order-2 correlator is what the
antiferromagnet *lacks*; their coefficients are negative, as their Neel contrasts (-0.15 to
-0.27) predict. On data this easy to separate the filter found depends on the initial weights.

Full: CCNN test accuracy 0.665 (train 0.665), plain CNN 0.717 (best epoch 3 of 6): gap 5.25
points, **missed** (criterion <= 5); first feature c4[f0: up+down+hole] (then c4 of the other
filter), order 4 with holes: removing the hole channel from its filter cuts its class
separation (KKT score) from 0.057 to 0.015; both filters put a hole next to opposite spins
(fig_filters.png). Control 0.545 <= 0.60: holds. Seeds 1 and 2 (split and initial weights;
same card): CCNN 0.645 / 0.672, CNN 0.719 / 0.688, gap 7.35 / 1.60 points, first feature c4
with holes both times (separation 0.054 -> 0.007 and 0.059 -> 0.011 without holes), control
0.565 / 0.550: seed 2 passes every claim, so the gap claim holds in 1 of 3 seeds while the
order, hole and control claims hold in 3 of 3. With an earlier tuning draw of the same recipe
(n_tune 2000): gap 5.95 points, control 0.566, first feature c4 with holes again. 400 epochs
instead of 100 do not help the CCNN (0.641, gap 7.6): it has converged, and
the plain CNN sees more than two order-4 filters over a 3 x 3 window can express (its
receptive field spans the disc). Four filters instead of the paper's two (``--set
n_filters=4``) reach 0.684, 3.4 points below the CNN, first feature again c4 with holes (up +
hole, 0.059 -> 0.027 without holes): the miss is the capacity of two filters on our data. The
preset keeps the paper's two, so the gap is the one claim that misses, and by little.

What changed the control (0.632 with the previous card): the string parents. Half-filled
pi-flux parents with l0 tuned to the nn correlator alone kept stronger spin correlations
beyond it (0.025 against 0.013 at distance 2), which the control read off; the shell-Ising
parents match every shell to about 1e-3 (nn -0.0953 against -0.0965; the rest of the residual
is a nearly flat, ever more frustrated direction of the couplings that the tuner's ridge
regularises). Matching only the 5 shells of a 3 x 3 window gave control 0.515 but left
distance 3 apart (0.023 against -0.008), and the plain CNN used it (gap 6.7 points).

Cost on 2 busy CPU cores (one torch thread): quick about 25-45 s (card ~6 s on first use, CCNN
~15 s, path ~2 s); full about 5-7 minutes (card ~80 s on first use, CCNN 100 epochs ~120-170 s,
plain CNN with augmentation ~150 s, control and path ~10 s).
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from physxai.data import load
from physxai.harness import ExperimentConfig, Reference, main, save_arrays, save_figure
from physxai.models import fit
from physxai.physics import snapshots
from physxai.plot import coefficient_path, correlator_filters, path_accuracy
from physxai.probes.ccnn import (
    CCNNProbe,
    channel_weights,
    checkerboard_score,
    low_order_correlators,
    neel_contrast,
    regularization_path,
)

HOLE = snapshots.CHANNELS.index("hole")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Knobs of the reproduction (every one has a default)."""

    card: str = "miles2021_full"
    test_fraction: float = 0.2
    n_train: int = 0  # training snapshots used (balanced); 0: the whole training split
    crop_radius: float = 5.0  # disc of snapshots.circular_mask; 0: no crop
    n_filters: int = 2
    kernel_size: int = 3
    order: int = 4
    gamma: float = 0.005  # L1 on the filters
    epochs: int = 100
    batch_size: int = 256
    lr: float = 0.005
    n_penalties: int = 20
    decades: float = 3.0
    order_divisors: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3)
    include_order_1: bool = True
    channel_threshold: float = 0.2  # a filter "uses" a channel above this share of its strongest
    blank_threshold: float = 0.1  # a filter below this share of the heaviest filter is blank
    cnn_epochs: int = 12  # plain CNN reference (at most; early stopping); 0: skip
    cnn_lr: float = 1e-3
    cnn_batch_size: int = 256
    cnn_augment: bool = (
        True  # train on the 8 D4 images of every snapshot (the CCNN has D4 built in)
    )
    cnn_validation_fraction: float = 0.1  # of the training split, for early stopping
    cnn_patience: int = 3
    control_window: int = 3  # one- and two-point correlators within this window; 0: skip
    control_penalties: int = 20
    max_batch_size: int = 1024


PRESETS = {
    "quick": Config(
        card="miles2021_quick",
        test_fraction=0.5,
        n_train=600,
        crop_radius=0.0,
        gamma=0.01,
        epochs=60,
        batch_size=64,
        lr=0.005,
        cnn_epochs=0,
    ),
    "full": Config(),
}

_DEMO = "Miles et al. 2021, demo notebook (AFM vs random): beta^(2) of a checkerboard filter first"
_CRIT = "criterion of REPRODUCTIONS.md"


def _claims(preset: str) -> dict[str, Reference]:
    """The quick preset checks the demo; the full preset the paper's headline."""
    if preset == "quick":
        return {
            "ccnn_test_accuracy": Reference(None, low=0.95, source=f"{_CRIT}: AFM vs random"),
            "first_feature_order": Reference(2.0, tol=0.0, kind="figure", source=_DEMO),
            "first_feature_checkerboard": Reference(
                None,
                low=0.7,
                source="its filter is a checkerboard: staggered share of the spin weight (ours)",
            ),
            "first_feature_sign_consistent": Reference(
                1.0,
                tol=0.0,
                kind="ours",
                source="the path coefficient's sign is that of the feature's Neel contrast",
            ),
        }
    return {
        "accuracy_gap_points": Reference(
            None, high=5.0, source=f"{_CRIT}: plain CNN minus CCNN test accuracy, in points"
        ),
        "first_feature_order": Reference(
            4.0,
            low=3.0,
            kind="figure",
            source="Fig. 4: fourth-order spin-charge correlators decide (criterion: order >= 3)",
        ),
        "first_feature_uses_hole": Reference(
            1.0, tol=0.0, kind="figure", source="Fig. 4: the decisive correlators involve holes"
        ),
        "control_accuracy": Reference(
            None, high=0.60, source=f"{_CRIT}: L1 on 1- and 2-point correlators in 3x3"
        ),
    }


CLAIMS = _claims


# ---------------------------------------------------------------------------------------------
# the plain CNN reference (ConvNetBN of the paper's code)


def conv_net_bn(lattice_size: int, in_channels: int = 3, width: int = 24) -> nn.Sequential:
    """Four bias-free 3x3 convolutions (w, 2w, 2w, 4w) with BatchNorm and ReLU, a 2x2 max-pool
    after the second and the fourth, then Linear(-> 150) -> BatchNorm (no affine) -> ReLU ->
    Linear(-> 2): the ``ConvNetBN`` baseline of Miles et al.'s code."""
    layers: list[tuple[str, nn.Module]] = []
    widths = [in_channels, width, 2 * width, 2 * width, 4 * width]
    for i in range(4):
        layers += [
            (f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, bias=False)),
            (f"bn{i + 1}", nn.BatchNorm2d(widths[i + 1])),
            (f"act{i + 1}", nn.ReLU()),
        ]
        if i in (1, 3):
            layers.append((f"pool{i // 2 + 1}", nn.MaxPool2d(2)))
    side = lattice_size // 4
    layers += [
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(4 * width * side * side, 150)),
        ("fcbn", nn.BatchNorm1d(150, affine=False)),
        ("fcact", nn.ReLU()),
        ("fc2", nn.Linear(150, 2)),
    ]
    return nn.Sequential(OrderedDict(layers))


def d4_images(x: torch.Tensor) -> torch.Tensor:
    """The 8 images of square lattices ``(n, C, L, L)`` under the symmetries of the square,
    stacked along the batch: ``(8 n, C, L, L)``."""
    flipped = x.transpose(-1, -2)
    return torch.cat([torch.rot90(v, k, dims=(-2, -1)) for v in (x, flipped) for k in range(4)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> float:
    with torch.no_grad():
        pred = torch.cat([model(c).argmax(1) for c in torch.split(x, batch)])
    return float((pred == y).double().mean())


# ---------------------------------------------------------------------------------------------
# helpers


def split(targets: np.ndarray, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): a random ``test_fraction`` of each class is held out; the
    training set is then cut to ``n_train`` (half per class) when ``n_train > 0``."""
    rng = np.random.default_rng(cfg.seed)
    train, test = [], []
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(targets == label))
        n_test = round(cfg.test_fraction * idx.size)
        test.append(idx[:n_test])
        rest = idx[n_test:]
        train.append(rest[: cfg.n_train // 2] if cfg.n_train > 0 else rest)
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(test))


def separation(values: np.ndarray, y: np.ndarray) -> float:
    """The KKT score of one feature at zero coefficients (``RegularizationPath.gradient_at_zero``
    per sample): |sum_i s_i (1/2 - y_i) z_i| / n with balanced weights s_i and z standardised."""
    std = values.std()
    if std == 0:
        return 0.0
    z = (values - values.mean()) / std
    n = y.size
    weights = np.where(y == 1, n / (2.0 * y.sum()), n / (2.0 * (n - y.sum())))
    return float(abs(((0.5 - y) * weights) @ z) / n)


def correlators_without(probe: CCNNProbe, x: torch.Tensor, channel: int, batch: int) -> np.ndarray:
    """The probe's correlators with one channel removed from every filter: ``(n, F, order)``."""
    model = copy.deepcopy(probe.model_)
    with torch.no_grad():
        model.filters[:, channel] = 0.0
        feats = torch.cat([model.correlators(c) for c in torch.split(x, batch)])
    return feats.double().cpu().numpy()


# ---------------------------------------------------------------------------------------------
# the run


def run(cfg: Config, out_dir) -> dict:
    """CCNN, its regularisation path, the plain CNN and the low-order control; figures, arrays."""
    data = load(cfg.card)
    dev = torch.device(cfg.device)
    targets = np.asarray(data.targets, dtype=np.int64)
    size = int(data.inputs.shape[-1])
    mask = snapshots.circular_mask(size, cfg.crop_radius) if cfg.crop_radius > 0 else None
    x_all = torch.as_tensor(np.asarray(data.inputs), dtype=torch.float32, device=dev)
    if mask is not None:  # crop both classes identically, once, for every model and the control
        x_all = x_all * torch.as_tensor(mask, dtype=torch.float32, device=dev)
    y_all = torch.as_tensor(targets, device=dev)
    train, test = split(targets, cfg)
    x, y = x_all[train], y_all[train]
    x_test, y_test = x_all[test], y_all[test]
    names = list(data.attrs.get("target_names", ["class 0", "class 1"]))
    metrics: dict = {
        "lattice_size": size,
        "n_sites": int(mask.sum()) if mask is not None else size * size,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "target_names": names,
        "include_order_1": cfg.include_order_1,
        "order_divisors": list(cfg.order_divisors),
    }

    # --- the CCNN
    start = time.perf_counter()
    probe = CCNNProbe(
        n_filters=cfg.n_filters,
        kernel_size=cfg.kernel_size,
        order=cfg.order,
        mask=mask,
        gamma=cfg.gamma,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        channels=snapshots.CHANNELS,
        seed=cfg.seed,
        device=cfg.device,
        progress=False,
    ).fit(x, y)
    metrics["ccnn_seconds"] = time.perf_counter() - start
    batch = cfg.max_batch_size
    metrics["ccnn_train_accuracy"] = probe.score(x, y, max_batch_size=batch)
    metrics["ccnn_test_accuracy"] = probe.score(x_test, y_test, max_batch_size=batch)
    filters = probe.filters_.double().cpu().numpy()
    board = checkerboard_score(filters)
    weights = channel_weights(filters)  # (F, C)
    metrics["filter_weight"] = weights.sum(1).tolist()
    metrics["filter_checkerboard"] = board.tolist()

    # --- the regularisation path on the frozen correlators
    start = time.perf_counter()
    feats = probe.correlators(x, max_batch_size=batch).double().cpu().numpy()
    feats_test = probe.correlators(x_test, max_batch_size=batch).double().cpu().numpy()
    y_np, y_test_np = y.cpu().numpy(), y_test.cpu().numpy()
    path = regularization_path(
        feats,
        y_np,
        test_features=feats_test,
        test_labels=y_test_np,
        n_penalties=cfg.n_penalties,
        decades=cfg.decades,
        order_divisors=cfg.order_divisors,
        include_order_1=cfg.include_order_1,
        filters=filters,
        channels=snapshots.CHANNELS,
        channel_threshold=cfg.channel_threshold,
        blank_threshold=cfg.blank_threshold,
        seed=cfg.seed,
    )
    metrics["path_seconds"] = time.perf_counter() - start
    first = path.first_label
    j = path.first_active[0]
    step = int(path.entry_index[j])
    alpha = first.filter
    metrics.update(
        {
            "first_feature": str(first),
            "first_feature_order": first.order,
            "first_feature_filter": alpha,
            "first_feature_checkerboard": float(board[alpha]),
            "first_feature_uses_hole": float("hole" in first.channels),
            # > 0: the correlator is larger in class 1 (antiferromagnet, strings)
            "first_feature_sign": float(np.sign(path.coefficients[step, j])),
            "first_feature_hole_share": float(weights[alpha, HOLE] / weights[alpha].max()),
            # > 0: Neel order raises this correlator (a checkerboard), < 0: lowers it
            "first_feature_neel_contrast": float(neel_contrast(filters, first.order)[alpha, -1]),
            "first_feature_sign_consistent": float(
                np.sign(path.coefficients[step, j])
                == np.sign(neel_contrast(filters, first.order)[alpha, -1])
            ),
            "entry_sequence": [str(path.feature_labels[i]) for i in path.entry_sequence],
            "blank_filters": list(path.blank_filters),
            "path_c_min": path.c_min,
            "path_test_accuracy_at_first_entry": float(path.test_accuracy[step]),
            "path_best_test_accuracy": float(np.nanmax(path.test_accuracy)),
            "path_converged": bool(path.converged.all()),
        }
    )
    # does the first feature *need* the holes? its separation with the hole channel removed
    sep = separation(feats[:, alpha, first.order - 1], y_np)
    ablated = correlators_without(probe, x, HOLE, batch)[:, alpha, first.order - 1]
    metrics["first_feature_separation"] = sep
    metrics["first_feature_separation_without_holes"] = separation(ablated, y_np)

    # --- the control: one- and two-point correlators in a window, L1 logistic regression
    control = None
    if cfg.control_window > 0:
        start = time.perf_counter()
        low, low_labels = low_order_correlators(x, window=cfg.control_window, mask=mask)
        low_test, _ = low_order_correlators(x_test, window=cfg.control_window, mask=mask)
        control = regularization_path(
            low.double().cpu().numpy()[:, :, None],
            y_np,
            test_features=low_test.double().cpu().numpy()[:, :, None],
            test_labels=y_test_np,
            n_penalties=cfg.control_penalties,
            decades=4.0,
            seed=cfg.seed,
        )
        best = int(np.nanargmax(control.test_accuracy))
        # which one- and two-point statistics differ between the classes (KKT scores)
        low_np = low.double().cpu().numpy()
        scores = np.array([separation(low_np[:, i], y_np) for i in range(low_np.shape[1])])
        top = np.argsort(-scores)[:5]
        metrics["control_top_features"] = [f"{low_labels[i]}: {scores[i]:.3f}" for i in top]
        metrics.update(
            {
                "control_accuracy": float(control.test_accuracy[best]),
                "control_train_accuracy": float(control.train_accuracy[best]),
                "control_n_features": len(low_labels),
                "control_first_feature": low_labels[control.first_active[0]],
                "control_seconds": time.perf_counter() - start,
            }
        )

    # --- the plain CNN reference
    if cfg.cnn_epochs > 0:
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            cnn = conv_net_bn(size).to(dev)
        # its best shot: the 8 D4 images of every training snapshot (the CCNN is D4-invariant
        # by construction) and early stopping on a validation part of the training split.
        # Without them the 131k-parameter network memorises the 8000 snapshots (30 epochs:
        # train 1.00, test 0.60); with them it peaks near 0.69 after about 5 epochs.
        n_val = round(cfg.cnn_validation_fraction * x.shape[0])
        x_fit, y_fit = x[n_val:], y[n_val:]
        if cfg.cnn_augment:
            x_fit, y_fit = d4_images(x_fit), y_fit.repeat(8)
        history = fit(
            cnn,
            (x_fit, y_fit),
            validation=(x[:n_val], y[:n_val]),
            early_stopping=cfg.cnn_patience,
            epochs=cfg.cnn_epochs,
            batch_size=cfg.cnn_batch_size,
            lr=cfg.cnn_lr,
            seed=cfg.seed,
            progress=False,
        )
        metrics["cnn_epochs_run"] = history.epochs
        metrics["cnn_best_epoch"] = (history.best_epoch or 0) + 1
        metrics["cnn_seconds"] = time.perf_counter() - start
        metrics["cnn_parameters"] = sum(p.numel() for p in cnn.parameters())
        metrics["cnn_train_accuracy"] = accuracy(cnn, x, y, batch)
        metrics["cnn_test_accuracy"] = accuracy(cnn, x_test, y_test, batch)
        metrics["accuracy_gap_points"] = 100.0 * (
            metrics["cnn_test_accuracy"] - metrics["ccnn_test_accuracy"]
        )

    # --- figures
    rows = [
        f"filter {a}{' (blank)' if a in path.blank_filters else ''}\n"
        f"sum|f| = {weights[a].sum():.2f}\ncheckerboard {board[a]:.2f}"
        for a in range(cfg.n_filters)
    ]
    save_figure(
        correlator_filters(
            filters,
            channels=snapshots.CHANNELS,
            row_titles=rows,
            title=f"CCNN filters |f|, {names[1]} vs {names[0]}; checkerboard = staggered share "
            "of the spin weight",
        ),
        out_dir,
        "filters",
    )
    save_figure(coefficient_path(path), out_dir, "path")
    references = {"CCNN": metrics["ccnn_test_accuracy"]}
    if "cnn_test_accuracy" in metrics:
        references["plain CNN"] = metrics["cnn_test_accuracy"]
    if control is not None:
        references["control: 1- and 2-point, best C"] = metrics["control_accuracy"]
    save_figure(
        path_accuracy(
            path, references=references, title="accuracy of the L1 path on the CCNN correlators"
        ),
        out_dir,
        "path_accuracy",
    )
    save_figure(
        feature_figure(feats_test[:, alpha, first.order - 1], y_test_np, names, str(first)),
        out_dir,
        "first_feature",
    )

    # --- arrays
    arrays: dict = {
        "ccnn/filters": filters,
        "ccnn/test_correlators": feats_test,
        "ccnn/test_labels": y_test_np,
        "path/penalties": path.penalties,
        "path/coefficients": path.coefficients,
        "path/train_accuracy": path.train_accuracy,
        "path/test_accuracy": path.test_accuracy,
        "path/gradient_at_zero": path.gradient_at_zero,
    }
    labels = [str(lab) for lab in path.feature_labels]
    attrs: dict = {
        "ccnn/filters": {
            "units": "1",
            "dims": "filter,channel,y,x",
            "channels": snapshots.CHANNELS,
        },
        "ccnn/test_correlators": {"units": "counts", "dims": "sample,filter,order"},
        "ccnn/test_labels": {"units": "class", "dims": "sample", "classes": names},
        "path/penalties": {"units": "1", "dims": "step", "meaning": "C = 1/lambda"},
        "path/coefficients": {"units": "1", "dims": "step,feature", "features": labels},
        "path/train_accuracy": {"units": "1", "dims": "step"},
        "path/test_accuracy": {"units": "1", "dims": "step"},
        "path/gradient_at_zero": {"units": "1", "dims": "feature", "features": labels},
    }
    if control is not None:
        arrays["control/penalties"] = control.penalties
        arrays["control/test_accuracy"] = control.test_accuracy
        attrs["control/penalties"] = {"units": "1", "dims": "step"}
        attrs["control/test_accuracy"] = {"units": "1", "dims": "step"}
    save_arrays(out_dir, arrays, attrs, source_dataset=cfg.card)
    return metrics


def feature_figure(values: np.ndarray, y: np.ndarray, names: list[str], label: str) -> Figure:
    """Histograms of the first correlator on the test snapshots, one per class."""
    fig = Figure(figsize=(6.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    bins = np.histogram_bin_edges(values, bins=40)
    for cls, colour in ((0, "tab:blue"), (1, "tab:red")):
        ax.hist(values[y == cls], bins=bins, alpha=0.55, color=colour, label=names[cls])
    ax.set_xlabel(f"correlator {label} (spatial sum, test snapshots)")
    ax.set_ylabel("number of snapshots")
    ax.set_title(f"the first feature on the path, {label}, by class", fontsize=9)
    ax.legend(fontsize=8)
    return fig


if __name__ == "__main__":
    raise SystemExit(main(module=__import__(__name__)))
