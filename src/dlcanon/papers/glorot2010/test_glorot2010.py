"""Mechanism tests for Glorot & Bengio (2010): the two inits (bounds, moments, and parity with
torch.nn.init.xavier_uniform_), the net against an nn.Linear reference, the back-propagated gradients against the
paper's recursion, the linear-regime variance theory, the data, the batches, an exact resume, then the claims."""

import math

import pytest
import torch
from scipy.stats import ks_2samp
from torch import nn

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.glorot2010 import experiment
from dlcanon.papers.glorot2010.model import (
    DeepNet,
    backprop_gradients,
    normalised_bound,
    predicted_backprop_factors,
    standard_bound,
    uniform_weights,
)


def test_bounds_are_the_papers_formulas():
    assert standard_bound(784, 1000) == pytest.approx(1 / 28)  # Eq. 1: 1/sqrt(784), fan-out unused
    assert normalised_bound(1000, 1000) == pytest.approx(math.sqrt(6 / 2000))  # Eq. 16
    assert normalised_bound(784, 1000) == pytest.approx(math.sqrt(6) / math.sqrt(1784))
    # Var[U[-a, a]] = a^2/3: standard gives n Var[W] = 1/3 (Sec. 4.2.1), normalised gives Var = 2/(n_i + n_j) (Eq. 12)
    assert 1000 * standard_bound(1000, 1000) ** 2 / 3 == pytest.approx(1 / 3)
    assert normalised_bound(300, 700) ** 2 / 3 == pytest.approx(2 / (300 + 700))


def test_predicted_backprop_factors_by_hand():
    sizes = (784, 256, 256, 10)
    std = predicted_backprop_factors(sizes, "standard")
    norm = predicted_backprop_factors(sizes, "normalised")
    assert std == pytest.approx([256 / (3 * 784), 1 / 3, 10 / (3 * 256)])
    assert norm == pytest.approx([2 * 256 / (784 + 256), 1.0, 2 * 10 / (256 + 10)])


