"""Ioffe & Szegedy (2015), Sec. 4.1 (Fig. 1) and Sec. 3.3: the MNIST toy network with and without BN.

Four arms train side by side, step by step, from the same initial weights on the same minibatches of real MNIST
(28x28 binary images, 60 per minibatch, softmax cross-entropy, plain SGD):
  plain, bn        the network of Sec. 4.1 without / with BN before each sigmoid, at step size lr;
  plain_xk, bn_xk  the same two at lr_factor * lr (the paper's BN-x5 / BN-x30 raise Inception's step size).
Every eval_every steps we measure each arm's test accuracy (BN with its moving-average population statistics,
as Sec. 3.1 does to track accuracy while training) and, for plain and bn, the 15th/50th/85th percentiles of the
input to each sigmoid of the last hidden layer over a fixed probe set of test digits (Fig. 1(b, c)), in the
training network (for bn: normalised with the probe's own statistics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import MLP

ARMS = ("plain", "bn", "plain_xk", "bn_xk")
QUANTILES = (0.15, 0.50, 0.85)  # Fig. 1(b, c): {15, 50, 85}th percentiles


@dataclass
class Config:
    steps: Annotated[int, Range(ge=1, le=200_000)] = 3000
    """SGD steps per arm (the paper trained 50,000)"""
    batch_size: Annotated[int, Range(ge=2, le=60_000)] = 60
    """examples per minibatch, m (the paper's 60); BN needs m >= 2"""
    lr: Annotated[float, Range(gt=0, le=100)] = 2.0
    """SGD step size of the plain and bn arms (the paper does not give its MNIST step size)"""
    lr_factor: Annotated[float, Range(gt=0, le=1000)] = 5.0
    """the plain_xk and bn_xk arms use lr_factor * lr (the paper: 5x made plain Inception diverge, BN-x5 trained)"""
    init_std: Annotated[float, Range(gt=0, le=10)] = 0.01
    """standard deviation of the Gaussian initial weights ("small random Gaussian values", no figure given)"""
    momentum: Annotated[float, Range(gt=0, le=1)] = 0.1
    """weight of the newest minibatch in BN's moving averages of E[x] and Var[x] (torch's default)"""
    eval_every: Annotated[int, Range(ge=1, le=100_000)] = 100
    """steps between measurements of test accuracy and of the sigmoid-input percentiles"""
    n_test: Annotated[int, Range(ge=2, le=10_000)] = 10_000
    """test digits for the accuracy curves (MNIST has 10,000)"""
    probe_size: Annotated[int, Range(ge=2, le=10_000)] = 1000
    """the first test digits, whose sigmoid inputs give the percentiles of Fig. 1(b, c)"""
    target_accuracy: Annotated[float, Range(gt=0, lt=1)] = 0.90
    """the fixed test accuracy whose first crossing is compared between arms (set before any quick run)"""
    large_lr_arms: bool = True
    """train the plain_xk and bn_xk arms (the larger-step-size claims need them)"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) must not exceed steps ({self.steps})")
        if self.probe_size > self.n_test:
            raise ValueError(f"probe_size ({self.probe_size}) must not exceed n_test ({self.n_test})")


PRESETS = {
    "smoke": Config(steps=40, eval_every=20, n_test=500, probe_size=200),
    "quick": Config(),
    "full": Config(steps=50_000),
}

PAPER_FIG1 = "Sec. 4.1, Fig. 1(a): 'Batch Normalization helps the network train faster and achieve higher accuracy'"
SPEEDUP_BOUND = 3.0
DRIFT_BOUND = 2.0

CLAIMS = [
    Claim(
        name="bn_reaches_target_in_fewer_steps",
        metric="speedup_to_target",
        op=">=",
        threshold=SPEEDUP_BOUND,
        paper_value=(
            f"{PAPER_FIG1} (MNIST curves only, no step count printed); on Inception BN-Baseline matched the "
            "72.2% of Inception in less than half the steps, and BN-x5 in 14 times fewer (Sec. 4.2.2)."
        ),
        scale_note=(
            "Steps the plain net needs to first reach 90% test accuracy divided by the steps the BN net needs, "
            "same lr, init and minibatches; 'several-fold' fixed as >= 3 before any run. A net that never gets "
            "there counts the whole run (a lower bound). quick: 3,000 of the paper's 50,000 steps."
        ),
    ),
    Claim(
        name="bn_sigmoid_input_stable",
        metric="drift_ratio",
        op=">=",
        threshold=DRIFT_BOUND,
        paper_value=(
            "Sec. 4.1, Fig. 1(b, c): without BN the distribution of a typical last-layer sigmoid input "
            "'change[s] significantly over time, both in their mean and the variance'; with BN it is 'much "
            "more stable'."
        ),
        scale_note=(
            "Drift of a unit = range over training of its median sigmoid input, in units of its mean 15-85 "
            "percentile width; per net the median over the 100 last-layer units; plain / BN >= 2 fixed before "
            "any run. Percentiles on 1,000 test digits, every 100 steps of 3,000 in quick."
        ),
        known_fail=(
            "Right direction, short of the bound: plain / BN drift 1.73, 1.69, 1.68 on quick seeds 0/1/2 (plain "
            "1.11, 1.11, 1.10 widths; BN 0.65, 0.66, 0.65). Most of BN's drift is its first 100 steps, while beta "
            "and gamma settle at the large step size; without that first point (a measure found after the runs, "
            "not claimed) the ratio is 2.9, 2.8, 2.3. Tried: only this setup (lr 2, init std 0.01); the threshold "
            "and the measure were kept as fixed before the runs."
        ),
    ),
    Claim(
        name="bn_trains_at_larger_lr",
        metric="bn_xk_test_accuracy",
        minus="bn_test_accuracy",
        op=">=",
        threshold=-0.01,
        paper_value=(
            "Sec. 4.2.2: BN-x5 and BN-x30 (5x and 30x Inception's step size) trained faster than BN-Baseline "
            "(72.2% in 2.1M and 2.7M steps vs 13.3M) and BN-x30 reached 74.8%."
        ),
        scale_note=(
            "Final test accuracy of the BN net at 5x the step size minus that at 1x: at most 1 point lower "
            "('still trains'), bound fixed before any run; MNIST toy instead of Inception."
        ),
    ),
    Claim(
        name="plain_worse_at_larger_lr",
        metric="plain_xk_test_accuracy",
        minus="plain_test_accuracy",
        op="<",
        threshold=0.0,
        paper_value=(
            "Sec. 4.2.2: 'The same learning rate increase with original Inception caused the model parameters "
            "to reach machine infinity' (at 5x)."
        ),
        scale_note=(
            "Final test accuracy of the plain net at 5x the step size minus that at 1x: below 0 (it does "
            "worse or diverges); MNIST toy network instead of Inception."
        ),
    ),
]


def load_digits(n_test: int) -> dict[str, torch.Tensor]:
    """Real MNIST as the paper's '28x28 binary image': a pixel is 1 where its grey level is >= 128 of 255."""
    raw = mnist.load()

    def binary(x):
        return (torch.from_numpy(x).reshape(len(x), 784) >= 128).float()  # (n, 784)

    return {
        "x_train": binary(raw["train_x"]),
        "y_train": torch.from_numpy(raw["train_y"]).long(),
        "x_test": binary(raw["test_x"][:n_test]),
        "y_test": torch.from_numpy(raw["test_y"][:n_test]).long(),
    }


def batch_order(n: int, steps: int, m: int, seed: int) -> torch.Tensor:
    """(steps, m) example indices: fresh random passes through the n training digits, shared by every arm."""
    g = torch.Generator().manual_seed(seed)
    epochs = math.ceil(steps * m / n)
    return torch.cat([torch.randperm(n, generator=g) for _ in range(epochs)])[: steps * m].view(steps, m)


def make_arms(cfg: Config, seed: int) -> dict[str, tuple[MLP, float]]:
    """The arms with their step sizes. Every arm draws its W from the same generator seed: one initial W."""
    arms = {}
    for name in ARMS if cfg.large_lr_arms else ARMS[:2]:
        g = torch.Generator().manual_seed(seed)
        net = MLP(bn=name.startswith("bn"), init_std=cfg.init_std, momentum=cfg.momentum, fast=True, generator=g)
        arms[name] = (net, cfg.lr * (cfg.lr_factor if name.endswith("_xk") else 1.0))
    return arms


def sgd_step(net: MLP, lr: float, x: torch.Tensor, y: torch.Tensor) -> None:
    """One plain SGD step on the mean softmax cross-entropy of the minibatch."""
    params = list(net.parameters())
    loss = F.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            p.add_(g, alpha=-lr)


def train_chunk(arms, d, order: torch.Tensor, start: int, stop: int) -> None:
    """Steps start..stop-1, every arm on the same minibatch at each step."""
    for s in range(start, stop):
        j = order[s]
        x, y = d["x_train"][j], d["y_train"][j]  # (m, 784), (m,)
        for net, lr in arms.values():
            sgd_step(net, lr, x, y)


@torch.no_grad()
def measure(arms, d, probe_size: int) -> tuple[dict[str, float], torch.Tensor]:
    """Test accuracy of every arm, in inference mode (BN with its moving averages E[x], Var[x]); and (2, 3, 100)
    percentiles of the last hidden layer's sigmoid inputs of the plain and bn arms over the probe digits."""
    acc, q = {}, []
    for name, (net, _) in arms.items():
        net.eval()
        acc[name] = (net(d["x_test"]).argmax(1) == d["y_test"]).float().mean().item()
        net.train()
        if name in ("plain", "bn"):
            x = last_sigmoid_inputs(net, d["x_test"][:probe_size])  # (probe, 100)
            q.append(torch.quantile(x, torch.tensor(QUANTILES, device=x.device), dim=0).cpu())  # (3, 100)
    return acc, torch.stack(q)


def last_sigmoid_inputs(net: MLP, x: torch.Tensor) -> torch.Tensor:
    """Inputs of the last hidden layer's sigmoids in the training network (Sec. 4.1 measures N, and N^tr_BN:
    BN with the probe batch's own statistics); the population statistics are put back untouched."""
    stats = {k: v.clone() for k, v in net.state_dict().items() if k.endswith(("E_x", "Var_x", "batches_seen"))}
    inputs, _ = net.sigmoid_inputs(x)
    net.load_state_dict(stats, strict=False)
    return inputs[-1]


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load_digits(cfg.n_test).items()}
    order = batch_order(len(d["y_train"]), cfg.steps, cfg.batch_size, ctx.seed + 1).to(ctx.device)
    arms = make_arms(cfg, ctx.seed)
    for net, _ in arms.values():
        net.to(ctx.device)
    acc0, q0 = measure(arms, d, cfg.probe_size)
    history = {"step": torch.zeros(1), "acc": torch.tensor([[acc0[a] for a in arms]]), "q": q0[None].cpu()}
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        for name, (net, _) in arms.items():
            net.load_state_dict(state[name])
        history = state["history"]

    with ctx.bar(cfg.steps - start, "steps") as bar:
        while start < cfg.steps:
            stop = min(start + cfg.eval_every, cfg.steps)
            train_chunk(arms, d, order, start, stop)
            acc, q = measure(arms, d, cfg.probe_size)
            history = {
                "step": torch.cat([history["step"], torch.tensor([float(stop)])]),
                "acc": torch.cat([history["acc"], torch.tensor([[acc[a] for a in arms]])]),
                "q": torch.cat([history["q"], q[None].cpu()]),
            }
            ctx.log(stop, **{f"{a}_test_accuracy": v for a, v in acc.items()})
            bar.update(stop - start, plain=acc["plain"], bn=acc["bn"])
            start = stop
            ctx.checkpoint(stop, {**{n: net.state_dict() for n, (net, _) in arms.items()}, "history": history})
    metrics = final_metrics(cfg, ctx, list(arms), history)
    for name, (net, _) in arms.items():  # 0 where SGD blew a weight up to inf / nan ("machine infinity")
        metrics[f"{name}_weights_finite"] = float(all(p.isfinite().all() for p in net.parameters()))
    return metrics


