"""Activation maximisation on digits: plain, with a density expert, and in a generator's code space.

G. Montavon, W. Samek, K.-R. Mueller, Methods for interpreting and understanding deep neural
networks, Digital Signal Processing 73, 1 (2018), arXiv:1706.07979, Sec. 3 (3.1 plain AM, 3.2 AM
with an expert, 3.3 AM in code space); K. Simonyan, A. Vedaldi, A. Zisserman, arXiv:1312.6034;
A. Nguyen et al., NeurIPS 2016, arXiv:1605.09304. The figure is the grid of the ICASSP 2017
tutorial (rows = variants, columns = classes 0-9).

Reproduced on scikit-learn's 8 x 8 digits (pixels in [0, 16]; MNIST cannot be downloaded here),
with an MLP classifier trained on half of the digits (the *training* split; the other half is
*held out*). Three variants ascend, for every class c,

- **plain** (Sec. 3.1): ``log p(omega_c | x) - lambda ||x||^2``, x projected onto [0, 16];
- **density** (Sec. 3.2): the same ``+ w log q(x)``, q a Gaussian mixture (the expert) fitted on
  the training split (``GaussianMixtureDensity``, ``reg_covar`` = 0.1 squared pixel units, which
  sets the variance of the always-zero pixels: reported as ``expert_zero_variance_pixels``);
- **generator** (Sec. 3.3): ``x = g(z)``, ascending ``log p(omega_c | g(z)) - lambda_z ||z||^2``,
  g the mean decoder of a Gaussian VAE (``physxai.probes.VariationalAutoencoder``, pixels scaled
  to [0, 1]) mapped back to pixel units, ``g(z) = 16 clip(decoder(z), 0, 1)``,

each started at the data mean and at the mean of class c (of the training split; in code space,
at the VAE's encoding of those images). The objective is the log-probability (log-softmax), which
can also rise by lowering the other classes' scores (PAPERS.md Sec. 12). lambda, lambda_z, the
step sizes (Adam), the numbers of steps and the initialisations are in ``config.json`` and in the
attributes of ``arrays.h5``; every AM run draws its restart noise from a generator seeded afresh,
so all variants and all weights start from the same perturbed starts.

The expert's weight w is not a setting but the outcome of a rule fixed before the run and
executed inside :func:`run`: AM with the expert is run for every w of a grid, ``density_weights``
= (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1), half-decade steps up to w = 1, where the objective is
the paper's Bayes form ``log p(omega_c | x) + log q(x) = log q(x | omega_c) + const``; the rule
(:func:`select_density_weight`) takes **the largest w whose 20 prototypes all keep
p(omega_c | x) >= 0.99** under the classifier (``min_probability``, the line of the claims). Why:
the larger w, the more the prior shapes the prototype (w = 1 would be exact for a calibrated q,
but a diagonal mixture over 64 pixels is far from that, and its log-density dwarfs the
classifier's); the prototype must still be what the classifier calls class c with confidence, or
it is no longer a prototype *of the classifier*. The rule sees only the classifier's probabilities
on the training-side objective; the judge below is fitted on the held-out split after the
selection and never enters it. If no w is feasible the smallest is taken and the probability claim
reported missed. The whole sweep (lowest p, and for the report the judge log-likelihood and the
nearest-digit distance of every w) is in the metrics (``density_sweep_*``), in ``arrays.h5``
(``digits/density_sweep``) and in ``fig_density_sweep``. Because the rule enforces p >= 0.99,
``density_min_probability`` holds by construction whenever a grid weight is feasible; the test of
the variant is its realism at the selected weight. Disclosure: the rule and the grid were fixed
after an earlier session had tried w = 0.1, 0.03, 0.01, 0.005 and 0.003 by hand on the quick
preset (and kept 0.003, the largest that met p >= 0.99 there), so on quick the rule's outcome was
known in advance; the rule was not chosen by which claims it makes pass, and its outcome on full
was not.

The paper's claim (figure only, no numbers): plain AM gives unnatural patterns, the expert and the
code-space versions give realistic prototypes. Our criteria (REPRODUCTIONS.md): every prototype of
every variant reaches p(omega_c | x) >= 0.99; realism is ranked generator >= density > plain by
two measures, (i) the mean log-likelihood under a **judge** Gaussian mixture fitted on the
*held-out* split with full covariances (independent of the diagonal expert, which saw only the
training split, so the test is not circular; PAPERS.md Sec. 12), and (ii) the mean Euclidean
distance (pixel units) to the nearest held-out digit. For scale, the judge's mean log-likelihood of
the training digits (which it never saw) is reported as ``judge_loglik_real_digits``.

Also (ours, method demonstration on physics data): an MLP classifies the phase of 16 x 16 Ising
snapshots (the ``wetzel2017_quick`` card, T_c = 2.269 J/k_B) and AM with the tanh
parameterisation (spins in [-1, 1]) finds the configurations that maximise log p(ordered) and
log p(disordered), from 4 noisy starts around the all-zero configuration each. A physicist expects
|M| near 1 for "ordered"; criterion (ours): the best "ordered" prototype has |M| >= 0.9, where M is
the mean of the sign of its spins. The question "which configuration does the network find most
'ordered'?" is asked three ways, as on the digits, with criteria fixed before the prior variants
were first run: **plain**; with a **density expert** (a diagonal Gaussian mixture of 10
components, ``reg_covar`` 0.1, fitted on the training snapshots; its weight selected by the same
rule from the same grid, on the two phase prototypes); and in the **code space** of a Bernoulli
VAE (2 latents, beta = 1, fitted on the training snapshots; ``g(z) = 2 sigmoid(decoder(z)) - 1``,
the expected spins; starts z ~ N(0, 1), the VAE's prior). For each prior variant: both prototypes
have p >= 0.99, and the "ordered" one |M| >= 0.9. The magnetisation of the "disordered" prototypes
is reported with no criterion (an MLP may call any configuration of small |M| disordered), and so
is the fraction of restarts that end magnetised (``*_ordered_fraction_restarts_magnetized``).

Results (quick / full). Digits: the rule selects w = 0.003 on both presets (quick: p = 0.996,
0.990, 0.977, 0.944, 0.838, 0.583, 0.062 along the grid; full: 0.997, 0.995, 0.987, 0.966,
0.897, 0.725, 0.236). Every prototype has p >= 0.99 (least: plain 0.997 / 0.998, density 0.990 /
0.995, generator 0.998 / 0.999). Mean judge log-likelihood plain -490 / -413, density -103 /
-102, generator -99 / -114 (real training digits: -114); mean distance to the nearest held-out
digit 35.3 / 38.9, 18.8 / 19.5, 17.8 / 20.2 pixel units. Density > plain holds by both measures
with wide margins (+386 / +311 nats, 16.4 / 19.4 pixel units). **Generator >= density holds on
quick (+4.7 nats, 1.1 pixel units) and is missed on full (-12.2, -0.76)**: it depends on the
start (quick, from the data mean the generator wins, -90 vs -123; from the class means the expert
does, -84 vs -108, because the expert-regularised ascent stays near the class mean it starts
from) and on the restarts (full: 4 restarts with noise 0.5 in code units, the best by p, drift
further from the data; with another draw of the restart noise an earlier full run gave -105.6 vs
-102.0). Along the sweep the judge log-likelihood of the density variant varies by only ~8 nats
(-109 to -101 on both presets): on quick the generator beats the expert at every weight of the
grid, on full every weight beats the generator, so the order of the two priors is not an artefact
of the selected weight; what sets it is the start and the restarts. Plain AM last is
robust. The expert is diagonal, a different family from the full-covariance judge (a
full-covariance expert made the density prototypes more realistic than the generator's in an
earlier trial, -89 vs -99).

Ising: plain AM **misses** (quick and full alike, also with 2000 steps in an earlier trial): the
"ordered" prototypes reach p(ordered) = 0.997-0.999 (also after rounding to +-1 spins) with
|M| = 0.39 / 0.38 and a nearest-neighbour correlator of about 0.14, no restart magnetised, whereas
the real ordered snapshots have a mean |M| of 0.97 (``ising_real_ordered_mean_abs_magnetization``):
the classifier's "ordered" region begins far below the magnetisation of real ordered states, and
plain AM stops once the log-probability saturates. Both priors answer the physics question as a
physicist would: the best "ordered" prototype is the fully magnetised configuration (|M| = 1,
nearest-neighbour correlator 1, p(ordered) >= 0.9998) with the expert (w selected = 0.3 / 0.1) and
in code space; all claims on them hold. The two differ in robustness: in code space every restart
ends magnetised (4 of 4); with the expert only 1 of 4 does, the other three stop at a partly
magnetised mixture-component-like pattern (|M| ~ 0.48, p ~ 0.8-0.9), and the best restart is
chosen by p, as for the digits. Along the expert sweep |M| of the best "ordered" prototype is
0.91 / 0.88 at w = 0.001 and 1 for 0.003 <= w <= 0.1 (quick also 0.3); at w = 1 the p >= 0.99
constraint breaks (p ~ 0.7) and |M| falls to ~0.45. With either prior the "disordered"
prototypes are smooth, near-zero fields of expected spin (|M| = 0.07-0.16, correlator ~0.7 after
rounding: large domains), the mean of a disordered ensemble rather than a typical snapshot; the
plain ones are noise at |M| = 0.02-0.05. So the prior does the physics here: a classifier's
"ordered" region is wide, and the question "what is most ordered?" only has the expected answer
when AM is confined to configurations the data support.

Cost on 2 CPU cores (one torch thread): quick (classifier 100 epochs, VAE 60 epochs, 500 AM
steps, one start each, 7 expert weights, Ising VAE 20 epochs) about 50 s of CPU, 70 s wall with
the cores shared; full (200 and 150 epochs, 1000 steps, 4 noisy restarts per start, Ising VAE 30
epochs) about 75 s of CPU, 2-4 min wall with the cores heavily shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from torch import Tensor, nn

from physxai.data import load
from physxai.features import GaussianMixtureDensity, Objective, class_means, maximize_activation
from physxai.harness import ExperimentConfig, Reference, main, save_arrays, save_figure
from physxai.models import MLP, fit
from physxai.physics import ising
from physxai.probes import VariationalAutoencoder

PIXEL_MAX = 16.0
VARIANTS = ("plain", "density", "generator")
INITS = ("data mean", "class mean")
PHASES = ("ordered", "disordered")


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Knobs of the reproduction (every one has a default)."""

    held_out_fraction: float = 0.5
    # the classifier
    hidden: tuple[int, ...] = (64,)
    epochs: int = 200
    batch_size: int = 128
    lr: float = 3e-3
    # AM
    n_steps: int = 1000
    n_restarts: int = 4
    init_noise: float = 0.5  # pixel units (code units in code space), only with restarts > 1
    step_size: float = 0.3  # Adam, pixel units
    l2: float = 1e-5  # lambda of -lambda ||x||^2, x in pixel units
    # the class-probability line of the claims, also the constraint of the weight-selection rule
    min_probability: float = 0.99
    # Sec. 3.2: the density expert; its weight is selected by the rule of the module docstring
    # from this grid (half-decade steps up to the paper's Bayes weight 1)
    density_weights: tuple[float, ...] = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
    expert_components: int = 10
    expert_covariance: str = "diag"
    expert_reg_covar: float = 0.1
    # Sec. 3.3: the generator
    vae_latent: int = 8
    vae_hidden: tuple[int, ...] = (128,)
    vae_beta: float = 0.01
    vae_epochs: int = 150
    code_step_size: float = 0.05
    code_l2: float = 1e-3
    # the judge of realism, fitted on the held-out split
    judge_components: int = 10
    judge_covariance: str = "full"
    judge_reg_covar: float = 0.1
    # Ising phase classifier
    ising_hidden: tuple[int, ...] = (64,)
    ising_epochs: int = 30
    ising_n_steps: int = 300
    ising_step_size: float = 0.05
    ising_restarts: int = 4
    ising_init_noise: float = 0.1
    # Ising priors: a diagonal Gaussian-mixture expert and a Bernoulli VAE on the training
    # snapshots; the expert's weight is selected by the same rule from density_weights
    ising_expert_components: int = 10
    ising_expert_reg_covar: float = 0.1
    ising_vae_latent: int = 2
    ising_vae_hidden: tuple[int, ...] = (256,)
    ising_vae_beta: float = 1.0
    ising_vae_epochs: int = 30
    ising_code_step_size: float = 0.05
    ising_code_l2: float = 1e-3
    ising_code_init_noise: float = 1.0  # the VAE prior's standard deviation: starts z ~ N(0, 1)


