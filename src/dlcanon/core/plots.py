"""Figures saved per run (matplotlib, Agg backend: no display needed).

Each paper draws the figures its claims are about (axes named with units, the paper's figure or our threshold
marked); core draws none of its own: a generic plot of every logged scalar against "step" misleads where the
x-axis is not training steps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def new_figure(*args, **kwargs):
    """plt.subplots for papers that draw their own figures (then `save(fig, ctx.path("name.png"))`)."""
    return plt.subplots(*args, **kwargs)


def save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
