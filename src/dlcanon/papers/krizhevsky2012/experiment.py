"""Krizhevsky, Sutskever & Hinton (2012): an AlexNet-style net on real colour pictures, two of the paper's claims.

ImageNet (1.2 million photographs in 1,000 classes) is not available offline, so the pictures are the Noto
colour emoji (core.data.emoji), rendered at 32x32 and labelled with their Unicode group: 9 classes (Smileys &
Emotion, People & Body, Animals & Nature, ...). A quarter of every group is held out for test with a fixed seed,
and the nets train on a small balanced subset of the rest. Preprocessing follows Sec. 2 (raw RGB values 0..255
minus the mean picture of the training set), augmentation Sec. 4.1 (random patches and their mirror images,
PCA colour noise), the learning rule and init Sec. 5.

Two experiments, each a pair of arms that differ in one thing, trained on the same minibatches from the same
initial weights (so the comparison is paired):
  dropout (Sec. 4.2): the full recipe with dropout 0.5 in fc6 and fc7, against the same net without it;
      the dropout net trains twice the steps (Sec. 4.2: dropout "roughly doubles the number of iterations required
      to converge"); measured: train and test error (central patches) and the gap between them, compared only
      when both nets have fit the training set (train error <= FIT_ERROR).
  ReLU vs tanh (Sec. 3.1, Fig. 1): the same net with f = max(0, x) or f = tanh, with no regularisation of any
      kind (no dropout, no weight decay, no augmentation), each at its own learning rate; measured: the steps
      each needs before its training error, averaged over the last epoch's minibatches, reaches the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, OneOf, Range
from dlcanon.core.data import emoji
from dlcanon.core.paper import Claim

from . import figures
from .model import AlexNet, MomentumSGD, count_parameters, init_paper


@dataclass
class Config:
    image_size: Annotated[int, Range(ge=16, le=128)] = 32
    """side of the rendered emoji in pixels (the paper's images were 256x256)"""
    crop: Annotated[int, Range(ge=15, le=128)] = 29
    """side of the square patches the net sees: random in training, central at test (the paper: 224 of 256)"""
    test_fraction: Annotated[float, Range(gt=0, lt=1)] = 0.25
    """share of every group held out for the test set"""
    train_per_class: Annotated[int, Range(ge=1, le=5000)] = 30
    """training pictures drawn from each group (fewer if a group has fewer): the small training set"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the train/test split and of the training subset (fixed, independent of the run's seed)"""
    widths: Annotated[tuple[int, ...], Range(ge=2, le=1024, min_len=5, max_len=5)] = (16, 32, 48, 48, 32)
    """kernels in conv1..conv5 (the paper: 96, 256, 384, 384, 256); even, for the two columns"""
    hidden: Annotated[int, Range(ge=1, le=8192)] = 512
    """units in fc6 and in fc7 (the paper: 4,096)"""
    kernel1: Annotated[int, Range(ge=1, le=15)] = 5
    """side of conv1's kernels (the paper: 11, at stride 4 on 224 pixels)"""
    stride1: Annotated[int, Range(ge=1, le=4)] = 2
    """conv1's stride (the paper: 4)"""
    columns: Annotated[int, Range(ge=1, le=2)] = 2
    """1, or 2 for the paper's two-GPU connectivity (conv2, conv4, conv5 read only their own half)"""
    init_std: Annotated[float, Range(gt=0, le=1)] = 0.01
    """standard deviation of the Gaussian init (Sec. 5: 0.01)"""
    match_paper_gain: bool = True
    """scale each layer's init std by sqrt(paper's fan-in / ours), so a narrow layer scales its input like the
    paper's layer does (False: init_std everywhere, as in the paper)"""
    batch_size: Annotated[int, Range(ge=1, le=4096)] = 32
    """pictures per step (the paper: 128)"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum of the learning rule (Sec. 5: 0.9)"""
    weight_decay: Annotated[float, Range(ge=0, le=0.1)] = 0.0005
    """weight decay of the learning rule in the dropout experiment (Sec. 5: 0.0005)"""
    lr: Annotated[float, Range(gt=0, le=1)] = 0.005
    """learning rate epsilon of the dropout experiment (Sec. 5: 0.01 for batches of 128, so 0.0025 would keep the
    paper's step per picture at batches of 32; 0.005 was chosen in trials on seed 0, see notes.md)"""
    lr_drops: Annotated[tuple[float, ...], Range(gt=0, lt=1, min_len=0, max_len=5)] = (0.8,)
    """fractions of each dropout-experiment arm's own steps at which epsilon is divided by 10 (the paper did it
    three times, by hand, when the validation error stopped improving)"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 600
    """steps of the arm without dropout in the dropout experiment"""
    dropout_step_factor: Annotated[int, Range(ge=1, le=4)] = 2
    """the arm with dropout trains this many times `steps` (Sec. 4.2: dropout "roughly doubles the number of
    iterations required to converge")"""
    p_drop: Annotated[float, Range(gt=0, lt=1)] = 0.5
    """dropout probability in fc6 and fc7 (Sec. 4.2: 0.5)"""
    augment: bool = True
    """train the dropout pair on random crops and their mirror images (Sec. 4.1); False: the central patch"""
    pca_colour: bool = True
    """add the PCA colour noise of Sec. 4.1 in the dropout experiment (alpha ~ N(0, 0.1))"""
    test_patches: Annotated[str, OneOf("centre", "ten")] = "centre"
    """final errors from the central patch, or from the paper's ten patches (4 corners + centre, and mirrors)"""
    eval_every: Annotated[int, Range(ge=1, le=1_000_000)] = 200
    """steps between evaluations of train and test error in the dropout experiment (for the curves)"""
    speed_biases: Annotated[str, OneOf("zero", "paper")] = "zero"
    """biases of both speed arms at the start: 0, or the paper's 1 in conv2, 4, 5, fc6, fc7 (Sec. 5 gives that
    init to provide "the ReLUs with positive inputs"; it puts every such tanh unit where tanh' = 0.42)"""
    lr_relu: Annotated[float, Range(gt=0, le=1)] = 0.01
    """learning rate of the ReLU arm of the speed experiment (Fig. 1: chosen for each net to train fastest)"""
    lr_tanh: Annotated[float, Range(gt=0, le=1)] = 0.03
    """learning rate of the tanh arm of the speed experiment"""
    target_error: Annotated[float, Range(gt=0, lt=1)] = 0.25
    """training error the speed arms race to (Fig. 1: 25%)"""
    max_speed_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 650
    """steps after which a speed arm that has not reached the target stops (its count is then a lower bound)"""
    checkpoint_every: Annotated[int, Range(ge=1, le=1_000_000)] = 100
    """steps between checkpoints"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.crop > self.image_size:
            raise ValueError(f"crop ({self.crop}) must not exceed image_size ({self.image_size})")
        if any(w % self.columns for w in self.widths):
            raise ValueError(f"every width in {self.widths} must split evenly into {self.columns} column(s)")
        if self.kernel1 > self.crop:
            raise ValueError(f"kernel1 ({self.kernel1}) must not exceed crop ({self.crop})")
        side = conv_side(self)
        if side < 1:
            raise ValueError(
                f"a {self.crop}x{self.crop} patch leaves no map after the third pool; "
                f"use a larger crop or a smaller stride1"
            )


def conv_side(cfg: Config) -> int:
    """Side of conv5's pooled maps for this config (0 when the patch is too small)."""
    from .model import pooled_size

    side = pooled_size(cfg.crop, cfg.kernel1, cfg.stride1, cfg.kernel1 // 2)
    side = pooled_size(side, 5, 1, 2) if side >= 1 else 0
    return pooled_size(side, 3, 1, 1) if side >= 3 else 0


PRESETS = {
    "smoke": Config(train_per_class=4, steps=4, eval_every=2, max_speed_steps=4, checkpoint_every=2),
    "quick": Config(),
    "full": Config(
        image_size=64,
        crop=57,
        train_per_class=5000,
        widths=(48, 128, 192, 192, 128),
        hidden=2048,
        kernel1=7,
        stride1=2,
        batch_size=128,
        lr=0.01,
        steps=8000,
        lr_drops=(0.5, 0.75, 0.9),
        eval_every=250,
        test_patches="ten",
        max_speed_steps=4000,
        checkpoint_every=500,
    ),
}

FIT_ERROR = 0.25
"""The training error (central patches, test mode) both dropout-experiment arms must reach before their gaps are
compared, fixed before any quick run: Fig. 1's 25% training-error level. A net above it has not fit the training
set, so its small gap would say nothing about overfitting (what the first version of this claim measured)."""


CLAIMS = [
    Claim(
        name="dropout_net_fits",
        metric="dropout_train_error",
        op="<=",
        threshold=FIT_ERROR,
        paper_value=(
            'Sec. 4.2: "Dropout roughly doubles the number of iterations required to converge." (The guard for '
            "the two claims below: no figure of the paper is at stake.)"
        ),
        scale_note=(
            "Training error (central patches, test mode) of the dropout net after twice the steps of the net "
            "without it (1,200 against 600 of 32, each with one /10 learning-rate drop at 80% of its steps), on 270 "
            "emoji. At most 25%, Fig. 1's training-error level, fixed before any quick run: a net that has not fit "
            "its training set has no gap to close, which is how the first version of dropout_closes_gap passed."
        ),
    ),
    Claim(
        name="dropout_closes_gap",
        metric="gap_reduction",
        op=">",
        threshold=0.5,
        paper_value=(
            'Sec. 4.2: "Without dropout, our network exhibits substantial overfitting. Dropout roughly doubles '
            'the number of iterations required to converge." No train/test figures are given for this.'
        ),
        scale_note=(
            "gap_reduction = 1 - (test - train error with dropout) / (test - train error without), central "
            "patches in test mode; the dropout net trains twice the steps (1,200 against 600 of 32, the same first "
            "600 minibatches, the same initial weights); 30 emoji per group (270 pictures), a net of 323k "
            "parameters. Defined only when both nets' training errors are at most 25% (else NaN, a failure), so "
            "it cannot pass on a net that has not fit. The bound (most of the gap) was fixed before any run."
        ),
        known_fail=(
            "quick seeds 0/1/2: 0.01/0.18/-0.11; both nets fit (train error 7.8/5.9/10.0% without dropout, "
            "8.9/8.5/6.7% with), gaps 34.6/40.1/31.1 points without and 34.2/33.0/34.7 with: at twice the steps "
            "the dropout net overfits 270 emoji about as much. Tried: the same 450 steps for both (passed on an "
            "artefact: the dropout net at 72-81% train error had no gap); 450 and 900 steps (0.16 on seed 0; "
            "seeds 1 and 2 undefined, the net without dropout at 31.9/25.6% train error); on seed 0 at 450/900 "
            "steps, lr 0.005/0.0075/0.01 with the drop at 70%: 0.15/-0.50/-1.44."
        ),
    ),
    Claim(
        name="dropout_lowers_test_error",
        metric="dropout_test_error",
        minus="nodrop_test_error",
        op="<",
        threshold=0.0,
        paper_value=(
            "Sec. 4.2: dropout in fc6 and fc7 against overfitting (no numbers); the companion paper (Hinton et "
            "al. 2012), MNIST: 160 test errors for the best published standard net, about 130 with 50% hidden "
            "dropout and L2 constraints."
        ),
        scale_note=(
            "The same net with and without dropout, from the same initial weights, the dropout net trained twice "
            "the steps (1,200 against 600 of 32); test error on 467 held-out emoji (one binomial standard error is "
            "about 2.3 points)."
        ),
        known_fail=(
            "quick seeds 0/1/2: test error 43.0/41.5/41.3% with dropout against 42.4/46.0/41.1% without (+0.6, "
            "-4.5, +0.2 points): lower on one seed, within one standard error on the other two. Tried: 450 and "
            "900 steps (-2.1/-8.8/-0.2 points, but the net without dropout had not converged: train error "
            "20.4/31.9/25.6%, and on seed 0 its test error fell from 45.0 to 41.3% when trained on to 900 "
            "steps); on seed 0 at 450/900 steps, lr 0.005/0.0075/0.01 with the drop at 70%: +1.3/+1.9/-13.5 "
            "points (at 0.01 the net without dropout was unstable); the first version (450 steps each, lr 0.0025) "
            "and lr 0.01 with it: see notes.md."
        ),
    ),
    Claim(
        name="relu_trains_faster_than_tanh",
        metric="tanh_over_relu_steps",
        op=">=",
        threshold=2.0,
        paper_value=(
            "Fig. 1: a four-layer CNN with ReLUs reaches 25% training error on CIFAR-10 six times faster than an "
            "equivalent network with tanh neurons; learning rates chosen independently, no regularisation."
        ),
        scale_note=(
            "Steps to 25% training error (mean minibatch error over the last epoch, 8 steps of 32), tanh / ReLU, "
            "the five-conv, three-fc net of Sec. 3.5 on 270 emoji, both from zero biases, each at its own lr; we "
            "ask for at least 2x (the paper: 6x), a bound fixed before any run. A tanh net still above the target "
            "at max_speed_steps gives a lower bound (max steps / ReLU's)."
        ),
        known_fail=(
            "quick seeds 0/1/2: 1.24/1.13/1.13 (ReLU 307/329/344 steps, tanh 382/372/388), with the paper's depth, "
            "plain SGD with momentum 0.9, raw-pixel inputs, and each net at the fastest lr of a grid on seed 0 "
            "(ReLU 0.003/0.01/0.03: 508/318/never; tanh 0.01/0.03/0.1: 466/242/never; 10 pictures per group, "
            "batches of 16, a narrower net). With Sec. 5's biases of 1 "
            "(speed_biases=paper), tanh never left chance level in 800 steps at lr 0.001, 0.003, 0.01 in a trial "
            "on a narrower net (ReLU: 312 steps), and at our final sizes neither net did at lr 0.01/0.03."
        ),
    ),
]


# ------------------------------------------------------------------------------------------------ data (Sec. 2, 4.1)


def load_data(cfg: Config, device: torch.device) -> dict[str, torch.Tensor]:
    """Emoji groups, split per class with data_seed: a held-out test set (test_fraction of each group) and a
    small training set (train_per_class of the rest of each group). Pixels are raw RGB values 0..255 minus the
    mean picture of the training set (Sec. 2), kept whole (image_size) so that crops can be taken later."""
    d = emoji.load(cfg.image_size)
    x = torch.from_numpy(d["images"]).permute(0, 3, 1, 2).float()  # (N, 3, S, S), 0..255
    y = torch.from_numpy(d["group"])
    g = torch.Generator().manual_seed(cfg.data_seed)
    train, test = [], []
    for c in range(len(d["groups"])):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test = round(cfg.test_fraction * len(idx))
        test.append(idx[:n_test])
        train.append(idx[n_test : n_test + cfg.train_per_class])
    train, test = torch.cat(train), torch.cat(test)
    mean = x[train].mean(0)  # (3, S, S): the mean activity over the training set at each pixel
    out = {
        "x_train": x[train] - mean,
        "y_train": y[train],
        "x_test": x[test] - mean,
        "y_test": y[test],
        "pca": rgb_pca(x[train] / 255.0),
        "idx_train": train,
        "idx_test": test,
    }
    out = {k: v.to(device) for k, v in out.items()}
    out["groups"] = d["groups"]
    return out


def rgb_pca(x: torch.Tensor) -> torch.Tensor:
    """Sec. 4.1: PCA of the RGB values of every training pixel (scaled to [0, 1]). Returns (3, 3) whose column i
    is the eigenvector p_i times its eigenvalue lambda_i, so `pca @ alpha` is [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T."""
    pixels = x.permute(0, 2, 3, 1).reshape(-1, 3).double()  # (N * S * S, 3)
    lam, p = torch.linalg.eigh(torch.cov(pixels.T))  # eigenvalues ascending, eigenvectors in columns
    return (p * lam).float()


def crops(x: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """Sec. 4.1: a random size x size patch of each picture, mirrored left-right with probability 1/2."""
    B, _, S, _ = x.shape
    i = torch.randint(0, S - size + 1, (B,), generator=g).to(x.device)
    j = torch.randint(0, S - size + 1, (B,), generator=g).to(x.device)
    flip = (torch.rand(B, generator=g) < 0.5).to(x.device)
    r = torch.arange(size, device=x.device)
    cols = j[:, None] + torch.where(flip[:, None], r.flip(0), r)  # (B, size): mirrored columns read backwards
    rows = i[:, None] + r  # (B, size)
    b = torch.arange(B, device=x.device)
    return x[
        b[:, None, None, None],
        torch.arange(3, device=x.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]  # (B, 3, size, size)


def colour_noise(x: torch.Tensor, pca: torch.Tensor, g: torch.Generator, std: float = 0.1) -> torch.Tensor:
    """Sec. 4.1: add [p1 p2 p3][a1 l1, a2 l2, a3 l3]^T to every pixel of a picture, a_i ~ N(0, 0.1) drawn once
    per picture; the eigen-decomposition is of [0, 1] values, so the shift is scaled back to 0..255."""
    alpha = (torch.randn(len(x), 3, generator=g) * std).to(x.device)  # (B, 3)
    shift = alpha @ pca.T * 255.0  # (B, 3)
    return x + shift[:, :, None, None]


def centre(x: torch.Tensor, size: int) -> torch.Tensor:
    o = (x.shape[-1] - size) // 2
    return x[..., o : o + size, o : o + size]


def ten_patches(x: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Sec. 4.1, test time: the four corner patches and the centre patch, and their mirror images."""
    S, e = x.shape[-1], x.shape[-1] - size
    five = [x[..., :size, :size], x[..., :size, e:], x[..., e:, :size], x[..., e:, e:], centre(x, size)]
    assert S >= size
    return five + [p.flip(-1) for p in five]


@torch.no_grad()
def error_rate(
    net: AlexNet, x: torch.Tensor, y: torch.Tensor, size: int, patches: str = "centre", chunk: int = 512
) -> float:
    """Test-mode error (dropout's outputs halved): the central patch, or the softmax averaged over ten patches."""
    net.eval()
    wrong = 0
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        views = [centre(xb, size)] if patches == "centre" else ten_patches(xb, size)
        p = sum(F.softmax(net(v.contiguous(memory_format=torch.channels_last)), dim=1) for v in views)  # (b, classes)
        wrong += (p.argmax(1) != y[i : i + chunk]).sum().item()
    net.train()
    return wrong / len(x)


# ------------------------------------------------------------------------------------------------ training (Sec. 5)


class Batches:
    """Minibatch indices in epochs: a new random order of the training set every epoch; each epoch gives
    n // batch_size full minibatches (the few pictures left over wait for the next order)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.size = n, min(batch_size, n)
        self.per_epoch = n // self.size
        self.g = torch.Generator().manual_seed(seed)
        self.order, self.pos = torch.randperm(n, generator=self.g), 0

    def next(self) -> torch.Tensor:
        if self.pos == self.per_epoch:
            self.order, self.pos = torch.randperm(self.n, generator=self.g), 0
        self.pos += 1
        return self.order[(self.pos - 1) * self.size : self.pos * self.size]

    def state_dict(self) -> dict:
        return {"order": self.order, "pos": self.pos, "g": self.g.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.order, self.pos = s["order"], int(s["pos"])
        self.g.set_state(s["g"])


def make_net(cfg: Config, n_classes: int, f: str, p_drop: float, bias_one: bool, seed: int, device) -> AlexNet:
    net = AlexNet(
        cfg.widths,
        cfg.hidden,
        n_classes,
        image_size=cfg.crop,
        kernel1=cfg.kernel1,
        stride1=cfg.stride1,
        pad1=cfg.kernel1 // 2,
        columns=cfg.columns,
        f=f,
        p_drop=p_drop,
    )
    init_paper(net, cfg.init_std, cfg.match_paper_gain, bias_one, generator=torch.Generator().manual_seed(seed))
    return net.to(device, memory_format=torch.channels_last)  # grouped convolutions run faster so on a CPU


def sgd_step(net: AlexNet, opt: MomentumSGD, x: torch.Tensor, y: torch.Tensor) -> float:
    """One step on the mean log-loss of a minibatch (Sec. 3.5: multinomial logistic regression); returns the
    minibatch's error, measured before the step, in training mode (dropout on) as the paper's curves are."""
    logits = net(x.contiguous(memory_format=torch.channels_last))  # (B, classes)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return (logits.argmax(1) != y).float().mean().item()


def set_lr(opt: MomentumSGD, lr: float) -> None:
    opt.lr = lr


def lr_at(cfg: Config, t: int, steps: int | None = None) -> float:
    """epsilon at step t of an arm trained for `steps` (default cfg.steps): cfg.lr, divided by 10 at each
    fraction of `steps` in lr_drops (Sec. 5)."""
    steps = cfg.steps if steps is None else steps
    return cfg.lr * 0.1 ** sum(t >= round(f * steps) for f in cfg.lr_drops)


def arm_steps(cfg: Config) -> dict[str, int]:
    """Steps of each arm of the dropout experiment: the dropout arm gets dropout_step_factor times as many."""
    return {"nodrop": cfg.steps, "dropout": cfg.dropout_step_factor * cfg.steps}


def dropout_metrics(err: dict[str, float]) -> dict[str, float]:
    """From the four final errors ({arm}_{split}_error): each arm's gap (test - train error), and
    gap_reduction = 1 - gap_dropout / gap_nodrop, defined (not NaN) only when the arm without dropout overfits
    (a positive gap) and both arms have fit the training set (train error <= FIT_ERROR)."""
    m = dict(err)
    for name in ("nodrop", "dropout"):
        m[f"{name}_gap"] = m[f"{name}_test_error"] - m[f"{name}_train_error"]
    fitted = max(m["nodrop_train_error"], m["dropout_train_error"]) <= FIT_ERROR
    m["both_fit"] = float(fitted)
    m["gap_reduction"] = 1 - m["dropout_gap"] / m["nodrop_gap"] if fitted and m["nodrop_gap"] > 0 else math.nan
    return m


# ------------------------------------------------------------------------------------------------ the run

ARMS = ("nodrop", "dropout", "relu", "tanh")
"""nodrop/dropout: the dropout experiment; relu/tanh: the speed experiment (Fig. 1)."""


def make_arms(cfg: Config, n_classes: int, seed: int, device) -> dict[str, tuple[AlexNet, MomentumSGD]]:
    """Both arms of an experiment start from the same weights (the same init seed): only dropout, or only f,
    differs. The speed arms have no weight decay (Fig. 1: "No regularization of any kind was employed")."""
    paper_biases = cfg.speed_biases == "paper"
    spec = {
        "nodrop": ("relu", 0.0, cfg.lr, cfg.weight_decay, True),
        "dropout": ("relu", cfg.p_drop, cfg.lr, cfg.weight_decay, True),
        "relu": ("relu", 0.0, cfg.lr_relu, 0.0, paper_biases),
        "tanh": ("tanh", 0.0, cfg.lr_tanh, 0.0, paper_biases),
    }
    arms = {}
    for name, (f, p, lr, decay, bias_one) in spec.items():
        init_seed = seed if name in ("nodrop", "dropout") else seed + 1
        net = make_net(cfg, n_classes, f, p, bias_one, init_seed, device)
        arms[name] = (net, MomentumSGD(net.parameters(), lr=lr, momentum=cfg.momentum, weight_decay=decay))
    return arms


def run(cfg: Config, ctx) -> dict[str, float]:
    data = load_data(cfg, ctx.device)
    arms = make_arms(cfg, len(data["groups"]), ctx.seed, ctx.device)
    n = len(data["y_train"])
    rec = {  # what the figures and metrics need, kept in the checkpoint
        "phase": 0,
        "t": 0,
        "dropout_curve": torch.zeros(0, 5),  # step, nodrop train/test error, dropout train/test error
        "relu_errors": torch.zeros(0),
        "tanh_errors": torch.zeros(0),  # minibatch errors per step
        "relu_hit": -1,
        "tanh_hit": -1,
    }
    batches = Batches(n, cfg.batch_size, ctx.seed + 2)
    g_aug = torch.Generator().manual_seed(ctx.seed + 3)
    if (ck := ctx.restore()) is not None:
        _, state = ck
        for name, (net, opt) in arms.items():
            net.load_state_dict(state[name])
            opt.load_state_dict(state[f"opt_{name}"])
        batches.load_state_dict(state["batches"])
        g_aug.set_state(state["g_aug"])
        rec = state["rec"]

    def save(global_step: int) -> None:
        state = {name: net.state_dict() for name, (net, _) in arms.items()}
        state |= {f"opt_{name}": opt.state_dict() for name, (_, opt) in arms.items()}
        state |= {"batches": batches.state_dict(), "g_aug": g_aug.get_state(), "rec": rec}
        ctx.checkpoint(global_step, state)

    if rec["phase"] == 0:
        dropout_experiment(cfg, ctx, data, arms, batches, g_aug, rec, save)
        rec["phase"], rec["t"] = 1, 0
        batches = Batches(n, cfg.batch_size, ctx.seed + 4)  # the speed arms see the same order, from the start
        save(arm_steps(cfg)["dropout"])
    for phase, name in ((1, "relu"), (2, "tanh")):
        if rec["phase"] == phase:
            speed_arm(
                cfg,
                ctx,
                data,
                arms[name],
                name,
                batches,
                rec,
                save,
                offset=arm_steps(cfg)["dropout"] + (phase - 1) * cfg.max_speed_steps,
            )
            rec["phase"], rec["t"] = phase + 1, 0
            batches = Batches(n, cfg.batch_size, ctx.seed + 4)
            save(arm_steps(cfg)["dropout"] + phase * cfg.max_speed_steps)
    return final_metrics(cfg, ctx, data, arms, rec)


def dropout_experiment(cfg: Config, ctx, data, arms, batches: Batches, g_aug, rec: dict, save) -> None:
    """Sec. 4: both arms take the same augmented minibatches (random crops, mirrors, colour noise) in turn; the
    arm without dropout stops after cfg.steps, the dropout arm goes on to dropout_step_factor times as many
    (on further minibatches). Each arm's learning rate drops at fractions of its own steps."""
    pair = {name: arms[name] for name in ("nodrop", "dropout")}
    T = arm_steps(cfg)
    total = max(T.values())
    with ctx.bar(total - rec["t"], "dropout experiment, steps") as bar:
        for t in range(rec["t"], total):
            idx = batches.next()
            x = data["x_train"][idx]  # (B, 3, S, S)
            x = crops(x, cfg.crop, g_aug) if cfg.augment else centre(x, cfg.crop)  # (B, 3, crop, crop)
            if cfg.pca_colour:
                x = colour_noise(x, data["pca"], g_aug)
            logs = {}
            for name, (net, opt) in pair.items():
                if t < T[name]:
                    set_lr(opt, lr_at(cfg, t, T[name]))
                    logs[f"{name}_batch_error"] = sgd_step(net, opt, x, data["y_train"][idx])
            if (t + 1) % cfg.eval_every == 0 or t + 1 in T.values():
                row = [t + 1.0]  # an arm that has stopped gets NaN
                for name, (net, _) in pair.items():
                    for split in ("train", "test"):
                        e = math.nan
                        if t < T[name]:
                            e = logs[f"{name}_{split}_error"] = error_rate(
                                net, data[f"x_{split}"], data[f"y_{split}"], cfg.crop
                            )
                        row.append(e)
                rec["dropout_curve"] = torch.cat([rec["dropout_curve"], torch.tensor([row])])
            ctx.log(t + 1, **logs)
            rec["t"] = t + 1
            bar.update(1, **{name.replace("_batch_error", ""): v for name, v in logs.items() if "batch" in name})
            if (t + 1) % cfg.checkpoint_every == 0:
                save(t + 1)


def speed_arm(cfg: Config, ctx, data, arm, name: str, batches: Batches, rec: dict, save, offset: int) -> None:
    """Fig. 1: train on the fixed central patches (no augmentation, no dropout, no weight decay) until the
    training error, the mean minibatch error over the last epoch, reaches the target, or max_speed_steps."""
    net, opt = arm
    x = centre(data["x_train"], cfg.crop)  # (n, 3, crop, crop)
    y = data["y_train"]
    with ctx.bar(cfg.max_speed_steps - rec["t"], f"{name} arm, steps to {cfg.target_error:.0%} error") as bar:
        for t in range(rec["t"], cfg.max_speed_steps):
            idx = batches.next()
            rec[f"{name}_errors"] = torch.cat(
                [rec[f"{name}_errors"], torch.tensor([sgd_step(net, opt, x[idx], y[idx])])]
            )
            rec["t"] = t + 1
            errors = rec[f"{name}_errors"]
            if len(errors) >= batches.per_epoch:
                running = errors[-batches.per_epoch :].mean().item()
                ctx.log(offset + t + 1, **{f"{name}_train_error": running})
                bar.update(1, train_error=running)
                if running <= cfg.target_error:
                    rec[f"{name}_hit"] = t + 1
                    return
            if (t + 1) % cfg.checkpoint_every == 0:
                save(offset + t + 1)


def final_metrics(cfg: Config, ctx, data, arms, rec: dict) -> dict[str, float]:
    m: dict[str, float] = {"n_train": float(len(data["y_train"])), "n_test": float(len(data["y_test"]))}
    err = {
        f"{name}_{split}_error": error_rate(
            arms[name][0], data[f"x_{split}"], data[f"y_{split}"], cfg.crop, cfg.test_patches
        )
        for name in ("nodrop", "dropout")
        for split in ("train", "test")
    }
    m |= dropout_metrics(err)
    m["nodrop_steps"], m["dropout_steps"] = (float(v) for v in arm_steps(cfg).values())
    relu, tanh = rec["relu_hit"], rec["tanh_hit"]
    m["relu_steps_to_target"] = float(relu) if relu > 0 else math.nan
    m["tanh_steps_to_target"] = float(tanh) if tanh > 0 else math.nan
    m["tanh_reached_target"] = float(tanh > 0)
    # a tanh arm still above the target at max_speed_steps needs more: the ratio is then a lower bound
    m["tanh_over_relu_steps"] = (tanh if tanh > 0 else cfg.max_speed_steps) / relu if relu > 0 else math.nan
    m["params"] = float(count_parameters(arms["nodrop"][0]))
    figures.dropout_curves(rec["dropout_curve"], m, cfg, FIT_ERROR, ctx.path("dropout.png"))
    per_epoch = Batches(len(data["y_train"]), cfg.batch_size, 0).per_epoch
    figures.relu_vs_tanh(rec["relu_errors"], rec["tanh_errors"], m, cfg, per_epoch, ctx.path("relu_vs_tanh.png"))
    figures.filters(arms["dropout"][0].conv1.weight.detach().cpu(), ctx.path("conv1_filters.png"))
    return m
