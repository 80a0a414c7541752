"""Minsky & Papert (1969): what one layer of threshold logic cannot do, measured exactly on XOR and parity.

The tasks are generated, as in the book itself: XOR and n-bit parity over all 2^n input patterns. Four parts:
  1. the perceptron rule on AND (converges) and XOR (cycles), and the best of all threshold units on XOR;
  2. n-bit parity: trained perceptrons and the best threshold units found stay under the proven ceiling
     1/2 + C(n-1, floor((n-1)/2)) / 2^n (see notes.md), which an exhaustive enumeration confirms for small n;
  3. the order argument: with masks of order k, parity is separable only at k = n (linear programme), and
     the perceptron rule reaches 100% only there;
  4. a one-hidden-layer net trained by backpropagation computes XOR and parity exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.optimize import linprog

from dlcanon.core.config import Annotated, Range
from dlcanon.core.paper import Claim

from . import figures, model


@dataclass
class Config:
    rule_epochs: Annotated[int, Range(ge=1, le=3000)] = 30
    """Epochs of the textbook perceptron rule (zero start, fixed order) on AND and XOR."""
    restarts: Annotated[int, Range(ge=1, le=512)] = 64
    """Perceptrons trained side by side from random starts and random presentation orders."""
    xor_epochs: Annotated[int, Range(ge=1, le=5000)] = 50
    """Epochs of the perceptron rule for the random-restart perceptrons on XOR."""
    parity_n: Annotated[tuple[int, ...], Range(ge=2, le=12)] = (4, 6, 8, 10)
    """Sizes n of the parity retina on which perceptrons are trained (all 2^n patterns; n >= 2, since the
    ceiling at n = 1 is 1 and the claim would pass whatever the perceptrons do)."""
    parity_epochs: Annotated[int, Range(ge=1, le=1000)] = 20
    """Epochs of the perceptron rule on n-bit parity."""
    exhaustive_max_n: Annotated[int, Range(ge=2, le=5)] = 4
    """Every threshold function of n = 1..this inputs is enumerated (at most 5) to find the best one on parity
    (at least 2: the XOR claim reads the n = 2 result)."""
    order_n: Annotated[tuple[int, ...], Range(ge=2, le=8)] = (4, 5, 6)
    """Retina sizes n for the order experiment (masks of order k = 1..n; n >= 2, so that some k < n is tried)."""
    order_epochs: Annotated[int, Range(ge=1, le=200_000)] = 3000
    """Cap on the epochs of the order experiment; it stops earlier once every order-n perceptron is exact."""
    mlp_n: Annotated[int, Range(ge=2, le=12)] = 8
    """n of the parity task given to the one-hidden-layer net (and compared with the perceptron; n >= 2, as
    1-bit parity is the identity)."""
    mlp_hidden_per_bit: Annotated[int, Range(ge=1, le=8)] = 4
    """Hidden units per input bit (XOR gets 2x this, n-bit parity n x this)."""
    mlp_nets: Annotated[int, Range(ge=1, le=32)] = 4
    """Independent nets trained side by side; the claims use the worst of them."""
    mlp_steps: Annotated[int, Range(ge=1, le=100_000)] = 3000
    """Cap on full-batch Adam steps; training stops once every net is exact."""
    mlp_lr: Annotated[float, Range(gt=0, le=1)] = 0.03
    """Adam learning rate."""
    eval_every: Annotated[int, Range(ge=1, le=100_000)] = 25
    """Steps between accuracy checks (and logged curve points) of the nets."""
    checkpoint_every: Annotated[int, Range(ge=1, le=100_000)] = 500
    """Steps between checkpoints of the parity net's training."""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.eval_every > self.mlp_steps:
            raise ValueError(f"eval_every must be at most mlp_steps, or the nets are never checked during training; "
                             f"got eval_every={self.eval_every} with mlp_steps={self.mlp_steps}")


