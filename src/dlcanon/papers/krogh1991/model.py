"""Krogh & Hertz (1991), "A Simple Weight Decay Can Improve Generalization": the linear student, its
weight-decay cost, the exact minimiser of that cost, and the paper's large-N theory of the test error.

The setting (the paper's linear case):
    student    f_w(x) = w . x / sqrt(N)                     x in R^N, components of unit variance
    teacher    y = u . x / sqrt(N) + eta                    eta: static noise on the targets, variance sigma^2
    cost       E(w) = 1/2 sum_mu (y_mu - f_w(x_mu))^2 + lambda/2 |w|^2         (p examples, alpha = p / N)
    test error eps(w) = E_x[(f_u(x) - f_w(x))^2] = |w - u|^2 / N   for isotropic inputs (a fresh noisy target adds
                        sigma^2 on top)
Writing Z = X / sqrt(N) (p x N), the minimiser of E is ridge regression, w = (Z^T Z + lambda I)^-1 Z^T y. One
SVD Z = U diag(s) V^T gives it for every lambda at once: w(lambda) = V diag(s / (s^2 + lambda)) U^T y.
At lambda -> 0 this becomes the pseudo-inverse (minimum-norm) solution that the paper's weight decay selects
when p < N.
"""

from __future__ import annotations

import math

import torch


def student(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f_w(x) = w . x / sqrt(N). w (..., N) or (..., N, C); x (..., p, N) -> (..., p) or (..., p, C)."""
    N = x.shape[-1]
    if w.dim() == x.dim():  # several outputs: w (..., N, C)
        return x @ w / math.sqrt(N)  # (..., p, N) @ (..., N, C) -> (..., p, C)
    return (x @ w[..., None])[..., 0] / math.sqrt(N)  # (..., p, N) @ (..., N, 1) -> (..., p)


def energy(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """E(w) = 1/2 sum_mu (y_mu - f_w(x_mu))^2 + lambda/2 |w|^2, the cost with weight decay (one output:
    w (..., N), x (..., p, N), y (..., p))."""
    return 0.5 * ((y - student(w, x)) ** 2).sum(-1) + 0.5 * lam * (w**2).sum(-1)


class RidgeFamily:
    """The minimisers w(lambda) of E for a whole grid of lambdas, from one SVD of each example set.

    x (B, p, N) inputs of B independent example sets; y (B, p, C) targets (C outputs; C = 1 for the teacher task).
    Singular values below `rcond * s_max` count as zero, so lambda = 0 gives the pseudo-inverse solution.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, rcond: float = 1e-10):
        self.N = x.shape[-1]
        Z = x / math.sqrt(self.N)  # (B, p, N)
        self.U, self.s, self.Vh = torch.linalg.svd(Z, full_matrices=False)  # (B,p,k) (B,k) (B,k,N), k = min(p,N)
        self.keep = self.s > rcond * self.s.amax(-1, keepdim=True)  # (B, k)
        self.y = y
        self.Uy = self.U.transpose(1, 2) @ y  # (B, k, p) @ (B, p, C) -> (B, k, C)

    def filter(self, lams: torch.Tensor) -> torch.Tensor:
        """s / (s^2 + lambda) per singular direction, (B, L, k); zero on null directions."""
        s = self.s[:, None, :]  # (B, 1, k)
        f = s / (s**2 + lams[None, :, None])  # (B, L, k)
        return torch.where(self.keep[:, None, :], f, torch.zeros((), dtype=f.dtype))

    def coefficients(self, lams: torch.Tensor) -> torch.Tensor:
        """w(lambda) in the basis of the right singular vectors: (V^T w)_k = f_k (U^T y)_k, (B, L, k, C)."""
        return self.filter(lams)[..., None] * self.Uy[:, None]  # (B, L, k, 1) * (B, 1, k, C)

    def weights(self, lams: torch.Tensor) -> torch.Tensor:
        """w(lambda) itself, (B, L, N, C)."""
        return self.Vh.transpose(1, 2)[:, None] @ self.coefficients(lams)  # (B,1,N,k) @ (B,L,k,C) -> (B,L,N,C)

    def distance2(self, u: torch.Tensor, lams: torch.Tensor) -> torch.Tensor:
        """|w(lambda) - u|^2 for a teacher u (B, N, C), (B, L), without forming w: the part of u outside the
        row space of Z is never learned and adds |u|^2 - |V^T u|^2."""
        Vu = self.Vh @ u  # (B, k, N) @ (B, N, C) -> (B, k, C)
        inside = ((self.coefficients(lams) - Vu[:, None]) ** 2).sum((-2, -1))  # (B, L)
        outside = (u**2).sum((-2, -1)) - (Vu**2).sum((-2, -1))  # (B,)
        return inside + outside[:, None]

    def predict(self, x: torch.Tensor, lams: torch.Tensor) -> torch.Tensor:
        """f_w(x) for new inputs x (T, N) and every lambda: (B, L, T, C)."""
        xV = (x / math.sqrt(self.N)) @ self.Vh.transpose(1, 2)  # (T, N) @ (B, N, k) -> (B, T, k)
        return xV[:, None] @ self.coefficients(lams)  # (B, 1, T, k) @ (B, L, k, C) -> (B, L, T, C)

    def loo_residuals(self, lams: torch.Tensor) -> torch.Tensor:
        """Leave-one-out residuals of every training example, (B, L, p, C): the residual of a fit without
        example mu is r_mu / (1 - H_mu,mu), H = Z (Z^T Z + lambda)^-1 Z^T (the standard identity for ridge)."""
        shrink = self.s[:, None, :] * self.filter(lams)  # s^2 / (s^2 + lambda), (B, L, k)
        fit = self.U[:, None] @ (shrink[..., None] * self.Uy[:, None])  # (B,1,p,k) @ (B,L,k,C) -> (B,L,p,C)
        hat = (self.U[:, None] ** 2 * shrink[:, :, None, :]).sum(-1)  # diag H, (B, L, p)
        return (self.y[:, None] - fit) / (1 - hat[..., None]).clamp_min(1e-12)


