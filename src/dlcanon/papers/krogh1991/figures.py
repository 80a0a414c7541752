"""Figures for Krogh & Hertz (1991): each one is the picture of a claim in experiment.CLAIMS.

The functions take the error tables the experiment computed (teacher: mean test error per alpha and lambda;
digits: the metrics per training-set size) and the paper's theory curve, and only draw.
"""

from __future__ import annotations

import numpy as np
import torch

from dlcanon.core.plots import new_figure, save

from . import model

COMPARED = (0.5, 1.0, 2.0)
"""The loads alpha the claims compare (N/2, N and 2N examples)."""


def teacher_lambda(cfg, err: torch.Tensor, lams: torch.Tensor, path) -> None:
    """Test error against weight decay at alpha = 0.5, 1, 2 (simulation and large-N theory), the grid minima and
    the claim's band of a factor 2 around lambda_opt."""
    lam_opt = model.lambda_opt(cfg.sigma2, cfg.u2)
    fig, ax = new_figure(figsize=(11, 5))
    fine = torch.logspace(*cfg.lam_decades, 200, dtype=torch.float64)
    for a in COMPARED:
        row = err[list(cfg.alphas).index(a), 1:].numpy()
        line = ax.loglog(lams[1:].numpy(), row, "o", ms=4, label=f"simulation, α = {a:g}")
        theory = model.theory_error(torch.tensor(a), fine, cfg.sigma2, cfg.u2) + cfg.sigma2
        ax.loglog(fine.numpy(), theory.numpy(), "-", color=line[0].get_color(), lw=1.2)
        k = int(row.argmin())
        ax.plot(lams[1 + k], row[k], "*", ms=16, mec="k", color=line[0].get_color())
    ax.plot([], [], "k-", lw=1.2, label="theory (large N)")
    ax.plot([], [], "*", ms=14, mec="k", color="w", label="grid minimum")
    ax.axvline(lam_opt, color="k", ls="--", lw=1.2, label=f"paper: λ_opt = σ²/u² = {lam_opt:g}")
    ax.axvspan(lam_opt / 2, lam_opt * 2, color="0.88", zorder=0, label="claim: minimum within a factor 2")
    ax.set(xlabel="weight decay λ (log scale)", ylabel="test error ε (incl. noise σ², log scale)",
           title=f"Teacher task, N = {cfg.N} inputs, {cfg.draws} draws: the best decay is σ²/u² at every load α")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    save(fig, path)


def teacher_alpha(cfg, err: torch.Tensor, lams: torch.Tensor, j_opt: int, peak_bar: float, path) -> None:
    """Test error against the load alpha without decay and at lambda_opt; the points the peak claims compare."""
    alphas = np.array(cfg.alphas)
    fig, ax = new_figure(figsize=(9, 5))
    fine = torch.linspace(0.05, float(alphas.max()), 300, dtype=torch.float64)
    at = [list(cfg.alphas).index(a) for a in COMPARED]
    for j, name in ((0, "λ = 0"), (j_opt, f"λ = λ_opt ({float(lams[j_opt]):.2g})")):
        e = err[:, j].numpy()
        line = ax.semilogy(alphas, e, "o", ms=4, label=f"simulation, {name}")
        theory = model.theory_error(fine, torch.tensor(float(lams[j])), cfg.sigma2, cfg.u2) + cfg.sigma2
        ax.semilogy(fine.numpy(), theory.clamp_max(1e3).numpy(), "-", color=line[0].get_color(), lw=1.2)
        ax.plot(alphas[at], e[at], "o", ms=12, mfc="none", color=line[0].get_color())
    e0 = err[:, 0].numpy()
    ax.axhline(peak_bar * max(e0[at[0]], e0[at[2]]), color="C0", ls="--", lw=1.2,
               label=f"claim: λ = 0 error at α = 1 above this ({peak_bar:g}x the larger at α = ½, 2)")
    ax.plot([], [], "o", ms=12, mfc="none", color="0.3", label="points compared (α = ½, 1, 2)")
    top = 30
    if e0[at[1]] > top:  # the lambda = 0 error at alpha = 1 is off the scale
        ax.annotate(f"λ = 0, α = 1: ε = {e0[at[1]]:.2g}", (1.0, top), (0.12, top / 2.5), color="C0",
                    arrowprops=dict(arrowstyle="->", color="C0"))
    ax.axhline(cfg.sigma2, color="0.4", ls=":", label="noise floor σ²")
    ax.set(xlabel="load α = p / N (examples per weight)", ylabel="test error ε (log scale)",
           title="The peak at p = N without decay, and its removal by weight decay", ylim=(cfg.sigma2 * 0.8, top))
    ax.legend(loc="upper right", fontsize=9)
    save(fig, path)


def digits(cfg, m: dict, peak_bar: float, path) -> None:
    """Real digits: test MSE and accuracy against the number of training images, lambda = 0 against lambda by
    leave-one-out, with the points the claims compare (n = 32, 64, 128) and the lambda = 0 peak bar."""
    ns = np.array(cfg.digits_n)
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.6))
    arms = (("lam0", "λ = 0 (minimum norm)"), ("loo", "λ by leave-one-out"))
    compared = [list(ns).index(n) for n in (32, 64, 128)]
    for i, (tag, name) in enumerate(arms):
        mse = np.array([m[f"digits_mse_{tag}_n{n}"] for n in ns])
        ax.semilogy(ns, mse, "o-", ms=4, color=f"C{i}", label=name)
        ax.plot(ns[compared], mse[compared], "o", ms=12, mfc="none", color=f"C{i}")
        ax2.plot(ns, [100 * m[f"digits_acc_{tag}_n{n}"] for n in ns], "o-", ms=4, color=f"C{i}", label=name)
    bar = peak_bar * max(m["digits_mse_lam0_n32"], m["digits_mse_lam0_n128"])
    ax.axhline(bar, color="C0", ls="--", lw=1.2, label=f"claim: λ = 0 MSE at n = 64 above this ({peak_bar:g}x)")
    ax.plot([], [], "o", ms=12, mfc="none", color="0.3", label="points compared (n = 32, 64, 128)")
    for a in (ax, ax2):
        a.axvline(65, color="0.4", ls=":", label="weights per output (64 pixels + 1)")
        a.set_xscale("log", base=2)
        a.set_xticks(ns, [str(n) for n in ns])
        a.set_xlabel("training images n (log scale)")
    ax.set_ylim(top=ax.get_ylim()[1] * 50)  # room above the peak for the legend
    ax.set(ylabel="test MSE (one-hot targets, log scale)", title="Test error")
    ax2.set(ylabel="test accuracy (%)", ylim=(0, 100), title="Test accuracy (not claimed)")
    ax.legend(loc="upper right", fontsize=8.5)
    ax2.legend(loc="lower right", fontsize=9)
    fig.suptitle(f"sklearn digits, linear student, {cfg.digits_seeds} random training sets per n")
    save(fig, path)
