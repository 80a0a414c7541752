"""Szegedy et al. (2013), Intriguing Properties of Neural Networks: the nets and the quantities the paper studies.

1. The "FC" nets of Sec. 4.2: fully connected layers and a softmax classifier on MNIST's 784 pixels. FC10(lambda) is
   a softmax classifier alone (weight decay lambda); FC100-100-10 has two hidden layers of 100 units; FC123-456-10
   two of 123 and 456. phi(x) is the activation vector of the last hidden layer.
2. Sec. 3, units against random directions: the held-out images x' that maximise <phi(x), e_i> (a unit) or
   <phi(x), v> (a random direction v); we score how "semantic" such a set is by its label purity.
3. Sec. 4.1, the penalty form of the adversarial problem: c |r|^2 + loss_f(x + r, l) with x + r in [0, 1]^m (the
   box-constrained L-BFGS that minimises it, and the line search over c, are in attack.py).
4. The fast gradient sign method of Goodfellow, Shlens & Szegedy (2015), Sec. 4: x + eps sign(grad_x J(theta, x, y)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": F.relu}


class FC(nn.Module):
    """Sec. 4.2: "a simple fully connected network with one or more hidden layers and a Softmax classifier".
    hidden = () gives FC10, the softmax classifier alone (multinomial logistic regression on the pixels)."""

    def __init__(self, hidden: tuple[int, ...] = (100, 100), activation: str = "sigmoid", d_in: int = 784,
                 classes: int = 10):  # fmt: skip
        super().__init__()
        sizes = (d_in, *hidden, classes)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.hidden, self.activation = tuple(hidden), activation
        self.sigma = ACTIVATIONS[activation]

    @property
    def name(self) -> str:
        """The paper's name of the architecture: FC10, FC100-100-10, FC123-456-10."""
        return "FC" + "-".join(str(n) for n in (*self.hidden, self.layers[-1].out_features))

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x), the last hidden layer's activations (B, n_L); for FC10, which has none, the pixels x (B, 784)."""
        h = x
        for layer in self.layers[:-1]:
            h = self.sigma(layer(h))  # (B, n_l)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 10); the softmax is inside the cross-entropy."""
        return self.layers[-1](self.phi(x))  # (B, n_L) @ (n_L, 10)


def weight_penalty(net: FC, lam: tuple[float, ...]) -> torch.Tensor:
    """sum_l lam_l |W_l|^2 over the weight layers (biases excluded): the lambda of FC10(lambda), and the
    per-layer weight decay of Table 3."""
    assert len(lam) == len(net.layers), f"one lambda per weight layer: {len(net.layers)}, got {len(lam)}"
    return sum(lam_l * layer.weight.pow(2).sum() for lam_l, layer in zip(lam, net.layers, strict=True))


def penalty_objective(f: nn.Module, x_adv: torch.Tensor, x: torch.Tensor, l: torch.Tensor,
                      c: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Sec. 4.1: sum over images i of  c_i |r_i|^2 + loss_f(x_i + r_i, l_i),  with r_i = x_adv_i - x_i.

    x_adv, x: (B, 784); l: (B,) target labels; c: (B,) one penalty weight per image. The terms do not interact, so
    minimising the sum minimises each image's own problem. loss_f is the net's cross-entropy for label l. The paper
    writes c|r|; we use the squared norm (smooth at r = 0, as Carlini & Wagner 2017 restate the method)."""
    r = x_adv - x  # (B, 784)
    return (c * r.pow(2).sum(1)).sum() + F.cross_entropy(f(x_adv), l, reduction="sum")


def rms(r: torch.Tensor) -> torch.Tensor:
    """The paper's distortion sqrt(sum_i r_i^2 / n) per image (n = 784 pixels in [0, 1]): (B, 784) -> (B,)."""
    return r.pow(2).mean(1).sqrt()


def fgsm(f: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Goodfellow et al. (2015), Eq. (6): x + eps * sign(grad_x J(theta, x, y)), kept in the pixel box [0, 1].
    (Goodfellow et al. do not say whether they clip; clipping only shrinks the perturbation.)"""
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(F.cross_entropy(f(x), y, reduction="sum"), x)  # (B, 784)
    return (x + eps * g.sign()).clamp(0, 1).detach()


def top_k_images(phi_x: torch.Tensor, directions: torch.Tensor, k: int) -> torch.Tensor:
    """Sec. 3: x' = argmax_{x in I} <phi(x), v> for every direction v, keeping the k best images of the held-out
    set I. phi_x: (N, n) activations of I; directions: (D, n) rows e_i or v. Returns indices (D, k)."""
    scores = directions @ phi_x.T  # (D, n) @ (n, N) -> (D, N)
    return scores.topk(k, dim=1).indices


def label_purity(labels: torch.Tensor, classes: int = 10) -> torch.Tensor:
    """Share of each row's images that carry the row's most common label: (D, k) labels -> (D,) in [1/k, 1]."""
    counts = F.one_hot(labels, classes).sum(1)  # (D, k, C) -> (D, C)
    return counts.max(1).values / labels.shape[1]
