"""Sohl-Dickstein, Weiss, Maheswaranathan & Ganguli (2015): a diffusion probabilistic model.

The forward trajectory q destroys the data by many small Gaussian steps (Sec. 2.1, Eq. 2 with Table App. C.1); a
network learns the reverse trajectory p, a Gaussian step at each time t (Sec. 2.2, Eq. 5); it is trained by
maximising the lower bound K of Eq. 14, a sum of KL divergences between the reverse steps and the forward posteriors
q(x^(t-1) | x^(t), x^(0)), which are Gaussian and known in closed form (Sec. 2.4, App. B). Sampling runs the learned
reverse trajectory from the prior pi(x^(T)) = N(0, I) (`reverse_trajectory`, the paper's generative procedure).

Time steps are 1-based as in the paper: tensors indexed by t hold t = 1..T at positions 0..T-1.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def constant_fraction_betas(T: int, beta_1: float) -> torch.Tensor:
    """(T,) float64 diffusion rates beta_t. beta_1 is fixed small (App. D.1: fixed to prevent overfitting); the later
    steps each destroy a constant fraction of the data variance still left, beta_t = 1 / (T - t + 2), t = 2..T, so
    that alpha_bar_T = (1 - beta_1) / T: about 1/T of the data's variance remains at the end (the schedule the
    paper's public code starts its learned beta from; ours stays fixed)."""
    t = torch.arange(1, T + 1, dtype=torch.float64)
    beta = 1.0 / (T - t + 2.0)
    beta[0] = beta_1
    return beta


