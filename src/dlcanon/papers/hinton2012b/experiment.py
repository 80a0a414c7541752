"""Hinton et al. (2012): dropout on a fully connected net, on real MNIST digits.

Three copies of one net, from the same initial weights, are trained side by side on the same digits with the
paper's recipe (Appendix A.1: minibatches of 100, cross-entropy, momentum rising from 0.5 to 0.99 with the step
scaled by (1 - momentum), a learning rate that shrinks every epoch, an L2 bound on each hidden unit's incoming
weights):
    plain           no dropout
    dropout         half of the hidden units omitted on each training case
    dropout_input   also a fifth of the pixels omitted
Each is tested as the paper tests it, as the mean network. Then the dropout net is tested as an ensemble: k thinned
nets (one draw of the masks each), their predictions combined by a geometric and by an arithmetic mean, against the
mean network on the same test digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import DropoutNet, arithmetic_mean, geometric_mean

ARMS = ("plain", "dropout", "dropout_input")


@dataclass
class Config:
    n_train: Annotated[int, Range(ge=10, le=60_000)] = 2000
    """training digits, drawn at random from MNIST's training set less the validation digits (the paper: 60,000)"""
    n_val: Annotated[int, Range(ge=0, le=10_000)] = 10_000
    """validation digits: the last n_val of MNIST's 60,000 training digits, never trained on (used to pick the
    step sizes; the paper reports test error only)"""
    n_test: Annotated[int, Range(ge=1, le=10_000)] = 10_000
    """test digits: the first n_test of MNIST's 10,000 (the paper used all 10,000)"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of the training digits (fixed, independent of the run's seed)"""
    hidden: Annotated[tuple[int, ...], Range(ge=1, le=4096, max_len=4)] = (256, 256)
    """hidden layer sizes (the paper: 800-800, 1200-1200, 2000-2000 and 1200-1200-1200)"""
    p_hidden: Annotated[float, Range(ge=0.0, lt=1.0)] = 0.5
    """probability of omitting a hidden unit on a training case, in both dropout arms (the paper: 0.5)"""
    p_input: Annotated[float, Range(ge=0.0, lt=1.0)] = 0.2
    """probability of omitting a pixel, in the dropout_input arm (the paper: 0.2)"""
    epochs: Annotated[int, Range(ge=1, le=5000)] = 60
    """passes through the training digits, each arm (the paper: 3,000)"""
    batch_size: Annotated[int, Range(ge=1, le=60_000)] = 100
    """training cases per update (the paper: 100)"""
    lr_plain: Annotated[float, Range(gt=0.0, le=100.0)] = 6.0
    """initial learning rate epsilon_0 of the plain arm (chosen on the validation digits)"""
    lr_dropout: Annotated[float, Range(gt=0.0, le=100.0)] = 10.0
    """initial learning rate epsilon_0 of both dropout arms (the paper: 10)"""
    lr_decay: Annotated[float, Range(gt=0.0, le=1.0)] = 0.998
    """epsilon_e = epsilon_0 * lr_decay^e after e epochs (the paper: 0.998)"""
    momentum_start: Annotated[float, Range(ge=0.0, lt=1.0)] = 0.5
    """momentum in the first epoch (the paper: 0.5)"""
    momentum_end: Annotated[float, Range(ge=0.0, lt=1.0)] = 0.99
    """momentum reached after momentum_epochs, then held (the paper: 0.99)"""
    momentum_epochs: Annotated[int, Range(ge=1, le=5000)] = 20
    """epochs over which the momentum rises linearly (the paper: 500 of its 3,000)"""
    max_norm: Annotated[float, Range(ge=0.0, le=1e6)] = 15.0
    """bound l on the squared length of each hidden unit's incoming weight vector; 0: no bound (the paper: 15)"""
    init_std: Annotated[float, Range(gt=0.0, le=10.0)] = 0.1
    """initial weights ~ N(0, init_std^2) (the paper: 0.01)"""
    ensemble_k: Annotated[int, Range(ge=1, le=1000)] = 50
    """thinned nets sampled for the ensemble test"""
    ensemble_n_test: Annotated[int, Range(ge=1, le=10_000)] = 2000
    """test digits (the first ones) on which the ensemble and the mean network are compared"""
    eval_every: Annotated[int, Range(ge=1, le=5000)] = 10
    """epochs between two points of the train/test error curves"""
    curve_n: Annotated[int, Range(ge=1, le=60_000)] = 2000
    """digits (the first ones of the training and of the test digits) on which the curves are measured"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.n_train + self.n_val > 60_000:
            raise ValueError(f"n_train + n_val ({self.n_train} + {self.n_val}) exceeds MNIST's 60,000 training digits")
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed n_train ({self.n_train})")
        if self.curve_n > self.n_train or self.curve_n > self.n_test:
            raise ValueError(f"curve_n ({self.curve_n}) must not exceed n_train or n_test")
        if self.ensemble_n_test > self.n_test:
            raise ValueError(f"ensemble_n_test ({self.ensemble_n_test}) must not exceed n_test ({self.n_test})")


PRESETS = {
    "smoke": Config(
        n_train=300,
        n_val=500,
        n_test=500,
        hidden=(64, 64),
        epochs=2,
        ensemble_k=4,
        ensemble_n_test=200,
        eval_every=1,
        curve_n=300,
    ),
    "quick": Config(),
    "full": Config(
        n_train=60_000,
        n_val=0,
        hidden=(800, 800),
        epochs=500,
        init_std=0.01,
        lr_plain=3.0,
        lr_decay=0.99,
        momentum_epochs=100,
        ensemble_k=100,
        ensemble_n_test=10_000,
        curve_n=10_000,
    ),
}

PAPER_ERRORS = "best published standard feed-forward net 160 test errors; 50% hidden dropout with L2 constraints "
PAPER_ERRORS += "about 130; adding 20% dropout of the pixels about 110 (of MNIST's 10,000 test digits)"
QUICK_SCALE = (
    "2,000 training digits, 784-256-256-10 logistic units, 60 epochs of the paper's recipe with the schedule "
    "compressed (momentum ramp over 20 epochs, not 500 of 3,000); dropout nets at the paper's step size 10, the "
    "plain net at 6, its best on 10,000 validation digits; all 10,000 test digits"
)

TRIED = (
    "Tried, choosing on the 10,000 validation digits (seed 0): dropout step sizes 5, 10, 20 and plain 0.5-10, "
    "init std 0.01-0.1, per-epoch decay 0.9-0.998, minibatches of 20, hidden layers of 512, 1,000 and 5,000 "
    "training digits; none gives dropout the lead within the quick budget. The dropout nets are still improving "
    "when it ends (train error 0.4-1.4% vs 0 for the plain net). A custom run of this preset with epochs=200 and "
    "momentum_epochs=40 (4,000 updates per net, seed 0) gives test errors plain 738, hidden dropout 689 (-6.6%, "
    "z 2.6), + pixel dropout 563 (-23.7%, z 9.1). The full preset (60,000 digits, 784-800-800-10, 500 epochs, "
    "one GPU) is where the claim is meant to hold; it has not been run."
)

CLAIMS = [
    Claim(
        name="dropout_fewer_errors",
        metric="dropout_rel_error_reduction",
        op=">=",
        threshold=0.10,
        paper_value=PAPER_ERRORS + ": 160 -> 130 is 19% fewer errors.",
        scale_note=(
            "Relative reduction 1 - dropout_test_error / plain_test_error of the identical net trained the same "
            "epochs without dropout. The bound, 10%, is about half the paper's 19%, fixed before any run. "
            + QUICK_SCALE
        ),
        known_fail=(
            "Quick, seeds 0/1/2: -0.037, +0.021, -0.202 (test errors plain 723/760/733, hidden dropout "
            "750/744/881): at 1,200 updates per net, half-dropped hidden units have not caught up with a plain net "
            "whose step size was tuned too. " + TRIED
        ),
    ),
    Claim(
        name="dropout_beyond_noise",
        metric="dropout_vs_plain_mcnemar_z",
        op=">",
        threshold=3.0,
        paper_value="As above (160 -> about 130 errors); the paper gives no significance test.",
        scale_note=(
            "McNemar z on the paired test predictions, (only-plain-wrong - only-dropout-wrong) / sqrt(their sum); "
            "z > 3 (one-sided p ~ 0.001) says the gap is not test-set sampling noise. Fixed before any run."
        ),
        known_fail="Quick, seeds 0/1/2: z = -1.4, +0.8, -6.8 (the dropout net is not ahead). " + TRIED,
    ),
    Claim(
        name="input_dropout_fewer_errors",
        metric="dropout_input_rel_error_reduction",
        op=">=",
        threshold=0.15,
        paper_value=PAPER_ERRORS + ": 160 -> 110 is 31% fewer errors.",
        scale_note=(
            "Relative reduction for the arm with 20% input and 50% hidden dropout; the bound, 15%, is about half "
            "the paper's 31%, fixed before any run. " + QUICK_SCALE
        ),
        known_fail=(
            "Quick, seeds 0/1/2: 0.068, 0.112, 0.102 (test errors 674/675/658 against 723/760/733; McNemar z = "
            "2.5, 4.2, 3.9): the direction holds and is significant on two seeds, the size falls short. " + TRIED
        ),
    ),
    Claim(
        name="input_dropout_adds",
        metric="dropout_input_test_error",
        minus="dropout_test_error",
        op="<",
        threshold=0.0,
        paper_value=PAPER_ERRORS + ": dropping pixels too takes about 130 errors to about 110.",
        scale_note="Same nets, same step size and epochs; only the 20% pixel dropout differs. " + QUICK_SCALE,
    ),
    Claim(
        name="mean_net_matches_ensemble",
        metric="mean_vs_ensemble_rel_gap",
        op="<=",
        threshold=0.10,
        paper_value=(
            "p. 2: at test time the 'mean network' (all hidden units, outgoing weights halved); with one hidden "
            "layer and a softmax output it is exactly the geometric mean of the predictions of all 2^N dropout "
            "networks (wording from quotations of the paper, not checked against a copy)."
        ),
        scale_note=(
            "|mean-net error - error of the geometric mean of k sampled thinned nets| / the ensemble's error, "
            "on the first 2,000 test digits, k = 50, for the 50%-hidden-dropout net with two hidden layers (where "
            "the equality is only approximate). The bound, 10% of the error, is fixed before any run."
        ),
    ),
    Claim(
        name="ensemble_beats_single_thinned_net",
        metric="ensemble_test_error",
        minus="thinned_net_test_error",
        op="<",
        threshold=0.0,
        paper_value="Dropout as model averaging (p. 2): averaging many networks reduces test error.",
        scale_note=(
            "Geometric mean of k = 50 thinned nets vs the average error of those nets taken one at a time, on the "
            "first 2,000 test digits."
        ),
    ),
    Claim(
        name="mean_net_beats_single_thinned_net",
        metric="mean_net_ens_test_error",
        minus="thinned_net_test_error",
        op="<",
        threshold=0.0,
        paper_value="p. 2: the mean network stands in for the average of the dropout networks.",
        scale_note="Mean network vs the average error of k = 50 thinned nets, on the first 2,000 test digits.",
    ),
    Claim(
        name="mean_net_higher_log_prob",
        metric="mean_net_log_prob_gain",
        op=">",
        threshold=0.0,
        paper_value=(
            "p. 2: the mean network 'is guaranteed to assign a higher log probability to the correct answer than "
            "the mean of the log probabilities assigned by the individual dropout networks' (one hidden layer; "
            "wording from quotations of the paper, not checked against a copy)."
        ),
        scale_note=(
            "log p(correct) of the mean net minus the mean over k = 50 thinned nets, averaged over the first 2,000 "
            "test digits; with two hidden layers the guarantee does not hold exactly, so this is measured."
        ),
    ),
    Claim(
        name="dropout_input_beats_160_errors",
        metric="dropout_input_test_errors",
        op="<",
        threshold=160.0,
        paper_value=PAPER_ERRORS + ".",
        scale_note=(
            "full preset only: all 60,000 training digits, 784-800-800-10, 500 epochs (the paper: 3,000); fewer "
            "errors than the best published standard feed-forward net, the comparison the paper draws."
        ),
        judged_on=("full",),
    ),
]


def load_digits(cfg: Config) -> dict[str, torch.Tensor]:
    """Real MNIST as (n, 784) grey levels in [0, 1]. The training digits are drawn with a fixed seed from the
    first 60,000 - n_val; the validation digits are the last n_val; the test digits the first n_test."""
    raw = mnist.load()
    pool = 60_000 - cfg.n_val
    idx = torch.randperm(pool, generator=torch.Generator().manual_seed(cfg.data_seed))[: cfg.n_train].numpy()
    parts = {"train": (raw["train_x"][idx], raw["train_y"][idx]),
             "val": (raw["train_x"][pool:], raw["train_y"][pool:]),
             "test": (raw["test_x"][: cfg.n_test], raw["test_y"][: cfg.n_test])}  # fmt: skip
    out = {}
    for split, (x, y) in parts.items():
        out[f"x_{split}"] = torch.from_numpy(x).float().reshape(len(x), 784) / 255.0  # (n, 784)
        out[f"y_{split}"] = torch.from_numpy(y).long()
    return out


def schedule(cfg: Config, epoch: int, lr0: float) -> tuple[float, float]:
    """Appendix A.1: epsilon_e = epsilon_0 * decay^e; momentum rises linearly from its start to its end value."""
    ramp = min(epoch / cfg.momentum_epochs, 1.0)
    return lr0 * cfg.lr_decay**epoch, cfg.momentum_start + (cfg.momentum_end - cfg.momentum_start) * ramp


def train_epoch(net: DropoutNet, velocity, x, y, lr: float, momentum: float, cfg: Config, g) -> float:
    """One pass in a random order, returns the mean training loss. Each update (Appendix A.1):
    v <- momentum * v - (1 - momentum) * lr * dL/dw,   w <- w + v,   then the max-norm bound."""
    perm = torch.randperm(len(x), generator=g, device=x.device)
    params = list(net.parameters())
    total = 0.0
    for i in range(0, len(perm), cfg.batch_size):
        j = perm[i : i + cfg.batch_size]
        loss = F.cross_entropy(net.train_logits(x[j], g), y[j])  # mean over the minibatch
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for w, v, dw in zip(params, velocity, grads, strict=True):
                v.mul_(momentum).add_(dw, alpha=-(1.0 - momentum) * lr)
                w.add_(v)
            if cfg.max_norm > 0:
                net.max_norm_(cfg.max_norm)
        total += loss.item() * len(j)
    return total / len(x)


@torch.no_grad()
def wrong(net: DropoutNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(n,) bool: the mean network's mistakes."""
    return net(x).argmax(1) != y


