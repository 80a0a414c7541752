"""Lettvin, Maturana, McCulloch & Pitts (1959): a model frog retina with the paper's four operations.

The paper recorded single optic-nerve fibres of the frog and sorted them into four groups, each reporting one
"operation" on the image inside its receptive field (RF), nearly independent of the general illumination
(section "Results", operations 1-4):

  1. sustained contrast detection  a sharp edge, lighter or darker, inside the RF: prompt, lasting firing;
  2. net convexity detection       a small dark object with a convex boundary that moved into the RF ("bug
                                   perceivers"); the firing outlasts a stop, ends when the object leaves,
                                   is erased by darkening, and a moving background does not excite it;
  3. moving-edge detection         any edge moving inside a larger RF, faster firing for faster edges;
  4. net dimming detection         a decrease of the light in the largest RF, weighted towards its centre.

Every operation below is a small spatiotemporal filter applied at every position (the paper found each group
spread uniformly over the retina), so a stimulus sequence I of shape (B, T, H, W) gives four response maps of
the same shape; a "fibre" is one pixel of a map. All work is on the log of the light, u = -log I ("darkness"),
so multiplying the light by a constant changes u by a constant, which every spatial derivative removes: this
is how the operations become independent of the general illumination, as the paper stresses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RetinaParams:
    """Sizes in degrees of visual angle and times in frames; `px_per_deg` maps degrees to pixels."""

    px_per_deg: float = 4.0
    optics_deg: float = 0.25      # blur of the eye's optics / receptor mosaic (sigma)
    rf_contrast_deg: float = 2.0  # operation 1 RF diameter (secondary sources: 1-3 deg)
    rf_convexity_deg: float = 4.0  # operation 2 RF diameter (2-5 deg)
    rf_edge_deg: float = 12.0     # operation 3 RF diameter (7-12 deg)
    rf_dimming_deg: float = 15.0  # operation 4 RF diameter (up to 15 deg)
    surround_deg: float = 16.0    # region whose average motion cancels operation 2's motion gate
    surround_weight: float = 2.0  # gamma: local motion must beat twice the surround average
    tau_memory: float = 80.0      # frames: how long operation 2 remembers a dark object that stopped
    erase_gain: float = 20.0      # how strongly net dimming wipes operation 2's memory (per log unit)
    gate_half: float = 0.05       # motion signal (log units / deg, summed over frames) that half-opens the gate
    tau_adapt: float = 20.0       # frames: adaptation of operation 4 to a new light level
    eps: float = 1e-8             # keeps the curvature ratio finite where the image is flat

    def sigma_px(self, diameter_deg: float) -> float:
        """A Gaussian RF whose +-2 sigma spans the quoted diameter, in pixels."""
        return diameter_deg / 4.0 * self.px_per_deg


def blur_matrix(n: int, sigma_px: float) -> torch.Tensor:
    """(n, n) matrix M with (M @ x)[i] = sum_k g[k] x[clamp(i + k)]: a 1-D Gaussian of radius 4 sigma, the
    border pixel repeated beyond the edge (so a uniform field stays uniform right up to the border)."""
    r = max(1, math.ceil(4.0 * sigma_px))
    k = torch.arange(-r, r + 1)
    g = torch.exp(-0.5 * (k / sigma_px) ** 2)
    g = g / g.sum()
    rows = torch.arange(n)[:, None].expand(n, len(k))  # (n, 2r+1)
    cols = (rows + k).clamp(0, n - 1)  # (n, 2r+1)
    M = torch.zeros(n, n, dtype=torch.float64)
    M.index_put_((rows.reshape(-1), cols.reshape(-1)), g.double().repeat(n), accumulate=True)
    return M


def rf_average(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Gaussian-weighted average over each fibre's RF, for (..., H, W): M_H @ x @ M_W^T, separable."""
    M_h = blur_matrix(x.shape[-2], sigma_px).to(x)  # (H, H)
    M_w = blur_matrix(x.shape[-1], sigma_px).to(x)  # (W, W)
    return M_h @ x @ M_w.T  # (..., H, W)


def gradients(u: torch.Tensor, px_per_deg: float) -> tuple[torch.Tensor, ...]:
    """u_x, u_y, u_xx, u_yy, u_xy per degree, by central differences on (..., H, W)."""
    h = 1.0 / px_per_deg
    u_y, u_x = torch.gradient(u, spacing=h, dim=(-2, -1))
    u_yy, u_yx = torch.gradient(u_y, spacing=h, dim=(-2, -1))
    u_xx = torch.gradient(u_x, spacing=h, dim=-1)[0]
    return u_x, u_y, u_xx, u_yy, u_yx


