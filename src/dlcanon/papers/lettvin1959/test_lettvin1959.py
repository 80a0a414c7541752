"""Mechanism tests for the model frog retina: the blur against a conv2d reference, the curvature integral of
a dark disk (2 pi per level) and of a straight edge (0), illumination independence, contrast and size tuning,
translation invariance, the motion memory and its erasure, the moving-background test, ablations that make
the claims fail, and an exact resume of the CNN stage."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.testing import assert_claims, interrupt_and_resume, run_preset
from dlcanon.papers.lettvin1959 import experiment
from dlcanon.papers.lettvin1959.experiment import Config, centre_response, trial
from dlcanon.papers.lettvin1959.model import (
    OPERATIONS,
    FrogRetina,
    RetinaParams,
    convexity_density,
    rf_average,
)

CFG = Config(n_frames=40)
RETINA = FrogRetina()


def bug(cfg=CFG, **kw):
    return centre_response(RETINA, torch.stack([trial(cfg, "moving_spot", **kw)]))["convexity"].item()


def test_rf_average_matches_a_padded_conv2d():
    """The blur-as-matrix equals the textbook separable conv2d with replicate padding."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 20, 33)
    sigma, r = 2.5, 10  # radius ceil(4 sigma)
    g = torch.exp(-0.5 * (torch.arange(-r, r + 1) / sigma) ** 2)
    g = g / g.sum()
    y = x.reshape(-1, 1, 20, 33)
    y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1)).reshape(x.shape)
    torch.testing.assert_close(rf_average(x, sigma), y, atol=1e-6, rtol=1e-5)


def test_net_convexity_of_a_dark_disk_is_2pi_per_log_unit_and_of_an_edge_is_zero():
    """Coarea formula: the integral of kappa |grad u| over the image is 2 pi times the disk's depth in u."""
    cfg = Config(n_frames=1)
    X, Y = experiment.grid(cfg, 16.0)
    ppd, c = cfg.px_per_deg, 0.5
    depth = -math.log(1 - c)
    disk = experiment.disc_cover(X, Y, torch.zeros(1, 1), torch.zeros(1, 1), torch.tensor([3.0]), ppd)
    edge = experiment.edge_cover(X, Y, torch.zeros(1, 1), torch.tensor([0.5]), ppd)
    light_depth = -math.log(1 + c)  # a light disk is "negatively dark": its levels turn the other way
    for cover, expected in ((disk, 2 * math.pi * depth), (-disk, 2 * math.pi * light_depth)):
        u = RETINA.darkness(0.5 * (1 - c * cover))
        total = convexity_density(u, ppd, 1e-12).sum().item() / ppd**2  # integral over the image, deg^2
        assert total == pytest.approx(expected, rel=0.05)
    u = RETINA.darkness(0.5 * (1 - c * edge))
    k = convexity_density(u, ppd, 1e-12)[..., 16:-16, 16:-16]  # away from where the edge leaves the field
    assert k.sum().abs().item() / ppd**2 < 0.05 * 2 * math.pi * depth


def test_blank_field_excites_nothing():
    R = RETINA(trial(CFG, "blank")[None])
    for op in OPERATIONS:
        assert R[op].abs().max().item() < 1e-6, op


def test_operations_ignore_the_general_light_level():
    """Multiplying every frame's light by a constant leaves every operation unchanged (log light)."""
    I = torch.stack([trial(CFG, k) for k in ("moving_spot", "moving_edge", "dimming")])
    a, b = RETINA(I), RETINA(7.0 * I)
    for op in OPERATIONS:
        torch.testing.assert_close(a[op], b[op], atol=1e-4, rtol=1e-3)


def test_convexity_response_grows_with_contrast():
    r = [bug(contrast=c) for c in (0.0, 0.1, 0.2, 0.4, 0.6, 0.8)]
    assert r[0] == 0.0
    assert all(b > a for a, b in zip(r, r[1:], strict=False)), r


def test_size_tuning_peaks_below_the_rf_size():
    sizes = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0)
    r = torch.tensor([bug(diam=d) for d in sizes])
    assert sizes[int(r.argmax())] < RetinaParams().rf_convexity_deg
    assert r[0] < 0.5 * r.max() and r[-1] < 0.5 * r.max()  # a speck and an object twice the RF: weak


def test_same_response_at_every_receptive_field_position():
    """Move the stimulus by whole pixels: the fibre under the new path responds exactly as the centre one."""
    I = trial(CFG, "moving_spot")[None]
    R0 = RETINA(I)
    h = I.shape[-1] // 2
    for dy, dx in ((8, -12), (-16, 4)):
        R = RETINA(torch.roll(I, (dy, dx), dims=(-2, -1)))
        for op in ("contrast", "convexity"):  # small RFs: the uniform border is far away
            torch.testing.assert_close(R[op][0, :, h + dy, h + dx], R0[op][0, :, h, h], atol=1e-5, rtol=1e-4)