class ForwardDiffusion(nn.Module):
    """Eq. 2 (Gaussian case of Table App. C.1): q(x^(t) | x^(t-1)) = N(x^(t); x^(t-1) sqrt(1 - beta_t), I beta_t).

    Composing the steps gives q(x^(t) | x^(0)) = N(sqrt(alpha_bar_t) x^(0), (1 - alpha_bar_t) I), alpha_bar_t =
    prod_{s<=t} (1 - beta_s); Bayes' rule gives the posterior q(x^(t-1) | x^(t), x^(0)) used by the bound (App. B)."""

    def __init__(self, beta: torch.Tensor):
        super().__init__()
        alpha_bar = torch.cumprod(1.0 - beta, 0)
        self.T = len(beta)
        self.register_buffer("beta", beta.float())
        self.register_buffer("alpha_bar", alpha_bar.float())
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=beta.dtype), alpha_bar[:-1]])
        self.register_buffer("alpha_bar_prev", alpha_bar_prev.float())

    def at(self, buf: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """buf's value at each 1-based t, as a (B, 1) column to broadcast over a (B, d) batch."""
        return buf[t - 1].unsqueeze(1)

    def step(self, x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """One forward step, Eq. 2: x^(t) = x^(t-1) sqrt(1 - beta_t) + sqrt(beta_t) noise."""
        beta = self.at(self.beta, t)
        return x_prev * (1 - beta).sqrt() + beta.sqrt() * noise

    def sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """q(x^(t) | x^(0)) in one draw: x^(t) = sqrt(alpha_bar_t) x^(0) + sqrt(1 - alpha_bar_t) noise."""
        a = self.at(self.alpha_bar, t)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(x^(t-1) | x^(t), x^(0)) = N(mu_q, var_q), t >= 2: the product of q(x^(t-1) | x^(0)) (mean
        sqrt(alpha_bar_{t-1}) x^(0), variance 1 - alpha_bar_{t-1}) and the step's likelihood in x^(t-1) (mean
        x^(t) / sqrt(1 - beta_t), variance beta_t / (1 - beta_t)); precisions add."""
        beta, a_prev = self.at(self.beta, t), self.at(self.alpha_bar_prev, t)
        v1, m1 = 1 - a_prev, a_prev.sqrt() * x0
        v2, m2 = beta / (1 - beta), xt / (1 - beta).sqrt()
        var_q = 1 / (1 / v1 + 1 / v2)
        return var_q * (m1 / v1 + m2 / v2), var_q.expand_as(xt)


def temporal_bumps(T: int, K: int) -> torch.Tensor:
    """(T, K) weights g_k(t): K Gaussian bumps evenly spaced over t = 1..T, normalised to sum to 1 at each t
    (App. D.1: the network's outputs for each t are a weighted sum of bump functions in t)."""
    t = torch.linspace(-1, 1, T).unsqueeze(1)           # (T, 1)
    centres = torch.linspace(-1, 1, K).unsqueeze(0)     # (1, K)
    width = 1.0 / max(K - 1, 1)
    g = torch.exp(-((t - centres) ** 2) / (2 * width**2))
    return g / g.sum(1, keepdim=True)


class ReverseMLP(nn.Module):
    """Eq. 5: p(x^(t-1) | x^(t)) = N(x^(t-1); f_mu(x^(t), t), f_Sigma(x^(t), t)), diagonal.

    An MLP reads x^(t) (not t) and emits, per coordinate, K coefficient pairs (z_mu, z_Sigma); the pair for time t
    is their mix with the bump weights g_k(t) (App. D.1's temporal readout). As in the paper's public code, the mean
    is a perturbation of the forward step's mean and the variance a perturbation of beta_t in logit space:
        f_mu = x^(t) sqrt(1 - beta_t) + z_mu sqrt(beta_t),   f_Sigma = sigmoid(z_Sigma / sqrt(T) + logit beta_t)."""

    def __init__(self, d: int, hidden: int, layers: int, K: int, T: int):
        super().__init__()
        self.d, self.K, self.T = d, K, T
        dims = [d] + [hidden] * layers
        body = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            body += [nn.Linear(a, b), nn.Softplus()]
        self.body = nn.Sequential(*body)
        self.readout = nn.Linear(hidden, d * 2 * K)
        nn.init.zeros_(self.readout.weight), nn.init.zeros_(self.readout.bias)  # start as the forward step itself
        self.register_buffer("g", temporal_bumps(T, K))

    def forward(self, xt: torch.Tensor, t: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """xt (B, d), t (B,) 1-based, beta (B, 1) = beta_t -> (f_mu, f_Sigma), each (B, d)."""
        z = self.readout(self.body(xt)).view(-1, self.d, 2, self.K)   # (B, d, 2, K)
        z = torch.einsum("bdck,bk->bdc", z, self.g[t - 1])             # (B, d, 2): mix over bumps at t
        z_mu, z_sigma = z[..., 0], z[..., 1]
        f_mu = xt * (1 - beta).sqrt() + z_mu * beta.sqrt()
        f_sigma = torch.sigmoid(z_sigma / math.sqrt(self.T) + torch.logit(beta))
        return f_mu, f_sigma


def gaussian_kl(mu_q, var_q, mu_p, var_p) -> torch.Tensor:
    """D_KL(N(mu_q, var_q) || N(mu_p, var_p)) per coordinate (diagonal Gaussians)."""
    return 0.5 * (torch.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / var_p - 1)


class DiffusionModel(nn.Module):
    """The forward trajectory q with fixed beta_t and the learned reverse trajectory p (Sec. 2)."""

    def __init__(self, d: int, T: int, beta_1: float, hidden: int, layers: int, K: int):
        super().__init__()
        self.d, self.T = d, T
        self.q = ForwardDiffusion(constant_fraction_betas(T, beta_1))
        self.p = ReverseMLP(d, hidden, layers, K, T)

    def reverse_step(self, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f_mu, f_Sigma) of p(x^(t-1) | x^(t)) for 1-based t (B,)."""
        return self.p(xt, t, self.q.at(self.q.beta, t))

    def kl_term(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(B,) D_KL(q(x^(t-1) | x^(t), x^(0)) || p(x^(t-1) | x^(t))) summed over coordinates, at
        x^(t) ~ q(x^(t) | x^(0)) drawn with `noise`; t >= 2 (Eq. 14's sum)."""
        xt = self.q.sample(x0, t, noise)
        mu_q, var_q = self.q.posterior(x0, xt, t)
        f_mu, f_sigma = self.reverse_step(xt, t)
        return gaussian_kl(mu_q, var_q, f_mu, f_sigma).sum(1)

    def entropy_terms(self) -> float:
        """H_q(X^(T) | X^(0)) - H_q(X^(1) | X^(0)) - H_p(X^(T)) of Eq. 14 in nats (all Gaussian, d coordinates)."""
        def h(var: float) -> float:
            return 0.5 * self.d * math.log(2 * math.pi * math.e * var)
        return h(1 - float(self.q.alpha_bar[-1])) - h(float(self.q.beta[0])) - h(1.0)

    def bound_K(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B,) Eq. 14 in nats: K = -sum_{t=2}^T E_q D_KL(q(x^(t-1)|x^(t),x^(0)) || p(x^(t-1)|x^(t))) + entropy terms,
        each KL at one draw of x^(t) (an unbiased estimate of K for each x^(0))."""
        kl = torch.zeros(len(x0), device=x0.device)
        for t in range(2, self.T + 1):
            tt = torch.full((len(x0),), t, device=x0.device, dtype=torch.long)
            noise = torch.randn(x0.shape, generator=generator, device=x0.device)
            kl += self.kl_term(x0, tt, noise)
        return -kl + self.entropy_terms()

    @torch.no_grad()
    def reverse_trajectory(self, xT: torch.Tensor, generator: torch.Generator | None = None,
                           noise: bool = True) -> list[torch.Tensor]:
        """The generative procedure: x^(T) ~ pi = N(0, I); for t = T..2, x^(t-1) ~ N(f_mu(x^(t), t), f_Sigma(x^(t), t)).
        Returns [x^(T), ..., x^(1)]. The last step, to x^(0), is the forward step itself reversed (App. B.3's edge
        effect; beta_1 is small), so x^(1) serves as the sample. noise=False follows the means only."""
        xs = [xT]
        for t in range(self.T, 1, -1):
            tt = torch.full((len(xT),), t, device=xT.device, dtype=torch.long)
            f_mu, f_sigma = self.reverse_step(xs[-1], tt)
            z = torch.randn(xT.shape, generator=generator, device=xT.device) if noise else 0.0
            xs.append(f_mu + f_sigma.sqrt() * z)
        return xs
