"""Attribution on CUDA equals attribution on the CPU: every method, and ``attribute_dataset``.

Marked ``gpu``; skipped where ``torch.cuda.is_available()`` is False. Deterministic methods are
compared with their CPU result in float64 (to 1e-9, reduction order differs between devices);
methods that draw random numbers cannot be compared across devices (CUDA and CPU generators give
different streams), so for them the checks are device, shape, finiteness and that one generator
seed gives one result. The sharded test needs two GPUs (nccl, one rank per GPU).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from physxai import METHODS, attribute, attribute_dataset
from physxai.data import read, write
from physxai.testing import tiny_cnn

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

SIZE = 8


def _inputs(n: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, SIZE, SIZE, generator=g, dtype=torch.float64)


def _options(method: str, device: torch.device) -> dict:
    """Options each method needs on the tiny CNN, with tensors on ``device``."""
    mask = (torch.arange(SIZE)[:, None] // 4 * 2 + torch.arange(SIZE)[None, :] // 4)[None]
    background = torch.randn(4, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(1),
                             dtype=torch.float64)
    table = {
        "integrated_gradients": {"n_steps": 16},
        "lrp": {"composite": "epsilon_plus"},
        "occlusion": {"window": (1, 2, 2)},
        "cam": {"layer": "features.relu2"},
        "grad_cam": {"layer": "features.conv2"},
        "exact_shapley": {"feature_mask": mask.to(device), "baseline": 0.0},
        "deep_shap": {"background": background.to(device)},
        "gradient_shap": {"background": background.to(device), "n_samples": 8},
        "kernel_shap": {"feature_mask": mask.to(device), "baseline": 0.0, "n_samples": 64},
        "shapley_sampling": {"feature_mask": mask.to(device), "baseline": 0.0, "n_permutations": 4},
        "lime": {"feature_mask": mask.to(device), "baseline": 0.0, "n_samples": 64},
        "smoothgrad": {"n_samples": 4},
        "pattern_net": {"fit_inputs": _inputs(32).to(device)},
        "pattern_attribution": {"fit_inputs": _inputs(32).to(device)},
    }
    return dict(table.get(method, {}))


def _random(method: str) -> bool:
    import inspect

    return "generator" in inspect.signature(METHODS[method].attribute).parameters


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_runs_on_cuda(method):
    cuda = torch.device("cuda")
    model_cpu = tiny_cnn(size=SIZE, dtype=torch.float64)
    model_gpu = tiny_cnn(size=SIZE, dtype=torch.float64).to(cuda)
    x = _inputs()
    if _random(method):
        runs = [
            attribute(model_gpu, x.to(cuda), method, target=1,
                      generator=torch.Generator(device=cuda).manual_seed(3),
                      **_options(method, cuda))
            for _ in range(2)
        ]
        assert runs[0].device.type == "cuda" and runs[0].shape == x.shape
        assert bool(torch.isfinite(runs[0]).all())
        torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)
        return
    on_cpu = attribute(model_cpu, x, method, target=1, **_options(method, torch.device("cpu")))
    on_gpu = attribute(model_gpu, x.to(cuda), method, target=1, **_options(method, cuda))
    assert on_gpu.device.type == "cuda" and on_gpu.dtype == x.dtype
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-9, atol=1e-9)


@pytest.fixture
def data(tmp_path):
    x = _inputs(40).numpy()
    path = tmp_path / "D.h5"
    write(path, inputs=x, targets=np.arange(40) % 3)
    return path


@pytest.mark.parametrize("method, options", [("integrated_gradients", {"n_steps": 8}),
                                             ("lrp", {"composite": "epsilon_plus"}),
                                             ("occlusion", {"window": (1, 2, 2)})])
def test_attribute_dataset_on_cuda_equals_cpu(data, tmp_path, method, options):
    model = tiny_cnn(size=SIZE, dtype=torch.float64)
    on_cpu = attribute_dataset(model, data, method, out=tmp_path / "cpu.h5", target="targets",
                               batch_size=16, device="cpu", **options)
    on_gpu = attribute_dataset(tiny_cnn(size=SIZE, dtype=torch.float64).cuda(), data, method,
                               out=tmp_path / "gpu.h5", target="targets", batch_size=16,
                               device="cuda", **options)
    got = read(on_gpu)
    np.testing.assert_allclose(got.attributions[method], read(on_cpu).attributions[method],
                               rtol=1e-9, atol=1e-9)
    assert got.attribution_attrs[method]["device"] == "cuda"


def test_a_spec_is_loaded_onto_cuda_and_a_cpu_module_is_refused(data, tmp_path, monkeypatch):
    (tmp_path / "gpu_models.py").write_text(
        "import torch\nfrom physxai.testing import tiny_cnn\n\n"
        "def net():\n    return tiny_cnn(size=8, dtype=torch.float64)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = attribute_dataset("gpu_models:net", data, "saliency", out=tmp_path / "A.h5", target=0,
                            device="cuda")
    x = torch.from_numpy(read(data).inputs)
    expected = attribute(tiny_cnn(size=SIZE, dtype=torch.float64), x, "saliency", target=0)
    np.testing.assert_allclose(read(out).attributions["saliency"], expected.numpy(), atol=1e-9)
    with pytest.raises(ValueError, match="the model is on cpu but device='cuda'"):
        attribute_dataset(tiny_cnn(size=SIZE), data, "saliency", out=tmp_path / "B.h5", target=0,
                          device="cuda")


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs (one nccl rank each)")
def test_two_gpu_ranks_give_the_single_process_result(data, tmp_path):
    (tmp_path / "gpu_models.py").write_text(
        "import torch\nfrom physxai.testing import tiny_cnn\n\n"
        "def net():\n    return tiny_cnn(size=8, dtype=torch.float64)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    args = ["--model", "gpu_models:net", "--data", str(data), "--method", "integrated_gradients",
            "--target", "targets", "--option", "n_steps=8", "--batch-size", "8", "--device", "cuda"]
    single = subprocess.run([sys.executable, "-m", "physxai", "attribute", *args, "--out",
                             str(tmp_path / "single.h5")], env=env, check=False, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    sharded = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                              "--nproc-per-node=2", "-m", "physxai", "attribute", *args, "--out",
                              str(tmp_path / "sharded.h5")], env=env, check=False, capture_output=True, text=True)
    assert sharded.returncode == 0, sharded.stderr[-3000:]
    np.testing.assert_allclose(read(tmp_path / "sharded.h5").attributions["integrated_gradients"],
                               read(tmp_path / "single.h5").attributions["integrated_gradients"],
                               rtol=1e-9, atol=1e-9)
