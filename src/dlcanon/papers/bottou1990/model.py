"""Learning systems as graphs of modules (Bottou & Gallinari, "A Framework for the Cooperation of Learning
Algorithms", NIPS 1990).

The paper's idea: a learning system is a graph of modules. Each module knows only its own computation: a
forward pass from its inputs to its outputs, and a backward pass that turns the derivative of the cost with
respect to its outputs into derivatives with respect to its inputs and its own parameters. Composing the
modules composes the derivatives, so any graph of them can be trained by gradient descent on one global cost.
A module is also free to learn by a rule of its own (k-means, LVQ, ...) from what flows through it. Then
several learning algorithms cooperate in one system.

The engine (Param, Module, Linear, Sigmoid, Tanh, Add, Mul, SquaredError, Sequential, Graph, GeneralisedDelta)
is the one written for back-propagation in `rumelhart1986.model`; it already has this shape. This file adds:
  modules        Conv2d (shared-weight feature maps, with a connection table), ScaledTanh, Flatten,
                 MeanSquaredError, SoftmaxCrossEntropy: enough to build LeCun et al.'s 1989 network
  a learner      Prototypes: a layer of prototypes that can learn by online k-means, its own rule on its own
                 cost, while the modules around it learn by the gradient of the global cost
  networks       lenet1989 (Net-1989 from framework modules), prototype_classifier (k-means + linear)
As in the engine, every backward is written by hand; torch.autograd is only the reference the tests use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlcanon.papers.lecun1989.model import A, S, connection_table
from dlcanon.papers.rumelhart1986.model import Linear, Module, Param, Sequential, unbroadcast

# ----------------------------------------------------------------------------------------------- modules


class Conv2d(Module):
    """A bank of feature maps (LeCun et al. 1989, Sec. 3.2): output map j applies one k x k kernel per input
    map to every `stride`-th window of the input, padded by `pad` pixels of value `pad_value`.

    forward  cols = the input's windows laid out as columns (unfold); y = K cols + b
    backward dE/dK = dE/dy cols^T (summed over windows and cases: the weights are shared),
             dE/dcols = K^T dE/dy, folded back onto the input (overlapping windows add up)
    `table` (C_out, C_in) bool keeps only some input maps per output map; the missing weights are zero and get
    no derivative. `bias_shape` (C_out, 1, 1) gives one bias per map, (C_out, H_out, W_out) one per unit.
    input_grad=False skips dE/dx when the input is data (as `Linear` does in the engine).
    """

    def __init__(self, c_in, c_out, k, stride=1, pad=0, pad_value=0.0, bias_shape=None, table=None,
                 init_range=0.3, generator=None, dtype=torch.float64, input_grad=True):
        self.k, self.stride, self.pad, self.pad_value, self.input_grad = k, stride, pad, pad_value, input_grad
        self.table = torch.ones(c_out, c_in, dtype=torch.bool) if table is None else table

        def uniform(*shape):
            return (2 * torch.rand(*shape, generator=generator, dtype=dtype) - 1) * init_range

        self.W = Param(uniform(c_out, c_in, k, k) * self.table[:, :, None, None])
        self.b = Param(uniform(*(bias_shape or (c_out, 1, 1))))

    def params(self) -> list[Param]:
        return [self.W, self.b]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        x = F.pad(x, (p, p, p, p), value=self.pad_value)  # (B, C_in, H + 2p, W + 2p)
        self.padded = x.shape
        self.cols = F.unfold(x, self.k, stride=self.stride)  # (B, C_in*k*k, L): one column per window
        self.out_hw = ((x.shape[-2] - self.k) // self.stride + 1, (x.shape[-1] - self.k) // self.stride + 1)
        K = (self.W.value * self.table[:, :, None, None]).flatten(1)  # (C_out, C_in*k*k)
        y = K @ self.cols  # (C_out, C_in*k*k) @ (B, C_in*k*k, L) -> (B, C_out, L)
        return y.view(x.shape[0], -1, *self.out_hw) + self.b.value  # (B, C_out, H_out, W_out)

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        self.b.grad += unbroadcast(dy, self.b.value.shape)
        dy = dy.flatten(2)  # (B, C_out, L)
        dK = (dy @ self.cols.transpose(1, 2)).sum(0)  # (B, C_out, L) @ (B, L, C_in*k*k), summed over cases
        self.W.grad += dK.view_as(self.W.value) * self.table[:, :, None, None]
        if not self.input_grad:
            return None
        K = (self.W.value * self.table[:, :, None, None]).flatten(1)  # (C_out, C_in*k*k)
        dcols = K.T @ dy  # (C_in*k*k, C_out) @ (B, C_out, L) -> (B, C_in*k*k, L)
        dx = F.fold(dcols, self.padded[-2:], self.k, stride=self.stride)  # (B, C_in, H + 2p, W + 2p)
        p = self.pad
        return dx[..., p : dx.shape[-2] - p, p : dx.shape[-1] - p]  # drop the padding: it is not an input


class ScaledTanh(Module):
    """f(a) = A tanh(S a), the squashing function of LeCun et al. (1989); f'(a) = S (A - f(a)^2 / A)."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        self.y = A * torch.tanh(S * a)
        return self.y

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * S * (A - self.y * self.y / A)


