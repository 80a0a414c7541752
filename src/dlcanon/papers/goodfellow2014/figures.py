"""Figures for Goodfellow et al. (2014): the ring's samples over training (ring_samples.png), MNIST samples beside
test images with the Parzen estimates against the paper's (mnist_samples.png, after Fig. 2 and Table 1), and the
two generator losses' training curves (training_curves.png, the argument of Sec. 3)."""

from __future__ import annotations

import math

import torch

from dlcanon.core import plots

LABELS = {"non_saturating": "non-saturating: max log D(G(z))", "saturating": "saturating: min log(1 − D(G(z)))"}
COLOURS = {"non_saturating": "C0", "saturating": "C3"}
PAPER_PARZEN = 225.0


def ring(picture: dict, metrics: dict, path) -> None:
    """One row per arm, one column per point of training: 1,000 samples over the modes' 3σ circles."""
    steps, centres, std = picture["steps"], picture["centres"], picture["std"]
    fig, axes = plots.new_figure(2, len(steps), figsize=(3.2 * len(steps), 6.6), squeeze=False)
    lim = float(centres.abs().max()) * 1.5
    for row, arm in enumerate(("non_saturating", "saturating")):
        for col, (t, x) in enumerate(zip(steps, picture[arm], strict=True)):
            ax = axes[row, col]
            for c in centres.tolist():
                ax.add_patch(plots.plt.Circle(c, 3 * std, fill=False, color="k", lw=0.8))
            ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, color=COLOURS[arm])
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=f"iteration {t}")
            ax.tick_params(labelsize=7)
        m = {k: metrics[f"ring_{arm}_{k}"] for k in ("modes_covered", "high_quality")}
        axes[row, 0].set_ylabel(f"{LABELS[arm]}\n{m['modes_covered']:.0f}/{len(centres)} modes, "
                                f"{m['high_quality']:.0%} within 3σ", fontsize=8)
    fig.suptitle("Ring of Gaussians (circles: 3σ around each mode): samples of G during Algorithm 1")
    plots.save(fig, path)


def grid(x: torch.Tensor, n: int = 10) -> torch.Tensor:
    """The first n*n of (N, 784) images -> one (28n, 28n) picture (n shrinks to fit N)."""
    n = min(n, math.isqrt(len(x)))
    x = x[: n * n].reshape(n, n, 28, 28)
    return x.permute(0, 2, 1, 3).reshape(n * 28, n * 28)  # (rows, 28, cols, 28) -> (28n, 28n)


def samples(shown: dict, test: torch.Tensor, metrics: dict, path) -> None:
    """Samples of both arms and of the independent-pixels model beside test images, then the Parzen estimates."""
    names = ("non_saturating", "saturating", "independent_pixels")
    fig, axes = plots.new_figure(1, 5, figsize=(22, 4.8), gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.3]})
    titles = {"non_saturating": "G, non-saturating loss", "saturating": "G, saturating loss",
              "independent_pixels": "independent pixels"}
    for ax, name in zip(axes, names, strict=False):
        ax.imshow(grid(shown[name]).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{titles[name]}\nconfidence {metrics[f'{name}_confidence']:.2f}, "
                     f"{metrics[f'{name}_classes_present']:.0f} classes ≥ 2%", fontsize=9)
        ax.set_axis_off()
    axes[3].imshow(grid(test).numpy(), cmap="gray", vmin=0, vmax=1)
    axes[3].set_title(f"MNIST test images\nconfidence {metrics['real_confidence']:.2f}", fontsize=9)
    axes[3].set_axis_off()
    ax = axes[4]
    bars = [*names, "real"]
    values = [metrics[f"{b}_parzen_ll"] for b in bars]
    ax.bar(range(len(bars)), values, color=["C0", "C3", "C7", "C2"],
           yerr=[metrics.get(f"{b}_parzen_se", 0.0) for b in bars])
    ax.axhline(PAPER_PARZEN, color="k", ls="--", lw=1, label="paper, Table 1: 225 ± 2")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(range(len(bars)), ["non-sat.", "saturating", "indep. pixels", "training\nimages"], fontsize=8)
    ax.set(ylabel="Parzen log-likelihood of test images (nats)", title="Parzen window on 10,000 samples")
    ax.legend(fontsize=8, loc="lower left")
    plots.save(fig, path)


def curves(history: dict, cfg, early: int, metrics: dict, path) -> None:
    """G's gradient norm (every step, log scale), D's output on samples, and both players' losses, per arm."""
    fig, axes = plots.new_figure(1, 3, figsize=(16, 4.4))
    ax = axes[0]
    for arm in ("non_saturating", "saturating"):
        norms = history["grad_norms"][arm]
        ax.plot(range(1, len(norms) + 1), norms, color=COLOURS[arm], lw=0.5, alpha=0.8, label=LABELS[arm])
    ratio = metrics["early_grad_norm_ratio"]
    ax.axvspan(0, early, color="k", alpha=0.07, label=f"first {early} steps: mean ratio {ratio:.0f}")
    ax.set(yscale="log", xlabel="iteration of Algorithm 1", ylabel="‖∇θg (generator loss)‖",
           title="Generator's gradient norm (Sec. 3)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for arm in ("non_saturating", "saturating"):
        ax.plot(history["step"], history[f"{arm}_D_G_z"], color=COLOURS[arm], label=f"{LABELS[arm]}: D(G(z))")
        ax.plot(history["step"], history[f"{arm}_D_x"], color=COLOURS[arm], ls=":", label="D(x), same arm")
    ax.set(ylim=(0, 1), xlabel="iteration of Algorithm 1", ylabel="mean output of D (probability 'data')",
           title="How sure D is (train mode, dropout on)")
    ax.legend(fontsize=7)
    ax = axes[2]
    for arm in ("non_saturating", "saturating"):
        ax.plot(history["step"], history[f"{arm}_loss_d"], color=COLOURS[arm], label=f"−V(D, G), {arm} arm")
        ax.plot(history["step"], history[f"{arm}_loss_g"], color=COLOURS[arm], ls="--", label=f"G's loss, {arm} arm")
    ax.axhline(2 * math.log(2), color="k", lw=0.6, ls=":", label="−V at the optimum: log 4")
    ax.set(xlabel="iteration of Algorithm 1", ylabel="loss (nats per example)", title="Both players' losses")
    ax.legend(fontsize=7)
    plots.save(fig, path)
