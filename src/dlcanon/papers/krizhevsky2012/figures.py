"""Figures for Krizhevsky et al. (2012): the shape of Fig. 1 (relu_vs_tanh.png), the dropout experiment's
train and test curves (dropout.png), and the learned first-layer kernels, as in Fig. 3 (conv1_filters.png)."""

from __future__ import annotations

import torch

from dlcanon.core import plots


def running(errors: torch.Tensor, window: int) -> torch.Tensor:
    """Mean minibatch error over the last `window` steps (an epoch), defined from step `window` on."""
    if len(errors) < window:
        return torch.zeros(0)
    return errors.unfold(0, window, 1).mean(1)


def relu_vs_tanh(relu: torch.Tensor, tanh: torch.Tensor, m: dict, cfg, per_epoch: int, path) -> None:
    """Fig. 1's shape: training error against steps for the ReLU net (solid) and the tanh net (dashed)."""
    fig, ax = plots.new_figure(figsize=(7.5, 4.6))
    for errors, label, style in (
        (relu, f"ReLU (lr {cfg.lr_relu:g})", "C0-"),
        (tanh, f"tanh (lr {cfg.lr_tanh:g})", "C3--"),
    ):
        curve = running(errors, per_epoch)
        ax.plot(range(per_epoch, per_epoch + len(curve)), 100 * curve.numpy(), style, label=label)
    ax.axhline(100 * cfg.target_error, color="black", ls=":", lw=1, label=f"target: {cfg.target_error:.0%}")
    for key, colour in (("relu_steps_to_target", "C0"), ("tanh_steps_to_target", "C3")):
        if m[key] == m[key]:  # not NaN: the arm reached the target
            ax.axvline(m[key], color=colour, lw=0.8, alpha=0.6)
    ratio = m["tanh_over_relu_steps"]
    bound = "" if m["tanh_reached_target"] else " (tanh never reached it: a lower bound)"
    ax.set(xlabel=f"step (minibatches of {min(cfg.batch_size, int(m['n_train']))})",
           ylabel="training error (%, mean over the last epoch)", ylim=(0, 100),
           title=f"Steps to {cfg.target_error:.0%} training error, tanh / ReLU = {ratio:.2f}{bound}\n"
                 f"(paper, Fig. 1: 6x on CIFAR-10; our claim: at least 2x)")  # fmt: skip
    ax.legend(loc="upper right")
    plots.save(fig, path)


def dropout_curves(curve: torch.Tensor, m: dict, cfg, fit_error: float, path) -> None:
    """Train and test error against steps, with and without dropout (the arm without dropout stops at half the
    steps: its later entries are NaN); the final gaps as bars, and the fit level both arms must reach."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.6, 1]})
    steps = curve[:, 0].numpy()
    for col, label, style in ((1, "no dropout, train", "C1--"), (2, "no dropout, test", "C1-"),
                              (3, f"dropout {cfg.p_drop:g}, train", "C0--"), (4, f"dropout {cfg.p_drop:g}, test",
                                                                                "C0-")):  # fmt: skip
        ax.plot(steps, 100 * curve[:, col].numpy(), style, marker="o", ms=3, label=label)
    ax.axhline(100 * fit_error, color="black", ls=":", lw=1, label=f"fit level: train error {fit_error:.0%}")
    ax.axvline(m["nodrop_steps"], color="C1", lw=0.8, alpha=0.6)
    ax.set(
        xlabel=f"step (no dropout: {int(m['nodrop_steps'])}, dropout: {int(m['dropout_steps'])})",
        ylabel="error (%, central patches, test mode)",
        ylim=(0, 100),
        title=f"Emoji groups: {int(m['n_train'])} training / {int(m['n_test'])} test pictures",
    )
    ax.legend(loc="best", fontsize=9)
    names = ["no dropout", "dropout"]
    gaps = [100 * m["nodrop_gap"], 100 * m["dropout_gap"]]
    bars = ax2.bar(names, gaps, color=["C1", "C0"])
    ax2.bar_label(bars, fmt="%.1f")
    closed = (
        f"{m['gap_reduction']:.0%}\n(claim > 50%)"
        if m["gap_reduction"] == m["gap_reduction"]
        else f"undefined\n(a train error above {fit_error:.0%}; claim > 50%)"
    )
    ax2.set(ylabel="test error - train error (points)",
            title=f"Gap closed by dropout: {closed}",
            xlabel=f"test error {100 * m['nodrop_test_error']:.1f}% without, {100 * m['dropout_test_error']:.1f}% "
                   f"with dropout\n(claim: lower with dropout)")  # fmt: skip
    plots.save(fig, path)


def filters(W: torch.Tensor, path) -> None:
    """conv1's kernels as colour pictures, each scaled to its own range (Fig. 3 of the paper: 96 of 11x11x3)."""
    k, _, h, w = W.shape
    cols = min(k, 8)
    rows = (k + cols - 1) // cols
    lo = W.amin(dim=(1, 2, 3), keepdim=True)
    hi = W.amax(dim=(1, 2, 3), keepdim=True)
    tiles = ((W - lo) / (hi - lo + 1e-12)).permute(0, 2, 3, 1)  # (k, h, w, 3) in [0, 1]
    sheet = torch.ones(rows * (h + 1) - 1, cols * (w + 1) - 1, 3)  # white lines between kernels
    for i in range(k):
        r, c = divmod(i, cols)
        sheet[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[i]
    fig, ax = plots.new_figure(figsize=(0.9 * cols + 0.5, 0.9 * rows + 0.8))
    ax.imshow(sheet.numpy(), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"conv1: {k} learned {h}x{w}x3 kernels (dropout arm)")
    plots.save(fig, path)
