"""Long Short-Term Memory (Hochreiter & Schmidhuber 1997), the forget gate added by Gers, Schmidhuber & Cummins
(2000), and the tanh recurrent net both are measured against.

The 1997 memory cell block (Section 4, Fig. 1; appendix A.1, Eqs. 3-9). Block j has an input gate in_j, an
output gate out_j and S memory cells c_j^v. Every gate and cell reads the same vector z(t): the current input
x(t), the previous activations of all cells and gates, and a constant 1 for the bias (the paper writes this as
y^u(t-1); its experiments set the input units first, then update the hidden layer, Section 5 "What's common"):

    y^in_j(t)  = f(net_in_j(t)),   net_in_j(t)  = sum_u w_{in_j u} z_u(t)                   Eq. (7)
    y^out_j(t) = f(net_out_j(t)),  net_out_j(t) = sum_u w_{out_j u} z_u(t)                  Eq. (8)
    net_c(t)   = sum_u w_{c u} z_u(t)                                                       Eq. (9)
    s_c(t) = s_c(t-1) + y^in_j(t) g(net_c(t)),   s_c(0) = 0       the constant error carousel (CEC)
    y^c(t) = y^out_j(t) h(s_c(t))
    y^k(t) = f(sum_c w_{kc} y^c(t) + w_{k,bias})                  output units read memory cells only

    f(x) = 1 / (1 + e^-x)        (Eq. 3, range [0, 1]: gates and output units)
    h(x) = 2 / (1 + e^-x) - 1    (Eq. 4, range [-1, 1])
    g(x) = 4 / (1 + e^-x) - 2    (Eq. 5, range [-2, 2])

There is no forget gate: the internal state s_c is only ever added to, through a self-connection of weight 1.0.

Learning (Section 4 "Learning"; appendix A.1, Eqs. 19-28) is truncated: an error that reaches a gate's or a cell's
net input changes that unit's incoming weights but is not sent further back in time. The only way back in time is
the CEC, where d s_c(t) / d s_c(t-1) = 1 exactly (Eq. 35), so an error signal is neither scaled up nor down however
far it travels. `LSTM1997.states(truncate=True)` is that rule for autograd (the recurrent inputs are detached);
`LSTM1997.truncated_gradients` computes the same gradient with the appendix's equations, all time steps at once.

The forget-gate cell (Gers et al. 2000) in the form torch.nn.LSTM computes, the one now simply called LSTM:

    i_t = sigma(W_i x_t + U_i h_{t-1} + b_i)      input gate          (y^in)
    f_t = sigma(W_f x_t + U_f h_{t-1} + b_f)      forget gate         (new in 2000)
    g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)       cell input          (g(net_c))
    o_t = sigma(W_o x_t + U_o h_{t-1} + b_o)      output gate         (y^out)
    c_t = f_t * c_{t-1} + i_t * g_t               the CEC, its self-weight now a gate
    h_t = o_t * tanh(c_t)                         cell output         (y^c)

With f_t = 1 it is the 1997 cell with tanh squashing, one cell per block, and the gates reading only h_{t-1}.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call


def f(x: torch.Tensor) -> torch.Tensor:
    """Eq. (3): the logistic sigmoid of gates and output units, range [0, 1]."""
    return torch.sigmoid(x)


def h(x: torch.Tensor) -> torch.Tensor:
    """Eq. (4): squashes a cell's internal state into its output, range [-1, 1]; 2 / (1 + e^-x) - 1 = tanh(x / 2)."""
    return torch.tanh(x / 2)


def g(x: torch.Tensor) -> torch.Tensor:
    """Eq. (5): squashes a cell's net input before it enters the CEC, range [-2, 2]."""
    return 4 * torch.sigmoid(x) - 2


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class States(NamedTuple):
    """Everything one pass of LSTM1997 computes, step by step (L steps, batch n, B blocks, C = B*S cells)."""

    z: torch.Tensor
    """(L, n, I) what every gate and cell reads at step t: [x(t), y^c(t-1), y^in(t-1), y^out(t-1), 1]"""
    y_in: torch.Tensor
    """(L, n, B) input gate activations"""
    y_out: torch.Tensor
    """(L, n, B) output gate activations"""
    f_c: torch.Tensor
    """(L, n, C) f(net_c): the logistic of each cell's net input, from which g and g' follow"""
    s: torch.Tensor
    """(L, n, C) internal states s_c(t)"""
    y_c: torch.Tensor
    """(L, n, C) cell outputs y^c(t)"""


