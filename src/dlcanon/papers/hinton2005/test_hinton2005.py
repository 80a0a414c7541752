"""Hinton (2005): the RBM's conditionals, free energy and partition function against brute force over both
layers, the exact gradient against autograd, CD-1's expected update against a hand enumeration, Gibbs sampling
against the exact distribution, the greedy bound (tight at the start, below the exact log-likelihood), the data,
an exact resume, and the quick claims."""

import math

import pytest
import torch

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset

from . import experiment
from .model import RBM, all_states, bernoulli, log_p_v_given_h, log_q, two_layer_log_prob, variational_bound


def random_rbm(n_v: int, n_h: int, seed: int = 0, scale: float = 1.0) -> RBM:
    g = torch.Generator().manual_seed(seed)
    rbm = RBM(n_v, n_h, scale, g, dtype=torch.float64)
    with torch.no_grad():
        rbm.b.normal_(generator=g)
        rbm.c.normal_(generator=g)
    return rbm


def pairs(rbm: RBM):
    """Every (v, h) pair with its energy: V (S_v, n_v), H (S_h, n_h), E (S_v, S_h)."""
    V, H = all_states(rbm.n_v, torch.float64), all_states(rbm.n_h, torch.float64)
    E = -(V @ rbm.b)[:, None] - (H @ rbm.c)[None, :] - V @ rbm.W @ H.T  # (S_v, S_h)
    return V, H, E


def test_all_states_lists_each_binary_vector_once():
    s = all_states(5)
    assert s.shape == (32, 5) and len(torch.unique(s, dim=0)) == 32
    assert s[0].sum() == 0 and s[-1].sum() == 5 and s[6].tolist() == [0, 1, 1, 0, 0]  # 6 = 0b00110


def test_energy_matches_the_table_of_pairs():
    rbm = random_rbm(4, 3)
    V, H, E = pairs(rbm)
    for i in (0, 5, 15):
        for j in (0, 3, 7):
            assert torch.isclose(rbm.energy(V[i : i + 1], H[j : j + 1])[0], E[i, j])


@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_log_Z_matches_brute_force_over_both_layers(shape):
    """log Z summed over all 2^(n_v + n_h) joint states, against the free-energy sum over the smaller layer
    (hidden side for (4, 3), visible side for (3, 5)); p(v) then sums to one."""
    rbm = random_rbm(*shape)
    _, _, E = pairs(rbm)
    brute = torch.logsumexp(-E.flatten(), 0)
    torch.testing.assert_close(rbm.log_Z(), brute, rtol=0, atol=1e-12)
    V = all_states(rbm.n_v, torch.float64)
    torch.testing.assert_close(rbm.log_prob(V).exp().sum(), torch.tensor(1.0, dtype=torch.float64))
    H = all_states(rbm.n_h, torch.float64)
    torch.testing.assert_close(rbm.log_prob_h(H).exp().sum(), torch.tensor(1.0, dtype=torch.float64))


def test_log_Z_by_hand():
    """Two visible units, one hidden, W = [[1], [0]], zero biases: Z = sum_{v1,v2,h} exp(v1 h) = 4 + 2 (1 + e)."""
    rbm = RBM(2, 1, dtype=torch.float64)
    with torch.no_grad():
        rbm.W.copy_(torch.tensor([[1.0], [0.0]]))
    assert math.isclose(rbm.log_Z().item(), math.log(6 + 2 * math.e), rel_tol=1e-12)
    with torch.no_grad():
        rbm.W.zero_()
    assert math.isclose(rbm.log_Z().item(), math.log(8), rel_tol=1e-12)  # 2^3 equally likely states
    v = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert math.isclose(rbm.p_h(v).item(), 0.5) and math.isclose(rbm.free_energy(v).item(), -math.log(2))


def test_free_energy_sums_out_the_other_layer():
    rbm = random_rbm(4, 3)
    V, H, E = pairs(rbm)
    torch.testing.assert_close(rbm.free_energy(V), -torch.logsumexp(-E, 1))
    torch.testing.assert_close(rbm.free_energy_h(H), -torch.logsumexp(-E, 0))


