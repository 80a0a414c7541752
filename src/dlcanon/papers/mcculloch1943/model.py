"""McCulloch & Pitts (1943): nets of all-or-none threshold neurons with absolute inhibition, wired by hand.

Nothing here learns. Each net is a fixed wiring diagram, as in the paper's Figure 1: a neuron fires when
enough of its excitatory synapses are active and none of its inhibitory ones is. Part II of the paper
(nets without circles) is `MPNet`, a stack of `MPLayer`s; Part III (nets with circles) is `MPCircleNet`,
a layer that reads its own output one synaptic delay later.

All activities are 0/1 float tensors (float so that the sums also run on a GPU, where integer matmul is not
available; the sums are small integers, which float32 holds exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True, eq=False)
class MPLayer:
    """m McCulloch-Pitts neurons reading the same n fibres; they fire one synaptic delay after their inputs.

    The paper's five physical assumptions (start of Part II, "The theory: nets without circles") map to:
      1. all-or-none: every activity is 0 or 1;
      2. a neuron fires when at least theta_i of its excitatory synapses are active: W[i, j] >= 0 is the
         *number* of synapses fibre j makes on neuron i (integer weights, no fractions, no negatives);
      3. the synaptic delay is the only delay: one call = one time step;
      4. inhibition is absolute: one active inhibitory synapse (I[i, j] = True) prevents firing, whatever
         the excitation;
      5. the structure never changes: W, I, theta are fixed.
    So   N_i(t) = [sum_j W_ij N_j(t-1) >= theta_i]  AND  NOT OR_j (I_ij AND N_j(t-1)).
    """

    W: torch.Tensor
    """(m, n) integer synapse counts, >= 0."""
    I: torch.Tensor
    """(m, n) bool: True where fibre j inhibits neuron i."""
    theta: torch.Tensor
    """(m,) integer thresholds."""

    def __post_init__(self):
        m, n = self.W.shape
        if self.I.shape != (m, n) or self.theta.shape != (m,):
            raise ValueError(f"W {tuple(self.W.shape)}, I {tuple(self.I.shape)}, theta {tuple(self.theta.shape)}")
        if self.W.is_floating_point() or self.theta.is_floating_point() or bool((self.W < 0).any()):
            raise ValueError("McCulloch-Pitts synapses are counts: W and theta are integers and W >= 0")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        W, I, theta = self.W.to(x), self.I.to(x), self.theta.to(x)
        excitation = x @ W.T  # (B, n) @ (n, m) -> (B, m)
        vetoed = (x @ I.T) > 0  # (B, n) @ (n, m) -> (B, m): any inhibitory fibre active
        return ((excitation >= theta) & ~vetoed).to(x.dtype)

    def without_inhibition(self) -> MPLayer:
        """The same neurons with every inhibitory synapse cut (used to show that inhibition is needed)."""
        return replace(self, I=torch.zeros_like(self.I))


def neurons(W: list[list[int]], I: list[list[int]], theta: list[int]) -> MPLayer:
    """A layer from plain lists, the way one reads it off a wiring diagram."""
    return MPLayer(
        torch.tensor(W, dtype=torch.long), torch.tensor(I, dtype=torch.bool), torch.tensor(theta, dtype=torch.long)
    )


@dataclass(frozen=True, eq=False)
class MPNet:
    """A net without circles (Part II): layer l reads layer l-1, so the output lags the input by len(layers)."""

    layers: tuple[MPLayer, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.trace(x)[-1]

    def trace(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activity of every layer, input first: [x, N^(1), ..., N^(L)], each (B, units)."""
        out = [x]
        for layer in self.layers:
            out.append(layer(out[-1]))
        return out

    def without_inhibition(self) -> MPNet:
        return MPNet(tuple(layer.without_inhibition() for layer in self.layers))

    @property
    def num_neurons(self) -> int:
        return sum(layer.W.shape[0] for layer in self.layers)


# --- Part II, Figure 1: the elementary nets -------------------------------------------------------------


def and_net() -> MPNet:
    """Conjunction, Fig. 1c: both fibres must fire to reach threshold 2."""
    return MPNet((neurons([[1, 1]], [[0, 0]], [2]),))


def or_net() -> MPNet:
    """Disjunction, Fig. 1b: either fibre alone reaches threshold 1."""
    return MPNet((neurons([[1, 1]], [[0, 0]], [1]),))


def not_net() -> MPNet:
    """Negation: a neuron of threshold 0 fires unless its one inhibitory fibre is active."""
    return MPNet((neurons([[0]], [[1]], [0]),))


def and_not_net() -> MPNet:
    """Conjoined negation, Fig. 1d: N3 fires if N1 fired and N2 did not."""
    return MPNet((neurons([[1, 0]], [[0, 1]], [1]),))


def xor_net() -> MPNet:
    """Exclusive or in two delays: (x1 and not x2) or (x2 and not x1); no single neuron can do it."""
    first = neurons([[1, 0], [0, 1]], [[0, 1], [1, 0]], [1, 1])
    return MPNet((first, neurons([[1, 1]], [[0, 0]], [1])))


