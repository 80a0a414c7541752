"""Mechanism tests for Yosinski et al. (2014): a stacked copy is a lone torch net (outputs and gradients), chopping
copies layers 1..n from the right base net and the rest from the fresh draw, frozen layers stay bit-for-bit where
they were copied while the others learn, weight decay by hand, the class split and data, stateless minibatches,
an exact resume in either phase, the smallest config, and the quick claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import fashion_mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.yosinski2014 import experiment
from dlcanon.papers.yosinski2014.model import (
    ARMS,
    StackedConvNet,
    chop_and_stack,
    copy_index,
    he_init,
    pooled,
    regularise_and_freeze,
    train_masks,
)


def lone_net(net: StackedConvNet, g: int) -> nn.Sequential:
    """Copy g of a stacked net as torch's own layers: Conv2d + ReLU (+ 2x2 max pool while the map is larger than 4),
    Flatten, Linear + ReLU ..., Linear."""
    layers, s = [], net.side
    for l, c in enumerate(net.channels):
        conv = nn.Conv2d(net.W[l].shape[2], c, 3, padding=1).double()
        conv.weight.data.copy_(net.W[l][g]), conv.bias.data.copy_(net.b[l][g])
        layers += [conv, nn.ReLU()] + ([nn.MaxPool2d(2)] if s > 4 else [])
        s = pooled(s)
    layers.append(nn.Flatten())
    for l in range(len(net.channels), net.L):
        fc = nn.Linear(*net.W[l].shape[1:]).double()
        fc.weight.data.copy_(net.W[l][g].T), fc.bias.data.copy_(net.b[l][g, 0])
        layers += [fc] + ([nn.ReLU()] if l < net.L - 1 else [])
    return nn.Sequential(*layers)


@pytest.mark.parametrize(("side", "channels", "hidden"), [(14, (3, 4, 5), (6, 7)), (7, (2,), (3,)), (28, (2, 2), ())])
def test_every_copy_is_a_lone_torch_net_outputs_and_gradients(side, channels, hidden):
    G = 3
    net = StackedConvNet(G, channels, hidden, 5, side).double()
    he_init(net, torch.Generator().manual_seed(0))
    x = torch.randn(G, 4, 1, side, side, dtype=torch.float64)
    y = torch.randint(0, 5, (G, 4))
    logits = net(x)  # (G, 4, 5)
    F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").backward()
    for g in range(G):
        ref = lone_net(net, g)
        out = ref(x[g])
        torch.testing.assert_close(logits[g], out, rtol=1e-12, atol=1e-12)
        F.cross_entropy(out, y[g], reduction="sum").backward()
        weighted = [m for m in ref if isinstance(m, nn.Conv2d | nn.Linear)]
        assert len(weighted) == net.L
        for l, m in enumerate(weighted):
            W_grad = m.weight.grad if isinstance(m, nn.Conv2d) else m.weight.grad.T
            torch.testing.assert_close(net.W[l].grad[g], W_grad, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(net.b[l].grad[g].flatten(), m.bias.grad, rtol=1e-10, atol=1e-12)


def test_he_init_variance_and_independent_copies():
    net = StackedConvNet(2, (16, 64), (256,), 5, 14)
    he_init(net, torch.Generator().manual_seed(0))
    assert net.W[1].var().item() == pytest.approx(2 / (16 * 9), rel=0.05)  # fan_in of a 16 -> 64 3x3 conv
    assert net.W[2].var().item() == pytest.approx(2 / (64 * 9), rel=0.05)  # 64 maps of 3x3 flattened
    assert not torch.equal(net.W[0][0], net.W[0][1])
    assert all((b == 0).all() for b in net.b)


def test_chop_and_stack_copies_layers_1_to_n_and_freezes_only_bnb_and_anb():
    R, ns = 2, (1, 2, 3)
    base = StackedConvNet(2 * R, (2, 3), (4,), 5, 7)
    fresh = StackedConvNet(R, (2, 3), (4,), 5, 7)
    he_init(base, torch.Generator().manual_seed(1)), he_init(fresh, torch.Generator().manual_seed(2))
    net, trains = chop_and_stack(base, fresh, ns), train_masks(R, 4, ns)
    assert net.G == R * len(ARMS) * len(ns) == trains.shape[1]
    for r in range(R):
        for arm in ARMS:
            src = r if arm.startswith("A") else R + r  # baseA of replicate r, or its baseB
            for n in ns:
                g = copy_index(ns, r, arm, n)
                for l in range(net.L):
                    expect = base.W[l][src] if l < n else fresh.W[l][r]
                    assert torch.equal(net.W[l][g], expect)
                    frozen = l < n and arm in ("BnB", "AnB")
                    assert trains[l, g] == (0.0 if frozen else 1.0)
    assert trains[-1].all()  # the output layer always trains


def test_frozen_layers_stay_exactly_where_they_were_copied_while_the_rest_learns():
    """Momentum SGD with weight decay: a layer whose gradient is zeroed from the first step never moves."""
    R, ns = 1, (1, 2)
    base = StackedConvNet(2, (3,), (4,), 5, 7)
    fresh = StackedConvNet(1, (3,), (4,), 5, 7)
    he_init(base, torch.Generator().manual_seed(3)), he_init(fresh, torch.Generator().manual_seed(4))
    net, trains = chop_and_stack(base, fresh, ns), train_masks(R, 3, ns)
    before = [W.detach().clone() for W in net.W]
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        x, y = torch.randn(net.G, 8, 1, 7, 7), torch.randint(0, 5, (net.G, 8))
        opt.zero_grad()
        F.cross_entropy(net(x).flatten(0, 1), y.flatten()).backward()
        regularise_and_freeze(net, trains, weight_decay=0.01)
        opt.step()
    for l in range(net.L):
        for g in range(net.G):
            moved = not torch.equal(net.W[l][g], before[l][g])
            assert moved == bool(trains[l, g]), (l, g)


def test_weight_decay_by_hand():
    net = StackedConvNet(2, (1,), (), 2, 7)
    for W in net.W:
        W.data.fill_(0.5)
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    trains = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    regularise_and_freeze(net, trains, weight_decay=0.1)
    assert torch.allclose(net.W[0].grad[0], torch.full_like(net.W[0][0], 1 + 0.1 * 0.5))
    assert (net.W[0].grad[1] == 0).all() and (net.b[0].grad[1] == 0).all()
    assert torch.allclose(net.b[1].grad, torch.ones_like(net.b[1]))  # biases are zero: decay adds nothing


def test_class_split_is_a_partition_fixed_by_the_data_seed():
    A, B = experiment.class_split(experiment.Config())
    assert sorted(A + B) == list(range(10)) and len(A) == len(B) == 5
    assert experiment.class_split(experiment.Config()) == (A, B)
    assert experiment.class_split(experiment.Config(data_seed=1)) != (A, B)
    assert experiment.class_split(experiment.Config(split="ordered")) == ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])


def test_halves_are_real_fashion_mnist_with_n_per_class():
    need(fashion_mnist.load)
    cfg = experiment.Config(n_per_class=30)
    d = experiment.load_halves(cfg)
    for half in "AB":
        assert d[f"x_{half}_train"].shape == (150, 1, 14, 14)
        assert d[f"y_{half}_train"].bincount().tolist() == [30] * 5
        assert d[f"y_{half}_test"].bincount().tolist() == [1000] * 5
    again = experiment.load_halves(cfg)
    assert torch.equal(again["x_A_train"], d["x_A_train"])  # a fixed draw
    assert not torch.equal(d["x_A_test"][:100], d["x_B_test"][:100])


def test_minibatches_are_epochs_of_a_random_order_and_stateless():
    cfg = experiment.Config(batch_size=10)
    batches = [experiment.minibatch(cfg, 0, 0, s, 50) for s in range(5)]
    assert torch.cat(batches).sort().values.tolist() == list(range(50))
    assert torch.equal(experiment.minibatch(cfg, 0, 0, 3, 50), batches[3])
    assert not torch.equal(experiment.minibatch(cfg, 0, 1, 0, 50), batches[0])  # another stream
    assert not torch.equal(experiment.minibatch(cfg, 1, 0, 0, 50), batches[0])  # another seed


def test_transfer_arms_of_a_replicate_share_their_minibatch():
    cfg = experiment.Config(reps=2, channels=(2,), hidden=(3,), batch_size=4)
    d = {k: torch.arange(40.0).view(40, 1, 1, 1).expand(40, 1, 14, 14) for k in ("x_A_train", "x_B_train")}
    d |= {k: torch.arange(40) % 5 for k in ("y_A_train", "y_B_train")}
    x, y = experiment.phase_batch(cfg, d, seed=0, phase=2, step=0)
    per_rep = len(ARMS) * len(cfg.n_values)
    assert x.shape[:2] == (2 * per_rep, 4)
    assert all(torch.equal(y[g], y[0]) for g in range(per_rep))
    assert not torch.equal(y[per_rep], y[0]) or not torch.equal(x[per_rep], x[0])


def test_learning_rate_schedule():
    cfg = experiment.Config(steps=450_000, lr=0.01, lr_drops=(2 / 9, 4 / 9, 6 / 9, 8 / 9))  # the paper's solver
    lrs = [experiment.lr_at(cfg, s) for s in (0, 99_999, 100_000, 200_000, 300_000, 400_000)]
    assert lrs == pytest.approx([0.01, 0.01, 0.001, 1e-4, 1e-5, 1e-6])


@pytest.mark.parametrize("die_on_call", [2, 3])
def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch, die_on_call):
    """smoke: 4 steps per phase, a checkpoint every 2: call 2 dies inside phase 1, call 3 on the first chunk of
    phase 2 (the run resumes from the end of phase 1 and chops the base nets again)."""
    need(fashion_mnist.load)
    whole, resumed = interrupt_and_resume(monkeypatch, "yosinski2014", experiment, "train_chunk", die_on_call)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: 7x7 images, one conv map, one hidden unit (3 layers, n = 1, 2), one
    training image per class, one step of 2 images, one replicate, no learning-rate drops."""
    need(fashion_mnist.load)
    r = run_preset("yosinski2014", "smoke", image_size=7, n_per_class=1, channels="1", hidden="1", steps=1,
                   batch_size=2, reps=1, log_every=1, lr_drops="")  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("yosinski2014", "quick"))
