"""Figures for Bottou (1991): each one is the picture of a claim in experiment.CLAIMS.

The functions take the curves the experiment recorded (examples processed, validation and test error per step
size) and the metrics, and only draw. Errors are drawn in percent.
"""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save


def time_to_accuracy(cfg, sgd: dict, gd: dict, m: dict, bars: dict[str, float], path) -> None:
    """Test error against gradient evaluations (examples processed), with both claims marked."""
    fig, ax = new_figure(figsize=(9.5, 5.2))
    N, i_sgd, i_gdf = cfg.n_train, int(m["sgd_lr_index"]), int(m["gd_lr_index_final"])
    ax.plot(sgd["seen"].numpy(), 100 * sgd["test"][:, i_sgd].numpy(), "o-", ms=3, color="C0",
            label=f"SGD, batch {cfg.batch_size} (ε₀ = {cfg.lrs[i_sgd]:g})")
    ax.plot(gd["seen"].numpy(), 100 * gd["test"][:, i_gdf].numpy(), "s-", ms=3, color="C3",
            label=f"total gradient (ε₀ = {cfg.lrs[i_gdf]:g})")
    gd1 = 100 * m["gd_test_error_1epoch"]
    ax.plot([N], [gd1], "x", color="C3", ms=10, mew=2, label="total gradient after 1 epoch")
    ax.hlines(gd1 + 100 * bars["sgd_far_below_gd_after_one_epoch"], N / 4, N * 4, color="C0", ls="--", lw=1.5,
              label="claim 1: SGD after 1 epoch below this")
    ax.axhline(100 * m["gd_test_error_final"], color="C3", lw=0.8, ls=":",
               label=f"total gradient's final error ({cfg.gd_epochs} epochs)")
    ax.axvline(m["gd_examples_final"] / bars["sgd_needs_ten_fold_fewer_gradients"], color="k", lw=1.2, ls="--",
               label="claim 2: SGD reaches that error left of this")
    if m["sgd_examples_to_gd_final"] <= cfg.sgd_epochs * N:  # otherwise SGD never reached it
        at = int((sgd["seen"] == m["sgd_examples_to_gd_final"]).nonzero()[0, 0])
        ax.plot(m["sgd_examples_to_gd_final"], 100 * float(sgd["test"][at, i_sgd]), "*", color="C0", ms=15,
                label=f"SGD reaches it: {m['evals_ratio_gd_over_sgd']:.0f}x fewer evaluations")
    ax.set(xscale="log", xlabel="gradient evaluations (examples processed, log scale)", ylabel="test error (%)",
           title=f"SGD against total gradient, Fashion-MNIST, N = {N:,} training images", ylim=(0, 100))
    top = ax.secondary_xaxis("top", functions=(lambda s: s / N, lambda e: e * N))
    top.set_xlabel("epochs (passes over the training images)")
    ax.legend(loc="upper right", fontsize=9)
    save(fig, path)


def wall_time(replay: dict[str, tuple[list, list]], path) -> None:
    """The two chosen learners run again one at a time: test error against the seconds spent in updates."""
    fig, ax = new_figure(figsize=(8, 4.6))
    for name, color, label in (("sgd", "C0", "SGD"), ("gd", "C3", "total gradient")):
        seconds, errs = replay[name]
        ax.plot(seconds, 100 * np.asarray(errs), "o-", ms=3, color=color, label=label)
    ax.set(xscale="log", xlabel="seconds spent in updates (log scale; evaluations not counted)",
           ylabel="test error (%)", ylim=(0, 100),
           title="The same two learners, timed (one at a time, 1 CPU thread)")
    ax.legend(loc="upper right", fontsize=9)
    save(fig, path)


def step_size_grid(cfg, sgd: dict, gd: dict, m: dict, path) -> None:
    """Validation error of every step size of the grid at the budgets the claims compare: how each method's
    step size was chosen (on validation images, never the test set)."""
    fig, ax = new_figure(figsize=(8, 4.6))
    lrs, p1 = np.array(cfg.lrs), int((sgd["seen"] == cfg.n_train).nonzero()[0, 0])
    i_gd1 = cfg.lrs.index(m["gd_lr_1epoch"])
    curves = (("SGD, 1 epoch", sgd["val"][p1], "o-", "C0", m["sgd_lr_index"]),
              ("total gradient, 1 epoch (one step from zero: any ε₀ alike)", gd["val"][0], "x--", "C3", i_gd1),
              (f"total gradient, {cfg.gd_epochs} epochs", gd["val"][-1], "s-", "C3", m["gd_lr_index_final"]))
    for label, val, style, color, chosen in curves:
        ax.plot(lrs, 100 * val.numpy(), style, color=color, ms=5, label=label)
        ax.plot(lrs[int(chosen)], 100 * float(val[int(chosen)]), "o", ms=13, mfc="none", color=color)
    ax.plot([], [], "o", ms=13, mfc="none", color="0.3", label="chosen (lowest validation error)")
    ax.set(xscale="log", xlabel="step size ε₀ (log scale)", ylabel="validation error (%)", ylim=(0, 100),
           title=f"Each method's step size, chosen on {cfg.n_val:,} validation images")
    ax.legend(loc="upper right", fontsize=9)
    save(fig, path)
