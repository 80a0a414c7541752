"""Hinton (2005), "What Kind of Graphical Model is the Brain?": the restricted Boltzmann machine (RBM), its
learning rule by contrastive divergence, and the greedy stacking of RBMs into a deep generative model.

An RBM is a two-layer Boltzmann machine with no connections inside a layer:
    v  (B, n_v)    binary visible units (pixels), biases b
    h  (B, n_h)    binary hidden units (feature detectors), biases c
    W  (n_v, n_h)  symmetric weights, W_ij between v_i and h_j
The paper writes both biases as b_i, b_j; we call the hidden ones c so the code can tell them apart.

    energy          E(v, h) = -b.v - c.h - v^T W h,       p(v, h) = exp(-E(v, h)) / Z
    conditionals    p(h_j = 1 | v) = sigma(c_j + sum_i v_i W_ij),   p(v_i = 1 | h) = sigma(b_i + sum_j W_ij h_j)
    free energy     F(v) = -b.v - sum_j log(1 + exp(c_j + sum_i v_i W_ij)),   p(v) = exp(-F(v)) / Z
    likelihood      d log p(v) / d W_ij = <v_i h_j>_data - <v_i h_j>_model                       (maximum likelihood)
    CD-1            dW_ij ~ <v_i h_j>_data - <v_i h_j>_recon   (model term from one step of alternating Gibbs)

Greedy stacking: the hidden states an RBM infers from the data are the data of the next RBM. Started from the
first RBM's weights transposed, the second RBM gives the hidden states the same prior as the first; training it
can only raise a variational lower bound on log p(v) (the bound of Hinton, Osindero & Teh 2006, Sec. 4):
    log p(v) >= sum_h Q(h|v) [log p_2(h) + log p(v|h)] - sum_h Q(h|v) log Q(h|v)
with Q(h|v) = prod_j p(h_j | v) the first RBM's (factorial) inference and p(v|h) its generative conditional.

With one layer small (<= ~20 units) every sum over that layer's 2^n states is done exactly here: Z, the model's
expectations, the exact maximum-likelihood gradient, the bound and the two-layer model's exact log p(v).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn


@functools.lru_cache(maxsize=8)
def all_states(n: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """(2^n, n): every binary vector of length n, row k holding the bits of k (least significant first).
    Cached (do not modify the result in place)."""
    k = torch.arange(2**n, device=device)[:, None]  # (2^n, 1)
    return ((k >> torch.arange(n, device=device)) & 1).to(dtype)  # (2^n, n)


def bernoulli(p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A stochastic binary state: 1 with probability p, drawn from `generator`."""
    return (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(p.dtype)


class RBM(nn.Module):
    """A binary-binary restricted Boltzmann machine; W starts small and random, the biases at zero."""

    def __init__(self, n_v: int, n_h: int, init_std: float = 0.01, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32):  # fmt: skip
        super().__init__()
        self.W = nn.Parameter(torch.randn(n_v, n_h, generator=generator, dtype=dtype) * init_std)
        self.b = nn.Parameter(torch.zeros(n_v, dtype=dtype))  # visible biases
        self.c = nn.Parameter(torch.zeros(n_h, dtype=dtype))  # hidden biases

    @property
    def n_v(self) -> int:
        return self.W.shape[0]

    @property
    def n_h(self) -> int:
        return self.W.shape[1]

    # -- the conditionals: the layers are independent given each other ------------------------------------------
    def p_h(self, v: torch.Tensor) -> torch.Tensor:
        """p(h_j = 1 | v) = sigma(c_j + sum_i v_i W_ij): (B, n_v) -> (B, n_h)."""
        return torch.sigmoid(self.c + v @ self.W)  # (B, n_v) @ (n_v, n_h)

    def p_v(self, h: torch.Tensor) -> torch.Tensor:
        """p(v_i = 1 | h) = sigma(b_i + sum_j W_ij h_j): (B, n_h) -> (B, n_v)."""
        return torch.sigmoid(self.b + h @ self.W.T)  # (B, n_h) @ (n_h, n_v)

    def sample_v(self, p: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A visible state drawn from its conditional probabilities p = p(v | h): each unit on with its own p."""
        return bernoulli(p, generator)

    # -- energies --------------------------------------------------------------------------------------------------
    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = -b.v - c.h - v^T W h, (B,)."""
        return -(v @ self.b) - (h @ self.c) - ((v @ self.W) * h).sum(-1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + v.W_j), (B,): h summed out exactly."""
        return -(v @ self.b) - F.softplus(self.c + v @ self.W).sum(-1)

    def free_energy_h(self, h: torch.Tensor) -> torch.Tensor:
        """The same with the roles swapped: F(h) = -log sum_v exp(-E(v, h)) = -c.h - sum_i softplus(b_i + W_i.h)."""
        return -(h @ self.c) - F.softplus(self.b + h @ self.W.T).sum(-1)

    # -- exact sums over the smaller layer -------------------------------------------------------------------------
    def enumerate_smaller_layer(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every state s of the smaller layer with its unnormalised log-probability -F(s) and the other layer's
        conditional mean. Returns (log_w (S,), v (S, n_v), h (S, n_h)): one of v, h is the enumerated states,
        the other its conditional expectation, so that sum_s softmax(log_w)_s v_s h_s^T = <v h^T>_model."""
        if self.n_h <= self.n_v:
            h = all_states(self.n_h, self.W.dtype, self.W.device)  # (S, n_h)
            a = self.b + h @ self.W.T  # (S, n_h) @ (n_h, n_v): shared by -F(h) and p(v | h)
            return h @ self.c + F.softplus(a).sum(-1), torch.sigmoid(a), h
        v = all_states(self.n_v, self.W.dtype, self.W.device)  # (S, n_v)
        a = self.c + v @ self.W  # (S, n_v) @ (n_v, n_h): shared by -F(v) and p(h | v)
        return v @ self.b + F.softplus(a).sum(-1), v, torch.sigmoid(a)

    def log_Z(self) -> torch.Tensor:
        """log Z = log sum_{v,h} exp(-E(v, h)), exactly: the larger layer is summed out analytically (free
        energy) and the 2^min(n_v, n_h) states of the smaller layer are enumerated."""
        log_w, _, _ = self.enumerate_smaller_layer()
        return torch.logsumexp(log_w, 0)

    def log_prob(self, v: torch.Tensor, log_Z: torch.Tensor | None = None) -> torch.Tensor:
        """log p(v) = -F(v) - log Z, exactly (B,)."""
        return -self.free_energy(v) - (self.log_Z() if log_Z is None else log_Z)

    def log_prob_h(self, h: torch.Tensor, log_Z: torch.Tensor | None = None) -> torch.Tensor:
        """The marginal of the hidden layer, log p(h) = -F(h) - log Z (B,)."""
        return -self.free_energy_h(h) - (self.log_Z() if log_Z is None else log_Z)

    # -- learning --------------------------------------------------------------------------------------------------
    def model_expectations(self) -> dict[str, torch.Tensor]:
        """<v h^T>, <v>, <h> under the model's equilibrium distribution, exactly (by enumeration)."""
        log_w, v, h = self.enumerate_smaller_layer()
        p = torch.softmax(log_w, 0)  # (S,)
        return {"W": (p[:, None] * v).T @ h, "b": p @ v, "c": p @ h}  # (n_v, S) @ (S, n_h)

    def data_expectations(self, v0: torch.Tensor) -> dict[str, torch.Tensor]:
        """<v h^T>, <v>, <h> with v clamped to the data and h at its conditional mean p(h | v), batch means."""
        ph0 = self.p_h(v0)  # (B, n_h)
        return {"W": v0.T @ ph0 / len(v0), "b": v0.mean(0), "c": ph0.mean(0)}  # (n_v, B) @ (B, n_h)

    def exact_gradient(self, v0: torch.Tensor) -> dict[str, torch.Tensor]:
        """The maximum-likelihood gradient of mean log p(v0): <.>_data - <.>_model, the model term exact."""
        data, model = self.data_expectations(v0), self.model_expectations()
        return {k: data[k] - model[k] for k in data}

    def cd_gradient(self, v0: torch.Tensor, k: int = 1, generator: torch.Generator | None = None):
        """Contrastive divergence CD-k: <.>_data - <.>_recon, where the reconstruction comes from k steps of
        alternating Gibbs sampling started at the data (binary stochastic states throughout). Products use the
        hidden probabilities p(h | v) in place of sampled h, which leaves the expected update unchanged."""
        ph = self.p_h(v0)  # (B, n_h)
        data = {"W": v0.T @ ph / len(v0), "b": v0.mean(0), "c": ph.mean(0)}
        v = v0
        for _ in range(k):
            h = bernoulli(ph, generator)  # hidden units all update in parallel
            v = self.sample_v(self.p_v(h), generator)  # the reconstruction: visible units in parallel
            ph = self.p_h(v)
        recon = {"W": v.T @ ph / len(v), "b": v.mean(0), "c": ph.mean(0)}
        return {name: data[name] - recon[name] for name in data}

    # -- sampling --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run `steps` of alternating Gibbs sampling h ~ p(h | v), v ~ p(v | h) from v; returns the last
        step's p(v | h), the mean of the final visible state (what samples are usually shown as)."""
        p = v
        for _ in range(steps):
            h = bernoulli(self.p_h(v), generator)
            p = self.p_v(h)
            v = self.sample_v(p, generator)
        return p

    # -- stacking --------------------------------------------------------------------------------------------------
    def transposed(self) -> RBM:
        """A new RBM whose visible layer is this one's hidden layer, with W^T and the biases swapped: it is the
        same joint distribution read upside down, so its marginal over its visible units equals this RBM's
        marginal p(h). This is how the greedy algorithm starts the next layer."""
        top = RBM(self.n_h, self.n_v, dtype=self.W.dtype)
        with torch.no_grad():
            top.W.copy_(self.W.T)
            top.b.copy_(self.c)
            top.c.copy_(self.b)
        return top.to(self.W.device)


def log_q(h: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """log Q(h|v) = sum_j h_j log q_j + (1 - h_j) log(1 - q_j) for every state h (S, n) and every data vector's
    posterior means q (B, n): returns (B, S)."""
    log_q1, log_q0 = torch.log(q).clamp_min(-1e4), torch.log1p(-q).clamp_min(-1e4)  # (B, n)
    return log_q1 @ h.T + log_q0 @ (1 - h).T  # (B, n) @ (n, S)


def log_p_v_given_h(rbm: RBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """log p(v | h) under the RBM's generative conditional, for every v (B, n_v) and every h (S, n_h): (B, S).
    With a = b + W h: log p(v|h) = sum_i v_i a_i - softplus(a_i)."""
    a = rbm.b + h @ rbm.W.T  # (S, n_h) @ (n_h, n_v) -> (S, n_v)
    return v @ a.T - F.softplus(a).sum(-1)  # (B, n_v) @ (n_v, S) - (S,)


def variational_bound(bottom: RBM, top: RBM, v: torch.Tensor) -> torch.Tensor:
    """The greedy algorithm's lower bound on log p(v) for the two-layer model {top RBM over h; p(v|h) of the
    bottom RBM}, with Q(h|v) the bottom RBM's inference; exact, by enumerating the bottom RBM's 2^n_h hidden
    states (keep n_h small). (B,) in nats:
        sum_h Q(h|v) [log p_top(h) + log p(v|h)] + H(Q(.|v))
    The parts linear in h and the entropy of the factorial Q are done in closed form; what is left,
    log p_top(h) - sum_i softplus(b_i + W_i.h), is averaged over Q by one (B, S) @ (S,) product."""
    q = bottom.p_h(v)  # (B, n_h)
    h = all_states(bottom.n_h, v.dtype, v.device)  # (S, n_h)
    g = top.log_prob(h) - F.softplus(bottom.b + h @ bottom.W.T).sum(-1)  # (S,)
    linear = v @ bottom.b + ((v @ bottom.W) * q).sum(-1)  # E_Q[v.(b + W h)], (B,)
    entropy = -(torch.special.xlogy(q, q) + torch.special.xlogy(1 - q, 1 - q)).sum(-1)  # H(Q), (B,)
    return linear + log_q(h, q).exp() @ g + entropy  # (B, S) @ (S,)


def two_layer_log_prob(bottom: RBM, top: RBM, v: torch.Tensor) -> torch.Tensor:
    """The two-layer model's exact log p(v) = log sum_h p_top(h) p(v|h), by enumerating h (B,) in nats."""
    h = all_states(bottom.n_h, v.dtype, v.device)  # (S, n_h)
    return torch.logsumexp(top.log_prob(h) + log_p_v_given_h(bottom, v, h), -1)