def ks_critical(n: int, m: int, alpha: float = 1e-3) -> float:
    """Two-sample Kolmogorov-Smirnov critical value: c(alpha) sqrt((n + m) / (n m)), c = sqrt(-ln(alpha / 2) / 2)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


@pytest.mark.parametrize("n_in, n_out", [(1000, 1000), (784, 300), (50, 2000)])
def test_normalised_init_matches_xavier_uniform(n_in, n_out):
    """Parity: our Eq. 16 draw and torch.nn.init.xavier_uniform_ on an nn.Linear of the same layer (weight
    (n_out, n_in)) have the same bound and the same distribution: KS statistic below the 0.1% critical value for
    the sample sizes, variance and mean within 5 standard errors of a^2/3 and 0, both samples filling [-a, a]."""
    a = normalised_bound(n_in, n_out)
    ours = uniform_weights(n_in, n_out, "normalised", torch.Generator().manual_seed(0)).flatten().double()
    lin = nn.Linear(n_in, n_out)
    torch.manual_seed(1)
    nn.init.xavier_uniform_(lin.weight)
    ref = lin.weight.detach().flatten().double()
    torch_bound = math.sqrt(6 / (lin.weight.shape[0] + lin.weight.shape[1]))  # torch's gain * sqrt(6/(fan_in+fan_out))
    assert a == pytest.approx(torch_bound, rel=1e-12)
    N = ours.numel()
    for w in (ours, ref):
        assert w.abs().max() <= a and w.abs().max() > a * (1 - 20 / N)  # fills the interval up to its ends
        assert abs(w.var().item() - a**2 / 3) < 5 * math.sqrt(4 / 45) * a**2 / math.sqrt(N)  # Var[w^2] = 4a^4/45
        assert abs(w.mean().item()) < 5 * a / math.sqrt(3 * N)
    stat = ks_2samp(ours.numpy(), ref.numpy()).statistic
    assert stat < ks_critical(N, N), (stat, ks_critical(N, N))
    # the test has power: the standard init (Eq. 1) on the same layer is told apart
    standard = uniform_weights(n_in, n_out, "standard", torch.Generator().manual_seed(0)).flatten().double()
    assert ks_2samp(standard.numpy(), ref.numpy()).statistic > ks_critical(N, N)


def test_every_layer_of_a_normalised_net_has_xavier_bounds():
    net = DeepNet((784, 300, 300, 10), "tanh", "normalised", torch.Generator().manual_seed(0))
    for W in net.W:
        fan_in, fan_out = W.shape
        assert W.abs().max() <= math.sqrt(6 / (fan_in + fan_out))
    assert all((b == 0).all() for b in net.b)  # biases start at 0


def reference(net: DeepNet) -> nn.Sequential:
    """The same net from nn.Linear (weight = W^T) and nn.Tanh / nn.Sigmoid / nn.ReLU / nn.Softsign."""
    act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "rectifier": nn.ReLU, "softsign": nn.Softsign}[net.f_name]
    layers = []
    for i, (W, b) in enumerate(zip(net.W, net.b, strict=True)):
        lin = nn.Linear(*W.shape).double()
        with torch.no_grad():
            lin.weight.copy_(W.T), lin.bias.copy_(b)
        layers += [lin] + ([act()] if i < len(net.W) - 1 else [])
    return nn.Sequential(*layers)


@pytest.mark.parametrize("f", ["sigmoid", "tanh", "rectifier", "softsign"])
def test_outputs_and_gradients_match_an_nn_linear_reference(f):
    g = torch.Generator().manual_seed(0)
    net = DeepNet((20, 16, 16, 16, 5), f, "normalised", g).double()
    with torch.no_grad():
        for b in net.b:
            b.uniform_(-0.1, 0.1, generator=g)  # non-zero biases, so they are checked too
    ref = reference(net)
    x, y = torch.rand(7, 20, generator=g, dtype=torch.float64), torch.randint(0, 5, (7,), generator=g)
    torch.testing.assert_close(net(x), ref(x), rtol=1e-12, atol=1e-12)
    nn.functional.cross_entropy(net(x), y).backward()
    nn.functional.cross_entropy(ref(x), y).backward()
    for W, b, lin in zip(net.W, net.b, ref[::2], strict=True):
        torch.testing.assert_close(W.grad, lin.weight.grad.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b.grad, lin.bias.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("f", ["sigmoid", "tanh", "rectifier"])
def test_backprop_gradients_follow_the_papers_recursion(f):
    """dCost/ds^i = f'(s^i) (W^{i+1} dCost/ds^{i+1}) and dCost/dW^i = z^i dCost/ds^i (Sec. 4.2.1), computed by
    hand from the top: at the logits, dCost/ds = softmax - one_hot(y) for each example (the cost is summed)."""
    g = torch.Generator().manual_seed(0)
    net = DeepNet((12, 9, 9, 9, 4), f, "standard", g).double()
    x, y = torch.randn(6, 12, generator=g, dtype=torch.float64), torch.randint(0, 4, (6,), generator=g)
    z, ds, dW = backprop_gradients(net, x, y)
    s, zs = net.trace(x)
    fprime = {
        "sigmoid": lambda s: torch.sigmoid(s) * (1 - torch.sigmoid(s)),
        "tanh": lambda s: 1 - torch.tanh(s) ** 2,
        "rectifier": lambda s: (s > 0).double(),
    }[f]
    grad = torch.softmax(s[-1], 1) - nn.functional.one_hot(y, 4).double()  # (B, 4) at the logits
    for i in reversed(range(len(ds))):
        grad = fprime(s[i]) * (grad @ net.W[i + 1].T)  # (B, n_{i+2}) @ (n_{i+2}, n_{i+1}) -> (B, n_{i+1})
        torch.testing.assert_close(ds[i], grad.detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(dW[i], (zs[i].T @ grad).detach(), rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(z[i], zs[i + 1].detach())


@pytest.mark.parametrize("init", ["standard", "normalised"])
def test_linear_regime_variances_follow_the_theory(init):
    """Near 0 tanh is linear, so the paper's variance argument holds: going down one layer, Var[z] is multiplied
    by n_i Var[W^i] and Var[dCost/ds] by n_{i+1} Var[W^i] -- 1/3 and 1/3 for the standard init on equal widths,
    1 and 1 for the normalised init."""
    n = 600
    net = DeepNet((n,) * 6 + (10,), "tanh", init, torch.Generator().manual_seed(0))
    x = 1e-3 * torch.randn(400, n, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 10, (400,), generator=torch.Generator().manual_seed(2))
    z, ds, _ = backprop_gradients(net, x, y)
    factor = predicted_backprop_factors(net.sizes, init)[1]  # a hidden-to-hidden W: n Var[W]
    assert factor == pytest.approx(1 / 3 if init == "standard" else 1.0)
    for k in range(len(ds) - 1):
        assert ds[k].var() / ds[k + 1].var() == pytest.approx(factor, rel=0.1)
        assert z[k + 1].var() / z[k].var() == pytest.approx(factor, rel=0.1)


def test_arms_share_one_draw_scaled_by_their_bound():
    cfg = experiment.Config(n_hidden=40, n_layers=3)
    arms = experiment.build_arms(cfg, seed=3, device="cpu")
    for i in range(4):
        n_in, n_out = arms["tanh_std"].W[i].shape
        u_std = arms["tanh_std"].W[i] / standard_bound(n_in, n_out)
        u_norm = arms["tanh_norm"].W[i] / normalised_bound(n_in, n_out)
        torch.testing.assert_close(u_std, u_norm)
        torch.testing.assert_close(arms["sigmoid_std"].W[i], arms["tanh_std"].W[i])


def test_batches_cover_each_epoch_once_and_repeat_exactly():
    n, B = 50, 10
    epoch0 = torch.cat([experiment.batch_indices(t, n, B, seed=7) for t in range(5)])
    assert sorted(epoch0.tolist()) == list(range(n))
    epoch1 = torch.cat([experiment.batch_indices(t, n, B, seed=7) for t in range(5, 10)])
    assert sorted(epoch1.tolist()) == list(range(n)) and not torch.equal(epoch0, epoch1)
    torch.testing.assert_close(experiment.batch_indices(3, n, B, seed=7), epoch0[30:40])


def test_mcnemar_by_hand():
    a = torch.tensor([0, 0, 1, 0, 0, 0, 1, 0], dtype=torch.bool)  # a wrong on 2, one shared with b
    b = torch.tensor([1, 1, 1, 1, 1, 0, 0, 0], dtype=torch.bool)  # only-b wrong 4, only-a wrong 1
    assert experiment.mcnemar_z(a, b) == pytest.approx((4 - 1) / math.sqrt(5))


def test_data_is_real_mnist_and_validation_is_held_out():
    need(mnist.load)
    cfg = experiment.Config(n_train=300, n_test=200, evaluate_on="validation")
    d = experiment.load_data(cfg)
    assert d["x_train"].shape == (300, 784) and d["x_eval"].shape == (200, 784)
    assert d["x_train"].min() >= 0 and d["x_train"].max() <= 1 and d["x_train"].max() == 1
    assert d["y_train"].bincount(minlength=10).min() > 10  # every digit present
    rows = {r.numpy().tobytes() for r in experiment.load_data(experiment.Config(n_train=experiment.N_POOL))["x_train"]}
    assert not any(r.numpy().tobytes() in rows for r in d["x_eval"])  # validation digits are never trained on
    torch.testing.assert_close(experiment.load_data(cfg)["x_eval"], d["x_eval"])  # a fixed draw


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # smoke: 40 updates in chunks of 10; the 3rd chunk dies, after two checkpoints
    whole, resumed = interrupt_and_resume(monkeypatch, "glorot2010", experiment, "train_chunk", 3, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: one unit in each of two hidden layers, 10 training digits one at a time,
    two evaluation digits that are also the probe, 4 updates probed after each."""
    need(mnist.load)
    r = run_preset(
        "glorot2010",
        "smoke",
        n_hidden=1,
        n_layers=2,
        n_train=10,
        n_test=2,
        n_probe=2,
        batch_size=1,
        steps=4,
        probe_every=1,
    )
    assert r.metrics and all(not math.isnan(v) for k, v in r.metrics.items() if "ratio" not in k)
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("glorot2010", "quick"))
