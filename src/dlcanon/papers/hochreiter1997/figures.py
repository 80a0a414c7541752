"""Figures for Hochreiter & Schmidhuber (1997): each one is the picture of a claim in experiment.CLAIMS.

The functions take what the experiment already computed (learning curves, error flows, predictions) and only draw.
"""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

ARMS = {"lstm1997": ("LSTM 1997 (93 weights)", "tab:red"),
        "lstm2000": ("forget-gate LSTM (2000)", "tab:orange"),
        "rnn": ("tanh recurrent net", "tab:blue")}


PAPER_SEQUENCES = {100: 74_000, 500: 209_000, 1000: 853_000}
"""Table 7: training sequences until the stopping rule held (means of 10 trials)."""


def adding(T: int, curves: dict, metrics: dict, bar: dict, batch: int, path) -> None:
    """Left: test MSE relative to the best constant output, against training sequences seen. Right: the paper's
    success criterion, the share of test sequences with absolute error below 0.04."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2))
    for name, (label, colour) in ARMS.items():
        c = curves.get(f"T{T}_{name}")
        if not c:
            continue
        seen = np.array(c["step"]) * batch
        weights = int(metrics[f"T{T}_{name}_weights"])
        ax.plot(seen, np.array(c["mse"]) / metrics[f"T{T}_mean_mse"], "-o", ms=3, color=colour,
                label=f"{label.split(' (')[0]} ({weights} weights)")
        ax2.plot(seen, c["correct"], "-o", ms=3, color=colour, label=label.split(" (")[0])
    ax.axhline(1.0, color="0.4", ls=":", lw=1.2, label="best constant output (the mean)")
    ax.axhline(bar["lstm_far_below_the_mean"], color="tab:red", ls="--", lw=1, label="claim: LSTM below")
    ax.axhline(bar["rnn_stays_at_the_mean"], color="tab:blue", ls="--", lw=1, label="claim: tanh net above")
    ax.set_yscale("log")
    ax.set(xlabel="training sequences seen", ylabel="test MSE / MSE of the best constant",
           title=f"Adding problem, T = {T} (minimal lag {T // 2})")
    ax.legend(fontsize=8, loc="lower left")
    ax2.axhline(metrics[f"T{T}_mean_correct"], color="0.4", ls=":", lw=1.2, label="best constant output")
    ax2.axhline(1 - 3 / 2560, color="k", ls="--", lw=1, label="paper, Table 7: at most 3 of 2560 wrong")
    if T in PAPER_SEQUENCES:
        ax2.annotate(f"the paper (online, one sequence per update): its stopping rule\nheld after "
                     f"{PAPER_SEQUENCES[T]:,} sequences on average at T = {T}", (0.02, 0.04),
                     xycoords="axes fraction", fontsize=8)
    ax2.set_ylim(0, 1.05)
    ax2.set(xlabel="training sequences seen", ylabel="share of test sequences with |error| < 0.04",
            title="The paper's success criterion")
    ax2.legend(fontsize=8, loc="center right")
    save(fig, path)


def error_flow(T: int, flows: dict, path) -> None:
    """|d output / d input k steps back| against k, before and after training: exponential decay for the tanh
    net, none along the CEC."""
    fig, ax = new_figure(figsize=(8, 4.5))
    for (name, when), v in flows.items():
        label, colour = ARMS[name]
        v = v.numpy()
        k = np.arange(len(v))
        keep = v > 0
        ax.plot(k[keep], v[keep], color=colour, ls="-" if when == "untrained" else "--",
                label=f"{label.split(' (')[0]}, {when}")
    ax.set_yscale("log")
    ax.set(xlabel="k: steps between the value input and the sequence end",
           ylabel="mean |d y_out / d value(t_end - k)|",
           title=f"Error flow back in time (adding problem, T = {T})")
    ax.legend(fontsize=8)
    save(fig, path)


def predictions(T: int, y, y_hat, tolerance: float, path) -> None:
    """The LSTM's output against the target on the test set, with the paper's +-0.04 band."""
    fig, ax = new_figure(figsize=(5.2, 5))
    y, y_hat = y.numpy(), y_hat.numpy()
    right = np.abs(y_hat - y) < tolerance
    ax.scatter(y[right], y_hat[right], s=4, color="tab:red", alpha=0.5,
               label=f"|error| < {tolerance} ({right.mean():.1%})")
    ax.scatter(y[~right], y_hat[~right], s=6, color="k", label="wrong")
    line = np.array([0.0, 1.0])
    ax.fill_between(line, line - tolerance, line + tolerance, color="0.85", zorder=0)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="target 0.5 + (X1 + X2) / 4", ylabel="LSTM output at the sequence end",
           title=f"LSTM 1997 on the test set, T = {T}")
    ax.legend(fontsize=8, loc="upper left")
    save(fig, path)


def lm(curves: dict, metrics: dict, path) -> None:
    """Training bits per character of the two character models, and their held-out figures."""
    fig, ax = new_figure(figsize=(8, 4.5))
    for name, colour in (("lstm", "tab:orange"), ("srn", "tab:blue")):
        c = curves[f"lm_{name}"]
        label = f"{'forget-gate LSTM' if name == 'lstm' else 'tanh net'}, {int(metrics[f'lm_{name}_hidden'])} units, " \
                f"{int(metrics[f'lm_{name}_weights']):,} weights"
        ax.plot(c["step"], c["bpc"], color=colour, label=f"{label} (training)")
        ax.axhline(metrics[f"lm_{name}_bpc"], color=colour, ls="--", lw=1, label="held out")
    ax.axhline(metrics["lm_unigram_bpc"], color="0.4", ls=":", label="unigram letter frequencies")
    ax.set(xlabel="updates", ylabel="bits per character", title="Character model of the King James Bible")
    ax.legend(fontsize=8)
    save(fig, path)
