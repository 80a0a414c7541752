"""Yosinski et al. (2014): how transferable are the features of each layer, on real clothing images.

The paper splits ImageNet's 1,000 classes at random into two halves A and B of 500 classes and trains an 8-layer
net on each (baseA, baseB). For every n = 1..7 it then trains BnB, BnB+, AnB and AnB+ on B (model.py) and
plots their top-1 accuracy on B's validation images against n (Fig. 2).

Here the data are Fashion-MNIST's 10 clothing classes, split at random (a fixed seed) into two halves of 5; each
half keeps `n_per_class` training images per class and all 1,000 test images per class. The net is an L-layer
convnet (quick: 3 conv + 2 fc + output = 6 layers, so n = 1..5). Phase 1 trains baseA and baseB; phase 2 chops
them at every n and trains the 4 (L - 1) transfer nets on B, with the same recipe and the same number of steps
(the paper's solver is the same for base and transfer nets), all on the same minibatches of B. `reps` independent
replicates (own inits, own minibatch orders) run side by side in one stacked model and the claims read the
means over them, as the paper's Fig. 2 draws one point per trained net and a line through the means.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, OneOf, Range
from dlcanon.core.data import fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import ARMS, StackedConvNet, chop_and_stack, copy_index, he_init, regularise_and_freeze, train_masks

CLASSES = 10


@dataclass
class Config:
    image_size: Annotated[int, Range(ge=7, le=28)] = 14
    """side of the images in pixels: 28 (Fashion-MNIST as is), 14 or 7 (area-averaged)"""
    split: Annotated[str, OneOf("random", "ordered")] = "random"
    """random: the 10 classes shuffled with data_seed, first 5 are A (the paper's random halves); ordered: A = 0-4
    (T-shirt, trouser, pullover, dress, coat), B = 5-9 (sandal, shirt, sneaker, bag, ankle boot)"""
    n_per_class: Annotated[int, Range(ge=1, le=6000)] = 500
    """training images per class in each half (the paper: about 1,300 per ImageNet class)"""
    channels: Annotated[tuple[int, ...], Range(ge=1, le=512, min_len=1, max_len=6)] = (8, 16, 16)
    """feature maps of the conv layers (the paper: conv1..conv5 with 96, 256, 384, 384, 256)"""
    hidden: Annotated[tuple[int, ...], Range(ge=1, le=8192, min_len=0, max_len=4)] = (32, 32)
    """units of the fully connected hidden layers (the paper: fc6, fc7 with 4,096 each)"""
    p_drop: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """dropout probability on the fc hidden layers while training (the paper: 0.5 on fc6 and fc7)"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 400
    """SGD steps for each net, base and transfer alike (the paper: 450,000 iterations)"""
    batch_size: Annotated[int, Range(ge=2, le=30_000)] = 50
    """images per minibatch (the paper: 256)"""
    lr: Annotated[float, Range(gt=0, le=10)] = 0.05
    """initial learning rate (the paper: 0.01)"""
    lr_drops: Annotated[tuple[float, ...], Range(gt=0, lt=1, min_len=0, max_len=8)] = (0.5, 0.75)
    """fractions of `steps` where the learning rate is divided by 10 (the paper: every 100k of 450k iterations)"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum (the paper: 0.9)"""
    weight_decay: Annotated[float, Range(ge=0, le=0.1)] = 5e-4
    """weight decay lambda (the paper: 0.0005)"""
    reps: Annotated[int, Range(ge=1, le=16)] = 1
    """independent replicates trained side by side (own inits and minibatch orders); claims use their mean"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the class split and of the draw of the training images (fixed, independent of the run's seed)"""
    log_every: Annotated[int, Range(ge=1, le=100_000)] = 100
    """steps between logged points (and checkpoints)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if 28 % self.image_size:
            raise ValueError(f"image_size ({self.image_size}) must divide 28: choose 28, 14 or 7")
        if len(self.channels) + len(self.hidden) < 2:
            raise ValueError("the net needs at least 3 layers (channels + hidden + output), so that n = 1, 2 exist")
        if self.log_every > self.steps:
            raise ValueError(f"log_every ({self.log_every}) must not exceed steps ({self.steps})")
        if list(self.lr_drops) != sorted(self.lr_drops):
            raise ValueError(f"lr_drops {self.lr_drops} must be in increasing order")

    @property
    def L(self) -> int:
        """Weighted layers of the net: conv layers, fc hidden layers, the output layer."""
        return len(self.channels) + len(self.hidden) + 1

    @property
    def n_values(self) -> tuple[int, ...]:
        """The layers at which the net is chopped: 1 .. L-1 (the paper: 1..7)."""
        return tuple(range(1, self.L))


PRESETS = {
    "smoke": Config(n_per_class=20, channels=(4, 4), hidden=(8,), steps=4, batch_size=10, reps=1, log_every=2),
    "quick": Config(),
    "full": Config(
        image_size=28,
        n_per_class=1300,
        channels=(32, 64, 96, 96, 64),
        hidden=(512, 512),
        p_drop=0.5,
        steps=20_000,
        batch_size=128,
        lr=0.02,
        lr_drops=(0.45, 0.67, 0.89),
        reps=4,
        log_every=1000,
    ),  # fmt: skip
}

PAPER_FIG2 = (
    "Fig. 2 (ImageNet, random halves of 500 classes); numbers are our means of the authors' released training "
    "logs (yosinski/convnet_transfer, mean of the 10 best validation top-1 accuracies, as their plotting notebook "
    "does): baseB 0.625 (8 nets)"
)

CLAIMS = [
    Claim(
        name="transfer_plus_finetuning_never_hurts",
        metric="AnB_plus_min_gap",
        op=">=",
        threshold=-0.01,
        paper_value=(
            f"{PAPER_FIG2}; AnB+ 0.636-0.647 at n = 1..7, above baseB at every n: transferring features and "
            "fine-tuning them 'produces a boost to generalization' that lingers (Sec. 4.1)."
        ),
        scale_note=(
            "Fashion-MNIST 14x14, random halves of 5 classes, 500 training images per class per half, a 6-layer "
            "net (3 conv with 8/16/16 maps + 2 fc of 32 + output, n = 1..5), 400 steps of 50 per net, one replicate; "
            "the measured "
            "value is min over n of (AnB+ - baseB) top-1 accuracy on B's 5,000 test images; tolerance 1 point."
        ),
        known_fail=(
            "At the edge of its tolerance: on the machine of the final check, seeds 0/1/2 give +0.014 / +0.036 / "
            "-0.0102 (fails by 0.02 points on seed 2); on the machine where it was built, seed 2 passed by 0.04 "
            "points. AnB+ is above baseB at most n on every seed; its worst layer sits about 1 point below on one "
            "seed in three. Not tried: more replicates per n, which the paper had."
        ),
    ),
    Claim(
        name="frozen_transfer_degrades_toward_the_top",
        metric="AnB_top_minus_AnB_1",
        op="<",
        threshold=-0.02,
        paper_value=(
            f"{PAPER_FIG2}; frozen AnB falls from 0.628 at n = 1 to 0.600 (n = 4), 0.578 (n = 5) and 0.543 (n = 7)."
        ),
        scale_note="As above; AnB at n = L-1 (only the output layer trained) minus AnB at n = 1.",
    ),
    Claim(
        name="specificity_at_the_top",
        metric="AnB_top_minus_BnB_top",
        op="<",
        threshold=-0.01,
        paper_value=(f"{PAPER_FIG2}; at n = 7 AnB 0.543 against BnB 0.623: the top layers are specific to their task."),
        scale_note="As above; AnB minus BnB at n = L-1, both with layers 1..L-1 frozen.",
    ),
    Claim(
        name="co_adaptation_dip",
        metric="BnB_dip",
        op="<",
        threshold=-0.01,
        paper_value=(
            f"{PAPER_FIG2}; BnB 0.627, 0.624, 0.621 at n = 1..3, then 0.605 (n = 4) and 0.594 (n = 5), back to "
            "0.619 and 0.623 at n = 6, 7: splitting co-adapted middle layers costs about 3 points."
        ),
        scale_note="As above; min over the middle n = 2 .. L-2 of (BnB - baseB).",
        known_fail=(
            "no co-adaptation dip at this scale: min over n = 2..4 of BnB - baseB was +0.009, -0.005 and -0.001 on "
            "quick seeds 0, 1, 2 (threshold -0.01); frozen BnB stays at or above the less-trained baseB, and "
            "re-learning fc4/fc5 on frozen conv features of a 6-layer net is easy. Tried: 16/32/32 maps with 2 "
            "replicates (-0.002), 100 images per class (-0.006); the paper's dip needs its 8-layer net trained "
            "to convergence (full preset, not run)"
        ),
    ),
    Claim(
        name="finetuning_recovers_co_adaptation",
        metric="BnB_plus_min_gap",
        op=">=",
        threshold=-0.01,
        paper_value=f"{PAPER_FIG2}; BnB+ 0.618-0.631 at n = 1..7, about baseB at every n.",
        scale_note="As above; min over n of (BnB+ - baseB), tolerance 1 point.",
    ),
]


def class_split(cfg: Config) -> tuple[list[int], list[int]]:
    """The two halves of the 10 classes: (A, B), each sorted."""
    if cfg.split == "ordered":
        return list(range(5)), list(range(5, 10))
    perm = torch.randperm(CLASSES, generator=torch.Generator().manual_seed(cfg.data_seed)).tolist()
    return sorted(perm[:5]), sorted(perm[5:])


def load_halves(cfg: Config) -> dict[str, torch.Tensor]:
    """Fashion-MNIST as (N, 1, s, s) floats (grey / 255, area-averaged, minus the training set's mean image, as the
    paper subtracts its mean image), split into halves A and B with labels renumbered 0..4 within each half;
    n_per_class training images per class (a fixed draw), all test images of the half's classes."""
    raw = fashion_mnist.load()
    factor = 28 // cfg.image_size
    x = {s: torch.from_numpy(raw[f"{s}_x"]).float()[:, None] / 255.0 for s in ("train", "test")}  # (N, 1, 28, 28)
    x = {s: F.avg_pool2d(v, factor) if factor > 1 else v for s, v in x.items()}  # (N, 1, s, s)
    mean = x["train"].mean(dim=0, keepdim=True)  # (1, 1, s, s)
    y = {s: torch.from_numpy(raw[f"{s}_y"]).long() for s in ("train", "test")}
    g = torch.Generator().manual_seed(cfg.data_seed + 1)
    out = {}
    for half, classes in zip("AB", class_split(cfg), strict=True):
        for split in ("train", "test"):
            idx = []
            for c in classes:
                members = torch.nonzero(y[split] == c).squeeze(1)
                if split == "train":
                    members = members[torch.randperm(len(members), generator=g)[: cfg.n_per_class]].sort().values
                idx.append(members)
            idx = torch.cat(idx)
            relabel = torch.full((CLASSES,), -1, dtype=torch.long)
            relabel[classes] = torch.arange(len(classes))
            out[f"x_{half}_{split}"] = x[split][idx] - mean
            out[f"y_{half}_{split}"] = relabel[y[split][idx]]
    return out


def minibatch(cfg: Config, seed: int, stream: int, step: int, n: int) -> torch.Tensor:
    """The step's indices into one training set: epochs are fresh random orders of its n images. Stateless (a
    function of the seed, the stream and the step), so a resumed run draws exactly what the whole run drew."""
    per_epoch = max(1, n // cfg.batch_size)
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed((seed * 1009 + stream) * 1_000_003 + epoch))
    return order[i * cfg.batch_size : (i + 1) * cfg.batch_size]


def phase_batch(cfg: Config, d, seed: int, phase: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy-wise images (G, B, 1, s, s) and labels (G, B) for one step. Phase 1: baseA of replicate r reads A
    (stream r), baseB reads B (stream R + r). Phase 2: all transfer nets of replicate r read the same minibatch of
    B (stream 2R + r)."""
    R = cfg.reps
    if phase == 1:
        xs, ys = [], []
        for half, offset in (("A", 0), ("B", R)):
            X, Y = d[f"x_{half}_train"], d[f"y_{half}_train"]
            idx = torch.stack([minibatch(cfg, seed, offset + r, step, len(Y)) for r in range(R)])  # (R, B)
            xs.append(X[idx]), ys.append(Y[idx])
        return torch.cat(xs), torch.cat(ys)  # (2R, B, 1, s, s), (2R, B)
    X, Y = d["x_B_train"], d["y_B_train"]
    idx = torch.stack([minibatch(cfg, seed, 2 * R + r, step, len(Y)) for r in range(R)])  # (R, B)
    per_rep = len(ARMS) * len(cfg.n_values)
    idx = idx.repeat_interleave(per_rep, dim=0)  # (G, B): copy_index orders replicate first
    return X[idx], Y[idx]


def lr_at(cfg: Config, step: int) -> float:
    """The step schedule: the learning rate divided by 10 at each fraction in lr_drops (the paper's 'step' policy)."""
    return cfg.lr * 0.1 ** sum(step >= frac * cfg.steps for frac in cfg.lr_drops)


def new_net(cfg: Config, G: int, generator: torch.Generator) -> StackedConvNet:
    net = StackedConvNet(G, cfg.channels, cfg.hidden, CLASSES // 2, cfg.image_size, cfg.p_drop)
    he_init(net, generator)
    return net


def train_chunk(cfg: Config, d, seed: int, phase: int, net, opt, trains, start: int, stop: int) -> torch.Tensor:
    """Steps start..stop-1 of one phase for every copy at once. Each copy's loss is its own mean cross-entropy;
    summing over copies keeps their gradients apart. Returns (G,) mean minibatch losses."""
    net.train()
    losses = torch.zeros(net.G)
    for step in range(start, stop):
        x, y = phase_batch(cfg, d, seed, phase, step)  # (G, B, 1, s, s), (G, B)
        logits = net(x)  # (G, B, 5)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(net.G, -1).mean(1)  # (G,)
        opt.zero_grad()
        loss.sum().backward()
        regularise_and_freeze(net, trains, cfg.weight_decay)
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, step)
        opt.step()
        losses += loss.detach()
    return losses / (stop - start)


@torch.no_grad()
def accuracy(net: StackedConvNet, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000) -> torch.Tensor:
    """Top-1 accuracy of every copy on the same images x (N, 1, s, s) with labels y (N,): (G,)."""
    net.eval()
    right = torch.zeros(net.G)
    for i in range(0, len(y), chunk):
        xb = x[None, i : i + chunk].expand(net.G, -1, -1, -1, -1)  # (G, b, 1, s, s): every copy reads the batch
        right += (net(xb).argmax(-1) == y[None, i : i + chunk]).float().sum(-1)  # (G,)
    return right / len(y)


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load_halves(cfg).items()}
    R, S = cfg.reps, cfg.steps
    g = torch.Generator().manual_seed(ctx.seed)
    base = new_net(cfg, 2 * R, g).to(ctx.device)  # copies 0..R-1: baseA of each replicate; R..2R-1: baseB
    fresh = new_net(cfg, R, g)  # the re-initialised upper layers of the transfer nets, one draw per replicate
    G = R * len(ARMS) * len(cfg.n_values)
    state = {"history_base": torch.zeros(0, 1 + 2 * R), "history_transfer": torch.zeros(0, 1 + G)}
    done = 0
    if (ck := ctx.restore()) is not None:
        done, state = ck
    with ctx.bar(2 * S - done, "steps") as bar:
        if done < S:
            train_phase(cfg, ctx, d, 1, base, torch.ones(base.L, 2 * R), done, state, bar)
        base.load_state_dict(state["base"])
        transfer = chop_and_stack(base, fresh, cfg.n_values).to(ctx.device)
        train_phase(cfg, ctx, d, 2, transfer, train_masks(R, cfg.L, cfg.n_values), max(0, done - S), state, bar)
    return final_metrics(cfg, ctx, d, base, transfer, state)


def train_phase(cfg: Config, ctx, d, phase: int, net, trains, start: int, state: dict, bar) -> None:
    """Phase 1 (base nets) or 2 (transfer nets) from step `start`, checkpointing every log_every steps at the
    global step (phase 2 counts on from `steps`). Each phase has its own momentum SGD, started afresh as a new
    Caffe solver is; a resumed phase loads its nets and optimiser from `state`."""
    key, offset = ("base", 0) if phase == 1 else ("transfer", cfg.steps)
    opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    if start > 0:
        net.load_state_dict(state[key])
        opt.load_state_dict(state[f"opt_{key}"])
    for s in range(start, cfg.steps, cfg.log_every):
        stop = min(s + cfg.log_every, cfg.steps)
        losses = train_chunk(cfg, d, ctx.seed, phase, net, opt, trains, s, stop)  # (G,)
        point = torch.cat([torch.tensor([float(offset + stop)]), losses])[None]
        state[f"history_{key}"] = torch.cat([state[f"history_{key}"], point])
        ctx.log(offset + stop, **{f"{key}_loss": float(losses.mean())})
        bar.update(stop - s, phase=phase, loss=float(losses.mean()))
        state[key], state[f"opt_{key}"] = net.state_dict(), opt.state_dict()
        ctx.checkpoint(offset + stop, state)


def arm_metric(arm: str) -> str:
    """Metric-name form of an arm: 'AnB+' -> 'AnB_plus'."""
    return arm.replace("+", "_plus")


def final_metrics(cfg: Config, ctx, d, base, transfer, state) -> dict[str, float]:
    """Top-1 accuracy on the test images of the half each net was trained on, per replicate and as means; then
    the differences the claims read."""
    R, ns = cfg.reps, cfg.n_values
    acc_A = accuracy(base, d["x_A_test"], d["y_A_test"])[:R]  # base net copies are small: run all on both halves
    acc_B = accuracy(base, d["x_B_test"], d["y_B_test"])[R:]
    acc_T = accuracy(transfer, d["x_B_test"], d["y_B_test"])  # (G,)
    per_rep = {"baseB": acc_B}  # name -> (R,) accuracies
    for arm in ARMS:
        for n in ns:
            per_rep[f"{arm_metric(arm)}_n{n}"] = torch.stack([acc_T[copy_index(ns, r, arm, n)] for r in range(R)])
    m = {"baseA_acc": float(acc_A.mean()), "baseB_acc": float(acc_B.mean()), "L": float(cfg.L)}
    m |= {f"{k}_acc": float(v.mean()) for k, v in per_rep.items() if k != "baseB"}
    gap = {arm: torch.tensor([m[f"{arm_metric(arm)}_n{n}_acc"] - m["baseB_acc"] for n in ns]) for arm in ARMS}
    top, middle = ns[-1], [n for n in ns if 1 < n < ns[-1]] or [ns[0]]
    m["AnB_plus_min_gap"] = float(gap["AnB+"].min())
    m["AnB_plus_mean_gap"] = float(gap["AnB+"].mean())
    m["BnB_plus_min_gap"] = float(gap["BnB+"].min())
    m["AnB_plus_minus_BnB_plus_mean"] = float((gap["AnB+"] - gap["BnB+"]).mean())  # the boost beyond extra training
    m["AnB_top_minus_AnB_1"] = m[f"AnB_n{top}_acc"] - m["AnB_n1_acc"]
    m["AnB_top_minus_BnB_top"] = m[f"AnB_n{top}_acc"] - m[f"BnB_n{top}_acc"]
    m["BnB_dip"] = min(m[f"BnB_n{n}_acc"] - m["baseB_acc"] for n in middle)
    figures.fig2(per_rep, m, cfg, ctx.path("transfer_by_layer.png"))
    figures.training_loss(state, cfg, ctx.path("training_loss.png"))
    return m
