"""Zeiler & Fergus (2014): train a small ZFNet-like convnet on real pictures, then look inside it.

ImageNet is not available offline, so the pictures are the Noto colour emoji (core.data.emoji), labelled with
their Unicode group (9 classes, as krizhevsky2012 does). Each emoji is drawn small (object_size pixels) and laid
at a random place on a larger white canvas, so the object's position varies and the white background is a real
share of the picture; the foreground mask (the object's pixels) is known for free. A quarter of every group is
held out, with a fixed placement per held-out picture; an emoji and its skin-tone variants stay on one side.

Then the paper's two tools, on held-out pictures:
  deconvnet (Sec. 2.1, Fig. 2): for every unit (feature map) of the top conv layer, the 9 held-out pictures
      that activate it most; each such activation alone projected down to pixel space. Measured: how the
      projection's absolute mass falls on object against background pixels inside the unit's receptive field.
  occlusion (Sec. 4.2, Fig. 7): a grey square slid over each correctly classified held-out picture; the drop in
      the correct class's probability at each position. Measured: mean drop with the square centred on the
      object against centred on the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import binary_fill_holes

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import emoji
from dlcanon.core.paper import Claim

from . import figures
from .model import ZFNet, count_parameters, project_units, receptive_field, renormalise_filters


@dataclass
class Config:
    canvas: Annotated[int, Range(ge=8, le=256)] = 32
    """side of the white canvas the net sees, in pixels (the paper: 224 crops of 256 ImageNet pictures)"""
    object_size: Annotated[int, Range(ge=8, le=136)] = 20
    """side of the rendered emoji laid on the canvas (core.data.emoji renders 8 to 136 pixels)"""
    skin_tones: bool = False
    """also use the skin-tone variants (3,655 pictures instead of 1,870; each stays with its base emoji)"""
    white: Annotated[int, Range(ge=1, le=255)] = 245
    """a pixel is foreground when any of its channels is below this value (holes inside are filled)"""
    test_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.25
    """share of every group's base emoji held out for the test set"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the split and of the held-out pictures' placements (independent of the run's seed)"""
    widths: Annotated[tuple[int, ...], Range(ge=1, le=1024, min_len=1, max_len=6)] = (16, 32, 64)
    """feature maps in conv layers 1..L (ZFNet: 96, 256, 384, 384, 256)"""
    kernels: Annotated[tuple[int, ...], Range(ge=1, le=15, min_len=1, max_len=6)] = (5, 3, 3)
    """odd filter sides of conv layers 1..L (ZFNet: 7, 5, 3, 3, 3)"""
    hidden: Annotated[int, Range(ge=1, le=8192)] = 128
    """units of the fully connected hidden layer (ZFNet: two layers of 4,096)"""
    p_drop: Annotated[float, Range(ge=0, lt=1)] = 0.5
    """dropout in the hidden layer (the paper: 0.5, from memory)"""
    batch_size: Annotated[int, Range(ge=1, le=4096)] = 64
    """pictures per step (the paper: 128, from memory)"""
    lr: Annotated[float, Range(gt=0, le=1)] = 0.05
    """SGD learning rate (the paper: 1e-2 annealed by hand, from memory; 0.05 chosen over 0.02 in a trial on seed 0)"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """SGD momentum (the paper: 0.9, from memory)"""
    lr_drop_at: Annotated[float, Range(gt=0, le=1)] = 0.75
    """fraction of the steps after which the learning rate is divided by 10 (1: never)"""
    filter_radius: Annotated[float, Range(gt=0, le=100)] = 0.1
    """conv filters whose RMS exceeds this are scaled back to it after each step (the paper: 1e-1, from memory)"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 300
    """training steps"""
    occluder: Annotated[int, Range(ge=1, le=256)] = 6
    """side of the grey occluding square (Fig. 7 slides one grey square over 224-px pictures)"""
    occlusion_stride: Annotated[int, Range(ge=1, le=64)] = 2
    """pixels between occluder positions"""
    n_occlusion: Annotated[int, Range(ge=1, le=100_000)] = 40
    """correctly classified held-out pictures the occlusion maps are computed for"""
    top_k: Annotated[int, Range(ge=1, le=100)] = 9
    """strongest activations per top-layer unit projected down (Fig. 2: 9)"""
    figure_units: Annotated[int, Range(ge=1, le=64)] = 4
    """top-layer units drawn in the deconvnet figure"""
    checkpoint_every: Annotated[int, Range(ge=1, le=1_000_000)] = 100
    """steps between checkpoints"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if len(self.widths) != len(self.kernels):
            raise ValueError(f"widths {self.widths} and kernels {self.kernels} must name the same layers")
        if any(k % 2 == 0 for k in self.kernels):
            raise ValueError(f"kernels {self.kernels} must be odd (padding k // 2 keeps the side)")
        if self.canvas % 2 ** len(self.widths):
            raise ValueError(f"canvas ({self.canvas}) must be divisible by 2^{len(self.widths)} for the 2x2 pools")
        if self.object_size > self.canvas:
            raise ValueError(f"object_size ({self.object_size}) must not exceed canvas ({self.canvas})")
        if self.occluder > self.canvas:
            raise ValueError(f"occluder ({self.occluder}) must not exceed canvas ({self.canvas})")


PRESETS = {
    "smoke": Config(steps=3, batch_size=8, n_occlusion=2, top_k=2, figure_units=2, checkpoint_every=2),
    "quick": Config(),
    "full": Config(
        canvas=64,
        object_size=40,
        skin_tones=True,
        widths=(48, 96, 192, 192),
        kernels=(7, 5, 3, 3),
        hidden=512,
        batch_size=128,
        lr=0.01,
        steps=6000,
        occluder=12,
        occlusion_stride=4,
        n_occlusion=200,
        figure_units=6,
        checkpoint_every=500,
    ),
}

MIN_ACCURACY = 0.40
"""Held-out accuracy the net must reach for its pictures to be of a working net: a little more than twice the
largest group's share (People & Body, 19% of the emoji); fixed before any quick run."""
MIN_SHARE = 2 / 3
"""Bound of both visualisation claims, fixed before any quick run: a 'balanced share' m_fg / (m_fg + m_bg) of
per-pixel (or per-position) means; 1/2 = no preference for the object, 2/3 = twice as much per object pixel."""


CLAIMS = [
    Claim(
        name="net_is_trained",
        metric="test_accuracy",
        op=">=",
        threshold=MIN_ACCURACY,
        paper_value=(
            "ZFNet on ImageNet 2012: 14.8% top-5 test error (ensemble; from memory, not checked against the "
            "paper). The guard for the claims below: the pictures are of a working net."
        ),
        scale_note=(
            "Held-out accuracy over 9 emoji groups (chance 11%, largest group 19%), 20-px emoji at random places on "
            "a 32-px white canvas, ~1,400 training emoji, 300 steps of 64. At least 40% (twice the largest group's "
            "share), fixed before any run."
        ),
    ),
    Claim(
        name="occlusion_drop_on_object",
        metric="occlusion_fg_share",
        op=">=",
        threshold=MIN_SHARE,
        paper_value=(
            "Sec. 4.2, Fig. 7: the probability of the correct class drops sharply when the object is occluded "
            "(qualitative: maps only, no figure)."
        ),
        scale_note=(
            "A 6-px grey (mean-colour) square at stride 2 on the correctly classified held-out pictures; drop = "
            "max(0, p(correct) - p(correct | occluded)); share = m_fg / (m_fg + m_bg), the mean drop over positions "
            "whose centre pixel is on the object against on the background (1/2 = no preference, whatever the "
            "object's area). At least 2/3 (twice the drop per object position), fixed before any run."
        ),
    ),
    Claim(
        name="deconv_on_object",
        metric="deconv_fg_share",
        op=">=",
        threshold=MIN_SHARE,
        paper_value=(
            "Sec. 2.1, 3.1, Fig. 2: projections of the strongest activations show the structures in the input that "
            "excite each feature map, on the object, with the background largely ignored (qualitative)."
        ),
        scale_note=(
            "Every unit of the top conv layer, its 9 strongest held-out activations projected by the deconvnet; "
            "share = m_fg / (m_fg + m_bg) of the mean |projection| per object pixel and per background pixel, both "
            "inside the unit's receptive field (outside it the projection is zero). At least 2/3, fixed before any "
            "run; the untrained net's share is reported beside it (deconv_fg_share_untrained)."
        ),
    ),
    Claim(
        name="deconv_focus_is_learned",
        metric="deconv_fg_share",
        minus="deconv_fg_share_untrained",
        op=">",
        threshold=0.0,
        paper_value="(our control, not in the paper: the paper shows only trained nets' projections)",
        scale_note=(
            "The same measurement on the same net at its initial weights (the smoke run showed an untrained net's "
            "share already near 2/3: on a white background any filter's projection lands on the drawing's edges). "
            "Added before any quick run: the trained net must concentrate more than the untrained one."
        ),
    ),
]


# ------------------------------------------------------------------------------------------------ data


def foreground(images: np.ndarray, white: int) -> np.ndarray:
    """The object's pixels: any channel below `white`, with holes (white parts enclosed by the drawing, eyes,
    the inside of a ring) filled. images (N, s, s, 3) uint8 -> (N, s, s) bool."""
    mask = (images < white).any(-1)
    return np.stack([binary_fill_holes(m) for m in mask])


def base_key(code: str) -> str:
    """An emoji's code points without skin-tone modifiers and the emoji presentation selector FE0F (which a
    base such as 1F590 FE0F carries and its variant 1F590 1F3FB does not): variants share their base's key."""
    return " ".join(c for c in code.split() if not (0x1F3FB <= int(c, 16) <= 0x1F3FF or c == "FE0F"))


def split(d: dict, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Per group, test_fraction of the base emoji held out, drawn with data_seed. A held-out emoji's skin-tone
    variants are dropped (neither side sees them), so the test set is the same with or without skin_tones and
    its groups keep their shares (with variants People & Body would be 59% of it); the training set keeps the
    variants of its own emoji. Returns (train, test) indices into d."""
    keys = np.array([base_key(c) for c in d["codes"]])
    is_base = ~np.array([any(0x1F3FB <= int(c, 16) <= 0x1F3FF for c in code.split()) for code in d["codes"]])
    g = np.random.default_rng(cfg.data_seed)
    held_out = np.zeros(len(keys), dtype=bool)
    for c in range(len(d["groups"])):
        bases = np.unique(keys[(d["group"] == c) & is_base])
        held = g.choice(bases, size=round(cfg.test_fraction * len(bases)), replace=False)
        held_out |= (d["group"] == c) & np.isin(keys, held)
    # variants whose key names no base picture (handshake, kiss, couple: other code points) are left out too
    orphan = ~np.isin(keys, keys[is_base])
    return torch.from_numpy(np.flatnonzero(~held_out & ~orphan)), torch.from_numpy(np.flatnonzero(held_out & is_base))


def load_data(cfg: Config, device) -> dict:
    """Object pictures (N, 3, s, s) in [0, 1] minus the mean colour of the training canvases, their masks, labels;
    the held-out pictures placed once (data_seed) on canvases. Mean colour: of training pictures on white."""
    d = emoji.load(cfg.object_size, skin_tones=cfg.skin_tones)
    obj = torch.from_numpy(d["images"]).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, s, s)
    mask = torch.from_numpy(foreground(d["images"], cfg.white))  # (N, s, s)
    train, test = split(d, cfg)
    area = (cfg.object_size / cfg.canvas) ** 2  # the mean colour of a canvas: object pixels, the rest white
    mean = area * obj[train].mean(dim=(0, 2, 3)) + (1 - area) * 1.0  # (3,)
    g = torch.Generator().manual_seed(cfg.data_seed)
    x_test, m_test = place(obj[test] - mean[:, None, None], mask[test], cfg.canvas, 1.0 - mean, g, flip=False)
    out = {
        "obj_train": obj[train] - mean[:, None, None],
        "mask_train": mask[train],
        "y_train": torch.from_numpy(d["group"])[train],
        "x_test": x_test,
        "mask_test": m_test,
        "y_test": torch.from_numpy(d["group"])[test],
        "white": 1.0 - mean,
    }
    out = {k: v.to(device) for k, v in out.items()}
    return out | {"groups": d["groups"], "names": d["names"][test.numpy()]}


def place(obj: torch.Tensor, mask: torch.Tensor, S: int, white: torch.Tensor, g: torch.Generator, flip: bool):
    """Lay each object (B, 3, s, s) at a random place on a white S x S canvas (and mirror it left-right with
    probability 1/2 when flip): the shift augmentation. Returns canvases (B, 3, S, S) and masks (B, S, S)."""
    B, _, s, _ = obj.shape
    i = torch.randint(0, S - s + 1, (B,), generator=g).to(obj.device)
    j = torch.randint(0, S - s + 1, (B,), generator=g).to(obj.device)
    if flip:
        mirrored = (torch.rand(B, generator=g) < 0.5).to(obj.device)
        obj = torch.where(mirrored[:, None, None, None], obj.flip(-1), obj)
        mask = torch.where(mirrored[:, None, None], mask.flip(-1), mask)
    r = torch.arange(s, device=obj.device)
    b = torch.arange(B, device=obj.device)[:, None, None]
    rows, cols = (i[:, None] + r)[:, :, None], (j[:, None] + r)[:, None, :]  # (B, s, 1), (B, 1, s)
    x = white.expand(B, S, S, 3).clone()  # channels last, so that [b, rows, cols] picks whole pixels
    x[b, rows, cols] = obj.permute(0, 2, 3, 1)  # (B, s, s, 3) into (B, S, S, 3)
    m = torch.zeros(B, S, S, dtype=torch.bool, device=obj.device)
    m[b, rows, cols] = mask
    return x.permute(0, 3, 1, 2).contiguous(), m  # (B, 3, S, S), (B, S, S)


# ------------------------------------------------------------------------------------------------ training (Sec. 3)


def make_net(cfg: Config, n_classes: int, seed: int, device) -> ZFNet:
    """PyTorch's default init (see notes.md: Deviations), drawn from `seed` without touching the global RNG that
    dropout draws from (a resumed run puts that RNG back before this is called)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ZFNet(cfg.widths, cfg.kernels, cfg.hidden, n_classes, cfg.canvas, cfg.p_drop)
    return net.to(device)


def train_step(cfg: Config, net: ZFNet, opt: torch.optim.Optimizer, data: dict, g: torch.Generator) -> float:
    """One SGD step on a minibatch of emoji laid at fresh random places; then Sec. 3's filter renormalisation."""
    idx = torch.randint(0, len(data["y_train"]), (cfg.batch_size,), generator=g).to(data["y_train"].device)
    x, _ = place(data["obj_train"][idx], data["mask_train"][idx], cfg.canvas, data["white"], g, flip=True)
    loss = F.cross_entropy(net(x), data["y_train"][idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
    renormalise_filters(net, cfg.filter_radius)
    return loss.item()


@torch.no_grad()
def probabilities(net: ZFNet, x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    net.eval()
    p = torch.cat([F.softmax(net(x[i : i + chunk]), dim=1) for i in range(0, len(x), chunk)])
    net.train()
    return p  # (N, classes)


# ------------------------------------------------------------------------------------------------ occlusion (Sec. 4.2)


def occluder_corners(cfg: Config) -> torch.Tensor:
    """Top-left corners (Q, 2) of the grey square, every occlusion_stride pixels, inside the canvas."""
    t = torch.arange(0, cfg.canvas - cfg.occluder + 1, cfg.occlusion_stride)
    return torch.cartesian_prod(t, t)


@torch.no_grad()
def occlusion_map(net: ZFNet, x: torch.Tensor, y: int, cfg: Config) -> torch.Tensor:
    """Fig. 7: p(class y) for one picture x (3, S, S) with the grey square (the mean colour: 0 after the mean is
    subtracted) at each of the Q positions of occluder_corners; returns (Q,)."""
    corners = occluder_corners(cfg).to(x.device)
    Q, k = len(corners), cfg.occluder
    r = torch.arange(k, device=x.device)
    rows = (corners[:, 0:1] + r)[:, :, None]  # (Q, k, 1)
    cols = (corners[:, 1:2] + r)[:, None, :]  # (Q, 1, k)
    xs = x.expand(Q, *x.shape).clone()  # (Q, 3, S, S)
    q = torch.arange(Q, device=x.device)[:, None, None]
    xs.permute(0, 2, 3, 1)[q, rows, cols] = 0.0  # the square, in every channel
    return probabilities(net, xs)[:, y]


def occlusion(net: ZFNet, data: dict, cfg: Config) -> dict:
    """Drops of p(correct) for n_occlusion correctly classified held-out pictures, taken from the groups in turn
    (the first of each group, then the second, ...), and whether each position's centre pixel is on the object."""
    p = probabilities(net, data["x_test"])
    right = in_turn((p.argmax(1) == data["y_test"]).nonzero().flatten(), data["y_test"])[: cfg.n_occlusion]
    centre = occluder_corners(cfg).to(p.device) + cfg.occluder // 2  # (Q, 2) the square's centre pixel
    drops = [torch.zeros(0, len(centre), device=p.device)]  # (0, Q) when no picture is classified correctly
    on_object = [torch.zeros(0, len(centre), dtype=torch.bool, device=p.device)]
    for i in right.tolist():
        y = int(data["y_test"][i])
        drops.append((p[i, y] - occlusion_map(net, data["x_test"][i], y, cfg)).clamp(min=0)[None])
        on_object.append(data["mask_test"][i][centre[:, 0], centre[:, 1]][None])
    return {"idx": right, "drop": torch.cat(drops), "on_object": torch.cat(on_object)}  # (P, Q) each


def in_turn(idx: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The pictures idx reordered so that the groups take turns: rank within its group first, then group."""
    g = y[idx]
    rank = torch.zeros_like(idx)
    for c in g.unique():
        rank[g == c] = torch.arange(int((g == c).sum()), device=idx.device)
    return idx[torch.argsort(rank * (int(y.max()) + 1) + g, stable=True)]


def balanced_share(values: torch.Tensor, fg: torch.Tensor, within: torch.Tensor | None = None) -> float:
    """m_fg / (m_fg + m_bg): the mean of `values` over foreground entries against over background entries
    (restricted to `within` where given); 1/2 when the object gets no more than the background per entry."""
    within = torch.ones_like(fg) if within is None else within
    m_fg = values[fg & within].mean()
    m_bg = values[~fg & within].mean()
    return float(m_fg / (m_fg + m_bg))


# ------------------------------------------------------------------------------------------------ deconvnet (Sec. 2.1)


@torch.no_grad()
def top_activations(net: ZFNet, x: torch.Tensor, k: int) -> dict:
    """Fig. 2: for every unit j of the top conv layer, the k held-out pictures with the strongest activation of
    map j (anywhere in it), and where. Returns unit (U*k,), picture (U*k,), pos (U*k, 2), value (U*k,)."""
    net.eval()
    a_L = torch.cat([net.features(x[i : i + 512])[0][-1] for i in range(0, len(x), 512)])  # (N, C, H, W)
    net.train()
    N, C, H, W = a_L.shape
    best, where = a_L.flatten(2).max(2)  # (N, C) strongest activation of each map in each picture, and where
    k = min(k, N)
    value, picture = best.T.topk(k, dim=1)  # (C, k)
    unit = torch.arange(C, device=x.device)[:, None].expand(C, k)
    flat = where.T.gather(1, picture)  # (C, k)
    pos = torch.stack([flat // W, flat % W], -1)  # (C, k, 2)
    return {"unit": unit.flatten(), "picture": picture.flatten(), "pos": pos.flatten(0, 1), "value": value.flatten()}


def receptive_masks(cfg: Config, pos: torch.Tensor) -> torch.Tensor:
    """(B, S, S) bool: the pixels each top-layer unit at pos (B, 2) sees, clipped to the canvas."""
    J, h = receptive_field(cfg.kernels, len(cfg.kernels))
    r = torch.arange(cfg.canvas, device=pos.device)
    lo, hi = pos * J - h, pos * J + J - 1 + h  # (B, 2)
    rows = (r >= lo[:, 0:1]) & (r <= hi[:, 0:1])  # (B, S)
    cols = (r >= lo[:, 1:2]) & (r <= hi[:, 1:2])
    return rows[:, :, None] & cols[:, None, :]


def projections(net: ZFNet, data: dict, cfg: Config) -> dict:
    """The deconvnet projections of every top-layer unit's top_k activations on the held-out pictures (units
    that never fire are left out), with |R| summed over colour channels and each projection's receptive field."""
    top = top_activations(net, data["x_test"], cfg.top_k)
    alive = top["value"] > 0
    top = {k: v[alive] for k, v in top.items()}
    R = [torch.zeros(0, 3, cfg.canvas, cfg.canvas, device=data["x_test"].device)]
    for i in range(0, len(top["unit"]), 512):  # in chunks of 512 projections
        part = slice(i, i + 512)
        R.append(project_units(net, data["x_test"][top["picture"][part]], net.L, top["unit"][part], top["pos"][part]))
    R = torch.cat(R)  # (B, 3, S, S)
    return top | {"R": R, "mass": R.abs().sum(1), "field": receptive_masks(cfg, top["pos"])}


def deconv_share(net: ZFNet, data: dict, cfg: Config) -> tuple[float, float, dict]:
    """(share inside the receptive fields, share of all |R| on the object, the projections)."""
    pr = projections(net, data, cfg)
    fg = data["mask_test"][pr["picture"]]  # (B, S, S)
    if len(fg) == 0:  # every unit of the top layer is dead
        return math.nan, math.nan, pr
    share = balanced_share(pr["mass"], fg, pr["field"])
    on_object = float((pr["mass"] * fg).sum() / pr["mass"].sum())
    return share, on_object, pr


# ------------------------------------------------------------------------------------------------ the run


def run(cfg: Config, ctx) -> dict[str, float]:
    data = load_data(cfg, ctx.device)
    n_classes = len(data["groups"])
    net = make_net(cfg, n_classes, ctx.seed, ctx.device)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    g = torch.Generator().manual_seed(ctx.seed + 1)
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["g"])
    with ctx.bar(cfg.steps - start, "training, steps") as bar:
        for t in range(start, cfg.steps):
            opt.param_groups[0]["lr"] = cfg.lr * (0.1 if t >= cfg.lr_drop_at * cfg.steps else 1.0)
            loss = train_step(cfg, net, opt, data, g)
            ctx.log(t + 1, loss=loss)
            bar.update(1, loss=loss)
            if (t + 1) % cfg.checkpoint_every == 0 and t + 1 < cfg.steps:
                ctx.checkpoint(t + 1, {"net": net.state_dict(), "opt": opt.state_dict(), "g": g.get_state()})
    return analyse(cfg, ctx, data, net)


def analyse(cfg: Config, ctx, data: dict, net: ZFNet) -> dict[str, float]:
    """The held-out accuracy, the occlusion and deconvnet measurements, the untrained control, the figures."""
    p = probabilities(net, data["x_test"])
    m = {"test_accuracy": float((p.argmax(1) == data["y_test"]).float().mean())}
    m["n_train"], m["n_test"] = float(len(data["y_train"])), float(len(data["y_test"]))
    m["fg_area_share"] = float(data["mask_test"].float().mean())
    m["params"] = float(count_parameters(net))
    occ = occlusion(net, data, cfg)
    m["n_occluded"] = float(len(occ["idx"]))
    m["occlusion_fg_share"] = balanced_share(occ["drop"], occ["on_object"]) if len(occ["idx"]) else math.nan
    m["occlusion_fg_mean_drop"] = float(occ["drop"][occ["on_object"]].mean())
    m["occlusion_bg_mean_drop"] = float(occ["drop"][~occ["on_object"]].mean())
    m["occlusion_positions_on_object"] = float(occ["on_object"].float().mean())
    m["deconv_fg_share"], m["deconv_mass_on_object"], pr = deconv_share(net, data, cfg)
    m["n_projected_units"] = float(len(pr["unit"].unique()))
    untrained = make_net(cfg, len(data["groups"]), ctx.seed, ctx.device)  # the same initial weights
    m["deconv_fg_share_untrained"], _, _ = deconv_share(untrained, data, cfg)
    figures.deconv_grid(data, pr, cfg, m, MIN_SHARE, ctx.path("deconv_top9.png"))
    figures.occlusion_maps(data, occ, cfg, m, MIN_SHARE, ctx.path("occlusion.png"))
    figures.filters(net.conv[0].weight.detach().cpu(), ctx.path("layer1_filters.png"))
    return m
