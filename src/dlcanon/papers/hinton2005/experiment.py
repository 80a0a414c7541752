"""Hinton (2005): three experiments on real MNIST digits, one per claim about RBMs.

1. CD-1 against exact maximum likelihood. Digits are shrunk to a few pixels and binarised; an RBM with few hidden
   units models them. Its partition function is a sum over 2^n_h hidden states, so we can compute everything
   exactly: the log-likelihood of every image, and the true maximum-likelihood gradient. Two RBMs start from
   the same weights and see the same mini-batches; one learns by CD-1, the other by the exact gradient. We
   compare their exact log-likelihoods on held-out digits, beside independent pixels as a floor.
2. Greedy stacking. The CD-1 RBM's hidden states become the data of a second RBM that starts as the first one
   upside down (W^T). At that start the variational bound on log p(v) equals the first RBM's log p(v); we
   train the second RBM by CD-1 and measure the bound again, exactly.
3. Samples. One RBM per digit class learns that class (14x14 binary digits). Gibbs chains started from noise
   then draw samples, and a classifier trained separately on real digits says which class each one shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import RBM, bernoulli, two_layer_log_prob, variational_bound


@dataclass
class Config:
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of MNIST images (fixed, independent of the run's seed)"""
    # -- 1. CD-1 against exact maximum likelihood
    side: Annotated[int, Range(ge=2, le=10)] = 5
    """the small digits are side x side pixels: MNIST's central 20x20 box, area-averaged"""
    ink: Annotated[float, Range(gt=0, lt=1)] = 0.3
    """a small pixel is on when its area-averaged grey level exceeds this (grey levels in [0, 1])"""
    n_hidden: Annotated[int, Range(ge=1, le=20)] = 12
    """hidden units of the small RBM (its Z sums 2^n_hidden states)"""
    n_train: Annotated[int, Range(ge=10, le=60_000)] = 10_000
    """training digits for the small RBMs"""
    n_test: Annotated[int, Range(ge=10, le=10_000)] = 10_000
    """held-out digits (MNIST's test set) on which log-likelihoods are compared"""
    epochs: Annotated[int, Range(ge=1, le=1000)] = 20
    """passes through the training digits, both arms"""
    batch_size: Annotated[int, Range(ge=1, le=60_000)] = 100
    """digits per update, both arms"""
    lr: Annotated[float, Range(gt=0, le=10)] = 0.1
    """step size at the start; it falls linearly to zero over training (both arms, and the stacked RBM)"""
    momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum of the weight updates (all RBMs)"""
    init_std: Annotated[float, Range(gt=0, le=1)] = 0.01
    """initial weights ~ N(0, init_std^2); biases start at zero"""
    # -- 2. stacking
    stack_epochs: Annotated[int, Range(ge=1, le=1000)] = 10
    """passes of the second RBM through the first one's hidden states of the training digits"""
    # -- 3. samples
    class_side: Annotated[int, Range(ge=7, le=28)] = 14
    """the class RBMs see side x side digits (28 is MNIST's own size), binarised at grey level 0.5"""
    class_hidden: Annotated[int, Range(ge=1, le=4096)] = 100
    """hidden units of each class RBM"""
    class_train: Annotated[int, Range(ge=10, le=60_000)] = 10_000
    """training digits shared out among the ten class RBMs by label"""
    class_epochs: Annotated[int, Range(ge=1, le=1000)] = 10
    """passes of each class RBM through its digits"""
    class_lr: Annotated[float, Range(gt=0, le=10)] = 0.05
    """CD-1 step size of the class RBMs"""
    weight_cost: Annotated[float, Range(ge=0, le=1)] = 2e-4
    """L2 weight decay on W of the class RBMs (none on the small RBMs: they are compared with exact ML)"""
    chains: Annotated[int, Range(ge=1, le=10_000)] = 20
    """Gibbs chains per class, each started from uniform random pixels"""
    gibbs_steps: Annotated[int, Range(ge=1, le=100_000)] = 500
    """alternating Gibbs steps per chain"""
    clf_train: Annotated[int, Range(ge=10, le=60_000)] = 10_000
    """real digits (not seen by the class RBMs) that train the independent classifier"""
    clf_epochs: Annotated[int, Range(ge=1, le=1000)] = 5
    """passes of the classifier through its digits"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.batch_size > self.n_train:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed n_train ({self.n_train})")
        if self.class_train + self.clf_train > 60_000:
            raise ValueError("class_train + clf_train must not exceed MNIST's 60,000 training digits (kept disjoint)")


PRESETS = {
    "smoke": Config(side=3, n_hidden=4, n_train=500, n_test=200, epochs=2, stack_epochs=1, class_hidden=16,
                    class_train=500, class_epochs=1, chains=2, gibbs_steps=5, clf_train=500, clf_epochs=1),
    "quick": Config(),
    "full": Config(side=6, n_hidden=14, n_train=60_000, epochs=30, stack_epochs=20, class_side=28,
                   class_hidden=500, class_train=40_000, class_epochs=20, chains=50, gibbs_steps=1000,
                   clf_train=20_000, clf_epochs=10),
}  # fmt: skip

PAPER_CD = (
    "Qualitative: CD-1 follows the gradient of a different objective (the contrastive divergence), yet "
    "learns good models; the paper gives no likelihood figure. Carreira-Perpinan & Hinton (2005) measure the "
    "bias on small RBMs with exact likelihoods and find it small (their numbers not checked here)."
)
CLAIMS = [
    Claim(
        name="cd1_close_to_ml_nats",
        metric="ml_test_ll",
        minus="cd1_test_ll",
        op="<=",
        threshold=0.25,
        paper_value=PAPER_CD,
        scale_note=(
            "Exact log-likelihood per held-out digit (nats) of binarised MNIST digits shrunk to 5x5 under a "
            "12-hidden-unit RBM (full: 6x6, 14 hidden): exact-ML arm minus CD-1 arm, same init, batches and step "
            "sizes. Bound fixed before any run: 0.25 nats per digit, about 1% of a 5x5 digit's ~12 nats."
        ),
    ),
    Claim(
        name="cd1_close_to_ml_relative",
        metric="cd1_gap_fraction",
        op="<=",
        threshold=0.10,
        paper_value=PAPER_CD,
        scale_note=(
            "(ML - CD-1) / (ML - independent pixels) in held-out log-likelihood: CD-1 must recover at least 90% "
            "of what exact ML gains over a factorised-Bernoulli model. Bound fixed before any run."
        ),
    ),
    Claim(
        name="stacking_raises_bound_train",
        metric="bound_after_train",
        minus="bound_before_train",
        op=">",
        threshold=0.0,
        paper_value=(
            "No figure: adding a layer, initialised as the layer below transposed, and learning it improves a "
            "variational lower bound on the log probability of the training data (the argument of Hinton et al. "
            "2006, Sec. 4; the 2005 paper's own wording not checked)."
        ),
        scale_note=(
            "Bound per training digit in nats, exact (all 2^12 hidden states enumerated; full: 2^14), before and "
            "after CD-1 training of the second RBM on top of the CD-1 RBM; before, it equals that RBM's log p(v)."
        ),
    ),
    Claim(
        name="stacking_raises_bound_test",
        metric="bound_after_test",
        minus="bound_before_test",
        op=">",
        threshold=0.0,
        paper_value="As above; the paper states it for the training data.",
        scale_note="The same bound on held-out digits: the second layer's gain is not just memorised.",
    ),
    Claim(
        name="samples_recognised",
        metric="sample_accuracy",
        op=">=",
        threshold=0.5,
        paper_value=(
            "No figure: the IJCAI 2005 talk trains an RBM of 100 hidden units on the images of one digit class "
            "('Using an RBM to learn a model of a digit class') and shows what it has learned as pictures."
        ),
        scale_note=(
            "One 100-hidden-unit RBM per class on 14x14 binarised MNIST (full: 500 hidden, 28x28), 20 chains of 500 "
            "Gibbs steps each from uniform noise (full: 50 of 1000); an MLP trained on other real digits must name "
            "the class of at least half of the samples (chance 10%). Bound fixed before any run."
        ),
    ),
]


# -- data -------------------------------------------------------------------------------------------------------------
def shrink(x: torch.Tensor, side: int, box: int) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, side, side) grey levels in [0, 1]: the central box x box pixels, area-averaged."""
    o = (28 - box) // 2
    x = x[:, None, o : o + box, o : o + box].float() / 255.0  # (N, 1, box, box)
    return F.interpolate(x, size=(side, side), mode="area")[:, 0]  # (N, side, side)


