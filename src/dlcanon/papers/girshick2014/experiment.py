"""Girshick et al. (2014), R-CNN: detection by CNN features on category-independent region proposals.

No box-annotated photographs install offline here (PASCAL VOC needs a download), so the pictures are generated
scenes of real drawings: Noto colour emoji of N chosen Unicode groups (the classes) pasted at random scales and
places, so their boxes are known, on backgrounds cut from a blurred, greyed, tinted mosaic of emoji of other groups,
with distractor emoji of groups that are not detected. The emoji of each class are split into drawings for the
training scenes and held-out drawings for the test scenes, so the test measures detection of unseen drawings.

The pipeline is the paper's Sec. 2: proposals (`model.propose`, our small segmentation-based stand-in for selective
search; its recall at IoU 0.5 is measured) -> warp with context padding -> CNN features (a small CNN pre-trained to
classify single emoji into their 9 groups, Sec. 2.3's supervised pre-training, then fine-tuned on warped proposals
as Sec. 2.3's domain-specific fine-tuning) -> per-class linear SVMs on fc7 -> greedy NMS per class -> App. C's
class-specific bounding-box regression on pool5. Baselines: the same proposals, the same SVMs and NMS, on HOG
features or on raw pixels of the warped regions. Measured: VOC AP at IoU 0.5 per class and the mean (mAP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import emoji
from dlcanon.core.paper import Claim

from . import figures
from .model import (
    ConvNet,
    LinearSVM,
    apply_regression,
    average_precision,
    bbox_targets,
    box_iou,
    fit_ridge,
    hog,
    match_detections,
    nms,
    predict_ridge,
    propose,
    warp,
)

CLASS_ORDER = ("Smileys & Emotion", "Animals & Nature", "Food & Drink", "Flags", "Travel & Places", "Objects")
"""Emoji groups detected, the first n_classes of these; the rest of them and "Activities" are distractors."""
BACKGROUND_GROUPS = ("People & Body", "Symbols")
"""Groups whose emoji, greyed and blurred, make the background textures."""


@dataclass
class Config:
    n_classes: Annotated[int, Range(ge=2, le=6)] = 4
    """object classes: the first n_classes emoji groups of CLASS_ORDER (VOC: 20)"""
    canvas: Annotated[int, Range(ge=48, le=512)] = 96
    """side of a generated scene in pixels (VOC pictures: about 500x375)"""
    object_sizes: Annotated[tuple[int, ...], Range(ge=8, le=256, min_len=2, max_len=2)] = (16, 40)
    """smallest and largest side of a pasted emoji, in pixels"""
    max_objects: Annotated[int, Range(ge=1, le=10)] = 3
    """each scene holds 1..max_objects objects of the classes"""
    max_distractors: Annotated[int, Range(ge=0, le=10)] = 2
    """and 0..max_distractors emoji of groups that are not detected"""
    train_scenes: Annotated[int, Range(ge=2, le=100_000)] = 200
    """scenes for training (fine-tuning, SVMs, regression); VOC 2007 trainval: 5,011 images"""
    test_scenes: Annotated[int, Range(ge=2, le=100_000)] = 100
    """scenes for the test (VOC 2007 test: 4,952 images)"""
    test_drawings: Annotated[float, Range(gt=0, lt=1)] = 0.3
    """share of each class's emoji held out: drawn only in test scenes, never seen in training or pre-training"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the split of drawings into train and test ones (the scenes themselves follow the run's seed)"""
    thresholds: Annotated[tuple[float, ...], Range(gt=0, lt=4, min_len=1, max_len=8)] = (
        0.06,
        0.1,
        0.15,
        0.25,
        0.4,
        0.6,
        0.9,
    )
    """saliency thresholds of the proposer: each gives connected components (and their pairwise unions)"""
    scales: Annotated[tuple[float, ...], Range(gt=0.3, lt=3, min_len=0, max_len=8)] = (0.8, 1.25)
    """every component box is also proposed scaled by these factors about its centre"""
    windows: Annotated[tuple[int, ...], Range(ge=4, le=512, min_len=0, max_len=8)] = (24, 40)
    """sides of the square sliding windows (stride: half the side) that fill the proposals up to max_proposals"""
    max_proposals: Annotated[int, Range(ge=1, le=5000)] = 150
    """proposals kept per scene (the paper: about 2,000 from selective search's fast mode)"""
    warp_size: Annotated[int, Range(ge=8, le=227)] = 16
    """side of the warped region the CNN sees, a multiple of 8 (the paper: 227)"""
    context: Annotated[float, Range(ge=0, le=32)] = 1.5
    """p: pixels of context around the box in the warped frame (the paper: 16 of 227; 16 * 16 / 227 = 1.1)"""
    widths: Annotated[tuple[int, ...], Range(ge=1, le=512, min_len=3, max_len=3)] = (16, 32, 32)
    """channels of conv1..conv3 (the paper's AlexNet: 96, 256, 384, 384, 256 in five conv layers)"""
    hidden: Annotated[int, Range(ge=1, le=4096)] = 128
    """units of fc6 and fc7 (the paper: 4,096)"""
    pretrain_steps: Annotated[int, Range(ge=0, le=1_000_000)] = 300
    """steps of supervised pre-training on single emoji (9-way group classification; the paper: ILSVRC 2012)"""
    pretrain_lr: Annotated[float, Range(gt=0, le=1)] = 0.001
    """Adam's learning rate in pre-training (the paper: SGD at 0.01)"""
    finetune_steps: Annotated[int, Range(ge=0, le=1_000_000)] = 300
    """steps of fine-tuning on warped proposals (the paper: SGD at 0.001, 1/10 of the pre-training rate)"""
    finetune_lr: Annotated[float, Range(gt=0, le=1)] = 0.001
    """Adam's learning rate in fine-tuning (the paper: SGD at 0.001, 1/10 of its pre-training rate)"""
    batch_size: Annotated[int, Range(ge=4, le=4096)] = 64
    """windows per step; in fine-tuning a quarter are positives (the paper: 32 positives, 96 background of 128)"""
    svm_negatives: Annotated[int, Range(ge=1, le=5000)] = 20
    """random proposals per training scene, besides those with IoU >= 0.5, whose features train the SVMs"""
    svm_lambda: Annotated[float, Range(gt=0, le=10)] = 0.01
    """L2 weight of the SVMs' objective (on standardised features)"""
    svm_steps: Annotated[int, Range(ge=1, le=100_000)] = 150
    """full-batch Adam steps for the SVMs"""
    nms_threshold: Annotated[float, Range(gt=0, lt=1)] = 0.3
    """greedy NMS: a region with IoU above this with a higher-scoring one is rejected (Sec. 2.2 and our runs: 0.3)"""
    bbox_iou: Annotated[float, Range(gt=0, lt=1)] = 0.6
    """App. C: a proposal trains the regressor if its IoU with a ground-truth box is at least this (0.6)"""
    ridge_lambda: Annotated[float, Range(ge=0, le=1e6)] = 100.0
    """App. C's lambda (the paper: 1000 on raw pool5 features); ours acts on standardised features"""
    hog_size: Annotated[int, Range(ge=16, le=128)] = 24
    """side of the warped region for the HOG baseline (a multiple of 8): 4x4 cells of hog_size/4 pixels, 9
    orientations, 3x3 blocks of 2x2 cells: 324 features (Dalal & Triggs: 8x8-pixel cells)"""
    pixel_size: Annotated[int, Range(ge=4, le=64)] = 12
    """side of the warped region whose RGB values are the raw-pixel baseline's features"""
    checkpoint_every: Annotated[int, Range(ge=1, le=1_000_000)] = 100
    """training steps between checkpoints"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.object_sizes[0] > self.object_sizes[1] or self.object_sizes[1] > self.canvas:
            raise ValueError(f"object_sizes {self.object_sizes} must be ordered and fit the canvas ({self.canvas})")
        if self.warp_size % 8 or self.hog_size % 8:
            raise ValueError("warp_size and hog_size must be multiples of 8")
        if 2 * self.context >= self.warp_size:
            raise ValueError(f"context ({self.context}) leaves no room for the box in a {self.warp_size} frame")


PRESETS = {
    "smoke": Config(
        train_scenes=12,
        test_scenes=6,
        max_proposals=40,
        pretrain_steps=4,
        finetune_steps=4,
        svm_steps=5,
        batch_size=16,
        checkpoint_every=2,
    ),  # fmt: skip
    "quick": Config(),
    "full": Config(
        n_classes=6,
        canvas=128,
        object_sizes=(16, 56),
        max_objects=4,
        train_scenes=4000,
        test_scenes=1000,
        max_proposals=300,
        warp_size=48,
        context=3.0,
        widths=(48, 96, 160),
        hidden=512,
        pretrain_steps=4000,
        finetune_steps=4000,
        batch_size=128,
        svm_steps=400,
        checkpoint_every=500,
    ),  # fmt: skip
}

CLAIMS = [
    Claim(
        name="cnn_beats_hog",
        metric="cnn_map",
        minus="hog_map",
        op=">=",
        threshold=0.10,
        paper_value=(
            "Table 1 (VOC 2007 test): R-CNN with fine-tuned fc7 features 54.2% mAP (58.5% with bounding-box "
            "regression) against 33.7% for DPM v5 on HOG; VOC 2010 test: 53.7% against 33.4% for DPM "
            "(from memory, not checked against the paper)"
        ),
        scale_note=(
            "mAP@0.5 (VOC all-point AP) on 100 generated test scenes of held-out emoji drawings, 4 classes; the "
            "same proposals, the same per-class linear SVMs and NMS on fc7 of a 3-conv CNN (pre-trained on single "
            "emoji, fine-tuned on warped proposals) against a 324-d HOG of the same regions. Both without box "
            "regression. A margin of 10 points fixed before any run (the paper's: about 20)."
        ),
        known_fail=(
            "At quick scale our small CNN, pre-trained on about 1,000 single emoji, does not beat HOG on held-out "
            "drawings: cnn_map - hog_map = -0.009 / -0.068 / -0.100 on seeds 0/1/2 (CNN 0.42 / 0.37 / 0.36). Tried "
            "on a pilot seed (100, HOG 0.474): as quick 0.393; warps of 24 px (HOG's size) and 600 pre-training "
            "steps 0.425; 1,500 pre-training steps 0.440; and 900 fine-tuning steps 0.427. The paper's CNN owes its "
            "lead to ImageNet pre-training, which nothing here replaces; the full preset trains longer and wider."
        ),
    ),
    Claim(
        name="cnn_beats_pixels",
        metric="cnn_map",
        minus="pixel_map",
        op=">=",
        threshold=0.10,
        paper_value="not in the paper (a second baseline the issue allows: raw pixels with the same classifier)",
        scale_note="as cnn_beats_hog, against the RGB values of each region warped to 12x12 (432-d); margin fixed "
        "before any run",
        known_fail=(
            "cnn_map - pixel_map = 0.095 / 0.124 / 0.048 on seeds 0/1/2: the CNN is ahead of raw pixels on every "
            "seed, but by the fixed 10 points on one of three; pilot seed 100: 0.001. Same tries as cnn_beats_hog."
        ),
    ),
    Claim(
        name="bbox_regression_helps",
        metric="cnn_bbox_map",
        minus="cnn_map",
        op=">=",
        threshold=0.02,
        paper_value=(
            "Table 1, VOC 2007 test: 54.2% -> 58.5% mAP with bounding-box regression on pool5 (+4.3 points) "
            "(from memory, not checked against the paper)"
        ),
        scale_note="the same detections with App. C's class-specific ridge regression on pool5 applied before NMS; "
        "at least +2 points, fixed before any run",
    ),
    Claim(
        name="proposal_recall",
        metric="proposal_recall",
        op=">=",
        threshold=0.9,
        paper_value=(
            "a precondition, not a claim of the paper: selective search's fast mode gives about 2,000 proposals "
            "per image with high recall (Uijlings et al. report 98-99% at IoU 0.5; from memory, not checked)"
        ),
        scale_note="share of test ground-truth boxes with a proposal at IoU >= 0.5, at most 150 proposals per scene",
    ),
]


# ------------------------------------------------------------------------------------------------ scenes


def split_drawings(d: dict, cfg: Config) -> dict[str, list[torch.Tensor]]:
    """Emoji indices: per class, train and test drawings (disjoint, test_drawings of each class held out);
    distractors (the remaining groups of CLASS_ORDER and Activities) and background emoji, also split in two."""
    names = list(d["groups"])
    group = torch.from_numpy(d["group"])
    g = torch.Generator().manual_seed(cfg.data_seed)
    out: dict[str, list[torch.Tensor]] = {"train": [], "test": []}
    roles = [names.index(n) for n in CLASS_ORDER[: cfg.n_classes]]
    other = [names.index(n) for n in CLASS_ORDER[cfg.n_classes :]] + [names.index("Activities")]
    back = [names.index(n) for n in BACKGROUND_GROUPS]
    for gs in [[c] for c in roles] + [other, back]:
        idx = torch.cat([(group == c).nonzero().flatten() for c in gs])
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = max(1, round(cfg.test_drawings * len(idx)))
        out["test"].append(idx[:n_test])
        out["train"].append(idx[n_test:])
    return out  # each: [class 0, ..., class N-1, distractors, background]


def rgba(images: torch.Tensor) -> torch.Tensor:
    """(n, S, S, 3) uint8 emoji on white -> (n, 4, S, S) in [0, 1]: RGB and an alpha recovered as "not near white"
    (opaque where the darkest channel is below 200, fading to clear at 245)."""
    x = images.permute(0, 3, 1, 2).float() / 255
    alpha = ((245 - images.float().amin(-1)) / 45).clamp(0, 1)[:, None]
    return torch.cat([x, alpha], 1)


def background_mosaic(pics: torch.Tensor, side: int, g: torch.Generator) -> torch.Tensor:
    """A (side, side) grey texture: background emoji (n, 4, S, S) tiled in random order, greyed, blurred."""
    S = pics.shape[-1]
    k = math.ceil(side / S)
    pick = torch.randint(len(pics), (k * k,), generator=g)
    tiles = pics[pick, :3]  # (k*k, 3, S, S)
    grey = tiles.mean(1, keepdim=True)
    mosaic = grey.reshape(k, k, S, S).permute(0, 2, 1, 3).reshape(1, 1, k * S, k * S)
    blur = torch.exp(-(torch.arange(-4, 5.0) ** 2) / (2 * 1.5**2))
    blur = blur / blur.sum()
    mosaic = F.conv2d(F.pad(mosaic, (4, 4, 0, 0), mode="reflect"), blur.view(1, 1, 1, 9))
    mosaic = F.conv2d(F.pad(mosaic, (0, 0, 4, 4), mode="reflect"), blur.view(1, 1, 9, 1))
    return mosaic[0, 0, :side, :side]


def paste(canvas: torch.Tensor, pic: torch.Tensor, size: int, x: int, y: int) -> torch.Tensor | None:
    """Paste an RGBA emoji resized to size x size at (x, y) in place; returns its ground-truth box (the tight
    box of its opaque pixels, alpha > 0.5), or None if nothing opaque remains."""
    small = F.interpolate(pic[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    a = small[3:]
    region = canvas[:, y : y + size, x : x + size]
    region.mul_(1 - a).add_(a * small[:3])
    rows, cols = (a[0] > 0.5).any(1).nonzero().flatten(), (a[0] > 0.5).any(0).nonzero().flatten()
    if len(rows) == 0:
        return None
    return torch.tensor([x + cols[0], y + rows[0], x + cols[-1] + 1, y + rows[-1] + 1], dtype=torch.float32)


def make_scenes(cfg: Config, pics: torch.Tensor, drawings: list[torch.Tensor], n: int, g: torch.Generator) -> dict:
    """n scenes: a crop of the background mosaic, tinted; 1..max_objects objects of the classes (random class,
    random drawing of it, random size) placed so that no two objects overlap by IoU > 0.2, and 0..max_distractors
    distractors placed anywhere free of the objects' centres. Returns images (n, 3, H, W) in [0, 1], boxes and
    labels per scene (lists)."""
    H = cfg.canvas
    K = cfg.n_classes
    mosaic = background_mosaic(pics[drawings[K + 1]], 4 * H, g)
    images, boxes, labels = torch.empty(n, 3, H, H), [], []
    lo, hi = cfg.object_sizes
    for s in range(n):
        i, j = torch.randint(0, 3 * H + 1, (2,), generator=g).tolist()
        tint = 0.8 + 0.2 * torch.rand(3, 1, 1, generator=g)
        level = 0.3 + 0.4 * torch.rand(1, generator=g).item()
        canvas = tint * (level + 0.35 * (mosaic[i : i + H, j : j + H] - 0.5))[None]  # (3, H, H)
        b, lab = [], []
        for _ in range(int(torch.randint(1, cfg.max_objects + 1, (1,), generator=g))):
            c = int(torch.randint(K, (1,), generator=g))
            pic = pics[drawings[c][int(torch.randint(len(drawings[c]), (1,), generator=g))]]
            for _try in range(20):
                size = int(torch.randint(lo, hi + 1, (1,), generator=g))
                x, y = torch.randint(0, H - size + 1, (2,), generator=g).tolist()
                new = torch.tensor([[x, y, x + size, y + size]], dtype=torch.float32)
                if not b or box_iou(new, torch.stack(b)).max() <= 0.2 and _free(new, b):
                    box = paste(canvas, pic, size, x, y)
                    if box is not None:
                        b.append(box)
                        lab.append(c)
                    break
        for _ in range(int(torch.randint(0, cfg.max_distractors + 1, (1,), generator=g))):
            pic = pics[drawings[K][int(torch.randint(len(drawings[K]), (1,), generator=g))]]
            for _try in range(20):
                size = int(torch.randint(lo, hi + 1, (1,), generator=g))
                x, y = torch.randint(0, H - size + 1, (2,), generator=g).tolist()
                new = torch.tensor([[x, y, x + size, y + size]], dtype=torch.float32)
                if _free(new, b, margin=0.0):
                    paste(canvas, pic, size, x, y)
                    break
        images[s] = canvas.clamp(0, 1)
        boxes.append(torch.stack(b) if b else torch.zeros(0, 4))
        labels.append(torch.tensor(lab, dtype=torch.long))
    return {"images": images, "boxes": boxes, "labels": labels}


def _free(new: torch.Tensor, boxes: list[torch.Tensor], margin: float = 0.2) -> bool:
    """True unless `new` would cover more than `margin` of an existing object's box (objects stay visible)."""
    if not boxes:
        return True
    b = torch.stack(boxes)
    lt, rb = torch.maximum(new[:, :2], b[:, :2]), torch.minimum(new[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return bool((inter <= margin * (b[:, 2:] - b[:, :2]).prod(-1)).all())


def all_proposals(cfg: Config, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 2.1: proposals for every scene; returns (boxes (n, 4), scene index (n,))."""
    props = propose(images, cfg.thresholds, cfg.scales, cfg.max_proposals, cfg.windows)
    return torch.cat(props), torch.cat([torch.full((len(p),), i) for i, p in enumerate(props)])


def label_regions(boxes: torch.Tensor, img: torch.Tensor, gt_boxes: list, gt_labels: list) -> dict:
    """For each region: its best IoU with any ground-truth box of its scene, that box, its class, and for each
    class k its best IoU with class-k boxes (for the SVMs' negatives: IoU < 0.3 with every instance of k)."""
    n = len(boxes)
    K = int(max((int(lab.max()) for lab in gt_labels if len(lab)), default=0)) + 1  # classes present
    best, cls, gt_of = torch.zeros(n), torch.full((n,), -1), torch.zeros(n, 4)
    per_class = torch.zeros(n, K)
    for i in img.unique().tolist():
        sel = (img == i).nonzero().flatten()
        g, lab = gt_boxes[i], gt_labels[i]
        if len(g) == 0:
            continue
        iou = box_iou(boxes[sel], g)  # (m, g)
        v, j = iou.max(1)
        best[sel], cls[sel], gt_of[sel] = v, lab[j], g[j]
        for k in lab.unique().tolist():
            per_class[sel, k] = iou[:, lab == k].max(1).values
    return {"iou": best, "cls": cls, "gt": gt_of, "per_class_iou": per_class}


# ------------------------------------------------------------------------------------------------ the run


def load_everything(cfg: Config, seed: int) -> dict:
    """Emoji, the drawing split, scenes (from the run's seed), proposals and their labels; all deterministic."""
    d = emoji.load(48)
    pics = rgba(torch.from_numpy(d["images"]))
    split = split_drawings(d, cfg)
    g = torch.Generator().manual_seed(10_000 + seed)
    train = make_scenes(cfg, pics, split["train"], cfg.train_scenes, g)
    test = make_scenes(cfg, pics, split["test"], cfg.test_scenes, g)
    mean = train["images"].mean((0, 2, 3), keepdim=True)  # (1, 3, 1, 1): the paper subtracts the mean image
    for s in (train, test):
        s["x"] = s["images"] - mean
        s["props"], s["img"] = all_proposals(cfg, s["images"])
        s["lab"] = label_regions(s["props"], s["img"], s["boxes"], s["labels"])
    # single emoji for pre-training: the training drawings of all 9 groups (never a test drawing of a class)
    held_out = torch.cat(split["test"][: cfg.n_classes])
    keep = torch.ones(len(pics), dtype=torch.bool)
    keep[held_out] = False
    return {"train": train, "test": test, "mean": mean, "pics": pics[keep], "pic_group": torch.from_numpy(
        d["group"])[keep], "n_groups": len(d["groups"])}  # fmt: skip


def pretrain_batch(data: dict, cfg: Config, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Single emoji on a random background crop at a random scale and offset, warped to warp_size: the supervised
    pre-training task (9-way group classification)."""
    idx = torch.randint(len(data["pics"]), (cfg.batch_size,), generator=g)
    pics = data["pics"][idx]  # (B, 4, 48, 48)
    S = cfg.warp_size
    scale = 0.6 + 0.4 * torch.rand(cfg.batch_size, 1, 1, generator=g)
    shift = 0.2 * (torch.rand(cfg.batch_size, 2, generator=g) - 0.5)
    theta = torch.cat([torch.diag_embed(1 / scale.expand(-1, 1, 2)[:, 0]), -shift[:, :, None] / scale], 2)
    grid = F.affine_grid(theta, [cfg.batch_size, 4, S, S], align_corners=False)
    small = F.grid_sample(pics, grid, padding_mode="zeros", align_corners=False)  # (B, 4, S, S)
    back = data["train"]["images"][torch.randint(cfg.train_scenes, (cfg.batch_size,), generator=g)]
    back = F.interpolate(back, size=(S, S), mode="bilinear", antialias=True, align_corners=False)
    a = small[:, 3:]
    x = back * (1 - a) + small[:, :3] * a - data["mean"]
    return x, data["pic_group"][idx]


def finetune_batch(data: dict, cfg: Config, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sec. 2.3: warped proposals; IoU >= 0.5 with a ground-truth box -> that box's class (1..N), else background
    (0); a quarter of each minibatch positive, sampled uniformly (the paper: 32 positives and 96 background)."""
    tr, lab = data["train"], data["train"]["lab"]
    pos = (lab["iou"] >= 0.5).nonzero().flatten()
    neg = (lab["iou"] < 0.5).nonzero().flatten()
    n_pos = cfg.batch_size // 4 if len(neg) else cfg.batch_size
    n_pos = n_pos if len(pos) else 0  # (tiny configs only: a scene set without a positive or negative window)
    i = torch.cat([pos[torch.randint(max(len(pos), 1), (n_pos,), generator=g)],
                   neg[torch.randint(max(len(neg), 1), (cfg.batch_size - n_pos,), generator=g)]])  # fmt: skip
    x = warp(tr["x"], tr["img"][i], tr["props"][i], cfg.warp_size, cfg.context)
    y = torch.where(lab["iou"][i] >= 0.5, lab["cls"][i] + 1, 0)
    return x, y


def train_cnn(cfg: Config, ctx, data: dict, net: ConvNet, phase: str, steps: int, lr: float, state: dict,
              offset: int) -> None:  # fmt: skip
    """Adam on the softmax log-loss (the paper: SGD; see notes.md), checkpointing every checkpoint_every steps."""
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(ctx.seed * 7 + (1 if phase == "pretrain" else 2))
    if state.get("phase") == phase:
        opt.load_state_dict(state["opt"])
        g.set_state(state["g"])
    start = state.get("t", 0) if state.get("phase") == phase else 0
    batch = pretrain_batch if phase == "pretrain" else finetune_batch
    with ctx.bar(steps - start, f"{phase}, steps") as bar:
        for t in range(start, steps):
            x, y = batch(data, cfg, g)
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            err = (logits.argmax(1) != y).float().mean().item()
            ctx.log(offset + t + 1, **{f"{phase}_loss": loss.item(), f"{phase}_batch_error": err})
            bar.update(1, loss=loss.item())
            if (t + 1) % cfg.checkpoint_every == 0 or t + 1 == steps:
                state.update(phase=phase, t=t + 1, opt=opt.state_dict(), g=g.get_state())
                ctx.checkpoint(offset + t + 1, {"net": net.state_dict(), "train": state})


@torch.no_grad()
def cnn_features(net: ConvNet, cfg: Config, s: dict, boxes: torch.Tensor, img: torch.Tensor, chunk: int = 4096):
    """pool5 and fc7 features of warped regions (the paper: fc7 for the SVMs, pool5 for box regression)."""
    net.eval()
    p5, f7 = [], []
    for i in range(0, len(boxes), chunk):
        x = warp(s["x"], img[i : i + chunk], boxes[i : i + chunk], cfg.warp_size, cfg.context)
        h = net.pool5(x)
        p5.append(h)
        f7.append(net.fc7_from_pool5(h))
    net.train()
    return torch.cat(p5), torch.cat(f7)


def hog_features(cfg: Config, s: dict, boxes: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    return hog(warp(s["x"], img, boxes, cfg.hog_size, cfg.context * cfg.hog_size / cfg.warp_size), cfg.hog_size // 4)


def pixel_features(cfg: Config, s: dict, boxes: torch.Tensor, img: torch.Tensor) -> torch.Tensor:
    return warp(s["x"], img, boxes, cfg.pixel_size, cfg.context * cfg.pixel_size / cfg.warp_size).flatten(1)


def svm_labels(gt_cls: torch.Tensor, per_class_iou: torch.Tensor, K: int) -> torch.Tensor:
    """Sec. 2.3, labels (n_gt + n_proposals, K): the ground-truth boxes come first, positive for their own class
    (and ignored for the others); then the proposals, negative for class k if their IoU is below 0.3 with every
    class-k box of their scene, otherwise ignored for k."""
    lab_gt = torch.zeros(len(gt_cls), K)
    lab_gt[torch.arange(len(gt_cls)), gt_cls] = 1.0
    iou = torch.zeros(len(per_class_iou), K)
    iou[:, : per_class_iou.shape[1]] = per_class_iou[:, :K]
    return torch.cat([lab_gt, torch.where(iou < 0.3, -1.0, 0.0)])


def detect(scores: torch.Tensor, boxes: torch.Tensor, img: torch.Tensor, n_img: int, K: int, thr: float,
           per_class_boxes: torch.Tensor | None = None):  # fmt: skip
    """Sec. 2.2: for each class and scene, greedy NMS on the scored regions. per_class_boxes (n, K, 4) replaces
    the boxes by each class's regressed ones. Returns det[k][i] = (boxes, scores)."""
    det = [[None] * n_img for _ in range(K)]
    for i in range(n_img):
        sel = (img == i).nonzero().flatten()
        for k in range(K):
            b = boxes[sel] if per_class_boxes is None else per_class_boxes[sel, k]
            keep = nms(b, scores[sel, k], thr)
            det[k][i] = (b[keep], scores[sel, k][keep])
    return det


def mean_ap(det, test: dict, K: int) -> tuple[float, list[float], list]:
    aps, curves = [], []
    for k in range(K):
        gts = [b[lab == k] for b, lab in zip(test["boxes"], test["labels"], strict=True)]
        scores, tp, n_gt = match_detections([d[0] for d in det[k]], [d[1] for d in det[k]], gts)
        aps.append(average_precision(tp, n_gt))
        curves.append((tp, n_gt))
    return float(np.nanmean(aps)), aps, curves


def run(cfg: Config, ctx) -> dict[str, float]:
    K = cfg.n_classes
    data = load_everything(cfg, ctx.seed)
    gen = torch.Generator().manual_seed(ctx.seed)
    torch.manual_seed(ctx.seed)
    net = ConvNet(tuple(cfg.widths), cfg.hidden, cfg.warp_size, data["n_groups"])
    state: dict = {}
    if (ck := ctx.restore()) is not None:
        _, saved = ck
        state = saved["train"]
        if state["phase"] == "finetune":
            net.new_head(K + 1, gen)
        net.load_state_dict(saved["net"])
    if state.get("phase") != "finetune":
        train_cnn(cfg, ctx, data, net, "pretrain", cfg.pretrain_steps, cfg.pretrain_lr, state, 0)
        net.new_head(K + 1, gen)
        state = {}
    train_cnn(cfg, ctx, data, net, "finetune", cfg.finetune_steps, cfg.finetune_lr, state, cfg.pretrain_steps)
    m, figs = evaluate(cfg, data, net, torch.Generator().manual_seed(ctx.seed + 99))
    ctx.log(cfg.pretrain_steps + cfg.finetune_steps, **{k: v for k, v in m.items() if v == v})
    names = list(CLASS_ORDER[:K])
    figures.scenes(data["test"], figs["cnn"], figs["cnn_bbox"], names, ctx.path("detections.png"))
    figures.pr_curves(figs["curves"], m, names, ctx.path("pr_curves.png"))
    return m


def training_regions(cfg: Config, tr: dict, g: torch.Generator) -> torch.Tensor:
    """Indices of the training proposals that get features: every one with IoU >= 0.5 with a ground-truth box
    (fine-tuning positives, box-regression pairs), and svm_negatives random others per scene (the SVMs' negatives;
    the paper mines hard negatives from all of them instead)."""
    lab = tr["lab"]
    near = lab["iou"] >= 0.5
    order = torch.rand(len(near), generator=g)
    order[near] = -1.0  # near ones first within each scene, then a random order
    keep = []
    for i in range(len(tr["images"])):
        sel = (tr["img"] == i).nonzero().flatten()
        sel = sel[order[sel].argsort()]
        keep.append(sel[: int(near[sel].sum()) + cfg.svm_negatives])
    return torch.cat(keep).sort().values


def evaluate(cfg: Config, data: dict, net: ConvNet, g: torch.Generator) -> tuple[dict[str, float], dict]:
    """Sec. 2.2-2.3 and App. C once the CNN is trained: features, per-class SVMs, NMS, box regression, AP; the same
    proposals and SVMs on HOG and on raw pixels."""
    K = cfg.n_classes
    tr, te = data["train"], data["test"]
    sub = training_regions(cfg, tr, g)
    lab = {k: v[sub] for k, v in tr["lab"].items()}
    props, img = tr["props"][sub], tr["img"][sub]
    # features of the training regions: ground-truth boxes first, then the proposals (Sec. 2.3)
    gt_b, gt_i = torch.cat(tr["boxes"]), torch.cat([torch.full((len(b),), i) for i, b in enumerate(tr["boxes"])])
    rb, ri = torch.cat([gt_b, props]), torch.cat([gt_i, img])
    y_svm = svm_labels(torch.cat(tr["labels"]), lab["per_class_iou"], K)
    p5_tr, f7_tr = cnn_features(net, cfg, tr, rb, ri)
    p5_te, f7_te = cnn_features(net, cfg, te, te["props"], te["img"])
    m: dict[str, float] = {}
    figs: dict = {"curves": {}}
    scores_cnn = None
    for name, phi_tr, phi_te in (
        ("cnn", f7_tr, f7_te),
        ("hog", hog_features(cfg, tr, rb, ri), hog_features(cfg, te, te["props"], te["img"])),
        ("pixel", pixel_features(cfg, tr, rb, ri), pixel_features(cfg, te, te["props"], te["img"])),
    ):
        svm = LinearSVM(cfg.svm_lambda, cfg.svm_steps).fit(phi_tr, y_svm)
        scores = svm.score(phi_te)  # (n, K)
        det = detect(scores, te["props"], te["img"], cfg.test_scenes, K, cfg.nms_threshold)
        m[f"{name}_map"], aps, figs["curves"][name] = mean_ap(det, te, K)
        m |= {f"{name}_ap_{k}": ap for k, ap in enumerate(aps)}
        if name == "cnn":
            scores_cnn, figs["cnn"] = scores, det

    # App. C: class-specific ridge regression on pool5, trained on proposals with IoU >= bbox_iou
    p5_props = p5_tr[len(gt_b) :]
    reg_boxes = torch.empty(len(te["props"]), K, 4)
    for k in range(K):
        sel = ((lab["iou"] >= cfg.bbox_iou) & (lab["cls"] == k)).nonzero().flatten()
        if len(sel) < 2:
            reg_boxes[:, k] = te["props"]
            continue
        model = fit_ridge(p5_props[sel], bbox_targets(props[sel], lab["gt"][sel]), cfg.ridge_lambda)
        reg_boxes[:, k] = apply_regression(te["props"], predict_ridge(p5_te, model))
    figs["cnn_bbox"] = detect(scores_cnn, te["props"], te["img"], cfg.test_scenes, K, cfg.nms_threshold, reg_boxes)
    m["cnn_bbox_map"], aps, _ = mean_ap(figs["cnn_bbox"], te, K)
    m |= {f"cnn_bbox_ap_{k}": ap for k, ap in enumerate(aps)}

    # proposals: recall at IoU 0.5 of the test ground truth, and their number
    hit = [box_iou(b, te["props"][te["img"] == i]).max(1).values >= 0.5 for i, b in enumerate(te["boxes"]) if len(b)]
    m["proposal_recall"] = float(torch.cat(hit).float().mean())
    m["proposals_per_scene"] = len(te["props"]) / cfg.test_scenes
    m["test_objects"] = float(sum(len(b) for b in te["boxes"]))
    m["train_objects"] = float(len(gt_b))
    m["svm_train_regions"] = float(len(rb))
    return m, figs
