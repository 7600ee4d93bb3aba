"""Speed and memory of physxai's attribution methods, side by side with Captum and zennit.

Every pair runs on the same model and the same batch in one process, and is reported as a ratio
(physxai time / peer time: below 1 means physxai is faster) and as a multiple of the method's
floor, one plain forward+backward pass of the batch (IG with 50 steps is measured against 50 of
them). Peak memory of each call is measured in a fresh subprocess (peak RSS above the process's
resting size), so one measurement cannot inherit another's allocations.

Run:  python benchmarks/attribution_vs_peers.py [--quick] [--repeat 5] [--no-memory]
Targets (issue 2): every physxai/peer ratio <= 1.0; IG(50) <= 0.8 of Captum's and <= 1.5 x its
floor; LRP epsilon <= 2.5 x forward+backward; IG on 256 lattices of 32 x 32 under 1 GB.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import types
from typing import Callable

import torch
from torch import nn

import physxai
from physxai.attribution import LRP, DeepLift, GradCAM, GuidedBackprop, IntegratedGradients, Saliency
from physxai.attribution.lrp import EpsilonGammaBox as EpsilonGammaBoxOurs


def lattice_cnn() -> nn.Sequential:
    """A phase classifier for (n, 1, 32, 32) spin lattices (about 30k parameters)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, 64), nn.ReLU(),
        nn.Linear(64, 2),
    ).eval()


def tabular_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 2)
    ).eval()


def cases(quick: bool):
    n_lat = 64 if quick else 256
    yield "cnn 32x32", lattice_cnn(), torch.randn(n_lat, 1, 32, 32).sign(), "5"
    yield "mlp d=30", tabular_mlp(), torch.randn(1024, 30), "2"