PRESETS = {
    "smoke": Config(
        rule_epochs=10,
        restarts=8,
        xor_epochs=5,
        parity_n=(4,),
        parity_epochs=2,
        exhaustive_max_n=3,
        order_n=(3,),
        order_epochs=60,
        mlp_n=3,
        mlp_nets=2,
        mlp_steps=100,
    ),
    "quick": Config(),
    "full": Config(
        restarts=256,
        parity_n=(2, 4, 6, 8, 10, 12),
        parity_epochs=50,
        exhaustive_max_n=5,
        order_n=(3, 4, 5, 6, 7),
        order_epochs=20000,
        mlp_n=10,
        mlp_nets=8,
        mlp_steps=6000,
    ),
}

_THEOREM = "a theorem (no numbers): a one-layer threshold unit cannot represent it"
CLAIMS = [
    Claim(
        name="perceptron_xor",
        metric="perceptron_xor_accuracy",
        op="<=",
        threshold=0.75,
        paper_value="XOR is not linearly separable (Ch. 0; order 2, so no order-1 perceptron computes it)",
        scale_note="best final accuracy of 64 (full: 256) perceptrons, 50 epochs from random starts, all 4 inputs",
    ),
    Claim(
        name="best_threshold_unit_xor",
        metric="best_ltf_xor_accuracy",
        op="<=",
        threshold=0.75,
        paper_value=_THEOREM,
        scale_note="exhaustive: all 14 threshold functions of 2 inputs",
    ),
    Claim(
        name="perceptron_parity_under_ceiling",
        metric="perceptron_parity_excess",
        op="<=",
        threshold=0.0,
        paper_value="parity has order n (Ch. 3); our ceiling 1/2 + C(n-1, floor((n-1)/2))/2^n is derived in notes.md",
        scale_note="max over n = 4, 6, 8, 10 (full: 2..12) of (best final accuracy of 64 (256) perceptrons - ceiling)",
    ),
    Claim(
        name="best_threshold_unit_parity_under_ceiling",
        metric="best_ltf_parity_excess",
        op="<=",
        threshold=0.0,
        paper_value="parity has order n (Ch. 3); ceiling derived in notes.md",
        scale_note="max over n of (best accuracy any restart reached at any epoch end - ceiling)",
    ),
    Claim(
        name="ceiling_is_exact",
        metric="exhaustive_ltf_parity_excess",
        op="<=",
        threshold=0.0,
        paper_value="(our derivation; not in the book)",
        scale_note="every threshold function of n = 1..4 inputs enumerated (quick), 1..5 (full)",
    ),
    Claim(
        name="order_below_n_cannot",
        metric="order_separable_below_n",
        op="<=",
        threshold=0.0,
        paper_value="Ch. 3: parity of an n-point retina has order n",
        scale_note="linear programme on masks of order k < n, n = 4, 5, 6 (full: 3..7): number of separable cases",
    ),
    Claim(
        name="order_n_can",
        metric="order_separable_at_n",
        op=">=",
        threshold=1.0,
        paper_value="Ch. 3: order n suffices",
        scale_note="linear programme on all masks (k = n), n = 4, 5, 6 (full: 3..7): fraction separable",
    ),
    Claim(
        name="order_n_perceptron_learns",
        metric="order_perceptron_at_n_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Ch. 11: the perceptron rule converges whenever a solution exists",
        scale_note="worst accuracy over n = 4, 5, 6 (full: 3..7) of the rule on all masks (k = n)",
    ),
    Claim(
        name="order_below_n_perceptron_fails",
        metric="order_perceptron_below_n_accuracy",
        op="<",
        threshold=1.0,
        paper_value="Ch. 3: parity has order n",
        scale_note="best accuracy over all k < n of the rule, trained as long as the k = n ones",
    ),
    Claim(
        name="mlp_xor",
        metric="mlp_xor_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Ch. 13 leaves multilayer machines open; backprop (1986) trains them",
        scale_note="worst of 4 one-hidden-layer nets (8 tanh units), full-batch Adam",
    ),
    Claim(
        name="mlp_parity",
        metric="mlp_parity_accuracy",
        op=">=",
        threshold=1.0,
        paper_value="Ch. 13 leaves multilayer machines open; backprop (1986) trains them",
        scale_note="worst of 4 one-hidden-layer nets (4n tanh units) on 8-bit parity (quick), 10-bit (full)",
    ),
    Claim(
        name="mlp_beats_perceptron",
        metric="mlp_parity_accuracy",
        minus="perceptron_parity_accuracy",
        op=">",
        threshold=0.3,
        paper_value="one layer fails where a hidden layer succeeds",
        scale_note="same n (8 quick, 10 full), all 2^n patterns",
    ),
]


