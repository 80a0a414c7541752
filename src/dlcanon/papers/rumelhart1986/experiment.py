"""Rumelhart, Hinton & Williams (1986): back-propagation checked against autograd, then the paper's tasks.

Four stages, all on generated tasks, as in the paper itself:
  parity    our engine's gradients vs torch.autograd on random DAGs of modules (float64)
  xor       2-2-1 logistic net learns exclusive-or
  encoder   8-3-8 encoder: 8 one-hot patterns squeezed through 3 hidden units (PDP chapter)
  symmetry  6-2-1 net detects mirror symmetry of 6-bit vectors (Nature, Fig. 1)
Each task trains `replicas` restarts from independent random weights side by side (one set of tensors,
full-batch sweeps), because the paper's point about local minima is a statement about restarts.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from dlcanon.core.config import Annotated, Range
from dlcanon.core.paper import Claim

from . import figures
from .model import (
    Add,
    GeneralisedDelta,
    Graph,
    Linear,
    Mul,
    Sigmoid,
    SquaredError,
    Tanh,
    gradient_difference,
    layered_net,
    load_state_dict,
    state_dict,
)

PAPER_SYMMETRY_SWEEPS = 1425
"""Nature, Fig. 1 caption: sweeps the symmetry net needed (epsilon = 0.1, alpha = 0.9)."""
DTYPE = torch.float64


@dataclass
class Config:
    parity_graphs: Annotated[int, Range(ge=1, le=10_000)] = 20
    """random module graphs whose engine gradients are compared with torch.autograd"""
    parity_max_nodes: Annotated[int, Range(ge=2, le=50)] = 12
    """largest number of modules in a random graph"""
    replicas: Annotated[int, Range(ge=1, le=10_000)] = 100
    """independent restarts (random initial weights) trained side by side for each task"""
    init_range: Annotated[float, Range(gt=0, le=10)] = 0.3
    """initial weights and biases uniform in [-init_range, init_range] (Nature, Fig. 1 caption)"""
    alpha: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum factor alpha of Eq. (9), the same for all tasks"""
    xor_epsilon: Annotated[float, Range(gt=0, le=10)] = 0.5
    """learning rate epsilon for XOR"""
    xor_sweeps: Annotated[int, Range(ge=1, le=500_000)] = 2000
    """full-batch sweeps through the 4 XOR patterns"""
    encoder_epsilon: Annotated[float, Range(gt=0, le=10)] = 0.1
    """learning rate epsilon for the 8-3-8 encoder"""
    encoder_sweeps: Annotated[int, Range(ge=1, le=500_000)] = 3000
    """full-batch sweeps through the 8 encoder patterns"""
    symmetry_epsilon: Annotated[float, Range(gt=0, le=10)] = 0.1
    """learning rate epsilon for mirror symmetry (Nature, Fig. 1 caption)"""
    symmetry_sweeps: Annotated[int, Range(ge=1, le=500_000)] = 6000
    """full-batch sweeps through the 64 symmetry patterns (about 4x the paper's reported run)"""
    log_every: Annotated[int, Range(ge=1, le=500_000)] = 10
    """sweeps between logged curve points"""
    checkpoint_every: Annotated[int, Range(ge=1, le=500_000)] = 1000
    """sweeps between checkpoints"""


PRESETS = {
    "smoke": Config(
        parity_graphs=3, replicas=4, xor_sweeps=40, encoder_sweeps=40, symmetry_sweeps=40, checkpoint_every=20
    ),
    "quick": Config(),
    "full": Config(
        parity_graphs=500,
        parity_max_nodes=30,
        replicas=1000,
        xor_sweeps=5000,
        encoder_sweeps=10000,
        symmetry_sweeps=20000,
        log_every=50,
        checkpoint_every=2000,
    ),
}

