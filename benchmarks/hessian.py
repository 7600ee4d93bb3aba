"""Speed of physxai.influence on the models of Dawid et al. (2020) and a ~100k-parameter MLP.

Prints one table:

- the exact 740 x 740 Hessian (cross-entropy + L2, lambda = 0.05 as ``l2 = 0.025``) of the Hubbard
  CNN ``CNN1D_tiny_ED`` of Dawid et al. 2020 (Conv1d(1->5, 15, pad 1) -> MaxPool4 -> ReLU ->
  Conv1d(5->8, 5) -> MaxPool4 -> ReLU -> Conv1d(8->10, 2, pad 1) -> AvgPool4 -> ReLU -> Dropout
  (eval) -> Linear(140->2), 740 parameters, inputs (n, 1, 924)) on random training points, in
  float64, with ``physxai.influence.hessian(..., algorithm=--algorithm)`` ("auto" takes the
  structured path for piecewise-linear sequential networks); the column "generic" times the
  generic forward-over-reverse path on the first ``--generic-subset`` points next to the chosen
  algorithm on the same points, with their largest relative difference; with ``--check``, the
  relative difference to the double-backpropagation loop of the paper's code on the first rows;
- the top-10 eigenpairs of the Hessian of a 924-100-64-2 MLP (99,094 parameters) on 1000 points
  by ``lanczos(HessianOperator(...), k=10)``, with the number of Hessian-vector products.

Run:  python benchmarks/hessian.py [--n-train 1000] [--threads 1] [--algorithm auto] [--check]
Targets (issue 7): exact Hessian of the 740-parameter CNN on 1000 points in under 20 s (the
paper's double-backprop loop took about 5 minutes on a CPU); top-10 Lanczos eigenpairs of a
~100k-parameter model in under a minute. Timings are wall-clock seconds after a warm-up on two
points; the load average is printed before and after, as they stretch on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

# Idle OpenMP threads sleep instead of spinning (unless the caller chose otherwise): on a shared
# 2-core machine a spinning thread holds the core its partner needs, and with 2 threads every
# parallel region then waits for a time slice (the CNN row took 62 s instead of 5 s at load 4).
# OpenMP reads this once, when torch loads it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from torch import nn

from physxai.influence import (
    HessianOperator,
    flat_parameters,
    hessian,
    lanczos,
    spectrum,
)


def dawid_cnn() -> nn.Module:
    return nn.Sequential(
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


def double_backprop_rows(model: nn.Module, x, y, l2: float, rows: int) -> torch.Tensor:
    """The paper's loop: one backward pass of the gradient per row of H."""
    params = [p for p in model.parameters()]
    loss = nn.functional.cross_entropy(model(x), y) + l2 * sum(p.pow(2).sum() for p in params)
    grads = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, create_graph=True)])
    out = []
    for i in range(rows):
        row = torch.autograd.grad(grads[i], params, retain_graph=True)
        out.append(torch.cat([r.reshape(-1) for r in row]))
    return torch.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-batch-size", type=int, default=2048)
    parser.add_argument("--algorithm", choices=("auto", "generic", "sequential"), default="auto")
    parser.add_argument(
        "--generic-subset",
        type=int,
        default=100,
        help="points on which to time the generic path too (0: skip)",
    )
    parser.add_argument("--check", action="store_true", help="compare 20 rows with double backprop")
    parser.add_argument("--skip-cnn", action="store_true")
    parser.add_argument("--skip-lanczos", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"# {platform.machine()}, torch {torch.__version__}, {args.threads} thread(s) "
        f"(OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    g = torch.Generator().manual_seed(0)
    n = args.n_train
    rows = []
    if not args.skip_cnn:
        torch.manual_seed(17)
        cnn = dawid_cnn().double().eval()
        x = torch.rand(n, 1, 924, generator=g, dtype=torch.float64)
        x = x / x.norm(dim=2, keepdim=True)  # normalised like ground-state amplitudes
        y = torch.randint(2, (n,), generator=g)

        cpu: dict[str, float] = {}

        def exact(algorithm: str, m: int) -> tuple[torch.Tensor, float]:
            start, start_cpu = time.perf_counter(), time.process_time()
            h = hessian(
                cnn,
                "cross_entropy",
                x[:m],
                y[:m],
                l2=0.025,
                max_batch_size=args.max_batch_size,
                algorithm=algorithm,
            )
            cpu[algorithm] = time.process_time() - start_cpu  # all threads of the process
            return h, time.perf_counter() - start

        m = min(args.generic_subset, n)
        for algorithm in {args.algorithm, "generic"} if m else {args.algorithm}:
            exact(algorithm, 2)  # warm-up: one-time imports (torch.func, sympy) and allocations
        h, seconds = exact(args.algorithm, n)
        cpu_seconds = cpu[args.algorithm]
        s = spectrum(h)
        generic = ""
        if m:
            h_sub, t_sub = exact(args.algorithm, m)
            ref, t_ref = exact("generic", m)
            diff = float((h_sub - ref).abs().max() / ref.abs().max())
            generic = (
                f"{t_ref:.3g} s vs {t_sub:.3g} s at n={m} (x{t_ref / t_sub:.3g}), "
                f"rel. diff {diff:.1e}"
            )
        rows.append(
            (
                f"exact Hessian, CNN {flat_parameters(cnn).numel()} params, n={n}, {args.algorithm}",
                seconds,
                generic,
                f"CPU time {cpu_seconds:.3g} s; lambda_1 {s.largest:.3g}, {s.n_negative} negative",
            )
        )
        if args.check:
            ref = double_backprop_rows(cnn, x, y, 0.025, 20)
            err = float((h[:20] - ref).abs().max() / ref.abs().max())
            rows.append(("  max |H - double backprop| / max |H| (20 rows)", err, "", ""))
    if not args.skip_lanczos:
        rows.append(lanczos_row(n, g, args.max_batch_size))
    print("| case | seconds | generic path (subset) | notes |\n|---|---|---|---|")
    for name, value, generic, note in rows:
        print(f"| {name} | {value:.3g} | {generic} | {note} |")
    print(f"# load average after: {os.getloadavg()[0]:.1f}")


def lanczos_row(n: int, g: torch.Generator, max_batch_size: int) -> tuple[str, float, str, str]:
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(924, 100), nn.ReLU(), nn.Linear(100, 64), nn.ReLU(), nn.Linear(64, 2)
    )
    mlp = mlp.double().eval()
    x = torch.randn(n, 924, generator=g, dtype=torch.float64) / 924**0.5
    y = torch.randint(2, (n,), generator=g)
    op = HessianOperator(mlp, "cross_entropy", x, y, l2=0.025, max_batch_size=max_batch_size)
    start = time.perf_counter()
    values, _ = lanczos(op, k=10, tol=1e-8)
    seconds = time.perf_counter() - start
    return (
        f"top-10 Lanczos, MLP {op.n_parameters} params, n={n}",
        seconds,
        "",
        f"{op.n_products} HVPs, lambda_1 {float(values[0]):.3g}",
    )


if __name__ == "__main__":
    main()