def timeit(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def forward_backward(model, x, target):
    def fn():
        xx = x.detach().requires_grad_(True)
        out = model(xx)[:, target].sum()
        torch.autograd.grad(out, xx)
    return fn


def import_zennit():
    try:
        return importlib.import_module("zennit")
    except (RuntimeError, ImportError, AttributeError):  # torchvision that cannot load: stub it
        for name in [m for m in sys.modules if m.startswith("torchvision") or m.startswith("zennit")]:
            del sys.modules[name]
        tv, models, resnet = (types.ModuleType(n) for n in ("torchvision", "torchvision.models", "torchvision.models.resnet"))
        resnet.BasicBlock = type("BasicBlock", (nn.Module,), {})
        resnet.Bottleneck = type("Bottleneck", (nn.Module,), {})
        tv.models, models.resnet = models, resnet
        sys.modules.update({"torchvision": tv, "torchvision.models": models, "torchvision.models.resnet": resnet})
        return importlib.import_module("zennit")


def pairs(model, x, kind):
    """(method, physxai callable, peer name, peer callable, floor multiple) per comparison."""
    from captum import attr as ca

    zennit = import_zennit()
    from zennit.attribution import Gradient as ZGradient
    from zennit.composites import EpsilonGammaBox, EpsilonPlusFlat

    t = 1
    layer = "4" if kind.startswith("cnn") else None
    onehot = torch.zeros(x.shape[0], 2)
    onehot[:, t] = 1

    def zennit_fn(composite):
        def fn():
            with ZGradient(model=model, composite=composite) as attributor:
                attributor(x, onehot)
        return fn

    rows = [
        ("saliency", lambda: Saliency(model).attribute(x, target=t), "captum",
         lambda: ca.Saliency(model).attribute(x, target=t, abs=False), 1),
        ("IG 50 steps", lambda: IntegratedGradients(model, n_steps=50).attribute(x, target=t), "captum",
         lambda: ca.IntegratedGradients(model).attribute(x, target=t, n_steps=50), 50),
        ("guided backprop", lambda: GuidedBackprop(model).attribute(x, target=t), "captum",
         lambda: ca.GuidedBackprop(model).attribute(x, target=t), 1),
        ("DeepLIFT", lambda: DeepLift(model).attribute(x, target=t, baseline=0.0), "captum",
         lambda: ca.DeepLift(model).attribute(x, target=t, baselines=0.0), 1),
        ("LRP epsilon_plus_flat", lambda: LRP(model, composite="epsilon_plus_flat").attribute(x, target=t),
         "zennit", zennit_fn(EpsilonPlusFlat()), 1),
        ("LRP epsilon_gamma_box", lambda: LRP(model, composite=EpsilonGammaBoxOurs(low=-1.0, high=1.0)).attribute(x, target=t),
         "zennit", zennit_fn(EpsilonGammaBox(low=-1.0, high=1.0)), 1),
        ("LRP epsilon", lambda: LRP(model, composite="epsilon").attribute(x, target=t), None, None, 1),
    ]
    if layer is not None:
        rows.append(("Grad-CAM", lambda: GradCAM(model, layer=layer, upsample=False).attribute(x, target=t), "captum",
                     lambda: ca.LayerGradCam(model, model[int(layer)]).attribute(x, target=t), 1))
    return rows


def peak_memory_mb(case: str, method: str, side: str) -> float:
    """Peak resident memory above the resting process during one call, in a fresh subprocess.

    A thread samples the resident set size (``/proc/self/statm``) every 0.5 ms while the call
    runs; the result is the largest sample minus the size just before the call.
    """
    code = (
        "import os, sys, threading, time, torch; sys.argv=['x']\n"
        "import benchmarks.attribution_vs_peers as b\n"
        f"case = [c for c in b.cases({QUICK}) if c[0] == {case!r}][0]; _, model, x, _ = case\n"
        f"row = [r for r in b.pairs(model, x, case[0]) if r[0] == {method!r}][0]\n"
        "fn = row[1] if " + repr(side) + " == 'physxai' else row[3]\n"
        "page = os.sysconf('SC_PAGE_SIZE')\n"
        "rss = lambda: int(open('/proc/self/statm').read().split()[1]) * page\n"
        "rest = rss(); peak = [rest]; done = [False]\n"
        "def watch():\n"
        "    while not done[0]:\n"
        "        peak[0] = max(peak[0], rss()); time.sleep(0.0005)\n"
        "t = threading.Thread(target=watch); t.start()\n"
        "fn(); done[0] = True; t.join()\n"
        "print((max(peak[0], rss()) - rest) / 2**20)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return float("nan")
    return float(out.stdout.strip().splitlines()[-1])


QUICK = False


def main(argv=None) -> dict:
    global QUICK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 lattices instead of 256")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--json", help="write the table as JSON here")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    QUICK = args.quick
    print(f"physxai {physxai.__version__}, torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads")
    results = []
    header = f"{'case':10s} {'method':24s} {'physxai s':>10s} {'peer':>7s} {'peer s':>9s} {'ratio':>6s} {'x floor':>8s} {'mem MB':>8s} {'peer MB':>8s}"
    print(header)
    for kind, model, x, _ in cases(args.quick):
        floor = timeit(forward_backward(model, x, 1), args.repeat)
        for method, ours, peer, theirs, mult in pairs(model, x, kind):
            t_ours = timeit(ours, args.repeat)
            t_peer = timeit(theirs, args.repeat) if theirs is not None else float("nan")
            mem = mem_peer = float("nan")
            if not args.no_memory:
                mem = peak_memory_mb(kind, method, "physxai")
                if theirs is not None:
                    mem_peer = peak_memory_mb(kind, method, "peer")
            row = dict(case=kind, method=method, physxai_s=t_ours, peer=peer or "-", peer_s=t_peer,
                       ratio=t_ours / t_peer, floor_multiple=t_ours / (mult * floor), mem_mb=mem, peer_mem_mb=mem_peer)
            results.append(row)
            print(f"{kind:10s} {method:24s} {t_ours:10.4f} {row['peer']:>7s} {t_peer:9.4f} {row['ratio']:6.2f} "
                  f"{row['floor_multiple']:8.2f} {mem:8.0f} {mem_peer:8.0f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return {"rows": results}


if __name__ == "__main__":
    main()
