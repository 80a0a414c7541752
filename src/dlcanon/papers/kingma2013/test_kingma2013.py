"""Mechanism tests for AEVB: the densities against torch.distributions, the closed-form KL of Appendix B, the
reparameterisation, the bound and the importance-weighted estimate against log p(x) by quadrature, which parameters
each wake-sleep phase moves, the data, an exact resume, and the quick claims."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.kingma2013 import experiment
from dlcanon.papers.kingma2013.model import VAE, aevb_loss, log_bernoulli, log_normal, wake_sleep_losses


def tiny(J: int = 1, D: int = 3, seed: int = 0) -> VAE:
    model = VAE(D=D, hidden=4, J=J, init_std=0.8, generator=torch.Generator().manual_seed(seed)).double()
    return model


def test_densities_match_torch_distributions():
    torch.manual_seed(0)
    x = (torch.rand(5, 7) < 0.5).double()
    logits = torch.randn(5, 7, dtype=torch.float64) * 3
    torch.testing.assert_close(log_bernoulli(x, logits), Bernoulli(logits=logits).log_prob(x).sum(-1))
    z, mu, log_var = (torch.randn(5, 4, dtype=torch.float64) for _ in range(3))
    torch.testing.assert_close(log_normal(z, mu, log_var), Normal(mu, (0.5 * log_var).exp()).log_prob(z).sum(-1))


def test_elbo_is_negative_kl_plus_reconstruction_with_z_reparameterised():
    """Appendix B's -D_KL in closed form equals torch's KL; the reconstruction term uses z = μ + σ ε with the
    generator's ε, so the same ε gives the same bound and the gradient reaches μ and σ through z."""
    model = tiny(J=2, D=5)
    x = (torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) < 0.5).double()
    mu, log_var = model.encoder(x)
    q = Normal(mu, (0.5 * log_var).exp())
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
    eps = torch.randn((1, *mu.shape), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    want = -kl + log_bernoulli(x, model.decoder(mu + (0.5 * log_var).exp() * eps)).mean(0)
    got = model.elbo(x, L=1, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(got, want)
    aevb_loss(model, x).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bound_and_importance_estimate_against_quadrature(seed):
    """With J = 1, log p(x) = log ∫ p(x|z) N(z; 0, 1) dz by a fine grid. The bound lies below it; the importance
    estimate with many samples comes within a small tolerance of it and above the bound; K = 1 averages to the
    bound (both are unbiased estimates of L)."""
    model = tiny(J=1, D=4, seed=seed)
    with torch.no_grad():  # a broad q (σ = 2 around a small μ) covers the posterior, so importance sampling is good
        model.encoder.W4.weight.mul_(0.1), model.encoder.W5.weight.zero_(), model.encoder.W5.bias.fill_(math.log(4.0))
    x = (torch.rand(3, 4, generator=torch.Generator().manual_seed(seed + 10)) < 0.5).double()
    z = torch.linspace(-12, 12, 40_001, dtype=torch.float64).unsqueeze(1)  # (G, 1)
    with torch.no_grad():
        log_joint = log_bernoulli(x.unsqueeze(1), model.decoder(z).unsqueeze(0)) + Normal(0, 1).log_prob(z[:, 0])
        log_px = torch.logsumexp(log_joint, 1) + math.log(float(z[1, 0] - z[0, 0]))  # (3,)
        g = torch.Generator().manual_seed(seed)
        elbo = model.elbo(x, L=20_000, generator=g)
        iw = model.log_likelihood(x, K=20_000, generator=g, chunk=5000)
        k1 = torch.stack([model.log_likelihood(x, K=1, generator=g) for _ in range(4000)])  # (4000, 3)
    assert (elbo < log_px).all()
    torch.testing.assert_close(iw, log_px, atol=0.02, rtol=0)
    assert (iw > elbo).all()
    se = k1.std(0) / math.sqrt(len(k1))  # K = 1 is one noisy sample of log p(x, z) - log q(z|x)
    assert ((k1.mean(0) - elbo).abs() < 4 * se + 0.01).all()


def test_wake_moves_only_theta_and_sleep_only_phi():
    model = tiny(J=2, D=6)
    x = (torch.rand(8, 6, generator=torch.Generator().manual_seed(2)) < 0.5).double()
    wake, sleep = wake_sleep_losses(model, x)
    wake.backward(retain_graph=True)
    assert all(p.grad is None for p in model.phi()) and all(p.grad.abs().sum() > 0 for p in model.theta())
    model.zero_grad(set_to_none=True)
    sleep.backward()
    assert all(p.grad is None for p in model.theta()) and all(p.grad.abs().sum() > 0 for p in model.phi())


def test_pilot_keeps_the_step_size_with_the_best_training_bound(monkeypatch):
    cfg = experiment.Config(hidden=8, N_z=2, steps=4, pilot_steps=2, eval_every=2, n_train=200, n_eval=20,
                            step_sizes=(0.01, 0.1, 0.05))
    d = {"train": (torch.rand(200, 784) < 0.3).float()}
    d["train_eval"] = d["train"][:20]
    scores = iter([-3.0, -1.0, -2.0])  # the second step size scores best
    monkeypatch.setattr(experiment, "bound", lambda model, x, seed: next(scores))
    lr, model, opt = experiment.pilot(cfg, "aevb", d, experiment.batch_order(200, 4, 100, 0), 0, "cpu")
    assert lr == 0.1 and opt.param_groups[0]["lr"] == 0.1


def test_binarised_mnist_is_binary_fixed_and_follows_the_grey_levels():
    need(mnist.load)
    a, b = experiment.load_binary_mnist(0), experiment.load_binary_mnist(0)
    assert a["train"].shape == (60_000, 784) and a["test"].shape == (10_000, 784)
    assert torch.equal(a["test"], b["test"]) and set(a["test"][:100].unique().tolist()) == {0.0, 1.0}
    grey = torch.from_numpy(mnist.load()["test_x"][:2000]).reshape(-1, 784).float() / 255
    assert abs(float(a["test"][:2000].mean()) - float(grey.mean())) < 0.005


def test_resume_gives_the_same_result(monkeypatch):
    need(mnist.load)
    # smoke: pilot to update 2, then measurements at 2, 5 and 6; it dies on the third, after the checkpoint at 5
    whole, resumed = interrupt_and_resume(monkeypatch, "kingma2013", experiment, "measure", 3, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    need(mnist.load)
    r = run_preset("kingma2013", "smoke", hidden=2, N_z=1, steps=1, pilot_steps=1, eval_every=1, n_train=100,
                   n_eval=10, n_test_final=10, K=1, batch_size=1, manifold_steps=0, step_sizes="0.01")
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    need(mnist.load)
    assert_claims(run_preset("kingma2013", "quick"))
