"""Figures for Hinton (2005): exact log-likelihoods of CD-1 and exact ML (likelihood.png), the variational bound
while the second layer learns (stacking.png), Gibbs samples of the class RBMs with the classifier's verdicts
(samples.png), and what the class RBMs' hidden units look for (class_rbm_filters.png)."""

from __future__ import annotations

import torch
from matplotlib.patches import Rectangle

from dlcanon.core import plots


def likelihood(hist: torch.Tensor, out: dict, cfg, path) -> None:
    """Left: exact held-out log-likelihood per epoch, both arms, with independent pixels as the floor.
    Right: the final gap ML - CD-1 against the claim's bound, train and test."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.6, 1]})
    epochs = range(1, len(hist) + 1)
    for col, label, style in ((1, "exact ML, test", "C0-"), (0, "exact ML, train", "C0--"),
                              (3, "CD-1, test", "C1-"), (2, "CD-1, train", "C1--")):  # fmt: skip
        ax.plot(epochs, hist[:, col].numpy(), style, marker="o", ms=3, label=label)
    ax.axhline(out["indep_test_ll"], color="grey", ls=":", label="independent pixels, test")
    ax.set(xlabel="epoch", ylabel="log p(v) per digit (nats, exact)",
           title=f"RBM {cfg.side}x{cfg.side} visible, {cfg.n_hidden} hidden: exact log-likelihood")  # fmt: skip
    ax.legend(fontsize=9)
    gaps = [out["ml_train_ll"] - out["cd1_train_ll"], out["ml_test_ll"] - out["cd1_test_ll"]]
    bars = ax2.bar(["train", "test"], gaps, color=["C2", "C3"])
    ax2.bar_label(bars, fmt="%.3f")
    ax2.axhline(0.25, color="black", ls=":", label="claim: gap <= 0.25 nats")
    ax2.axhline(0.0, color="black", lw=0.6)
    gain = out["ml_test_ll"] - out["indep_test_ll"]
    ax2.set(ylabel="exact ML - CD-1 (nats per digit)",
            title=f"gap = {100 * out['cd1_gap_fraction']:.1f}% of ML's {gain:.2f}-nat gain\n"
                  "over independent pixels (claim <= 10%)")  # fmt: skip
    ax2.legend(fontsize=9)
    plots.save(fig, path)


def stacking(hist: torch.Tensor, out: dict, cfg, n_curve: int, path) -> None:
    """The bound per epoch of the second RBM's training, from its start (epoch 0: equal to the first RBM's exact
    log p(v)), on a fixed subset of digits; and the start and end values on all of them, as in the claims."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    epochs = range(len(hist))
    for col, split, color in ((0, "train", "C0"), (1, "test", "C1")):
        ax.plot(epochs, hist[:, col].numpy(), "-", color=color, marker="o", ms=3, label=f"bound, {split}")
        ax.axhline(hist[0, col].item(), color=color, ls=":", lw=1, label=f"start = one RBM's log p(v), {split}")
    ax.set(xlabel="epoch of the second RBM (0 = the first RBM transposed)", ylabel="nats per digit",
           title=f"Variational bound on log p(v), at most {n_curve:,} digits of each split")  # fmt: skip
    ax.legend(fontsize=8)
    names = ["bound\nbefore", "bound\nafter", "two-layer\nexact log p(v)"]
    for i, (split, color) in enumerate((("train", "C0"), ("test", "C1"))):
        vals = [out[f"bound_before_{split}"], out[f"bound_after_{split}"], out[f"two_layer_{split}_ll"]]
        gains = [v - vals[0] for v in vals]
        bars = ax2.bar([x + 0.38 * i for x in range(3)], gains, width=0.36, color=color, label=split)
        ax2.bar_label(bars, fmt="%+.3f", fontsize=8)
    ax2.set_xticks([0.19, 1.19, 2.19], names)
    ax2.axhline(0, color="black", lw=0.6)
    ax2.set(ylabel="nats per digit, relative to the start",
            title=f"All digits: gain from stacking {cfg.n_hidden} -> {cfg.side ** 2} units\n"
                  "(claim: bound after > bound before)")  # fmt: skip
    ax2.legend(fontsize=8)
    plots.save(fig, path)


def samples(samples: torch.Tensor, probs: torch.Tensor, cfg, path, cols: int = 10) -> None:
    """Rows: the ten class RBMs; columns: Gibbs chains. Beside each row, how many of its samples the classifier
    names correctly."""
    n = min(cols, samples.shape[1])
    s = cfg.class_side
    right = probs.argmax(-1) == torch.arange(10)[:, None]  # (10, chains)
    fig, ax = plots.new_figure(figsize=(1.0 * n + 2.2, 10.5))
    ax.imshow(mosaic(samples[:, :n].reshape(10 * n, s, s), 10, n).numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_yticks([(s + 1) * k + s / 2 for k in range(10)])
    ax.set_yticklabels([f"RBM of {k}: {int(right[k].sum())}/{right.shape[1]}" for k in range(10)])
    ax.set_xticks([])
    for k in range(10):  # mark the shown samples the classifier gets wrong
        for j in range(n):
            if not right[k, j]:
                ax.add_patch(Rectangle((j * (s + 1) - 0.5, k * (s + 1) - 0.5), s, s, fill=False,
                                                 ec="red", lw=1.5))  # fmt: skip
    ax.set_title(f"Gibbs samples ({cfg.gibbs_steps} steps from noise), p(v|h) of the last step; red: the "
                 f"classifier names another digit.\nRecognised: {100 * right.float().mean():.0f}% of "
                 f"{right.numel()} samples (claim >= 50%, chance 10%)", fontsize=9)  # fmt: skip
    plots.save(fig, path)


def filters(rbms, cfg, path, per_class: int = 10) -> None:
    """The first hidden units' weights W_.j of each class RBM, as images (red +, blue -), each scaled alone."""
    n = min(per_class, cfg.class_hidden)
    s = cfg.class_side
    W = torch.stack([rbm.W.detach()[:, :n].T for rbm in rbms]).reshape(10 * n, s, s)  # (10 n, s, s)
    W = W / W.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None]
    fig, ax = plots.new_figure(figsize=(1.0 * n, 10.5))
    ax.imshow(mosaic(W, 10, n).numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_yticks([(s + 1) * k + s / 2 for k in range(10)])
    ax.set_yticklabels([f"RBM of {k}" for k in range(10)])
    ax.set_xticks([])
    ax.set_title("Class RBMs: weights of the first hidden units (red +, blue -)", fontsize=9)
    plots.save(fig, path)


def mosaic(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(rows * cols, h, w) -> one (rows * (h + 1) - 1, cols * (w + 1) - 1) image, NaN (blank) between tiles."""
    n, h, w = images.shape
    out = torch.full((rows * (h + 1) - 1, cols * (w + 1) - 1), float("nan"))
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = images[i]
    return out
