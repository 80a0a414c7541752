"""Sohl-Dickstein et al. (2015), Sec. 3 (Fig. 1, Table 1): diffusion models on a 2-D swiss roll and on real digits.

Two diffusion models are trained by the same procedure, each maximising the bound K of Eq. 14 with a random step t
per example (Adam on minibatches of the training data):
  swiss roll  the paper's own generated toy (Fig. 1), scikit-learn's make_swiss_roll seen from above (2-D), T = 40;
  digits      scikit-learn's real 8x8 handwritten digits (1,797 images, 64 coordinates), split 80/20 into training
              and held-out images; a stand-in for the paper's MNIST (Sec. 3.3, Fig. 5 / App. D).
Each model then runs its learned reverse trajectory from the prior N(0, I) to draw samples, which are compared with
held-out data: on the swiss roll by the energy distance (against the prior's own distance to the data); on digits by
the Frechet distance in the feature space of a classifier trained here on the training digits (against pure-noise
and mean-image baselines), and by that classifier's confidence and class coverage on the samples. K is measured on
held-out data (in bits, with the isotropic-Gaussian log-likelihood L_null beside it, as Table 1). The reverse means,
run without noise from held-out data diffused to x^(t), show the learned drift pulling points back onto the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import digits
from dlcanon.core.measures import energy_distance, frechet_distance
from dlcanon.core.paper import Claim

from . import figures
from .model import DiffusionModel

LOG2 = math.log(2.0)


@dataclass
class Config:
    swiss_T: Annotated[int, Range(ge=2, le=10_000)] = 40
    """diffusion steps T of the swiss-roll model (the paper: 40)"""
    swiss_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 4000
    """Adam steps of the swiss-roll model"""
    swiss_n: Annotated[int, Range(ge=100, le=1_000_000)] = 5000
    """training points drawn from the swiss roll (a second, independent draw of the same size is the held-out set)"""
    swiss_noise: Annotated[float, Range(ge=0, le=5)] = 0.5
    """standard deviation of make_swiss_roll's noise, in its own units (the roll spans about 25 units)"""
    digits_T: Annotated[int, Range(ge=2, le=10_000)] = 100
    """diffusion steps T of the digits model (the paper used T = 1000 on MNIST)"""
    digits_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 4000
    """Adam steps of the digits model"""
    hidden: Annotated[int, Range(ge=1, le=8192)] = 128
    """units per hidden layer of the swiss-roll reverse MLP"""
    digits_hidden: Annotated[int, Range(ge=1, le=8192)] = 128
    """units per hidden layer of the digits reverse MLP"""
    layers: Annotated[int, Range(ge=1, le=16)] = 3
    """hidden layers of each reverse MLP"""
    K: Annotated[int, Range(ge=1, le=1000)] = 10
    """temporal bump functions of the swiss-roll model's readout (the paper's code: 10)"""
    digits_K: Annotated[int, Range(ge=1, le=1000)] = 5
    """temporal bump functions of the digits model's readout"""
    beta_1: Annotated[float, Range(gt=0, lt=1)] = 1e-3
    """the fixed first diffusion rate beta_1 (App. D.1 fixes it small; the paper's code: 0.001)"""
    batch_size: Annotated[int, Range(ge=1, le=100_000)] = 256
    """examples per minibatch, each with its own random t"""
    lr: Annotated[float, Range(gt=0, le=1)] = 2e-3
    """Adam step size (decayed by cosine to zero over the run)"""
    n_samples: Annotated[int, Range(ge=10, le=100_000)] = 2000
    """samples drawn from each model's reverse trajectory (and from each baseline)"""
    denoise_frac: Annotated[float, Range(gt=0, le=1)] = 0.25
    """the reverse means are run from x^(t) with t = denoise_frac * T back to x^(1)"""
    eval_every: Annotated[int, Range(ge=1, le=1_000_000)] = 500
    """Adam steps between estimates of the held-out bound K"""
    clf_steps: Annotated[int, Range(ge=1, le=100_000)] = 400
    """full-batch Adam steps of the digit classifier used as the judge"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the swiss-roll draws and of the digits' train/held-out split (independent of the run's seed)"""

    def check(self) -> None:
        if self.eval_every > max(self.swiss_steps, self.digits_steps):
            raise ValueError(f"eval_every ({self.eval_every}) exceeds both models' steps")


