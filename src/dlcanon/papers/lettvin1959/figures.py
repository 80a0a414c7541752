"""The figures of the lettvin1959 claims: the 4 x 4 matrix of operations x triggers, the bug fibre's response
ratios against the claims' bar, its size tuning, and (full) the learned bug detector beside the four operations."""

from __future__ import annotations

import torch
from matplotlib.patches import Rectangle

from dlcanon.core import plots

from .model import OPERATIONS


def _name(s: str) -> str:
    return s.replace("_", " ")


def plot_matrix(M: torch.Tensor, triggers: tuple[str, ...], path) -> None:
    """Each operation's response to the four triggers (columns), scaled by the row's maximum (units differ per row)."""
    Mn = (M / M.amax(1, keepdim=True)).numpy()
    off = M.clone()
    off.fill_diagonal_(-float("inf"))
    sel = (M.diagonal() / off.amax(1)).min().item()
    fig, ax = plots.new_figure(figsize=(7, 5.2))
    im = ax.imshow(Mn, cmap="viridis", vmin=0, vmax=1)
    for i in range(4):
        for j in range(4):
            ax.text(j, i, f"{Mn[i, j]:.2f}", ha="center", va="center", fontsize=11,
                    color="w" if Mn[i, j] < 0.6 else "k")
        ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5,
                               label="own trigger (claim: largest in its row)" if i == 0 else None))
    ax.set_xticks(range(4), [_name(k).replace(" ", "\n") for k in triggers], fontsize=10)
    ax.set_yticks(range(4), [f"op {i + 1}: {_name(op)}" for i, op in enumerate(OPERATIONS)], fontsize=10)
    ax.set(xlabel="trigger stimulus", ylabel="operation (centre fibre)")
    ax.set_title(f"Each operation fires most for its own trigger\nmin selectivity {sel:.2f} (claim: > 1)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean response / row maximum")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=9, frameon=False)
    plots.save(fig, path)


def plot_bug_ratios(ratios: dict[str, tuple[float, bool]], path) -> None:
    """Horizontal bars: {label: (ratio, is_a_claim)}; the claims' bar 0.2 and the trigger's own response 1."""
    labels = list(ratios)
    vals = [ratios[k][0] for k in labels]
    colors = ["C0" if ratios[k][1] else "0.6" for k in labels]
    fig, ax = plots.new_figure(figsize=(8, 4))
    y = range(len(labels))
    ax.barh(y, vals, color=colors)
    ax.scatter(vals, list(y), c=colors, zorder=3)  # a ratio of ~0 has no visible bar
    for i, v in enumerate(vals):
        ax.text(max(v, 0) + 0.025, i, f"{v:.2g}", va="center", fontsize=10)
    ax.axvline(0.2, color="red", ls=":", lw=2, label="claim: < 0.2 (paper: weak or no response)")
    ax.axvline(1.0, color="k", ls="--", lw=1, label="response to the reference (= 1)")
    ax.set_yticks(list(y), labels, fontsize=10)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1.1), xlabel="response ratio (stimulus / reference stimulus, mean over the trial)")
    ax.set_title("Op 2 ignores non-bugs; op 4 ignores the bug\n(grey: measured, not a claim)")
    ax.legend(fontsize=9, loc="lower right")
    plots.save(fig, path)


def plot_size_tuning(sizes: torch.Tensor, tuning: torch.Tensor, rf_deg: float, bug_deg: float, path) -> None:
    fig, ax = plots.new_figure(figsize=(7, 4.2))
    ax.plot(sizes.numpy(), tuning.numpy(), "o-", label="convexity fibre")
    ax.axvline(rf_deg, color="gray", ls=":", lw=2, label=f"its RF diameter ({rf_deg:g} deg)")
    ax.axvline(bug_deg, color="C1", ls="--", label=f"the claims' bug ({bug_deg:g} deg)")
    ax.set_xscale("log")
    ax.set_xticks(sizes.tolist(), [f"{s:g}" for s in sizes.tolist()])
    ax.minorticks_off()
    ax.set(xlabel="dark spot diameter (deg, log scale)", ylabel="response (a.u., mean over trial)",
           title="Operation 2 prefers dark spots smaller than its field")
    ax.legend(fontsize=9)
    plots.save(fig, path)


def plot_cnn(accuracy: float, r_out: torch.Tensor, path) -> None:
    """Left: probe accuracy against the 0.9 bar. Right: the bug logit's correlation with each operation."""
    fig, (a1, a2) = plots.new_figure(1, 2, figsize=(9, 4), gridspec_kw={"width_ratios": [1, 3]})
    a1.bar([0], [accuracy], color="C0")
    a1.axhline(0.9, color="red", ls=":", lw=2, label="claim: > 0.9")
    a1.text(0, accuracy, f"{accuracy:.3f}", ha="center", va="bottom", fontsize=10)
    a1.set(xticks=[], ylim=(0, 1.08), ylabel="accuracy on probe clips (fraction)", title="bug CNN learns the task")
    a1.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.02), frameon=False)
    r = r_out.tolist()
    a2.bar(range(4), r, color=["C2" if op == "convexity" else "0.6" for op in OPERATIONS])
    a2.axhline(max(r[i] for i in (0, 2, 3)), color="red", ls=":", lw=2,
               label="best other operation (claim: convexity above it)")
    a2.axhline(0, color="k", lw=0.8)
    a2.set_xticks(range(4), [_name(op) for op in OPERATIONS], fontsize=10)
    a2.set(ylim=(-1, 1), xlabel="operation (centre-fibre response, last frame)",
           ylabel="Pearson r with the bug logit", title="is the CNN's output closest to operation 2?")
    a2.legend(fontsize=9, loc="lower left")
    plots.save(fig, path)


def plot_unit_correlations(r_units: torch.Tensor, path) -> None:
    fig, ax = plots.new_figure(figsize=(6, 6))
    im = ax.imshow(r_units.numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(4), [_name(op).replace(" ", "\n") for op in OPERATIONS], fontsize=10)
    ax.set(xlabel="operation (centre-fibre response, last frame)", ylabel="CNN hidden unit (index)",
           title="CNN hidden units vs the four operations")
    fig.colorbar(im, ax=ax, label="Pearson r over probe clips")
    plots.save(fig, path)