def load(cfg: Config) -> dict[str, torch.Tensor]:
    raw = mnist.load()
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(cfg.data_seed))
    x_tr, y_tr = torch.from_numpy(raw["train_x"]), torch.from_numpy(raw["train_y"])
    x_te, y_te = torch.from_numpy(raw["test_x"][: cfg.n_test]), torch.from_numpy(raw["test_y"][: cfg.n_test])
    small = lambda x: (shrink(x, cfg.side, 20) > cfg.ink).flatten(1).double()  # (N, side^2), float64: exact sums
    big = lambda x: (shrink(x, cfg.class_side, 28) > 0.5).flatten(1).float()  # (N, class_side^2)
    i_small, i_class, i_clf = perm[: cfg.n_train], perm[: cfg.class_train], perm[60_000 - cfg.clf_train :]
    return {
        "v_train": small(x_tr[i_small]), "v_test": small(x_te),
        "x_class": big(x_tr[i_class]), "y_class": y_tr[i_class],
        "x_clf": big(x_tr[i_clf]), "y_clf": y_tr[i_clf], "x_clf_test": big(x_te), "y_clf_test": y_te,
    }  # fmt: skip


# -- learning ---------------------------------------------------------------------------------------------------------
def update(rbm: RBM, grad: dict, velocity: dict, lr: float, momentum: float, weight_cost: float = 0.0) -> None:
    """Gradient ascent with momentum: delta <- momentum * delta + lr * (grad - weight_cost * W); theta += delta."""
    with torch.no_grad():
        for name, param in (("W", rbm.W), ("b", rbm.b), ("c", rbm.c)):
            g = grad[name] - weight_cost * param if name == "W" else grad[name]
            velocity[name].mul_(momentum).add_(lr * g)
            param.add_(velocity[name])