def test_conditionals_match_brute_force():
    """p(h_j = 1 | v) = sum over h with h_j = 1 of exp(-E(v, h)), normalised over all h; the same for v."""
    rbm = random_rbm(4, 3)
    V, H, E = pairs(rbm)
    p_h_given_v = torch.softmax(-E, 1)  # (S_v, S_h)
    torch.testing.assert_close(rbm.p_h(V), p_h_given_v @ H)
    p_v_given_h = torch.softmax(-E, 0)  # (S_v, S_h)
    torch.testing.assert_close(rbm.p_v(H), p_v_given_h.T @ V)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5)])
def test_model_expectations_match_brute_force(shape):
    rbm = random_rbm(*shape)
    V, H, E = pairs(rbm)
    P = torch.softmax(-E.flatten(), 0).view_as(E)  # p(v, h)
    expect = rbm.model_expectations()
    torch.testing.assert_close(expect["W"], V.T @ P @ H)
    torch.testing.assert_close(expect["b"], P.sum(1) @ V)
    torch.testing.assert_close(expect["c"], P.sum(0) @ H)


@pytest.mark.parametrize("shape", [(5, 3), (3, 6)])
def test_exact_gradient_is_the_gradient_of_the_log_likelihood(shape):
    """<v h>_data - <v h>_model equals autograd's gradient of the mean exact log p(v)."""
    rbm = random_rbm(*shape, scale=0.5)
    v = bernoulli(torch.full((7, rbm.n_v), 0.4, dtype=torch.float64), torch.Generator().manual_seed(1))
    grads = torch.autograd.grad(rbm.log_prob(v).mean(), [rbm.W, rbm.b, rbm.c])
    exact = rbm.exact_gradient(v)
    for name, g in zip("Wbc", grads, strict=True):
        torch.testing.assert_close(exact[name], g)


def expected_cd1_by_hand(rbm: RBM, v0: torch.Tensor) -> dict:
    """E[CD-1 update] for one data vector, by enumerating h0 ~ p(h|v0) and v1 ~ p(v|h0) with explicit loops."""
    ph0 = rbm.p_h(v0[None])[0]
    out = {"W": torch.outer(v0, ph0), "b": v0.clone(), "c": ph0.clone()}
    for h0 in all_states(rbm.n_h, torch.float64):
        p_h0 = torch.prod(torch.where(h0 > 0, ph0, 1 - ph0))
        pv = rbm.p_v(h0[None])[0]
        for v1 in all_states(rbm.n_v, torch.float64):
            p = p_h0 * torch.prod(torch.where(v1 > 0, pv, 1 - pv))
            ph1 = rbm.p_h(v1[None])[0]
            out["W"] = out["W"] - p * torch.outer(v1, ph1)
            out["b"] = out["b"] - p * v1
            out["c"] = out["c"] - p * ph1
    return out


@torch.no_grad()
def test_cd1_update_averages_to_the_hand_enumeration():
    """CD-1 on 200,000 copies of one data vector against its exact expectation. Each per-copy term lies in
    [-1, 1], so the batch mean's standard error is below 1/sqrt(200,000) = 0.0022: tolerance 0.01."""
    rbm = random_rbm(3, 2)
    v0 = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    exact = expected_cd1_by_hand(rbm, v0)
    mc = rbm.cd_gradient(v0.expand(200_000, 3), k=1, generator=torch.Generator().manual_seed(0))
    for name in "Wbc":
        torch.testing.assert_close(mc[name], exact[name], rtol=0, atol=0.01)
    # and CD-1 is not the likelihood gradient: for this RBM the two differ by far more than the tolerance
    ml = rbm.exact_gradient(v0[None])
    assert (ml["W"] - exact["W"]).abs().max() > 0.05


@torch.no_grad()
def test_cd_k_approaches_the_exact_gradient_for_long_chains():
    """CD-k's reconstruction term tends to the model's expectation as k grows (a weakly coupled RBM mixes fast)."""
    rbm = random_rbm(4, 3, scale=0.3)
    v0 = torch.tensor([[1.0, 1.0, 0.0, 0.0]], dtype=torch.float64).expand(100_000, 4)
    cd = rbm.cd_gradient(v0, k=30, generator=torch.Generator().manual_seed(0))
    ml = rbm.exact_gradient(v0[:1])
    for name in "Wbc":
        torch.testing.assert_close(cd[name], ml[name], rtol=0, atol=0.015)


