"""Bottou & Gallinari (1990): networks as graphs of modules, each with its own forward and backward, and
modules with learning rules of their own cooperating with back-propagation in one system.

Four stages:
  parity        the framework's gradients against torch.autograd on random graphs of modules (float64)
  lenet_parity  LeNet-1989 built from framework modules against `lecun1989`'s torch model, same weights,
                on a batch of real MNIST digits (float64)
  prototypes    on scikit-learn's handwritten digits: a Prototypes module (its own rule: online k-means)
                under a linear classifier (the gradient of the cross-entropy), trained together; the same
                graph with the prototypes frozen at their start, and with them trained by the gradient
  lenet         LeNet-1989 in the framework trained end to end on real MNIST at 16x16 (the lecun1989 data)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dlcanon.core.config import SEED_MAX, Annotated, Range
from dlcanon.core.data import digits, mnist
from dlcanon.core.paper import Claim
from dlcanon.papers.lecun1989.model import Net1989, connection_table
from dlcanon.papers.rumelhart1986.model import (
    Add,
    GeneralisedDelta,
    Graph,
    Linear,
    Mul,
    Sigmoid,
    SquaredError,
    Tanh,
    engine_gradients,
    gradient_difference,
)

from . import figures
from .model import (
    Conv2d,
    Flatten,
    MeanSquaredError,
    Prototypes,
    ScaledTanh,
    SoftmaxCrossEntropy,
    learners,
    lenet1989,
    load_state_dict,
    prototype_classifier,
    state_dict,
)

F64 = torch.float64


@dataclass
class Config:
    parity_graphs: Annotated[int, Range(ge=1, le=5000)] = 30
    """random module graphs whose gradients are compared with torch.autograd"""
    data_seed: Annotated[int, Range(ge=0, le=SEED_MAX)] = 0
    """seed of the train/test draws of both data sets (fixed, independent of the run's seed)"""
    digits_train: Annotated[int, Range(ge=2, le=1796)] = 1200
    """scikit-learn digits used for training the prototype graphs (the other 597 are the test set)"""
    prototypes: Annotated[int, Range(ge=1, le=1795)] = 30
    """number of prototypes K in the Prototypes module"""
    proto_epochs: Annotated[int, Range(ge=1, le=5000)] = 15
    """passes through the training digits"""
    proto_batch: Annotated[int, Range(ge=1, le=1796)] = 32
    """digits per update"""
    proto_lr: Annotated[float, Range(gt=0, le=10)] = 0.5
    """step size epsilon of the gradient learner (on the mean cross-entropy), all arms"""
    proto_momentum: Annotated[float, Range(ge=0, lt=1)] = 0.9
    """momentum alpha of the gradient learner"""
    restarts: Annotated[int, Range(ge=1, le=200)] = 5
    """independent starts (initial prototypes and weights) per arm; the claims use the mean over them"""
    lenet_train: Annotated[int, Range(ge=1, le=60_000)] = 7291
    """MNIST training digits for LeNet-1989 (the paper's training set had 7,291)"""
    lenet_test: Annotated[int, Range(ge=1, le=10_000)] = 2007
    """MNIST test digits (the paper's test set had 2,007)"""
    lenet_epochs: Annotated[int, Range(ge=1, le=500)] = 2
    """passes of LeNet-1989 through its training digits (the paper: 23)"""
    lenet_batch: Annotated[int, Range(ge=1, le=8192)] = 16
    """digits per SGD step"""
    lenet_lr: Annotated[float, Range(gt=0, le=10)] = 0.3
    """SGD step size on the mean squared error"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.prototypes >= self.digits_train:
            raise ValueError(f"prototypes must be fewer than digits_train (the prototypes start at distinct training "
                             f"digits, and some digit must lie off them to set the width beta); got prototypes="
                             f"{self.prototypes}, digits_train={self.digits_train}")


PRESETS = {
    "smoke": Config(parity_graphs=4, digits_train=300, proto_epochs=1, restarts=1, lenet_train=256, lenet_test=128,
                    lenet_epochs=1),
    "quick": Config(),
    "full": Config(parity_graphs=500, restarts=20, proto_epochs=50, lenet_epochs=23, lenet_batch=1, lenet_lr=0.02),
}

CLAIMS = [
    Claim(
        "modules_give_exact_gradients",
        "autodiff_max_abs_diff",
        "<",
        1e-10,
        "the framework's premise: a global cost's gradient is obtained by letting each module back-propagate "
        "through itself, so composing the modules' backward passes gives the system's exact derivatives",
        "30 random graphs (Conv2d with connection tables, ScaledTanh, Flatten, Linear, Sigmoid, Tanh, Add, Mul, "
        "Prototypes; three losses) in float64 against torch.autograd",
    ),
    Claim(
        "lenet_from_modules_matches_lecun1989",
        "lenet_grad_max_abs_diff",
        "<",
        1e-10,
        "the framework is meant to describe architectures like LeCun et al.'s (cited in its introduction)",
        "every dE/dw of LeNet-1989 built from framework modules vs lecun1989's torch model with the same "
        "weights, on 32 real MNIST digits, float64",
    ),
    Claim(
        "lenet_trains_in_the_framework",
        "lenet_test_error",
        "<=",
        0.2,
        "LeCun et al. (1989): 5.0% test error after 23 passes on zip-code digits; Bottou & Gallinari give no "
        "number for it",
        "far below chance (0.9): 2 passes of minibatch SGD over 7,291 MNIST digits at 16x16, 2,007 test digits",
    ),
    Claim(
        "cooperating_graph_learns_digits",
        "kmeans_test_accuracy",
        ">=",
        0.8,
        "hybrid systems whose modules learn by different algorithms (k-means, LVQ, back-propagation, ...) can "
        "be trained together in one framework (qualitative; the paper gives no figure for this set-up)",
        "scikit-learn digits (1,200 train / 597 test), 30 prototypes by online k-means under a linear "
        "classifier trained by gradient; mean over 5 restarts; 0.8 is eight times chance",
    ),
    Claim(
        "kmeans_module_helps",
        "kmeans_test_accuracy",
        ">",
        0.0,
        "the cooperation pays: the module learning by its own rule improves the system the gradient trains",
        "the same graph, data, starts and training with the prototypes frozen at their starting digits "
        "(K digits drawn at random, the usual k-means start); mean test accuracy over 5 restarts",
        minus="frozen_test_accuracy",
    ),
]


BAR = {c.name: c.threshold for c in CLAIMS}
"""Each claim's threshold, drawn in its figure."""


# ------------------------------------------------------------------------------ stage 1: gradient parity


def random_graph(gen: torch.Generator, in_shape: tuple[int, int, int], n_out: int) -> Graph:
    """A random DAG: feature-map modules on (B, C, H, W) values, a Flatten, vector modules, a final Linear.
    Each node reads any earlier value (so values fan out); Add/Mul join two earlier values of equal shape."""

    def rint(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    def pick(seq):
        return seq[rint(0, len(seq) - 1)]

    shapes, nodes = {"x": in_shape}, []

    def add(module, inputs, shape):
        name = f"n{len(nodes)}"
        nodes.append((name, module, inputs))
        shapes[name] = shape
        return name

    for _ in range(rint(1, 4)):
        src = pick(list(shapes))
        add(*image_node(pick(["Conv2d", "Conv2d", "ScaledTanh", "Tanh", "Add", "Mul"]), src, shapes, gen, pick, rint))
    last = add(Flatten(), (name_of_last(nodes),), (int(np.prod(shapes[name_of_last(nodes)])),))
    vectors = {last: shapes[last]}
    for _ in range(rint(1, 5)):
        src = pick(list(vectors))
        name = add(*vector_node(pick(["Linear", "Sigmoid", "Tanh", "ScaledTanh", "Add", "Mul", "Prototypes"]),
                                src, vectors, gen, pick, rint))
        vectors[name] = shapes[name]
    add(Linear(shapes[name_of_last(nodes)][0], n_out, init_range=0.5, generator=gen, dtype=F64),
        (name_of_last(nodes),), (n_out,))
    return Graph(nodes, name_of_last(nodes))


def name_of_last(nodes) -> str:
    return nodes[-1][0]


def image_node(kind, src, shapes, gen, pick, rint):
    c, h, w = shapes[src]
    if kind in ("Add", "Mul"):
        other = pick([n for n, s in shapes.items() if s == shapes[src]])
        return (Add() if kind == "Add" else Mul()), (src, other), shapes[src]
    if kind != "Conv2d":
        return (ScaledTanh() if kind == "ScaledTanh" else Tanh()), (src,), shapes[src]
    k, stride, pad, c_out = rint(1, 3), rint(1, 2), rint(0, 1), rint(1, 3)
    k = min(k, h + 2 * pad)
    h_out, w_out = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    table = torch.rand(c_out, c, generator=gen) < 0.7
    table[:, 0] = True  # every output map reads at least one input map
    bias = pick([(c_out, 1, 1), (c_out, h_out, w_out)])
    conv = Conv2d(c, c_out, k, stride, pad, float(torch.randn(1, generator=gen)), bias, table, 0.5, gen, F64)
    return conv, (src,), (c_out, h_out, w_out)


def vector_node(kind, src, shapes, gen, pick, rint):
    (n,) = shapes[src]
    if kind in ("Add", "Mul"):
        other = pick([v for v, s in shapes.items() if s == shapes[src]])
        return (Add() if kind == "Add" else Mul()), (src, other), (n,)
    if kind == "Linear":
        m = rint(1, 6)
        return Linear(n, m, init_range=0.5, generator=gen, dtype=F64), (src,), (m,)
    if kind == "Prototypes":
        K = rint(2, 5)
        m0 = torch.randn(K, n, generator=gen, dtype=F64)
        beta = (0.1 + float(torch.rand(1, generator=gen))) / n  # squared distances grow with n
        return Prototypes(m0, beta, pick(["kmeans", "gradient"])), (src,), (K,)
    return {"Sigmoid": Sigmoid, "Tanh": Tanh, "ScaledTanh": ScaledTanh}[kind](), (src,), (n,)


def parity_check(cfg: Config, seed: int) -> float:
    """The largest |framework - autograd| over every derivative of `parity_graphs` random graphs."""
    return max(parity_differences(cfg, seed))


def parity_differences(cfg: Config, seed: int) -> list[float]:
    """Per random graph, the largest |framework - autograd| over its derivatives."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(cfg.parity_graphs):
        sizes = ((1, 4), (4, 9), (2, 6), (1, 5))  # channels, height = width, outputs, cases
        C, H, n_out, B = (int(torch.randint(lo, hi, (1,), generator=gen)) for lo, hi in sizes)
        net = random_graph(gen, (C, H, H), n_out)
        x = torch.randn(B, C, H, H, generator=gen, dtype=F64)
        loss, d = [
            (SquaredError(), torch.rand(B, n_out, generator=gen, dtype=F64)),
            (MeanSquaredError(), torch.rand(B, n_out, generator=gen, dtype=F64)),
            (SoftmaxCrossEntropy(), torch.randint(n_out, (B,), generator=gen)),
        ][i % 3]
        out.append(gradient_difference(net, loss, x, d))
    return out


# ----------------------------------------------------------------------------- stage 2: LeNet-1989 parity


def from_net1989(net: Net1989, dtype=F64):
    """A framework LeNet-1989 holding the same weights as a lecun1989 Net1989 (per-unit biases)."""
    ours = lenet1989(dtype=dtype)
    H1, H2, L3, L4 = ours.modules[0], ours.modules[2], ours.modules[5], ours.modules[7]
    with torch.no_grad():
        for param, value in ((H1.W, net.W1), (H1.b, net.b1), (H2.W, net.K2()), (H2.b, net.b2), (L3.W, net.W3.T),
                             (L3.b, net.b3), (L4.W, net.W4.T), (L4.b, net.b4)):
            param.value.copy_(value)
    return ours


def lenet_parity(x: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    """max |dE/dw| difference between the framework's LeNet-1989 and lecun1989's, same weights, same digits."""
    return max(lenet_differences(x, y, seed).values())


def lenet_differences(x: torch.Tensor, y: torch.Tensor, seed: int) -> dict[str, float]:
    """Per weight group, max |dE/dw| difference between the framework's LeNet-1989 and lecun1989's."""
    net = Net1989(sqrt_fan_in=True, generator=torch.Generator().manual_seed(seed)).double()
    ours = from_net1989(net)
    t = place_code(y).double()
    ((net(x) - t) ** 2).mean().backward()
    ours_grads, _ = engine_gradients(ours, MeanSquaredError(), x, t)
    H1W, H1b, H2W, H2b, W3, b3, W4, b4 = ours_grads
    rows = torch.arange(12)[:, None].expand(12, 8)
    pairs = {"H1 W": (H1W, net.W1.grad), "H1 b": (H1b, net.b1.grad), "H2 W": (H2W[rows, connection_table()],
             net.W2.grad), "H2 b": (H2b, net.b2.grad), "H3 W": (W3, net.W3.grad.T), "H3 b": (b3, net.b3.grad),
             "out W": (W4, net.W4.grad.T), "out b": (b4, net.b4.grad)}
    out = {name: (a - b).abs().max().item() for name, (a, b) in pairs.items()}
    out["H2 W off table"] = (H2W.abs().sum() - H2W[rows, connection_table()].abs().sum()).item()  # must stay 0
    return out


# --------------------------------------------------------------------------------------------------- data


def mnist16(n_train: int, n_test: int, seed: int) -> dict[str, torch.Tensor]:
    """MNIST at the size of LeCun et al.'s zip-code digits: the central 20x20 box shrunk to 16x16 by area
    averaging, grey levels in [-1, 1] with background -1; digits drawn with a fixed seed."""
    raw = mnist.load()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        idx = torch.randperm(len(raw[f"{split}_y"]), generator=g)[:n].numpy()
        x = torch.from_numpy(raw[f"{split}_x"][idx]).float()[:, None, 4:24, 4:24]  # (n, 1, 20, 20)
        out[f"x_{split}"] = F.interpolate(x, size=(16, 16), mode="area") / 255.0 * 2.0 - 1.0  # (n, 1, 16, 16)
        out[f"y_{split}"] = torch.from_numpy(raw[f"{split}_y"][idx]).long()
    return out


def place_code(y: torch.Tensor) -> torch.Tensor:
    """(B,) labels -> (B, 10) targets: +1 at the label, -1 elsewhere."""
    return F.one_hot(y, 10).float() * 2.0 - 1.0


def sklearn_digits(n_train: int, seed: int) -> dict[str, torch.Tensor]:
    """scikit-learn's 1,797 digits, 8x8 flattened to 64 values in [0, 1], split at random with a fixed seed."""
    d = digits.load()
    x = torch.from_numpy(d["x"]).reshape(-1, 64).double() / 16.0  # (1797, 64)
    y = torch.from_numpy(d["y"])
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    tr, te = perm[:n_train], perm[n_train:]
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}


# ------------------------------------------------------------------------------ stage 3: cooperating modules


ARMS = ("kmeans", "frozen", "gradient")


def prototype_arm(rule: str, d: dict, cfg: Config, restart: int, seed: int) -> dict[str, float]:
    """Train one prototype graph; every arm of a restart starts from the same prototypes and weights and sees
    the digits in the same order. beta = 1 / (mean squared distance of a digit to its nearest start)."""
    g = torch.Generator().manual_seed(1000 * seed + restart)
    x, y = d["x_train"], d["y_train"]
    m0 = x[torch.randperm(len(x), generator=g)[: cfg.prototypes]]  # (K, 64): K digits at random
    beta = 1.0 / torch.cdist(x, m0).min(-1).values.pow(2).mean().item()
    net = prototype_classifier(m0, beta, rule, 10, generator=g)
    loss = SoftmaxCrossEntropy()
    opt = GeneralisedDelta(net.params(), cfg.proto_lr, cfg.proto_momentum)
    with torch.no_grad():
        for _ in range(cfg.proto_epochs):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), cfg.proto_batch):
                j = perm[i : i + cfg.proto_batch]
                net.zero_grad()
                loss.forward(net.forward(x[j]), y[j])
                net.backward(loss.backward())
                opt.step()  # the gradient learner: the Linear layer (and m, if rule == "gradient")
                for module in learners(net):
                    module.learn()  # the module's own rule (online k-means if rule == "kmeans")
        accuracy = (net.forward(d["x_test"]).argmax(-1) == d["y_test"]).double().mean().item()
        quantisation = net.modules[0].quantisation_error(d["x_test"]).item()
    return {"test_accuracy": accuracy, "quantisation_error": quantisation, "net": state_dict(net)}


