"""Forward throughput of the correlator CNN against a plain CNN of similar size.

A CCNN (``physxai.probes.ccnn.CorrelatorCNN``: 2 filters 3 x 3 over 3 channels, order 4, D4
average, BatchNorm + linear head: 72 parameters) computes its correlators from one convolution
with 8 x 2 x 4 = 64 output channels (the D4 images of the filters, each raised to the powers
1..4) over the full (K - 1)-padded lattice, and the Newton-Girard recursion at every window
placement. References, both ``physxai.models.CNN`` with global average pooling and a linear
head: "plain CNN" with two 3 x 3 convolutions of 2 channels (100 parameters, the similar
parameter count) and "CNN 64" with one 3 x 3 convolution of 64 channels (about the CCNN's
convolution cost). All run in eval mode without gradients in the same process on the same
one-hot batch, interleaved, best of ``--repeat`` rounds; the script prints snapshots per second
and the throughput ratios CCNN / reference (below 1: the CCNN is slower), and the CCNN's time
split into the convolution and the recursion.

Run:  python benchmarks/ccnn_throughput.py [--lattice 16] [--batch 512] [--threads 1] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from physxai.models import CNN
from physxai.probes.ccnn import CorrelatorCNN


def one_hot_batch(n: int, size: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 3, (n, size, size), generator=gen)
    return torch.nn.functional.one_hot(codes, 3).permute(0, 3, 1, 2).float()


def best_times(fns: dict, x: torch.Tensor, repeat: int) -> dict[str, float]:
    """Best wall time of each function over ``repeat`` interleaved rounds (after a warm-up)."""
    best = {name: float("inf") for name in fns}
    with torch.no_grad():
        for fn in fns.values():
            fn(x)
        for _ in range(repeat):
            for name, fn in fns.items():
                start = time.perf_counter()
                fn(x)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lattice", type=int, default=16)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--order", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"# {platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
        f"load average {os.getloadavg()[0]:.1f}; batch {args.batch} of 3 x {args.lattice} x "
        f"{args.lattice} one-hot snapshots"
    )
    torch.manual_seed(0)
    x = one_hot_batch(args.batch, args.lattice)
    models = {
        "CCNN": CorrelatorCNN(order=args.order).eval(),
        "plain CNN": CNN(3, 2, channels=(2, 2)).eval(),
        "CNN 64": CNN(3, 2, channels=(64,)).eval(),
    }
    ccnn = models["CCNN"]
    fns = dict(models)
    fns["ccnn power sums"] = ccnn.power_sums
    fns["ccnn correlators"] = ccnn.correlators
    seconds = best_times(fns, x, args.repeat)
    print(f"{'model':<10} {'params':>7} {'seconds':>9} {'snapshots/s':>12} {'CCNN/model':>11}")
    for name, model in models.items():
        n_params = sum(p.numel() for p in model.parameters())
        ratio = seconds[name] / seconds["CCNN"]
        print(
            f"{name:<10} {n_params:>7d} {seconds[name]:>9.4f} {args.batch / seconds[name]:>12.0f} "
            f"{ratio:>11.3f}"
        )
    conv = seconds["ccnn power sums"]
    print(
        f"CCNN split: power sums (convolution) {conv:.4f} s, recursion and spatial sums "
        f"{max(seconds['ccnn correlators'] - conv, 0.0):.4f} s"
    )


if __name__ == "__main__":
    main()
