"""He, Zhang, Ren & Sun (2015), Deep Residual Learning for Image Recognition.

The CIFAR-10 family of Sec. 4.2, plain and residual, in the paper's notation:

    a 3x3 convolution; then three stages of 2n 3x3 convolutions with 16, 32, 64 feature maps on maps of
    size s, s/2, s/4 (a stage's first convolution has stride 2 where the map count doubles); global average
    pooling; a fully connected 10-way layer with softmax. 6n + 2 weighted layers in all.

A *residual* net adds an identity shortcut around every pair of 3x3 convolutions (a building block, Fig. 2):

    y = F(x, {W_i}) + x,        F = W_2 sigma(W_1 x)                                   (Eq. 1)

with sigma = ReLU, and a second ReLU after the addition. Where a block halves the map size and doubles the map
count, the shortcut is option A (Sec. 3.3, 4.2): the identity taken at stride 2, with the extra maps padded with
zeros, so the shortcut has no parameters and the plain and residual nets of one depth have exactly the same
weights. Batch normalization comes right after each convolution and before the activation (Sec. 3.4); weights
start from He et al. (2015b)'s init, N(0, 2 / fan_in) (Sec. 3.4).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

WIDTHS = (16, 32, 64)
"""Sec. 4.2: the numbers of filters of the three stages."""


def conv3x3(c_in: int, c_out: int, stride: int) -> nn.Conv2d:
    """A 3x3 convolution, padding 1, no bias (the BN after it has its own shift beta)."""
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


def shortcut_A(x: torch.Tensor, c_out: int, stride: int) -> torch.Tensor:
    """Option A (Sec. 3.3): the identity; at a dimension increase, subsample by `stride` and pad the new maps
    with zeros. (B, c, h, w) -> (B, c_out, ceil(h / stride), ceil(w / stride))."""
    if stride == 1 and x.shape[1] == c_out:
        return x
    x = x[:, :, ::stride, ::stride]  # (B, c, h', w'), the same positions a stride-2 3x3 conv centres on
    return F.pad(x, (0, 0, 0, 0, 0, c_out - x.shape[1]))  # (B, c_out, h', w'), zeros for the new maps


class Block(nn.Module):
    """Two 3x3 convolutions, each followed by BN (Sec. 3.4). Residual: y = ReLU(F(x, {W_i}) + x) (Eq. 1 and
    Fig. 2, option A at a dimension change); plain: y = ReLU(F(x, {W_i})), the same layers without the shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, residual: bool):
        super().__init__()
        self.c_out, self.stride, self.residual = c_out, stride, residual
        self.W_1, self.bn_1 = conv3x3(c_in, c_out, stride), nn.BatchNorm2d(c_out)
        self.W_2, self.bn_2 = conv3x3(c_out, c_out, 1), nn.BatchNorm2d(c_out)

    def F(self, x: torch.Tensor) -> torch.Tensor:
        """F(x, {W_1, W_2}) = BN(W_2 ReLU(BN(W_1 x))): the residual function the two layers learn."""
        return self.bn_2(self.W_2(F.relu(self.bn_1(self.W_1(x)))))  # (B, c_out, h', w')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return F.relu(self.F(x))
        return F.relu(self.F(x) + shortcut_A(x, self.c_out, self.stride))  # y = F(x, {W_i}) + x (Eq. 1)


class CifarNet(nn.Module):
    """Sec. 4.2: the 6n + 2 layer net, plain (`residual=False`) or residual (the ResNet-(6n+2))."""

    def __init__(
        self,
        n: int,
        residual: bool,
        in_channels: int = 1,
        classes: int = 10,
        widths: tuple[int, int, int] = WIDTHS,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.n, self.residual = n, residual
        self.conv_1, self.bn_1 = conv3x3(in_channels, widths[0], 1), nn.BatchNorm2d(widths[0])
        blocks, c_in = [], widths[0]
        for stage, c_out in enumerate(widths):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(Block(c_in, c_out, stride, residual))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(widths[-1], classes)
        he_init(self, generator)

    @property
    def depth(self) -> int:
        """Weighted layers: the first conv, 6n convs, the fully connected layer (Sec. 4.2)."""
        return 6 * self.n + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, s, s) images -> (B, classes) logits (the softmax lives in the loss)."""
        h = F.relu(self.bn_1(self.conv_1(x)))  # (B, 16, s, s)
        h = self.blocks(h)  # (B, 64, s/4, s/4)
        return self.fc(h.mean(dim=(2, 3)))  # global average pooling: (B, 64) -> (B, classes)


@torch.no_grad()
def he_init(net: nn.Module, generator: torch.Generator | None = None) -> None:
    """Sec. 3.4 (He et al. 2015b): every weight ~ N(0, 2 / fan_in), fan_in = k * k * c_in; biases 0; BN starts at
    gamma = 1, beta = 0. The fully connected layer is drawn the same way (the paper does not single it out)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                m.bias.zero_()


class MomentumSGD:
    """Sec. 3.4 / 4.2: SGD with momentum mu and weight decay lambda on every parameter, in torch.optim.SGD's form

        v <- mu v + (dL/dw + lambda w),      w <- w - eta v

    A plain class, not a torch.optim.Optimizer: that base class loads torch's compiler on first use, seconds of
    start-up for nothing (a test checks it against torch.optim.SGD). `eta` is set from outside each step (the
    step schedule divides it by 10 twice)."""

    def __init__(self, params, eta: float, mu: float = 0.9, weight_decay: float = 1e-4):
        self.params = list(params)
        self.eta, self.mu, self.weight_decay = eta, mu, weight_decay
        self.v = [torch.zeros_like(w) for w in self.params]

    def zero_grad(self) -> None:
        for w in self.params:
            w.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for w, v in zip(self.params, self.v, strict=True):
            if w.grad is not None:
                v.mul_(self.mu).add_(w.grad).add_(w, alpha=self.weight_decay)
                w.add_(v, alpha=-self.eta)

    def state_dict(self) -> dict:
        return {"v": [v.clone() for v in self.v]}

    def load_state_dict(self, state: dict) -> None:
        for v, saved in zip(self.v, state["v"], strict=True):
            v.copy_(saved)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
