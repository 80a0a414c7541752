"""Goodfellow et al. (2014), Generative Adversarial Nets: the two players, the value function of their game, the
two generator losses of Sec. 3, and the Parzen-window estimate of Sec. 5 that Table 1 reports.

Symbols as the paper writes them:
    x          a data point (an MNIST image flattened to 784 grey levels in [0, 1], or a point of the plane)
    z ~ p_z    the noise fed to the generator (a standard Gaussian, as the authors' code draws it)
    G(z; θ_g)  the generator, a multilayer perceptron mapping noise to data space; p_g is the law of G(z)
    D(x; θ_d)  the discriminator, the probability that x came from the data rather than from p_g
    V(D, G)    the value of the two-player minimax game, Eq. (1)

D is kept as its logit a(x) = log D(x) − log(1 − D(x)), so that log D = log σ(a) and log(1 − D) = log σ(−a) are
computed without forming D itself (at D ≈ 0 or 1 the logs would round to −∞).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013), the discriminator's units in Sec. 5: h_i = max_j (x W_ij + b_ij),
    j over `pieces` linear pieces per unit."""

    def __init__(self, d_in: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(d_in, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x).view(*x.shape[:-1], self.units, self.pieces)  # (B, units * pieces) -> (B, units, pieces)
        return z.max(-1).values  # (B, units)


class Generator(nn.Module):
    """G(z; θ_g), Sec. 3 and 5: an MLP from noise to data space with rectifier hidden units. On MNIST its output
    units are sigmoids (grey levels in (0, 1)), their biases set from the training pixels' mean grey levels as in
    the authors' MNIST model; on the plane they are linear."""

    def __init__(self, z_dim: int, hidden: tuple[int, ...], x_dim: int, sigmoid_output: bool):
        super().__init__()
        self.z_dim, self.sigmoid_output = z_dim, sigmoid_output
        widths = (z_dim, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.hidden = nn.Sequential(*layers)
        self.out = nn.Linear(widths[-1], x_dim)

    @torch.no_grad()
    def init_output_bias(self, mean_x: torch.Tensor, eps: float = 1e-3) -> None:
        """Start p_g at the data's pixel means: output bias = logit(mean grey level), clipped away from 0 and 1."""
        p = mean_x.clamp(eps, 1 - eps)
        self.out.bias.copy_(torch.log(p) - torch.log1p(-p))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        a = self.out(self.hidden(z))  # (B, x_dim)
        return torch.sigmoid(a) if self.sigmoid_output else a


class Discriminator(nn.Module):
    """D(x; θ_d), Sec. 3 and 5, returning the logit a(x) of D(x) = σ(a(x)) with shape (B,).

    Hidden units are maxout units with `pieces` pieces (Sec. 5), or rectifiers when pieces = 1 (a maxout unit of one
    piece would be linear). Dropout as in Sec. 5 ("dropout was applied in training the discriminator net"), with the
    authors' MNIST rates: inputs dropped with probability drop_in, hidden units with drop_hidden."""

    def __init__(self, x_dim: int, hidden: tuple[int, ...], pieces: int = 1, drop_in: float = 0.0,
                 drop_hidden: float = 0.0):
        super().__init__()
        widths = (x_dim, *hidden)
        layers: list[nn.Module] = [nn.Dropout(drop_in)]
        for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
            if i:
                layers.append(nn.Dropout(drop_hidden))
            layers += [Maxout(a, b, pieces)] if pieces > 1 else [nn.Linear(a, b), nn.ReLU()]
        layers += [nn.Dropout(drop_hidden), nn.Linear(widths[-1], 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # (B, 1) -> (B,)


def value_function(a_x: torch.Tensor, a_gz: torch.Tensor) -> torch.Tensor:
    """Eq. (1), estimated on a minibatch: V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))], from the logits
    a_x = a(x) of data points and a_gz = a(G(z)) of generated ones."""
    return F.logsigmoid(a_x).mean() + F.logsigmoid(-a_gz).mean()


def discriminator_loss(a_x: torch.Tensor, a_gz: torch.Tensor) -> torch.Tensor:
    """Algorithm 1, inner loop: D ascends V, i.e. descends −V (the cross-entropy of telling data from samples)."""
    return -value_function(a_x, a_gz)


def generator_loss_saturating(a_gz: torch.Tensor) -> torch.Tensor:
    """Algorithm 1 as printed: G descends E_z[log(1 − D(G(z)))], the only term of V that depends on θ_g.
    Its derivative in the logit is −D(G(z)): it vanishes when D rejects the samples confidently (Sec. 3)."""
    return F.logsigmoid(-a_gz).mean()


def generator_loss_non_saturating(a_gz: torch.Tensor) -> torch.Tensor:
    """Sec. 3: "rather than training G to minimize log(1 − D(G(z))) we can train G to maximize log D(G(z))", which
    has the same fixed point but a derivative −(1 − D(G(z))) in the logit: strongest exactly when D rejects."""
    return -F.logsigmoid(a_gz).mean()


GENERATOR_LOSSES = {"non_saturating": generator_loss_non_saturating, "saturating": generator_loss_saturating}


def parzen_log_likelihood(x: torch.Tensor, mu: torch.Tensor, sigmas: tuple[float, ...],
                          chunk: int = 500) -> torch.Tensor:
    """Sec. 5 (after Breuleux et al. 2011): log p(x) under a Gaussian Parzen window on the samples mu,
    p(x) = (1/n) Σ_i N(x; mu_i, σ² I), for each σ in sigmas. Returns shape (len(sigmas), len(x)).

    ‖x − mu_i‖² = ‖x‖² + ‖mu_i‖² − 2 x·mu_i turns the (len(x), n) table of distances into one matmul per chunk of
    x, shared by every σ."""
    n, d = mu.shape
    mu_sq = mu.pow(2).sum(1)  # (n,)
    out = []
    for x_c in x.split(chunk):
        sq = (x_c.pow(2).sum(1, keepdim=True) + mu_sq - 2 * x_c @ mu.T).clamp_min(0)  # (c, d) @ (d, n) -> (c, n)
        out.append(torch.stack([
            torch.logsumexp(sq * (-0.5 / s**2), 1) - math.log(n) - d * math.log(s * math.sqrt(2 * math.pi))
            for s in sigmas]))  # (S, c)
    return torch.cat(out, 1)  # (S, len(x))
