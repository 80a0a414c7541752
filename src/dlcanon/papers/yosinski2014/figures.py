"""Figures for Yosinski et al. (2014): top-1 accuracy on task B against the layer n at which the net was chopped,
for baseB, BnB, BnB+, AnB and AnB+ (the shape of the paper's Fig. 2), and the training losses of both phases."""

from __future__ import annotations

import torch

from dlcanon.core import plots

from .model import ARMS

STYLE = {  # the paper's Fig. 2 colours: selffer blue, transfer red, fine-tuned in the lighter shade
    "BnB": dict(color="#1f3fbf", marker="o"),
    "BnB+": dict(color="#8f9fff", marker="o"),
    "AnB": dict(color="#c0182a", marker="D"),
    "AnB+": dict(color="#ff8f8f", marker="D"),
}
OFFSET = {"BnB": -0.2, "BnB+": -0.07, "AnB": 0.07, "AnB+": 0.2}


def fig2(per_rep: dict[str, torch.Tensor], m: dict[str, float], cfg, path) -> None:
    """Points: one per replicate (each a separately trained net); lines: the means the claims read. The dashed
    line is baseB's mean, the grey band its ±1 point tolerance used by the claims on AnB+ and BnB+."""
    ns = cfg.n_values
    fig, ax = plots.new_figure(figsize=(9, 5.4))
    base = per_rep["baseB"]
    ax.axhline(m["baseB_acc"], color="k", ls="--", lw=1.2, label=f"baseB mean {m['baseB_acc']:.3f}")
    ax.axhspan(m["baseB_acc"] - 0.01, m["baseB_acc"] + 0.01, color="0.9", zorder=0)
    ax.plot([0] * len(base), base.numpy(), "o", mfc="w", mec="k", mew=1.5, ms=9, label="baseB (per replicate)")
    for arm in ARMS:
        key = arm.replace("+", "_plus")
        means = [m["baseB_acc"]] + [m[f"{key}_n{n}_acc"] for n in ns]
        ax.plot(range(len(ns) + 1), means, color=STYLE[arm]["color"], lw=2, label=f"{arm} (mean)")
        for n in ns:
            vals = per_rep[f"{key}_n{n}"].numpy()
            ax.plot([n + OFFSET[arm]] * len(vals), vals, ls="", ms=7, **STYLE[arm])
    ax.set(
        xlabel="n: layers copied from the base net (1 .. L-1; 0 = baseB)",
        ylabel="top-1 accuracy on B's test images",
        xticks=range(len(ns) + 1),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", ncol=2)
    ax.set_title(
        f"Fashion-MNIST {cfg.image_size}x{cfg.image_size}, {cfg.split} halves of 5 classes, {cfg.L}-layer net, "
        f"{cfg.reps} replicate(s)\n(the paper, ImageNet, L = 8: baseB 0.625, AnB+ up to 0.647, "
        "BnB dip to 0.594 at n = 5, AnB 0.543 at n = 7)",
        fontsize=9,
    )
    plots.save(fig, path)


def training_loss(state: dict, cfg, path) -> None:
    """Mean minibatch cross-entropy over each logging interval: base nets (phase 1), then every transfer arm
    (phase 2), averaged over its n and replicates."""
    fig, ax = plots.new_figure(figsize=(8, 4.2))
    h = state["history_base"]
    R = cfg.reps
    ax.plot(h[:, 0], h[:, 1 : 1 + R].mean(1), color="0.5", label="baseA (on A)")
    ax.plot(h[:, 0], h[:, 1 + R :].mean(1), color="k", label="baseB (on B)")
    h = state["history_transfer"]
    per_arm = h[:, 1:].view(len(h), R, len(ARMS), -1)  # (points, R, arms, n)
    for k, arm in enumerate(ARMS):
        ax.plot(h[:, 0], per_arm[:, :, k].mean((1, 2)), color=STYLE[arm]["color"], label=f"{arm} (mean over n)")
    ax.axvline(cfg.steps, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="SGD step (phase 1: base nets, then phase 2: transfer nets)", ylabel="training cross-entropy",
           yscale="log")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plots.save(fig, path)
