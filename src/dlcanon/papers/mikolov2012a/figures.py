"""Figures for Mikolov et al. (2013b): the small Table 1 (table1.png), the phrases found (phrases.png), and
the countries and their capitals projected to two dimensions, as in the paper's Fig. 2 (countries.png)."""

from __future__ import annotations

import numpy as np
import torch

from dlcanon.core import plots
from dlcanon.core.data import gensim_data

PAPER_TABLE1 = {  # (syntactic, semantic, total) accuracy in %, 300-d skip-gram, 1B words
    "neg5": (63, 54, 59), "neg15": (63, 58, 61), "hs": (53, 40, 47),
    "neg5_sub": (61, 58, 60), "neg15_sub": (61, 61, 61), "hs_sub": (52, 59, 55),
}
GROUPS = ("semantic", "syntactic", "total")


def table1(metrics: dict, arms: list[str], path) -> None:
    """Accuracy by group for every model and the PPMI-SVD baseline, with the nearest-neighbour-of-c baseline
    (black ticks) and the paper's Table 1 (stars), and each model's training time."""
    names = arms + (["ppmi_svd"] if "ppmi_svd_acc_total" in metrics else [])
    fig, ax = plots.new_figure(figsize=(12, 4.8))
    width = 0.8 / len(names)
    x = np.arange(len(GROUPS))
    for i, name in enumerate(names):
        pos = x + (i - (len(names) - 1) / 2) * width
        cpu = metrics.get(f"{name}_cpu_s")
        label = name + (f" ({cpu:.0f} CPU s)" if cpu is not None else " (count-based)")
        ax.bar(pos, [metrics.get(f"{name}_acc_{g}", np.nan) for g in GROUPS], width, label=label, color=f"C{i}")
        ax.scatter(pos, [metrics.get(f"{name}_nearest_c_acc_{g}", np.nan) for g in GROUPS], marker="_", s=200,
                   color="black", zorder=3, label="nearest neighbour of c" if i == 0 else None)
        if name in PAPER_TABLE1:
            syn, sem, tot = PAPER_TABLE1[name]
            ax.scatter(pos, (sem, syn, tot), marker="*", s=80, color=f"C{i}", edgecolor="black", zorder=3,
                       label="paper, Table 1 (300-d, 1B words)" if i == 0 else None)
    n = [int(metrics.get(f"n_{g}", 0)) for g in GROUPS]
    ax.set_xticks(x, [f"{g}\n({k:,} covered questions)" for g, k in zip(GROUPS, n, strict=True)])
    ax.set_yscale("symlog", linthresh=5)
    ax.set(ylabel="accuracy on covered questions (%, log above 5)",
           title="Skip-gram: negative sampling vs hierarchical softmax, with and without subsampling")
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    plots.save(fig, path)


def phrases(tops: dict, longer: list[str], cfg, path) -> None:
    """Left: precision at k against WordNet's multi-word lemmas for the three rankings. Right: the top phrases
    by Eq. 6 (green: in WordNet) and some of the longer phrases the passes built."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1.2, 1]})
    labels = {"phrase": f"Eq. 6, delta = {cfg.delta:g}", "undiscounted": "Eq. 6 with delta = 0",
              "frequent_bigram": "most frequent bigrams"}
    for key, (_, hits) in tops.items():
        if hits:
            k = np.arange(1, len(hits) + 1)
            ax.plot(k, 100 * np.cumsum(hits) / k, label=labels[key])
    ax.set(xlabel="k (top-ranked bigrams)", ylabel="precision at k (% in WordNet)", ylim=(0, 100),
           title="Bigrams that are WordNet multi-word entries")
    ax.legend(fontsize=9)
    ax2.set_axis_off()
    names, hits = tops["phrase"]
    text = [("top bigrams by Eq. 6:", "black")] + [(n, "green" if h else "grey") for n, h in
                                                  zip(names[:24], hits[:24], strict=True)]
    text += [("", "black"), (f"phrases of 3+ words after {len(cfg.thresholds)} passes:", "black")]
    text += [(p, "black") for p in sorted(longer)[:10]]
    for i, (line, colour) in enumerate(text):
        ax2.text(0.0, 1 - i * 0.027, line, color=colour, fontsize=8, transform=ax2.transAxes, va="top")
    plots.save(fig, path)


def country_capital_projection(vectors: torch.Tensor, vocab) -> dict:
    """The paper's Fig. 2: the vectors of countries and their capitals (the pairs of the analogy test's
    capital-common-countries section found in the vocabulary), projected on their two principal axes."""
    pairs = sorted({(q[0], q[1]) for q in gensim_data.analogies()["capital-common-countries"]}
                   | {(q[2], q[3]) for q in gensim_data.analogies()["capital-common-countries"]})
    pairs = [(a, b) for a, b in pairs if a in vocab.index and b in vocab.index]
    if len(pairs) < 2:
        return {}
    words = [x for pair in pairs for x in pair[::-1]]  # country, capital, ...
    X = vectors[[vocab.index[x] for x in words]].double()
    X = X / X.norm(dim=1, keepdim=True).clamp(min=1e-12)
    X = X - X.mean(0)
    _, _, Vt = torch.linalg.svd(X, full_matrices=False)
    xy = X @ Vt[:2].T  # (2 * pairs, 2)
    return {"words": words, "xy": xy.tolist()}


def countries(drawn: dict, name: str, path) -> None:
    xy, words = np.array(drawn["xy"]), drawn["words"]
    fig, ax = plots.new_figure(figsize=(7, 6))
    for i in range(0, len(words), 2):
        ax.annotate("", xy[i + 1], xy[i], arrowprops=dict(arrowstyle="->", color="grey", lw=0.7))
        ax.text(*xy[i], words[i], fontsize=8, color="C0")
        ax.text(*xy[i + 1], words[i + 1], fontsize=8, color="C3")
    ax.scatter(xy[:, 0], xy[:, 1], s=6, color="black")
    ax.set(xlabel="principal axis 1", ylabel="principal axis 2",
           title=f"Countries (blue) and capitals (red), {name} vectors (cf. the paper's Fig. 2)")
    plots.save(fig, path)
