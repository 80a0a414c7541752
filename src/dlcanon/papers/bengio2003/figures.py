"""Figures for Bengio et al. (2003): each one is the picture of claims in experiment.CLAIMS.

The functions take what the experiment already computed (per-token probabilities, the validation curve, nearest
neighbours) and only draw.
"""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

COLOURS = {"kn": "0.55", "nplm": "tab:blue", "mix": "tab:purple"}
NAMES = {"kn": "Kneser-Ney trigram", "nplm": "neural network (NPLM)", "mix": "mixture of both"}


def perplexities(metrics: dict, curve: dict, p_nn: dict, p_kn: dict, lam: float, path) -> None:
    """Left: test and validation perplexity of the three models. Middle: the network's validation perplexity as it
    trains, against the trigram's. Right: perplexity of the mixture as a function of its weight."""
    fig, (ax, ax2, ax3) = new_figure(1, 3, figsize=(14, 4.3))
    x = np.arange(3)
    for i, split in enumerate(("valid", "test")):
        values = [metrics[f"{k}_{split}_ppl"] for k in NAMES]
        bars = ax.bar(x + (i - 0.5) * 0.38, values, 0.38, color=list(COLOURS.values()), alpha=[0.45, 1.0][i],
                      edgecolor="k", lw=0.5, label=["validation (Northanger Abbey)", "test (Persuasion)"][i])
        for b, v in zip(bars, values, strict=True):
            ax.annotate(f"{v:.1f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, ["KN trigram", "NPLM", "mixture"])
    ax.set_ylim(0, max(metrics["kn_test_ppl"], metrics["nplm_test_ppl"]) * 1.25)
    ax.set(ylabel="perplexity (lower is better)", title="Held-out novels")
    ax.legend(loc="upper right", fontsize=8)

    ax2.plot([r["epochs"] for r in curve["train"]], [r["ppl"] for r in curve["train"]], "-", color=COLOURS["nplm"],
             alpha=0.5, label="NPLM, training batches")
    ax2.plot([r["epochs"] for r in curve["valid"]], [r["ppl"] for r in curve["valid"]], "o-", color=COLOURS["nplm"],
             label="NPLM, validation novel")
    ax2.axhline(metrics["kn_valid_ppl"], color=COLOURS["kn"], ls="--", label="KN trigram, validation")
    ax2.axhline(metrics["mix_valid_ppl"], color=COLOURS["mix"], ls="--", label="mixture, validation")
    top = max(metrics["kn_valid_ppl"], max(r["ppl"] for r in curve["valid"]))
    ax2.set_ylim(0, 2.5 * top)  # the first training batches start near |V|: leave them off the top
    ax2.set(xlabel="passes through the training novels (epochs)", ylabel="perplexity",
            title="The network while it trains")
    ax2.legend(fontsize=8)

    grid = np.linspace(0, 1, 101)
    for split, style in (("valid", "--"), ("test", "-")):
        ppl = [np.exp(-np.log(w * p_nn[split] + (1 - w) * p_kn[split]).mean()) for w in grid]
        ax3.plot(grid, ppl, style, color=COLOURS["mix"], label={"valid": "validation", "test": "test"}[split])
    ax3.axvline(lam, color="k", lw=1, ls=":", label=f"λ fitted on validation = {lam:.2f}")
    ax3.set(xlabel="λ, the network's weight in λ·NPLM + (1−λ)·KN", ylabel="perplexity",
            title="Mixing the two (λ = 0: KN alone, 1: NPLM alone)")
    ax3.legend(fontsize=8)
    save(fig, path)


def neighbours(per: dict, per_control: dict, per_init: dict, totals: dict, bar: float, examples: dict, groups: dict,
               vocab: list[str], k: int, path) -> None:
    """Left: per category, the share of a query word's k nearest neighbours in C that are in its category, for the
    trained features, for frequency-matched stand-in words, and for the untrained features. Right: one query word
    per category with its neighbours, those in the category in colour."""
    names = list(per)
    fig, (ax, ax2) = new_figure(1, 2, figsize=(14, 0.42 * len(names) + 1.8), gridspec_kw={"width_ratios": [1, 1.3]})
    y = np.arange(len(names))[::-1]
    for i, (label, values, colour) in enumerate((("trained C", per, "tab:blue"),
                                                 ("frequency-matched stand-ins", per_control, "0.6"),
                                                 ("untrained C", per_init, "0.85"))):
        ax.barh(y + (1 - i) * 0.27, [values[n] for n in names], 0.27, color=colour, label=label)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set(xlabel=f"share of the {k} nearest neighbours (cosine in C) in the same category",
           title=f"All query words: trained {totals['trained']:.2f}, stand-ins {totals['control']:.2f}, "
                 f"untrained {totals['untrained']:.2f}\n(claim: trained − stand-ins > {bar:g})")
    ax.legend(loc="lower right", fontsize=8)

    ax2.axis("off")
    ax2.set_title(f"One query word per category and its {k} nearest neighbours", fontsize=10)
    for row, name in enumerate(names):
        query, nn = examples[name]
        yy = 1 - (row + 0.5) / len(names)
        ax2.text(0.0, yy, vocab[query], fontsize=9, weight="bold", va="center", transform=ax2.transAxes)
        for j, i in enumerate(nn):
            hit = int(i) in groups[name]
            ax2.text(0.2 + j * 0.16, yy, vocab[int(i)], fontsize=9, va="center", transform=ax2.transAxes,
                     color="tab:blue" if hit else "0.45", weight="bold" if hit else "normal")
    save(fig, path)
