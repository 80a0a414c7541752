"""Solla, Levin & Fleisher (1988), "Accelerated Learning in Layered Neural Networks", Complex Systems 2.

A layered network of logistic units whose output activities are read as probabilities, trained by gradient
descent on one of two error functions over the training set (patterns alpha, output units j):

    quadratic         E_Q = 1/2 sum_j (O_j - T_j)^2                                     (the usual choice)
    relative entropy  E_L = sum_j T_j log(T_j / O_j) + (1 - T_j) log((1 - T_j) / (1 - O_j))  (the paper's)

Both are averaged over the patterns alpha here. With O_j = g(h_j) and g the logistic function, the error
signal at the output's input h_j (its "delta") is

    dE_Q / dh_j = (O_j - T_j) O_j (1 - O_j)       dE_L / dh_j = O_j - T_j

The factor O_j (1 - O_j) of the quadratic error vanishes when an output saturates, whether it saturates at
the right or the wrong value: a wrongly saturated output then sends back almost no error signal, the
landscape of E_Q is flat there, and learning stalls. The relative entropy keeps the full error O_j - T_j:
its landscape is steep where the output is wrong. That steepness is the paper's explanation for its
shorter learning times.

Shapes: G independent networks (one per learning rate and seed) are trained side by side, so every weight
tensor has a leading G; all G networks see the same N patterns.
    x  (N, n_in)        input patterns
    V  (G, N, H)        hidden activities V = g(x W1 + b1)
    O  (G, N, C)        output activities O = g(V W2 + b2), one probability per attribute j
    T  (N, C)           target probabilities (here 1 for the pattern's class, 0 elsewhere)
"""

from __future__ import annotations

import torch
from torch import nn

ERRORS = ("relative_entropy", "quadratic")


def g(h: torch.Tensor) -> torch.Tensor:
    """The logistic transfer function of every unit, g(h) = 1 / (1 + exp(-h))."""
    return torch.sigmoid(h)


def xlogy_ratio(t: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
    """t log(t / o), with 0 log 0 = 0 (a target of exactly 0 or 1 adds no entropy). Like torch's binary
    cross-entropy, log o is floored at -100, so an output saturated at exactly 0 gives a finite error."""
    return torch.xlogy(t, t) - t * torch.log(o).clamp_min(-100.0)


def relative_entropy(O: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """E_L per network (G,): relative entropy of the target to the output distribution of each output unit,
    summed over units j and averaged over patterns. It is >= 0, and 0 exactly when O = T."""
    per_unit = xlogy_ratio(T, O) + xlogy_ratio(1 - T, 1 - O)  # (G, N, C)
    return per_unit.sum(-1).mean(-1)


def quadratic(O: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """E_Q per network (G,): half the squared error, summed over units j and averaged over patterns."""
    return 0.5 * ((O - T) ** 2).sum(-1).mean(-1)


def error(O: torch.Tensor, T: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "relative_entropy":
        return relative_entropy(O, T)
    if kind == "quadratic":
        return quadratic(O, T)
    raise ValueError(f"error must be one of {ERRORS}, got {kind!r}")


def output_delta(O: torch.Tensor, T: torch.Tensor, kind: str) -> torch.Tensor:
    """dE/dh at the output units, per pattern (G, N, C): the only place where the two errors differ."""
    if kind == "relative_entropy":
        return O - T  # the logistic's slope O(1 - O) cancels against d(log O)/dO
    if kind == "quadratic":
        return (O - T) * O * (1 - O)  # the slope stays, and vanishes when O saturates
    raise ValueError(f"error must be one of {ERRORS}, got {kind!r}")


def shared_input_matmul(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """x (N, n) times each of G matrices W (G, n, m) -> (G, N, m), as one matmul (x is not copied G times)."""
    G, n, m = W.shape
    out = x @ W.permute(1, 0, 2).reshape(n, G * m)  # (N, n) @ (n, G*m) -> (N, G*m)
    return out.reshape(-1, G, m).permute(1, 0, 2).contiguous()  # (G, N, m), contiguous: the bmm's are faster


class LayeredNet(nn.Module):
    """G side-by-side copies of a layered n_in-H-C net of logistic units, the paper's architecture class.

    Weights and biases start uniform in +-init_scale / sqrt(fan_in). A large init_scale drives the units
    deep into their flat tails from the first pattern on: the "saturated" start of our second claim.
    """

    def __init__(self, G: int, n_in: int, H: int, C: int, init_scale: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()

        def U(shape, fan_in):
            bound = init_scale / fan_in**0.5
            return nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)

        self.W1, self.b1 = U((G, n_in, H), n_in), U((G, 1, H), n_in)
        self.W2, self.b2 = U((G, H, C), H), U((G, 1, C), H)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, n_in) -> hidden V (G, N, H) and outputs O (G, N, C)."""
        V = g(shared_input_matmul(x, self.W1) + self.b1)  # (G, N, H)
        O = g(V @ self.W2 + self.b2)  # (G, N, H) @ (G, H, C) -> (G, N, C)
        return V, O

    def gradients(self, x: torch.Tensor, T: torch.Tensor, kind: str) -> dict[str, torch.Tensor]:
        """dE/dparam of the pattern-averaged error `kind`, for each parameter name (forward, then backprop)."""
        V, O = self(x)
        return self.backprop(x, V, O, T, kind)

    def backprop(self, x: torch.Tensor, V: torch.Tensor, O: torch.Tensor, T: torch.Tensor,
                 kind: str) -> dict[str, torch.Tensor]:
        """Back-propagation by hand (Rumelhart et al. 1986) from the output delta of the chosen error.
        torch.autograd gives the same gradients (tested)."""
        N = x.shape[0]
        delta2 = output_delta(O, T, kind) / N  # (G, N, C): the mean over patterns folded in
        delta1 = (delta2 @ self.W2.transpose(1, 2)) * V * (1 - V)  # (G, N, C) @ (G, C, H) -> (G, N, H)
        G, n_in, H = self.W1.shape
        dW1 = x.T @ delta1.permute(1, 0, 2).reshape(N, G * H)  # (n_in, N) @ (N, G*H) -> (n_in, G*H)
        return {
            "W1": dW1.reshape(n_in, G, H).permute(1, 0, 2),  # (G, n_in, H)
            "b1": delta1.sum(1, keepdim=True),  # (G, 1, H)
            "W2": V.transpose(1, 2) @ delta2,  # (G, H, N) @ (G, N, C) -> (G, H, C)
            "b2": delta2.sum(1, keepdim=True),  # (G, 1, C)
        }

    @torch.no_grad()
    def descend(self, grads: dict[str, torch.Tensor], eta: torch.Tensor) -> None:
        """One gradient-descent step w <- w - eta dE/dw, with one learning rate eta per network (G,)."""
        for name, grad in grads.items():
            getattr(self, name).sub_(eta.view(-1, 1, 1) * grad)
