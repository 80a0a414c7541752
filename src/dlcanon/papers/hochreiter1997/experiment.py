"""Hochreiter & Schmidhuber (1997): LSTM on the paper's adding problem (Experiment 4), against a tanh recurrent net of
about as many weights; in the full preset, also a character model of the King James Bible.

Adding problem (Section 5.4). Each sequence is a string of (value, marker) pairs, of random length between T and
T + T/10. Values are uniform in [-1, 1]. One of the first ten pairs and one other among the first T/2 are marked
with 1.0; the first and the last pair carry the marker -1 (start and end), all others 0. At the last step the net
must output 0.5 + (X1 + X2) / 4, the sum of the two marked values scaled into [0, 1]; the error is measured there
only. A test sequence counts as processed correctly if the absolute error is below 0.04 (the paper's criterion).
The baseline a net without memory can reach is the best constant output, whose mean squared error is the variance
of the targets (about 0.040 here: X1 is zero in one sequence out of ten); every MSE is reported as a ratio to it.

Arms, trained on the same batches: the paper's net (2 blocks of 2 cells, 93 weights, its initialisation and
truncated learning rule), the forget-gate cell of Gers et al. (2000) started the 1997 way, and a tanh recurrent net
of 8 units (97 weights) trained by full back-propagation through time. The error flow of each net is measured as
the sensitivity of its final output to the value input k steps back (Section 3's argument, measured).

Character model (full preset only): the forget-gate LSTM and a tanh recurrent net with at least as many weights
predict the next character of the KJV; bits per character on held-out text.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import Annotated, OneOf, Range
from dlcanon.core.data import bible
from dlcanon.core.paper import Claim

from . import figures
from .model import LSTM1997, ForgetGateLSTM, TanhRNN, count_parameters


@dataclass
class Config:
    T: Annotated[tuple[int, ...], Range(ge=20, le=10_000)] = (100,)
    """minimal sequence lengths of the adding problem, one experiment each; the claims read the longest (the paper:
    100, 500, 1000; the minimal time lag is T/2, the first marked value lies at least 0.9 T steps back)"""
    blocks: Annotated[int, Range(ge=1, le=16)] = 2
    """memory cell blocks of the 1997 net (the paper: 2)"""
    block_size: Annotated[int, Range(ge=1, le=16)] = 2
    """memory cells per block (the paper: 2)"""
    init_range: Annotated[float, Range(gt=0, le=1)] = 0.1
    """1997 net (and forget-gate cell): initial weights uniform in +-init_range (the paper: 0.1)"""
    in_gate_bias: Annotated[tuple[float, ...], Range(ge=-20, le=20)] = (-3.0, -6.0)
    """initial input gate bias of each block (the paper: -3, -6); the forget-gate cell's cells take them in turn"""
    truncate: bool = True
    """the paper's truncated gradient (errors go back in time through the CEC only); False: full BPTT (slower)"""
    rnn_hidden: Annotated[int, Range(ge=1, le=1024)] = 8
    """units of the tanh recurrent net (8: 97 weights, against the 1997 net's 93)"""
    forget_gate_hidden: Annotated[int, Range(ge=0, le=1024)] = 3
    """cells of the forget-gate LSTM arm (3: 76 weights); 0 leaves the arm out"""
    forget_bias: Annotated[float, Range(ge=-20, le=20)] = 5.0
    """initial forget gate bias of that arm: open enough that a cell keeps about half its content over the longest
    sequence, f^(1.1 T) >= 0.5, i.e. about ln(1.1 T / ln 2): 5 for T = 100 (f = 0.993), 7 for T = 500"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 400
    """weight updates per arm and per T"""
    batch: Annotated[int, Range(ge=1, le=4096)] = 64
    """sequences per update (the paper: 1, online)"""
    optimizer: Annotated[str, OneOf("adam", "sgd")] = "adam"
    """adam, or plain gradient descent as in the paper (with batch=1, lr=0.5: the paper's online rule)"""
    lr: Annotated[float, Range(gt=0, le=10)] = 0.02
    """step size, all arms (the paper: 0.5 with plain gradient descent, one sequence at a time)"""
    test_sequences: Annotated[int, Range(ge=10, le=100_000)] = 2560
    """test set size (the paper: 2560; at least 10, so that the targets' variance is not zero)"""
    eval_every: Annotated[int, Range(ge=1, le=1_000_000)] = 100
    """updates between test-set evaluations (and checkpoints); the last update is always evaluated"""
    flow_sequences: Annotated[int, Range(ge=1, le=10_000)] = 256
    """test sequences over which the error flow is averaged"""
    lm_train_chars: Annotated[int, Range(ge=0, le=4_000_000)] = 0
    """KJV characters the character models train on (0: no character model)"""
    lm_test_chars: Annotated[int, Range(ge=1000, le=1_000_000)] = 100_000
    """held-out characters right after the training text, where bits per character are measured"""
    lm_hidden: Annotated[int, Range(ge=1, le=2048)] = 128
    """cells of the character LSTM; the tanh net gets the fewest units with at least as many weights"""
    lm_steps: Annotated[int, Range(ge=1, le=1_000_000)] = 2000
    """weight updates of each character model"""
    lm_streams: Annotated[int, Range(ge=1, le=1024)] = 32
    """the training text is cut into this many contiguous pieces, trained side by side"""
    lm_chunk: Annotated[int, Range(ge=1, le=1000)] = 100
    """characters per update (truncated back-propagation through time; the state carries over)"""
    lm_lr: Annotated[float, Range(gt=0, le=1)] = 0.002
    """Adam step size of the character models"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if len(self.in_gate_bias) != self.blocks:
            raise ValueError(f"in_gate_bias needs one value per block: {self.blocks} block(s), got "
                             f"{len(self.in_gate_bias)} value(s)")
        if len(set(self.T)) != len(self.T):
            raise ValueError(f"T must not repeat a length; got {self.T}")
        if self.lm_train_chars and self.lm_train_chars < self.lm_streams * (self.lm_chunk + 1):
            raise ValueError(f"lm_train_chars must be 0 or at least lm_streams x (lm_chunk + 1) = "
                             f"{self.lm_streams * (self.lm_chunk + 1)}; got {self.lm_train_chars}")
        if self.lm_train_chars + self.lm_test_chars > 4_000_000:
            raise ValueError("lm_train_chars + lm_test_chars must be at most 4,000,000 (the KJV has about 4.3M)")


PRESETS = {
    "smoke": Config(T=(20,), steps=3, batch=8, test_sequences=64, eval_every=2, flow_sequences=8,
                    lm_train_chars=20_000, lm_test_chars=2000, lm_hidden=16, lm_steps=3, lm_streams=4,
                    lm_chunk=20),
    "quick": Config(),
    "full": Config(T=(200, 500), forget_bias=7.0, steps=2000, eval_every=200, lm_train_chars=2_000_000,
                   lm_test_chars=200_000),
}

_ADD = ("adding problem as in Experiment 4 (values, markers, lengths T to 1.1 T, target 0.5 + (X1+X2)/4); "
        "64 sequences per Adam update instead of one per plain gradient step")
CLAIMS = [
    Claim(
        "lstm_far_below_the_mean",
        "lstm1997_mse_ratio",
        "<",
        0.1,
        "Table 7: 93 weights; test MSE (average test set error) always below 0.01, at most 3 of 2560 test sequences "
        "wrong; T=100: 1 of 2560 wrong after 74,000 training sequences; T=500: 0 after 209,000; T=1000: 1 after "
        "853,000",
        _ADD + "; quick: T=100 (minimal lag 50), 400 updates (25,600 sequences); ratio = test MSE / MSE of the best "
        "constant output (the variance of the test targets, about 0.040)",
    ),
    Claim(
        "rnn_stays_at_the_mean",
        "rnn_mse_ratio",
        ">=",
        0.9,
        "Sections 1, 3 and 5: conventional recurrent nets trained by BPTT or RTRL fail on minimal time lags of "
        "tens of steps (the paper runs no recurrent-net baseline on the adding problem itself)",
        "tanh recurrent net of 8 units, 97 weights (the LSTM has 93), full BPTT, same batches, optimiser and "
        "updates; >= 0.9: it explains at most a tenth of the targets' variance",
    ),
    Claim(
        "forget_gate_lstm_far_below_the_mean",
        "lstm2000_mse_ratio",
        "<",
        0.1,
        "Not in the 1997 paper: the forget gate is Gers et al. (2000); with it open, the cell is the 1997 cell",
        "torch.nn.LSTM's cell with 3 cells (76 weights), started like the 1997 net (weights in +-0.1, input gates "
        "biased closed) with its forget gates open (bias 5 in quick, 7 in full); same batches and updates; full BPTT",
    ),
    Claim(
        "error_flows_back_through_the_cec",
        "lstm1997_flow_log10",
        ">",
        3.0,
        "Sections 3-4 and appendix A.2: in a conventional net the error flowing back q steps is scaled by a "
        "product of q factors f'(net) w and vanishes exponentially; in the CEC it is scaled by 1.0 (Eq. 35)",
        "log10 of the mean |d y_out / d x(t_end - k)| at k = T - 1 relative to k = 0, measured on the untrained "
        "nets (the LSTM under its truncated rule), LSTM minus tanh net: > 3 orders of magnitude",
        minus="rnn_flow_log10",
    ),
    Claim(
        "lstm_meets_the_papers_criterion",
        "lstm1997_correct",
        ">=",
        0.99,
        "Table 7: at most 3 of 2560 test sequences with absolute error > 0.04 (0.9988 correct), at every T",
        "full: T=200 and 500, 2,000 updates (128,000 sequences; the paper trained until its stopping criterion, "
        "209,000 sequences on average at T=500); fraction of 2560 test sequences with |error| < 0.04",
        judged_on=("full",),
        known_fail=(
            "full run, seed 0: 2560 of 2560 correct at T=200, but 0.980 at T=500 after 128,000 training sequences, "
            "where the paper trained until its stopping rule held (209,000 sequences on average); the share was "
            "still rising (0.94 to 0.98 over the last 800 updates). Not tried: more updates (about 2 minutes of "
            "CPU per 1,000 updates at T=500 here)"
        ),
    ),
    Claim(
        "lstm_predicts_characters_better",
        "lm_lstm_bpc",
        "<",
        0.0,
        "Not in the 1997 paper (its tasks are all artificial); character-level modelling is where LSTM was "
        "later shown to beat conventional recurrent nets, e.g. Graves (2013)",
        "KJV, 2M training characters, 200k held out; forget-gate LSTM of 128 cells against a tanh net with at "
        "least as many weights, same updates; bits per character, LSTM minus tanh net",
        minus="lm_srn_bpc",
        judged_on=("full",),
        known_fail=(
            "full run, seed 0: held out, the LSTM (128 cells) 2.44 bits per character, the tanh net (269 units) 2.18, "
            "both 107k weights, after 2,000 Adam updates at lr 0.002 (about 3 passes over the 2M characters); the "
            "tanh net learns faster from the start and both training curves were still falling (2.11 and 1.74 at "
            "the end). Tried: this one setting. Not tried: longer training, a learning rate per arm (each model "
            "takes 3-4 minutes of CPU per 2,000 updates here)"
        ),
    ),
]


BAR = {c.name: c.threshold for c in CLAIMS}
"""Each claim's threshold, drawn in its figure."""

CORRECT = 0.04
"""Experiment 4: a sequence is processed correctly if the absolute error at its end is below 0.04."""


# ------------------------------------------------------------------------------------------- the task


def adding_problem(n: int, T: int, generator: torch.Generator):
    """n sequences of Experiment 4 -> x (L, n, 2) (value, marker) with L = T + T // 10, zero past each sequence's
    end; lengths (n,) uniform in [T, T + T/10]; y (n,) targets 0.5 + (X1 + X2) / 4."""
    L = T + T // 10
    lengths = torch.randint(T, L + 1, (n,), generator=generator)
    value = torch.rand(L, n, generator=generator) * 2 - 1  # (L, n) uniform in [-1, 1]
    marker = torch.zeros(L, n)
    seq = torch.arange(n)
    first = torch.randint(0, 10, (n,), generator=generator)  # X1: one of the first ten pairs
    r = torch.randint(0, T // 2 - 1, (n,), generator=generator)  # X2: one of the first T/2 - 1 still unmarked
    second = r + (r >= first).long()  # pairs, i.e. of positions 0 .. T/2 - 1 other than X1's
    marker[0] = -1.0  # the first and the final pair carry -1 ...
    marker[lengths - 1, seq] = -1.0
    marker[first, seq] = 1.0  # ... unless marked
    marker[second, seq] = 1.0
    value[0] = torch.where(first == 0, 0.0, value[0])  # "if the first pair gets marked, we set X1 to zero"
    inside = torch.arange(L)[:, None] < lengths  # (L, n)
    x = torch.stack([value, marker], dim=2) * inside[..., None]  # (L, n, 2)
    y = 0.5 + (value[first, seq] + value[second, seq]) / 4
    return x, lengths, y


def batch_generator(seed: int, T: int, step: int) -> torch.Generator:
    """Training batch `step` of a run: drawn from its own seed, so every arm sees the same batches and a resumed
    run draws the same ones again."""
    return torch.Generator().manual_seed((seed * 1_000_003 + T * 7919 + step) % 2**63)


TEST_SEED = 1997
"""The test set of each T is fixed (it does not change with the run's seed)."""


# ------------------------------------------------------------------------------------------- the nets


def make_arms(cfg: Config, seed: int) -> dict[str, torch.nn.Module]:
    """The nets compared on the adding problem, freshly initialised from `seed`."""
    g = torch.Generator().manual_seed(seed)
    arms = {"lstm1997": LSTM1997(2, 1, cfg.blocks, cfg.block_size, cfg.init_range, cfg.in_gate_bias, g)}
    if cfg.forget_gate_hidden:
        arms["lstm2000"] = forget_gate_arm(cfg, g)
    arms["rnn"] = TanhRNN(2, cfg.rnn_hidden, 1, g)
    return arms


def forget_gate_arm(cfg: Config, g: torch.Generator) -> ForgetGateLSTM:
    """The forget-gate cell started the way the 1997 paper starts its cells: small weights, input gates biased
    closed (cell j takes in_gate_bias[j % blocks]), and its forget gates open."""
    H = cfg.forget_gate_hidden
    model = ForgetGateLSTM(2, H, 1, cfg.forget_bias, g)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-cfg.init_range, cfg.init_range, generator=g)
        model.b[:H] = torch.tensor([cfg.in_gate_bias[j % cfg.blocks] for j in range(H)])
        model.b[H : 2 * H] = cfg.forget_bias
    return model


def final_output(model, x: torch.Tensor, lengths: torch.Tensor, truncate: bool = True) -> torch.Tensor:
    """The net's output unit y^k at each sequence's last step: x (L, n, 2) -> (n,), in [0, 1]."""
    seq = torch.arange(x.shape[1], device=x.device)
    if isinstance(model, LSTM1997):
        return torch.sigmoid(model(x, truncate)[lengths - 1, seq, 0])
    hs, _ = model.hidden_states(x)  # (L, n, H)
    return torch.sigmoid(model.readout(hs[lengths - 1, seq]))[:, 0]


def learn(model, x: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, truncate: bool) -> float:
    """Set every weight's .grad to dE/dw, E = mean over the batch of (y - y^k)^2 at the sequence end (Eq. 16).
    The 1997 net under its truncated rule uses the appendix's equations; everything else, autograd."""
    if isinstance(model, LSTM1997) and truncate:
        with torch.no_grad():
            st = model.states(x)
            seq = torch.arange(x.shape[1], device=x.device)
            y_k = torch.sigmoid(model.net_k(st.y_c[lengths - 1, seq]))[:, 0]  # (n,)
            e_k = torch.zeros(*st.y_c.shape[:2], 1, device=x.device)  # (L, n, 1): dE/dnet_k, zero before the end
            e_k[lengths - 1, seq, 0] = 2 * (y_k - y) * y_k * (1 - y_k) / len(y)
            model.truncated_gradients(st, e_k)
            return ((y_k - y) ** 2).mean().item()
    loss = ((final_output(model, x, lengths, truncate) - y) ** 2).mean()
    model.zero_grad(set_to_none=True)
    loss.backward()
    return loss.item()


@torch.no_grad()
def evaluate(model, test: tuple, truncate: bool) -> dict[str, float]:
    x, lengths, y = test
    err = final_output(model, x, lengths, truncate) - y
    return {"mse": (err**2).mean().item(), "correct": (err.abs() < CORRECT).float().mean().item()}


def error_flow(model, test: tuple, n: int, truncate: bool) -> torch.Tensor:
    """Mean |d y^k(t_end) / d value(t_end - k)| over the first n test sequences, for k = 0 .. T - 1: how much of
    an error at the output reaches the value input k steps back (Section 3.1's scaling factor, measured). In
    float64, on a copy of the net: the tanh net's flow falls below float32's range within 200 steps."""
    x, lengths, _ = (v[:n] if v.dim() == 1 else v[:, :n] for v in test)
    x = x.double().requires_grad_(True)
    final_output(copy.deepcopy(model).double(), x, lengths, truncate).sum().backward()  # sequences independent
    seq = torch.arange(x.shape[1], device=x.device)
    T = int(lengths.min())
    k = torch.arange(T, device=x.device)
    return x.grad[lengths[None] - 1 - k[:, None], seq[None], 0].abs().mean(1).detach().cpu()  # (T,)


def log10_decay(flow: torch.Tensor) -> float:
    """log10 of the flow at the longest lag over the flow at lag 0, the former floored at the smallest normal
    float64 (a decay beyond 10^-307 reads as 10^-307)."""
    tiny = torch.finfo(torch.float64).tiny
    return math.log10(max(flow[-1].item(), tiny) / max(flow[0].item(), tiny))


# ------------------------------------------------------------------------------------------- training


def train_arm(name: str, model, cfg: Config, T: int, test: tuple, ctx, state: dict) -> None:
    """Train one arm on the adding problem, resuming inside it if the checkpoint says so; record its curve."""
    opt = (torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=cfg.lr)
    tag, start = f"T{T}_{name}", 0
    curve = state["curves"].setdefault(tag, {"step": [], "mse": [], "correct": []})
    if state.get("current") == tag:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
    with ctx.bar(cfg.steps - start, tag) as bar:
        for step in range(start, cfg.steps):
            x, lengths, y = (v.to(ctx.device) for v in adding_problem(cfg.batch, T, batch_generator(ctx.seed, T, step)))
            loss = learn(model, x, lengths, y, cfg.truncate)
            opt.step()
            bar.update(1, loss=loss)
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                m = evaluate(model, test, cfg.truncate)
                for k, v in (("step", step + 1), *m.items()):
                    curve[k].append(v)
                state["global"] += 1
                ctx.log(state["global"], **{f"{tag}_train_mse": loss, f"{tag}_test_mse": m["mse"],
                                            f"{tag}_test_correct": m["correct"]})
                state.update(current=tag, step=step + 1, model=model.state_dict(), opt=opt.state_dict())
                ctx.checkpoint(state["global"], state)


def adding_stage(cfg: Config, T: int, ctx, state: dict) -> dict[str, float]:
    """All arms at one T: train, test, measure the error flow before and after training, draw the pictures."""
    test = tuple(v.to(ctx.device) for v in adding_problem(cfg.test_sequences, T,
                                                          torch.Generator().manual_seed(TEST_SEED + T)))
    arms = {k: m.to(ctx.device) for k, m in make_arms(cfg, ctx.seed + T).items()}
    metrics = {f"T{T}_mean_mse": test[2].var(unbiased=False).item(),
               f"T{T}_mean_correct": ((test[2] - test[2].mean()).abs() < CORRECT).float().mean().item()}
    flows = {}
    for name, model in arms.items():
        flows[name, "untrained"] = error_flow(model, test, cfg.flow_sequences, cfg.truncate)
        tag = f"T{T}_{name}"
        if tag in state["trained"]:
            model.load_state_dict(state["trained"][tag])
        else:
            train_arm(name, model, cfg, T, test, ctx, state)
            state["trained"][tag] = model.state_dict()
            for k in ("current", "step", "model", "opt"):
                state.pop(k, None)
            ctx.checkpoint(state["global"], state)
        flows[name, "trained"] = error_flow(model, test, cfg.flow_sequences, cfg.truncate)
        curve = state["curves"][tag]  # its last point is the trained net on the test set
        metrics[f"{tag}_mse_ratio"] = curve["mse"][-1] / metrics[f"T{T}_mean_mse"]
        metrics[f"{tag}_correct"] = curve["correct"][-1]
        metrics[f"{tag}_weights"] = count_parameters(model)
        metrics[f"{tag}_flow_log10"] = log10_decay(flows[name, "untrained"])
        if name == "lstm1997":
            y_hat = final_output(model, test[0], test[1], cfg.truncate).detach().cpu()
    figures.adding(T, state["curves"], metrics, BAR, cfg.batch, ctx.path(f"adding_T{T}.png"))
    figures.error_flow(T, flows, ctx.path(f"error_flow_T{T}.png"))
    figures.predictions(T, test[2].cpu(), y_hat, CORRECT, ctx.path(f"predictions_T{T}.png"))
    return metrics


# ------------------------------------------------------------------------------- character model (full)


def equal_weight_srn_hidden(V: int, lstm_weights: int) -> int:
    """The fewest tanh units whose V-in, V-out net has at least `lstm_weights` weights: H^2 + H(2V + 1) + V."""
    H = 1
    while H * H + H * (2 * V + 1) + V < lstm_weights:
        H += 1
    return H


def kjv_ids(cfg: Config) -> tuple[torch.Tensor, list[str]]:
    """The KJV, verses joined by newlines, as character ids; the alphabet is every character it uses."""
    text = bible.text("kjv", sep="\n")[: cfg.lm_train_chars + cfg.lm_test_chars]
    alphabet = sorted(set(text))
    index = {c: i for i, c in enumerate(alphabet)}
    return torch.tensor([index[c] for c in text]), alphabet


def lm_step(model, x: torch.Tensor, y: torch.Tensor, state, V: int):
    """One chunk: x, y (L, n) ids -> mean cross-entropy (nats) and the state to carry on."""
    hs, state = model.hidden_states(F.one_hot(x, V).float(), state)
    loss = F.cross_entropy(model.readout(hs).flatten(0, 1), y.flatten())
    return loss, state


def detach(state):
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def bits_per_char(model, ids: torch.Tensor, V: int, pieces: int = 16, chunk: int = 1000) -> float:
    """Held-out text cut into `pieces` contiguous pieces run side by side from a zero state; every character but
    each piece's first is predicted from all before it in its piece."""
    P = min(pieces, len(ids) // 2)
    X = ids[: len(ids) // P * P].view(P, -1).T  # (L, P)
    total, count, state = 0.0, 0, None
    for i in range(0, X.shape[0] - 1, chunk):
        x, y = X[i : i + chunk], X[i + 1 : i + 1 + chunk]
        loss, state = lm_step(model, x[: len(y)], y, state, V)
        total, count = total + loss.item() * y.numel(), count + y.numel()
    return total / count / math.log(2)


def lm_stage(cfg: Config, ctx, state: dict) -> dict[str, float]:
    ids, alphabet = kjv_ids(cfg)
    V, n = len(alphabet), cfg.lm_train_chars
    ids = ids.to(ctx.device)
    g = torch.Generator().manual_seed(ctx.seed + 7)
    lstm = ForgetGateLSTM(V, cfg.lm_hidden, V, 1.0, g)
    arms = {"lstm": lstm, "srn": TanhRNN(V, equal_weight_srn_hidden(V, count_parameters(lstm)), V, g)}
    counts = torch.bincount(ids[:n], minlength=V).double() + 1  # unigram model, add-one smoothing
    unigram = -(counts / counts.sum()).log2()[ids[n:]].mean().item()
    metrics = {"lm_vocabulary": V, "lm_unigram_bpc": unigram}
    for name, model in arms.items():
        model.to(ctx.device)
        tag = f"lm_{name}"
        if tag not in state["trained"]:
            train_lm(tag, model, ids[:n], V, cfg, ctx, state)
            state["trained"][tag] = model.state_dict()
            for k in ("current", "step", "model", "opt", "total", "carried"):
                state.pop(k, None)
            ctx.checkpoint(state["global"], state)
        model.load_state_dict(state["trained"][tag])
        metrics[f"{tag}_bpc"] = bits_per_char(model, ids[n:], V)
        metrics[f"{tag}_weights"] = count_parameters(model)
        metrics[f"{tag}_hidden"] = model.H
    figures.lm(state["curves"], metrics, ctx.path("kjv_bpc.png"))
    return metrics


def train_lm(tag: str, model, ids: torch.Tensor, V: int, cfg: Config, ctx, state: dict) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lm_lr)
    curve = state["curves"].setdefault(tag, {"step": [], "bpc": []})
    X = ids[: len(ids) // cfg.lm_streams * cfg.lm_streams].view(cfg.lm_streams, -1).T  # (L, streams)
    chunks = (X.shape[0] - 1) // cfg.lm_chunk
    start, carried, total = 0, None, 0.0
    if state.get("current") == tag:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start, total = state["step"], state["total"]
        carried = state["carried"]
    with ctx.bar(cfg.lm_steps - start, tag) as bar:
        for step in range(start, cfg.lm_steps):
            i = (step % chunks) * cfg.lm_chunk
            if i == 0:
                carried = None  # a new pass through the text starts from a zero state
            loss, carried = lm_step(model, X[i : i + cfg.lm_chunk], X[i + 1 : i + 1 + cfg.lm_chunk], carried, V)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            carried, total = detach(carried), total + loss.item()
            bar.update(1, bpc=loss.item() / math.log(2))
            every = max(1, cfg.lm_steps // 20)
            if (step + 1) % every == 0 or step + 1 == cfg.lm_steps:
                curve["step"].append(step + 1)
                curve["bpc"].append(total / every / math.log(2))
                state["global"] += 1
                ctx.log(state["global"], **{f"{tag}_train_bpc": curve["bpc"][-1]})
                total = 0.0
                state.update(current=tag, step=step + 1, total=total, carried=carried, model=model.state_dict(),
                             opt=opt.state_dict())
                ctx.checkpoint(state["global"], state)


# ------------------------------------------------------------------------------------------------ run


def run(cfg: Config, ctx) -> dict[str, float]:
    state = {"global": 0, "curves": {}, "trained": {}, "metrics": {}, "done": []}
    if (ck := ctx.restore()) is not None:
        _, state = ck
    metrics = state["metrics"]
    for T in cfg.T:
        if f"T{T}" not in state["done"]:
            metrics.update(adding_stage(cfg, T, ctx, state))
            state["done"] = [*state["done"], f"T{T}"]
            ctx.checkpoint(state["global"], state)
    longest = max(cfg.T)  # the claims read the longest lag of the run
    for key in [k for k in metrics if k.startswith(f"T{longest}_")]:
        metrics[key.removeprefix(f"T{longest}_")] = metrics[key]
    if cfg.lm_train_chars and "lm" not in state["done"]:
        metrics.update(lm_stage(cfg, ctx, state))
        state["done"] = [*state["done"], "lm"]
        ctx.checkpoint(state["global"], state)
    return dict(metrics)
