"""Distributed representations of relational knowledge: Hinton's 1981 triple memory and its learned successor.

1981 (the chapter in Hinton & Anderson, eds., *Parallel Models of Associative Memory*). A proposition is a
triple (ROLE1, REL, ROLE2), e.g. (Colin, has-father, James). Each concept is a pattern of activity over the
units of a role group (its "microfeatures"), not a node of its own; the three groups are joined through a
PROP group whose units respond to *combinations* of activity in the role groups, because a mere sum of the
three patterns would not say which concepts belong together. The knowledge sits in the connection strengths,
so a proposition is not stored anywhere in particular, any two parts of a triple recall the third, and
damage to units blurs many facts a little instead of deleting a few. Our rendering (see notes.md for what
is the chapter's and what is ours):
  role groups   x_g in {-1, +1}^{n_role} for g in (ROLE1, REL, ROLE2); a silent (unknown) group is 0;
  PROP units    unit u reads microfeature i_u of group g_u and microfeature j_u of group h_u and is active
                with pi_u = x_{g_u}[i_u] * x_{h_u}[j_u] (a sigma-pi conjunction; 0 if either group is silent);
  storage       W_g = sum_t c_{g,t} pi_t^T, one Hebbian (correlation-matrix) increment per triple t;
  completion    clamp two groups, compute pi, set the missing group to sign(W_g pi); read it out as the
                concept whose code is nearest.
The localist control gives each triple a PROP unit of its own that fires when its triple best matches the
clamped groups (winner-take-all); its facts vanish one by one as those units are removed.

1986 (Hinton, "Learning distributed representations of concepts"; Rumelhart, Hinton & Williams, Nature,
Figs. 2-4). The same knowledge learned by back-propagation: person 1 (24 local units) -> 6 units, relation
(12 local units) -> 6 units, both -> 12 central units -> 6 units -> 24 output units, one per person 2, all
logistic. The 6-unit person code is free to discover features such as nationality and generation.
"""

from __future__ import annotations

import torch
from torch import nn

GROUPS = ("role1", "rel", "role2")
PAIRS = (("role1", "rel"), ("rel", "role2"), ("role1", "role2"))  # each PROP unit joins one pair of groups