PRESETS = {
    "quick": Config(
        epochs=100, vae_epochs=60, n_steps=500, n_restarts=1, ising_epochs=20, ising_vae_epochs=20
    ),
    "full": Config(),
}

_FIG = "Sec. 3 and the ICASSP 2017 tutorial grid (figure only; criterion of REPRODUCTIONS.md)"
_RULE = "holds by the weight-selection rule whenever a grid weight is feasible"
CLAIMS = {
    "test_accuracy": Reference(None, low=0.93, source="ours: the classifier must have learned"),
    "plain_min_probability": Reference(None, low=0.99, kind="figure", source=_FIG),
    "density_min_probability": Reference(None, low=0.99, kind="figure", source=f"{_FIG}; {_RULE}"),
    "generator_min_probability": Reference(None, low=0.99, kind="figure", source=_FIG),
    "judge_loglik_density_minus_plain": Reference(
        None, low=1e-12, kind="figure", source=f"{_FIG}: density > plain, held-out judge GMM"
    ),
    "judge_loglik_generator_minus_density": Reference(
        None, low=0.0, kind="figure", source=f"{_FIG}: generator >= density, held-out judge GMM"
    ),
    "nearest_distance_plain_minus_density": Reference(
        None, low=1e-12, kind="figure", source=f"{_FIG}: density closer to a real digit than plain"
    ),
    "nearest_distance_density_minus_generator": Reference(
        None, low=0.0, kind="figure", source=f"{_FIG}: generator at least as close as density"
    ),
    "ising_test_accuracy": Reference(None, low=0.85, source="ours: the phase classifier learned"),
    "ising_ordered_abs_magnetization": Reference(
        None, low=0.9, source="ours: the plain 'ordered' prototype is magnetised, |M| >= 0.9"
    ),
    "ising_density_min_probability": Reference(
        None, low=0.99, source=f"ours: both expert-AM phase prototypes are confident; {_RULE}"
    ),
    "ising_density_ordered_abs_magnetization": Reference(
        None, low=0.9, source="ours: the expert-AM 'ordered' prototype has |M| >= 0.9"
    ),
    "ising_generator_min_probability": Reference(
        None, low=0.99, source="ours: both code-space phase prototypes are confident"
    ),
    "ising_generator_ordered_abs_magnetization": Reference(
        None, low=0.9, source="ours: the code-space 'ordered' prototype has |M| >= 0.9"
    ),
}


