"""Bahdanau, Cho & Bengio (2015), Neural Machine Translation by Jointly Learning to Align and Translate.

Two translators that differ only in how the decoder sees the source sentence x = (x_1, ..., x_Tx):

- RNNsearch (Sec. 3, Appendix A): a bidirectional GRU reads x into annotations h_j = [->h_j ; <-h_j] (Eq. 5), and
  at every target step i an alignment model scores each annotation against the previous decoder state,
      e_ij = a(s_{i-1}, h_j) = v_a^T tanh(W_a s_{i-1} + U_a h_j)          (Eq. 6, Appendix A.1.2)
      alpha_ij = exp(e_ij) / sum_k exp(e_ik)                                (Eq. 6)
      c_i = sum_j alpha_ij h_j                                              (Eq. 5)
  so the context vector c_i changes with i: the decoder (soft-)searches the source for what it needs next.
- RNNencdec (Sec. 2, Cho et al. 2014): the same encoder, but the whole sentence is squeezed into ONE fixed vector
  c = [->h_Tx ; <-h_1] (the two directions' final states), and c_i = c at every step.

The decoder is the same for both (Appendix A.2):
      s_i = f(s_{i-1}, y_{i-1}, c_i)            a GRU over the input [E y_{i-1} ; c_i]                   (Eq. 4)
      s_0 = tanh(W_s <-h_1)                                                                         (App. A.2.2)
      t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i,  t_i,k = max(t~_i,2k-1, t~_i,2k)     (maxout, App. A.2.2)
      p(y_i | y_<i, x) = softmax(W_o t_i)
Since t_i depends on s_{i-1} (not s_i), the readout of all steps is computed after the recurrence, in one batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD = 0


class Encoder(nn.Module):
    """Sec. 3.2: a bidirectional GRU over the embedded source; h_j = [->h_j ; <-h_j] (B, Tx, 2n)."""

    def __init__(self, K_x: int, m: int, n: int):
        super().__init__()
        self.E = nn.Embedding(K_x, m, padding_idx=PAD)
        self.rnn = nn.GRU(m, n, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, x_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, Tx) ids, PAD after each sentence. Returns h (B, Tx, 2n), zero at padding, and the last states
        (2, B, n): [->h_Tx, <-h_1] of each sentence at its own length (packing starts <-h at the true end)."""
        packed = pack_padded_sequence(self.E(x), x_len.cpu(), batch_first=True, enforce_sorted=False)
        out, last = self.rnn(packed)  # last: (2, B, n) = forward's state at Tx, backward's at position 1
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, Tx, 2n)
        return h, last


class Alignment(nn.Module):
    """Eq. (6) and Appendix A.1.2: the additive alignment model a(s_{i-1}, h_j) = v_a^T tanh(W_a s_{i-1} + U_a h_j).
    U_a h_j does not depend on i, so `keys` computes it once per sentence."""

    def __init__(self, n: int, n_a: int):
        super().__init__()
        self.W_a = nn.Linear(n, n_a, bias=False)
        self.U_a = nn.Linear(2 * n, n_a, bias=False)
        self.v_a = nn.Linear(n_a, 1, bias=False)

    def keys(self, h: torch.Tensor) -> torch.Tensor:
        return self.U_a(h)  # (B, Tx, 2n) -> (B, Tx, n')

    def forward(self, s_prev: torch.Tensor, Uh: torch.Tensor, h: torch.Tensor, mask: torch.Tensor):
        """s_prev (B, n), Uh (B, Tx, n'), h (B, Tx, 2n), mask (B, Tx) True at real positions.
        Returns c_i (B, 2n) and alpha_i (B, Tx); alpha is exactly 0 at padding and sums to 1 over j."""
        e = self.v_a(torch.tanh(self.W_a(s_prev).unsqueeze(1) + Uh)).squeeze(2)  # (B, 1, n') + (B, Tx, n') -> (B, Tx)
        alpha = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)  # (B, Tx)
        c = torch.bmm(alpha.unsqueeze(1), h).squeeze(1)  # (B, 1, Tx) @ (B, Tx, 2n) -> (B, 2n)
        return c, alpha