# --- the generated task -------------------------------------------------------------------------------


def all_inputs(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(2^n, n) 0/1: row r holds the bits of r."""
    r = torch.arange(2**n, device=device)
    return ((r[:, None] >> torch.arange(n, device=device)) & 1).float()


def parity_pm(X: torch.Tensor) -> torch.Tensor:
    """+1 where an odd number of bits is on, -1 otherwise."""
    return 2 * (X.sum(1) % 2) - 1


def with_threshold(X: torch.Tensor) -> torch.Tensor:
    """The order-1 features (the n points) plus the constant mask that carries theta: (N, n + 1)."""
    return torch.cat([torch.ones(X.shape[0], 1, device=X.device), X], 1)


# --- the ceiling on parity ----------------------------------------------------------------------------


def ltf_parity_ceiling(n: int) -> float:
    """Best agreement of any linear threshold function with n-bit parity (derivation in notes.md)."""
    return 0.5 + math.comb(n - 1, (n - 1) // 2) / 2**n


THRESHOLD_FUNCTIONS = {1: 4, 2: 14, 3: 104, 4: 1882, 5: 94572}
"""How many Boolean functions of n inputs are threshold functions (OEIS A000609)."""
WEIGHT_RANGE = {1: 1, 2: 1, 3: 2, 4: 3, 5: 5}
"""Integer weights in [-w, w] realise every one of them (checked: the counts above are reached)."""


def threshold_functions(n: int) -> tuple[int, float]:
    """Enumerate every threshold function of n inputs: (how many, best agreement with parity).

    For each integer weight vector, sorting the 2^n weighted sums lists every threshold cut; a cut between
    two equal sums is not a threshold function and is skipped.
    """
    X = all_inputs(n)
    grid = torch.arange(-WEIGHT_RANGE[n], WEIGHT_RANGE[n] + 1).float()
    W = torch.cartesian_prod(*[grid] * n).reshape(-1, n)  # (M, n)
    s, order = (X @ W.T).sort(0)  # (N, n) @ (n, M) -> (N, M), ascending
    on = (X.sum(1) % 2)[order]  # (N, M) parity of the sorted patterns
    N, M = on.shape
    zeros = torch.zeros(1, M)
    off_below = torch.cat([zeros, (1 - on).cumsum(0)])  # (N+1, M): cut j fires on sorted rows j..N-1
    on_above = torch.cat([on.flip(0).cumsum(0).flip(0), zeros])
    valid = torch.ones(N + 1, M, dtype=torch.bool)
    valid[1:N] = s[:-1] < s[1:]
    agree = (off_below + on_above)[valid].max().item() / N
    bit = (2 ** torch.arange(N, dtype=torch.long))[order]  # (N, M) the truth-table bit of each sorted row
    code = torch.cat([bit.flip(0).cumsum(0).flip(0), torch.zeros(1, M, dtype=torch.long)])
    return code[valid].unique().numel(), agree


# --- the perceptron rule ----------------------------------------------------------------------------


def textbook_rule(Phi: torch.Tensor, y: torch.Tensor, epochs: int) -> dict:
    """The rule from w = 0, examples in a fixed order, until it converges or `epochs` run out.

    With integer data the weights stay integers and (Ch. 11) bounded, so on a non-separable task the
    epoch-start weights must eventually repeat; from then on the run is periodic and never converges.
    `cycle` = (first epoch, repeat epoch) of the first repeated state, or None.
    """
    p = model.Perceptron(torch.zeros(1, Phi.shape[1]))
    seen, mistakes, cycle = {}, [], None
    for epoch in range(epochs):
        key = tuple(p.w[0].tolist())
        if key in seen and cycle is None:
            cycle = (seen[key], epoch)
        seen.setdefault(key, epoch)
        mistakes.append(sum(int(p.step(Phi[i][None], y[i : i + 1]).item()) for i in range(len(y))))
        if mistakes[-1] == 0:
            return dict(mistakes=mistakes, converged=epoch, cycle=cycle, w=p.w[0])
    return dict(mistakes=mistakes, converged=None, cycle=cycle, w=p.w[0])


def accuracy(p: model.Perceptron, Phi: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Per perceptron, the fraction of its (non-padding) examples classified right: (R,)."""
    valid = Y != 0
    return ((p.predict(Phi) == Y) & valid).sum(1) / valid.sum(1)


def train_rule(p: model.Perceptron, Phi, Y, epochs: int, g: torch.Generator, done=None) -> torch.Tensor:
    """Each perceptron r sees its own examples Phi[r] (R, N, d), Y[r] (R, N) in a fresh random order each
    epoch. Returns the accuracy after every epoch, (epochs run, R). `done(acc)` may end training early."""
    R, N, d = Phi.shape
    history = []
    for _ in range(epochs):
        order = torch.rand(R, N, generator=g).argsort(1).to(Phi.device)  # (R, N)
        Phi_e = Phi.gather(1, order[:, :, None].expand(R, N, d))  # (R, N, d) in presentation order
        Y_e = Y.gather(1, order)
        for i in range(N):
            p.step(Phi_e[:, i], Y_e[:, i])
        history.append(accuracy(p, Phi, Y))
        if done is not None and done(history[-1]):
            break
    return torch.stack(history)


# --- the run ----------------------------------------------------------------------------------------


def run(cfg: Config, ctx) -> dict[str, float]:
    """Parts 1-3 are cheap and deterministic (own generators), so a resumed run recomputes them; only the
    parity net's training (part 4) is checkpointed."""
    g = torch.Generator().manual_seed(ctx.seed)
    m, fig = {}, {}
    m.update(rule_on_and_xor(cfg, ctx.device, g, fig))
    m.update(exhaustive(cfg, fig))
    m.update(parity_perceptrons(cfg, ctx.device, g, fig))
    m.update(order_experiment(cfg, ctx.device, g, fig))
    m.update(mlp_xor(cfg, ctx.device, torch.Generator().manual_seed(ctx.seed + 1)))
    m.update(mlp_parity(cfg, ctx, torch.Generator().manual_seed(ctx.seed + 2), fig))
    top = max(12, *cfg.parity_n, cfg.mlp_n)
    fig["ceiling"] = {n: ltf_parity_ceiling(n) for n in range(1, top + 1)}
    figures.draw(fig, m, cfg, ctx.path("perceptrons.png"))
    return m


def rule_on_and_xor(cfg: Config, dev, g, fig) -> dict[str, float]:
    X = all_inputs(2)
    Phi = with_threshold(X)
    runs = {
        name: textbook_rule(Phi, y, cfg.rule_epochs)
        for name, y in (("and", 2 * X[:, 0] * X[:, 1] - 1), ("xor", parity_pm(X)))
    }
    fig["rule"] = {k: v["mistakes"] for k, v in runs.items()}
    R = cfg.restarts
    p = model.Perceptron(torch.randn(R, 3, generator=g).to(dev))
    Phi_r, Y_r = Phi.to(dev).expand(R, -1, -1), parity_pm(X).to(dev).expand(R, -1)
    history = train_rule(p, Phi_r, Y_r, cfg.xor_epochs, g)
    return {
        "and_epochs_to_converge": float(runs["and"]["converged"] + 1 if runs["and"]["converged"] is not None else -1),
        "xor_converged": float(runs["xor"]["converged"] is not None),
        "xor_cycles": float(runs["xor"]["cycle"] is not None),
        "perceptron_xor_accuracy": history[-1].max().item(),
        "perceptron_xor_best_seen": history.max().item(),
    }


def exhaustive(cfg: Config, fig) -> dict[str, float]:
    m, excess = {}, []
    for n in range(1, cfg.exhaustive_max_n + 1):
        count, best = threshold_functions(n)
        m[f"threshold_functions_n{n}"] = float(count)
        m[f"exhaustive_ltf_parity_n{n}"] = best
        excess.append(best - ltf_parity_ceiling(n))
    m["best_ltf_xor_accuracy"] = m["exhaustive_ltf_parity_n2"]
    m["exhaustive_ltf_parity_excess"] = max(excess)
    m["threshold_functions_complete"] = float(
        all(m[f"threshold_functions_n{n}"] == THRESHOLD_FUNCTIONS[n] for n in range(1, cfg.exhaustive_max_n + 1))
    )
    fig["exhaustive"] = {n: m[f"exhaustive_ltf_parity_n{n}"] for n in range(1, cfg.exhaustive_max_n + 1)}
    return m


def parity_perceptrons(cfg: Config, dev, g, fig) -> dict[str, float]:
    m, final_excess, seen_excess, fig["parity"] = {}, [], [], {}
    for n in sorted(set(cfg.parity_n) | {cfg.mlp_n}):
        X = all_inputs(n, dev)
        R = cfg.restarts
        p = model.Perceptron(torch.randn(R, n + 1, generator=g).to(dev))
        history = train_rule(p, with_threshold(X).expand(R, -1, -1), parity_pm(X).expand(R, -1), cfg.parity_epochs, g)
        final, seen, ceiling = history[-1].max().item(), history.max().item(), ltf_parity_ceiling(n)
        m[f"perceptron_parity_accuracy_n{n}"], m[f"best_ltf_parity_accuracy_n{n}"] = final, seen
        fig["parity"][n] = (final, seen, history[-1].mean().item())
        if n in cfg.parity_n:
            final_excess.append(final - ceiling)
            seen_excess.append(seen - ceiling)
    m["perceptron_parity_accuracy"] = m[f"perceptron_parity_accuracy_n{cfg.mlp_n}"]
    m["parity_ceiling"] = ltf_parity_ceiling(cfg.mlp_n)
    m["perceptron_parity_excess"], m["best_ltf_parity_excess"] = max(final_excess), max(seen_excess)
    return m


def lp_margin(Phi: torch.Tensor, y: torch.Tensor) -> float:
    """max t subject to y_i (w . phi_i) >= t, |w_j| <= 1: positive iff the examples are separable."""
    N, d = Phi.shape
    A = torch.cat([-(y[:, None] * Phi), torch.ones(N, 1)], 1).double().numpy()  # rows: t - y w.phi <= 0
    cost = [0.0] * d + [-1.0]
    res = linprog(cost, A_ub=A, b_ub=[0.0] * N, bounds=[(-1, 1)] * d + [(None, 1)], method="highs")
    return -res.fun


def order_experiment(cfg: Config, dev, g, fig) -> dict[str, float]:
    """Masks of order k on n points, every (n, k) with k <= n, trained side by side (padded to one shape)."""
    cases = [(n, k) for n in cfg.order_n for k in range(1, n + 1)]
    N, d = 2 ** max(cfg.order_n), 2 ** max(cfg.order_n)
    Phi, Y = torch.zeros(len(cases), N, d), torch.zeros(len(cases), N)  # padding: phi = 0, y = 0 (ignored)
    margins = []
    for c, (n, k) in enumerate(cases):
        X = all_inputs(n)
        feats = model.mask_features(X, k)
        Phi[c, : 2**n, : feats.shape[1]], Y[c, : 2**n] = feats, parity_pm(X)
        margins.append(lp_margin(feats, parity_pm(X)))
    at_n = torch.tensor([k == n for n, k in cases], device=dev)
    p = model.Perceptron(torch.zeros(len(cases), d, device=dev))
    history = train_rule(p, Phi.to(dev), Y.to(dev), cfg.order_epochs, g, done=lambda acc: bool((acc[at_n] == 1).all()))
    final = history[-1].cpu()
    epochs_to_exact = [
        int((history[:, c] == 1).float().argmax()) + 1 if final[c] == 1 else -1 for c in range(len(cases))
    ]
    separable = [mg > 1e-9 for mg in margins]
    fig["order"] = dict(cases=cases, accuracy=final.tolist(), separable=separable)
    below = [c for c, (n, k) in enumerate(cases) if k < n]
    top = [c for c, (n, k) in enumerate(cases) if k == n]
    m = {f"order_epochs_to_exact_n{cases[c][0]}": float(epochs_to_exact[c]) for c in top}
    m.update(
        {
            "order_separable_below_n": float(sum(separable[c] for c in below)),
            "order_separable_at_n": sum(separable[c] for c in top) / len(top),
            "order_perceptron_at_n_accuracy": min(final[c].item() for c in top),
            "order_perceptron_below_n_accuracy": max(final[c].item() for c in below) if below else 0.0,
            "order_epochs": float(len(history)),
        }
    )
    return m


# --- part 4: one hidden layer, trained by backpropagation -------------------------------------------


def bipolar(X: torch.Tensor) -> torch.Tensor:
    return 2 * X - 1


def mlp_xor(cfg: Config, dev, g) -> dict[str, float]:
    X = all_inputs(2, dev)
    y = (X.sum(1) % 2).expand(cfg.mlp_nets, -1)
    net = model.OneHiddenLayerNet(2, 2 * cfg.mlp_hidden_per_bit, cfg.mlp_nets, g).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.mlp_lr)
    step = 0
    for step in range(1, cfg.mlp_steps + 1):
        fit_step(net, opt, bipolar(X), y)
        if step % cfg.eval_every == 0 and bool((evaluate(net, bipolar(X), y) == 1).all()):
            break
    return {"mlp_xor_accuracy": evaluate(net, bipolar(X), y).min().item(), "mlp_xor_steps": float(step)}


