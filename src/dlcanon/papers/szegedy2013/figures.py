"""Figures for Szegedy et al. (2013): adversarial examples with their perturbation (the shape of Fig. 5), the
cross-model error table (Tables 2 and 4), the distortions the attack needed (Table 1), test error against eps for
the fast gradient sign method (Goodfellow et al. 2015), and the top images of units against random directions
(Fig. 1-2)."""

from __future__ import annotations

import numpy as np
import torch

from dlcanon.core import plots

from .attack import predict

NAMES = {"fc10": "FC10", "fc100": "FC100-100-10", "fc123": "FC123-456-10", "fc100p2": "FC100-100-10'"}


def _img(ax, v: torch.Tensor, **kw) -> None:
    ax.imshow(v.view(28, 28).numpy(), cmap=kw.pop("cmap", "gray"), **kw)
    ax.set_xticks([]), ax.set_yticks([])


def adversarial_examples(x, y, l, kept: dict, net, path, n: int = 6) -> None:
    """Fig. 5's layout, on MNIST: each column an attacked test image; rows: the original, the perturbation r
    (magnified: its own symmetric colour scale), the adversarial example x + r with the net's new answer."""
    x_adv, found = kept["x_adv"], kept["found"]
    idx = torch.nonzero(found).squeeze(1)[:n]
    fig, axes = plots.new_figure(3, max(len(idx), 1), figsize=(1.7 * max(len(idx), 1), 5.6), squeeze=False)
    pred = predict(net, x_adv)
    for j, i in enumerate(idx.tolist()):
        r = x_adv[i] - x[i]
        a = float(r.abs().max()) or 1.0
        _img(axes[0, j], x[i], vmin=0, vmax=1)
        axes[0, j].set_title(f"label {int(y[i])}", fontsize=8)
        _img(axes[1, j], r, cmap="RdBu_r", vmin=-a, vmax=a)
        axes[1, j].set_title(f"r (max |r| {a:.2f})", fontsize=8)
        _img(axes[2, j], x_adv[i], vmin=0, vmax=1)
        rms = float(r.pow(2).mean().sqrt())
        axes[2, j].set_title(f"-> {int(pred[i])} (target {int(l[i])})\ndistortion {rms:.3f}", fontsize=8)
    for row, name in enumerate(("original x", "perturbation r", "x + r")):
        axes[row, 0].set_ylabel(name, fontsize=9)
    fig.suptitle("Box-constrained L-BFGS adversarial examples for FC100-100-10 (distortion = sqrt(sum r^2 / 784))",
                 fontsize=9)  # fmt: skip
    plots.save(fig, path)


