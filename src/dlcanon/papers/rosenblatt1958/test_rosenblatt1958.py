"""Mechanism tests for the perceptron: hand-checked updates, the convergence bound, XOR, the batched loop
against a plain per-sample reference, the A-layer wiring, resuming; then the quick claims."""

import itertools

import numpy as np
import pytest
import torch

from dlcanon.core import registry, runtime
from dlcanon.core.data import digits
from dlcanon.core.results import Store
from dlcanon.core.testing import assert_claims, need, run_preset
from dlcanon.papers.rosenblatt1958 import experiment
from dlcanon.papers.rosenblatt1958.model import AssociationLayer, Perceptron, step


def train_to_convergence(X, t, max_epochs=1000, order=None):
    """One R-unit, fixed order, until an error-free sweep. Returns (machine, corrections, converged)."""
    machine = Perceptron(X.shape[1])
    T = t[:, None].float()
    seq = (torch.arange(len(t)) if order is None else order)[:, None]  # (n, 1)
    total = 0.0
    for _ in range(max_epochs):
        sweep = float(experiment.present_epoch(machine, X, T, seq, eta=1.0)[0])
        total += sweep
        if sweep == 0:
            return machine, total, True
    return machine, total, False


def test_hand_checked_updates_in_2d():
    m = Perceptron(2)
    with torch.no_grad():
        # W = 0, b = 0: a = 0 reaches threshold, so the unit fires; the target is 0 -> subtract x and 1.
        err = m.learn(torch.tensor([[2.0, -1.0]]), torch.tensor([[0.0]]))
        assert err.item() == -1
        assert m.W.flatten().tolist() == [-2.0, 1.0] and m.b.item() == -1.0
        # a = -2*1 + 1*1 - 1 = -2 < 0: silent, target 1 -> add x and 1 (with eta = 0.5).
        m.learn(torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0]]), eta=0.5)
        assert m.W.flatten().tolist() == [-1.5, 1.5] and m.b.item() == -0.5
        # a = -1.5*0 + 1.5*2 - 0.5 = 2.5 >= 0 and the target is 1: correct, nothing moves.
        err = m.learn(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0]]))
        assert err.item() == 0 and m.W.flatten().tolist() == [-1.5, 1.5] and m.b.item() == -0.5


@pytest.mark.parametrize("target", [0.0, 1.0])
def test_one_update_moves_the_potential_toward_the_target(target):
    g = torch.Generator().manual_seed(1)
    m = Perceptron(5)
    m.W.copy_(torch.randn(1, 1, 5, generator=g))
    x = torch.randn(1, 5, generator=g)
    m.b.fill_(-100.0 if target == 1 else 100.0)  # make sure the unit is wrong before the update
    before = m.potential(x).item()
    with torch.no_grad():
        m.learn(x, torch.tensor([[target]]), eta=0.3)
    after = m.potential(x).item()
    sign = 1 if target == 1 else -1
    assert after - before == pytest.approx(sign * 0.3 * (x.square().sum().item() + 1), rel=1e-5)


def test_eta_only_scales_the_weights_from_zero():
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(60, 4, generator=g), torch.randint(0, 3, (60,), generator=g)
    T = torch.nn.functional.one_hot(y, 3).float()
    seq = experiment.orders(0, 0, 0, 2, 60, "cpu")
    a, b = Perceptron(4, 3, 2), Perceptron(4, 3, 2)
    ma = experiment.present_epoch(a, X, T, seq, eta=1.0)
    mb = experiment.present_epoch(b, X, T, seq, eta=0.25)
    assert torch.equal(ma, mb)
    assert torch.allclose(a.W * 0.25, b.W) and torch.allclose(a.b * 0.25, b.b)


def test_tiny_separable_set_converges_within_novikoff_bound():
    # 2-D points labelled by a known unit normal u (with bias); points within 0.2 of the boundary dropped.
    g = torch.Generator().manual_seed(3)
    X = torch.rand(400, 2, generator=g) * 4 - 2
    u = torch.tensor([0.6, -0.7, 0.3])
    u = u / u.norm()  # unit vector on the augmented inputs (x, 1)
    Xa = torch.cat([X, torch.ones(400, 1)], dim=1)
    keep = (Xa @ u).abs() > 0.2
    X, Xa = X[keep], Xa[keep]
    t = (Xa @ u > 0).float()
    gamma = (Xa @ u).abs().min().item()
    R = Xa.norm(dim=1).max().item()
    for k in range(5):  # several presentation orders: the bound holds for every one of them
        order = torch.randperm(len(t), generator=torch.Generator().manual_seed(k))
        machine, corrections, converged = train_to_convergence(X, t, order=order)
        assert converged and 0 < corrections <= (R / gamma) ** 2
        assert torch.equal(machine.respond(X)[0, :, 0], t)
    # the SVM margin used by the experiment is a valid margin: positive, and no larger than the true optimum
    svm_gamma = experiment.margin(Xa.double().numpy(), 2 * t.double().numpy() - 1, C=1e4)
    assert 0 < svm_gamma and svm_gamma >= gamma * 0.99  # u is one separator; the max-margin one is as good


