"""Mechanism tests for the module framework: each new module against torch's own operations (forward and
gradient), the k-means rule by hand, random graphs against autograd (and a broken backward caught), LeNet-1989
from modules against lecun1989's model, and an exact resume."""

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.bottou1990 import experiment as ex
from dlcanon.papers.bottou1990.model import (
    Conv2d,
    MeanSquaredError,
    Prototypes,
    ScaledTanh,
    SoftmaxCrossEntropy,
    learners,
    lenet1989,
    prototype_classifier,
)
from dlcanon.papers.lecun1989.model import Net1989
from dlcanon.papers.rumelhart1986.model import (
    Add,
    Graph,
    Linear,
    Mul,
    Sequential,
    SquaredError,
    Tanh,
    autograd_gradients,
    engine_gradients,
    gradient_difference,
)

F64 = torch.float64


def test_conv2d_equals_torch_conv2d_forward_and_backward():
    g = torch.Generator().manual_seed(0)
    table = torch.tensor([[True, False, True], [False, True, True]])
    conv = Conv2d(3, 2, 3, stride=2, pad=1, pad_value=-0.5, bias_shape=(2, 4, 4), table=table, generator=g)
    x = torch.randn(2, 3, 8, 8, dtype=F64, generator=g)
    W = (conv.W.value * table[:, :, None, None]).clone().requires_grad_(True)
    b = conv.b.value.clone().requires_grad_(True)
    x_ref = x.clone().requires_grad_(True)
    ref = F.conv2d(F.pad(x_ref, (1, 1, 1, 1), value=-0.5), W, stride=2) + b  # (2, 2, 4, 4)
    y = conv.forward(x)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    dy = torch.randn_like(y)
    dx = conv.backward(dy)
    ref.backward(dy)
    torch.testing.assert_close(dx, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(conv.b.grad, b.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(conv.W.grad, W.grad * table[:, :, None, None], rtol=1e-12, atol=1e-12)
    assert (conv.W.grad[~table] == 0).all() and (conv.W.value[~table] == 0).all()  # missing links stay missing


def test_scaled_tanh_by_hand():
    f = ScaledTanh()
    y = f.forward(torch.tensor([0.0, 1.0, -1.0], dtype=F64))
    assert y[1].item() == pytest.approx(1.0, abs=1e-4) and y[2].item() == pytest.approx(-1.0, abs=1e-4)
    assert f.backward(torch.ones(3, dtype=F64))[0].item() == pytest.approx(1.7159 * 2 / 3)  # f'(0) = A S


def test_losses_match_torch():
    z = torch.randn(5, 4, dtype=F64)
    label, d = torch.tensor([0, 3, 1, 1, 2]), torch.randn(5, 4, dtype=F64)
    zr = z.clone().requires_grad_(True)
    ce = SoftmaxCrossEntropy()
    assert ce.forward(z, label).item() == pytest.approx(F.cross_entropy(zr, label).item())
    F.cross_entropy(zr, label).backward()
    torch.testing.assert_close(ce.backward(), zr.grad)
    zr.grad = None
    mse = MeanSquaredError()
    assert mse.forward(z, d).item() == pytest.approx(F.mse_loss(zr, d).item())
    F.mse_loss(zr, d).backward()
    torch.testing.assert_close(mse.backward(), zr.grad)


def test_prototypes_backward_matches_autograd():
    g = torch.Generator().manual_seed(1)
    m0, x = torch.randn(4, 3, dtype=F64, generator=g), torch.randn(6, 3, dtype=F64, generator=g)
    dr = torch.randn(6, 4, dtype=F64, generator=g)
    for rule in ("kmeans", "gradient"):
        p = Prototypes(m0, beta=0.7, rule=rule)
        p.forward(x)
        dx = p.backward(dr)
        m_ref, x_ref = m0.clone().requires_grad_(True), x.clone().requires_grad_(True)
        r = torch.softmax(-0.7 * torch.cdist(x_ref, m_ref) ** 2, dim=-1)
        (r * dr).sum().backward()
        torch.testing.assert_close(dx, x_ref.grad)
        expected = m_ref.grad if rule == "gradient" else torch.zeros_like(m0)  # k-means: no global gradient
        torch.testing.assert_close(p.m.grad, expected)
        assert (p.params() == [p.m]) == (rule == "gradient")


def test_kmeans_rule_is_a_running_mean_by_hand():
    p = Prototypes(torch.tensor([[0.0], [10.0]], dtype=F64), beta=1.0)
    p.forward(torch.tensor([[2.0], [4.0], [9.0]], dtype=F64))
    p.learn()
    # prototype 0 (start 0, counted once) wins 2 and 4 -> mean of {0, 2, 4}; prototype 1 wins 9 -> mean {10, 9}
    torch.testing.assert_close(p.m.value, torch.tensor([[2.0], [9.5]], dtype=F64))
    assert p.n.tolist() == [3.0, 2.0]
    frozen = Prototypes(torch.zeros(1, 1, dtype=F64), beta=1.0, rule="frozen")
    frozen.forward(torch.ones(2, 1, dtype=F64))
    frozen.learn()
    assert frozen.m.value.item() == 0.0


def test_learners_are_found_inside_graphs():
    m0 = torch.zeros(3, 2, dtype=F64)
    seq = prototype_classifier(m0, 1.0, "kmeans", 4)
    assert learners(seq) == [seq.modules[0]] and len(seq.params()) == 2  # the Linear's W and b only
    inner = Prototypes(m0, 1.0)
    graph = Graph([("a", Sequential(inner, Linear(3, 2)), ("x",)), ("b", Linear(2, 2), ("a",))], "b")
    assert learners(graph) == [inner]


def shared_input_graph(declining: bool) -> Graph:
    """x feeds two Linears that may skip dE/dx (input_grad=False: their input is data) and, in parallel, a Linear
    that passes it on; the paths meet again through Tanh, Add and Mul before a last Linear."""
    g = torch.Generator().manual_seed(3)

    def linear(n_in, n_out, input_grad=True):
        return Linear(n_in, n_out, init_range=0.5, generator=g, input_grad=input_grad)

    return Graph([("a", linear(3, 4, not declining), ("x",)), ("b", linear(3, 4), ("x",)), ("c", Tanh(), ("b",)),
                  ("d", Add(), ("a", "c")), ("e", linear(3, 4, not declining), ("x",)), ("f", Mul(), ("d", "e")),
                  ("y", linear(4, 2), ("f",))], "y")


def test_a_linear_without_input_gradient_may_share_the_graphs_input():
    """Regression: a Linear with input_grad=False returns None for dE/dx; when another node read the same x, the
    graph added None to a tensor (TypeError). Every weight's derivative must still be autograd's (float64); dE/dx,
    which the declining nodes do not supply, is reported as not computed (None), never as a partial sum."""
    g = torch.Generator().manual_seed(4)
    x, d = torch.randn(5, 3, dtype=F64, generator=g), torch.rand(5, 2, dtype=F64, generator=g)
    for loss in (SquaredError(), MeanSquaredError()):
        grads, dx = engine_gradients(shared_input_graph(declining=True), loss, x, d)
        ref, _ = autograd_gradients(shared_input_graph(declining=True), loss, x, d)
        assert dx is None and len(grads) == len(ref) == 8
        for ours, theirs in zip(grads, ref, strict=True):
            assert theirs.abs().max() > 0  # every weight has a derivative: the comparison is not vacuous
            torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        assert gradient_difference(shared_input_graph(declining=True), loss, x, d) < 1e-12  # the parity stage's test
        # the same graph with every node passing dE/dx gives autograd's dE/dx too
        full = shared_input_graph(declining=False)
        (_, dx_full), (_, ref_dx) = engine_gradients(full, loss, x, d), autograd_gradients(full, loss, x, d)
        torch.testing.assert_close(dx_full, ref_dx, rtol=1e-12, atol=1e-12)


def test_a_declined_derivative_inside_the_graph_is_an_error():
    """input_grad=False is for modules that read data. On an inner value it would silently drop that path from
    every weight below it, so the graph refuses with a clear message instead."""
    g = torch.Generator().manual_seed(5)
    net = Graph([("a", Linear(3, 4, generator=g), ("x",)), ("b", Linear(4, 4, generator=g, input_grad=False), ("a",)),
                 ("c", Linear(4, 4, generator=g), ("a",)), ("d", Add(), ("b", "c"))], "d")
    with pytest.raises(ValueError, match="input_grad=False"):
        engine_gradients(net, SquaredError(), torch.randn(2, 3, dtype=F64, generator=g), torch.zeros(2, 4, dtype=F64))


def test_random_graphs_match_autograd():
    cfg = ex.Config(parity_graphs=12)
    assert ex.parity_check(cfg, seed=5) < 1e-10


def test_a_broken_backward_is_caught(monkeypatch):
    """The parity check can fail: drop the factor S from ScaledTanh's derivative, or the prototypes' term
    from the Prototypes input derivative, and the random graphs disagree with autograd."""
    cfg = ex.Config(parity_graphs=12)
    with monkeypatch.context() as mp:
        mp.setattr(ScaledTanh, "backward", lambda self, dy: dy * (1.7159 - self.y * self.y / 1.7159))
        assert ex.parity_check(cfg, seed=5) > 1e-3
    real = Prototypes.backward

    def without_prototype_term(self, dr):
        return real(self, dr) + 2 * (-self.beta * self.r * (dr - (dr * self.r).sum(-1, keepdim=True))) @ self.m.value

    with monkeypatch.context() as mp:
        mp.setattr(Prototypes, "backward", without_prototype_term)
        assert ex.parity_check(cfg, seed=5) > 1e-3
    assert ex.parity_check(cfg, seed=5) < 1e-10


def test_lenet_from_modules_matches_lecun1989():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 16, 16, dtype=F64) * 2 - 1
    assert ex.lenet_parity(x, torch.tensor([0, 3, 5, 7, 9]), seed=0) < 1e-12


def test_lenet_has_the_papers_9760_free_parameters():
    net = lenet1989()
    H2 = net.modules[2]
    free = sum(p.value.numel() for p in net.params()) - int((~H2.table).sum()) * 25
    assert free == 9760 == sum(p.numel() for p in Net1989().parameters())


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # two lenet_error calls per epoch (train, test): the 3rd dies at the end of epoch 2
    whole, resumed = interrupt_and_resume(
        monkeypatch, "bottou1990", ex, "lenet_error", 3, "smoke", lenet_epochs="3", restarts="2"
    )
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size-like field at its declared lower bound at once: the run still finishes and is judged."""
    result = run_preset("bottou1990", "smoke", parity_graphs=1, digits_train=2, prototypes=1, proto_epochs=1,
                        proto_batch=1, restarts=1, lenet_train=1, lenet_test=1, lenet_epochs=1, lenet_batch=1)
    assert result.metrics
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("bottou1990", "quick"))
