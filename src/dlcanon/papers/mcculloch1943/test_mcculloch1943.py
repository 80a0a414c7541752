"""McCulloch & Pitts (1943): the neuron's rule, the hand-wired nets, and the nets with circles, checked exactly."""

from dataclasses import replace

import pytest
import torch

from dlcanon.core.testing import assert_claims, run_preset

from . import model
from .experiment import (
    DETECTOR_101,
    RUNNING_PARITY,
    all_inputs,
    all_strings,
    automaton_accuracy,
    parity,
    reference_101,
    reference_running_parity,
)


def table(net, n):
    return net(all_inputs(n))[:, 0].tolist()


def test_elementary_nets_by_hand():
    # rows r = 0..3 are (x1, x2) = (0,0), (1,0), (0,1), (1,1)
    assert table(model.and_net(), 2) == [0, 0, 0, 1]
    assert table(model.or_net(), 2) == [0, 1, 1, 1]
    assert table(model.and_not_net(), 2) == [0, 1, 0, 0]
    assert table(model.xor_net(), 2) == [0, 1, 1, 0]
    assert table(model.not_net(), 1) == [1, 0]


def test_inhibition_is_absolute():
    # three fibres with 100 synapses each against threshold 1 are still silenced by one inhibitory fibre
    layer = model.neurons([[100, 100, 100, 0]], [[0, 0, 0, 1]], [1])
    x = torch.tensor([[1.0, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 1]])
    assert layer(x)[:, 0].tolist() == [1, 0, 0]
    assert layer.without_inhibition()(x)[:, 0].tolist() == [1, 1, 0]


def test_synapses_are_nonnegative_integer_counts():
    with pytest.raises(ValueError):
        model.neurons([[1, -1]], [[0, 0]], [1])
    with pytest.raises(ValueError):
        model.MPLayer(torch.ones(1, 2), torch.zeros(1, 2, dtype=torch.bool), torch.ones(1, dtype=torch.long))


def test_no_single_neuron_computes_xor_but_the_search_finds_the_others():
    X = all_inputs(2)
    out = model.all_single_neurons(2, max_weight=4, max_theta=8)(X)  # (4, K)
    found = {tuple(col) for col in out.T.int().tolist()}
    assert (0, 1, 1, 0) not in found and (1, 0, 0, 1) not in found  # XOR, XNOR
    assert {(0, 0, 0, 1), (0, 1, 1, 1), (1, 0, 0, 0), (0, 1, 0, 0)} <= found  # AND, OR, NOR, x1 and not x2
    assert len(found) == 11  # 16 - XOR, XNOR, NAND, x1->x2, x2->x1


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_parity_net_is_exact_and_small(n):
    net = model.parity_net(n)
    assert torch.equal(net(all_inputs(n))[:, 0], parity(all_inputs(n)))
    assert net.num_neurons == n + (n + 1) // 2 + 1


def _variants(net):
    """Every net that differs from `net` by one removed synapse or one threshold moved by one."""
    for li, L in enumerate(net.layers):
        for i, j in (L.W > 0).nonzero().tolist():
            W = L.W.clone()
            W[i, j] -= 1
            yield li, replace(L, W=W)
        for i, j in L.I.nonzero().tolist():
            I = L.I.clone()
            I[i, j] = False
            yield li, replace(L, I=I)
        for i in range(len(L.theta)):
            for d in (-1, 1):
                theta = L.theta.clone()
                theta[i] += d
                yield li, replace(L, theta=theta)


def test_every_synapse_and_threshold_of_the_parity_net_matters():
    n = 5
    net, X = model.parity_net(n), all_inputs(n)
    count = 0
    for li, changed in _variants(net):
        layers = list(net.layers)
        layers[li] = changed
        broken = model.MPNet(tuple(layers))
        assert not torch.equal(broken(X)[:, 0], parity(X)), f"layer {li} change left parity intact"
        count += 1
    assert count > 3 * n


def test_without_inhibition_parity_collapses_to_a_monotone_or():
    X = all_inputs(6)
    assert torch.equal(model.parity_net(6).without_inhibition()(X)[:, 0], X.max(1).values)


def test_truth_table_net_wires_majority():
    maj = (all_inputs(3).sum(1) >= 2).float()[None]  # (1, 8)
    net = model.truth_table_net(maj)
    assert torch.equal(net(all_inputs(3))[:, 0], maj[0])
    assert net.layers[0].W.shape == (8, 3)  # one minterm neuron per pattern


def run_dfa(delta, start, accept, s):
    """A plain-Python automaton, the reference the nets are compared with."""
    q = start
    for c in s:
        q = delta[q][int(c)]
    return q in accept


def test_the_transition_tables_match_the_plain_references():
    for L in range(9):
        for j in range(2**L):
            s = format(j, f"0{L}b") if L else ""
            assert run_dfa(**RUNNING_PARITY, s=s) == reference_running_parity(s)
            assert run_dfa(**DETECTOR_101, s=s) == reference_101(s)


def test_circle_nets_match_random_automata_on_every_string():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        Q = 5
        delta = torch.randint(0, Q, (Q, 2), generator=g).tolist()
        accept = {q for q in range(Q) if torch.rand(1, generator=g).item() < 0.5}
        net = model.automaton_net(delta, 0, accept)
        acc = automaton_accuracy(net, lambda s, d=delta, a=accept: run_dfa(d, 0, a, s), 8, "cpu")
        assert acc == [1.0] * 9


def test_exactly_one_neuron_of_the_circle_is_active_at_every_step():
    _, U = model.automaton_net(**DETECTOR_101).run(all_strings(8)[:, :, None])
    assert torch.equal(U.sum(2), torch.ones(256, 9))


def test_cutting_the_circle_breaks_the_memory():
    net = model.automaton_net(**RUNNING_PARITY)
    W = net.cell.W.clone()
    W[:, 1:] = 0  # no neuron hears the others
    cut = replace(net, cell=replace(net.cell, W=W))
    assert automaton_accuracy(net, reference_running_parity, 6, "cpu") == [1.0] * 7
    assert min(automaton_accuracy(cut, reference_running_parity, 6, "cpu")) < 1.0


def test_smallest_config_runs():
    result = run_preset("mcculloch1943", "smoke", parity_max_n=2, all_functions_n=1, max_string_length=3,
                        search_max_weight=1, search_max_theta=2, raster_string="1")
    assert result.metrics
    assert all(c["verdict"] in {"pass", "fail", "known-fail", "unjudged"} for c in result.claims)


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("mcculloch1943", "quick"))