PRESETS = {
    "smoke": Config(swiss_T=6, swiss_steps=20, swiss_n=300, digits_T=6, digits_steps=20, hidden=16,
                    digits_hidden=16, K=3, batch_size=32, n_samples=200, eval_every=10, clf_steps=20),
    "quick": Config(),
    "full": Config(digits_T=1000, swiss_steps=30_000, digits_steps=60_000, hidden=256, digits_hidden=1024,
                   layers=4, n_samples=10_000, eval_every=2000, clf_steps=2000),
}

PAPER_TABLE1 = ("Table 1, swiss roll: K = 2.35 bits, K - L_null = 6.45 bits (from memory, not checked against the "
                "paper)")
SCALE = ("quick: 4,000 Adam steps per model, 3-layer MLPs of 128 units, T = 40 (swiss roll, the paper's) and "
         "T = 100 (digits; the paper's MNIST used T = 1000), 2,000 samples.")

CLAIMS = [
    Claim(
        name="swiss_roll_samples_match_data",
        metric="swiss_energy_ratio",
        op="<",
        threshold=0.1,
        paper_value="Fig. 1 (middle row): the reverse trajectory turns an isotropic Gaussian into the swiss roll.",
        scale_note=("Energy distance between 2,000 samples of the reverse trajectory and 2,000 held-out swiss-roll "
                    "points, as a fraction of the energy distance between 2,000 draws of the prior N(0, I) and the "
                    "same points: below 0.1 (fixed before any run). " + SCALE),
        known_fail=("Holds on quick seeds 0 and 1 (0.061, 0.060) but not on seed 2 (0.112): 4,000 Adam steps on the "
                    "bound leave the inner turn of the roll blurred, and how blurred varies with the seed. A custom "
                    "run of seed 2 with 12,000 steps gave 0.065, but that breaks quick's CPU budget; full trains "
                    "30,000 steps."),
    ),
    Claim(
        name="swiss_roll_bound_beats_gaussian",
        metric="swiss_K_minus_Lnull_bits",
        op=">=",
        threshold=2.0,
        paper_value=PAPER_TABLE1,
        scale_note=("K of Eq. 14 on 2,000 held-out points (bits per point, one draw of x^(t) per step t) minus their "
                    "log-likelihood under N(0, I) (the data are standardised): at least 2 bits, fixed before any "
                    "run. Our swiss roll's noise and scaling are our own, so K itself is not comparable. " + SCALE),
        known_fail=("At quick the bound beats the Gaussian by only 0.93, 0.79 and 0.60 bits (seeds 0, 1, 2), while K "
                    "rises by 0.6-0.9 bits in training. K counts the "
                    "KL of every one of the 39 reverse steps, and the steps near t = 2, whose posterior variance is "
                    "25 times below beta_t, are the slowest to learn in 4,000 steps. Tried: centring f_Sigma on the "
                    "posterior variance (worse: 0.03 bits); 12,000 steps (seed 2, custom run): 1.09 bits. The paper "
                    "trained far longer, with a learned beta."),
    ),
    Claim(
        name="swiss_roll_reverse_means_denoise",
        metric="swiss_denoise_ratio",
        op="<",
        threshold=0.5,
        paper_value=("Fig. 1 (bottom row): the drift f_mu(x^(t), t) - x^(t) points back onto the roll; Sec. 2.2: "
                     "the reverse steps undo the forward diffusion."),
        scale_note=("Held-out points diffused to x^(t), t = T/4, then run down the reverse means without noise: "
                    "their mean distance to the nearest held-out data point, as a fraction of that of the noisy "
                    "x^(t) / sqrt(alpha_bar_t) itself: below 0.5 (fixed before any run)."),
    ),
    Claim(
        name="digit_samples_near_data_in_classifier_features",
        metric="digits_fd_ratio",
        op="<",
        threshold=0.1,
        paper_value=("Fig. 5 / Table 2: MNIST samples look like digits; log-likelihood 317 +- 2.7 bits by a Parzen "
                     "estimate (from memory, not checked). The paper reports no Frechet distance."),
        scale_note=("Frechet distance between 2,000 samples and the 360 held-out digits in the hidden layer of an "
                    "MLP classifier trained here on the 1,437 training digits, as a fraction of the same distance "
                    "for 2,000 pure N(0, I) noise images: below 0.1 (fixed before any run). 8x8 digits, not MNIST. "
                    + SCALE),
    ),
    Claim(
        name="digit_samples_beat_mean_image",
        metric="digits_fd_samples",
        minus="digits_fd_mean_image",
        op="<",
        threshold=0.0,
        paper_value="Fig. 5: samples with the variety of real digits, not a blurred average.",
        scale_note=("Frechet distance of the samples minus that of 2,000 copies of the mean training image (the "
                    "same classifier features): below 0."),
    ),
    Claim(
        name="digit_samples_recognised",
        metric="digits_confidence",
        op=">=",
        threshold=0.8,
        paper_value="Fig. 5: samples recognisable as digits.",
        scale_note=("Mean top softmax probability the classifier gives the 2,000 samples: at least 0.8 (fixed before "
                    "any run); its mean on held-out real digits and on noise images is reported beside it."),
    ),
    Claim(
        name="digit_samples_cover_classes",
        metric="digits_classes_covered",
        op=">=",
        threshold=8,
        paper_value="Fig. 5: samples of many different digits.",
        scale_note="Classes that the classifier assigns to at least 2% of the 2,000 samples: at least 8 of 10.",
    ),
    Claim(
        name="digits_bound_beats_gaussian",
        metric="digits_K_minus_Lnull_bits",
        op=">",
        threshold=0.0,
        paper_value="Table 2: the diffusion model's MNIST log-likelihood above other models' (from memory).",
        scale_note=("K on the held-out digits (pixels scaled to [-1, 1]) minus their log-likelihood under N(0, I), "
                    "bits per image: above 0."),
    ),
]


