"""Mechanism tests for Solla, Levin & Fleisher (1988): the two errors against torch's own losses, their
output deltas against autograd, hand back-propagation against autograd, the vanishing quadratic signal at
a wrongly saturated output, the shared starts, the data, and an exact resume."""

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import digits
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.solla1988 import experiment
from dlcanon.papers.solla1988.model import LayeredNet, g, output_delta, quadratic, relative_entropy

D = torch.float64


def random_outputs(G=2, N=7, C=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(G, N, C, generator=gen, dtype=D) * 3
    T = F.one_hot(torch.randint(0, C, (N,), generator=gen), C).to(D)
    return h, T


def test_errors_equal_torchs_bce_and_mse():
    h, T = random_outputs()
    O = g(h)
    N = T.shape[0]
    for i in range(O.shape[0]):
        bce = F.binary_cross_entropy(O[i], T, reduction="sum") / N
        mse = F.mse_loss(O[i], T, reduction="sum") / N
        torch.testing.assert_close(relative_entropy(O, T)[i], bce, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(quadratic(O, T)[i], 0.5 * mse, rtol=1e-12, atol=1e-12)


def test_relative_entropy_with_soft_targets_is_bce_minus_target_entropy():
    """For targets strictly between 0 and 1, E_L = cross-entropy - entropy(T): zero at O = T, positive elsewhere."""
    gen = torch.Generator().manual_seed(1)
    T = torch.rand(6, 4, generator=gen, dtype=D) * 0.98 + 0.01
    O = torch.rand(1, 6, 4, generator=gen, dtype=D) * 0.98 + 0.01
    entropy = -(T * T.log() + (1 - T) * (1 - T).log()).sum(-1).mean()
    bce = F.binary_cross_entropy(O[0], T, reduction="sum") / 6
    torch.testing.assert_close(relative_entropy(O, T)[0], bce - entropy, rtol=1e-12, atol=1e-12)
    assert relative_entropy(T[None], T).abs().max() < 1e-12
    assert relative_entropy(O, T).min() > 0


@pytest.mark.parametrize("kind", ["relative_entropy", "quadratic"])
def test_output_delta_is_the_autograd_gradient_wrt_the_net_input(kind):
    h, T = random_outputs(seed=2)
    h.requires_grad_(True)
    E = relative_entropy(g(h), T) if kind == "relative_entropy" else quadratic(g(h), T)
    (dh,) = torch.autograd.grad(E.sum(), h)
    N = T.shape[0]
    torch.testing.assert_close(dh * N, output_delta(g(h).detach(), T, kind), rtol=1e-10, atol=1e-12)


def test_output_deltas_by_hand():
    """O = g(h) - T exactly for the relative entropy; the quadratic error multiplies by O(1 - O)."""
    h, T = random_outputs(seed=3)
    O = g(h)
    torch.testing.assert_close(output_delta(O, T, "relative_entropy"), O - T)
    torch.testing.assert_close(output_delta(O, T, "quadratic"), (O - T) * O * (1 - O))


def test_a_wrongly_saturated_output_silences_only_the_quadratic_error():
    h = torch.tensor([[[10.0, -10.0]]], dtype=D)  # (1, 1, 2): saturated at 1 and at 0
    T = torch.tensor([[0.0, 1.0]], dtype=D)  # both wrong
    O = g(h)
    ce, mse = output_delta(O, T, "relative_entropy"), output_delta(O, T, "quadratic")
    assert (ce.abs() > 0.9999).all()
    assert (mse.abs() < 5e-5).all()  # (O - T) O (1 - O) ~ e^-10
    # The same output saturated at the *right* value: both signals vanish, as they should.
    assert output_delta(O, 1 - T, "relative_entropy").abs().max() < 5e-5


@pytest.mark.parametrize("kind", ["relative_entropy", "quadratic"])
def test_hand_backprop_matches_autograd(kind):
    gen = torch.Generator().manual_seed(4)
    net = LayeredNet(G=3, n_in=6, H=5, C=4, init_scale=2.0, generator=gen).double()
    x = torch.rand(9, 6, generator=gen, dtype=D)
    T = F.one_hot(torch.randint(0, 4, (9,), generator=gen), 4).to(D)
    _, O = net(x)
    E = relative_entropy(O, T) if kind == "relative_entropy" else quadratic(O, T)
    auto = torch.autograd.grad(E.sum(), [net.W1, net.b1, net.W2, net.b2])
    hand = net.gradients(x, T, kind)
    for name, a in zip(("W1", "b1", "W2", "b2"), auto, strict=True):
        torch.testing.assert_close(hand[name], a, rtol=1e-10, atol=1e-12)


def test_descend_uses_each_networks_own_learning_rate():
    net = LayeredNet(G=2, n_in=3, H=2, C=2)
    before = net.W2.detach().clone()
    grads = {"W2": torch.ones_like(net.W2)}
    net.descend(grads, torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(net.W2.detach(), before - torch.tensor([0.5, 2.0]).view(2, 1, 1))


def test_both_errors_share_each_start_and_the_saturated_start_is_the_same_draw_scaled():
    cfg = experiment.Config(lrs=(1.0, 2.0, 4.0), seeds=2)
    normal = experiment.make_net(cfg, "normal", 7, 64)
    saturated = experiment.make_net(cfg, "saturated", 7, 64)
    torch.testing.assert_close(normal.W1[0:2], normal.W1[2:4])  # every learning rate starts alike
    torch.testing.assert_close(normal.W1[0:2], normal.W1[4:6])
    assert not torch.allclose(normal.W1[0], normal.W1[1])  # the seeds differ
    torch.testing.assert_close(saturated.W2, normal.W2 * cfg.saturated_init_scale)
    torch.testing.assert_close(experiment.make_net(cfg, "normal", 7, 64).W1, normal.W1)  # reproducible


def test_epochs_to_target_takes_the_median_over_seeds_and_censors():
    cfg = experiment.Config(lrs=(1.0, 2.0), seeds=3, target_train_acc=0.5)
    # 4 epochs (rows) x 6 networks (lr-major): lr 1 seeds reach at 1, 2, never; lr 2 at 3, 3, 0
    acc = torch.tensor([[0, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 1], [1, 1, 0, 1, 1, 1]]).float()
    torch.testing.assert_close(experiment.epochs_to_target(cfg, acc), torch.tensor([2.0, 3.0]))
    assert experiment.best_normal(cfg, acc) == (0, 2.0)


def test_digits_split():
    need(digits.load)
    d = experiment.load_data(experiment.Config())
    assert d["x_train"].shape == (1200, 64) and d["x_test"].shape == (597, 64)
    assert d["x_train"].min() >= 0 and d["x_train"].max() <= 1
    assert d["y_train"].bincount(minlength=10).min() > 90


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(digits.load)
    # stage 1 takes 12 descend steps; the 19th dies after stage 2's checkpoint at its epoch 5
    overrides = {"epochs": "12", "saturated_epochs": "12", "checkpoint_every": "5"}
    whole, resumed = interrupt_and_resume(monkeypatch, "solla1988", LayeredNet, "descend", 19, "smoke", **overrides)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size-like field at its declared lower bound at once: the run still finishes and is judged."""
    result = run_preset("solla1988", "smoke", n_train=50, hidden=1, lrs="1", seeds=1, epochs=1, saturated_epochs=1,
                        checkpoint_every=1)
    assert result.metrics
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("solla1988", "quick"))