def mcnemar_z(a_wrong: torch.Tensor, b_wrong: torch.Tensor) -> float:
    """Paired test on the same digits: z = (n_a - n_b) / sqrt(n_a + n_b), n_a = digits only net a gets wrong."""
    n_a = (a_wrong & ~b_wrong).sum().item()
    n_b = (b_wrong & ~a_wrong).sum().item()
    return (n_a - n_b) / max(n_a + n_b, 1) ** 0.5


def make_arms(cfg: Config, seed: int, device) -> dict[str, DropoutNet]:
    """Three copies of one net with the same initial weights; only their dropout probabilities differ."""
    sizes = (784, *cfg.hidden, 10)
    probs = {"plain": (0.0, 0.0), "dropout": (0.0, cfg.p_hidden), "dropout_input": (cfg.p_input, cfg.p_hidden)}
    return {arm: DropoutNet(sizes, p_in, p_h, cfg.init_std, torch.Generator().manual_seed(seed)).to(device)
            for arm, (p_in, p_h) in probs.items()}  # fmt: skip


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load_digits(cfg).items()}
    arms = make_arms(cfg, ctx.seed, ctx.device)
    velocity = {arm: [torch.zeros_like(w) for w in net.parameters()] for arm, net in arms.items()}
    gens = {arm: torch.Generator(ctx.device).manual_seed(ctx.seed + 1 + i) for i, arm in enumerate(ARMS)}
    history = torch.zeros(0, 1 + 2 * len(ARMS))  # per curve point: epoch, then train and test error of each arm
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        for arm, net in arms.items():
            net.load_state_dict(state[arm])
            velocity[arm] = list(state[f"v_{arm}"])
            gens[arm].set_state(state[f"g_{arm}"])
        history = state["history"]

    with ctx.bar(cfg.epochs - start, "epochs") as bar:
        for epoch in range(start, cfg.epochs):
            logs = {}
            for arm, net in arms.items():
                lr, momentum = schedule(cfg, epoch, cfg.lr_plain if arm == "plain" else cfg.lr_dropout)
                logs[f"{arm}_train_loss"] = train_epoch(
                    net, velocity[arm], d["x_train"], d["y_train"], lr, momentum, cfg, gens[arm]
                )
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                row = [epoch + 1.0]
                for arm, net in arms.items():
                    for split in ("train", "test"):
                        x, y = d[f"x_{split}"][: cfg.curve_n], d[f"y_{split}"][: cfg.curve_n]
                        logs[f"{arm}_{split}_error"] = wrong(net, x, y).float().mean().item()
                        row.append(logs[f"{arm}_{split}_error"])
                history = torch.cat([history, torch.tensor([row])])
            ctx.log(epoch + 1, **logs)
            bar.update(1, plain=logs["plain_train_loss"], dropout=logs["dropout_train_loss"])
            state = {"history": history}
            for arm, net in arms.items():
                state |= {arm: net.state_dict(), f"v_{arm}": velocity[arm], f"g_{arm}": gens[arm].get_state()}
            ctx.checkpoint(epoch + 1, state)
    return final_metrics(cfg, ctx, arms, d, history)


