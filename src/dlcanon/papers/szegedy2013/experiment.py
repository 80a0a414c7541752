"""Szegedy et al. (2013): blind spots of MNIST nets, and units that are no more meaningful than random directions.

Four nets of the paper's Sec. 4.2 are trained on real MNIST (pixels in [0, 1]). MNIST's 60,000 training images are
cut into two disjoint halves P1 (the first) and P2 (the second), as in the paper's cross-training-set experiment
(Tables 3-4): FC10(lambda), a softmax classifier, FC100-100-10 and FC123-456-10 learn from P1, and FC100-100-10' (the
same architecture, another init) learns from P2.

Then, on a fixed draw of test images that all four nets classify correctly, each with a random wrong target label:
- Sec. 4.1: the closest adversarial example x + r with f(x + r) = l, by box-constrained L-BFGS and a line search
  over c (attack.py), for FC100-100-10 (for every net with attack_all): success rate and mean distortion
  sqrt(sum r^2 / 784) (Table 1);
- Table 2/4: every net's error on every other net's adversarial examples (cross-model, cross-training-set), on
  the same perturbations rescaled to a distortion of 0.1 ("amplified", Table 4), and on Gaussian noise;
- the control: noise in a random direction with the same norm as each image's adversarial r;
- Goodfellow et al. (2015): the fast gradient sign method on the whole test set, at several eps, beside noise of
  random sign and the same eps;
- Sec. 3: label purity of the k test images that most excite each unit of phi(x), against random directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, OneOf, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim

from . import figures
from .attack import minimal_adversarial, predict
from .model import FC, fgsm, label_purity, rms, top_k_images, weight_penalty

NETS = {  # key: (the paper's name, hidden layers, training half)
    "fc10": ("FC10", (), "P1"),
    "fc100": ("FC100-100-10", (100, 100), "P1"),
    "fc123": ("FC123-456-10", (123, 456), "P1"),
    "fc100p2": ("FC100-100-10'", (100, 100), "P2"),
}
HALF = 30_000  # the paper's P1 = the first 30,000 training images, P2 = the other 30,000


@dataclass
class Config:
    n_train: Annotated[int, Range(ge=100, le=30_000)] = 30_000
    """training images in each half P1, P2 (the first n_train of each 30,000; the paper: all 30,000)"""
    activation: Annotated[str, OneOf("sigmoid", "relu")] = "sigmoid"
    """hidden units' nonlinearity (the paper's FC nets: not stated in what we could check; see notes)"""
    epochs: Annotated[int, Range(ge=1, le=1000)] = 10
    """passes over the net's half (the paper trained its FC nets to 0% training error)"""
    batch_size: Annotated[int, Range(ge=1, le=30_000)] = 200
    """images per minibatch"""
    lr: Annotated[float, Range(gt=0, le=1)] = 1e-2
    """Adam's first step size, decayed linearly to 0 over the run"""
    lambda_softmax: Annotated[float, Range(ge=0, le=10)] = 1e-4
    """lambda of FC10(lambda): the weight penalty lambda * sum w^2 (Table 1: 1e-4, 1e-2, 1)"""
    lambda_mlp: Annotated[tuple[float, ...], Range(ge=0, le=10, min_len=3, max_len=3)] = (1e-5, 1e-5, 1e-6)
    """the penalty's lambda for each of the three weight layers of the hidden-layer nets (Table 3)"""
    n_attack: Annotated[int, Range(ge=1, le=10_000)] = 100
    """test images attacked (a fixed draw among those all four nets classify correctly)"""
    attack_all: bool = False
    """attack all four nets (the full cross-model table of Table 2/4); False: only FC100-100-10, whose row the
    claims read"""
    c0: Annotated[float, Range(gt=0, le=1e6)] = 1.0
    """first value of c in the line search (the weight of |r|^2 against the cross-entropy)"""
    c_rounds: Annotated[int, Range(ge=1, le=100)] = 8
    """line-search rounds over c (each one L-BFGS-B solve of the whole batch)"""
    c_grow: Annotated[float, Range(gt=1, le=1000)] = 10.0
    """factor by which c moves until a success and a failure bracket it; then bisection in log c"""
    lbfgs_iters: Annotated[int, Range(ge=1, le=10_000)] = 60
    """L-BFGS-B iterations per solve"""
    amplify_rms: Annotated[float, Range(gt=0, le=1)] = 0.1
    """distortion to which the adversarial perturbations are rescaled for Table 4's "amplified" rows"""
    noise_stds: Annotated[tuple[float, ...], Range(gt=0, le=1)] = (0.1, 0.3)
    """standard deviations of the Gaussian-noise rows (Table 2: 0.1, 0.3); must include amplify_rms"""
    noise_draws: Annotated[int, Range(ge=1, le=1000)] = 10
    """noise draws per attacked image for the noise rows and the same-norm control"""
    fgsm_eps: Annotated[tuple[float, ...], Range(ge=0, le=1)] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
    """eps of the fast gradient sign method (Goodfellow et al. 2015: 0.25 on MNIST); must include 0.1 and 0.25"""
    top_k: Annotated[int, Range(ge=2, le=1000)] = 8
    """images kept per unit or direction in Sec. 3's analysis (the paper's figures show rows of 8)"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the attacked images, their target labels and the noise (independent of the run's seed)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if not any(abs(s - self.amplify_rms) < 1e-12 for s in self.noise_stds):
            raise ValueError(f"noise_stds {self.noise_stds} must include amplify_rms ({self.amplify_rms})")
        if not {0.1, 0.25} <= set(self.fgsm_eps):
            raise ValueError(f"fgsm_eps {self.fgsm_eps} must include 0.1 and 0.25 (the claims read them)")
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed n_train ({self.n_train})")


PRESETS = {
    "smoke": Config(n_train=2000, epochs=2, batch_size=100, n_attack=8, c_rounds=3, lbfgs_iters=10,
                    noise_draws=2, top_k=4),
    "quick": Config(),
    "full": Config(epochs=50, lr=5e-3, n_attack=500, attack_all=True, c_rounds=10, lbfgs_iters=100, noise_draws=20),
}  # fmt: skip

SCALE = (
    "MNIST 28x28 in [0, 1]; P1/P2 = the two 30,000-image halves of the training set; {nets}; quick: Adam, "
    "10 epochs; 100 test images that all four nets get right, each with a random wrong target label; 8 rounds "
    "of the c line search with 60 L-BFGS-B iterations each (full: 50 epochs, 500 images, 10 rounds of 100)."
)
SCALE_MLP = SCALE.format(nets="sigmoid FC100-100-10 and FC123-456-10 on P1, FC100-100-10' on P2")
PAPER_T4 = ("Tables 3-4 (MNIST, P1/P2 halves of 30,000): test errors about 2%; adversarial examples made for "
            "FC100-100-10 cause {}")  # fmt: skip

CLAIMS = [
    Claim(
        name="lbfgs_always_finds_an_adversarial",
        metric="adv_fc100_success",
        op=">=",
        threshold=0.99,
        paper_value="Sec. 4.2 / Table 2: 'for all the networks we studied ... we always managed to generate very "
        "close, visually hard to distinguish, adversarial examples': 100% error on each net's own examples.",
        scale_note=SCALE_MLP + " Share of attacked images for which f(x + r) = l (targeted) was found.",
    ),
    Claim(
        name="adversarial_distortion_is_tiny",
        metric="adv_fc100_rms",
        op="<=",
        threshold=0.1,
        paper_value="Table 1: average minimum distortion sqrt(sum r^2 / n) 0.058 for FC100-100-10 (0.062 for FC10("
        "1e-4), 0.14 for FC10(1)); Table 3: 0.062 for FC100-100-10 trained on P1.",
        scale_note=SCALE_MLP + " Mean over the successful images of sqrt(sum r^2 / 784), pixels in [0, 1].",
    ),
    Claim(
        name="same_size_random_noise_does_not_fool",
        metric="samenorm_fc100_error",
        op="<=",
        threshold=0.02,
        paper_value="Table 2: Gaussian noise of stddev 0.1 gives FC100-100-10 0% error (stddev 0.3: 5%); Table 4: "
        "stddev 0.06, about the adversarial distortion, 2.2% against a 2% test error.",
        scale_note=SCALE_MLP + " Error of FC100-100-10 when each image gets noise in a random direction with the "
        "norm of its own adversarial r (10 draws each; the clean error on these images is 0).",
    ),
    Claim(
        name="transfer_across_hyperparameters",
        metric="adv_fc100_on_fc123_error",
        minus="fc123_test_error",
        op=">=",
        threshold=0.10,
        paper_value=PAPER_T4.format("26.2% error in FC123-456-10 (trained on the same half P1)."),
        scale_note=SCALE_MLP + " FC123-456-10's error on FC100-100-10's minimal adversarial examples minus its "
        "clean test error.",
        known_fail=(
            "Holds at quick (0.123, 0.185, 0.205 on seeds 0-2) but not reliably on the full preset (CPU; 50 epochs, "
            "500 images, 10 rounds of 100 L-BFGS-B iterations): 0.089 on seed 0, 0.100 on seed 1. There the nets "
            "reach 0% training error and the line search gets closer to the minimal perturbation (distortion "
            "0.059-0.060, the paper's 0.058); FC123-456-10 then errs on 11.2% and 12.4% of FC100-100-10's examples "
            "(the paper: 26.2%), though rescaled to distortion 0.1 they still fool it on 86-87%. Not tried: other "
            "target labels (we do not know how the paper chose them), other optimisers for the nets."
        ),
    ),
    Claim(
        name="transfer_across_training_subsets",
        metric="adv_fc100_on_fc100p2_error",
        minus="fc100p2_test_error",
        op=">=",
        threshold=0.02,
        paper_value=PAPER_T4.format("5.9% error in FC100-100-10' (trained on the other half P2)."),
        scale_note=SCALE_MLP + " FC100-100-10''s error on FC100-100-10's minimal adversarial examples minus its "
        "clean test error.",
        known_fail=(
            "Holds at quick (0.053, 0.152, 0.074 on seeds 0-2) but not on the full preset (CPU): 0.016 on seed 0, "
            "0.014 on seed 1. There FC100-100-10' errs on 4.2% and 4.0% of FC100-100-10's minimal examples (the "
            "paper: 5.9%), against a 2.6% test error. Its clean error on the attacked images is 0, so the raw rate "
            "is near the paper's, but the margin over the whole test set's error that the claim asks for stays "
            "under 2 points. Amplified to distortion 0.1 the same examples fool it on 50-53% (the paper: 43%)."
        ),
    ),
    Claim(
        name="amplified_transfer_beats_noise_across_subsets",
        metric="amp_fc100_on_fc100p2_error",
        minus="gauss0.1_on_fc100p2_error",
        op=">=",
        threshold=0.20,
        paper_value=PAPER_T4.format(
            "43% error in FC100-100-10' when amplified to stddev 0.1 (98% in FC123-456-10), "
            "against 2.7% (2.8%) for Gaussian noise of stddev 0.1."
        ),
        scale_note=SCALE_MLP + " FC100-100-10's perturbations rescaled to distortion 0.1 (then kept in [0, 1]) "
        "against Gaussian noise of stddev 0.1 (not clipped, so at least as large), both on FC100-100-10'.",
    ),
    Claim(
        name="fgsm_fools_the_softmax",
        metric="fgsm_fc10_eps0.25_error",
        op=">=",
        threshold=0.9,
        paper_value="Goodfellow, Shlens & Szegedy (2015), Sec. 4: eps = 0.25 gives a shallow softmax classifier "
        "99.9% error on the MNIST test set (average confidence 79.3%).",
        scale_note=SCALE.format(nets="FC10(1e-4) on P1") + " Error on all 10,000 test images at eps = 0.25.",
    ),
    Claim(
        name="fgsm_fools_the_mlp",
        metric="fgsm_fc100_eps0.25_error",
        op=">=",
        threshold=0.7,
        paper_value="Goodfellow et al. (2015), Sec. 5: eps = 0.25 gives a maxout network 89.4% error on MNIST "
        "(average confidence 97.6%).",
        scale_note=SCALE_MLP + " A sigmoid FC100-100-10 instead of the maxout net; all 10,000 test images.",
    ),
    Claim(
        name="units_no_more_semantic_than_random_directions",
        metric="purity_units_fc100",
        minus="purity_random_fc100",
        op="<=",
        threshold=0.05,
        paper_value="Sec. 3, Fig. 1-2 (MNIST): the images that maximise a single unit and those that maximise a "
        "random direction are alike in how much they share: 'no distinction between individual high level units "
        "and random linear combinations' (judged by eye in the paper).",
        scale_note=SCALE_MLP + " Mean label purity of the 8 test images that most excite each of the 100 units of "
        "FC100-100-10's last hidden layer, minus the same for 100 random unit-norm directions.",
    ),
    Claim(
        name="random_directions_are_semantic",
        metric="purity_random_fc100",
        minus="purity_chance",
        op=">=",
        threshold=0.3,
        paper_value="Sec. 3, Fig. 2: images that maximise a random direction 'share semantic properties' "
        "(judged by eye).",
        scale_note=SCALE_MLP + " Mean label purity over 100 random directions minus that of 8 test images drawn "
        "at random (chance).",
    ),
]


def load(cfg: Config) -> dict[str, torch.Tensor]:
    """MNIST as (N, 784) floats in [0, 1] (the paper's pixel scale), the halves P1 and P2, and the test set."""
    raw = mnist.load()
    x = {s: torch.from_numpy(raw[f"{s}_x"]).float().flatten(1) / 255.0 for s in ("train", "test")}  # (N, 784)
    y = {s: torch.from_numpy(raw[f"{s}_y"]).long() for s in ("train", "test")}
    n = cfg.n_train
    return {"x_P1": x["train"][:n], "y_P1": y["train"][:n], "x_P2": x["train"][HALF : HALF + n],
            "y_P2": y["train"][HALF : HALF + n], "x_test": x["test"], "y_test": y["test"]}  # fmt: skip


def train(cfg: Config, net: FC, x: torch.Tensor, y: torch.Tensor, lam: tuple[float, ...], seed: int) -> float:
    """Minibatch Adam on mean cross-entropy + sum_l lam_l |W_l|^2, the step size decayed linearly to 0; epochs are
    fresh random orders. Returns the mean loss of the last epoch."""
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    n, B = len(y), cfg.batch_size
    steps = cfg.epochs * (n // B)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / steps)
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        total = 0.0
        for i in range(0, n - B + 1, B):
            idx = order[i : i + B]
            loss = F.cross_entropy(net(x[idx]), y[idx]) + weight_penalty(net, lam)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += loss.item()
    return total / (n // B)


@torch.no_grad()
def error(net: FC, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(net, x) != y).float().mean())


def train_nets(cfg: Config, d: dict, seed: int, device: torch.device) -> tuple[dict[str, FC], dict[str, float]]:
    """The four nets of NETS, each trained on its half (on `device`), then returned on the CPU, where the
    attacks (scipy's L-BFGS-B) and all measurements run."""
    nets, m = {}, {}
    for i, (key, (_, hidden, half)) in enumerate(NETS.items()):
        torch.manual_seed(seed * 100 + i)  # each net's own init, independent of the others
        net = FC(hidden, cfg.activation).to(device)
        lam = cfg.lambda_mlp if hidden else (cfg.lambda_softmax,)
        x, y = d[f"x_{half}"].to(device), d[f"y_{half}"].to(device)
        m[f"{key}_train_loss"] = train(cfg, net, x, y, lam, seed * 100 + i)
        net.cpu().eval()
        m[f"{key}_train_error"] = error(net, d[f"x_{half}"], d[f"y_{half}"])
        m[f"{key}_test_error"] = error(net, d["x_test"], d["y_test"])
        nets[key] = net
    return nets, m


def attack_set(cfg: Config, nets: dict[str, FC], d: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n_attack test images (a fixed random draw) that every net classifies correctly, their labels y, and target
    labels l != y drawn uniformly from the other nine."""
    g = torch.Generator().manual_seed(cfg.data_seed)
    x, y = d["x_test"], d["y_test"]
    right = torch.stack([predict(net, x) == y for net in nets.values()]).all(0)  # (N,)
    order = torch.randperm(len(y), generator=g)
    idx = order[right[order]][: cfg.n_attack]
    l = (y[idx] + torch.randint(1, 10, (len(idx),), generator=g)) % 10
    return x[idx], y[idx], l


def amplified(x: torch.Tensor, x_adv: torch.Tensor, target_rms: float) -> torch.Tensor:
    """Table 4's "amplified" examples: r rescaled to distortion target_rms, then kept in the box [0, 1]."""
    r = x_adv - x  # (n, 784)
    return (x + r * (target_rms / rms(r).clamp_min(1e-12))[:, None]).clamp(0, 1)


def noisy(x: torch.Tensor, scale: torch.Tensor, draws: int, g: torch.Generator, same_norm: bool) -> torch.Tensor:
    """`draws` noisy copies of each image, (draws * n, 784), the noise not clipped (so at least as large as any
    clipped perturbation it is compared with). same_norm: a random direction with norm scale_i (n,); else
    Gaussian noise of stddev scale_i in every pixel."""
    xs = x.repeat(draws, 1)  # (draws * n, 784): copy d of image i is row d * n + i
    z = torch.randn(xs.shape, generator=g)
    s = scale.repeat(draws)[:, None]
    return xs + (z / z.norm(dim=1, keepdim=True) * s if same_norm else z * s)


def adversarial_metrics(cfg: Config, nets: dict[str, FC], d: dict, x, y, l) -> tuple[dict[str, float], dict]:
    """Sec. 4.1-4.2: attack each net, then feed every net each attack's examples (Tables 2 and 4), amplified
    and plain, the Gaussian-noise rows and the same-norm random-direction control."""
    m, kept = {}, {}
    g = torch.Generator().manual_seed(cfg.data_seed + 1)
    for key in NETS if cfg.attack_all else ("fc100",):
        x_adv, found, _ = minimal_adversarial(nets[key], x, l, cfg.c0, cfg.c_rounds, cfg.c_grow, cfg.lbfgs_iters)
        found &= predict(nets[key], x_adv) == l  # the attack solves in float64: keep what fools the net as it is
        r = x_adv - x
        m[f"adv_{key}_success"] = float(found.float().mean())
        m[f"adv_{key}_rms"] = float(rms(r)[found].mean()) if found.any() else float("nan")
        x_amp = amplified(x, x_adv, cfg.amplify_rms)
        m[f"amp_{key}_rms"] = float(rms(x_amp - x).mean())
        for other, net in nets.items():
            m[f"adv_{key}_on_{other}_error"] = error(net, x_adv, y)
            m[f"amp_{key}_on_{other}_error"] = error(net, x_amp, y)
        x_noise = noisy(x, r.norm(dim=1), cfg.noise_draws, g, same_norm=True)
        m[f"samenorm_{key}_error"] = error(nets[key], x_noise, y.repeat(cfg.noise_draws))
        kept[key] = dict(x_adv=x_adv, found=found)
    for s in cfg.noise_stds:
        x_noise = noisy(x, torch.full((len(y),), s), cfg.noise_draws, g, same_norm=False)
        for key, net in nets.items():
            m[f"gauss{s:g}_on_{key}_error"] = error(net, x_noise, y.repeat(cfg.noise_draws))
    return m, kept


def fgsm_metrics(cfg: Config, nets: dict[str, FC], d: dict) -> dict[str, float]:
    """Goodfellow et al. (2015): test error under x + eps sign(grad), and under noise of random sign and the
    same eps (the control), on the whole test set."""
    m, x, y = {}, d["x_test"], d["y_test"]
    g = torch.Generator().manual_seed(cfg.data_seed + 2)
    signs = torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1  # (N, 784) in {-1, +1}
    for key, net in nets.items():
        for eps in cfg.fgsm_eps:
            m[f"fgsm_{key}_eps{eps:g}_error"] = error(net, fgsm(net, x, y, eps), y)
            m[f"signnoise_{key}_eps{eps:g}_error"] = error(net, (x + eps * signs).clamp(0, 1), y)
    return m


@torch.no_grad()
def unit_metrics(cfg: Config, nets: dict[str, FC], d: dict) -> tuple[dict[str, float], dict]:
    """Sec. 3: for each hidden-layer net, the top_k test images of every unit e_i of phi(x) and of as many random
    unit-norm directions v; mean label purity of each, and the purity of top_k images drawn at random (chance)."""
    g = torch.Generator().manual_seed(cfg.data_seed + 3)
    x, y = d["x_test"], d["y_test"]
    m, shown = {}, {}
    chance = torch.stack([torch.randperm(len(y), generator=g)[: cfg.top_k] for _ in range(1000)])  # (1000, k)
    m["purity_chance"] = float(label_purity(y[chance]).mean())
    for key, net in nets.items():
        if not net.hidden:
            continue
        phi_x = net.phi(x)  # (N, n_L)
        n = phi_x.shape[1]
        v = torch.randn(n, n, generator=g)
        v = v / v.norm(dim=1, keepdim=True)  # (n, n): n random directions, one per row
        top_units = top_k_images(phi_x, torch.eye(n), cfg.top_k)  # (n, k)
        top_random = top_k_images(phi_x, v, cfg.top_k)
        m[f"purity_units_{key}"] = float(label_purity(y[top_units]).mean())
        m[f"purity_random_{key}"] = float(label_purity(y[top_random]).mean())
        shown[key] = dict(units=top_units, random=top_random)
    return m, shown


def run(cfg: Config, ctx) -> dict[str, float]:
    """Flushes denormal floats to zero while it runs: confident sigmoid nets give softmax probabilities below
    1e-38, and CPU arithmetic on such numbers is about ten times slower (the results differ by less than 1e-38)."""
    torch.set_flush_denormal(True)
    try:
        return experiment(cfg, ctx)
    finally:
        torch.set_flush_denormal(False)


def experiment(cfg: Config, ctx) -> dict[str, float]:
    d = load(cfg)
    nets, m = train_nets(cfg, d, ctx.seed, ctx.device)
    x, y, l = attack_set(cfg, nets, d)
    m["n_attacked"] = float(len(y))
    adv, kept = adversarial_metrics(cfg, nets, d, x, y, l)
    m |= adv
    m |= fgsm_metrics(cfg, nets, d)
    units, shown = unit_metrics(cfg, nets, d)
    m |= units
    figures.adversarial_examples(x, y, l, kept["fc100"], nets["fc100"], ctx.path("adversarial_examples.png"))
    figures.transfer_table(m, cfg, list(kept), ctx.path("transfer_table.png"))
    figures.distortions(x, kept, ctx.path("distortions.png"))
    figures.fgsm_curves(m, cfg, ctx.path("fgsm_error_vs_eps.png"))
    figures.units_vs_random(d["x_test"], d["y_test"], shown["fc100"], m, ctx.path("units_vs_random_directions.png"))
    return m