# ---- data -------------------------------------------------------------------------------------------------------

def swiss_roll(n: int, noise: float, seed: int) -> torch.Tensor:
    """(n, 2): scikit-learn's 3-D swiss roll seen along its axis (coordinates 0 and 2), the paper's toy (Fig. 1).
    Scaled by a fixed 1/7 (about the roll's standard deviation) so that each coordinate is near unit variance."""
    from sklearn.datasets import make_swiss_roll
    x, _ = make_swiss_roll(n, noise=noise, random_state=seed)
    return torch.from_numpy(x[:, [0, 2]] / 7.0).float()


def digit_split(seed: int) -> dict[str, torch.Tensor]:
    """Real 8x8 digits, 64 pixels scaled from 0..16 to [-1, 1]; 80% training, 20% held out (a seeded shuffle)."""
    d = digits.load()
    x = torch.from_numpy(d["x"]).reshape(-1, 64) / 8.0 - 1.0
    y = torch.from_numpy(d["y"])
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_train = int(0.8 * len(x))
    tr, te = perm[:n_train], perm[n_train:]
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}


# ---- training: maximise K (Eq. 14) -----------------------------------------------------------------------------

def train(model: DiffusionModel, x: torch.Tensor, x_eval: torch.Tensor, steps: int, cfg: Config, ctx,
          tag: str, seed: int) -> list[tuple[int, float]]:
    """Adam on -K: each example draws one t in 2..T uniformly, so (T - 1) times the mean KL is an unbiased estimate of
    the KL sum in Eq. 14 (the entropy terms are constant for a fixed beta). Returns [(step, K bits on x_eval)]."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    curve = [(0, held_out_K_bits(model, x_eval, ctx.seed))]
    B = min(cfg.batch_size, len(x))
    with ctx.bar(steps, tag) as bar:
        for s in range(1, steps + 1):
            x0 = x[torch.randint(len(x), (B,), generator=g, device=x.device)]
            t = torch.randint(2, model.T + 1, (B,), generator=g, device=x.device)
            noise = torch.randn(x0.shape, generator=g, device=x.device)
            loss = (model.T - 1) * model.kl_term(x0, t, noise).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if s % cfg.eval_every == 0 or s == steps:
                curve.append((s, held_out_K_bits(model, x_eval, ctx.seed)))
                ctx.log(s, **{f"{tag}_K_bits": curve[-1][1], f"{tag}_loss": float(loss.detach())})
                bar.update(cfg.eval_every if s % cfg.eval_every == 0 else steps % cfg.eval_every, K=curve[-1][1])
    return curve


@torch.no_grad()
def held_out_K_bits(model: DiffusionModel, x: torch.Tensor, seed: int) -> float:
    """Mean K per example on x, in bits (the same draws of x^(t) at every evaluation)."""
    g = torch.Generator(device=x.device).manual_seed(4242 + seed)
    return float(model.bound_K(x, g).mean()) / LOG2


def log_null_bits(x: torch.Tensor) -> float:
    """L_null: mean log-likelihood of x under the isotropic Gaussian N(0, I), in bits per example."""
    return float(torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1).mean()) / LOG2


# ---- measurements ------------------------------------------------------------------------------------------------

def nearest_distance(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean Euclidean distance from each row of x to its nearest row of ref."""
    return float(torch.cdist(x, ref).min(1).values.mean())


