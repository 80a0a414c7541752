"""McCulloch & Pitts (1943): every hand-wired net checked exactly, on every input it can receive.

The paper's "data" are truth tables and input histories, so the task is generated, as in the paper: all 2^n
input patterns for the nets without circles, all binary strings up to a length for the nets with circles.
Every check is exhaustive, so an accuracy of 1.0 is a proof for that size, not an estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from dlcanon.core.config import Annotated, Pattern, Range
from dlcanon.core.paper import Claim

from . import figures, model


@dataclass
class Config:
    parity_max_n: Annotated[int, Range(ge=2, le=18)] = 12
    """n-bit parity nets are built and checked for every n from 1 up to this, each on all 2^n inputs (at least
    2: the 1-bit net has no inhibitory synapse to cut; at most 18, about 150 MB)."""
    all_functions_n: Annotated[int, Range(ge=1, le=4)] = 3
    """Every Boolean function of this many inputs (2^(2^n) functions) is wired as a two-layer net and checked."""
    max_string_length: Annotated[int, Range(ge=3, le=17)] = 12
    """The nets with circles are checked on every binary string of length 0 up to this (at least 3, the
    shortest string the '101' detector accepts; at most 17, about 250 MB)."""
    search_max_weight: Annotated[int, Range(ge=1, le=64)] = 3
    """Exhaustive single-neuron search: each synapse is inhibitory or excitatory with a count 0..this (at least
    1, or no neuron in the search can be excited)."""
    search_max_theta: Annotated[int, Range(ge=2, le=256)] = 6
    """Exhaustive single-neuron search: thresholds 0..this (at least 2, or the search misses AND: with
    weights up to 1 and thresholds up to 2 it already finds all 11 functions one neuron can compute)."""
    raster_string: Annotated[str, Pattern(r"[01]{1,64}", "1 to 64 binary digits (0 or 1)")] = "110101101001"
    """The input string whose neuron-by-neuron activity the figure draws."""


PRESETS = {
    "smoke": Config(parity_max_n=5, all_functions_n=2, max_string_length=5, search_max_weight=2, search_max_theta=3),
    "quick": Config(),
    "full": Config(parity_max_n=16, all_functions_n=4, max_string_length=16, search_max_weight=6, search_max_theta=12),
}

_EXACT = "exact on every input (exhaustive truth table); the paper states it as a theorem with no numbers"
CLAIMS = [
    Claim(
        name="and_gate",
        metric="and_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Fig. 1c: conjunction by one neuron",
        scale_note=_EXACT,
    ),
    Claim(
        name="or_gate",
        metric="or_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Fig. 1b: disjunction by one neuron",
        scale_note=_EXACT,
    ),
    Claim(
        name="not_gate",
        metric="not_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="absolute inhibition gives negation (Fig. 1d: conjoined negation)",
        scale_note=_EXACT,
    ),
    Claim(
        name="xor_two_layers",
        metric="xor_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Part II: every propositional expression is realizable by a net without circles",
        scale_note="XOR with two synaptic delays (three neurons); exact on its 4 inputs",
    ),
    Claim(
        name="xor_not_one_neuron",
        metric="xor_single_neuron_solutions",
        op="<=",
        threshold=0.0,
        paper_value="implicit in the neuron's rule: a threshold on excitation, vetoed by inhibition",
        scale_note="exhaustive search over every 2-fibre neuron with small synapse counts and thresholds",
    ),
    Claim(
        name="parity_every_n",
        metric="parity_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Part II: every expression without circles is realizable (a theorem, no numbers)",
        scale_note="one general constructor; n = 1..12 (quick), 1..16 (full), every one of the 2^n inputs",
    ),
    Claim(
        name="inhibition_needed",
        metric="parity_accuracy",
        minus="parity_accuracy_no_inhibition",
        op=">",
        threshold=0.0,
        paper_value="assumption 4: inhibition is absolute (it is what makes negation possible)",
        scale_note="the same parity net (largest n) with its inhibitory synapses cut is a monotone OR",
    ),
    Claim(
        name="every_boolean_function",
        metric="boolean_functions_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Part II: every expression without circles is realizable",
        scale_note="all 256 functions of 3 inputs (quick), all 65536 of 4 inputs (full)",
    ),
    Claim(
        name="automaton",
        metric="automaton_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Part III: nets with circles remember the past (Kleene 1956 made this 'regular events')",
        scale_note="running parity and a '101' detector vs plain-Python references, every string of length "
        "<= 12 (quick), <= 16 (full)",
    ),
]


# --- the generated task: every input --------------------------------------------------------------------


def all_inputs(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2^n, n) 0/1: row r holds the bits of r, input j = bit j."""
    r = torch.arange(2**n, device=device)
    return ((r[:, None] >> torch.arange(n, device=device)) & 1).float()


