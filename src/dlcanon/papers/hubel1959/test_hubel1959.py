"""Mechanism tests: gratings and Gabors share one orientation convention, rotating a filter rotates its
preferred orientation, the quadrature pair's energy is phase invariant, the simple cell's F1/F0 is pi/2,
the measures (F0/F1 against an FFT, OSI and circular variance by hand) and an exact resume."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import fashion_mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.hubel1959 import experiment
from dlcanon.papers.hubel1959.experiment import (
    Config,
    filter_tuning,
    gratings,
    harmonics,
    one_minus_cv,
    osi,
    probe_axes,
    spot_maps,
)
from dlcanon.papers.hubel1959.model import ComplexCell, FirstLayerCNN, SimpleCell, gabor

CFG = Config()
N = 55


def preferred_theta_deg(cell, n=N, cfg=CFG) -> float:
    thetas, freqs, phases = probe_axes(cfg, n // 2)
    F0 = harmonics(cell(gratings(n, thetas, freqs, phases)))[0]  # (n_theta, n_f)
    return math.degrees(thetas[int(F0.amax(1).argmax())].item())


def rotate(W: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate an (n, n) image by +degrees in the (column, row) frame of model.coordinates (bilinear)."""
    a = math.radians(degrees)
    R_inv = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=W.dtype)
    n = W.shape[-1]
    c = torch.linspace(-1, 1, n, dtype=W.dtype)
    y, x = torch.meshgrid(c, c, indexing="ij")
    src = torch.stack([x, y], -1) @ R_inv.T  # (n, n, 2): where each output pixel samples the input
    return F.grid_sample(W[None, None], src[None], align_corners=True)[0, 0]


@pytest.mark.parametrize("theta_deg", [0.0, 45.0, 112.5])
def test_a_cell_prefers_gratings_of_its_own_orientation(theta_deg):
    for cell in (SimpleCell(N, theta=math.radians(theta_deg)), ComplexCell(N, theta=math.radians(theta_deg))):
        assert preferred_theta_deg(cell) == pytest.approx(theta_deg)


def test_at_theta_0_the_bars_of_gabor_and_grating_both_run_along_x():
    """With gamma = 0 the Gabor's envelope is flat along its bars, so at theta = 0 each row is constant."""
    W = gabor(15, 0.0, 6.0, 3.0, 0.0, 0.0)
    assert torch.allclose(W, W[:, :1].expand_as(W))
    s = gratings(15, torch.tensor([0.0], dtype=torch.float64), torch.tensor([1 / 6], dtype=torch.float64),
                 torch.tensor([0.0], dtype=torch.float64))[0, 0, 0]
    assert torch.allclose(s, s[:, :1].expand_as(s))  # the grating's bars run the same way


@pytest.mark.parametrize("alpha", [30.0, 90.0, 135.0])
def test_rotating_the_filter_rotates_its_preferred_orientation(alpha):
    cell = SimpleCell(N, theta=0.0)
    rotated = SimpleCell(N, theta=0.0)
    rotated.W = rotate(cell.W, alpha)
    step = 180.0 / CFG.n_orientations
    got = preferred_theta_deg(rotated)
    assert min(abs(got - alpha % 180), 180 - abs(got - alpha % 180)) <= step / 2


def test_quadrature_pair_energy_is_phase_invariant():
    cell = ComplexCell(N, theta=0.3)
    phases = torch.linspace(0, 2 * math.pi, 65, dtype=torch.float64)[:-1]
    for f in (1 / 8, 1 / 7):  # at the carrier frequency and beside it
        E = cell(gratings(N, torch.tensor([0.3], dtype=torch.float64), torch.tensor([f], dtype=torch.float64),
                          phases))[0, 0]
        assert ((E.max() - E.min()) / E.mean()).item() < 1e-8
    simple = SimpleCell(N, theta=0.3)
    r = simple(gratings(N, torch.tensor([0.3], dtype=torch.float64), torch.tensor([1 / 8], dtype=torch.float64),
                        phases))[0, 0]
    F0, F1 = harmonics(r)
    assert (F1 / F0).item() == pytest.approx(math.pi / 2, rel=1e-3)  # half-wave rectified sine: pi/2


