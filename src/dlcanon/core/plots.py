"""Plots saved per run (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAX_PANELS = 12


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: Path, title: str = "") -> Path | None:
    """One panel per curve (step on x), at most MAX_PANELS (the longest curves). Returns the file written,
    or None when there is nothing to draw. Papers draw their own, more telling figures beside this one."""
    curves = {k: v for k, v in curves.items() if len(v) > 1}
    if len(curves) > MAX_PANELS:
        keep = sorted(curves, key=lambda k: -len(curves[k]))[:MAX_PANELS]
        curves = {k: curves[k] for k in keep}
    if not curves:
        return None
    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (name, points) in zip(axes.flat, sorted(curves.items()), strict=False):
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, lw=1.5)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def new_figure(*args, **kwargs):
    """plt.subplots for papers that draw their own figures (then `save(fig, ctx.path("name.png"))`)."""
    return plt.subplots(*args, **kwargs)


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
