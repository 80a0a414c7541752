"""Yosinski, Clune, Bengio & Lipson (2014), How transferable are features in deep neural networks?

The system is not a new network but a *procedure* on one: an L-layer convnet (the paper: Caffe's 8-layer
ImageNet net, conv1..conv5 then fc6..fc8) is trained on task A (baseA) and on task B (baseB); then for every
layer n = 1 .. L-1 the net is chopped after layer n and four nets are built and trained on B (Sec. 2, Fig. 1):

    BnB    layers 1..n copied from baseB and frozen; layers n+1..L re-initialised and trained   ("selffer")
    BnB+   as BnB, but every layer is trained (fine-tuned)
    AnB    layers 1..n copied from baseA and frozen; layers n+1..L re-initialised and trained   ("transfer")
    AnB+   as AnB, but every layer is trained (fine-tuned)

AnB measures how *general* the first n layers of a net trained on A are for B; BnB is its control, which
carries B's own features and so shows what is lost by splitting co-adapted layers alone.

Here the net is a small stack of the same kinds of layers: 3x3 convolutions with ReLU (each followed by 2x2 max
pooling while the map is larger than 4 pixels), then fully connected ReLU layers, then a linear output layer
read by a softmax. To train many such nets at once, every parameter carries a leading axis of G *copies*:
copy g is one whole net, the convolutions run as one grouped convolution and the fully connected layers as one
batched matrix product. A copy computes exactly what a lone net with its weights computes (a test checks it
against torch's own Conv2d/Linear layers, outputs and gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ARMS = ("BnB", "BnB+", "AnB", "AnB+")
"""The four transfer arms of Sec. 2, in the order they are stacked; the source net and whether 1..n is frozen."""
SOURCE = {"BnB": "B", "BnB+": "B", "AnB": "A", "AnB+": "A"}
FROZEN = {"BnB": True, "BnB+": False, "AnB": True, "AnB+": False}


def pooled(side: int) -> int:
    """Side after a conv layer: 2x2 max pooling (floor) while the map is larger than 4 pixels, else none."""
    return side // 2 if side > 4 else side


class StackedConvNet(nn.Module):
    """G copies of an L-layer net: len(channels) conv layers, len(hidden) fc layers, one output layer.

    Layer l (1-based, as the paper numbers conv1..fc8) has weights W[l-1] and biases b[l-1]:
        conv: W (G, c_out, c_in, 3, 3), b (G, c_out);      fc: W (G, d_in, d_out), b (G, 1, d_out).
    """

    def __init__(self, G: int, channels: tuple[int, ...], hidden: tuple[int, ...], classes: int, side: int,
                 p_drop: float = 0.0):  # fmt: skip
        super().__init__()
        self.G, self.channels, self.hidden, self.side, self.p_drop = G, tuple(channels), tuple(hidden), side, p_drop
        self.W, self.b = nn.ParameterList(), nn.ParameterList()
        c_in, s = 1, side
        for c in channels:
            self.W.append(nn.Parameter(torch.zeros(G, c, c_in, 3, 3)))
            self.b.append(nn.Parameter(torch.zeros(G, c)))
            c_in, s = c, pooled(s)
        d_in = c_in * s * s
        for d in (*hidden, classes):
            self.W.append(nn.Parameter(torch.zeros(G, d_in, d)))
            self.b.append(nn.Parameter(torch.zeros(G, 1, d)))
            d_in = d

    @property
    def L(self) -> int:
        """Number of weighted layers (the paper's net: 8)."""
        return len(self.W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (G, B, 1, s, s), copy g's images -> (G, B, classes) logits (the softmax lives in the loss)."""
        G, B = x.shape[:2]
        h = x.transpose(0, 1).reshape(B, G, self.side, self.side)  # (B, G*1, s, s): channel block g is copy g
        for l, c in enumerate(self.channels):
            K = self.W[l].reshape(G * c, -1, 3, 3)  # (G*c_out, c_in, 3, 3)
            h = F.relu(F.conv2d(h, K, self.b[l].reshape(G * c), padding=1, groups=G))  # (B, G*c_out, s, s)
            if h.shape[-1] > 4:
                h = F.max_pool2d(h, 2)  # (B, G*c_out, s/2, s/2)
        h = h.reshape(B, G, -1).transpose(0, 1)  # (G, B, c*s*s): each copy's maps, flattened as a lone net would
        for l in range(len(self.channels), self.L):
            h = torch.baddbmm(self.b[l], h, self.W[l])  # (G, B, d_in) @ (G, d_in, d_out) -> (G, B, d_out)
            if l < self.L - 1:
                h = F.dropout(F.relu(h), self.p_drop, self.training)
        return h


@torch.no_grad()
def he_init(net: StackedConvNet, generator: torch.Generator) -> None:
    """Every weight ~ N(0, 2 / fan_in) (He et al. 2015), drawn independently for every copy; biases 0."""
    for W in net.W:
        fan_in = W[0].numel() // (W.shape[1] if W.dim() == 5 else W.shape[-1])
        W.copy_(torch.randn(W.shape, generator=generator) * math.sqrt(2.0 / fan_in))
    for b in net.b:
        b.zero_()


def train_masks(R: int, L: int, n_values: tuple[int, ...]) -> torch.Tensor:
    """(L, G) with 1 where transfer copy g trains layer l, 0 where the layer is copied and frozen (BnB, AnB)."""
    trains = torch.ones(L, R * len(ARMS) * len(n_values))
    for r in range(R):
        for arm in ARMS:
            for n in n_values:
                if FROZEN[arm]:
                    trains[:n, copy_index(n_values, r, arm, n)] = 0.0
    return trains


def copy_index(n_values: tuple[int, ...], r: int, arm: str, n: int) -> int:
    """The position of (replicate r, arm, n) among the stacked transfer nets: replicate, then arm, then n."""
    return (r * len(ARMS) + ARMS.index(arm)) * len(n_values) + n_values.index(n)


@torch.no_grad()
def chop_and_stack(base: StackedConvNet, fresh: StackedConvNet, n_values: tuple[int, ...]) -> StackedConvNet:
    """The transfer nets of Sec. 2 for every replicate, arm and n, stacked in copy_index's order.

    `base` holds 2R trained nets, baseA of replicate r at copy r and baseB at copy R + r; `fresh` holds R
    untrained nets. Layers 1..n come from the arm's base net (A or B), layers n+1..L from the fresh net of the
    same replicate: the four arms of one (r, n) start their new layers from the same draw, so they differ only in
    what they copy and what they freeze (train_masks)."""
    R = fresh.G
    net = StackedConvNet(R * len(ARMS) * len(n_values), fresh.channels, fresh.hidden, fresh.W[-1].shape[-1],
                         fresh.side, fresh.p_drop)  # fmt: skip
    for r in range(R):
        for arm in ARMS:
            src = r if SOURCE[arm] == "A" else R + r
            for n in n_values:
                g = copy_index(n_values, r, arm, n)
                for l in range(net.L):
                    W, b = (base.W[l][src], base.b[l][src]) if l < n else (fresh.W[l][r], fresh.b[l][r])
                    net.W[l][g].copy_(W)
                    net.b[l][g].copy_(b)
    return net


@torch.no_grad()
def regularise_and_freeze(net: StackedConvNet, trains: torch.Tensor, weight_decay: float) -> None:
    """After backward: add weight decay, dE/dW += lambda W, to weights and biases alike (the paper's solver:
    lambda = 0.0005; its Caffe net exempts biases, a deviation noted in notes.md), then zero the gradient of every
    frozen layer of every copy (Caffe's blobs_lr 0). With a zero gradient from the first step on, momentum SGD
    leaves a frozen layer exactly where it was copied."""
    for l in range(net.L):
        for p in (net.W[l], net.b[l]):
            if p.grad is None:
                continue
            mask = trains[l].view(-1, *([1] * (p.dim() - 1)))  # (G, 1, ..., 1)
            p.grad.add_(p, alpha=weight_decay).mul_(mask)


def count_parameters(net: StackedConvNet) -> int:
    """Parameters of one copy (one net)."""
    return sum(p[0].numel() for p in net.parameters())
