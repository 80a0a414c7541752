"""The neural probabilistic language model of Bengio, Ducharme, Vincent & Jauvin (2003), JMLR 3, Section 2.

The model predicts the next word w_t from the n-1 words before it, in two parts learned together:

    C                   a |V| x m matrix: row i is the *feature vector* of word i (a distributed representation)
    x = (C(w_{t-1}), C(w_{t-2}), ..., C(w_{t-n+1}))          the context's feature vectors, concatenated
    y = b + W x + U tanh(d + H x)                             Eq. (1): one unnormalised log-probability per word
    P(w_t = i | w_{t-1}, ..., w_{t-n+1}) = e^{y_i} / sum_j e^{y_j}                   the softmax output layer

with h hidden units: H (h x (n-1)m), d (h), U (|V| x h), b (|V|), and the optional *direct connections* from the
features to the output, W (|V| x (n-1)m; the paper's W = 0 when there are none). The parameters
theta = (b, d, W, U, H, C) are trained together by maximising the mean log-likelihood of the training words (plus,
in the paper, a weight-decay penalty R(theta)). C is shared by all positions of the context: a word has one feature
vector wherever it occurs, so what the network learns about a word in one context carries over to every other.

Everything here takes word ids; contexts are given most recent word first, context[:, 0] = w_{t-1}.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class NPLM(nn.Module):
    """Eq. (1), Section 2: y = b + W x + U tanh(d + H x), x the concatenated feature vectors C(w) of the context.

    V words, context of n-1 words, m features per word, h hidden units; direct=False drops W.
    Initial values (the paper does not print them): C ~ N(0, init_C^2); H, U, W uniform in +-1/sqrt(fan-in); d, b
    zero.
    """

    def __init__(self, V: int, n: int, m: int, h: int, direct: bool = False, init_C: float = 0.1,
                 generator: torch.Generator | None = None):
        super().__init__()
        if n < 2:
            raise ValueError(f"n is the order of the model, context n-1 words: need n >= 2, got {n}")
        self.n = n
        k = (n - 1) * m  # length of x

        def uniform(*shape, fan_in):
            bound = 1.0 / math.sqrt(fan_in)
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.C = nn.Parameter(torch.randn(V, m, generator=generator) * init_C)  # word features
        self.H = uniform(h, k, fan_in=k)  # features -> hidden
        self.d = nn.Parameter(torch.zeros(h))  # hidden biases
        self.U = uniform(V, h, fan_in=h)  # hidden -> output
        self.b = nn.Parameter(torch.zeros(V))  # output biases
        self.W = uniform(V, k, fan_in=k) if direct else None  # features -> output (direct connections)

    def features(self, context: torch.Tensor) -> torch.Tensor:
        """x = (C(w_{t-1}), ..., C(w_{t-n+1})): context (B, n-1) word ids -> (B, (n-1) m)."""
        return self.C[context].flatten(1)  # (B, n-1, m) -> (B, (n-1) m)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """Eq. (1): context (B, n-1) word ids, most recent first -> y (B, V), the logits of the next word."""
        x = self.features(context)  # (B, (n-1) m)
        a = torch.tanh(self.d + x @ self.H.T)  # (B, h): tanh(d + H x)
        y = torch.addmm(self.b, a, self.U.T)  # (B, V): b + U tanh(d + H x)
        if self.W is not None:
            y = y + x @ self.W.T  # (B, V): + W x
        return y

    def log_prob(self, context: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """log P(w_t = target | context) under the softmax of Eq. (1): (B, n-1), (B,) -> (B,)."""
        return -F.cross_entropy(self(context), target, reduction="none")  # y_target - log sum_j e^{y_j}, (B,)