# ------------------------------------------------------------------------------------ stage 4: LeNet-1989


@torch.no_grad()
def lenet_error(net, x, y, batch: int = 1000) -> float:
    wrong = sum((net.forward(x[i : i + batch]).argmax(-1) != y[i : i + batch]).sum().item()
                for i in range(0, len(x), batch))
    return wrong / len(x)


def train_lenet(cfg: Config, ctx, state: dict, step0: int) -> dict[str, float]:
    """Minibatch SGD on the mean squared error of the place code (LeCun et al. 1989, Sec. 4), with the
    framework's forward and backward passes. A checkpoint after every epoch."""
    d = mnist16(cfg.lenet_train, cfg.lenet_test, cfg.data_seed)
    t_train = place_code(d["y_train"])
    g_init, g_order = torch.Generator().manual_seed(ctx.seed), torch.Generator().manual_seed(ctx.seed + 1)
    net, loss = lenet1989(g_init, dtype=torch.float32), MeanSquaredError()
    opt = GeneralisedDelta(net.params(), cfg.lenet_lr, 0.0)
    start, history = 0, []
    if "lenet" in state:
        load_state_dict(net, state["lenet"]["net"])
        g_order.set_state(state["lenet"]["g_order"])
        start, history = state["lenet"]["epoch"], state["lenet"]["history"]
    with torch.no_grad(), ctx.bar(cfg.lenet_epochs - start, "lenet") as bar:
        for epoch in range(start, cfg.lenet_epochs):
            perm = torch.randperm(cfg.lenet_train, generator=g_order)
            total = 0.0
            for i in range(0, len(perm), cfg.lenet_batch):
                j = perm[i : i + cfg.lenet_batch]
                net.zero_grad()
                total += loss.forward(net.forward(d["x_train"][j]), t_train[j]).item() * len(j)
                net.backward(loss.backward())
                opt.step()
            errors = [lenet_error(net, d["x_train"], d["y_train"]), lenet_error(net, d["x_test"], d["y_test"])]
            history = [*history, errors]
            ctx.log(step0 + epoch + 1, lenet_train_loss=total / len(perm), lenet_train_error=errors[0],
                    lenet_test_error=errors[1])
            bar.update(1, test_error=errors[1])
            state["lenet"] = {"net": state_dict(net), "g_order": g_order.get_state(), "epoch": epoch + 1,
                              "history": history}
            ctx.checkpoint(step0 + epoch + 1, state)
    W1 = net.modules[0].W.value[:, 0].numpy()  # (12, 5, 5)
    figures.lenet(history, W1, BAR["lenet_trains_in_the_framework"], ctx.path("lenet.png"))
    return {"lenet_train_error": history[-1][0] if history else float("nan"),
            "lenet_test_error": history[-1][1] if history else float("nan")}


