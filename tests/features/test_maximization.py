"""Activation maximisation and objectives: analytic maximisers, regularisers, code space, errors."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from physxai.features import (
    GaussianMixtureDensity,
    Objective,
    class_means,
    deep_dream,
    maximize_activation,
    total_variation,
)
from physxai.testing import tiny_cnn

D = torch.float64


def linear_model(d: int = 5, k: int = 2, seed: int = 0) -> nn.Linear:
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, k).to(D)
    with torch.no_grad():
        model.weight.copy_(torch.randn(k, d, generator=g, dtype=D))
        model.bias.copy_(torch.randn(k, generator=g, dtype=D))
    return model.eval()


def state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_linear_model_reaches_the_maximiser_on_an_l2_ball():
    model = linear_model()
    w = model.weight[1].detach()
    init = torch.randn(3, 5, dtype=D)
    res = maximize_activation(
        model, Objective.logit(1), init, max_norm=2.0, optimizer="sgd", step_size=0.5, n_steps=60
    )
    expected = 2.0 * w / w.norm()  # argmax_{|x| <= r} w.x + b = r w/|w|
    assert torch.allclose(res.inputs[:, 0], expected.expand(3, 5), atol=1e-10)
    assert torch.allclose(res.objective, (2.0 * w.norm() + model.bias[1]).expand(3, 1), atol=1e-10)


def test_l2_penalty_gives_w_over_two_lambda():
    model = linear_model()
    w = model.weight[0].detach()
    res = maximize_activation(
        model,
        Objective.logit(0),
        torch.zeros(1, 5, dtype=D),
        l2=0.5,
        optimizer="sgd",
        step_size=0.4,
        n_steps=200,
    )
    # d/dx (w.x - lambda |x|^2) = 0  ->  x* = w / (2 lambda)  (Simonyan et al. 2013)
    assert torch.allclose(res.inputs[0, 0], w / (2 * 0.5), atol=1e-9)
    # the penalised objective ascends monotonically for this concave problem
    assert bool((res.total_trajectory[1:] >= res.total_trajectory[:-1] - 1e-12).all())
    assert res.settings["l2"] == 0.5 and res.settings["n_steps"] == 200
    assert res.settings["objective"] == "logit of class 0"


def test_code_space_stays_in_the_generator_range_and_is_exact():
    model = linear_model(d=6, k=1)
    g = torch.Generator().manual_seed(1)
    A = torch.randn(6, 2, generator=g, dtype=D)
    decoder = nn.Linear(2, 6, bias=False).to(D)
    with torch.no_grad():
        decoder.weight.copy_(A)
    lam = 0.25
    res = maximize_activation(
        model,
        Objective.output(),
        torch.zeros(2, 2, dtype=D),
        decoder=decoder,
        l2=lam,
        optimizer="sgd",
        step_size=0.2,
        n_steps=300,
    )
    w = model.weight[0].detach()
    z_star = A.T @ w / (2 * lam)  # argmax_z w.(A z) - lambda |z|^2
    assert torch.allclose(res.codes[:, 0], z_star.expand(2, 2), atol=1e-9)
    x = res.inputs[:, 0]
    assert torch.allclose(x, res.codes[:, 0] @ A.T, atol=1e-12)
    # x lies in the column space of A: the residual of its least-squares fit is zero
    resid = x.T - A @ torch.linalg.lstsq(A, x.T).solution
    assert float(resid.abs().max()) < 1e-10
    assert res.settings["l2_on"] == "codes"


def test_total_variation_regulariser_lowers_total_variation():
    model = tiny_cnn(dtype=D)
    init = 0.1 * torch.randn(2, 1, 8, 8, dtype=D)
    obj = Objective.channel("features.conv2", 1)
    common = {"n_steps": 40, "step_size": 0.05, "bounds": (-1.0, 1.0)}
    plain = maximize_activation(model, obj, init, **common)
    smooth = maximize_activation(model, obj, init, tv=0.5, **common)
    tv_plain = total_variation(plain.inputs[:, 0]).mean()
    tv_smooth = total_variation(smooth.inputs[:, 0]).mean()
    assert tv_smooth < 0.7 * tv_plain
    assert float(plain.inputs.abs().max()) <= 1.0  # projected onto the box


def test_total_variation_formula():
    x = torch.tensor([[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]])
    # horizontal |1|+|2|+0+0, vertical |2|+|1|+|1|
    assert total_variation(x).tolist() == [7.0]
    assert total_variation(x, n_spatial=1).tolist() == [3.0]


def test_tanh_parameterisation_stays_in_the_spin_range_and_saturates():
    model = linear_model(d=9, k=1)
    res = maximize_activation(
        model,
        Objective.output(),
        torch.zeros(1, 9, dtype=D),
        parameterization="tanh",
        n_steps=300,
        step_size=0.1,
    )
    x = res.inputs[0, 0]
    assert float(x.abs().max()) < 1.0
    # the maximiser over the cube [-1, 1]^9 is sign(w)
    assert torch.equal(torch.sign(x), torch.sign(model.weight[0].detach()))
    assert float(x.abs().min()) > 0.9


def test_restarts_batch_diversity_and_trajectory_shapes():
    model = tiny_cnn(dtype=D)
    init = torch.zeros(2, 1, 8, 8, dtype=D)
    gen = torch.Generator().manual_seed(0)
    res = maximize_activation(
        model,
        Objective.logit(torch.tensor([0, 2])),
        init,
        n_restarts=3,
        init_noise=0.1,
        n_steps=5,
        diversity=0.1,
        jitter=1,
        blur_sigma=0.5,
        blur_every=2,
        generator=gen,
    )
    assert res.inputs.shape == (2, 3, 1, 8, 8)
    assert res.trajectory.shape == (6, 2, 3) and res.total_trajectory.shape == (5, 2, 3)
    assert res.best.shape == (2, 1, 8, 8)
    # per-start targets: row 1 maximised class 2
    out = model(res.inputs[1].reshape(3, 1, 8, 8))[:, 2]
    assert torch.allclose(res.objective[1], out.detach())
    # same generator state -> same result
    again = maximize_activation(
        model,
        Objective.logit(torch.tensor([0, 2])),
        init,
        n_restarts=3,
        init_noise=0.1,
        n_steps=5,
        diversity=0.1,
        jitter=1,
        blur_sigma=0.5,
        blur_every=2,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(res.inputs, again.inputs)


def test_log_probability_and_combined_objectives():
    model = linear_model(d=4, k=3)
    x = torch.randn(5, 4, dtype=D)
    out = model(x)
    from physxai.features.objectives import evaluate_objective

    lp = evaluate_objective(model, x, Objective.log_probability(2), "t")
    assert torch.allclose(lp, torch.log_softmax(out, 1)[:, 2])
    combo = Objective.logit(0) - 0.5 * Objective.logit(1)
    val = evaluate_objective(model, x, combo, "t")
    assert torch.allclose(val, out[:, 0] - 0.5 * out[:, 1])
    custom = Objective.custom(lambda m, xx: m(xx).sum(1)) + Objective.logit(0)
    assert torch.allclose(evaluate_objective(model, x, custom, "t"), out.sum(1) + out[:, 0])


def test_neuron_channel_layer_norm_read_the_right_activation():
    from physxai.features.objectives import evaluate_objective

    model = tiny_cnn(dtype=D)
    x = torch.randn(3, 1, 8, 8, dtype=D)
    a = model.features.conv2(model.features.relu1(model.features.conv1(x)))
    ev = lambda obj: evaluate_objective(model, x, obj, "t")
    assert torch.allclose(ev(Objective.channel("features.conv2", 1)), a[:, 1].sum((1, 2)))
    assert torch.allclose(ev(Objective.neuron("features.conv2", (2, 3, 4))), a[:, 2, 3, 4])
    assert torch.allclose(ev(Objective.neuron("features.conv2", 5)), a.reshape(3, -1)[:, 5])
    assert torch.allclose(ev(Objective.layer_norm("features.conv2")), a.pow(2).sum((1, 2, 3)))


def test_inplace_relu_after_the_layer_does_not_change_the_captured_activation():
    from physxai.features.objectives import evaluate_objective

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True)).to(D)
    x = torch.randn(6, 3, dtype=D)
    pre = model[0](x)
    val = evaluate_objective(model, x, Objective.neuron("0", 1), "t")
    assert torch.allclose(val, pre[:, 1])  # negative values survive: not the ReLU'd copy
    assert bool((val < 0).any())


def test_gmm_log_density_matches_sklearn_and_reports_zero_variance():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 4, generator=g, dtype=D)
    X[:, 3] = 0.0  # a pixel that never changes
    q = GaussianMixtureDensity(n_components=3, reg_covar=0.05).fit(X)
    assert q.zero_variance_features_ == 1
    pts = torch.randn(7, 4, generator=g, dtype=D)
    ours = q.log_density(pts)
    ref = torch.as_tensor(q.gmm_.score_samples(pts.numpy()))
    assert torch.allclose(ours, ref, atol=1e-9)
    diag = GaussianMixtureDensity(2, covariance_type="diag").fit(X)
    assert torch.allclose(
        diag(pts), torch.as_tensor(diag.gmm_.score_samples(pts.numpy())), atol=1e-9
    )


def test_density_expert_pulls_towards_the_data():
    model = linear_model(d=2, k=1)
    g = torch.Generator().manual_seed(0)
    X = 0.3 * torch.randn(300, 2, generator=g, dtype=D) + torch.tensor([3.0, -1.0], dtype=D)
    q = GaussianMixtureDensity(1, reg_covar=1e-3).fit(X)
    init = torch.zeros(1, 2, dtype=D)
    kw = {"l2": 0.05, "optimizer": "sgd", "step_size": 0.05, "n_steps": 400}
    plain = maximize_activation(model, Objective.output(), init, **kw)
    expert = maximize_activation(
        model, Objective.output(), init, density=q, density_weight=1.0, **kw
    )
    centre = X.mean(0)
    assert (expert.inputs[0, 0] - centre).norm() < 0.5 * (plain.inputs[0, 0] - centre).norm()
    assert float(q(expert.inputs[0])) > float(q(plain.inputs[0]))


def test_model_is_not_modified_and_training_mode_warns():
    model = tiny_cnn(dtype=D)
    before = state(model)
    flags = [p.requires_grad for p in model.parameters()]
    maximize_activation(
        model, Objective.channel("features.conv2", 0), torch.zeros(1, 1, 8, 8, dtype=D), n_steps=3
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks for m in model.modules())
    model.train()
    with pytest.warns(UserWarning, match="training mode"):
        maximize_activation(model, Objective.logit(0), torch.zeros(1, 1, 8, 8, dtype=D), n_steps=1)
    assert model.training


def test_missing_layer_names_the_valid_ones():
    model = tiny_cnn(dtype=D)
    with pytest.raises(
        ValueError, match=r"'features.conv9'.*valid names are 'features', 'features.conv1'"
    ):
        maximize_activation(
            model, Objective.channel("features.conv9", 0), torch.zeros(1, 1, 8, 8, dtype=D)
        )
    assert not any(m._forward_hooks for m in model.modules())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            {"init": torch.zeros(1, 3, dtype=D)},
            r"could not run on inputs of shape \(1, 3\) built from init",
        ),
        ({"n_restarts": 0}, "n_restarts must be an int >= 1"),
        ({"step_size": 0.0}, "step_size must be a finite number > 0"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"parameterization": "sigmoid"}, "parameterization must be one of"),
        ({"bounds": (1.0, -1.0)}, "bounds must be a pair"),
        (
            {"parameterization": "tanh", "max_norm": 1.0},
            "max_norm needs parameterization='identity'",
        ),
        ({"diversity": 1.0}, "diversity compares restarts"),
        ({"decoder": nn.Identity(), "blur_sigma": 1.0}, "blur_sigma smooths the optimised input"),
        ({"n_spatial": 3}, "n_spatial must be in"),
        ({"density": lambda x: x}, "density must return a log-density"),
        ({"transform": lambda x, g: x[:, :2]}, "transform must keep the shape"),
        ({"decoder": lambda z: z.sum()}, "the decoder must map codes"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    model = linear_model()
    init = kwargs.pop("init", torch.zeros(1, 5, dtype=D))
    with pytest.raises(ValueError, match=match):
        maximize_activation(model, Objective.logit(0), init, n_steps=2, **kwargs)


def test_objective_spec_errors():
    model = linear_model()
    x = torch.zeros(1, 5, dtype=D)
    with pytest.raises(TypeError, match="objective must be an Objective"):
        maximize_activation(model, "logit", x)
    with pytest.raises(TypeError, match="target must be an int or a LongTensor"):
        Objective.logit(1.5)
    with pytest.raises(TypeError, match="index must be an int or a tuple"):
        Objective.neuron("0", "a")
    with pytest.raises(TypeError, match="layer must be a non-empty qualified module name"):
        Objective.channel("", 0)
    with pytest.raises(TypeError, match="fn must be callable"):
        Objective.custom(3)
    with pytest.raises(ValueError, match="outside the model output's 2 columns"):
        maximize_activation(model, Objective.logit(7), x, n_steps=1)
    with pytest.raises(ValueError, match="needs a 2-d model output"):
        maximize_activation(lambda t: t.sum(1), Objective.log_probability(0), x, n_steps=1)
    with pytest.raises(ValueError, match=r"needs a model output of shape \(n,\) or \(n, 1\)"):
        maximize_activation(model, Objective.output(), x, n_steps=1)
    with pytest.raises(TypeError, match="needs inner layers"):
        maximize_activation(lambda t: t, Objective.neuron("a", 0), x, n_steps=1)
    cnn = tiny_cnn(dtype=D)
    xc = torch.zeros(1, 1, 8, 8, dtype=D)
    with pytest.raises(ValueError, match="channel 9 does not exist in layer 'features.conv2'"):
        maximize_activation(cnn, Objective.channel("features.conv2", 9), xc, n_steps=1)
    with pytest.raises(ValueError, match="index 999 is outside layer"):
        maximize_activation(cnn, Objective.neuron("features.conv2", 999), xc, n_steps=1)
    with pytest.raises(ValueError, match=r"index \(1, 2\) does not fit layer"):
        maximize_activation(cnn, Objective.neuron("features.conv2", (1, 2)), xc, n_steps=1)
    with pytest.raises(ValueError, match="must give one value per row"):
        maximize_activation(model, lambda m, t: m(t), x, n_steps=1)


def test_layer_used_twice_or_never_is_an_error():
    act = nn.ReLU()
    twice = nn.Sequential(nn.Linear(2, 2), act, nn.Linear(2, 2), act).to(D).eval()
    with pytest.raises(ValueError, match="called 2 times in one forward pass"):
        maximize_activation(twice, Objective.neuron("1", 0), torch.zeros(1, 2, dtype=D), n_steps=1)

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.extra = nn.ReLU()

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(ValueError, match="was not called during the forward pass"):
        maximize_activation(
            Unused().to(D).eval(),
            Objective.neuron("extra", 0),
            torch.zeros(1, 2, dtype=D),
            n_steps=1,
        )


def test_class_means_and_errors():
    X = torch.tensor([[1.0, 0.0], [3.0, 2.0], [10.0, 10.0]], dtype=D)
    classes, means = class_means(X, torch.tensor([4, 4, 1]))
    assert classes.tolist() == [1, 4]
    assert means.tolist() == [[10.0, 10.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match=r"labels must be an integer tensor of shape \(3,\)"):
        class_means(X, torch.tensor([0.0, 1.0, 1.0]))


def test_gmm_errors():
    with pytest.raises(ValueError, match="reg_covar must be a finite number > 0"):
        GaussianMixtureDensity(reg_covar=0.0)
    q = GaussianMixtureDensity(2)
    from physxai.errors import NotFittedError

    with pytest.raises(NotFittedError, match="call fit"):
        q.log_density(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="at least n_components=2 rows"):
        q.fit(torch.zeros(1, 3))
    q.fit(torch.randn(20, 3, dtype=D))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\)"):
        q.log_density(torch.zeros(2, 4, dtype=D))


def test_deep_dream_raises_the_layer_norm_and_keeps_the_input():
    from physxai.features.objectives import evaluate_objective

    model = tiny_cnn(dtype=D)
    x = torch.randn(2, 1, 8, 8, dtype=D)
    x0 = x.clone()
    out = deep_dream(
        model,
        x,
        "features.relu2",
        n_steps=10,
        step_size=0.05,
        jitter=1,
        bounds=(-3.0, 3.0),
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(x, x0) and out.shape == x.shape and out.dtype == x.dtype
    norm = lambda t: evaluate_objective(model, t, Objective.layer_norm("features.relu2"), "t")
    assert bool((norm(out) > 1.5 * norm(x)).all())
    assert float(out.abs().max()) <= 3.0
    with pytest.raises(ValueError, match="'features.relu9'.*valid names"):
        deep_dream(model, x, "features.relu9")
    with pytest.raises(ValueError, match="n_steps must be an int >= 1"):
        deep_dream(model, x, "features.relu2", n_steps=0)
    assert not math.isnan(float(out.sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deep_dream(model, x, Objective.channel("features.conv1", 0), n_steps=1)
