"""Figures for Hubel & Wiesel (1959): each one is the picture of a claim group in experiment.CLAIMS.

They take what the experiment measured (`experiment.cell_profile`, `experiment.filter_osis`) and only draw.
"""

from __future__ import annotations

import torch

from dlcanon.core import plots

COLORS = {"simple": "tab:blue", "complex": "tab:orange"}


def cell_fields(simple, complex_, on: torch.Tensor, off: torch.Tensor, overlap: float, path) -> None:
    """The model cells' receptive fields, and the simple cell's field mapped with spots as in 1959."""
    fig, axes = plots.new_figure(1, 4, figsize=(12, 4.3))
    for ax, W, title in ((axes[0], simple.W, "simple cell RF"), (axes[1], complex_.even.W, "complex: even part"),
                         (axes[2], complex_.odd.W, "complex: odd part")):  # fmt: skip
        ax.imshow(W.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(title)
    lim = max(on.max().item(), off.max().item())
    axes[3].imshow((on - off).numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[3].set_title(f"spot map: on/off overlap {overlap:.2f}\n(claim < 0.2)")
    for ax in axes:
        ax.set_xlabel("x (px)")
    axes[0].set_ylabel("y (px)")
    fig.suptitle("Receptive fields (red: light excites, blue: light inhibits); right: light spots minus dark spots")
    plots.save(fig, path)


def cell_tuning(profiles: dict[str, dict], metrics: dict[str, float], path) -> None:
    """Orientation tuning (claim: OSI > 0.5), the response over a drift cycle (claims on F1/F0), diffuse light."""
    fig, (ax1, ax2, ax3) = plots.new_figure(1, 3, figsize=(13, 4.3))
    for name, p in profiles.items():
        osi = metrics[f"{name}_osi"]
        ax1.plot(p["theta_deg"], p["tuning"], "o-", color=COLORS[name], label=f"{name}: OSI = {osi:.2f}")
        ax2.plot(p["phase_deg"], p["cycle"], "o-", color=COLORS[name],
                 label=f"{name}: F1/F0 = {metrics[name + '_f1f0']:.2f}")  # fmt: skip
    pref = profiles["simple"]["pref_deg"]
    ax1.axvline((pref + 90) % 180, color="grey", ls="--", lw=1, label="orthogonal to preferred")
    ax1.axhline(1 / 3, color="black", ls=":", label="claim: OSI > 0.5 (R_orth < R_pref / 3)")
    ax1.set(xlabel="grating orientation θ (deg)", ylabel="mean rate F0 (fraction of the best)",
            title="Orientation tuning")  # fmt: skip
    ax1.set_ylim(-0.05, 1.7)
    ax1.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.legend(fontsize=9, loc="upper center")
    ax2.set(xlabel="grating phase (deg) = time in one drift cycle", ylabel="rate (fraction of its best)",
            title="Phase: simple F1/F0 > 1, complex < 0.3")  # fmt: skip
    ax2.set_xticks(range(0, 361, 90))
    ax2.legend(fontsize=9, loc="center right")
    names = list(profiles)
    ratios = [max(metrics[f"{n}_diffuse_over_optimal"], 1e-6) for n in names]
    ax3.bar(names, [1.0] * len(names), width=0.6, color="lightgrey", label="best grating")
    ax3.bar(names, ratios, width=0.35, color=[COLORS[n] for n in names], label="diffuse light")
    for i, r in enumerate(ratios):
        ax3.annotate(f"{r:.1e}", (i, r), xytext=(0, 3), textcoords="offset points", ha="center")
    ax3.axhline(0.2, color="black", ls=":", label="claim (simple): diffuse < 0.2 × best")
    ax3.set_yscale("log")
    ax3.set_ylim(1e-6, 1e3)
    ax3.set(xlabel="model cell", ylabel="response (fraction of the best grating, log)", title="Diffuse light")
    ax3.legend(fontsize=9, loc="upper right")
    fig.suptitle("Model cells probed with drifting gratings and diffuse light")
    plots.save(fig, path)


def filter_osi(osis: dict[str, tuple[torch.Tensor, torch.Tensor]], metrics: dict[str, float], path) -> None:
    """Per filter: orientation selectivity at its random start (x) and after training (y), one panel per arm."""
    fig, axes = plots.new_figure(1, len(osis), figsize=(5.4 * len(osis), 4.8), squeeze=False)
    for ax, (name, (before, after)) in zip(axes[0], osis.items(), strict=True):
        sfx = "" if name == "default" else "_small"
        gain = metrics[f"osi_learned{sfx}"] - metrics[f"osi_init{sfx}"]
        ax.plot([0, 1], [0, 1], color="grey", lw=1, label="no change")
        ax.plot([0, 0.9], [0.1, 1], "k:", label="claim: mean gain > 0.1")
        ax.plot(before.numpy(), after.numpy(), "o", label="one conv1 filter")
        ax.plot(before.mean(), after.mean(), "*", ms=16, color="tab:red", label=f"mean (gain {gain:.2f})")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="OSI of the filter at its random start",
               ylabel="OSI of the same filter after training")  # fmt: skip
        z = metrics[f"osi_gain_z{sfx}"]
        ax.set_title(f"{name} init arm: paired z = {z:.1f}" + (" (claim > 3)" if sfx else ""))
        ax.legend(fontsize=9, loc="lower right")
    fig.suptitle("Do first-layer filters become oriented? (Fashion-MNIST, OSI from grating energy)")
    plots.save(fig, path)


def filter_mosaic(arms: dict, inits: dict, path) -> None:
    """One mosaic, two rows per arm (at init, trained); each filter scaled by its own largest |weight|."""
    rows, labels = [], []
    for name, net in arms.items():
        rows += [inits[name], net.filters().cpu()]
        labels += [f"{name} arm: init", f"{name} arm: trained"]
    C, k = rows[0].shape[0], rows[0].shape[-1]
    mosaic = torch.full((len(rows) * (k + 1), C * (k + 1)), float("nan"))
    for i, W in enumerate(rows):
        W = W / W.abs().amax((1, 2), keepdim=True)  # (C, k, k) in [-1, 1]
        for c in range(C):
            mosaic[i * (k + 1) : i * (k + 1) + k, c * (k + 1) : c * (k + 1) + k] = W[c]
    width = max(8, C * 0.6)
    fig, ax = plots.new_figure(figsize=(width, (width - 2) * len(rows) / C + 1.3))
    ax.imshow(mosaic.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks([(k + 1) * c + k / 2 for c in range(0, C, max(1, C // 16))], range(1, C + 1, max(1, C // 16)))
    ax.set_xlabel(f"conv1 filter ({k} x {k} px each; red +, blue −, each scaled to its largest |weight|)")
    ax.set_yticks([(k + 1) * i + k / 2 for i in range(len(rows))], labels)
    ax.set_title("First-layer filters on Fashion-MNIST: random start and after training")
    plots.save(fig, path)

