"""Cybenko (1989), "Approximation by Superpositions of a Sigmoidal Function": the finite sums of Eq. (1)
(Eq. (2) in Theorem 1),

    G(x) = sum_{j=1}^{N} alpha_j sigma(y_j^T x + theta_j),

one hidden layer of N units and a linear output without bias. sigma is *sigmoidal*: sigma(t) -> 1 as t -> +inf and
-> 0 as t -> -inf. The paper's Theorem 2 (Theorem 1 with Lemma 1) says that for continuous sigmoidal sigma these
sums are dense in C(I_n): for every continuous f on the unit cube and every eps > 0 some G has |G(x) - f(x)| < eps
for all x. The proof is by contradiction (Hahn-Banach and Riesz), so it says nothing about how large N must be or
how to find the weights.

Here the inputs are one-dimensional (x in [0, 1], the case n = 1), and many networks are kept side by side:
B independent rows (targets x restarts), each row holding one network of every width in `widths` (1, 2, 4, ...)
packed one after the other, U = sum(widths) units in all. Each unit is stored as

    y_j = s_j exp(l_j)       (s_j = +-1 fixed, l_j its log-steepness)
    theta_j = -y_j c_j       (c_j: the point where the unit switches, sigma(y_j (x - c_j)))

which is Eq. (1) exactly, written in coordinates that suit an optimiser on [0, 1]. `activation="relu"` gives
the same sums over max(0, t), the unbounded non-polynomial case that Leshno et al. (1993) cover.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn


def sigma(t: torch.Tensor) -> torch.Tensor:
    """The logistic function 1 / (1 + e^-t), the continuous sigmoidal function the paper has in mind."""
    return torch.sigmoid(t)


def relu(t: torch.Tensor) -> torch.Tensor:
    return torch.relu(t)


def step(t: torch.Tensor, at_zero: float = 0.5) -> torch.Tensor:
    """gamma(t): 1 for t > 0, 0 for t < 0, `at_zero` at t = 0 -- the pointwise limit of sigma(lambda t + phi) as
    lambda -> inf, with at_zero = sigma(phi) (the limit used in the proof of Lemma 1)."""
    return torch.where(t > 0, torch.ones_like(t), torch.where(t < 0, torch.zeros_like(t), torch.full_like(t, at_zero)))


# activation -> (function, derivative given (pre-activation t, output h))
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigma, lambda t, h: h * (1 - h)),
    "relu": (relu, lambda t, h: (t > 0).to(t.dtype)),
}


class SigmoidalSums(nn.Module):
    """B rows of one-hidden-layer networks G(x) = sum_j alpha_j sigma(y_j x + theta_j) (Eq. 1), one network of
    every width in `widths` per row, packed side by side in U = sum(widths) units."""

    def __init__(self, alpha: torch.Tensor, log_steep: torch.Tensor, centre: torch.Tensor, sign: torch.Tensor,
                 widths: tuple[int, ...], activation: str = "sigmoid"):
        super().__init__()
        if alpha.shape[-1] != sum(widths):
            raise ValueError(f"{alpha.shape[-1]} units given for widths {widths} (sum {sum(widths)})")
        self.alpha = nn.Parameter(alpha)  # (B, U) output weights alpha_j
        self.log_steep = nn.Parameter(log_steep)  # (B, U) l_j, |y_j| = exp(l_j)
        self.centre = nn.Parameter(centre)  # (B, U) c_j = -theta_j / y_j
        self.register_buffer("sign", sign)  # (B, U) sign of y_j
        self.widths = tuple(widths)
        self.activation = activation
        net = torch.repeat_interleave(torch.arange(len(widths)), torch.tensor(widths))  # (U,) which network
        self.register_buffer("net_of_unit", net)
        self.register_buffer("sum_units", nn.functional.one_hot(net, len(widths)).to(alpha.dtype))  # (U, W)

    @classmethod
    def from_weights(cls, alpha, y, theta, widths, activation="sigmoid"):
        """Build from the paper's (alpha_j, y_j, theta_j), y_j != 0; all (B, U)."""
        return cls(alpha, y.abs().log(), -theta / y, y.sign(), widths, activation)

    @property
    def y(self) -> torch.Tensor:
        return self.sign * self.log_steep.exp()  # (B, U)

    @property
    def theta(self) -> torch.Tensor:
        return -self.y * self.centre  # (B, U)

    def offsets(self) -> list[int]:
        """Where each network's units start and end in the packed row: net k is units offsets[k]:offsets[k+1]."""
        return [0, *torch.tensor(self.widths).cumsum(0).tolist()]

    def preactivation(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """t_j(x) = y_j x + theta_j = y_j (x - c_j): x (M,) -> (B, M, U), computed in `dtype` if given."""
        y, c = (self.y, self.centre) if dtype is None else (self.y.to(dtype), self.centre.to(dtype))
        x = x if dtype is None else x.to(dtype)
        return y[:, None, :] * (x[None, :, None] - c[:, None, :])  # (B,1,U) * ((1,M,1) - (B,1,U))

    def hidden(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The hidden layer sigma(t_j(x)) and its derivative sigma'(t_j(x)), both (B, M, U)."""
        f, df = ACTIVATIONS[self.activation]
        t = self.preactivation(x, dtype)
        h = f(t)
        return h, df(t, h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """G(x) for every network: x (M,) -> (B, M, W), W = len(widths)."""
        h, _ = self.hidden(x)
        return (h * self.alpha[:, None, :]) @ self.sum_units  # (B, M, U) @ (U, W): each net sums its own units


def staircase(f: Callable[[torch.Tensor], torch.Tensor], N: int, k: float) -> SigmoidalSums:
    """A hand-built G with N steep sigmoids that climbs f on [0, 1] in N - 1 steps (N >= 2), the elementary
    construction behind the theorem's idea: as k -> inf, sigma(k (x - t)) -> a unit step at t (Lemma 1's limit).

    Nodes x_i = i / (N - 1). Unit 0 switches on left of the interval (t_0 = -h/2) and carries f(x_0); unit i >= 1
    switches between x_{i-1} and x_i and adds f(x_i) - f(x_{i-1}). As k -> inf G tends to the step function
    through the nodes, within max |f(x) - f(x_i)| over |x - x_i| <= h/2, h = 1 / (N - 1)."""
    if N < 2:
        raise ValueError("a staircase needs N >= 2 units")
    h = 1.0 / (N - 1)
    nodes = torch.linspace(0, 1, N, dtype=torch.float64)
    fx = f(nodes)
    alpha = torch.cat([fx[:1], fx[1:] - fx[:-1]])  # (N,)
    t = torch.cat([torch.tensor([-h / 2], dtype=torch.float64), (nodes[1:] + nodes[:-1]) / 2])  # switch points
    ones = torch.ones(N, dtype=torch.float64)
    return SigmoidalSums(alpha[None], math.log(k) * ones[None], t[None], ones[None], (N,))
