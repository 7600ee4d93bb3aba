"""Siamese networks discover invariants: the interval of special relativity, angular momentum.

S. J. Wetzel, R. G. Melko, J. Scott, M. Panju, V. Ganesh, Discovering symmetry invariants and
conserved quantities by interpreting siamese neural networks, Phys. Rev. Research 2, 033499
(2020), arXiv:2003.04299, doi:10.1103/PhysRevResearch.2.033499.

Reproduced. A twin network (one encoder with shared weights, a single latent z) is trained on
pairs that share an invariant, and the latent is then read back as a function of the inputs:

1. **Special relativity.** Events ``(t, x, y, z)`` ~ U[0, 1)^4 (c = 1) and their images under
   random proper Lorentz transformations (rapidity uniform in [0, 2], Haar-random rotations before
   and after the boost); the invariant is ``s^2 = t^2 - x^2 - y^2 - z^2``.
2. **Central potential** (full preset only). A particle in ``V = -1/r`` in the plane, states
   ``(x1, x2, v1, v2)`` drawn from U[0, 1)^4 and moved along their orbit to a random time in
   [0, 3]; a positive pair is two times on one orbit. Conserved: the angular momentum
   ``L = x1 v2 - x2 v1``, the energy ``E = |v|^2 / 2 - 1/r`` and the Runge-Lenz direction. The
   paper reports that the latent encodes L.

The paper shows scatter plots and polynomial fits but states no numbers and no regression
protocol; the criteria are the project's (REPRODUCTIONS.md, wetzel2020_siamese_invariants):

- SR: ``|rho(z, s^2)| >= 0.98`` (Spearman, blind to the monotone map z = g(s^2) that every
  siamese objective leaves free); the four largest coefficients of a least-squares fit of z on
  the 14 monomials of degree 1 and 2 of the **raw** inputs are t^2, x^2, y^2, z^2 with signs
  (+, -, -, -) up to an overall sign (``sr_top4_are_squares`` = 1) and magnitudes within 10%
  (``sr_top4_magnitude_spread = 1 - min|c| / max|c|`` over the four <= 0.10); the mean
  ``|cos(grad_x z, grad_x s^2)|`` >= 0.95 (``sr_alignment``).
- Central potential: ``|rho(z, L)| >= 0.90`` and ``|rho(z, L)| - |rho(z, E)| >= 0``
  (``cp_L_minus_E``); the two largest *degree-2* coefficients are x1*v2 and x2*v1 with opposite
  signs (``cp_top2_are_x1v2_x2v1_opposite`` = 1). This can fail honestly when one latent mixes E
  and L (both are conserved, and so is the Runge-Lenz direction): the partial rank correlations
  ``rho(z, L | E)`` and ``rho(z, E | L)`` (``physxai.probes.compare.partial_correlation``) are
  therefore always reported and printed; a latent that is a function of L alone has the second
  near 0.

Model and training (the reference repository of the authors' follow-up work, PAPERS.md section
2): MLP 4 -> 256 -> 256 -> 1 with ReLU, the triplet loss ``max(0, |z_a - z_p| - |z_a - z_n| + 1)``,
Adam (lr 1e-3, weight decay 1e-4), batch 256 (``physxai.probes.siamese.SiameseNetwork``). The
repository trains 300 epochs with a learning-rate schedule; ours trains 10-15 epochs on more
triplets, which already meets the criteria. Triplets: the positive pairs of the data card, each
used in **both orders** (anchor = first or second member), with the negative taken from another
pair by cyclic shifts of the pair index (the repository's construction), ``shifts`` of them
(1, 2 in the full preset: 4 triplets per pair; 1-4 in the quick one). The encoder standardises its
inputs with the training mean and standard deviation as a fixed affine layer *inside* the encoder
(boosted events reach |t| ~ 5, so this matters), so gradients and the monomial fit are in the raw
coordinates, where the Minkowski signs are visible.

Analysis set. The latent is analysed on **both members** of the card's negative pairs, which the
triplets never use: for SR, U[0, 1)^4 events *and* boosted images of other events. The boosted
members matter: on U[0, 1) alone x and x^2 are nearly collinear, and linear terms crept to the top
of the fit when only first members were analysed. For the central potential both members are
states on orbits not used in training. ``n_analysis`` caps the number of inputs analysed.

Orbit data quality (PAPERS.md risks). ``physxai.physics.orbits`` solves Kepler's problem exactly
(universal-variable Kepler equation), so there is no integrator drift; it redraws unbound orbits
(E >= 0) and near-collisions (pericentre < 0.01) and checks every trajectory's E and L to a
relative 1e-9. The card does not store the number of redraws, so the experiment re-runs the
card's generator with the card's seed, checks that it reproduces the stored pairs
(``cp_generator_reproduces_card``) and reports ``cp_rejection_rate`` (redraws per draw); a fresh
draw of ``n_prior_draws`` states from the prior splits the rejections by cause
(``cp_prior_fraction_unbound``, ``cp_prior_fraction_near_collision``). The largest relative change
of E and of L within the positive pairs is reported as the drift. The correlation of E and L on
the analysis set (``cp_spearman_E_L``) says how far the two candidates can be told apart.

The quick preset sits close to the Spearman line: |rho(z, s^2)| = 0.988, 0.987, 0.982 for seeds
0, 1, 2 at 10 epochs, and 0.975 for seed 0 at 15 epochs (a miss), so one short run of the triplet
recipe recovers s^2 up to a slightly noisy monotone map; the full preset (100 000 triplets) gives
0.996. Its smoke test gates on the robust claims and reports this one.

Cost on 2 shared CPU cores: quick (SR only, the 4000-pair card: 16 000 triplets, 10 epochs)
about 70 s with the data build at load ~5 (about 30 s of training on a quiet machine); full (the
50 000-pair cards, 100 000 triplets per system, 15 epochs each) measured 23 minutes at load ~9
(707 s + 648 s of training); the central-potential training alone took 104 s at load ~5, so
about 4-5 minutes on a quiet machine.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from physxai.data import load
from physxai.harness import ExperimentConfig, Reference, main, save_arrays, save_figure
from physxai.physics import orbits, relativity
from physxai.probes.compare import partial_correlation, spearman
from physxai.probes.siamese import (
    ORBIT_VARIABLES,
    RELATIVITY_VARIABLES,
    InvariantReport,
    SiameseNetwork,
    discover_invariant,
    make_triplets,
)


@dataclass(frozen=True)
class Config(ExperimentConfig):
    """Knobs of the reproduction (every one has a default)."""

    relativity_card: str = "wetzel2020_relativity"
    orbits_card: str = "wetzel2020_orbits"
    central_potential: bool = True
    # the twin network and its training (PAPERS.md section 2, reference repository)
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    margin: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 256
    sr_epochs: int = 15
    sr_shifts: tuple[int, ...] = (1, 2)
    cp_epochs: int = 15
    cp_shifts: tuple[int, ...] = (1, 2)
    # analysis
    n_analysis: int = 10000
    n_prior_draws: int = 100000


PRESETS = {
    "quick": Config(
        relativity_card="wetzel2020_relativity_quick",
        central_potential=False,
        sr_epochs=10,
        sr_shifts=(1, 2, 3, 4),
        n_analysis=4000,
    ),
    "full": Config(),
}

_OURS = "ours (REPRODUCTIONS.md; the paper shows scatter plots and fits, no numbers)"
SR_CLAIMS = {
    "sr_abs_spearman": Reference(None, low=0.98, source=f"{_OURS}: |rho(z, s^2)|"),
    "sr_top4_are_squares": Reference(
        1.0,
        tol=0.0,
        kind="ours",
        source=f"{_OURS}: top-4 monomials are t^2, x^2, y^2, z^2 with signs (+,-,-,-) (1 = yes)",
    ),
    "sr_top4_magnitude_spread": Reference(
        None, high=0.10, source=f"{_OURS}: 1 - min/max of |c| over t^2, x^2, y^2, z^2"
    ),
    "sr_alignment": Reference(None, low=0.95, source=f"{_OURS}: mean |cos(grad z, grad s^2)|"),
}
CP_CLAIMS = {
    "cp_abs_spearman_L": Reference(None, low=0.90, source=f"{_OURS}: |rho(z, L)|"),
    "cp_L_minus_E": Reference(None, low=0.0, source=f"{_OURS}: |rho(z, L)| - |rho(z, E)|"),
    "cp_top2_are_x1v2_x2v1_opposite": Reference(
        1.0,
        tol=0.0,
        kind="ours",
        source=f"{_OURS}: two largest degree-2 terms are x1*v2, x2*v1, opposite signs (1 = yes)",
    ),
}


def CLAIMS(preset: str) -> dict[str, Reference]:
    """SR claims always; the central-potential claims for every preset but ``quick``."""
    return dict(SR_CLAIMS) if preset == "quick" else {**SR_CLAIMS, **CP_CLAIMS}


_SQUARES = ("t^2", "x^2", "y^2", "z^2")
_SQUARE_SIGNS = (1.0, -1.0, -1.0, -1.0)


# ---------------------------------------------------------------------------------------------
# reference gradients (PAPERS.md section 2)


def grad_interval(events: Tensor) -> Tensor:
    """``grad s^2 = 2 (t, -x, -y, -z)``."""
    return 2.0 * events * events.new_tensor([1.0, -1.0, -1.0, -1.0])


def grad_angular_momentum(states: Tensor) -> Tensor:
    """``grad L = (v2, -v1, -x2, x1)``."""
    x1, x2, v1, v2 = states.unbind(-1)
    return torch.stack([v2, -v1, -x2, x1], -1)


def grad_energy(states: Tensor) -> Tensor:
    """``grad E = (x1 / r^3, x2 / r^3, v1, v2)`` for ``k = 1``."""
    x1, x2, v1, v2 = states.unbind(-1)
    r3 = (x1**2 + x2**2) ** 1.5
    return torch.stack([x1 / r3, x2 / r3, v1, v2], -1)


# ---------------------------------------------------------------------------------------------
# training and analysis shared by both systems


def triplets_from_pairs(pairs: np.ndarray, shifts: tuple[int, ...]) -> Tensor:
    """Triplets from positive pairs ``(n, 2, d)``: both orders of every pair, one cyclic shift of
    the pair index per entry of ``shifts`` for the negatives; ``(2 n len(shifts), 3, d)``."""
    a, p = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    anchors, positives = torch.cat([a, p]), torch.cat([p, a])
    n = anchors.shape[0]
    # index i and i + s are members of one pair only for s = n / 2 (mod n): then the "negative"
    # would be the anchor itself
    bad = [s for s in shifts if s % n == 0 or (2 * s) % n == 0]
    if bad or not shifts:
        raise ValueError(
            f"triplets_from_pairs: shifts must be non-empty and neither 0 nor {n // 2} modulo "
            f"{n} (the number of ordered pairs); got {shifts!r}."
        )
    return torch.cat([make_triplets(anchors, positives, shift=s) for s in shifts])


def train(cfg: Config, triplets: Tensor, epochs: int) -> tuple[SiameseNetwork, float]:
    """The twin network trained with the triplet loss; returns it and the training seconds."""
    start = time.perf_counter()
    net = SiameseNetwork(
        hidden=cfg.hidden,
        activation=cfg.activation,
        objective="triplet",
        margin=cfg.margin,
        epochs=epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        device=cfg.device,
        progress=False,
    ).fit(triplets.to(cfg.device))
    return net, time.perf_counter() - start


def analysis_inputs(pairs: np.ndarray, labels: np.ndarray, n_max: int) -> np.ndarray:
    """Both members of the negative pairs (never in a triplet), at most ``n_max`` of them,
    first and second members interleaved so a cap keeps both kinds; ``(n, d)``."""
    negative = pairs[labels == 0]
    if negative.shape[0] == 0:
        raise ValueError(
            "analysis_inputs: the card has no negative pairs to analyse the latent on; use a "
            "card with negative_fraction > 0."
        )
    return negative.reshape(-1, pairs.shape[-1])[:n_max]


def degree2_terms(report: InvariantReport) -> list[tuple[str, float]]:
    """The degree-2 monomials of the fit, by decreasing |coefficient|."""
    return [
        (t, float(c))
        for t, c in zip(report.terms, report.coefficients)
        if "*" in t or t.endswith("^2")
    ]


def _partial(z: np.ndarray, known: np.ndarray, control: np.ndarray) -> float:
    try:
        return float(partial_correlation(z, known, control, method="spearman").value)
    except ValueError:  # z an exact rank function of the control: nothing left to correlate
        return float("nan")


# ---------------------------------------------------------------------------------------------
# special relativity


def relativity_part(cfg: Config, out_dir) -> tuple[dict, dict, dict]:
    data = load(cfg.relativity_card)
    pairs, labels = data.inputs, data.targets
    triplets = triplets_from_pairs(pairs[labels == 1], cfg.sr_shifts)
    net, seconds = train(cfg, triplets, cfg.sr_epochs)
    x = analysis_inputs(pairs, labels, cfg.n_analysis)
    xt = torch.from_numpy(x).to(cfg.device)
    report = discover_invariant(
        net,
        xt,
        {"interval": relativity.interval},
        degree=2,
        variable_names=RELATIVITY_VARIABLES,
        gradients={"interval": grad_interval},
    )
    print(f"special relativity ({seconds:.0f} s training):\n{report}")
    rho = report.correlations["interval"]
    top4 = report.dominant_terms(4)
    square_coef = np.array([report.coefficient(t) for t in _SQUARES])
    sign = np.sign(square_coef[0]) if square_coef[0] != 0 else 1.0
    signs_ok = bool(np.all(np.sign(square_coef) * sign == np.array(_SQUARE_SIGNS)))
    squares_on_top = {t for t, _ in top4} == set(_SQUARES)
    magnitudes = np.abs(square_coef)
    metrics = {
        "sr_abs_spearman": abs(rho.value),
        "sr_spearman": rho.value,
        "sr_spearman_low": rho.low,
        "sr_spearman_high": rho.high,
        "sr_top4_are_squares": float(squares_on_top and signs_ok),
        "sr_top4_terms": [t for t, _ in top4],
        "sr_top4_magnitude_spread": float(1.0 - magnitudes.min() / magnitudes.max()),
        # how far the first non-square term lies below the squares (1 = as large as the smallest)
        "sr_fifth_over_fourth": float(abs(report.coefficients[4]) / abs(report.coefficients[3])),
        "sr_alignment": report.alignment["interval"],
        "sr_r_squared": report.r_squared,
        "sr_train_seconds": seconds,
        "sr_final_loss": float(net.history_.train_loss[-1]),
        "sr_n_triplets": int(triplets.shape[0]),
        "sr_n_analysis": int(x.shape[0]),
    }
    for t, c in zip(_SQUARES, square_coef):
        metrics[f"sr_coef_{t[0]}2"] = float(c)
    s2 = relativity.interval(x.astype(np.float64))
    save_figure(relativity_figure(report, s2, cfg), out_dir, "relativity")
    arrays = {
        "relativity/inputs": x,
        "relativity/latent": report.latent,
        "relativity/interval": s2,
        "relativity/cosine": report.cosines["interval"],
        "relativity/coefficients": report.coefficients,
        "relativity/train_loss": np.asarray(net.history_.train_loss),
    }
    attrs = {
        "relativity/inputs": {
            "units": "event (t, x, y, z), c = 1",
            "dims": "sample,component",
            "note": "both members of the card's negative pairs (first: U[0,1)^4, second: boosted)",
        },
        "relativity/latent": {"units": "arbitrary", "dims": "sample"},
        "relativity/interval": {"units": "s^2, c = 1", "dims": "sample"},
        "relativity/cosine": {"units": "1", "dims": "sample", "of": "grad z, grad s^2"},
        "relativity/coefficients": {
            "units": "1 (divided by max |c|)",
            "dims": "term",
            "terms": list(report.terms),
            "r_squared": report.r_squared,
        },
        "relativity/train_loss": {"units": "triplet loss", "dims": "epoch"},
    }
    return metrics, arrays, attrs


# ---------------------------------------------------------------------------------------------
# central potential


def orbit_data_quality(data, cfg: Config) -> dict[str, float]:
    """Rejections of the card's generator (re-run with the card's seed), the rejection causes
    under the prior, and the drift of E and L within the positive pairs."""
    params = json.loads(data.attrs["parameters"])
    sampler = {k: tuple(v) if isinstance(v, list) else v for k, v in params["sampler"].items()}
    regenerated = orbits.orbit_pairs(
        params["n_pairs"],
        seed=int(data.attrs["seed"]),
        negative_fraction=params["negative_fraction"],
        **sampler,
    )
    reproduces = np.array_equal(regenerated.pairs.astype(data.inputs.dtype), data.inputs)
    # one accepted orbit per pair, plus one for the second member of every negative pair
    accepted = params["n_pairs"] + int((regenerated.labels == 0).sum())
    rejected = regenerated.n_rejected
    # the causes under the prior (U[0,1)^4 unless the card says otherwise)
    box = sampler.get("box", (0.0, 1.0))
    min_q = sampler.get("min_pericentre", 0.01)
    rng = np.random.default_rng(cfg.seed)
    draws = rng.uniform(box[0], box[1], size=(cfg.n_prior_draws, 4))
    e_draw = orbits.energy(draws)
    q_draw = orbits.pericentre(draws)
    unbound = e_draw >= 0
    near = ~unbound & (q_draw < min_q)
    pos = data.targets == 1
    e_obs, l_obs = data.observables["energy"], data.observables["angular_momentum"]
    e2, l2 = data.observables["energy_second"], data.observables["angular_momentum_second"]
    return {
        "cp_generator_reproduces_card": float(reproduces),
        "cp_rejected_draws": int(rejected),
        "cp_rejection_rate": rejected / (rejected + accepted),
        "cp_prior_fraction_unbound": float(unbound.mean()),
        "cp_prior_fraction_near_collision": float(near.mean()),
        "cp_min_pericentre": float(min_q),
        "cp_max_relative_drift_energy": float(
            np.max(np.abs(e2[pos] - e_obs[pos]) / np.abs(e_obs[pos]))
        ),
        "cp_max_relative_drift_angular_momentum": float(
            np.max(np.abs(l2[pos] - l_obs[pos]) / np.abs(l_obs[pos]))
        ),
    }


def central_potential_part(cfg: Config, out_dir) -> tuple[dict, dict, dict]:
    data = load(cfg.orbits_card)
    pairs, labels = data.inputs, data.targets
    metrics: dict = orbit_data_quality(data, cfg)
    triplets = triplets_from_pairs(pairs[labels == 1], cfg.cp_shifts)
    net, seconds = train(cfg, triplets, cfg.cp_epochs)
    x = analysis_inputs(pairs, labels, cfg.n_analysis)
    xt = torch.from_numpy(x).to(cfg.device)
    report = discover_invariant(
        net,
        xt,
        {"L": orbits.angular_momentum, "E": orbits.energy},
        degree=2,
        variable_names=ORBIT_VARIABLES,
        gradients={"L": grad_angular_momentum, "E": grad_energy},
    )
    x64 = x.astype(np.float64)
    ell, e_ = orbits.angular_momentum(x64), orbits.energy(x64)
    z = report.latent
    rho_l, rho_e = report.correlations["L"], report.correlations["E"]
    top2 = degree2_terms(report)[:2]
    top2_ok = {t for t, _ in top2} == {"x1*v2", "x2*v1"} and top2[0][1] * top2[1][1] < 0
    partial_l, partial_e = _partial(z, ell, e_), _partial(z, e_, ell)
    print(f"central potential ({seconds:.0f} s training):\n{report}")
    print(
        f"  partial rank correlations: rho(z, L | E) = {partial_l:+.4f}, "
        f"rho(z, E | L) = {partial_e:+.4f}; rho(E, L) on these states = "
        f"{spearman(ell, e_).value:+.4f}"
    )
    if not top2_ok or abs(rho_l.value) < 0.9 or abs(rho_l.value) <= abs(rho_e.value):
        print(
            "  the latent is not a function of L alone: it mixes the conserved quantities "
            f"(|rho(z, L)| = {abs(rho_l.value):.3f}, |rho(z, E)| = {abs(rho_e.value):.3f}, "
            f"partial rho(z, E | L) = {partial_e:+.3f})"
        )
    metrics.update(
        {
            "cp_abs_spearman_L": abs(rho_l.value),
            "cp_abs_spearman_E": abs(rho_e.value),
            "cp_spearman_L": rho_l.value,
            "cp_spearman_E": rho_e.value,
            "cp_L_minus_E": abs(rho_l.value) - abs(rho_e.value),
            "cp_partial_L_given_E": partial_l,
            "cp_partial_E_given_L": partial_e,
            "cp_spearman_E_L": float(spearman(ell, e_).value),
            "cp_spearman_E_absL": float(spearman(np.abs(ell), e_).value),
            "cp_top2_are_x1v2_x2v1_opposite": float(top2_ok),
            "cp_top2_degree2_terms": [t for t, _ in top2],
            "cp_top_terms": [t for t, _ in report.dominant_terms(4)],
            "cp_coef_x1v2": report.coefficient("x1*v2"),
            "cp_coef_x2v1": report.coefficient("x2*v1"),
            "cp_alignment_L": report.alignment["L"],
            "cp_alignment_E": report.alignment["E"],
            "cp_r_squared": report.r_squared,
            "cp_train_seconds": seconds,
            "cp_final_loss": float(net.history_.train_loss[-1]),
            "cp_n_triplets": int(triplets.shape[0]),
            "cp_n_analysis": int(x.shape[0]),
        }
    )
    save_figure(central_potential_figure(report, ell, e_, metrics), out_dir, "central_potential")
    arrays = {
        "central_potential/inputs": x,
        "central_potential/latent": z,
        "central_potential/angular_momentum": ell,
        "central_potential/energy": e_,
        "central_potential/cosine_L": report.cosines["L"],
        "central_potential/cosine_E": report.cosines["E"],
        "central_potential/coefficients": report.coefficients,
        "central_potential/train_loss": np.asarray(net.history_.train_loss),
    }
    attrs = {
        "central_potential/inputs": {
            "units": "state (x1, x2, v1, v2), k = m = 1",
            "dims": "sample,component",
            "note": "both members of the card's negative pairs (orbits not used in training)",
        },
        "central_potential/latent": {"units": "arbitrary", "dims": "sample"},
        "central_potential/angular_momentum": {"units": "L per unit mass", "dims": "sample"},
        "central_potential/energy": {"units": "E per unit mass, k = 1", "dims": "sample"},
        "central_potential/cosine_L": {"units": "1", "dims": "sample", "of": "grad z, grad L"},
        "central_potential/cosine_E": {"units": "1", "dims": "sample", "of": "grad z, grad E"},
        "central_potential/coefficients": {
            "units": "1 (divided by max |c|)",
            "dims": "term",
            "terms": list(report.terms),
            "r_squared": report.r_squared,
        },
        "central_potential/train_loss": {"units": "triplet loss", "dims": "epoch"},
    }
    return metrics, arrays, attrs


# ---------------------------------------------------------------------------------------------
# figures


def _coefficient_bars(ax, report: InvariantReport, highlight: tuple[str, ...]) -> None:
    """Signed horizontal bars of the normalised monomial coefficients, largest on top."""
    terms, coef = list(report.terms), report.coefficients
    y = np.arange(len(terms))[::-1]
    colors = ["#d62728" if t in highlight else "0.6" for t in terms]
    ax.barh(y, coef, color=colors)
    ax.set_yticks(y, terms)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlim(-1.1, 1.1)
    ax.set_xlabel("coefficient / max |coefficient|")
    ax.set_title(
        f"least-squares fit of z on monomials of the raw inputs\n(degree <= 2, R^2 = "
        f"{report.r_squared:.3f}; red: the expected terms)",
        fontsize=9,
    )


def _cos_hist(ax, cosines: dict[str, np.ndarray], label: str) -> None:
    bins = np.linspace(0.0, 1.0, 41)
    colors = {"interval": "#1f77b4", "L": "#1f77b4", "E": "#ff7f0e"}
    for name, cos in cosines.items():
        mean = float(np.abs(cos).mean())
        ax.hist(
            np.abs(cos),
            bins=bins,
            color=colors.get(name, "0.5"),
            alpha=0.6,
            label=f"{name}: mean {mean:.3f}",
        )
        ax.axvline(mean, color=colors.get(name, "0.5"), linestyle="--", linewidth=1.0)
    ax.set_xlabel(f"|cos(grad_x z, grad_x {label})| per input")
    ax.set_yscale("log")  # most inputs sit in the last bin; the log shows the tail
    ax.set_ylabel("number of inputs (log scale)")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("alignment of the latent's input gradient", fontsize=9)


def relativity_figure(report: InvariantReport, s2: np.ndarray, cfg: Config) -> Figure:
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    ax_scatter, ax_coef, ax_cos = fig.subplots(1, 3)
    z = report.latent
    first = np.zeros(len(z), dtype=bool)
    first[0::2] = True  # analysis_inputs interleaves first and second members
    # the boosted events first, so the unboosted ones stay visible on top
    ax_scatter.scatter(
        s2[~first],
        z[~first],
        s=3,
        alpha=0.5,
        color="#ff7f0e",
        label="Lorentz-transformed events",
        rasterized=True,
    )
    ax_scatter.scatter(
        s2[first],
        z[first],
        s=3,
        alpha=0.5,
        color="#1f77b4",
        label="events ~ U[0,1)^4",
        rasterized=True,
    )
    rho = report.correlations["interval"].value
    ax_scatter.set_xlabel("interval s^2 = t^2 - x^2 - y^2 - z^2 (c = 1)")
    ax_scatter.set_ylabel("latent z (arbitrary units)")
    ax_scatter.set_title(f"latent vs interval: Spearman rho = {rho:+.4f}", fontsize=9)
    ax_scatter.legend(fontsize=8, markerscale=4)
    _coefficient_bars(ax_coef, report, _SQUARES)
    _cos_hist(ax_cos, {"interval": report.cosines["interval"]}, "s^2")
    fig.suptitle(
        f"Special relativity: a siamese network's latent is the interval (Wetzel et al. 2020); "
        f"{cfg.relativity_card}, {report.n_samples} held-out events",
        fontsize=11,
    )
    return fig


def central_potential_figure(
    report: InvariantReport, ell: np.ndarray, e_: np.ndarray, metrics: dict
) -> Figure:
    fig = Figure(figsize=(12, 9), layout="constrained")
    (ax_l, ax_e), (ax_coef, ax_cos) = fig.subplots(2, 2)
    z = report.latent
    for ax, known, colour, name, other in (
        (ax_l, ell, e_, "angular momentum L = x1 v2 - x2 v1", "E"),
        (ax_e, e_, ell, "energy E = |v|^2 / 2 - 1/r", "L"),
    ):
        sc = ax.scatter(known, z, c=colour, s=3, cmap="viridis", rasterized=True)
        fig.colorbar(sc, ax=ax, label=f"{other} (per unit mass, k = 1)")
        ax.set_xlabel(f"{name} (per unit mass, k = 1)")
        ax.set_ylabel("latent z (arbitrary units)")
    ax_l.set_title(
        f"Spearman rho(z, L) = {metrics['cp_spearman_L']:+.4f}; "
        f"partial rho(z, L | E) = {metrics['cp_partial_L_given_E']:+.3f}",
        fontsize=9,
    )
    ax_e.set_title(
        f"Spearman rho(z, E) = {metrics['cp_spearman_E']:+.4f}; "
        f"partial rho(z, E | L) = {metrics['cp_partial_E_given_L']:+.3f}",
        fontsize=9,
    )
    _coefficient_bars(ax_coef, report, ("x1*v2", "x2*v1"))
    _cos_hist(ax_cos, {"L": report.cosines["L"], "E": report.cosines["E"]}, "I")
    fig.suptitle(
        "Central potential -1/r: the siamese latent against the conserved quantities "
        f"(Wetzel et al. 2020); {report.n_samples} held-out states",
        fontsize=11,
    )
    return fig


def run(cfg: Config, out_dir) -> dict[str, float]:
    """Special relativity, then (if enabled) the central potential; figures and arrays."""
    start = time.perf_counter()
    metrics, arrays, attrs = relativity_part(cfg, out_dir)
    sources = [cfg.relativity_card]
    if cfg.central_potential:
        m, a, at = central_potential_part(cfg, out_dir)
        metrics.update(m)
        arrays.update(a)
        attrs.update(at)
        sources.append(cfg.orbits_card)
    metrics["total_seconds"] = time.perf_counter() - start
    save_arrays(out_dir, arrays, attrs, source_dataset="; ".join(sources))
    return metrics


if __name__ == "__main__":
    raise SystemExit(main(module=__import__(__name__)))
