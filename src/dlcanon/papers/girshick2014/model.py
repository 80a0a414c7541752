"""Girshick, Donahue, Darrell & Malik (2014), R-CNN: regions with CNN features, in the paper's notation.

Sec. 2 of the paper, module by module:
  2.1 region proposals, category-independent: `propose` (a small segmentation-based proposer of our own, standing
      in for selective search: connected components of a "not background" map at several thresholds, merged
      pairwise as selective search's hierarchical grouping does, plus scaled variants);
  2.1 feature extraction: every proposal is dilated so that the warped frame has p pixels of context around the
      original box, then warped (anisotropically) to a fixed square (`warp`), and run through a CNN (`ConvNet`):
      pool5 and fc7 features;
  2.2 test-time detection: a per-class linear SVM scores each region's fc7 feature vector (`LinearSVM`), then
      greedy non-maximum suppression per class (`nms`: reject a region if it has an IoU overlap above a learned
      threshold, 0.3 in our runs, with a higher-scoring selected region);
  2.3 training: supervised pre-training on a classification task, domain-specific fine-tuning on warped proposals
      (IoU >= 0.5 with a ground-truth box: positive for that box's class, else background; minibatches of 128
      with 32 positive windows), and the per-class SVMs (ground-truth boxes positive, proposals with IoU < 0.3
      with every instance of the class negative);
  App. C bounding-box regression: `bbox_targets`, `fit_ridge`, `apply_regression` (Eqs. 1-4 and the ridge
      objective on pool5 features, proposals with IoU >= 0.6).
The baselines with the same proposals and classifier use `hog` (Dalal & Triggs' histograms of oriented
gradients) or raw pixels instead of the CNN's features. `average_precision` is VOC's AP (all-point
interpolation, VOC 2010 onwards) and `average_precision_101` COCO's 101-point variant (for the parity test).

Boxes are (x1, y1, x2, y2) in continuous pixel coordinates: a box covering pixels 3..7 is (3, 3, 8, 8), its width
x2 - x1 = 5, with no "+1" (COCO's convention; VOC's devkit adds 1 to widths of integer pixel boxes).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

# ------------------------------------------------------------------------------------------------ boxes


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU overlap of every box in a (n, 4) with every box in b (m, 4): area(a & b) / area(a | b), shape (n, m)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])  # (n, m, 2)
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])  # (n, m, 2)
    inter = (rb - lt).clamp(min=0).prod(-1)  # (n, m)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)  # (n,)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)  # (m,)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Sec. 2.2, greedy non-maximum suppression: visit regions by decreasing score; keep one unless its IoU with an
    already kept region exceeds `threshold`. Returns the kept indices, highest score first."""
    order = scores.argsort(descending=True, stable=True)
    over = (box_iou(boxes[order], boxes[order]) > threshold).numpy()  # (n, n), in score order
    keep = np.ones(len(order), dtype=bool)
    for i in range(len(order)):  # n is a few hundred at most; each step is one vector operation
        if keep[i]:
            keep[i + 1 :] &= ~over[i, i + 1 :]
    return order[torch.from_numpy(keep)]


# ------------------------------------------------------------------------------------------------ proposals (2.1)


def saliency(images: torch.Tensor) -> torch.Tensor:
    """A "not background" map of (N, 3, H, W) pictures in [0, 1]: the largest per-channel gradient magnitude
    (central differences) plus the colour saturation (max - min channel), averaged over 3x3. Backgrounds here are
    blurred and grey, objects sharp and coloured; the proposer knows nothing of the classes. Returns (N, H, W)."""
    gx = F.pad(images[..., :, 2:] - images[..., :, :-2], (1, 1, 0, 0)) / 2
    gy = F.pad(images[..., 2:, :] - images[..., :-2, :], (0, 0, 1, 1)) / 2
    grad = torch.sqrt(gx**2 + gy**2).amax(1)
    sat = images.amax(1) - images.amin(1)
    return F.avg_pool2d((grad + sat)[:, None], 3, 1, 1, count_include_pad=False)[:, 0]


def closing(mask: torch.Tensor) -> torch.Tensor:
    """Binary closing of (N, H, W) masks with a 3x3 square: dilation (max-pool) then erosion (min-pool)."""
    m = F.max_pool2d(mask.float()[:, None], 3, 1, 1)
    return (-F.max_pool2d(-m, 3, 1, 1))[:, 0] > 0.5


