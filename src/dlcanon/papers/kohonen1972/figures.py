"""The figures of the kohonen1972 claims: exact recall (log scale), capacity as the number of stored pairs K
grows past the key dimension n, recall from noisy keys, and completion of occluded images."""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

N = 28 * 28  # key dimension n
CORR, PINV = "correlation Y X^T", "pseudo-inverse Y X^+"
STYLE = {"real_corr": ("tab:red", "-", "images, " + CORR), "real_pinv": ("tab:blue", "-", "images, " + PINV),
         "random_corr": ("tab:red", ":", "random keys, " + CORR)}


def plot_exactness(cfg, capacity: dict, ortho_err: float, path) -> None:
    """Largest relative recall error over the stored pairs against K, on a log scale that shows 1e-15."""
    K = np.array(cfg.capacity_K)
    fig, ax = new_figure(figsize=(10.5, 4.8))
    for key, (color, ls, label) in STYLE.items():
        ax.plot(K, np.maximum(capacity[f"{key}_rel"], 1e-17), color=color, ls=ls, marker="o", label=label)
    ax.plot([N // 2, N], [max(ortho_err, 1e-17)] * 2, "k*", ms=12, label=f"orthonormal keys, {CORR}")
    ax.hlines(1e-6, K[0], cfg.independent_K_max, color="tab:blue", ls="--",
              label=f"claim: Y X^+ < 1e-6 for K <= {cfg.independent_K_max}")
    ax.axhline(1e-10, color="k", ls="--", lw=1, label="claim: orthonormal < 1e-10")
    ax.axvline(N, color="gray", lw=1, ls=":")
    ax.text(N, 1e-17 * 3, " K = n", color="gray", fontsize=9)
    ax.set(xscale="log", yscale="log", ylim=(1e-17, 100), xlabel="stored pairs K (log scale)",
           ylabel="max relative recall error |ŷ - y| / |y|", title="Exact recall: orthonormal keys and Y X^+ below n")
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    save(fig, path)


def plot_capacity(cfg, capacity: dict, k90: dict, path) -> None:
    """Identification accuracy (with K90 marked) and the sine error (with the random-key theory) against K."""
    K = np.array(cfg.capacity_K)
    fig, (ax_a, ax_e) = new_figure(1, 2, figsize=(12, 7))
    for key, (color, ls, label) in STYLE.items():
        ax_a.plot(K, capacity[f"{key}_acc"], color=color, ls=ls, marker="o", label=label)
        ax_e.plot(K, capacity[f"{key}_err"], color=color, ls=ls, marker="o", label=label)
    for name, color in (("corr", "tab:red"), ("pinv", "tab:blue")):
        ax_a.plot(K, capacity[f"real_{name}_noisy_acc"], color=color, ls="--", lw=1,
                  label=f"images, {CORR if name == 'corr' else PINV}, key noise {cfg.small_noise:g}")
        ax_a.plot(k90[name], 0.9, marker="v", ms=11, color=color, ls="none",
                  label=f"K90, {CORR if name == 'corr' else PINV}: {k90[name]:g}")
    ax_a.axhline(0.9, color="k", ls="--", lw=1, label="accuracy 0.9 (claim: K90 of Y X^T < K90 of Y X^+)")
    ax_a.set(ylabel="identification accuracy (fraction)", ylim=(-0.02, 1.05),
             title="Capacity: which stored datum is recalled")
    Kt = np.geomspace(K[0], K[-1], 100)
    r = (Kt - 1) / N
    ax_e.plot(Kt, np.sqrt(r / (1 + r)), color="k", lw=1, label="random-key theory √(r/(1+r)), r = (K-1)/n")
    Kp = Kt[Kt > N]
    ax_e.plot(Kp, np.sqrt(1 - N / Kp), color="tab:blue", lw=1, ls="-.", label="Y X^+ beyond n: theory √(1 - n/K)")
    ax_e.plot(K[-1], capacity["real_pinv_err"][-1], "o", mfc="none", mec="k", ms=14,
              label="claim: Y X^+ error > 0.1 at the largest K")
    ax_e.axhline(0.1, color="tab:blue", ls="--", lw=1)
    ax_e.set(ylabel="recall error sin∠(ŷ, y)", ylim=(-0.02, 1.05), title="Capacity: crosstalk in the recall")
    for ax in (ax_a, ax_e):
        ax.axvline(N, color="gray", lw=1, ls=":")
        ax.axvline(cfg.K_main, color="gray", lw=1, ls="-", alpha=0.5)
        ax.text(N, 0.8, " K = n", color="gray", fontsize=9, transform=ax.get_xaxis_transform())
        ax.text(cfg.K_main, 0.8, f" K = {cfg.K_main}\n (main claims)", color="gray", fontsize=9,
                transform=ax.get_xaxis_transform())
        ax.set(xscale="log", xlabel="stored pairs K (log scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    save(fig, path)


def plot_noise(cfg, noise: dict, path) -> None:
    fig, ax = new_figure(figsize=(7, 4.5))
    s = cfg.small_noise
    for name, color, label in (("corr", "tab:red", CORR), ("pinv", "tab:blue", PINV)):
        acc = noise[f"{name}_acc"]
        ax.plot(cfg.noise_levels, acc, color=color, marker="o", label=label)
        ax.hlines(acc[0] - 0.05, 0, s, color=color, ls="--", lw=1.5)
    ax.plot([], [], color="gray", ls="--", label="claim floor at noise ≤ 0.1: clean accuracy − 0.05")
    ax.axvline(s, color="gray", ls=":", lw=1)
    ax.set(xlabel="key noise norm / key norm", ylabel="identification accuracy (fraction)", ylim=(0, 1.05),
           title=f"Noisy keys (K = {cfg.K_main} image keys): recall degrades gracefully")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    save(fig, path)


def plot_completion(rows: dict[str, np.ndarray], K: int, path) -> None:
    """rows: {label: images (n_show, 28, 28) in [0, 1]}, one row of the figure each."""
    n_show = len(next(iter(rows.values())))
    fig, axes = new_figure(len(rows), n_show, figsize=(1.8 * n_show + 1.2, 1.8 * len(rows)), squeeze=False)
    for r, (label, pixels) in enumerate(rows.items()):
        for c in range(n_show):
            axes[r, c].imshow(pixels[c], cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"{K} images stored with their upper halves as keys: recall from the upper half\n"
                 "(claim: Y X^+ error < Y X^T error)", fontsize=11)
    save(fig, path)