def select_density_weight(
    weights: Sequence[float], min_probabilities: Sequence[float], threshold: float
) -> tuple[int, bool]:
    """The weight-selection rule: the largest weight whose prototypes keep p >= threshold.

    Parameters
    ----------
    weights : sequence of float
        The grid of density-expert weights, fixed before the run.
    min_probabilities : sequence of float
        For each weight, the lowest class probability (under the classifier, the quantity AM
        ascends) over the prototypes obtained with it.
    threshold : float

    Returns
    -------
    index : int
        Position of the selected weight in ``weights``: the largest feasible one, or the
        smallest weight when none is feasible.
    feasible : bool
        Whether the selected weight meets the threshold.

    Examples
    --------
    >>> select_density_weight([0.01, 0.1, 1.0], [0.999, 0.995, 0.5], 0.99)
    (1, True)
    """
    if len(weights) == 0 or len(weights) != len(min_probabilities):
        raise ValueError(
            "select_density_weight: weights and min_probabilities must be non-empty and of one "
            f"length; got {len(weights)} and {len(min_probabilities)}."
        )
    feasible = [i for i, p in enumerate(min_probabilities) if p >= threshold]
    if feasible:
        return max(feasible, key=lambda i: weights[i]), True
    return min(range(len(weights)), key=lambda i: weights[i]), False


