"""Rosenblatt (1958) on real digits: convergence within Novikoff's bound, one-vs-rest accuracy, more A-units.

Four stages, each a function below, run in order and checkpointed after each (and after every Fashion-MNIST
epoch, the only long loop):
  1. pairs    every pair of digit classes: train one R-unit until an error-free sweep; count its mistakes
              and compare them with (R / gamma)^2, gamma being the margin of a max-margin separator;
  2. ovr      ten R-units (one per digit) on raw pixels, chosen among by mutual inhibition (argmax);
  3. a_units  the photoperceptron: binary S-points -> fixed random A-units -> the same ten R-units,
              for a growing number of A-units;
  4. fashion  (full preset) the one-vs-rest perceptron on Fashion-MNIST.
Several presentation orders ("machines") are trained side by side in one batched loop.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import digits, fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import AssociationLayer, Perceptron, step


@dataclass
class Config:
    eta: Annotated[float, Range(ge=1e-4, le=1e4)] = 1.0
    """Learning rate of the error-correction rule (weights start at zero, so it never changes a response)."""
    n_pairs: Annotated[int, Range(ge=1, le=45)] = 45
    """How many of the 45 digit pairs (0-1, 0-2, ..., 8-9, in that order) get the convergence test."""
    pair_max_epochs: Annotated[int, Range(ge=1, le=20_000)] = 200
    """Give up on a pair after this many sweeps without an error-free one (counts as not converged)."""
    svm_C: Annotated[float, Range(ge=10, le=1e8)] = 1e4
    """C of the linear SVM whose separator gives the margin gamma (large C: hard margin; below about 10 the
    soft margin misses separators of some pairs, which then drop out of the convergence claims)."""
    test_fraction: Annotated[float, Range(ge=0.01, le=0.99)] = 1 / 3
    """Share of each digit class held out for testing (a fixed stratified split)."""
    split_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """Seed of the train/test split, fixed on purpose: the split does not move with the run's seed."""
    n_orders: Annotated[int, Range(ge=1, le=100)] = 5
    """Independent presentation orders trained side by side; accuracies are averaged over them."""
    ovr_epochs: Annotated[int, Range(ge=1, le=1000)] = 20
    """Sweeps through the digit training set for the one-vs-rest machines."""
    s_threshold: Annotated[float, Range(gt=0, le=1)] = 0.5
    """An S-point (pixel scaled to 0..1) is on when its intensity reaches this level."""
    n_A: Annotated[tuple[int, ...], Range(ge=1, le=20_000, min_len=2, max_len=10)] = (100, 300, 1000, 3000)
    """Numbers of A-units tried; the first and the last are compared by a claim."""
    a_excitatory: Annotated[int, Range(ge=1, le=64)] = 6
    """x: excitatory connections from random S-points to each A-unit."""
    a_inhibitory: Annotated[int, Range(ge=0, le=63)] = 3
    """y: inhibitory connections from random S-points to each A-unit."""
    a_theta: Annotated[float, Range(gt=-64, le=64)] = 2.0
    """theta: an A-unit fires when (on excitatory) - (on inhibitory) origin points reach this."""
    fashion: bool = False
    """Also train the one-vs-rest perceptron on Fashion-MNIST (60k train / 10k test)."""
    fashion_epochs: Annotated[int, Range(ge=1, le=200)] = 10
    """Sweeps through Fashion-MNIST's training set."""
    fashion_orders: Annotated[int, Range(ge=1, le=30)] = 3
    """Presentation orders trained side by side on Fashion-MNIST."""
    fashion_limit: Annotated[int, Range(ge=0, le=60_000)] = 0
    """Train on only the first this-many Fashion-MNIST images (0: all 60,000); smoke uses a few."""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if list(self.n_A) != sorted(set(self.n_A)):
            raise ValueError(f"n_A must list numbers of A-units in strictly increasing order (the claim compares the "
                             f"first with the last); got {','.join(map(str, self.n_A))}")
        if self.a_excitatory + self.a_inhibitory > 64:
            raise ValueError(f"a_excitatory + a_inhibitory must be at most 64, the number of S-points (8x8 "
                             f"pixels); got {self.a_excitatory} + {self.a_inhibitory}")
        if not -self.a_inhibitory < self.a_theta <= self.a_excitatory:
            raise ValueError(f"a_theta must lie in (-a_inhibitory, a_excitatory] = ({-self.a_inhibitory}, "
                             f"{self.a_excitatory}], or every A-unit always fires or never does; got {self.a_theta}")


