"""Collobert et al. (2011), Natural Language Processing (Almost) from Scratch: the window approach.

Section 3 of the paper, in its notation:
  lookup tables (Sec. 3.2.1)   LT_W(w) = <W>^1_w, one d_wrd-vector per word of the dictionary D, and one
                               lookup table per discrete feature (here the capitalisation feature, Sec. 3.5)
  window approach (Eq. 1-3)    f^1_theta = concatenation of the feature vectors of the d_win words around the
                               word to tag; f^2 = hardtanh(W^2 f^1 + b^2); f^3 = W^3 f^2 + b^3, one score per tag
  word-level log-likelihood    log p(i | x) = [f]_i - logadd_j [f]_j (Eq. 11-12), cross-entropy over tags
  ranking language model       sum_x sum_w max(0, 1 - f(x) + f(x^(w))) (Eq. 17, Sec. 4.1): a window of text
                               should score at least 1 above the same window with its centre word replaced
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def hardtanh(x: torch.Tensor) -> torch.Tensor:
    """Eq. 5: -1 below -1, x in between, 1 above 1."""
    return x.clamp(-1.0, 1.0)


class WindowNet(nn.Module):
    """The window approach network f_theta (Eq. 1-3, Fig. 1): lookup tables, a linear layer, hardtanh, a linear
    layer with one output per class. Used as the tagger (n_out = |T| tags, with a capitalisation table) and as
    the language model's scorer (n_out = 1, words only). The word table W may be shared between two nets."""

    def __init__(
        self,
        words: nn.Embedding,
        d_win: int,
        n_hidden: int,
        n_out: int,
        n_caps: int = 0,
        d_caps: int = 0,
        generator: torch.Generator | None = None,
        caps_std: float = 0.1,
    ):
        super().__init__()
        self.words = words  # LT_W: (|D|, d_wrd), maybe shared
        self.d_win = d_win
        self.caps = nn.Embedding(n_caps, d_caps, sparse=True) if n_caps else None  # caps LT: (n_caps, d_caps)
        d_in = d_win * (words.embedding_dim + d_caps)
        self.W2 = nn.Linear(d_in, n_hidden)  # W^2, b^2
        self.W3 = nn.Linear(n_hidden, n_out)  # W^3, b^3
        if generator is not None:  # uniform fan-in initialisation of the layers (our reading of the paper)
            for m in (self.W2, self.W3):
                bound = m.in_features**-0.5
                with torch.no_grad():
                    m.weight.uniform_(-bound, bound, generator=generator)
                    m.bias.uniform_(-bound, bound, generator=generator)
            if self.caps is not None:
                with torch.no_grad():
                    self.caps.weight.normal_(0.0, caps_std, generator=generator)

    def f1(self, w: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 1: (B, d_win) word indices (and caps indices) -> (B, d_win * (d_wrd + d_caps)) concatenation."""
        x = self.words(w)  # (B, d_win, d_wrd)
        if self.caps is not None:
            x = torch.cat([x, self.caps(c)], dim=-1)  # (B, d_win, d_wrd + d_caps)
        return x.flatten(1)

    def forward(self, w: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 2-3: (B, d_win) -> (B, n_out) scores."""
        return self.W3(hardtanh(self.W2(self.f1(w, c))))


def word_level_nll(scores: torch.Tensor, tags: torch.Tensor) -> torch.Tensor:
    """Eq. 11-12: mean over windows of -( [f]_y - logadd_j [f]_j ) = cross-entropy of the softmax over tags."""
    return (torch.logsumexp(scores, dim=1) - scores.gather(1, tags[:, None])[:, 0]).mean()


def ranking_loss(f_x: torch.Tensor, f_xw: torch.Tensor) -> torch.Tensor:
    """Eq. 17 for sampled pairs: mean of max(0, 1 - f(x) + f(x^(w))) over windows x and corrupting words w."""
    return F.relu(1.0 - f_x + f_xw).mean()


def corrupt_centre(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x^(w): the window x (B, d_win) with its centre word replaced by w (B,)."""
    out = x.clone()
    out[:, x.shape[1] // 2] = w
    return out
