"""Mechanism tests for the 2013 DQN: the batched Q-network against plain nn.Conv2d/nn.Linear nets (outputs and
gradients), the target and loss by hand, epsilon, the replay ring, the emulators (MinAtar against minatar's own
Environment, Atari through ale-py offline), snapshot/restore, an exact resume, then the quick claims."""

import pytest
import torch
from torch import nn

from dlcanon.core.testing import assert_claims, interrupt_and_resume, run_preset
from dlcanon.papers.mnih2013 import envs, experiment
from dlcanon.papers.mnih2013.model import (
    ATARI_2013,
    MINATAR,
    QNetwork,
    ReplayMemory,
    epsilon,
    epsilon_greedy,
    preprocess,
    q_learning_target,
    reward_clip,
    td_loss,
)


def reference(Q: QNetwork, e: int) -> nn.Sequential:
    """Member e of Q as an ordinary PyTorch network with copied weights."""
    layers = []
    for (filters, k, stride), W, b in zip(Q.convs, Q.conv_W, Q.conv_b, strict=True):
        conv = nn.Conv2d(W.shape[2], filters, k, stride=stride)
        conv.weight.data.copy_(W[e]), conv.bias.data.copy_(b[e])
        layers += [conv, nn.ReLU()]
    fc, out = nn.Linear(*Q.W_h.shape[1:]), nn.Linear(*Q.W_q.shape[1:])
    fc.weight.data.copy_(Q.W_h[e].T), fc.bias.data.copy_(Q.b_h[e, 0])
    out.weight.data.copy_(Q.W_q[e].T), out.bias.data.copy_(Q.b_q[e, 0])
    return nn.Sequential(*layers, nn.Flatten(), fc, nn.ReLU(), out)


@pytest.mark.parametrize("convs,C,size", [(MINATAR, 4, 10), (ATARI_2013, 4, 84)])
def test_each_member_matches_a_plain_network_outputs_and_gradients(convs, C, size):
    torch.manual_seed(0)
    Q = QNetwork(3, (C, size, size), 5, convs, hidden=16)
    x = torch.rand(3, 2, C, size, size)
    out = Q(x)  # (3, 2, 5)
    (out * torch.arange(5.0)).sum().backward()
    for e in range(3):
        ref = reference(Q, e)
        y = ref(x[e])
        torch.testing.assert_close(out[e], y, rtol=1e-5, atol=1e-5)
        (y * torch.arange(5.0)).sum().backward()
        torch.testing.assert_close(Q.conv_W[0].grad[e], ref[0].weight.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(Q.W_h.grad[e], ref[-3].weight.grad.T, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(Q.b_q.grad[e, 0], ref[-1].bias.grad)


def test_atari_2013_net_sizes_by_hand():
    """84x84x4 -> 16 maps 20x20 -> 32 maps 9x9 = 2,592 features -> 256 -> actions (Sec. 4.1)."""
    Q = QNetwork(1, (4, 84, 84), 4, ATARI_2013, hidden=256)
    assert Q.n_flat == 32 * 9 * 9 == 2592
    n = sum(p.numel() for p in Q.parameters())
    assert n == (16 * 4 * 64 + 16) + (32 * 16 * 16 + 32) + (2592 * 256 + 256) + (256 * 4 + 4)


def test_q_learning_target_by_hand():
    r = torch.tensor([[1.0, 0.0, -1.0]])
    terminal = torch.tensor([[False, True, False]])
    Q_next = torch.tensor([[[0.5, 2.0], [9.0, 9.0], [-3.0, -4.0]]])
    y = q_learning_target(r, terminal, Q_next, gamma=0.9)
    torch.testing.assert_close(y, torch.tensor([[1.0 + 0.9 * 2.0, 0.0, -1.0 + 0.9 * -3.0]]))


def test_td_loss_is_the_mean_squared_error_of_the_taken_action():
    Q = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [1.0, 1.0]]], requires_grad=True)  # (E=2, B=2, A=2)
    a = torch.tensor([[1, 0], [0, 1]])
    y = torch.tensor([[0.0, 5.0], [1.0, 1.0]])
    loss = td_loss(Q, a, y)
    torch.testing.assert_close(loss, torch.tensor([(4.0 + 4.0) / 2, (1.0 + 0.0) / 2]))
    loss.sum().backward()
    # d/dQ (y - Q)^2 / B = -(y - Q) for the taken action only
    torch.testing.assert_close(Q.grad, torch.tensor([[[0.0, 2.0], [-2.0, 0.0]], [[-1.0, 0.0], [0.0, 0.0]]]))


