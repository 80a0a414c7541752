"""Mechanism tests for the GAN: maxout by hand, the value function and both generator losses against their
formulas, Prop. 1 and Thm. 1 (the optimal discriminator and the value at it) on a discrete example, which player
each step of Algorithm 1 moves, the Parzen estimator against torch.distributions, the ring's scores and the
independent-pixels baseline by hand, an exact resume, and the quick claims."""

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from dlcanon.core.config import ConfigError
from dlcanon.core.data import mnist
from dlcanon.core.registry import get
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.goodfellow2014 import experiment
from dlcanon.papers.goodfellow2014.model import (
    Discriminator,
    Generator,
    Maxout,
    discriminator_loss,
    generator_loss_non_saturating,
    generator_loss_saturating,
    parzen_log_likelihood,
    value_function,
)


def test_maxout_is_the_max_over_each_units_pieces():
    torch.manual_seed(0)
    layer = Maxout(5, units=3, pieces=4)
    x = torch.randn(7, 5)
    z = x @ layer.linear.weight.T + layer.linear.bias  # (7, 12): unit i owns columns 4i .. 4i + 3
    want = torch.stack([z[:, 4 * i: 4 * i + 4].max(1).values for i in range(3)], 1)
    torch.testing.assert_close(layer(x), want)


def test_value_function_is_eq_1_and_stays_finite_when_D_is_sure():
    a_x, a_gz = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([-0.5, 1.5])
    D_x, D_gz = torch.sigmoid(a_x), torch.sigmoid(a_gz)
    want = torch.log(D_x).mean() + torch.log(1 - D_gz).mean()
    torch.testing.assert_close(value_function(a_x, a_gz), want)
    torch.testing.assert_close(discriminator_loss(a_x, a_gz), -want)
    sure = value_function(torch.tensor([200.0]), torch.tensor([-200.0]))  # D(x) = 1, D(G(z)) = 0 in floating point
    assert torch.isfinite(sure) and abs(float(sure)) < 1e-30


def test_generator_losses_gradients_in_the_logit():
    """Sec. 3: d/da log(1 − σ(a)) = −σ(a) vanishes when D rejects (a ≪ 0); d/da −log σ(a) = −(1 − σ(a)) does not.
    Both push a up (the same direction), and both losses have D(G(z)) = 1/2 as the point where they balance."""
    a = torch.tensor([-6.0, -2.0, 0.0, 3.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(generator_loss_saturating(a), a)
    (g_ns,) = torch.autograd.grad(generator_loss_non_saturating(a), a)
    D = torch.sigmoid(a.detach())
    torch.testing.assert_close(g_sat, -D / len(a))
    torch.testing.assert_close(g_ns, -(1 - D) / len(a))
    assert (g_sat < 0).all() and (g_ns < 0).all()
    assert g_ns[0] / g_sat[0] == pytest.approx(math.exp(6.0), rel=1e-4)  # (1 − D)/D = e^{−a}


def test_optimal_discriminator_and_value_prop1_thm1():
    """Prop. 1: for fixed G the best D is p_data / (p_data + p_g); Thm. 1: then V = −log 4 + 2 JSD(p_data ‖ p_g).
    Three points with p_data = (1/2, 1/4, 1/4) and p_g = (1/4, 1/4, 1/2), samples in exact proportion, a free
    logit per point, minimised by L-BFGS."""
    p_data, p_g = torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0.25, 0.25, 0.5])
    x_idx, g_idx = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 2, 2])
    a = torch.zeros(3, requires_grad=True)
    opt = torch.optim.LBFGS([a], lr=1, max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = discriminator_loss(a[x_idx], a[g_idx])
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(torch.sigmoid(a.detach()), p_data / (p_data + p_g), atol=1e-5, rtol=0)
    m = (p_data + p_g) / 2
    jsd = 0.5 * (p_data * (p_data / m).log()).sum() + 0.5 * (p_g * (p_g / m).log()).sum()
    v = value_function(a.detach()[x_idx], a.detach()[g_idx])
    torch.testing.assert_close(v, -math.log(4) + 2 * jsd, atol=1e-5, rtol=0)


def test_discriminator_moves_on_its_k_steps_and_generator_only_on_its_own():
    torch.manual_seed(0)
    G, D = Generator(3, (8,), 4, sigmoid_output=False), Discriminator(4, (6,), pieces=2)
    g0, d0 = [p.clone() for p in G.parameters()], [p.clone() for p in D.parameters()]
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.0), torch.optim.SGD(D.parameters(), lr=0.1)
    xs, zs = [torch.randn(5, 4) for _ in range(2)], [torch.randn(5, 3) for _ in range(2)]
    out = experiment.algorithm1_iteration(G, D, opt_g, opt_d, xs, zs, torch.randn(5, 3), generator_loss_saturating)
    assert all(torch.equal(a, b) for a, b in zip(g0, G.parameters(), strict=True))  # G's step size was 0
    assert any(not torch.equal(a, b) for a, b in zip(d0, D.parameters(), strict=True))
    assert all(p.requires_grad for p in D.parameters()) and out["grad_norm"] > 0
    d1 = [p.clone() for p in D.parameters()]
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.0)
    experiment.algorithm1_iteration(G, D, opt_g, opt_d, xs, zs, torch.randn(5, 3), generator_loss_non_saturating)
    assert all(torch.equal(a, b) for a, b in zip(d1, D.parameters(), strict=True))  # G's step leaves D alone
    assert any(not torch.equal(a, b) for a, b in zip(g0, G.parameters(), strict=True))