def convexity_density(u: torch.Tensor, px_per_deg: float, eps: float) -> torch.Tensor:
    """k = kappa |grad u|: curvature of the iso-darkness lines times the darkness gradient, (..., H, W).

    kappa = -div(grad u / |grad u|) is +1/r on a circle around a darker centre, so integrating k over a region
    sums the turning of every iso-darkness line inside it (coarea formula): 2 pi per level for a dark disc
    wholly inside, whatever its size, and zero for a straight edge. That is the paper's "net convexity" of a
    dark boundary; a lighter disc gives -2 pi and is rectified away later.
    """
    u_x, u_y, u_xx, u_yy, u_xy = gradients(u, px_per_deg)
    num = u_xx * u_y**2 - 2.0 * u_x * u_y * u_xy + u_yy * u_x**2
    return -num / (u_x**2 + u_y**2 + eps)


class FrogRetina:
    """The four operations as maps over (B, T, H, W) light I > 0; `forward` returns them as a dict."""

    def __init__(self, p: RetinaParams = RetinaParams()):
        self.p = p

    def darkness(self, I: torch.Tensor) -> torch.Tensor:
        """u = -log I seen through the optics (Gaussian blur)."""
        return rf_average(-torch.log(I), self.p.optics_deg * self.p.px_per_deg)

    def pattern_change(self, u: torch.Tensor) -> torch.Tensor:
        """|d/dt grad u| per frame, (B, T, H, W): how much the local pattern moved; 0 for uniform dimming."""
        u_x, u_y = gradients(u, self.p.px_per_deg)[:2]
        d_x = torch.diff(u_x, dim=1, prepend=u_x[:, :1])
        d_y = torch.diff(u_y, dim=1, prepend=u_y[:, :1])
        return torch.sqrt(d_x**2 + d_y**2)

    def sustained_contrast(self, u: torch.Tensor) -> torch.Tensor:
        """Operation 1: RF average of |grad u| at fine grain; either sign of edge, lasting as long as it stays."""
        u_x, u_y = gradients(u, self.p.px_per_deg)[:2]
        return rf_average(torch.sqrt(u_x**2 + u_y**2), self.p.sigma_px(self.p.rf_contrast_deg))

    def moving_edge(self, change: torch.Tensor) -> torch.Tensor:
        """Operation 3: RF average of the pattern change; grows with the edge's speed, 0 for still edges."""
        return rf_average(change, self.p.sigma_px(self.p.rf_edge_deg))

    def net_dimming(self, I: torch.Tensor) -> torch.Tensor:
        """Operation 4: relu(l_bar - l), l = log of the RF-weighted light, l_bar = l adapted with tau_adapt.

        A sudden dimming gives an immediate response that fades as the fibre adapts (prolonged for tau_adapt
        frames); a slow dimming of the same depth gives less, because l_bar keeps up.
        """
        ell = torch.log(rf_average(I, self.p.sigma_px(self.p.rf_dimming_deg)))  # (B, T, H, W)
        ell_bar, out = ell[:, 0], []
        for t in range(ell.shape[1]):
            out.append(torch.relu(ell_bar - ell[:, t]))
            ell_bar = ell_bar + (ell[:, t] - ell_bar) / self.p.tau_adapt
        return torch.stack(out, dim=1)

    def net_convexity(self, u: torch.Tensor, I: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
        """Operation 2: R = relu(K) * m, K the RF-summed convexity of dark boundaries, m a motion memory.

        m = S / (S + gate_half) opens when a dark pattern moved inside the RF more than in a wide surround
        (a background moving as a whole cancels itself), S leaks with tau_memory (the response outlasts a
        stop) and is wiped by net dimming inside the RF (turning the light down erases it; turning it back
        up restores nothing, as the paper reports).
        """
        p = self.p
        sigma = p.sigma_px(p.rf_convexity_deg)
        K = torch.relu(rf_average(convexity_density(u, p.px_per_deg, p.eps), sigma))  # (B, T, H, W)
        local = rf_average(change, sigma) - p.surround_weight * rf_average(change, p.sigma_px(p.surround_deg))
        drive = torch.relu(local)
        ell = torch.log(rf_average(I, sigma))
        dimming = torch.relu(-torch.diff(ell, dim=1, prepend=ell[:, :1]))  # net log dimming per frame
        rho = math.exp(-1.0 / p.tau_memory)
        S, m = torch.zeros_like(K[:, 0]), []
        for t in range(K.shape[1]):
            S = rho * S * torch.exp(-p.erase_gain * dimming[:, t]) + drive[:, t]
            m.append(S / (S + p.gate_half))
        return K * torch.stack(m, dim=1)

    def forward(self, I: torch.Tensor) -> dict[str, torch.Tensor]:
        """I (B, T, H, W) > 0 -> {"contrast", "convexity", "moving_edge", "dimming"}, each (B, T, H, W)."""
        u = self.darkness(I)
        change = self.pattern_change(u)
        return {
            "contrast": self.sustained_contrast(u),
            "convexity": self.net_convexity(u, I, change),
            "moving_edge": self.moving_edge(change),
            "dimming": self.net_dimming(I),
        }

    __call__ = forward


OPERATIONS = ("contrast", "convexity", "moving_edge", "dimming")
