"""Figures for Hinton, Osindero & Teh (2006): fine-tuning from the greedy DBN against random init
(finetuning.png), digits the DBN generates with a label clamped (generated.png), and the first layer's
features (layer1_features.png)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

PAPER_TEST_ERROR = 1.25
"""Sec. 6: 1.25% errors on the 10,000 MNIST test digits (28x28-500-500-2000, 10 label units, up-down)."""


def finetuning(hist: torch.Tensor, out: dict, cfg, path) -> None:
    """Left: test error on a fixed subset of test digits per fine-tuning epoch, both arms. Right: the final test
    error of each on all test digits, with the greedy DBN before fine-tuning (the paper's recognition)."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    epochs = hist[:, 4].numpy()
    ax.plot(epochs, 100 * hist[:, 2].numpy(), "C0-", marker="o", ms=3, label="from the greedy DBN")
    ax.plot(epochs, 100 * hist[:, 3].numpy(), "C1-", marker="o", ms=3, label="from random weights")
    ax.set(
        xlabel="fine-tuning epoch (backprop on the labelled digits)",
        ylabel="test error (%, first 1,000 digits)",
        title=f"{cfg.n_labelled:,} labels; the DBN's lower layers saw {cfg.n_unlabelled:,} unlabelled images",
    )
    ax.set_ylim(bottom=0)
    ax.legend()
    names = ["greedy DBN\n(free energy,\nno fine-tuning)", "DBN +\nbackprop", "random init +\nbackprop"]
    vals = [100 * out["greedy_test_error"], 100 * out["dbn_test_error"], 100 * out["random_test_error"]]
    bars = ax2.bar(names, vals, color=["C2", "C0", "C1"])
    ax2.bar_label(bars, fmt="%.2f%%")
    if cfg.n_labelled == 60_000:
        ax2.axhline(PAPER_TEST_ERROR, color="black", ls="--", lw=1, label="paper: 1.25% (all labels, up-down)")
        ax2.legend(fontsize=8)
    ax2.set(
        ylabel=f"test error (%, all {cfg.n_test:,} test digits)",
        title=f"McNemar z = {out['dbn_vs_random_mcnemar_z']:.1f} (claim: DBN lower, z > 3)",
    )
    plots.save(fig, path)


def generated(images: torch.Tensor, labels: torch.Tensor, seen: torch.Tensor, path) -> None:
    """One row per clamped label: the top-down pass after Gibbs sampling in the associative memory; the title
    says how often the DBN's own recognition gives back the clamped label."""
    per = int((labels == 0).sum())
    grid = images.view(10, per, 28, 28)
    out = torch.full((10 * 29 - 1, per * 29 - 1), float("nan"))
    for k in range(10):
        for j in range(per):
            out[k * 29 : k * 29 + 28, j * 29 : j * 29 + 28] = grid[k, j]
    fig, ax = plots.new_figure(figsize=(per * 0.9 + 1.5, 9.5))
    ax.imshow(out.numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_yticks([29 * k + 14 for k in range(10)], [f"label {k}" for k in range(10)])
    ax.set_xticks([])
    agree = (seen == labels).float().mean().item()
    ax.set_title("The greedy DBN generating with a label clamped (200 Gibbs steps in the top RBM, then one top-down "
                 f"pass).\nThe DBN recognises the clamped label in {100 * agree:.0f}% of them (chance 10%); the "
                 "paper shows samples after up-down fine-tuning", fontsize=9)  # fmt: skip
    plots.save(fig, path)


def receptive_fields(rbm, path, n: int = 40) -> None:
    """The first hidden layer's weights from the pixels (columns of W), each scaled alone (red +, blue -)."""
    W = rbm.W.detach()[:, :n].T.reshape(-1, 28, 28)
    W = W / W.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None]
    cols = 10
    rows = (len(W) + cols - 1) // cols
    out = torch.full((rows * 29 - 1, cols * 29 - 1), float("nan"))
    for i in range(len(W)):
        r, c = divmod(i, cols)
        out[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = W[i]
    fig, ax = plots.new_figure(figsize=(10, rows + 0.8))
    ax.imshow(out.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"First-layer features after greedy learning (weights of {len(W)} hidden units)", fontsize=9)
    plots.save(fig, path)
