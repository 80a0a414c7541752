"""Cybenko (1989): how the sup-norm error of the best one-hidden-layer net found falls as hidden units are added.

Four continuous targets on [0, 1]: three generated (the theorem is about arbitrary continuous functions, so we
pick a few with different difficulties: a kink, a wave, a ramp between two plateaus) and one real curve, the
daily-mean Seattle temperature over 2010 (hourly series from vega-datasets, 24-hour moving average, time scaled
to [0, 1], temperature scaled to [0, 1]). For each target, each width N in (1, 2, 4, ..., 64) and several random
restarts, a network of Eq. (1) is fitted by least squares on a grid of training points; all of them, for one
activation, are one batched tensor computation (model.SigmoidalSums). The sup-norm error |G - f| is then
measured on a much denser grid (the Seattle curve: on all of its points), and the best restart per (target, N)
is our estimate of how well N units *can* approximate the target. Two stages: sigmoid units (the paper's
case), then ReLU units (covered by Leshno et al. 1993, not by Cybenko).

The theorem is existential: it promises that good weights exist, not that an optimiser finds them. The fitting
method is ours: Levenberg-Marquardt on all weights (the standard second-order method for small networks,
e.g. Hagan & Menhaj 1994), started from least-squares output weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dlcanon.core.config import Annotated, Range
from dlcanon.core.data import vega
from dlcanon.core.paper import Claim

from . import figures
from .model import SigmoidalSums

TARGETS = ("kink", "wave", "ramp", "seattle")
GENERATED = {
    "kink": lambda x: (x - 0.3).abs(),  # |x - 0.3|: continuous, not differentiable at 0.3
    "wave": lambda x: torch.sin(2 * math.pi * 3 * x),  # sin(2 pi 3 x): smooth, three periods
    "ramp": lambda x: ((x - 0.45) / 0.1).clamp(0, 1),  # a step smoothed into a linear ramp over [0.45, 0.55]
}


@dataclass
class Config:
    widths: Annotated[tuple[int, ...], Range(ge=1, le=512, min_len=2, max_len=12)] = (1, 2, 4, 8, 16, 32, 64)
    """Hidden units N of the networks compared (each doubling is checked for monotonicity)."""
    restarts: Annotated[int, Range(ge=1, le=64)] = 4
    """Random starts per (target, N); the best sup-norm error of them is the estimate for that N."""
    train_points: Annotated[int, Range(ge=2, le=16_384)] = 256
    """Equally spaced training points on [0, 1] where the squared error is minimised."""
    eval_points: Annotated[int, Range(ge=65, le=1_048_577)] = 8193
    """Equally spaced points on [0, 1] where the sup-norm error of a generated target is measured (at least 65:
    coarser grids miss the ramp and the wave's peaks; 2, 3, 4 or 7 points sample the wave only at its zeros)."""
    lm_iters: Annotated[int, Range(ge=1, le=20_000)] = 60
    """Levenberg-Marquardt iterations per activation (every network, all at once)."""
    lsq_share: Annotated[float, Range(ge=0, le=1)] = 0.5
    """Share of the iterations spent on plain least squares (p = 2) before switching to p = p_final."""
    p_final: Annotated[float, Range(ge=2, le=256)] = 32.0
    """Exponent of the loss sum |G - f|^p in the later iterations: a large p approaches the sup norm (p < 2 gives
    an infinite weight |r|^(p-2) wherever a residual is exactly 0, as a ReLU net's can be on a flat target)."""
    mu0: Annotated[float, Range(ge=1e-12, le=1e12)] = 0.1
    """Initial Levenberg-Marquardt damping (then divided by 3 after a good step, doubled after a bad one)."""
    steep_min: Annotated[float, Range(gt=0, le=1000)] = 2.0
    """A unit of a width-N net starts with steepness |y_j| between steep_min N and steep_max N (log-uniform)."""
    steep_max: Annotated[float, Range(gt=0, le=1000)] = 8.0
    """Upper end of the starting steepness, in units of N."""
    smooth_hours: Annotated[int, Range(ge=1, le=720)] = 24
    """Width of the moving average that turns the hourly Seattle series into the curve approximated."""
    checkpoint_every: Annotated[int, Range(ge=1, le=20_000)] = 10
    """Levenberg-Marquardt iterations between checkpoints."""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if any(a >= b for a, b in zip(self.widths, self.widths[1:], strict=False)):
            raise ValueError(f"widths must be in strictly increasing order (the error is compared from each width "
                             f"to the next); got {','.join(map(str, self.widths))}")
        if self.eval_points < self.train_points:
            raise ValueError(f"eval_points must be at least train_points (the sup norm is measured on a grid at "
                             f"least as dense as the training grid); got {self.eval_points} < {self.train_points}")
        units = self.restarts * sum(self.widths)
        if units > 8192:
            raise ValueError(f"restarts x sum(widths) must be at most 8,192 hidden units per target (twice the full "
                             f"preset's); got {units:,}")
        if units * self.train_points > 25_000_000:
            raise ValueError(f"restarts x sum(widths) x train_points must be at most 25,000,000 (the Jacobian of all "
                             f"networks, about 1.2 GB); got {units * self.train_points:,}")


PRESETS = {
    "smoke": Config(widths=(1, 2, 4), restarts=1, train_points=64, eval_points=513, lm_iters=4, checkpoint_every=2),
    "quick": Config(),
    "full": Config(widths=(1, 2, 4, 8, 16, 32, 64, 128, 256), restarts=8, train_points=1024, eval_points=32769,
                   lm_iters=200),
}

_THEOREM = "Theorem 2: finite sums G are dense in C(I_n) (existential: no rate, no N given)"
_RATIO = "sup error at the largest N over that at N = 1"
_RISE = ("largest increase of the sup error from N to 2N, over every target and doubling, as a share of the "
         "target's range (max - min); 0.01 tolerates the optimiser's small misses (see notes.md)")
CLAIMS = [
    Claim(
        name="sigmoid_error_falls_generated",
        metric="sigmoid_generated_worst_ratio",
        op="<=",
        threshold=0.25,
        paper_value=_THEOREM,
        scale_note=f"worst over the kink, the wave and the ramp of the {_RATIO} (N = 64 in quick); "
        "4 restarts, Levenberg-Marquardt, sup on 8,193 points; 0.25 = 'several-fold'",
    ),
    Claim(
        name="sigmoid_error_falls_seattle",
        metric="sigmoid_seattle_ratio",
        op="<=",
        threshold=0.25,
        paper_value=_THEOREM,
        scale_note=f"Seattle 2010 temperature, 24-hour moving average, on all 8,736 of its points: {_RATIO}",
    ),
    Claim(
        name="sigmoid_nearly_monotone",
        metric="sigmoid_max_rise",
        op="<=",
        threshold=0.01,
        paper_value="more units can only help: a net with 2N units contains every net with N (not stated as such "
        "in the paper; it follows from Eq. (1))",
        scale_note=_RISE,
    ),
    Claim(
        name="relu_error_falls",
        metric="relu_worst_ratio",
        op="<=",
        threshold=0.25,
        paper_value="Leshno et al. (1993): the same density holds for any continuous non-polynomial activation, "
        "ReLU included (Cybenko covers sigmoidal sigma; Hornik 1991 bounded non-constant ones)",
        scale_note=f"worst over all four targets of the {_RATIO}",
    ),
    Claim(
        name="relu_nearly_monotone",
        metric="relu_max_rise",
        op="<=",
        threshold=0.01,
        paper_value="as for sigmoid units",
        scale_note=_RISE,
    ),
]


# --- targets ---------------------------------------------------------------------------------------------------


def seattle_curve(hours: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """The moving average of the hourly series: times t in [0, 1], values scaled to [0, 1], and (min, max) in F."""
    d = vega.load()
    smooth = np.convolve(d["temp"], np.ones(hours) / hours, mode="valid")  # (8759 - hours + 1,)
    centre = d["hours"][: len(smooth)] + (hours - 1) / 2  # each average sits at the middle of its window
    t = (centre - centre[0]) / (centre[-1] - centre[0])
    lo, hi = float(smooth.min()), float(smooth.max())
    return torch.from_numpy(t), torch.from_numpy((smooth - lo) / (hi - lo)), lo, hi


def target_grids(cfg: Config) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per target, the dense grid (x, f(x)) on which the sup norm is measured."""
    x = torch.linspace(0, 1, cfg.eval_points, dtype=torch.float64)
    grids = {name: (x, f(x)) for name, f in GENERATED.items()}
    t, v, _, _ = seattle_curve(cfg.smooth_hours)
    grids["seattle"] = (t, v)
    return grids


def train_targets(cfg: Config, grids) -> tuple[torch.Tensor, torch.Tensor]:
    """Training points x (M,) and every target there, (T, M); Seattle by linear interpolation of its curve."""
    x = torch.linspace(0, 1, cfg.train_points, dtype=torch.float64)
    rows = [GENERATED[n](x) if n in GENERATED else torch.from_numpy(np.interp(x.numpy(), *map(np.asarray, grids[n])))
            for n in TARGETS]
    return x, torch.stack(rows)


def sup_error(G: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """max over the grid of |G(x) - f(x)|: G (..., M, W) network outputs, f (..., M) -> (..., W)."""
    return (G - f[..., None]).abs().amax(-2)


# --- the networks and their fit --------------------------------------------------------------------------------


def init_networks(cfg: Config, activation: str, seed: int) -> SigmoidalSums:
    """Rows = targets x restarts. Unit j of a width-N net starts switching in the j-th N-th of [0, 1] (jittered),
    with steepness log-uniform in [steep_min N, steep_max N] and a random sign; output weights from least squares."""
    g = torch.Generator().manual_seed(seed)
    B, U = len(TARGETS) * cfg.restarts, sum(cfg.widths)
    n = torch.tensor(cfg.widths, dtype=torch.float64).repeat_interleave(torch.tensor(cfg.widths))  # (U,) width
    j = torch.cat([torch.arange(w, dtype=torch.float64) for w in cfg.widths])  # (U,) index within its net
    centre = (j + torch.rand(B, U, generator=g, dtype=torch.float64)) / n
    u = torch.rand(B, U, generator=g, dtype=torch.float64)
    log_steep = n.log() + math.log(cfg.steep_min) + u * math.log(cfg.steep_max / cfg.steep_min)
    sign = torch.where(torch.rand(B, U, generator=g) < 0.5, -1.0, 1.0).double()
    return SigmoidalSums(torch.zeros(B, U, dtype=torch.float64), log_steep, centre, sign, cfg.widths, activation)


def jacobian(net: SigmoidalSums, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """dG/d(alpha_j, l_j, c_j) for every unit: (B, M, 3, U). With t = y (x - c), y = s e^l:
    dG/dalpha = sigma(t), dG/dl = alpha sigma'(t) y (x - c), dG/dc = -alpha sigma'(t) y.
    Single precision by default: it only sets the search direction (ten times faster than double on a CPU),
    while the loss that accepts or rejects a step is computed in double."""
    h, dh = net.hidden(x, dtype)  # (B, M, U)
    a_dt = (net.alpha * net.y).to(dtype)[:, None, :] * dh  # alpha y sigma'(t), (B, M, U)
    x_c = x.to(dtype)[None, :, None] - net.centre.to(dtype)[:, None, :]  # (B, M, U)
    return torch.stack([h, a_dt * x_c, -a_dt], 2)


@torch.no_grad()
def least_squares_alpha(net: SigmoidalSums, x: torch.Tensor, f: torch.Tensor) -> None:
    """Set every net's output weights to the least-squares fit of f (B, M) given its hidden units."""
    h, _ = net.hidden(x)  # (B, M, U)
    o = net.offsets()
    for a, b in zip(o[:-1], o[1:], strict=True):
        H = h[:, :, a:b]
        scale = H.norm(dim=1).clamp_min(1e-300)  # (B, n): unit columns keep the normal equations well scaled
        Hs = H / scale[:, None, :]
        A = Hs.transpose(1, 2) @ Hs + 1e-10 * torch.eye(b - a, dtype=H.dtype)  # (B, n, n)
        net.alpha[:, a:b] = torch.cholesky_solve(Hs.transpose(1, 2) @ f[:, :, None], torch.linalg.cholesky(A))[
            ..., 0] / scale


def lp_loss(r: torch.Tensor, p: float, scale: torch.Tensor) -> torch.Tensor:
    """mean over the points of |r / scale|^p, (B, W): r (B, M, W), scale (B, 1, W) fixed while comparing steps."""
    return ((r / scale).abs() ** p).mean(1)


@torch.no_grad()
def lm_iteration(net: SigmoidalSums, x: torch.Tensor, f: torch.Tensor, mu: torch.Tensor, p: float) -> torch.Tensor:
    """One Levenberg-Marquardt step on sum |G(x_i) - f(x_i)|^p for every network at once, each with its own damping
    mu (B, W). p = 2 is least squares; a larger p leans towards the sup norm the theorem is about (the Gauss-Newton
    model of |r|^p weights each squared residual by |r|^(p-2), as in iteratively reweighted least squares). A step
    is kept only where it lowers that network's loss. Updates net and mu in place; returns the rms error (B, W)."""
    r = net(x) - f[:, :, None]  # (B, M, W)
    scale = r.abs().amax(1, keepdim=True).clamp_min(1e-300)  # (B, 1, W)
    root_w = ((r.abs() / scale) ** ((p - 2) / 2)).float()  # sqrt of the weights |r|^(p-2), (B, M, W)
    J = jacobian(net, x) * root_w[:, :, None, net.net_of_unit]  # (B, M, 3, U): rows scaled by sqrt(weight)
    rw = r.float() * root_w  # (B, M, W)
    B, M, _, U = J.shape
    delta = torch.zeros(B, 3, U, dtype=r.dtype, device=r.device)
    o = net.offsets()
    for k, (a, b) in enumerate(zip(o[:-1], o[1:], strict=True)):
        Jk = J[..., a:b].reshape(B, M, 3 * (b - a))  # (B, M, 3n): this width's parameters
        A = ((p - 1) * Jk.transpose(1, 2) @ Jk).double()  # (B, 3n, 3n): Gauss-Newton matrix of the loss
        d = A.diagonal(dim1=1, dim2=2)
        damped = A + torch.diag_embed(mu[:, k, None] * (d + 1e-9 * d.mean(1, keepdim=True)))
        L, info = torch.linalg.cholesky_ex(damped)
        g = (Jk.transpose(1, 2) @ rw[:, :, k, None]).double()  # (B, 3n, 1) gradient / p
        step = -torch.cholesky_solve(g, L)[..., 0]  # (B, 3n)
        delta[..., a:b] = torch.where((info == 0)[:, None], step, 0.0).reshape(B, 3, b - a)
    params = (net.alpha, net.log_steep, net.centre)
    old = [q.clone() for q in params]
    for q, dq in zip(params, delta.unbind(1), strict=True):
        q += dq
    r_new = net(x) - f[:, :, None]
    better = torch.isfinite(r_new).all(1) & (lp_loss(r_new, p, scale) < lp_loss(r, p, scale))  # (B, W)
    keep = better[:, net.net_of_unit]  # (B, U)
    for q, q_old in zip(params, old, strict=True):
        q.copy_(torch.where(keep, q, q_old))
    mu.copy_(torch.where(better, mu / 3, mu * 2).clamp(1e-12, 1e12))
    return torch.where(better[:, None], r_new, r).pow(2).mean(1).sqrt()


def fit(cfg: Config, ctx, state: dict, activation: str, x, F) -> SigmoidalSums:
    """Fit every (target, restart, width) network of one activation; resumable at any checkpoint."""
    net = init_networks(cfg, activation, ctx.seed * 7 + (activation == "relu")).to(ctx.device)
    Fr = F.repeat_interleave(cfg.restarts, 0).to(ctx.device)  # (B, M): row b fits target b // restarts
    x = x.to(ctx.device)
    part = state.get("partial")
    if part is not None and part["activation"] == activation:
        net.load_state_dict(part["model"])
        mu, start = part["mu"].to(ctx.device), part["iter"]
    else:
        least_squares_alpha(net, x, Fr)
        mu, start = torch.full((len(Fr), len(cfg.widths)), cfg.mu0, dtype=torch.float64, device=ctx.device), 0
    with ctx.bar(cfg.lm_iters - start, f"{activation}: Levenberg-Marquardt") as bar:
        for it in range(start, cfg.lm_iters):
            p = 2.0 if it < cfg.lm_iters * cfg.lsq_share else cfg.p_final
            rmse = lm_iteration(net, x, Fr, mu, p)
            state["step"] += 1
            ctx.log(state["step"], **{f"{activation}_train_rmse": float(rmse.mean())})
            if (it + 1) % cfg.checkpoint_every == 0:
                state["partial"] = {"activation": activation, "model": net.state_dict(), "mu": mu, "iter": it + 1}
                ctx.checkpoint(state["step"], state)
            bar.update(1, rmse=float(rmse.mean()))
    return net


@torch.no_grad()
def evaluate(cfg: Config, net: SigmoidalSums, grids) -> torch.Tensor:
    """Sup-norm error of every network on its target's dense grid, (T, restarts, W)."""
    out = []
    for k, name in enumerate(TARGETS):
        xs, fs = grids[name]
        rows = slice(k * cfg.restarts, (k + 1) * cfg.restarts)
        sub = SigmoidalSums(net.alpha[rows], net.log_steep[rows], net.centre[rows], net.sign[rows], cfg.widths,
                            net.activation)
        out.append(torch.stack([sup_error(sub(xc.to(net.alpha.device)), fc.to(net.alpha.device))
                                for xc, fc in zip(xs.split(4096), fs.split(4096), strict=True)]).amax(0))
    return torch.stack(out).cpu()


def curve_metrics(cfg: Config, activation: str, sup: torch.Tensor, grids) -> dict[str, float]:
    """sup (T, W): best over restarts. Ratios, the largest rise per doubling, and a Spearman correlation."""
    m, ratios, rises = {}, {}, []
    for k, name in enumerate(TARGETS):
        s = sup[k]
        span = float(grids[name][1].max() - grids[name][1].min())
        for w, v in zip(cfg.widths, s.tolist(), strict=True):
            m[f"{activation}_{name}_sup_n{w}"] = v
        ratios[name] = float(s[-1] / s[0])
        rise = float(torch.diff(s).max()) / span
        rises.append(rise)
        m[f"{activation}_{name}_ratio"], m[f"{activation}_{name}_max_rise"] = ratios[name], rise
        m[f"{activation}_{name}_spearman"] = spearman(torch.tensor(cfg.widths, dtype=torch.float64), s)
    m[f"{activation}_generated_worst_ratio"] = max(ratios[n] for n in GENERATED)
    m[f"{activation}_seattle_ratio"] = ratios["seattle"]
    m[f"{activation}_worst_ratio"] = max(ratios.values())
    m[f"{activation}_max_rise"] = max(rises)
    return m


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Rank correlation (no ties expected in a, ties in b broken by order)."""
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()))


# --- the run -----------------------------------------------------------------------------------------------------


def run(cfg: Config, ctx) -> dict[str, float]:
    grids = target_grids(cfg)
    x, F = train_targets(cfg, grids)
    state = {"step": 0, "done": [], "metrics": {}, "plots": {}}
    if (ck := ctx.restore()) is not None:
        _, state = ck
    for activation in ("sigmoid", "relu"):
        if activation in state["done"]:
            continue
        net = fit(cfg, ctx, state, activation, x, F)
        sup = evaluate(cfg, net, grids)  # (T, R, W)
        best = sup.min(1)
        state["metrics"].update(curve_metrics(cfg, activation, best.values, grids))
        state["plots"][activation] = plot_data(cfg, net, best.indices)
        state["sup"] = {**state.get("sup", {}), activation: best.values.tolist()}
        state["done"].append(activation)
        state.pop("partial", None)
        ctx.checkpoint(state["step"], state)
    _, _, lo, hi = seattle_curve(cfg.smooth_hours)
    state["metrics"]["seattle_range_F"] = hi - lo
    state["metrics"]["sigmoid_seattle_sup_F_largest_n"] = state["metrics"][f"sigmoid_seattle_sup_n{cfg.widths[-1]}"] * (
        hi - lo)
    draw(cfg, state, grids, lo, hi, ctx)
    return state["metrics"]


# --- figures -----------------------------------------------------------------------------------------------------


@torch.no_grad()
def plot_data(cfg: Config, net: SigmoidalSums, best: torch.Tensor) -> dict:
    """The best network of each (target, width) on a 600-point grid, as lists (kept in the checkpoint)."""
    xp = torch.linspace(0, 1, 600, dtype=torch.float64, device=net.alpha.device)
    G = net(xp).cpu()  # (B, 600, W)
    return {name: torch.stack([G[k * cfg.restarts + int(best[k, w]), :, w] for w in range(len(cfg.widths))])
            for k, name in enumerate(TARGETS)}  # name -> (W, 600)


def draw(cfg: Config, state: dict, grids, lo: float, hi: float, ctx) -> None:
    """The claims' pictures (figures.py): error ratio and largest rise against N, and the best fits."""
    bar = {c.name: c.threshold for c in CLAIMS}
    spans = {name: float(f.max() - f.min()) for name, (_, f) in grids.items()}
    figures.error_ratio(cfg.widths, state["sup"], TARGETS, bar["sigmoid_error_falls_generated"],
                        ctx.path("sup_error_vs_N.png"))
    figures.largest_rise(state["sup"], spans, TARGETS, bar["sigmoid_nearly_monotone"], ctx.path("largest_rise.png"))
    for activation, curves in state["plots"].items():
        figures.fits(activation, cfg.widths, curves, grids, TARGETS, (lo, hi), ctx.path(f"{activation}_fits.png"))
