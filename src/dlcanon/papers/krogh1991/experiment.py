"""Krogh & Hertz (1991): weight decay on a linear student, measured against the paper's exact theory, then on
real digits.

Two stages, each checkpointed after every row of its grid:
  1. teacher  the paper's own setting (a generated linear teacher, as in the paper): many independent draws of
              teacher u, Gaussian inputs and target noise; for every number of examples p = alpha N and every
              weight decay lambda on a fine log grid, the exact minimiser of the cost (ridge, from one SVD per
              draw) and its test error |w - u|^2 / N + sigma^2, averaged over draws;
  2. digits   the same student on real data: scikit-learn's 8x8 digits (64 pixels + a constant input), one-hot
              targets, n training images for n around the input dimension, lambda = 0 (minimum-norm fit) against
              lambda chosen by leave-one-out on the training images alone; test error on held-out images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import digits
from dlcanon.core.paper import Claim

from . import figures, model


@dataclass
class Config:
    N: Annotated[int, Range(ge=2, le=1000)] = 50
    """Inputs of the student and the teacher (the paper's N)."""
    sigma2: Annotated[float, Range(gt=0, le=100)] = 0.2
    """Variance sigma^2 of the static noise on the teacher's outputs."""
    u2: Annotated[float, Range(gt=0, le=100)] = 1.0
    """Squared length of the teacher per input, |u|^2 / N (every draw is scaled to exactly this)."""
    draws: Annotated[int, Range(ge=1, le=10_000)] = 200
    """Independent draws of (teacher, inputs, noise) averaged over; the p examples are the first p of a draw."""
    alphas: Annotated[tuple[float, ...], Range(gt=0, le=20, min_len=3, max_len=100)] = (
        0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5, 3.0)
    """Load alpha = p / N values (must include 0.5, 1 and 2: the claims compare them)."""
    lam_decades: Annotated[tuple[float, ...], Range(ge=-10, le=10, min_len=2, max_len=2)] = (-3.0, 2.0)
    """The weight-decay grid runs from 10^first to 10^second (plus lambda = 0)."""
    lam_per_decade: Annotated[int, Range(ge=1, le=200)] = 10
    """Grid points per decade of lambda: 10 puts neighbours a factor 1.26 apart."""
    digits_n: Annotated[tuple[int, ...], Range(ge=1, le=1796, max_len=100)] = (16, 32, 48, 56, 64, 80, 96, 128,
                                                                              192, 256)
    """Training-set sizes on the digits (must include 32, 64 and 128: half, once and twice the 64 pixels)."""
    digits_seeds: Annotated[int, Range(ge=1, le=1000)] = 20
    """Random training subsets per size."""
    digits_lam_decades: Annotated[tuple[float, ...], Range(ge=-10, le=10, min_len=2, max_len=2)] = (-4.0, 2.0)
    """Weight-decay grid on the digits, 10^first .. 10^second (plus lambda = 0); leave-one-out picks from it."""
    digits_lam_per_decade: Annotated[int, Range(ge=1, le=100)] = 2
    """Grid points per decade of lambda on the digits."""
    test_fraction: Annotated[float, Range(gt=0, lt=1)] = 1 / 3
    """Share of the 1,797 digits held out for testing (a fixed split)."""
    split_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """Seed of the fixed train-pool / test split of the digits."""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        for name in ("lam_decades", "digits_lam_decades"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"{name} must be (low, high) with low < high; got {lo:g},{hi:g}")
        alphas = ",".join(f"{a:g}" for a in self.alphas)
        if any(a not in self.alphas for a in (0.5, 1.0, 2.0)):
            raise ValueError(f"alphas must include 0.5, 1 and 2 (the claims compare them); got {alphas}")
        if self.alphas != tuple(sorted(set(self.alphas))):
            raise ValueError(f"alphas must increase without repeats (a claim compares neighbours); got {alphas}")
        if round(self.alphas[0] * self.N) < 1:
            raise ValueError(f"every alpha must give at least one example (round(alpha * N) >= 1), but alpha="
                             f"{self.alphas[0]:g} with N={self.N} gives none: raise N or the smallest alpha")
        lo, hi = self.lam_decades
        if not 10**lo <= self.sigma2 / self.u2 <= 10**hi:
            raise ValueError(f"lambda_opt = sigma2 / u2 = {self.sigma2 / self.u2:g} must lie on the weight-decay "
                             f"grid 10^{lo:g}..10^{hi:g} set by lam_decades (the claims read the error there)")
        if any(n not in self.digits_n for n in (32, 64, 128)):
            raise ValueError("digits_n must include 32, 64 and 128 (the claims compare them); got "
                             + ",".join(map(str, self.digits_n)))
        n_test, n_max = round(self.test_fraction * 1797), max(self.digits_n)  # sklearn's digits: 1,797 images
        if n_test < 1 or 1797 - n_test < n_max:
            raise ValueError(f"test_fraction={self.test_fraction:g} holds out {n_test} of the 1,797 digits and "
                             f"leaves {1797 - n_test} to train on; it must hold out at least 1 and leave at least "
                             f"max(digits_n) = {n_max}")
        # The largest float64 arrays, at most 2**27 values (1 GiB) each: the teacher draws (draws, p, N) and
        # their ridge coefficients (draws, lambdas, min(p, N)); on the digits the test predictions (subsets,
        # lambdas, test images, 10) and the leave-one-out terms (subsets, lambdas, n, min(n, 65)).
        p_max = max(round(a * self.N) for a in self.alphas)
        n_lam = round((hi - lo) * self.lam_per_decade) + 2
        dlo, dhi = self.digits_lam_decades
        n_dlam = round((dhi - dlo) * self.digits_lam_per_decade) + 2
        teacher = self.draws * max(p_max * self.N, n_lam * min(p_max, self.N))
        if teacher > 2**27:
            raise ValueError(f"the teacher stage would hold {teacher:,} float64 values in one array (over 1 GiB); "
                             f"lower draws, N, the largest alpha or lam_per_decade")
        digits = self.digits_seeds * n_dlam * max(n_test * 10, n_max * min(n_max, 65))
        if digits > 2**27:
            raise ValueError(f"the digits stage would hold {digits:,} float64 values in one array (over 1 GiB); "
                             f"lower digits_seeds, digits_lam_per_decade, max(digits_n) or test_fraction")


PRESETS = {
    "smoke": Config(N=12, draws=8, alphas=(0.5, 1.0, 2.0), lam_per_decade=4, digits_n=(32, 64, 128),
                    digits_seeds=2),
    "quick": Config(),
    "full": Config(N=100, draws=1000, lam_per_decade=20, digits_seeds=100,
                   digits_n=(16, 24, 32, 40, 48, 52, 56, 60, 64, 68, 72, 80, 96, 128, 192, 256, 384, 512)),
}

_THEORY = "the paper's linear-network analysis (large N, alpha = p/N fixed)"
CLAIMS = [
    Claim(
        name="lambda_opt_matches_theory",
        metric="teacher_lambda_argmin_max_log2_ratio",
        op="<=",
        threshold=1.0,
        paper_value="lambda_opt = sigma^2 / u^2, the noise variance over the teacher's squared length per input "
        "(here 0.2); the optimum does not depend on alpha",
        scale_note="N = 50, 200 draws; argmin of the mean test error over a 10-per-decade lambda grid at alpha = "
        "0.5, 1 and 2; the worst |log2(argmin / lambda_opt)| must be <= 1 (within a factor 2)",
    ),
    Claim(
        name="u_shaped_in_lambda",
        metric="teacher_u_shape_min_excess",
        op=">=",
        threshold=0.05,
        paper_value="too little decay leaves the noise in the weights, too much shrinks the signal: test error "
        "falls then rises with lambda (" + _THEORY + ")",
        scale_note="smallest, over alpha = 0.5, 1, 2, of (error at the grid's lower and upper lambda end, "
        "whichever is lower) / (minimum over the grid) - 1; 0.05 = both ends visibly above the bottom",
    ),
    Claim(
        name="peak_at_alpha_1_without_decay",
        metric="teacher_peak_ratio_lam0",
        op=">=",
        threshold=2.0,
        paper_value="without weight decay the error diverges at alpha = 1 as N -> infinity (" + _THEORY + ")",
        scale_note="lambda = 0 (minimum-norm solution): error at p = N over the larger of the errors at p = N/2 and "
        "p = 2N; any finite N gives a finite peak, 2 is our bar for 'far above'",
    ),
    Claim(
        name="decay_removes_the_peak",
        metric="teacher_peak_ratio_opt",
        op="<",
        threshold=1.0,
        paper_value="with the optimal decay the error decreases smoothly through alpha = 1 (" + _THEORY + ")",
        scale_note="lambda = lambda_opt: error at p = N over the larger of the errors at p = N/2 and 2N",
    ),
    Claim(
        name="decay_curve_is_monotone",
        metric="teacher_opt_curve_max_rise",
        op="<=",
        threshold=0.0,
        paper_value="error vs alpha at lambda_opt has no peak (" + _THEORY + ")",
        scale_note="largest increase of the mean test error between neighbouring alphas of the grid, at lambda "
        "on the grid nearest lambda_opt; nested example sets (the first p of each draw)",
    ),
    Claim(
        name="digits_decay_beats_no_decay",
        metric="digits_mse_loo_n64",
        minus="digits_mse_lam0_n64",
        op="<",
        threshold=0.0,
        paper_value="weight decay improves generalisation most where examples ~ weights; the paper's real-data "
        "check is NetTalk with a hidden layer, not this",
        scale_note="sklearn digits, linear least squares on 64 pixels + bias to one-hot targets, 64 training "
        "images, 20 random subsets; lambda by leave-one-out on the training images; test MSE on 599 held out",
    ),
    Claim(
        name="digits_peak_without_decay",
        metric="digits_peak_ratio_lam0",
        op=">=",
        threshold=2.0,
        paper_value="the alpha = 1 peak of the theory, seen on real inputs",
        scale_note="lambda = 0: test MSE at n = 64 over the larger of those at n = 32 and n = 128",
    ),
    Claim(
        name="digits_decay_removes_the_peak",
        metric="digits_peak_ratio_loo",
        op="<",
        threshold=1.0,
        paper_value="with weight decay the peak goes away",
        scale_note="leave-one-out lambda: test MSE at n = 64 over the larger of those at n = 32 and n = 128",
    ),
]


def log_grid(decades: tuple[float, ...], per_decade: int) -> torch.Tensor:
    """lambda = 0 followed by a log grid from 10^decades[0] to 10^decades[1], per_decade points a decade."""
    lo, hi = decades
    n = int(round((hi - lo) * per_decade)) + 1
    return torch.cat([torch.zeros(1, dtype=torch.float64), torch.logspace(lo, hi, n, dtype=torch.float64)])


# --- stage 1: the teacher task -------------------------------------------------------------------------------


def teacher_draws(cfg: Config, seed: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (R, p_max, N) unit-variance inputs, u (R, N, 1) teachers with |u|^2 = u2 N, y (R, p_max, 1) noisy targets."""
    g = torch.Generator().manual_seed(seed)
    p_max = max(round(a * cfg.N) for a in cfg.alphas)
    x = torch.randn(cfg.draws, p_max, cfg.N, generator=g, dtype=torch.float64)
    u = torch.randn(cfg.draws, cfg.N, 1, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True) * math.sqrt(cfg.u2 * cfg.N)
    eta = torch.randn(cfg.draws, p_max, 1, generator=g, dtype=torch.float64) * math.sqrt(cfg.sigma2)
    y = model.student(u, x) + eta  # (R, p_max, 1)
    return x.to(device), u.to(device), y.to(device)


def teacher_row(x, u, y, p: int, lams: torch.Tensor, sigma2: float) -> torch.Tensor:
    """Mean over draws of the test error |w(lambda) - u|^2 / N + sigma^2 with the first p examples, (L,)."""
    fam = model.RidgeFamily(x[:, :p], y[:, :p])
    return (fam.distance2(u, lams.to(x.device)) / x.shape[-1] + sigma2).mean(0).cpu()


def stage_teacher(cfg: Config, ctx, state: dict) -> None:
    lams = log_grid(cfg.lam_decades, cfg.lam_per_decade)
    x, u, y = teacher_draws(cfg, ctx.seed, ctx.device)
    rows = state.setdefault("teacher_rows", [])
    with ctx.bar(len(cfg.alphas) - len(rows), "teacher: alpha grid") as bar:
        for a in cfg.alphas[len(rows):]:
            rows.append(teacher_row(x, u, y, round(a * cfg.N), lams, cfg.sigma2).tolist())
            state["step"] += 1
            ctx.log(state["step"], teacher_err_lam0=rows[-1][0], teacher_err_min=min(rows[-1][1:]))
            ctx.checkpoint(state["step"], state)
            bar.update(1)
    state["metrics"].update(teacher_metrics(cfg, torch.tensor(rows), lams))


def teacher_metrics(cfg: Config, err: torch.Tensor, lams: torch.Tensor) -> dict[str, float]:
    """err (A, L) mean test error per alpha and lambda (lams[0] = 0)."""
    alphas = list(cfg.alphas)
    lam_opt = model.lambda_opt(cfg.sigma2, cfg.u2)
    j_opt = int((lams[1:].log() - math.log(lam_opt)).abs().argmin()) + 1  # grid lambda nearest lambda_opt
    out = {"teacher_lambda_opt": lam_opt, "teacher_lambda_grid_opt": float(lams[j_opt])}
    ratios, excess = [], []
    for a in (0.5, 1.0, 2.0):
        row = err[alphas.index(a)]
        k = int(row[1:].argmin()) + 1
        out[f"teacher_lambda_argmin_a{a:g}"] = float(lams[k])
        ratios.append(abs(math.log2(float(lams[k]) / lam_opt)))
        excess.append(float(min(row[1], row[-1]) / row[1:].min() - 1))
        theory = model.theory_error(torch.tensor(a), torch.tensor([0.0, lam_opt]), cfg.sigma2, cfg.u2) + cfg.sigma2
        out.update({f"teacher_err_lam0_a{a:g}": float(row[0]), f"teacher_err_opt_a{a:g}": float(row[j_opt]),
                    f"teacher_theory_err_opt_a{a:g}": float(theory[1])})
        if a != 1.0:  # the theory's lambda = 0 error is infinite at alpha = 1
            out[f"teacher_theory_err_lam0_a{a:g}"] = float(theory[0])
    out["teacher_lambda_argmin_max_log2_ratio"] = max(ratios)
    out["teacher_u_shape_min_excess"] = min(excess)
    for tag, j in (("lam0", 0), ("opt", j_opt)):
        at = {a: float(err[alphas.index(a), j]) for a in (0.5, 1.0, 2.0)}
        out[f"teacher_peak_ratio_{tag}"] = at[1.0] / max(at[0.5], at[2.0])
    out["teacher_opt_curve_max_rise"] = float(torch.diff(err[:, j_opt]).max())
    out["teacher_noise_floor"] = cfg.sigma2
    return out


# --- stage 2: real digits -----------------------------------------------------------------------------------


def digits_tensors(cfg: Config, device):
    """Pixels / 16 with a constant input appended (N = 65), one-hot targets; a fixed stratified-free split."""
    d = digits.load()
    x = torch.from_numpy(d["x"]).reshape(-1, 64).double() / 16
    x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)  # (1797, 65)
    y = torch.from_numpy(d["y"])
    g = torch.Generator().manual_seed(cfg.split_seed)
    perm = torch.randperm(len(x), generator=g)
    n_test = round(cfg.test_fraction * len(x))
    te, pool = perm[:n_test], perm[n_test:]
    return x.to(device), y.to(device), te.to(device), pool.to(device)


def digits_row(cfg: Config, x, y, te, pool, n: int, seed: int) -> dict[str, float]:
    """S random training subsets of size n; lambda = 0 against lambda chosen by leave-one-out (lambda > 0)."""
    lams = log_grid(cfg.digits_lam_decades, cfg.digits_lam_per_decade).to(x.device)
    g = torch.Generator().manual_seed(seed * 100_003 + n)
    idx = torch.stack([torch.randperm(len(pool), generator=g)[:n] for _ in range(cfg.digits_seeds)]).to(x.device)
    idx = pool[idx]  # (S, n)
    onehot = torch.nn.functional.one_hot(y, 10).double()  # (1797, 10)
    fam = model.RidgeFamily(x[idx], onehot[idx])  # (S, n, 65), (S, n, 10)
    pred = fam.predict(x[te], lams)  # (S, L, T, 10)
    mse = ((pred - onehot[te]) ** 2).sum(-1).mean(-1)  # (S, L)
    acc = (pred.argmax(-1) == y[te]).double().mean(-1)  # (S, L)
    loo = (fam.loo_residuals(lams) ** 2).sum(-1).mean(-1)  # (S, L)
    pick = loo[:, 1:].argmin(1, keepdim=True) + 1  # (S, 1)
    return {f"digits_mse_lam0_n{n}": float(mse[:, 0].mean()), f"digits_mse_loo_n{n}": float(mse.gather(1, pick).mean()),
            f"digits_acc_lam0_n{n}": float(acc[:, 0].mean()), f"digits_acc_loo_n{n}": float(acc.gather(1, pick).mean()),
            f"digits_lambda_loo_median_n{n}": float(lams[pick[:, 0]].median())}


def stage_digits(cfg: Config, ctx, state: dict) -> None:
    x, y, te, pool = digits_tensors(cfg, ctx.device)
    rows = state.setdefault("digits_rows", [])
    with ctx.bar(len(cfg.digits_n) - len(rows), "digits: training-set sizes") as bar:
        for n in cfg.digits_n[len(rows):]:
            rows.append(digits_row(cfg, x, y, te, pool, n, ctx.seed))
            state["step"] += 1
            ctx.log(state["step"], digits_mse_lam0=rows[-1][f"digits_mse_lam0_n{n}"],
                    digits_mse_loo=rows[-1][f"digits_mse_loo_n{n}"])
            ctx.checkpoint(state["step"], state)
            bar.update(1)
    m = {k: v for row in rows for k, v in row.items()}
    for tag in ("lam0", "loo"):
        m[f"digits_peak_ratio_{tag}"] = m[f"digits_mse_{tag}_n64"] / max(m[f"digits_mse_{tag}_n32"],
                                                                          m[f"digits_mse_{tag}_n128"])
    state["metrics"].update(m)


STAGES = (stage_teacher, stage_digits)


def run(cfg: Config, ctx) -> dict[str, float]:
    state = {"stage": 0, "step": 0, "metrics": {}}
    if (ck := ctx.restore()) is not None:
        _, state = ck
    for k in range(state["stage"], len(STAGES)):
        STAGES[k](cfg, ctx, state)
        state["stage"] = k + 1
        ctx.checkpoint(state["step"], state)
    draw(cfg, state, ctx)
    return state["metrics"]


# --- figures ----------------------------------------------------------------------------------------------------


def draw(cfg: Config, state: dict, ctx) -> None:
    """The claims' pictures (figures.py): error against lambda, against alpha, and on the digits against n."""
    bar = {c.name: c.threshold for c in CLAIMS}
    lams = log_grid(cfg.lam_decades, cfg.lam_per_decade)
    err = torch.tensor(state["teacher_rows"])  # (A, L)
    j_opt = int((lams[1:].log() - math.log(model.lambda_opt(cfg.sigma2, cfg.u2))).abs().argmin()) + 1
    figures.teacher_lambda(cfg, err, lams, ctx.path("teacher_lambda.png"))
    figures.teacher_alpha(cfg, err, lams, j_opt, bar["peak_at_alpha_1_without_decay"], ctx.path("teacher_alpha.png"))
    figures.digits(cfg, state["metrics"], bar["digits_peak_without_decay"], ctx.path("digits.png"))
