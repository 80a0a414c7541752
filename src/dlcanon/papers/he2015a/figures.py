"""Figures for He et al. (2015): training-error curves of plain and residual nets at two depths, the shape of the
paper's Fig. 1 and Fig. 6 (left: plain, middle: ResNets)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

PAPER_RESNET110_TEST_ERROR = 6.43
"""Table 6: ResNet-110 on CIFAR-10, 6.43% test error (best of 5 runs; mean 6.61 ± 0.16)."""


def training_curves(history: torch.Tensor, metrics: dict[str, float], cfg, path) -> None:
    """Left: plain nets; right: ResNets. Lines: minibatch training error (augmented images, training mode), mean
    over each logging interval. Markers at the end: training error (circles) and test error (crosses) measured
    in inference mode on the fixed draws, the numbers the claims compare."""
    fig, axes = plots.new_figure(1, 2, figsize=(12, 4.6), sharey=True)
    steps = history[:, 0].numpy()
    depth = {"shallow": 6 * cfg.n_shallow + 2, "deep": 6 * cfg.n_deep + 2}
    for ax, kind, title in ((axes[0], "plain", "plain nets (Fig. 1, Fig. 6 left)"),
                            (axes[1], "residual", "ResNets (Fig. 6 middle)")):  # fmt: skip
        for col, which, color in ((1, "shallow", "C0"), (2, "deep", "C3")):
            k = ("plain", "residual").index(kind) * 2 + col
            name = f"{kind}_{which}"
            label = f"{'plain' if kind == 'plain' else 'ResNet'}-{depth[which]}"
            ax.plot(steps, 100 * history[:, k].numpy(), color=color, lw=1.2, label=f"{label}, minibatch train error")
            ax.plot(
                steps[-1],
                100 * metrics[f"{name}_train_error"],
                "o",
                color=color,
                ms=7,
                label=f"{label}, train error (inference) {100 * metrics[f'{name}_train_error']:.1f}%",
            )
            ax.plot(
                steps[-1],
                100 * metrics[f"{name}_test_error"],
                "x",
                color=color,
                ms=8,
                mew=2,
                label=f"{label}, test error {100 * metrics[f'{name}_test_error']:.1f}%",
            )
        for frac in cfg.lr_drops:
            ax.axvline(frac * cfg.steps, color="grey", ls=":", lw=0.8)
        ax.set(title=title, xlabel=f"SGD step (minibatches of {cfg.batch_size})", ylabel="error (%)")
        ax.legend(fontsize=8, loc="upper right")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, min(100, 1.3 * 100 * float(history[:, 1:].max())))
    fig.suptitle(
        f"Fashion-MNIST {cfg.image_size}x{cfg.image_size}: plain vs residual at {depth['shallow']} and "
        f"{depth['deep']} layers (dotted: eta / 10). Claims: plain deeper is worse, ResNet deeper is "
        f"better (paper, CIFAR-10: ResNet-110 {PAPER_RESNET110_TEST_ERROR}% test)",
        fontsize=10,
    )
    plots.save(fig, path)