_SCALE = "generated task as in the paper; {r} restarts in quick (paper: single runs shown), fixed sweep budget"
CLAIMS = [
    Claim(
        "autodiff_parity",
        "autodiff_max_abs_diff",
        "<",
        1e-10,
        "Eqs. (4)-(7): the backward pass gives the exact derivatives dE/dw",
        "20 random DAGs (Linear/Sigmoid/Tanh/Add/Mul, fan-out) in float64 vs torch.autograd",
    ),
    Claim(
        "xor_solved",
        "xor_solved_fraction",
        ">=",
        0.5,
        "XOR is learned by a net with hidden units; local minima are rare (PDP ch. 8)",
        _SCALE.format(r=100) + " of 2000 sweeps; criterion: all 4 outputs round to the target",
    ),
    Claim(
        "encoder_solved",
        "encoder_solved_fraction",
        ">=",
        0.5,
        "the 8-3-8 encoder learns to reproduce all 8 patterns (PDP ch. 8)",
        _SCALE.format(r=100) + " of 3000 sweeps; criterion: all 64 outputs round to the target",
    ),
    Claim(
        "encoder_distinct_codes",
        "encoder_distinct_codes",
        ">=",
        8,
        "each of the 8 patterns gets its own hidden code; the paper's table prints codes in steps of 1/2",
        "median over restarts of distinct codes after rounding hidden values to {0, 1/2, 1}",
    ),
    Claim(
        "encoder_near_binary",
        "encoder_code_deviation",
        "<",
        0.125,
        "hidden values mostly 0 or 1 (PDP table: 22 of 24 values binary, 2 at 0.5, i.e. ~0.04)",
        "median over restarts of mean |h - round(h)|; 0.125 is half of what uniform values give",
    ),
    Claim(
        "symmetry_solved",
        "symmetry_solved_fraction",
        ">=",
        0.5,
        "the 6-2-1 net learns mirror symmetry of all 64 vectors (Nature, Fig. 1)",
        _SCALE.format(r=100) + " of 6000 sweeps; criterion: all 64 outputs round to the target",
    ),
    Claim(
        "symmetry_sweeps_not_slower",
        "symmetry_solved_by_paper_sweeps",
        ">=",
        0.05,
        "1,425 sweeps with epsilon=0.1, alpha=0.9 (Nature, Fig. 1; ~1,208 is also quoted, unverified)",
        "fraction of our restarts solved within 1,425 sweeps: the paper's single run must lie inside "
        "the central 90% of our distribution",
    ),
    Claim(
        "symmetry_sweeps_not_faster",
        "symmetry_solved_by_paper_sweeps",
        "<=",
        0.95,
        "1,425 sweeps with epsilon=0.1, alpha=0.9 (Nature, Fig. 1)",
        "upper end of the same central-90% band",
    ),
    Claim(
        "mirror_antisymmetry",
        "mirror_antisymmetry",
        "<",
        0.1,
        "weights symmetric about the middle are equal in magnitude and opposite in sign (Fig. 1)",
        "median over solved restarts of mean|w_i + w_(7-i)| / mean|w|: equal to within 10%",
    ),
    Claim(
        "ratio_1_2_4",
        "ratio_error",
        "<",
        0.5,
        "the three mirror-pair magnitudes stand in ratio 1:2:4 (Fig. 1)",
        "median over solved restarts of max |log2(step ratio) - 1|: each step nearer x2 than x1 or x4",
    ),
    Claim(
        "hidden_units_opposite",
        "hidden_opposition",
        "<",
        0.1,
        "the two hidden units have the same weights with opposite signs (Fig. 1)",
        "median over solved restarts of mean|w_1i + w_2i| / mean|w|",
    ),
]


# ------------------------------------------------------------------------------------------- the tasks


def xor_task(device) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=DTYPE, device=device)  # (4, 2)
    return x, (x[:, :1] != x[:, 1:]).to(DTYPE)  # (4, 1)


def encoder_task(device) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.eye(8, dtype=DTYPE, device=device)  # (8, 8) one-hot
    return x, x