def all_strings(L: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2^L, L) 0/1: row r is r written in binary with L digits, first symbol = most significant digit."""
    return all_inputs(L, device).flip(1)


def truth_accuracy(net: model.MPNet, fn: Callable[[torch.Tensor], torch.Tensor], n: int, device) -> float:
    """Fraction of the 2^n input patterns on which the net's single output equals fn."""
    X = all_inputs(n, device)
    return (net(X)[:, 0] == fn(X)).float().mean().item()


def parity(X: torch.Tensor) -> torch.Tensor:
    return X.sum(1) % 2


# --- the automata: transition tables for the nets, and independent plain-Python references ---------------

RUNNING_PARITY = dict(delta=[[0, 1], [1, 0]], start=0, accept={1})
"""States: 0 = an even number of 1s so far, 1 = odd."""
DETECTOR_101 = dict(delta=[[0, 1], [2, 1], [0, 3], [2, 1]], start=0, accept={3})
"""States: the longest suffix that is a prefix of '101': 0 = '', 1 = '1', 2 = '10', 3 = '101'."""


def reference_running_parity(s: str) -> bool:
    return s.count("1") % 2 == 1


def reference_101(s: str) -> bool:
    return s.endswith("101")


def automaton_accuracy(net: model.MPCircleNet, reference: Callable[[str], bool], L: int, device) -> list[float]:
    """Per length t = 0..L, the fraction of the 2^t strings of length t on which the verdict is right.

    The strings of length <= L are exactly the prefixes of the strings of length L, so one run over all
    2^L strings of length L gives every verdict; the rows r = j * 2^(L-t) carry the prefixes of length t.
    """
    X = all_strings(L, device)
    y, _ = net.run(X[:, :, None])  # (2^L, L+1, 1)
    accuracy = []
    for t in range(L + 1):
        verdicts = y[:: 2 ** (L - t), t, 0].cpu()  # (2^t,) one per distinct prefix
        truth = torch.tensor([float(reference(format(j, f"0{t}b") if t else "")) for j in range(2**t)])
        accuracy.append((verdicts == truth).float().mean().item())
    return accuracy


def exact_over_all_strings(per_length: list[float]) -> float:
    """Accuracy over the 2^(L+1) - 1 distinct strings, each counted once."""
    counts = [2**t for t in range(len(per_length))]
    return sum(a * c for a, c in zip(per_length, counts, strict=True)) / sum(counts)


# --- the run --------------------------------------------------------------------------------------------


GATES = {  # metric prefix: (name in the figure, net, truth function, number of inputs)
    "and": ("AND (Fig. 1c)", model.and_net, lambda X: X[:, 0] * X[:, 1], 2),
    "or": ("OR (Fig. 1b)", model.or_net, lambda X: X.max(1).values, 2),
    "not": ("NOT", model.not_net, lambda X: 1 - X[:, 0], 1),
    "and_not": ("x1 AND NOT x2 (Fig. 1d)", model.and_not_net, lambda X: X[:, 0] * (1 - X[:, 1]), 2),
    "xor": ("XOR (two delays)", model.xor_net, parity, 2),
}


def run(cfg: Config, ctx) -> dict[str, float]:
    dev = ctx.device
    m = {f"{k}_accuracy": truth_accuracy(net(), fn, n, dev) for k, (_, net, fn, n) in GATES.items()}
    m.update(single_neuron_search(cfg, dev, ctx.path("single_neuron_search.png")))
    m.update(parity_sweep(cfg, ctx))
    m.update(every_boolean_function(cfg.all_functions_n, dev, ctx.path("gates.png")))
    m.update(automata(cfg, ctx))
    figures.parity_net(model.parity_net(4).trace(all_inputs(4)), ctx.path("parity_net.png"))
    return m


