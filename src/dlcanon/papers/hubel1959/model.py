"""Hubel & Wiesel (1959): receptive fields of cells in the cat's striate cortex, written as filters.

The 1959 paper mapped each cell's receptive field (RF) with small spots of light: it found "excitatory" and
"inhibitory" areas lying side by side in parallel bands, summation within an area, antagonism between areas,
hence little or no response to diffuse light and a strong response to a slit or edge at one orientation.
A linear RF with positive and negative bands followed by a threshold captures all of that; the Gabor function
(a Gaussian envelope times a sinusoid; Marcelja 1980, Jones & Palmer 1987) is the standard fit to such RFs.

Two cell models and one network:
  SimpleCell   r = relu(<W, s> - threshold): the 1959 cells (called "simple" from Hubel & Wiesel 1962 on);
  ComplexCell  r = <W_even, s>^2 + <W_odd, s>^2: the energy of a quadrature pair (Adelson & Bergen 1985),
               a later model of the 1962 "complex" cells that keep orientation tuning but not the position of
               on and off areas;
  FirstLayerCNN  a small convolutional net whose first layer is compared with these RFs after training on
               real images.
A stimulus s is an image of contrast (light minus mean light, over mean light), shape (..., n, n).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def coordinates(n: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel offsets from the centre of an n x n patch, rotated: a runs along bars at orientation theta (rad,
    from the x axis = columns, towards y = rows), b runs across them. Each (n, n), float64."""
    c = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
    y, x = torch.meshgrid(c, c, indexing="ij")  # rows, columns
    a = x * math.cos(theta) + y * math.sin(theta)
    b = -x * math.sin(theta) + y * math.cos(theta)
    return a, b


def gabor(n: int, theta: float, wavelength: float, sigma: float, gamma: float, phase: float) -> torch.Tensor:
    """W(a, b) = exp(-(b^2 + gamma^2 a^2) / (2 sigma^2)) cos(2 pi b / wavelength + phase), (n, n) float64.

    Bars of orientation theta: the central band (phase 0) and its flanks run along a. gamma < 1 elongates the
    envelope along the bars, like the elongated fields the paper mapped."""
    a, b = coordinates(n, theta)
    envelope = torch.exp(-(b**2 + (gamma * a) ** 2) / (2 * sigma**2))
    return envelope * torch.cos(2 * math.pi * b / wavelength + phase)


class SimpleCell:
    """Excitatory (W > 0) and inhibitory (W < 0) bands side by side; linear summation, then a threshold.

    `drive(s)` = <W, s> over the last two dims; `__call__(s)` = relu(drive - threshold), the firing rate."""

    def __init__(self, n: int = 55, theta: float = 0.0, wavelength: float = 8.0, sigma: float | None = None,
                 gamma: float = 0.5, phase: float = 0.0, threshold: float = 0.0):
        self.sigma = 0.56 * wavelength if sigma is None else sigma  # about 1.5 octaves of bandwidth
        self.W = gabor(n, theta, wavelength, self.sigma, gamma, phase)  # (n, n)
        self.threshold = threshold

    def drive(self, s: torch.Tensor) -> torch.Tensor:
        return torch.einsum("...ij,ij->...", s.to(self.W), self.W)  # (...)

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.drive(s) - self.threshold)


class ComplexCell:
    """Energy model: two simple-cell RFs of the same orientation 90 degrees apart in phase; r = e^2 + o^2.

    For a grating at the pair's own frequency the two drives are A cos(phi) and A sin(phi), so r = A^2 does
    not depend on the grating's position phi: orientation tuning is kept, phase sensitivity is lost."""

    def __init__(self, n: int = 55, theta: float = 0.0, wavelength: float = 8.0, sigma: float | None = None,
                 gamma: float = 0.5):
        self.even = SimpleCell(n, theta, wavelength, sigma, gamma, phase=0.0)
        self.odd = SimpleCell(n, theta, wavelength, sigma, gamma, phase=math.pi / 2)

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        return self.even.drive(s) ** 2 + self.odd.drive(s) ** 2


class FirstLayerCNN(nn.Module):
    """conv1 (C filters, k x k) -> ReLU -> max-pool 2 -> conv2 (32, 3 x 3) -> ReLU -> max-pool 2 -> linear 10.

    conv1's filters are the units compared with the cortical RFs. `init_scale` multiplies conv1's default
    (PyTorch) initial weights: at 1 the filters stay close to their random start after a short training
    ("lazy" regime); smaller starts make what they become mostly learned (see notes.md, Deviations)."""

    def __init__(self, n_filters: int = 16, kernel: int = 7, init_scale: float = 1.0, n_px: int = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(1, n_filters, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv2d(n_filters, 32, 3, padding=1)
        self.fc = nn.Linear(32 * (n_px // 4) ** 2, 10)
        with torch.no_grad():
            self.conv1.weight.mul_(init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, C, 14, 14)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 32, 7, 7)
        return self.fc(h.flatten(1))  # (B, 10)

    def filters(self) -> torch.Tensor:
        """First-layer RFs, (C, k, k)."""
        return self.conv1.weight.detach()[:, 0].clone()
