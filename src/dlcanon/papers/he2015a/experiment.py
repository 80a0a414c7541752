"""He et al. (2015): the degradation problem and its cure, on real clothing images (Fashion-MNIST).

Four nets of the paper's CIFAR-10 family (Sec. 4.2) are trained side by side: plain and residual, each at a
shallow and a deep depth (6n + 2 layers). Every net sees the same minibatches, with the same augmentation, in
the same order; the plain and residual nets of one depth start from the same weights (option A shortcuts have
no parameters). After an equal number of steps we measure each net's training error on a fixed set of
training images (and its test error). The paper's Fig. 1 and Fig. 6 (left) show the plain deep net above the
plain shallow one; Fig. 6 (middle) shows the residual deep net below the residual shallow one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import CifarNet, MomentumSGD, count_parameters

ARMS = ("plain_shallow", "plain_deep", "residual_shallow", "residual_deep")


@dataclass
class Config:
    image_size: Annotated[int, Range(ge=7, le=28)] = 14
    """side of the images in pixels: 28 (Fashion-MNIST as is), 14 or 7 (area-averaged); the paper: 32x32 CIFAR"""
    n_shallow: Annotated[int, Range(ge=1, le=200)] = 1
    """n of the shallow pair (6n + 2 layers); the paper's Fig. 1 compares 20 (n=3) with 56 (n=9) layers"""
    n_deep: Annotated[int, Range(ge=1, le=200)] = 3
    """n of the deep pair (6n + 2 layers)"""
    width: Annotated[int, Range(ge=1, le=256)] = 16
    """feature maps of the first stage; the later stages have 2x and 4x as many (the paper: 16, 32, 64)"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 300
    """SGD steps (iterations) for every net (the paper: 64k)"""
    batch_size: Annotated[int, Range(ge=2, le=60_000)] = 32
    """images per minibatch (the paper: 128)"""
    lr: Annotated[float, Range(gt=0, le=10)] = 0.1
    """initial learning rate eta (the paper: 0.1)"""
    lr_drops: Annotated[tuple[float, ...], Range(gt=0, lt=1, min_len=0, max_len=8)] = (0.5, 0.75)
    """fractions of `steps` where eta is divided by 10 (the paper: at 32k and 48k of 64k iterations)"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum mu (the paper: 0.9)"""
    weight_decay: Annotated[float, Range(ge=0, le=0.1)] = 1e-4
    """weight decay lambda on every parameter (the paper: 0.0001)"""
    augment: bool = True
    """the paper's simple augmentation: pad by 1/8 of the side with zeros, take a random crop, flip half the images"""
    n_eval: Annotated[int, Range(ge=1, le=60_000)] = 2000
    """training images (a fixed draw) on which the final training error is measured, without augmentation"""
    n_test: Annotated[int, Range(ge=1, le=10_000)] = 2000
    """test images (a fixed draw) for the final test error"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of the evaluation and test images (independent of the run's seed)"""
    log_every: Annotated[int, Range(ge=1, le=100_000)] = 25
    """steps between points of the training-error curves (and checkpoints)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if 28 % self.image_size:
            raise ValueError(f"image_size ({self.image_size}) must divide 28: choose 28, 14 or 7")
        if self.n_shallow >= self.n_deep:
            raise ValueError(f"n_shallow ({self.n_shallow}) must be smaller than n_deep ({self.n_deep})")
        if self.log_every > self.steps:
            raise ValueError(f"log_every ({self.log_every}) must not exceed steps ({self.steps})")
        if list(self.lr_drops) != sorted(self.lr_drops):
            raise ValueError(f"lr_drops {self.lr_drops} must be in increasing order")


PRESETS = {
    "smoke": Config(steps=4, batch_size=8, log_every=2, n_eval=64, n_test=64),
    "quick": Config(width=8, batch_size=64),
    "full": Config(
        image_size=28, n_shallow=3, n_deep=9, steps=32_000, batch_size=128, n_eval=10_000, n_test=10_000, log_every=400
    ),
}

CLAIMS = [
    Claim(
        name="plain_deeper_trains_worse",
        metric="plain_deep_train_error",
        minus="plain_shallow_train_error",
        op=">",
        threshold=0.0,
        paper_value=(
            "Fig. 1 and Fig. 6 (left), CIFAR-10: the 56-layer plain net has higher training error (and test "
            "error) than the 20-layer plain net throughout training: the degradation problem."
        ),
        scale_note=(
            "Fashion-MNIST; quick: 14x14 images, plain-8 vs plain-20 with 8/16/32 maps, 300 steps of 64 "
            "images (the paper: 32x32 CIFAR-10, 16/32/64 maps, 64k steps of 128); training error of a fixed "
            "2,000-image draw of the training set, no augmentation, after the same steps on the same minibatches."
        ),
    ),
    Claim(
        name="residual_deeper_trains_better",
        metric="residual_deep_train_error",
        minus="residual_shallow_train_error",
        op="<",
        threshold=0.0,
        paper_value=(
            "Fig. 6 (middle), Table 6: with identity shortcuts the deeper net has the lower training error; "
            "test error falls with depth, ResNet-110 6.43% (best of 5; mean 6.61 ± 0.16)."
        ),
        scale_note="As above: ResNet-8 vs ResNet-20 in quick, same minibatches, same step count.",
    ),
    Claim(
        name="residual_beats_plain_when_deep",
        metric="residual_deep_train_error",
        minus="plain_deep_train_error",
        op="<",
        threshold=0.0,
        paper_value=(
            "Fig. 6 (left vs middle): at every depth from 20 to 110 layers the ResNet's training error is "
            "below that of the plain net of the same depth, which starts from the same layers."
        ),
        scale_note="As above; the two deep nets share their initial weights and their minibatches.",
    ),
    Claim(
        name="plain_deeper_tests_worse",
        metric="plain_deep_test_error",
        minus="plain_shallow_test_error",
        op=">",
        threshold=0.0,
        paper_value="Fig. 1 (right): the 56-layer plain net also has higher test error than the 20-layer one.",
        scale_note=(
            "full preset only: 28x28 Fashion-MNIST, plain-20 vs plain-56 as in Fig. 1, 32k steps of 128 "
            "(half the paper's 64k); test error on all 10,000 test images."
        ),
        judged_on=("full",),
    ),
]


def load_images(cfg: Config) -> dict[str, torch.Tensor]:
    """Fashion-MNIST as (N, 1, s, s) floats: grey levels / 255, area-averaged to s x s, minus the per-pixel mean
    of the training images (Sec. 4.2: "the per-pixel mean subtracted"). Also fixed draws for evaluation."""
    raw = fashion_mnist.load()
    factor = 28 // cfg.image_size
    out = {}
    for split in ("train", "test"):
        x = torch.from_numpy(raw[f"{split}_x"]).float()[:, None] / 255.0  # (N, 1, 28, 28)
        out[f"x_{split}"] = F.avg_pool2d(x, factor) if factor > 1 else x  # (N, 1, s, s)
        out[f"y_{split}"] = torch.from_numpy(raw[f"{split}_y"]).long()
    mean = out["x_train"].mean(dim=0, keepdim=True)  # (1, 1, s, s)
    out["x_train"], out["x_test"] = out["x_train"] - mean, out["x_test"] - mean
    g = torch.Generator().manual_seed(cfg.data_seed)
    out["eval_idx"] = torch.randperm(len(out["y_train"]), generator=g)[: cfg.n_eval]
    out["test_idx"] = torch.randperm(len(out["y_test"]), generator=g)[: cfg.n_test]
    return out


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Sec. 4.2's augmentation, scaled to the image: pad each side by s/8 (4 of 32 px in the paper) with zeros,
    take a random s x s crop, flip it left-right with probability 1/2. (B, C, s, s) -> (B, C, s, s)."""
    B, _, s, _ = x.shape
    p = max(1, s // 8)
    x_pad = F.pad(x, (p, p, p, p))  # (B, C, s + 2p, s + 2p)
    dy, dx = torch.randint(0, 2 * p + 1, (2, B), generator=g)
    ar = torch.arange(s)
    rows = (dy[:, None] + ar)[:, :, None]  # (B, s, 1)
    cols = dx[:, None] + ar  # (B, s)
    flip = torch.rand(B, generator=g) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]  # (B, 1, s)
    b = torch.arange(B)[:, None, None]  # (B, 1, 1)
    return x_pad[b, :, rows, cols].permute(0, 3, 1, 2)  # (B, s, s, C) -> (B, C, s, s)