def test_generator_starts_at_the_pixel_means():
    torch.manual_seed(0)
    G = Generator(4, (8,), 6, sigmoid_output=True)
    mean = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0, 0.3])
    G.init_output_bias(mean)
    with torch.no_grad():
        G.out.weight.zero_()
    torch.testing.assert_close(G(torch.randn(3, 4)), mean.clamp(1e-3, 1 - 1e-3).expand(3, 6))


def test_parzen_window_matches_a_mixture_of_torch_normals():
    torch.manual_seed(0)
    mu, x = torch.randn(7, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    got = parzen_log_likelihood(x, mu, (0.3, 1.7), chunk=2)
    for row, s in zip(got, (0.3, 1.7), strict=True):
        comp = Independent(Normal(mu, s), 1)
        want = torch.logsumexp(comp.log_prob(x.unsqueeze(1)), 1) - math.log(len(mu))  # (5, 7) -> (5,)
        torch.testing.assert_close(row, want)


def test_ring_scores_by_hand():
    cfg = experiment.Config(ring_modes=4, ring_radius=1.0, ring_std=0.1)
    c = experiment.ring_centres(cfg)
    torch.testing.assert_close(c, torch.tensor([[1.0, 0], [0, 1], [-1, 0], [0, -1]]), atol=1e-6, rtol=0)
    # 10 samples: 5 on mode 0, 3 on mode 1, 1 on mode 2 (1/10 >= 1/16: covered), 1 far away; none on mode 3
    x = torch.cat([c[[0] * 5 + [1] * 3 + [2]] + 0.05, torch.tensor([[5.0, 5.0]])])
    s = experiment.ring_scores(x, c, 0.1)
    assert s["high_quality"] == pytest.approx(0.9) and s["modes_covered"] == 3 and s["min_mode_share"] == 0
    assert experiment.ring_scores(x, c, 0.01)["high_quality"] == 0  # 0.05 off in each axis is beyond 3 * 0.01


def test_independent_pixels_copy_each_pixel_from_its_own_column():
    x = torch.arange(12.0).reshape(4, 3)  # column j holds 3i + j
    s = experiment.independent_pixels(x, 1000, torch.Generator().manual_seed(0))
    assert s.shape == (1000, 3) and ((s % 3) == torch.arange(3.0)).all()
    assert len(s[:, 0].unique()) == 4 and not (s == s[:, :1] + torch.arange(3.0)).all()  # rows are mixed


def test_checkpoints_fall_on_logged_points():
    with pytest.raises(ConfigError, match="multiple of log_every"):
        get("goodfellow2014").config("quick", {"checkpoint_every": "30"})


def test_resume_gives_the_same_result(monkeypatch):
    need(mnist.load)
    # smoke: the ring makes 2 x 20 calls, then MNIST 2 per step; step 6's first call dies after the checkpoint at 4
    whole, resumed = interrupt_and_resume(monkeypatch, "goodfellow2014", experiment, "algorithm1_iteration", 51)
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    need(mnist.load)
    r = run_preset("goodfellow2014", "smoke", ring_hidden="1", ring_steps=1, ring_batch=1, ring_samples=10, z_dim=1,
                   g_hidden="1", d_hidden="1", d_pieces=1, steps=1, batch_size=1, log_every=1, checkpoint_every=1,
                   clf_hidden=1, clf_steps=1, n_samples=10, n_valid=1, n_test=1)
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    need(mnist.load)
    assert_claims(run_preset("goodfellow2014", "quick"))
