"""Sec. 4.1 of Szegedy et al. (2013): adversarial examples by box-constrained L-BFGS, with a line search over c.

The paper's problem, for an image x and a target label l != f(x):

    minimise |r|_2  subject to  f(x + r) = l  and  x + r in [0, 1]^m.

It is hard, so the paper solves the penalty form instead (model.penalty_objective),

    minimise  c |r| + loss_f(x + r, l)  subject to  x + r in [0, 1]^m,

with box-constrained L-BFGS, and searches over c: a larger c buys a smaller r, until the minimiser no longer reaches
l. The paper words it as "the minimum c > 0 for which the minimiser r satisfies f(x + r) = l"; with c multiplying
|r|, the smallest distortion comes from the *largest* such c, which is what we search for (see notes.md).

All images of a batch are solved together as one flat vector: the objective is a sum of per-image terms that share
no variables, so its minimiser is every image's own minimiser. Each image keeps its own c.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.optimize
import torch
from torch import nn

from .model import penalty_objective


def box_lbfgs(f: nn.Module, x: torch.Tensor, l: torch.Tensor, c: torch.Tensor, max_iter: int) -> torch.Tensor:
    """argmin over x' in [0, 1]^(B x 784) of sum_i c_i |x'_i - x_i|^2 + loss_f(x'_i, l_i), by scipy's L-BFGS-B
    (Byrd, Lu, Nocedal & Zhu 1995) started at x' = x. x: (B, 784) float64; f must be a float64 net. Returns (B, 784)."""
    shape = x.shape

    def objective_and_gradient(z: np.ndarray) -> tuple[float, np.ndarray]:
        x_adv = torch.tensor(z).view(shape).requires_grad_()  # a copy: scipy may hand over a read-only array
        obj = penalty_objective(f, x_adv, x, l, c)
        (g,) = torch.autograd.grad(obj, x_adv)  # (B, 784)
        return obj.item(), g.numpy().ravel()

    box = scipy.optimize.Bounds(np.zeros(x.numel()), np.ones(x.numel()))
    res = scipy.optimize.minimize(objective_and_gradient, x.numpy().ravel(), jac=True, method="L-BFGS-B", bounds=box,
                                  options={"maxiter": max_iter, "ftol": 1e-12, "gtol": 1e-8})  # fmt: skip
    return torch.tensor(res.x).view(shape).clamp(0, 1)


@torch.no_grad()
def predict(f: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return f(x).argmax(1)


def minimal_adversarial(f: nn.Module, x: torch.Tensor, l: torch.Tensor, c0: float, rounds: int, grow: float,
                        max_iter: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """The line search over c, one c per image: while no failing c is known, multiply c by `grow` after a success;
    while no successful c is known, divide it by `grow` after a failure; once a success lo and a failure hi bracket
    it, bisect in log c (c = sqrt(lo * hi)). Each round is one box-constrained L-BFGS solve of the whole batch.

    Returns the closest x' with f(x') = l found over all rounds (B, 784) (x itself where none was found), a (B,)
    mask of images for which one was found, and the (B,) final c."""
    f = copy.deepcopy(f).double()  # float64 for L-BFGS-B's line search; the caller's net is left as it was
    x, B = x.double(), len(x)
    c = torch.full((B,), c0, dtype=torch.float64)
    lo = torch.zeros(B, dtype=torch.float64)  # the largest c that succeeded so far (0: none yet)
    hi = torch.full((B,), torch.inf, dtype=torch.float64)  # the smallest c that failed so far
    best, best_norm = x.clone(), torch.full((B,), torch.inf, dtype=torch.float64)
    for _ in range(rounds):
        x_adv = box_lbfgs(f, x, l, c, max_iter)
        ok = predict(f, x_adv) == l
        norm = (x_adv - x).norm(dim=1)
        closer = ok & (norm < best_norm)
        best[closer], best_norm[closer] = x_adv[closer], norm[closer]
        lo = torch.where(ok, torch.maximum(lo, c), lo)
        hi = torch.where(ok, hi, torch.minimum(hi, c))
        c = torch.where(hi.isinf(), c * grow, torch.where(lo == 0, c / grow, (lo * hi).sqrt()))
    return best.float(), best_norm.isfinite(), c
