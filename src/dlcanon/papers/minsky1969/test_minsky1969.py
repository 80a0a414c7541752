"""Minsky & Papert (1969): masks, the perceptron rule, the parity ceiling, the order argument, the hidden layer."""

import itertools
import math

import pytest
import torch

from dlcanon.core import registry, runtime
from dlcanon.core.results import Store
from dlcanon.core.testing import assert_claims, run_preset

from . import experiment, model
from .experiment import all_inputs, lp_margin, ltf_parity_ceiling, parity_pm, textbook_rule, with_threshold


@pytest.mark.parametrize("n", [1, 3, 5, 6])
def test_order_k_mask_count(n):
    for k in range(n + 1):
        F = model.mask_features(all_inputs(n), k).shape[1]
        assert F == len(model.masks(n, k)) == sum(math.comb(n, j) for j in range(k + 1))
    assert model.mask_features(all_inputs(n), n).shape[1] == 2**n


def test_mask_values_by_hand():
    x = torch.tensor([[1.0, 1.0, 0.0]])
    # masks of order <= 2 on 3 points: (), (0,), (1,), (2,), (0,1), (0,2), (1,2)
    assert model.mask_features(x, 2)[0].tolist() == [1, 1, 1, 0, 1, 0, 0]


def test_parity_is_blind_to_every_mask_below_order_n():
    """The heart of the order argument: each mask of order < n sees parity's +1s and -1s in equal number."""
    n = 6
    X = all_inputs(n)
    corr = parity_pm(X) @ model.mask_features(X, n)  # (2^n,) @ (2^n, 2^n) -> one number per mask
    sizes = torch.tensor([len(S) for S in model.masks(n, n)])
    assert torch.all(corr[sizes < n] == 0)
    assert corr[sizes == n].abs().item() == 1


def test_perceptron_step_by_hand():
    p = model.Perceptron(torch.zeros(2, 2))
    wrong = p.step(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), torch.tensor([1.0, -1.0]))
    assert wrong.tolist() == [True, True]  # w . phi = 0 is on the fence: a mistake
    assert p.w.tolist() == [[1.0, 1.0], [-1.0, 0.0]]
    wrong = p.step(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([1.0, 0.0]))  # y = 0 is padding
    assert wrong.tolist() == [False, False] and p.w.tolist() == [[1.0, 1.0], [-1.0, 0.0]]


def test_rule_converges_on_and_and_cycles_on_xor():
    X = all_inputs(2)
    Phi = with_threshold(X)
    y_and = 2 * X[:, 0] * X[:, 1] - 1
    run = textbook_rule(Phi, y_and, 100)
    assert run["converged"] is not None
    assert torch.equal(torch.where(Phi @ run["w"] > 0, 1.0, -1.0), y_and)
    run = textbook_rule(Phi, parity_pm(X), 100)
    assert run["converged"] is None and run["cycle"] is not None
    assert min(run["mistakes"]) >= 1 and len(run["mistakes"]) == 100


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_enumeration_finds_every_threshold_function_and_the_ceiling(n):
    count, best = experiment.threshold_functions(n)
    assert count == experiment.THRESHOLD_FUNCTIONS[n]
    assert best == ltf_parity_ceiling(n)


@pytest.mark.parametrize("n", range(1, 13))
def test_a_count_threshold_attains_the_ceiling(n):
    X = all_inputs(n)
    parity, count = X.sum(1) % 2, X.sum(1)
    agree = [((count >= k).float() == parity).float().mean().item() for k in range(n + 2)]
    assert max(max(agree), 1 - min(agree)) == ltf_parity_ceiling(n)


def test_no_monotone_function_of_4_inputs_beats_the_ceiling():
    """The ceiling's proof covers every monotone (hence every threshold) function; check all 168 of them."""
    X = all_inputs(4)
    tables = ((torch.arange(2**16)[:, None] >> torch.arange(16)) & 1).bool()  # (65536, 16)
    below = [(a, b) for a, b in itertools.permutations(range(16), 2) if (a & b) == a]  # pattern a <= pattern b
    a, b = torch.tensor(below).T
    monotone = (tables[:, b].int() >= tables[:, a].int()).all(1)
    assert monotone.sum().item() == 168  # the Dedekind number M(4)
    agree = (tables[monotone] == (X.sum(1) % 2).bool()).float().mean(1)
    assert max(agree.max().item(), 1 - agree.min().item()) == ltf_parity_ceiling(4)


def test_lp_separates_only_at_order_n_and_only_with_the_top_mask():
    for n in (3, 4):
        X = all_inputs(n)
        y = parity_pm(X)
        for k in range(1, n):
            assert lp_margin(model.mask_features(X, k), y) < 1e-9
        full = model.mask_features(X, n)
        assert lp_margin(full, y) > 1e-3
        assert lp_margin(full[:, :-1], y) < 1e-9  # drop the single order-n mask: parity is lost


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_hand_set_hidden_layer_computes_parity(n):
    X = all_inputs(n)
    net = model.OneHiddenLayerNet.counting_parity(n)
    assert torch.equal((net(X)[0] > 0).float(), X.sum(1) % 2)


def test_batched_nets_are_independent():
    g = torch.Generator().manual_seed(0)
    net = model.OneHiddenLayerNet(3, 5, 4, g)
    x = all_inputs(3)
    out = net(x)
    for r in range(4):
        ref = torch.tanh(x @ net.W1[r] + net.b1[r]) @ net.w2[r] + net.b2[r]
        torch.testing.assert_close(out[r], ref)


def test_killed_parity_training_resumes_to_the_same_metrics(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCANON_HOME", str(tmp_path))
    paper = registry.get("minsky1969")
    sets = {"mlp_n": "6", "mlp_steps": "400", "checkpoint_every": "20", "eval_every": "10", "mlp_lr": "0.003"}
    fresh = runtime.execute(paper, "smoke", device="cpu", overrides=sets, store=Store(), quiet=True)
    assert fresh.metrics["mlp_parity_steps"] > 60, "training must outlast the interruption below"

    calls = {"n": 0}
    fit_step = experiment.fit_step

    def dies_at_step_50(net, opt, x, y):
        if x.shape[1] == 6:
            calls["n"] += 1
            if calls["n"] == 50:
                raise KeyboardInterrupt
        return fit_step(net, opt, x, y)

    monkeypatch.setattr(experiment, "fit_step", dies_at_step_50)
    with pytest.raises(KeyboardInterrupt):
        runtime.execute(paper, "smoke", device="cpu", overrides=sets, store=Store(), quiet=True)
    monkeypatch.setattr(experiment, "fit_step", fit_step)
    resumed = runtime.execute(paper, "smoke", device="cpu", overrides=sets, resume=True, store=Store(), quiet=True)
    assert resumed.metrics == fresh.metrics
    steps = [s for s, _ in Store().curves(resumed.run_id)["mlp_parity_loss"]]
    assert steps == sorted(set(steps)) and steps[0] == 10  # none lost, none logged twice


def test_smallest_config_runs():
    result = run_preset("minsky1969", "smoke", rule_epochs=1, restarts=1, xor_epochs=1, parity_n=2, parity_epochs=1,
                        exhaustive_max_n=2, order_n=2, order_epochs=1, mlp_n=2, mlp_hidden_per_bit=1, mlp_nets=1,
                        mlp_steps=1, eval_every=1, checkpoint_every=1)
    assert result.metrics
    assert all(c["verdict"] in {"pass", "fail", "known-fail", "unjudged"} for c in result.claims)


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("minsky1969", "quick"))
