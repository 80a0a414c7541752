"""Radford, Metz & Chintala (2016), DCGAN: the generator G and discriminator D built by the architecture
guidelines of Sec. 3, the GAN losses they are trained with (Goodfellow et al. 2014), and D's convolutional
features as the paper uses them for classification (Sec. 5.1).

Symbols as the paper (and the GAN paper before it) writes them:
    z      the noise drawn from a uniform distribution Z (Sec. 3, "takes a uniform noise distribution Z as input")
    G(z)   a generated image in [-1, 1] (tanh output)     D(x)  the probability that x is real (sigmoid output)

Sec. 3, "Architecture guidelines for stable Deep Convolutional GANs":
    * replace any pooling layers with strided convolutions (D) and fractional-strided convolutions (G);
    * use batchnorm in both G and D, except G's output layer and D's input layer (Sec. 3: applying it to every
      layer "resulted in sample oscillation and model instability");
    * remove fully connected hidden layers;
    * ReLU in G for all layers except the output, which uses tanh;
    * LeakyReLU (slope 0.2, Sec. 4) in D for all layers.
Sec. 4: all weights initialised from N(0, 0.02²); Adam with learning rate 0.0002 and β1 = 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SLOPE = 0.2
"""The LeakyReLU slope in D (Sec. 4: "the slope of the leak was set to 0.2 in all models")."""


def sides(side: int) -> list[int]:
    """The spatial sides of G's layers, from 4 up to `side` by doubling (D's, read backwards): 16 -> [4, 8, 16]."""
    if side < 8 or side & (side - 1):
        raise ValueError(f"image side {side} must be a power of two, at least 8")
    out = [4]
    while out[-1] < side:
        out.append(2 * out[-1])
    return out


class Generator(nn.Module):
    """Sec. 3, Fig. 1: z -> a 4 x 4 x C_0 tensor by one matrix multiplication (a transposed convolution of a
    1 x 1 input with a 4 x 4 kernel, which is the same thing), then fractional-strided convolutions (kernel 4,
    stride 2) each doubling the side and halving the width, batchnorm and ReLU after each, tanh at the output.
    No fully connected hidden layer, no pooling, no batchnorm on the output."""

    def __init__(self, z_dim: int, width: int, side: int, channels: int = 1):
        super().__init__()
        n = len(sides(side)) - 1  # number of doublings 4 -> side
        widths = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. side 16: [2w, w]
        self.z_dim = z_dim
        self.project = nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False)  # (B, z, 1, 1) -> (B, C0, 4, 4)
        self.bn = nn.ModuleList([nn.BatchNorm2d(c) for c in widths])
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in zip(widths[:-1], widths[1:], strict=True)]
            + [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False)]  # the output layer: side/2 -> side
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn[0](self.project(z[:, :, None, None])))  # (B, z) -> (B, C0, 4, 4)
        for bn, up in zip(self.bn[1:], self.up[:-1], strict=True):
            h = F.relu(bn(up(h)))  # (B, C, s, s) -> (B, C/2, 2s, 2s)
        return torch.tanh(self.up[-1](h))  # (B, channels, side, side), no batchnorm on G's output


class Discriminator(nn.Module):
    """Sec. 3: strided convolutions (kernel 4, stride 2) each halving the side and doubling the width, down to
    4 x 4; batchnorm and LeakyReLU(0.2) after each except the first (no batchnorm on D's input layer); the last
    4 x 4 map is flattened into a single sigmoid output (one 4 x 4 convolution: the logit of D(x))."""

    def __init__(self, width: int, side: int, channels: int = 1):
        super().__init__()
        n = len(sides(side)) - 1
        widths = [width * 2**i for i in range(n)]  # e.g. side 16: [w, 2w]
        self.down = nn.ModuleList(
            [nn.Conv2d(a, b, 4, 2, 1, bias=False) for a, b in zip([channels] + widths[:-1], widths, strict=True)]
        )
        self.bn = nn.ModuleList([nn.Identity()] + [nn.BatchNorm2d(c) for c in widths[1:]])
        self.out = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)  # (B, C, 4, 4) -> (B, 1, 1, 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activations of every convolutional layer, (B, C_l, s_l, s_l), the input of the last one last."""
        h, a = x, []
        for conv, bn in zip(self.down, self.bn, strict=True):
            h = F.leaky_relu(bn(conv(h)), SLOPE)  # (B, C, s, s) -> (B, 2C, s/2, s/2)
            a.append(h)
        return a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logit of D(x), (B,): D(x) = sigmoid(logit)."""
        return self.out(self.features(x)[-1]).flatten()  # (B, 1, 1, 1) -> (B,)


def init_weights(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Sec. 4: "All weights were initialized from a zero-centered Normal distribution with standard deviation
    0.02." Batchnorm scales are drawn around 1 with the same spread and shifts start at 0 (as the authors'
    code does; the paper says nothing of them)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=generator) * 0.02)
                m.bias.zero_()


def sample_z(n: int, z_dim: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """z ~ U[-1, 1]^z_dim (Sec. 3: a uniform noise distribution Z), (n, z_dim)."""
    return (torch.rand(n, z_dim, generator=generator) * 2 - 1).to(device)


def d_loss(logit_real: torch.Tensor, logit_fake: torch.Tensor) -> torch.Tensor:
    """D ascends log D(x) + log(1 - D(G(z))) (Goodfellow et al. 2014, Eq. 1): we descend its negative, the
    binary cross-entropy of real images labelled 1 and generated ones labelled 0 (mean over each batch)."""
    real = F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
    fake = F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))
    return real + fake


def g_loss(logit_fake: torch.Tensor) -> torch.Tensor:
    """G ascends log D(G(z)) (the non-saturating loss of Goodfellow et al. 2014, Sec. 3, which the DCGAN code
    uses): the cross-entropy of generated images labelled real."""
    return F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))


@torch.no_grad()
def pooled_features(D: Discriminator, x: torch.Tensor, grid: int, chunk: int = 1000) -> torch.Tensor:
    """Sec. 5.1: "we use the discriminator's convolutional features from all layers, maxpooling each layer's
    representation to produce a 4 x 4 spatial grid. These features are then flattened and concatenated".
    Here the grid is `grid` x `grid`; x (N, c, s, s) -> (N, sum_l C_l * grid²). D is used as it is (eval mode:
    batchnorm with its running statistics)."""
    out = []
    for i in range(0, len(x), chunk):
        a = D.features(x[i : i + chunk])
        out.append(torch.cat([F.adaptive_max_pool2d(a_l, grid).flatten(1) for a_l in a], 1))  # (n, C_l*g*g)...
    return torch.cat(out)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Sec. 6.1, Fig. 4 ("walking in the latent space"): points on the straight line from z0 to z1, z0 + t (z1 - z0);
    z0, z1 (P, z), t (T,) -> (P, T, z)."""
    return z0[:, None, :] + t[None, :, None] * (z1 - z0)[:, None, :]  # (P, T, z)