def zeros_like(rbm: RBM) -> dict[str, torch.Tensor]:
    return {"W": torch.zeros_like(rbm.W), "b": torch.zeros_like(rbm.b), "c": torch.zeros_like(rbm.c)}


def independent_pixels_ll(v_train: torch.Tensor, v: torch.Tensor) -> float:
    """Mean log-likelihood of v under independent Bernoulli pixels fitted to v_train (add-one smoothing)."""
    p = (v_train.sum(0) + 1) / (len(v_train) + 2)
    return (v @ torch.log(p) + (1 - v) @ torch.log1p(-p)).mean().item()


def mean_over(fn, v: torch.Tensor, chunk: int = 1024) -> float:
    """The mean of fn over the rows of v, computed once per distinct row (small binary images repeat often) and
    a chunk of rows at a time (fn may build a (rows, 2^n) table)."""
    u, counts = torch.unique(v, dim=0, return_counts=True)
    total = sum((fn(u[i : i + chunk]) * counts[i : i + chunk]).sum().item() for i in range(0, len(u), chunk))
    return total / len(v)


def lr_at(cfg: Config, epoch: int, epochs: int, i: int, n_batches: int) -> float:
    """Linear decay from cfg.lr to 0 over the whole of a training stage."""
    return cfg.lr * (1.0 - (epoch * n_batches + i) / (epochs * n_batches))


