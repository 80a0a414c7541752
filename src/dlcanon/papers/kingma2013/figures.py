"""Figures for Kingma & Welling (2013): Fig. 2 redrawn (fig2_bound.png) and Fig. 4(b), the learned MNIST manifold
of an N_z = 2 model (fig4_manifold.png)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

LABELS = {"aevb": "AEVB", "wake_sleep": "wake-sleep"}
COLOURS = {"aevb": "C0", "wake_sleep": "C3"}


def fig2(history, cfg, metrics, path) -> None:
    """The lower bound per image on training and test images against training images seen (log axis, as Fig. 2)."""
    fig, ax = plots.new_figure(1, 1, figsize=(7.5, 4.8))
    seen = [s * cfg.batch_size for s in history["step"]]
    for name in ("aevb", "wake_sleep"):
        c = COLOURS[name]
        ax.plot(seen, history[f"{name}_train"], c + "--", lw=1, label=f"{LABELS[name]} (train)")
        ax.plot(seen, history[f"{name}_test"], c + "-", lw=1.5,
                label=f"{LABELS[name]} (test), step size {metrics[f'{name}_step_size']:g}")  # fmt: skip
    ax.set_xscale("log")
    ax.set(xlabel="training images evaluated", ylabel="lower bound L per image (nats)",
           title=f"MNIST, N_z = {cfg.N_z}, {cfg.hidden} hidden units: AEVB {metrics['aevb_test_elbo']:.1f} vs "
                 f"wake-sleep {metrics['wake_sleep_test_elbo']:.1f} nats (test)")  # fmt: skip
    ax.legend(fontsize=9, loc="lower right")
    plots.save(fig, path)


def fig4(model, path, n: int = 20) -> None:
    """Linearly spaced points of the unit square through the inverse Gaussian CDF give z; draw the decoder's
    means p_θ(x|z) for each, as Fig. 4(b)."""
    u = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    z1 = torch.distributions.Normal(0.0, 1.0).icdf(u)
    zz = torch.stack(torch.meshgrid(z1, z1.flip(0), indexing="xy"), -1).reshape(-1, 2)
    device = next(model.parameters()).device
    y = model.decode_mean(zz.to(device)).cpu().reshape(n, n, 28, 28)
    canvas = y.permute(0, 2, 1, 3).reshape(n * 28, n * 28)
    fig, ax = plots.new_figure(1, 1, figsize=(7, 7))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title("learned MNIST manifold, N_z = 2 (decoder means on a grid of z)")
    plots.save(fig, path)