class Translator(nn.Module):
    """RNNsearch (attention=True) or RNNencdec (attention=False) of the same size (module docstring).

    K_x, K_y: vocabulary sizes; m: word-embedding size (paper 620); n: hidden units of each encoder direction and
    of the decoder (paper 1000); n_a: hidden units of the alignment model (paper 1000); l: maxout units (paper 500)."""

    def __init__(self, K_x: int, K_y: int, m: int, n: int, n_a: int, l: int, attention: bool = True):
        super().__init__()
        self.attention = attention
        self.encoder = Encoder(K_x, m, n)
        self.E = nn.Embedding(K_y, m, padding_idx=PAD)  # target embeddings E y_{i-1}
        self.W_s = nn.Linear(n, n)  # s_0 = tanh(W_s <-h_1)
        self.f = nn.GRUCell(m + 2 * n, n)  # s_i = f(s_{i-1}, [E y_{i-1} ; c_i])
        self.U_o = nn.Linear(n, 2 * l)
        self.V_o = nn.Linear(m, 2 * l, bias=False)
        self.C_o = nn.Linear(2 * n, 2 * l, bias=False)
        self.W_o = nn.Linear(l, K_y)
        # built last, so that under one seed both models draw the same weights for the parts they share
        self.align = Alignment(n, n_a) if attention else None

    def encode(self, x: torch.Tensor, x_len: torch.Tensor) -> dict[str, torch.Tensor]:
        """The decoder's starting state: s_0, the annotations (or the fixed c), all batch-first."""
        h, last = self.encoder(x, x_len)  # (B, Tx, 2n), (2, B, n)
        state = {"s": torch.tanh(self.W_s(last[1])), "mask": x != PAD}  # s_0 = tanh(W_s <-h_1): (B, n)
        if self.attention:
            state |= {"h": h, "Uh": self.align.keys(h)}
        else:
            state["c"] = torch.cat([last[0], last[1]], dim=1)  # the fixed vector [->h_Tx ; <-h_1] (B, 2n)
        return state

    def context(self, state: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """c_i and alpha_i for the current s_{i-1} (RNNencdec: the fixed c, no alpha)."""
        if not self.attention:
            return state["c"], None
        return self.align(state["s"], state["Uh"], state["h"], state["mask"])

    def readout(self, s_prev: torch.Tensor, Ey_prev: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Appendix A.2.2: logits W_o t_i with the maxout t_i over t~_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i.
        Works on any leading shape (..., n), (..., m), (..., 2n) -> (..., K_y)."""
        t_tilde = self.U_o(s_prev) + self.V_o(Ey_prev) + self.C_o(c)  # (..., 2l)
        t = t_tilde.unflatten(-1, (-1, 2)).amax(-1)  # pairs (2k-1, 2k) -> their max: (..., l)
        return self.W_o(t)

    def forward(self, x, x_len, y_prev) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing. x (B, Tx), y_prev (B, Ty) = BOS then the target shifted right.
        Returns logits (B, Ty, K_y) and the alignments alpha (B, Ty, Tx) (None for RNNencdec)."""
        state = self.encode(x, x_len)
        Ey = self.E(y_prev)  # (B, Ty, m)
        S, C, A = [], [], []
        for i in range(y_prev.shape[1]):
            c, alpha = self.context(state)
            S.append(state["s"]), C.append(c), A.append(alpha)
            state["s"] = self.f(torch.cat([Ey[:, i], c], dim=1), state["s"])  # (B, m + 2n) -> s_i (B, n)
        logits = self.readout(torch.stack(S, 1), Ey, torch.stack(C, 1))  # (B, Ty, n), (B, Ty, m), (B, Ty, 2n)
        return logits, (torch.stack(A, 1) if self.attention else None)

    def step(self, y_prev: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """One decoding step for beam search: log p(y_i | y_<i, x) (B, K_y) and the state with s_i."""
        Ey = self.E(y_prev)  # (B, m)
        c, _ = self.context(state)
        logp = F.log_softmax(self.readout(state["s"], Ey, c), dim=-1)
        return logp, state | {"s": self.f(torch.cat([Ey, c], dim=1), state["s"])}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
