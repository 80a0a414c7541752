"""Kingma & Ba (2015), Sec. 6: Adam against SGD with Nesterov momentum, AdaGrad and RMSProp on real MNIST.

Three objectives, as in Sec. 6.1-6.3 but smaller: L2-regularised logistic regression on the 784 pixels (step size
alpha / sqrt(t)), a ReLU network with two hidden layers, and a small convolutional net. Each optimiser gets the
same small grid of step sizes around its usual default, fixed before any run; every (optimiser, step size) arm
starts from the same theta_0 and sees the same minibatches (all arms are copies stacked in one batched model).
After a fixed number of steps we measure each arm's training objective on a fixed sample of the training set and
keep each optimiser's best grid value: the claim is that Adam's best is at most every other method's best.

A fourth run repeats the network with Adam with and without the bias corrections m_hat, v_hat (Sec. 6.4) at
beta2 = 0.99 and 0.9999 over the same step-size grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import MLP, AdaGrad, Adam, ConvNet, LogisticRegression, RMSProp, SGDNesterov, objective

OPTIMISERS = ("adam", "sgdn", "adagrad", "rmsprop")
TASKS = ("logreg", "mlp", "cnn")
BIAS_BETA2 = (0.99, 0.9999)
"""Sec. 6.4: bias correction should matter little at beta2 = 0.99 and most at beta2 close to 1."""


@dataclass
class Config:
    n_train: Annotated[int, Range(ge=256, le=60_000)] = 10_000
    """training images drawn from MNIST's 60,000 (the paper trained on all of them)"""
    n_eval: Annotated[int, Range(ge=16, le=60_000)] = 2048
    """training images (a fixed sample of the n_train) on which the final training objective is measured"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of the training images (fixed, independent of the run's seed)"""
    batch_size: Annotated[int, Range(ge=1, le=4096)] = 128
    """minibatch size, all tasks (Sec. 6: 128)"""
    logreg_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 400
    """updates of logistic regression"""
    mlp_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 200
    """updates of the multilayer network (also the length of the bias-correction runs)"""
    cnn_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 60
    """updates of the convolutional net"""
    n_alpha: Annotated[int, Range(ge=1, le=16)] = 5
    """step sizes on each optimiser's grid, log-spaced around its centre"""
    alpha_span: Annotated[float, Range(ge=0, le=6)] = 2.0
    """decades the grid spans (2: centre x 0.1 ... centre x 10)"""
    alpha_centres: Annotated[tuple[float, float, float, float], Range(gt=0, le=10)] = (1e-2, 1e-1, 3e-2, 3e-3)
    """grid centres for Adam, SGD Nesterov, AdaGrad, RMSProp (each one's best value in a wide pilot, see notes)"""
    logreg_alpha_scale: Annotated[float, Range(gt=0, le=1000)] = 10.0
    """logistic regression's grids are the centres times this, since alpha / sqrt(t) shrinks the steps (Sec. 6.1)"""
    beta1: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """Adam's first-moment decay (Algorithm 1's default)"""
    beta2: Annotated[float, Range(ge=0, lt=1)] = 0.999
    """Adam's second-moment decay (Algorithm 1's default)"""
    epsilon: Annotated[float, Range(gt=0, le=1)] = 1e-8
    """Adam's epsilon, added to sqrt(v_hat) (Algorithm 1's default)"""
    mu: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """SGD Nesterov's momentum coefficient"""
    rho: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """RMSProp's decay of the running mean square (Tieleman & Hinton's lecture value)"""
    l2: Annotated[float, Range(ge=0, le=1)] = 1e-4
    """L2 penalty (l2 / 2) ||W||^2 on the weights of logistic regression and the network (Sec. 6.1-6.2)"""
    mlp_hidden: Annotated[int, Range(ge=1, le=4096)] = 100
    """units in each of the network's two hidden layers (the paper: 1000)"""
    p_drop: Annotated[float, Range(ge=0, lt=1)] = 0.0
    """dropout on the network's hidden units while training (Fig. 2a uses dropout; 0 is Fig. 2b's setting)"""
    cnn_side: Annotated[int, Range(ge=7, le=28)] = 14
    """side of the CNN's input: MNIST shrunk by area averaging (28 keeps full size)"""
    cnn_channels: Annotated[tuple[int, int], Range(ge=1, le=512)] = (6, 12)
    """feature maps of the CNN's two convolution stages (the paper: 64, 64, 128 in three stages)"""
    cnn_hidden: Annotated[int, Range(ge=1, le=4096)] = 64
    """ReLU units of the CNN's fully connected layer (the paper: 1000)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.n_eval > self.n_train:
            raise ValueError(f"n_eval ({self.n_eval}) must not exceed n_train ({self.n_train})")
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed n_train ({self.n_train})")
        if self.cnn_side < 7:
            raise ValueError("cnn_side must be at least 7 (two 3x3 poolings with stride 2)")


PRESETS = {
    "smoke": Config(
        n_train=512,
        n_eval=256,
        logreg_steps=4,
        mlp_steps=3,
        cnn_steps=2,
        n_alpha=2,
        mlp_hidden=16,
        cnn_channels=(2, 4),
        cnn_hidden=8,
    ),
    "quick": Config(),
    "full": Config(
        n_train=60_000,
        n_eval=10_000,
        logreg_steps=20_000,
        mlp_steps=20_000,
        cnn_steps=10_000,
        n_alpha=7,
        alpha_span=3.0,
        mlp_hidden=1000,
        p_drop=0.5,
        cnn_side=28,
        cnn_channels=(32, 64),
        cnn_hidden=256,
    ),
}


def _scale_note(task: str) -> str:
    return {
        "logreg": "10,000 MNIST digits, 400 minibatches of 128 (~5 epochs) vs the paper's 60,000 and 45 epochs; ",
        "mlp": "784-100-100-10 without dropout (the paper: 1000-1000 with dropout), 10,000 digits, 200 "
        "minibatches (~2.6 epochs) vs 200 epochs; ",
        "cnn": "MNIST at 14x14 (the paper: CIFAR-10, whitened), conv 6-12 + 64 hidden (the paper: 64-64-128 + "
        "1000, dropout), 60 minibatches vs 45 epochs; ",
    }[task] + (
        "each optimiser's step size is the best of 5 log-spaced values spanning 2 decades around its best value "
        "in a 9-value pilot on seed 0 (the paper: a dense grid); final training objective on 2,048 fixed "
        "training digits. The bound 0 is the claim's own direction, fixed before any run."
    )


PAPER_SAYS = {
    "logreg": "Fig. 1 (MNIST logistic regression, 45 epochs): 'Adam yields similar convergence as SGD with "
    "momentum and both converge faster than Adagrad' (Sec. 6.1); RMSProp is not in this panel.",
    "mlp": "Fig. 2a (MNIST 784-1000-1000-10 with dropout, 200 epochs): 'Adam shows better convergence than other "
    "methods' (AdaGrad, RMSProp, SGDNesterov, AdaDelta) (Sec. 6.2).",
    "cnn": "Fig. 3 (CIFAR-10 c64-c64-c128-1000): Adam and SGD Nesterov converge considerably faster than AdaGrad; "
    "'Adam shows marginal improvement over SGD with momentum' (Sec. 6.3); RMSProp is not in this figure.",
}

CLAIMS = [
    Claim(
        name=f"{task}_adam_le_{o}",
        metric=f"{task}_adam_loss",
        minus=f"{task}_{o}_loss",
        op="<=",
        threshold=0.0,
        paper_value=PAPER_SAYS[task],
        scale_note=_scale_note(task),
    )
    for task in TASKS
    for o in OPTIMISERS[1:]
] + [
    Claim(
        name="bias_correction_helps_at_beta2_9999",
        metric="bias_b2_0.9999_without_loss",
        minus="bias_b2_0.9999_with_loss",
        op=">",
        threshold=0.0,
        paper_value=(
            "Fig. 4 (VAE, beta2 in 0.99/0.999/0.9999, log10 alpha in -5..-1): without bias correction beta2 close "
            "to 1 leads to instabilities; the best results came with small 1 - beta2 and bias correction (Sec. 6.4)."
        ),
        scale_note=(
            "Our MNIST network of the mlp claims instead of the paper's VAE, beta1 = 0.9, 200 minibatches; each "
            "variant at its best step size on the same grid as Adam's; the bound 0 is the paper's direction."
        ),
        known_fail=(
            "Each variant tuned on its own: without the corrections a smaller step size nearly makes up for the "
            "inflated early steps. Measured (loss without - with, best alpha each) on quick seeds 0/1/2: +0.018, "
            "+0.0005, -0.013; the uncorrected variant's best alpha was the grid's smallest (1e-3) on all three "
            "seeds, so its true optimum may lie below the grid. Not tried: a wider grid, longer runs, the paper's VAE. "
            "What does hold at this scale is the same-alpha gap (bias_correction_matters_more_near_1)."
        ),
    ),
    Claim(
        name="bias_correction_matters_more_near_1",
        metric="bias_gap_0.9999",
        minus="bias_gap_0.99",
        op=">",
        threshold=0.0,
        paper_value=(
            "Sec. 5 and 6.4: the missing bias correction 'matters most in case of a value of beta2 close to 1', "
            "where it leads to very large step sizes and often divergence."
        ),
        scale_note=(
            "gap = mean over the step-size grid of log(loss without / loss with correction), at beta2 = 0.9999 "
            "minus the same at 0.99; diverged runs count at the loss of a uniform guess. Bound fixed in advance."
        ),
    ),
]


# ---- data ----


def load_data(cfg: Config) -> dict[str, torch.Tensor]:
    """n_train MNIST training digits as (n, 784) floats in [0, 1], their labels, and the CNN's shrunk copy."""
    raw = mnist.load()
    g = torch.Generator().manual_seed(cfg.data_seed)
    idx = torch.randperm(len(raw["train_y"]), generator=g)[: cfg.n_train].numpy()
    x = torch.from_numpy(raw["train_x"][idx]).float().div_(255.0)  # (n, 28, 28)
    x_cnn = F.interpolate(x[:, None], size=(cfg.cnn_side, cfg.cnn_side), mode="area")  # (n, 1, s, s)
    return {"x": x.view(len(idx), 784), "x_cnn": x_cnn.flatten(1), "y": torch.from_numpy(raw["train_y"][idx]).long()}