def test_xor_never_reaches_zero_errors():
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    t = torch.tensor([0.0, 1.0, 1.0, 0.0])
    for order in itertools.permutations(range(4)):
        machine, corrections, converged = train_to_convergence(X, t, max_epochs=200, order=torch.tensor(order))
        assert not converged and corrections >= 200  # at least one correction in every sweep
        assert (machine.respond(X)[0, :, 0] != t).any()
    assert experiment.margin(torch.cat([X, torch.ones(4, 1)], 1).double().numpy(), 2 * t.double().numpy() - 1, 1e4) <= 0


def test_breaking_the_rule_breaks_the_bound(monkeypatch):
    """A claim that can fail: with the update's sign flipped, a separable set is never learned and the
    corrections exceed (R/gamma)^2."""
    X = torch.tensor([[2.0, 1.0], [1.5, 2.0], [-1.0, -1.5], [-2.0, -0.5]])
    t = torch.tensor([1.0, 1.0, 0.0, 0.0])
    u = torch.tensor([1.0, 1.0, 0.0]) / 2**0.5
    Xa = torch.cat([X, torch.ones(4, 1)], 1)
    bound = (Xa.norm(dim=1).max() / (Xa @ u * (2 * t - 1)).min()).item() ** 2
    _, corrections, converged = train_to_convergence(X, t)
    assert converged and corrections <= bound
    learn = Perceptron.learn
    monkeypatch.setattr(Perceptron, "learn", lambda self, x, t, eta=1.0, present=None: learn(self, x, t, -eta, present))
    _, corrections, converged = train_to_convergence(X, t, max_epochs=50)
    assert not converged and corrections > bound


def reference_epoch(W, b, X, T, seq, eta, present=None):
    """The rule written out plainly: machine by machine, stimulus by stimulus, R-unit by R-unit."""
    W, b = W.clone(), b.clone()
    M, n_R, d = W.shape
    mistakes = [0] * M
    for i in range(seq.shape[0]):
        for m in range(M):
            k = int(seq[i, m])
            if present is not None and present[k] == 0:
                continue
            for r in range(n_R):
                a = sum(float(W[m, r, j]) * float(X[k, j]) for j in range(d)) + float(b[m, r])
                y = 1.0 if a >= 0 else 0.0
                e = float(T[k, r]) - y
                if e != 0:
                    mistakes[m] += 1
                    for j in range(d):
                        W[m, r, j] += eta * e * float(X[k, j])
                    b[m, r] += eta * e
    return W, b, mistakes


@pytest.mark.parametrize("with_padding", [False, True])
def test_batched_sweep_matches_per_sample_reference(with_padding):
    g = torch.Generator().manual_seed(4)
    X = torch.randint(-3, 4, (30, 6), generator=g).float()  # small integers: every sum is exact in float32
    y = torch.randint(0, 4, (30,), generator=g)
    T = torch.nn.functional.one_hot(y, 4).float()
    present = (torch.rand(30, generator=g) > 0.2).float() if with_padding else None
    machine = Perceptron(6, n_R=4, M=3)
    W0, b0 = machine.W.clone(), machine.b.clone()
    for epoch in range(3):
        seq = experiment.orders(7, 1, epoch, 3, 30, "cpu")  # (30, 3): a different order per machine
        W_ref, b_ref, mistakes_ref = reference_epoch(W0, b0, X, T, seq, 0.5, present)
        mistakes = experiment.present_epoch(machine, X, T, seq, 0.5, present)
        assert torch.equal(machine.W, W_ref) and torch.equal(machine.b, b_ref)
        assert mistakes.tolist() == mistakes_ref
        W0, b0 = W_ref, b_ref


