"""Vincent, Larochelle, Lajoie, Bengio & Manzagol (2010), Stacked Denoising Autoencoders.

The system in the paper's notation (Sec. 2-3 of the JMLR paper; section numbers from memory, not checked):

    x~ ~ q_D(x~ | x)                 corruption: masking noise, a fraction nu of x's components forced to 0
    y  = f_theta(x~)  = s(W x~ + b)   encoder, theta = {W, b}
    z  = g_theta'(y)  = s(W' y + b')  decoder, theta' = {W', b'}; tied weights: W' = W^T
    L_H(x, z) = - sum_k [x_k log z_k + (1 - x_k) log(1 - z_k)]   reconstruction cross-entropy, on the CLEAN x

A denoising autoencoder (DAE) minimises E_x E_{x~ ~ q_D(.|x)} L_H(x, g(f(x~))); with nu = 0, x~ = x and it is
a plain autoencoder. Stacking: layer l is a DAE trained on the uncorrupted codes f^(l-1)(...f^(1)(x)) of the
layers below; the corruption is used only while training a layer, never when passing codes upward. The stack
of encoders f^(L) o ... o f^(1), topped by a softmax layer, is then fine-tuned by supervised backprop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def s(a: torch.Tensor) -> torch.Tensor:
    """The paper's squashing nonlinearity s: the logistic sigmoid 1 / (1 + exp(-a))."""
    return torch.sigmoid(a)


def masking_noise(x: torch.Tensor, nu: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """q_D(x~ | x), masking noise (MN): for each example, a fraction nu of its d components, chosen at random,
    is forced to 0 and the rest is left untouched. Exactly round(nu * d) components per row are zeroed."""
    B, d = x.shape
    k = round(nu * d)
    if k == 0:
        return x
    r = torch.rand(B, d, generator=generator, device=x.device)  # (B, d) uniform keys
    dropped = r.topk(k, dim=1, largest=False).indices  # (B, k): the k components with the smallest keys
    keep = torch.ones_like(x).scatter_(1, dropped, 0.0)  # (B, d), exactly k zeros per row
    return x * keep


def L_H(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Reconstruction cross-entropy L_H(x, z) = -sum_k [x_k log z_k + (1 - x_k) log(1 - z_k)], one value per
    row: (B, d), (B, d) -> (B,). Written as the paper writes it; training uses the same loss from the decoder's
    pre-activation (`L_H_from_logits`), which is the same number without log(0) when z saturates."""
    return -(x * torch.log(z) + (1 - x) * torch.log(1 - z)).sum(dim=1)


def L_H_from_logits(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """L_H(x, s(a)) for z = s(a): -x log s(a) - (1 - x) log(1 - s(a)) = softplus(a) - x a, summed over k."""
    return (F.softplus(a) - x * a).sum(dim=1)


class DenoisingAutoencoder(nn.Module):
    """One layer: encoder f_theta(x~) = s(W x~ + b), decoder g_theta'(y) = s(W' y + b'), W' = W^T when tied.

    W is (d', d): row i is hidden unit i's filter on the d inputs (for the first layer, a 28x28 image).
    Initial weights are drawn from U(-init_range, init_range), biases start at zero."""

    def __init__(self, d: int, d_prime: int, tied: bool = True, init_range: float = 0.01,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.tied = tied
        self.W = nn.Parameter((torch.rand(d_prime, d, generator=generator) * 2 - 1) * init_range)
        self.b = nn.Parameter(torch.zeros(d_prime))
        self.b_prime = nn.Parameter(torch.zeros(d))
        if not tied:
            self.W_prime = nn.Parameter((torch.rand(d, d_prime, generator=generator) * 2 - 1) * init_range)

    def decoder_weight(self) -> torch.Tensor:
        """W' (d, d'): W^T for tied weights (one matrix, used both ways), else its own parameter."""
        return self.W.T if self.tied else self.W_prime

    def f(self, x: torch.Tensor) -> torch.Tensor:
        """y = f_theta(x) = s(W x + b): (B, d) @ (d, d') -> (B, d')."""
        return s(x @ self.W.T + self.b)

    def decoder_preactivation(self, y: torch.Tensor) -> torch.Tensor:
        """a = W' y + b': (B, d') @ (d', d) -> (B, d); the reconstruction is z = s(a)."""
        return y @ self.decoder_weight().T + self.b_prime

    def g(self, y: torch.Tensor) -> torch.Tensor:
        """z = g_theta'(y) = s(W' y + b')."""
        return s(self.decoder_preactivation(y))

    def loss(self, x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
        """The denoising criterion for one minibatch: mean over rows of L_H(x, g(f(x~))), reconstructing the
        clean x from the corrupted x~ (for a plain autoencoder, x~ is x itself)."""
        return L_H_from_logits(x, self.decoder_preactivation(self.f(x_tilde))).mean()


class StackedClassifier(nn.Module):
    """The deep network that supervised fine-tuning trains: the pretrained encoders f^(1) ... f^(L), copied
    (the DAEs keep their own weights), topped by a softmax output layer with weights V (10, d_L) and bias c.
    Decoders are not part of it: after pretraining only the encoders are kept."""

    def __init__(self, daes: list[DenoisingAutoencoder], V: torch.Tensor, c: torch.Tensor):
        super().__init__()
        self.W = nn.ParameterList([nn.Parameter(dae.W.detach().clone()) for dae in daes])
        self.b = nn.ParameterList([nn.Parameter(dae.b.detach().clone()) for dae in daes])
        self.V = nn.Parameter(V.detach().clone())
        self.c = nn.Parameter(c.detach().clone())

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """h^(L) = f^(L)(... f^(1)(x)): each layer (B, d_{l-1}) @ (d_{l-1}, d_l) -> (B, d_l)."""
        h = x
        for W, b in zip(self.W, self.b, strict=True):
            h = s(h @ W.T + b)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) V h^(L) + c: (B, d_L) @ (d_L, 10) -> (B, 10); softmax is in the loss."""
        return self.code(x) @ self.V.T + self.c


def encode_stack(daes: list[DenoisingAutoencoder], x: torch.Tensor) -> torch.Tensor:
    """The uncorrupted representation passed upward: f^(l)(... f^(1)(x)) through every DAE given."""
    h = x
    for dae in daes:
        h = dae.f(h)
    return h
