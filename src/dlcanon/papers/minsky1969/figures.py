"""The figure of Minsky & Papert (1969): one panel per claim group of experiment.CLAIMS.

`fig_data` holds what the experiment's parts recorded for drawing; `m` is the run's metrics.
"""

from __future__ import annotations

import torch

from dlcanon.core.plots import new_figure, save


def draw(fig_data: dict, m: dict[str, float], cfg, path) -> None:
    fig, ax = new_figure(2, 2, figsize=(12, 9))
    rule(ax[0, 0], fig_data["rule"])
    ceiling(ax[0, 1], fig_data, m, cfg)
    order(fig, ax[1, 0], fig_data["order"])
    backprop(ax[1, 1], fig_data["mlp"], m, cfg)
    save(fig, path)


def rule(ax, mistakes_by_task: dict[str, list[int]]) -> None:
    """The textbook rule from w = 0: mistakes per epoch reach 0 on AND, never on XOR."""
    for (name, mistakes), marker in zip(mistakes_by_task.items(), "os", strict=False):
        ax.plot(range(1, len(mistakes) + 1), mistakes, marker + "-", label=name.upper() + " (4 inputs)")
    ax.set(xlabel="epoch (one pass over the 4 inputs; w starts at 0, fixed order)", ylabel="mistakes in the epoch",
           title="Perceptron rule: AND converges, XOR never does", ylim=(-0.3, 4.5))  # fmt: skip
    ax.legend(loc="center right")


def ceiling(ax, fig_data: dict, m: dict[str, float], cfg) -> None:
    """One layer on n-bit parity (n = 2 is XOR): every trained or enumerated unit at or under the ceiling."""
    ns, ceil = zip(*fig_data["ceiling"].items(), strict=True)
    ax.plot(ns, [100 * c for c in ceil], "k-", lw=2, label="claim: ≤ ceiling (proved)")
    ex = fig_data["exhaustive"]
    ax.plot(list(ex), [100 * v for v in ex.values()], "ks", mfc="none", ms=11, label="all threshold units: best")
    par = {2: (m["perceptron_xor_accuracy"], m["perceptron_xor_best_seen"], None), **fig_data["parity"]}
    ax.plot(list(par), [100 * v[1] for v in par.values()], "^", color="tab:blue", label="perceptron: best, any epoch")
    ax.plot(list(par), [100 * v[0] for v in par.values()], "o", color="tab:orange", label="perceptron: best final")
    means = {n: v[2] for n, v in par.items() if v[2] is not None}
    ax.plot(list(means), [100 * v for v in means.values()], "x", color="tab:green", label="perceptron: mean final")
    ax.plot([2, cfg.mlp_n], [100 * m["mlp_xor_accuracy"], 100 * m["mlp_parity_accuracy"]], "*", ms=15,
            color="tab:red", label="hidden layer: worst net")  # fmt: skip
    ax.axhline(50, color="grey", ls=":", label="chance: 50%")
    ax.set(xlabel="n (bits of parity; n = 2 is XOR)", ylabel="accuracy on all 2^n inputs (%)",
           title=f"One layer on parity ({cfg.restarts} perceptrons per n)", ylim=(45, 130))  # fmt: skip
    ax.set_yticks(range(50, 101, 10))
    ax.legend(fontsize=9, loc="upper right", ncol=2)


def order(fig, ax, data: dict) -> None:
    """Masks of order k on n points: the rule's final accuracy, and whether the LP finds any separator."""
    ns = sorted({n for n, _ in data["cases"]})
    grid = torch.full((len(ns), max(ns)), float("nan"))
    for (n, k), a, sep in zip(data["cases"], data["accuracy"], data["separable"], strict=True):
        grid[ns.index(n), k - 1] = a
        ax.text(k - 1, ns.index(n), f"{100 * a:.0f}%\nLP {'✓' if sep else '✗'}", ha="center",
                va="center", fontsize=10, color="black" if a > 0.8 else "white")  # fmt: skip
    im = ax.imshow(100 * grid.numpy(), cmap="viridis", vmin=30, vmax=100, aspect="auto")
    fig.colorbar(im, ax=ax, label="perceptron accuracy on all 2^n inputs (%)")
    ax.set(xticks=range(max(ns)), xticklabels=range(1, max(ns) + 1), yticks=range(len(ns)), yticklabels=ns,
           xlabel="order k of the masks", ylabel="n (bits of parity)",
           title="Order-k masks: separable (LP ✓) and learned only at k = n")  # fmt: skip


def backprop(ax, curve: list[tuple[int, float, float]], m: dict[str, float], cfg) -> None:
    """The one-hidden-layer nets on n-bit parity, against the best perceptron on the same n."""
    if curve:
        steps, worst, mean = zip(*curve, strict=True)
        ax.plot(steps, [100 * w for w in worst], "o-", ms=3, label=f"worst of {cfg.mlp_nets} nets")
        ax.plot(steps, [100 * a for a in mean], "s-", ms=3, label="mean of the nets")
    ax.axhline(100, color="black", ls=":", label="claim: 100%")
    ax.axhline(100 * m["perceptron_parity_accuracy"], color="tab:orange", ls="--",
               label="best perceptron, same n (claim: > 30 points below)")  # fmt: skip
    ax.axhline(50, color="grey", ls=":", lw=1, label="chance: 50%")
    hidden = cfg.mlp_n * cfg.mlp_hidden_per_bit
    ax.set(xlabel="Adam step (full batch)", ylabel=f"accuracy on all 2^{cfg.mlp_n} inputs (%)", ylim=(45, 105),
           title=f"{cfg.mlp_n}-bit parity, one hidden layer of {hidden} tanh units")  # fmt: skip
    ax.legend(fontsize=9, loc="lower right", bbox_to_anchor=(1, 0.18))