PRESETS = {
    "smoke": Config(
        n_pairs=3,
        pair_max_epochs=30,
        n_orders=2,
        ovr_epochs=2,
        n_A=(20, 60),
        fashion=True,
        fashion_epochs=2,
        fashion_orders=2,
        fashion_limit=500,
    ),
    "quick": Config(),
    "full": Config(n_orders=10, ovr_epochs=50, pair_max_epochs=2000, n_A=(100, 300, 1000, 3000, 10000), fashion=True),
}

CLAIMS = [
    Claim(
        name="zero_training_errors",
        metric="pairs_train_errors_final",
        op="<=",
        threshold=0,
        paper_value="the 1958 paper argues learning qualitatively; the perceptron convergence theorem "
        "(Rosenblatt 1962, Block 1962, Novikoff 1962) says the error-correction rule reaches "
        "zero errors on any linearly separable set in finitely many corrections",
        scale_note="every pair of sklearn 8x8 digit classes (all 1,797 images), each checked separable by "
        "a linear SVM; summed training errors of the final weights over all pairs",
    ),
    Claim(
        name="novikoff_bound",
        metric="pairs_max_mistake_ratio",
        op="<=",
        threshold=1,
        paper_value="Novikoff (1962): corrections <= (R/gamma)^2, R = max ||x||, gamma = a separating "
        "margin; not in the 1958 paper",
        scale_note="max over separable digit pairs of mistakes / (R/gamma_svm)^2 on bias-augmented "
        "inputs; gamma_svm (the achieved margin of a max-margin SVM) is a valid margin",
    ),
    Claim(
        name="one_vs_rest_digits",
        metric="ovr_test_acc",
        op=">=",
        threshold=0.90,
        paper_value="the paper has no digit benchmark; a perceptron on sklearn's 8x8 digits is known to "
        "reach ~0.93 held-out accuracy (DATA.md asks for >= 0.90)",
        scale_note="ten R-units on 64 pixels, fixed stratified 1/3 test split, mean over presentation "
        "orders after a fixed number of sweeps (last weights, no averaging or pocket)",
    ),
    Claim(
        name="photoperceptron_learns",
        metric="a_units_large_test_acc",
        op=">=",
        threshold=0.90,
        paper_value="Rosenblatt: a system of randomly connected A-units learns to give the right response "
        "to stimulus classes (qualitative)",
        scale_note="binary S-points (8x8 digits) -> largest A-layer tried (fixed random threshold "
        "units) -> ten R-units; held-out accuracy, mean over orders",
    ),
    Claim(
        name="more_a_units_help",
        metric="a_units_large_test_acc",
        minus="a_units_small_test_acc",
        op=">",
        threshold=0,
        paper_value="Rosenblatt: the probability of a correct response to new stimuli of a learned class "
        "rises toward 1 as the number of A-units grows (his analysis, not a measured curve)",
        scale_note="held-out accuracy with the largest minus the smallest A-layer tried, same S-points, same training",
    ),
    Claim(
        name="one_vs_rest_fashion",
        metric="fashion_ovr_test_acc",
        op=">=",
        threshold=0.70,
        paper_value="not in the paper; linear sklearn models (Perceptron, logistic regression) reach about "
        "0.75-0.84 on Fashion-MNIST (Xiao et al. 2017 benchmark, figures recalled)",
        scale_note="full preset only: ten R-units on 784 pixels, 60k train / 10k test, mean over orders",
        judged_on=("full",),
    ),
]


# ---- the learning procedure: stimuli presented one at a time, all machines in step -------------------------


def orders(seed: int, tag: int, epoch: int, M: int, n: int, device) -> torch.Tensor:
    """(n, M) presentation orders for one sweep, one column per machine, derived from (seed, stage, epoch):
    resumable without any RNG state."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + tag * 10_007 + epoch)
    return torch.rand(M, n, generator=g).argsort(dim=1).T.contiguous().to(device)  # (M, n) -> (n, M)


def present_epoch(
    machine: Perceptron,
    X: torch.Tensor,
    T: torch.Tensor,
    seq: torch.Tensor,
    eta: float,
    present: torch.Tensor | None = None,
) -> torch.Tensor:
    """One sweep, stimulus after stimulus. X (N, d) stimuli, T (N, n_R) targets, seq (n, M): which stimulus
    each machine sees at each step, present (N,) optional 0/1 (padding). Returns corrections per machine (M,).
    """
    E = torch.empty(*seq.shape, T.shape[1], device=X.device)  # (n, M, n_R) errors, kept to count corrections
    with torch.no_grad():
        for i in range(seq.shape[0]):
            k = seq[i]  # (M,)
            E[i] = machine.learn(X[k], T[k], eta, None if present is None else present[k])
    return E.abs().sum(dim=(0, 2))


def accuracy(machine: Perceptron, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of X whose winning R-unit is the right class, per machine (M,)."""
    return (machine.classify(X) == y).float().mean(dim=1)


