"""Mechanism tests for batch normalisation: Algorithm 1 by hand, parity with nn.BatchNorm1d / nn.BatchNorm2d
(outputs and gradients in training mode, outputs in inference mode, the running statistics), Algorithm 2's
plain average, the fast path against the explicit one, BN's invariance to the scale of W, the experiment's
pieces, an exact resume, and the quick claims."""

import math

import pytest
import torch
from torch import nn

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.ioffe2015 import experiment
from dlcanon.papers.ioffe2015.model import MLP, BatchNorm


def test_algorithm_1_by_hand():
    """Two units, a minibatch of m = 4: mu_B, sigma2_B (divide by m), x_hat, then y = gamma x_hat + beta."""
    bn = BatchNorm(2, eps=0.0)
    with torch.no_grad():
        bn.gamma.copy_(torch.tensor([2.0, 1.0]))
        bn.beta.copy_(torch.tensor([1.0, -1.0]))
    x = torch.tensor([[1.0, 0.0], [3.0, 0.0], [5.0, 4.0], [7.0, 4.0]])
    # unit 0: mu 4, sigma2 (9+1+1+9)/4 = 5; unit 1: mu 2, sigma2 4 -> x_hat = (x - mu) / sqrt(sigma2)
    x_hat = torch.stack([(x[:, 0] - 4) / math.sqrt(5), (x[:, 1] - 2) / 2], 1)
    torch.testing.assert_close(bn(x), x_hat * torch.tensor([2.0, 1.0]) + torch.tensor([1.0, -1.0]))
    # Alg. 2 with one minibatch: E[x] = mu_B, Var[x] = m/(m-1) sigma2_B (momentum 1 keeps only the last batch)
    bn1 = BatchNorm(2, momentum=1.0)
    bn1(x)
    torch.testing.assert_close(bn1.E_x, torch.tensor([4.0, 2.0]))
    torch.testing.assert_close(bn1.Var_x, torch.tensor([5.0, 4.0]) * 4 / 3)


def copy_to_reference(bn: BatchNorm, ref: nn.Module) -> None:
    with torch.no_grad():
        ref.weight.copy_(bn.gamma)
        ref.bias.copy_(bn.beta)


@pytest.mark.parametrize("fast", [False, True])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("shape", [(8, 5), (6, 3, 4, 5)])
def test_parity_with_torch_batchnorm(shape, momentum, fast):
    """Training mode: outputs and gradients w.r.t. x, gamma and beta; running statistics after several steps
    (torch's running_mean / running_var are our E[x] / Var[x]); inference mode: outputs."""
    torch.manual_seed(0)
    K = shape[1]
    bn = BatchNorm(K, momentum=momentum, fast=fast).double()
    ref = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(K, momentum=momentum).double()
    with torch.no_grad():
        bn.gamma.uniform_(0.5, 2.0), bn.beta.uniform_(-1.0, 1.0)
    copy_to_reference(bn, ref)
    for step in range(5):
        x = (torch.randn(shape, dtype=torch.float64) * 3 + step).requires_grad_()
        x_ref = x.detach().clone().requires_grad_()
        w = torch.randn(shape, dtype=torch.float64)  # a random loss sum(w * y) gives a nontrivial dl/dy
        y, y_ref = bn(x), ref(x_ref)
        torch.testing.assert_close(y, y_ref)
        (w * y).sum().backward()
        (w * y_ref).sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad)
        torch.testing.assert_close(bn.gamma.grad, ref.weight.grad)
        torch.testing.assert_close(bn.beta.grad, ref.bias.grad)
        bn.gamma.grad = bn.beta.grad = ref.weight.grad = ref.bias.grad = None
    torch.testing.assert_close(bn.E_x, ref.running_mean)
    torch.testing.assert_close(bn.Var_x, ref.running_var)
    assert int(bn.batches_seen) == int(ref.num_batches_tracked) == 5
    bn.eval(), ref.eval()
    x = torch.randn(shape, dtype=torch.float64)
    torch.testing.assert_close(bn(x), ref(x))


def test_algorithm_2_plain_average_uses_the_unbiased_variance():
    """momentum=None: E[x] = E_B[mu_B] and Var[x] = m/(m-1) E_B[sigma2_B] over all minibatches seen."""
    torch.manual_seed(1)
    m, batches = 6, [torch.randn(6, 4) * (i + 1) + i for i in range(7)]
    bn = BatchNorm(4, momentum=None)
    for x in batches:
        bn(x)
    mu = torch.stack([x.mean(0) for x in batches]).mean(0)
    sigma2 = torch.stack([x.var(0, correction=0) for x in batches]).mean(0)
    torch.testing.assert_close(bn.E_x, mu)
    torch.testing.assert_close(bn.Var_x, m / (m - 1) * sigma2)
    bn.eval()  # inference: y = gamma / sqrt(Var + eps) x + (beta - gamma E / sqrt(Var + eps)) with gamma 1, beta 0
    x = torch.randn(3, 4)
    torch.testing.assert_close(bn(x), (x - mu) / torch.sqrt(m / (m - 1) * sigma2 + bn.eps))


