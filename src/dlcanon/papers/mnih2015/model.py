"""Mnih et al. (2015), Human-level control through deep reinforcement learning: what the Nature DQN adds to 2013's.

The 2013 agent (dlcanon.papers.mnih2013.model: the Q-network, the replay memory D, eps-greedy, the Q-learning target)
gains two things here (Methods, "Training algorithm for deep Q-networks"):

- a target network Q^ with parameters theta^-: y_j = r_j + gamma max_a' Q^(phi_{j+1}, a'; theta^-), and every C
  updates theta^- <- theta (Algorithm 1 of the Nature paper). With C = 1 this is the 2013 target exactly;
- error clipping: the error term y_j - Q(phi_j, a_j; theta) is clipped to [-1, 1] in the gradient, i.e. the
  squared loss becomes quadratic inside |error| <= 1 and linear outside (the Huber loss, scaled by 2).

And a bigger network for Atari: 32 8x8 s4, 64 4x4 s2, 64 3x3 s1 convolutions, 512 hidden units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlcanon.papers.mnih2013.model import QNetwork

NATURE = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
"""Methods, "Model architecture": 32 filters 8x8 stride 4, 64 4x4 stride 2, 64 3x3 stride 1, then 512 units."""


def clipped_td_loss(Q: torch.Tensor, a: torch.Tensor, y: torch.Tensor, clip: float = 1.0) -> torch.Tensor:
    """The squared error (y_j - Q(phi_j, a_j; theta))^2 with the error's derivative clipped to [-clip, clip]: twice the
    Huber loss, so that inside the clip it equals the 2013 loss exactly. Q (E, B, A), a and y (E, B) -> (E,)."""
    q_a = Q.gather(-1, a[..., None])[..., 0]  # (E, B)
    return 2 * F.huber_loss(q_a, y, reduction="none", delta=clip).mean(-1)


@torch.no_grad()
def sync_target(Q_hat: QNetwork, Q: QNetwork, members: torch.Tensor) -> None:
    """theta^- <- theta for the members whose C steps have passed (members: (E,) bool)."""
    for p_hat, p in zip(Q_hat.parameters(), Q.parameters(), strict=True):
        p_hat[members] = p[members]
