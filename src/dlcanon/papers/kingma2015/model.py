"""Kingma & Ba (2015), Adam: A Method for Stochastic Optimization.

The system is the optimiser: Adam (Algorithm 1) and the three first-order methods Sec. 6 compares it with
(SGD with Nesterov momentum, AdaGrad, RMSProp), each written in its own paper's symbols, plus the small models
the experiments train.

Every optimiser works on plain tensors whose `.grad` is filled by autograd, like torch.optim. Its step size may
be a float or a 1-D tensor of G values: then each parameter's leading dimension indexes G independent copies of
a model (one per grid value of the step size), trained at once on the same minibatches. Updates are elementwise,
so copy g only ever sees its own gradients and its own alpha[g].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def per_copy(alpha: float | torch.Tensor, p: torch.Tensor) -> float | torch.Tensor:
    """A float, or a (G,) tensor shaped (G, 1, ..., 1) to broadcast over a parameter of G stacked copies."""
    if isinstance(alpha, torch.Tensor):
        return alpha.view(-1, *([1] * (p.dim() - 1)))
    return alpha


class Optimizer:
    """What the four methods share: the parameters, their state, the timestep t and an optional 1/sqrt(t) decay of
    the step size (Sec. 6.1: alpha_t = alpha / sqrt(t), used for logistic regression)."""

    def __init__(self, params, alpha, sqrt_decay: bool = False):
        self.params = list(params)
        self.alpha = alpha
        self.sqrt_decay = sqrt_decay
        self.t = 0
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]

    def alpha_t(self, p: torch.Tensor):
        a = per_copy(self.alpha, p)
        return a / math.sqrt(self.t) if self.sqrt_decay else a

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor] | None = None) -> None:
        """One update from each parameter's .grad, or from `grads` (one per parameter) when given: then the
        parameters may be views, e.g. this optimiser's slice of a model's stacked copies."""
        self.t += 1
        grads = [p.grad for p in self.params] if grads is None else grads
        for p, g, s in zip(self.params, grads, self.state, strict=True):
            if g is not None:
                self.update(p, g, s)

    def update(self, theta: torch.Tensor, g: torch.Tensor, s: dict) -> None:
        raise NotImplementedError


class Adam(Optimizer):
    """Algorithm 1 (Sec. 2), for t = 1, 2, ...:

        g_t = grad f_t(theta_{t-1})
        m_t = beta1 m_{t-1} + (1 - beta1) g_t          biased first moment estimate
        v_t = beta2 v_{t-1} + (1 - beta2) g_t^2        biased second raw moment estimate
        m_hat_t = m_t / (1 - beta1^t)                  bias corrections (Sec. 3, Eq. 4)
        v_hat_t = v_t / (1 - beta2^t)
        theta_t = theta_{t-1} - alpha m_hat_t / (sqrt(v_hat_t) + epsilon)

    epsilon is added to sqrt(v_hat_t), as in Algorithm 1 (not the "epsilon hat" of the faster form below it).
    `bias_correction=False` drops m_hat/v_hat and steps with m_t / (sqrt(v_t) + epsilon): the ablation of
    Sec. 6.4, which Sec. 5 calls RMSProp with momentum."""

    def __init__(self, params, alpha=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, bias_correction=True,
                 sqrt_decay=False):  # fmt: skip
        super().__init__(params, alpha, sqrt_decay)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.bias_correction = bias_correction

    def update(self, theta, g, s):
        if not s:
            s["m"], s["v"] = torch.zeros_like(theta), torch.zeros_like(theta)
        m, v, t = s["m"], s["v"], self.t
        m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)  # m_t
        v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)  # v_t
        if self.bias_correction:
            m_hat, v_hat = m / (1 - self.beta1**t), v / (1 - self.beta2**t)
        else:
            m_hat, v_hat = m, v
        theta.sub_(self.alpha_t(theta) * m_hat / (v_hat.sqrt() + self.epsilon))


class SGDNesterov(Optimizer):
    """SGD with Nesterov's accelerated momentum (Sutskever et al. 2013, Eq. 3-4):

        v_t = mu v_{t-1} - alpha grad f(theta_{t-1} + mu v_{t-1});   theta_t = theta_{t-1} + v_t.

    Written in the shifted variable Theta = theta + mu v (Bengio et al. 2013, Eq. 7), which needs only the
    gradient at the current parameters, g_t = grad f(Theta_{t-1}):

        v_t = mu v_{t-1} - alpha g_t;   Theta_t = Theta_{t-1} + mu v_t - alpha g_t.

    With a constant alpha this is torch.optim.SGD(nesterov=True), whose buffer is -v / alpha."""

    def __init__(self, params, alpha=1e-2, mu=0.9, sqrt_decay=False):
        super().__init__(params, alpha, sqrt_decay)
        self.mu = mu

    def update(self, theta, g, s):
        if not s:
            s["v"] = torch.zeros_like(theta)
        a = self.alpha_t(theta)
        v = s["v"].mul_(self.mu).sub_(a * g)  # v_t
        theta.add_(self.mu * v - a * g)


class AdaGrad(Optimizer):
    """AdaGrad, diagonal version (Duchi et al. 2011), as Sec. 5 writes it:

        theta_{t+1} = theta_t - alpha g_t / sqrt(sum_{i=1..t} g_i^2)

    with epsilon added to the root against division by zero (torch.optim.Adagrad's placement)."""

    def __init__(self, params, alpha=1e-2, epsilon=1e-10, sqrt_decay=False):
        super().__init__(params, alpha, sqrt_decay)
        self.epsilon = epsilon

    def update(self, theta, g, s):
        if not s:
            s["G"] = torch.zeros_like(theta)
        G = s["G"].addcmul_(g, g)  # sum_{i<=t} g_i^2
        theta.sub_(self.alpha_t(theta) * g / (G.sqrt() + self.epsilon))


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012, lecture 6e): divide the gradient by a running root mean square,

        r_t = rho r_{t-1} + (1 - rho) g_t^2;   theta_t = theta_{t-1} - alpha g_t / (sqrt(r_t) + epsilon).

    No momentum and no bias correction (torch.optim.RMSprop with centered=False, momentum=0)."""

    def __init__(self, params, alpha=1e-3, rho=0.9, epsilon=1e-8, sqrt_decay=False):
        super().__init__(params, alpha, sqrt_decay)
        self.rho, self.epsilon = rho, epsilon

    def update(self, theta, g, s):
        if not s:
            s["r"] = torch.zeros_like(theta)
        r = s["r"].mul_(self.rho).addcmul_(g, g, value=1 - self.rho)  # r_t
        theta.sub_(self.alpha_t(theta) * g / (r.sqrt() + self.epsilon))


# ---- the models of Sec. 6, each as G stacked copies (one per step size on the grid) ----


def glorot(G: int, fan_in: int, fan_out: int, generator: torch.Generator) -> torch.Tensor:
    """One uniform Glorot draw, repeated for all G copies: every arm starts from the same theta_0 (Sec. 6)."""
    b = math.sqrt(6.0 / (fan_in + fan_out))
    W = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * b
    return W.expand(G, fan_in, fan_out).clone()


class LogisticRegression(nn.Module):
    """Sec. 6.1: multi-class logistic regression on the 784 pixels, p(y|x) = softmax(x W + b)."""

    def __init__(self, G: int, generator: torch.Generator, d_in: int = 784, n_classes: int = 10):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(G, d_in, n_classes))  # zero init: the objective is convex
        self.b = nn.Parameter(torch.zeros(G, 1, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return first_layer(x, self.W, self.b)  # (G, B, 10)

    def weights(self) -> list[torch.Tensor]:
        return [self.W]


class MLP(nn.Module):
    """Sec. 6.2: two fully connected hidden layers of ReLU units, softmax output; dropout p on the hidden units
    while training when p > 0 (the paper's Fig. 2a uses dropout)."""

    def __init__(self, G: int, generator: torch.Generator, hidden: int, p_drop: float = 0.0, d_in: int = 784):
        super().__init__()
        self.W1 = nn.Parameter(glorot(G, d_in, hidden, generator))
        self.W2 = nn.Parameter(glorot(G, hidden, hidden, generator))
        self.W3 = nn.Parameter(glorot(G, hidden, 10, generator))
        self.b1, self.b2 = nn.Parameter(torch.zeros(G, 1, hidden)), nn.Parameter(torch.zeros(G, 1, hidden))
        self.b3 = nn.Parameter(torch.zeros(G, 1, 10))
        self.p_drop = p_drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(first_layer(x, self.W1, self.b1))  # (G, B, hidden)
        h = F.dropout(h, self.p_drop, self.training)
        h = F.relu(torch.baddbmm(self.b2, h, self.W2))  # (G, B, hidden)
        h = F.dropout(h, self.p_drop, self.training)
        return torch.baddbmm(self.b3, h, self.W3)  # (G, B, 10)

    def weights(self) -> list[torch.Tensor]:
        return [self.W1, self.W2, self.W3]


class ConvNet(nn.Module):
    """Sec. 6.3, scaled down: two stages of 5x5 convolution (ReLU) and 3x3 max pooling with stride 2, then a
    fully connected ReLU layer and a softmax output. The G copies run as one grouped convolution."""

    def __init__(self, G: int, generator: torch.Generator, c1: int, c2: int, hidden: int, side: int = 28):
        super().__init__()
        self.G, self.c1, self.c2, self.side = G, c1, c2, side

        def conv(c_out, c_in):
            b = math.sqrt(6.0 / (25 * (c_in + c_out)))
            K = (torch.rand(c_out, c_in, 5, 5, generator=generator) * 2 - 1) * b
            return nn.Parameter(K.expand(G, c_out, c_in, 5, 5).clone())  # the same draw for every copy

        self.K1, self.K2 = conv(c1, 1), conv(c2, c1)  # (G, c_out, c_in, 5, 5)
        self.c_b1, self.c_b2 = nn.Parameter(torch.zeros(G, c1)), nn.Parameter(torch.zeros(G, c2))
        s = pooled(pooled(side))
        self.W3 = nn.Parameter(glorot(G, c2 * s * s, hidden, generator))
        self.W4 = nn.Parameter(glorot(G, hidden, 10, generator))
        self.b3, self.b4 = nn.Parameter(torch.zeros(G, 1, hidden)), nn.Parameter(torch.zeros(G, 1, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, G = x.shape[0], self.G
        x = x.view(B, 1, self.side, self.side)  # every copy reads the same image
        h = F.max_pool2d(F.relu(conv5x5(x, self.K1, self.c_b1, shared_input=True)), 3, 2)  # (B, G*c1, s1, s1)
        h = F.max_pool2d(F.relu(conv5x5(h, self.K2, self.c_b2)), 3, 2)  # (B, G*c2, s', s')
        h = h.view(B, G, -1).transpose(0, 1)  # (G, B, c2*s'*s')
        h = F.relu(torch.baddbmm(self.b3, h, self.W3))  # (G, B, hidden)
        return torch.baddbmm(self.b4, h, self.W4)  # (G, B, 10)

    def weights(self) -> list[torch.Tensor]:
        return [self.K1, self.K2, self.W3, self.W4]


def first_layer(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x W_g + b_g for every copy g at once, as one matrix product (the input is shared). (G, B, d_out)"""
    G, d_in, d_out = W.shape
    a = x @ W.transpose(0, 1).reshape(d_in, G * d_out)  # (B, d_in) @ (d_in, G*d_out) -> (B, G*d_out)
    return a.view(-1, G, d_out).transpose(0, 1) + b


def conv5x5(h: torch.Tensor, K: torch.Tensor, b: torch.Tensor, shared_input: bool = False) -> torch.Tensor:
    """'Same' 5x5 convolution of G copies at once, as matrix products over unfolded 5x5 patches (faster on a CPU
    than a grouped convolution). h is (B, G*c_in, s, s), or (B, c_in, s, s) when all copies read the same input;
    K is (G, c_out, c_in, 5, 5), b is (G, c_out). Returns (B, G*c_out, s, s)."""
    G, c_out, c_in = K.shape[:3]
    B, side = h.shape[0], h.shape[-1]
    P = F.unfold(h, 5, padding=2)  # (B, [G*]c_in*25, s*s)
    if shared_input:
        a = P.transpose(1, 2) @ K.reshape(G * c_out, c_in * 25).T  # (B, s*s, G*c_out)
        a = a.transpose(1, 2).reshape(B, G, c_out, side * side)
    else:
        a = torch.einsum("gok,bgkl->bgol", K.reshape(G, c_out, c_in * 25), P.view(B, G, c_in * 25, -1))
    return (a + b[None, :, :, None]).reshape(B, G * c_out, side, side)


def pooled(side: int) -> int:
    """Side of a map after 3x3 max pooling with stride 2 (no padding)."""
    return (side - 3) // 2 + 1


def objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """Per copy: mean cross-entropy of the minibatch + (l2 / 2) ||W||^2 on the weights (not biases). (G,)"""
    logits = model(x)  # (G, B, 10)
    G, B, C = logits.shape
    ce = F.cross_entropy(logits.reshape(G * B, C), y.repeat(G), reduction="none").view(G, B).mean(1)
    if l2 > 0:
        ce = ce + 0.5 * l2 * sum(W.reshape(G, -1).pow(2).sum(1) for W in model.weights())
    return ce