def alpha_grid(cfg: Config, centre: float) -> torch.Tensor:
    """n_alpha step sizes, log-spaced over alpha_span decades around `centre`. (n_alpha,)"""
    if cfg.n_alpha == 1:
        return torch.tensor([centre])
    exps = torch.linspace(-cfg.alpha_span / 2, cfg.alpha_span / 2, cfg.n_alpha, dtype=torch.float64)
    return (centre * 10.0**exps).float()


# ---- one task: every (optimiser, step size) arm trained at once ----


def build_model(task: str, cfg: Config, G: int, g: torch.Generator):
    if task == "logreg":
        return LogisticRegression(G, g)
    if task == "cnn":
        return ConvNet(G, g, *cfg.cnn_channels, cfg.cnn_hidden, side=cfg.cnn_side)
    return MLP(G, g, cfg.mlp_hidden, cfg.p_drop)


def make_arms(task: str, cfg: Config, params: list[torch.Tensor]) -> tuple[list, list[str], torch.Tensor]:
    """One optimiser per arm group, each on its slice of the stacked copies. Returns (optimisers, group names,
    step size of every copy)."""
    n, decay = cfg.n_alpha, task == "logreg"
    scale = cfg.logreg_alpha_scale if decay else 1.0
    opts, names, alphas = [], [], []
    groups = [(o, c * scale) for o, c in zip(OPTIMISERS, cfg.alpha_centres, strict=True)] if task != "bias" else []
    if task == "bias":
        groups = [(f"b2_{b2}_{bc}", cfg.alpha_centres[0]) for b2 in BIAS_BETA2 for bc in ("with", "without")]
    for k, (name, centre) in enumerate(groups):
        a = alpha_grid(cfg, centre)
        view = [p.detach()[k * n : (k + 1) * n] for p in params]
        opts.append(make_optimiser(name, cfg, view, a, decay))
        names.append(name)
        alphas.append(a)
    return opts, names, torch.cat(alphas)


