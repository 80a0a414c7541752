"""Mechanism tests for the diffusion probabilistic model: the forward process in one draw against composed single
steps, the forward posterior against the conditional of the joint Gaussian, the KL against torch, the untrained
reverse step as the forward step, the sampler with an exact oracle on a point mass, the bound K at the oracle, the
two-sample distances on known cases, and the quick claims."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from dlcanon.core.data import digits
from dlcanon.core.testing import assert_claims, need, run_preset
from dlcanon.papers.sohldickstein2015 import experiment
from dlcanon.papers.sohldickstein2015.model import (
    DiffusionModel,
    ForwardDiffusion,
    constant_fraction_betas,
    gaussian_kl,
    temporal_bumps,
)


def test_schedule_leaves_about_one_over_T_of_the_variance():
    beta = constant_fraction_betas(40, 1e-3)
    assert beta[0] == 1e-3 and abs(float(beta[-1]) - 0.5) < 1e-12
    alpha_bar = torch.cumprod(1 - beta, 0)
    assert abs(float(alpha_bar[-1]) - (1 - 1e-3) / 40) < 1e-12
    g = temporal_bumps(40, 10)
    torch.testing.assert_close(g.sum(1), torch.ones(40))


def test_closed_form_forward_equals_composed_steps():
    """x^(t) drawn step by step (Eq. 2) has the moments of q(x^(t) | x^(0)) drawn in one go."""
    q = ForwardDiffusion(constant_fraction_betas(12, 1e-2))
    x0 = torch.tensor([[1.5, -0.7]]).expand(200_000, 2)
    g = torch.Generator().manual_seed(0)
    x = x0
    for t in range(1, 13):
        x = q.step(x, torch.full((len(x),), t), torch.randn(x.shape, generator=g))
        if t in (1, 6, 12):
            a = float(q.alpha_bar[t - 1])
            torch.testing.assert_close(x.mean(0), math.sqrt(a) * x0[0], atol=0.01, rtol=0)
            torch.testing.assert_close(x.var(0), torch.full((2,), 1 - a), atol=0.01, rtol=0)
    one = q.sample(x0, torch.full((len(x0),), 12), torch.randn(x0.shape, generator=g))
    torch.testing.assert_close(one.mean(0), x.mean(0), atol=0.01, rtol=0)


def test_posterior_is_the_conditional_of_the_joint_gaussian():
    """(x^(t-1), x^(t)) given x^(0) is jointly Gaussian; condition on x^(t) directly and compare."""
    q = ForwardDiffusion(constant_fraction_betas(20, 1e-3).double()).double()
    x0, xt = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    for t in (2, 7, 20):
        beta, a_prev, a = (float(b[t - 1]) for b in (q.beta, q.alpha_bar_prev, q.alpha_bar))
        var_prev, var_t, cov = 1 - a_prev, 1 - a, math.sqrt(1 - beta) * (1 - a_prev)
        mean_want = math.sqrt(a_prev) * x0 + cov / var_t * (xt - math.sqrt(a) * x0)
        var_want = var_prev - cov**2 / var_t
        mu, var = q.posterior(x0, xt, torch.full((5,), t))
        torch.testing.assert_close(mu, mean_want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(var, torch.full_like(var, var_want), rtol=1e-5, atol=1e-9)


def test_gaussian_kl_matches_torch():
    a, b, c, d = torch.randn(4, 6, dtype=torch.float64).unbind(0)
    va, vb = c.exp(), d.exp()
    want = kl_divergence(Normal(a, va.sqrt()), Normal(b, vb.sqrt()))
    torch.testing.assert_close(gaussian_kl(a, va, b, vb), want)


def test_untrained_reverse_step_is_the_forward_step():
    """The readout starts at zero: f_mu = x sqrt(1 - beta_t), f_Sigma = beta_t (the paper's code's starting point)."""
    m = DiffusionModel(d=3, T=10, beta_1=1e-3, hidden=8, layers=2, K=4)
    x = torch.randn(6, 3)
    t = torch.tensor([2, 3, 5, 7, 9, 10])
    f_mu, f_sigma = m.reverse_step(x, t)
    beta = m.q.beta[t - 1].unsqueeze(1)
    torch.testing.assert_close(f_mu, x * (1 - beta).sqrt())
    torch.testing.assert_close(f_sigma, beta.expand(6, 3))


def oracle_for_point_mass(model: DiffusionModel, c: torch.Tensor):
    """With data a point mass at c, the true reverse step is the forward posterior q(x^(t-1) | x^(t), x^(0) = c)."""
    def step(xt, t):
        return model.q.posterior(c.expand_as(xt), xt, t)
    return step


def test_sampler_with_an_exact_oracle_returns_the_point(monkeypatch):
    """Running the reverse trajectory with the exact posterior for data at c ends in q(x^(1) | x^(0) = c)."""
    m = DiffusionModel(d=2, T=30, beta_1=1e-3, hidden=4, layers=1, K=2)
    c = torch.tensor([0.8, -1.2])
    monkeypatch.setattr(m, "reverse_step", oracle_for_point_mass(m, c))
    x1 = m.reverse_trajectory(torch.randn(50_000, 2, generator=torch.Generator().manual_seed(1)),
                              torch.Generator().manual_seed(2))[-1]
    torch.testing.assert_close(x1.mean(0), math.sqrt(1 - 1e-3) * c, atol=1e-3, rtol=0)
    torch.testing.assert_close(x1.var(0), torch.full((2,), 1e-3), atol=1e-4, rtol=0)


def test_bound_at_the_oracle_is_the_entropy_terms(monkeypatch):
    """Every KL of Eq. 14 vanishes at the exact reverse step, so K equals its entropy terms; an untrained model's K
    is lower."""
    m = DiffusionModel(d=2, T=15, beta_1=1e-2, hidden=4, layers=1, K=2)
    c = torch.tensor([0.3, 0.4])
    x0 = c.expand(64, 2)
    K_untrained = m.bound_K(x0, torch.Generator().manual_seed(0))
    monkeypatch.setattr(m, "reverse_step", oracle_for_point_mass(m, c))
    K = m.bound_K(x0, torch.Generator().manual_seed(0))
    h = lambda var: math.log(2 * math.pi * math.e * var)  # noqa: E731 (two coordinates, half each)
    want = h(1 - float(m.q.alpha_bar[-1])) - h(1e-2) - h(1.0)
    torch.testing.assert_close(K, torch.full((64,), want), atol=1e-4, rtol=0)
    assert (K_untrained < K).all()


def test_data():
    need(digits.load)
    d = experiment.digit_split(0)
    assert d["x_train"].shape == (1437, 64) and d["x_test"].shape == (360, 64)
    assert d["x_train"].min() == -1 and d["x_train"].max() == 1
    x = experiment.swiss_roll(1000, 0.5, 0)
    assert x.shape == (1000, 2) and 0.7 < float(x.std()) < 1.3


@pytest.mark.claims
def test_quick_claims():
    need(digits.load)
    assert_claims(run_preset("sohldickstein2015", "quick"))