def propose(images: torch.Tensor, thresholds: tuple[float, ...], scales: tuple[float, ...], max_boxes: int,
            windows: tuple[int, ...] = (), min_side: float = 6.0) -> list[torch.Tensor]:  # fmt: skip
    """Category-independent region proposals for (N, 3, H, W) pictures: per picture at most `max_boxes`
    (x1, y1, x2, y2) boxes.

    For each threshold, the connected components of saliency > threshold (after a 3x3 closing) give boxes; every
    pair of components whose boxes touch or nearly touch (a gap of at most 2 pixels) gives their union box too, the
    first step of selective search's hierarchical grouping. Each box is then also proposed scaled by each factor
    in `scales` about its centre. Near-duplicates (IoU > 0.9) are dropped, larger boxes first, and the list is cut
    at max_boxes; what room is left is filled by square sliding windows of each side in `windows` (a stride of half
    the side), largest windows first."""
    N, _, H, W = images.shape
    masks = torch.stack([closing(s) for s in (saliency(images)[None] > torch.tensor(thresholds).view(-1, 1, 1, 1))])
    masks = masks.permute(1, 0, 2, 3).numpy()  # (N, thresholds, H, W)
    grid = [torch.tensor([[x, y, x + w, y + w] for y in range(0, H - w + 1, max(w // 2, 1))
                          for x in range(0, W - w + 1, max(w // 2, 1))], dtype=torch.float32)
            for w in sorted(windows, reverse=True)]  # fmt: skip
    grid = torch.cat(grid) if grid else torch.zeros(0, 4)
    out = []
    for n in range(N):
        boxes = []
        for mask in masks[n]:
            labels, _ = ndimage.label(mask)
            comps = [(sl[1].start, sl[0].start, sl[1].stop, sl[0].stop) for sl in ndimage.find_objects(labels)]
            comps = np.array([c for c in comps if max(c[2] - c[0], c[3] - c[1]) >= min_side], dtype=np.float32)
            if len(comps) == 0:
                continue
            boxes.append(comps)
            if len(comps) > 1:  # unions of neighbouring components
                lo, hi = comps[:, :2], comps[:, 2:]
                gap = np.maximum(lo[:, None], lo[None]) - np.minimum(hi[:, None], hi[None])  # (c, c, 2)
                i, j = np.nonzero(np.triu((gap <= 2).all(-1), 1))
                boxes.append(np.concatenate([np.minimum(lo[i], lo[j]), np.maximum(hi[i], hi[j])], 1))
        if not boxes:
            out.append(torch.cat([torch.tensor([[0.0, 0.0, W, H]]), grid])[:max_boxes])
            continue
        b = torch.from_numpy(np.concatenate(boxes))
        c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) / 2
        b = torch.cat([b] + [torch.cat([c - f * half, c + f * half], 1) for f in scales])
        b[:, 0::2] = b[:, 0::2].clamp(0, W)
        b[:, 1::2] = b[:, 1::2].clamp(0, H)
        keep = nms(b, (b[:, 2:] - b[:, :2]).prod(1), 0.9)  # larger boxes first; drop near-duplicates
        b = b[keep[:max_boxes]]
        out.append(torch.cat([b, grid[: max_boxes - len(b)]]))
    return out


# ------------------------------------------------------------------------------------------------ warping (2.1)


def warp(images: torch.Tensor, image_idx: torch.Tensor, boxes: torch.Tensor, size: int, p: float) -> torch.Tensor:
    """Sec. 2.1 / App. A: dilate each box so that, once warped to size x size, it has p pixels of context on every
    side (the paper: p = 16 at 227), then warp the region anisotropically (bilinear) to size x size.

    images (N, C, H, W), already mean-subtracted, so that the zero padding beyond the picture is the image mean as in
    the paper; image_idx (n,) which picture each of the boxes (n, 4) is in. Returns (n, C, size, size)."""
    _, C, H, W = images.shape
    grow = size / (size - 2 * p)  # the box spans size - 2p of the warped frame's size pixels
    c, half = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]).clamp(min=1.0) / 2 * grow
    r = (torch.arange(size, dtype=boxes.dtype) + 0.5) / size * 2 - 1  # (size,) centres of the output pixels, -1..1
    xs = (c[:, 0:1] + r * half[:, 0:1]) / W * 2 - 1  # (n, size) in grid_sample's -1..1 (align_corners=False)
    ys = (c[:, 1:2] + r * half[:, 1:2]) / H * 2 - 1
    grid = torch.stack([xs[:, None, :].expand(-1, size, -1), ys[:, :, None].expand(-1, -1, size)], -1)
    out = torch.empty(len(boxes), C, size, size)
    for i in image_idx.unique().tolist():  # one grid_sample per picture, on all its boxes at once
        sel = (image_idx == i).nonzero().flatten()
        src = images[i : i + 1].expand(len(sel), -1, -1, -1)
        out[sel] = F.grid_sample(src, grid[sel], mode="bilinear", padding_mode="zeros", align_corners=False)
    return out


# ------------------------------------------------------------------------------------------------ features


class ConvNet(nn.Module):
    """A small stand-in for the paper's AlexNet-style CNN (Sec. 2.1): three conv + max-pool stages (conv1..conv3,
    the last pooled map playing pool5), two fully connected layers fc6, fc7, and a softmax classifier whose size is
    set by the task: 9 emoji groups in pre-training, N + 1 (N classes and background) in fine-tuning (Sec. 2.3)."""

    def __init__(self, widths: tuple[int, int, int], hidden: int, size: int, n_out: int):
        super().__init__()
        c1, c2, c3 = widths
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(3, c1, 3, padding=1), nn.Conv2d(c1, c2, 3, padding=1), \
            nn.Conv2d(c2, c3, 3, padding=1)  # fmt: skip
        side = size // 8
        self.fc6, self.fc7 = nn.Linear(c3 * side * side, hidden), nn.Linear(hidden, hidden)
        self.cls = nn.Linear(hidden, n_out)

    def pool5(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return x.flatten(1)  # (B, c3 * side^2)

    def fc7_from_pool5(self, h: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc7(F.relu(self.fc6(h))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.fc7_from_pool5(self.pool5(x)))

    def new_head(self, n_out: int, generator: torch.Generator) -> None:
        """Sec. 2.3: replace the classification layer by a randomly initialised (N + 1)-way one."""
        self.cls = nn.Linear(self.cls.in_features, n_out)
        with torch.no_grad():
            self.cls.weight.normal_(0, 0.01, generator=generator)
            self.cls.bias.zero_()


def hog(x: torch.Tensor, cell: int = 8, bins: int = 9, eps: float = 1e-6, clip: float = 0.2) -> torch.Tensor:
    """Dalal & Triggs' HOG of (n, C, S, S) windows: [-1, 0, 1] gradients, at each pixel the channel with the largest
    magnitude; unsigned orientations 0..180 degrees in `bins` bins (votes = magnitude, split linearly between the
    two nearest bin centres); sums over cell x cell cells; blocks of 2x2 cells at a stride of one cell, each
    L2-Hys normalised (L2, clip at 0.2, L2 again). Returns (n, blocks * 4 * bins)."""
    gx = F.pad(x[..., :, 2:] - x[..., :, :-2], (1, 1, 0, 0))  # (n, C, S, S), zero at the border
    gy = F.pad(x[..., 2:, :] - x[..., :-2, :], (0, 0, 1, 1))
    mag = torch.sqrt(gx**2 + gy**2)
    best = mag.argmax(1, keepdim=True)
    mag, gx, gy = mag.gather(1, best)[:, 0], gx.gather(1, best)[:, 0], gy.gather(1, best)[:, 0]  # (n, S, S)
    theta = torch.atan2(gy, gx) % math.pi  # unsigned, [0, pi)
    pos = theta / (math.pi / bins) - 0.5  # bin centres at (k + 0.5) * 180 / bins degrees
    lo = pos.floor()
    w_hi = pos - lo
    lo = lo.long() % bins
    hi = (lo + 1) % bins
    n, S, _ = mag.shape
    c = S // cell
    cell_of = ((torch.arange(S) // cell)[:, None] * c + (torch.arange(S) // cell)[None, :]).flatten()  # (S*S,)
    cells = torch.zeros(n, bins * c * c)
    cells.scatter_add_(1, lo.flatten(1) * c * c + cell_of, (mag * (1 - w_hi)).flatten(1))
    cells.scatter_add_(1, hi.flatten(1) * c * c + cell_of, (mag * w_hi).flatten(1))
    cells = cells.view(n, bins, c, c)  # sums over each cell x cell cell
    blocks = cells.unfold(2, 2, 1).unfold(3, 2, 1)  # (n, bins, by, bx, 2, 2)
    blocks = blocks.permute(0, 2, 3, 1, 4, 5).flatten(3)  # (n, by, bx, bins * 4)
    blocks = blocks / torch.sqrt((blocks**2).sum(-1, keepdim=True) + eps**2)
    blocks = blocks.clamp(max=clip)
    blocks = blocks / torch.sqrt((blocks**2).sum(-1, keepdim=True) + eps**2)
    return blocks.flatten(1)


# ------------------------------------------------------------------------------------------------ classifier (2.2)


class LinearSVM:
    """Per-class linear SVMs (Sec. 2.2-2.3) on standardised features: class k's score is w_k . phi + b_k; trained on
    lambda / 2 ||w_k||^2 + mean over positives of max(0, 1 - s) / 2 + mean over negatives of max(0, 1 + s) / 2 (the
    hinge loss, the two sides weighted equally), by full-batch Adam. Regions that are neither a positive nor a
    negative of class k (labels 0) do not enter class k's loss."""

    def __init__(self, lam: float, steps: int, lr: float = 0.05):
        self.lam, self.steps, self.lr = lam, steps, lr

    def fit(self, phi: torch.Tensor, labels: torch.Tensor) -> LinearSVM:
        """phi (n, d) features; labels (n, K) in {+1 positive, -1 negative, 0 ignored} for each class k."""
        self.mu, self.sd = phi.mean(0), phi.std(0) + 1e-6
        z = (phi - self.mu) / self.sd
        n, d = z.shape
        K = labels.shape[1]
        self.w, self.b = torch.zeros(d, K, requires_grad=True), torch.zeros(K, requires_grad=True)
        pos, neg = (labels > 0).float(), (labels < 0).float()
        n_pos, n_neg = pos.sum(0).clamp(min=1), neg.sum(0).clamp(min=1)
        opt = torch.optim.Adam([self.w, self.b], lr=self.lr)
        for _ in range(self.steps):
            s = z @ self.w + self.b  # (n, K)
            hinge = (pos * (1 - s).clamp(min=0)).sum(0) / n_pos + (neg * (1 + s).clamp(min=0)).sum(0) / n_neg
            loss = self.lam / 2 * (self.w**2).sum() + hinge.sum() / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.w, self.b = self.w.detach(), self.b.detach()
        return self

    def score(self, phi: torch.Tensor) -> torch.Tensor:
        return ((phi - self.mu) / self.sd) @ self.w + self.b  # (n, K)


# ------------------------------------------------------------------------------------------------ box regression (C)


def bbox_targets(P: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """App. C, Eqs. 6-9: t_x = (G_x - P_x) / P_w, t_y = (G_y - P_y) / P_h, t_w = log(G_w / P_w), t_h = log(G_h / P_h),
    where (P_x, P_y) is the centre of proposal P and P_w, P_h its width and height; G likewise. Boxes (n, 4) as
    (x1, y1, x2, y2)."""
    Px, Py, Pw, Ph = centre_size(P)
    Gx, Gy, Gw, Gh = centre_size(G)
    return torch.stack([(Gx - Px) / Pw, (Gy - Py) / Ph, torch.log(Gw / Pw), torch.log(Gh / Ph)], 1)


def centre_size(B: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w, h = (B[:, 2] - B[:, 0]).clamp(min=1e-3), (B[:, 3] - B[:, 1]).clamp(min=1e-3)
    return B[:, 0] + w / 2, B[:, 1] + h / 2, w, h


def apply_regression(P: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """App. C, Eqs. 1-4: G^_x = P_w d_x(P) + P_x, G^_y = P_h d_y(P) + P_y, G^_w = P_w exp(d_w(P)),
    G^_h = P_h exp(d_h(P)); d (n, 4) the predicted transformations. Returns (x1, y1, x2, y2) boxes."""
    Px, Py, Pw, Ph = centre_size(P)
    Gx, Gy = Pw * d[:, 0] + Px, Ph * d[:, 1] + Py
    Gw, Gh = Pw * torch.exp(d[:, 2]), Ph * torch.exp(d[:, 3])
    return torch.stack([Gx - Gw / 2, Gy - Gh / 2, Gx + Gw / 2, Gy + Gh / 2], 1)


def fit_ridge(phi: torch.Tensor, t: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """App. C, Eq. 5: w_* = argmin_w sum_i (t_*^i - w_*^T phi_5(P^i))^2 + lambda ||w_*||^2, for * in {x, y, w, h} at
    once, in closed form on standardised features with an unpenalised bias. Returns (W (d, 4), b (4,), (mu, sd))."""
    mu, sd = phi.mean(0), phi.std(0) + 1e-6
    z = ((phi - mu) / sd).double()
    tc = (t - t.mean(0)).double()
    W = torch.linalg.solve(z.T @ z + lam * torch.eye(z.shape[1], dtype=z.dtype), z.T @ tc).float()
    return W, t.mean(0), torch.stack([mu, sd])


def predict_ridge(phi: torch.Tensor, model: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    W, b, (mu, sd) = model[0], model[1], model[2]
    return ((phi - mu) / sd) @ W + b  # (n, 4): d_x, d_y, d_w, d_h


# ------------------------------------------------------------------------------------------------ evaluation


def match_detections(det_boxes: list[torch.Tensor], det_scores: list[torch.Tensor], gt_boxes: list[torch.Tensor],
                     iou_threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, int]:  # fmt: skip
    """VOC matching for one class: detections over all images by decreasing score; each is a true positive if its
    best-overlapping ground-truth box in its image has IoU >= iou_threshold and is not yet taken, else a false
    positive. Returns (scores sorted descending, tp flags in that order, number of ground-truth boxes)."""
    img = torch.cat([torch.full((len(s),), i) for i, s in enumerate(det_scores)]) if det_scores else torch.zeros(0)
    scores = torch.cat(det_scores) if det_scores else torch.zeros(0)
    boxes = torch.cat(det_boxes) if det_boxes else torch.zeros(0, 4)
    order = scores.argsort(descending=True, stable=True)
    taken = [torch.zeros(len(g), dtype=torch.bool) for g in gt_boxes]
    tp = torch.zeros(len(order), dtype=torch.bool)
    for r, k in enumerate(order.tolist()):
        i, g = int(img[k]), gt_boxes[int(img[k])]
        if len(g) == 0:
            continue
        iou = box_iou(boxes[k : k + 1], g)[0]
        j = int(iou.argmax())
        if iou[j] >= iou_threshold and not taken[i][j]:
            tp[r] = taken[i][j] = True
    return scores[order], tp, sum(len(g) for g in gt_boxes)


def precision_recall(tp: torch.Tensor, n_gt: int) -> tuple[torch.Tensor, torch.Tensor]:
    ctp = tp.double().cumsum(0)
    recall = ctp / max(n_gt, 1)
    precision = ctp / torch.arange(1, len(tp) + 1, dtype=torch.float64)
    return precision, recall


def average_precision(tp: torch.Tensor, n_gt: int) -> float:
    """VOC 2010+ AP: the area under the precision-recall curve after making precision monotone (each point's
    precision is the highest at any recall at or beyond it), summed over the recall steps (all-point)."""
    if n_gt == 0:
        return math.nan
    precision, recall = precision_recall(tp, n_gt)
    mrec = torch.cat([torch.zeros(1, dtype=torch.float64), recall, torch.ones(1, dtype=torch.float64)])
    mpre = torch.cat([torch.zeros(1, dtype=torch.float64), precision, torch.zeros(1, dtype=torch.float64)])
    mpre = mpre.flip(0).cummax(0).values.flip(0)
    return float(((mrec[1:] - mrec[:-1]) * mpre[1:]).sum())


def average_precision_101(tp: torch.Tensor, n_gt: int) -> float:
    """COCO's AP at one IoU threshold: the monotone precision read at the 101 recall levels 0, 0.01, ..., 1 (the
    first point at or beyond each level; 0 where recall never gets there), averaged."""
    if n_gt == 0:
        return math.nan
    precision, recall = precision_recall(tp, n_gt)
    mono = precision.flip(0).cummax(0).values.flip(0)
    levels = torch.linspace(0, 1, 101, dtype=torch.float64)
    idx = torch.searchsorted(recall, levels, right=False)
    got = idx < len(recall)
    return float(torch.where(got, mono[idx.clamp(max=max(len(recall) - 1, 0))] if len(recall) else 0.0, 0.0).mean())
