"""Sutskever, Vinyals & Le (2014), Sequence to Sequence Learning with Neural Networks.

The system in the paper's notation (Section 2). An encoder LSTM reads the source sentence x_1..x_T (reversed, Sec. 3.3,
when the caller reverses it) and its last hidden state v (all layers' h and c, "8000 real numbers" for 4 layers of
1000 cells) starts a second, decoder LSTM, a language model over the target words conditioned on v:

    p(y_1, ..., y_T' | x_1, ..., x_T) = prod_{t=1}^{T'} p(y_t | v, y_1, ..., y_{t-1})             (Eq. 1)

each p(y_t | v, y_<t) a softmax over the target vocabulary; every sentence ends in <EOS>, so the model also says
when to stop. Two separate LSTMs ("two different LSTMs: one for the input sequence and another for the output
sequence", Sec. 2), both deep; all parameters drawn from U(-0.08, 0.08) (Sec. 3.4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.translation import PAD


class Seq2Seq(nn.Module):
    """Encoder LSTM -> v = (h_T, c_T) of every layer -> decoder LSTM -> softmax (Eq. 1, Section 2)."""

    def __init__(self, V_src: int, V_tgt: int, d: int, H: int, layers: int, init: float = 0.08,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.embed_x = nn.Embedding(V_src, d)  # source word vectors
        self.encoder = nn.LSTM(d, H, layers, batch_first=True)
        self.embed_y = nn.Embedding(V_tgt, d)  # target word vectors (the decoder's inputs)
        self.decoder = nn.LSTM(d, H, layers, batch_first=True)
        self.W_out = nn.Linear(H, V_tgt)  # the softmax over the target vocabulary
        with torch.no_grad():  # Sec. 3.4: "all of the LSTM's parameters with the uniform distribution [-0.08, 0.08]"
            for p in self.parameters():
                p.uniform_(-init, init, generator=generator)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v: the encoder's last (h, c), each (layers, B, H). Every row of x (B, T) must be a full sentence of the
        same length T (batches are made of sources of one length), so the last step is each sentence's own end."""
        _, v = self.encoder(self.embed_x(x))  # (B, T, d) -> h, c: (layers, B, H)
        return v

    def decode(self, y_in: torch.Tensor, v: tuple[torch.Tensor, torch.Tensor]):
        """log p(y_t | v, y_<t) for every position: y_in (B, T') is <s> y_1 .. y_{T'-1}; returns (B, T', V_tgt)
        log-probabilities and the decoder's last state."""
        s, state = self.decoder(self.embed_y(y_in), v)  # (B, T', H); the state starts at v (Eq. 1's conditioning)
        return F.log_softmax(self.W_out(s), dim=-1), state  # (B, T', V_tgt)

    def forward(self, x: torch.Tensor, y_in: torch.Tensor) -> torch.Tensor:
        return self.decode(y_in, self.encode(x))[0]

    def step(self, y_prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        """One decoder step for beam search: y_prev (N,) -> log p(y_t | v, y_<t) (N, V_tgt) and the new state (the
        same nn.LSTM run one position at a time)."""
        logp, state = self.decode(y_prev.unsqueeze(1), state)  # (N, 1, V) -> (N, V)
        return logp[:, 0], state


def sentence_nll(logp: torch.Tensor, y_out: torch.Tensor) -> torch.Tensor:
    """-log p(T | S) of each sentence (B,): the sum of -log p(y_t | v, y_<t) over its words and <EOS>; PAD
    positions (after <EOS>) count nothing. logp (B, T', V), y_out (B, T') = y_1 .. y_T' <EOS> <pad> ..."""
    nll = -logp.gather(2, y_out.unsqueeze(2)).squeeze(2)  # (B, T')
    return nll.masked_fill(y_out == PAD, 0.0).sum(1)
