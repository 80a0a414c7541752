"""Bottou (1991): stochastic against total ("batch") gradient descent on Fashion-MNIST, counted in gradient
evaluations (one epoch = N per-example gradients, whichever way they are spent).

Two stages, each training a whole grid of step sizes side by side from the same start:
  sgd   `sgd_epochs` passes of per-example updates (batch_size 1 is the paper's rule), in a fresh random
        order each pass; test and validation error at log-spaced numbers of examples processed
  gd    `gd_epochs` total-gradient updates, one per pass; errors after each
Each method then gets its own best step size of the grid, chosen on a validation split held out of the
training images (never on the test set), separately for each budget that a claim compares. Last, the two
chosen learners are run again alone, with a clock, for the wall-time figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import OneHiddenLayerNet, SoftmaxRegression, step_size, update


@dataclass
class Config:
    n_train: Annotated[int, Range(ge=1, le=59_999)] = 10000
    """training images drawn (fixed draw) from Fashion-MNIST's 60,000: one epoch = this many gradients"""
    n_val: Annotated[int, Range(ge=1, le=59_999)] = 5000
    """further training images held out to choose each method's step size"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of the training and validation images (independent of the run's seed)"""
    hidden: Annotated[int, Range(ge=0, le=1000)] = 0
    """0: multinomial logistic regression (linear softmax); > 0: tanh hidden units of a one-hidden-layer net"""
    batch_size: Annotated[int, Range(ge=1, le=59_999)] = 1
    """examples per stochastic update (1 is the paper's stochastic gradient)"""
    lrs: Annotated[tuple[float, ...], Range(gt=0, le=100, max_len=30)] = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03,
                                                                          0.1, 0.3, 1.0)
    """the fixed grid of step sizes eps0 (factor ~3 steps), tried by both methods"""
    sgd_epochs: Annotated[int, Range(ge=1, le=100)] = 1
    """passes of stochastic gradient descent"""
    gd_epochs: Annotated[int, Range(ge=1, le=5000)] = 30
    """passes (= updates) of total gradient descent"""
    lr_decay_t0: Annotated[float, Range(ge=0, le=1e9)] = 0.0
    """stochastic step eps_t = eps0 / (1 + t / t0), t counting updates; 0 keeps eps0 constant"""
    evals_per_decade: Annotated[int, Range(ge=1, le=50)] = 5
    """evaluations per factor of 10 in examples processed (SGD) or in epochs (GD), plus each epoch's end (SGD)
    and the last epoch (GD)"""
    checkpoint_every: Annotated[int, Range(ge=1, le=5000)] = 10
    """total-gradient updates between checkpoints"""
    timed_replay: bool = True
    """run the two chosen learners again alone, timing their updates, for the wall-time figure"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.n_train + self.n_val > 60_000:
            raise ValueError(f"n_train + n_val must be at most Fashion-MNIST's 60,000 training images (the two "
                             f"sets must not overlap); got {self.n_train} + {self.n_val}")
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size must be at most n_train (a batch cannot hold more than the training set); "
                             f"got batch_size={self.batch_size} with n_train={self.n_train}")


PRESETS = {
    "smoke": Config(n_train=2000, n_val=500, lrs=(0.01, 0.1), gd_epochs=3, checkpoint_every=2),
    "quick": Config(),
    "full": Config(n_train=55000, hidden=100, sgd_epochs=5, gd_epochs=200, checkpoint_every=20),
}

CLAIMS = [
    Claim(
        name="sgd_far_below_gd_after_one_epoch",
        metric="sgd_test_error_1epoch",
        minus="gd_test_error_1epoch",
        op="<",
        threshold=-0.1,
        paper_value=(
            "The paper argues that on a large, redundant training set a pass of per-example updates "
            "achieves far more than the single total-gradient update that the same pass pays for "
            "(qualitative; we could not check its figures)."
        ),
        scale_note=(
            "Fashion-MNIST, 10,000 training images and a linear softmax from zero weights (full: 55,000 images, "
            "100 hidden units); batch 1 for SGD; "
            "each method at its best step size of the grid 0.0001..1 (validation error at 1 epoch). "
            "'Far below' = at least 10 points of test error, fixed before any run."
        ),
    ),
    Claim(
        name="sgd_needs_ten_fold_fewer_gradients",
        metric="evals_ratio_gd_over_sgd",
        op=">=",
        threshold=10.0,
        paper_value="As above: same argument, stated as the computation needed to reach a given error.",
        scale_note=(
            "Gradient evaluations GD spends in 30 epochs (30 x n_train), divided by those SGD needs to "
            "first reach GD's final test error (read at log-spaced points, so SGD's count is rounded up). "
            "Ten-fold (an order of magnitude) was fixed before any run."
        ),
    ),
]


def load_data(cfg: Config, device) -> dict[str, torch.Tensor]:
    """Train/validation drawn from Fashion-MNIST's training images; its own 10,000 test images. Pixels are
    centred by the training mean and divided by one global std (standard preprocessing that lets the total
    gradient take larger steps)."""
    raw = fashion_mnist.load()
    idx = torch.randperm(len(raw["train_y"]), generator=torch.Generator().manual_seed(cfg.data_seed)).numpy()
    tr, va = idx[: cfg.n_train], idx[len(idx) - cfg.n_val :]

    def pixels(images):
        return torch.from_numpy(images).float().reshape(-1, 784) / 255.0  # (n, 784)

    x_train = pixels(raw["train_x"][tr])
    mu, sd = x_train.mean(0), x_train.std()
    d = {"x_train": (x_train - mu) / sd, "y_train": torch.from_numpy(raw["train_y"][tr]).long(),
         "x_val": (pixels(raw["train_x"][va]) - mu) / sd, "y_val": torch.from_numpy(raw["train_y"][va]).long(),
         "x_test": (pixels(raw["test_x"]) - mu) / sd, "y_test": torch.from_numpy(raw["test_y"]).long()}
    return {k: v.to(device) for k, v in d.items()}


def make_model(cfg: Config, G: int, seed: int):
    if cfg.hidden == 0:
        return SoftmaxRegression(G, 784)
    return OneHiddenLayerNet(G, 784, cfg.hidden, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def error(model, x: torch.Tensor, y: torch.Tensor, chunk: int = 5000) -> torch.Tensor:
    """Classification error per learner (G,); a learner whose outputs overflowed counts as wrong."""
    wrong = []
    for i in range(0, len(y), chunk):
        logits = model(x[i : i + chunk])  # (b, G, C)
        bad = ~torch.isfinite(logits).all(-1)  # (b, G)
        wrong.append((logits.argmax(-1) != y[i : i + chunk, None]) | bad)
    return torch.cat(wrong).float().mean(0)


def row(model, d, seen: int) -> tuple[int, torch.Tensor, torch.Tensor]:
    """One curve row: examples processed so far, validation error (G,), test error (G,)."""
    return seen, error(model, d["x_val"], d["y_val"]), error(model, d["x_test"], d["y_test"])


def log_spaced(total: int, per_decade: int) -> set[int]:
    return {n for k in range(per_decade * 10) if (n := round(10 ** (k / per_decade))) <= total}


def eval_points(cfg: Config) -> list[int]:
    """Numbers of examples processed at which the stochastic learners are evaluated."""
    ends = {cfg.n_train * e for e in range(1, cfg.sgd_epochs + 1)}
    return sorted(log_spaced(cfg.sgd_epochs * cfg.n_train, cfg.evals_per_decade) | ends)


def gd_eval_epochs(cfg: Config) -> list[int]:
    """Epochs (= updates) after which the total-gradient learners are evaluated; always 1 and the last."""
    return sorted(log_spaced(cfg.gd_epochs, cfg.evals_per_decade) | {1, cfg.gd_epochs})


def train_sgd(cfg: Config, d, model, eps0, g_order, seen=0, t=0, curve=None, on_epoch=None, clock=None) -> list:
    """Stochastic gradient descent from `seen` examples (`t` updates) on. Appends curve rows (seen, val error
    (G,), test error (G,)) at eval_points; `clock`, if given, gets the seconds spent in updates at each row."""
    N, points, curve, spent = cfg.n_train, eval_points(cfg), curve if curve is not None else [], 0.0
    nxt = sum(p <= seen for p in points)
    for _ in range(seen // N, cfg.sgd_epochs):
        order = torch.randperm(N, generator=g_order).to(d["x_train"].device)
        tic = time.perf_counter()
        for i in range(0, N, cfg.batch_size):
            j = order[i : i + cfg.batch_size]
            update(model, model.gradient(d["x_train"][j], d["y_train"][j]), step_size(eps0, t, cfg.lr_decay_t0))
            t, seen = t + 1, seen + len(j)
            if nxt < len(points) and seen >= points[nxt]:
                spent += time.perf_counter() - tic
                curve.append(row(model, d, seen))
                if clock is not None:
                    clock.append(spent)
                nxt, tic = nxt + 1, time.perf_counter()
        spent += time.perf_counter() - tic
        if on_epoch is not None:
            on_epoch(seen, t, curve)
    return curve


def train_gd(cfg: Config, d, model, eps0, start=0, curve=None, on_step=None, clock=None) -> list:
    """Total gradient descent: one update per pass over all N examples, from update `start` on. Appends
    curve rows at gd_eval_epochs; `clock` as in train_sgd."""
    curve, points, spent = curve if curve is not None else [], gd_eval_epochs(cfg), 0.0
    for k in range(start + 1, cfg.gd_epochs + 1):
        tic = time.perf_counter()
        update(model, model.gradient(d["x_train"], d["y_train"]), eps0)
        spent += time.perf_counter() - tic
        if k in points:
            curve.append(row(model, d, k * cfg.n_train))
            if clock is not None:
                clock.append(spent)
        if on_step is not None:
            on_step(k, curve)
    return curve


def stack(curve) -> dict[str, torch.Tensor]:
    return {"seen": torch.tensor([c[0] for c in curve]), "val": torch.stack([c[1] for c in curve]).cpu(),
            "test": torch.stack([c[2] for c in curve]).cpu()}


def unstack(s: dict[str, torch.Tensor] | None) -> list:
    if s is None:
        return []
    return list(zip(s["seen"].tolist(), s["val"].unbind(0), s["test"].unbind(0), strict=True))


def run(cfg: Config, ctx) -> dict[str, float]:
    d = load_data(cfg, ctx.device)
    G, N = len(cfg.lrs), cfg.n_train
    sgd_total = cfg.sgd_epochs * N
    eps0 = torch.tensor(cfg.lrs, device=ctx.device)
    g_order = torch.Generator().manual_seed(ctx.seed)
    sgd_model = make_model(cfg, G, ctx.seed + 1).to(ctx.device)  # both methods start from the same weights
    gd_model = make_model(cfg, G, ctx.seed + 1).to(ctx.device)
    st = {"seen": 0, "t": 0, "k": 0, "sgd": None, "gd": None, "gd_done": False}
    if (ck := ctx.restore()) is not None:
        _, st = ck
        g_order.set_state(st.pop("g_order"))
        sgd_model.load_state_dict(st.pop("sgd_model"))
        gd_model.load_state_dict(st.pop("gd_model"))

    def checkpoint(step: int, **progress) -> None:
        st.update(progress)
        ctx.checkpoint(step, {**st, "g_order": g_order.get_state(), "sgd_model": sgd_model.state_dict(),
                              "gd_model": gd_model.state_dict()})

    def sgd_epoch_done(seen: int, t: int, curve: list) -> None:
        sgd = stack(curve)
        log_curve(ctx, "sgd_test_error", sgd, pick_sgd(sgd, N)[0], 0, after=st["seen"])
        checkpoint(seen, seen=seen, t=t, sgd=sgd)
        bar.update(1)

    def gd_step_done(k: int, curve: list) -> None:
        bar.update(1)
        if k % cfg.checkpoint_every == 0 and k < cfg.gd_epochs:
            checkpoint(sgd_total + k * N, k=k, gd=stack(curve))

    with ctx.bar(cfg.sgd_epochs + cfg.gd_epochs, "epochs") as bar:
        bar.update(st["seen"] // N + st["k"])
        if st["seen"] < sgd_total:
            train_sgd(cfg, d, sgd_model, eps0, g_order, st["seen"], st["t"], unstack(st["sgd"]), sgd_epoch_done)
        if not st["gd_done"]:
            gd = stack(train_gd(cfg, d, gd_model, eps0, st["k"], unstack(st["gd"]), gd_step_done))
            log_curve(ctx, "gd_test_error", gd, int(gd["val"][-1].argmin()), sgd_total)
            checkpoint(sgd_total + cfg.gd_epochs * N, k=cfg.gd_epochs, gd=gd, gd_done=True)
    metrics = summarise(cfg, st["sgd"], st["gd"])
    replay = None
    if cfg.timed_replay:
        replay = timed_replay(cfg, d, ctx.seed, int(metrics["sgd_lr_index"]), int(metrics["gd_lr_index_final"]))
    bars = {c.name: c.threshold for c in CLAIMS}
    figures.time_to_accuracy(cfg, st["sgd"], st["gd"], metrics, bars, ctx.path("time_to_accuracy.png"))
    if replay:
        figures.wall_time(replay, ctx.path("wall_time.png"))
    figures.step_size_grid(cfg, st["sgd"], st["gd"], metrics, ctx.path("step_size_grid.png"))
    return metrics


def pick_sgd(sgd: dict, N: int) -> tuple[int, int]:
    """(the stochastic learner with the lowest validation error after one epoch, that curve row)."""
    p1 = int((sgd["seen"] == N).nonzero()[0, 0])
    return int(sgd["val"][p1].argmin()), p1


def log_curve(ctx, name: str, curve: dict, i: int, offset: int, after: int = -1) -> None:
    """Test error of learner i against examples processed (offset keeps one step counter for the run)."""
    for seen, err in zip(curve["seen"].tolist(), curve["test"][:, i].tolist(), strict=True):
        if seen > after:
            ctx.log(offset + seen, **{name: err})


def summarise(cfg: Config, sgd: dict, gd: dict) -> dict[str, float]:
    N = cfg.n_train
    i_sgd, p1 = pick_sgd(sgd, N)
    i_gd1, i_gdf = int(gd["val"][0].argmin()), int(gd["val"][-1].argmin())
    m = {
        "sgd_test_error_1epoch": float(sgd["test"][p1, i_sgd]),
        "gd_test_error_1epoch": float(gd["test"][0, i_gd1]),
        "sgd_lr": cfg.lrs[i_sgd],
        "sgd_lr_index": float(i_sgd),
        "gd_lr_1epoch": cfg.lrs[i_gd1],
        "sgd_test_error_final": float(sgd["test"][-1, i_sgd]),
        "gd_test_error_final": float(gd["test"][-1, i_gdf]),
        "gd_lr_final": cfg.lrs[i_gdf],
        "gd_lr_index_final": float(i_gdf),
        "gd_examples_final": float(cfg.gd_epochs * N),
    }
    # "never reached" is censored one past the budget (finite, so every metric stays valid JSON)
    reached = (sgd["test"][:, i_sgd] <= m["gd_test_error_final"]).nonzero()
    sgd_budget = cfg.sgd_epochs * N
    m["sgd_examples_to_gd_final"] = float(sgd["seen"][reached[0, 0]]) if len(reached) else float(sgd_budget + 1)
    m["evals_ratio_gd_over_sgd"] = m["gd_examples_final"] / m["sgd_examples_to_gd_final"]
    caught = (gd["test"][:, i_gdf] <= m["sgd_test_error_1epoch"]).nonzero()
    m["gd_epochs_to_sgd_1epoch_error"] = float(gd["seen"][caught[0, 0]]) / N if len(caught) else cfg.gd_epochs + 1.0
    return m


def timed_replay(cfg: Config, d, seed: int, i_sgd: int, i_gd: int) -> dict[str, tuple[list, list]]:
    """The two chosen learners again, each alone (G = 1), timing only their updates (not the evaluations)."""
    out = {}
    for name, i in (("sgd", i_sgd), ("gd", i_gd)):
        device = d["x_train"].device
        model, eps0, clock = make_model(cfg, 1, seed + 1).to(device), torch.tensor([cfg.lrs[i]], device=device), []
        if name == "sgd":
            curve = train_sgd(cfg, d, model, eps0, torch.Generator().manual_seed(seed), clock=clock)
        else:
            curve = train_gd(cfg, d, model, eps0, clock=clock)
        out[name] = (clock, [float(c[2][0]) for c in curve])
    return out
