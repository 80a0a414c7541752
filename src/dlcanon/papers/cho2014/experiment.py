"""Cho et al. (2014): the RNN Encoder-Decoder with the gated hidden unit (the GRU), against the same encoder-decoder
with LSTM units, on a real parallel corpus: English (KJV) -> Spanish (Reina-Valera 1909) Bible verses.

Two encoder-decoders are trained side by side: one with the paper's gated unit (Eqs. 5-8, the reset applied before
U, as the paper writes it), one with LSTM units whose hidden size is chosen so that the two have the same number of
parameters (within 2%). Both see the same minibatches in the same order, with the same optimiser and the same
number of updates. Every `eval_every` updates each model's perplexity on the held-out test verses is measured
(exp of the mean negative log-likelihood per Spanish token, end-of-sentence included). Claims: the two
perplexities are comparable (within 10% of each other, on each seed, whichever is lower), and both are clearly
below that of a unigram model of Spanish fitted to the same training verses (so "comparable" is not two failures).
The paper itself reports BLEU of an SMT system rescored by its model, not a GRU-LSTM comparison; the comparison at
equal parameters is Chung et al. (2014)'s.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dlcanon.core.config import Annotated, OneOf, Range
from dlcanon.core.paper import Claim
from dlcanon.core.translation import BOS, PAD, Vocab, bible_pairs, split, within

from . import figures
from .model import EncoderDecoder, count_parameters, init_paper_

ARMS = ("gru", "lstm")
TEST_FRACTION = 0.05  # the test verses every translation paper shares (core/translation.py)


@dataclass
class Config:
    max_words: Annotated[int, Range(ge=5, le=200)] = 15
    """verse pairs with at most this many tokens on both sides (the paper: phrase pairs of up to 7 words)"""
    max_train: Annotated[int, Range(ge=8, le=100_000)] = 100_000
    """at most this many training pairs (the first in canonical order)"""
    src_vocab: Annotated[int, Range(ge=8, le=50_000)] = 2000
    """English words kept (most frequent in the training verses; the others become UNK; the paper: 15,000)"""
    tgt_vocab: Annotated[int, Range(ge=8, le=50_000)] = 2000
    """Spanish words kept (the paper: 15,000 French words)"""
    m: Annotated[int, Range(ge=1, le=1024)] = 64
    """word embedding size, the rank of the input and output matrices (the paper: 100)"""
    H: Annotated[int, Range(ge=1, le=4096)] = 128
    """hidden units of the GRU encoder and decoder (the paper: 1000); the LSTM's are matched in parameters"""
    k: Annotated[int, Range(ge=1, le=4096)] = 128
    """maxout units before the softmax, each pooling 2 (the paper: 500)"""
    reset_after: bool = False
    """False: the paper's Eq. (8), h̃ = tanh(W x + U (r ⊙ h)); True: nn.GRU's tanh(W x + r ⊙ (U h))"""
    steps: Annotated[int, Range(ge=1, le=1_000_000)] = 200
    """updates of each model"""
    batch: Annotated[int, Range(ge=1, le=4096)] = 64
    """verse pairs per update (the paper: 64 phrase pairs)"""
    optimiser: Annotated[str, OneOf("adam", "adadelta")] = "adam"
    """adam, or the paper's adadelta (rho 0.95, eps 1e-6); the same for both models"""
    lr: Annotated[float, Range(gt=0, le=10)] = 0.002
    """step size (adadelta: its lr multiplier, 1.0 in Zeiler 2012)"""
    clip: Annotated[float, Range(ge=0, le=1000)] = 5.0
    """gradients rescaled to at most this global norm (0: off; the paper does not say it clipped)"""
    eval_every: Annotated[int, Range(ge=1, le=1_000_000)] = 50
    """updates between test-perplexity measurements (and checkpoints)"""
    gate_verses: Annotated[int, Range(ge=1, le=16)] = 3
    """test verses whose gate activity is drawn"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) must not exceed steps ({self.steps})")


PRESETS = {
    "smoke": Config(max_words=8, src_vocab=200, tgt_vocab=200, m=8, H=16, k=8, steps=4, batch=16, eval_every=2),
    "quick": Config(src_vocab=1000, tgt_vocab=1000, m=48, H=96, k=96, steps=160, lr=0.004, eval_every=40),
    "full": Config(  # sized for this 2-core CPU: about 19 minutes of CPU time (one thread)
        max_words=30, src_vocab=4000, tgt_vocab=4000, m=96, H=192, k=192, steps=1600, lr=0.002, eval_every=200
    ),
}

_SCALE = (
    "KJV -> RV1909 verse pairs, test verses shared with the other translation papers; quick: pairs of <= 15 tokens "
    "(2,669 train, 140 test), 48-d embeddings, GRU H=96, maxout 96, 1,000-word vocabularies, 160 Adam updates of "
    "64 pairs; full: <= 30 tokens (16,910 train, 927 test), 96-d, H=192, maxout 192, 4,000 words, 1,600 updates "
    "(the paper: 1000 units, 100-d, maxout 500, 15k words, Adadelta for 3 days on 348M words of phrase pairs)"
)
CLAIMS = [
    Claim(
        name="gru_and_lstm_comparable",
        metric="abs_log_ppl_ratio",
        op="<=",
        threshold=math.log(1.10),
        paper_value=(
            "The paper proposes the gated unit as 'motivated by the LSTM unit but much simpler to compute "
            "and implement' and reports no GRU-LSTM comparison; Chung et al. (2014) found the two "
            "'comparable' at equal parameter counts (their figures not checked against their paper)"
        ),
        scale_note=_SCALE + "; |log ppl_GRU - log ppl_LSTM| on the test verses, LSTM hidden size chosen so that the "
        "parameter counts agree within 2%; which one is lower is reported as gru_minus_lstm_log_ppl",
        known_fail=(
            "Holds at quick (within 5% on seeds 0-2) but not on the full preset (CPU, seed 0, recorded before this "
            "note): after the same 1,600 updates the GRU's test perplexity is 31.3 and the LSTM's 42.3, a gap of "
            "0.30 in log. The curves show the GRU ahead early at both scales; with the full budget the LSTM has not "
            "caught up. Not tried: a longer full run, or the LSTM's forget-gate bias at 1."
        ),
    ),
    Claim(
        name="gru_beats_unigram",
        metric="gru_log_ppl",
        minus="unigram_log_ppl",
        op="<",
        threshold=math.log(0.8),
        paper_value="no figure: a floor we set so that 'comparable' is not a comparison of two failures",
        scale_note=_SCALE + "; the GRU encoder-decoder's test perplexity at most 0.8 x that of an add-one unigram "
        "model of the Spanish training verses",
    ),
    Claim(
        name="lstm_beats_unigram",
        metric="lstm_log_ppl",
        minus="unigram_log_ppl",
        op="<",
        threshold=math.log(0.8),
        paper_value="no figure: the same floor for the LSTM encoder-decoder",
        scale_note=_SCALE + "; as above, for the LSTM",
    ),
]


# --------------------------------------------------------------------------------------------------- the data


def load_data(cfg: Config) -> dict:
    """Training and test verse pairs within cfg.max_words, vocabularies, and the pairs as id tensors. Training
    batches are runs of `batch` pairs of similar target length (little padding); their order is drawn per epoch."""
    train, _, test = split(within(bible_pairs("kjv", "rv1909"), cfg.max_words), test=TEST_FRACTION)
    train = train[: cfg.max_train]
    src = Vocab.build((s for _, s, _ in train), cfg.src_vocab)
    tgt = Vocab.build((t for _, _, t in train), cfg.tgt_vocab)
    train = sorted(train, key=lambda p: (len(p[2]), len(p[1])))  # stable: ties keep canonical order
    d = {"src": src, "tgt": tgt, "test_pairs": test}
    for name, pairs in (("train", train), ("test", test)):
        d[f"{name}_x"], d[f"{name}_x_len"] = src.batch([s for _, s, _ in pairs])  # (N, S) ids, EOS last
        d[f"{name}_y"], d[f"{name}_y_len"] = tgt.batch([t for _, _, t in pairs])  # (N, T)
    return d


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive runs of `size` rows of the length-sorted training pairs."""
    size = min(size, n)
    return [(i, min(i + size, n)) for i in range(0, n - size + 1, size)]


