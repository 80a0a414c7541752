"""Mnih et al. (2013), Playing Atari with Deep Reinforcement Learning: the deep Q-network and its pieces.

Everything a reader came to learn, in the paper's notation (Sec. 3-4, Algorithm 1):

- Q(s, a; theta): a convolutional net that maps the preprocessed state phi(s) to one value per action (Sec. 4.1).
- phi: the preprocessing of Atari frames (grey, 110x84, an 84x84 crop, the last 4 frames stacked; Sec. 4.1).
- D: the replay memory of capacity N, a ring of preallocated tensors (Sec. 4, "experience replay").
- epsilon-greedy action selection with epsilon annealed linearly from 1 to 0.1 (Sec. 5).
- the Q-learning target y_j and the squared error (y_j - Q(phi_j, a_j; theta))^2 (Eq. 2-3, Algorithm 1).

The loop that joins them (Algorithm 1) lives in experiment.py. To run several seeds and arms at once, every
tensor here has a leading member axis E: member e is an independent agent with its own weights, memory and
environment, and nothing mixes across e (a test checks each member against a plain nn.Conv2d/nn.Linear net).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ATARI_2013 = ((16, 8, 4), (32, 4, 2))
"""Sec. 4.1: 16 filters 8x8 stride 4, then 32 filters 4x4 stride 2 (rectifiers), then 256 hidden units."""
CARTPOLE = ()
"""CartPole's 4 numbers need no convolution: the net is one hidden layer of rectifiers, then the linear output."""
MINATAR = ((16, 3, 1),)
"""MinAtar's own DQN baseline (Young & Tian 2019): one 16-filter 3x3 stride-1 conv, then 128 hidden units."""


class QNetwork(nn.Module):
    """Q(s, . ; theta) for E independent agents (Sec. 4.1): convs with rectifiers, one hidden layer, one linear output
    per action. `convs` lists (filters, kernel, stride); weights carry a leading member axis E."""

    def __init__(self, E: int, state_shape: tuple[int, ...], n_actions: int, convs=ATARI_2013, hidden: int = 256):
        super().__init__()
        self.E, self.convs = E, tuple(convs)
        self.conv_W, self.conv_b = nn.ParameterList(), nn.ParameterList()
        c, size = state_shape[0], state_shape[-1]
        for filters, k, stride in self.convs:
            self.conv_W.append(nn.Parameter(uniform_fan_in((E, filters, c, k, k), c * k * k)))
            self.conv_b.append(nn.Parameter(uniform_fan_in((E, filters), c * k * k)))
            c, size = filters, (size - k) // stride + 1
        self.n_flat = c * size * size if self.convs else math.prod(state_shape)  # no convs: a one-hidden-layer MLP
        self.W_h = nn.Parameter(uniform_fan_in((E, self.n_flat, hidden), self.n_flat))
        self.b_h = nn.Parameter(uniform_fan_in((E, 1, hidden), self.n_flat))
        self.W_q = nn.Parameter(uniform_fan_in((E, hidden, n_actions), hidden))
        self.b_q = nn.Parameter(uniform_fan_in((E, 1, n_actions), hidden))

    def forward(self, phi: torch.Tensor) -> torch.Tensor:
        """phi (E, B, *state_shape) -> Q (E, B, n_actions). uint8 pixel values are scaled to [0, 1] first."""
        E, B = phi.shape[:2]
        h = phi.float().transpose(0, 1).flatten(1, 2)  # (B, E*C, H, W): members side by side as conv groups
        if phi.dtype == torch.uint8:
            h = h / 255.0
        for (_, _, stride), W, b in zip(self.convs, self.conv_W, self.conv_b, strict=True):
            h = F.relu(F.conv2d(h, W.flatten(0, 1), b.flatten(), stride=stride, groups=E))  # (B, E*F, H', W')
        h = h.reshape(B, E, -1).transpose(0, 1)  # (E, B, F*H'*W')
        h = F.relu(torch.baddbmm(self.b_h, h, self.W_h))  # (E, B, hidden)
        return torch.baddbmm(self.b_q, h, self.W_q)  # (E, B, n_actions)


