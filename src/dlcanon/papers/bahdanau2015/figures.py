"""The pictures of Bahdanau et al.'s claims: quality against source length (the paper's Fig. 2) and alignment
matrices with the words on the axes (Fig. 3); also the training curves."""

from __future__ import annotations

from pathlib import Path

import torch

from dlcanon.core.plots import new_figure, save

LABELS = {"encdec": "RNNencdec (fixed vector)", "search": "RNNsearch (attention)"}


def length_curves(metrics: dict, buckets: list[str], arms, path: Path) -> Path:
    """Per-token test NLL and (when the run translated) BLEU of each model against the source-length bucket."""
    panels = [("nll", "test NLL per target token (nats)")]
    if f"{arms[0]}_bleu_{buckets[0]}" in metrics:
        panels.append(("bleu", "test BLEU (0-100)"))
    fig, axes = new_figure(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    x = range(len(buckets))
    for ax, (key, what) in zip(axes[0], panels, strict=True):
        for name in arms:
            ax.plot(x, [metrics[f"{name}_{key}_{b}"] for b in buckets], "o-", label=LABELS[name])
        ax.set_xticks(list(x), [f"{b}\n({int(metrics[f'n_test_{b}'])} verses)" for b in buckets])
        ax.set_xlabel("source length (English tokens)")
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0][0].set_title("cf. the paper's Fig. 2 (there: BLEU vs sentence length)")
    return save(fig, path)


def alignments(examples: list, ratio: float, path: Path) -> Path:
    """alpha_ij for a few test verses: source words across, target words down (teacher-forced on the reference);
    the title gives the measured diagonal-band mass over the uniform share (claim: > 2)."""
    fig, axes = new_figure(1, len(examples), figsize=(4.5 * len(examples), 5), squeeze=False)
    for ax, ((key, src, tgt), alpha, _) in zip(axes[0], examples, strict=True):
        a = alpha.float()
        ax.imshow(a.numpy(), cmap="gray_r", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(a.shape[1]), list(src)[: a.shape[1] - 1] + ["</s>"], rotation=90, fontsize=7)
        ax.set_yticks(range(a.shape[0]), list(tgt)[: a.shape[0] - 1] + ["</s>"], fontsize=7)
        ax.set_title(key, fontsize=9)
    fig.suptitle(
        f"RNNsearch alignments alpha_ij (black = 1), English across, Spanish down; cf. the paper's Fig. 3\n"
        f"attention mass near the diagonal / uniform share, all test verses: {ratio:.2f} (claim: > 2)"
    )
    return save(fig, path)


def training_curves(history: torch.Tensor, arms, path: Path) -> Path:
    fig, ax = new_figure(figsize=(6, 4))
    for k, name in enumerate(arms):
        ax.plot(history[:, 0].numpy(), history[:, 1 + k].numpy(), label=LABELS[name])
    ax.set_xlabel("update")
    ax.set_ylabel("training NLL per target token (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, path)
