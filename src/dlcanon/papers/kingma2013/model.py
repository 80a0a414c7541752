"""Kingma & Welling (2013), Auto-Encoding Variational Bayes: the variational auto-encoder of Sec. 3 and Appendix C,
and the wake-sleep algorithm (Hinton, Dayan, Frey & Neal 1995) on the same two networks, as the paper compares them.

Symbols as the paper writes them:
    x        a binary image (D = 784 pixels)             z         its continuous latent code (J = N_z dimensions)
    p_θ(z)   = N(z; 0, I), the prior                     p_θ(x|z)  the decoder, a Bernoulli MLP (App. C.1)
    q_φ(z|x) = N(z; μ, σ² I), the encoder or recognition model, a Gaussian MLP (App. C.2)
    ε        ~ N(0, I), the noise of the reparameterisation z = μ + σ ⊙ ε (Sec. 2.4)
    L(θ, φ; x)  the variational lower bound on log p_θ(x) (Eq. 3); L̃^B its estimator with the analytic KL (Eq. 7)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2 * math.pi)


class GaussianMLP(nn.Module):
    """App. C.2, the encoder q_φ(z|x): h = tanh(W3 x + b3), μ = W4 h + b4, log σ² = W5 h + b5."""

    def __init__(self, D: int, hidden: int, J: int):
        super().__init__()
        self.W3, self.W4, self.W5 = nn.Linear(D, hidden), nn.Linear(hidden, J), nn.Linear(hidden, J)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(self.W3(x))
        return self.W4(h), self.W5(h)  # μ, log σ²


class BernoulliMLP(nn.Module):
    """App. C.1, the decoder p_θ(x|z): y = f_σ(W2 tanh(W1 z + b1) + b2); we keep the logits of y."""

    def __init__(self, J: int, hidden: int, D: int):
        super().__init__()
        self.W1, self.W2 = nn.Linear(J, hidden), nn.Linear(hidden, D)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.W2(torch.tanh(self.W1(z)))  # logits of y, (..., D)


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """log p(x|z) = Σ_i x_i log y_i + (1 - x_i) log(1 - y_i), summed over the last axis."""
    logits, x = torch.broadcast_tensors(logits, x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, σ² I), summed over the last axis."""
    return -0.5 * (LOG_2PI + log_var + (z - mu) ** 2 / log_var.exp()).sum(-1)


class VAE(nn.Module):
    """Encoder q_φ(z|x) and decoder p_θ(x|z), equal hidden sizes as Sec. 5, weights drawn from N(0, init_std²)."""

    def __init__(self, D: int = 784, hidden: int = 500, J: int = 20, init_std: float = 0.01,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.J = J
        with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global RNG: keep it untouched
            self.encoder, self.decoder = GaussianMLP(D, hidden, J), BernoulliMLP(J, hidden, D)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) * init_std)

    def phi(self) -> list[nn.Parameter]:
        """The variational (recognition) parameters φ."""
        return list(self.encoder.parameters())

    def theta(self) -> list[nn.Parameter]:
        """The generative parameters θ."""
        return list(self.decoder.parameters())

    def elbo(self, x: torch.Tensor, L: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """L̃^B(θ, φ; x) of Eq. 10, per image (B,): -D_KL(q_φ(z|x) || p_θ(z)) in closed form (App. B),
        ½ Σ_j (1 + log σ_j² - μ_j² - σ_j²), plus (1/L) Σ_l log p_θ(x | z^(l)) with z^(l) = μ + σ ⊙ ε^(l)."""
        mu, log_var = self.encoder(x)
        neg_kl = 0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(-1)
        eps = torch.randn((L, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)  # ε^(l), (L, B, J)
        z = mu + (0.5 * log_var).exp() * eps  # Sec. 2.4: z = g_φ(ε, x)
        return neg_kl + log_bernoulli(x, self.decoder(z)).mean(0)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, K: int, generator: torch.Generator | None = None,
                       chunk: int = 50) -> torch.Tensor:
        """Importance-sampled estimate of log p_θ(x) per image (B,): log (1/K) Σ_k p_θ(x, z_k) / q_φ(z_k|x),
        z_k ~ q_φ(z|x). Its expectation is at most log p_θ(x), and at least the ELBO's (Jensen; the bound tightens
        as K grows). K = 1 is an unbiased estimate of the ELBO itself."""
        mu, log_var = self.encoder(x)
        logw = []
        for k0 in range(0, K, chunk):
            eps = torch.randn((min(chunk, K - k0), *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + (0.5 * log_var).exp() * eps
            prior = log_normal(z, torch.zeros_like(z), torch.zeros_like(z))
            logw.append(log_bernoulli(x, self.decoder(z)) + prior - log_normal(z, mu, log_var))
        return torch.logsumexp(torch.cat(logw), 0) - math.log(K)

    @torch.no_grad()
    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's Bernoulli means y for codes z: what Fig. 4 draws."""
        return torch.sigmoid(self.decoder(z))


def aevb_loss(model: VAE, x: torch.Tensor, L: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """Algorithm 1's objective for one minibatch X^M: -(1/M) L̃^M(θ, φ; X^M) (Eq. 8 divided by N, negated to be
    minimised); its gradient with respect to θ and φ together is g."""
    return -model.elbo(x, L, generator).mean()


def wake_sleep_losses(model: VAE, x: torch.Tensor, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Hinton et al. (1995) with the same two networks (Sec. 5: 'the same encoder ... for the wake-sleep algorithm').

    wake:  z ~ q_φ(z|x) for a real x; θ follows ∇_θ log p_θ(x, z) (the code is held fixed: no gradient reaches φ).
    sleep: z ~ p_θ(z), x ~ p_θ(x|z) (a dream); φ follows ∇_φ log q_φ(z|x) (the dream is held fixed).
    Returns (wake loss for θ, sleep loss for φ), each a minibatch mean of a negative log-probability."""
    with torch.no_grad():
        mu, log_var = model.encoder(x)
        z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=generator, device=x.device, dtype=x.dtype)
    wake = -log_bernoulli(x, model.decoder(z)).mean()  # log p_θ(z) = log N(z; 0, I) has no parameters
    with torch.no_grad():
        z_dream = torch.randn((len(x), model.J), generator=generator, device=x.device, dtype=x.dtype)
        p = torch.sigmoid(model.decoder(z_dream))
        x_dream = (torch.rand(p.shape, generator=generator, device=x.device, dtype=x.dtype) < p).to(x.dtype)
    mu_d, log_var_d = model.encoder(x_dream)
    sleep = -log_normal(z_dream, mu_d, log_var_d).mean()
    return wake, sleep