class LSTM1997(nn.Module):
    """Section 4 and appendix A.1: `blocks` memory cell blocks of `block_size` cells, each block with one input gate
    and one output gate; the hidden layer is fully connected (every gate and cell reads every cell and gate), the
    input layer feeds every gate and cell, and the output units read the cells only. All non-input units have a
    bias (Experiment 4). Weights start uniform in [-init_range, init_range]; the input gate biases of the blocks
    start at `in_gate_bias` (Experiment 4: -3, -6), the paper's remedy for internal state drift (Section 4).

    Weight matrices are named after the paper's w_{lm} (row l: the receiving unit, column m: the sending one);
    their last column is the bias: W_in (B, I), W_out (B, I), W_c (C, I), W_k (K, C + 1), with
    I = n_in + C + 2B + 1."""

    def __init__(self, n_in: int, n_out: int, blocks: int = 2, block_size: int = 2, init_range: float = 0.1,
                 in_gate_bias: tuple[float, ...] = (-3.0, -6.0), generator: torch.Generator | None = None):
        super().__init__()
        if len(in_gate_bias) != blocks:
            raise ValueError(f"in_gate_bias needs one value per block ({blocks}), got {len(in_gate_bias)}")
        self.n_in, self.B, self.S = n_in, blocks, block_size
        C = blocks * block_size
        I = n_in + C + 2 * blocks + 1

        def U(*shape):
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * init_range)

        self.W_in, self.W_out, self.W_c, self.W_k = U(blocks, I), U(blocks, I), U(C, I), U(n_out, C + 1)
        with torch.no_grad():
            self.W_in[:, -1] = torch.tensor(in_gate_bias)

    @property
    def C(self) -> int:
        return self.B * self.S

    def per_cell(self, y: torch.Tensor) -> torch.Tensor:
        """(..., B) one value per block -> (..., C) the same value for each of the block's S cells."""
        return y.repeat_interleave(self.S, dim=-1)

    def states(self, x: torch.Tensor, truncate: bool = True, s0: torch.Tensor | None = None) -> States:
        """x (L, n, n_in) -> States. truncate=True: the paper's learning rule, the recurrent inputs of z(t) are
        detached, so backward() follows the CEC only (Eqs. 30-35); False: full back-propagation through time.
        s0 (n, C): the internal states before step 0 (default 0, as the paper resets them for every sequence)."""
        L, n, _ = x.shape
        B, S, C = self.B, self.S, self.C
        # One matrix product per step gives every cell its block's gates: the gate rows are repeated once per
        # cell, so row c of each of the three parts below belongs to cell c.
        W = torch.cat([self.per_cell_rows(self.W_in), self.per_cell_rows(self.W_out), self.W_c])  # (3C, I)
        W_x, W_r, w_bias = W.split((self.n_in, C + 2 * B, 1), dim=1)
        a = (x @ W_x.T + w_bias[:, 0]).unbind(0)  # L x (n, 3C): the input's and the bias's part of each net input
        W_r_T = W_r.T  # (C + 2B, 3C)
        recurrent = x.new_zeros(n, C + 2 * B)  # [y^c, y^in, y^out] before step 0: activations reset per sequence
        s = x.new_zeros(n, C) if s0 is None else s0  # s_c(0) = 0
        rs, acts, ss, ys = [], [], [], []
        for t in range(L):
            r = recurrent.detach() if truncate and recurrent.requires_grad else recurrent
            act = f(torch.addmm(a[t], r, W_r_T))  # (n, 3C): [y^in, y^out per cell, f(net_c)]
            y_in, y_out, f_c = act.split(C, dim=1)
            s = torch.addcmul(s, y_in, 4 * f_c - 2)  # s_c(t) = s_c(t-1) + y^in g(net_c), as 4 f - 2 = g
            y_c = y_out * h(s)  # (n, C)
            recurrent = torch.cat([y_c, act[:, : 2 * C : S]], dim=1)  # one copy of each gate
            rs.append(r)
            acts.append(act)
            ss.append(s)
            ys.append(y_c)
        z = torch.cat([x, torch.stack(rs), x.new_ones(L, n, 1)], dim=2)  # (L, n, I)
        y_in, y_out, f_c = torch.stack(acts).split(C, dim=2)  # (L, n, C) each
        return States(z, y_in[..., ::S], y_out[..., ::S], f_c, torch.stack(ss), torch.stack(ys))

    def per_cell_rows(self, W: torch.Tensor) -> torch.Tensor:
        """(B, I) one row per block's gate -> (C, I) that row repeated for each of the block's S cells."""
        return W.repeat_interleave(self.S, dim=0)

    def net_k(self, y_c: torch.Tensor) -> torch.Tensor:
        """(..., C) cell outputs -> (..., K) net input of the output units (y^k = f(net_k))."""
        return y_c @ self.W_k[:, :-1].T + self.W_k[:, -1]  # (..., C) @ (C, K)

    def forward(self, x: torch.Tensor, truncate: bool = True) -> torch.Tensor:
        """x (L, n, n_in) -> net_k (L, n, K) at every step."""
        return self.net_k(self.states(x, truncate).y_c)

    @torch.no_grad()
    def truncated_gradients(self, st: States, e_k: torch.Tensor) -> None:
        """Appendix A.1's backward pass, all steps at once: set .grad of every weight to dE/dw under the truncated
        rule. st = self.states(x) for inputs x (L, n, n_in); e_k (L, n, K) = dE/dnet_k(t), zero where no target.

        The error arriving at a cell output from the output units at step t (Eq. 23 without the sign),
            e_s(t) = y^out(t) h'(s_c(t)) sum_k w_kc e_k(t),
        enters the CEC and flows back unchanged, so the error on s_c(t) is the sum of all later arrivals,
            delta_s(t) = sum_{tau >= t} e_s(tau)                        (Eqs. 24, 25, 27 with the sums swapped),
        from which each step's input gate and cell input take their share (Eqs. 26, 28); output gates and output
        units learn from the current step only (Eqs. 19, 21, 22)."""
        B, S = self.B, self.S
        L, n, _ = st.z.shape
        hs = h(st.s)  # (L, n, C)
        self.W_k.grad = torch.cat([e_k.flatten(0, 1).T @ st.y_c.flatten(0, 1), e_k.sum((0, 1))[:, None]], dim=1)
        dy_c = e_k @ self.W_k[:, :-1]  # (L, n, C): error at the cell outputs, (L, n, K) @ (K, C)
        e_out = (dy_c * hs).view(L, n, B, S).sum(-1) * st.y_out * (1 - st.y_out)  # (L, n, B), Eq. (21)
        e_s = dy_c * self.per_cell(st.y_out) * (1 - hs**2) / 2  # (L, n, C), Eq. (23): h' = (1 - h^2) / 2
        delta_s = e_s.flip(0).cumsum(0).flip(0)  # (L, n, C): the CEC carries each error back unchanged
        e_c = delta_s * self.per_cell(st.y_in) * 4 * st.f_c * (1 - st.f_c)  # (L, n, C): g' = 4 f (1 - f)
        e_in = (delta_s * (4 * st.f_c - 2)).view(L, n, B, S).sum(-1) * st.y_in * (1 - st.y_in)  # (L, n, B)
        z = st.z.flatten(0, 1)  # (L*n, I)
        self.W_in.grad = e_in.flatten(0, 1).T @ z  # (B, L*n) @ (L*n, I), Eq. (26)
        self.W_out.grad = e_out.flatten(0, 1).T @ z  # Eq. (22)
        self.W_c.grad = e_c.flatten(0, 1).T @ z  # Eq. (28)


