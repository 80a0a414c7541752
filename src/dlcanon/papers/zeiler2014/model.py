"""Zeiler & Fergus (2014), Visualizing and Understanding Convolutional Networks.

Two things, in the paper's terms:

1. A small ZFNet-like convnet (Sec. 2, Fig. 3): L blocks of  conv (filters f_l, stride 1) -> ReLU -> 2x2 max
   pool, then a fully connected hidden layer with dropout and a softmax classifier. Each block keeps what the
   deconvnet needs: the rectified maps a_l (before pooling) and the *switches* s_l, the location of the maximum
   inside each pooling region.
2. The deconvnet (Sec. 2.1, Fig. 1): to see what one activation of layer L responds to, set every other
   activation of that layer to zero and pass the map down, layer by layer:
       unpool   - put each value back at the location its switch recorded (zeros elsewhere),
       rectify  - pass the signal through a ReLU,
       filter   - convolve with the transposed filters f_l^T (conv_transpose2d with the same weights, no bias),
   down to pixel space. The result is the projection R_0 of the chosen activation onto the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ZFNet(nn.Module):
    """Sec. 2 / Fig. 3, shrunk: conv-ReLU-maxpool blocks, one hidden fc layer (dropout), softmax output."""

    def __init__(
        self,
        widths: tuple[int, ...] = (16, 32, 64),
        kernels: tuple[int, ...] = (5, 3, 3),
        hidden: int = 128,
        n_classes: int = 9,
        image_size: int = 32,
        p_drop: float = 0.5,
    ):
        super().__init__()
        assert len(widths) == len(kernels) and all(k % 2 == 1 for k in kernels)
        assert image_size % 2 ** len(widths) == 0, "each 2x2 pool needs an even side"
        self.kernels = tuple(kernels)
        chans = (3, *widths)
        # f_l: layer l's filters; padding k // 2 keeps the side, so only the pools shrink the maps
        self.conv = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], k, padding=k // 2) for i, k in enumerate(kernels))
        side = image_size // 2 ** len(widths)
        self.fc = nn.Linear(widths[-1] * side * side, hidden)
        self.out = nn.Linear(hidden, n_classes)
        self.drop = nn.Dropout(p_drop)

    @property
    def L(self) -> int:
        """Number of convolutional layers."""
        return len(self.conv)

    def features(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """Layers 1..L. Returns the rectified maps a_l (B, C_l, H_l, W_l) before pooling, the switches s_l
        (argmax indices of each 2x2 pool, as F.max_pool2d returns them) and the last pooled map p_L."""
        a, s, p = [], [], x
        for conv in self.conv:
            a_l = F.relu(conv(p))  # (B, C_l, H, W)
            p, s_l = F.max_pool2d(a_l, 2, return_indices=True)  # (B, C_l, H/2, W/2)
            a.append(a_l)
            s.append(s_l)
        return a, s, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, p = self.features(x)
        h = self.drop(F.relu(self.fc(p.flatten(1))))  # (B, hidden)
        return self.out(h)  # (B, classes): logits of the softmax


def unpool(R: torch.Tensor, switches: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Sec. 2.1 'Unpooling': each value goes back to the location its switch recorded; the rest of each 2x2
    region is zero. R (B, C, H/2, W/2), switches from the forward pass -> (B, C, H, W)."""
    B, C, h, w = R.shape
    out = R.new_zeros(B, C, size[0] * size[1])  # (B, C, H*W): the switches index the flattened map
    out.scatter_(2, switches.flatten(2), R.flatten(2))
    return out.view(B, C, *size)


def deconv(net: ZFNet, a: list[torch.Tensor], s: list[torch.Tensor], layer: int, R: torch.Tensor) -> torch.Tensor:
    """Sec. 2.1, Fig. 1 (top): project a map R (B, C_layer, H, W) given in the space of layer `layer`'s
    rectified maps a_layer (1-based) down to pixel space, using the switches s of the same pictures' forward
    pass: at each layer rectify, filter with f_l^T, then unpool with the switches of the layer below.
    Biases are not used (the paper's deconvnet inverts only the filtering)."""
    for l in range(layer, 0, -1):
        R = F.relu(R)  # rectify: the reconstruction must stay a valid (non-negative) feature map
        conv = net.conv[l - 1]
        R = F.conv_transpose2d(R, conv.weight, padding=conv.padding)  # filter with f_l^T: (B, C_{l-1}, H, W)
        if l > 1:
            R = unpool(R, s[l - 2], a[l - 2].shape[-2:])  # (B, C_{l-1}, 2H, 2W)
    return R  # (B, 3, image, image)


def project_units(net: ZFNet, x: torch.Tensor, layer: int, unit: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Sec. 2.1: for each picture b, keep only one activation a_layer[b, unit[b], pos[b]] (the rest of the layer
    set to zero) and project it down. x (B, 3, S, S); unit (B,); pos (B, 2) row, column -> (B, 3, S, S)."""
    with torch.no_grad():
        a, s, _ = net.features(x)
        a_L = a[layer - 1]  # (B, C, H, W)
        b = torch.arange(len(x), device=x.device)
        R = torch.zeros_like(a_L)
        R[b, unit, pos[:, 0], pos[:, 1]] = a_L[b, unit, pos[:, 0], pos[:, 1]]
        return deconv(net, a, s, layer, R)


def receptive_field(kernels: tuple[int, ...], layer: int) -> tuple[int, int]:
    """(J, h): a unit at row i of a_layer sees pixel rows i*J - h .. i*J + J - 1 + h, with J = 2^(layer-1)
    (the pools' stride so far) and h = sum_l (k_l // 2) * 2^(l-1) (each layer's half-kernel, in pixels)."""
    J = 2 ** (layer - 1)
    h = sum((k // 2) * 2**l for l, k in enumerate(kernels[:layer]))
    return J, h


def renormalise_filters(net: ZFNet, radius: float) -> None:
    """Sec. 3 (from memory, not checked): each conv filter whose RMS value exceeds a fixed radius (1e-1) is
    scaled back to that radius, after each update."""
    with torch.no_grad():
        for conv in net.conv:
            W = conv.weight  # (C_out, C_in, k, k): one filter per output map
            rms = W.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
            W.mul_(torch.clamp(radius / rms, max=1.0))


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