def batch_at(d: dict, cfg: Config, seed: int, step: int) -> tuple[torch.Tensor, ...]:
    """The step's minibatch, a function of (seed, step) only, so a resumed run draws what the whole run drew:
    epochs are fresh random orders of the length-sorted runs. Trimmed to its longest sentence."""
    runs = batches(len(d["train_y"]), cfg.batch)
    epoch, i = divmod(step, len(runs))
    order = torch.randperm(len(runs), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    a, b = runs[int(order[i])]
    return trim(d["train_x"][a:b], d["train_x_len"][a:b], d["train_y"][a:b], d["train_y_len"][a:b])


def trim(x, x_len, y, y_len) -> tuple[torch.Tensor, ...]:
    """Cut the padding columns beyond the longest sentence; y_prev = BOS, y_1..y_{T-1} (teacher forcing)."""
    x, y = x[:, : int(x_len.max())], y[:, : int(y_len.max())]
    y_prev = torch.cat([torch.full_like(y[:, :1], BOS), y[:, :-1]], 1)  # (B, T)
    return x, x_len, y_prev, y


# ----------------------------------------------------------------------------------------------- the models


def make_model(unit: str, H: int, cfg: Config, V_src: int, V_tgt: int, seed: int | None) -> EncoderDecoder:
    """An encoder-decoder; with a seed, initialised as Sec. 4.1 says (otherwise left as built: for counting)."""
    model = EncoderDecoder(V_src, V_tgt, cfg.m, H, cfg.k, unit, cfg.reset_after)
    if seed is not None:
        init_paper_(model, torch.Generator().manual_seed(seed))
    return model


def matched_lstm_H(cfg: Config, V_src: int, V_tgt: int) -> tuple[int, int, int]:
    """The LSTM hidden size whose encoder-decoder's parameter count is nearest the GRU one's:
    (H_lstm, GRU parameters, LSTM parameters). The count grows with H, so a bisection finds it; models are built
    on the meta device (no memory, no time)."""

    def count(unit: str, H: int) -> int:
        with torch.device("meta"):
            return count_parameters(make_model(unit, H, cfg, V_src, V_tgt, None))

    target = count("gru", cfg.H)
    lo, hi = 1, cfg.H  # an LSTM of GRU's size has more parameters: the match is at most cfg.H
    while lo < hi:  # the smallest H whose count reaches the target
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if count("lstm", mid) < target else (lo, mid)
    H_lstm = min({lo - 1, lo} - {0}, key=lambda h: abs(count("lstm", h) - target))
    return H_lstm, target, count("lstm", H_lstm)


def loss_sum(model: EncoderDecoder, x, x_len, y_prev, y) -> tuple[torch.Tensor, int]:
    """Summed negative log-likelihood -Σ log p(y_t | y_<t, x) over the real target tokens (Eq. 4), and their
    number: padding is masked out."""
    logits = model(x, x_len, y_prev)  # (B, T, V)
    nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=PAD, reduction="sum")
    return nll, int((y != PAD).sum())