def test_a_still_spot_is_ignored_but_one_that_moved_in_is_remembered():
    T = 60
    cfg = dataclasses.replace(CFG, n_frames=T)
    X, Y = experiment.grid(cfg, cfg.field_deg)
    s = torch.clamp(-4.0 + 0.25 * torch.arange(T, dtype=torch.float32), max=0.0)[None]  # stops at frame 16
    cover = experiment.disc_cover(X, Y, s, torch.zeros(1, T), torch.tensor([1.0]), cfg.px_per_deg)
    light = torch.ones(1, T)
    light_off = light.clone()
    light_off[:, 35:40] = 0.05  # the light goes down for 5 frames, then back up
    I = torch.cat([experiment.scene(cfg, lv, cover, torch.tensor([0.6])) for lv in (light, light_off)])
    R = RETINA(I)
    h = I.shape[-1] // 2
    conv, contrast = R["convexity"][:, :, h, h], R["contrast"][:, :, h, h]
    assert conv[0, 30] > 0.8 * conv[0, 17]  # still responding 13 frames after the stop
    assert conv[1, 45] < 0.01 * conv[0, 45]  # darkening erased the memory; relighting did not bring it back
    assert contrast[1, 45] == pytest.approx(contrast[0, 45].item(), rel=1e-3)  # operation 1 simply resumes
    assert bug() > 0 and centre_response(RETINA, trial(CFG, "still_spot")[None])["convexity"].item() == 0.0


def test_light_spot_does_not_excite_the_bug_detector():
    assert bug(contrast=-0.6) == 0.0


def test_moving_background_cancels_the_gate_and_the_surround_is_what_does_it():
    g = torch.Generator().manual_seed(0)
    I = experiment.textured_trials(CFG, g)
    r = centre_response(RETINA, I)["convexity"]
    assert r[1] < 0.2 * r[0]
    no_surround = FrogRetina(dataclasses.replace(RetinaParams(), surround_weight=0.0))
    r = centre_response(no_surround, I)["convexity"]
    assert r[1] > 0.5 * r[0]


def test_moving_edge_detector_fires_faster_for_faster_edges():
    r = [centre_response(RETINA, trial(dataclasses.replace(CFG, speed_deg=v), "moving_edge")[None])
         ["moving_edge"].item() for v in (0.1, 0.2, 0.4)]
    assert r[0] < r[1] < r[2]


def test_dimming_detector_prefers_sudden_to_gradual_dimming():
    T, n = 40, 16
    sudden = torch.ones(T)
    sudden[10:] = 0.4
    gradual = torch.cat([torch.ones(10), torch.linspace(1.0, 0.4, 30)])
    I = torch.stack([lv[:, None, None].expand(T, n, n) for lv in (sudden, gradual)])
    r = RETINA.net_dimming(0.5 * I)[:, :, n // 2, n // 2].mean(1)
    assert r[0] > 1.2 * r[1]


class Ungated(FrogRetina):
    """Ablation: operation 2 without its motion memory (convexity alone)."""

    def net_convexity(self, u, I, change):
        K = rf_average(convexity_density(u, self.p.px_per_deg, self.p.eps), self.p.sigma_px(self.p.rf_convexity_deg))
        return torch.relu(K)


class Linear(FrogRetina):
    """Ablation: operation 2 as a plain centre-surround (difference of Gaussians) darkness detector."""

    def net_convexity(self, u, I, change):
        s = self.p.sigma_px(self.p.rf_convexity_deg)
        return torch.relu(rf_average(u, s / 2) - rf_average(u, 2 * s))


def test_the_bug_claims_can_fail():
    """Without the gate a still spot excites the fibre as much as a moving one; a linear centre-surround unit
    cannot tell a bug from a large edge. The thresholds of the claims separate these from the model."""
    I = torch.stack([trial(CFG, k) for k in ("moving_spot", "still_spot", "moving_edge")])
    r = centre_response(Ungated(), I)["convexity"]
    assert r[1] / r[0] > 0.5
    r = centre_response(Linear(), I)["convexity"]
    assert r[2] / r[0] > 0.2


def test_random_clips_are_balanced_and_labelled():
    cfg = Config(cnn_frames=6)
    g = torch.Generator().manual_seed(0)
    I, y = experiment.random_clips(cfg, 400, cfg.cnn_crop_deg, g)
    assert I.shape == (400, 6, 32, 32) and (I > 0).all()
    assert 0.4 < y.mean().item() < 0.6


def test_an_interrupted_cnn_stage_resumes_to_the_same_metrics(monkeypatch):
    # dies at CNN step 3 (the 3rd random_clips call)
    whole, resumed = interrupt_and_resume(monkeypatch, "lettvin1959", experiment, "random_clips", 3, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: 0.5 px/deg (so the bug and the one tuning size are 2 deg, one pixel), the
    16 deg field, 5 frames; one CNN step on one 2-frame clip of the 4-pixel crop, 8 hidden units, 2 probes."""
    r = run_preset("lettvin1959", "smoke", px_per_deg=0.5, field_deg=16, n_frames=5, spot_deg=2, sizes_deg=2,
                   cnn_steps=1, cnn_batch=1, cnn_frames=2, cnn_hidden=8, cnn_probe=2)
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("lettvin1959", "quick"))