def uniform_fan_in(shape, fan_in: int) -> torch.Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the default init of nn.Conv2d/nn.Linear biases (the paper gives none)."""
    bound = 1.0 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound)


def epsilon(t: int, eps_start: float, eps_end: float, anneal_steps: int) -> float:
    """Sec. 5: epsilon annealed linearly from eps_start to eps_end over the first anneal_steps, fixed after."""
    return eps_end + (eps_start - eps_end) * max(0.0, 1.0 - t / anneal_steps)


def epsilon_greedy(Q: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """Algorithm 1: with probability eps a random action, otherwise a_t = argmax_a Q(phi(s_t), a; theta).
    Q (E, n_actions) -> a (E,). Ties go to the lowest action index."""
    E, n_actions = Q.shape
    explore = torch.rand(E, generator=generator) < eps
    random_a = torch.randint(n_actions, (E,), generator=generator)
    return torch.where(explore, random_a, Q.argmax(1).cpu())


def q_learning_target(r, terminal, Q_next, gamma: float) -> torch.Tensor:
    """Algorithm 1: y_j = r_j for terminal phi_{j+1}, else r_j + gamma max_a' Q(phi_{j+1}, a'). Q_next is computed
    with the parameters held fixed (Eq. 3: theta_{i-1}), so no gradient flows through y_j."""
    return r + gamma * (~terminal) * Q_next.max(-1).values  # (E, B)


def td_loss(Q: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. 3: L = E[(y_j - Q(phi_j, a_j; theta))^2], the mean over each member's minibatch. Q (E, B, A), a and y
    (E, B) -> (E,). Summing the members' losses gives each member the gradient of its own loss."""
    q_a = Q.gather(-1, a[..., None])[..., 0]  # (E, B): Q(phi_j, a_j; theta)
    return ((y - q_a) ** 2).mean(-1)


class ReplayMemory:
    """D (Sec. 4, Algorithm 1): the last N transitions (phi_t, a_t, r_t, phi_{t+1}, terminal) of each member, in
    preallocated tensors used as a ring. `capacity` may differ per member (E,), so one memory holds several arms;
    a member with capacity = minibatch size sees only its latest transitions (our "no replay" arm)."""

    def __init__(self, capacity: torch.Tensor, state_shape: tuple[int, ...], dtype=torch.uint8, device="cpu"):
        self.capacity = capacity.long().to(device)  # (E,)
        E, N = len(capacity), int(capacity.max())
        self.phi = torch.zeros((E, N, *state_shape), dtype=dtype, device=device)
        self.phi_next = torch.zeros_like(self.phi)
        self.a = torch.zeros(E, N, dtype=torch.long, device=device)
        self.r = torch.zeros(E, N, device=device)
        self.terminal = torch.zeros(E, N, dtype=torch.bool, device=device)
        self.t = 0  # transitions stored so far (the same for every member: they act in lockstep)

    def store(self, phi, a, r, phi_next, terminal) -> None:
        """Store one transition per member, each at slot t mod N_e (overwriting the oldest)."""
        e = torch.arange(len(self.capacity), device=self.capacity.device)
        slot = self.t % self.capacity  # (E,)
        self.phi[e, slot], self.phi_next[e, slot] = phi, phi_next
        self.a[e, slot], self.r[e, slot], self.terminal[e, slot] = a, r, terminal
        self.t += 1

    def sample(self, B: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Algorithm 1: a minibatch of B transitions drawn uniformly (with replacement) from each member's D."""
        size = self.capacity.clamp(max=self.t)  # (E,) transitions each member holds
        u = torch.rand(len(size), B, generator=generator).to(size.device)
        j = (u * size[:, None]).long()  # (E, B)
        e = torch.arange(len(size), device=size.device)[:, None]
        return {"phi": self.phi[e, j], "a": self.a[e, j], "r": self.r[e, j], "phi_next": self.phi_next[e, j],
                "terminal": self.terminal[e, j]}  # fmt: skip

    def state_dict(self) -> dict:
        return {"phi": self.phi, "phi_next": self.phi_next, "a": self.a, "r": self.r, "terminal": self.terminal,
                "t": self.t}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        for k in ("phi", "phi_next", "a", "r", "terminal"):
            getattr(self, k).copy_(state[k])
        self.t = int(state["t"])


def preprocess(frame: torch.Tensor) -> torch.Tensor:
    """Sec. 4.1: a grey 210x160 Atari frame (uint8) down-sampled to 110x84, then the 84x84 region that roughly
    holds the playing area (rows 18-101). Returns (84, 84) uint8. Stacking the last 4 is the environment's job."""
    x = F.interpolate(frame[None, None].float(), size=(110, 84), mode="area")[0, 0]  # (110, 84)
    return x[18:102].round().clamp(0, 255).to(torch.uint8)  # (84, 84)


def reward_clip(r: float) -> float:
    """Sec. 5: all positive rewards are 1, all negative -1, 0 stays 0 (the same learning rate across games)."""
    return float((r > 0) - (r < 0))
