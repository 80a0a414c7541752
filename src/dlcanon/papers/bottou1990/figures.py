"""Figures for Bottou & Gallinari (1990): each one is the picture of a claim in experiment.CLAIMS.

The functions take what the experiment already computed (gradient differences, accuracies, weights) and only draw.
"""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

FLOOR = 1e-18
"""Differences of 0 or below this (the off-table check is a difference of two sums, so its rounding can make it
slightly negative) are drawn here, hollow, so the log axis can show them."""
LOSSES = ("squared error", "mean squared error", "softmax cross-entropy")  # graph i uses loss i % 3
ARM_NAMES = {"kmeans": "k-means\n(own rule)", "frozen": "frozen\n(at start)", "gradient": "gradient\n(backprop)"}


def _log_points(ax, x, d, **kw) -> None:
    """Points on a log axis; those at or below FLOOR drawn hollow at FLOOR."""
    d = np.asarray(d, dtype=float)
    zero = d <= FLOOR
    ax.plot(np.asarray(x)[~zero], d[~zero], "o", **kw)
    ax.plot(np.asarray(x)[zero], np.full(zero.sum(), FLOOR), "o", mfc="white", **{**kw, "label": None})


def gradient_parity(graphs: list[float], lenet: dict[str, float], bar: float, path) -> None:
    """Left: per random module graph, the largest |framework - autograd| derivative. Right: per LeNet-1989 weight
    group, the largest |framework - lecun1989| derivative. Both against the claims' bar and float64 rounding."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.4), sharey=True, gridspec_kw={"width_ratios": [1.4, 1]})
    i = np.arange(len(graphs))
    for k, loss in enumerate(LOSSES):
        _log_points(ax, i[k::3], graphs[k::3], color=f"C{k}", ms=6, label=loss)
    ax.set(xlabel="random module graph (index)", title=f"{len(graphs)} random graphs vs torch.autograd",
           ylabel="largest |dE/dw, framework − reference|\n(float64, log scale; hollow: 0 up to rounding)",
           yscale="log")
    names = list(lenet)
    _log_points(ax2, np.arange(len(names)), list(lenet.values()), color="C4", ms=7)
    ax2.set_xticks(np.arange(len(names)), names, rotation=40, ha="right")
    ax2.set(xlabel="LeNet-1989 weight group", title="LeNet-1989 from modules vs lecun1989")
    for a in (ax, ax2):
        a.axhline(bar, color="k", ls="--", lw=1.2, label=f"claim: < {bar:g}")
        a.axhline(np.finfo(np.float64).eps, color="0.5", ls=":", lw=1, label="float64 rounding (2.2e-16)")
    ax.set_ylim(FLOOR / 5, bar * 1e6)  # room above the claim's line for the legend
    ax.legend(loc="upper center", fontsize=9, ncol=2)
    fig.suptitle("Each module back-propagates through itself: the composed gradients are exact")
    save(fig, path)


def prototype_accuracy(arms: dict, restarts: int, bar: float, path) -> None:
    """Test accuracy of every restart per arm (dots) and their mean (bar), with the claims' references."""
    fig, ax = new_figure(figsize=(7.5, 4.6))
    means = {}
    for i, rule in enumerate(ARM_NAMES):
        acc = 100 * np.array([arms[f"{rule}/{r}"]["test_accuracy"] for r in range(restarts)])
        means[rule] = acc.mean()
        ax.plot(np.full(len(acc), i) + np.linspace(-0.12, 0.12, len(acc)), acc, "o", color=f"C{i}", alpha=0.7)
        ax.hlines(acc.mean(), i - 0.3, i + 0.3, color=f"C{i}", lw=3)
        ax.annotate(f"{acc.mean():.1f}%", (i + 0.32, acc.mean()), va="center", fontsize=10)
    ax.axhline(100 * bar, color="k", ls="--", lw=1.2, label=f"claim: k-means mean ≥ {100 * bar:g}%")
    ax.axhline(means["frozen"], color="C1", ls=":", lw=1.2, label="claim: k-means mean above the frozen mean")
    ax.set_xticks(range(len(ARM_NAMES)), list(ARM_NAMES.values()))
    ax.set_xlim(-0.5, len(ARM_NAMES) - 0.2)
    ax.set_ylim(min(100 * bar, *means.values()) - 8, 100)
    ax.set(xlabel="how the prototype module learns (same graph, data and starts)",
           ylabel=f"test accuracy (%), {restarts} restarts\n(dots; thick line: mean)",
           title="Prototypes under a linear classifier, sklearn digits")
    ax.legend(loc="lower right", fontsize=9)
    save(fig, path)


def prototypes(start: np.ndarray, after: np.ndarray, path) -> None:
    """The K prototypes (8x8 images) of restart 0 at their start and after online k-means."""
    fig, axes = new_figure(1, 2, figsize=(11, 2.9))
    for ax, m, title in ((axes[0], start, "at the start: training digits drawn at random"),
                         (axes[1], after, "after online k-means (the module's own rule)")):
        ax.imshow(tile(m.reshape(-1, 8, 8)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title)
        ax.axis("off")
    fig.suptitle(f"The {len(start)} prototypes of restart 0 (8x8 pixels each)")
    save(fig, path)


def tile(images: np.ndarray, cols: int = 10) -> np.ndarray:
    """(n, h, w) -> one (rows*(h+1), cols*(w+1)) image with a blank line between tiles."""
    n, h, w = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + 1), cols * (w + 1)), np.nan)  # nan: drawn as blank
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = images[k]
    return out


def lenet(history: list, W1: np.ndarray, bar: float, path) -> None:
    """Train/test error after each epoch against the claim's bar and LeCun et al.'s 5.0%; the 12 H1 kernels."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.3, 1]})
    h = np.array(history) * 100 if history else np.zeros((0, 2))
    epochs = np.arange(1, len(h) + 1)
    ax.plot(epochs, h[:, 0], "o--", label="train error")
    ax.plot(epochs, h[:, 1], "o-", label="test error")
    ax.axhline(100 * bar, color="k", ls="--", lw=1.2, label=f"claim: test error ≤ {100 * bar:g}%")
    ax.axhline(5.0, color="C2", ls=":", lw=1.2, label="LeCun et al. 1989: 5.0% (23 passes)")
    ax.set_xticks(epochs)
    ax.set_ylim(0, max(100 * bar, *h.flatten(), 0) * 1.7)  # room above the claim's line for the legend
    ax.set(xlabel="epoch (pass over the training digits)", ylabel="classification error (%)",
           title="LeNet-1989 from framework modules, MNIST 16x16")
    ax.legend(loc="upper right", fontsize=9)
    v = abs(W1).max()
    image = ax2.imshow(tile(W1, cols=6), cmap="RdBu_r", vmin=-v, vmax=v)
    fig.colorbar(image, ax=ax2, shrink=0.7, label="weight")
    ax2.set_title("the 12 H1 kernels (shared 5x5 weights)")
    ax2.axis("off")
    save(fig, path)
