"""Figures for Ioffe & Szegedy (2015): Fig. 1 redrawn (fig1_mnist.png) and the step-size arms (larger_lr.png)."""

from __future__ import annotations

from dlcanon.core import plots

LABELS = {"plain": "without BN", "bn": "with BN", "plain_xk": "without BN, lr x{k:g}", "bn_xk": "with BN, lr x{k:g}"}
STYLES = {"plain": "C1-", "bn": "C0-", "plain_xk": "C1:", "bn_xk": "C0:"}


def fig1(step, acc, q, D, names, cfg, metrics, path) -> None:
    """(a) test accuracy vs steps, both nets, the target and where each first reaches it; (b, c) the 15th, 50th
    and 85th percentiles of the input to a typical last-layer sigmoid, without and with BN."""
    fig, axes = plots.new_figure(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    for i, name in enumerate(names[:2]):
        ax.plot(step.numpy(), acc[:, i].numpy(), STYLES[name], label=LABELS[name])
        s = metrics[f"{name}_steps_to_target"]
        if metrics[f"{name}_reached_target"]:
            ax.axvline(s, color=STYLES[name][:2], lw=0.8, ls="--")
    ax.axhline(cfg.target_accuracy, color="black", ls=":", lw=1, label=f"target {cfg.target_accuracy:.0%}")
    ax.set_ylim(max(0.0, min(0.7, float(acc[1:, :2].min()) - 0.02)), 1.0)
    ax.set(xlabel="training steps (minibatches of 60)", ylabel="test accuracy (fraction correct)",
           title=f"(a) steps to target: plain / BN = {metrics['speedup_to_target']:.1f} (claim >= 3)")  # fmt: skip
    ax.legend(loc="lower right", fontsize=9)
    for k, (ax, name) in enumerate(zip(axes[1:], ("plain", "bn"), strict=True)):
        d = D[name]
        j = int(d.argsort()[len(d) // 2])  # the "typical" unit: the median drift among the 100
        for p, style in zip((15, 50, 85), ("--", "-", ":"), strict=True):
            ax.plot(step.numpy(), q[:, k, (15, 50, 85).index(p), j].numpy(), "k" + style, lw=1.2 if p == 50 else 0.8,
                    label=f"{p}th percentile")  # fmt: skip
        ax.set(
            xlabel="training steps",
            ylabel="input to the sigmoid",
            title=f"({'bc'[k]}) {LABELS[name]}: unit {j}, drift {d[j]:.2f} (median over units {d.median():.2f})",
        )
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"MNIST, 784-100-100-100-10 sigmoid net, lr {cfg.lr:g}; drift ratio plain / BN = "
                 f"{metrics['drift_ratio']:.1f} (claim >= 2)")  # fmt: skip
    plots.save(fig, path)


def learning_rates(step, acc, names, cfg, path) -> None:
    """Test accuracy of all four arms: the step size lr and lr_factor times it."""
    fig, ax = plots.new_figure(1, 1, figsize=(7.5, 4.6))
    for i, name in enumerate(names):
        ax.plot(step.numpy(), acc[:, i].nan_to_num(0.0).numpy(), STYLES[name],
                label=LABELS[name].format(k=cfg.lr_factor) + f" (final {acc[-1, i]:.3f})")  # fmt: skip
    ax.set(
        xlabel="training steps (minibatches of 60)",
        ylabel="test accuracy (fraction correct)",
        ylim=(0, 1),
        title=f"Step sizes {cfg.lr:g} and {cfg.lr_factor:g} x {cfg.lr:g}, same init and minibatches\n"
        f"claims: BN at x{cfg.lr_factor:g} ends >= BN at x1 minus 1 point; plain at x{cfg.lr_factor:g} ends "
        "below plain at x1",
    )
    ax.legend(loc="lower right", fontsize=9)
    plots.save(fig, path)
