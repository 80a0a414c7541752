"""Vinyals et al. (2015), Show and Tell: A Neural Image Caption Generator.

The system in the paper's notation (Sec. 3 and 3.1). An image I and its sentence S = (S_0, ..., S_N), S_0 the start
word and S_N the stop word, each S_t a one-hot index into the vocabulary:

    x_{-1} = CNN(I)                                   (Eq. 10)  the image, fed to the LSTM once, at t = -1
    x_t    = W_e S_t,            t in {0 .. N-1}      (Eq. 11)  word embedding
    p_{t+1} = LSTM(x_t),         t in {0 .. N-1}      (Eq. 12)  softmax over the vocabulary from m_t
    L(I, S) = - sum_{t=1}^{N} log p_t(S_t)            (Eq. 13)

The LSTM (Eqs. 4-9: gates i, f, o, cell c_t, memory m_t = o_t * c_t, p_{t+1} = Softmax(m_t)) is torch's nn.LSTM. Its
gates are the paper's, with biases added, and its memory is m_t = o_t * tanh(c_t): the paper's text writes no tanh
and no biases, while the standard cell (and the authors' later public im2txt code) has both; see notes.md. Softmax(m_t)
is a linear map of m_t to the vocabulary followed by a softmax. The CNN here is a small convolutional net trained
jointly from scratch (the paper: GoogLeNet pretrained on ImageNet).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CNN(nn.Module):
    """A small convolutional image encoder: `len(widths)` blocks of 3x3 convolution, ReLU and 2x2 max pooling, then
    a linear map of the flattened maps to the word-embedding space (the paper's CNN(I): GoogLeNet's last layer,
    mapped to the embedding by a learned matrix, Sec. 3.1), and a batch normalisation of that vector."""

    def __init__(self, image_size: int, widths: tuple[int, ...], embed: int):
        super().__init__()
        layers, c, side = [], 3, image_size
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, side = w, side // 2
        self.convs = nn.Sequential(*layers)
        self.to_embedding = nn.Linear(c * side * side, embed)
        self.norm = nn.BatchNorm1d(embed, affine=False)  # not in the 2015 paper: see notes.md, Deviations

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) pictures in [-1, 1] -> (B, E) image vectors x_{-1}, standardised over the batch (in training;
        with running averages at test) so that the CNN cannot saturate the LSTM's gates with one constant."""
        return self.norm(self.to_embedding(self.convs(images).flatten(1)))


class ShowAndTell(nn.Module):
    """CNN(I) -> x_{-1}; W_e S_t -> x_t; an LSTM reads x_{-1}, x_0, ..., x_{N-1}; Softmax(m_t) gives p_{t+1}."""

    def __init__(
        self, vocab: int, image_size: int, widths: tuple[int, ...], embed: int, hidden: int, p_drop: float = 0.0
    ):
        super().__init__()
        self.cnn = CNN(image_size, widths, embed)
        self.W_e = nn.Embedding(vocab, embed)  # Eq. 11: x_t = W_e S_t
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)  # Eqs. 4-9
        self.drop = nn.Dropout(p_drop)  # Sec. 4.3.1: dropout against overfitting
        self.out = nn.Linear(hidden, vocab)  # Softmax(m_t), Eq. 9

    def start(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """t = -1: feed x_{-1} = CNN(I) once (Eq. 10). Returns x_{-1} (B, E) and the LSTM state (h, c), each
        (1, B, H); the output at t = -1 predicts nothing."""
        x_img = self.cnn(images)  # (B, E)
        _, state = self.lstm(self.drop(x_img).unsqueeze(1))
        return x_img, state

    def forward(self, images: torch.Tensor, S_in: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: images (B, 3, s, s), S_in = S_0 .. S_{N-1} (B, T) ids -> log p_1 .. p_N (B, T, V); with
        a (B, T) bool `mask`, only the masked positions' (K, V), so no softmax is spent on padding."""
        _, state = self.start(images)
        x = self.drop(self.W_e(S_in))  # (B, T, E), Eq. 11
        m, _ = self.lstm(x, state)  # (B, T, H): m_0 .. m_{N-1}
        if mask is not None:
            m = m[mask]  # (K, H)
        return F.log_softmax(self.out(self.drop(m)), dim=-1)  # Eq. 12: p_{t+1} from m_t

    def step(self, S_t: torch.Tensor, state):
        """One generation step: the previous word S_t (B,) and the state -> (log p_{t+1} (B, V), new state)."""
        m, state = self.lstm(self.W_e(S_t).unsqueeze(1), state)  # (B, 1, H)
        return F.log_softmax(self.out(m[:, 0]), dim=-1), state


def caption_loss(log_p: torch.Tensor, S_out: torch.Tensor, pad: int = 0) -> torch.Tensor:
    """Eq. 13, averaged over the words of the batch: - sum_t log p_t(S_t), S_out = S_1 .. S_N ((B, T) with PAD
    ignored, or the (K,) words of the masked positions)."""
    return F.nll_loss(log_p.reshape(-1, log_p.shape[-1]), S_out.reshape(-1), ignore_index=pad)
