"""Minsky & Papert (1969), Perceptrons: a linear threshold unit over a family of partial predicates.

The book's perceptron (Ch. 0 and 1) decides a predicate psi of a retina X by a weighted vote of simpler
predicates phi (here: masks, the conjunctions of Ch. 1), compared with a threshold:

    psi(X) = [ sum_{phi in Phi} alpha_phi * phi(X) > theta ]

The *order* of psi is the largest support any phi needs. Ch. 3 proves that parity of an n-point retina has
order n: no perceptron whose masks all look at fewer than n points can compute it. This file holds the
masks, the perceptron and its learning rule (analysed in Ch. 11), and, for contrast, the one-hidden-layer
net trained by backpropagation that later answered the book's challenge (Rumelhart, Hinton & Williams 1986).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

# --- masks: the partial predicates of order <= k (Ch. 1, Ch. 3) ------------------------------------------


def masks(n: int, k: int) -> list[tuple[int, ...]]:
    """Every subset S of the n points with |S| <= k; the empty mask is the constant 1 (it carries theta)."""
    return [S for size in range(k + 1) for S in itertools.combinations(range(n), size)]


def mask_features(x: torch.Tensor, k: int) -> torch.Tensor:
    """phi_S(x) = 1 iff every point of S is on: x (N, n) 0/1 -> (N, sum_{j<=k} C(n, j)) 0/1."""
    n = x.shape[1]
    S = masks(n, k)
    M = torch.zeros(len(S), n, dtype=x.dtype, device=x.device)  # (F, n) membership
    for f, s in enumerate(S):
        M[f, list(s)] = 1
    hits = x @ M.T  # (N, n) @ (n, F) -> (N, F): how many points of S are on
    return (hits == M.sum(1)).to(x.dtype)


# --- the perceptron and its learning rule ---------------------------------------------------------------


class Perceptron:
    """R independent perceptrons psi_r(phi) = [w_r . phi > 0], the threshold folded into the constant mask.

    Targets y are +1 / -1. The learning rule (Rosenblatt's, whose convergence and cycling Ch. 11 analyses):
    present one example; if y * (w . phi) <= 0 (wrong, or on the fence), set w <- w + y * phi.
    """

    def __init__(self, w: torch.Tensor):
        self.w = w  # (R, d)

    def scores(self, Phi: torch.Tensor) -> torch.Tensor:
        """Phi (R, N, d) (each perceptron its own examples) -> w . phi, (R, N)."""
        return torch.einsum("rnd,rd->rn", Phi, self.w)  # (R, N, d) . (R, d) -> (R, N)

    def predict(self, Phi: torch.Tensor) -> torch.Tensor:
        return torch.where(self.scores(Phi) > 0, 1.0, -1.0)

    def step(self, phi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One presentation: phi (R, d), y (R,) in {+1, -1, 0 = padding, ignored}. Returns the mistakes (R,)."""
        s = (self.w * phi).sum(1)  # (R,)
        wrong = (y * s <= 0) & (y != 0)
        self.w += (wrong * y)[:, None] * phi  # (R, 1) * (R, d)
        return wrong


# --- the multilayer alternative -----------------------------------------------------------------------


class OneHiddenLayerNet(nn.Module):
    """R independent nets  logit = w2 . tanh(x W1 + b1) + b2, trained together (one set of parameters each).

    The hidden units are themselves threshold-like units over *all* inputs, learned by gradient descent;
    the book's order argument bounds the masks of a single layer, not what a learned hidden layer can form.
    """

    def __init__(self, n: int, hidden: int, nets: int, generator: torch.Generator | None = None):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(nets, n, hidden, generator=generator) / n**0.5)
        self.b1 = nn.Parameter(torch.randn(nets, 1, hidden, generator=generator) * 0.5)
        self.w2 = nn.Parameter(torch.randn(nets, hidden, generator=generator) / hidden**0.5)
        self.b2 = nn.Parameter(torch.zeros(nets, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, n) -> logits (R, N)."""
        h = torch.tanh(x @ self.W1 + self.b1)  # (N, n) @ (R, n, H) -> (R, N, H)
        return torch.einsum("rnh,rh->rn", h, self.w2) + self.b2  # (R, N, H) . (R, H) -> (R, N)

    @classmethod
    def counting_parity(cls, n: int, sharpness: float = 20.0) -> OneHiddenLayerNet:
        """Hand-set weights that compute n-bit parity of 0/1 inputs with n hidden units (one net).

        h_k ~ [at least k inputs on] (k = 1..n); parity = h_1 - h_2 + h_3 - ... ; with tanh units the step
        is (1 + tanh(c * (sum x - k + 1/2))) / 2, so the output weights are +-1/2 and a bias collects the 1/2s.
        """
        net = cls(n, n, 1)
        sign = torch.tensor([(-1.0) ** k for k in range(n)])  # +1, -1, +1, ... for k = 1..n
        with torch.no_grad():
            net.W1.copy_(torch.full((1, n, n), sharpness))
            net.b1.copy_(-sharpness * (torch.arange(1, n + 1) - 0.5)[None, None])
            net.w2.copy_(sign[None] / 2)
            net.b2.copy_(torch.tensor([[sign.sum() / 2 - 0.5]]))
        return net
