"""Kingma & Ba (2015): each optimiser step for step against torch.optim, Algorithm 1's first step by hand, the
update's invariance to gradient scale, Nesterov's two forms, the stacked copies (each copy trains as if alone),
the data, an exact resume, then the quick claims."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.kingma2015 import experiment
from dlcanon.papers.kingma2015.model import (
    MLP,
    AdaGrad,
    Adam,
    ConvNet,
    LogisticRegression,
    RMSProp,
    SGDNesterov,
    conv5x5,
    objective,
)


def gradient_sequence(steps=7, shape=(3, 4), seed=0):
    """Gradients that depend on the parameters (a quadratic plus noise), so both optimisers must agree each step."""
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(*shape, generator=g, dtype=torch.float64)
    noise = [torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(steps)]
    return (lambda theta, t: 2 * (theta - A) * A.abs() + 0.3 * noise[t]), steps


PAIRS = [
    (lambda p: Adam(p, alpha=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8)),
    (lambda p: Adam(p, alpha=0.05, beta1=0.5, beta2=0.9, epsilon=1e-3),
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    (lambda p: SGDNesterov(p, alpha=0.05, mu=0.9),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    (lambda p: AdaGrad(p, alpha=0.1, epsilon=1e-10), lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10)),
    (lambda p: RMSProp(p, alpha=0.01, rho=0.9, epsilon=1e-8),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8)),
]  # fmt: skip


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["adam", "adam_other_betas", "sgdn", "adagrad", "rmsprop"])
def test_step_for_step_equal_to_torch_optim(ours, theirs):
    grad, steps = gradient_sequence()
    a = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)
    opt_a, opt_b = ours([a]), theirs([b])
    for t in range(steps):
        a.grad, b.grad = grad(a.detach(), t), grad(b.detach(), t)
        opt_a.step()
        opt_b.step()
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    assert a.detach().abs().sum() > 0


def test_adam_first_step_by_hand():
    """t = 1: m_hat_1 = g_1 and v_hat_1 = g_1^2, so the step is alpha g / (|g| + eps), about alpha sign(g) (Sec. 2.1).
    Without the bias corrections it is alpha (1 - beta1) g / (sqrt(1 - beta2) |g| + eps): ~3.16 alpha at beta2 = 0.999
    and ~10 alpha at beta2 = 0.9999, the large early steps of Sec. 5 and 6.4."""
    g = torch.tensor([0.5, -2.0, 1e-3], dtype=torch.float64)
    for bc, beta2, factor in ((True, 0.999, 1.0), (False, 0.999, 0.1 / math.sqrt(0.001)), (False, 0.9999, 10.0)):
        theta = torch.zeros(3, dtype=torch.float64)
        opt = Adam([theta], alpha=0.01, beta1=0.9, beta2=beta2, epsilon=0.0, bias_correction=bc)
        opt.step([g])
        torch.testing.assert_close(theta, -0.01 * factor * g.sign(), rtol=1e-12, atol=0)


def test_adam_step_is_invariant_to_gradient_scale():
    """Sec. 2.1: rescaling the gradients by c scales m_hat by c and v_hat by c^2, which cancel (epsilon = 0)."""
    grad, steps = gradient_sequence()
    thetas = []
    for c in (1.0, 1e3):
        theta = torch.zeros(3, 4, dtype=torch.float64)
        opt = Adam([theta], alpha=0.01, epsilon=0.0)
        for t in range(steps):
            opt.step([c * grad(theta, t)])
        thetas.append(theta)
    torch.testing.assert_close(thetas[0], thetas[1], rtol=1e-10, atol=1e-14)


def test_nesterov_shifted_form_equals_the_look_ahead_form():
    """Sutskever et al.: v_t = mu v - alpha grad f(theta + mu v), theta_t = theta + v_t. Our shifted variable
    Theta = theta + mu v follows the same path with gradients taken at Theta."""
    A = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    grad = lambda th: A @ th  # f = th^T A th / 2
    alpha, mu = 0.1, 0.9
    theta, v = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    Theta = theta.clone()
    opt = SGDNesterov([Theta], alpha=alpha, mu=mu)
    for _ in range(10):
        v = mu * v - alpha * grad(theta + mu * v)
        theta = theta + v
        opt.step([grad(Theta)])
        torch.testing.assert_close(Theta, theta + mu * v, rtol=1e-12, atol=1e-14)


def test_sqrt_decay_divides_the_step_by_sqrt_t():
    """Sec. 6.1: alpha_t = alpha / sqrt(t); with SGD without momentum, step t moves by exactly alpha / sqrt(t)."""
    theta = torch.zeros(1, dtype=torch.float64)
    opt = SGDNesterov([theta], alpha=1.0, mu=0.0, sqrt_decay=True)
    for _ in range(4):
        opt.step([torch.ones(1, dtype=torch.float64)])
    assert theta.item() == pytest.approx(-sum(1 / math.sqrt(t) for t in range(1, 5)), rel=1e-12)


@pytest.mark.parametrize("make", [
    lambda G, g: LogisticRegression(G, g),
    lambda G, g: MLP(G, g, hidden=7),
    lambda G, g: ConvNet(G, g, 2, 3, 5, side=14),
])  # fmt: skip
def test_each_stacked_copy_trains_as_if_alone(make):
    """Copies share theta_0 and minibatches; with a per-copy alpha, copy 1 of a stacked model follows exactly the
    path of a lone model (G = 1) stepped with alpha[1]."""
    torch.manual_seed(0)
    side = 14 if isinstance(make(1, torch.Generator().manual_seed(0)), ConvNet) else 28
    x, y = torch.rand(16, side * side, dtype=torch.float64), torch.randint(0, 10, (16,))
    alphas = torch.tensor([1e-3, 3e-2, 1e-1], dtype=torch.float64)
    stacked = make(3, torch.Generator().manual_seed(1)).double()
    alone = make(1, torch.Generator().manual_seed(1)).double()
    opt_s, opt_a = Adam(list(stacked.parameters()), alphas), Adam(list(alone.parameters()), float(alphas[1]))
    for _ in range(3):
        for model, opt in ((stacked, opt_s), (alone, opt_a)):
            opt.zero_grad()
            objective(model, x, y, l2=1e-3).sum().backward()
            opt.step()
    for p_s, p_a in zip(stacked.parameters(), alone.parameters(), strict=True):
        torch.testing.assert_close(p_s[1:2], p_a, rtol=1e-9, atol=1e-12)
    first = next(stacked.parameters())
    assert not torch.allclose(first[0], first[1])  # the copies did take different paths


def test_conv5x5_equals_conv2d():
    torch.manual_seed(0)
    G, c_in, c_out = 3, 2, 4
    K, b = torch.randn(G, c_out, c_in, 5, 5), torch.randn(G, c_out)
    h = torch.randn(6, G * c_in, 9, 9)
    ref = F.conv2d(h, K.flatten(0, 1), b.flatten(), padding=2, groups=G)
    torch.testing.assert_close(conv5x5(h, K, b), ref, rtol=1e-4, atol=1e-4)
    x = torch.randn(6, c_in, 9, 9)
    ref = F.conv2d(x.repeat(1, G, 1, 1), K.flatten(0, 1), b.flatten(), padding=2, groups=G)
    torch.testing.assert_close(conv5x5(x, K, b, shared_input=True), ref, rtol=1e-4, atol=1e-4)


def test_objective_is_cross_entropy_plus_half_l2():
    torch.manual_seed(0)
    model = LogisticRegression(2, torch.Generator())
    with torch.no_grad():
        model.W.normal_()
    x, y = torch.rand(5, 784), torch.randint(0, 10, (5,))
    f = objective(model, x, y, l2=0.1)
    expect = F.cross_entropy(x @ model.W[1] + model.b[1], y) + 0.05 * model.W[1].pow(2).sum()
    torch.testing.assert_close(f[1], expect)


def test_grids_and_arms():
    cfg = experiment.Config()
    a = experiment.alpha_grid(cfg, 1e-2)
    torch.testing.assert_close(a, torch.tensor([1e-3, 10**-2.5, 1e-2, 10**-1.5, 1e-1]))
    model = MLP(4 * cfg.n_alpha, torch.Generator(), hidden=3)
    opts, names, alphas = experiment.make_arms("mlp", cfg, list(model.parameters()))
    assert names == list(experiment.OPTIMISERS) and len(alphas) == 4 * cfg.n_alpha
    assert [type(o).__name__ for o in opts] == ["Adam", "SGDNesterov", "AdaGrad", "RMSProp"]
    opts, names, _ = experiment.make_arms("bias", cfg, list(model.parameters()))
    assert [(o.beta2, o.bias_correction) for o in opts] == [(0.99, True), (0.99, False), (0.9999, True),
                                                            (0.9999, False)]  # fmt: skip
    logreg_opts, _, logreg_alphas = experiment.make_arms("logreg", cfg, list(model.parameters()))
    assert logreg_opts[0].sqrt_decay and not logreg_opts[2].sqrt_decay  # AdaGrad anneals by itself
    torch.testing.assert_close(logreg_alphas[:5], cfg.logreg_alpha_scale * alphas[:5])


def test_minibatch_order_covers_each_epoch_once():
    order = experiment.minibatch_order(1000, 128, 14, torch.Generator().manual_seed(0))
    assert order.shape == (14, 128)
    assert len(set(order[:7].flatten().tolist())) == 7 * 128  # the first epoch has no repeats


def test_data_is_real_mnist():
    need(mnist.load)
    cfg = experiment.Config(n_train=500, n_eval=100)
    d = experiment.load_data(cfg)
    assert d["x"].shape == (500, 784) and d["x_cnn"].shape == (500, cfg.cnn_side**2)
    assert 0 <= d["x"].min() and d["x"].max() <= 1 and d["y"].bincount(minlength=10).min() > 10
    torch.testing.assert_close(experiment.load_data(cfg)["x"], d["x"])  # a fixed draw


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    whole, resumed = interrupt_and_resume(monkeypatch, "kingma2015", experiment, "train_task", 3, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound."""
    need(mnist.load)
    r = run_preset("kingma2015", "smoke", n_train=256, n_eval=16, batch_size=1, logreg_steps=1, mlp_steps=1,
                   cnn_steps=1, n_alpha=1, mlp_hidden=1, cnn_side=7, cnn_channels="1,1", cnn_hidden=1)  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("kingma2015", "quick"))
