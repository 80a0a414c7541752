"""Figures for Cho et al. (2014): each one is the picture of a claim in experiment.CLAIMS, or of the mechanism.

The functions take what the experiment already computed and only draw."""

from __future__ import annotations

import math

import numpy as np

from dlcanon.core.plots import new_figure, save

COLOURS = {"gru": "tab:red", "lstm": "tab:blue"}


def perplexity_curves(curve: list[list[float]], metrics: dict, bar: float, path) -> None:
    """Test perplexity of the two encoder-decoders against updates, the unigram floor marked; right: the final
    ratio ppl_GRU / ppl_LSTM against the claim's band."""
    c = np.array(curve)  # (points, 5): step, GRU and LSTM test log-ppl, GRU and LSTM training loss
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    for k, arm in enumerate(("gru", "lstm")):
        label = f"{arm.upper()} (H={metrics[f'{arm}_H']:.0f}, {metrics[f'{arm}_params'] / 1e6:.2f}M parameters)"
        ax.plot(c[:, 0], np.exp(c[:, 1 + k]), "o-", color=COLOURS[arm], label=label)
        ax.plot(c[:, 0], np.exp(c[:, 3 + k]), ":", color=COLOURS[arm], label=f"{arm.upper()} training (minibatches)")
    ax.axhline(metrics["unigram_ppl"], color="0.5", ls="--", label=f"unigram Spanish: {metrics['unigram_ppl']:.0f}")
    ax.axhline(0.8 * metrics["unigram_ppl"], color="k", ls=":", lw=1, label="claim: below 0.8 x unigram")
    ax.set_yscale("log")
    ax.set(
        xlabel="updates (minibatches of verse pairs)",
        ylabel="perplexity per Spanish token (log scale)",
        title="KJV -> RV1909: test perplexity, GRU vs LSTM encoder-decoder",
    )
    ax.legend(fontsize=8)
    ratio = math.exp(metrics["gru_minus_lstm_log_ppl"])
    ax2.bar(["GRU / LSTM"], [ratio], color="tab:purple", width=0.5)
    ax2.annotate(f"{ratio:.3f}", (0, ratio), ha="center", va="bottom")
    for b in (math.exp(bar), math.exp(-bar)):
        ax2.axhline(b, color="k", ls="--", lw=1)
    ax2.axhline(1.0, color="0.6", lw=0.8)
    ax2.set_ylim(min(0.8, ratio * 0.9), max(1.2, ratio * 1.1))
    ax2.set(ylabel="test perplexity ratio", title=f"claim: within [{math.exp(-bar):.3f}, {math.exp(bar):.2f}]")
    save(fig, path)


def gates(verses: list[dict], path) -> None:
    """Per verse: the GRU's mean update gate z and reset gate r at each step of the encoder (English) and the
    decoder (Spanish, teacher-forced)."""
    n = len(verses)
    fig, axes = new_figure(n, 2, figsize=(13, 2.6 * n), squeeze=False)
    for i, v in enumerate(verses):
        for j, (side, words) in enumerate((("enc", v["src"]), ("dec", v["tgt"]))):
            ax = axes[i, j]
            z, r = v[side]
            ax.plot(z, "o-", color="tab:green", label="mean z (update: keep h_{t-1})")
            ax.plot(r, "s-", color="tab:orange", label="mean r (reset: use h_{t-1} in h̃)")
            ax.set_xticks(range(len(words)), words, rotation=60, fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_ylabel("mean over units")
            where = "encoder, reading English" if side == "enc" else "decoder, predicting Spanish"
            ax.set_title(f"test verse {i + 1}: {where}", fontsize=9)
            if i == 0 and j == 0:
                ax.legend(fontsize=7, loc="lower left")
    save(fig, path)
