"""Hinton, Srivastava, Krizhevsky, Sutskever & Salakhutdinov (2012), "Improving neural networks by preventing
co-adaptation of feature detectors" (arXiv 1207.0580): a feed-forward net trained with dropout.

The system, in the paper's terms (p. 1-2 and Appendix A.1):
    net          x = h_0 -> h_1 -> ... -> h_L -> softmax,   h_l = logistic(h_{l-1} W_l + b_l)   (784-800-800-10)
    dropout      on each training case, each unit of layer l (inputs included) is omitted with probability p_l:
                 its output is multiplied by m ~ Bernoulli(1 - p_l); the paper uses p = 0.5 for hidden units and
                 p = 0.2 for the pixels. There is no rescaling while training.
    mean network at test time every unit is present and its *outgoing* weights are multiplied by its retention
                 probability q_l = 1 - p_l ("outgoing weights halved" for p = 0.5): W_{l+1} -> q_l W_{l+1}.
    thinned net  one draw of the masks, fixed, applied to every test case: one of the 2^N nets that share weights.
    max-norm     a separate L2 bound on the incoming weights of each hidden unit: after every update, a hidden
                 unit whose incoming weight vector w_j has |w_j|^2 > l is scaled back to |w_j|^2 = l.

With one hidden layer and a softmax output, the mean network's prediction *is* the normalised geometric mean
of the predictions of all 2^N thinned nets (p. 2); with more layers it is an approximation. `geometric_mean`
and `arithmetic_mean` combine the predictions of sampled thinned nets, for comparison with the mean network.

PyTorch's `F.dropout` uses the "inverted" convention instead (scale the kept units by 1/q while training,
nothing at test time). For a layer that is linear in the dropped units the two are the same net with
W_inverted = q W_paper; the tests check it with F.dropout's own masks.
"""

from __future__ import annotations

import torch
from torch import nn


def logistic(a: torch.Tensor) -> torch.Tensor:
    """The hidden units' non-linearity, 1 / (1 + exp(-a))."""
    return torch.sigmoid(a)


def sample_mask(shape: tuple[int, ...], p: float, generator: torch.Generator | None = None, device=None):
    """m ~ Bernoulli(1 - p), elementwise: 1 keeps a unit, 0 omits it (p = the probability of omission)."""
    return (torch.rand(shape, generator=generator, device=device) >= p).float()


def dropout(h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The paper's dropout: an omitted unit outputs 0, a kept unit its own value (no 1/q rescaling)."""
    return h * m  # m (B, n): one thinned net per case; (n,): one for the batch; (K, 1, n): K nets, each on all


def inverted_dropout(h: torch.Tensor, m: torch.Tensor, p: float) -> torch.Tensor:
    """PyTorch's convention (F.dropout): kept units scaled by 1/q while training, so nothing changes at test."""
    return h * m / (1.0 - p)


class DropoutNet(nn.Module):
    """A feed-forward net of logistic hidden units and a softmax output, trained with dropout (p. 1-2).

    sizes (784, 800, 800, 10); p_input, p_hidden: probabilities of omitting an input / a hidden unit.
    W_l has shape (n_{l-1}, n_l): column j holds the incoming weights of unit j, row i the outgoing weights of
    unit i of the layer below. Init N(0, init_std^2) for the weights (Appendix A.1), zero biases.
    """

    def __init__(self, sizes: tuple[int, ...], p_input: float = 0.2, p_hidden: float = 0.5,
                 init_std: float = 0.01, generator: torch.Generator | None = None):  # fmt: skip
        super().__init__()
        self.sizes = tuple(sizes)
        self.p = [p_input] + [p_hidden] * (len(sizes) - 2)  # p[l]: omission probability of layer l's units
        self.W = nn.ParameterList(
            nn.Parameter(torch.randn(n_in, n_out, generator=generator) * init_std)
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(n_out)) for n_out in sizes[1:])

    def forward(self, x: torch.Tensor, masks: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        """Logits of the *mean network* when masks is None (every unit present, outgoing weights times q_l);
        otherwise of the thinned net given by masks[l] for each layer below the output (inputs first; None:
        every unit of that layer present)."""
        h = x  # (B, n_0)
        for l, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            if masks is None:
                q = 1.0 - self.p[l]
                a = h @ (q * W if q < 1.0 else W) + b  # mean network: (B, n_l) @ (n_l, n_{l+1})
            else:
                a = (h if masks[l] is None else dropout(h, masks[l])) @ W + b  # omitted units send nothing
            h = logistic(a) if l < len(self.W) - 1 else a
        return h  # (B, n_L) logits; softmax gives the class probabilities

    def sample_masks(self, batch: tuple[int, ...], generator: torch.Generator | None = None, device=None):
        """One mask per layer below the output (None where p = 0: nothing to omit): batch=(B,) for a fresh
        thinned net per training case, batch=() for one thinned net shared by every case."""
        return [sample_mask((*batch, n), p, generator, device) if p > 0 else None
                for n, p in zip(self.sizes[:-1], self.p, strict=True)]  # fmt: skip

    def train_logits(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits while training: a new random thinned net for every training case."""
        return self(x, self.sample_masks((len(x),), generator, x.device))

    @torch.no_grad()
    def max_norm_(self, l_max: float) -> None:
        """Appendix A.1: the incoming weight vector w_j of each *hidden* unit is kept to |w_j|^2 <= l_max by
        dividing it by |w_j| / sqrt(l_max) whenever an update takes it outside (the output layer is free)."""
        for W in self.W[:-1]:
            norm2 = W.square().sum(0, keepdim=True)  # (1, n_out): |w_j|^2 of each unit
            W.mul_(torch.clamp(l_max / norm2, max=1.0).sqrt())


def geometric_mean(logits: torch.Tensor) -> torch.Tensor:
    """Normalised geometric mean of k nets' class distributions: softmax(mean_k log softmax(z_k)).
    logits (k, B, C) -> probabilities (B, C)."""
    return torch.softmax(torch.log_softmax(logits, -1).mean(0), -1)


def arithmetic_mean(logits: torch.Tensor) -> torch.Tensor:
    """Plain average of k nets' class distributions, (k, B, C) -> (B, C)."""
    return torch.softmax(logits, -1).mean(0)
