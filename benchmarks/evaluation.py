"""Speed of physxai's evaluation metrics on a digits CNN, side by side with Quantus where it loads.

Two metrics on 256 digits (8 x 8) and a small CNN trained for a few epochs with
:func:`physxai.models.fit`:

- pixel flipping / AOPC: MoRF curves over all 64 pixels, replacement by 0, of the true class's
  logit, from precomputed saliency maps (Quantus: ``PixelFlipping(features_in_step=1)``);
- cascading randomisation, top layer down, of the saliency map, Spearman per sample (Quantus:
  ``MPRT(layer_order="top_down")``), with the same explanation function on both sides.

Both sides run in one process on one torch thread and are reported as best-of-``--repeat``
times and as a ratio (physxai / Quantus: below 1 means physxai is faster). Agreement is
checked too: the largest difference between the two sides' curves and correlations.

Quantus imports zennit, which imports torchvision; the registry's torchvision wheels do not load
against the CPU build of torch, so (as in tests/conftest.py) a stub stands in for the two
torchvision classes zennit needs.

Run:  python -m benchmarks.evaluation [--repeat 3] [--n 256]   (from the repository root)
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from physxai import attribute
from physxai.evaluation import aopc, cascading_randomization, perturbation_curves
from physxai.models import CNN, fit


def digits(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    return x[n:], y[n:], x[:n], y[:n]


def digits_cnn(train_x: torch.Tensor, train_y: torch.Tensor) -> nn.Module:
    torch.manual_seed(0)
    model = CNN(1, 10, channels=(16, 32))
    fit(model, (train_x, train_y), epochs=30, lr=1e-2, batch_size=64, progress=False)
    return model.eval()


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def import_quantus() -> Any:
    try:
        return importlib.import_module("quantus")
    except ModuleNotFoundError as err:
        if err.name == "quantus":
            return None
        raise
    except (RuntimeError, ImportError, AttributeError):
        for name in [m for m in sys.modules if m.split(".")[0] in ("torchvision", "zennit", "quantus")]:
            del sys.modules[name]
        tv = types.ModuleType("torchvision")
        models = types.ModuleType("torchvision.models")
        resnet = types.ModuleType("torchvision.models.resnet")

        class BasicBlock(nn.Module):
            pass

        class Bottleneck(nn.Module):
            pass

        resnet.BasicBlock, resnet.Bottleneck = BasicBlock, Bottleneck
        tv.models, models.resnet = models, resnet
        sys.modules.update({"torchvision": tv, "torchvision.models": models, "torchvision.models.resnet": resnet})
        return importlib.import_module("quantus")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train_x, train_y, x, y = digits(args.n)
    model = digits_cnn(train_x, train_y)
    with torch.no_grad():
        test_accuracy = float((model(x).argmax(1) == y).float().mean())
    print(f"digits CNN: {sum(p.numel() for p in model.parameters())} parameters, accuracy {test_accuracy:.3f} on the {args.n} samples")
    R = attribute(model, x, "saliency", target=y)

    def ours_aopc() -> torch.Tensor:
        curves = perturbation_curves(model, x, R, target=y, replacement="zero", generator=torch.Generator().manual_seed(0))
        return curves, aopc(curves)

    t_ours_aopc, (curves, scores) = best_of(args.repeat, ours_aopc)

    def ours_random() -> Any:
        return cascading_randomization(model, x, "saliency", target=y, similarities=("spearman",))

    t_ours_rand, rand = best_of(args.repeat, ours_random)
    rows = [("AOPC (MoRF, 64 pixels, zero)", t_ours_aopc), ("cascading randomisation (saliency, Spearman)", t_ours_rand)]
    print(f"physxai: mean AOPC {float(scores.mean()):.3f}; cascade layers {rand.layers}; "
          f"median Spearman per step {[round(float(v), 3) for v in rand.median('spearman')]}")

    quantus = import_quantus()
    peer: dict[str, float] = {}
    if quantus is None:
        print("quantus is not installed: pip install -c constraints.txt quantus")
    else:
        x_np, y_np, R_np = x.numpy(), y.numpy(), R.detach().numpy()

        def explain(model: nn.Module, inputs: Any, targets: Any, **kwargs: Any) -> np.ndarray:
            inputs = torch.as_tensor(inputs, dtype=torch.float32)
            targets = torch.as_tensor(targets, dtype=torch.long)
            return attribute(model, inputs, "saliency", target=targets).detach().numpy()

        flip = quantus.PixelFlipping(
            features_in_step=1, perturb_baseline=0.0, normalise=False, abs=False,
            disable_warnings=True, return_auc_per_sample=False,
        )

        def theirs_aopc() -> Any:
            return flip(model=model, x_batch=x_np, y_batch=y_np, a_batch=R_np, softmax=False, device="cpu", batch_size=args.n)

        t_q_aopc, q_curves = best_of(args.repeat, theirs_aopc)
        q_curves = torch.tensor(np.asarray(q_curves), dtype=torch.float32)
        # Quantus's curve starts after the first flip; ours has f(x) first
        diff = float((q_curves - curves[:, 1:]).abs().max())
        print(f"quantus PixelFlipping: curves {tuple(q_curves.shape)}, max |ours - quantus| = {diff:.2e}")

        mprt = quantus.MPRT(
            similarity_func=quantus.similarity_func.correlation_spearman, layer_order="top_down",
            abs=False, normalise=False, return_sample_correlation=False, disable_warnings=True, seed=0,
        )

        def theirs_random() -> Any:
            return mprt(model=model, x_batch=x_np, y_batch=y_np, a_batch=R_np, explain_func=explain,
                        softmax=False, device="cpu", batch_size=args.n)

        t_q_rand, q_rand = best_of(args.repeat, theirs_random)
        layers = list(q_rand.keys()) if isinstance(q_rand, dict) else []
        medians = [round(float(np.median(q_rand[k])), 3) for k in layers]
        print(f"quantus MPRT: layers {layers}; median Spearman per step {medians}")
        peer = {rows[0][0]: t_q_aopc, rows[1][0]: t_q_rand}

    print()
    print(f"| metric ({args.n} digits) | physxai s | quantus s | ratio |")
    print("|---|---|---|---|")
    for name, t in rows:
        q = peer.get(name)
        print(f"| {name} | {t:.3f} | {'-' if q is None else f'{q:.3f}'} | {'-' if q is None else f'{t / q:.3f}'} |")


if __name__ == "__main__":
    main()
