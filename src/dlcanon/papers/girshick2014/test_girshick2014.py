"""Girshick et al. (2014), R-CNN: IoU and AP against pycocotools, NMS, box regression (App. C) and HOG by hand,
warping and proposals on small pictures, the SVMs, the scenes' disjoint drawings, an exact resume, the smallest
config, and the quick claims."""

import math

import numpy as np
import pytest
import torch

from dlcanon.core.data import emoji
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.girshick2014 import experiment
from dlcanon.papers.girshick2014.model import (
    LinearSVM,
    apply_regression,
    average_precision,
    average_precision_101,
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


def test_iou_by_hand_and_against_pycocotools():
    """(0,0,4,4) and (2,2,6,6): 4 / (16 + 16 - 4) = 1/7; no "+1" in widths, as COCO."""
    a = torch.tensor([[0.0, 0, 4, 4]])
    b = torch.tensor([[2.0, 2, 6, 6], [4.0, 0, 8, 4], [10.0, 10, 11, 11]])
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[1 / 7, 0.0, 0.0]]))
    mask = pytest.importorskip("pycocotools.mask")
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(20, 2, generator=g, dtype=torch.float64) * 50
    wh = torch.rand(20, 2, generator=g, dtype=torch.float64) * 30 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    ours = box_iou(boxes[:8], boxes[8:]).numpy()
    ref = mask.iou(torch.cat([xy[:8], wh[:8]], 1).numpy(), torch.cat([xy[8:], wh[8:]], 1).numpy(), [0] * 12)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    assert (ours > 0).sum() >= 5  # some pairs overlap: the comparison is not all zeros


def test_nms_by_hand():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1.0, 0, 11, 10], [20.0, 20, 30, 30], [0.0, 0, 10, 6]])
    scores = torch.tensor([0.9, 0.95, 0.5, 0.8])
    # box 1 is best; box 0 overlaps it at IoU 90/110 > 0.3 -> gone; box 3 overlaps box 1 at 54/106 -> gone
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(boxes, scores, 0.95).tolist() == [1, 0, 3, 2]