# ------------------------------------------------------------------------------------------------------ run


def run(cfg: Config, ctx) -> dict[str, float]:
    state = {"metrics": {}, "arms": {}}
    if (ck := ctx.restore()) is not None:
        _, state = ck
    metrics = state["metrics"]
    if "autodiff_max_abs_diff" not in metrics:
        d = mnist16(32, 0, cfg.data_seed)
        state["parity"] = {"graphs": parity_differences(cfg, ctx.seed),
                           "lenet": lenet_differences(d["x_train"].double(), d["y_train"], ctx.seed)}
        metrics["autodiff_max_abs_diff"] = max(state["parity"]["graphs"])
        metrics["lenet_grad_max_abs_diff"] = max(state["parity"]["lenet"].values())
    if "parity" in state:  # absent in a checkpoint written before the differences were kept
        figures.gradient_parity(state["parity"]["graphs"], state["parity"]["lenet"],
                                BAR["modules_give_exact_gradients"], ctx.path("gradient_parity.png"))
    d = sklearn_digits(cfg.digits_train, cfg.data_seed)
    step = 0
    for restart in range(cfg.restarts):
        for rule in ARMS:
            key = f"{rule}/{restart}"
            step += 1
            if key not in state["arms"]:
                state["arms"][key] = prototype_arm(rule, d, cfg, restart, ctx.seed)
                ctx.log(step, **{f"{rule}_test_accuracy": state["arms"][key]["test_accuracy"]})
                ctx.checkpoint(step, state)
    for rule in ARMS:
        runs = [state["arms"][f"{rule}/{r}"] for r in range(cfg.restarts)]
        metrics[f"{rule}_test_accuracy"] = float(np.mean([a["test_accuracy"] for a in runs]))
        metrics[f"{rule}_test_accuracy_min"] = float(np.min([a["test_accuracy"] for a in runs]))
        metrics[f"{rule}_quantisation_error"] = float(np.mean([a["quantisation_error"] for a in runs]))
    figures.prototype_accuracy(state["arms"], cfg.restarts, BAR["cooperating_graph_learns_digits"],
                               ctx.path("prototype_accuracy.png"))
    start, after = (state["arms"][f"{rule}/0"]["net"]["learners"][0]["m"].numpy() for rule in ("frozen", "kmeans"))
    figures.prototypes(start, after, ctx.path("prototypes.png"))  # the frozen arm's prototypes never moved
    metrics.update(train_lenet(cfg, ctx, state, step))
    return dict(metrics)