def single_neuron_search(cfg: Config, dev, path) -> dict[str, float]:
    """Wire every small neuron on 2 fibres; list the Boolean functions they compute."""
    X = all_inputs(2, dev)
    out = model.all_single_neurons(2, cfg.search_max_weight, cfg.search_max_theta)(X)  # (4, K)
    codes = (out * (2 ** torch.arange(4, device=dev))[:, None]).sum(0).long()  # (K,) truth table id
    xor_code = int((parity(X) * 2 ** torch.arange(4, device=dev)).sum().item())
    figures.single_neuron_search(codes, path)
    return {
        "single_neurons_searched": float(out.shape[1]),
        "single_neuron_functions": float(codes.unique().numel()),
        "xor_single_neuron_solutions": float((codes == xor_code).sum().item()),
        "xnor_single_neuron_solutions": float((codes == 15 - xor_code).sum().item()),
    }


def parity_sweep(cfg: Config, ctx) -> dict[str, float]:
    ns, accuracies, accuracies_cut, neurons = range(1, cfg.parity_max_n + 1), [], [], []
    for n in ns:
        net = model.parity_net(n)
        accuracies.append(truth_accuracy(net, parity, n, ctx.device))
        accuracies_cut.append(truth_accuracy(net.without_inhibition(), parity, n, ctx.device))  # figure only
        neurons.append(net.num_neurons)
        ctx.log(n, parity_accuracy=accuracies[-1], parity_neurons=net.num_neurons)
    figures.parity_sweep(list(ns), accuracies, accuracies_cut, neurons, ctx.path("parity_sweep.png"))
    cut = model.parity_net(cfg.parity_max_n).without_inhibition()
    return {
        "parity_accuracy": min(accuracies),
        "parity_max_n": float(cfg.parity_max_n),
        "parity_neurons": float(net.num_neurons),
        "parity_accuracy_no_inhibition": truth_accuracy(cut, parity, cfg.parity_max_n, ctx.device),
    }


def every_boolean_function(n: int, dev, path) -> dict[str, float]:
    """All 2^(2^n) truth tables at once: table f, pattern r -> bit r of f. The figure adds the Fig. 1 gates."""
    R = 2**n
    tables = ((torch.arange(2**R, device=dev)[:, None] >> torch.arange(R, device=dev)) & 1).float()  # (F, R)
    out = model.truth_table_net(tables)(all_inputs(n, dev))  # (R, F)
    exact = (out.T == tables).all(1)  # (F,) every pattern right
    gate_tables = {}
    for name, net, fn, k in GATES.values():
        X = all_inputs(k, dev)
        gate_tables[name] = (X, net()(X)[:, 0], fn(X))
    figures.gates(gate_tables, (out, tables), path)
    return {"boolean_functions_accuracy": exact.float().mean().item(), "boolean_functions": float(2**R)}


def automata(cfg: Config, ctx) -> dict[str, float]:
    L = cfg.max_string_length
    per_length = {
        name: automaton_accuracy(model.automaton_net(**dfa), ref, L, ctx.device)
        for name, dfa, ref in (
            ("running_parity", RUNNING_PARITY, reference_running_parity),
            ("detector_101", DETECTOR_101, reference_101),
        )
    }
    for t in range(1, L + 1):
        ctx.log(t, **{f"{k}_accuracy_at_length": v[t] for k, v in per_length.items()})
    m = {f"{k}_accuracy": exact_over_all_strings(v) for k, v in per_length.items()}
    m["automaton_accuracy"] = min(m.values())
    m["automaton_strings"] = float(2 ** (L + 1) - 1)
    figures.automata(circle_rasters(cfg.raster_string), cfg.raster_string, per_length, ctx.path("automata.png"))
    return m


def circle_rasters(string: str) -> list[tuple[str, torch.Tensor, list[str]]]:
    """For the figure: each net with circles reading `string`, as rows [input, start g, v(q,a)..., verdict]."""
    x = torch.tensor([[float(c) for c in string]])[:, :, None]  # (1, T, 1)
    out = []
    for name, dfa in (("running parity", RUNNING_PARITY), ("'101' detector", DETECTOR_101)):
        y, U = model.automaton_net(**dfa).run(x)
        rows = torch.cat([torch.cat([torch.zeros(1), x[0, :, 0]])[None], U[0].T, y[0].T])  # (2 + m, T+1)
        labels = ["input x(t)", "start g"] + [f"v(q{q},{a})" for q in range(len(dfa["delta"])) for a in (0, 1)]
        out.append((name, rows, labels + ["verdict y"]))
    return out