def steps_to(step: torch.Tensor, acc: torch.Tensor, target: float) -> tuple[float, bool]:
    """First measured step at which acc >= target; (last step, False) if it never gets there."""
    hit = (acc >= target).nonzero()
    return (float(step[hit[0, 0]]), True) if len(hit) else (float(step[-1]), False)


def drift(q: torch.Tensor) -> torch.Tensor:
    """(T, 3, K) percentiles over time -> (K,) drift: range over time of the median, in units of the mean
    15th-85th percentile width."""
    q50, width = q[:, 1], (q[:, 2] - q[:, 0]).mean(0)  # (T, K), (K,)
    return (q50.max(0).values - q50.min(0).values) / width.clamp_min(1e-12)


def final_metrics(cfg: Config, ctx, names: list[str], history: dict) -> dict[str, float]:
    step, acc, q = history["step"], history["acc"], history["q"]
    metrics = {}
    for i, name in enumerate(names):
        metrics[f"{name}_test_accuracy"] = float(acc[-1, i])
        metrics[f"{name}_best_test_accuracy"] = float(acc[:, i].max())
        metrics[f"{name}_steps_to_target"], reached = steps_to(step, acc[:, i], cfg.target_accuracy)
        metrics[f"{name}_reached_target"] = float(reached)
    metrics["speedup_to_target"] = metrics["plain_steps_to_target"] / max(metrics["bn_steps_to_target"], 1.0)
    D = {name: drift(q[:, i]) for i, name in enumerate(("plain", "bn"))}
    for i, (name, d) in enumerate(D.items()):
        metrics[f"{name}_drift"] = float(d.median())
        # post hoc, no claim: the same drift without the initial point (the first eval_every steps' move)
        metrics[f"{name}_drift_after_first"] = float(drift(q[1:, i]).median()) if len(q) > 2 else math.nan
    for suffix in ("", "_after_first"):
        metrics[f"drift_ratio{suffix}"] = metrics[f"plain_drift{suffix}"] / max(metrics[f"bn_drift{suffix}"], 1e-12)
    figures.fig1(step, acc, q, D, names, cfg, metrics, ctx.path("fig1_mnist.png"))
    if cfg.large_lr_arms:
        figures.learning_rates(step, acc, names, cfg, ctx.path("larger_lr.png"))
    return metrics
