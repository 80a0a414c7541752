"""Ho, Jain & Abbeel (2020), Sec. 4 (Table 1, Table 2): DDPM on real MNIST, and its two parameterisations compared.

Two DDPMs with the same U-Net, the same initial weights and the same minibatches of real MNIST images (area-averaged
to side x side pixels, scaled to [-1, 1]) are trained with Adam for the same number of steps:
  eps  Algorithm 1: eps-prediction with L_simple (the paper's choice);
  mu   the mu~-prediction baseline with the true bound's weighting 1 / (2 sigma_t^2) (Table 2's first rows).
Each then draws samples with Algorithm 2. Sample quality is a Frechet distance, as FID, but in the feature space of
a classifier trained here on the real training images (Inception does not exist at this scale); baselines are pure
Gaussian-noise images and copies of the mean training image, and real training images give the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core import plots
from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.measures import frechet_distance
from dlcanon.core.paper import Claim

from .model import DDPM

ARMS = ("eps", "mu")


@dataclass
class Config:
    side: Annotated[int, Range(ge=7, le=28)] = 7
    """image side in pixels: 28 (MNIST as is), 14 or 7 (area-averaged); must divide 28 (the paper: 32x32 CIFAR-10)"""
    T: Annotated[int, Range(ge=2, le=10_000)] = 100
    """diffusion steps (the paper: 1000; the linear beta schedule's ends are scaled by 1000 / T)"""
    ch: Annotated[int, Range(ge=4, le=512)] = 16
    """channels of the U-Net's first level (the second has twice as many; the paper: 128 with 4 levels)"""
    t_dim: Annotated[int, Range(ge=2, le=1024)] = 32
    """width of the sinusoidal time embedding"""
    steps: Annotated[int, Range(ge=1, le=10_000_000)] = 600
    """Adam steps of each arm (the paper: 800k on CIFAR-10)"""
    batch_size: Annotated[int, Range(ge=1, le=60_000)] = 64
    """images per minibatch (the paper: 128)"""
    lr: Annotated[float, Range(gt=0, le=1)] = 2e-3
    """Adam step size (the paper: 2e-4, with a batch of 128 and 800k steps)"""
    n_samples: Annotated[int, Range(ge=10, le=100_000)] = 400
    """samples drawn by Algorithm 2 per arm (and images per baseline)"""
    n_train: Annotated[int, Range(ge=100, le=60_000)] = 60_000
    """training images used"""
    n_test: Annotated[int, Range(ge=100, le=10_000)] = 2000
    """test images against which Frechet distances are measured"""
    clf_steps: Annotated[int, Range(ge=1, le=100_000)] = 600
    """Adam steps (minibatches of 256) of the classifier whose hidden layer is the feature space"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of test images (independent of the run's seed)"""

    def check(self) -> None:
        if 28 % self.side:
            raise ValueError(f"side ({self.side}) must divide 28: 7, 14 or 28")
        if self.ch % 4:
            raise ValueError(f"ch ({self.ch}) must be a multiple of 4 (group norm with 4 groups)")


PRESETS = {
    "smoke": Config(T=5, ch=4, t_dim=8, steps=3, batch_size=8, n_samples=20, n_train=500, n_test=100, clf_steps=5),
    "quick": Config(),
    "full": Config(side=28, T=1000, ch=64, t_dim=128, steps=50_000, batch_size=128, lr=2e-4, n_samples=10_000,
                   n_test=10_000, clf_steps=5000),
}

PAPER_TABLE1 = "Table 1, CIFAR-10 (unconditional): FID 3.17, Inception score 9.46 (from memory, not checked)"
SCALE = ("quick: MNIST area-averaged to 7x7, T = 100, a 2-level U-Net with 16 and 32 channels, 600 Adam steps of 64 "
         "images per arm, 400 samples; our Frechet distance is in the 64-unit hidden layer of an MLP classifier "
         "trained here, not Inception's, so its numbers are not comparable with the paper's FID.")

CLAIMS = [
    Claim(
        name="samples_far_below_noise",
        metric="fd_ratio_eps",
        op="<",
        threshold=0.1,
        paper_value=PAPER_TABLE1,
        scale_note=("Frechet distance of the eps-arm's samples to 2,000 test images, as a fraction of that of pure "
                    "N(0, I) noise images (clipped to [-1, 1]): below 0.1 (fixed before any run). " + SCALE),
    ),
    Claim(
        name="samples_beat_mean_image",
        metric="fd_eps",
        minus="fd_mean_image",
        op="<",
        threshold=0.0,
        paper_value=PAPER_TABLE1 + "; samples of high quality and variety (Fig. 1, 3).",
        scale_note=("Frechet distance of the eps-arm's samples minus that of copies of the mean training image: "
                    "below 0."),
    ),
    Claim(
        name="eps_simple_at_least_as_good_as_mu",
        metric="fd_eps",
        minus="fd_mu",
        op="<=",
        threshold=0.0,
        paper_value=("Table 2 (CIFAR-10 FID): mu~-prediction with the true bound and fixed isotropic Sigma 13.22; "
                     "eps-prediction with L_simple 3.17 (from memory, not checked)."),
        scale_note=("Frechet distance of the eps arm (L_simple) minus that of the mu~ arm (true bound weighting), same "
                    "U-Net, initial weights and minibatches: at most 0. " + SCALE),
    ),
]


def load_images(side: int) -> dict[str, torch.Tensor]:
    """Real MNIST, area-averaged to side x side and scaled from 0..255 to [-1, 1], flattened to side^2."""
    raw = mnist.load()
    out = {}
    for split in ("train", "test"):
        x = torch.from_numpy(raw[f"{split}_x"]).float().unsqueeze(1) / 127.5 - 1.0     # (N, 1, 28, 28)
        out[f"{split}_x"] = F.avg_pool2d(x, 28 // side).flatten(1)                      # (N, side^2)
        out[f"{split}_y"] = torch.from_numpy(raw[f"{split}_y"]).long()
    return out


class Classifier(nn.Module):
    """The judge: a one-hidden-layer ReLU MLP; its 64 hidden units are the feature space of the Frechet distance."""

    def __init__(self, D: int, hidden: int = 64):
        super().__init__()
        self.hid, self.out = nn.Linear(D, hidden), nn.Linear(hidden, 10)

    def features(self, x):
        return F.relu(self.hid(x))

    def forward(self, x):
        return self.out(self.features(x))


def train_classifier(x, y, steps: int, seed: int) -> Classifier:
    g = torch.Generator(device=x.device).manual_seed(20_000 + seed)
    torch.manual_seed(20_000 + seed)
    clf = Classifier(x.shape[1]).to(x.device)
    opt = torch.optim.Adam(clf.parameters(), lr=3e-3)
    for _ in range(steps):
        i = torch.randint(len(x), (256,), generator=g, device=x.device)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(clf(x[i]), y[i]).backward()
        opt.step()
    return clf.eval()


def train_arms(cfg: Config, x: torch.Tensor, ctx) -> dict[str, DDPM]:
    """Algorithm 1 for both arms, side by side: the same initial U-Net weights, minibatches, t and eps."""
    torch.manual_seed(ctx.seed)
    models = {"eps": DDPM(cfg.T, cfg.side, cfg.ch, cfg.t_dim, "eps").to(ctx.device)}
    models["mu"] = DDPM(cfg.T, cfg.side, cfg.ch, cfg.t_dim, "mu").to(ctx.device)
    models["mu"].load_state_dict(models["eps"].state_dict())
    opts = {a: torch.optim.Adam(m.parameters(), lr=cfg.lr) for a, m in models.items()}
    g = torch.Generator(device=ctx.device).manual_seed(ctx.seed + 1)
    with ctx.bar(cfg.steps, "ddpm") as bar:
        for s in range(1, cfg.steps + 1):
            x_0 = x[torch.randint(len(x), (cfg.batch_size,), generator=g, device=ctx.device)]   # x_0 ~ q(x_0)
            t = torch.randint(1, cfg.T + 1, (cfg.batch_size,), generator=g, device=ctx.device)  # t ~ U{1..T}
            eps = torch.randn(x_0.shape, generator=g, device=ctx.device)                      # eps ~ N(0, I)
            losses = {}
            for a, m in models.items():
                loss = m.loss(x_0, t, eps)
                opts[a].zero_grad(set_to_none=True)
                loss.backward()                                                                # gradient step
                opts[a].step()
                losses[f"loss_{a}"] = float(loss.detach())
            if s % 50 == 0 or s == cfg.steps:
                ctx.log(s, **losses)
                bar.update(50 if s % 50 == 0 else cfg.steps % 50, **losses)
    return models


def run(cfg: Config, ctx) -> dict[str, float]:
    d = load_images(cfg.side)
    x = d["train_x"][: cfg.n_train].to(ctx.device)
    perm = torch.randperm(len(d["test_x"]), generator=torch.Generator().manual_seed(cfg.data_seed))[: cfg.n_test]
    x_test, y_test = d["test_x"][perm].to(ctx.device), d["test_y"][perm].to(ctx.device)
    models = train_arms(cfg, x, ctx)
    g = torch.Generator(device=ctx.device).manual_seed(777 + ctx.seed)
    n, D = cfg.n_samples, cfg.side**2
    images = {a: m.sample(n, D, g, ctx.device).clamp(-1, 1) for a, m in models.items()}
    images["noise"] = torch.randn(n, D, generator=g, device=ctx.device).clamp(-1, 1)
    images["mean_image"] = x.mean(0, keepdim=True).expand(n, D)
    images["train"] = x[:n]
    clf = train_classifier(x, d["train_y"][: cfg.n_train].to(ctx.device), cfg.clf_steps, ctx.seed)
    m: dict[str, float] = {}
    with torch.no_grad():
        m["classifier_test_acc"] = float((clf(x_test).argmax(1) == y_test).float().mean())
        f_test = clf.features(x_test)
        for name, imgs in images.items():
            m[f"fd_{name}"] = frechet_distance(clf.features(imgs), f_test)
        for a in ARMS:
            m[f"fd_ratio_{a}"] = m[f"fd_{a}"] / m["fd_noise"]
            m[f"confidence_{a}"] = float(F.softmax(clf(images[a]), 1).max(1).values.mean())
    draw(images, cfg, m, ctx.path("samples.png"))
    return m


def draw(images, cfg, m, path, n: int = 8) -> None:
    """Samples of both arms beside real images, each panel titled with its Frechet distance."""
    fig, axes = plots.new_figure(1, 3, figsize=(12, 4.6))
    s, n = cfg.side, min(n, int(len(images["eps"]) ** 0.5))
    for ax, name in zip(axes, ("eps", "mu", "train"), strict=True):
        tiles = F.pad(images[name][: n * n].cpu().reshape(n * n, s, s), (1, 1, 1, 1), value=-1.0)
        canvas = tiles.reshape(n, n, s + 2, s + 2).permute(0, 2, 1, 3).reshape(n * (s + 2), n * (s + 2))
        ax.imshow(canvas.numpy(), cmap="gray", vmin=-1, vmax=1)
        ax.set_axis_off()
        label = {"eps": "eps-prediction, L_simple", "mu": "mu~-prediction, true bound", "train": "real (train)"}
        ax.set_title(f"{label[name]}: FD {m[f'fd_{name}']:.2f}", fontsize=10)
    fig.suptitle(f"MNIST {s}x{s}, T = {cfg.T}: Frechet distance in classifier features (noise {m['fd_noise']:.1f}, "
                 f"mean image {m['fd_mean_image']:.1f})")
    plots.save(fig, path)
