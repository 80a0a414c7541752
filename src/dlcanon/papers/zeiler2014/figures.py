"""Figures for Zeiler & Fergus (2014): the shape of Fig. 2 for the top conv layer (deconv_top9.png: each unit's
strongest held-out activations, the picture patch its receptive field covers beside the deconvnet projection),
of Fig. 7 (occlusion.png: pictures beside their maps of p(correct class) under a sliding grey square), and the
learned layer-1 filters (layer1_filters.png)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

from .model import receptive_field


def to_rgb(x: torch.Tensor, white: torch.Tensor) -> torch.Tensor:
    """A mean-subtracted canvas (3, S, S) back to an (S, S, 3) picture in [0, 1]."""
    return (x + (1.0 - white)[:, None, None]).clamp(0, 1).permute(1, 2, 0).cpu()


def projection_rgb(R: torch.Tensor) -> torch.Tensor:
    """A projection (3, S, S) shown as the paper does: each picture scaled to its own range, zero at mid-grey."""
    scale = R.abs().max().clamp(min=1e-12)
    return (0.5 + 0.5 * R / scale).clamp(0, 1).permute(1, 2, 0).cpu()


def patch(img: torch.Tensor, field: torch.Tensor, side: int, fill: float) -> torch.Tensor:
    """The receptive field's part of an (S, S, 3) picture, padded with `fill` to side x side where the field
    runs off the canvas."""
    rows, cols = field.any(1).nonzero().flatten(), field.any(0).nonzero().flatten()
    part = img[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    out = torch.full((side, side, 3), fill)
    out[: part.shape[0], : part.shape[1]] = part
    return out


def deconv_grid(data: dict, pr: dict, cfg, m: dict, bound: float, path) -> None:
    """Fig. 2: for the figure_units units with the strongest top activations, the top_k patches (top row of each
    unit) and their projections (row below), each projection cut to the same receptive field. One sheet, drawn
    with a single imshow."""
    units = pr["unit"].unique()
    if len(units) == 0:
        return
    strength = torch.stack([pr["value"][pr["unit"] == u].mean() for u in units])
    chosen = units[strength.argsort(descending=True)[: cfg.figure_units]].tolist()
    J, h = receptive_field(cfg.kernels, len(cfg.kernels))
    side, gap = min(J + 2 * h, cfg.canvas), 2
    k = int(max((pr["unit"] == u).sum() for u in chosen))
    sheet = torch.ones(len(chosen) * (2 * side + 3 * gap), k * (side + gap), 3)
    for row, u in enumerate(chosen):
        top = row * (2 * side + 3 * gap)
        for col, i in enumerate((pr["unit"] == u).nonzero().flatten().tolist()):
            x0 = col * (side + gap)
            picture = to_rgb(data["x_test"][pr["picture"][i]], data["white"])
            sheet[top : top + side, x0 : x0 + side] = patch(picture, pr["field"][i], side, 1.0)
            sheet[top + side + gap : top + 2 * side + gap, x0 : x0 + side] = patch(
                projection_rgb(pr["R"][i]), pr["field"][i], side, 0.5
            )
    fig, ax = plots.new_figure(figsize=(max(6.5, 0.75 * k + 1.2), 1.5 * len(chosen) + 1.2))
    ax.imshow(sheet.numpy(), interpolation="nearest")
    ax.set_yticks([row * (2 * side + 3 * gap) + side for row in range(len(chosen))])
    ax.set_yticklabels([f"unit {u}" for u in chosen], fontsize=8)
    ax.set_xticks([])
    ax.set_xlabel(f"top {k} held-out activations (patch = the unit's {side}-px receptive field; below: projection)")
    ax.set_title(
        f"Top conv layer, deconvnet projections (Fig. 2's layout)\n"
        f"|R| per object pixel / (per object + per background pixel) in the receptive field:\n"
        f"{m['deconv_fg_share']:.2f} trained, {m['deconv_fg_share_untrained']:.2f} untrained (claim >= {bound:.2f})",
        fontsize=9,
    )
    plots.save(fig, path)


def occlusion_maps(data: dict, occ: dict, cfg, m: dict, bound: float, path, n: int = 6) -> None:
    """Fig. 7 (a, d): pictures beside maps of p(correct class) as the grey square's centre moves, with the
    object's outline drawn over the map."""
    n = min(n, len(occ["idx"]))
    side = int(round(occ["drop"].shape[1] ** 0.5))
    fig, axes = plots.new_figure(2, max(n, 1), figsize=(2.0 * max(n, 1) + 0.8, 4.9), squeeze=False)
    for c in range(n):
        i = occ["idx"][c]
        axes[0, c].imshow(to_rgb(data["x_test"][i], data["white"]).numpy(), interpolation="nearest")
        axes[0, c].set_title(str(data["names"][int(i)])[:22], fontsize=8)
        drop = occ["drop"][c].view(side, side).cpu().numpy()
        im = axes[1, c].imshow(drop, cmap="magma", vmin=0, vmax=max(float(drop.max()), 1e-6), interpolation="nearest")
        axes[1, c].contour(occ["on_object"][c].view(side, side).cpu().float().numpy(), levels=[0.5], colors="cyan",
                           linewidths=0.8)  # fmt: skip
        fig.colorbar(im, ax=axes[1, c], fraction=0.046, pad=0.04)
        for ax in axes[:, c]:
            ax.set_xticks([]), ax.set_yticks([])
    axes[1, 0].set_ylabel("drop in p(correct)\nby square centre", fontsize=8)
    fig.suptitle(
        f"Occlusion with a {cfg.occluder}-px grey square, stride {cfg.occlusion_stride} (Fig. 7's layout); cyan: the "
        f"object\nmean drop on object {m['occlusion_fg_mean_drop']:.3f}, on background "
        f"{m['occlusion_bg_mean_drop']:.3f}: share {m['occlusion_fg_share']:.2f} (claim >= {bound:.2f}), "
        f"{int(m['n_occluded'])} pictures",
        fontsize=9,
    )
    plots.save(fig, path)


def filters(W: torch.Tensor, path) -> None:
    """Layer-1 filters as colour pictures, each scaled to its own range (Fig. 5's layer-1 panels)."""
    k, _, h, w = W.shape
    cols = min(k, 8)
    rows = (k + cols - 1) // cols
    lo = W.amin(dim=(1, 2, 3), keepdim=True)
    hi = W.amax(dim=(1, 2, 3), keepdim=True)
    tiles = ((W - lo) / (hi - lo + 1e-12)).permute(0, 2, 3, 1)  # (k, h, w, 3) in [0, 1]
    sheet = torch.ones(rows * (h + 1) - 1, cols * (w + 1) - 1, 3)  # white lines between filters
    for i in range(k):
        r, c = divmod(i, cols)
        sheet[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = tiles[i]
    fig, ax = plots.new_figure(figsize=(0.9 * cols + 0.5, 0.9 * rows + 0.8))
    ax.imshow(sheet.numpy(), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"layer 1: {k} learned {h}x{w}x3 filters")
    plots.save(fig, path)
