"""The deep feedforward network of Glorot & Bengio (2010), its two initialisations, and the instrument the paper
uses to look inside it (per-layer activations and back-propagated gradients).

The paper's notation (Sec. 4.2.1), with layer 0 the input and layer d the softmax output:

    z^0 = x                          (B, n_0)      the input, n_0 = 784 for MNIST
    s^i = z^i W^i + b^i              (B, n_{i+1})  the argument of the activation function at layer i
    z^{i+1} = f(s^i)                 (B, n_{i+1})  hidden layer i+1, for i = 0 .. d-2
    P(y | x) = softmax(s^{d-1})      (B, 10)       the output layer, s^{d-1} are the logits

so W^i (n_i, n_{i+1}) maps layer i to layer i+1, and the paper's "hidden layer k" (its plots' Layer 1..5) is z^k,
the activation function applied to s^{k-1}. The cost is the negative log-likelihood -log P(y | x) (Sec. 2.2).

Back-propagation, for one example (Sec. 4.2.1, the two identities the analysis starts from):

    dCost/ds^i_k    = f'(s^i_k) W^{i+1}_{k,.} dCost/ds^{i+1}         (the back-propagated gradient)
    dCost/dw^i_{l,k} = z^i_l dCost/ds^i_k                              (the weight gradient)

Initialisations (biases are 0 in both):

    standard    W_ij ~ U[-1/sqrt(n), 1/sqrt(n)],  n = n_i the size of the previous layer      (Eq. 1)
    normalised  W_ij ~ U[-sqrt(6)/sqrt(n_i + n_{i+1}), sqrt(6)/sqrt(n_i + n_{i+1})]          (Eq. 16)

U[-a, a] has variance a^2/3, so the standard init gives n_i Var[W^i] = 1/3, and the normalised init gives
Var[W^i] = 2 / (n_i + n_{i+1}), the compromise (Eq. 12) between keeping the forward variance (n_i Var[W^i] = 1)
and the backward variance (n_{i+1} Var[W^i] = 1) the same from layer to layer.

The rectifier max(0, s) is the activation of Glorot, Bordes & Bengio (2011), run here as a further arm.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def softsign(s: torch.Tensor) -> torch.Tensor:
    """s / (1 + |s|), the paper's third activation (Sec. 3.3): like tanh, but its tails approach +-1 polynomially."""
    return s / (1 + s.abs())


ACTIVATIONS = {
    "sigmoid": torch.sigmoid,  # 1 / (1 + e^-s), in (0, 1), 1/2 at 0
    "tanh": torch.tanh,  # in (-1, 1), 0 at 0, f'(0) = 1
    "softsign": softsign,
    "rectifier": torch.relu,  # max(0, s): Glorot, Bordes & Bengio (2011), exact zeros below 0
}


def standard_bound(n_in: int, n_out: int) -> float:
    """Eq. (1): a = 1/sqrt(n), n the size of the previous layer (the fan-in); n_out is not used."""
    return 1.0 / math.sqrt(n_in)


def normalised_bound(n_in: int, n_out: int) -> float:
    """Eq. (16): a = sqrt(6) / sqrt(n_i + n_{i+1}), so that Var[W] = a^2/3 = 2 / (n_i + n_{i+1}) (Eq. 12)."""
    return math.sqrt(6.0) / math.sqrt(n_in + n_out)


BOUNDS = {"standard": standard_bound, "normalised": normalised_bound}


def uniform_weights(n_in: int, n_out: int, init: str, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n_in, n_out) weights drawn from U[-a, a], a from the named initialisation."""
    a = BOUNDS[init](n_in, n_out)
    return (torch.rand(n_in, n_out, generator=generator) * 2 - 1) * a


class DeepNet(nn.Module):
    """A dense feedforward net n_0 -> n_1 -> ... -> n_{d-1} -> softmax over n_d classes (Sec. 2.2).

    `sizes` lists every layer's width, input and output included ((784, 1000, 1000, 1000, 1000, 1000, 10) is
    the paper's 5-hidden-layer MNIST net). `f` names the activation of every hidden layer, `init` the
    initialisation of every weight matrix. W[i] and b[i] are the paper's W^i and b^i."""

    def __init__(self, sizes: tuple[int, ...], f: str, init: str, generator: torch.Generator | None = None):
        super().__init__()
        self.sizes, self.f_name, self.init = tuple(sizes), f, init
        self.f = ACTIVATIONS[f]
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.W = nn.ParameterList([nn.Parameter(uniform_weights(a, b, init, generator)) for a, b in pairs])
        self.b = nn.ParameterList([nn.Parameter(torch.zeros(b)) for _, b in pairs])

    @property
    def n_hidden_layers(self) -> int:
        return len(self.sizes) - 2

    def trace(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every s^i and z^i for a batch: s = [s^0, ..., s^{d-1}] (the last are the logits), z = [z^0 = x,
        z^1, ..., z^{d-1}] (z^1 .. z^{d-1} are the hidden layers)."""
        s, z = [], [x]
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            s.append(torch.addmm(b, z[-1], W))  # s^i = z^i W^i + b^i: (B, n_i) @ (n_i, n_{i+1}) -> (B, n_{i+1})
            if i < len(self.W) - 1:
                z.append(self.f(s[-1]))  # z^{i+1} = f(s^i)
        return s, z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, n_0) -> logits (B, n_d); softmax of the logits is P(y | x)."""
        return self.trace(x)[0][-1]


def nll(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """-log P(y | x) with P = softmax(logits) (Sec. 2.2), averaged (or summed) over the batch."""
    return F.cross_entropy(logits, y, reduction=reduction)


def backprop_gradients(net: DeepNet, x: torch.Tensor, y: torch.Tensor):
    """The paper's instrument (Sec. 4.2): for each hidden layer k = 1 .. d-1, the back-propagated gradients
    dCost/ds^{k-1} of every example and unit, and the weight gradients dCost/dW^{k-1}.

    The cost is summed over the batch, so row n of dCost/ds is example n's own gradient (s^i of one example
    touches only that example's cost). Returns (z, ds, dW): the hidden activations z^1..z^{d-1} (B, n_k),
    ds[k-1] = dCost/ds^{k-1} (B, n_k), dW[k-1] = dCost/dW^{k-1} (n_{k-1}, n_k). Gradients are detached."""
    s, z = net.trace(x)
    hidden_s = s[:-1]  # the arguments of the hidden layers' f; s[-1] are the logits
    cost = nll(s[-1], y, reduction="sum")
    grads = torch.autograd.grad(cost, hidden_s + list(net.W)[:-1])
    L = len(hidden_s)
    return [h.detach() for h in z[1:]], list(grads[:L]), list(grads[L:])


def predicted_backprop_factors(sizes: tuple[int, ...], init: str) -> list[float]:
    """Per weight matrix W^i, the linear-regime factor n_{i+1} Var[W^i] (Sec. 4.2.1): going back through W^i,
    Var[dCost/ds^{i-1}] = n_{i+1} Var[W^i] Var[dCost/ds^i] when f' = 1, so the back-propagated variance at a
    layer is the output's times the product of the factors above it. With Var[U[-a, a]] = a^2/3 the factor is
    n_{i+1} / (3 n_i) for the standard init (1/3 for equal widths) and 2 n_{i+1} / (n_i + n_{i+1}) normalised."""
    return [b * BOUNDS[init](a, b) ** 2 / 3 for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
