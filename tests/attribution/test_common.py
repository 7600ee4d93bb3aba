"""One battery over every registered attribution method (new methods enrol automatically).

For each method in METHODS and each model it applies to: shape, dtype and device are kept; a batch
equals its samples one at a time; the result does not depend on max_batch_size; the model is left
untouched (parameters, outputs, train/eval mode, no hooks, no .grad); the same generator state
gives the same result; the four target forms agree; documented bad inputs raise clear errors.
"""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
from torch import nn

from physxai import METHODS, attribute
from physxai.testing import tiny_cnn, tiny_mlp

# Options a method needs on a given model kind. A method that needs a required option and is not
# listed here fails `test_every_method_is_covered`, so a new method cannot slip past the battery.
OPTIONS: dict[str, dict[str, dict]] = {
    "occlusion": {"mlp": {"window": 1}, "cnn": {"window": (2, 2), "stride": (1, 1)}},
    "cam": {"cnn": {"layer": "features.relu2"}},  # the pooled activation
    "grad_cam": {"cnn": {"layer": "features.conv2"}},
    "smoothgrad": {"mlp": {"n_samples": 4}, "cnn": {"n_samples": 4}},
    "integrated_gradients": {"mlp": {"n_steps": 8}, "cnn": {"n_steps": 8}},
    "deep_taylor": {"mlp": {}, "cnn": {}},
}
# feature groups on the 8 x 8 CNN input: four 4 x 4 patches and sixteen 2 x 2 patches
PATCH4 = (torch.arange(8)[:, None] // 4 * 2 + torch.arange(8)[None, :] // 4)[None]
PATCH2 = (torch.arange(8)[:, None] // 2 * 4 + torch.arange(8)[None, :] // 2)[None]
OPTIONS.update(
    {
        "exact_shapley": {"mlp": {"baseline": 0.0}, "cnn": {"baseline": 0.0, "feature_mask": PATCH4}},
        "shapley_sampling": {
            "mlp": {"baseline": 0.0, "n_permutations": 4},
            "cnn": {"baseline": 0.0, "n_permutations": 2, "feature_mask": PATCH4},
        },
        # below full enumeration, so the generator matters
        "kernel_shap": {
            "mlp": {"baseline": 0.0, "n_samples": 20},
            "cnn": {"baseline": 0.0, "n_samples": 40, "feature_mask": PATCH2},
        },
        "lime": {"mlp": {"baseline": 0.0, "n_samples": 50}, "cnn": {"baseline": 0.0, "n_samples": 50}},
        "gradient_shap": {"mlp": {"baseline": 0.0, "n_samples": 8}, "cnn": {"baseline": 0.0, "n_samples": 8}},
        "deep_shap": {"mlp": {"baseline": 0.0}, "cnn": {"baseline": 0.0}},
    }
)
MODEL_ONLY = {"cam": ("cnn",), "grad_cam": ("cnn",)}


def make_case(kind: str, dtype=torch.float64):
    if kind == "mlp":
        return tiny_mlp(dtype=dtype), torch.randn(5, 6, dtype=dtype)
    return tiny_cnn(dtype=dtype), torch.randn(5, 1, 8, 8, dtype=dtype)


def cases():
    for name in sorted(METHODS):
        for kind in MODEL_ONLY.get(name, ("mlp", "cnn")):
            yield pytest.param(name, kind, id=f"{name}-{kind}")


def options(name, kind):
    return dict(OPTIONS.get(name, {}).get(kind, {}))


def call_params(name):
    return inspect.signature(METHODS[name].attribute).parameters


def run(name, model, x, **kw):
    opts = {k: v for k, v in kw.items()}
    if "fit_inputs" in inspect.signature(METHODS[name].__init__).parameters and "fit_inputs" not in opts:
        # methods fitted on data (PatternNet): fit on a fixed sample of the model's dtype
        dtype = next(model.parameters()).dtype if any(True for _ in model.parameters()) else x.dtype
        fit_gen = torch.Generator().manual_seed(0)
        opts["fit_inputs"] = torch.randn(32, *x.shape[1:], generator=fit_gen).to(dtype)
    if "generator" in call_params(name) and "generator" not in opts:
        opts["generator"] = torch.Generator().manual_seed(0)
    return attribute(model, x, name, **opts)


def hooks_of(model: nn.Module):
    found = []
    for m in model.modules():
        for attr in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            found += list(getattr(m, attr, {}).values())
    return found


def test_every_method_is_covered():
    for name, cls in METHODS.items():
        required = [
            p.name
            for p in list(inspect.signature(cls.__init__).parameters.values())[2:]
            if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY
        ]
        for kind in MODEL_ONLY.get(name, ("mlp", "cnn")):
            missing = [r for r in required if r not in options(name, kind)]
            assert not missing, f"{name} needs {missing}: add them to OPTIONS in this file"
        assert cls.name == name
        params = call_params(name)
        assert list(params)[1] == "inputs"
        assert all(p.kind is p.KEYWORD_ONLY for p in list(params.values())[2:]), name
        assert "target" in params, name


@pytest.mark.parametrize("name,kind", cases())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_device(name, kind, dtype):
    model, x = make_case(kind, dtype)
    R = run(name, model, x, target=1, **options(name, kind))
    assert isinstance(R, torch.Tensor)
    assert R.shape == x.shape and R.dtype == x.dtype and R.device == x.device
    assert torch.isfinite(R).all()


@pytest.mark.parametrize("name,kind", cases())
def test_batch_equals_single_samples(name, kind):
    if "generator" in call_params(name):
        pytest.skip("random methods draw noise per batch; covered by test_same_generator_same_result")
    model, x = make_case(kind)
    target = torch.tensor([0, 1, 2, 1, 0])
    R = run(name, model, x, target=target, **options(name, kind))
    singles = torch.cat(
        [run(name, model, x[i : i + 1], target=target[i : i + 1], **options(name, kind)) for i in range(len(x))]
    )
    torch.testing.assert_close(R, singles, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kind", cases())
def test_max_batch_size_invariance(name, kind):
    if "max_batch_size" not in call_params(name):
        pytest.skip("method does not expand the batch")
    model, x = make_case(kind)
    ref = run(name, model, x, target=2, **options(name, kind))
    for size in (2, 7, 100_000):
        R = run(name, model, x, target=2, max_batch_size=size, **options(name, kind))
        torch.testing.assert_close(R, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,kind", cases())
def test_model_untouched(name, kind):
    model, x = make_case(kind)
    x_copy = x.clone()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = model(x).detach()
    modules_before = [type(m) for m in model.modules()]
    run(name, model, x, target=0, **options(name, kind))
    assert torch.equal(x, x_copy), "inputs were mutated"
    assert not x.requires_grad
    assert not model.training
    assert not hooks_of(model), "hooks left on the model"
    assert all(p.grad is None for p in model.parameters()), "parameter .grad was written"
    assert all(p.requires_grad for p in model.parameters())
    assert [type(m) for m in model.modules()] == modules_before
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    torch.testing.assert_close(model(x).detach(), before, rtol=0, atol=0)


@pytest.mark.parametrize("name,kind", cases())
def test_training_mode_warns_and_is_kept(name, kind):
    model, x = make_case(kind)
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        run(name, model, x, target=0, **options(name, kind))
    assert model.training


@pytest.mark.parametrize("name,kind", cases())
def test_same_generator_same_result(name, kind):
    if "generator" not in call_params(name):
        pytest.skip("deterministic method")
    model, x = make_case(kind)
    a = run(name, model, x, target=1, generator=torch.Generator().manual_seed(3), **options(name, kind))
    b = run(name, model, x, target=1, generator=torch.Generator().manual_seed(3), **options(name, kind))
    c = run(name, model, x, target=1, generator=torch.Generator().manual_seed(4), **options(name, kind))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name,kind", cases())
def test_target_forms_agree(name, kind):
    model, x = make_case(kind)
    opts = options(name, kind)
    by_int = run(name, model, x, target=2, **opts)
    by_tensor = run(name, model, x, target=torch.full((len(x),), 2), **opts)
    by_callable = run(name, model, x, target=lambda out: out[:, 2], **opts)
    torch.testing.assert_close(by_tensor, by_int, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(by_callable, by_int, rtol=1e-12, atol=1e-12)
    # target=None on the same model with a one-column head
    one = nn.Sequential(model, _Column(2)).eval()
    by_none = run(name, one, x, target=None, **_reprefix(opts))
    torch.testing.assert_close(by_none, by_int, rtol=1e-12, atol=1e-12)


class _Column(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, out):
        return out[:, self.k : self.k + 1]


def _reprefix(opts):
    """Layer names move under '0.' when the model is wrapped in a Sequential."""
    if "layer" in opts:
        opts = dict(opts, layer="0." + opts["layer"])
    return opts


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,kind", cases())
def test_bad_inputs_raise(name, kind):
    model, x = make_case(kind)
    opts = options(name, kind)
    bad = x.clone()
    bad[0].view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match="must be finite"):
        run(name, model, bad, target=0, **opts)
    bad[0].view(-1)[0] = float("inf")
    with pytest.raises(ValueError, match="must be finite"):
        run(name, model, bad, target=0, **opts)
    with pytest.raises(ValueError, match="floating-point"):
        run(name, model, x.long(), target=0, **opts)
    with pytest.raises(TypeError, match="torch.Tensor"):
        run(name, model, x.numpy(), target=0, **opts)
    with pytest.raises(ValueError, match="non-empty batch"):
        run(name, model, x[:0], target=0, **opts)
    with pytest.raises(ValueError, match="target is missing"):
        run(name, model, x, **opts)
    with pytest.raises(ValueError, match=r"target must be a column in \[0, 3\)"):
        run(name, model, x, target=3, **opts)
    with pytest.raises(ValueError, match="one column per sample"):
        run(name, model, x, target=torch.zeros(len(x) + 1, dtype=torch.long), **opts)
    with pytest.raises(TypeError, match="target must be"):
        run(name, model, x, target="cat", **opts)
    with pytest.raises(TypeError, match="unexpected option"):
        run(name, model, x, target=0, not_an_option=1, **opts)
    # model and inputs on different devices: a model on the meta device stands in for a GPU
    meta_model = make_case(kind)[0].to("meta")
    with pytest.raises(ValueError, match="one device"):
        run(name, meta_model, x, target=0, **opts)


@pytest.mark.parametrize("name,kind", cases())
def test_baseline_must_broadcast(name, kind):
    params = call_params(name)
    model, x = make_case(kind)
    opts = options(name, kind)
    opts.pop("baseline", None)  # this test passes its own
    if name == "smoothgrad":  # the baseline belongs to the wrapped method
        opts.update(base_method="integrated_gradients", base_options={"n_steps": 4})
    if "baseline" not in params:
        with pytest.raises(TypeError, match="unexpected option"):
            run(name, model, x, target=0, baseline=0.0, **opts)
        return
    with pytest.raises(ValueError, match="baseline must broadcast"):
        run(name, model, x, target=0, baseline=torch.zeros(2, *x.shape[1:], dtype=x.dtype), **opts)
    with pytest.raises(ValueError, match=r"Try baseline\[None\]"):
        run(name, model, x, target=0, baseline=torch.zeros(x.shape[1:], dtype=x.dtype), **opts)
    with pytest.raises(ValueError, match="dtype of inputs"):
        run(name, model, x, target=0, baseline=torch.zeros(1, *x.shape[1:], dtype=torch.float32), **opts)
    with pytest.raises(ValueError, match="baseline must be finite"):
        run(name, model, x, target=0, baseline=float("nan"), **opts)


def test_unknown_method_lists_known_names():
    model, x = make_case("mlp")
    with pytest.raises(ValueError, match="integrated_gradients") as err:
        attribute(model, x, "integrated_gradient", target=0)
    assert "saliency" in str(err.value)


def test_non_callable_model_raises():
    with pytest.raises(TypeError, match="model must be"):
        attribute(object(), torch.randn(2, 3), "saliency")
