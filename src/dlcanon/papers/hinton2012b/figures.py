"""Figures for Hinton et al. (2012): the claims' pictures (errors.png, ensemble.png) and the first-layer features
with and without dropout (features.png, after the paper's Fig. 5 (from memory, not checked against the paper))."""

from __future__ import annotations

import torch

from dlcanon.core import plots

PAPER_ERRORS = {"plain": 160, "dropout": 130, "dropout_input": 110}
"""Test errors of 10,000 quoted in the paper: best published standard net; 50% hidden dropout; plus 20% pixels."""
LABELS = {"plain": "no dropout", "dropout": "50% hidden dropout", "dropout_input": "+ 20% input dropout"}
COLORS = {"plain": "C1", "dropout": "C0", "dropout_input": "C2"}


def errors(history: torch.Tensor, metrics: dict[str, float], cfg, path) -> None:
    """Left: train (dashed) and test (solid) error of the three mean networks during training.
    Right: final test errors beside the paper's, each as a fraction of its own no-dropout figure."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12.5, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
    epochs = history[:, 0].numpy()
    for i, arm in enumerate(PAPER_ERRORS):
        ax.plot(epochs, 100 * history[:, 1 + 2 * i].numpy(), "--", color=COLORS[arm], lw=1)
        ax.plot(epochs, 100 * history[:, 2 + 2 * i].numpy(), "-", color=COLORS[arm], marker="o", ms=3,
                label=f"{LABELS[arm]}: test (train dashed)")  # fmt: skip
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(0, 100)
    net = f"784-{'-'.join(map(str, cfg.hidden))}-10"
    ax.set(xlabel=f"epoch (pass through the {cfg.n_train:,} training digits)", ylabel="error of the mean network (%)",
           title=f"MNIST, {net} logistic units (first {cfg.curve_n:,} train / test digits)")  # fmt: skip
    ax.legend(fontsize=9)
    ours = [metrics[f"{arm}_test_error"] / metrics["plain_test_error"] for arm in PAPER_ERRORS]
    paper = [PAPER_ERRORS[arm] / PAPER_ERRORS["plain"] for arm in PAPER_ERRORS]
    x = torch.arange(3).numpy()
    b1 = ax2.bar(x - 0.2, paper, 0.4, color="lightgrey", label="paper: 160 / ~130 / ~110 errors (60k, 3,000 epochs)")
    b2 = ax2.bar(x + 0.2, ours, 0.4, color=[COLORS[a] for a in PAPER_ERRORS], label="ours")
    ax2.bar_label(b1, [f"{PAPER_ERRORS[a]}" for a in PAPER_ERRORS], fontsize=8)
    ax2.bar_label(b2, [f"{int(metrics[f'{a}_test_errors'])}" for a in PAPER_ERRORS], fontsize=8)
    ax2.axhline(0.90, color="black", ls=":", lw=1, label="claim: dropout ≤ 0.90 (10% fewer)")
    ax2.axhline(0.85, color="black", ls="-.", lw=1, label="claim: + input dropout ≤ 0.85")
    ax2.set_xticks(x, [LABELS[a] for a in PAPER_ERRORS], fontsize=8)
    ax2.set(ylabel="test errors / errors without dropout", ylim=(0, 1.35),
            title=f"z (McNemar, vs no dropout): {metrics['dropout_vs_plain_mcnemar_z']:.1f} and "
                  f"{metrics['dropout_input_vs_plain_mcnemar_z']:.1f}")  # fmt: skip
    ax2.legend(fontsize=8, loc="upper right")
    plots.save(fig, path)


def ensemble(curve: dict[str, torch.Tensor], metrics: dict[str, float], cfg, path) -> None:
    """Test error of the average of the first k thinned nets against k, with the mean network as a line."""
    fig, ax = plots.new_figure(figsize=(7.5, 4.8))
    k = curve["k"].cpu().numpy()
    ax.plot(k, 100 * curve["geometric"].cpu().numpy(), "C0-", label="geometric mean of k thinned nets")
    ax.plot(k, 100 * curve["arithmetic"].cpu().numpy(), "C2--", label="arithmetic mean of k thinned nets")
    mean = 100 * metrics["mean_net_ens_test_error"]
    ax.axhline(mean, color="black", lw=1.2, label=f"mean network (weights × retention): {mean:.2f}%")
    ens = 100 * metrics["ensemble_test_error"]
    ax.axhspan(ens * 0.9, ens * 1.1, color="grey", alpha=0.15, label=f"claim: mean net within ±10% of k={len(k)}")
    single = 100 * metrics["thinned_net_test_error"]
    ax.axhline(single, color="C3", ls=":", label=f"one thinned net, on average: {single:.2f}%")
    ax.set_xscale("log")
    ax.set(xlabel="k, thinned nets averaged (each one draw of the dropout masks)", ylabel="test error (%)",
           title=f"Dropout as an ensemble: first {cfg.ensemble_n_test:,} test digits")  # fmt: skip
    ax.legend(fontsize=9)
    plots.save(fig, path)


@torch.no_grad()
def features(arms: dict, path, n: int = 24) -> None:
    """Incoming weights of the first n hidden units of layer 1 as 28x28 images, per arm."""
    fig, axes = plots.new_figure(1, len(arms), figsize=(4.2 * len(arms), 3.2))
    for ax, (arm, net) in zip(axes, arms.items(), strict=True):
        W = net.W[0][:, :n].T.reshape(-1, 28, 28).cpu()  # (n, 28, 28)
        W = W / W.abs().amax((1, 2), keepdim=True).clamp_min(1e-12)  # each unit on its own scale
        ax.imshow(mosaic(W, 4, n // 4).numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(f"{LABELS[arm]}", fontsize=10)
        ax.set_axis_off()
    fig.suptitle("First-layer features: incoming weights of 24 hidden units (red +, blue −)")
    plots.save(fig, path)


def mosaic(images: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(rows * cols, h, w) -> one (rows * (h + 1) - 1, cols * (w + 1) - 1) image, NaN (blank) between tiles."""
    n, h, w = images.shape
    out = torch.full((rows * (h + 1) - 1, cols * (w + 1) - 1), float("nan"))
    for i in range(min(n, rows * cols)):
        r, c = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = images[i]
    return out