class DigitClassifier(nn.Module):
    """The judge: a one-hidden-layer ReLU MLP on the 64 pixels; its hidden layer is the feature space."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.hid = nn.Linear(64, hidden)
        self.out = nn.Linear(hidden, 10)

    def features(self, x):
        return F.relu(self.hid(x))

    def forward(self, x):
        return self.out(self.features(x))


def train_classifier(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> DigitClassifier:
    torch.manual_seed(10_000 + seed)
    clf = DigitClassifier().to(x.device)
    opt = torch.optim.Adam(clf.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(clf(x), y).backward()
        opt.step()
    return clf.eval()


# ---- the two experiments ---------------------------------------------------------------------------------------

def swiss_roll_experiment(cfg: Config, ctx) -> tuple[dict[str, float], dict]:
    x = swiss_roll(cfg.swiss_n, cfg.swiss_noise, cfg.data_seed).to(ctx.device)
    x_test = swiss_roll(cfg.swiss_n, cfg.swiss_noise, cfg.data_seed + 1).to(ctx.device)
    torch.manual_seed(ctx.seed)
    model = DiffusionModel(2, cfg.swiss_T, cfg.beta_1, cfg.hidden, cfg.layers, cfg.K).to(ctx.device)
    x_eval = x_test[: cfg.n_samples]
    curve = train(model, x, x_eval, cfg.swiss_steps, cfg, ctx, "swiss", seed=ctx.seed * 1000 + 5)
    g = torch.Generator(device=ctx.device).manual_seed(777 + ctx.seed)
    n = min(cfg.n_samples, len(x_test))
    traj = model.reverse_trajectory(torch.randn(n, 2, generator=g, device=ctx.device), g)
    samples, prior = traj[-1], torch.randn(n, 2, generator=g, device=ctx.device)
    m = {"swiss_K_bits": curve[-1][1], "swiss_K_initial_bits": curve[0][1], "swiss_Lnull_bits": log_null_bits(x_eval)}
    m["swiss_K_minus_Lnull_bits"] = m["swiss_K_bits"] - m["swiss_Lnull_bits"]
    ed_prior = energy_distance(prior, x_test[:n])
    m["swiss_energy_prior"] = ed_prior
    m["swiss_energy_ratio"] = energy_distance(samples, x_test[:n]) / ed_prior
    m["swiss_energy_floor"] = energy_distance(x[:n], x_test[:n]) / ed_prior
    # the reverse means from the data's own x^(t): drift back onto the roll
    t0 = max(2, round(cfg.denoise_frac * cfg.swiss_T))
    tt = torch.full((n,), t0, device=ctx.device, dtype=torch.long)
    xt = model.q.sample(x_eval[:n], tt, torch.randn(n, 2, generator=g, device=ctx.device))
    den = denoise(model, xt, t0)
    ref = x_test[n:] if len(x_test) > n else x
    noisy = xt / model.q.alpha_bar[t0 - 1].sqrt()
    m["swiss_denoise_ratio"] = nearest_distance(den, ref) / nearest_distance(noisy, ref)
    m["swiss_denoise_t"] = t0
    art = {"x_test": x_test[:n], "model": model, "traj": traj, "curve": curve, "noisy": noisy, "den": den}
    return m, art


@torch.no_grad()
def denoise(model: DiffusionModel, xt: torch.Tensor, t0: int) -> torch.Tensor:
    """Follow the reverse means f_mu from x^(t0) down to x^(1), without noise."""
    x = xt
    for t in range(t0, 1, -1):
        x = model.reverse_step(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))[0]
    return x


def digits_experiment(cfg: Config, ctx) -> tuple[dict[str, float], dict]:
    d = {k: v.to(ctx.device) for k, v in digit_split(cfg.data_seed).items()}
    torch.manual_seed(ctx.seed + 1)
    model = DiffusionModel(64, cfg.digits_T, cfg.beta_1, cfg.digits_hidden, cfg.layers, cfg.digits_K).to(ctx.device)
    curve = train(model, d["x_train"], d["x_test"], cfg.digits_steps, cfg, ctx, "digits", seed=ctx.seed * 1000 + 6)
    g = torch.Generator(device=ctx.device).manual_seed(999 + ctx.seed)
    n = cfg.n_samples
    traj = model.reverse_trajectory(torch.randn(n, 64, generator=g, device=ctx.device), g)
    samples = traj[-1].clamp(-1, 1)
    noise = torch.randn(n, 64, generator=g, device=ctx.device).clamp(-1, 1)
    mean_img = d["x_train"].mean(0, keepdim=True).expand(n, 64)
    clf = train_classifier(d["x_train"], d["y_train"], cfg.clf_steps, ctx.seed)
    m = {"digits_K_bits": curve[-1][1], "digits_K_initial_bits": curve[0][1],
         "digits_Lnull_bits": log_null_bits(d["x_test"])}
    m["digits_K_minus_Lnull_bits"] = m["digits_K_bits"] - m["digits_Lnull_bits"]
    with torch.no_grad():
        m["digits_classifier_test_acc"] = float((clf(d["x_test"]).argmax(1) == d["y_test"]).float().mean())
        f_test = clf.features(d["x_test"])
        for name, x in (("samples", samples), ("noise", noise), ("mean_image", mean_img), ("train", d["x_train"])):
            m[f"digits_fd_{name}"] = frechet_distance(clf.features(x), f_test)
        m["digits_fd_ratio"] = m["digits_fd_samples"] / m["digits_fd_noise"]
        p = F.softmax(clf(samples), 1)
        m["digits_confidence"] = float(p.max(1).values.mean())
        m["digits_confidence_test"] = float(F.softmax(clf(d["x_test"]), 1).max(1).values.mean())
        m["digits_confidence_noise"] = float(F.softmax(clf(noise), 1).max(1).values.mean())
        share = torch.bincount(p.argmax(1), minlength=10).float() / n
        m["digits_classes_covered"] = float((share >= 0.02).sum())
        # the reverse means from held-out digits diffused to x^(t): does the digit survive?
        t0 = max(2, round(cfg.denoise_frac * cfg.digits_T))
        nt = len(d["x_test"])
        xt = model.q.sample(d["x_test"], torch.full((nt,), t0, device=ctx.device, dtype=torch.long),
                            torch.randn(nt, 64, generator=g, device=ctx.device))
        den = denoise(model, xt, t0).clamp(-1, 1)
        noisy = (xt / model.q.alpha_bar[t0 - 1].sqrt()).clamp(-1, 1)
        m["digits_denoise_acc"] = float((clf(den).argmax(1) == d["y_test"]).float().mean())
        m["digits_noisy_acc"] = float((clf(noisy).argmax(1) == d["y_test"]).float().mean())
        m["digits_denoise_mse"] = float((den - d["x_test"]).square().mean())
        m["digits_noisy_mse"] = float((noisy - d["x_test"]).square().mean())
    art = {"samples": samples, "labels": p.argmax(1), "curve": curve, "x_test": d["x_test"], "den": den,
           "noisy": noisy}
    return m, art


def run(cfg: Config, ctx) -> dict[str, float]:
    m_swiss, a_swiss = swiss_roll_experiment(cfg, ctx)
    m_digits, a_digits = digits_experiment(cfg, ctx)
    metrics = {**m_swiss, **m_digits}
    figures.fig1(a_swiss, cfg, metrics, ctx.path("fig1_swiss_roll.png"))
    figures.digit_samples(a_digits, metrics, ctx.path("digit_samples.png"))
    figures.bound_curves(a_swiss["curve"], a_digits["curve"], metrics, ctx.path("bound_K.png"))
    return {k: float(v) for k, v in metrics.items()}