@torch.no_grad()
def test_gibbs_sampling_draws_from_the_exact_distribution():
    """40,000 chains of 50 steps: the histogram of final visible states matches exp(log p(v)) (total variation
    below 0.02; sampling noise alone is about 0.01 over 16 states)."""
    rbm = random_rbm(4, 3, scale=1.0)
    g = torch.Generator().manual_seed(0)
    start = bernoulli(torch.full((40_000, 4), 0.5, dtype=torch.float64), g)
    v = bernoulli(rbm.gibbs(start, 50, g), g)  # a visible state drawn from the last step's p(v|h)
    index = (v * 2 ** torch.arange(4, dtype=torch.float64)).sum(1).long()  # all_states' row of each sample
    empirical = torch.bincount(index, minlength=16).double() / len(v)
    exact = rbm.log_prob(all_states(4, torch.float64)).exp()
    assert 0.5 * (empirical - exact).abs().sum() < 0.02


@torch.no_grad()
def test_transposed_rbm_has_the_same_hidden_marginal():
    bottom = random_rbm(5, 3)
    top = bottom.transposed()
    H = all_states(3, torch.float64)
    torch.testing.assert_close(top.log_prob(H), bottom.log_prob_h(H))


@torch.no_grad()
def test_bound_is_tight_at_the_start_and_below_the_exact_log_likelihood():
    """With the top RBM = bottom transposed, the bound equals the bottom RBM's log p(v) (Q is its exact
    posterior and p_top(h) its prior); after the top changes the bound stays below the two-layer model's exact
    log p(v), and equals the bound written out term by term."""
    bottom = random_rbm(6, 4)
    v = all_states(6, torch.float64)
    top = bottom.transposed()
    torch.testing.assert_close(variational_bound(bottom, top, v), bottom.log_prob(v))
    torch.testing.assert_close(two_layer_log_prob(bottom, top, v), bottom.log_prob(v))
    top.W.add_(0.3 * torch.randn(top.W.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    h = all_states(4, torch.float64)
    lq = log_q(h, bottom.p_h(v))
    by_terms = (lq.exp() * (top.log_prob(h) + log_p_v_given_h(bottom, v, h) - lq)).sum(-1)
    bound = variational_bound(bottom, top, v)
    torch.testing.assert_close(bound, by_terms)
    assert (two_layer_log_prob(bottom, top, v) - bound).min() > 0
    torch.testing.assert_close(two_layer_log_prob(bottom, top, v).exp().sum(), torch.tensor(1.0, dtype=torch.float64))


def test_data_is_binary_fixed_and_disjoint():
    need(mnist.load)
    cfg = experiment.PRESETS["quick"]
    d = experiment.load(cfg)
    assert d["v_train"].shape == (cfg.n_train, cfg.side**2) and d["v_test"].shape == (cfg.n_test, cfg.side**2)
    assert d["x_class"].shape == (cfg.class_train, cfg.class_side**2)
    for k in ("v_train", "x_class", "x_clf"):
        assert set(d[k].unique().tolist()) == {0.0, 1.0}
    assert 0.1 < d["v_train"].mean() < 0.6  # ink is a minority of pixels, but not rare
    assert d["y_class"].bincount(minlength=10).min() > 0.05 * cfg.class_train  # every class has its RBM's data
    torch.testing.assert_close(experiment.load(cfg)["v_train"], d["v_train"])  # fixed draw


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    """Steps: 2 epochs of the two arms, 2 of the second RBM, then the class RBMs and the classifier. Dying in the
    second epoch of the second RBM checks that the bound at its start (measured once) comes back too."""
    need(mnist.load)
    whole, resumed = interrupt_and_resume(monkeypatch, "hinton2005", experiment, "run_epoch", 4, "smoke",
                                          stack_epochs="2")  # fmt: skip
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: 2x2 digits, one hidden unit, ten digits per set, one of everything."""
    need(mnist.load)
    r = run_preset("hinton2005", "smoke", side=2, n_hidden=1, n_train=10, n_test=10, epochs=1, batch_size=1,
                   stack_epochs=1, class_side=7, class_hidden=1, class_train=10, class_epochs=1, chains=1,
                   gibbs_steps=1, clf_train=10, clf_epochs=1)  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for k, v in r.metrics.items() if k != "cd1_gap_fraction")
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("hinton2005", "quick"))
