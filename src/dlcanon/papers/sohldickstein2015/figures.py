"""Figures for Sohl-Dickstein et al. (2015): Fig. 1 redrawn on our swiss roll (fig1_swiss_roll.png), digit samples
(digit_samples.png) and the held-out bound K during training (bound_K.png)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlcanon.core import plots


def fig1(art, cfg, metrics, path) -> None:
    """Fig. 1's shape: top row the forward trajectory q(x^(t)) at t = 0, T/2, T (held-out data diffused); middle row
    the learned reverse trajectory p(x^(t)) at t = T, T/2, 1 (samples); bottom row the drift f_mu(x^(t), t) - x^(t)
    on a grid at t = T, T/2, 2."""
    model, x0, traj, T = art["model"], art["x_test"], art["traj"], cfg.swiss_T
    g = torch.Generator(device=x0.device).manual_seed(5)
    times = (0, T // 2, T)  # columns; the reverse row shows the same times
    fig, axes = plots.new_figure(3, 3, figsize=(10, 10))
    for col, t in enumerate(times):
        xt = x0 if t == 0 else model.q.sample(x0, torch.full((len(x0),), t, device=x0.device),
                                               torch.randn(x0.shape, generator=g, device=x0.device))
        axes[0, col].scatter(*xt.cpu().T, s=1, alpha=0.5)
        axes[0, col].set_title(f"forward q(x^({t}))")
        xr = traj[T - max(t, 1)]  # the list runs x^(T) .. x^(1): x^(t) sits at position T - t
        axes[1, col].scatter(*xr.cpu().T, s=1, alpha=0.5, color="C1")
        axes[1, col].set_title(f"reverse p(x^({t}))" if t else "reverse p(x^(1)), the sample")
    grid = torch.stack(torch.meshgrid(torch.linspace(-2.5, 2.5, 21), torch.linspace(-2.5, 2.5, 21),
                                      indexing="xy"), -1).reshape(-1, 2).to(x0.device)
    for col, t in enumerate((T, T // 2, 2)):
        with torch.no_grad():
            f_mu, _ = model.reverse_step(grid, torch.full((len(grid),), t, device=x0.device, dtype=torch.long))
        drift = (f_mu - grid).cpu()
        axes[2, col].quiver(*grid.cpu().T, *drift.T, angles="xy", color="C2")
        axes[2, col].scatter(*x0.cpu().T, s=0.5, alpha=0.2, color="grey")
        axes[2, col].set_title(f"drift f_mu(x, {t}) - x")
    for ax in axes.flat:
        ax.set(xlim=(-2.8, 2.8), ylim=(-2.8, 2.8), aspect="equal", xlabel="x_1 (scaled)", ylabel="x_2 (scaled)")
    fig.suptitle(f"swiss roll, T = {T}: energy distance of samples = {metrics['swiss_energy_ratio']:.3f} of the "
                 f"prior's (claim < 0.1); K - L_null = {metrics['swiss_K_minus_Lnull_bits']:.2f} bits")
    plots.save(fig, path)


def digit_samples(art, metrics, path, n: int = 10) -> None:
    """A grid of samples labelled by the classifier, beside held-out digits and their reverse-mean denoising."""
    fig, axes = plots.new_figure(1, 3, figsize=(15, 5.4))
    panels = ((art["samples"], "samples of the reverse trajectory"),
              (torch.cat([art["x_test"][:n * 3], art["noisy"][:n * 3], art["den"][:n * 4]]),
               "held-out (3 rows), diffused x^(t)/sqrt(abar) (3), reverse means (4)"),
              (art["x_test"], "held-out real digits"))
    for ax, (x, title) in zip(axes, panels, strict=True):
        tiles = F.pad(x[: n * n].cpu().reshape(n * n, 8, 8), (1, 1, 1, 1), value=-1.0)  # a blank frame each
        canvas = tiles.reshape(n, n, 10, 10).permute(0, 2, 1, 3).reshape(n * 10, n * 10)
        ax.imshow(canvas.numpy(), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"8x8 digits: Frechet distance ratio (samples / noise) {metrics['digits_fd_ratio']:.3f} "
                 f"(claim < 0.1); classifier confidence {metrics['digits_confidence']:.2f}")
    plots.save(fig, path)


def bound_curves(swiss, digits, metrics, path) -> None:
    """K (Eq. 14) on held-out data against Adam steps, with L_null (the isotropic Gaussian) marked."""
    fig, axes = plots.new_figure(1, 2, figsize=(11, 4.2))
    for ax, curve, name in ((axes[0], swiss, "swiss"), (axes[1], digits, "digits")):
        steps, k = zip(*curve, strict=True)
        ax.plot(steps, k, "o-", label="K (held out)")
        ax.axhline(metrics[f"{name}_Lnull_bits"], color="grey", ls="--", label="L_null: N(0, I)")
        ax.set(xlabel="Adam steps", ylabel="bits per example", title=name)
        ax.legend()
    plots.save(fig, path)
