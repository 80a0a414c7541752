"""Figures for Cybenko (1989): each one is the picture of a claim in experiment.CLAIMS.

The functions take what the experiment already computed (best sup errors, the best nets' outputs) and only draw.
"""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

EXACT = 1e-10
"""Ratios below this are exact fits up to rounding (a ReLU net represents the kink and the ramp exactly with 2
units); they are drawn at this floor so the log axis keeps its range."""
ACTIVATION_NAME = {"sigmoid": "sigmoid units (Cybenko's case)", "relu": "ReLU units (Leshno et al. 1993)"}


def error_ratio(widths, sup: dict[str, list], targets, ratio_bar: float, path) -> None:
    """The falls claims: sup error at N over that at N = 1, per target, one panel per activation (log-log)."""
    fig, axes = new_figure(1, len(sup), figsize=(11, 4.6), squeeze=False, sharey=True)
    for ax, (activation, rows) in zip(axes[0], sup.items(), strict=True):
        for k, (name, s) in enumerate(zip(targets, rows, strict=True)):
            ratio = np.asarray(s) / s[0]
            exact = ratio < EXACT
            ax.loglog(widths, np.maximum(ratio, EXACT), "o-", ms=5, color=f"C{k}", label=name)
            ax.plot(np.asarray(widths)[exact], np.full(exact.sum(), EXACT), "o", ms=8, mfc="white", color=f"C{k}")
        ax.axhline(ratio_bar, color="k", ls="--", lw=1.2, label=f"claim: ≤ {ratio_bar:g} at N = {widths[-1]}")
        ax.axhspan(EXACT / 3, EXACT * 3, color="0.85", zorder=0, label=f"exact fit (< {EXACT:g}, hollow)")
        ax.set_xticks(widths, [str(w) for w in widths])
        ax.set(xlabel="hidden units N (log scale)", title=ACTIVATION_NAME[activation], ylim=(EXACT / 3, 3))
    axes[0, 0].set_ylabel("sup |G − f| at N / sup |G − f| at N = 1\n(best of restarts, log scale)")
    axes[0, 0].legend(loc="lower left", bbox_to_anchor=(0, 0.1), fontsize=9)  # empty there: no exact sigmoid fit
    fig.suptitle("One hidden layer: the sup-norm error falls as units are added (Theorem 2)")
    save(fig, path)


def largest_rise(rises: dict[str, dict[str, list]], targets, rise_bar: float, exact: float, path) -> None:
    """The more-units-never-hurt claims: per target and activation, the largest growth of the best sup error from
    one N to the next, as a share of the error it grew from. Pale bars: the fresh starts alone (independent fits at
    each N, no nesting); solid bars: all nets, including the one per N that starts from the best net of the
    previous N and goes back to that start if its fit ends worse. Symmetric log scale: below 0, the error fell at
    every step; a bar of height 0 is drawn as a thick tick."""
    fig, ax = new_figure(figsize=(9, 5.2))
    x, width = np.arange(len(targets)), 0.2
    top = max([rise_bar, *(v for kinds in rises.values() for vals in kinds.values() for v in vals)])
    for i, (activation, kinds) in enumerate(rises.items()):
        name = f"{activation} units".replace("relu", "ReLU")
        kinds_drawn = (("fresh_", "fresh starts only", 0.35), ("", "with nesting (the claim)", 1.0))
        for j, (kind, label, alpha) in enumerate(kinds_drawn):
            pos = x + (2 * i + j - 1.5) * width
            ax.bar(pos, kinds[kind], width, color=f"C{i}", alpha=alpha, label=f"{name}: {label}")
            flat = np.abs(np.asarray(kinds[kind])) < 1e-6  # invisible as bars: mark them
            ax.plot(pos[flat], np.zeros(flat.sum()), "_", ms=14, mew=3, color=f"C{i}", alpha=alpha)
    ax.axhline(rise_bar, color="k", ls="--", lw=1.2, label=f"claim: ≤ {rise_bar:g} of the earlier error")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_yscale("symlog", linthresh=1e-4)
    ax.set_ylim(-1, top * 30)
    ax.set_xticks(x, targets)
    ax.set(xlabel="target", ylabel="largest growth of best sup |G − f|, N → next N\n(share of the error at N; "
           f"errors < {exact:g} count as {exact:g})",
           title="More units never hurt once the larger nets start from the smaller ones")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, fontsize=8)
    save(fig, path)


def fits(activation: str, widths, curves: dict, grids: dict, targets, seattle_F: tuple[float, float], path) -> None:
    """The best net of each target for a few N against the target itself (Seattle in degrees Fahrenheit)."""
    fig, axes = new_figure(2, 2, figsize=(11, 7.5))
    xp = np.linspace(0, 1, 600)
    show = [k for k, w in enumerate(widths) if w in (1, 4, 16, widths[-1])]
    lo, hi = seattle_F
    for ax, name in zip(axes.flat, targets, strict=False):
        xs, fs = grids[name]
        xs, fs = xs[:: max(1, len(xs) // 1000)], fs[:: max(1, len(xs) // 1000)]  # ~1,000 points draw fast enough
        unit, scale, off = (365, hi - lo, lo) if name == "seattle" else (1, 1.0, 0.0)
        ax.plot(xs.numpy() * unit, fs.numpy() * scale + off, color="k", lw=3, alpha=0.3, label="target f")
        for k in show:
            ax.plot(xp * unit, curves[name][k].numpy() * scale + off, lw=1.2, label=f"G, N = {widths[k]}")
        if name == "seattle":
            ax.set(title="Seattle 2010, 24-hour mean", xlabel="day of 2010", ylabel="temperature (°F)")
        else:
            ax.set(title=name, xlabel="input x", ylabel="f(x), G(x)")
    axes.flat[2].legend(loc="center right", fontsize=9)  # the ramp's right half is empty below its plateau
    fig.suptitle(f"Best network found with {ACTIVATION_NAME[activation]}, against each target")
    save(fig, path)
