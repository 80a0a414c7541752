"""Figures for Mikolov et al. (2013a): accuracy per section of the analogy test (sections.png) and accuracy
against training time (accuracy_vs_time.png), the two things the claims are about."""

from __future__ import annotations

import numpy as np

from dlcanon.core import plots

PAPER_TABLE4 = {"skipgram": (50.0, 55.9, 53.3), "cbow": (15.5, 53.1, 36.1)}
"""Table 4, 300-d vectors trained on 783M words: semantic, syntactic, total accuracy (%)."""
COLOURS = {"cbow": "C0", "skipgram": "C1"}


def sections(metrics: dict, questions, path) -> None:
    """Accuracy per section and per group for both models, with the nearest-neighbour-of-c baseline, the
    number of covered questions under each label, and the paper's Table 4 figures for the groups."""
    names = list(questions.names) + ["semantic", "syntactic", "total"]
    n = [int((questions.section == s).sum()) for s in range(len(questions.names))]
    n += [int(questions.in_group(g).sum()) for g in ("semantic", "syntactic", "total")]
    x = np.arange(len(names))
    fig, ax = plots.new_figure(figsize=(14, 5.2))
    for i, arch in enumerate(("cbow", "skipgram")):
        acc = [metrics.get(f"{arch}_acc_{name}", np.nan) for name in names]
        ax.bar(x + (i - 0.5) * 0.38, acc, 0.38, color=COLOURS[arch], label=f"{arch}: 3CosAdd")
        base = [metrics.get(f"{arch}_nearest_c_acc_{g}", np.nan) for g in ("semantic", "syntactic", "total")]
        ax.scatter(x[-3:] + (i - 0.5) * 0.38, base, marker="_", s=300, color="black", zorder=3,
                   label="nearest neighbour of c (baseline)" if i == 0 else None)
        ax.scatter(x[-3:] + (i - 0.5) * 0.38, PAPER_TABLE4[arch], marker="*", s=90, color=COLOURS[arch],
                   edgecolor="black", zorder=3, label=f"paper, Table 4 ({arch}, 300-d, 783M words)")
    ax.axvline(len(questions.names) - 0.5, color="grey", lw=0.8)
    ax.set_xticks(x, [f"{name}\n({k} q)" for name, k in zip(names, n, strict=True)], rotation=60, ha="right",
                  fontsize=8)
    ax.set(ylabel="accuracy on covered questions (%)",
           title=f"Analogies a:b::c:? by 3CosAdd over the {questions.top:,} most frequent words "
                 f"({n[-1]:,} of {int(questions.totals.sum()):,} questions covered)")  # fmt: skip
    ax.legend(fontsize=8, loc="upper left")
    plots.save(fig, path)


def accuracy_vs_time(metrics: dict, arms: list, path) -> None:
    """Left: total and semantic accuracy against CPU seconds of training, one point per model (the paper's
    Tables 5-6 put accuracy beside training time). Right: words trained per CPU second."""
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    for name, arch, D in arms:
        t = metrics.get(f"{name}_cpu_s", np.nan)
        for group, marker in (("total", "o"), ("semantic", "^")):
            ax.scatter(t, metrics.get(f"{name}_acc_{group}", np.nan), color=COLOURS[arch], marker=marker, s=50)
        ax.annotate(f"{arch} {D}-d", (t, metrics.get(f"{name}_acc_total", np.nan)), fontsize=8,
                    xytext=(4, -10), textcoords="offset points")
    ax.scatter([], [], color="grey", marker="o", label="total")
    ax.scatter([], [], color="grey", marker="^", label="semantic")
    ax.set(xlabel="training time (CPU seconds, one thread)", ylabel="accuracy on covered questions (%)",
           title="Accuracy against training time")
    ax.legend(fontsize=8)
    names = [name for name, _, _ in arms]
    speed = [metrics.get(f"{name}_words_per_s", np.nan) / 1000 for name in names]
    bars = ax2.bar(range(len(names)), speed, color=[COLOURS[arch] for _, arch, _ in arms])
    ax2.bar_label(bars, fmt="%.0f")
    ax2.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax2.set(ylabel="thousand words per CPU second",
            title=f"CBOW / skip-gram speed: {metrics.get('cbow_speedup', np.nan):.2f}x (claim > 1)")
    plots.save(fig, path)