@torch.no_grad()
def ensemble_test(net: DropoutNet, x: torch.Tensor, y: torch.Tensor, k: int, g) -> dict:
    """k thinned nets (each one draw of the masks, shared by every test digit) against the mean network.
    Returns the logits (k, B, C) and the mean net's logits (B, C), for the metrics and the figure."""
    logits = torch.stack([net(x, net.sample_masks((), g, x.device)) for _ in range(k)])  # (k, B, C)
    return {"thinned": logits, "mean": net(x), "y": y}


def ensemble_curve(e: dict) -> dict[str, torch.Tensor]:
    """Test error of the geometric and arithmetic means of the first j thinned nets, j = 1..k."""
    logp = torch.log_softmax(e["thinned"], -1)  # (k, B, C)
    j = torch.arange(1, len(logp) + 1, device=logp.device)[:, None, None]  # (k, 1, 1)
    geo = logp.cumsum(0) / j  # (k, B, C): log of the unnormalised geometric mean; argmax needs no normalising
    arith = logp.exp().cumsum(0) / j  # (k, B, C)
    y = e["y"]
    return {"k": j.flatten().float(), "geometric": (geo.argmax(-1) != y).float().mean(1),
            "arithmetic": (arith.argmax(-1) != y).float().mean(1)}  # fmt: skip