def make_optimiser(name: str, cfg: Config, params, alpha: torch.Tensor, decay: bool):
    if name == "adam":
        return Adam(params, alpha, cfg.beta1, cfg.beta2, cfg.epsilon, sqrt_decay=decay)
    if name == "sgdn":
        return SGDNesterov(params, alpha, cfg.mu, sqrt_decay=decay)
    if name == "adagrad":  # AdaGrad's sum of g^2 already anneals its steps like 1/sqrt(t) (Sec. 5): no decay
        return AdaGrad(params, alpha)
    if name == "rmsprop":
        return RMSProp(params, alpha, cfg.rho, sqrt_decay=decay)
    _, b2, bc = name.split("_")  # the bias-correction ablation: "b2_<beta2>_<with|without>"
    return Adam(params, alpha, cfg.beta1, float(b2), cfg.epsilon, bias_correction=bc == "with")


def train_task(task: str, cfg: Config, data: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Train every arm of `task` for its budget on one shared minibatch sequence. Returns the step sizes (G,), the
    minibatch objective per step (steps, G) and the final objective on the fixed evaluation sample (G,)."""
    groups = 4 if task != "bias" else 2 * len(BIAS_BETA2)
    G = groups * cfg.n_alpha
    g = torch.Generator().manual_seed(seed * 1009 + TASKS_ALL.index(task))
    model = build_model("mlp" if task == "bias" else task, cfg, G, g)
    params = list(model.parameters())
    opts, _, alphas = make_arms(task, cfg, params)
    steps = {"logreg": cfg.logreg_steps, "mlp": cfg.mlp_steps, "bias": cfg.mlp_steps, "cnn": cfg.cnn_steps}[task]
    x, y = data["x_cnn" if task == "cnn" else "x"], data["y"]
    l2 = 0.0 if task == "cnn" else cfg.l2
    curve = torch.empty(steps, G)
    order = minibatch_order(len(y), cfg.batch_size, steps, g)
    model.train()
    for t in range(steps):
        j = order[t]
        f = objective(model, x[j], y[j], l2)  # (G,): each copy's own objective
        for p in params:
            p.grad = None
        f.sum().backward()  # copies share nothing, so each gets the gradient of its own f
        for k, opt in enumerate(opts):
            opt.step([p.grad[k * cfg.n_alpha : (k + 1) * cfg.n_alpha] for p in params])
        curve[t] = f.detach()
    model.eval()
    with torch.no_grad():
        final = objective(model, x[: cfg.n_eval], y[: cfg.n_eval], l2)
    return {"alpha": alphas, "curve": curve, "final": final}


TASKS_ALL = (*TASKS, "bias")


def minibatch_order(n: int, batch_size: int, steps: int, g: torch.Generator) -> torch.Tensor:
    """Indices of `steps` minibatches: shuffled epochs, each cut into full batches. (steps, batch_size)"""
    per_epoch = n // batch_size
    epochs = math.ceil(steps / per_epoch)
    perms = [torch.randperm(n, generator=g)[: per_epoch * batch_size] for _ in range(epochs)]
    return torch.cat(perms).view(-1, batch_size)[:steps]


# ---- the run ----


def run(cfg: Config, ctx) -> dict[str, float]:
    data = load_data(cfg)
    results: dict[str, dict[str, torch.Tensor]] = {}
    start = 0
    if (ck := ctx.restore()) is not None:
        start, results = ck
    with ctx.bar(len(TASKS_ALL) - start, "tasks") as bar:
        for i, task in enumerate(TASKS_ALL[start:], start):
            results[task] = train_task(task, cfg, data, ctx.seed)
            log_curves(ctx, task, cfg, results[task])
            bar.update(1)
            ctx.checkpoint(i + 1, results)
    metrics = summarise(cfg, results)
    figures.curves(results, cfg, metrics, ctx.path("training_loss.png"))
    figures.grid(results, cfg, ctx.path("step_size_grid.png"))
    figures.bias_correction(results["bias"], cfg, ctx.path("bias_correction.png"))
    return metrics


def best(final: torch.Tensor) -> tuple[float, int]:
    """Lowest finite final objective of a group and its index on the grid (a diverged copy is never best)."""
    f = torch.where(torch.isfinite(final), final, torch.full_like(final, math.inf))
    k = int(f.argmin())
    return float(f[k]), k


def log_curves(ctx, task: str, cfg: Config, res: dict[str, torch.Tensor]) -> None:
    """Every 10th step (and the last): each group's minibatch objective at its best step size."""
    n, curve = cfg.n_alpha, res["curve"]
    names = OPTIMISERS if task != "bias" else [f"b2_{b2}_{bc}" for b2 in BIAS_BETA2 for bc in ("with", "without")]
    cols = {name: k * n + best(res["final"][k * n : (k + 1) * n])[1] for k, name in enumerate(names)}
    for t in sorted({*range(0, len(curve), 10), len(curve) - 1}):
        ctx.log(t + 1, **{f"{task}_{name}_train_objective": float(curve[t, c]) for name, c in cols.items()})


def summarise(cfg: Config, results: dict) -> dict[str, float]:
    n, metrics = cfg.n_alpha, {}
    for task in TASKS:
        res = results[task]
        for k, o in enumerate(OPTIMISERS):
            loss, j = best(res["final"][k * n : (k + 1) * n])
            metrics[f"{task}_{o}_loss"] = loss
            metrics[f"{task}_{o}_alpha"] = float(res["alpha"][k * n + j])
            metrics[f"{task}_{o}_alpha_at_grid_edge"] = float(j in (0, n - 1) and n > 1)
    res, chance = results["bias"], math.log(10.0)  # a diverged copy counts at the loss of a uniform guess
    for k, (b2, bc) in enumerate((b2, bc) for b2 in BIAS_BETA2 for bc in ("with", "without")):
        loss, j = best(res["final"][k * n : (k + 1) * n])
        metrics[f"bias_b2_{b2}_{bc}_loss"] = loss
        metrics[f"bias_b2_{b2}_{bc}_alpha"] = float(res["alpha"][k * n + j])
    for i, b2 in enumerate(BIAS_BETA2):
        f = res["final"][2 * i * n : (2 * i + 2) * n].view(2, n)
        f = torch.nan_to_num(f, nan=chance, posinf=chance).clamp(max=chance)  # no worse than a uniform guess
        metrics[f"bias_gap_{b2}"] = float((f[1].log() - f[0].log()).mean())
    return metrics