@functools.cache
def _fused(kind: str, n_in: int, hidden: int) -> nn.Module:
    """A torch.nn.LSTM or RNN on the meta device (no storage), used only as a fast kernel through functional_call
    with a model's own weights; kept out of the model so that it adds no parameters."""
    cls = {"lstm": nn.LSTM, "rnn": nn.RNN}[kind]
    return cls(n_in, hidden, device="meta")


class ForgetGateLSTM(nn.Module):
    """Gers et al. (2000): the LSTM cell with a forget gate, as torch.nn.LSTM computes it (see the module docstring),
    and a linear readout of h_t. W_x (4H, n_in), W_h (4H, H), b (4H,) hold the four gates in torch's order
    (i, f, g, o). One bias per gate (torch keeps two, b_ih + b_hh, which add up to this one). Initial weights are
    torch's, uniform in +-1/sqrt(H); the forget gate bias starts at `forget_bias`."""

    def __init__(self, n_in: int, hidden: int, n_out: int, forget_bias: float = 1.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        bound = hidden**-0.5

        def U(*shape):
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.W_x, self.W_h, self.b = U(4 * hidden, n_in), U(4 * hidden, hidden), U(4 * hidden)
        self.W_hy, self.b_y = U(n_out, hidden), U(n_out)
        with torch.no_grad():
            self.b[hidden : 2 * hidden] = forget_bias

    @property
    def H(self) -> int:
        return self.W_h.shape[1]

    def cell(self, x_t: torch.Tensor, h_prev: torch.Tensor, c_prev: torch.Tensor):
        """One step: x_t (n, n_in), h_prev, c_prev (n, H) -> h_t, c_t (n, H)."""
        a = x_t @ self.W_x.T + h_prev @ self.W_h.T + self.b  # (n, 4H)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
        i_t, f_t, g_t, o_t = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_t = f_t * c_prev + i_t * g_t
        return o_t * torch.tanh(c_t), c_t

    def hidden_states(self, x: torch.Tensor, state=None, fast: bool = True):
        """x (L, n, n_in) -> h (L, n, H) and the last (h, c). fast=True runs torch's fused LSTM kernel on these
        same weights (equal to the step-by-step loop; tested)."""
        n = x.shape[1]
        h_t, c_t = state if state is not None else (x.new_zeros(n, self.H), x.new_zeros(n, self.H))
        if fast:
            weights = {"weight_ih_l0": self.W_x, "weight_hh_l0": self.W_h, "bias_ih_l0": self.b,
                       "bias_hh_l0": torch.zeros_like(self.b)}
            hs, (h_t, c_t) = functional_call(_fused("lstm", self.W_x.shape[1], self.H), weights,
                                             (x, (h_t[None], c_t[None])))
            return hs, (h_t[0], c_t[0])
        out = []
        for t in range(x.shape[0]):
            h_t, c_t = self.cell(x[t], h_t, c_t)
            out.append(h_t)
        return torch.stack(out), (h_t, c_t)

    def readout(self, hs: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., n_out): the output units' net input."""
        return hs @ self.W_hy.T + self.b_y


class TanhRNN(nn.Module):
    """The conventional recurrent net of Section 3: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), a linear readout of
    h_t, trained by full back-propagation through time. Initial weights uniform in +-1/sqrt(H), as torch.nn.RNN."""

    def __init__(self, n_in: int, hidden: int, n_out: int, generator: torch.Generator | None = None):
        super().__init__()
        bound = hidden**-0.5

        def U(*shape):
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.W_xh, self.W_hh, self.b_h = U(hidden, n_in), U(hidden, hidden), U(hidden)
        self.W_hy, self.b_y = U(n_out, hidden), U(n_out)

    @property
    def H(self) -> int:
        return self.W_hh.shape[0]

    def hidden_states(self, x: torch.Tensor, state=None, fast: bool = True):
        """x (L, n, n_in) -> h (L, n, H) and the last h; fast=True runs torch's fused RNN kernel on these weights."""
        h_t = state if state is not None else x.new_zeros(x.shape[1], self.H)
        if fast:
            weights = {"weight_ih_l0": self.W_xh, "weight_hh_l0": self.W_hh, "bias_ih_l0": self.b_h,
                       "bias_hh_l0": torch.zeros_like(self.b_h)}
            hs, h_t = functional_call(_fused("rnn", self.W_xh.shape[1], self.H), weights, (x, h_t[None]))
            return hs, h_t[0]
        out = []
        for t in range(x.shape[0]):
            h_t = torch.tanh(x[t] @ self.W_xh.T + h_t @ self.W_hh.T + self.b_h)  # (n, H)
            out.append(h_t)
        return torch.stack(out), h_t

    def readout(self, hs: torch.Tensor) -> torch.Tensor:
        return hs @ self.W_hy.T + self.b_y
