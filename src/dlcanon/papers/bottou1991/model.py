"""Bottou (1991), "Stochastic Gradient Learning in Neural Networks", Proceedings of Neuro-Nimes 91.

Learning minimises a cost that is an average over the training examples z_i = (x_i, y_i):

    C(w) = 1/N sum_i Q(z_i, w)                 Q = the loss of one example (here: cross-entropy of a softmax)

Total ("batch") gradient descent follows the gradient of the whole average:

    w_{t+1} = w_t - eps_t * 1/N sum_i grad_w Q(z_i, w_t)        (one update per pass over the N examples)

Stochastic gradient descent follows the gradient of one randomly picked example:

    w_{t+1} = w_t - eps_t * grad_w Q(z_t, w_t)                   (N updates per pass)

The two use the same code here: `gradient(x, y)` averages grad_w Q over whatever examples it is given, so
total gradient = `gradient(all N examples)` and stochastic gradient = `gradient(one example)`. With step
sizes that decrease (sum eps_t = inf, sum eps_t^2 < inf) the stochastic iterates converge on a convex
cost, though each step only follows a noisy estimate of the total gradient.

Models: multinomial logistic regression (a linear softmax, convex in w) and a net with one tanh hidden
layer. G independent learners (one per step size of a grid) are trained side by side: every weight has a
leading dimension G after the input one, and all learners see the same examples.
    x       (B, d)        B examples
    logits  (B, G, C)     one row of class scores per example and learner
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def shared_input_matmul(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """x (B, d) times each learner's matrix W (d, G, m) -> (B, G, m), as one matmul."""
    d, G, m = W.shape
    return (x @ W.reshape(d, G * m)).reshape(-1, G, m)  # (B, d) @ (d, G*m) -> (B, G, m)


def softmax_error(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dQ/dlogits for Q = -log softmax(logits)[y]: the predicted probabilities minus the one-hot target."""
    return torch.softmax(logits, -1) - F.one_hot(y, logits.shape[-1]).to(logits.dtype)[:, None, :]  # (B, G, C)


def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Q averaged over the examples, per learner (G,)."""
    logp = torch.log_softmax(logits, -1)  # (B, G, C)
    return -logp.gather(-1, y.view(-1, 1, 1).expand(-1, logits.shape[1], 1)).squeeze(-1).mean(0)


class SoftmaxRegression(nn.Module):
    """logits = x W + b: the linear model, convex cost. The gradient is written out by hand:
    dQ/dW = x (p - e_y)^T,  dQ/db = p - e_y."""

    def __init__(self, G: int, d: int, C: int = 10):
        super().__init__()
        self.W = nn.Parameter(torch.zeros(d, G, C))  # zero start: the cost is convex, no symmetry to break
        self.b = nn.Parameter(torch.zeros(G, C))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shared_input_matmul(x, self.W) + self.b  # (B, G, C)

    def gradient(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The average of grad_w Q over the B given examples, for every learner."""
        delta = softmax_error(self(x), y) / x.shape[0]  # (B, G, C), the mean folded in
        B, G, C = delta.shape
        return {"W": (x.T @ delta.reshape(B, G * C)).reshape(-1, G, C),  # (d, B) @ (B, G*C) -> (d, G, C)
                "b": delta.sum(0)}  # (G, C)


class OneHiddenLayerNet(nn.Module):
    """logits = tanh(x W1 + b1) W2 + b2, gradient by back-propagation written out by hand."""

    def __init__(self, G: int, d: int, H: int, C: int = 10, generator: torch.Generator | None = None):
        super().__init__()

        def U(shape, fan_in):  # uniform in +-1/sqrt(fan_in); every learner starts from the same draw
            w = (torch.rand(shape, generator=generator) * 2 - 1) / fan_in**0.5
            return nn.Parameter(w.unsqueeze(-2).repeat_interleave(G, -2))  # (d, H) -> (d, G, H); (H,) -> (G, H)

        self.W1, self.b1 = U((d, H), d), U((H,), d)  # (d, G, H), (G, H)
        self.W2, self.b2 = U((H, C), H), U((C,), H)  # (H, G, C), (G, C)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(shared_input_matmul(x, self.W1) + self.b1)  # (B, G, H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.hidden(x)
        out = h.transpose(0, 1) @ self.W2.transpose(0, 1)  # (G, B, H) @ (G, H, C) -> (G, B, C)
        return out.transpose(0, 1) + self.b2  # (B, G, C)

    def gradient(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.hidden(x)  # (B, G, H)
        logits = (h.transpose(0, 1) @ self.W2.transpose(0, 1)).transpose(0, 1) + self.b2  # (B, G, C)
        delta2 = softmax_error(logits, y) / x.shape[0]  # (B, G, C)
        back = delta2.transpose(0, 1) @ self.W2.permute(1, 2, 0)  # (G, B, C) @ (G, C, H) -> (G, B, H)
        delta1 = back.transpose(0, 1) * (1 - h * h)  # (B, G, H): tanh' = 1 - tanh^2
        B, G, H = delta1.shape
        return {
            "W1": (x.T @ delta1.reshape(B, G * H)).reshape(-1, G, H),  # (d, B) @ (B, G*H) -> (d, G, H)
            "b1": delta1.sum(0),  # (G, H)
            "W2": (h.permute(1, 2, 0) @ delta2.transpose(0, 1)).transpose(0, 1),  # (G,H,B)@(G,B,C) -> (H,G,C)
            "b2": delta2.sum(0),  # (G, C)
        }


def step_size(eps0: torch.Tensor, t: int, t0: float) -> torch.Tensor:
    """eps_t = eps0 / (1 + t / t0): decreasing with sum eps_t = inf and sum eps_t^2 < inf; t0 = 0 keeps eps0."""
    return eps0 if t0 <= 0 else eps0 / (1.0 + t / t0)


@torch.no_grad()
def update(model: nn.Module, grads: dict[str, torch.Tensor], eps: torch.Tensor) -> None:
    """w <- w - eps * grad, with one step size per learner (eps has shape (G,)): the learning rule shared by
    total and stochastic gradient descent; only the examples behind `grads` differ."""
    for name, grad in grads.items():
        getattr(model, name).sub_(eps.view(-1, 1) * grad)  # every grad ends in (G, m): (G, 1) scales learner g
