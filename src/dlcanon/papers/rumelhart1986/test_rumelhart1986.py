"""Mechanism tests for the back-propagation engine and the paper's three tasks."""

import math

import pytest
import torch

from dlcanon.core import runtime
from dlcanon.core.registry import get
from dlcanon.core.results import Store
from dlcanon.core.testing import assert_claims, run_preset

from . import experiment as ex
from .model import (
    Add,
    GeneralisedDelta,
    Graph,
    Linear,
    Mul,
    Sequential,
    Sigmoid,
    SquaredError,
    Tanh,
    engine_gradients,
    gradient_difference,
    layered_net,
)

F64 = torch.float64


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b, strict=True))


def fan_out(graph: Graph) -> int:
    """How many values feed more than one input slot (the case where gradients must be summed)."""
    uses: dict[str, int] = {}
    for _, _, inputs in graph.nodes:
        for i in inputs:
            uses[i] = uses.get(i, 0) + 1
    return sum(n > 1 for n in uses.values())


def test_random_graphs_match_autograd():
    gen = torch.Generator().manual_seed(1234)
    worst, fanned = 0.0, 0
    for _ in range(200):
        n_in, n_out, batch = (int(torch.randint(1, 6, (1,), generator=gen)) for _ in range(3))
        net = ex.random_graph(gen, n_in, n_out, max_nodes=15)
        x = torch.randn(batch, n_in, generator=gen, dtype=F64)
        d = torch.rand(batch, n_out, generator=gen, dtype=F64)
        worst = max(worst, gradient_difference(net, SquaredError(), x, d))
        fanned += fan_out(net) > 0
    assert worst < 1e-10
    assert fanned > 50, "the random graphs should exercise fan-out"


def test_fan_out_sums_gradients():
    # out = x * x + x: dE/dx = (2x + 1) dE/dout; the value x feeds three input slots
    g = Graph([("sq", Mul(), ("x", "x")), ("out", Add(), ("sq", "x"))], "out")
    x = torch.tensor([[0.5, -2.0]], dtype=F64)
    with torch.no_grad():
        g.forward(x)
        dx = g.backward(torch.ones_like(x))
    assert torch.allclose(dx, 2 * x + 1)


def test_unused_node_gets_no_gradient():
    lin_dead, lin_out = Linear(2, 3, dtype=F64), Linear(2, 1, dtype=F64)
    g = Graph([("dead", lin_dead, ("x",)), ("out", lin_out, ("x",))], "out")
    x, d = torch.randn(4, 2, dtype=F64), torch.rand(4, 1, dtype=F64)
    assert gradient_difference(g, SquaredError(), x, d) < 1e-12
    assert lin_dead.W.grad.abs().max() == 0


def test_shared_weights_sum_both_uses():
    first, second = Linear(3, 3, dtype=F64), Linear(3, 3, dtype=F64)
    second.W = first.W  # one weight matrix used twice, as in an unrolled recurrent net
    g = Graph([("a", first, ("x",)), ("h", Tanh(), ("a",)), ("out", second, ("h",))], "out")
    assert len(g.params()) == 3  # W once, two biases
    x, d = torch.randn(4, 3, dtype=F64), torch.rand(4, 3, dtype=F64)
    assert gradient_difference(g, SquaredError(), x, d) < 1e-12


def test_sigmoid_hand_values():
    s = Sigmoid()
    y = s.forward(torch.tensor([0.0, math.log(3.0)], dtype=F64))
    assert torch.allclose(y, torch.tensor([0.5, 0.75], dtype=F64))
    # Eq. (5): dE/dx = dE/dy * y (1 - y)
    assert torch.allclose(s.backward(torch.ones(2, dtype=F64)), torch.tensor([0.25, 0.1875], dtype=F64))


def test_tanh_derivative():
    t = Tanh()
    t.forward(torch.tensor([0.0, 1.0], dtype=F64))
    assert torch.allclose(
        t.backward(torch.ones(2, dtype=F64)), 1 - torch.tanh(torch.tensor([0.0, 1.0], dtype=F64)) ** 2
    )


def test_one_unit_by_hand():
    # y = sigmoid(w x + b) with w = 2, b = -1, x = 0.5 -> total input 0; y = 0.5; d = 1
    lin = Linear(1, 1, dtype=F64)
    lin.W.value.fill_(2.0)
    lin.b.value.fill_(-1.0)
    net, loss = Sequential(lin, Sigmoid()), SquaredError()
    x, d = torch.tensor([[0.5]], dtype=F64), torch.tensor([[1.0]], dtype=F64)
    with torch.no_grad():
        E = loss.forward(net.forward(x), d)
        net.backward(loss.backward())
    assert E.item() == pytest.approx(0.125)  # Eq. (3): 1/2 (0.5 - 1)^2
    # Eqs. (4)-(6): dE/dw = (y - d) y (1 - y) x = -0.5 * 0.25 * 0.5
    assert lin.W.grad.item() == pytest.approx(-0.0625)
    assert lin.b.grad.item() == pytest.approx(-0.125)


def test_squared_error_sums_over_cases():
    loss = SquaredError()
    y, d = torch.zeros(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)
    assert loss.forward(y, d).item() == pytest.approx(3.0)  # 1/2 * 6 squared errors of 1
    assert torch.equal(loss.backward(), y - d)


def test_generalised_delta_momentum_by_hand():
    lin = Linear(1, 1, dtype=F64)
    lin.W.value.fill_(1.0)
    opt = GeneralisedDelta([lin.W], epsilon=0.1, alpha=0.9)
    lin.W.grad.fill_(2.0)  # constant gradient
    opt.step()  # Delta = -0.2
    assert lin.W.value.item() == pytest.approx(0.8)
    opt.step()  # Delta = -0.2 + 0.9 * -0.2 = -0.38
    assert lin.W.value.item() == pytest.approx(0.42)