def test_harmonics_match_the_fft():
    torch.manual_seed(0)
    r = torch.rand(3, 5, 16, dtype=torch.float64)
    X = torch.fft.rfft(r, dim=-1)
    F0, F1 = harmonics(r)
    torch.testing.assert_close(F0, X[..., 0].real / 16)
    torch.testing.assert_close(F1, 2 * X[..., 1].abs() / 16)


def test_osi_and_circular_variance_by_hand():
    assert osi(torch.tensor([1.0, 0.5, 0.0, 0.5])).item() == pytest.approx(1.0)
    assert osi(torch.tensor([2.0, 1.0, 1.0, 1.0])).item() == pytest.approx(1 / 3)
    thetas = torch.arange(4) * math.pi / 4
    assert one_minus_cv(torch.ones(4), thetas).item() == pytest.approx(0.0, abs=1e-7)
    assert one_minus_cv(torch.tensor([1.0, 0.0, 0.0, 0.0]), thetas).item() == pytest.approx(1.0)


def test_spot_maps_separate_for_simple_and_coincide_for_complex():
    simple, complex_ = SimpleCell(21, wavelength=6.0), ComplexCell(21, wavelength=6.0)
    on, off = spot_maps(simple, 21)
    torch.testing.assert_close(on, torch.relu(simple.W))
    torch.testing.assert_close(off, torch.relu(-simple.W))
    on, off = spot_maps(complex_, 21)
    torch.testing.assert_close(on, off)


def test_an_odd_cell_ignores_diffuse_light_exactly():
    cell = SimpleCell(N, theta=0.7, phase=math.pi / 2)
    assert abs(cell.drive(torch.ones(N, N)).item()) < 1e-10


def test_the_filter_measure_tells_oriented_from_round_and_from_noise():
    """Broadband OSI: a 7 x 7 Gabor scores high, a round centre-surround blob near 0, white noise low."""
    k = 7
    oriented = gabor(k, 0.4, 4.0, 1.6, 0.5, math.pi / 2)
    r2 = sum(c**2 for c in torch.meshgrid(torch.arange(k) - 3.0, torch.arange(k) - 3.0, indexing="ij"))
    round_ = torch.exp(-r2 / 2) - 0.5 * torch.exp(-r2 / 8)
    torch.manual_seed(0)
    noise = torch.randn(200, k, k, dtype=torch.float64)
    bb = filter_tuning(torch.stack([oriented, round_.double()]), CFG)[0]
    o = osi(bb)
    assert o[0] > 0.8 and o[1] < 0.1
    assert osi(filter_tuning(noise, CFG)[0]).mean() < 0.4


def test_init_scale_multiplies_only_the_first_layer():
    torch.manual_seed(3)
    a = FirstLayerCNN(init_scale=1.0)
    torch.manual_seed(3)
    b = FirstLayerCNN(init_scale=0.1)
    torch.testing.assert_close(b.conv1.weight, 0.1 * a.conv1.weight)
    torch.testing.assert_close(b.conv2.weight, a.conv2.weight)
    assert a(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(fashion_mnist.load)
    # two arms are measured (filter_tuning) after each epoch: the 3rd call dies in epoch 2
    whole, resumed = interrupt_and_resume(monkeypatch, "hubel1959", experiment, "filter_tuning", 3, "smoke",
                                          epochs="2")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    result = run_preset("hubel1959", "smoke", n_orientations=2, n_phases=3, n_freqs=2, cell_wavelength=3, n_train=1,
                        n_test=1, epochs=1, batch_size=1, lr=1e-6, n_filters=8, kernel=3, small_init=0.01)
    assert result.metrics
    assert all(c["verdict"] in {"pass", "fail", "known-fail", "unjudged"} for c in result.claims)


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("hubel1959", "quick"))