def transfer_table(m: dict, cfg, attacked: list[str], path) -> None:
    """Tables 2 and 4 as one heat map: the error (%) of each net (column) on each row's images: minimal adversarial
    examples made for each attacked net, the same amplified to distortion amplify_rms, Gaussian noise."""
    cols = list(NAMES)
    rows = [("clean test set", {c: m[f"{c}_test_error"] for c in cols})]
    for a in attacked:
        rows.append((f"adv. for {NAMES[a]} ({m[f'adv_{a}_rms']:.3f})",
                     {c: m[f"adv_{a}_on_{c}_error"] for c in cols}))  # fmt: skip
    for a in attacked:
        rows.append((f"adv. for {NAMES[a]}, amplified to {cfg.amplify_rms:g} ({m[f'amp_{a}_rms']:.3f})",
                     {c: m[f"amp_{a}_on_{c}_error"] for c in cols}))  # fmt: skip
    for s in cfg.noise_stds:
        rows.append((f"Gaussian noise, stddev {s:g}", {c: m[f"gauss{s:g}_on_{c}_error"] for c in cols}))
    table = np.array([[r[c] * 100 for c in cols] for _, r in rows])
    fig, ax = plots.new_figure(figsize=(9, 0.45 * len(rows) + 1.8))
    ax.imshow(table, cmap="Reds", vmin=0, vmax=100, aspect="auto")
    for i, j in np.ndindex(table.shape):
        ax.text(j, i, f"{table[i, j]:.1f}", ha="center", va="center", fontsize=8,
                color="white" if table[i, j] > 60 else "black")  # fmt: skip
    ax.set_xticks(range(len(cols)), [f"{NAMES[c]}\n({'P2' if c == 'fc100p2' else 'P1'})" for c in cols], fontsize=8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    n = int(m["n_attacked"])
    ax.set_title(f"Error (%) of each net (columns). First row: all 10,000 test images; other rows: {n} test images\n"
                 "every net gets right, perturbed as the row says (in brackets: mean distortion).\nPaper, Table 4: "
                 "adv. for FC100-100-10 -> 26.2% in FC123-456-10, 5.9% in FC100-100-10';\namplified to 0.1 -> 98%, "
                 "43%; Gaussian noise 0.1 -> 2.6-2.8%", fontsize=8)  # fmt: skip
    plots.save(fig, path)


def distortions(x, kept: dict, path) -> None:
    """Table 1's quantity per image: the distortion sqrt(sum r^2 / 784) the line search needed, per attacked net."""
    fig, ax = plots.new_figure(figsize=(7, 3.8))
    for key, k in kept.items():
        d = (k["x_adv"] - x).pow(2).mean(1).sqrt()[k["found"]].numpy()
        if len(d):
            ax.hist(d, bins=20, histtype="step", lw=1.8, label=f"{NAMES[key]} (mean {d.mean():.3f})")
    ax.axvline(0.058, color="k", ls=":", lw=1, label="paper, Table 1: FC100-100-10 0.058")
    ax.axvline(0.1, color="r", ls="--", lw=1, label="our claim's bound 0.1")
    ax.set(xlabel="distortion sqrt(sum r^2 / 784) (pixels in [0, 1])", ylabel="attacked test images")
    ax.legend(fontsize=8)
    plots.save(fig, path)


def fgsm_curves(m: dict, cfg, path) -> None:
    """Test error against eps: the fast gradient sign method (solid) and noise of random sign, same eps (dashed)."""
    fig, ax = plots.new_figure(figsize=(7.5, 4.5))
    eps = sorted(cfg.fgsm_eps)
    for k, (key, name) in enumerate(NAMES.items()):
        color = f"C{k}"
        ax.plot(eps, [m[f"fgsm_{key}_eps{e:g}_error"] for e in eps], "o-", color=color, label=f"{name}: FGSM")
        ax.plot(eps, [m[f"signnoise_{key}_eps{e:g}_error"] for e in eps], "--", color=color, alpha=0.7,
                label=f"{name}: random sign")  # fmt: skip
    ax.plot([0.25], [0.999], "k*", ms=12, label="Goodfellow et al. 2015: softmax 99.9%")
    ax.plot([0.25], [0.894], "kX", ms=10, label="Goodfellow et al. 2015: maxout 89.4%")
    ax.axhline(0.9, color="C0", ls=":", lw=1)
    ax.axhline(0.7, color="C1", ls=":", lw=1)
    ax.set(xlabel="eps (max change per pixel, pixels in [0, 1])", ylabel="error on the 10,000 test images",
           ylim=(0, 1.02))  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("x + eps sign(grad_x J): dotted lines are our claims' bounds (softmax 0.9, FC100-100-10 0.7)",
                 fontsize=9)  # fmt: skip
    plots.save(fig, path)


def units_vs_random(x, y, shown: dict, m: dict, path, rows: int = 5) -> None:
    """Fig. 1-2's layout: each row the top test images of one unit e_i (left) or one random direction v (right)
    of FC100-100-10's last hidden layer, with the row's labels and purity."""
    k = shown["units"].shape[1]
    fig, axes = plots.new_figure(rows, 2 * k + 1, figsize=(0.75 * (2 * k + 1), 0.9 * rows + 1.0), squeeze=False)
    for i in range(rows):
        for side, key in ((0, "units"), (1, "random")):
            idx = shown[key][i]
            for j in range(k):
                _img(axes[i, side * (k + 1) + j], x[idx[j]], vmin=0, vmax=1)
            labels = y[idx]
            share = float((labels == labels.mode().values).float().mean())
            axes[i, side * (k + 1)].set_ylabel(f"{share:.2f}", fontsize=8)
        axes[i, k].axis("off")
    fig.suptitle(f"FC100-100-10, top {k} test images of <phi(x), e_i> (left: units, mean purity over all units "
                 f"{m['purity_units_fc100']:.2f})\nand of <phi(x), v> (right: random directions, mean purity "
                 f"{m['purity_random_fc100']:.2f}); row label = share of the most common digit (chance "
                 f"{m['purity_chance']:.2f})", fontsize=9)  # fmt: skip
    plots.save(fig, path)