def one_vs_rest(machine, Xtr, ytr, Xte, yte, epochs, eta, seed, tag, start=0):
    """Sweep after sweep of one-vs-rest training; yields (epoch, corrections (M,), test acc (M,), train acc)."""
    T = torch.nn.functional.one_hot(ytr, machine.W.shape[1]).float()  # (N, n_R)
    for epoch in range(start, epochs):
        seq = orders(seed, tag, epoch, machine.W.shape[0], len(ytr), Xtr.device)  # (N, M)
        mistakes = present_epoch(machine, Xtr, T, seq, eta)
        yield epoch, mistakes, accuracy(machine, Xte, yte), accuracy(machine, Xtr, ytr)


# ---- stage 1: every separable pair, mistakes against Novikoff's bound ----------------------------------------


def margin(X: np.ndarray, s: np.ndarray, C: float) -> float:
    """gamma = min_i s_i u . x_i for the unit-norm u of a max-margin linear SVM (x bias-augmented, s = +-1).

    Whatever the solver's accuracy, the margin that this u actually achieves is a valid gamma for the bound;
    gamma <= 0 means the SVM found no separator.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm = LinearSVC(
            C=C, loss="hinge", fit_intercept=False, dual=True, tol=1e-6, max_iter=100_000, random_state=0
        ).fit(X, s)
    norm = np.linalg.norm(svm.coef_)
    if norm == 0:  # the SVM gave up on separating: no margin
        return 0.0
    return float((s * (X @ (svm.coef_.ravel() / norm))).min())


def pair_data(X, y, pairs, device):
    """Padded per-pair stimuli: X (P, n_max, d), targets (P, n_max, 1) with class a -> 1, present (P, n_max)."""
    sets = [(X[(y == a) | (y == b)], (y[(y == a) | (y == b)] == a).float()) for a, b in pairs]
    n_max = max(len(t) for _, t in sets)
    Xp = torch.zeros(len(pairs), n_max, X.shape[1], device=device)
    Tp = torch.zeros(len(pairs), n_max, 1, device=device)
    Pp = torch.zeros(len(pairs), n_max, device=device)
    for k, (x, t) in enumerate(sets):
        Xp[k, : len(t)], Tp[k, : len(t), 0], Pp[k, : len(t)] = x, t, 1.0
    return Xp, Tp, Pp


def stage_pairs(cfg, ctx, X, y, state):
    pairs = list(itertools.combinations(range(10), 2))[: cfg.n_pairs]
    Xp, Tp, Pp = pair_data(X, y, pairs, ctx.device)
    P, n_max = Pp.shape
    machine = Perceptron(X.shape[1], n_R=1, M=P).to(ctx.device)
    mistakes = torch.zeros(P, device=ctx.device)
    converged_at = torch.full((P,), -1, dtype=torch.long)
    offset = torch.arange(P, device=ctx.device) * n_max  # pair k's stimuli are rows k*n_max ... of the flat table
    X_flat, T_flat, P_flat = Xp.reshape(P * n_max, -1), Tp.reshape(P * n_max, 1), Pp.reshape(P * n_max)
    for epoch in range(cfg.pair_max_epochs):
        seq = orders(ctx.seed, 1, epoch, P, n_max, ctx.device) + offset  # (n_max, P) rows of the flat table
        sweep = present_epoch(machine, X_flat, T_flat, seq, cfg.eta, P_flat)
        mistakes += sweep
        newly = (sweep.cpu() == 0) & (converged_at < 0)
        converged_at[newly] = epoch + 1
        state["step"] += 1
        ctx.log(state["step"], pairs_corrections=float(sweep.sum()), pairs_converged=float((converged_at > 0).sum()))
        if bool((converged_at > 0).all()):
            break
    wrong = ((machine.respond(Xp) != Tp)[..., 0].float() * Pp).sum(dim=1).cpu()  # (P,) final training errors
    Xa = torch.cat([Xp, torch.ones_like(Xp[..., :1])], dim=-1).cpu().numpy()  # (P, n_max, d+1) with bias
    rows = []
    for k, (a, b) in enumerate(pairs):
        n = int(Pp[k].sum())
        xa, s = Xa[k, :n], 2 * Tp[k, :n, 0].cpu().numpy() - 1
        R, gamma = float(np.linalg.norm(xa, axis=1).max()), margin(xa.astype(np.float64), s, cfg.svm_C)
        bound = (R / gamma) ** 2 if gamma > 0 else math.nan
        rows.append(
            dict(
                pair=f"{a}-{b}",
                R=R,
                gamma=gamma,
                bound=bound,
                mistakes=float(mistakes[k]),
                errors=float(wrong[k]),
                epochs=int(converged_at[k]),
            )
        )
    state["history"]["pairs"] = rows
    state["metrics"].update(pair_metrics(rows))


def pair_metrics(rows):
    sep = [r for r in rows if r["gamma"] > 0]
    ratios = [r["mistakes"] / r["bound"] for r in sep]
    out = {
        "pairs_n": len(rows),
        "pairs_separable": len(sep),
        "pairs_converged": sum(r["epochs"] > 0 for r in rows),
        "pairs_train_errors_final": sum(r["errors"] for r in sep) if sep else math.nan,
        "pairs_max_mistake_ratio": max(ratios) if ratios else math.nan,
        "pairs_mean_mistake_ratio": float(np.mean(ratios)) if ratios else math.nan,
        "pairs_max_epochs": max((r["epochs"] for r in rows), default=-1),
    }
    first = rows[0]
    out.update(
        {
            f"pair_{first['pair'].replace('-', '_')}_{k}": float(first[k])
            for k in ("mistakes", "bound", "gamma", "R", "epochs")
        }
    )
    return out


# ---- stages 2-4: one-vs-rest on pixels, on A-units, on Fashion-MNIST ------------------------------------------


def split(y: torch.Tensor, fraction: float, seed: int):
    """A fixed stratified split: the first `fraction` of each class (in a seeded shuffle) is held out."""
    g = torch.Generator().manual_seed(seed)
    test = []
    for c in y.unique():
        idx = torch.nonzero(y.cpu() == c).ravel()
        idx = idx[torch.randperm(len(idx), generator=g)]
        test.append(idx[: round(fraction * len(idx))])
    test = torch.cat(test)
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[test] = False
    return torch.nonzero(mask).ravel().to(y.device), test.to(y.device)


def train_ovr(cfg, ctx, state, F, y, tag, name):
    """Ten R-units on features F; logs a curve under `name`; returns (final test acc, train acc) per machine."""
    tr, te = split(y, cfg.test_fraction, cfg.split_seed)
    machine = Perceptron(F.shape[1], n_R=10, M=cfg.n_orders).to(ctx.device)
    curve, last = [], None
    for _, mistakes, test_acc, train_acc in one_vs_rest(
        machine, F[tr], y[tr], F[te], y[te], cfg.ovr_epochs, cfg.eta, ctx.seed, tag
    ):
        state["step"] += 1
        curve.append(float(test_acc.mean()))
        ctx.log(state["step"], **{f"{name}_test_acc": curve[-1], f"{name}_corrections": float(mistakes.mean())})
        last = test_acc.cpu(), train_acc.cpu()
    state["history"][name] = curve
    return last


def stage_ovr(cfg, ctx, X, y, state):
    test_acc, train_acc = train_ovr(cfg, ctx, state, X, y, tag=2, name="ovr")
    state["metrics"].update(
        ovr_test_acc=float(test_acc.mean()),
        ovr_test_acc_min=float(test_acc.min()),
        ovr_test_acc_std=float(test_acc.std()) if len(test_acc) > 1 else 0.0,
        ovr_train_acc=float(train_acc.mean()),
    )
    state["metrics"]["ovr_test_acc:std"] = state["metrics"]["ovr_test_acc_std"]  # the claim's spread over orders


def stage_a_units(cfg, ctx, X, y, state):
    S = step(X - cfg.s_threshold)  # (N, 64) S-points: on where the pixel reaches the threshold
    accs, stds = [], []
    for k, n_A in enumerate(cfg.n_A):
        g = torch.Generator().manual_seed(ctx.seed * 7919 + n_A)
        A_layer = AssociationLayer(S.shape[1], n_A, cfg.a_excitatory, cfg.a_inhibitory, cfg.a_theta, g)
        A = A_layer.to(ctx.device)(S)  # (N, n_A) A-unit responses
        test_acc, _ = train_ovr(cfg, ctx, state, A, y, tag=100 + k, name=f"a{n_A}")
        accs.append(float(test_acc.mean()))
        stds.append(float(test_acc.std()) if len(test_acc) > 1 else 0.0)  # over presentation orders
        state["metrics"][f"a_units_{n_A}_test_acc"] = accs[-1]
        state["metrics"][f"a_units_{n_A}_active_fraction"] = float(A.mean())
    state["history"]["a_units"] = list(zip(cfg.n_A, accs, strict=True))
    state["metrics"].update(
        a_units_small_test_acc=accs[0], a_units_large_test_acc=accs[-1], s_points_on_fraction=float(S.mean())
    )
    state["metrics"].update({"a_units_small_test_acc:std": stds[0], "a_units_large_test_acc:std": stds[-1]})


def stage_fashion(cfg, ctx, _X, _y, state):
    if not cfg.fashion:
        state["metrics"].update(fashion_ovr_test_acc=math.nan, fashion_ovr_train_acc=math.nan)
        return
    data = fashion_mnist.load()
    n = cfg.fashion_limit or len(data["train_y"])
    Xtr = torch.tensor(data["train_x"][:n]).reshape(n, 784).float().div(255).to(ctx.device)  # (n, 784)
    Xte = torch.tensor(data["test_x"]).reshape(-1, 784).float().div(255).to(ctx.device)  # (10000, 784)
    ytr = torch.tensor(data["train_y"][:n]).to(ctx.device)
    yte = torch.tensor(data["test_y"]).to(ctx.device)
    machine = Perceptron(784, n_R=10, M=cfg.fashion_orders).to(ctx.device)
    part = state.get("partial", {}).get(
        "fashion", {"epoch": 0, "curve": [], "test_acc": math.nan, "train_acc": math.nan}
    )
    if part["epoch"] > 0:  # resuming in the middle of this stage
        machine.load_state_dict(part["machine"])
    sweeps = one_vs_rest(machine, Xtr, ytr, Xte, yte, cfg.fashion_epochs, cfg.eta, ctx.seed, 3, part["epoch"])
    with ctx.bar(cfg.fashion_epochs - part["epoch"], "fashion epochs") as bar:
        for epoch, mistakes, test_acc, train_acc in sweeps:
            curve = [*part["curve"], float(test_acc.mean())]
            state["step"] += 1
            ctx.log(state["step"], fashion_test_acc=curve[-1], fashion_corrections=float(mistakes.mean()))
            part = {
                "machine": machine.state_dict(),
                "epoch": epoch + 1,
                "curve": curve,
                "test_acc": float(test_acc.mean()),
                "train_acc": float(train_acc.mean()),
                "test_acc_std": float(test_acc.std()) if len(test_acc) > 1 else 0.0,
            }
            state["partial"] = {"fashion": part}
            ctx.checkpoint(state["step"], state)
            bar.update(1, test_acc=curve[-1])
    state["history"]["fashion"] = part["curve"]
    state["metrics"].update(fashion_ovr_test_acc=part["test_acc"], fashion_ovr_train_acc=part["train_acc"])
    state["metrics"]["fashion_ovr_test_acc:std"] = part.get("test_acc_std", math.nan)


STAGES = (stage_pairs, stage_ovr, stage_a_units, stage_fashion)


def run(cfg: Config, ctx) -> dict[str, float]:
    data = digits.load()
    X = torch.from_numpy(data["x"]).reshape(-1, 64).div(16).to(ctx.device)  # (1797, 64) pixels in [0, 1]
    y = torch.from_numpy(data["y"]).to(ctx.device)
    state = {"stage": 0, "step": 0, "metrics": {}, "history": {}}
    if (ck := ctx.restore()) is not None:
        _, state = ck
    for k in range(state["stage"], len(STAGES)):
        STAGES[k](cfg, ctx, X, y, state)
        state["stage"] = k + 1
        state.pop("partial", None)
        ctx.checkpoint(state["step"], state)
    figures.draw(state["history"], cfg, ctx)
    return state["metrics"]