def train_arms_epoch(cfg, arms, vel, v_train, epoch: int, g_order, g_cd) -> None:
    """One pass of both small RBMs over the same mini-batches: 'ml' by the exact gradient, 'cd1' by CD-1."""
    perm = torch.randperm(len(v_train), generator=g_order, device=g_order.device)
    n_batches = len(v_train) // cfg.batch_size
    for i in range(n_batches):
        v0 = v_train[perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]]
        lr = lr_at(cfg, epoch, cfg.epochs, i, n_batches)
        with torch.no_grad():
            update(arms["ml"], arms["ml"].exact_gradient(v0), vel["ml"], lr, cfg.momentum)
            update(arms["cd1"], arms["cd1"].cd_gradient(v0, 1, g_cd), vel["cd1"], lr, cfg.momentum)


def train_top_epoch(cfg, bottom: RBM, top: RBM, vel, v_train, epoch: int, g_order, g_cd) -> None:
    """One pass of the second RBM: its data are binary hidden states h ~ Q(h|v) that the first RBM infers from
    the training digits, sampled afresh each time (the first RBM is frozen)."""
    perm = torch.randperm(len(v_train), generator=g_order, device=g_order.device)
    n_batches = len(v_train) // cfg.batch_size
    for i in range(n_batches):
        with torch.no_grad():
            h0 = bernoulli(bottom.p_h(v_train[perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]]), g_cd)
            lr = lr_at(cfg, epoch, cfg.stack_epochs, i, n_batches)
            update(top, top.cd_gradient(h0, 1, g_cd), vel, lr, cfg.momentum)


def train_class_rbms_epoch(cfg, rbms, vels, x, y, g_order, g_cd, batch_size: int = 20) -> None:
    """One CD-1 pass of each class's RBM over the digits of its class."""
    for k, rbm in enumerate(rbms):
        xk = x[y == k]
        perm = torch.randperm(len(xk), generator=g_order, device=g_order.device)
        for i in range(0, len(xk) - batch_size + 1, batch_size):
            with torch.no_grad():
                grad = rbm.cd_gradient(xk[perm[i : i + batch_size]], 1, g_cd)
                update(rbm, grad, vels[k], cfg.class_lr, cfg.momentum, cfg.weight_cost)


def classifier(n_in: int) -> nn.Module:
    """The independent judge: an MLP n_in-256-10 (ReLU) trained on real digits, nothing to do with RBMs."""
    return nn.Sequential(nn.Linear(n_in, 256), nn.ReLU(), nn.Linear(256, 10))


def train_classifier_epoch(net, velocity, x, y, g_order, batch_size: int = 100, lr: float = 0.1) -> None:
    """One pass of SGD with momentum 0.9 on the cross-entropy (written out: torch.optim costs seconds to load)."""
    perm = torch.randperm(len(x), generator=g_order, device=g_order.device)
    for i in range(0, len(x), batch_size):
        j = perm[i : i + batch_size]
        loss = F.cross_entropy(net(x[j]), y[j])
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, v, g in zip(net.parameters(), velocity, grads, strict=True):
                p.add_(v.mul_(0.9).add_(g, alpha=-lr))


CURVE_DIGITS = 500
"""The bound's per-epoch curve is measured on this many train and test digits (the claims use all of them)."""


