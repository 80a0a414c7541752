"""Figures for Vincent et al. (2010): first-layer filters of both arms side by side (filters.png), and the three
claims in one picture (claims.png): probe and fine-tuned test errors, and the filter-locality distributions."""

from __future__ import annotations

import torch

from dlcanon.core import plots

NAMES = {"ae": "plain autoencoder", "dae": "denoising autoencoder"}
N_SHOWN = 100
"""filters drawn per arm: the first 100 hidden units, not a selection of nice ones"""


def filters(W1: dict[str, torch.Tensor], locality: dict[str, torch.Tensor], cfg, path) -> None:
    """The first N_SHOWN rows of W (first layer) of each arm as 28x28 images, each scaled to its own largest
    |weight| (grey = 0, white = positive, black = negative), as the paper draws its filters."""
    fig, axes = plots.new_figure(1, 2, figsize=(13, 7.8))
    for ax, arm in zip(axes, ("ae", "dae"), strict=True):
        W = W1[arm][:N_SHOWN].reshape(-1, 28, 28)
        W = W / W.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None]
        cols = 10
        ax.imshow(mosaic(W, -(-len(W) // cols), cols).numpy(), cmap="gray", vmin=-1, vmax=1)
        nu = 0.0 if arm == "ae" else cfg.nu
        ax.set_title(f"{NAMES[arm]}, nu = {nu:g}: first {len(W)} of {cfg.hidden[0]} first-layer filters\n"
                     f"mean locality {locality[arm].mean():.3f} (share of squared weight in the best "
                     f"{cfg.window}x{cfg.window} window)\n{cfg.pretrain_epochs} epochs on {cfg.n_train:,} MNIST "
                     f"digits, same initial weights in both arms", fontsize=10)  # fmt: skip
        ax.set_axis_off()
    plots.save(fig, path)


def claims(metrics: dict[str, float], locality: dict[str, torch.Tensor], cfg, path) -> None:
    """Left: test error of the linear probe and after fine-tuning, both arms. Right: per-filter locality."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6))
    kinds = ("probe", "finetune")
    for i, arm in enumerate(("ae", "dae")):
        vals = [100 * metrics[f"{arm}_{k}_error"] for k in kinds]
        bars = ax.bar([j + 0.38 * (i - 0.5) for j in range(2)], vals, width=0.38, color=f"C{i}",
                      label=f"{NAMES[arm]}, nu = {0.0 if arm == 'ae' else cfg.nu:g}")  # fmt: skip
        ax.bar_label(bars, fmt="%.2f")
    ax.set_xticks([0, 1])
    ax.set_xticklabels([
        f"linear probe on frozen codes\nclaim: DAE ≥ 1 point lower\nMcNemar z = {metrics['probe_mcnemar_z']:.1f}",
        f"after supervised fine-tuning\nclaim: DAE lower\nMcNemar z = {metrics['finetune_mcnemar_z']:.1f}",
    ], fontsize=9)  # fmt: skip
    ax.set(ylabel=f"test error (%, {cfg.n_test:,} MNIST test digits)",
           title=f"codes of {len(cfg.hidden)} layer(s) of {', '.join(map(str, cfg.hidden))} units, "
                 f"{cfg.n_train:,} training digits")  # fmt: skip
    ax.set_ylim(top=ax.get_ylim()[1] * 1.15)
    ax.legend(fontsize=9, loc="upper right")
    bins = torch.linspace(0, 1, 41).numpy()
    for i, arm in enumerate(("ae", "dae")):
        ax2.hist(locality[arm].numpy(), bins=bins, color=f"C{i}", alpha=0.6, label=f"{NAMES[arm]}")
        ax2.axvline(locality[arm].mean().item(), color=f"C{i}", ls="--")
    ax2.axvline(metrics["filter_locality_uniform"], color="black", ls=":", label="weights spread evenly")
    ax2.set(xlabel=f"locality: share of a filter's squared weight in its best {cfg.window}x{cfg.window} window",
            ylabel="first-layer filters",
            title="claim: DAE mean (dashed) ≥ AE mean + 0.05")  # fmt: skip
    ax2.legend(fontsize=9)
    plots.save(fig, path)


def mosaic(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(n, h, w) -> one (rows * (h + 1) - 1, cols * (w + 1) - 1) image, NaN (blank) between tiles."""
    n, h, w = images.shape
    out = torch.full((rows * (h + 1) - 1, cols * (w + 1) - 1), float("nan"))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = images[i]
    return out
