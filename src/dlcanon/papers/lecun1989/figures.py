"""Figures for LeCun et al. (1989): the claims' pictures (errors.png) and the first layer at work (H1_maps.png)."""

from __future__ import annotations

import torch
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

from dlcanon.core import plots

from .model import Net1989

PAPER_TEST_ERROR = 5.0
"""Sec. 5: 5.0% test error (102 of 2,007 zip-code digits) after 23 passes."""


def errors(history: torch.Tensor, cnn_wrong: torch.Tensor, fc_wrong: torch.Tensor, cfg, path) -> None:
    """Left: train and test error per epoch, both arms, with the paper's 5.0% and our bars.
    Right: the paired comparison behind the McNemar z: test digits only one of the two nets gets wrong."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
    epochs = range(1, len(history) + 1)
    for col, label, style in ((0, "Net-1989, train", "C0--"), (1, "Net-1989, test", "C0-"),
                              (2, f"FC 256-{cfg.fc_hidden}-10, train", "C1--"),
                              (3, f"FC 256-{cfg.fc_hidden}-10, test", "C1-")):  # fmt: skip
        ax.plot(epochs, 100 * history[:, col].numpy(), style, marker="o", ms=3, label=label)
    ax.axhline(8.0, color="black", ls=":", label="claim: Net-1989 test ≤ 8%")
    ax.axhline(5.5, color="black", ls="-.", lw=0.8, label="claim (full preset): ≤ 5.5%")
    ax.axhline(PAPER_TEST_ERROR, color="tab:green", ls="--", lw=1, label="paper: 5.0% test error (23 passes)")
    ax.set_yscale("log")
    ticks = [1, 2, 3, 5, 8, 10, 15, 20, 30, 50]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set(xlabel=f"epoch (pass through the {cfg.n_train:,} training digits)", ylabel="error (%, log scale)",
           title=f"MNIST at USPS scale, 16x16 ({cfg.n_train:,} train / {cfg.n_test:,} test)")  # fmt: skip
    ax.legend(fontsize=9, loc="upper right", ncol=2)
    ax.set_ylim(top=ax.get_ylim()[1] * 2.5)  # room for the legend above the curves
    b, c = int((fc_wrong & ~cnn_wrong).sum()), int((cnn_wrong & ~fc_wrong).sum())
    both = int((fc_wrong & cnn_wrong).sum())
    bars = ax2.bar(["only FC\nwrong", "only Net-1989\nwrong", "both\nwrong"], [b, c, both],
                   color=["C1", "C0", "grey"])  # fmt: skip
    ax2.bar_label(bars)
    z = (b - c) / max(b + c, 1) ** 0.5
    cnn_err, fc_err = 100 * cnn_wrong.float().mean().item(), 100 * fc_wrong.float().mean().item()
    ax2.set(ylabel=f"test digits (of {len(cnn_wrong):,})", title=f"Paired test: McNemar z = {z:.1f} (claim > 3)",
            xlabel=f"test error: Net-1989 {cnn_err:.1f}% vs FC {fc_err:.1f}%\n(claim: Net-1989 lower)")  # fmt: skip
    plots.save(fig, path)


@torch.no_grad()
def first_layer(model: Net1989, x: torch.Tensor, path) -> None:
    """One test digit, H1's 12 shared 5x5 kernels, and the 12 feature maps (8x8) they give on that digit."""
    h1 = model.H1(x)[0].cpu()  # (12, 8, 8)
    W1 = model.W1[:, 0].cpu()  # (12, 5, 5)
    fig, axes = plots.new_figure(1, 3, figsize=(12, 3.4), gridspec_kw={"width_ratios": [0.6, 1.3, 1.3]})
    axes[0].imshow(x[0, 0].cpu().numpy(), cmap="gray", vmin=-1, vmax=1)
    axes[0].set_title("test digit (16x16 px)")
    w_max = W1.abs().max().item()
    axes[1].imshow(mosaic(W1, 2, 6).numpy(), cmap="RdBu_r", vmin=-w_max, vmax=w_max)
    axes[1].set_title("12 shared 5x5 kernels (red +, blue −)")
    axes[2].imshow(mosaic(h1, 2, 6).numpy(), cmap="gray", vmin=-1.7159, vmax=1.7159)
    axes[2].set_title("H1: 12 feature maps of 8x8 units")
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle("Net-1989's first layer: every map applies one kernel at every place (stride 2)")
    plots.save(fig, path)


def mosaic(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(rows * cols, h, w) -> one (rows * (h + 1) - 1, cols * (w + 1) - 1) image, NaN (blank) between tiles."""
    n, h, w = images.shape
    out = torch.full((rows * (h + 1) - 1, cols * (w + 1) - 1), float("nan"))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = images[i]
    return out