# -- the run ----------------------------------------------------------------------------------------------------------
def build(cfg: Config, d, seed: int):
    """Every model of the run, freshly initialised from the run's seed."""
    g = torch.Generator().manual_seed(seed)
    n_v = cfg.side**2
    ml = RBM(n_v, cfg.n_hidden, cfg.init_std, g, dtype=torch.float64)
    cd1 = RBM(n_v, cfg.n_hidden, dtype=torch.float64)
    cd1.load_state_dict(ml.state_dict())  # both arms start from the very same weights
    top = RBM(cfg.n_hidden, n_v, dtype=torch.float64)  # overwritten by cd1.transposed() when stacking starts
    n_c = cfg.class_side**2
    class_rbms = nn.ModuleList([RBM(n_c, cfg.class_hidden, cfg.init_std, g) for _ in range(10)])
    for k, rbm in enumerate(class_rbms):  # visible biases at the log-odds of each pixel in the class
        p = (d["x_class"][d["y_class"] == k].sum(0) + 1) / ((d["y_class"] == k).sum() + 2)
        rbm.b.data.copy_(torch.log(p / (1 - p)))
    clf = classifier(n_c)  # PyTorch's default init, from the run's seed
    return {"ml": ml, "cd1": cd1, "top": top, "class_rbms": class_rbms, "clf": clf}


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load(cfg).items()}
    m = {k: model.to(ctx.device) for k, model in build(cfg, d, ctx.seed).items()}
    vel = {"ml": zeros_like(m["ml"]), "cd1": zeros_like(m["cd1"]), "top": zeros_like(m["top"]),
           "class": [zeros_like(r) for r in m["class_rbms"]],
           "clf": [torch.zeros_like(p) for p in m["clf"].parameters()]}  # fmt: skip
    names = ("order", "cd", "sample")  # one random stream per use, on the run's device
    gens = {n: torch.Generator(ctx.device).manual_seed(ctx.seed * 7 + i) for i, n in enumerate(names)}
    stages = [("arms", cfg.epochs), ("stack", cfg.stack_epochs), ("class", cfg.class_epochs), ("clf", cfg.clf_epochs)]
    total = sum(n for _, n in stages)
    hist = {"arms": torch.zeros(0, 4), "stack": torch.zeros(0, 2)}  # per epoch: exact LLs; bounds
    bound0 = {}
    step = 0
    if (ck := ctx.restore()) is not None:
        step, s = ck
        for name in ("ml", "cd1", "top", "class_rbms", "clf"):
            m[name].load_state_dict(s[name])
        vel, hist, bound0 = to(s["vel"], ctx.device), s["hist"], s["bound0"]
        for name, g in gens.items():
            g.set_state(s["gen"][name])

    with ctx.bar(total - step, "epochs") as bar:
        while step < total:
            stage, epoch = stage_of(stages, step)
            logs = run_epoch(cfg, ctx, m, vel, gens, d, hist, bound0, stage, epoch)
            step += 1
            ctx.log(step, **logs)
            bar.update(1, **{k: v for k, v in logs.items() if k.endswith("test_ll") or k == "bound_test"})
            ctx.checkpoint(step, {**{n: m[n].state_dict() for n in ("ml", "cd1", "top", "class_rbms", "clf")},
                                  "vel": vel, "hist": hist, "bound0": bound0,
                                  "gen": {n: g.get_state() for n, g in gens.items()}})  # fmt: skip
    return final_metrics(cfg, ctx, m, d, hist, bound0, gens["sample"])


