"""Mnih et al. (2015), Algorithm 1 of the Nature paper: deep Q-learning with experience replay and a target network.

The target network's effect, measured against the 2013 agent on the same game and budget. Two arms, each on `seeds`
independent agents: "target" computes y_j with theta^- copied from theta every C updates; "no_target" computes it
with the current theta (the 2013 paper's target: C = 1). Everything else is shared: replay memory D of capacity N,
minibatches of 32, RMSProp, eps-greedy, the error clipping of the Nature paper (both arms, as in its ablation),
the same initial weights and emulator seed for agent i of both arms. The pieces come from the 2013 paper's folder
(dlcanon.papers.mnih2013.model and its emulators); only the target network and the clipped error are new here.
Quick plays CartPole-v1 (as mnih2013's quick); full plays Atari Breakout through ale-py with the Nature network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dlcanon.core.config import Annotated, OneOf, Range
from dlcanon.core.paper import Claim
from dlcanon.papers.mnih2013 import envs as environments
from dlcanon.papers.mnih2013 import figures
from dlcanon.papers.mnih2013.model import (
    CARTPOLE,
    MINATAR,
    QNetwork,
    ReplayMemory,
    epsilon,
    epsilon_greedy,
    q_learning_target,
    reward_clip,
    td_loss,
)

from .model import NATURE, clipped_td_loss, sync_target

ENVS = ("minatar:breakout", "gym:CartPole-v1", *(f"atari:{game}" for game in environments.ATARI_GAMES))
ARMS = ("target", "no_target")


@dataclass
class Config:
    env: Annotated[str, OneOf(*ENVS)] = "gym:CartPole-v1"
    """the game: 'gym:CartPole-v1', 'minatar:breakout' or 'atari:<Game>' through ale-py (the paper: 49 Atari games)"""
    seeds: Annotated[int, Range(ge=1, le=32)] = 3
    """independent agents per arm (the paper's ablation: one run per setting; claims here are about seed means)"""
    steps: Annotated[int, Range(ge=1, le=50_000_000)] = 16_000
    """agent steps per agent (the paper: 50M frames = 12.5M steps; its ablation: 10M frames)"""
    C: Annotated[int, Range(ge=1, le=1_000_000)] = 250
    """updates between copies theta^- <- theta in the target arm (the paper: 10,000)"""
    clip_error: Annotated[float, Range(gt=0, le=1e6)] = 1.0
    """the error y_j - Q is clipped to [-clip_error, clip_error] in the gradient, both arms (the paper: 1)"""
    N: Annotated[int, Range(ge=1, le=10_000_000)] = 16_000
    """replay memory capacity in transitions (the paper: 1M)"""
    batch_size: Annotated[int, Range(ge=1, le=4096)] = 32
    """minibatch of transitions per update (the paper: 32)"""
    gamma: Annotated[float, Range(ge=0, le=1)] = 0.99
    """discount factor (the paper: 0.99)"""
    lr: Annotated[float, Range(gt=0, le=1)] = 1e-3
    """RMSProp step size (the paper: 0.00025)"""
    rms_alpha: Annotated[float, Range(ge=0, lt=1)] = 0.95
    """RMSProp decay of the squared-gradient average (the paper: 0.95)"""
    rms_eps: Annotated[float, Range(gt=0, le=1)] = 1e-5
    """RMSProp's epsilon, added to the root mean square (the paper: 0.01 under the root; see notes)"""
    eps_start: Annotated[float, Range(ge=0, le=1)] = 1.0
    """initial exploration rate (the paper: 1)"""
    eps_end: Annotated[float, Range(ge=0, le=1)] = 0.1
    """final exploration rate (the paper: 0.1)"""
    eps_anneal_steps: Annotated[int, Range(ge=1, le=50_000_000)] = 8_000
    """steps over which epsilon falls linearly (the paper: the first 1M frames)"""
    learning_starts: Annotated[int, Range(ge=0, le=50_000_000)] = 1_000
    """steps of acting before the first update (the paper's replay start size: 50,000)"""
    update_every: Annotated[int, Range(ge=1, le=1000)] = 2
    """steps between gradient steps (the paper's update frequency: 4)"""
    hidden: Annotated[int, Range(ge=1, le=4096)] = 64
    """hidden units after the convolutions (the paper: 512 on Atari)"""
    frame_skip: Annotated[int, Range(ge=1, le=8)] = 4
    """Atari only: the agent sees and acts on every k-th frame (the paper: 4)"""
    sticky_action_prob: Annotated[float, Range(ge=0, le=1)] = 0.1
    """MinAtar only: chance that the previous action repeats (MinAtar's default randomness)"""
    max_episode_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 500
    """steps after which an episode is cut off (not terminal), in training and evaluation"""
    eval_episodes: Annotated[int, Range(ge=1, le=10_000)] = 10
    """evaluation episodes per agent at the end, eps-greedy (the paper: 30)"""
    eval_eps: Annotated[float, Range(ge=0, le=1)] = 0.05
    """exploration rate while evaluating (the paper: 0.05)"""
    random_episodes: Annotated[int, Range(ge=1, le=100_000)] = 100
    """episodes of the uniformly random policy per agent's evaluation emulator"""
    log_every: Annotated[int, Range(ge=1, le=10_000_000)] = 1_000
    """steps between curve points (mean score of the training episodes finished in the window)"""
    checkpoint_every: Annotated[int, Range(ge=1, le=50_000_000)] = 5_000
    """steps between checkpoints (the memory D is part of each)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.N < self.batch_size:
            raise ValueError(f"N ({self.N}) must be at least batch_size ({self.batch_size})")
        if self.eps_end > self.eps_start:
            raise ValueError(f"eps_end ({self.eps_end}) must not exceed eps_start ({self.eps_start})")
        if self.log_every > self.steps:
            raise ValueError(f"log_every ({self.log_every}) must not exceed steps ({self.steps})")


PRESETS = {
    "smoke": Config(
        seeds=1,
        steps=200,
        N=100,
        C=5,
        learning_starts=50,
        eps_anneal_steps=100,
        log_every=50,
        checkpoint_every=100,
        eval_episodes=1,
        random_episodes=2,
        max_episode_steps=100,
        hidden=16,
    ),  # fmt: skip
    "quick": Config(),
    "full": Config(
        env="atari:Breakout",
        seeds=3,
        steps=2_500_000,
        N=500_000,
        C=10_000,
        hidden=512,
        lr=2.5e-4,
        update_every=4,
        eps_anneal_steps=250_000,
        learning_starts=50_000,
        max_episode_steps=27_000,
        eval_episodes=30,
        random_episodes=30,
        log_every=10_000,
        checkpoint_every=250_000,
    ),  # fmt: skip
}

CLAIMS = [
    Claim(
        name="target_network_helps",
        metric="target_score",
        minus="no_target_score",
        op=">=",
        threshold=0.0,
        paper_value=(
            "Extended Data Table 3 (from memory, not checked against the paper): with replay, Breakout 316.8 "
            "with the target network vs 240.7 without; the target network helps on all 5 games tested."
        ),
        scale_note=(
            "quick: CartPole-v1, 16k steps per agent (the ablation: 10M frames on Atari); mean over seeds of the "
            "evaluation score (eps = 0.05); C = 250 updates instead of 10,000, scaled with the run's length."
        ),
    ),
    Claim(
        name="target_beats_random",
        metric="target_min_score",
        minus="random_score",
        op=">",
        threshold=0.0,
        paper_value="Fig. 3 / Extended Data Table 2: DQN far above the random policy on nearly every game.",
        scale_note="As above; the worst seed's mean evaluation score against the random policy's on the same game.",
    ),
]


def build(cfg: Config, seed: int, device) -> tuple[list, QNetwork, QNetwork, ReplayMemory, torch.Tensor]:
    """E = 2 * seeds agents: emulators, Q and Q^ (theta^- = theta at the start), D, and each member's C."""
    envs = [environments.make(cfg.env, seed * 1000 + i % cfg.seeds, cfg.frame_skip, cfg.sticky_action_prob,
                              cfg.max_episode_steps) for i in range(len(ARMS) * cfg.seeds)]  # fmt: skip
    convs = {"minatar": MINATAR, "atari": NATURE, "gym": CARTPOLE}[cfg.env.split(":")[0]]
    shape, n_actions, E = envs[0].state_shape, envs[0].n_actions, len(envs)
    torch.manual_seed(seed)
    base = QNetwork(cfg.seeds, shape, n_actions, convs, cfg.hidden)
    Q = QNetwork(E, shape, n_actions, convs, cfg.hidden)
    with torch.no_grad():  # agent i of both arms starts from the same theta
        for p, p0 in zip(Q.parameters(), base.parameters(), strict=True):
            p.copy_(p0.repeat(len(ARMS), *[1] * (p0.dim() - 1)))
    Q_hat = QNetwork(E, shape, n_actions, convs, cfg.hidden)
    Q_hat.load_state_dict(Q.state_dict())
    C = torch.tensor([cfg.C] * cfg.seeds + [1] * cfg.seeds)
    D = ReplayMemory(torch.full((E,), cfg.N), envs[0].state_shape, envs[0].dtype, device)
    return envs, Q.to(device), Q_hat.to(device), D, C


def update(Q, Q_hat, opt, D: ReplayMemory, cfg: Config, g: torch.Generator) -> torch.Tensor:
    """Nature Algorithm 1: sample from D; y_j = r_j + gamma max_a' Q^(phi_{j+1}, a'; theta^-); a gradient step on
    the clipped error (y_j - Q(phi_j, a_j; theta))^2."""
    batch = D.sample(cfg.batch_size, g)
    with torch.no_grad():
        y = q_learning_target(batch["r"], batch["terminal"], Q_hat(batch["phi_next"]), cfg.gamma)  # (E, B)
    loss = clipped_td_loss(Q(batch["phi"]), batch["a"], y, cfg.clip_error)
    opt.zero_grad(set_to_none=True)
    loss.sum().backward()
    opt.step()
    with torch.no_grad():
        return td_loss(Q(batch["phi"]), batch["a"], y)  # (E,) the unclipped loss after the step, for the curves


def run(cfg: Config, ctx) -> dict[str, float]:
    envs, Q, Q_hat, D, C = build(cfg, ctx.seed, ctx.device)
    opt = torch.optim.RMSprop(Q.parameters(), lr=cfg.lr, alpha=cfg.rms_alpha, eps=cfg.rms_eps, foreach=True)
    g = torch.Generator().manual_seed(ctx.seed)
    members, history, start, n_updates = environments.Members(envs), torch.zeros(0, len(envs)), 0, 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        Q.load_state_dict(state["Q"]), Q_hat.load_state_dict(state["Q_hat"]), opt.load_state_dict(state["opt"])
        D.load_state_dict(state["D"]), members.restore(state["members"]), g.set_state(state["g"])
        history, n_updates = state["history"], int(state["n_updates"])
    n_done, loss = [len(f) for f in members.finished], None
    with ctx.bar(cfg.steps - start, "steps") as bar:
        for t in range(start, cfg.steps):
            with torch.no_grad():  # select a_t eps-greedily, execute it, observe r_t and phi_{t+1}
                a = epsilon_greedy(Q(members.phi[:, None].to(ctx.device))[:, 0], epsilon(
                    t, cfg.eps_start, cfg.eps_end, cfg.eps_anneal_steps), g)  # fmt: skip
            phi, r, phi_next, terminal = members.step(a)
            r = r.apply_(reward_clip)  # rewards clipped to -1, 0, 1 for training
            D.store(*(x.to(ctx.device) for x in (phi, a, r, phi_next, terminal)))
            if t >= cfg.learning_starts and t % cfg.update_every == 0:
                loss = update(Q, Q_hat, opt, D, cfg, g)
                n_updates += 1
                sync_target(Q_hat, Q, (n_updates % C == 0).to(ctx.device))  # every C updates: theta^- <- theta
            if (t + 1) % cfg.log_every == 0:
                history, n_done = log_window(ctx, t + 1, members, n_done, history, loss, cfg)
                bar.update(cfg.log_every, score=float(history[-1].nanmean()))
            if (t + 1) % cfg.checkpoint_every == 0 or t + 1 == cfg.steps:
                ctx.checkpoint(t + 1, {"Q": Q.state_dict(), "Q_hat": Q_hat.state_dict(), "opt": opt.state_dict(),
                                       "D": D.state_dict(), "members": members.snapshot(), "g": g.get_state(),
                                       "history": history, "n_updates": n_updates})  # fmt: skip
    return final_metrics(cfg, ctx, Q, history)


def log_window(ctx, step, members, n_done, history, loss, cfg):
    """One curve point per member (mean score of its training episodes finished in the window, NaN if none) and
    the arms' mean TD loss."""
    row = torch.tensor([sum(f[k:]) / (len(f) - k) if len(f) > k else float("nan")
                        for f, k in zip(members.finished, n_done, strict=True)])  # fmt: skip
    history, S = torch.cat([history, row[None]]), cfg.seeds
    logs = {f"{arm}_train_score": float(row[i * S : (i + 1) * S].nanmean()) for i, arm in enumerate(ARMS)}
    if loss is not None:
        logs.update({f"{arm}_td_loss": float(loss[i * S : (i + 1) * S].mean()) for i, arm in enumerate(ARMS)})
    ctx.log(step, **logs)
    return history, [len(f) for f in members.finished]


def final_metrics(cfg: Config, ctx, Q: QNetwork, history: torch.Tensor) -> dict[str, float]:
    """Evaluation (eps = 0.05) on fresh emulators, the random policy on the same, per-arm mean and spread."""
    S, g = cfg.seeds, torch.Generator().manual_seed(ctx.seed + 1)
    eval_envs = [environments.make(cfg.env, 10_000 + ctx.seed * 1000 + i % S, cfg.frame_skip, cfg.sticky_action_prob,
                                   cfg.max_episode_steps) for i in range(len(ARMS) * S)]  # fmt: skip
    score = environments.evaluate(Q, eval_envs, cfg.eval_episodes, cfg.eval_eps, g, ctx.device)  # (E,)
    random_score = environments.evaluate(None, eval_envs[:S], cfg.random_episodes, 1.0, g, ctx.device)  # (S,)
    metrics = {"random_score": float(random_score.mean())}
    for i, arm in enumerate(ARMS):
        x = score[i * S : (i + 1) * S]
        metrics.update({f"{arm}_score": float(x.mean()), f"{arm}_score:std": float(x.std()) if S > 1 else 0.0,
                        f"{arm}_min_score": float(x.min())})  # fmt: skip
        metrics.update({f"{arm}_score_seed{k}": float(v) for k, v in enumerate(x)})
    gain = score[:S] - score[S:]
    metrics["target_gain_t"] = float(gain.mean() / (gain.std() / S**0.5)) if S > 1 and gain.std() > 0 else 0.0
    figures.curves(history, cfg, metrics, ARMS, ctx.path("scores.png"))
    return metrics
