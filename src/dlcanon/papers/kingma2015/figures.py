"""Figures for Kingma & Ba (2015): training objective against iterations (the shape of Figs. 1-3), final objective
against step size for every optimiser (the grid behind each claim), and the bias-correction ablation (Fig. 4)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

OPTIMISERS = ("adam", "sgdn", "adagrad", "rmsprop")
NAMES = {"adam": "Adam", "sgdn": "SGD Nesterov", "adagrad": "AdaGrad", "rmsprop": "RMSProp"}
TITLES = {"logreg": "MNIST logistic regression (Fig. 1)", "mlp": "MNIST multilayer network (Fig. 2)",
          "cnn": "MNIST small ConvNet (Fig. 3)"}  # fmt: skip


def smooth(y: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Running mean over the last k minibatches (the first points average fewer)."""
    c = torch.cat([torch.zeros(1), y.double().cumsum(0)])
    i = torch.arange(1, len(y) + 1)
    return ((c[i] - c[(i - k).clamp(min=0)]) / (i - (i - k).clamp(min=0))).float()


def best_col(final: torch.Tensor, k: int, n: int) -> int:
    f = final[k * n : (k + 1) * n]
    f = torch.where(torch.isfinite(f), f, torch.full_like(f, float("inf")))
    return k * n + int(f.argmin())


def curves(results: dict, cfg, metrics: dict, path) -> None:
    """Minibatch training objective against iterations, each optimiser at its best step size, one panel per task."""
    fig, axes = plots.new_figure(1, 3, figsize=(15, 4.4))
    n = cfg.n_alpha
    for ax, task in zip(axes, TITLES, strict=True):
        res = results[task]
        for k, o in enumerate(OPTIMISERS):
            c = best_col(res["final"], k, n)
            y = smooth(res["curve"][:, c])
            ax.plot(range(1, len(y) + 1), y.numpy(), label=f"{NAMES[o]} (α={float(res['alpha'][c]):.2g}): "
                    f"final {metrics[f'{task}_{o}_loss']:.3f}")  # fmt: skip
        ax.set_yscale("log")
        ax.set(xlabel=f"iterations (minibatches of {cfg.batch_size})", ylabel="training objective (nats, log scale)",
               title=TITLES[task])  # fmt: skip
        ax.legend(fontsize=8, title="best α on the grid; final on fixed sample", title_fontsize=8)
    fig.suptitle("Claims: Adam's final training objective ≤ each other method's (each at its best grid step size)")
    plots.save(fig, path)


def grid(results: dict, cfg, path) -> None:
    """Final training objective against step size alpha, every optimiser and task: where each best value lies."""
    fig, axes = plots.new_figure(1, 3, figsize=(15, 4.2))
    n = cfg.n_alpha
    for ax, task in zip(axes, TITLES, strict=True):
        res = results[task]
        for k, o in enumerate(OPTIMISERS):
            a, f = res["alpha"][k * n : (k + 1) * n], res["final"][k * n : (k + 1) * n]
            ax.plot(a.numpy(), f.clamp(max=10).numpy(), marker="o", label=NAMES[o])
        ax.set_xscale("log")
        ax.set_yscale("log")
        extra = " (α/√t decay)" if task == "logreg" else ""
        ax.set(xlabel=f"step size α{extra}", ylabel="final training objective (nats, capped at 10)",
               title=TITLES[task])  # fmt: skip
        ax.legend(fontsize=8)
    plots.save(fig, path)


def bias_correction(res: dict, cfg, path) -> None:
    """Fig. 4's shape: final objective against log10 alpha, with (red) and without (green) bias correction."""
    fig, axes = plots.new_figure(1, 2, figsize=(11, 4.2), sharey=True)
    n, k = cfg.n_alpha, 0
    for ax, b2 in zip(axes, (0.99, 0.9999), strict=True):
        for bc, colour in (("with", "tab:red"), ("without", "tab:green")):
            a, f = res["alpha"][k * n : (k + 1) * n], res["final"][k * n : (k + 1) * n]
            ax.plot(a.log10().numpy(), f.clamp(max=10).numpy(), marker="o", color=colour,
                    label=f"{bc} bias correction")  # fmt: skip
            k += 1
        ax.set(xlabel="log10(α)", ylabel="final training objective (nats, capped at 10)",
               title=f"β1 = {cfg.beta1}, β2 = {b2}")  # fmt: skip
        ax.set_yscale("log")
        ax.legend(fontsize=9)
    fig.suptitle(f"Bias correction (Sec. 6.4) on the MNIST network, after {cfg.mlp_steps} minibatches")
    plots.save(fig, path)