def test_epsilon_anneals_linearly_then_stays():
    assert epsilon(0, 1.0, 0.1, 100) == 1.0
    assert epsilon(50, 1.0, 0.1, 100) == pytest.approx(0.55)
    assert epsilon(100, 1.0, 0.1, 100) == pytest.approx(0.1)
    assert epsilon(10_000, 1.0, 0.1, 100) == pytest.approx(0.1)


def test_epsilon_greedy_is_greedy_at_zero_and_uniform_at_one():
    g = torch.Generator().manual_seed(0)
    Q = torch.tensor([[0.0, 3.0, 1.0]]).repeat(4000, 1)
    assert (epsilon_greedy(Q, 0.0, g) == 1).all()
    counts = torch.bincount(epsilon_greedy(Q, 1.0, g), minlength=3).float() / 4000
    assert (counts - 1 / 3).abs().max() < 0.04


def test_replay_memory_is_a_ring_with_a_capacity_per_member():
    D = ReplayMemory(torch.tensor([5, 2]), (1,))
    for t in range(7):
        v = torch.full((2, 1), t, dtype=torch.uint8)
        D.store(v, torch.tensor([t, t]), torch.tensor([t, t]).float(), v + 1, torch.tensor([False, t == 6]))
    assert D.phi[0, :, 0].tolist() == [5, 6, 2, 3, 4]  # the last 5, oldest overwritten at slot t mod 5
    assert sorted(D.phi[1, :2, 0].tolist()) == [5, 6]  # capacity 2: only the latest 2 transitions
    batch = D.sample(4000, torch.Generator().manual_seed(0))
    assert set(batch["phi"][0, :, 0].tolist()) == {2, 3, 4, 5, 6}
    assert set(batch["phi"][1, :, 0].tolist()) == {5, 6}
    assert (batch["phi_next"] == batch["phi"] + 1).all() and (batch["r"] == batch["a"].float()).all()
    assert (batch["terminal"][1] == (batch["a"][1] == 6)).all()


def test_sampling_draws_only_from_stored_slots_before_the_ring_is_full():
    D = ReplayMemory(torch.tensor([100]), (1,))
    for t in range(3):
        D.store(torch.full((1, 1), t + 1, dtype=torch.uint8), torch.tensor([0]), torch.zeros(1),
                torch.zeros(1, 1, dtype=torch.uint8), torch.tensor([False]))  # fmt: skip
    assert set(D.sample(1000, torch.Generator().manual_seed(0))["phi"].flatten().tolist()) == {1, 2, 3}


def test_minatar_wrapper_plays_as_minatar_environment():
    """Our loader of MinAtar's game file (without its display imports) against minatar.Environment itself."""
    from minatar import Environment

    ours, theirs = envs.MinAtar("breakout", seed=7, sticky_action_prob=0.1, max_episode_steps=10_000), None
    theirs = Environment("breakout", sticky_action_prob=0.1)
    theirs.seed(7)
    ours.reset(), theirs.reset()
    g = torch.Generator().manual_seed(0)
    for _ in range(500):
        a = int(torch.randint(3, (1,), generator=g))
        phi, r, terminal, _ = ours.step(a)
        r2, terminal2 = theirs.act(theirs.minimal_action_set()[a])
        assert (r, terminal) == (r2, terminal2)
        assert torch.equal(phi, torch.from_numpy(theirs.state()).permute(2, 0, 1).to(torch.uint8))
        if terminal:
            ours.reset(), theirs.reset()


