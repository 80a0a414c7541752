"""Ho, Jain & Abbeel (2020): denoising diffusion probabilistic models (DDPM).

The forward process is Sohl-Dickstein et al.'s (2015) Gaussian diffusion, imported from that paper's model
(q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), Eq. 2; q(x_t | x_0) in closed form, Eq. 4), with the
linear schedule beta_1 = 1e-4 .. beta_T = 0.02 (Sec. 4). The reverse process p_theta(x_{t-1} | x_t) =
N(mu_theta(x_t, t), sigma_t^2 I) with sigma_t^2 = beta_t fixed (Sec. 3.2). The network is a small U-Net with a
sinusoidal time embedding (Sec. 4, App. B). Two parameterisations of mu_theta (Table 2):
  eps  the network predicts the noise, mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t)
       (Eq. 11), trained with L_simple (Eq. 14, Algorithm 1);
  mu   the network predicts mu~_t itself, trained with the true bound's term L_{t-1} = ||mu~_t - mu_theta||^2 /
       (2 sigma_t^2) (Eq. 8).
Images are handled flat, (B, D), by the diffusion and reshaped to (B, 1, side, side) inside the U-Net.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.papers.sohldickstein2015.model import ForwardDiffusion


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """(T,) float64 beta_t rising linearly (Sec. 4: 1e-4 to 0.02 for T = 1000). For a shorter chain both ends are
    scaled by 1000 / T, so that alpha_bar_T stays near zero (our deviation for T < 1000)."""
    scale = 1000.0 / T
    return torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), T, dtype=torch.float64)


def posterior_mean_coefficients(q: ForwardDiffusion, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 7: mu~_t(x_t, x_0) = c0 x_0 + ct x_t, c0 = sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t),
    ct = sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t); valid for t = 1 too (mu~_1 = x_0)."""
    beta, a, a_prev = q.at(q.beta, t), q.at(q.alpha_bar, t), q.at(q.alpha_bar_prev, t)
    return a_prev.sqrt() * beta / (1 - a), (1 - beta).sqrt() * (1 - a_prev) / (1 - a)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """(B,) integer t -> (B, dim) sinusoidal embedding (the Transformer's position encoding, Sec. 4)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)   # (half,)
    angles = t.float().unsqueeze(1) * freqs.unsqueeze(0)                                  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], 1)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with group norm and SiLU, the time embedding added in between, and a skip."""

    def __init__(self, c_in: int, c_out: int, t_dim: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(emb)[:, :, None, None]          # (B, C) -> (B, C, 1, 1): the same shift at every pixel
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class UNet(nn.Module):
    """A two-level U-Net (App. B, much smaller: no self-attention, one block per level): side -> side/2 and back,
    the skip from the first level concatenated on the way up."""

    def __init__(self, side: int, ch: int, t_dim: int, groups: int = 4):
        super().__init__()
        self.side, self.t_dim = side, t_dim
        self.embed = nn.Sequential(nn.Linear(t_dim, t_dim), nn.SiLU(), nn.Linear(t_dim, t_dim))
        self.conv_in = nn.Conv2d(1, ch, 3, padding=1)
        self.down1 = ResBlock(ch, ch, t_dim, groups)
        self.pool = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
        self.down2 = ResBlock(ch, 2 * ch, t_dim, groups)
        self.mid = ResBlock(2 * ch, 2 * ch, t_dim, groups)
        self.up = ResBlock(3 * ch, ch, t_dim, groups)
        self.norm_out, self.conv_out = nn.GroupNorm(groups, ch), nn.Conv2d(ch, 1, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight), nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (B, D) flat, t (B,) -> (B, D)."""
        emb = self.embed(timestep_embedding(t, self.t_dim))
        h = self.conv_in(x.view(-1, 1, self.side, self.side))         # (B, ch, s, s)
        h1 = self.down1(h, emb)
        h2 = self.mid(self.down2(self.pool(h1), emb), emb)              # (B, 2ch, s/2, s/2)
        h2 = F.interpolate(h2, size=h1.shape[-2:], mode="nearest")      # (B, 2ch, s, s)
        h = self.up(torch.cat([h1, h2], 1), emb)                        # (B, 3ch, s, s) -> (B, ch, s, s)
        return self.conv_out(F.silu(self.norm_out(h))).flatten(1)      # (B, D)


class DDPM(nn.Module):
    """The forward process q (imported) and a reverse process whose mean comes from the U-Net under one of the two
    parameterisations of Table 2."""

    def __init__(self, T: int, side: int, ch: int, t_dim: int, parameterisation: str):
        super().__init__()
        if parameterisation not in ("eps", "mu"):
            raise ValueError(f"parameterisation must be 'eps' or 'mu', got {parameterisation!r}")
        self.T, self.parameterisation = T, parameterisation
        self.q = ForwardDiffusion(linear_betas(T))
        self.net = UNet(side, ch, t_dim)

    def mu_theta(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The reverse mean: Eq. 11 from eps_theta, or the network's output itself."""
        out = self.net(x_t, t)
        if self.parameterisation == "mu":
            return out
        beta, a = self.q.at(self.q.beta, t), self.q.at(self.q.alpha_bar, t)
        return (x_t - beta / (1 - a).sqrt() * out) / (1 - beta).sqrt()

    def loss(self, x_0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Algorithm 1's objective at one t per image (mean over the batch):
        eps: L_simple = ||eps - eps_theta(sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, t)||^2 (Eq. 14);
        mu:  L_{t-1} = ||mu~_t(x_t, x_0) - mu_theta(x_t, t)||^2 / (2 sigma_t^2), sigma_t^2 = beta_t (Eq. 8)."""
        x_t = self.q.sample(x_0, t, eps)
        if self.parameterisation == "eps":
            return (eps - self.net(x_t, t)).square().sum(1).mean()
        c0, ct = posterior_mean_coefficients(self.q, t)
        mu_tilde = c0 * x_0 + ct * x_t
        sigma2 = self.q.at(self.q.beta, t)
        return ((mu_tilde - self.net(x_t, t)).square() / (2 * sigma2)).sum(1).mean()

    @torch.no_grad()
    def sample(self, n: int, D: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Algorithm 2: x_T ~ N(0, I); for t = T..1: z ~ N(0, I) if t > 1 else 0; x_{t-1} = mu_theta(x_t, t) + sigma_t z
        (for eps: mu_theta = (x_t - (1 - alpha_t) / sqrt(1 - alpha_bar_t) eps_theta) / sqrt(alpha_t)); return x_0."""
        x = torch.randn(n, D, generator=generator, device=device)
        for t in range(self.T, 0, -1):
            tt = torch.full((n,), t, device=device, dtype=torch.long)
            z = torch.randn(n, D, generator=generator, device=device) if t > 1 else torch.zeros(n, D, device=device)
            x = self.mu_theta(x, tt) + self.q.at(self.q.beta, tt).sqrt() * z
        return x
