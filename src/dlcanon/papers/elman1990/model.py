"""The simple recurrent network (SRN) of Elman (1990), "Finding Structure in Time", Cognitive Science 14.

A layered net whose hidden layer also reads a bank of *context units*; after every time step the hidden
activations are copied, one to one and with weight 1, into the context units, so at the next step the hidden
layer sees the new input together with its own previous state (the paper's Fig. 2):

    c_t = h_{t-1}                                   context units: a fixed copy, not a learned connection
    h_t = f(W_xh x_t + W_ch c_t + b_h)              hidden units, f the logistic function
    y_t = softmax(W_hy h_t + b_y)                   prediction of the next item x_{t+1}

Elman trained it with plain back-propagation, treating the context units as one more set of inputs: the
error at step t changes W_xh, W_ch, W_hy and the biases, and stops at c_t (the copy is not differentiated).
`hidden_states(..., through_time=False)` is that rule. `through_time=True` instead lets the gradient flow back
through the copies (truncated back-propagation through time), an option the paper does not use.

x_t is a localist (one-hot) code, so W_xh x_t is column x_t of W_xh: the code takes item indices.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh}


class SRN(nn.Module):
    """Fig. 2: input units x, hidden units h, context units c (a copy of h_{t-1}), output units y.

    n_items is the size of the localist code (letters or words) for both input and output.
    f = "sigmoid" as in the paper; "tanh" gives the cell of torch.nn.RNN (used by the parity test).
    Weights start uniform in +-1/sqrt(fan-in), a common choice; the paper does not print its range.
    """

    def __init__(self, n_items: int, n_hidden: int, f: str = "sigmoid", generator: torch.Generator | None = None):
        super().__init__()
        self.f = ACTIVATIONS[f]

        def U(*shape, fan_in):
            bound = 1.0 / math.sqrt(fan_in)
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.W_xh = U(n_hidden, n_items, fan_in=n_items + n_hidden)  # input -> hidden
        self.W_ch = U(n_hidden, n_hidden, fan_in=n_items + n_hidden)  # context -> hidden
        self.b_h = U(n_hidden, fan_in=n_items + n_hidden)
        self.W_hy = U(n_items, n_hidden, fan_in=n_hidden)  # hidden -> output
        self.b_y = U(n_items, fan_in=n_hidden)

    @property
    def n_hidden(self) -> int:
        return self.W_ch.shape[0]

    def cell(self, x_t: torch.Tensor, c_t: torch.Tensor) -> torch.Tensor:
        """One step, h_t = f(W_xh x_t + W_ch c_t + b_h). x_t (B,) item indices, c_t (B, H) -> h_t (B, H)."""
        return self.f(self.W_xh.T[x_t] + c_t @ self.W_ch.T + self.b_h)  # (B, H) + (B, H) @ (H, H)

    def hidden_states(self, x: torch.Tensor, h0: torch.Tensor, through_time: bool = False) -> torch.Tensor:
        """x (T, B) item indices, h0 (B, H) the context before step 0 -> h (T, B, H), h[t] = h_t.

        through_time=False is Elman's rule: run the copy loop without recording gradients to get the context
        c_t at every step, then compute all T steps again at once with c_t as a constant input. The values
        equal those of the step-by-step loop; the gradient stops at the copy, as in the paper."""
        a_x = self.W_xh.T[x] + self.b_h  # (T, B, H): W_xh x_t + b_h for every step at once
        if through_time:
            h, out = h0, []
            for t in range(x.shape[0]):
                h = self.f(a_x[t] + h @ self.W_ch.T)  # (B, H)
                out.append(h)
            return torch.stack(out)  # (T, B, H)
        with torch.no_grad():
            c = self.contexts(a_x, h0)  # (T, B, H)
        return self.f(a_x + c @ self.W_ch.T)  # (T, B, H) @ (H, H)

    def contexts(self, a_x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """The context units at every step, c_t = h_{t-1}, from the copy loop. a_x (T, B, H) -> (T, B, H)."""
        h, out = h0, []
        for t in range(a_x.shape[0]):
            out.append(h)
            h = self.f(a_x[t] + h @ self.W_ch.T)  # (B, H)
        return torch.stack(out)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., H) -> (..., n_items): the output units before the softmax, read as a prediction of x_{t+1}."""
        return h @ self.W_hy.T + self.b_y  # (..., H) @ (H, n_items)
