"""Cho et al. (2014), Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine Translation.

The system in the paper's notation: the gated hidden unit of Sec. 2.3 (Eqs. 5-8, now called the GRU), the RNN
Encoder-Decoder of Sec. 2.2 (Eqs. 2-4) around it, and, for the comparison the paper leaves to its successors, the
same encoder-decoder with LSTM units (Hochreiter & Schmidhuber 1997, with a forget gate).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GRU(nn.Module):
    """The hidden unit that adaptively remembers and forgets (Sec. 2.3), unit j of h:

        r_j = σ([W_r x]_j + [U_r h_{t-1}]_j)                       (5)  reset gate
        z_j = σ([W_z x]_j + [U_z h_{t-1}]_j)                       (6)  update gate
        h̃_j = tanh([W x]_j + [U (r ⊙ h_{t-1})]_j)                  (8)  candidate
        h_j = z_j h_{t-1,j} + (1 - z_j) h̃_j                        (7)

    `reset_after=True` is PyTorch's nn.GRU instead: h̃ = tanh(W x + b + r ⊙ (U h_{t-1} + b_U)), the reset applied
    after U (Eq. 8 with r outside U). The parameters are stored in nn.GRU's layout (rows r, z, candidate) so that
    weights copy across; W_r, W_z, W and U_r, U_z, U are the three row blocks. Biases are added to every
    pre-activation (the paper's equations omit them)."""

    def __init__(self, n_in: int, H: int, reset_after: bool = False):
        super().__init__()
        self.H, self.reset_after = H, reset_after
        self.weight_ih = nn.Parameter(torch.empty(3 * H, n_in))  # [W_r; W_z; W]
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H))  # [U_r; U_z; U]
        self.bias_ih = nn.Parameter(torch.zeros(3 * H))
        self.bias_hh = nn.Parameter(torch.zeros(3 * H))
        nn.init.uniform_(self.weight_ih, -(H**-0.5), H**-0.5)
        nn.init.uniform_(self.weight_hh, -(H**-0.5), H**-0.5)

    def step(self, Wx_t: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One time step from the input projections Wx_t = [W_r x; W_z x; W x] + b (B, 3H) and h_{t-1} (B, H).
        Returns h_t, z, r (each (B, H))."""
        H = self.H
        U_rz, U = self.weight_hh[: 2 * H], self.weight_hh[2 * H :]  # (2H, H), (H, H)
        b_rz, b_U = self.bias_hh[: 2 * H], self.bias_hh[2 * H :]
        r, z = torch.sigmoid(Wx_t[:, : 2 * H] + F.linear(h, U_rz, b_rz)).chunk(2, dim=1)  # Eqs. (5), (6)
        if self.reset_after:
            h_tilde = torch.tanh(Wx_t[:, 2 * H :] + r * F.linear(h, U, b_U))  # nn.GRU's form
        else:
            h_tilde = torch.tanh(Wx_t[:, 2 * H :] + F.linear(r * h, U, b_U))  # Eq. (8): U (r ⊙ h_{t-1})
        return z * h + (1 - z) * h_tilde, z, r  # Eq. (7)

    def forward(self, x: torch.Tensor, h0: torch.Tensor, keep_gates: bool = False):
        """x (B, T, n_in), h0 (B, H) -> every h_t (B, T, H), and (z, r) each (B, T, H) when keep_gates."""
        Wx = F.linear(x, self.weight_ih, self.bias_ih)  # (B, T, 3H): the input projections of all steps at once
        h, hs, zs, rs = h0, [], [], []
        for t in range(x.shape[1]):
            h, z, r = self.step(Wx[:, t], h)
            hs.append(h)
            if keep_gates:
                zs.append(z), rs.append(r)
        gates = (torch.stack(zs, 1), torch.stack(rs, 1)) if keep_gates else None
        return torch.stack(hs, 1), gates  # (B, T, H)


class LSTM(nn.Module):
    """The comparison unit: an LSTM with input, forget and output gates (i, f, o) and a memory cell m,
    written in the same form as GRU (the input projections of all steps at once, one matmul per step):

        [i; f; o; g] = [σ; σ; σ; tanh](W x + U h_{t-1} + b),  m_t = f ⊙ m_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(m_t)

    Rows in nn.LSTM's order (i, f, g, o) so that weights copy across. Its state is (h, m): twice GRU's size."""

    def __init__(self, n_in: int, H: int):
        super().__init__()
        self.H = H
        self.weight_ih = nn.Parameter(torch.empty(4 * H, n_in))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H))
        self.bias_ih = nn.Parameter(torch.zeros(4 * H))
        self.bias_hh = nn.Parameter(torch.zeros(4 * H))
        nn.init.uniform_(self.weight_ih, -(H**-0.5), H**-0.5)
        nn.init.uniform_(self.weight_hh, -(H**-0.5), H**-0.5)

    def forward(self, x: torch.Tensor, h0: torch.Tensor, keep_gates: bool = False):
        """x (B, T, n_in), h0 (B, H) (the cell starts at 0) -> every h_t (B, T, H), and (f, i) when keep_gates."""
        Wx = F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)  # (B, T, 4H)
        h, m = h0, torch.zeros_like(h0)
        hs, fs, is_ = [], [], []
        for t in range(x.shape[1]):
            a = Wx[:, t] + F.linear(h, self.weight_hh)  # (B, 4H)
            i, f, g, o = a.chunk(4, dim=1)
            i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
            m = f * m + i * torch.tanh(g)
            h = o * torch.tanh(m)
            hs.append(h)
            if keep_gates:
                fs.append(f), is_.append(i)
        gates = (torch.stack(fs, 1), torch.stack(is_, 1)) if keep_gates else None
        return torch.stack(hs, 1), gates


class EncoderDecoder(nn.Module):
    """The RNN Encoder-Decoder (Sec. 2.2, Fig. 1; details from the paper's supplementary material).

    Encoder: h_t = f(h_{t-1}, x_t) over the source x_1..x_T (Eq. 1); its last state is the summary c.
    Decoder: h'_0 = tanh(V' c); h'_t = f(h'_{t-1}, y_{t-1}, c) (Eq. 2), c entering every step as an input;
    output p(y_t | y_{t-1}, h'_t, c) = g(h'_t, y_{t-1}, c) (Eq. 3): a maxout layer of `k` units, each the max of 2
    linear pieces of (h'_t, e(y_{t-1}), c), then a softmax whose weight is factored through rank m (the paper
    "approximates the output matrix with two lower-rank matrices"). Words enter through m-dim embeddings e(.)
    (the input matrix's low-rank factor). `unit` is "gru" (reset_after chooses the form) or "lstm"."""

    def __init__(self, V_src: int, V_tgt: int, m: int, H: int, k: int, unit: str = "gru", reset_after: bool = False):
        super().__init__()
        self.unit, self.H = unit, H
        self.e_x = nn.Embedding(V_src, m)  # source word embeddings
        self.e_y = nn.Embedding(V_tgt, m)  # target word embeddings
        cell = (lambda n_in: GRU(n_in, H, reset_after)) if unit == "gru" else (lambda n_in: LSTM(n_in, H))
        self.encoder = cell(m)
        self.decoder = cell(m + H)  # input [e(y_{t-1}); c]
        self.V_prime = nn.Linear(H, H)  # h'_0 = tanh(V' c)
        self.O_h = nn.Linear(H, 2 * k)  # maxout pre-activations: O_h h'_t + O_y e(y_{t-1}) + O_c c
        self.O_y = nn.Linear(m, 2 * k, bias=False)
        self.O_c = nn.Linear(H, 2 * k, bias=False)
        self.G_r = nn.Linear(k, m, bias=False)  # softmax weight G = G_l G_r, rank m
        self.G_l = nn.Linear(m, V_tgt)

    def encode(self, x: torch.Tensor, x_len: torch.Tensor, keep_gates: bool = False):
        """x (B, S) source ids, right-padded; the summary c (B, H) is h at each sentence's last symbol (EOS),
        which padding after it cannot change."""
        B = x.shape[0]
        hs, gates = self.encoder(self.e_x(x), self.e_x.weight.new_zeros(B, self.H), keep_gates)  # (B, S, H)
        c = hs[torch.arange(B), x_len - 1]  # (B, H)
        return c, gates

    def decode(self, c: torch.Tensor, y_prev: torch.Tensor, keep_gates: bool = False):
        """c (B, H), y_prev (B, T) = BOS, y_1..y_{T-1} -> logits (B, T, V_tgt) of y_1..y_T."""
        T = y_prev.shape[1]
        e = self.e_y(y_prev)  # (B, T, m)
        c_t = c.unsqueeze(1).expand(-1, T, -1)  # (B, T, H): c at every step
        hs, gates = self.decoder(torch.cat([e, c_t], 2), torch.tanh(self.V_prime(c)), keep_gates)  # (B, T, H)
        return self.output(hs, e, c_t), gates

    def output(self, h: torch.Tensor, e: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Eq. (3)'s g: s = maxout(O_h h'_t + O_y e(y_{t-1}) + O_c c), logits = G s. (..., H) -> (..., V_tgt)"""
        pre = self.O_h(h) + self.O_y(e) + self.O_c(c)  # (..., 2k)
        s = pre.unflatten(-1, (-1, 2)).amax(-1)  # (..., k): each maxout unit pools 2 inputs
        return self.G_l(self.G_r(s))

    def forward(self, x, x_len, y_prev):
        c, _ = self.encode(x, x_len)
        return self.decode(c, y_prev)[0]


def init_paper_(model: nn.Module, generator: torch.Generator) -> None:
    """Sec. 4.1: every weight from N(0, 0.01²) except the recurrent matrices, which are the left singular vectors
    of a white Gaussian matrix (orthogonal, Saxe et al. 2014), one per gate block; biases 0."""
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith("weight_hh"):
                H = p.shape[1]
                for block in p.split(H, dim=0):  # (H, H) each: U_r, U_z, U (or the LSTM's four)
                    U, _, _ = torch.linalg.svd(torch.randn(H, H, generator=generator))
                    block.copy_(U)
            elif "bias" in name:
                p.zero_()
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.01)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