def ensemble_metrics(e: dict) -> dict[str, float]:
    """Errors of the mean net, of the geometric and arithmetic means of the k thinned nets and of one thinned net
    on average; log p(correct) of the mean net and of one thinned net on average; the claim's relative gap."""
    y, thinned = e["y"], e["thinned"]
    rows = torch.arange(len(y), device=y.device)
    err = lambda p: (p.argmax(-1) != y).float().mean().item()
    logp_thinned = torch.log_softmax(thinned, -1)[:, rows, y]  # (k, B): log p(correct) of each thinned net
    logp_mean = torch.log_softmax(e["mean"], -1)[rows, y]  # (B,)
    m = {
        "mean_net_ens_test_error": err(e["mean"]),
        "ensemble_test_error": err(geometric_mean(thinned)),
        "ensemble_arith_test_error": err(arithmetic_mean(thinned)),
        "thinned_net_test_error": (thinned.argmax(-1) != y).float().mean().item(),
        "mean_net_log_prob": logp_mean.mean().item(),
        "thinned_net_log_prob": logp_thinned.mean().item(),
    }
    m["mean_net_log_prob_gain"] = m["mean_net_log_prob"] - m["thinned_net_log_prob"]
    gap = abs(m["mean_net_ens_test_error"] - m["ensemble_test_error"])
    m["mean_vs_ensemble_rel_gap"] = gap / max(m["ensemble_test_error"], 1.0 / len(y))
    return m


