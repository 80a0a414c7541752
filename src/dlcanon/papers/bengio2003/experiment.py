"""Bengio et al. (2003): a neural probabilistic language model against a smoothed trigram, on Jane Austen.

The paper trained its network on the Brown corpus (about 800,000 training words) and on AP News, and compared
test perplexity with the best n-gram models of the day: Kneser-Ney and class-based back-off. Here the text is
Austen's six novels (janeaustenr). Four novels (Sense & Sensibility, Pride & Prejudice, Mansfield Park, Emma;
650,397 tokens) train both models; one whole novel (Northanger Abbey) is the validation set, for early stopping and
the mixture weight; another (Persuasion) is the test set, never looked at before the end. Tokens are lower-case
words and the punctuation marks . , ; : ! ?; words rarer than `min_count` in the training novels become <unk>,
the same vocabulary for every model.

Three language models are scored on the same test positions:
  kn       an interpolated (modified) Kneser-Ney trigram, written out in ngram.py
  nplm     the paper's network (model.py), trained by maximum likelihood, the best of `evals` checkpoints kept
  mixture  lambda * nplm + (1 - lambda) * kn, lambda fitted by maximum likelihood (EM) on the validation novel
Then the learned word features C are read: for a fixed list of query words in 14 categories, chosen before any
training (CATEGORIES), how many of each word's nearest neighbours (cosine between rows of C) belong to its category,
against the same count for frequency-matched stand-in words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dlcanon.core.config import Annotated, OneOf, Range
from dlcanon.core.data import austen
from dlcanon.core.paper import Claim

from . import figures
from .model import NPLM
from .ngram import KneserNeyTrigram

BOOKS = tuple(austen.BOOKS)


@dataclass
class Config:
    min_count: Annotated[int, Range(ge=1, le=100_000)] = 20
    """a word seen fewer times than this in the training novels becomes <unk> (the paper merged words seen 3 times
    or fewer, from memory: 4)"""
    valid_book: Annotated[str, OneOf(*BOOKS)] = "northangerabbey"
    """the novel held out for validation: early stopping and the mixture weight"""
    test_book: Annotated[str, OneOf(*BOOKS)] = "persuasion"
    """the novel held out for the test; the other four train both models"""
    train_tokens: Annotated[int, Range(ge=100, le=1_000_000)] = 1_000_000
    """the first this-many tokens of the training novels, in order of publication (1,000,000: all 650,397)"""
    eval_tokens: Annotated[int, Range(ge=100, le=1_000_000)] = 1_000_000
    """the first this-many tokens of each held-out novel are scored (1,000,000: the whole novel)"""
    n: Annotated[int, Range(ge=2, le=10)] = 5
    """the network sees the n-1 words before the one it predicts (the paper's best models: n = 5, from memory)"""
    m: Annotated[int, Range(ge=1, le=1024)] = 30
    """features per word, the columns of C (the paper: 30 to 100, from memory)"""
    h: Annotated[int, Range(ge=1, le=4096)] = 100
    """hidden units (the paper: 50 or 100 on Brown, from memory)"""
    direct: bool = False
    """direct connections W from the features to the output (the paper tried both)"""
    init_C: Annotated[float, Range(gt=0, le=10)] = 0.1
    """standard deviation of the initial word features C (the paper does not give its initial values)"""
    epochs: Annotated[float, Range(gt=0, le=100)] = 1.0
    """passes through the training tokens (fractions allowed)"""
    batch: Annotated[int, Range(ge=1, le=65_536)] = 512
    """examples per update (the paper: 1, plain stochastic gradient, from memory)"""
    lr: Annotated[float, Range(gt=0, le=1)] = 0.003
    """Adam step size at the start; it falls linearly to 0 at the end of training"""
    weight_decay: Annotated[float, Range(ge=0, le=1)] = 0.0
    """decoupled weight decay on every parameter (the paper: a 1e-4 penalty on weights and C, not biases; from
    memory)"""
    evals: Annotated[int, Range(ge=1, le=1000)] = 2
    """times the validation perplexity is measured during training, evenly spaced; the best checkpoint is kept"""
    kn_modified: bool = True
    """True: modified Kneser-Ney (3 discounts per order); False: one discount per order"""
    neighbours: Annotated[int, Range(ge=1, le=50)] = 5
    """nearest neighbours read for each query word"""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        if self.valid_book == self.test_book:
            raise ValueError(f"valid_book and test_book must be two different novels; both are {self.test_book}")
        if self.eval_tokens < self.n + 1:
            raise ValueError(f"eval_tokens must exceed n (the first n-1 tokens only give context); "
                             f"got {self.eval_tokens} <= {self.n}")


PRESETS = {
    "smoke": Config(min_count=5, train_tokens=20_000, eval_tokens=2_000, n=3, m=8, h=16, epochs=1.0, batch=256),
    "quick": Config(n=5, m=32, h=64, epochs=0.5, batch=512, lr=0.01, evals=1),
    "full": Config(min_count=4, n=5, m=60, h=100, epochs=10.0, batch=512, lr=0.003, evals=10),
}

_DATA = "Austen: 4 novels train (650k tokens), Northanger Abbey validates, Persuasion (96k tokens) tests"
CLAIMS = [
    Claim(
        "nplm_beats_kneser_ney",
        "nplm_test_bits",
        "<",
        0.0,
        "Sec. 4, Table 1 (Brown): the network alone has a lower test perplexity than every n-gram model; its best "
        "figures with the trigram mixed in are 252 against 312 for the best n-gram (a class-based back-off trigram), "
        "'about 24%' (the network alone: from memory, not checked against the paper)",
        _DATA + "; n = 5, 60 features, 100 hidden units, 10 epochs, Adam; vocabulary: words seen 4+ times; "
        "cross-entropy difference in bits per token against an interpolated modified Kneser-Ney trigram",
        minus="kn_test_bits",
        judged_on=("full",),
    ),
    Claim(
        "mixture_beats_kneser_ney",
        "mix_test_bits",
        "<",
        0.0,
        "Sec. 4: Brown test perplexity 252 for the network averaged with an interpolated trigram against 312 for "
        "the best n-gram (class-based back-off trigram), 'about 24%'; AP News 109 against 117 (modified Kneser-Ney "
        "5-gram), 'about 8%'",
        _DATA + "; quick: half an epoch of a small network (32 features, 64 hidden units), words seen 20+ times; "
        "mixture weight fitted on the validation novel",
        minus="kn_test_bits",
    ),
    Claim(
        "mixture_beats_nplm",
        "mix_test_bits",
        "<",
        0.0,
        "Sec. 4, Table 1: mixing the network's output with the interpolated trigram lowers its test perplexity "
        "further (from memory, not checked against the paper: the table's 'mix' column)",
        _DATA + "; the same mixture against the network alone",
        minus="nplm_test_bits",
    ),
    Claim(
        "features_put_related_words_together",
        "nn_precision",
        ">",
        0.1,
        "Sec. 1: similar words ('dog' and 'cat', 'room' and 'bedroom') are expected to get similar feature vectors, "
        "which is how the model generalises; the paper reports no measurement of it (examples from memory, not "
        "checked against the paper)",
        "a fixed list of 140 query words in 14 categories chosen before training; share of each word's "
        "5 nearest neighbours (cosine in C) in its own category, minus the same share for frequency-matched "
        "stand-in words in the same C",
        minus="nn_precision_control",
    ),
]


# --------------------------------------------------------------------------------------------- the data

TOKEN = re.compile(r"[a-z]+|[.,;:!?]")
UNK = "<unk>"


def tokens(text: str) -> list[str]:
    """Lower-case words (letters only: "don't" -> "don", "t") and the marks . , ; : ! ?"""
    return TOKEN.findall(text.lower())


def corpus(cfg: Config) -> dict:
    """The three token streams as word ids, the vocabulary (id 0 = <unk>, then by training count, most frequent
    first) and the training counts."""
    by_name = {name: tokens(text) for name, text in zip(BOOKS, austen.load().values(), strict=True)}
    train = [w for name in BOOKS if name not in (cfg.valid_book, cfg.test_book) for w in by_name[name]]
    train = train[: cfg.train_tokens]
    counts = Counter(train)
    vocab = [UNK] + sorted((w for w, c in counts.items() if c >= cfg.min_count), key=lambda w: (-counts[w], w))
    index = {w: i for i, w in enumerate(vocab)}

    def ids(words: list[str]) -> np.ndarray:
        return np.array([index.get(w, 0) for w in words], dtype=np.int64)

    return {"vocab": vocab, "counts": counts, "train": ids(train),
            "valid": ids(by_name[cfg.valid_book][: cfg.eval_tokens]),
            "test": ids(by_name[cfg.test_book][: cfg.eval_tokens])}


def windows(ids: np.ndarray, n: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every position t >= start of a stream: context (N, n-1) word ids, most recent first, and target (N,)."""
    x = torch.from_numpy(ids)
    T = len(ids)
    context = torch.stack([x[start - j : T - j] for j in range(1, n)], dim=1)  # column j-1 holds w_{t-j}
    return context, x[start:]


# ----------------------------------------------------------------------------------------------- training


class Adam:
    """Adam (Kingma & Ba 2015) with decoupled weight decay, the update of torch.optim.AdamW written out (a test
    checks they agree). The paper used plain stochastic gradient; see notes.md, Deviations. Written here rather than
    imported because torch.optim's first use costs seconds of start-up, a tenth of the quick preset's budget."""

    def __init__(self, params: list[torch.nn.Parameter], weight_decay: float = 0.0, betas=(0.9, 0.999),
                 eps: float = 1e-8):
        self.params, self.weight_decay, self.betas, self.eps = list(params), weight_decay, betas, eps
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]  # running mean of the gradient
        self.v = [torch.zeros_like(p) for p in self.params]  # running mean of its square

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            p.mul_(1 - lr * self.weight_decay)
            m.lerp_(p.grad, 1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            denom = (v.sqrt() / math.sqrt(1 - b2 ** self.t)).add_(self.eps)
            p.addcdiv_(m, denom, value=-lr / (1 - b1 ** self.t))

    def state_dict(self) -> dict:
        return {"t": self.t, "m": self.m, "v": self.v}

    def load_state_dict(self, state: dict) -> None:
        self.t = state["t"]
        for mine, saved in ((self.m, state["m"]), (self.v, state["v"])):
            for a, b in zip(mine, saved, strict=True):
                a.copy_(b)


def lr_at(cfg: Config, step: int, total: int) -> float:
    """The step size falls linearly from cfg.lr to 0 over training."""
    return cfg.lr * (1.0 - step / total)


def train_segment(model: NPLM, opt: Adam, X: torch.Tensor, Y: torch.Tensor, cfg: Config, seed: int, first: int,
                  last: int, total: int, bar) -> np.ndarray:
    """Updates `first`..`last`-1 of the run; update s takes batch s mod (updates per epoch) of epoch s // that, in
    an order drawn from (seed, epoch), so a resumed run sees the same batches. Returns each update's loss."""
    B = min(cfg.batch, len(Y))
    per_epoch = len(Y) // B
    losses, order, epoch = [], None, -1
    for s in range(first, last):
        if s // per_epoch != epoch:
            epoch = s // per_epoch
            order = torch.randperm(len(Y), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        j = order[(s % per_epoch) * B : (s % per_epoch + 1) * B]
        loss = F.cross_entropy(model(X[j]), Y[j])  # -mean log P(w_t | context): the training criterion, R = 0
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step(lr_at(cfg, s, total))
        losses.append(loss.item())
        bar.update(1, loss=losses[-1])
    return np.array(losses)


@torch.no_grad()
def log_probs(model: NPLM, X: torch.Tensor, Y: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    """log P(target | context) for every row, float64 (N,)."""
    return torch.cat([model.log_prob(X[i : i + chunk], Y[i : i + chunk]) for i in range(0, len(Y), chunk)]) \
        .double().numpy()


def train_nplm(cfg: Config, ctx, data: dict, start: int) -> tuple[NPLM, NPLM, dict, np.ndarray]:
    """Train with checkpoints at `evals` evenly spaced points; keep the parameters with the best validation
    perplexity (early stopping). Returns the best model, the untrained one, the curves (training loss in 40 pieces,
    validation perplexity at each checkpoint) and the best model's validation log-probabilities."""
    V = len(data["vocab"])
    X, Y = windows(data["train"], cfg.n, cfg.n - 1)
    Xv, Yv = windows(data["valid"], cfg.n, start)
    untrained, model = (NPLM(V, cfg.n, cfg.m, cfg.h, cfg.direct, cfg.init_C, torch.Generator().manual_seed(ctx.seed))
                        for _ in range(2))
    opt = Adam(model.parameters(), cfg.weight_decay)
    B = min(cfg.batch, len(Y))
    total = max(1, round(cfg.epochs * (len(Y) // B)))
    marks = sorted({max(1, round(total * (k + 1) / cfg.evals)) for k in range(cfg.evals)})
    piece = max(1, total // 40)  # updates per point of the training curve
    state = {"step": 0, "train": [], "valid": [], "best": None, "best_ppl": math.inf}
    if (ck := ctx.restore()) is not None:
        _, state = ck
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    with ctx.bar(total - state["step"], "nplm") as bar:
        for mark in marks:
            if mark <= state["step"]:
                continue
            losses = train_segment(model, opt, X, Y, cfg, ctx.seed, state["step"], mark, total, bar)
            steps = np.arange(state["step"], mark)
            for p in np.unique(steps // piece):  # a checkpoint may split a piece: each part becomes a point
                at = steps // piece == p
                end = int(steps[at][-1]) + 1
                ctx.log(end, train_loss=float(losses[at].mean()))
                state["train"] = [*state["train"], {"epochs": end * B / len(Y), "ppl": math.exp(losses[at].mean())}]
            logp = log_probs(model, Xv, Yv)
            ppl = float(np.exp(-logp.mean()))
            ctx.log(mark, valid_ppl=ppl)
            state["valid"] = [*state["valid"], {"epochs": mark * B / len(Y), "ppl": ppl}]
            if ppl < state["best_ppl"]:
                state["best_ppl"], state["best"] = ppl, {k: v.clone() for k, v in model.state_dict().items()}
                state["best_valid_logp"] = logp
            state.update(step=mark, model=model.state_dict(), opt=opt.state_dict())
            ctx.checkpoint(mark, state)
    model.load_state_dict(state["best"])
    return model, untrained, {"train": state["train"], "valid": state["valid"]}, state["best_valid_logp"]


# -------------------------------------------------------------------------------------------- measuring


def perplexity(p: np.ndarray) -> float:
    return float(np.exp(-np.log(p).mean()))


def fit_mixture(p_nplm: np.ndarray, p_kn: np.ndarray, iterations: int = 500) -> float:
    """The weight lambda maximising sum log(lambda p_nplm + (1 - lambda) p_kn), by EM (each step cannot lower the
    likelihood): lambda <- mean of the network's share of each mixed probability."""
    lam = 0.5
    for _ in range(iterations):
        share = lam * p_nplm / (lam * p_nplm + (1 - lam) * p_kn)
        new = float(share.mean())
        if abs(new - lam) < 1e-12:
            return new
        lam = new
    return lam


# Query words for the nearest-neighbour measure, in categories, fixed before any model was trained. Words not in
# a run's vocabulary are left out of that run's measure.
CATEGORIES = {
    "subject pronouns": "i he she we they you",
    "object pronouns": "me him us them",
    "possessive determiners": "my his our their your",
    "modal verbs": "could would should might must will shall can may",
    "forms of be": "is was were are been be am being",
    "kinship nouns": "mother father sister brother aunt uncle daughter son wife husband cousin niece nephew",
    "titles": "mr mrs miss sir lady colonel lord",
    "number words": "two three four five six seven eight ten twenty hundred thousand",
    "time nouns": "day week morning evening night year month hour minute moment",
    "reporting verbs": "said replied cried answered added continued exclaimed observed",
    "women's first names": "elinor marianne elizabeth jane lydia kitty emma harriet fanny julia maria lucy charlotte",
    "surnames": "darcy bingley wickham collins knightley elton weston churchill crawford bertram willoughby ferrars "
    "norris rushworth",
    "prepositions": "in on at with from by for of to into upon",
    "places": "london bath hartfield pemberley longbourn netherfield mansfield barton highbury",
}


def category_ids(vocab: list[str]) -> dict[str, list[int]]:
    """Each category's words that are in the vocabulary, as ids (categories with fewer than 2 are dropped)."""
    index = {w: i for i, w in enumerate(vocab)}
    groups = {name: [index[w] for w in words.split() if w in index] for name, words in CATEGORIES.items()}
    return {name: ids for name, ids in groups.items() if len(ids) >= 2}


def frequency_matched(groups: dict[str, list[int]], vocab: list[str], counts: Counter) -> dict[str, list[int]]:
    """Stand-in categories: every query word replaced by the unused word (in no category, not <unk>) whose training
    count is nearest its own. Same sizes and frequencies, no shared meaning: what frequency alone explains."""
    listed = {i for ids in groups.values() for i in ids}
    pool = [i for i in range(1, len(vocab)) if i not in listed]
    pool_counts = np.array([counts[vocab[i]] for i in pool], dtype=np.float64)
    used = np.zeros(len(pool), dtype=bool)
    out = {}
    for name, ids in groups.items():
        out[name] = []
        for i in ids:
            if used.all():  # a tiny vocabulary: stand-ins may repeat
                used[:] = False
            gap = np.where(used, np.inf, np.abs(np.log(pool_counts) - np.log(counts[vocab[i]])))
            k = int(np.argmin(gap))
            used[k] = True
            out[name].append(pool[k])
    return out


def neighbours(C: torch.Tensor, queries: list[int], k: int) -> np.ndarray:
    """The k nearest words (cosine similarity between rows of C) of each query word, itself excluded: (Q, k) ids."""
    Cn = F.normalize(C.detach().double(), dim=1)  # (V, m)
    sim = Cn[queries] @ Cn.T  # (Q, V)
    sim[torch.arange(len(queries)), torch.tensor(queries)] = -math.inf
    return sim.topk(k, dim=1).indices.numpy()


def precision(C: torch.Tensor, groups: dict[str, list[int]], k: int) -> tuple[float, dict[str, float]]:
    """Share of each query word's k nearest neighbours that are in its own category: mean over all query words,
    and per category."""
    per = {}
    for name, ids in groups.items():
        nn = neighbours(C, ids, k)
        per[name] = float(np.isin(nn, ids).mean())
    total = sum(per[name] * len(ids) for name, ids in groups.items()) / sum(len(ids) for ids in groups.values())
    return total, per


# ------------------------------------------------------------------------------------------------------ run


def run(cfg: Config, ctx) -> dict[str, float]:
    data = corpus(cfg)
    V = len(data["vocab"])
    start = max(cfg.n - 1, 2)  # the first positions of a held-out novel only give context, for both models
    kn = KneserNeyTrigram(V, cfg.kn_modified).fit(data["train"])
    p_kn = {split: kn.stream_prob(data[split], start) for split in ("valid", "test")}
    model, untrained, curve, valid_logp = train_nplm(cfg, ctx, data, start)
    p_nn = {"valid": np.exp(valid_logp), "test": np.exp(log_probs(model, *windows(data["test"], cfg.n, start)))}
    lam = fit_mixture(p_nn["valid"], p_kn["valid"])
    metrics: dict[str, float] = {"vocab_size": float(V), "train_tokens": float(len(data["train"])),
                                 "mix_weight": lam, "nplm_epochs": curve["valid"][-1]["epochs"],
                                 "nplm_best_epochs": min(curve["valid"], key=lambda r: r["ppl"])["epochs"]}
    for split in ("valid", "test"):
        mix = lam * p_nn[split] + (1 - lam) * p_kn[split]
        for name, p in (("kn", p_kn[split]), ("nplm", p_nn[split]), ("mix", mix)):
            metrics[f"{name}_{split}_ppl"] = perplexity(p)
            metrics[f"{name}_{split}_bits"] = math.log2(perplexity(p))
        metrics[f"{split}_oov_rate"] = float((data[split] == 0).mean())
    metrics["nplm_vs_kn_test_change"] = metrics["nplm_test_ppl"] / metrics["kn_test_ppl"] - 1
    metrics["mix_vs_kn_test_change"] = metrics["mix_test_ppl"] / metrics["kn_test_ppl"] - 1
    metrics.update(neighbour_metrics(model, untrained, data, cfg.neighbours, ctx))
    figures.perplexities(metrics, curve, p_nn, p_kn, lam, ctx.path("perplexity.png"))
    return metrics


def neighbour_metrics(model: NPLM, untrained: NPLM, data: dict, k: int, ctx) -> dict[str, float]:
    vocab = data["vocab"]
    groups = category_ids(vocab)
    if not groups:  # a vocabulary too small to hold two words of any category (tiny custom runs)
        return {"nn_precision": math.nan, "nn_precision_control": math.nan, "nn_precision_init": math.nan,
                "nn_queries": 0.0}
    control = frequency_matched(groups, vocab, data["counts"])
    nn_precision, per = precision(model.C, groups, k)
    nn_control, per_control = precision(model.C, control, k)
    nn_init, per_init = precision(untrained.C, groups, k)
    examples = {name: (ids[0], neighbours(model.C, ids[:1], k)[0]) for name, ids in groups.items()}
    totals = {"trained": nn_precision, "control": nn_control, "untrained": nn_init}
    bar = next(c.threshold for c in CLAIMS if c.metric == "nn_precision")
    figures.neighbours(per, per_control, per_init, totals, bar, examples, groups, vocab, k, ctx.path("neighbours.png"))
    return {"nn_precision": nn_precision, "nn_precision_control": nn_control, "nn_precision_init": nn_init,
            "nn_queries": float(sum(len(ids) for ids in groups.values()))}