def test_classify_is_the_strongest_r_unit():
    m = Perceptron(2, n_R=3)
    m.W.copy_(torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]]))
    X = torch.tensor([[2.0, 1.0], [0.0, 3.0], [-2.0, -2.0]])
    assert m.classify(X).tolist() == [[0, 1, 2]]
    assert m.respond(X)[0].tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_association_layer_wiring_and_threshold():
    layer = AssociationLayer(n_S=20, n_A=50, x=4, y=2, theta=2.0, generator=torch.Generator().manual_seed(5))
    C = layer.C
    assert ((C == 1).sum(1) == 4).all() and ((C == -1).sum(1) == 2).all() and ((C != 0).sum(1) == 6).all()
    S = (torch.rand(10, 20, generator=torch.Generator().manual_seed(6)) > 0.5).float()
    expected = torch.tensor(
        [[float(sum(C[j, i] * S[n, i] for i in range(20)) >= 2) for j in range(50)] for n in range(10)]
    )
    assert torch.equal(layer(S), expected)
    assert not any(p.requires_grad for p in layer.parameters())  # fixed: nothing in the A-layer learns
    with pytest.raises(ValueError):
        AssociationLayer(n_S=4, n_A=1, x=3, y=2, theta=1.0)


def test_step_fires_at_threshold():
    assert step(torch.tensor([-0.5, 0.0, 0.5])).tolist() == [0.0, 1.0, 1.0]


def test_split_is_stratified_and_fixed():
    y = torch.from_numpy(need(digits.load)["y"])
    tr, te = experiment.split(y, 1 / 3, seed=0)
    tr2, te2 = experiment.split(y, 1 / 3, seed=0)
    assert torch.equal(te, te2) and len(set(tr.tolist()) & set(te.tolist())) == 0
    assert len(tr) + len(te) == len(y)
    share = np.bincount(y[te].numpy()) / np.bincount(y.numpy())
    assert np.all(np.abs(share - 1 / 3) < 0.01)


def _count_sweeps(monkeypatch, kill_at=None):
    """Count sweeps; the kill_at-th one raises KeyboardInterrupt, as if the run were killed there."""
    real, count = experiment.present_epoch, {"n": 0}

    def sweep(*args, **kwargs):
        count["n"] += 1
        if count["n"] == kill_at:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "present_epoch", sweep)
    return count


@pytest.mark.parametrize("kill_at", ["a_units", "fashion_last_epoch"])
def test_resume_gives_the_same_metrics(monkeypatch, kill_at):
    paper = registry.get("rosenblatt1958")
    clean = need(runtime.execute, paper, "smoke", seed=3, device="cpu", store=Store(), quiet=True)
    cfg = paper.config("smoke")
    # sweeps in order: pairs (until converged), ovr, a-units, fashion; count the pairs sweeps from the run
    n_pairs_sweeps = int(clean.metrics["pairs_max_epochs"])
    n_before_fashion = n_pairs_sweeps + cfg.ovr_epochs * (1 + len(cfg.n_A))
    n_after_a_units = cfg.ovr_epochs * len(cfg.n_A) + cfg.fashion_epochs
    call = n_pairs_sweeps + cfg.ovr_epochs + 2 if kill_at == "a_units" else n_before_fashion + cfg.fashion_epochs
    _count_sweeps(monkeypatch, kill_at=call)
    with pytest.raises(KeyboardInterrupt):
        runtime.execute(paper, "smoke", seed=3, device="cpu", store=Store(), quiet=True)
    monkeypatch.undo()
    count = _count_sweeps(monkeypatch)
    resumed = runtime.execute(paper, "smoke", seed=3, device="cpu", store=Store(), quiet=True, resume=True)
    # only the unfinished work is redone: the a-unit stage from its start, or the last Fashion sweep
    assert count["n"] == (n_after_a_units if kill_at == "a_units" else 1)
    assert resumed.metrics.keys() == clean.metrics.keys()
    for k, v in clean.metrics.items():
        assert resumed.metrics[k] == v or (np.isnan(v) and np.isnan(resumed.metrics[k])), k


def test_smallest_config_runs():
    result = run_preset("rosenblatt1958", "smoke", n_pairs=1, pair_max_epochs=1, svm_C=10, test_fraction=0.01,
                        n_orders=1, ovr_epochs=1, n_A="1,2", a_excitatory=1, a_inhibitory=0, a_theta=1,
                        fashion_epochs=1, fashion_orders=1, fashion_limit=1)
    assert result.metrics
    assert all(c["verdict"] in {"pass", "fail", "known-fail", "unjudged"} for c in result.claims)


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("rosenblatt1958", "quick"))


def test_accuracies_averaged_over_orders_report_their_spread():
    """The accuracy claims average over presentation orders inside one run; each carries its sd across them."""
    result = run_preset("rosenblatt1958", "smoke")
    spread = {c["claim"]: c["spread"] for c in result.claims}
    assert spread["one_vs_rest_digits"] == pytest.approx(result.metrics["ovr_test_acc_std"]) and spread[
        "one_vs_rest_digits"] > 0
    assert spread["photoperceptron_learns"] > 0
