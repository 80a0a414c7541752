"""The perceptron (Rosenblatt 1958): S-points -> A-units -> R-units, taught by error correction.

Rosenblatt's "photoperceptron" (Fig. 2 of the paper) has three kinds of cells:
  S-points  sensory units of a retina; each one is on or off,
  A-units   association cells wired to random S-points through fixed excitatory and inhibitory
            connections; an A-unit fires when the algebraic sum of its inputs reaches its threshold theta,
  R-units   response cells; each sums the "values" of the A-units that feed it, and mutually inhibitory
            R-units let the one with the strongest input win.
Only the A -> R values change with experience. We teach them with the error-correcting reinforcement
that Rosenblatt made precise after 1958 (and whose convergence Block and Novikoff proved in 1962):
    y = step(w . x + b),    w <- w + eta (t - y) x,    b <- b + eta (t - y),
so a unit learns only from its mistakes. The plain perceptron is the same R-unit on raw pixels (the
A-layer replaced by the identity).

Every machine here is batched: W holds M independent machines (different data or presentation orders)
of n_R R-units each, so one Python step presents one stimulus to all of them at once.
"""

from __future__ import annotations

import torch
from torch import nn


def step(a: torch.Tensor) -> torch.Tensor:
    """The all-or-nothing unit: 1 when its summed input reaches threshold (a >= 0), else 0."""
    return (a >= 0).to(a.dtype)


class AssociationLayer(nn.Module):
    """S-points -> A-units: fixed random threshold connections (the paper's association area, Fig. 2).

    Each A-unit draws `x` excitatory (+1) and `y` inhibitory (-1) connections from distinct, randomly chosen
    S-points and fires iff  sum_i C[j, i] S_i >= theta: the paper's rule that an A-unit responds when its
    excitatory minus inhibitory input reaches its threshold. Nothing here is learned.
    """

    def __init__(self, n_S: int, n_A: int, x: int, y: int, theta: float, generator: torch.Generator | None = None):
        super().__init__()
        if x + y > n_S:
            raise ValueError(f"an A-unit cannot have {x}+{y} distinct origin points on {n_S} S-points")
        origins = torch.rand(n_A, n_S, generator=generator).argsort(dim=1)[:, : x + y]  # (n_A, x+y)
        sign = torch.cat([torch.ones(x), -torch.ones(y)]).expand(n_A, x + y)  # (n_A, x+y)
        C = torch.zeros(n_A, n_S).scatter_(1, origins, sign)  # (n_A, n_S)
        self.register_buffer("C", C)
        self.theta = theta

    def forward(self, S: torch.Tensor) -> torch.Tensor:
        """S (..., n_S) in {0, 1} -> A-unit responses (..., n_A) in {0, 1}."""
        return step(S @ self.C.T - self.theta)  # (..., n_S) @ (n_S, n_A) -> (..., n_A)


class Perceptron(nn.Module):
    """M independent perceptrons, each with n_R R-units over d inputs; the bias b is the R-unit's threshold.

    Response of R-unit r:   y_r = step(W_r . x + b_r)                      (threshold logic unit)
    Error correction:       W_r <- W_r + eta (t_r - y_r) x,  b_r <- b_r + eta (t_r - y_r)
    Choice among R-units:   argmax_r (W_r . x + b_r)  (the paper's mutually inhibitory responses: the R-unit
                            with the largest input suppresses the others).
    Weights start at zero, so eta only scales W and b and never changes a response.
    """

    def __init__(self, d: int, n_R: int = 1, M: int = 1):
        super().__init__()
        self.register_buffer("W", torch.zeros(M, n_R, d))
        self.register_buffer("b", torch.zeros(M, n_R))

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """Summed input of every R-unit. x: (N, d) shared by all machines, or (M, N, d) -> (M, N, n_R)."""
        return x @ self.W.transpose(1, 2) + self.b[:, None, :]  # (M|1, N, d) @ (M, d, n_R) -> (M, N, n_R)

    def respond(self, x: torch.Tensor) -> torch.Tensor:
        """Each R-unit's all-or-nothing response, (M, N, n_R)."""
        return step(self.potential(x))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The winning R-unit after mutual inhibition, (M, N)."""
        return self.potential(x).argmax(dim=-1)

    def learn(
        self, x: torch.Tensor, t: torch.Tensor, eta: float = 1.0, present: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Present one stimulus to each machine and correct every R-unit that responded wrongly.

        x: (M, d) one stimulus per machine; t: (M, n_R) target responses in {0, 1}; present: optional (M,)
        mask, 0 where a machine gets no stimulus this step. Returns the error t - y, (M, n_R) in {-1, 0, 1}.
        Call under torch.no_grad() (the weights are updated in place).
        """
        a = torch.bmm(x[:, None, :], self.W.transpose(1, 2))[:, 0] + self.b  # (M,1,d) @ (M,d,n_R) -> (M,n_R)
        err = t - step(a)  # (M, n_R)
        if present is not None:
            err = err * present[:, None]
        self.W.baddbmm_(err[:, :, None], x[:, None, :], alpha=eta)  # W += eta (M,n_R,1) @ (M,1,d): outer product
        self.b.add_(err, alpha=eta)
        return err
