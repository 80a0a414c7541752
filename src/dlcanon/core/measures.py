"""Distances between two samples that several papers report (none of them is what a paper is about).

frechet_distance   the Fréchet distance of Gaussians fitted to two feature sets (FID when the features are
                   Inception's; ours are a classifier's that the paper's folder trains)
energy_distance    Székely's energy distance between two point clouds
"""

from __future__ import annotations

import torch


def frechet_distance(f1: torch.Tensor, f2: torch.Tensor) -> float:
    """||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2) between Gaussians fitted to two feature sets (N, D).

    (C1^1/2 C2 C1^1/2)^1/2 has the trace of (C1 C2)^1/2, the usual form, but is symmetric, so one eigh suffices."""
    f1, f2 = f1.double(), f2.double()
    m1, m2 = f1.mean(0), f2.mean(0)
    c1, c2 = torch.atleast_2d(torch.cov(f1.T)), torch.atleast_2d(torch.cov(f2.T))  # (D, D)
    w, v = torch.linalg.eigh(c1)
    s1 = (v * w.clamp(min=0).sqrt()) @ v.T  # C1^1/2
    cross = torch.linalg.eigvalsh(s1 @ c2 @ s1).clamp(min=0).sqrt().sum()
    return float((m1 - m2).square().sum() + c1.trace() + c2.trace() - 2 * cross)


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Székely's energy distance 2 E|A - B| - E|A - A'| - E|B - B'| between point clouds (N, D) and (M, D), the
    within-cloud means as U-statistics (self-pairs excluded)."""
    def mean_dist(u: torch.Tensor, v: torch.Tensor, same: bool) -> float:
        d = torch.cdist(u.double(), v.double())
        return float(d.sum() / (len(u) * (len(u) - 1))) if same else float(d.mean())

    return 2 * mean_dist(a, b, False) - mean_dist(a, a, True) - mean_dist(b, b, True)
