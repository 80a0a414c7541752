"""Figures for Elman (1990): each one is the picture of a claim in experiment.CLAIMS.

The functions take what the experiment already computed (per-letter errors, mean hidden vectors, metrics) and only
draw.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from scipy.cluster.hierarchy import dendrogram, linkage

from dlcanon.core.plots import new_figure, save

KIND_COLOURS = {"animate noun": "navy", "inanimate noun": "darkcyan", "verb": "tab:red"}


def letter_trace(errors: np.ndarray, onset: np.ndarray, letters: list[str], path) -> None:
    """Like the paper's Fig. 6: the error on each letter of a stretch of held-out text, word onsets marked."""
    n = len(errors)
    fig, ax = new_figure(figsize=(11, 3.8))
    ax.plot(range(n), errors, "k-", lw=1)
    ax.scatter(np.flatnonzero(onset), errors[onset], color="tab:red", zorder=3, s=28,
               label="first letter of a word")
    ax.set_xticks(range(n), letters, fontsize=9, family="monospace")
    ax.set_xlim(-0.5, n - 0.5)
    ax.set(xlabel="held-out KJV text, one letter per tick (spaces removed: the network never sees them)",
           ylabel="error (bits)\n−log₂ p(this letter)",
           title="Like Elman's Fig. 6: the next-letter error peaks where a new word begins")
    ax.legend(loc="upper right", fontsize=9)
    save(fig, path)


def onset_error(by_position: dict[str, list[float]], ratios: dict[str, float], bar: float, path) -> None:
    """Left: mean error by the letter's position in its word, network against the unigram model. Right: the
    claims' onset ratio (error at word-initial letters / at the others) for both."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    positions = np.arange(1, len(by_position["network"]) + 1)
    for i, (name, means) in enumerate(by_position.items()):
        ax.bar(positions + (i - 0.5) * 0.4, means, 0.4, color=["tab:red", "0.6"][i], label=name)
    ax.set_xticks(positions)
    ax.set_ylim(0, max(max(v) for v in by_position.values()) * 1.25)  # room for the legend
    ax.set(xlabel="position of the predicted letter in its word (1 = first letter)",
           ylabel="mean error (bits per letter)", title="Held-out error by position in the word")
    ax.legend(loc="upper center", ncol=2, fontsize=9)
    names = list(ratios)
    ax2.bar(names, [ratios[k] for k in names], color=["tab:red", "0.6"], width=0.6)
    for k, name in enumerate(names):
        ax2.annotate(f"{ratios[name]:.2f}", (k, ratios[name]), ha="center", va="bottom", fontsize=10)
    ax2.axhline(bar, color="k", ls="--", lw=1.2, label=f"claim: network ≥ {bar:g}")
    ax2.axhline(1.0, color="0.4", ls=":", lw=1, label="1 = no onset peak")
    ax2.set_ylim(0, max(bar, *ratios.values()) * 1.35)
    ax2.set(ylabel="onset error / within-word error", title="Onset ratio")
    ax2.legend(loc="upper right", fontsize=9)
    save(fig, path)


def word_kind(word: str, nouns: set, animates: set) -> str:
    return "verb" if word not in nouns else "animate noun" if word in animates else "inanimate noun"


def tree(M: np.ndarray, method: str, words: list[str], nouns: set, animates: set, title: str, path) -> None:
    """Like the paper's Fig. 7: hierarchical clustering of the mean hidden vectors. Labels coloured by the
    word's class; a dashed line cuts the tree into its top two clusters (the cut the top-split claim reads)."""
    Z = linkage(M, method=method)
    fig, ax = new_figure(figsize=(7, 7.5))
    top_cut = (Z[-1, 2] + Z[-2, 2]) / 2  # below the last merge, above the one before: two clusters
    dendrogram(Z, labels=words, orientation="left", ax=ax, color_threshold=0, above_threshold_color="0.35")
    for label in ax.get_yticklabels():
        label.set_color(KIND_COLOURS[word_kind(label.get_text(), nouns, animates)])
        label.set_fontsize(11)
    ax.axvline(top_cut, color="k", ls="--", lw=1)
    handles = [Line2D([], [], color=c, marker="s", ls="", label=k) for k, c in KIND_COLOURS.items()]
    handles.append(Line2D([], [], color="k", ls="--", label="cut into the top two clusters"))
    ax.legend(handles=handles, loc="upper left", fontsize=9)
    ax.set(title=title, xlabel=f"Euclidean distance between mean hidden vectors ({method} linkage)")
    save(fig, path)


def word_structure(metrics: dict, arms: dict[str, str], bars: dict[str, float], chance: dict[str, float],
                   path) -> None:
    """Left: the three classification claims for the network trained on words in order, on shuffled words, and
    untrained. Right: the separation ratio that the order claim compares."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [2.2, 1]})
    measures = {"noun_verb_centroid_accuracy": "noun / verb\n(nearest centroid)",
                "animacy_centroid_accuracy": "animate / inanimate\n(nearest centroid)",
                "noun_verb_top_split_purity": "noun / verb\n(top split of the tree)"}
    x, width = np.arange(len(measures)), 0.26
    for i, (suffix, name) in enumerate(arms.items()):
        values = [100 * metrics[f"{m}{suffix}"] for m in measures]
        ax.bar(x + (i - 1) * width, values, width, color=f"C{i}", label=name)
    ax.hlines([100 * chance[m] for m in measures], x - 1.5 * width, x + 1.5 * width, color="0.3", ls=":",
              label="majority guess")
    ax.axhline(100 * bars["nouns_and_verbs_separate"], color="k", ls="--", lw=1.2, label="claims: ≥ 90%")
    ax.set_xticks(x, list(measures.values()))
    ax.set_ylim(0, 135)
    ax.set_yticks(range(0, 101, 20))
    ax.set(ylabel="words classified correctly (%)", title="Lexical classes in the mean hidden vectors")
    ax.legend(loc="upper center", ncol=3, fontsize=9)
    sep = [metrics[f"noun_verb_separation{suffix}"] for suffix in arms]
    ax2.bar(range(len(arms)), sep, color=[f"C{i}" for i in range(len(arms))], width=0.6)
    ax2.axhline(1.0, color="0.3", ls=":", lw=1.2, label="1 = no structure")
    ax2.axhline(sep[1], color="C1", ls="--", lw=1.2, label="claim: in order above shuffled")
    ax2.set_xticks(range(len(arms)), [name.split(" (")[0] for name in arms.values()])
    ax2.set_ylim(0, max(sep) * 1.4)
    ax2.set(ylabel="mean noun–verb distance /\nmean same-class distance", title="Separation")
    ax2.legend(loc="upper right", fontsize=9)
    save(fig, path)