class Flatten(Module):
    """(B, C, H, W) -> (B, C*H*W), and the derivative back to the maps' shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shape = x.shape
        return x.flatten(1)

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy.view(self.shape)


class MeanSquaredError(Module):
    """E = mean over cases and outputs of (y - d)^2 (the place-coded targets of LeCun et al. 1989)."""

    def forward(self, y: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        self.y, self.d = y, d
        return ((y - d) ** 2).mean()

    def backward(self, dE: float = 1.0) -> torch.Tensor:
        return 2.0 * (self.y - self.d) / self.y.numel() * dE


class SoftmaxCrossEntropy(Module):
    """E = mean over cases of -log softmax(z)_label; dE/dz = (softmax(z) - onehot(label)) / B."""

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        self.p = torch.softmax(z, dim=-1)  # (B, n_classes)
        self.label = label
        return -torch.log_softmax(z, dim=-1).gather(-1, label[:, None]).mean()

    def backward(self, dE: float = 1.0) -> torch.Tensor:
        onehot = F.one_hot(self.label, self.p.shape[-1]).to(self.p.dtype)
        return (self.p - onehot) / len(self.label) * dE


# ------------------------------------------------------------------------------------------------ learner


class Prototypes(Module):
    """K prototypes m_k and a soft assignment of each input to them:

        r_k(x) = softmax_k(-beta ||x - m_k||^2)                       (B, D) -> (B, K)

    backward passes dE/dx through r with the prototypes held fixed, so modules below still get their gradient.
    How the prototypes themselves learn is the module's own business (`rule`):
      "kmeans"    online k-means (MacQueen 1967) on the inputs it sees, after each forward: each input's
                  nearest prototype moves to the running mean of the inputs assigned to it so far. This is
                  descent on the module's own cost, the quantisation error sum ||x - m_winner||^2, with the
                  step 1/n_k, not on the global cost;
      "gradient"  m is a Param: the global cost's gradient trains it like any weight;
      "frozen"    m stays where it started.
    """

    def __init__(self, m: torch.Tensor, beta: float, rule: str = "kmeans"):
        if rule not in ("kmeans", "gradient", "frozen"):
            raise ValueError(f"rule must be kmeans, gradient or frozen, got {rule!r}")
        self.m = Param(m.clone())  # (K, D)
        self.beta, self.rule = beta, rule
        self.n = torch.ones(len(m), dtype=m.dtype, device=m.device)  # inputs won so far; the start counts as 1

    def params(self) -> list[Param]:
        return [self.m] if self.rule == "gradient" else []  # what the gradient learner may change

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.x = x  # (B, D)
        m = self.m.value
        self.d2 = (x * x).sum(-1, keepdim=True) - 2 * x @ m.T + (m * m).sum(-1)  # (B, K) = ||x - m_k||^2
        self.r = torch.softmax(-self.beta * self.d2, dim=-1)  # (B, K)
        return self.r

    def backward(self, dr: torch.Tensor) -> torch.Tensor:
        ds = self.r * (dr - (dr * self.r).sum(-1, keepdim=True))  # through the softmax: dE/ds, s = -beta d2
        dd2 = -self.beta * ds  # (B, K) dE/d(||x - m_k||^2)
        if self.rule == "gradient":  # d||x - m_k||^2 / dm_k = -2 (x - m_k)
            self.m.grad += -2 * (dd2.T @ self.x - dd2.sum(0)[:, None] * self.m.value)  # (K, B) @ (B, D)
        return 2 * (dd2.sum(-1, keepdim=True) * self.x - dd2 @ self.m.value)  # (B, K) @ (K, D) -> (B, D)

    @torch.no_grad()
    def learn(self) -> None:
        """The module's own rule, applied to the inputs of the last forward (a no-op unless rule='kmeans')."""
        if self.rule != "kmeans":
            return
        winner = self.d2.argmin(-1)  # (B,) nearest prototype of each input
        count = torch.bincount(winner, minlength=len(self.n)).to(self.n.dtype)  # (K,)
        total = torch.zeros_like(self.m.value).index_add_(0, winner, self.x)  # (K, D) sum of the inputs won
        self.n += count
        # running mean: m <- m + sum_{x won by k} (x - m_k) / n_k
        self.m.value += (total - count[:, None] * self.m.value) / self.n[:, None]

    def quantisation_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over x of min_k ||x - m_k||^2: the cost the k-means rule descends."""
        return torch.cdist(x, self.m.value).min(-1).values.pow(2).mean()


def learners(net: Module) -> list[Module]:
    """Every module of a Sequential or Graph that has a rule of its own (a `learn` method)."""
    inner = getattr(net, "modules", None) or [m for _, m, _ in getattr(net, "nodes", [])]
    found = [net] if hasattr(net, "learn") else []
    return found + [m for sub in inner for m in learners(sub)]


# ----------------------------------------------------------------------------------------------- networks


def lenet1989(generator: torch.Generator | None = None, dtype=torch.float64) -> Sequential:
    """Net-1989 of LeCun et al. (1989, Sec. 3.3, `lecun1989.model.Net1989`) assembled from framework modules:
    (B, 1, 16, 16) -> H1 (B, 12, 8, 8) -> H2 (B, 12, 4, 4) -> H3 (B, 30) -> output (B, 10). Per-unit biases,
    H2 reading 8 of the 12 H1 maps, the scaled tanh everywhere, weights uniform in +-2.4/fan-in (Sec. 4)."""
    rows = torch.arange(12)[:, None].expand(12, 8)  # (12, 8) H2 map of each table entry
    table = torch.zeros(12, 12, dtype=torch.bool)
    table[rows, connection_table()] = True  # (12, 12): H2 map j reads H1 map i
    kw = dict(generator=generator, dtype=dtype)
    return Sequential(
        Conv2d(1, 12, 5, stride=2, pad=2, pad_value=-1.0, bias_shape=(12, 8, 8), init_range=2.4 / 25,
               input_grad=False, **kw),
        ScaledTanh(),
        Conv2d(12, 12, 5, stride=2, pad=2, bias_shape=(12, 4, 4), table=table, init_range=2.4 / 200, **kw),
        ScaledTanh(),
        Flatten(),
        Linear(192, 30, init_range=2.4 / 192, **kw),
        ScaledTanh(),
        Linear(30, 10, init_range=2.4 / 30, **kw),
        ScaledTanh(),
    )


def prototype_classifier(m0: torch.Tensor, beta: float, rule: str, n_classes: int,
                         generator: torch.Generator | None = None) -> Sequential:
    """x (B, D) -> Prototypes (own rule) -> Linear (gradient) -> class scores (B, n_classes)."""
    K = len(m0)
    return Sequential(Prototypes(m0, beta, rule),
                      Linear(K, n_classes, init_range=K**-0.5, generator=generator, dtype=m0.dtype))


def state_dict(net: Module) -> dict:
    """Everything a network has learned, whichever rule learned it: gradient Params and learners' states."""
    return {"params": [p.value.clone() for p in net.params()],
            "learners": [{"m": m.m.value.clone(), "n": m.n.clone()} for m in learners(net)]}


def load_state_dict(net: Module, state: dict) -> None:
    for p, saved in zip(net.params(), state["params"], strict=True):
        p.value.copy_(saved)
    for m, saved in zip(learners(net), state["learners"], strict=True):
        m.m.value.copy_(saved["m"])
        m.n.copy_(saved["n"])
