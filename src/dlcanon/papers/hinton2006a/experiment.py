"""Hinton, Osindero & Teh (2006): a deep belief net learned greedily on real MNIST, then fine-tuned.

Greedy learning, as in the paper: an RBM learns the images (grey levels as the visible probabilities), the next
RBM learns the first one's hidden probabilities, and the top RBM (the associative memory) learns the
penultimate features together with the labels. The lower layers see many images without their labels; the
top sees only the labelled ones. Recognition by the greedy DBN is the paper's: a bottom-up pass, then the label
of lowest free energy at the top.

Fine-tuning, in the common backpropagation variant (not the paper's up-down algorithm): the DBN's recognition
weights become a feed-forward classifier, v -> h_1 -> ... -> x -> top units -> softmax over labels, the last
layer's weights being the top RBM's label weights. The same network started from random weights is trained
the same way on the same labelled digits: the difference between the two is what greedy pretraining adds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import mnist
from dlcanon.core.paper import Claim
from dlcanon.papers.hinton2005.model import RBM

from . import figures
from .model import DBN, AssociativeMemory, FeedForward


@dataclass
class Config:
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the draw of MNIST images and of which of them are labelled (fixed, independent of the run's seed)"""
    n_unlabelled: Annotated[int, Range(ge=10, le=60_000)] = 10_000
    """training images the lower RBMs learn from, labels unused (the labelled ones are among them)"""
    n_labelled: Annotated[int, Range(ge=10, le=60_000)] = 1_000
    """training images whose labels are used (by the top RBM and by fine-tuning)"""
    n_test: Annotated[int, Range(ge=10, le=10_000)] = 10_000
    """MNIST test digits the classifiers are judged on"""
    hidden: Annotated[tuple[int, ...], Range(ge=1, le=8192, max_len=6)] = (300, 300)
    """sizes of the lower hidden layers, image to penultimate layer (the paper: 500, 500)"""
    top_hidden: Annotated[int, Range(ge=1, le=8192)] = 500
    """units in the top layer of the associative memory (the paper: 2000)"""
    rbm_epochs: Annotated[int, Range(ge=1, le=1000)] = 3
    """passes of each lower RBM through the unlabelled images"""
    top_epochs: Annotated[int, Range(ge=1, le=1000)] = 20
    """passes of the top RBM through the labelled images"""
    rbm_lr: Annotated[float, Range(gt=0, le=10)] = 0.1
    """CD-1 step size of every RBM"""
    rbm_momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum of the RBM updates (0.5 in each RBM's first epoch)"""
    weight_cost: Annotated[float, Range(ge=0, le=1)] = 2e-4
    """L2 weight decay on the RBMs' weights"""
    batch_size: Annotated[int, Range(ge=1, le=60_000)] = 100
    """images per update, RBMs and fine-tuning"""
    ft_epochs: Annotated[int, Range(ge=1, le=10_000)] = 60
    """fine-tuning passes through the labelled images, both arms"""
    ft_lr: Annotated[float, Range(gt=0, le=10)] = 0.1
    """fine-tuning step size (SGD with momentum 0.9 on the mean cross-entropy), both arms"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.n_labelled > self.n_unlabelled:
            raise ValueError("n_labelled must not exceed n_unlabelled (the labelled images are among them)")
        if self.batch_size > self.n_labelled:
            raise ValueError(f"batch_size ({self.batch_size}) must not exceed n_labelled ({self.n_labelled})")


PRESETS = {
    "smoke": Config(n_unlabelled=500, n_labelled=100, n_test=200, hidden=(20, 20), top_hidden=20, rbm_epochs=1,
                    top_epochs=1, batch_size=20, ft_epochs=2),
    "quick": Config(),
    "full": Config(n_unlabelled=60_000, n_labelled=60_000, hidden=(500, 500), top_hidden=2000, rbm_epochs=30,
                   top_epochs=30, ft_epochs=100, ft_lr=0.05),
}  # fmt: skip

CLAIMS = [
    Claim(
        name="pretraining_beats_random_init",
        metric="dbn_test_error",
        minus="random_test_error",
        op="<",
        threshold=0.0,
        paper_value=(
            "Not measured in the paper, whose MNIST net uses all 60,000 labels; it argues that a generative "
            "model learns most of its structure from the images, not the labels, so unlabelled images help. "
            "The few-label comparison is the later literature's test of that idea."
        ),
        scale_note=(
            "Quick: 784-300-300-500-10, lower RBMs on 10,000 unlabelled MNIST images, top RBM and fine-tuning "
            "on 1,000 labelled ones; the random-init arm (Glorot-normalised init for logistic units) has the "
            "same shape, data and fine-tuning (backprop, 60 epochs). Test error on all 10,000 MNIST test digits."
        ),
    ),
    Claim(
        name="pretraining_beats_random_beyond_noise",
        metric="dbn_vs_random_mcnemar_z",
        op=">",
        threshold=3.0,
        paper_value="As above (no figure in the paper).",
        scale_note=(
            "McNemar z on paired test predictions, (only-random-wrong - only-DBN-wrong) / sqrt(their sum) > 3 "
            "(one-sided p ~ 0.001): the gap is not test-set sampling noise. Fixed before any run."
        ),
    ),
    Claim(
        name="full_test_error_near_paper",
        metric="dbn_test_error",
        op="<=",
        threshold=0.015,
        paper_value="1.25% errors on the 10,000 MNIST test digits, 28x28-500-500-2000 with 10 label units.",
        scale_note=(
            "full preset only: the paper's sizes and all 60,000 labels, but fine-tuned by backprop instead of "
            "the up-down algorithm; bound = 1.25% plus about two binomial standard errors (0.11 points each)."
        ),
        judged_on=("full",),
    ),
]


# -- data -------------------------------------------------------------------------------------------------------------
def load(cfg: Config) -> dict[str, torch.Tensor]:
    """Grey levels in [0, 1] (the RBMs read them as the probabilities of the visible units), flattened."""
    raw = mnist.load()
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(cfg.data_seed))
    x_tr = torch.from_numpy(raw["train_x"]).flatten(1).float() / 255.0
    y_tr = torch.from_numpy(raw["train_y"])
    return {
        "x_unlab": x_tr[perm[: cfg.n_unlabelled]],
        "x_lab": x_tr[perm[: cfg.n_labelled]], "y_lab": y_tr[perm[: cfg.n_labelled]],
        "x_test": torch.from_numpy(raw["test_x"][: cfg.n_test]).flatten(1).float() / 255.0,
        "y_test": torch.from_numpy(raw["test_y"][: cfg.n_test]),
    }  # fmt: skip


# -- greedy learning --------------------------------------------------------------------------------------------------
def update(rbm: RBM, grad: dict, velocity: dict, lr: float, momentum: float, weight_cost: float) -> None:
    """delta <- momentum * delta + lr * (grad - weight_cost * W); theta += delta (ascent on the CD objective)."""
    with torch.no_grad():
        for name, param in (("W", rbm.W), ("b", rbm.b), ("c", rbm.c)):
            g = grad[name] - weight_cost * param if name == "W" else grad[name]
            velocity[name].mul_(momentum).add_(lr * g)
            param.add_(velocity[name])


def train_rbm_epoch(cfg: Config, rbm: RBM, velocity: dict, data: torch.Tensor, epoch: int, g_order, g_cd) -> float:
    """One CD-1 pass over `data` (rows are visible probabilities); returns the squared error of the mean-field
    reconstruction p(v | p(h | v)) per image, on the first 1,000 rows (a progress signal, not a claim)."""
    momentum = 0.5 if epoch == 0 else cfg.rbm_momentum
    perm = torch.randperm(len(data), generator=g_order, device=g_order.device)
    with torch.no_grad():
        for i in range(0, len(data) - cfg.batch_size + 1, cfg.batch_size):
            v0 = data[perm[i : i + cfg.batch_size]]
            update(rbm, rbm.cd_gradient(v0, 1, g_cd), velocity, cfg.rbm_lr, momentum, cfg.weight_cost)
        v = data[:1000]
        return ((rbm.p_v(rbm.p_h(v)) - v) ** 2).sum(1).mean().item()


def layer_data(dbn: DBN, layer: int, d) -> torch.Tensor:
    """What RBM `layer` learns: the images (layer 0), the hidden probabilities of the layer below, or, for the
    top RBM, the penultimate features of the labelled images beside their labels (one-hot)."""
    with torch.no_grad():
        if layer < len(dbn.lower):
            x = d["x_unlab"]
            for rbm in dbn.lower[:layer]:
                x = rbm.p_h(x)
            return x
        return torch.cat([dbn.up(d["x_lab"]), F.one_hot(d["y_lab"], 10).float()], -1)


# -- fine-tuning ------------------------------------------------------------------------------------------------------
def finetune_epoch(cfg: Config, net: FeedForward, velocity, x, y, g_order) -> float:
    """One pass of SGD with momentum 0.9 on the mean cross-entropy; returns the mean training loss."""
    perm = torch.randperm(len(x), generator=g_order, device=g_order.device)
    total = 0.0
    for i in range(0, len(x) - cfg.batch_size + 1, cfg.batch_size):
        j = perm[i : i + cfg.batch_size]
        loss = F.cross_entropy(net(x[j]), y[j])
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, v, g in zip(net.parameters(), velocity, grads, strict=True):
                p.add_(v.mul_(0.9).add_(g, alpha=-cfg.ft_lr))
        total += loss.item() * len(j)
    return total / len(x)


def unrolled(dbn: DBN) -> FeedForward:
    """The greedy DBN as a feed-forward classifier: the lower RBMs' recognition weights, then the top RBM's
    x -> top weights (the label input left out: it is what we predict), then its label weights as the softmax
    output layer, so that the output is p(y | top units) of the associative memory."""
    top, L = dbn.top, dbn.top.n_labels
    Ws = [r.W for r in dbn.lower] + [top.W[:-L], top.W[-L:].T]
    cs = [r.c for r in dbn.lower] + [top.c, top.b[-L:]]
    return FeedForward(Ws, cs)


@torch.no_grad()
def wrong(net, x: torch.Tensor, y: torch.Tensor, chunk: int = 2000) -> torch.Tensor:
    """(N,) bool: which digits the classifier gets wrong, a chunk at a time."""
    return torch.cat([net(x[i : i + chunk]).argmax(1) != y[i : i + chunk] for i in range(0, len(x), chunk)])


def mcnemar_z(a_wrong: torch.Tensor, b_wrong: torch.Tensor) -> float:
    """Paired comparison on the same test digits: z = (n - m) / sqrt(n + m), n = only b wrong, m = only a wrong."""
    n = (b_wrong & ~a_wrong).sum().item()
    m = (a_wrong & ~b_wrong).sum().item()
    return (n - m) / max(n + m, 1) ** 0.5


# -- the run ----------------------------------------------------------------------------------------------------------
def build(cfg: Config, seed: int) -> tuple[DBN, dict[str, FeedForward]]:
    """The DBN (small random weights, zero biases) and the two fine-tuning arms, all drawn from the run's seed."""
    g = torch.Generator().manual_seed(seed)
    sizes = [784, *cfg.hidden]
    lower = [RBM(n_v, n_h, 0.01, g) for n_v, n_h in zip(sizes[:-1], sizes[1:], strict=True)]
    dbn = DBN(lower, AssociativeMemory(sizes[-1], 10, cfg.top_hidden, 0.01, g))
    random_arm = FeedForward.random_init([*sizes, cfg.top_hidden], 10, g)
    return dbn, {"dbn": unrolled(dbn), "random": random_arm}  # the "dbn" arm is refilled when fine-tuning starts


def run(cfg: Config, ctx) -> dict[str, float]:
    d = {k: v.to(ctx.device) for k, v in load(cfg).items()}
    dbn, arms = build(cfg, ctx.seed)
    dbn, arms = dbn.to(ctx.device), {a: net.to(ctx.device) for a, net in arms.items()}
    rbms = [*dbn.lower, dbn.top]
    vel = {"rbm": [{k: torch.zeros_like(p) for k, p in (("W", r.W), ("b", r.b), ("c", r.c))} for r in rbms],
           "ft": {a: [torch.zeros_like(p) for p in net.parameters()] for a, net in arms.items()}}  # fmt: skip
    names = ("order", "cd", "sample")  # one random stream per use, on the run's device
    gens = {n: torch.Generator(ctx.device).manual_seed(ctx.seed * 7 + i) for i, n in enumerate(names)}
    stages = [(layer, cfg.rbm_epochs) for layer in range(len(dbn.lower))] + [(len(dbn.lower), cfg.top_epochs)]
    stages.append(("finetune", cfg.ft_epochs))
    total = sum(n for _, n in stages)
    hist = torch.zeros(0, 5)  # per fine-tuning epoch: train loss dbn/random, test error (subset) dbn/random, epoch
    step = 0
    if (ck := ctx.restore()) is not None:
        step, s = ck
        dbn.load_state_dict(s["dbn"])
        for a in arms:
            arms[a].load_state_dict(s[f"arm_{a}"])
        vel, hist = to(s["vel"], ctx.device), s["hist"]
        for name, g in gens.items():
            g.set_state(s["gen"][name])
    cache = {}
    with ctx.bar(total - step, "epochs") as bar:
        while step < total:
            stage, epoch = stage_of(stages, step)
            logs, hist = run_epoch(cfg, dbn, arms, rbms, vel, gens, d, hist, cache, stage, epoch)
            step += 1
            ctx.log(step, **logs)
            bar.update(1, **logs)
            if step % CHECKPOINT_EVERY == 0 or step == total or stage_of(stages, step)[1] == 0:
                state = {"dbn": dbn.state_dict(), **{f"arm_{a}": net.state_dict() for a, net in arms.items()}}
                gen = {n: g.get_state() for n, g in gens.items()}
                ctx.checkpoint(step, {**state, "vel": vel, "hist": hist, "gen": gen})
    return final_metrics(cfg, ctx, dbn, arms, d, hist, gens["sample"])


def to(tree, device):
    """Every tensor of a nest of dicts and lists moved to `device` (a checkpoint comes back on the CPU)."""
    if isinstance(tree, dict):
        return {k: to(v, device) for k, v in tree.items()}
    if isinstance(tree, list):
        return [to(v, device) for v in tree]
    return tree.to(device)


def stage_of(stages, step: int):
    """(stage, epoch within it) of a global step; past the last stage, ("end", 0)."""
    for name, n in stages:
        if step < n:
            return name, step
        step -= n
    return "end", 0


def run_epoch(cfg, dbn, arms, rbms, vel, gens, d, hist, cache, stage, epoch: int):
    """One epoch of one stage (an RBM of the greedy stack, or fine-tuning); returns the values to log."""
    if stage != "finetune":
        if stage not in cache:  # the layer's data, recomputed after a resume (it is a function of the layers below)
            cache.clear()
            cache[stage] = layer_data(dbn, stage, d)
        err = train_rbm_epoch(cfg, rbms[stage], vel["rbm"][stage], cache[stage], epoch, gens["order"], gens["cd"])
        return {f"rbm{stage}_recon_error": err}, hist
    if epoch == 0:  # the "dbn" arm starts from the greedy DBN as it now stands
        arms["dbn"].load_state_dict(unrolled(dbn).state_dict())
    logs = {}
    for a in ("dbn", "random"):
        logs[f"{a}_train_loss"] = finetune_epoch(cfg, arms[a], vel["ft"][a], d["x_lab"], d["y_lab"], gens["order"])
    if (epoch + 1) % CURVE_EVERY and epoch + 1 not in (1, cfg.ft_epochs):
        return logs, hist
    x, y = d["x_test"][:CURVE_DIGITS], d["y_test"][:CURVE_DIGITS]
    for a in ("dbn", "random"):
        logs[f"{a}_test_error_subset"] = wrong(arms[a], x, y).float().mean().item()
    row = [logs["dbn_train_loss"], logs["random_train_loss"], logs["dbn_test_error_subset"],
           logs["random_test_error_subset"], epoch + 1]  # fmt: skip
    return logs, torch.cat([hist, torch.tensor([row])])


CURVE_DIGITS, CURVE_EVERY = 1000, 10
"""Fine-tuning curves: test error on this many test digits, every this many epochs (the claims use all digits)."""
CHECKPOINT_EVERY = 5
"""Save a resumable state every this many steps (epochs), and at the end of every stage."""


@torch.no_grad()
def final_metrics(cfg, ctx, dbn, arms, d, hist, g_sample) -> dict[str, float]:
    out, w = {}, {}
    for a, net in arms.items():
        w[a] = wrong(net, d["x_test"], d["y_test"])
        out[f"{a}_test_error"] = w[a].float().mean().item()
        out[f"{a}_train_error"] = wrong(net, d["x_lab"], d["y_lab"]).float().mean().item()
    out["dbn_vs_random_mcnemar_z"] = mcnemar_z(w["dbn"], w["random"])
    greedy = dbn.label_log_probs(d["x_test"]).argmax(1) != d["y_test"]  # the paper's recognition, no fine-tuning
    out["greedy_test_error"] = greedy.float().mean().item()
    labels = torch.arange(10, device=d["y_test"].device).repeat_interleave(6)
    images = dbn.generate(labels, 200, g_sample)  # (60, 784)
    seen = dbn.label_log_probs(images).argmax(1)  # which label the DBN itself recognises in what it generated
    out["generated_label_agreement"] = (seen == labels).float().mean().item()
    figures.finetuning(hist, out, cfg, ctx.path("finetuning.png"))
    figures.generated(images.cpu(), labels.cpu(), seen.cpu(), ctx.path("generated.png"))
    figures.receptive_fields(dbn.lower[0].cpu(), ctx.path("layer1_features.png"))
    return out
