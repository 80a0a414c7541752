"""Figures for Glorot & Bengio (2010): each one is the picture of claims in experiment.CLAIMS.

The functions take what the experiment already measured (the probe history, the per-layer activations and
gradients at init and at the end, the final metrics) and only draw.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps

from dlcanon.core.plots import new_figure, save

from .model import predicted_backprop_factors

LABELS = {
    "sigmoid_std": "sigmoid, standard init",
    "tanh_std": "tanh, standard init",
    "tanh_norm": "tanh, normalised init",
    "relu_norm": "rectifier, normalised init",
    "softsign_std": "softsign, standard init",
    "softsign_norm": "softsign, normalised init",
}
COLOURS = {
    "sigmoid_std": "tab:red",
    "tanh_std": "tab:orange",
    "tanh_norm": "tab:blue",
    "relu_norm": "tab:green",
    "softsign_std": "tab:purple",
    "softsign_norm": "tab:brown",
}


def layer_colours(n: int):
    """One colour per hidden layer, layer 1 light (yellow) to the top layer dark (purple)."""
    return [colormaps["viridis"](0.9 - 0.85 * k / max(n - 1, 1)) for k in range(n)]


def activations_over_training(hist, names: list[str], cfg, path) -> None:
    """Like the paper's Fig. 2-4: each hidden layer's mean activation (line) and standard deviation (band) on the
    probe digits during training, one panel per arm; the 98th percentile (dots) where saturation means +-1."""
    cols = 2 if len(names) <= 4 else 3
    rows = -(-len(names) // cols)
    fig, axes = new_figure(rows, cols, figsize=(6 * cols, 3.8 * rows), squeeze=False)
    steps = hist["step"].numpy()
    L = hist["mean"].shape[2]
    for ax, (a, name) in zip(axes.flat, enumerate(names), strict=False):
        for k, colour in enumerate(layer_colours(L)):
            m, s = hist["mean"][:, a, k].numpy(), hist["std"][:, a, k].numpy()
            ax.plot(steps, m, color=colour, lw=1.6, label=f"layer {k + 1}")
            ax.fill_between(steps, m - s, m + s, color=colour, alpha=0.12)
            if name.startswith(("tanh", "softsign")):
                ax.plot(steps, hist["p98"][:, a, k].numpy(), ".", color=colour, ms=3)
        if name == "sigmoid_std":
            ax.axvspan(cfg.steps / 4, cfg.steps / 2, color="tab:red", alpha=0.08, label="early window")
            ax.axhline(0.1, color="tab:red", ls="--", lw=1, label="claim: top layer < 0.1")
        ax.set(
            title=LABELS[name],
            xlabel=f"SGD updates (minibatches of {cfg.batch_size} digits)",
            ylabel="activation z (mean ± std)",
        )
        if name in ("sigmoid_std", names[0]):
            ax.legend(fontsize=7, loc="best", ncol=2)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_axis_off()
    fig.suptitle(
        "Like Glorot & Bengio's Fig. 2-3: per-layer activations during training "
        "(dots: 98th percentile for tanh and softsign)"
    )
    save(fig, path)


def _density(ax, values: list[torch.Tensor], edges: np.ndarray, title: str, xlabel: str, legend: bool) -> None:
    for k, (v, colour) in enumerate(zip(values, layer_colours(len(values)), strict=True)):
        counts, _ = np.histogram(v.flatten().numpy(), bins=edges)  # values beyond the bins are left out
        h = counts / max(counts.sum(), 1) / np.diff(edges)  # a density over the bins
        ax.plot(0.5 * (edges[1:] + edges[:-1]), h, color=colour, lw=1.4, label=f"layer {k + 1}")
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    if legend:
        ax.legend(fontsize=7)


def _edges(values: list[torch.Tensor], q: float = 0.995, bins: int = 61) -> np.ndarray:
    """Symmetric bins covering the q-quantile of |value| over every layer of one panel."""
    flat = torch.cat([v.flatten() for v in values]).abs()
    flat = flat[:: max(1, len(flat) // 1_000_000)]  # torch.quantile takes at most 16M values: an even subsample
    return np.linspace(-1, 1, bins) * max(torch.quantile(flat, q).item(), 1e-30)  # all-zero gradients: any bins


def histograms(at_init: dict, path) -> None:
    """Like the paper's Fig. 6-8 for the tanh nets at initialisation: normalised histograms per layer of the
    activations, of the back-propagated gradients dCost/ds and of the weight gradients dCost/dW; standard init on
    top, normalised init below. Activations share the bins [-1, 1]; each gradient panel has its own scale, since
    the point is how the layers of one net compare."""
    fig, axes = new_figure(2, 3, figsize=(16, 7.5))
    columns = [
        ("z", "activations (Fig. 6)", "activation value z"),
        ("ds", "back-propagated gradients (Fig. 7)", "dCost/ds"),
        ("dW", "weight gradients (Fig. 8)", "dCost/dW"),
    ]
    for c, (key, title, xlabel) in enumerate(columns):
        for r, name in enumerate(("tanh_std", "tanh_norm")):
            values = at_init[name][key]
            edges = np.linspace(-1, 1, 61) if key == "z" else _edges(values)
            _density(axes[r, c], values, edges, f"{LABELS[name]}: {title}", xlabel, legend=c == 0)
    fig.suptitle("tanh nets at initialisation: standard init (top) vs normalised init (bottom)")
    save(fig, path)


def gradients_errors_sparsity(at_init: dict, at_end: dict, hist, names: list[str], metrics: dict, cfg, path) -> None:
    """Top left: Var[dCost/ds] per hidden layer (log scale), every arm, at init (solid) and after training (dashed),
    with the linear-regime prediction for the two tanh nets at init (grey, anchored at the top layer). Top right:
    Var[dCost/dW] per layer at init. Bottom left: error on the probe digits during training. Bottom right: the
    rectifier net's fraction of exactly-zero activations per layer, against the claim's 0.5."""
    fig, axes = new_figure(2, 2, figsize=(13, 9))
    backprop_variances(axes[0, 0], at_init, at_end, cfg)
    for name in at_init:
        var = [g.var(correction=0).item() for g in at_init[name]["dW"]]
        axes[0, 1].plot(range(1, len(var) + 1), var, "-o", color=COLOURS[name], label=LABELS[name])
    axes[0, 1].set(
        yscale="log",
        xlabel="hidden layer (its incoming weights W)",
        ylabel="Var[dCost/dW]",
        title="weight gradients by layer at init (Sec. 4.2, Fig. 8)",
    )
    axes[0, 1].set_xticks(range(1, cfg.n_layers + 1))
    axes[0, 1].legend(fontsize=7)
    errors(axes[1, 0], hist, names, metrics)
    if "relu_norm" in names:
        sparsity(axes[1, 1], hist, names.index("relu_norm"), metrics)
    save(fig, path)


def backprop_variances(ax, at_init: dict, at_end: dict, cfg) -> None:
    for name in at_init:
        for stats, ls, when in ((at_init, "-", "init"), (at_end, "--", "end")):
            var = [g.var(correction=0).item() for g in stats[name]["ds"]]
            ax.plot(range(1, len(var) + 1), var, ls, marker="o", color=COLOURS[name], label=f"{LABELS[name]} ({when})")
    sizes = (784,) + (cfg.n_hidden,) * cfg.n_layers + (10,)
    for name, init in (("tanh_std", "standard"), ("tanh_norm", "normalised")):
        factors = predicted_backprop_factors(sizes, init)[1:-1]  # W^1 .. W^{L-1}: between hidden layers
        top = at_init[name]["ds"][-1].var(correction=0).item()
        pred = [top * float(np.prod(factors[k:])) for k in range(len(factors))] + [top]
        ax.plot(range(1, len(pred) + 1), pred, ":", color="0.4", lw=2)
    ax.plot([], [], ":", color="0.4", lw=2, label="linear theory (f' = 1), tanh nets")
    ax.set(
        yscale="log",
        xlabel="hidden layer",
        ylabel="Var[dCost/ds] over digits and units",
        title="back-propagated gradients by layer (Sec. 4.2, Fig. 7)",
    )
    ax.set_xticks(range(1, cfg.n_layers + 1))
    ax.legend(fontsize=6.5, ncol=2)


def errors(ax, hist, names: list[str], metrics: dict) -> None:
    steps = hist["step"].numpy()
    for a, name in enumerate(names):
        ax.plot(
            steps,
            hist["error"][:, a].numpy(),
            color=COLOURS[name],
            label=f"{LABELS[name]}: test {100 * metrics[f'{name}_test_error']:.2f}%",
        )
    ax.set(
        yscale="log",
        xlabel="SGD updates",
        ylabel="error on the probe digits",
        title="error during training (paper, MNIST: sigmoid 2.21%, tanh-N 1.64%)",
    )
    ax.legend(fontsize=7)


def sparsity(ax, hist, a: int, metrics: dict) -> None:
    steps = hist["step"].numpy()
    L = hist["zero"].shape[2]
    for k, colour in enumerate(layer_colours(L)):
        ax.plot(steps, hist["zero"][:, a, k].numpy(), color=colour, label=f"layer {k + 1}")
    ax.axhline(0.5, color="tab:green", ls="--", lw=1, label="claim: > 0.5")
    ax.set(
        xlabel="SGD updates",
        ylabel="fraction of activations exactly 0",
        ylim=(0, 1),
        title=f"rectifier net: sparsity (end, test digits: {metrics['relu_norm_sparsity_end']:.3f})",
    )
    ax.legend(fontsize=7)
