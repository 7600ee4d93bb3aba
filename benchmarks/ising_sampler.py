"""Speed and decorrelation of physxai's 2D Ising samplers (issue 3 targets).

Prints one table:

- checkerboard Metropolis: spin-flip attempts per second at T_c for L = 32 and 64 with 64 and 256
  chains (``ising.run_metropolis``, many sweeps per call);
- tau_int of |M| and of E at T_c, L = 32, for Metropolis and Wolff, in sweeps (Wolff:
  sweep-equivalents = cluster flips x mean cluster size / N), from long equilibrium runs of the
  kernels ``ising.sample`` uses, with Sokal's windowing (``ising.integrated_autocorrelation_time``);
- independent samples per second at T_c, L = 32: steady state, chains x steps per second /
  (2 tau_int in steps), and end to end, ``ising.sample(32, [T_c], 256)`` including its pilot;
- Wolff spins flipped per second at T_c, L = 32, with 64, 256 and 1024 chains.

Throughputs are the best of ``--repeat`` runs, because the machine may be shared: torch's
two-thread kernels slow down many times over when another process holds a core.

Run:  python benchmarks/ising_sampler.py [--repeat 5] [--quick] [--threads N]
Targets (issue 3, 2 CPU cores): Metropolis >= 1e8 attempts/s at L = 64 with >= 64 chains;
Wolff tau_int(|M|) <= 5 sweep-equivalents at T_c, L = 32, and >= 5e6 spins flipped per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from physxai.physics import ising
from physxai.physics._ising_kernels import CheckerboardMetropolis, PackedWolff

TC = ising.CRITICAL_TEMPERATURE


def metropolis_attempts_per_second(size: int, n_chains: int, n_sweeps: int, repeat: int) -> float:
    spins = torch.ones(n_chains, size, size, dtype=torch.int8)
    g = torch.Generator().manual_seed(0)
    spins = ising.run_metropolis(spins, TC, n_sweeps=50, generator=g)  # leave the ordered state
    best = 0.0
    for _ in range(repeat):
        start = time.perf_counter()
        ising.run_metropolis(spins, TC, n_sweeps=n_sweeps, generator=g)
        best = max(best, n_chains * size * size * n_sweeps / (time.perf_counter() - start))
    return best


def wolff_flips_per_second(
    size: int, n_chains: int, n_steps: int, repeat: int
) -> tuple[float, float]:
    g = torch.Generator().manual_seed(0)
    beta = torch.full((n_chains,), 1 / TC, dtype=torch.float64)
    kernel = PackedWolff(torch.ones(n_chains, size, size, dtype=torch.int8), beta, 1.0, g)
    for _ in range(20):
        kernel.advance()
    best, fraction = 0.0, 0.0
    for _ in range(repeat):
        flipped, start = 0, time.perf_counter()
        for _ in range(n_steps):
            flipped += int(kernel.advance(measure=True)[2].sum())
        best = max(best, flipped / (time.perf_counter() - start))
        fraction = flipped / n_steps / n_chains / size**2
    return best, fraction


def equilibrium_series(kernel, n_equilibration: int, n_steps: int, n_sites: int):
    """|M| and E per spin of every chain at every step, and the mean cluster size (Wolff)."""
    for _ in range(n_equilibration):
        kernel.advance()
    order, energy, cluster = [], [], []
    start = time.perf_counter()
    for _ in range(n_steps):
        out = kernel.advance(measure=True)
        order.append(out[0].abs().numpy() / n_sites)
        bonds = out[2] if isinstance(kernel, CheckerboardMetropolis) else out[1]
        energy.append(-bonds.numpy() / n_sites)
        if isinstance(kernel, PackedWolff):
            cluster.append(out[2].numpy())
    elapsed = time.perf_counter() - start
    mean_cluster = float(np.mean(cluster)) if cluster else float(n_sites)
    return np.array(order).T, np.array(energy).T, mean_cluster, elapsed


def tau_row(name: str, kernel, n_chains: int, n_eq: int, n_steps: int, size: int) -> dict:
    n_sites = size * size
    order, energy, mean_cluster, elapsed = equilibrium_series(kernel, n_eq, n_steps, n_sites)
    sweeps_per_step = mean_cluster / n_sites
    tau_m = ising.integrated_autocorrelation_time(order)
    tau_e = ising.integrated_autocorrelation_time(energy)
    steps_per_second = n_steps / elapsed
    independent = n_chains * steps_per_second / (2 * max(tau_m, tau_e))
    return {
        "name": name,
        "tau_m": tau_m * sweeps_per_step,
        "tau_e": tau_e * sweeps_per_step,
        "tau_m_steps": tau_m,
        "independent": independent,
        "mean_abs_m": float(order.mean()),
        "energy": float(energy.mean()),
        "sweeps_per_step": sweeps_per_step,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="throughput: best of this many runs")
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier tau_int)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    quick = args.quick
    print(
        f"# physxai Ising sampler benchmark; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.2f}; best of {args.repeat}"
    )

    rows = []
    for size in (32, 64):
        for n_chains in (64, 256):
            n_sweeps = max(10, int(2e7 / (n_chains * size * size)) // (4 if quick else 1))
            rate = metropolis_attempts_per_second(size, n_chains, n_sweeps, args.repeat)
            target = ">= 1e8" if size == 64 else ""
            ok = ("yes" if rate >= 1e8 else "NO") if target else ""
            rows.append(
                (f"Metropolis attempts/s, L={size}, {n_chains} chains", f"{rate:.3g}", target, ok)
            )

    size = 32
    g = torch.Generator().manual_seed(1)
    n_metro = 64
    beta = torch.full((n_metro,), 1 / TC, dtype=torch.float64)
    metro = CheckerboardMetropolis(
        torch.ones(n_metro, size, size, dtype=torch.int8), beta, 1.0, 0.0, g
    )
    m = tau_row(
        "Metropolis", metro, n_metro, 1000 if quick else 3000, 3000 if quick else 12000, size
    )
    n_wolff = 256
    beta = torch.full((n_wolff,), 1 / TC, dtype=torch.float64)
    wolff = PackedWolff(torch.ones(n_wolff, size, size, dtype=torch.int8), beta, 1.0, g)
    w = tau_row("Wolff", wolff, n_wolff, 50, 300 if quick else 1500, size)
    for r in (m, w):
        target = "<= 5" if r["name"] == "Wolff" else ""
        ok = ("yes" if r["tau_m"] <= 5 else "NO") if target else ""
        rows.append(
            (f"{r['name']} tau_int(|M|) at T_c, L=32 [sweeps]", f"{r['tau_m']:.3g}", target, ok)
        )
        rows.append((f"{r['name']} tau_int(E) at T_c, L=32 [sweeps]", f"{r['tau_e']:.3g}", "", ""))
    for r, chains in ((m, n_metro), (w, n_wolff)):
        rows.append(
            (
                f"{r['name']} independent samples/s at T_c, L=32 ({chains} chains, steady)",
                f"{r['independent']:.3g}",
                "",
                "",
            )
        )
    for algorithm in ising.ALGORITHMS:
        start = time.perf_counter()
        ising.sample(32, [TC], 256, algorithm=algorithm, seed=0)
        elapsed = time.perf_counter() - start
        rows.append(
            (
                f"{algorithm} ising.sample(32, [T_c], 256) end to end [samples/s]",
                f"{256 / elapsed:.3g}",
                "",
                "",
            )
        )
    for chains in (64, 256, 1024):
        rate, fraction = wolff_flips_per_second(32, chains, 10 if quick else 30, args.repeat)
        target = ">= 5e6"
        rows.append(
            (
                (
                    f"Wolff spins flipped/s at T_c, L=32, {chains} chains "
                    f"(mean cluster {fraction:.2f} N)"
                ),
                f"{rate:.3g}",
                target,
                "yes" if rate >= 5e6 else "NO",
            )
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'quantity':<{width}}  {'value':>9}  {'target':>7}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>9}  {target:>7}  {ok}")
    print(
        f"# checks: <|M|> at T_c, L=32: Metropolis {m['mean_abs_m']:.4f}, Wolff "
        f"{w['mean_abs_m']:.4f}; <E>: {m['energy']:.4f}, {w['energy']:.4f} "
        f"(Onsager, infinite L: {ising.onsager_energy(TC):.4f})"
    )


if __name__ == "__main__":
    main()