def _min_probability(res) -> float:
    """The lowest class probability over the best restart of every start (log-prob objective)."""
    return float(res.objective.max(dim=1).values.exp().min())


class _PixelUnits(nn.Module):
    """``model(x / 16)``: a classifier trained on [0, 1] pixels, seen in [0, 16] pixel units."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x / PIXEL_MAX)


class _DecoderInPixels(nn.Module):
    """``g(z) = 16 clip(decoder(z), 0, 1)``: the VAE's mean image in pixel units, in range."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, z: Tensor) -> Tensor:
        return PIXEL_MAX * self.decoder(z).clamp(0.0, 1.0)


class _ExpectedSpins(nn.Module):
    """``g(z) = 2 sigmoid(decoder(z)) - 1``: a Bernoulli VAE's expected spins, in (-1, 1)."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, z: Tensor) -> Tensor:
        return 2 * torch.sigmoid(self.decoder(z)) - 1


def digits_part(cfg: Config, dev: torch.device):
    """Train the classifier, the expert, the VAE and the judge; run the three AM variants."""
    data = load("digits")
    X = torch.as_tensor(np.asarray(data.inputs), dtype=torch.float32, device=dev)
    y = torch.as_tensor(np.asarray(data.targets), dtype=torch.long, device=dev)
    tr, te = train_test_split(
        np.arange(len(y)),
        test_size=cfg.held_out_fraction,
        random_state=cfg.seed,
        stratify=y.cpu().numpy(),
    )
    tr, te = torch.as_tensor(tr, device=dev), torch.as_tensor(te, device=dev)

    torch.manual_seed(cfg.seed)
    net = MLP(64, hidden=cfg.hidden, out_features=10).to(dev)
    fit(
        net,
        (X[tr] / PIXEL_MAX, y[tr]),
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        progress=False,
    )
    clf = _PixelUnits(net).eval()
    with torch.no_grad():
        accuracy = float((clf(X[te]).argmax(1) == y[te]).float().mean())

    expert = GaussianMixtureDensity(
        cfg.expert_components,
        covariance_type=cfg.expert_covariance,
        reg_covar=cfg.expert_reg_covar,
        random_state=cfg.seed,
    ).fit(X[tr])
    vae = VariationalAutoencoder(
        cfg.vae_latent,
        beta=cfg.vae_beta,
        hidden=cfg.vae_hidden,
        likelihood="gaussian",
        epochs=cfg.vae_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=dev,
        progress=False,
    ).fit(X[tr] / PIXEL_MAX)
    generator = _DecoderInPixels(vae.decoder_).eval()

    classes, means = class_means(X[tr], y[tr])
    data_mean = X[tr].mean(0, keepdim=True).expand(len(classes), -1)
    inits = torch.cat([data_mean, means])  # rows: (data mean, class c) then (class mean c, c)
    targets = torch.cat([classes, classes])
    objective = Objective.log_probability(targets)

    def common() -> dict:
        # a freshly seeded noise source per AM run: every variant and every weight of the sweep
        # starts from the same perturbed starts
        return {
            "n_steps": cfg.n_steps,
            "n_restarts": cfg.n_restarts,
            "init_noise": cfg.init_noise if cfg.n_restarts > 1 else 0.0,
            "generator": torch.Generator(device=dev).manual_seed(cfg.seed),
        }

    pixel = {"step_size": cfg.step_size, "l2": cfg.l2, "bounds": (0.0, PIXEL_MAX)}
    results = {"plain": maximize_activation(clf, objective, inits, **pixel, **common())}
    # Sec. 3.2 with the weight-selection rule: one AM run per grid weight, then the largest
    # weight whose 20 prototypes all keep p(omega_c | x) >= min_probability. Only the classifier's
    # probabilities enter the rule; the judge and the held-out split are not consulted.
    sweep = [
        maximize_activation(
            clf, objective, inits, density=expert, density_weight=w, **pixel, **common()
        )
        for w in cfg.density_weights
    ]
    sweep_min_p = [_min_probability(res) for res in sweep]
    chosen, feasible = select_density_weight(cfg.density_weights, sweep_min_p, cfg.min_probability)
    results["density"] = sweep[chosen]
    results["generator"] = maximize_activation(
        clf,
        objective,
        vae.encode(inits / PIXEL_MAX),
        decoder=generator,
        step_size=cfg.code_step_size,
        l2=cfg.code_l2,
        **common(),
    )

    # the judge of realism, fitted on the held-out split only after the selection above
    judge = GaussianMixtureDensity(
        cfg.judge_components,
        covariance_type=cfg.judge_covariance,
        reg_covar=cfg.judge_reg_covar,
        random_state=cfg.seed + 1,
    ).fit(X[te])
    neighbours = NearestNeighbors(n_neighbors=1).fit(X[te].cpu().double().numpy())

    def realism(protos: Tensor) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            loglik = judge.log_density(protos.double()).cpu().numpy()
        dist = neighbours.kneighbors(protos.cpu().double().numpy())[0][:, 0]
        return loglik, dist

    metrics: dict = {
        "test_accuracy": accuracy,
        "expert_zero_variance_pixels": expert.zero_variance_features_,
        "n_train": len(tr),
        "n_held_out": len(te),
        "density_weight_selected": cfg.density_weights[chosen],
        "density_weight_feasible": feasible,
    }
    with torch.no_grad():
        metrics["judge_loglik_real_digits"] = float(judge.log_density(X[tr]).mean())
        metrics["judge_loglik_class_means"] = float(judge.log_density(means).mean())
    protos, probs = {}, {}
    for name, res in results.items():
        best = res.best  # (20, 64): the best restart of every start
        p = res.objective.max(dim=1).values.exp()  # p(omega_c | x) of that restart
        protos[name], probs[name] = best, p
        loglik, dist = realism(best)
        metrics[f"{name}_min_probability"] = float(p.min())
        metrics[f"{name}_judge_loglik"] = float(loglik.mean())
        metrics[f"{name}_nearest_distance"] = float(dist.mean())
        for i, init in enumerate(INITS):
            rows = slice(10 * i, 10 * (i + 1))
            key = init.replace(" ", "_")
            metrics[f"{name}_{key}_judge_loglik"] = float(loglik[rows].mean())
            metrics[f"{name}_{key}_nearest_distance"] = float(dist[rows].mean())
    # the whole sweep, for the report (the realism of every weight, after the selection)
    sweep_ll, sweep_dist = zip(*(realism(res.best) for res in sweep))
    metrics["density_sweep_weights"] = list(cfg.density_weights)
    metrics["density_sweep_min_probability"] = sweep_min_p
    metrics["density_sweep_judge_loglik"] = [float(v.mean()) for v in sweep_ll]
    metrics["density_sweep_nearest_distance"] = [float(v.mean()) for v in sweep_dist]
    m = metrics
    m["judge_loglik_density_minus_plain"] = m["density_judge_loglik"] - m["plain_judge_loglik"]
    m["judge_loglik_generator_minus_density"] = (
        m["generator_judge_loglik"] - m["density_judge_loglik"]
    )
    m["nearest_distance_plain_minus_density"] = (
        m["plain_nearest_distance"] - m["density_nearest_distance"]
    )
    m["nearest_distance_density_minus_generator"] = (
        m["density_nearest_distance"] - m["generator_nearest_distance"]
    )
    settings = {name: res.settings for name, res in results.items()}
    return metrics, protos, probs, settings, inits


def grid_figure(protos: dict, probs: dict, inits: Tensor, metrics: dict) -> Figure:
    """Rows = (start, variant), columns = classes 0-9; each panel titled by p(omega_c | x)."""
    rows = [("start", init) for init in INITS[:1]] + [
        (variant, init) for init in INITS for variant in VARIANTS
    ]
    fig = Figure(figsize=(12.5, 1.25 * len(rows) + 1.2), layout="constrained")
    axes = fig.subplots(len(rows), 10, squeeze=False)
    for r, (variant, init) in enumerate(rows):
        i = INITS.index(init)
        for c in range(10):
            ax = axes[r, c]
            if variant == "start":
                img, title = inits[c], f"class {c}"
            else:
                img = protos[variant][10 * i + c]
                title = f"p = {float(probs[variant][10 * i + c]):.3f}"
            ax.imshow(
                img.detach().cpu().reshape(8, 8).numpy(),
                cmap="gray_r",
                vmin=0,
                vmax=PIXEL_MAX,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=7)
        if variant == "start":
            label = "start:\ndata mean"
        else:
            short = "class mean" if init == "class mean" else "data mean"
            ll = metrics[f"{variant}_{init.replace(' ', '_')}_judge_loglik"]
            name = (
                f"density\n(w = {metrics['density_weight_selected']:g})"
                if variant == "density"
                else variant
            )
            label = f"{name}\nfrom {short}\njudge ll {ll:.0f}"
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(
        "Activation maximisation of log p(class | x) on 8x8 digits (pixels 0-16, dark = 16): "
        "plain, with a Gaussian-mixture expert, in a VAE's code space\n"
        f"mean held-out judge log-likelihood: plain {metrics['plain_judge_loglik']:.0f}, "
        f"density {metrics['density_judge_loglik']:.0f}, "
        f"generator {metrics['generator_judge_loglik']:.0f} (real digits "
        f"{metrics['judge_loglik_real_digits']:.0f}); nearest held-out digit: "
        f"{metrics['plain_nearest_distance']:.1f}, {metrics['density_nearest_distance']:.1f}, "
        f"{metrics['generator_nearest_distance']:.1f}",
        fontsize=9,
    )
    return fig


def sweep_figure(metrics: dict, cfg: Config) -> Figure:
    """The density-weight sweep: class probability (the rule) and realism (the judge) against w."""
    m = metrics
    w = np.asarray(m["density_sweep_weights"])
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        (
            "density_sweep_min_probability",
            "plain_min_probability",
            "generator_min_probability",
            "lowest p(class | x) over the 20 prototypes",
        ),
        (
            "density_sweep_judge_loglik",
            "plain_judge_loglik",
            "generator_judge_loglik",
            "mean held-out judge log-likelihood (nats)",
        ),
        (
            "density_sweep_nearest_distance",
            "plain_nearest_distance",
            "generator_nearest_distance",
            "mean distance to nearest held-out digit (pixel units)",
        ),
    )
    for ax, (key, plain, gen, ylabel) in zip(axes, panels):
        ax.plot(w, m[key], "o-", color="C1", label="density expert, weight w")
        ax.axhline(m[plain], color="C0", linestyle=":", label="plain (w = 0)")
        ax.axhline(m[gen], color="C2", linestyle="--", label="generator (code space)")
        ax.axvline(
            m["density_weight_selected"], color="k", linewidth=0.8, label="selected by the rule"
        )
        ax.set_xscale("log")
        ax.set_xlabel("density-expert weight w")
        ax.set_ylabel(ylabel)
    axes[0].axhline(cfg.min_probability, color="r", linewidth=0.8, label="the rule's line")
    if m.get("judge_loglik_real_digits") is not None:
        axes[1].axhline(
            m["judge_loglik_real_digits"], color="0.5", linewidth=0.8, label="real digits"
        )
        axes[1].legend(fontsize=7)
    axes[0].legend(fontsize=7)
    fig.suptitle(
        "Selection of the density-expert weight (Montavon et al. 2018, Sec. 3.2): the largest w "
        f"whose prototypes keep p >= {cfg.min_probability:g} (left) is selected; realism by the "
        "held-out judge (middle, right) is reported, not used",
        fontsize=10,
    )
    return fig


def _phase_metrics(res, net: nn.Module, labels: dict, prefix: str) -> dict:
    """Probability, magnetisation and nearest-neighbour correlator of a pair of phase prototypes."""
    best = res.best  # (2, L, L), continuous in (-1, 1)
    hard = torch.sign(best)
    with torch.no_grad():
        p_hard = net(hard).softmax(1)
    metrics: dict = {f"{prefix}_min_probability": _min_probability(res)}
    for i, name in enumerate(PHASES):
        metrics[f"{prefix}_{name}_probability"] = float(res.objective[i].max().exp())
        metrics[f"{prefix}_{name}_probability_sign_spins"] = float(p_hard[i, labels[name]])
        metrics[f"{prefix}_{name}_magnetization"] = float(hard[i].mean())
        metrics[f"{prefix}_{name}_abs_magnetization"] = float(hard[i].mean().abs())
        metrics[f"{prefix}_{name}_continuous_magnetization"] = float(best[i].mean())
        # nearest-neighbour correlator <s_i s_j> of the sign spins, periodic boundaries
        s = hard[i]
        nn_corr = 0.5 * (s * s.roll(1, 0) + s * s.roll(1, 1)).mean()
        metrics[f"{prefix}_{name}_nn_correlation"] = float(nn_corr)
    # how many restarts (not only the best) end magnetised: whether the prior's ordered mode is
    # reached from most starts or from a lucky one
    restart_m = torch.sign(res.inputs[0]).flatten(1).mean(1).abs()
    metrics[f"{prefix}_ordered_fraction_restarts_magnetized"] = float(
        (restart_m >= 0.9).float().mean()
    )
    return metrics


def ising_part(cfg: Config, dev: torch.device):
    """Phase MLP on Ising snapshots; AM of 'ordered' and 'disordered', plain and with priors."""
    data = load("wetzel2017_quick")
    spins = torch.as_tensor(np.asarray(data.inputs), dtype=torch.float32, device=dev)
    phase = torch.as_tensor(np.asarray(data.targets), dtype=torch.long, device=dev)
    temperature = np.asarray(data.params["temperature"], dtype=float)
    tr, te = train_test_split(
        np.arange(len(phase)), test_size=0.3, random_state=cfg.seed, stratify=phase.cpu().numpy()
    )
    tr, te = torch.as_tensor(tr, device=dev), torch.as_tensor(te, device=dev)
    size = spins.shape[1]
    torch.manual_seed(cfg.seed)
    net = MLP(size * size, hidden=cfg.ising_hidden, out_features=2).to(dev)
    fit(
        net,
        (spins[tr], phase[tr]),
        epochs=cfg.ising_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        progress=False,
    )
    net.eval()
    with torch.no_grad():
        accuracy = float((net(spins[te]).argmax(1) == phase[te]).float().mean())
    # which class index is 'ordered': the one predicted at the lowest temperature
    cold = torch.as_tensor(temperature < ising.CRITICAL_TEMPERATURE, device=dev)
    ordered_label = int(phase[cold].mode().values)
    labels = {"ordered": ordered_label, "disordered": 1 - ordered_label}
    objective = Objective.log_probability(
        torch.tensor([labels["ordered"], labels["disordered"]], device=dev)
    )

    # the priors, both fitted on the training snapshots only
    expert = GaussianMixtureDensity(
        cfg.ising_expert_components,
        covariance_type="diag",
        reg_covar=cfg.ising_expert_reg_covar,
        random_state=cfg.seed,
    ).fit(spins[tr])
    vae = VariationalAutoencoder(
        cfg.ising_vae_latent,
        beta=cfg.ising_vae_beta,
        hidden=cfg.ising_vae_hidden,
        likelihood="bernoulli",
        epochs=cfg.ising_vae_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        device=dev,
        progress=False,
    ).fit(spins[tr])

    def spin_am(**extra) -> dict:
        # tanh parameterisation (spins in (-1, 1)), noisy starts around the all-zero configuration,
        # the same noise for every run
        return {
            "parameterization": "tanh",
            "bounds": (-1.0, 1.0),
            "n_steps": cfg.ising_n_steps,
            "step_size": cfg.ising_step_size,
            "n_restarts": cfg.ising_restarts,
            "init_noise": cfg.ising_init_noise,
            "generator": torch.Generator(device=dev).manual_seed(cfg.seed + 2),
            **extra,
        }

    init = torch.zeros(2, size, size, device=dev)
    results = {"plain": maximize_activation(net, objective, init, **spin_am())}
    sweep = [
        maximize_activation(net, objective, init, **spin_am(density=expert, density_weight=w))
        for w in cfg.density_weights
    ]
    sweep_min_p = [_min_probability(res) for res in sweep]
    chosen, feasible = select_density_weight(cfg.density_weights, sweep_min_p, cfg.min_probability)
    results["density"] = sweep[chosen]
    results["generator"] = maximize_activation(
        net,
        objective,
        torch.zeros(2, cfg.ising_vae_latent, device=dev),
        decoder=_ExpectedSpins(vae.decoder_).eval(),
        n_steps=cfg.ising_n_steps,
        step_size=cfg.ising_code_step_size,
        l2=cfg.ising_code_l2,
        n_restarts=cfg.ising_restarts,
        init_noise=cfg.ising_code_init_noise,
        generator=torch.Generator(device=dev).manual_seed(cfg.seed + 2),
    )

    metrics: dict = {
        "ising_test_accuracy": accuracy,
        "ising_ordered_label": ordered_label,
        "ising_density_weight_selected": cfg.density_weights[chosen],
        "ising_density_weight_feasible": feasible,
        "ising_expert_zero_variance_sites": expert.zero_variance_features_,
    }
    # for scale: |M| of the real snapshots of each phase
    abs_m = spins.flatten(1).mean(1).abs()
    metrics["ising_real_ordered_mean_abs_magnetization"] = float(abs_m[cold].mean())
    metrics["ising_real_disordered_mean_abs_magnetization"] = float(abs_m[~cold].mean())
    for variant, res in results.items():
        prefix = "ising" if variant == "plain" else f"ising_{variant}"
        metrics.update(_phase_metrics(res, net, labels, prefix))
    metrics["ising_density_sweep_weights"] = list(cfg.density_weights)
    metrics["ising_density_sweep_min_probability"] = sweep_min_p
    metrics["ising_density_sweep_ordered_abs_magnetization"] = [
        float(torch.sign(res.best[0]).mean().abs()) for res in sweep
    ]
    return metrics, results


def ising_figure(results: dict, metrics: dict, cfg: Config) -> Figure:
    """Every restart of the two prototypes of each variant, in spin colours, with p and M."""
    n_restarts = results["plain"].inputs.shape[1]
    size = results["plain"].inputs.shape[-1]
    n_rows = len(VARIANTS) * len(PHASES)
    fig = Figure(figsize=(1.9 * n_restarts + 1.8, 1.75 * n_rows + 1.0), layout="constrained")
    axes = fig.subplots(n_rows, n_restarts, squeeze=False)
    image = None
    for v, variant in enumerate(VARIANTS):
        res = results[variant]
        for i, name in enumerate(PHASES):
            row = len(PHASES) * v + i
            for r in range(n_restarts):
                x = res.inputs[i, r].detach().cpu()
                ax = axes[row, r]
                image = ax.imshow(
                    x.numpy(), cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest"
                )
                ax.set_xticks([])
                ax.set_yticks([])
                p = float(res.objective[i, r].exp())
                ax.set_title(f"p = {p:.3f}, M = {float(torch.sign(x).mean()):+.2f}", fontsize=8)
            how = {
                "plain": "plain",
                "density": f"expert\nw = {metrics['ising_density_weight_selected']:g}",
                "generator": "VAE code\nspace",
            }[variant]
            axes[row, 0].set_ylabel(f"{how}:\nmax p({name})", fontsize=8)
    fig.colorbar(
        image, ax=axes.ravel().tolist(), shrink=0.5, label="spin (expected spin for the VAE)"
    )
    fig.suptitle(
        f"Ising phase MLP (L = {size}, test accuracy {metrics['ising_test_accuracy']:.3f}): AM of "
        f"log p(phase), {cfg.ising_n_steps} steps, {n_restarts} restarts\n"
        "M = mean of sign(spins); a physicist expects |M| near 1 for 'ordered' "
        f"(real ordered snapshots: <|M|> = "
        f"{metrics['ising_real_ordered_mean_abs_magnetization']:.2f})",
        fontsize=9,
    )
    return fig


def run(cfg: Config, out_dir) -> dict[str, float]:
    """Digits AM in three variants and the Ising phase prototypes; figures and arrays."""
    dev = torch.device(cfg.device)
    metrics, protos, probs, settings, inits = digits_part(cfg, dev)
    save_figure(grid_figure(protos, probs, inits, metrics), out_dir, "grid")
    save_figure(sweep_figure(metrics, cfg), out_dir, "density_sweep")
    m_ising, ising_results = ising_part(cfg, dev)
    metrics.update(m_ising)
    save_figure(ising_figure(ising_results, metrics, cfg), out_dir, "ising")
    arrays = {f"digits/{name}": protos[name].reshape(20, 8, 8) for name in VARIANTS}
    arrays.update({f"digits/{name}_probability": probs[name] for name in VARIANTS})
    arrays["digits/init"] = inits.reshape(20, 8, 8)
    for key in ("weights", "min_probability", "judge_loglik", "nearest_distance"):
        arrays[f"digits/density_sweep/{key}"] = np.asarray(metrics[f"density_sweep_{key}"])
    for variant in VARIANTS:
        arrays[f"ising/{variant}/prototypes"] = ising_results[variant].inputs
        arrays[f"ising/{variant}/objective"] = ising_results[variant].objective
    for key in ("weights", "min_probability", "ordered_abs_magnetization"):
        arrays[f"ising/density_sweep/{key}"] = np.asarray(metrics[f"ising_density_sweep_{key}"])
    attrs = {}
    for name in VARIANTS:
        attrs[f"digits/{name}"] = {
            "units": "pixel intensity (0-16)",
            "dims": "start,row,column",
            "starts": "10 from the data mean (classes 0-9), then 10 from the class means",
            **{k: str(v) for k, v in settings[name].items()},
        }
        attrs[f"digits/{name}_probability"] = {"units": "probability", "dims": "start"}
    attrs["digits/init"] = {"units": "pixel intensity (0-16)", "dims": "start,row,column"}
    sweep_units = {
        "weights": "1",
        "min_probability": "probability",
        "judge_loglik": "nats",
        "nearest_distance": "pixel intensity (0-16)",
        "ordered_abs_magnetization": "1",
    }
    for key in ("weights", "min_probability", "judge_loglik", "nearest_distance"):
        attrs[f"digits/density_sweep/{key}"] = {
            "units": sweep_units[key],
            "dims": "weight",
            "rule": f"largest weight with min_probability >= {cfg.min_probability}",
            "selected": metrics["density_weight_selected"],
        }
    for key in ("weights", "min_probability", "ordered_abs_magnetization"):
        attrs[f"ising/density_sweep/{key}"] = {
            "units": sweep_units[key],
            "dims": "weight",
            "rule": f"largest weight with min_probability >= {cfg.min_probability}",
            "selected": metrics["ising_density_weight_selected"],
        }
    for variant in VARIANTS:
        res = ising_results[variant]
        attrs[f"ising/{variant}/prototypes"] = {
            "units": "spin (-1..1)" if variant != "generator" else "expected spin (-1..1)",
            "dims": "class,restart,row,column",
            "classes": "ordered, disordered",
            **{k: str(v) for k, v in res.settings.items()},
        }
        attrs[f"ising/{variant}/objective"] = {"units": "log-probability", "dims": "class,restart"}
    save_arrays(
        out_dir,
        arrays,
        attrs,
        source_dataset="physxai.data.load('digits') (sklearn load_digits); "
        "physxai.data.load('wetzel2017_quick')",
    )
    return metrics


if __name__ == "__main__":
    raise SystemExit(main(module=__import__(__name__)))
