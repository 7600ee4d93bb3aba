"""Throughput and peak memory of ``physxai.attribute_dataset`` against a Captum loop in memory.

The work: N spin lattices of 32 x 32 (int8 +-1 in one HDF5 file, gzip, as the data cards write
them), explained by a ~30k-parameter lattice CNN (``lattice_cnn``, the phase classifier of
``attribution_vs_peers.py``) for output 1, with

- integrated gradients, 50 Gauss-Legendre steps, baseline 0 (Captum's defaults), and
- LRP with the epsilon rule on every layer, epsilon = 1e-9 (physxai
  ``composite=EpsilonComposite(epsilon=1e-9)``; Captum's ``LRP`` with its default
  ``EpsilonRule``, whose epsilon is 1e-9: with physxai's default 1e-6 the two differ by about 6 %
  on this model, whose pre-activations are small).

physxai streams the file: ``attribute_dataset(model, file, method, out=..., batch_size=B)`` reads B
rows, attributes them, writes them to the output file and goes on. The peer holds the data set in
memory the usual way: the whole ``/inputs`` as one float32 tensor, a loop over batches of B rows
calling Captum, and the results gathered in one preallocated array of N x 32 x 32. Captum's time
counts the loop only (not reading the file); physxai's counts reading and writing too.

Each measurement runs in a fresh subprocess, which reports its wall time for the work and its
peak resident set size (``VmHWM``), absolute and above its resting size after imports and model
construction. Agreement: the largest difference between physxai's stored rows and Captum's
over the first 256 samples, relative to the largest magnitude.

Run:  python benchmarks/attribute_dataset.py [--n 100000] [--methods ig,lrp] [--batch-size 256]
      [--threads 1] [--dir DIR]
Target (issue 11): memory flat in N for physxai (a 2 GB file attributed in under 1 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1
N_COMPARE = 256


class LatticeCNN(nn.Module):
    """(n, 32, 32) spins -> (n, 2) logits; reshapes in ``forward`` so both LRPs see only
    Conv2d, ReLU, pooling and Linear modules."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x[:, None]).flatten(1))


def lattice_cnn() -> LatticeCNN:
    """The benchmark's model, seeded."""
    torch.manual_seed(0)
    return LatticeCNN().eval()


def make_data(path: Path, n: int) -> Path:
    """N random +-1 lattices of 32 x 32, written in blocks of 10k (int8, gzip)."""
    from physxai.data import write

    rng = np.random.default_rng(0)
    spins = np.empty((n, 32, 32), np.int8)
    for start in range(0, n, 10_000):
        stop = min(start + 10_000, n)
        spins[start:stop] = rng.choice(np.array([-1, 1], np.int8), size=(stop - start, 32, 32))
    write(path, inputs=spins, targets=rng.integers(0, 2, n), dims="sample,y,x",
          attrs={"generator": "benchmark", "seed": 0})
    return path


def _rss_mb() -> float:
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page / 2**20


def _peak_rss_mb() -> float:
    """This process's resident high-water mark (``VmHWM``). Not ``ru_maxrss``: Linux carries
    that over from the parent's image through fork and exec, so a child of a big parent would
    report the parent's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def child(side: str, method: str, data: Path, out: Path, batch_size: int, compare: Path | None) -> dict:
    """One measurement in this (fresh) process."""
    model = lattice_cnn()
    rest = _rss_mb()
    if side == "physxai":
        from physxai import attribute_dataset
        from physxai.attribution.lrp import EpsilonComposite

        options = {"n_steps": 50} if method == "ig" else {"composite": EpsilonComposite(1e-9)}
        name = "integrated_gradients" if method == "ig" else "lrp"
        start = time.perf_counter()
        attribute_dataset(model, data, name, out=out, target=TARGET, batch_size=batch_size,
                          overwrite=True, progress=False, **options)
        seconds = time.perf_counter() - start
        result = {}
    else:
        import h5py
        from captum.attr import LRP, IntegratedGradients

        with h5py.File(data, "r") as f:
            x = torch.from_numpy(f["inputs"][()]).float()
        n = x.shape[0]
        attributions = np.empty((n, 32, 32), np.float32)
        explainer = IntegratedGradients(model) if method == "ig" else LRP(model)
        start = time.perf_counter()
        for a in range(0, n, batch_size):
            xb = x[a : a + batch_size]
            if method == "ig":
                r = explainer.attribute(xb, target=TARGET, n_steps=50)
            else:
                r = explainer.attribute(xb, target=TARGET)
            attributions[a : a + batch_size] = r.detach().numpy()
        seconds = time.perf_counter() - start
        result = {}
        if compare is not None:
            import h5py

            name = "integrated_gradients" if method == "ig" else "lrp"
            with h5py.File(compare, "r") as f:
                ours = f[f"attributions/{name}"][:N_COMPARE]
            theirs = attributions[:N_COMPARE]
            result["rel_diff"] = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    peak = _peak_rss_mb()
    return {"seconds": seconds, "peak_mb": peak, "rest_mb": rest, **result}


def measure(side: str, method: str, data: Path, out: Path, batch_size: int, threads: int,
            compare: Path | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--methods", method,
           "--data", str(data), "--out", str(out), "--batch-size", str(batch_size),
           "--threads", str(threads)]
    if compare is not None:
        cmd += ["--compare", str(compare)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} {method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="lattices (default 100k)")
    parser.add_argument("--methods", default="ig,lrp", help="comma-separated: ig, lrp")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--dir", help="where the data and output files go (default: a temp dir)")
    parser.add_argument("--no-captum", action="store_true", help="physxai only")
    parser.add_argument("--json", help="write the rows as JSON here")
    parser.add_argument("--child", choices=["physxai", "captum"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--compare", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child:
        compare = Path(args.compare) if args.compare else None
        row = child(args.child, args.methods, Path(args.data), Path(args.out), args.batch_size, compare)
        print(json.dumps(row))
        return row

    import physxai

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="physxai_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"lattices_{args.n}.h5"
    if not data.exists():
        t0 = time.perf_counter()
        make_data(data, args.n)
        print(f"wrote {data} ({data.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    print(f"physxai {physxai.__version__}, torch {torch.__version__}, "
          f"{platform.processor() or platform.machine()}, {args.threads} thread(s), "
          f"N = {args.n}, batch {args.batch_size}")
    header = (f"{'method':6s} {'side':8s} {'seconds':>9s} {'samples/s':>10s} {'peak MB':>8s} "
              f"{'above rest MB':>14s} {'rel. diff':>10s}")
    print(header)
    rows = []
    for method in args.methods.split(","):
        out = work / f"out_{method}_{args.n}.h5"
        sides = ["physxai"] + ([] if args.no_captum else ["captum"])
        for side in sides:
            r = measure(side, method, data, out, args.batch_size, args.threads,
                        compare=out if side == "captum" else None)
            row = {"method": method, "side": side, "n": args.n, **r,
                   "samples_per_s": args.n / r["seconds"]}
            rows.append(row)
            diff = f"{row['rel_diff']:.1e}" if "rel_diff" in row else "-"
            print(f"{method:6s} {side:8s} {r['seconds']:9.2f} {row['samples_per_s']:10.1f} "
                  f"{r['peak_mb']:8.0f} {r['peak_mb'] - r['rest_mb']:14.0f} {diff:>10s}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return {"rows": rows}


if __name__ == "__main__":
    main()
