"""Ioffe & Szegedy (2015), "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
Covariate Shift" (arXiv 1502.03167): the BN transform and the paper's MNIST network, in explicit torch ops.

    Algorithm 1 (training, one mini-batch B = {x_1..m} per activation k):
        mu_B      = 1/m sum_i x_i                       mini-batch mean
        sigma2_B  = 1/m sum_i (x_i - mu_B)^2            mini-batch variance (biased: divides by m)
        x_hat_i   = (x_i - mu_B) / sqrt(sigma2_B + eps)  normalise
        y_i       = gamma x_hat_i + beta                 scale and shift (learned)
    Algorithm 2 (inference, lines 10-11): population statistics averaged over training mini-batches,
        E[x] = E_B[mu_B],  Var[x] = m/(m-1) E_B[sigma2_B]   (the unbiased variance),
        y = gamma / sqrt(Var[x] + eps) * x + (beta - gamma E[x] / sqrt(Var[x] + eps)).
    Sec. 3.2: for convolutional layers a feature map is one activation: B holds every value of the map over
    the mini-batch AND the p x q locations (effective mini-batch m' = m p q), one (gamma, beta) per map.

Sec. 4.1's network: 784 inputs -> 3 hidden layers of 100 sigmoid units -> 10 outputs (softmax cross-entropy),
weights drawn from a small Gaussian. Each hidden layer computes z = g(Wu + b); with BN, z = g(BN(Wu)): the
bias b is dropped, since BN's mean subtraction cancels it and beta takes its role (Sec. 3.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BatchNorm(nn.Module):
    """The BN transform BN_{gamma,beta}(x) of Algorithm 1, with Algorithm 2's population statistics.

    x is (B, K) for a fully connected layer (one activation per unit) or (B, K, H, W) for a convolutional one
    (one activation per feature map, Sec. 3.2). `momentum` sets how the population statistics are kept:
      None   -- the plain average over every training mini-batch seen so far: exactly Alg. 2, line 10;
      a in (0, 1] -- an exponential moving average, E <- (1 - a) E + a mu_B: the "moving averages" with which
                    Sec. 3.1 tracks a model's accuracy while it trains (and torch's nn.BatchNorm default, 0.1).
    Either way each mini-batch contributes its unbiased variance m/(m-1) sigma2_B, as Alg. 2 asks.
    `fast=True` computes the same thing with torch's fused F.batch_norm (one autograd node instead of ~10,
    about half the time of a training step here); a test checks that both paths agree.
    """

    def __init__(self, K: int, eps: float = 1e-5, momentum: float | None = 0.1, fast: bool = False):
        super().__init__()
        self.eps, self.momentum, self.fast = eps, momentum, fast
        self.gamma = nn.Parameter(torch.ones(K))  # gamma^(k) = 1, beta^(k) = 0: BN starts as plain x_hat
        self.beta = nn.Parameter(torch.zeros(K))
        self.register_buffer("E_x", torch.zeros(K))  # E[x], population mean
        self.register_buffer("Var_x", torch.ones(K))  # Var[x], population (unbiased) variance
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))

    @staticmethod
    def _shape(x: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The dimensions a mini-batch B spans, and the shape that broadcasts a (K,) vector over x."""
        if x.dim() == 2:
            return (0,), (1, -1)  # (B, K): B = the m examples
        if x.dim() == 4:
            return (0, 2, 3), (1, -1, 1, 1)  # (B, K, H, W): B = m examples x p q locations
        raise ValueError(f"BatchNorm takes (B, K) or (B, K, H, W) inputs, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims, k = self._shape(x)
        gamma, beta = self.gamma.view(k), self.beta.view(k)
        if not self.training:  # Alg. 2, line 11: one fixed linear transform per activation
            scale = gamma / torch.sqrt(self.Var_x.view(k) + self.eps)
            return scale * x + (beta - scale * self.E_x.view(k))
        if self.fast:
            self.batches_seen += 1
            a = 1.0 / float(self.batches_seen) if self.momentum is None else self.momentum
            return F.batch_norm(x, self.E_x, self.Var_x, self.gamma, self.beta, True, a, self.eps)
        mu_B = x.mean(dims, keepdim=True)  # (1, K[, 1, 1])
        sigma2_B = ((x - mu_B) ** 2).mean(dims, keepdim=True)  # biased: 1/m
        x_hat = (x - mu_B) / torch.sqrt(sigma2_B + self.eps)
        self._track(mu_B.detach().flatten(), sigma2_B.detach().flatten(), m=x.numel() // x.shape[1])
        return gamma * x_hat + beta  # y = gamma x_hat + beta

    @torch.no_grad()
    def _track(self, mu_B: torch.Tensor, sigma2_B: torch.Tensor, m: int) -> None:
        """Alg. 2, line 10: fold this mini-batch's mu_B and unbiased m/(m-1) sigma2_B into E[x], Var[x]."""
        unbiased = sigma2_B * (m / max(m - 1, 1))
        self.batches_seen += 1
        a = 1.0 / float(self.batches_seen) if self.momentum is None else self.momentum  # None: running mean
        self.E_x.lerp_(mu_B, a)  # E <- (1 - a) E + a mu_B
        self.Var_x.lerp_(unbiased, a)


class MLP(nn.Module):
    """Sec. 4.1: 784-100-100-100-10, sigmoid hidden units, with or without BN before each sigmoid.

    Weights are drawn from N(0, init_std^2) ("small random Gaussian values"); biases start at 0. The same
    generator state gives the same W in both variants, so paired arms start from one set of weights."""

    def __init__(
        self,
        bn: bool,
        sizes=(784, 100, 100, 100, 10),
        init_std: float = 0.01,
        momentum: float | None = 0.1,
        fast: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.bn = bn
        self.W = nn.ParameterList(
            nn.Parameter(torch.randn(n_in, n_out, generator=generator) * init_std)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        hidden = sizes[1:-1]
        # z = g(BN(Wu)) has no b (beta replaces it); the output layer and the plain net keep b.
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(n)) for n in (sizes[-1:] if bn else sizes[1:]))
        self.BN = nn.ModuleList(BatchNorm(n, momentum=momentum, fast=fast) for n in hidden) if bn else None

    def sigmoid_inputs(self, u: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(B, 784) -> ([the input of every hidden layer's sigmoid, each (B, 100)], logits (B, 10))."""
        inputs = []
        for ell in range(len(self.W) - 1):
            x = u @ self.W[ell]  # (B, n_in) @ (n_in, n_out) -> (B, n_out)
            x = self.BN[ell](x) if self.bn else x + self.b[ell]  # BN(Wu), or Wu + b
            inputs.append(x)
            u = torch.sigmoid(x)  # z = g(.)
        return inputs, u @ self.W[-1] + self.b[-1]  # (B, 100) @ (100, 10) -> (B, 10)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.sigmoid_inputs(u)[1]