@torch.no_grad()
def test_log_ppl(model: EncoderDecoder, d: dict, chunk: int = 256) -> float:
    """log perplexity on the test verses: mean negative log-likelihood per target token (EOS included)."""
    total, n = 0.0, 0
    for i in range(0, len(d["test_y"]), chunk):
        part = (d[k][i : i + chunk] for k in ("test_x", "test_x_len", "test_y", "test_y_len"))
        nll, count = loss_sum(model, *trim(*part))
        total, n = total + float(nll), n + count
    return total / n


def unigram_log_ppl(d: dict) -> float:
    """The floor: an add-one unigram model of the target tokens (EOS included) of the training verses."""
    V = len(d["tgt"])
    counts = Counter(d["train_y"][d["train_y"] != PAD].tolist())
    logp = torch.tensor([math.log((counts.get(w, 0) + 1) / (sum(counts.values()) + V)) for w in range(V)])
    y = d["test_y"][d["test_y"] != PAD]
    return float(-logp[y].mean())


def make_optimiser(cfg: Config, model: EncoderDecoder) -> torch.optim.Optimizer:
    if cfg.optimiser == "adadelta":
        return torch.optim.Adadelta(model.parameters(), lr=cfg.lr, rho=0.95, eps=1e-6)  # Sec. 4.1
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def train_chunk(cfg: Config, seed: int, d: dict, models: dict, opts: dict, start: int, stop: int) -> dict:
    """Updates start..stop-1, both models on the same minibatch. Returns each model's mean training loss."""
    losses = {arm: 0.0 for arm in ARMS}
    for step in range(start, stop):
        batch = batch_at(d, cfg, seed, step)
        for arm in ARMS:
            nll, n = loss_sum(models[arm], *batch)
            opts[arm].zero_grad()
            (nll / n).backward()
            if cfg.clip:
                torch.nn.utils.clip_grad_norm_(models[arm].parameters(), cfg.clip)
            opts[arm].step()
            losses[arm] += nll.item() / n / (stop - start)
    return losses


# ------------------------------------------------------------------------------------------------------- run


