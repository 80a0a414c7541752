"""Figures for Radford et al. (2016): samples of G with the judge's class shares (samples.png), Sec. 6.1's walk in
the latent space (latent_walk.png, the shape of Fig. 4) and the linear classifiers' accuracies (linear_probe.png)."""

from __future__ import annotations

import numpy as np
import torch

from dlcanon.core import plots

from .model import interpolate


def tile(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """(rows * cols, 1, s, s) images in [-1, 1] -> one (rows * (s + 1), cols * (s + 1)) picture in [0, 1]."""
    s = x.shape[-1]
    x = bordered((x[:, 0].cpu() + 1) / 2, s)  # (n, s + 1, s + 1), a white line right and below each image
    return x.reshape(rows, cols, s + 1, s + 1).permute(0, 2, 1, 3).reshape(rows * (s + 1), cols * (s + 1))


def bordered(x: torch.Tensor, s: int) -> torch.Tensor:
    out = torch.ones(len(x), s + 1, s + 1)
    out[:, :s, :s] = x
    return out


def samples(x: torch.Tensor, said: dict, classes, path) -> None:
    """Up to 100 samples of G beside the share of each class the judge names (samples, real, untrained G)."""
    fig, (a, b) = plots.new_figure(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [1, 1.3]})
    rows = min(10, len(x) // 10)
    a.imshow(tile(x[: 10 * rows], rows, 10).numpy(), cmap="gray", vmin=0, vmax=1)
    a.set_axis_off()
    a.set_title(f"{10 * rows} samples of G (z ~ U[-1, 1])")
    width = 0.27
    for k, (name, colour) in enumerate((("samples", "C0"), ("real", "C2"), ("untrained", "C7"))):
        share = said[name]["share"].cpu()
        label = f"{name} (mean confidence {said[name]['confidence']:.2f})"
        b.bar(np.arange(10) + (k - 1) * width, 100 * share.numpy(), width, color=colour, label=label)
    b.axhline(5, color="k", ls="--", lw=1, label="5%: a class counts as covered")
    b.set_xticks(range(10), classes, rotation=40, ha="right")
    b.set(ylabel="share of images the judge puts in the class (%)", title="what the independent classifier sees")
    b.legend(fontsize=8)
    plots.save(fig, path)


@torch.no_grad()
def walk(G, cfg, g: torch.Generator, path, rows: int = 8, steps: int = 10) -> None:
    """Sec. 6.1, Fig. 4: each row is G along the straight line between two random points of Z."""
    device = next(G.parameters()).device
    z0, z1 = (torch.rand(rows, cfg.z_dim, generator=g) * 2 - 1 for _ in range(2))
    z = interpolate(z0, z1, torch.linspace(0, 1, steps)).reshape(rows * steps, cfg.z_dim)  # (P, T, z) -> (P T, z)
    G.eval()
    x = G(z.to(device))
    G.train()
    fig, ax = plots.new_figure(1, 1, figsize=(7, 6))
    ax.imshow(tile(x, rows, steps).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"walking in the latent space: {rows} lines between random z, {steps} steps each")
    plots.save(fig, path)


def probes(m: dict, bar: float, path) -> None:
    """Test accuracy of the linear classifier on each representation, ± the spread over label draws."""
    names = [("pixels", "raw pixels"), ("random_d", "untrained D"), ("dcgan", "DCGAN's D")]
    acc = [100 * m[f"probe_accuracy_{k}"] for k, _ in names]
    err = [100 * m.get(f"probe_accuracy_{k}:std", 0.0) for k, _ in names]
    err = [0.0 if e != e else e for e in err]
    fig, ax = plots.new_figure(1, 1, figsize=(6.5, 4.5))
    ax.bar(range(3), acc, yerr=err, color=["C7", "C1", "C0"], capsize=4)
    for i, a in enumerate(acc):
        ax.text(i, a - 1.0, f"{a:.1f}%", ha="center", va="top", color="white", fontweight="bold")
    ax.axhline(acc[0] + 100 * bar, color="k", ls="--", lw=1, label=f"claim: pixels + {100 * bar:g} points")
    ax.set_xticks(range(3), [f"{n}\n({int(m[f'n_features_{k}'])} features)" for k, n in names])
    ax.set_ylim(max(0.0, min(acc) - 10), min(100.0, max(acc) + 5))
    ax.set(ylabel="test accuracy (%)", title="L2 logistic regression on few labels (Sec. 5.1)")
    ax.legend(fontsize=9, loc="lower right")
    plots.save(fig, path)