def test_bbox_regression_inverts_its_targets():
    """App. C: applying d = t(P, G) (Eqs. 6-9) to P by Eqs. 1-4 gives G back; t = 0 leaves P unchanged."""
    g = torch.Generator().manual_seed(1)
    P = torch.cat([torch.rand(10, 2, generator=g) * 50, torch.rand(10, 2, generator=g) * 50 + 60], 1)
    G = P + torch.randn(10, 4, generator=g) * 3
    torch.testing.assert_close(apply_regression(P, bbox_targets(P, G)), G, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(apply_regression(P, torch.zeros(10, 4)), P)
    t = bbox_targets(torch.tensor([[0.0, 0, 10, 20]]), torch.tensor([[2.0, 4, 22, 24]]))
    torch.testing.assert_close(t, torch.tensor([[(12 - 5) / 10, (14 - 10) / 20, math.log(2.0), 0.0]]))


def test_ridge_recovers_a_linear_map():
    g = torch.Generator().manual_seed(2)
    phi = torch.randn(500, 6, generator=g) * 3 + 1
    W = torch.randn(6, 4, generator=g)
    t = phi @ W + torch.tensor([0.1, -0.2, 0.3, 0.0])
    model = fit_ridge(phi, t, lam=1e-6)
    torch.testing.assert_close(predict_ridge(phi, model), t, rtol=1e-4, atol=1e-4)
    shrunk = fit_ridge(phi, t, lam=1e6)  # a huge lambda predicts the mean target
    torch.testing.assert_close(predict_ridge(phi, shrunk), t.mean(0).expand(500, 4), rtol=0, atol=0.05)


def _coco_ap50(gt: list, dets: list) -> float:
    """pycocotools' AP at IoU 0.5 (101-point) for one class; boxes as (x1, y1, x2, y2) per image."""
    coco_mod = pytest.importorskip("pycocotools.coco")
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [b[0], b[1], b[2] - b[0], b[3] - b[1]]

    anns = [{"id": k + 1, "image_id": i, "category_id": 1, "bbox": xywh(b), "area": (b[2] - b[0]) * (b[3] - b[1]),
             "iscrowd": 0} for k, (i, b) in enumerate((i, b) for i, bs in enumerate(gt) for b in bs)]  # fmt: skip
    coco = coco_mod.COCO()
    coco.dataset = {"images": [{"id": i} for i in range(len(gt))], "annotations": anns,
                    "categories": [{"id": 1, "name": "thing"}]}  # fmt: skip
    coco.createIndex()
    res = coco.loadRes([{"image_id": i, "category_id": 1, "bbox": xywh(b), "score": s}
                        for i, ds in enumerate(dets) for b, s in ds])  # fmt: skip
    ev = COCOeval(coco, res, "bbox")
    ev.params.iouThrs = np.array([0.5])
    ev.params.areaRng, ev.params.areaRngLbl = [[0, 1e10]], ["all"]
    ev.params.maxDets = [100]
    ev.evaluate()
    ev.accumulate()
    return float(ev.eval["precision"][0, :, 0, 0, 0].mean())


def test_average_precision_by_hand_and_against_pycocotools():
    """All-point AP by hand; our 101-point variant equals pycocotools' AP@0.5 exactly (up to float rounding) on a
    fixed set of boxes, and the all-point AP (our metric) is within 0.02 of it there."""
    # by hand: 3 ground-truth boxes; detections ranked TP, FP, TP -> precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3
    tp = torch.tensor([True, False, True])
    assert average_precision(tp, 3) == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    gen = torch.Generator().manual_seed(3)
    gt, dets = [], []
    for _ in range(12):
        xy = torch.rand(3, 2, generator=gen) * 60
        g = torch.cat([xy, xy + 10 + torch.rand(3, 2, generator=gen) * 20], 1)
        d = torch.cat([g + torch.randn(3, 4, generator=gen) * 4, torch.rand(2, 2, generator=gen).repeat(1, 2) * 60
                       + torch.tensor([0.0, 0, 15, 15])])  # fmt: skip
        gt.append(g)
        dets.append((d, torch.rand(5, generator=gen)))
    scores, tp, n_gt = match_detections([d for d, _ in dets], [s for _, s in dets], gt)
    assert 0 < int(tp.sum()) < len(tp)  # a mix of hits and misses
    ref = _coco_ap50([g.tolist() for g in gt], [list(zip(d.tolist(), s.tolist(), strict=True)) for d, s in dets])
    assert average_precision_101(tp, n_gt) == pytest.approx(ref, abs=1e-9)
    assert average_precision(tp, n_gt) == pytest.approx(ref, abs=0.02)


def test_hog_shape_normalisation_and_orientation():
    """324 features for 24x24 windows with 6-pixel cells; each block's L2-Hys vector has norm <= 1; a vertical
    edge (a horizontal gradient, 0 degrees) puts its votes in the first and last bins (centres 10 and 170)."""
    x = torch.zeros(2, 3, 24, 24)
    x[0, :, :, 12:] = 1.0  # vertical edge
    x[1, :, 12:, :] = 1.0  # horizontal edge: 90 degrees, the middle bin (centre 90)
    h = hog(x, cell=6)
    assert h.shape == (2, 9 * 4 * 9)
    blocks = h.view(2, 9, 36)
    assert (blocks.norm(dim=-1) <= 1 + 1e-5).all()
    per_bin = blocks.view(2, 9, 9, 4).sum((1, 3))  # (2, bins): each block is (bins, 2x2 cells)
    assert per_bin[0, [0, 8]].sum() > 0.99 * per_bin[0].sum()
    assert per_bin[1, 4] > 0.99 * per_bin[1].sum()


def test_warp_of_the_whole_picture_without_context_is_the_picture():
    g = torch.Generator().manual_seed(4)
    img = torch.rand(2, 3, 16, 16, generator=g)
    boxes = torch.tensor([[0.0, 0, 16, 16], [4.0, 2, 12, 10]])
    out = warp(img, torch.tensor([0, 1]), boxes, 16, p=0.0)
    torch.testing.assert_close(out[0], img[0])
    half = warp(img, torch.tensor([1]), boxes[1:], 8, p=0.0)  # an 8x8 box to 8x8: the crop itself
    torch.testing.assert_close(half[0], img[1, :, 2:10, 4:12])
    ctx = warp(img, torch.tensor([1]), boxes[1:], 16, p=4.0)  # 8 of 16 pixels are the box: 2x the box, 1:1
    torch.testing.assert_close(ctx[0], img[1, :, -2:14, 0:16].new_zeros(3, 16, 16).index_put_(
        (torch.arange(3)[:, None, None], torch.arange(2, 16)[None, :, None], torch.arange(16)[None, None, :]),
        img[1, :, 0:14, 0:16]))  # fmt: skip  # rows above the picture are zero (the mean after subtraction)


def test_proposals_find_a_coloured_square_on_grey():
    img = torch.full((1, 3, 48, 48), 0.5)
    img[0, 0, 10:30, 5:21] = 1.0  # a red 16x20 rectangle
    img[0, 1:, 10:30, 5:21] = 0.0
    props = propose(img, thresholds=(0.3,), scales=(0.8,), max_boxes=20, windows=(24,))[0]
    best = box_iou(torch.tensor([[5.0, 10, 21, 30]]), props).max()
    assert best > 0.8
    assert len(props) == 2 + 9  # the box, its 0.8 scaling, then all nine 24x24 windows at a stride of 12
    assert len(propose(img, (0.3,), (0.8,), max_boxes=5, windows=(24,))[0]) == 5  # cut at max_boxes


def test_linear_svm_separates_separable_classes():
    g = torch.Generator().manual_seed(5)
    phi = torch.randn(400, 5, generator=g)
    truth = torch.stack([phi[:, 0] > 0.5, phi[:, 1] < -0.5], 1)
    labels = torch.where(truth, 1.0, -1.0)
    labels[:10, 0] = 0.0  # ignored regions
    s = LinearSVM(lam=1e-4, steps=300).fit(phi, labels).score(phi)
    assert ((s > 0) == truth).float().mean() > 0.97


def test_scenes_use_disjoint_drawings_and_boxes_fit():
    d = need(emoji.load, 48)
    cfg = experiment.Config()
    split = experiment.split_drawings(d, cfg)
    for k in range(cfg.n_classes + 2):
        assert not set(split["train"][k].tolist()) & set(split["test"][k].tolist())
    pics = experiment.rgba(torch.from_numpy(d["images"]))
    s = experiment.make_scenes(cfg, pics, split["test"], 5, torch.Generator().manual_seed(0))
    boxes = torch.cat(s["boxes"])
    assert ((boxes[:, :2] >= 0) & (boxes[:, 2:] <= cfg.canvas) & (boxes[:, 2:] > boxes[:, :2])).all()
    assert all(len(b) == len(lab) >= 1 for b, lab in zip(s["boxes"], s["labels"], strict=True))


def test_resume_is_exact(monkeypatch):
    whole, resumed = interrupt_and_resume(monkeypatch, "girshick2014", experiment, "finetune_batch", die_on_call=3)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    r = run_preset("girshick2014", "smoke", n_classes=2, canvas=48, train_scenes=2, test_scenes=2, max_objects=1,
                   max_distractors=0, max_proposals=1, warp_size=8, context=0, widths="1,1,1", hidden=1,
                   pretrain_steps=0, finetune_steps=1, batch_size=4, svm_negatives=1, svm_steps=1, hog_size=16,
                   pixel_size=4, checkpoint_every=1)  # fmt: skip
    assert r.metrics["proposals_per_scene"] == 1


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("girshick2014", "quick"))