def symmetry_task(device) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.tensor(list(itertools.product([0, 1], repeat=6)), dtype=DTYPE, device=device)  # (64, 6)
    d = (x == x.flip(-1)).all(-1, keepdim=True).to(DTYPE)  # (64, 1): 8 ones
    return x, d


TASKS = {  # name -> (patterns, layer sizes, epsilon field, sweeps field)
    "xor": (xor_task, (2, 2, 1), "xor_epsilon", "xor_sweeps"),
    "encoder": (encoder_task, (8, 3, 8), "encoder_epsilon", "encoder_sweeps"),
    "symmetry": (symmetry_task, (6, 2, 1), "symmetry_epsilon", "symmetry_sweeps"),
}


# ----------------------------------------------------------------------------- autodiff parity (stage 1)


def random_graph(gen: torch.Generator, n_in: int, n_out: int, max_nodes: int) -> Graph:
    """A random DAG: each node takes its input(s) from any earlier value (so values fan out), with
    random widths; Add/Mul join two earlier values of equal width (possibly the same one twice)."""

    def pick(seq):
        return seq[int(torch.randint(len(seq), (1,), generator=gen))]

    widths, nodes = {"x": n_in}, []
    for k in range(int(torch.randint(2, max_nodes + 1, (1,), generator=gen))):
        kind, src = pick(["Linear", "Sigmoid", "Tanh", "Add", "Mul"]), pick(list(widths))
        inputs = (src,)
        if kind in ("Add", "Mul"):
            inputs = (src, pick([v for v, w in widths.items() if w == widths[src]]))
            module = Add() if kind == "Add" else Mul()
        elif kind == "Linear":
            n = int(torch.randint(1, 6, (1,), generator=gen))
            module = Linear(widths[src], n, init_range=1.0, generator=gen, dtype=DTYPE)
        else:
            module = Sigmoid() if kind == "Sigmoid" else Tanh()
        widths[f"n{k}"] = n if kind == "Linear" else widths[src]
        nodes.append((f"n{k}", module, inputs))
    last = nodes[-1][0]
    nodes.append(("out", Linear(widths[last], n_out, init_range=1.0, generator=gen, dtype=DTYPE), (last,)))
    return Graph(nodes, "out")


def parity_check(cfg: Config, seed: int) -> list[float]:
    """Largest |dE/dw| difference between our engine and torch.autograd, per random graph."""
    gen = torch.Generator().manual_seed(seed)
    diffs = []
    for _ in range(cfg.parity_graphs):
        n_in, n_out, batch = (int(torch.randint(1, 6, (1,), generator=gen)) for _ in range(3))
        net = random_graph(gen, n_in, n_out, cfg.parity_max_nodes)
        x = torch.randn(batch, n_in, generator=gen, dtype=DTYPE)
        d = torch.rand(batch, n_out, generator=gen, dtype=DTYPE)
        diffs.append(gradient_difference(net, SquaredError(), x, d))
    return diffs


# ------------------------------------------------------------------------------- training (stages 2-4)