def minibatch(cfg: Config, seed: int, step: int, n: int) -> tuple[torch.Tensor, torch.Generator]:
    """The step's image indices: epochs are fresh random orders of the n training images. Stateless (a function of
    the seed and the step), so a resumed run draws exactly what the whole run drew. Also the step's generator
    for augmentation."""
    per_epoch = max(1, n // cfg.batch_size)
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    g_aug = torch.Generator().manual_seed(seed * 1_000_003 + 500_000 + step)
    return order[i * cfg.batch_size : (i + 1) * cfg.batch_size], g_aug


def eta_at(cfg: Config, step: int) -> float:
    """The step schedule: eta divided by 10 at each fraction in lr_drops of the run (Sec. 4.2)."""
    return cfg.lr * 0.1 ** sum(step >= frac * cfg.steps for frac in cfg.lr_drops)


def make_arms(cfg: Config, seed: int) -> dict[str, CifarNet]:
    """The four nets; plain-n and ResNet-n start from the same weights (one generator seed per depth)."""
    arms = {}
    for name in ARMS:
        n = cfg.n_deep if name.endswith("deep") else cfg.n_shallow
        g = torch.Generator().manual_seed(seed * 1_000_003 + n)
        w = cfg.width
        arms[name] = CifarNet(n, residual=name.startswith("residual"), widths=(w, 2 * w, 4 * w), generator=g)
    return arms


def train_step(net: CifarNet, opt: MomentumSGD, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """One SGD step on the softmax cross-entropy; returns the minibatch's (loss, error) before the step."""
    net.train()
    logits = net(x)  # (B, 10)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), (logits.argmax(1) != y).float().mean().item()


def train_chunk(cfg: Config, seed: int, arms, opts, d, start: int, stop: int) -> torch.Tensor:
    """Steps start..stop-1, every net on the same (augmented) minibatch. Returns (4,) mean minibatch errors."""
    errors = torch.zeros(len(ARMS))
    for step in range(start, stop):
        idx, g_aug = minibatch(cfg, seed, step, len(d["y_train"]))
        x, y = d["x_train"][idx], d["y_train"][idx]  # (B, 1, s, s), (B,)
        if cfg.augment:
            x = augment(x, g_aug)
        for k, name in enumerate(ARMS):
            opts[name].eta = eta_at(cfg, step)
            errors[k] += train_step(arms[name], opts[name], x, y)[1]
    return errors / (stop - start)


@torch.no_grad()
def evaluate(net: CifarNet, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000) -> tuple[float, float]:
    """(error, mean cross-entropy) in inference mode (BN uses its running averages)."""
    net.eval()
    wrong, loss = 0.0, 0.0
    for i in range(0, len(y), chunk):
        logits = net(x[i : i + chunk])  # (b, 10)
        wrong += (logits.argmax(1) != y[i : i + chunk]).sum().item()
        loss += F.cross_entropy(logits, y[i : i + chunk], reduction="sum").item()
    return wrong / len(y), loss / len(y)


def run(cfg: Config, ctx) -> dict[str, float]:
    d = load_images(cfg)
    arms = make_arms(cfg, ctx.seed)
    opts = {}
    for name, net in arms.items():
        net.to(ctx.device)
        opts[name] = MomentumSGD(net.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay)
    d = {k: v.to(ctx.device) for k, v in d.items()}
    history = torch.zeros(0, 1 + len(ARMS))  # per point: step, then the 4 nets' mean minibatch training error
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        for name in ARMS:
            arms[name].load_state_dict(state[name])
            opts[name].load_state_dict(state[f"opt_{name}"])
        history = state["history"]

    with ctx.bar(cfg.steps - start, "steps") as bar:
        for s in range(start, cfg.steps, cfg.log_every):
            stop = min(s + cfg.log_every, cfg.steps)
            errors = train_chunk(cfg, ctx.seed, arms, opts, d, s, stop)
            history = torch.cat([history, torch.cat([torch.tensor([float(stop)]), errors])[None]])
            ctx.log(stop, **{f"{name}_minibatch_error": float(e) for name, e in zip(ARMS, errors, strict=True)})
            bar.update(stop - s, plain_deep=float(errors[1]), res_deep=float(errors[3]))
            state = {name: arms[name].state_dict() for name in ARMS}
            state |= {f"opt_{name}": opts[name].state_dict() for name in ARMS}
            ctx.checkpoint(stop, state | {"history": history})
    return final_metrics(cfg, ctx, arms, d, history)


def final_metrics(cfg: Config, ctx, arms, d, history: torch.Tensor) -> dict[str, float]:
    x_eval, y_eval = d["x_train"][d["eval_idx"]], d["y_train"][d["eval_idx"]]
    x_test, y_test = d["x_test"][d["test_idx"]], d["y_test"][d["test_idx"]]
    metrics = {"depth_shallow": 6.0 * cfg.n_shallow + 2, "depth_deep": 6.0 * cfg.n_deep + 2}
    for name, net in arms.items():
        metrics[f"{name}_train_error"], metrics[f"{name}_train_loss"] = evaluate(net, x_eval, y_eval)
        metrics[f"{name}_test_error"], metrics[f"{name}_test_loss"] = evaluate(net, x_test, y_test)
        metrics[f"{name}_params"] = float(count_parameters(net))
    figures.training_curves(history, metrics, cfg, ctx.path("training_error.png"))
    return metrics
