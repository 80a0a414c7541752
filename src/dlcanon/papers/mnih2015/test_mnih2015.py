"""Mechanism tests for the Nature DQN: the clipped error by hand (loss and gradient), the target network's copy
every C updates (C = 1 is the 2013 target), the Nature net's sizes, an exact resume, then the quick claims."""

import pytest
import torch

from dlcanon.core.testing import assert_claims, interrupt_and_resume, run_preset
from dlcanon.papers.mnih2013.model import QNetwork, q_learning_target, td_loss
from dlcanon.papers.mnih2015 import experiment
from dlcanon.papers.mnih2015.model import NATURE, clipped_td_loss, sync_target


def test_clipped_error_equals_the_squared_error_inside_and_clips_its_derivative():
    Q = torch.tensor([[[0.0, 0.5], [0.0, 0.0], [0.0, 0.0]]], requires_grad=True)  # (E=1, B=3, A=2)
    a = torch.tensor([[1, 0, 0]])
    y = torch.tensor([[0.2, 3.0, -2.0]])  # errors y - Q(a): -0.3, 3.0, -2.0
    loss = clipped_td_loss(Q, a, y, clip=1.0)
    # inside the clip: e^2; outside: 2|e| - 1 (twice the Huber loss)
    torch.testing.assert_close(loss, torch.tensor([(0.09 + (6.0 - 1.0) + (4.0 - 1.0)) / 3]))
    loss.sum().backward()
    expected = -2 * torch.tensor([-0.3, 1.0, -1.0]) / 3  # d/dQ = -2 clip(y - Q, -1, 1) / B
    torch.testing.assert_close(Q.grad[0, [0, 1, 2], [1, 0, 0]], expected)
    small = torch.tensor([[0.1, -0.4, 0.2]])
    torch.testing.assert_close(clipped_td_loss(Q, a, small), td_loss(Q, a, small))


def test_sync_target_copies_only_the_chosen_members():
    torch.manual_seed(0)
    Q, Q_hat = (
        QNetwork(3, (4, 10, 10), 3, hidden=8, convs=((4, 3, 1),)),
        QNetwork(3, (4, 10, 10), 3, hidden=8, convs=((4, 3, 1),)),
    )
    before = [p.clone() for p in Q_hat.parameters()]
    sync_target(Q_hat, Q, torch.tensor([True, False, True]))
    for p_hat, p, p0 in zip(Q_hat.parameters(), Q.parameters(), before, strict=True):
        assert torch.equal(p_hat[[0, 2]], p[[0, 2]]) and torch.equal(p_hat[1], p0[1])


def test_c_equal_one_gives_the_2013_target():
    """The no_target arm copies theta^- <- theta after every update, so its y_j uses the current theta."""
    cfg = experiment.PRESETS["smoke"]
    _, Q, Q_hat, D, C = experiment.build(cfg, 0, "cpu")
    assert C.tolist() == [cfg.C] * cfg.seeds + [1] * cfg.seeds
    opt = torch.optim.RMSprop(Q.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    for t in range(40):
        phi = torch.randn(2, *D.phi.shape[2:])  # the smoke preset plays CartPole: 4 numbers per state
        D.store(phi, torch.tensor([t % 2, t % 2]), torch.ones(2), -phi, torch.tensor([False, False]))
    for n in range(1, 4):
        experiment.update(Q, Q_hat, opt, D, cfg, g)
        sync_target(Q_hat, Q, n % C == 0)
        phi_next = D.phi_next[:, :8]
        r, terminal = D.r[:, :8], D.terminal[:, :8]
        y_hat = q_learning_target(r, terminal, Q_hat(phi_next), cfg.gamma)
        y_now = q_learning_target(r, terminal, Q(phi_next), cfg.gamma)
        torch.testing.assert_close(y_hat[1], y_now[1])  # no_target member: theta^- = theta
        assert not torch.allclose(y_hat[0], y_now[0])  # target member: theta^- is the initial theta (C = 5)


def test_nature_net_sizes_by_hand():
    """84x84x4 -> 32 maps 20x20 -> 64 maps 9x9 -> 64 maps 7x7 = 3,136 features -> 512 -> actions (Methods)."""
    Q = QNetwork(1, (4, 84, 84), 18, NATURE, hidden=512)
    assert Q.n_flat == 64 * 7 * 7 == 3136
    n = sum(p.numel() for p in Q.parameters())
    assert n == (32 * 4 * 64 + 32) + (64 * 32 * 16 + 64) + (64 * 64 * 9 + 64) + (3136 * 512 + 512) + (512 * 18 + 18)


def test_resume_is_exact(monkeypatch):
    whole, resumed = interrupt_and_resume(monkeypatch, "mnih2015", experiment, "update", die_on_call=30)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    result = run_preset("mnih2015", "smoke", seeds=1, steps=1, N=1, batch_size=1, C=1, learning_starts=0, hidden=1,
                        eps_anneal_steps=1, log_every=1, checkpoint_every=1, eval_episodes=1, random_episodes=1,
                        max_episode_steps=1, update_every=1)  # fmt: skip
    assert result.metrics["random_score"] >= 0


def test_atari_experiment_smoke():
    result = run_preset("mnih2015", "smoke", env="atari:Breakout", steps=60, learning_starts=30, max_episode_steps=20)
    assert set(result.metrics) >= {"target_score", "no_target_score", "random_score"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("mnih2015", "quick"))
