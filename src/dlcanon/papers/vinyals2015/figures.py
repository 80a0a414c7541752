"""Figures for Vinyals et al. (2015): held-out emoji with their generated captions (greedy and beam) and the
reference, as in the paper's Fig. 5 (captions.png); BLEU-1 and BLEU-4 of the model against the baselines
(bleu.png); the training loss, Eq. 13 per word (loss.png)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import torch

from dlcanon.core import plots

ARMS = (
    ("beam", "model, beam"),
    ("greedy", "model, greedy"),
    ("nn", "nearest neighbour (CNN)"),
    ("nnpixel", "nearest neighbour (pixels)"),
    ("freq", "most frequent"),
)


def examples(images: torch.Tensor, sets: dict, path, per_set: int = 6) -> None:
    """Rows of held-out pictures (the first `per_set` of each set, evenly spaced), each with the reference (R),
    the greedy (G) and beam (B) captions, and the nearest-neighbour caption (N); a caption equal to the
    reference in green."""
    rows = [(name, i) for name, (idx, _, _) in sets.items() for i in np.linspace(0, len(idx) - 1, min(per_set,
            len(idx))).astype(int).tolist()]  # fmt: skip
    cols = 3
    fig, axes = plots.new_figure(
        max(1, math.ceil(len(rows) / cols)),
        cols * 2,
        squeeze=False,
        figsize=(cols * 5.2, 1.9 * max(1, math.ceil(len(rows) / cols))),
        gridspec_kw={"width_ratios": [1, 3.2] * cols},
    )
    for ax in axes.flat:
        ax.axis("off")
    for k, (name, i) in enumerate(rows):
        idx, refs, hyps = sets[name]
        a_img, a_txt = axes[k // cols, 2 * (k % cols)], axes[k // cols, 2 * (k % cols) + 1]
        a_img.imshow(images[idx[i]].permute(1, 2, 0).clamp(0, 1).numpy())
        a_img.set_title("compositional" if name == "comp" else "novel", fontsize=7)
        lines = [("R", refs[i], "black")]
        for tag, arm in (("G", "greedy"), ("B", "beam"), ("N", "nn")):
            lines.append((tag, hyps[arm][i], "green" if hyps[arm][i] == refs[i] else "firebrick"))
        y = 0.95
        for tag, words, colour in lines:
            text = textwrap.fill(f"{tag}: {' '.join(words)}", 46)
            a_txt.text(0.0, y, text, fontsize=7, va="top", color=colour, transform=a_txt.transAxes)
            y -= 0.24 * (1 + text.count("\n"))
    fig.suptitle("Held-out emoji: R reference, G greedy, B beam, N nearest-neighbour caption (green = exact)")
    plots.save(fig, path)


def bleu_bars(m: dict, cfg, path, margins: dict[int, float] | None = None) -> None:
    """BLEU-1 and BLEU-4 of each arm on each held-out set; `margins` (BLEU order -> points) draws the claims' bar on
    the compositional set: the nearest-neighbour caption's score plus the margin the model must clear."""
    fig, axes = plots.new_figure(1, 2, figsize=(11, 4.2), squeeze=False)
    width = 0.8 / len(ARMS)
    for ax, order in zip(axes[0], (1, 4), strict=True):
        for j, (arm, label) in enumerate(ARMS):
            vals = [m.get(f"{s}_bleu{order}_{arm}", math.nan) for s in ("comp", "novel")]
            ax.bar(
                np.arange(2) + (j - len(ARMS) / 2 + 0.5) * width,
                vals,
                width,
                label=label if arm != "beam" else f"model, beam {cfg.beam}",
            )
        if margins and order in margins:
            bar = m.get(f"comp_bleu{order}_nn", math.nan) + margins[order]
            label = f"claim: nearest neighbour + {margins[order]:g}"
            ax.hlines(bar, -0.45, 0.45, colors="black", linestyles="dashed", label=label)
        ax.set_xticks(range(2), ["compositional", "novel drawings"])
        ax.set_ylabel(f"BLEU-{order}")
        ax.set_ylim(0, 100)
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle("Captions of held-out emoji: the model against the baselines")
    plots.save(fig, path)


def loss_curve(curve: torch.Tensor, path) -> None:
    fig, ax = plots.new_figure(figsize=(6, 3.6))
    ax.plot(curve[:, 0].numpy(), curve[:, 1].numpy())
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss per word (Eq. 13)")
    plots.save(fig, path)
