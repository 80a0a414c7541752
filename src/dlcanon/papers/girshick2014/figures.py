"""Figures for Girshick et al. (2014): test scenes with ground-truth boxes and the CNN detector's boxes before and
after bounding-box regression (detections.png, in the manner of the paper's Fig. 8-11 examples), and precision-
recall curves per class for CNN, HOG and raw-pixel features on the same proposals (pr_curves.png)."""

from __future__ import annotations

import torch

from dlcanon.core import plots

from .model import precision_recall


def scenes(test: dict, det: list, det_reg: list, names: list[str], path, n: int = 6, min_score: float = 0.0) -> None:
    """The first n test scenes: ground truth (white, dashed), detections scoring above min_score before box
    regression (thin, the class's colour) and after it (thick)."""
    n = min(n, len(test["images"]))
    cols = (n + 1) // 2
    fig, axes = plots.new_figure(2, cols, figsize=(3.2 * cols, 6.8), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    for s, ax in enumerate(axes.flat[:n]):
        ax.imshow(test["images"][s].permute(1, 2, 0).numpy())
        for b in test["boxes"][s].tolist():
            ax.add_patch(_rect(b, "white", 1.5, "--"))
        for k in range(len(names)):
            for dets, lw in ((det, 0.8), (det_reg, 2.0)):
                boxes, scores = dets[k][s]
                shown = scores > min_score
                for b, sc in zip(boxes[shown].tolist(), scores[shown].tolist(), strict=True):
                    ax.add_patch(_rect(b, f"C{k}", lw, "-"))
                    if lw > 1:
                        ax.text(b[0], b[1] - 1, f"{names[k].split()[0]} {sc:.1f}", color=f"C{k}", fontsize=6)
        ax.set_axis_off()
    fig.suptitle("Test scenes (held-out drawings): ground truth dashed white; detections with SVM score > 0, "
                 "thin = proposal box, thick = after box regression", fontsize=9)  # fmt: skip
    plots.save(fig, path)


def _rect(b, colour, lw, ls):
    import matplotlib.patches as patches

    return patches.Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, edgecolor=colour, lw=lw, ls=ls)


def pr_curves(curves: dict, m: dict, names: list[str], path) -> None:
    """Precision against recall at IoU 0.5, one panel per class, one line per feature type."""
    fig, axes = plots.new_figure(1, len(names), figsize=(3.4 * len(names), 3.6), squeeze=False)
    styles = {"cnn": ("C0", "-"), "hog": ("C3", "--"), "pixel": ("C2", ":")}
    for k, ax in enumerate(axes[0]):
        for feat, per_class in curves.items():
            tp, n_gt = per_class[k]
            p, r = precision_recall(tp, n_gt)
            p = p.flip(0).cummax(0).values.flip(0) if len(p) else p  # the monotone envelope AP integrates
            colour, ls = styles[feat]
            ax.plot(torch.cat([torch.zeros(1), r.float()]), torch.cat([torch.ones(1), p.float()]), color=colour,
                    ls=ls, label=f"{feat} AP {m[f'{feat}_ap_{k}']:.2f}")  # fmt: skip
        ax.set(xlabel="recall", ylabel="precision" if k == 0 else None, xlim=(0, 1), ylim=(0, 1.02), title=names[k])
        ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"AP@0.5 on test scenes: mAP cnn {m['cnn_map']:.3f}, hog {m['hog_map']:.3f}, pixel "
                 f"{m['pixel_map']:.3f} (cnn + box regression {m['cnn_bbox_map']:.3f})", fontsize=10)  # fmt: skip
    plots.save(fig, path)
