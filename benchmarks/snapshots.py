"""Speed and decorrelation of physxai's snapshot generators (issue 10 targets).

Prints one table:

- pi-flux Metropolis (``snapshots.pi_flux_chains``, 10 x 10, 9 holes, and half filling): chain
  steps per second, acceptance of hole hops and spin exchanges, and the integrated
  autocorrelation times (Sokal's windowing, ``ising.integrated_autocorrelation_time``) of four
  observables per chain, in sweeps (one sweep = L^2 proposals per chain): the staggered
  magnetisation M_s, M_s^2, the nearest-neighbour spin sum, and a hole Fourier mode
  sum_h cos(2 pi x_h / L);
- decorrelated pi-flux snapshots per second in the steady state: chains x sweeps per second /
  (2 max tau_int), the spacing ``snapshots.pi_flux`` uses by default (5 sweeps);
- end to end: ``snapshots.pi_flux(10000, 10, 9)`` with its default protocol (50 sweeps of
  thermalisation, 5 between snapshots, 256 chains): seconds, against the target of 300 s;
- geometric strings per second (Neel parents and half-filled pi-flux parents) and shell-Ising
  parents (``snapshots.shell_ising``, the couplings of ``datasets/miles2021_full.toml``) per second;
- Sherman-Morrison drift: max |D D^-1 - 1| after 500 steps without recomputation.

BLAS threads: ``--blas-threads`` (default 1) limits OpenBLAS through threadpoolctl where it is
installed. The sampler's hot loop is elementwise numpy, but its occasional ``inv``/``eigh`` calls
slow down a hundredfold when two BLAS threads compete with other processes for 2 cores.

Run:  python benchmarks/snapshots.py [--quick] [--blas-threads 1]
Target (issue 10, 2 CPU cores): 10,000 decorrelated 10 x 10 pi-flux snapshots in under 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
import warnings

import numpy as np

from physxai.physics import ising, snapshots

SIZE = 10


def chain_series(n_holes: int, n_chains: int, n_sweeps: int, seed: int = 0) -> dict:
    """Observables of every chain, four times per sweep, after 50 sweeps of thermalisation."""
    chains = snapshots.pi_flux_chains(SIZE, n_holes, n_chains=n_chains, seed=seed)
    chains.sweep(50)
    y, x = np.divmod(np.arange(SIZE * SIZE), SIZE)
    stagger, mode = (-1.0) ** (x + y), np.cos(2 * np.pi * x / SIZE)
    nbr = snapshots.square_lattice_neighbours(SIZE)
    series = {"M_s": [], "M_s^2": [], "nn spin sum": [], "hole mode": []}
    steps0, accepted0, proposed0 = (
        chains.n_steps,
        chains.n_accepted.copy(),
        chains.n_proposed.copy(),
    )
    start = time.perf_counter()
    for _ in range(4 * n_sweeps):
        chains.step(SIZE * SIZE // 4)
        codes = chains.codes()
        spin = np.where(codes == 0, 0.5, np.where(codes == 1, -0.5, 0.0))
        m = (spin * stagger).sum(axis=1)
        series["M_s"].append(m)
        series["M_s^2"].append(m**2)
        series["nn spin sum"].append((spin * (spin[:, nbr[:, 0]] + spin[:, nbr[:, 1]])).sum(axis=1))
        series["hole mode"].append(((codes == 2) * mode).sum(axis=1))
    elapsed = time.perf_counter() - start
    steps = chains.n_steps - steps0
    taus = {}
    for key, values in series.items():
        data = np.asarray(values).T
        if np.ptp(data) == 0:  # no holes: the hole mode is constant
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            taus[key] = ising.integrated_autocorrelation_time(data) / 4  # in sweeps
    chains.recompute_every = 10**9
    chains.recompute()
    chains.step(500)
    return {
        "steps_per_second": steps / elapsed,
        "sweeps_per_second": steps / elapsed / (SIZE * SIZE),
        "taus": taus,
        "acceptance": (chains.n_accepted - accepted0)
        / np.maximum(chains.n_proposed - proposed0, 1),
        "drift": chains.inverse_error(),
    }


# ------------------------------------------------------------------------------------------------
# HOOK: CCNN forward throughput vs a plain CNN on these snapshots.
# benchmarks/ccnn_throughput.py (written with the CCNN probe) measures it; a row can be added here
# by returning (name, value, target, ok) tuples from this function.
def ccnn_rows(inputs: np.ndarray) -> list[tuple[str, str, str, str]]:
    """Rows for the CCNN forward throughput on ``inputs`` (n, 3, L, L); empty until it exists."""
    return []


# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier tau_int)")
    parser.add_argument("--blas-threads", type=int, default=1, help="OpenBLAS threads (default 1)")
    args = parser.parse_args()
    limit = contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(args.blas_threads)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    with limit:
        run(args.quick, args.blas_threads)


def run(quick: bool, blas_threads: int) -> None:
    print(
        f"# physxai snapshot benchmark; numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}, BLAS threads {blas_threads}, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    rows = []
    n_sweeps = 60 if quick else 200
    doped = chain_series(9, 128, n_sweeps)
    half = chain_series(0, 128, n_sweeps // 2)
    for name, r in (("9 holes", doped), ("half filling", half)):
        rows.append(
            (f"pi-flux {name}: chain steps/s (128 chains)", f"{r['steps_per_second']:.3g}", "", "")
        )
        hop, exchange = r["acceptance"]
        rows.append(
            (f"pi-flux {name}: acceptance hop / exchange", f"{hop:.2f} / {exchange:.2f}", "", "")
        )
        for key, tau in r["taus"].items():
            rows.append((f"pi-flux {name}: tau_int({key}) [sweeps]", f"{tau:.2f}", "", ""))
        rows.append(
            (
                f"pi-flux {name}: max |D D^-1 - 1| after 500 steps",
                f"{r['drift']:.1e}",
                "< 1e-9",
                "yes" if r["drift"] < 1e-9 else "NO",
            )
        )
    tau = max(doped["taus"].values())
    steady = 128 * doped["sweeps_per_second"] / (2 * tau)
    rows.append(
        (
            "pi-flux 9 holes: decorrelated snapshots/s (steady, 2 tau_int apart)",
            f"{steady:.3g}",
            "",
            "",
        )
    )
    n = 2000 if quick else 10_000
    start = time.perf_counter()
    s = snapshots.pi_flux(n, SIZE, 9, seed=0)
    elapsed = time.perf_counter() - start
    scaled = elapsed * 10_000 / n
    rows.append((f"pi_flux({n}, 10, 9) end to end [s]", f"{elapsed:.1f}", "", ""))
    rows.append(
        ("  -> 10,000 snapshots [s]", f"{scaled:.0f}", "< 300", "yes" if scaled < 300 else "NO")
    )
    rows.append(("  -> snapshots/s end to end", f"{n / elapsed:.3g}", "", ""))
    for label, kwargs in (
        ("Neel parents", {"flip_probability": 0.15}),
        (
            "pi-flux parents",
            {
                "parents": snapshots.pi_flux(256, SIZE, 0, n_thermalize=30, seed=1),
                "hole_patterns": s,
            },
        ),
    ):
        start = time.perf_counter()
        snapshots.geometric_strings(5000, SIZE, 9, seed=2, **kwargs)
        rows.append(
            (
                f"geometric strings/s ({label}, l0 = 1)",
                f"{5000 / (time.perf_counter() - start):.3g}",
                "",
                "",
            )
        )
    # shell-Ising parents: the couplings of datasets/miles2021_full.toml (12 shells, tuned there)
    couplings = [1.195, 0.653, 0.394, 0.206, 0.040, 0.040, -0.005, -0.035, -0.017, -0.024,
                 -0.025, -0.015]  # fmt: skip
    start = time.perf_counter()
    snapshots.shell_ising(2500, SIZE, couplings, n_thermalize=300, n_between=10, seed=3)
    rows.append(
        (
            "shell-Ising parents/s (2,500 from 1,000 chains, 300 + 3 x 10 sweeps)",
            f"{2500 / (time.perf_counter() - start):.3g}",
            "",
            "",
        )
    )
    rows.extend(ccnn_rows(s))
    width = max(len(r[0]) for r in rows)
    print(f"{'quantity':<{width}}  {'value':>11}  {'target':>7}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>11}  {target:>7}  {ok}")
    print(
        f"# checks: mean nn spin correlator of the end-to-end run "
        f"{float(np.nanmean(snapshots.nn_spin_correlator(s))):.4f}, hole density "
        f"{float(snapshots.densities(s)[:, 2].mean()):.4f}"
    )


if __name__ == "__main__":
    main()