def all_correct(y: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Per replica: every output rounds to its target (|y - d| < 1/2 on all cases and units)."""
    return ((y - d).abs() < 0.5).flatten(-2).all(-1)  # (R,)


def train_task(name: str, cfg: Config, ctx, offset: int, resume: dict | None, done: dict):
    """Sweeps of Eq. (9) on all restarts at once; returns (net, first sweep at which each was solved)."""
    patterns, sizes, eps_field, sweeps_field = TASKS[name]
    x, d = patterns(ctx.device)
    gen = torch.Generator().manual_seed(1000 * ctx.seed + list(TASKS).index(name))
    net = layered_net(sizes, cfg.replicas, cfg.init_range, gen, DTYPE, ctx.device)
    loss, opt = SquaredError(), GeneralisedDelta(net.params(), getattr(cfg, eps_field), cfg.alpha)
    first = torch.full((cfg.replicas,), -1, dtype=torch.long, device=ctx.device)
    start = 0
    if resume is not None and resume["name"] == name:
        load_state_dict(net, resume["net"])
        opt.load_state_dict(resume["opt"])
        first, start = resume["first"].to(ctx.device), resume["sweep"]
    n_sweeps = getattr(cfg, sweeps_field)
    with torch.no_grad(), ctx.bar(n_sweeps - start, f"{name} sweeps") as bar:
        for t in range(start, n_sweeps):
            y = net.forward(x)  # (R, B, n_out)
            E = loss.forward(y, d)  # (R,)
            first = torch.where((first < 0) & all_correct(y, d), t, first)
            if t % cfg.log_every == 0:
                solved = (first >= 0).double().mean()
                ctx.log(offset + t, **{f"{name}_E_median": E.median(), f"{name}_solved": solved})
                bar.update(min(cfg.log_every, n_sweeps - t), E=float(E.median()), solved=float(solved))
            net.zero_grad()
            net.backward(loss.backward())
            opt.step()
            if (t + 1) % cfg.checkpoint_every == 0 and t + 1 < n_sweeps:
                current = {
                    "name": name,
                    "sweep": t + 1,
                    "net": state_dict(net),
                    "opt": opt.state_dict(),
                    "first": first,
                }
                ctx.checkpoint(offset + t, {"done": done, "current": current})
    y = net.forward(x)
    first = torch.where((first < 0) & all_correct(y, d), n_sweeps, first)
    return net, first, x, d


# ------------------------------------------------------------------------------------------- measures


def lower_median(values: torch.Tensor) -> float:
    """Median that stays finite when fewer than half the entries are infinite (unsolved restarts)."""
    v = values.double().sort().values
    return float(v[(len(v) - 1) // 2]) if len(v) else math.nan


def sweeps_stats(name: str, first: torch.Tensor, solved: torch.Tensor) -> dict[str, float]:
    sweeps = torch.where(first >= 0, first.double(), torch.tensor(math.inf, dtype=torch.float64))
    return {f"{name}_solved_fraction": solved.double().mean().item(), f"{name}_sweeps_median": lower_median(sweeps)}


def xor_measures(net, first, x, d) -> dict[str, float]:
    y = net.forward(x)  # (R, 4, 1)
    solved = all_correct(y, d)
    return {**sweeps_stats("xor", first, solved), "xor_accuracy_mean": ((y - d).abs() < 0.5).double().mean().item()}


def encoder_measures(net, first, x, d) -> dict[str, float]:
    y = net.forward(x)
    h = net.modules[1].y  # (R, 8, 3) hidden codes
    solved = all_correct(y, d)

    def distinct(codes):  # (R, 8, 3) -> (R,)
        return torch.tensor([float(len({tuple(c.tolist()) for c in r})) for r in codes])

    return {
        **sweeps_stats("encoder", first, solved),
        "encoder_distinct_codes": lower_median(distinct((2 * h).round() / 2)),
        "encoder_binary_code_fraction": (distinct(h.round()) == 8).double().mean().item(),
        "encoder_code_deviation": lower_median((h - h.round()).abs().mean((-2, -1))),
    }


def mirror_structure(W: torch.Tensor) -> dict[str, torch.Tensor]:
    """Fig. 1 structure of input->hidden weights W (R, 2, 6), per replica (R,)."""
    scale = W.abs().mean((-2, -1))  # (R,)
    antisym = (W + W.flip(-1)).abs().mean((-2, -1)) / scale  # w_i vs w_(7-i)
    pair = (W[..., :3].abs() + W[..., 3:].flip(-1).abs()) / 2  # (R, 2, 3) magnitudes
    m = pair.sort(-1).values
    ratio_error = (torch.log2(m[..., 1:] / m[..., :-1]) - 1).abs().amax((-2, -1))  # vs 1:2:4
    opposition = (W[:, 0] + W[:, 1]).abs().mean(-1) / scale  # hidden 1 vs -hidden 2
    return {"antisym": antisym, "ratio_error": ratio_error, "opposition": opposition}


def symmetry_measures(net, first, x, d) -> dict[str, float]:
    solved = all_correct(net.forward(x), d)
    s = mirror_structure(net.modules[0].W.value)
    ok = solved.cpu()
    on_solved = {k: v.cpu()[ok] for k, v in s.items()}
    by_paper = ((first >= 0) & (first <= PAPER_SYMMETRY_SWEEPS)).double().mean().item()
    return {
        **sweeps_stats("symmetry", first, solved),
        "symmetry_solved_by_paper_sweeps": by_paper,
        "mirror_antisymmetry": lower_median(on_solved["antisym"]),
        "ratio_error": lower_median(on_solved["ratio_error"]),
        "ratio_124_fraction": (on_solved["ratio_error"] < 0.5).double().mean().item() if ok.any() else 0.0,
        "hidden_opposition": lower_median(on_solved["opposition"]),
    }


MEASURES = {"xor": xor_measures, "encoder": encoder_measures, "symmetry": symmetry_measures}


# ---------------------------------------------------------------------------------------------- run


def run(cfg: Config, ctx) -> dict[str, float]:
    done, resume = {"metrics": {}}, None  # done: metrics so far + each finished task's weights
    if (ck := ctx.restore()) is not None:
        _, state = ck
        done, resume = state["done"], state["current"]
    metrics = done["metrics"]
    diffs = parity_check(cfg, ctx.seed)  # seconds at most; after a resume it is redone for the figure
    metrics.update(autodiff_max_abs_diff=max(diffs), autodiff_graphs=float(cfg.parity_graphs))
    nets, offset = {}, 0  # offset: global sweep count, the step of logs/checkpoints
    for name in TASKS:
        if name in done:  # finished before a resume: rebuild, do not retrain
            nets[name] = rebuild(name, cfg, ctx, done[name])
        else:
            net, first, x, d = train_task(name, cfg, ctx, offset, resume, done)
            with torch.no_grad():
                metrics.update(MEASURES[name](net, first, x, d))
            done[name] = {"net": state_dict(net), "first": first}
            nets[name] = (net, first, x, d)
            ctx.checkpoint(offset + getattr(cfg, TASKS[name][3]) - 1, {"done": done, "current": None})
        offset += getattr(cfg, TASKS[name][3])
    draw(cfg, nets, diffs, ctx)
    return metrics


def rebuild(name: str, cfg: Config, ctx, saved: dict):
    patterns, sizes, _, _ = TASKS[name]
    x, d = patterns(ctx.device)
    net = layered_net(sizes, cfg.replicas, cfg.init_range, torch.Generator(), DTYPE, ctx.device)
    load_state_dict(net, saved["net"])
    with torch.no_grad():
        net.forward(x)  # refill the cached hidden values for the figure
    return net, saved["first"].to(ctx.device), x, d


@torch.no_grad()
def draw(cfg: Config, nets: dict, diffs: list[float], ctx) -> None:
    """The figures (figures.py), from the trained restarts of each task."""
    figures.plot_parity(diffs, ctx.path("rumelhart1986_parity.png"))
    runs = {name: (first.cpu().numpy(), getattr(cfg, TASKS[name][3])) for name, (_, first, _, _) in nets.items()}
    figures.plot_solved(runs, PAPER_SYMMETRY_SWEEPS, ctx.path("rumelhart1986_solved.png"))
    net, _, x, d = nets["encoder"]
    net.forward(x)  # cache the hidden values
    figures.plot_encoder(net.modules[1].y.cpu().numpy(), ctx.path("rumelhart1986_encoder.png"))
    net, _, x, d = nets["symmetry"]
    solved = all_correct(net.forward(x), d).cpu()
    W = net.modules[0].W.value
    r = int(solved.nonzero()[0]) if solved.any() else 0  # the first solved restart
    structure = {k: v.cpu()[solved].numpy() for k, v in mirror_structure(W).items()}
    figures.plot_symmetry(W[r].cpu().numpy(), r, structure, ctx.path("rumelhart1986_symmetry.png"))
