"""Back-propagation as a small reverse-mode engine (Rumelhart, Hinton & Williams, Nature 1986).

Two parts:
  engine    Param, Module and its kinds (Linear, Sigmoid, Tanh, Add, Mul, SquaredError), their compositions
            (Sequential, Graph: a DAG with fan-out) and GeneralisedDelta, the paper's weight-change rule.
            Every module computes its own derivative in `backward`; torch.autograd is never used (callers
            run the engine under torch.no_grad()). Later papers (Bottou & Gallinari 1990) may import it.
  networks  layered_net: the paper's layered nets of logistic units (XOR, the encoder, mirror symmetry).

The paper's symbols: x_j total input of unit j, y_j its output, w_ji the weight from unit i to unit j,
d_j the desired output, E the error, epsilon the learning rate, alpha the momentum (decay) factor.
Optional leading "replica" axis R: R independent networks (restarts from different random weights)
trained side by side in one set of tensors; every shape below is written for that case, (R, ...).
"""

from __future__ import annotations

import torch

# ----------------------------------------------------------------------------------------------- engine


class Param:
    """A weight tensor and the accumulated derivative dE/dw of the same shape."""

    def __init__(self, value: torch.Tensor):
        self.value = value
        self.grad = torch.zeros_like(value)


def unbroadcast(g: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum g down to `shape`: a tensor broadcast to many places receives the sum of their derivatives."""
    while g.dim() > len(shape):
        g = g.sum(0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis, keepdim=True)
    return g


def unique(params: list[Param]) -> list[Param]:
    """Each Param once, in order: a Param shared by several modules (shared weights) is one weight."""
    return list({id(p): p for p in params}.values())


class Module:
    """forward(*inputs) -> output caches what backward needs; backward(dE/d output) -> dE/d input(s)
    and adds dE/dw into each Param's grad (accumulation, as the paper sums over cases and over uses)."""

    def params(self) -> list[Param]:
        return []

    def zero_grad(self) -> None:
        for p in self.params():
            p.grad.zero_()

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, dy: torch.Tensor):
        raise NotImplementedError


class Linear(Module):
    """Eq. (1): x_j = sum_i y_i w_ji + b_j (the bias b_j is the weight from an always-on unit).

    Backward is Eq. (6), dE/dw_ji = sum_c dE/dx_j y_i (summed over the cases c of the batch),
    and Eq. (7), dE/dy_i = sum_j dE/dx_j w_ji. W is (n_out, n_in): row j holds the w_ji into unit j.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        replicas: int | None = None,
        init_range: float = 0.3,
        generator: torch.Generator | None = None,
        dtype=torch.float64,
        device=None,
        input_grad: bool = True,
    ):
        self.input_grad = input_grad
        lead = () if replicas is None else (replicas,)
        bias_shape = (n_out,) if replicas is None else (replicas, 1, n_out)

        def uniform(*shape):  # the paper: initial weights uniform in [-init_range, init_range]
            u = torch.rand(*shape, generator=generator, dtype=dtype)  # drawn on the CPU generator
            return ((2 * u - 1) * init_range).to(device)

        self.W = Param(uniform(*lead, n_out, n_in))
        self.b = Param(uniform(*bias_shape))

    def params(self) -> list[Param]:
        return [self.W, self.b]

    def forward(self, y_in: torch.Tensor) -> torch.Tensor:
        self.y_in = y_in  # (R, B, n_in) or (B, n_in)
        # W y^T rather than y W^T: with one shared (B, n_in) input this is a single matmul for all R
        x = (self.W.value @ y_in.transpose(-1, -2)).transpose(-1, -2)  # (R, n_out, B) -> (R, B, n_out)
        return x + self.b.value  # (R, B, n_out)

    def backward(self, dx: torch.Tensor) -> torch.Tensor | None:
        dW = dx.transpose(-1, -2) @ self.y_in  # (R, n_out, B) @ (R, B, n_in)
        self.W.grad += unbroadcast(dW, self.W.value.shape)  # (R, n_out, n_in)
        self.b.grad += unbroadcast(dx, self.b.value.shape)  # sum over cases c
        if not self.input_grad:  # inputs are data: skip Eq. (7)
            return None
        dy_in = dx @ self.W.value  # (R, B, n_out) @ (R, n_out, n_in)
        return unbroadcast(dy_in, self.y_in.shape)


class Sigmoid(Module):
    """Eq. (2): y_j = 1 / (1 + e^{-x_j}); backward Eq. (5): dE/dx_j = dE/dy_j * y_j (1 - y_j)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.y = torch.sigmoid(x)  # 1 / (1 + e^{-x}), one kernel
        return self.y

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * self.y * (1.0 - self.y)