def run(cfg: Config, ctx) -> dict[str, float]:
    d = load_data(cfg)
    V_src, V_tgt = len(d["src"]), len(d["tgt"])
    H_lstm, n_gru, n_lstm = matched_lstm_H(cfg, V_src, V_tgt)
    models = {
        "gru": make_model("gru", cfg.H, cfg, V_src, V_tgt, ctx.seed),
        "lstm": make_model("lstm", H_lstm, cfg, V_src, V_tgt, ctx.seed + 1),
    }
    opts = {arm: make_optimiser(cfg, models[arm]) for arm in ARMS}
    curve: list[list[float]] = []  # per evaluation: step, GRU and LSTM test log-perplexity, training losses
    start = 0
    if (ck := ctx.restore()) is not None:
        start, state = ck
        for arm in ARMS:
            models[arm].load_state_dict(state[arm])
            opts[arm].load_state_dict(state[f"opt_{arm}"])
        curve = state["curve"]
    with ctx.bar(cfg.steps - start, "updates") as bar:
        for s in range(start, cfg.steps, cfg.eval_every):
            stop = min(s + cfg.eval_every, cfg.steps)
            train = train_chunk(cfg, ctx.seed, d, models, opts, s, stop)
            test = {arm: test_log_ppl(models[arm], d) for arm in ARMS}
            curve.append([float(stop), test["gru"], test["lstm"], train["gru"], train["lstm"]])
            ctx.log(
                stop,
                **{f"{arm}_test_ppl": math.exp(test[arm]) for arm in ARMS},
                **{f"{arm}_train_loss": train[arm] for arm in ARMS},
            )
            bar.update(stop - s, gru_ppl=math.exp(test["gru"]), lstm_ppl=math.exp(test["lstm"]))
            state = {arm: models[arm].state_dict() for arm in ARMS} | {f"opt_{a}": opts[a].state_dict() for a in ARMS}
            ctx.checkpoint(stop, state | {"curve": curve})
    metrics = {
        "gru_params": float(n_gru),
        "lstm_params": float(n_lstm),
        "gru_H": float(cfg.H),
        "lstm_H": float(H_lstm),
        "params_rel_diff": n_lstm / n_gru - 1,
        "gru_state_size": float(cfg.H),
        "lstm_state_size": 2.0 * H_lstm,
        "train_pairs": float(len(d["train_y"])),
        "test_pairs": float(len(d["test_y"])),
        "unigram_log_ppl": unigram_log_ppl(d),
    }
    metrics["unigram_ppl"] = math.exp(metrics["unigram_log_ppl"])
    for k, arm in enumerate(ARMS):
        metrics[f"{arm}_log_ppl"] = curve[-1][1 + k]
        metrics[f"{arm}_ppl"] = math.exp(curve[-1][1 + k])
    metrics["gru_minus_lstm_log_ppl"] = metrics["gru_log_ppl"] - metrics["lstm_log_ppl"]
    metrics["abs_log_ppl_ratio"] = abs(metrics["gru_minus_lstm_log_ppl"])
    bar_ratio = next(c.threshold for c in CLAIMS if c.name == "gru_and_lstm_comparable")
    figures.perplexity_curves(curve, metrics, bar_ratio, ctx.path("perplexity.png"))
    metrics.update(gate_activity(models["gru"], d, cfg.gate_verses, ctx.path("gates.png")))
    return metrics


@torch.no_grad()
def gate_activity(model: EncoderDecoder, d: dict, n: int, path) -> dict[str, float]:
    """The GRU's mean update gate z and reset gate r over its units at each step of the encoder (reading the
    English verse) and the decoder (scoring the Spanish one, teacher-forced), on the first n test verses."""
    n = min(n, len(d["test_y"]))
    x, x_len, y_prev, _ = trim(*(d[k][:n] for k in ("test_x", "test_x_len", "test_y", "test_y_len")))
    c, (z_enc, r_enc) = model.encode(x, x_len, keep_gates=True)  # (n, S, H) each
    _, (z_dec, r_dec) = model.decode(c, y_prev, keep_gates=True)  # (n, T, H)
    verses = []
    for i in range(n):
        S, T = int(x_len[i]), int(d["test_y_len"][i])
        verses.append(
            {
                "src": d["src"].decode(x[i, :S].tolist()) + ["</s>"],
                "tgt": ["<s>"] + d["tgt"].decode(y_prev[i, 1:T].tolist()),
                "enc": (z_enc[i, :S].mean(1).numpy(), r_enc[i, :S].mean(1).numpy()),
                "dec": (z_dec[i, :T].mean(1).numpy(), r_dec[i, :T].mean(1).numpy()),
            }
        )
    figures.gates(verses, path)
    return {
        "gru_mean_z_encoder": float(sum(v["enc"][0].mean() for v in verses) / n),
        "gru_mean_r_encoder": float(sum(v["enc"][1].mean() for v in verses) / n),
        "gru_mean_z_decoder": float(sum(v["dec"][0].mean() for v in verses) / n),
        "gru_mean_r_decoder": float(sum(v["dec"][1].mean() for v in verses) / n),
    }