def fit_step(net, opt, x, y) -> float:
    """One full-batch step of backprop on the cross-entropy of all 2^n patterns."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)  # net(x): (R, N) logits
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


@torch.no_grad()
def evaluate(net, x, y) -> torch.Tensor:
    """Each net's accuracy over all patterns, (R,)."""
    return ((net(x) > 0).float() == y).float().mean(1)


def mlp_parity(cfg: Config, ctx, g, fig) -> dict[str, float]:
    n, dev = cfg.mlp_n, ctx.device
    X = all_inputs(n, dev)
    y = (X.sum(1) % 2).expand(cfg.mlp_nets, -1)
    net = model.OneHiddenLayerNet(n, n * cfg.mlp_hidden_per_bit, cfg.mlp_nets, g).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.mlp_lr)
    start, curve = 0, []
    if (ck := ctx.restore()) is not None:
        start, state = ck
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        curve = [tuple(point) for point in state["curve"]]
    step = start
    for step in range(start + 1, cfg.mlp_steps + 1):
        loss = fit_step(net, opt, bipolar(X), y)
        if step % cfg.eval_every == 0:
            acc = evaluate(net, bipolar(X), y)
            curve.append((step, acc.min().item(), acc.mean().item()))
            ctx.log(step, mlp_parity_loss=loss, mlp_parity_worst_accuracy=curve[-1][1])
            if bool((acc == 1).all()):
                break
        if step % cfg.checkpoint_every == 0:
            ctx.checkpoint(step, {"model": net.state_dict(), "opt": opt.state_dict(), "curve": curve})
    acc = evaluate(net, bipolar(X), y)
    fig["mlp"] = curve
    return {
        "mlp_parity_accuracy": acc.min().item(),
        "mlp_parity_solved_fraction": (acc == 1).float().mean().item(),
        "mlp_parity_steps": float(step),
    }