@pytest.mark.parametrize("name", ["minatar:breakout", "atari:Breakout"])
def test_snapshot_restore_replays_the_same_future(name):
    env = envs.make(name, seed=3, frame_skip=4, sticky_action_prob=0.1, max_episode_steps=10_000)
    env.reset()
    for t in range(30):
        env.step(t % env.n_actions)
    snap = env.snapshot()
    first = [env.step((3 * t) % env.n_actions) for t in range(40)]
    env.restore(snap)
    again = [env.step((3 * t) % env.n_actions) for t in range(40)]
    for (p1, r1, d1, o1), (p2, r2, d2, o2) in zip(first, again, strict=True):
        assert torch.equal(p1, p2) and (r1, d1, o1) == (r2, d2, o2)


def test_atari_path_runs_offline():
    """ale-py's bundled ROM, phi of Sec. 4.1 (4 stacked 84x84 grey frames), a few hundred steps, the 2013 net."""
    env = envs.Atari("Breakout", seed=0, frame_skip=4, max_episode_steps=10_000)
    phi, total, g = env.reset(), 0.0, torch.Generator().manual_seed(0)
    assert phi.shape == (4, 84, 84) and phi.dtype == torch.uint8 and env.n_actions == 4
    for _ in range(300):
        phi, r, terminal, over = env.step(int(torch.randint(4, (1,), generator=g)))
        total += r
        if over:
            phi = env.reset()
    assert phi.float().std() > 0  # real pixels
    Q = QNetwork(1, (4, 84, 84), env.n_actions, ATARI_2013, hidden=256)
    assert Q(phi[None, None]).shape == (1, 1, 4)


def test_preprocess_and_reward_clip():
    frame = torch.randint(0, 256, (210, 160), dtype=torch.uint8)
    assert preprocess(frame).shape == (84, 84) and preprocess(frame).dtype == torch.uint8
    assert preprocess(torch.full((210, 160), 77, dtype=torch.uint8)).unique().tolist() == [77]
    assert [reward_clip(r) for r in (-5.0, -0.1, 0.0, 0.3, 200.0)] == [-1.0, -1.0, 0.0, 1.0, 1.0]


def test_no_replay_arm_only_differs_in_capacity():
    cfg = experiment.PRESETS["smoke"]
    _, Q, D = experiment.build(cfg, 0, "cpu")
    assert D.capacity.tolist() == [cfg.N] * cfg.seeds + [cfg.batch_size] * cfg.seeds
    for p in Q.parameters():  # agent i of both arms starts from the same theta
        torch.testing.assert_close(p[: cfg.seeds], p[cfg.seeds :])


def test_paired_t():
    assert experiment.paired_t(torch.tensor([1.0, 2.0, 3.0])) == pytest.approx(2.0 / (1.0 / 3**0.5))
    assert experiment.paired_t(torch.tensor([0.5, 0.5])) == float("inf")


def test_resume_is_exact(monkeypatch):
    whole, resumed = interrupt_and_resume(monkeypatch, "mnih2013", experiment, "update", die_on_call=40)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    result = run_preset("mnih2013", "smoke", seeds=1, steps=1, N=1, batch_size=1, learning_starts=0, hidden=1,
                        eps_anneal_steps=1, log_every=1, checkpoint_every=1, eval_episodes=1, random_episodes=1,
                        max_episode_steps=1, update_every=1)  # fmt: skip
    assert result.metrics["random_score"] >= 0


@pytest.mark.parametrize("env", ["atari:Pong", "minatar:breakout"])
def test_pixel_experiment_smoke(env):
    """The experiment on pixels (the default smoke plays CartPole): the 2013 net on Atari, MinAtar's net."""
    result = run_preset("mnih2013", "smoke", env=env, steps=60, learning_starts=30, max_episode_steps=20)
    assert set(result.metrics) >= {"replay_score", "no_replay_score", "random_score"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("mnih2013", "quick"))
