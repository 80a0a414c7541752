"""Figures for Collobert et al. (2011): the claims' accuracies, and the training curves."""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

ARMS = {"random": "random init", "pretrained": "LM-pretrained init", "multitask": "multitask (tag + LM)"}


def accuracies(m: dict, path) -> None:
    """Left: test accuracy of the three taggers against the most-frequent-tag baseline. Right: accuracy on
    test tokens whose word was seen / unseen in tagging training, random against pretrained init."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2))
    vals = [m["baseline_acc"], *(m[f"acc_{a}"] for a in ARMS)]
    ax.bar(range(4), vals, color=["0.6", "tab:blue", "tab:red", "tab:green"])
    for k, v in enumerate(vals):
        ax.annotate(f"{v:.3f}", (k, v), ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(4), ["most frequent\ntag", *(ARMS[a].replace(" (", "\n(") for a in ARMS)], fontsize=8)
    ax.set_ylim(min(vals) - 0.1, 1.0)
    ax.set(ylabel="test token accuracy (WSJ, 201 sentences)", title="POS tagging accuracy")
    x = np.arange(2)
    for j, arm in enumerate(("random", "pretrained")):
        v = [m[f"acc_seen_{arm}"], m[f"acc_unseen_{arm}"]]
        ax2.bar(x + (j - 0.5) * 0.38, v, 0.38, color=["tab:blue", "tab:red"][j], label=ARMS[arm])
        for k in range(2):
            ax2.annotate(f"{v[k]:.3f}", (x[k] + (j - 0.5) * 0.38, v[k]), ha="center", va="bottom", fontsize=9)
    ax2.set_xticks(x, ["seen in tagging training", f"unseen ({int(m['test_unseen_tokens'])} tokens)"])
    ax2.set_ylim(0, 1.1)
    ax2.set(ylabel="test token accuracy", title="Where the pretrained embeddings help")
    ax2.legend(loc="lower left", fontsize=9)
    save(fig, path)


def curves(c: dict[str, list[float]], path) -> None:
    """Left: the ranking LM's loss during pretraining. Right: the taggers' training loss per epoch."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4))
    lm = c.get("lm", [])
    ax.plot(np.arange(1, len(lm) + 1) * 100, lm, "k-")
    ax.set(xlabel="SGD step", ylabel="ranking loss (Eq. 17)", title="Language model pretraining")
    for arm, label in ARMS.items():
        if arm in c:
            ax2.plot(np.arange(1, len(c[arm]) + 1), c[arm], "o-", label=label)
    ax2.set(xlabel="epoch", ylabel="training loss (multitask: tag + LM)", title="Tagger training")
    ax2.legend(fontsize=9)
    save(fig, path)
