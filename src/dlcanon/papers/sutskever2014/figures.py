"""Figures for Sutskever et al. (2014): test perplexity while training, normal against reversed source
(perplexity.png); BLEU against beam size, as Table 1's beams (bleu_by_beam.png); a few test verses translated by
both models beside the reference (examples.png)."""

from __future__ import annotations

import textwrap

from dlcanon.core import plots

COLOURS = {"normal": "C3", "reversed": "C0"}


def perplexity_curves(curves: dict[str, list], m: dict, bar: float, path) -> None:
    """Test perplexity against epochs for both arms (log scale), with the final ratio and our bar."""
    fig, ax = plots.new_figure(figsize=(7.5, 4.6))
    for arm, points in curves.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], "-o", ms=3, color=COLOURS[arm],
                label=f"{arm} source: {m[f'{arm}_test_ppl']:.2f} at the end")
    ax.set_yscale("log")
    ax.set(xlabel="epochs of training (both arms: the same initial weights and batches)",
           ylabel="test perplexity per target token (log scale)",
           title=f"Reversed / normal test perplexity {m['ppl_ratio']:.3f} (our bar: <= {bar:g});\n"
                 f"paper, Sec. 3.3: 5.8 -> 4.7 (ratio 0.81) on WMT'14 En->Fr")  # fmt: skip
    ax.legend(loc="upper right")
    plots.save(fig, path)


def bleu_by_beam(m: dict, beams: tuple[int, ...], path) -> None:
    """Corpus BLEU of each arm's translations at each beam size (1 = greedy), with Table 1's figures beside."""
    fig, ax = plots.new_figure(figsize=(7.5, 4.6))
    for arm in COLOURS:
        ax.plot(beams, [m[f"{arm}_bleu_b{b}"] for b in beams], "-o", color=COLOURS[arm], label=f"{arm} source")
    ax.set_xscale("log", base=2)
    ax.set_xticks(beams, [str(b) for b in beams])
    ax.set(xlabel="beam size (1 = greedy decoding)", ylabel="test BLEU (sacrebleu, our tokens, 0-100)",
           title="BLEU by beam size, KJV -> RV1909 test verses\n"
                 "paper, Table 1 (5 reversed LSTMs): beam 1: 33.00, 2: 34.50, 12: 34.81")  # fmt: skip
    ax.legend(loc="lower right")
    plots.save(fig, path)


def examples(test: list, outputs: dict, beam: int, path, count: int = 5) -> None:
    """The first `count` test verses (by position in the test set): English, the reference Spanish, and both
    models' translations at beam `beam`."""
    lines = []
    for i, (key, en, es) in enumerate(test[:count]):
        lines.append(f"{key}   EN: " + " ".join(en))
        lines.append("   reference:  " + " ".join(es))
        for arm in COLOURS:
            lines.append(f"   {arm + ':':<12}" + " ".join(outputs[arm, beam][i]))
        lines.append("")
    wrapped = [w for line in lines for w in (textwrap.wrap(line, 120, subsequent_indent=" " * 16) or [""])]
    fig, ax = plots.new_figure(figsize=(11, 0.17 * len(wrapped) + 0.7))  # about one line of 8.5-point text each
    ax.axis("off")
    ax.text(0, 1, "\n".join(wrapped), va="top", ha="left", family="monospace", fontsize=8.5, transform=ax.transAxes)
    ax.set_title(f"Test verses translated (beam {beam}); <unk>: a word outside the vocabulary", loc="left")
    plots.save(fig, path)
