"""The Shapley family against the shap package on the same model and the same background.

shap's ExactExplainer (Independent masker: interventional values over the background rows) and
KernelExplainer with every coalition enumerated compute the same exact Shapley values as ours;
DeepExplainer is DeepLIFT rescale averaged over the background, like deep_shap.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physxai.attribution import DeepShap, ExactShapley, KernelShap
from physxai.testing import tiny_mlp

pytestmark = pytest.mark.compare

F64 = torch.float64


def as_numpy_function(model, target):
    def f(rows):
        with torch.no_grad():
            return model(torch.from_numpy(np.asarray(rows, dtype=np.float64)))[:, target].numpy()

    return f


def case(d: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    model = tiny_mlp(d, (8, 8), 3, activation=torch.nn.Tanh, seed=seed)
    x = torch.randn(3, d, generator=gen, dtype=F64)
    background = torch.randn(6, d, generator=gen, dtype=F64)
    return model, x, background


@pytest.mark.slow  # shap's ExactExplainer compiles its numba kernels on first use (~20 s)
def test_exact_equals_shap_exact_explainer(shap):
    model, x, background = case(6)
    masker = shap.maskers.Independent(background.numpy(), max_samples=len(background))
    explainer = shap.explainers.Exact(as_numpy_function(model, 1), masker)
    theirs = explainer(x.numpy()).values
    ours = ExactShapley(model).attribute(x, target=1, background=background)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-6)
    assert np.abs(ours.numpy() - theirs).max() < 1e-12  # in fact to rounding


@pytest.mark.parametrize("d", [6, 10])
def test_kernel_with_all_coalitions_equals_shap_kernel_explainer(shap, d):
    model, x, background = case(d, seed=d)
    explainer = shap.KernelExplainer(as_numpy_function(model, 2), background.numpy())
    theirs = explainer.shap_values(x.numpy(), nsamples=2**d - 2, l1_reg=False, silent=True)
    ours = KernelShap(model, n_samples=2**d - 2).attribute(
        x, target=2, background=background, generator=torch.Generator().manual_seed(0)
    )
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-6)
    exact = ExactShapley(model).attribute(x, target=2, background=background)
    np.testing.assert_allclose(ours.numpy(), exact.numpy(), rtol=0, atol=1e-10)


def test_deep_shap_equals_shap_deep_explainer(shap):
    model = tiny_mlp(6, (8, 8), 3)  # ReLU: shap's rescale rule for torch
    x, background = torch.randn(3, 6, dtype=F64), torch.randn(5, 6, dtype=F64)
    theirs = np.asarray(shap.DeepExplainer(model, background).shap_values(x))[..., 1]
    ours = DeepShap(model).attribute(x, target=1, background=background)
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=0, atol=1e-10)
