"""Figures for Rosenblatt (1958): each one is the picture of a claim in experiment.CLAIMS.

They read the run's `history` (per-pair rows, per-sweep accuracy curves) and only draw.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator

from dlcanon.core import plots


def draw(history, cfg, ctx) -> None:
    rows = [r for r in history["pairs"] if r["gamma"] > 0]
    if rows:
        convergence(rows, cfg, ctx.path("novikoff.png"))
    one_vs_rest(history, cfg, ctx.path("accuracy.png"))
    if history.get("fashion"):
        fashion(history["fashion"], cfg, ctx.path("fashion.png"))


def convergence(rows, cfg, path) -> None:
    """Left: corrections against Novikoff's bound, one point per separable pair (claim: all on or below the
    diagonal). Right: sweeps each pair needed before its first error-free sweep (claim: all reach one)."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(11, 4.6))
    bounds, mistakes = [r["bound"] for r in rows], [max(r["mistakes"], 0.5) for r in rows]
    ax.loglog(bounds, mistakes, "o", ms=5, label=f"digit pair ({len(rows)} separable pairs)")
    lim = [min(bounds + mistakes) / 2, max(bounds + mistakes) * 2]
    ax.fill_between(lim, lim, lim[1], color="tab:red", alpha=0.1, label="above the bound (would break the claim)")
    ax.loglog(lim, lim, "k:", lw=1.5, label="claim: corrections ≤ (R/γ)²")
    for r in sorted(rows, key=lambda r: -r["mistakes"] / r["bound"])[:2]:
        ax.annotate(f"pair {r['pair']}", (r["bound"], r["mistakes"]), xytext=(-60, 25), textcoords="offset points",
                    arrowprops=dict(arrowstyle="-", color="grey"))  # fmt: skip
    ax.set_xlim(lim)
    ax.set_ylim(lim)
    worst = max(r["mistakes"] / r["bound"] for r in rows)
    ax.set_xlabel("Novikoff bound (R / γ_svm)² (corrections, log scale)")
    ax.set_ylabel("corrections made (log scale)")
    ax.set_title(f"Corrections vs Novikoff's bound (worst ratio {worst:.2f})")
    ax.legend(loc="upper left", fontsize=9)
    epochs = np.array([r["epochs"] if r["epochs"] > 0 else cfg.pair_max_epochs for r in rows])
    bins = np.unique(np.geomspace(1, cfg.pair_max_epochs + 1, 25).astype(int))
    ax2.hist(epochs, bins=bins, color="tab:blue", label="digit pairs")
    ax2.axvline(cfg.pair_max_epochs, color="tab:red", ls="--", label=f"give-up limit: {cfg.pair_max_epochs} sweeps")
    ax2.set_xscale("log")
    errors = sum(r["errors"] for r in rows)
    ax2.set(xlabel="sweeps up to the first error-free one (log scale)", ylabel="digit pairs",
            title=f"Every pair converges: {errors:g} training errors left in all")  # fmt: skip
    ax2.legend(fontsize=9)
    plots.save(fig, path)


def one_vs_rest(history, cfg, path) -> None:
    """Left: held-out accuracy over sweeps, R-units on pixels and on the largest A-layer (claims: >= 90%).
    Right: final held-out accuracy against the number of A-units (claim: the largest beats the smallest)."""
    fig, (ax1, ax2) = plots.new_figure(1, 2, figsize=(11, 4.4))
    n_A, acc = zip(*history["a_units"], strict=True)
    for key, label in (("ovr", "R-units on 64 pixels"), (f"a{n_A[-1]}", f"R-units on {n_A[-1]} A-units")):
        ax1.plot(range(1, len(history[key]) + 1), [100 * a for a in history[key]], "o-", ms=3, label=label)
    ax1.axhline(90, color="black", ls=":", label="claim: ≥ 90%")
    ax1.set(xlabel="sweeps through the training set (epochs)", ylabel="held-out accuracy (%)",
            title=f"One-vs-rest on 8x8 digits (mean of {cfg.n_orders} orders)")  # fmt: skip
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.legend(loc="best")
    ax2.semilogx(n_A, [100 * a for a in acc], "o-", label="S-points → A-units → R-units")
    ax2.axhline(100 * history["ovr"][-1], color="grey", ls="--", label="R-units on raw pixels")
    ax2.axhline(90, color="black", ls=":", label="claim: largest layer ≥ 90%")
    ax2.annotate(f"+{100 * (acc[-1] - acc[0]):.1f} points\n(claim: > 0)", (n_A[-1], 100 * acc[-1]),
                 xytext=(-70, -60), textcoords="offset points", arrowprops=dict(arrowstyle="->"))  # fmt: skip
    ax2.set(xlabel="number of A-units (log scale)", ylabel="held-out accuracy after training (%)",
            title="Photoperceptron: more A-units help")  # fmt: skip
    ax2.set_xticks(n_A, [str(n) for n in n_A], minor=False)
    ax2.minorticks_off()
    ax2.legend(loc="lower right")
    plots.save(fig, path)


def fashion(curve, cfg, path) -> None:
    """Held-out accuracy of the one-vs-rest perceptron on Fashion-MNIST over sweeps (claim: >= 70%)."""
    fig, ax = plots.new_figure(figsize=(6.5, 4.4))
    ax.plot(range(1, len(curve) + 1), [100 * a for a in curve], "o-", ms=3, label="R-units on 784 pixels")
    ax.axhline(70, color="black", ls=":", label="claim: ≥ 70%")
    ax.set(xlabel="sweeps through the training set (epochs)", ylabel="test accuracy (%)",
           title=f"Fashion-MNIST one-vs-rest (mean of {cfg.fashion_orders} orders)")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right")
    plots.save(fig, path)