def test_conv_statistics_span_batch_and_locations():
    """Sec. 3.2: a feature map is normalised over the m p q values of the minibatch and all locations."""
    torch.manual_seed(2)
    x = torch.randn(4, 3, 5, 6) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 7
    y = BatchNorm(3, eps=0.0)(x)  # eps = 0: the variance is exactly 1, even for the map of spread 0.1
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var((0, 2, 3), correction=0), torch.ones(3), atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        BatchNorm(3)(torch.randn(2, 3, 4))


def test_bn_is_invariant_to_the_scale_of_W():
    """Sec. 3.3: BN(Wu) = BN((aW)u), and the gradient w.r.t. u is unchanged (up to eps)."""
    torch.manual_seed(3)
    u = torch.randn(16, 10, requires_grad=True)
    W = torch.randn(10, 7)
    grads = []
    for a in (1.0, 100.0):
        u.grad = None
        y = BatchNorm(7, eps=0.0)(u @ (a * W))
        (y * torch.arange(7.0)).pow(2).sum().backward()
        grads.append((y.detach(), u.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-4)


def test_the_network_of_section_4_1():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    plain, bn = MLP(bn=False, init_std=0.01, generator=g1), MLP(bn=True, init_std=0.01, generator=g2)
    assert [tuple(W.shape) for W in plain.W] == [(784, 100), (100, 100), (100, 100), (100, 10)]
    for W, W_bn in zip(plain.W, bn.W, strict=True):  # paired arms start from the same weights
        torch.testing.assert_close(W, W_bn)
    assert abs(plain.W[0].std().item() - 0.01) < 0.001
    # the plain net has a bias per unit; the BN net drops the hidden biases (beta replaces them, Sec. 3.2)
    n_plain = sum(p.numel() for p in plain.parameters())
    assert n_plain == 784 * 100 + 100 + 2 * (100 * 100 + 100) + 100 * 10 + 10
    assert sum(p.numel() for p in bn.parameters()) == n_plain - 300 + 600
    inputs, logits = bn.sigmoid_inputs(torch.rand(32, 784))
    assert len(inputs) == 3 and logits.shape == (32, 10)
    torch.testing.assert_close(inputs[-1].mean(0), torch.zeros(100), atol=1e-5, rtol=0)  # gamma 1, beta 0


def test_drift_and_steps_to_target():
    step = torch.tensor([0.0, 10.0, 20.0, 30.0])
    assert experiment.steps_to(step, torch.tensor([0.1, 0.5, 0.9, 0.95]), 0.9) == (20.0, True)
    assert experiment.steps_to(step, torch.tensor([0.1, 0.5, 0.6, 0.7]), 0.9) == (30.0, False)
    # one unit: median goes 0 -> 3 -> 1, width 2 throughout: drift 3 / 2; a still unit: 0
    q = torch.tensor([[[-1.0, 0.0, 1.0]], [[2.0, 3.0, 4.0]], [[0.0, 1.0, 2.0]]]).transpose(1, 2)  # (T=3, 3, K=1)
    q = torch.cat([q, torch.tensor([[-1.0, 0.0, 1.0]]).T.expand(3, 3, 1)], 2)  # (3, 3, 2)
    torch.testing.assert_close(experiment.drift(q), torch.tensor([1.5, 0.0]))


def test_batch_order_is_shared_and_covers_the_data():
    order = experiment.batch_order(100, steps=20, m=10, seed=5)
    assert order.shape == (20, 10)
    assert sorted(order[:10].flatten().tolist()) == list(range(100))  # the first pass sees every example once
    torch.testing.assert_close(order, experiment.batch_order(100, steps=20, m=10, seed=5))


def test_digits_are_binary_mnist():
    need(mnist.load)
    d = experiment.load_digits(100)
    assert d["x_train"].shape == (60_000, 784) and d["x_test"].shape == (100, 784)
    assert set(d["x_train"][:500].unique().tolist()) == {0.0, 1.0}
    assert d["y_train"].bincount(minlength=10).min() > 5000


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # smoke: 40 steps measured every 20, so train_chunk runs twice; it dies on the second call
    whole, resumed = interrupt_and_resume(monkeypatch, "ioffe2015", experiment, "train_chunk", 2, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: one step of minibatches of 2, two test digits, all of them the probe."""
    need(mnist.load)
    r = run_preset("ioffe2015", "smoke", steps=1, batch_size=2, eval_every=1, n_test=2, probe_size=2)
    assert r.metrics and all(not math.isnan(v) for k, v in r.metrics.items() if "drift" not in k)
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("ioffe2015", "quick"))
