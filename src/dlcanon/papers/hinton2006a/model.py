"""Hinton, Osindero & Teh (2006), "A Fast Learning Algorithm for Deep Belief Nets": the deep belief net (DBN)
built from the restricted Boltzmann machines of Hinton (2005), whose RBM we import.

The network of the paper's Figure 1 and Sec. 6 (sizes are the paper's; ours are set in the experiment):

    label units y (10, softmax)   penultimate layer x (500)
              \\                     /
               top layer (2000 units)          the top two layers: an undirected associative memory,
                                                an RBM whose visible layer is [x, y]
    x (500)  ^ recognition R_2 | generative G_2 = R_2^T after greedy learning
    h (500)  ^ recognition R_1 | generative G_1 = R_1^T
    v (28x28 image)

Greedy learning (Sec. 4): train an RBM on the images; its hidden probabilities are the data of the next RBM; the
last RBM sees the penultimate features together with the label, coded as 10 units of which exactly one is on
(a softmax group, Sec. 6). Each RBM learns by contrastive divergence (hinton2005.model.RBM.cd_gradient).

Recognition (Sec. 6): one bottom-up pass of probabilities gives x; the label is the one whose configuration
[x, y] has the lowest free energy in the top RBM, i.e. p(y | x) = softmax_y(-F(x, y)), exact.

Generation: clamp a label in the associative memory, run alternating Gibbs sampling there, then one top-down
pass through the generative weights.

Fine-tuning: the paper fine-tunes the whole generative model with the "up-down" algorithm (Sec. 5); the common
variant, and ours, fine-tunes the recognition weights as a feed-forward classifier by backpropagation
(`FeedForward`), the label units becoming a softmax output layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.papers.hinton2005.model import RBM, bernoulli


class AssociativeMemory(RBM):
    """The top two layers: an RBM whose visible layer is [x, y], x binary units and y a group of n_labels units
    of which exactly one is on. The energy keeps the RBM's form E = -b.v - c.h - v^T W h with v = [x, y], so
    p(h | x, y) and the free energy are the RBM's own; only p(v | h) changes: the label group is a softmax,
        p(y_k = 1 | h) = exp(b_k + W_k.h) / sum_l exp(b_l + W_l.h)."""

    def __init__(self, n_x: int, n_labels: int, n_h: int, init_std: float = 0.01,
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32):  # fmt: skip
        super().__init__(n_x + n_labels, n_h, init_std, generator, dtype)
        self.n_labels = n_labels

    def p_v(self, h: torch.Tensor) -> torch.Tensor:
        """[p(x_i = 1 | h) (B, n_x) logistic, p(y = k | h) (B, n_labels) softmax]."""
        a = self.b + h @ self.W.T  # (B, n_h) @ (n_h, n_x + n_labels)
        return torch.cat([torch.sigmoid(a[:, : -self.n_labels]), torch.softmax(a[:, -self.n_labels :], -1)], -1)

    def sample_v(self, p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x units on independently; exactly one label unit on, drawn from the softmax."""
        x = bernoulli(p[:, : -self.n_labels], generator)
        k = torch.multinomial(p[:, -self.n_labels :], 1, generator=generator)[:, 0]  # (B,)
        return torch.cat([x, F.one_hot(k, self.n_labels).to(p.dtype)], -1)

    def enumerate_smaller_layer(self):
        raise NotImplementedError("the label group has n_labels states, not 2^n_labels: not enumerated here")

    def label_free_energies(self, x: torch.Tensor) -> torch.Tensor:
        """F(x, y = k) for every label k, (B, n_labels): -b_x.x - b_k - sum_j softplus(c_j + x.W_xj + W_kj)."""
        L = self.n_labels
        W_x, W_y = self.W[:-L], self.W[-L:]  # (n_x, n_h), (L, n_h)
        a = (self.c + x @ W_x)[:, None, :] + W_y[None]  # (B, 1, n_h) + (1, L, n_h) -> (B, L, n_h)
        return -(x @ self.b[:-L])[:, None] - self.b[-L:] - F.softplus(a).sum(-1)

    def label_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(y | x) = log softmax_y(-F(x, y)), exact: (B, n_labels)."""
        return torch.log_softmax(-self.label_free_energies(x), -1)


class DBN(nn.Module):
    """A greedy stack of RBMs (`lower`: image -> ... -> penultimate layer) with an associative memory on top.
    After greedy learning the generative weights of the lower layers are the recognition weights transposed."""

    def __init__(self, lower: list[RBM], top: AssociativeMemory):
        super().__init__()
        self.lower = nn.ModuleList(lower)
        self.top = top

    def up(self, v: torch.Tensor) -> torch.Tensor:
        """The bottom-up pass of probabilities: v (B, n_v) -> x (B, n_x), the top RBM's data (without labels)."""
        for rbm in self.lower:
            v = rbm.p_h(v)
        return v

    def label_log_probs(self, v: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
        """log p(y | v) by the paper's recognition: bottom-up pass, then exact free energies at the top."""
        return torch.cat([self.top.label_log_probs(self.up(v[i : i + chunk])) for i in range(0, len(v), chunk)])

    @torch.no_grad()
    def generate(self, labels: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images of the given labels (B,): the label units clamped, `steps` of alternating Gibbs sampling in the
        associative memory from a random x, then a top-down pass of probabilities. Returns p(v | h_1) (B, n_v)."""
        L = self.top.n_labels
        y = F.one_hot(labels, L).to(self.top.W.dtype)  # (B, L)
        x = bernoulli(torch.full((len(labels), self.top.n_v - L), 0.5, dtype=y.dtype, device=y.device), generator)
        for _ in range(steps):
            h = bernoulli(self.top.p_h(torch.cat([x, y], -1)), generator)
            x = bernoulli(self.top.p_v(h)[:, :-L], generator)  # the label stays clamped
        for rbm in reversed(self.lower):  # top-down through the generative weights G = R^T
            x = rbm.p_v(x)
        return x


class FeedForward(nn.Module):
    """The recognition side of a DBN as a classifier: logistic hidden layers h_l = sigma(c_l + h_{l-1} W_l), then
    a softmax output over the labels. `from_rbms` starts it at a greedy stack's recognition weights;
    `random_init` starts it at random, scaled for logistic units as Glorot & Bengio (2010) advise."""

    def __init__(self, Ws: list[torch.Tensor], cs: list[torch.Tensor]):
        super().__init__()
        self.Ws = nn.ParameterList([nn.Parameter(W.detach().clone()) for W in Ws])
        self.cs = nn.ParameterList([nn.Parameter(c.detach().clone()) for c in cs])

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """v (B, n_v) -> logits (B, n_labels)."""
        h = v
        for W, c in zip(self.Ws[:-1], self.cs[:-1], strict=True):
            h = torch.sigmoid(c + h @ W)  # (B, n_in) @ (n_in, n_out)
        return self.cs[-1] + h @ self.Ws[-1]

    @classmethod
    def random_init(cls, sizes: list[int], n_labels: int, generator: torch.Generator | None = None) -> FeedForward:
        """sizes[0] -> ... -> sizes[-1] -> n_labels without pretraining: weights uniform in
        +-4 sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio's normalised init, times 4 for logistic units), biases 0."""
        Ws, cs = [], []
        for n_in, n_out in zip(sizes, [*sizes[1:], n_labels], strict=True):
            bound = 4.0 * math.sqrt(6.0 / (n_in + n_out))
            Ws.append((torch.rand(n_in, n_out, generator=generator) * 2 - 1) * bound)
            cs.append(torch.zeros(n_out))
        return cls(Ws, cs)
