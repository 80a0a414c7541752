"""Cybenko (1989): how the sup-norm error of the best one-hidden-layer net found falls as hidden units are added.

Four continuous targets on [0, 1]: three generated (the theorem is about arbitrary continuous functions, so we
pick a few with different difficulties: a kink, a wave, a ramp between two plateaus) and one real curve, the
daily-mean Seattle temperature over 2010 (hourly series from vega-datasets, 24-hour moving average, time scaled
to [0, 1], temperature scaled to [0, 1]). For each target and each width N in (1, 2, 4, ..., 64), in that order,
networks of Eq. (1) are fitted on a grid of training points: several from fresh random starts, and one that
starts from the best net of the previous width with the new units' output weights at 0 (the same function, so a
net of 2N units contains the N-unit solution, as Eq. (1) says it can) and is put back to that start if its fit
ends worse. All nets of one width and activation are one batched tensor computation (model.SigmoidalSums). The
sup-norm error |G - f| is measured on a much denser grid (the Seattle curve: on all of its points), and the best
net per (target, N) is our estimate of how well N units *can* approximate the target. Two stages: sigmoid units
(the paper's case), then ReLU units (covered by Leshno et al. 1993, not by Cybenko).

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
    """Hidden units N of the networks compared, fitted in this order: one net per target at each N starts from
    the best net of the previous N (the nesting that makes the error fall monotonically)."""
    restarts: Annotated[int, Range(ge=1, le=64)] = 4
    """Fresh random starts per (target, N); the best sup-norm error of them and of the one nested net is the
    estimate for that N."""
    train_points: Annotated[int, Range(ge=2, le=16_384)] = 256
    """Equally spaced training points on [0, 1] where the squared error is minimised."""
    eval_points: Annotated[int, Range(ge=65, le=1_048_577)] = 8193
    """Equally spaced points on [0, 1] where the sup-norm error of a generated target is measured (at least 65:
    coarser grids miss the ramp and the wave's peaks; 2, 3, 4 or 7 points sample the wave only at its zeros)."""
    lm_iters: Annotated[int, Range(ge=1, le=20_000)] = 60
    """Levenberg-Marquardt iterations per width and activation (every network of that width at once)."""
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
        units = (self.restarts + 1) * sum(self.widths)
        if units > 8192:
            raise ValueError(f"(restarts + 1) x sum(widths) must be at most 8,192 hidden units per target (about "
                             f"twice the full preset's); got {units:,}")
        if units * self.train_points > 25_000_000:
            raise ValueError(f"(restarts + 1) x sum(widths) x train_points must be at most 25,000,000 (a bound on "
                             f"the networks' Jacobians, about 1.2 GB); got {units * self.train_points:,}")


PRESETS = {
    "smoke": Config(widths=(1, 2, 4), restarts=1, train_points=64, eval_points=513, lm_iters=4, checkpoint_every=2),
    "quick": Config(),
    "full": Config(widths=(1, 2, 4, 8, 16, 32, 64, 128, 256), restarts=8, train_points=1024, eval_points=32769,
                   lm_iters=200),
}

_THEOREM = "Theorem 2: finite sums G are dense in C(I_n) (existential: no rate, no N given)"
_RATIO = "sup error at the largest N over that at N = 1"
_RISE = ("largest growth of the best sup error from one N to the next (1 to 2, ..., 32 to 64 in quick), over every "
         "target, as a share of the error it grew from (errors below 1e-9 count as 1e-9, rounding); the nesting is "
         "realised in the fit: the nets of 2N units start from those of N and go back to that start if their fit "
         "ends worse, so 1e-3 only leaves room for rounding")
CLAIMS = [
    Claim(
        name="sigmoid_error_falls_generated",
        metric="sigmoid_generated_worst_ratio",
        op="<=",
        threshold=0.25,
        paper_value=_THEOREM,
        scale_note=f"worst over the kink, the wave and the ramp of the {_RATIO} (N = 64 in quick); "
        "4 fresh starts and 1 nested net per N, Levenberg-Marquardt, sup on 8,193 points; 0.25 = 'several-fold'",
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
        name="sigmoid_more_units_never_hurt",
        metric="sigmoid_max_rel_rise",
        op="<=",
        threshold=1e-3,
        paper_value="more units can only help: a net with 2N units contains every net with N (alpha_j = 0 for the "
        "others); not stated as such in the paper, it follows from Eq. (1)",
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
        name="relu_more_units_never_hurt",
        metric="relu_max_rel_rise",
        op="<=",
        threshold=1e-3,
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


def new_units(cfg: Config, B: int, n_new: int, width: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    """n_new fresh units for each of B nets of `width` units: unit j starts switching in the j-th n_new-th of [0, 1]
    (jittered), with steepness log-uniform in [steep_min width, steep_max width], a random sign and alpha_j = 0 (so
    adding them leaves G unchanged). All (B, n_new)."""
    j = torch.arange(n_new, dtype=torch.float64)
    centre = (j + torch.rand(B, n_new, generator=g, dtype=torch.float64)) / n_new
    u = torch.rand(B, n_new, generator=g, dtype=torch.float64)
    log_steep = math.log(width) + math.log(cfg.steep_min) + u * math.log(cfg.steep_max / cfg.steep_min)
    sign = torch.where(torch.rand(B, n_new, generator=g) < 0.5, -1.0, 1.0).double()
    return {"alpha": torch.zeros(B, n_new, dtype=torch.float64), "log_steep": log_steep, "centre": centre,
            "sign": sign}


UNIT_FIELDS = ("alpha", "log_steep", "centre", "sign")


def unit_params(net: SigmoidalSums) -> dict[str, torch.Tensor]:
    """A net's units as plain tensors (B, U), cloned: what a stage hands to the next and the checkpoint keeps."""
    return {k: getattr(net, k).detach().clone().cpu() for k in UNIT_FIELDS}


def build(params: dict[str, torch.Tensor], widths: tuple[int, ...], activation: str, device=None) -> SigmoidalSums:
    return SigmoidalSums(*(params[k].to(device) for k in UNIT_FIELDS), widths, activation)


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


def stage_nets(cfg: Config, k: int, activation: str, seed: int, best_prev: dict | None, x, Fr) -> SigmoidalSums:
    """The nets that the stage of width N = widths[k] starts from: restarts + 1 rows per target (grouped by
    target). The first `restarts` are fresh (new_units, output weights by least squares). The last continues
    from the best net of the previous width (best_prev: its units, (T, widths[k-1])), padded with fresh units
    whose alpha_j = 0, so it starts as exactly the function the smaller net found: Eq. (1) nests. At the first
    width that row is fresh too."""
    g = torch.Generator().manual_seed(1000 * (2 * seed + (activation == "relu")) + k)
    T, R, width = len(TARGETS), cfg.restarts, cfg.widths[k]
    units = new_units(cfg, T * (R + 1), width, width, g)  # (T (R + 1), N)
    net = build(units, (width,), activation, x.device)
    least_squares_alpha(net, x, Fr)
    if best_prev is not None:
        pad = new_units(cfg, T, width - cfg.widths[k - 1], width, g)
        with torch.no_grad():
            for f in UNIT_FIELDS:
                getattr(net, f).view(T, R + 1, width)[:, R] = torch.cat([best_prev[f], pad[f]], 1).to(x.device)
    return net


def fit(cfg: Config, ctx, state: dict, activation: str, x, F, grids) -> SigmoidalSums:
    """Fit every (target, row) net of one activation, width after width; resumable at any checkpoint.

    The nesting of Eq. (1) is realised in the search: at each width one net per target starts from the best net
    of the previous width (stage_nets), and if its fit ends with a larger sup error than that start, it is put
    back to the start. So the best sup error over a target's rows can only fall from one width to the next (up
    to rounding). The other rows are fresh starts, as many as `restarts`; they explore, and their own curve (no
    nesting) stays in the metrics. state["stages"][activation] keeps, per width, the nets kept, the sup errors
    of every fit (T, R + 1) and of the nested row's start (T,)."""
    T, R = len(TARGETS), cfg.restarts
    Fr = F.repeat_interleave(R + 1, 0).to(ctx.device)  # (B, M): row b fits target b // (R + 1)
    x = x.to(ctx.device)
    done = state.setdefault("stages", {}).setdefault(activation, [])
    part = state.get("partial") if (state.get("partial") or {}).get("activation") == activation else None
    left = (len(cfg.widths) - len(done)) * cfg.lm_iters - (part["iter"] if part else 0)
    with ctx.bar(left, f"{activation}: Levenberg-Marquardt, width after width") as bar:
        for k in range(len(done), len(cfg.widths)):
            width = cfg.widths[k]
            if part is not None:  # resuming inside this stage
                net, start = build(part["net"], (width,), activation, ctx.device), part["start"]
                mu, first = part["mu"].to(ctx.device), part["iter"]
                part = None
            else:
                best_prev = None
                if done:
                    rows = torch.arange(T) * (R + 1) + done[-1]["best"]  # (T,) the best row of each target
                    best_prev = {f: v[rows] for f, v in done[-1]["net"].items()}
                net = stage_nets(cfg, k, activation, ctx.seed, best_prev, x, Fr)
                start, first = unit_params(net), 0
                mu = torch.full((len(Fr), 1), cfg.mu0, dtype=torch.float64, device=ctx.device)
            for it in range(first, cfg.lm_iters):
                p = 2.0 if it < cfg.lm_iters * cfg.lsq_share else cfg.p_final
                rmse = lm_iteration(net, x, Fr, mu, p)
                state["step"] += 1
                ctx.log(state["step"], **{f"{activation}_train_rmse": float(rmse.mean()), f"{activation}_width": width})
                if (it + 1) % cfg.checkpoint_every == 0 and it + 1 < cfg.lm_iters:
                    state["partial"] = {"activation": activation, "net": unit_params(net), "start": start, "mu": mu,
                                        "iter": it + 1}
                    ctx.checkpoint(state["step"], state)
                bar.update(1, N=width, rmse=float(rmse.mean()))
            sup_fit = evaluate(cfg, net, grids)[..., 0]  # (T, R + 1)
            kept, sup_kept = unit_params(net), sup_fit.clone()
            sup_start = torch.full((T,), math.nan, dtype=torch.float64)
            if k > 0:  # the nested row goes back to its start (the previous width's best net) if it ended worse
                sup_start = evaluate(cfg, build(start, (width,), activation, ctx.device), grids)[:, R, 0]  # (T,)
                back = torch.zeros(T, R + 1, dtype=torch.bool)
                back[:, R] = sup_start < sup_fit[:, R]
                kept = {f: torch.where(back.flatten()[:, None], start[f], kept[f]) for f in UNIT_FIELDS}
                sup_kept[:, R] = torch.where(back[:, R], sup_start, sup_fit[:, R])
            done.append({"net": kept, "sup_fit": sup_fit, "sup_start": sup_start, "best": sup_kept.argmin(1)})
            state.pop("partial", None)
            ctx.checkpoint(state["step"], state)
    return build({f: torch.cat([st["net"][f] for st in done], 1) for f in UNIT_FIELDS}, cfg.widths, activation,
                 ctx.device)


@torch.no_grad()
def evaluate(cfg: Config, net: SigmoidalSums, grids) -> torch.Tensor:
    """Sup-norm error of every network on its target's dense grid, (T, rows per target, W), W = len(net.widths)."""
    out, n = [], len(net.alpha) // len(TARGETS)
    for k, name in enumerate(TARGETS):
        xs, fs = grids[name]
        rows = slice(k * n, (k + 1) * n)
        sub = SigmoidalSums(net.alpha[rows], net.log_steep[rows], net.centre[rows], net.sign[rows], net.widths,
                            net.activation)
        out.append(torch.stack([sup_error(sub(xc.to(net.alpha.device)), fc.to(net.alpha.device))
                                for xc, fc in zip(xs.split(4096), fs.split(4096), strict=True)]).amax(0))
    return torch.stack(out).cpu()


EXACT = 1e-9
"""Sup errors below this are exact fits up to rounding (a ReLU net represents the kink and the ramp exactly with
2 units and reaches ~1e-12): in a relative rise the earlier error counts as at least EXACT."""


def relative_rises(s: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
    """(s - prev) / (prev + EXACT): how much an error grew as a share of the error it grew from."""
    return (s - prev) / (prev + EXACT)


def curve_metrics(cfg: Config, activation: str, sup: torch.Tensor, stages: list[dict]) -> dict[str, float]:
    """sup (T, R + 1, W): every kept net's sup error. Ratios of the best over rows, its largest relative rise from
    one width to the next, the same rise for the fresh rows alone (no nesting: what independent fits give), how
    often the nested row was the best and how often it went back to its start, and a Spearman correlation."""
    R = cfg.restarts
    best, fresh = sup.amin(1), sup[:, :R].amin(1)  # (T, W) each
    m, ratios, rises, fresh_rises = {}, {}, [], []
    for k, name in enumerate(TARGETS):
        s = best[k]
        for w, v in zip(cfg.widths, s.tolist(), strict=True):
            m[f"{activation}_{name}_sup_n{w}"] = v
        ratios[name] = float(s[-1] / s[0])
        rises.append(float(relative_rises(s[1:], s[:-1]).max()))
        fresh_rises.append(float(relative_rises(fresh[k, 1:], fresh[k, :-1]).max()))
        m[f"{activation}_{name}_ratio"], m[f"{activation}_{name}_max_rel_rise"] = ratios[name], rises[-1]
        m[f"{activation}_{name}_fresh_max_rel_rise"] = fresh_rises[-1]
        m[f"{activation}_{name}_spearman"] = spearman(torch.tensor(cfg.widths, dtype=torch.float64), s)
    m[f"{activation}_generated_worst_ratio"] = max(ratios[n] for n in GENERATED)
    m[f"{activation}_seattle_ratio"] = ratios["seattle"]
    m[f"{activation}_worst_ratio"] = max(ratios.values())
    m[f"{activation}_max_rel_rise"] = max(rises)
    m[f"{activation}_fresh_max_rel_rise"] = max(fresh_rises)
    later = stages[1:]
    m[f"{activation}_nested_best_share"] = (float(torch.cat([st["best"] == R for st in later]).double().mean())
                                            if later else math.nan)
    m[f"{activation}_put_back_share"] = (float(torch.cat([st["sup_start"] < st["sup_fit"][:, R] for st in later])
                                               .double().mean()) if later else math.nan)
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
        net = fit(cfg, ctx, state, activation, x, F, grids)
        sup = evaluate(cfg, net, grids)  # (T, R + 1, W)
        best = sup.min(1)
        state["metrics"].update(curve_metrics(cfg, activation, sup, state["stages"][activation]))
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
    n = len(net.alpha) // len(TARGETS)  # rows per target
    return {name: torch.stack([G[k * n + int(best[k, w]), :, w] for w in range(len(cfg.widths))])
            for k, name in enumerate(TARGETS)}  # name -> (W, 600)


def draw(cfg: Config, state: dict, grids, lo: float, hi: float, ctx) -> None:
    """The claims' pictures (figures.py): error ratio and largest rise against N, and the best fits."""
    bar = {c.name: c.threshold for c in CLAIMS}
    figures.error_ratio(cfg.widths, state["sup"], TARGETS, bar["sigmoid_error_falls_generated"],
                        ctx.path("sup_error_vs_N.png"))
    rises = {activation: {kind: [state["metrics"][f"{activation}_{name}_{kind}max_rel_rise"] for name in TARGETS]
                          for kind in ("fresh_", "")} for activation in state["sup"]}
    figures.largest_rise(rises, TARGETS, bar["sigmoid_more_units_never_hurt"], EXACT, ctx.path("largest_rise.png"))
    for activation, curves in state["plots"].items():
        figures.fits(activation, cfg.widths, curves, grids, TARGETS, (lo, hi), ctx.path(f"{activation}_fits.png"))
