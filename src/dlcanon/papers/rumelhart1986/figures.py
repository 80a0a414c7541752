"""The figures of the rumelhart1986 claims: back-propagation against autograd, restarts solved against sweeps,
the 8-3-8 encoder's hidden codes, and the mirror-symmetry net's weights (Nature, Fig. 1)."""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save


def plot_parity(diffs: list[float], path) -> None:
    """Largest |dE/dw| difference of each random graph, on a log scale, against the claim's 1e-10."""
    fig, ax = new_figure(figsize=(7, 4))
    d = np.maximum(diffs, 1e-18)  # an exact match (0) sits on the floor of the log axis
    ax.plot(np.arange(1, len(d) + 1), d, "o", label="ours: one random module graph each (0 drawn at 1e-18)")
    ax.axhline(1e-10, color="red", ls=":", lw=2, label="claim: < 1e-10")
    ax.axhline(np.finfo(np.float64).eps, color="gray", ls="--", lw=1, label="float64 machine epsilon")
    ax.set(yscale="log", ylim=(1e-18, 1e-6), xlabel="random graph (index)",
           ylabel="max |dE/dw ours - torch.autograd| (log scale)",
           title="Back-propagation gives the exact derivatives (Eqs. 4-7)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=9, loc="upper right")
    save(fig, path)


def plot_solved(runs: dict[str, tuple[np.ndarray, int]], paper_sweeps: int, path) -> None:
    """runs: {task: (first sweep at which each restart was solved, -1 never; sweep budget)}."""
    fig, ax = new_figure(figsize=(8.5, 5))
    for i, (name, (first, budget)) in enumerate(runs.items()):
        solved_at = np.sort(first[first >= 0])
        frac = np.arange(1, len(solved_at) + 1) / len(first)
        ax.step(np.r_[solved_at, budget], np.r_[frac, frac[-1:] if len(frac) else 0], where="post",
                color=f"C{i}", label=f"{name}: {len(solved_at) / len(first):.2f} solved in {budget} sweeps")
        ax.plot(budget, len(solved_at) / len(first), "|", color=f"C{i}", ms=14, mew=2)
    ax.axhline(0.5, color="red", ls=":", lw=2, label="claim: ≥ 0.5 solved at the end of each budget")
    ax.vlines(paper_sweeps, 0.05, 0.95, color="k", lw=3, alpha=0.6,
              label=f"paper, symmetry: {paper_sweeps} sweeps (claim: our\ncurve crosses it inside 0.05-0.95)")
    ax.set(xlabel="sweeps through the training patterns", ylabel="restarts solved (fraction)", ylim=(0, 1.02),
           title="Restarts solved (every output within 1/2 of its target)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    save(fig, path)


def plot_encoder(h: np.ndarray, path) -> None:
    """h (R, 8, 3) hidden values: restart 0's codes, and over restarts the two claims' measures."""
    distinct = np.array([len({tuple(c) for c in (2 * r).round() / 2}) for r in h])
    deviation = np.abs(h - h.round()).mean((1, 2))
    fig, (ax_h, ax_d, ax_b) = new_figure(1, 3, figsize=(13, 5.2), gridspec_kw={"width_ratios": [0.8, 1, 1]})
    ax_h.imshow(h[0], cmap="gray_r", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(h[0]):
        ax_h.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9, color="tab:red")
    ax_h.set(xticks=range(3), yticks=range(8), xlabel="hidden unit", ylabel="input pattern (one-hot position)",
             title="8-3-8 encoder: hidden codes, restart 0")
    ax_d.hist(distinct, bins=np.arange(0.5, 9.5), rwidth=0.8, color="0.6")
    ax_d.axvline(np.median(distinct), color="C0", lw=2, label=f"median {np.median(distinct):g}")
    ax_d.axvline(7.5, color="red", ls=":", lw=2, label="claim: median ≥ 8 (all distinct)")
    ax_d.set(xticks=range(1, 9), xlabel="distinct codes (hidden values rounded to 0, 1/2, 1)",
             ylabel="restarts (count)", title="each pattern its own code")
    ax_d.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax_b.hist(deviation, bins=20, color="0.6")
    ax_b.axvline(np.median(deviation), color="C0", lw=2, label=f"median {np.median(deviation):.3f}")
    ax_b.axvline(0.125, color="red", ls=":", lw=2, label="claim: median < 0.125")
    ax_b.axvline(0.04, color="k", ls="--", lw=1, label="paper's table: ~0.04")
    ax_b.set(xlabel="mean |h - round(h)| over the 24 hidden values", ylabel="restarts (count)",
             title="codes near binary")
    ax_b.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    save(fig, path)


def plot_symmetry(W: np.ndarray, r: int, structure: dict[str, np.ndarray], path) -> None:
    """Left: Fig. 1, input->hidden weights W (2, 6) of restart r beside the ideal mirror pattern +-(1, 2, 4).
    Right: the three structure measures over solved restarts against their bars (log scale)."""
    fig, (ax_w, ax_s) = new_figure(1, 2, figsize=(12, 5.4))
    for j, color in enumerate(("tab:blue", "tab:orange")):
        ax_w.bar(np.arange(1, 7) + (j - 0.5) * 0.38, W[j], width=0.38, color=color, label=f"hidden unit {j + 1}")
    # the paper's pattern: mirror pairs (i, 7 - i) with magnitudes in ratio 1:2:4 (in the order of ours) and
    # our signs, scaled to the largest weight of each unit
    pair = np.abs(W[:, :3]) + np.abs(W[:, 3:][:, ::-1])  # (2, 3)
    steps = 2.0 ** pair.argsort(1).argsort(1)  # (2, 3): 1, 2, 4 by rank
    ideal = np.sign(W) * np.abs(W).max(1, keepdims=True) / 4 * np.concatenate([steps, steps[:, ::-1]], 1)
    for j in range(2):
        ax_w.plot(np.arange(1, 7) + (j - 0.5) * 0.38, ideal[j], "k_", ms=14, mew=2,
                  label="paper's pattern: mirrored, magnitudes 1:2:4" if j == 0 else None)
    ax_w.axhline(0, color="k", lw=0.8)
    ax_w.set(xlabel="input position", ylabel="weight input -> hidden",
             title=f"Mirror symmetry: weights of restart {r} (cf. Fig. 1)")
    ax_w.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    bars = {"antisym": ("mirror\nantisymmetry", 0.1), "ratio_error": ("ratio 1:2:4\nerror", 0.5),
            "opposition": ("hidden units\nopposite", 0.1)}
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, (key, (_, bar)) in enumerate(bars.items()):
        v = np.maximum(structure[key], 1e-6)
        ax_s.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, color="0.5")
        ax_s.hlines(np.median(v) if len(v) else np.nan, i - 0.3, i + 0.3, color="k", lw=2,
                    label="median (solved restarts)" if i == 0 else None)
        ax_s.hlines(bar, i - 0.35, i + 0.35, color="red", ls=":", lw=2, label="claim: median below" if i == 0 else None)
    ax_s.set_xticks(range(3), [b[0] for b in bars.values()])
    ax_s.set(yscale="log", ylabel="deviation from Fig. 1's structure (log scale)",
             title="Fig. 1's structure over solved restarts")
    ax_s.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    save(fig, path)