def test_replicas_equal_independent_networks():
    R, gen = 5, torch.Generator().manual_seed(0)
    net = layered_net((3, 4, 2), replicas=R, generator=gen)
    x, d = torch.rand(7, 3, dtype=F64), torch.rand(7, 2, dtype=F64)
    batched, _ = engine_gradients(net, SquaredError(), x, d)
    for r in range(R):
        single = layered_net((3, 4, 2))
        for p, q in zip(single.params(), net.params(), strict=True):
            p.value = q.value[r].reshape(p.value.shape).clone()
        grads, _ = engine_gradients(single, SquaredError(), x, d)
        assert max_diff(grads, [g[r].reshape(s.shape) for g, s in zip(batched, grads, strict=True)]) < 1e-12


def test_engine_never_touches_autograd():
    lin = Linear(2, 2, dtype=F64)
    lin.W.value.requires_grad_(True)  # autograd would fill .grad if used
    x, d = torch.rand(3, 2, dtype=F64), torch.rand(3, 2, dtype=F64)
    engine_gradients(Sequential(lin, Sigmoid()), SquaredError(), x, d)
    assert lin.W.value.grad is None and lin.W.grad.abs().sum() > 0


def test_broken_backward_is_caught(monkeypatch):
    """The parity check can fail: drop the y(1-y) factor of Eq. (5) and the gradients disagree."""
    monkeypatch.setattr(Sigmoid, "backward", lambda self, dy: dy)
    net = layered_net((2, 3, 1), generator=torch.Generator().manual_seed(0))
    x, d = torch.rand(4, 2, dtype=F64), torch.rand(4, 1, dtype=F64)
    assert gradient_difference(net, SquaredError(), x, d) > 1e-3


def test_symmetry_task_and_a_hand_built_solution():
    x, d = ex.symmetry_task("cpu")
    assert x.shape == (64, 6) and int(d.sum()) == 8
    # Fig. 1's logic by hand: mirror weights opposite, magnitudes 1:2:4; hidden units off at net input 0
    w = torch.tensor([1.0, 2.0, 4.0, -4.0, -2.0, -1.0], dtype=F64) * 6
    net = layered_net((6, 2, 1), replicas=1)
    W1, b1, W2, b2 = (p.value for p in net.params())
    W1[0] = torch.stack([w, -w])
    b1.fill_(-3.0)
    W2.fill_(-10.0)
    b2.fill_(5.0)
    assert bool(ex.all_correct(net.forward(x), d))
    s = ex.mirror_structure(W1)
    assert s["antisym"].item() == 0 and s["ratio_error"].item() < 1e-12 and s["opposition"].item() == 0


def test_mirror_measures_tell_solutions_apart():
    W_234 = torch.tensor([[2.0, 3.0, 4.0, -4.0, -3.0, -2.0]], dtype=F64).repeat(2, 1)[None]
    assert ex.mirror_structure(W_234)["ratio_error"].item() == pytest.approx(
        1 - math.log2(4 / 3), abs=1e-12
    )  # the 3 -> 4 step
    W_sym = torch.tensor([[1.0, 2.0, 4.0, 4.0, 2.0, 1.0]], dtype=F64).repeat(2, 1)[None]
    assert ex.mirror_structure(W_sym)["antisym"].item() == pytest.approx(2.0)


def test_encoder_and_xor_tasks():
    x, d = ex.xor_task("cpu")
    assert d.flatten().tolist() == [0.0, 1.0, 1.0, 0.0]
    x, d = ex.encoder_task("cpu")
    assert torch.equal(x, d) and torch.equal(x.sum(1), torch.ones(8, dtype=F64))


class _Stop(KeyboardInterrupt):
    pass


def test_resume_gives_identical_metrics(monkeypatch):
    overrides = {
        "replicas": "6",
        "xor_sweeps": "30",
        "encoder_sweeps": "30",
        "symmetry_sweeps": "30",
        "checkpoint_every": "7",
        "parity_graphs": "2",
    }
    store, paper = Store(), get("rumelhart1986")
    clean = runtime.execute(paper, "smoke", seed=3, device="cpu", overrides=overrides, store=store, quiet=True)

    class Interrupting(GeneralisedDelta):
        calls = 0

        def step(self):
            Interrupting.calls += 1
            if Interrupting.calls == 45:  # mid-encoder (after sweep 14 of 30)
                raise _Stop
            super().step()

    monkeypatch.setattr(ex, "GeneralisedDelta", Interrupting)
    with pytest.raises(_Stop):
        runtime.execute(paper, "smoke", seed=3, device="cpu", overrides=overrides, store=store, quiet=True)
    monkeypatch.setattr(ex, "GeneralisedDelta", GeneralisedDelta)
    resumed = runtime.execute(
        paper, "smoke", seed=3, device="cpu", overrides=overrides, store=store, quiet=True, resume=True
    )
    for k, v in clean.metrics.items():
        assert resumed.metrics[k] == v or (math.isnan(v) and math.isnan(resumed.metrics[k])), k


def test_smallest_config_runs():
    """Every size at its lower bound: one parity graph of at most 2 modules, one restart, one sweep per task,
    a log point and a checkpoint every sweep."""
    r = run_preset("rumelhart1986", "smoke", parity_graphs=1, parity_max_nodes=2, replicas=1, xor_sweeps=1,
                   encoder_sweeps=1, symmetry_sweeps=1, log_every=1, checkpoint_every=1)
    assert r.metrics  # the mirror measures are nan when no symmetry restart is solved (by design)
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("rumelhart1986", "quick"))