def decode(x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Nearest concept: x (..., n_role) against codes (n_items, n_role) -> item index (...)."""
    return (x @ codes.T).argmax(-1)  # (..., n_role) @ (n_role, n_items) -> (..., n_items)


class PropMemory:
    """Triples stored over shared role units and conjunctive PROP units (Hinton 1981, in our rendering).

    codes: group -> (n_items, n_role) +-1 patterns; triples: group -> (T,) item indices of the T stored triples.
    `units_per_pair` PROP units join each of the three pairs of role groups, reading random microfeatures.
    """

    def __init__(self, codes: dict[str, torch.Tensor], triples: dict[str, torch.Tensor], units_per_pair: int,
                 generator: torch.Generator):
        self.codes = codes
        n_role = codes[GROUPS[0]].shape[1]
        self.wiring = {pair: (torch.randint(n_role, (units_per_pair,), generator=generator),
                              torch.randint(n_role, (units_per_pair,), generator=generator)) for pair in PAIRS}
        stored = {g: codes[g][triples[g]] for g in GROUPS}  # (T, n_role) each
        pi = self.prop(stored)  # (T, n_prop): each triple's PROP pattern
        self.W = {g: stored[g].T @ pi for g in GROUPS}  # (n_role, T) @ (T, n_prop): sum_t c_{g,t} pi_t^T
        self.n_prop = pi.shape[-1]

    def prop(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        """PROP activity pi (..., n_prop) from role activity x[g] (..., n_role) of all three groups."""
        parts = []
        for g, h in PAIRS:
            i, j = self.wiring[(g, h)]
            parts.append(x[g][..., i] * x[h][..., j])  # (..., units_per_pair): conjunction of two microfeatures
        return torch.cat(parts, dim=-1)

    def complete(self, x: dict[str, torch.Tensor], missing: str, alive: torch.Tensor) -> torch.Tensor:
        """Recall the missing group from the two clamped ones. x[g]: (Q, n_role) for the two known groups;
        alive: (L, n_prop) 0/1 mask of surviving PROP units (one row per lesion). -> (L, Q, n_role)."""
        known = next(iter(x.values()))
        x = {**x, missing: torch.zeros_like(known)}  # the unknown group is silent
        pi = self.prop(x)[None] * alive[:, None, :]  # (L, Q, n_prop): lesioned units are silent too
        return torch.sign(pi @ self.W[missing].T)  # (L, Q, n_prop) @ (n_prop, n_role) -> (L, Q, n_role)


class LocalistMemory:
    """Control: one PROP unit per stored triple ("grandmother" unit), all else as in PropMemory.

    Unit t's input is the match sum_g c_{g,t} . x_g of its triple with the clamped groups; the best-matching
    surviving unit wins and writes its triple's missing concept into the missing group.
    """

    def __init__(self, codes: dict[str, torch.Tensor], triples: dict[str, torch.Tensor]):
        self.codes = codes
        self.stored = {g: codes[g][triples[g]] for g in GROUPS}  # (T, n_role)
        self.n_prop = len(triples[GROUPS[0]])

    def complete(self, x: dict[str, torch.Tensor], missing: str, alive: torch.Tensor) -> torch.Tensor:
        match = sum(x[g] @ self.stored[g].T for g in x)  # (Q, n_role) @ (n_role, T) -> (Q, T)
        match = match[None].masked_fill(alive[:, None, :] == 0, float("-inf"))  # (L, Q, T)
        winner = match.argmax(-1)  # (L, Q)
        return self.stored[missing][winner]  # (L, Q, n_role)


class FamilyTreeNet(nn.Module):
    """Hinton (1986) / Rumelhart, Hinton & Williams (1986), Fig. 3: the five-layer family-tree network.

    M independent networks (an ensemble of restarts) are held in one set of tensors with a leading axis M.
    Every unit is logistic, y = 1 / (1 + exp(-(sum_i w_ji y_i + b_j))).
    """

    SIZES = {"person": (24, 6), "relation": (12, 6), "central": (12, 12), "penultimate": (12, 6), "output": (6, 24)}

    def __init__(self, M: int, init_range: float, generator: torch.Generator):
        super().__init__()
        for name, (n_in, n_out) in self.SIZES.items():  # initial weights uniform in [-init_range, init_range]
            w = (torch.rand(M, n_in, n_out, generator=generator) * 2 - 1) * init_range
            b = (torch.rand(M, n_out, generator=generator) * 2 - 1) * init_range
            self.register_parameter(f"W_{name}", nn.Parameter(w))
            self.register_parameter(f"b_{name}", nn.Parameter(b))

    def layer(self, name: str, y_in: torch.Tensor) -> torch.Tensor:
        W, b = getattr(self, f"W_{name}"), getattr(self, f"b_{name}")
        return torch.sigmoid(y_in @ W + b[:, None, :])  # (M, B, n_in) @ (M, n_in, n_out) -> (M, B, n_out)

    def forward(self, person: torch.Tensor, relation: torch.Tensor) -> dict[str, torch.Tensor]:
        """person (M, B) in 0..23, relation (M, B) in 0..11 -> every layer's activity, output (M, B, 24)."""
        x_p = nn.functional.one_hot(person, 24).to(self.W_person.dtype)  # (M, B, 24): one active input unit
        x_r = nn.functional.one_hot(relation, 12).to(self.W_person.dtype)  # (M, B, 12)
        h_p, h_r = self.layer("person", x_p), self.layer("relation", x_r)  # (M, B, 6) each
        h_c = self.layer("central", torch.cat([h_p, h_r], dim=-1))  # (M, B, 12) -> (M, B, 12)
        h_2 = self.layer("penultimate", h_c)  # (M, B, 6)
        return {"person_code": h_p, "relation_code": h_r, "central": h_c, "penultimate": h_2,
                "output": self.layer("output", h_2)}  # (M, B, 24)

    def person_codes(self) -> torch.Tensor:
        """The 6-unit pattern of each of the 24 people, (M, 24, 6): sigmoid of its weights plus the biases."""
        return torch.sigmoid(self.W_person + self.b_person[:, None, :])


def dead_zone_error(y: torch.Tensor, d: torch.Tensor, on: float = 0.8, off: float = 0.2) -> torch.Tensor:
    """E = 1/2 sum (y - d)^2 per network, counting no error when an output that should be on is above `on` or
    one that should be off is below `off` (Nature, Fig. 4 caption). y, d: (M, B, 24) -> E (M,)."""
    err = torch.where(d > 0.5, (on - y).clamp_min(0), (y - off).clamp_min(0))
    return 0.5 * err.square().sum(dim=(1, 2))


class MomentumWithDecay:
    """Nature Eq. (9) with the family-tree weight decay: Delta w(t) = -eps dE/dw + alpha Delta w(t-1), then every
    weight is shrunk by the factor (1 - decay) after each change (0.2% in the paper)."""

    def __init__(self, params: list[torch.Tensor], decay: float):
        self.params, self.decay = params, decay
        self.velocity = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], eps: float, alpha: float) -> None:
        for p, v, g in zip(self.params, self.velocity, grads, strict=True):
            v.mul_(alpha).sub_(eps * g)
            p.add_(v).mul_(1 - self.decay)
