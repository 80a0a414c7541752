"""Solla, Levin & Fleisher (1988): relative-entropy error against quadratic error, same net, same start,
same plain gradient descent, on real handwritten digits.

Four stages, each training one grid of networks side by side (every learning rate of the fixed grid times
`seeds` initial weights, full-batch gradient descent on the training set):
  normal / relative_entropy      small initial weights, the paper's error
  normal / quadratic             the same initial weights, the quadratic error
  saturated / relative_entropy   initial weights `saturated_init_scale` times larger: units start saturated
  saturated / quadratic          the same saturated weights, the quadratic error
Each error gets its own best learning rate from the grid, chosen by the very quantity compared (fewest
epochs to the target accuracy; highest final accuracy from the saturated start), so neither error is
handicapped by a step size tuned for the other. A normal-start stage stops as soon as its answer is known:
at the first epoch where some grid point's median over seeds reaches the target (every other grid point
is then slower, whatever it would have done next).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, OneOf, Range
from dlcanon.core.data import digits, fashion_mnist
from dlcanon.core.paper import Claim
from dlcanon.core.plots import new_figure, save

from .model import LayeredNet

STAGES = (("normal", "relative_entropy"), ("normal", "quadratic"),
          ("saturated", "relative_entropy"), ("saturated", "quadratic"))
SHORT = {"relative_entropy": "ce", "quadratic": "mse"}


@dataclass
class Config:
    dataset: Annotated[str, OneOf("digits", "fashion_mnist")] = "digits"
    """'digits' (scikit-learn's 8x8 digits, 64 inputs) or 'fashion_mnist' (28x28, 784 inputs)"""
    n_train: Annotated[int, Range(ge=50, le=60_000)] = 1200
    """training patterns drawn (fixed draw) from the data set; digits' remaining patterns are the test set (at
    least 50 training patterns: on fewer, the untrained net can score 0.5 by chance, see target_train_acc)"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of the training patterns (independent of the run's seed)"""
    hidden: Annotated[int, Range(ge=1, le=1024)] = 32
    """logistic hidden units H of the n_in-H-10 network"""
    lrs: Annotated[tuple[float, ...], Range(gt=0, le=1000, max_len=16)] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    """the fixed grid of learning rates eta (factor-2 steps), tried for both errors and both starts"""
    seeds: Annotated[int, Range(ge=1, le=50)] = 3
    """initial weight draws per learning rate; a grid point's score is the median over them"""
    target_train_acc: Annotated[float, Range(ge=0.5, le=1)] = 0.9
    """the training accuracy whose first epoch is compared (fixed before any run; at least 0.5: a target the
    untrained net already meets makes both times 0 and the speed-up 0/0)"""
    epochs: Annotated[int, Range(ge=1, le=30_000)] = 250
    """most full-batch gradient-descent epochs from the normal start (a grid not at target by then is censored)"""
    init_scale: Annotated[float, Range(gt=0, le=1000)] = 1.0
    """normal start: weights uniform in +-init_scale/sqrt(fan_in)"""
    saturated_init_scale: Annotated[float, Range(gt=0, le=1000)] = 20.0
    """saturated start: the same draw, scaled so that most hidden and output units start deep in their tails"""
    saturated_epochs: Annotated[int, Range(ge=1, le=10_000)] = 200
    """epochs from the saturated start; its claim compares training accuracy after them"""
    checkpoint_every: Annotated[int, Range(ge=1, le=30_000)] = 100
    """epochs between checkpoints inside a stage"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.dataset == "digits" and self.n_train > 1796:
            raise ValueError(f"n_train must be at most 1796 with dataset=digits (its 1,797 digits less at least "
                             f"one for the test set); got {self.n_train}")
        if any(a >= b for a, b in zip(self.lrs, self.lrs[1:], strict=False)):
            raise ValueError(f"lrs must be in strictly increasing order (a tie goes to the smaller learning rate); "
                             f"got {','.join(f'{v:g}' for v in self.lrs)}")
        if self.saturated_init_scale <= self.init_scale:
            raise ValueError(f"saturated_init_scale must be larger than init_scale (the saturated start is the "
                             f"normal draw scaled up); got {self.saturated_init_scale:g} <= {self.init_scale:g}")
        n_in = 64 if self.dataset == "digits" else 784
        size = len(self.lrs) * self.seeds * max(self.hidden, 10) * (self.n_train + n_in)
        if size > 200_000_000:
            raise ValueError(f"len(lrs) x seeds x max(hidden, 10) x (n_train + {n_in} inputs) must be at most "
                             f"200,000,000 (each of the grid's activation and weight tensors, about 0.8 GB); "
                             f"got {size:,}: use fewer learning rates, seeds, hidden units or patterns")


PRESETS = {
    "smoke": Config(n_train=300, lrs=(1.0, 4.0), seeds=2, epochs=20, saturated_epochs=20),
    "quick": Config(),
    "full": Config(dataset="fashion_mnist", n_train=10000, hidden=64, seeds=5, target_train_acc=0.85,
                   epochs=3000, saturated_epochs=1000, checkpoint_every=250),
}

CLAIMS = [
    Claim(
        name="relative_entropy_learns_several_fold_faster",
        metric="speedup_mse_over_ce",
        op=">=",
        threshold=2.0,
        paper_value=(
            "Abstract: on the contiguity problem, gradient descent on the relative entropy gives 'marked "
            "reductions in learning times' against the quadratic error (its per-size learning-time "
            "figures are not restated here; we could not check them)."
        ),
        scale_note=(
            "Epochs of full-batch gradient descent to 90% training accuracy, quadratic / relative entropy, "
            "each error at its own best learning rate of the grid (0.5..16, factor 2; median of 3 starts); "
            "64-32-10 logistic net on 1,200 real 8x8 digits instead of the paper's contiguity task. "
            ">= 2 reads 'several-fold' as at least halving the learning time; fixed before any run."
        ),
    ),
    Claim(
        name="quadratic_error_stalls_from_saturated_start",
        metric="saturated_train_acc_ce",
        minus="saturated_train_acc_mse",
        op=">",
        threshold=0.25,
        paper_value=(
            "The paper's explanation of the speed-up: the quadratic error's gradient carries the factor "
            "O(1 - O), so its surface is flat where outputs saturate at the wrong value; the relative "
            "entropy stays steep there (no number)."
        ),
        scale_note=(
            "Training accuracy after 200 epochs from weights 20x the normal scale, each error at its own "
            "best learning rate of the grid (median of 3 starts). Chance is 10%; a gap of 25 points "
            "(fixed before any run) separates 'stalls' from 'learns'."
        ),
    ),
]


def load_data(cfg: Config) -> dict[str, torch.Tensor]:
    """Inputs scaled to [0, 1], flattened. digits: n_train for training, the rest for test;
    Fashion-MNIST: n_train drawn from its 60,000 training images, its own 10,000 for test."""
    g = torch.Generator().manual_seed(cfg.data_seed)
    if cfg.dataset == "digits":
        raw = digits.load()
        x = torch.from_numpy(raw["x"]).reshape(-1, 64) / 16.0  # (1797, 64)
        y = torch.from_numpy(raw["y"])
        idx = torch.randperm(len(y), generator=g)
        tr, te = idx[: cfg.n_train], idx[cfg.n_train :]
        return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}
    if cfg.dataset == "fashion_mnist":
        raw = fashion_mnist.load()
        tr = torch.randperm(len(raw["train_y"]), generator=g)[: cfg.n_train].numpy()
        return {"x_train": torch.from_numpy(raw["train_x"][tr]).float().reshape(-1, 784) / 255.0,
                "y_train": torch.from_numpy(raw["train_y"][tr]).long(),
                "x_test": torch.from_numpy(raw["test_x"]).float().reshape(-1, 784) / 255.0,
                "y_test": torch.from_numpy(raw["test_y"]).long()}
    raise ValueError(f"dataset must be 'digits' or 'fashion_mnist', got {cfg.dataset!r}")


def make_net(cfg: Config, start: str, seed: int, n_in: int) -> LayeredNet:
    """The grid's networks, learning-rate-major (index = lr_index * seeds + seed_index). Every learning
    rate, and both errors, start from the same `seeds` weight draws; the saturated start is the normal
    draw scaled up, so the two starts differ only in scale."""
    g = torch.Generator().manual_seed(seed)
    scale = cfg.init_scale if start == "normal" else cfg.saturated_init_scale
    draws = LayeredNet(cfg.seeds, n_in, cfg.hidden, 10, init_scale=scale, generator=g)
    net = LayeredNet(len(cfg.lrs) * cfg.seeds, n_in, cfg.hidden, 10)
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(getattr(draws, name).repeat(len(cfg.lrs), 1, 1))
    return net


@torch.no_grad()
def accuracy(net: LayeredNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (net(x)[1].argmax(-1) == y).float().mean(-1)  # (G,)


def saturation(O: torch.Tensor, T: torch.Tensor) -> tuple[float, float]:
    """Fraction of output activities whose slope O(1 - O) is below 0.01 (|h| > 4.6), and fraction that are
    saturated on the wrong side (|O - T| > 0.99): the outputs whose quadratic-error signal has vanished."""
    return (O * (1 - O) < 0.01).float().mean().item(), ((O - T).abs() > 0.99).float().mean().item()


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load_data(cfg).items()}
    T = F.one_hot(d["y_train"], 10).float()  # (N, 10): probability 1 for the pattern's class
    eta = torch.tensor(cfg.lrs, device=ctx.device).repeat_interleave(cfg.seeds)  # (G,)
    budgets = [cfg.epochs if start == "normal" else cfg.saturated_epochs for start, _ in STAGES]
    offsets = [sum(b + 1 for b in budgets[:k]) for k in range(len(STAGES))]
    done, stage, epoch, net, acc = {}, 0, 0, None, []
    if (ck := ctx.restore()) is not None:
        _, state = ck
        done, stage, epoch = state["done"], state["stage"], state["epoch"]
        if "net" in state:  # killed inside a stage: rebuild its networks and accuracy history
            net = make_net(cfg, STAGES[stage][0], ctx.seed, d["x_train"].shape[1]).to(ctx.device)
            net.load_state_dict(state["net"])
            acc = list(state["acc"].unbind(0))

    with ctx.bar(sum(budgets), "epochs") as bar:
        bar.update(sum(budgets[:stage]) + epoch)
        for k in range(stage, len(STAGES)):
            start, kind = STAGES[k]
            if net is None:
                net = make_net(cfg, start, ctx.seed, d["x_train"].shape[1]).to(ctx.device)
                epoch, acc = 0, []
            with torch.no_grad():
                for e in range(epoch, budgets[k] + 1):
                    V, O = net(d["x_train"])
                    if e == 0:
                        done[f"saturation_{start}"] = torch.tensor(saturation(O, T))
                    acc.append((O.argmax(-1) == d["y_train"]).float().mean(-1))  # (G,)
                    if e == budgets[k] or (start == "normal" and target_known(cfg, acc)):
                        break
                    net.descend(net.backprop(d["x_train"], V, O, T, kind), eta)
                    bar.update(1)
                    if (e + 1) % cfg.checkpoint_every == 0 and e + 1 < budgets[k]:
                        ctx.checkpoint(offsets[k] + e + 1, {"done": done, "stage": k, "epoch": e + 1,
                                                            "net": net.state_dict(), "acc": torch.stack(acc)})
            done[f"acc_{k}"] = torch.stack(acc).cpu()  # (epochs + 1, G)
            done[f"test_{k}"] = accuracy(net, d["x_test"], d["y_test"]).cpu()
            log_best_curve(ctx, cfg, k, offsets[k], done[f"acc_{k}"])
            net = None
            ctx.checkpoint(offsets[k] + budgets[k], {"done": done, "stage": k + 1, "epoch": 0})
    metrics = summarise(cfg, done)
    plot(cfg, done, metrics, ctx.path("learning_curves.png"))
    plot_saturated(cfg, done, metrics, ctx.path("saturated_start.png"))
    return metrics


def by_grid(cfg: Config, values: torch.Tensor) -> torch.Tensor:
    """(..., G) -> (..., n_lrs, seeds)."""
    return values.reshape(*values.shape[:-1], len(cfg.lrs), cfg.seeds)


def epochs_to_target(cfg: Config, acc: torch.Tensor) -> torch.Tensor:
    """acc (E + 1, G) -> (n_lrs,): median over seeds of the first epoch at target; E + 1 if never (censored)."""
    hit = acc >= cfg.target_train_acc  # (E + 1, G)
    first = torch.where(hit.any(0), hit.float().argmax(0), torch.tensor(acc.shape[0]))  # (G,)
    return by_grid(cfg, first.float()).median(-1).values


def target_known(cfg: Config, acc: list[torch.Tensor]) -> bool:
    """True once some grid point's median over seeds has reached the target accuracy."""
    return bool(epochs_to_target(cfg, torch.stack(acc)).min() < len(acc))


def best_normal(cfg: Config, acc: torch.Tensor) -> tuple[int, float]:
    """The grid point with the fewest epochs to target (the smallest learning rate on ties)."""
    times = epochs_to_target(cfg, acc)
    i = int(times.argmin())
    return i, float(times[i])


def best_saturated(cfg: Config, acc: torch.Tensor) -> tuple[int, float]:
    """The grid point with the highest median training accuracy at the end of the saturated stage."""
    final = by_grid(cfg, acc[-1]).median(-1).values  # (n_lrs,)
    i = int(final.argmax())
    return i, float(final[i])


def log_best_curve(ctx, cfg: Config, k: int, offset: int, acc: torch.Tensor) -> None:
    """Curves of the stage's best grid point (median over seeds), against one global epoch counter."""
    start, kind = STAGES[k]
    i, _ = (best_normal if start == "normal" else best_saturated)(cfg, acc)
    curve = by_grid(cfg, acc)[:, i].median(-1).values  # (E + 1,)
    for e, a in enumerate(curve.tolist()):
        ctx.log(offset + e, **{f"{start}_{SHORT[kind]}_train_acc": a})


def summarise(cfg: Config, done: dict) -> dict[str, float]:
    m: dict[str, float] = {}
    for k, (start, kind) in enumerate(STAGES):
        arm = SHORT[kind]
        acc, test = done[f"acc_{k}"], by_grid(cfg, done[f"test_{k}"]).median(-1).values
        if start == "normal":
            i, m[f"epochs_to_target_{arm}"] = best_normal(cfg, acc)
            m[f"reached_target_{arm}"] = float(m[f"epochs_to_target_{arm}"] <= cfg.epochs)
            m[f"test_acc_at_target_{arm}"] = float(test[i])
        else:
            i, m[f"saturated_train_acc_{arm}"] = best_saturated(cfg, acc)
            m[f"saturated_test_acc_{arm}"] = float(test[i])
        m[f"{start}_best_lr_{arm}"] = cfg.lrs[i]
    m["speedup_mse_over_ce"] = m["epochs_to_target_mse"] / m["epochs_to_target_ce"]
    for start in ("normal", "saturated"):
        m[f"{start}_init_flat_outputs"], m[f"{start}_init_wrongly_saturated"] = done[f"saturation_{start}"].tolist()
    return m


COLORS = {"relative_entropy": "C0", "quadratic": "C3"}
NAMES = {"relative_entropy": "relative entropy", "quadratic": "quadratic error"}


def best_curve(cfg: Config, done: dict, k: int) -> tuple[float, list[float]]:
    """Stage k's best grid point: its learning rate and its training accuracy (%) per epoch, median of seeds."""
    acc = done[f"acc_{k}"]
    i, _ = (best_normal if STAGES[k][0] == "normal" else best_saturated)(cfg, acc)
    return cfg.lrs[i], (100 * by_grid(cfg, acc)[:, i].median(-1).values).tolist()


def plot(cfg: Config, done: dict, m: dict, path) -> None:
    """Left: training accuracy from the normal start, best learning rate of each error, with the claim's 2x mark.
    Right: the whole grid at the epoch where the faster error first reached the target: accuracy against eta."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(12, 4.6))
    target, t_star = 100 * cfg.target_train_acc, int(min(m["epochs_to_target_ce"], m["epochs_to_target_mse"]))
    for k, (_, kind) in enumerate(STAGES[:2]):
        eta, curve = best_curve(cfg, done, k)
        ax.plot(curve, color=COLORS[kind], label=f"{NAMES[kind]} (best η = {eta:g})")
        acc = done[f"acc_{k}"]
        if t_star < len(acc):
            at_t = 100 * by_grid(cfg, acc[t_star]).median(-1).values  # (n_lrs,)
            ax2.plot(cfg.lrs, at_t.tolist(), "o-", color=COLORS[kind], label=NAMES[kind])
    t_ce = m["epochs_to_target_ce"]
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"target: {target:g}% training accuracy")
    ax.axvline(2 * t_ce, color="black", ls=":", label=f"claim: quadratic needs ≥ 2 × {t_ce:g} epochs")
    ax.set(xlabel="epoch (full-batch gradient descent)", ylabel="training accuracy (%)", ylim=(0, 100),
           title=f"Normal start: speed-up {m['speedup_mse_over_ce']:.2f}× to {target:g}%")  # fmt: skip
    ax.legend(loc="lower right", fontsize=9)
    ax2.axhline(target, color="grey", ls="--", lw=1, label=f"target: {target:g}%")
    ax2.set_xscale("log")
    ax2.set_xticks(cfg.lrs, [f"{v:g}" for v in cfg.lrs])
    ax2.minorticks_off()
    ax2.set(xlabel="learning rate η (log scale)", ylabel=f"training accuracy at epoch {t_star} (%)", ylim=(0, 100),
            title=f"Every step size at epoch {t_star} (median of {cfg.seeds} starts)")  # fmt: skip
    ax2.legend(loc="upper right", fontsize=9)
    save(fig, path)


def plot_saturated(cfg: Config, done: dict, m: dict, path) -> None:
    """Training accuracy from the saturated start, best learning rate of each error; the claim's 25-point gap."""
    fig, ax = new_figure(figsize=(7.5, 4.6))
    for k, (_, kind) in enumerate(STAGES[2:], start=2):
        eta, curve = best_curve(cfg, done, k)
        ax.plot(curve, color=COLORS[kind], label=f"{NAMES[kind]} (best η = {eta:g})")
    ce, mse = 100 * m["saturated_train_acc_ce"], 100 * m["saturated_train_acc_mse"]
    ax.axhline(ce - 25, color="black", ls=":", label="claim: quadratic ends > 25 points below")
    ax.axhline(10, color="grey", ls="--", lw=1, label="chance: 10%")
    ax.annotate("", (cfg.saturated_epochs, mse), (cfg.saturated_epochs, ce), arrowprops=dict(arrowstyle="<->"))
    ax.annotate(f"{ce - mse:.0f} points", (cfg.saturated_epochs, (ce + mse) / 2), xytext=(-8, 0),
                textcoords="offset points", ha="right", va="center")  # fmt: skip
    scale, wrong = cfg.saturated_init_scale, 100 * m["saturated_init_wrongly_saturated"]
    ax.set(xlabel="epoch (full-batch gradient descent)", ylabel="training accuracy (%)", ylim=(0, 100),
           title=f"Saturated start (weights ×{scale:g}): {wrong:.0f}% of outputs stuck wrong")  # fmt: skip
    ax.legend(loc="lower right", fontsize=9)
    save(fig, path)