def generalisation_error(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """eps = |w - u|^2 / N: the mean squared disagreement with the teacher on fresh isotropic inputs."""
    return ((w - u) ** 2).sum(-1) / w.shape[-1]


def lambda_opt(sigma2: float, u2: float) -> float:
    """The paper's optimal weight decay: the noise variance over the teacher's squared length per input,
    lambda_opt = sigma^2 / u^2 with u^2 = |u|^2 / N (Bayes: the ridge whose prior matches the teacher)."""
    return sigma2 / u2


def G(alpha: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """G = (1/N) tr (Z^T Z + lambda)^-1 for N, p -> infinity at alpha = p / N (Marchenko-Pastur):
    G = [1 - alpha - lambda + sqrt((1 - alpha - lambda)^2 + 4 lambda)] / (2 lambda)."""
    a = 1 - alpha - lam
    return (a + torch.sqrt(a**2 + 4 * lam)) / (2 * lam)


def dG(alpha: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """dG / dlambda = -(1/N) tr (Z^T Z + lambda)^-2, differentiated by hand from G above."""
    a = 1 - alpha - lam
    D = torch.sqrt(a**2 + 4 * lam)
    return ((-1 + (1 + alpha + lam) / D) * lam - (a + D)) / (2 * lam**2)


def theory_error(alpha: torch.Tensor, lam: torch.Tensor, sigma2: float, u2: float) -> torch.Tensor:
    """The paper's large-N generalisation error eps(alpha, lambda) = sigma^2 G + lambda (sigma^2 - lambda u^2) dG
    (with u^2 = 1 this is its form sigma^2 G + lambda (sigma^2 - lambda) dG/dlambda). lambda = 0 uses the limits:
    u^2 (1 - alpha) + sigma^2 alpha / (1 - alpha) below alpha = 1 and sigma^2 / (alpha - 1) above (infinite at 1)."""
    alpha, lam = torch.broadcast_tensors(torch.as_tensor(alpha, dtype=torch.float64),
                                         torch.as_tensor(lam, dtype=torch.float64))
    safe = torch.where(lam > 0, lam, torch.ones_like(lam))
    pos = sigma2 * G(alpha, safe) + safe * (sigma2 - safe * u2) * dG(alpha, safe)
    below = u2 * (1 - alpha) + sigma2 * alpha / (1 - alpha)
    above = sigma2 / (alpha - 1)
    zero = torch.where(alpha < 1, below, torch.where(alpha > 1, above, torch.full_like(alpha, math.inf)))
    return torch.where(lam > 0, pos, zero)