def parity_net(n: int) -> MPNet:
    """n-bit parity in three delays, from counting neurons (n + ceil(n/2) + 1 neurons, all weights 1).

    layer 1: a_k fires iff at least k inputs fire            (all n synapses, theta = k), k = 1..n
    layer 2: e_k = a_k and not a_{k+1}: exactly k inputs fire  (one synapse, one inhibitor), k odd
    layer 3: the output fires iff some e_k fires                (theta = 1)
    """
    count = MPLayer(torch.ones(n, n, dtype=torch.long), torch.zeros(n, n, dtype=torch.bool), torch.arange(1, n + 1))
    odd = torch.arange(0, n, 2)  # a_k for k = 1, 3, 5, ... (0-based index)
    W2 = torch.zeros(len(odd), n, dtype=torch.long)
    I2 = torch.zeros(len(odd), n, dtype=torch.bool)
    W2[torch.arange(len(odd)), odd] = 1
    has_next = odd + 1 < n
    I2[torch.arange(len(odd))[has_next], odd[has_next] + 1] = True
    exactly = MPLayer(W2, I2, torch.ones(len(odd), dtype=torch.long))
    any_odd = MPLayer(
        torch.ones(1, len(odd), dtype=torch.long),
        torch.zeros(1, len(odd), dtype=torch.bool),
        torch.ones(1, dtype=torch.long),
    )
    return MPNet((count, exactly, any_odd))


def truth_table_net(tables: torch.Tensor) -> MPNet:
    """Any Boolean functions of n inputs in two delays (Part II: every such expression is realizable).

    tables: (F, 2^n) 0/1, row f = the value of function f on input pattern r (bit j of r = input j).
    Layer 1 has one neuron per pattern r (a minterm): excited by the inputs that are on in r, inhibited by
    those that are off, threshold = how many are on. Layer 2, one neuron per function, ORs its true patterns.
    """
    F, R = tables.shape
    n = R.bit_length() - 1
    pattern = (torch.arange(R)[:, None] >> torch.arange(n)) & 1  # (2^n, n) bit j of r
    minterms = MPLayer(pattern.long(), pattern == 0, pattern.sum(1).long())
    disjunction = MPLayer(tables.long(), torch.zeros(F, R, dtype=torch.bool), torch.ones(F, dtype=torch.long))
    return MPNet((minterms, disjunction))


def all_single_neurons(n: int, max_weight: int, max_theta: int) -> MPLayer:
    """Every neuron on n fibres with synapses in {inhibitory, 0..max_weight excitatory}, theta in 0..max_theta.

    Used to check exhaustively that no single neuron computes XOR.
    """
    kinds = torch.arange(-1, max_weight + 1)  # -1 = inhibitory synapse, else a count
    grid = torch.cartesian_prod(*[kinds] * n).reshape(-1, n)  # (K, n) synapse kinds
    thetas = torch.arange(max_theta + 1)
    S = grid.repeat_interleave(len(thetas), 0)  # (K * T, n)
    theta = thetas.repeat(len(grid))  # (K * T,)
    return MPLayer(S.clamp(min=0), S < 0, theta)


# --- Part III: nets with circles --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MPCircleNet:
    """A net with circles: u(t) = cell([x(t), u(t-1)]), verdict y(t) = readout(u(t)).

    The neurons feed back into themselves, so the net can hold information about the arbitrarily distant
    past (Part III). The readout neuron fires one synaptic delay after u(t); we index its verdict by t,
    the number of input symbols it has seen.
    """

    cell: MPLayer
    """(m, p + m): reads the p input fibres and the m neurons of the circle."""
    readout: MPLayer
    """(r, m)"""
    u0: torch.Tensor
    """(m,) 0/1: which neurons are active before the first input arrives."""

    def run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, p) 0/1 -> verdicts y (B, T+1, r) after 0..T symbols, states U (B, T+1, m)."""
        B, T, _ = x.shape
        u = self.u0.to(x).expand(B, -1)  # (B, m)
        states = [u]
        for t in range(T):
            u = self.cell(torch.cat([x[:, t], u], dim=1))  # (B, p + m) -> (B, m)
            states.append(u)
        U = torch.stack(states, dim=1)  # (B, T+1, m)
        y = self.readout(U.reshape(B * (T + 1), -1))  # (B*(T+1), m) -> (B*(T+1), r)
        return y.reshape(B, T + 1, -1), U


def automaton_net(delta: list[list[int]], start: int, accept: set[int]) -> MPCircleNet:
    """A finite automaton over {0, 1} as a net with circles, one neuron per (state q, symbol a) pair.

    The construction is Minsky's (1967), after Kleene (1956), who made Part III's claim precise: neuron
    v_{q,a} fires at t iff the automaton was in state q before symbol t and symbol t is a. It is excited
    by every neuron whose arrival state is q (exactly one neuron is active at a time), and
      a = 1: also by the input fibre x, theta = 2;      a = 0: inhibited by x, theta = 1.
    A start neuron g (active only at t = 0, arrival state `start`) begins the chain. The readout fires iff
    the active neuron's arrival state delta(q, a) is accepting.
    Neuron order: [g, v_{0,0}, v_{0,1}, v_{1,0}, v_{1,1}, ...]; input fibre first in the cell's columns.
    """
    Q = len(delta)
    m = 1 + 2 * Q
    arrival = [start] + [delta[q][a] for q in range(Q) for a in (0, 1)]
    W = torch.zeros(m, 1 + m, dtype=torch.long)
    I = torch.zeros(m, 1 + m, dtype=torch.bool)
    theta = torch.ones(m, dtype=torch.long)  # g: no synapses, never fires again
    for q in range(Q):
        for a in (0, 1):
            i = 1 + 2 * q + a
            for j in range(m):
                W[i, 1 + j] = int(arrival[j] == q)
            if a == 1:
                W[i, 0], theta[i] = 1, 2
            else:
                I[i, 0] = True
    readout = MPLayer(
        torch.tensor([[int(s in accept) for s in arrival]]),
        torch.zeros(1, m, dtype=torch.bool),
        torch.ones(1, dtype=torch.long),
    )
    u0 = torch.zeros(m)
    u0[0] = 1.0
    return MPCircleNet(MPLayer(W, I, theta), readout, u0)
