"""Mechanism tests for DDPM: the schedule, q(x_t | x_0) against composed single steps, Eq. 7's posterior against the
Gaussian conditional (Sohl-Dickstein et al.'s form), Eq. 11 at the true noise, Algorithm 2 with an exact
eps-oracle on a point mass, the two losses by hand, and the quick claims."""

import math

import pytest
import torch

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, need, run_preset
from dlcanon.papers.ho2020 import experiment
from dlcanon.papers.ho2020.model import DDPM, linear_betas, posterior_mean_coefficients


def tiny(parameterisation="eps", T=20) -> DDPM:
    torch.manual_seed(0)
    return DDPM(T=T, side=7, ch=4, t_dim=8, parameterisation=parameterisation)


def test_linear_schedule():
    beta = linear_betas(1000)
    assert abs(float(beta[0]) - 1e-4) < 1e-12 and abs(float(beta[-1]) - 0.02) < 1e-12
    assert float(torch.cumprod(1 - beta, 0)[-1]) < 1e-4                  # x_T is nearly pure noise
    assert float(torch.cumprod(1 - linear_betas(100), 0)[-1]) < 1e-4     # also with the scaled short chain


def test_closed_form_equals_composed_steps():
    q = tiny(T=30).q
    x0 = torch.full((100_000, 2), 0.9)
    g = torch.Generator().manual_seed(1)
    x = x0
    for t in range(1, 31):
        x = q.step(x, torch.full((len(x),), t), torch.randn(x.shape, generator=g))
    a = float(q.alpha_bar[-1])
    torch.testing.assert_close(x.mean(0), torch.full((2,), math.sqrt(a) * 0.9), atol=0.01, rtol=0)
    torch.testing.assert_close(x.var(0), torch.full((2,), 1 - a), atol=0.01, rtol=0)


def test_eq7_posterior_matches_the_gaussian_conditional():
    q = tiny().q
    x0, xt = torch.randn(6, 49), torch.randn(6, 49)
    for t in (2, 5, 20):
        tt = torch.full((6,), t)
        c0, ct = posterior_mean_coefficients(q, tt)
        mu_bayes, var_bayes = q.posterior(x0, xt, tt)       # precisions added (Sohl-Dickstein et al.'s form)
        torch.testing.assert_close(c0 * x0 + ct * xt, mu_bayes, atol=1e-5, rtol=1e-5)
        beta_tilde = (1 - q.alpha_bar_prev[t - 1]) / (1 - q.alpha_bar[t - 1]) * q.beta[t - 1]   # Eq. 7's variance
        torch.testing.assert_close(var_bayes[0, 0], beta_tilde, atol=1e-7, rtol=1e-5)
    c0, ct = posterior_mean_coefficients(q, torch.ones(6, dtype=torch.long))
    torch.testing.assert_close(c0 * x0 + ct * xt, x0)      # at t = 1 the posterior mean is x_0 itself


def eps_oracle(model: DDPM, c: torch.Tensor):
    """For data that is a point mass at c, the noise is known from x_t: eps = (x_t - sqrt(alpha_bar_t) c) /
    sqrt(1 - alpha_bar_t)."""
    def net(x_t, t):
        a = model.q.at(model.q.alpha_bar, t)
        return (x_t - a.sqrt() * c) / (1 - a).sqrt()
    return net


def test_eq11_at_the_true_noise_is_the_posterior_mean(monkeypatch):
    m = tiny()
    x0 = torch.randn(5, 49)
    t = torch.tensor([1, 2, 7, 13, 20])
    eps = torch.randn(5, 49)
    x_t = m.q.sample(x0, t, eps)
    monkeypatch.setattr(m.net, "forward", lambda x, tt: eps)
    c0, ct = posterior_mean_coefficients(m.q, t)
    torch.testing.assert_close(m.mu_theta(x_t, t), c0 * x0 + ct * x_t, atol=1e-5, rtol=1e-5)
    assert float(m.loss(x0, t, eps)) == 0.0


def test_algorithm2_with_an_eps_oracle_returns_the_point(monkeypatch):
    m = tiny(T=50)
    c = torch.linspace(-0.9, 0.9, 49)
    monkeypatch.setattr(m.net, "forward", eps_oracle(m, c))
    x0 = m.sample(300, 49, torch.Generator().manual_seed(3))
    torch.testing.assert_close(x0, c.expand(300, 49), atol=1e-4, rtol=0)


def test_mu_loss_is_the_weighted_bound_term():
    m = tiny("mu")
    x0, eps, t = torch.randn(4, 49), torch.randn(4, 49), torch.tensor([1, 3, 9, 20])
    x_t = m.q.sample(x0, t, eps)
    c0, ct = posterior_mean_coefficients(m.q, t)
    want = ((c0 * x0 + ct * x_t - m.net(x_t, t)).square().sum(1) / (2 * m.q.beta[t - 1])).mean()
    torch.testing.assert_close(m.loss(x0, t, eps), want)


def test_unet_starts_at_zero_and_arms_share_weights():
    m = tiny()
    out = m.net(torch.randn(3, 49), torch.tensor([1, 5, 20])).detach()
    assert out.shape == (3, 49) and float(out.abs().max()) == 0.0     # zero-initialised output convolution
    mu = tiny("mu")
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), mu.state_dict().values(), strict=True))


def test_images():
    need(mnist.load)
    d = experiment.load_images(7)
    assert d["train_x"].shape == (60_000, 49) and d["test_x"].shape == (10_000, 49)
    assert float(d["train_x"].min()) >= -1 and float(d["train_x"].max()) <= 1


@pytest.mark.claims
def test_quick_claims():
    need(mnist.load)
    assert_claims(run_preset("ho2020", "quick"))
