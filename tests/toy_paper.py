"""A tiny paper used by the core tests: a loop that draws random numbers every step and checkpoints.

Drawing from the global RNG each step means a resumed run only matches an uninterrupted one if the
checkpoint restores the RNG exactly.
"""

import time
from dataclasses import dataclass

import torch

from dlcanon.core.config import Annotated, Range
from dlcanon.core.paper import Claim, Paper


@dataclass
class Config:
    steps: Annotated[int, Range(ge=1, le=10_000)] = 12
    """Optimisation steps."""
    lr: Annotated[float, Range(gt=0, le=1)] = 0.1
    """Learning rate."""
    sleep: Annotated[float, Range(ge=0, le=10)] = 0.0
    """Seconds to wait per step (lets a test kill the run midway)."""
    flag: bool = False
    """A boolean, for the override parser."""
    sizes: Annotated[tuple[int, ...], Range(ge=1, le=100)] = (2, 3)
    """A tuple, for the override parser."""
    warmup: Annotated[int, Range(ge=0, le=10_000)] = 0
    """Steps before the first checkpoint, for the cross-field rule."""

    def check(self) -> None:
        if self.warmup >= self.steps:
            raise ValueError(f"warmup ({self.warmup}) must be less than steps ({self.steps})")


def run(cfg: Config, ctx) -> dict[str, float]:
    w = torch.zeros(4)
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        w = state["w"]
    for step in range(start, cfg.steps):
        target = torch.randn(4)
        w = w - cfg.lr * 2 * (w - target)
        ctx.log(step + 1, loss=float(((w - target) ** 2).sum()))
        ctx.checkpoint(step + 1, {"w": w})
        time.sleep(cfg.sleep)
    return {"w_norm": float(w.norm()), "w_sum": float(w.sum()), "steps": float(cfg.steps)}


PAPER = Paper(
    id="toy",
    presets={"smoke": Config(steps=3), "quick": Config(), "full": Config(steps=100)},
    run=run,
    claims=[Claim("ran", "steps", ">=", 1, "n/a", "n/a"),
            Claim("small", "w_norm", "<", 1e-3, "n/a", "n/a", known_fail="cannot hold: w follows noise")],
)

if __name__ == "__main__":          # used by the kill/resume test: python toy_paper.py SLEEP
    import sys

    from dlcanon.core import runtime

    runtime.execute(PAPER, "quick", seed=3, device="cpu", overrides={"sleep": sys.argv[1]}, quiet=True)
