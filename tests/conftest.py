"""Shared fixtures: a seeded RNG for every test, float64 tiny models, and peer libraries.

Peer libraries (captum, zennit, shap) are optional: the fixtures skip a test cleanly when one is
not installed. zennit imports torchvision only for two ResNet block classes; the registry's
torchvision wheels do not load against the CPU build of torch ("operator torchvision::nms does not
exist"), so when the real import fails a small stub module stands in for those two classes.
"""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from physxai.testing import tiny_cnn, tiny_mlp

# The suite's models are tiny: one intra-op thread is faster than two, and on a loaded 2-core
# machine two threads per process oversubscribe the cores (a 1024-row Linear took 18 ms instead
# of 0.2 ms). Benchmarks set their own thread counts.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def mlp64():
    return tiny_mlp(dtype=torch.float64)


@pytest.fixture
def cnn64():
    return tiny_cnn(dtype=torch.float64)


def _stub_torchvision() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    tv = types.ModuleType("torchvision")
    models = types.ModuleType("torchvision.models")
    resnet = types.ModuleType("torchvision.models.resnet")

    class BasicBlock(nn.Module):  # stand-ins: only their types are used by zennit's canonizers
        pass

    class Bottleneck(nn.Module):
        pass

    resnet.BasicBlock, resnet.Bottleneck = BasicBlock, Bottleneck
    tv.models, models.resnet = models, resnet
    sys.modules.update({"torchvision": tv, "torchvision.models": models, "torchvision.models.resnet": resnet})


def import_zennit():
    """Import zennit, standing in a stub for torchvision when the real one cannot load."""
    try:
        return importlib.import_module("zennit")
    except ModuleNotFoundError as err:
        if err.name == "zennit":
            pytest.skip("zennit is not installed (pip install -c constraints.txt -e '.[compare]')")
        raise
    except (RuntimeError, ImportError, AttributeError):
        _stub_torchvision()
        for name in [m for m in sys.modules if m == "zennit" or m.startswith("zennit.")]:
            del sys.modules[name]
        return importlib.import_module("zennit")


@pytest.fixture
def zennit():
    mod = import_zennit()
    for sub in ("attribution", "composites", "rules", "canonizers", "core"):
        importlib.import_module(f"zennit.{sub}")
    return mod


@pytest.fixture
def captum():
    mod = pytest.importorskip("captum", reason="captum is not installed (extra 'compare')")
    importlib.import_module("captum.attr")
    return mod


@pytest.fixture
def shap():
    return pytest.importorskip("shap", reason="shap is not installed (extra 'compare')")