def to(tree, device):
    """Every tensor of a nest of dicts and lists moved to `device` (a checkpoint comes back on the CPU)."""
    if isinstance(tree, dict):
        return {k: to(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to(v, device) for v in tree]
    return tree.to(device)


def stage_of(stages, step: int) -> tuple[str, int]:
    for name, n in stages:
        if step < n:
            return name, step
        step -= n
    raise IndexError(step)


def run_epoch(cfg, ctx, m, vel, gens, d, hist, bound0, stage: str, epoch: int) -> dict[str, float]:
    """One epoch of one stage; returns the values to log."""
    if stage == "arms":
        train_arms_epoch(cfg, m, vel, d["v_train"], epoch, gens["order"], gens["cd"])
        with torch.no_grad():
            row = [m[a].log_prob(d[f"v_{s}"]).mean().item() for a in ("ml", "cd1") for s in ("train", "test")]
        hist["arms"] = torch.cat([hist["arms"], torch.tensor([row])])
        return dict(zip(("ml_train_ll", "ml_test_ll", "cd1_train_ll", "cd1_test_ll"), row, strict=True))
    if stage == "stack":
        if epoch == 0:  # start the second layer as the first one upside down: the bound equals log p1(v)
            m["top"].load_state_dict(m["cd1"].transposed().state_dict())
            bound0.update({s: bound(m, d[f"v_{s}"]) for s in ("train", "test")})
            hist["stack"] = torch.tensor([[bound(m, d[f"v_{s}"][:CURVE_DIGITS]) for s in ("train", "test")]])
        train_top_epoch(cfg, m["cd1"], m["top"], vel["top"], d["v_train"], epoch, gens["order"], gens["cd"])
        row = [bound(m, d[f"v_{s}"][:CURVE_DIGITS]) for s in ("train", "test")]
        hist["stack"] = torch.cat([hist["stack"], torch.tensor([row])])
        return {"bound_train": row[0], "bound_test": row[1]}
    if stage == "class":
        x, y = d["x_class"], d["y_class"]
        train_class_rbms_epoch(cfg, m["class_rbms"], vel["class"], x, y, gens["order"], gens["cd"])
        with torch.no_grad():
            err = [((r.p_v(r.p_h(x[y == k])) - x[y == k]) ** 2).mean() for k, r in enumerate(m["class_rbms"])]
        return {"class_recon_error": torch.stack(err).mean().item()}
    train_classifier_epoch(m["clf"], vel["clf"], d["x_clf"], d["y_clf"], gens["order"])
    with torch.no_grad():
        acc = (m["clf"](d["x_clf_test"]).argmax(1) == d["y_clf_test"]).float().mean().item()
    return {"clf_test_accuracy": acc}


@torch.no_grad()
def bound(m, v: torch.Tensor) -> float:
    """The mean variational bound of the two-layer model {second RBM; first RBM's p(v|h)} over the digits v."""
    return mean_over(lambda u: variational_bound(m["cd1"], m["top"], u), v)


@torch.no_grad()
def final_metrics(cfg, ctx, m, d, hist, bound0, g_sample) -> dict[str, float]:
    out = {}
    for arm in ("ml", "cd1"):
        for s in ("train", "test"):
            out[f"{arm}_{s}_ll"] = m[arm].log_prob(d[f"v_{s}"]).mean().item()
    for s in ("train", "test"):
        out[f"indep_{s}_ll"] = independent_pixels_ll(d["v_train"], d[f"v_{s}"])
        out[f"bound_before_{s}"] = bound0[s]
        out[f"bound_after_{s}"] = bound(m, d[f"v_{s}"])
        out[f"two_layer_{s}_ll"] = mean_over(lambda v: two_layer_log_prob(m["cd1"], m["top"], v), d[f"v_{s}"])
    gain = out["ml_test_ll"] - out["indep_test_ll"]  # what exact ML learns beyond independent pixels
    out["cd1_gap_fraction"] = (out["ml_test_ll"] - out["cd1_test_ll"]) / gain if gain > 0 else math.nan
    n_c, dev = cfg.class_side**2, g_sample.device
    start = bernoulli(torch.full((cfg.chains, n_c), 0.5, device=dev), g_sample)  # the same start for every class
    samples = torch.stack([r.gibbs(start, cfg.gibbs_steps, g_sample) for r in m["class_rbms"]])  # (10, chains, n_c)
    labels = torch.arange(10, device=dev)[:, None].expand(10, cfg.chains)
    probs = torch.softmax(m["clf"](samples.flatten(0, 1)), -1).view(10, cfg.chains, 10)
    out["sample_accuracy"] = (probs.argmax(-1) == labels).float().mean().item()
    out["sample_confidence"] = probs.gather(-1, labels[..., None]).mean().item()
    binary = bernoulli(samples, g_sample).flatten(0, 1)  # one binary state drawn from each sample's p(v|h)
    out["sample_accuracy_binary"] = (m["clf"](binary).argmax(-1).view(10, -1) == labels).float().mean().item()
    out["noise_accuracy"] = (m["clf"](start).argmax(-1)[None] == labels).float().mean().item()
    out["clf_test_accuracy"] = (m["clf"](d["x_clf_test"]).argmax(1) == d["y_clf_test"]).float().mean().item()
    figures.likelihood(hist["arms"], out, cfg, ctx.path("likelihood.png"))
    figures.stacking(hist["stack"], out, cfg, CURVE_DIGITS, ctx.path("stacking.png"))
    figures.samples(samples.cpu(), probs.cpu(), cfg, ctx.path("samples.png"))
    figures.filters([r.cpu() for r in m["class_rbms"]], cfg, ctx.path("class_rbm_filters.png"))
    return out