class Tanh(Module):
    """y = tanh(x), a rescaled logistic; dE/dx = dE/dy (1 - y^2). Not in the paper: used to test the DAG."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.y = torch.tanh(x)
        return self.y

    def backward(self, dy: torch.Tensor) -> torch.Tensor:
        return dy * (1.0 - self.y * self.y)


class Add(Module):
    """y = a + b (with broadcasting): the derivative passes unchanged to both inputs."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return unbroadcast(dy, self.shapes[0]), unbroadcast(dy, self.shapes[1])


class Mul(Module):
    """y = a * b elementwise (a multiplicative connection): dE/da = dE/dy * b, dE/db = dE/dy * a."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self.a, self.b = a, b
        return a * b

    def backward(self, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return unbroadcast(dy * self.b, self.a.shape), unbroadcast(dy * self.a, self.b.shape)


class SquaredError(Module):
    """Eq. (3): E = 1/2 sum_c sum_j (y_jc - d_jc)^2, summed over cases c (axis -2) and output units j
    (axis -1), one E per replica. Backward is Eq. (4): dE/dy_j = y_j - d_j."""

    def forward(self, y: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        self.y, self.d = y, d
        return 0.5 * ((y - d) ** 2).sum(dim=(-2, -1))  # (R,) or ()

    def backward(self, dE: torch.Tensor | float = 1.0) -> torch.Tensor:
        dE = torch.as_tensor(dE, dtype=self.y.dtype, device=self.y.device)
        return (self.y - self.d) * dE[..., None, None]  # (R, B, n_out)


class Sequential(Module):
    """A chain: forward left to right, backward right to left (the backward pass of the paper)."""

    def __init__(self, *modules: Module):
        self.modules = list(modules)

    def params(self) -> list[Param]:
        return unique([p for m in self.modules for p in m.params()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.modules:
            x = m.forward(x)
        return x

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        for m in reversed(self.modules):
            dy = m.backward(dy)
        return dy


class Graph(Module):
    """A directed acyclic graph of modules. `nodes` lists (name, module, input names) in topological
    order; "x" names the graph's input and `output` the node whose value is returned. One value may
    feed several modules (fan-out): by the chain rule its derivative is the sum over all consumers,
    so backward accumulates. Each module instance may appear once (it caches its own forward); to share
    weights between two modules give them the same Param, whose grad then sums both uses."""

    def __init__(self, nodes: list[tuple[str, Module, tuple[str, ...]]], output: str):
        if len({id(m) for _, m, _ in nodes}) != len(nodes):
            raise ValueError("each module instance may appear in one node only; to share weights, share a Param")
        self.nodes, self.output = nodes, output

    def params(self) -> list[Param]:
        return unique([p for _, m, _ in self.nodes for p in m.params()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.values = {"x": x}
        for name, module, inputs in self.nodes:
            self.values[name] = module.forward(*(self.values[i] for i in inputs))
        return self.values[self.output]

    def backward(self, dy: torch.Tensor) -> torch.Tensor | None:
        """dE/dx, after every module has added its dE/dw. A module that reads the data x may decline dE/d(input)
        (returns None, e.g. a Linear built with input_grad=False): its share is absent, the weights' derivatives are
        unaffected, and dE/dx, which it did not supply, is returned as None rather than as a partial sum. A None
        for an inner value would silently cut a path to every weight below it, so it is refused."""
        grads, declined = {self.output: dy}, False
        for name, module, inputs in reversed(self.nodes):
            if name not in grads:  # this node does not reach the output: dE/d(.) = 0
                continue
            d_inputs = module.backward(grads.pop(name))
            if d_inputs is None:
                d_inputs = (None,) * len(inputs)
            d_inputs = d_inputs if isinstance(d_inputs, tuple) else (d_inputs,)
            for i, d in zip(inputs, d_inputs, strict=True):
                if d is None:
                    if i != "x":
                        raise ValueError(f"node {name!r} returned no derivative for {i!r}, which is not the graph's "
                                         f"input: input_grad=False is only for modules that read the data x")
                    declined = True
                else:
                    grads[i] = grads[i] + d if i in grads else d  # fan-out: sum
        if declined:
            return None
        return grads.get("x", torch.zeros_like(self.values["x"]))


class GeneralisedDelta:
    """Eq. (8)-(9): Delta w(t) = -epsilon dE/dw(t) + alpha Delta w(t-1); then w <- w + Delta w(t).

    dE/dw is the gradient accumulated over one sweep through all the cases (full batch, as in the
    paper's experiments). alpha = 0 gives plain gradient descent, Eq. (8).
    """

    def __init__(self, params: list[Param], epsilon: float, alpha: float):
        self.params, self.epsilon, self.alpha = params, epsilon, alpha
        self.delta = [torch.zeros_like(p.value) for p in params]

    def step(self) -> None:
        for p, delta in zip(self.params, self.delta, strict=True):
            delta.mul_(self.alpha).add_(p.grad, alpha=-self.epsilon)
            p.value.add_(delta)

    def state_dict(self) -> dict:
        return {"delta": [d.clone() for d in self.delta]}

    def load_state_dict(self, state: dict) -> None:
        for d, saved in zip(self.delta, state["delta"], strict=True):
            d.copy_(saved)


# --------------------------------------------------------------------------------------------- networks


def layered_net(
    sizes: tuple[int, ...],
    replicas: int | None = None,
    init_range: float = 0.3,
    generator: torch.Generator | None = None,
    dtype=torch.float64,
    device=None,
) -> Sequential:
    """The paper's layered network: input units, layers of logistic units, each layer fully connected
    to the one below (Eqs. 1-2). sizes = (n_input, n_hidden, ..., n_output), e.g. (6, 2, 1) for Fig. 1."""
    modules: list[Module] = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        first = k == 0  # the input units are data: no dE/dy for them
        modules += [Linear(n_in, n_out, replicas, init_range, generator, dtype, device, not first), Sigmoid()]
    return Sequential(*modules)


def state_dict(net: Module) -> dict:
    """The weights of a network, in params() order (for checkpoints)."""
    return {"params": [p.value.clone() for p in net.params()]}


def load_state_dict(net: Module, state: dict) -> None:
    for p, saved in zip(net.params(), state["params"], strict=True):
        p.value.copy_(saved)


# ------------------------------------------------------------------------------------ checking the engine


def engine_gradients(net: Module, loss: Module, x: torch.Tensor, d: torch.Tensor):
    """(dE/dw for every weight, dE/dx or None) by the modules' own backward passes (no autograd)."""
    with torch.no_grad():
        net.zero_grad()
        loss.forward(net.forward(x), d)
        dx = net.backward(loss.backward())
    return [p.grad.clone() for p in net.params()], dx


def autograd_gradients(net: Module, loss: Module, x: torch.Tensor, d: torch.Tensor):
    """The same derivatives from torch.autograd, differentiating the modules' forward computations."""
    params = net.params()
    saved = [p.value for p in params]
    leaves = [v.detach().clone().requires_grad_(True) for v in saved]
    x_leaf = x.detach().clone().requires_grad_(True)
    for p, leaf in zip(params, leaves, strict=True):
        p.value = leaf
    try:
        with torch.enable_grad():
            loss.forward(net.forward(x_leaf), d).sum().backward()
    finally:
        for p, v in zip(params, saved, strict=True):
            p.value = v

    def grad(t):  # a leaf that does not reach E has no .grad: its derivative is 0
        return t.grad if t.grad is not None else torch.zeros_like(t)

    return [grad(leaf) for leaf in leaves], grad(x_leaf)


def gradient_difference(net: Module, loss: Module, x: torch.Tensor, d: torch.Tensor) -> float:
    """max |engine - autograd| over all dE/dw (and dE/dx when the engine computes it)."""
    ours, ours_dx = engine_gradients(net, loss, x, d)
    ref, ref_dx = autograd_gradients(net, loss, x, d)
    pairs = list(zip(ours, ref, strict=True)) + ([(ours_dx, ref_dx)] if ours_dx is not None else [])
    return max((a - b).abs().max().item() for a, b in pairs)