def final_metrics(cfg: Config, ctx, arms: dict[str, DropoutNet], d, history) -> dict[str, float]:
    metrics, mistakes = {}, {}
    for arm, net in arms.items():
        for split in ("train", "val", "test"):
            if len(d[f"y_{split}"]) == 0:
                continue
            w = wrong(net, d[f"x_{split}"], d[f"y_{split}"])
            metrics[f"{arm}_{split}_error"] = w.float().mean().item()
            mistakes[arm, split] = w
        metrics[f"{arm}_test_errors"] = float(mistakes[arm, "test"].sum().item())
    for arm in ("dropout", "dropout_input"):
        metrics[f"{arm}_rel_error_reduction"] = 1.0 - metrics[f"{arm}_test_error"] / max(
            metrics["plain_test_error"], 1.0 / cfg.n_test
        )
        metrics[f"{arm}_vs_plain_mcnemar_z"] = mcnemar_z(mistakes["plain", "test"], mistakes[arm, "test"])
    n = cfg.ensemble_n_test
    g = torch.Generator(ctx.device).manual_seed(ctx.seed + 100)
    e = ensemble_test(arms["dropout"], d["x_test"][:n], d["y_test"][:n], cfg.ensemble_k, g)
    metrics |= ensemble_metrics(e)
    metrics["ensemble_k"] = float(cfg.ensemble_k)
    figures.errors(history, metrics, cfg, ctx.path("errors.png"))
    figures.ensemble(ensemble_curve(e), metrics, cfg, ctx.path("ensemble.png"))
    figures.features(arms, ctx.path("features.png"))
    return metrics
