"""Figures for Mnih et al. (2013): the arms' score curves over training (mean and spread over seeds) and one state
phi as the network sees it."""

from __future__ import annotations

import torch

from dlcanon.core import plots

COLOURS = {"replay": "C0", "no_replay": "C1", "target": "C2", "no_target": "C0", "nature": "C3"}


def curves(history: torch.Tensor, cfg, metrics: dict, arms, path, ratio_bar: float | None = None) -> None:
    """Training-episode score per window, mean over seeds with a band of +- one std; right: final evaluation
    scores per seed (eps-greedy), with the random policy's score (and `ratio_bar` times it, a claim's bar)."""
    random_key = "random_score"
    fig, (ax, ax2) = plots.new_figure(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.6, 1]})
    S = cfg.seeds
    steps = torch.arange(1, len(history) + 1) * cfg.log_every
    for i, arm in enumerate(arms):
        h = history[:, i * S : (i + 1) * S]
        mean = h.nanmean(1)
        std = torch.sqrt(((h - mean[:, None]) ** 2).nanmean(1))
        ax.plot(steps, mean, color=COLOURS.get(arm, f"C{i}"), label=f"{arm} (mean of {S} seeds)")
        ax.fill_between(steps, mean - std, mean + std, color=COLOURS.get(arm, f"C{i}"), alpha=0.2)
    ax.axhline(metrics[random_key], color="grey", ls="--", label=f"random policy ({metrics[random_key]:.2f})")
    ax.set(xlabel="agent steps (actions taken)", ylabel="score per training episode",
           title=f"{cfg.env}: training episodes (band: ±1 std over seeds)")  # fmt: skip
    ax.legend(fontsize=9)
    for i, arm in enumerate(arms):
        scores = [metrics[f"{arm}_score_seed{k}"] for k in range(S)]
        ax2.scatter([i] * S, scores, color=COLOURS.get(arm, f"C{i}"), zorder=3)
        ax2.errorbar(i + 0.15, metrics[f"{arm}_score"], yerr=metrics[f"{arm}_score:std"], fmt="k_", capsize=5)
    ax2.axhline(metrics[random_key], color="grey", ls="--", label="random policy")
    if ratio_bar is not None:
        ax2.axhline(
            ratio_bar * metrics[random_key], color="black", ls=":", label=f"claim: mean >= {ratio_bar:g} x random"
        )
    ax2.set_xticks(range(len(arms)), arms)
    ax2.set(ylabel=f"mean evaluation score (eps = {cfg.eval_eps})", title="Final evaluation: seeds, mean ± std")
    ax2.legend(fontsize=9)
    plots.save(fig, path)


def state(env, env_name: str, path) -> None:
    """One state phi at the start of an episode, channel by channel (MinAtar: paddle, ball, trail, bricks;
    Atari: the 4 stacked 84x84 preprocessed frames)."""
    phi = env.reset()  # (C, H, W) uint8, or CartPole's (4,) floats
    if phi.dim() == 1:
        fig, ax = plots.new_figure(figsize=(6, 3.2))
        ax.bar(["cart x", "cart velocity", "pole angle", "pole angular velocity"], phi.numpy())
        ax.set(ylabel="value (SI units)", title=f"phi on {env_name}: the 4-number state at an episode's start")
        return plots.save(fig, path)
    names = ["paddle", "ball", "trail", "bricks"] if env_name.startswith("minatar") else [
        f"frame t-{3 - c}" for c in range(4)]  # fmt: skip
    fig, axes = plots.new_figure(1, len(phi), figsize=(3 * len(phi), 3.2))
    for c, ax in enumerate(axes):
        ax.imshow(phi[c].numpy(), cmap="gray", vmin=0, vmax=1 if env_name.startswith("minatar") else 255)
        ax.set_title(names[c] if c < len(names) else f"channel {c}")
        ax.set_axis_off()
    fig.suptitle(f"phi: the network's input on {env_name}, {tuple(phi.shape)} (channels, height, width)")
    plots.save(fig, path)
