"""Mikolov et al. (2013b): skip-gram trained with negative sampling or the hierarchical softmax, with and
without subsampling of frequent words (the paper's Table 1, small), and phrases found by the bigram score.

Every model is a skip-gram model of the earlier paper (mikolov2012b) trained on the same text: Jane
Austen's six novels and 206 Wikipedia articles in quick, the whole offline English corpus in full. Each
row of `arms` names its output layer ("neg5": negative sampling with k = 5 noise words; "hs": the Huffman
hierarchical softmax) and, with "_sub", subsampling of frequent words. Measured per model, as in
mikolov2012b: analogy accuracy per section and group on the covered questions, the nearest-neighbour-of-c
baseline, WordSim-353 Spearman rho, CPU time and words per CPU second. Also measured: a count-based
baseline (PPMI-SVD of the same window) and the phrases found in the text, checked against WordNet's
multi-word entries.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from dlcanon.core.config import Annotated, Pattern, Range
from dlcanon.core.data import DataUnavailable, english, gensim_data
from dlcanon.core.paper import Claim
from dlcanon.papers.mikolov2012b import evaluation

from . import figures
from .model import (
    HierarchicalSoftmax,
    NegativeSampling,
    Word2Vec,
    bigrams,
    huffman_tree,
    keep_probability,
    phrase_pass,
    subsample,
    train_words,
    vocabulary,
    window_pairs,
)

PARTS = Pattern(r"(kjv|web|austen|wordnet|wikipedia)(,(kjv|web|austen|wordnet|wikipedia))*",
                "comma-separated corpus parts from kjv, web, austen, wordnet, wikipedia")
ARMS = Pattern(r"(neg\d{1,2}|hs)(_sub)?(,(neg\d{1,2}|hs)(_sub)?)*",
               "comma-separated models: neg<k> (negative sampling, k noise words) or hs, each with optional _sub")
CLAIMED_ARMS = ("neg5", "hs")
WORDNET = Path("/usr/share/wordnet")


@dataclass
class Config:
    parts: Annotated[str, PARTS] = "wikipedia,austen"
    """parts of the offline English corpus, in this order (the paper: 1B words of Google News)"""
    max_words: Annotated[int, Range(ge=1000, le=100_000_000)] = 800_000
    """train on the first max_words tokens of those parts (before rare words are dropped)"""
    min_count: Annotated[int, Range(ge=1, le=1000)] = 5
    """words seen fewer times are dropped (the paper: 5, giving 692K words)"""
    arms: Annotated[str, ARMS] = "neg5,hs"
    """the models, all skip-gram; the first is the one drawn (the paper's Table 1: NEG-5, NEG-15, HS-Huffman,
    NCE-5, each with and without subsampling)"""
    D: Annotated[int, Range(ge=2, le=1000)] = 50
    """vector size (the paper: 300 in Table 1)"""
    C: Annotated[int, Range(ge=1, le=20)] = 5
    """the largest context distance, R drawn from 1..C at each position (the C tool's default)"""
    epochs: Annotated[int, Range(ge=1, le=100)] = 1
    """passes through the text, each with a fresh subsampling draw"""
    batch: Annotated[int, Range(ge=1, le=65_536)] = 1024
    """text positions per SGD step (the C tool: 1, asynchronously in several threads)"""
    alpha: Annotated[float, Range(gt=0, le=1)] = 0.05
    """starting learning rate, falling linearly to ~0 (the C tool's default is 0.025; chosen after trials)"""
    cap: Annotated[float, Range(ge=1, le=1e9)] = 16.0
    """a row hit n > cap times in one step moves cap/n times its summed gradient (mikolov2012b.repeat_scale)"""
    t: Annotated[float, Range(gt=0, le=1)] = 1e-4
    """subsampling threshold of Eq. 5 (the paper: 1e-5 for a corpus of a billion words; see notes)"""
    eval_words: Annotated[int, Range(ge=10, le=1_000_000)] = 30_000
    """analogy answers are searched among this many most frequent words (the paper: 30,000)"""
    segments: Annotated[int, Range(ge=1, le=1000)] = 4
    """checkpoints (and curve points) per pass of each model"""
    ppmi_D: Annotated[int, Range(ge=0, le=1000)] = 50
    """size of the PPMI-SVD baseline vectors (0: no baseline)"""
    phrase_parts: Annotated[str, PARTS] = "kjv,web,austen,wordnet,wikipedia"
    """the text searched for phrases: the whole offline corpus (finding phrases costs no training)"""
    delta: Annotated[float, Range(ge=0, le=1e6)] = 5.0
    """the discount delta of Eq. 6 (the C tool's word2phrase uses its min_count, 5)"""
    thresholds: Annotated[tuple[float, ...], Range(gt=0, le=1e9, max_len=4)] = (200.0, 100.0)
    """one phrase pass per threshold on T x score (word2phrase's scaling; the paper: 2-4 passes, falling)"""
    top_k: Annotated[int, Range(ge=1, le=100_000)] = 100
    """phrases whose precision against WordNet is measured, per ranking"""

    def check(self) -> None:
        arms = self.arms.split(",")
        missing = [a for a in CLAIMED_ARMS if a not in arms]
        if missing or len(set(arms)) != len(arms):
            raise ValueError(f"arms must hold {', '.join(CLAIMED_ARMS)} (the claims compare them) once each; "
                             f"got {self.arms}")


PRESETS = {
    "smoke": Config(max_words=20_000, D=8, segments=2, ppmi_D=4, phrase_parts="austen", top_k=10),
    "quick": Config(),
    "full": Config(parts="kjv,web,austen,wordnet,wikipedia", max_words=100_000_000,
                   arms="neg5,hs,neg5_sub,hs_sub", D=300, epochs=3, batch=256, alpha=0.025,
                   ppmi_D=300, top_k=200),
}

CLAIMS = [
    Claim(
        name="neg_beats_hs",
        metric="neg5_acc_total",
        minus="hs_acc_total",
        op=">",
        threshold=0.0,
        paper_value="Table 1 (300-d skip-gram, 1B words), total accuracy without subsampling: NEG-5 59% vs "
        "HS-Huffman 47% (syntactic 63 vs 53, semantic 54 vs 40); with 1e-5 subsampling 60% vs 55%.",
        scale_note="quick: 0.8M tokens (206 Wikipedia articles, then Jane Austen's novels), 50-d, one pass, no "
        "subsampling, the same window, rate and batch for both; accuracy on covered questions.",
        known_fail="quick: after one pass over 0.8M tokens NEG-5 trails the hierarchical softmax by 0.78-1.07 "
        "points of total accuracy (0.93-1.03% against 1.77-2.06%, seeds 0-2). gensim 4.4 shows the same on "
        "1.1M tokens (one pass: NEG-5 1.8%, HS 3.2%); the paper's advantage of NEG is measured on 1B words. "
        "Full (4.4M tokens, 3 passes, 300-d) still fails: NEG-5 12.1% against HS 13.0%",
    ),
    Claim(
        name="subsampling_cuts_pairs",
        metric="subsampling_pair_ratio",
        op="<",
        threshold=0.5,
        paper_value="Abstract and Sec. 2.3: subsampling of frequent words gives a significant speedup "
        "(around 2x - 10x).",
        scale_note="Training pairs of one subsampled pass over those of a full pass of the same text (Eq. 5, "
        "t = 1e-4, counted with the same dynamic window); below 0.5 is a 2x cut. The paper's t = 1e-5 keeps "
        "only ~20% of a text this small.",
    ),
    Claim(
        name="subsampling_speeds_up",
        metric="subsampling_speedup",
        op=">",
        threshold=1.5,
        paper_value="Abstract: a speedup of around 2x - 10x; Table 1 gives training times with and without "
        "subsampling (not checked against the paper).",
        scale_note="full only: CPU seconds of the hierarchical-softmax model without subsampling over those "
        "with it, same passes; a timing, so it varies between runs.",
        judged_on=("full",),
    ),
    Claim(
        name="subsampling_not_worse",
        metric="hs_sub_acc_total",
        minus="hs_acc_total",
        op=">",
        threshold=-0.5,
        paper_value="Table 1, total accuracy without -> with 1e-5 subsampling: HS-Huffman 47% -> 55%, NEG-5 "
        "59% -> 60%, NEG-15 61% -> 61%.",
        scale_note="full only: same passes of the same text; the margin of -0.5 points (about two standard "
        "errors of a paired difference) was fixed before any run.",
        judged_on=("full",),
        known_fail="full: with subsampling (t = 1e-4) the HS model answers 8.8% of the covered questions "
        "against 13.0% without it (-4.3 points; NEG-5: 3.4% against 12.1%). Found in the recorded full run, where "
        "the claim was not yet marked and so shows FAIL. The paper's gain is at 1B words with t = 1e-5; our guess, "
        "not tested: on 4.4M tokens, dropping 55% of the pairs leaves three passes too few updates. Only this "
        "run was made (50 min of CPU)",
    ),
    Claim(
        name="neg_beats_nearest_c",
        metric="neg5_vs_nearest_c_z",
        op=">",
        threshold=3.0,
        paper_value="Table 1: NEG-5 answers 59% of the questions by the vector offset; no baseline that "
        "ignores a and b is given.",
        scale_note="McNemar z on the covered questions, 3CosAdd against the nearest neighbour of c on the same "
        "vectors; z > 3 (one-sided p ~ 0.001), fixed first.",
        known_fail="quick: z = -0.80, -0.54, -2.24 on seeds 0-2: one pass over 0.8M tokens leaves NEG-5's offset no "
        "better than the nearest neighbour of c (gensim's NEG-5 on the same kind of text needs about three "
        "passes to clear it). Full passes: z = 24.0",
    ),
    Claim(
        name="neg_beats_ppmi_svd",
        metric="neg5_acc_total",
        minus="ppmi_svd_acc_total",
        op=">",
        threshold=0.0,
        paper_value="Not in the paper (its baselines are earlier neural models); DATA.md §4 row 20 asks for "
        "skip-gram vectors well above a count-based PPMI-SVD baseline.",
        scale_note="PPMI of the same text and window (distance d weighted (C - d + 1) / C, as the dynamic "
        "window samples it), truncated SVD, vectors U S^(1/2) of the same size.",
        known_fail="quick: the count-based PPMI-SVD vectors of the same text answer 6.7% of the covered questions, "
        "NEG-5 0.9-1.0% (seeds 0-2): on a text this small the counts win by far. Full still fails: 12.1% "
        "against PPMI-SVD's 16.0%",
    ),
    Claim(
        name="wordsim_rho_above_bound",
        metric="neg5_ws353",
        op=">",
        threshold=0.3,
        paper_value="Not in the paper; DATA.md §4 row 20 suggests WordSim-353 Spearman rho > 0.3.",
        scale_note="Spearman rho between cosine and the human scores over the WordSim-353 pairs whose words "
        "are both in the vocabulary (ws353_pairs of them).",
        known_fail="quick: NEG-5's rho is 0.06-0.08 (seeds 0-2), while the hierarchical-softmax model trained on the "
        "same pass reaches 0.32-0.36 and PPMI-SVD 0.49: negative sampling's output vectors start at zero "
        "and one pass over 0.8M tokens is not enough for them (gensim's NEG-5: 0.04 after one pass). Full "
        "passes: 0.41",
    ),
    Claim(
        name="phrase_score_finds_wordnet_phrases",
        metric="phrase_precision",
        minus="frequent_bigram_precision",
        op=">",
        threshold=0.2,
        paper_value="Sec. 4: bigrams ranked by (count(wi wj) - delta) / (count(wi) count(wj)) are phrases "
        "('New York Times', 'Toronto Maple Leafs'); no precision is reported.",
        scale_note="The whole offline corpus (4.4M tokens): precision of the top_k = 100 bigrams (both words "
        "seen >= min_count times, the pair > delta times) found among WordNet 3.0's multi-word lemmas, "
        "against the top_k most frequent bigrams; the margin of 20 points was fixed first.",
    ),
]


# -- the text and the models -----------------------------------------------------------------------
def load_text(cfg: Config):
    """(raw ids (T0,) into `words`, words, doc_ends) of the first max_words tokens of the chosen parts."""
    c = english.corpus(tuple(cfg.parts.split(",")))
    n = min(cfg.max_words, len(c["ids"]))
    return c["ids"][:n], c["vocab"], np.minimum(c["part_ends"], n)


def arm_spec(name: str) -> tuple[str, int, bool]:
    """"neg15_sub" -> ("neg", 15, True); "hs" -> ("hs", 0, False)."""
    kind, _, sub = name.partition("_")
    return ("hs", 0, bool(sub)) if kind == "hs" else ("neg", int(kind[3:]), bool(sub))


def new_model(name: str, vocab, cfg: Config, generator) -> Word2Vec:
    kind, k, _ = arm_spec(name)
    output = HierarchicalSoftmax(huffman_tree(vocab.counts)) if kind == "hs" else NegativeSampling(vocab.counts, k)
    return Word2Vec(len(vocab), cfg.D, "skipgram", output, generator, cap=cfg.cap)


def generator(seed: int, arm: int, step: int) -> torch.Generator:
    """A fresh generator per (model, segment) (step 10**6 + e: the subsampling of pass e; 2 * 10**6: the
    initial vectors), so that a resumed run draws the same numbers."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, arm, step]).generate_state(1)[0]))


def epoch_text(name: str, a: int, epoch: int, w, doc_ends, keep_p, seed: int):
    """The text of one pass of model a: with "_sub", a fresh subsampling draw (Eq. 5)."""
    if not arm_spec(name)[2]:
        return w, doc_ends
    return subsample(w, doc_ends, keep_p, generator(seed, a, 10**6 + epoch))


def train_segment(model: Word2Vec, text, cfg: Config, step: int, generator_) -> dict:
    """Train segment `step` (0-based, `segments` per pass) of the run of one model on its pass's text."""
    w, doc_ends = text
    T = len(w)
    epoch, k = divmod(step, cfg.segments)
    start, stop = T * k // cfg.segments, T * (k + 1) // cfg.segments
    return train_words(model, w, doc_ends, start, stop, cfg.C, cfg.batch, cfg.alpha, epoch * T + start,
                       cfg.epochs * T, generator_)


# -- the run ---------------------------------------------------------------------------------------
def run(cfg: Config, ctx) -> dict[str, float]:
    vocab, w, doc_ends = vocabulary(*load_text(cfg), cfg.min_count, 10**9)
    questions = evaluation.encode_questions(gensim_data.analogies(), vocab.index, min(cfg.eval_words, len(vocab)))
    keep_p = keep_probability(vocab.counts, cfg.t)
    names, steps = cfg.arms.split(","), cfg.epochs * cfg.segments
    state = {"arm": 0, "step": 0, "metrics": {}, "counts": {}, "drawn": {}}
    if (ck := ctx.restore()) is not None:
        state = ck[1]
    with ctx.bar(len(names) * steps, "segments") as bar:
        bar.update(state["arm"] * steps + state["step"])
        for a, name in enumerate(names):
            if a < state["arm"]:
                continue
            model = new_model(name, vocab, cfg, generator(ctx.seed, a, 2 * 10**6))
            if state["step"] > 0:
                model.V_in, model.V_out = state["V_in"], state["V_out"]
            while state["step"] < steps:
                text = epoch_text(name, a, state["step"] // cfg.segments, w, doc_ends, keep_p, ctx.seed)
                t0 = time.process_time()
                out = train_segment(model, text, cfg, state["step"], generator(ctx.seed, a, state["step"]))
                out["cpu_s"] = time.process_time() - t0
                for key, v in out.items():
                    state["counts"][f"{name}_{key}"] = state["counts"].get(f"{name}_{key}", 0.0) + v
                state["step"] += 1
                loss = out["loss"] / max(out["decisions"], 1)
                ctx.log(a * steps + state["step"], **{f"{name}_loss": loss})
                bar.update(1, loss=loss)
                ctx.checkpoint(a * steps + state["step"], {**state, "V_in": model.V_in, "V_out": model.V_out})
            state["metrics"].update(measure(name, model.V_in, vocab, questions, state["counts"]))
            if a == 0:
                state["drawn"] = figures.country_capital_projection(model.V_in, vocab)
            state.update(arm=a + 1, step=0)
            state.pop("V_in", None), state.pop("V_out", None)
            ctx.checkpoint((a + 1) * steps, state)
    metrics = dict(state["metrics"])
    metrics["subsampling_pair_ratio"] = pair_ratio(w, doc_ends, keep_p, cfg.C, ctx.seed)
    metrics.update(baseline(cfg, w, doc_ends, vocab, questions))
    metrics.update(phrase_metrics(cfg, ctx))
    return final_metrics(cfg, metrics, questions, state["drawn"], ctx)


def pair_ratio(w: torch.Tensor, doc_ends: torch.Tensor, keep_p: torch.Tensor, C: int, seed: int) -> float:
    """Training pairs of one subsampled pass over those of a full pass of the text (counted, not trained)."""
    g = generator(seed, 3 * 10**6, 0)  # a stream of its own, apart from every model's
    sub_w, sub_ends = subsample(w, doc_ends, keep_p, g)
    return count_pairs(len(sub_w), sub_ends, C, g) / count_pairs(len(w), doc_ends, C, g)


def count_pairs(T: int, doc_ends: torch.Tensor, C: int, g: torch.Generator, block: int = 65_536) -> int:
    return sum(len(window_pairs(s, min(s + block, T), doc_ends, C, g)[0]) for s in range(0, T, block))


def measure(name: str, vectors: torch.Tensor, vocab, questions, counts: dict) -> dict[str, float]:
    """Analogy accuracy (3CosAdd and the nearest-neighbour-of-c baseline), WordSim-353, speed of one model."""
    out = evaluate_vectors(name, vectors, vocab, questions)
    cpu = max(counts[f"{name}_cpu_s"], 1e-9)
    out[f"{name}_cpu_s"] = cpu
    out[f"{name}_words_per_s"] = counts[f"{name}_words"] / cpu
    out[f"{name}_trained_words"] = counts[f"{name}_words"]
    out[f"{name}_pairs"] = counts[f"{name}_pairs"]
    out[f"{name}_loss"] = counts[f"{name}_loss"] / max(counts[f"{name}_decisions"], 1)
    return out


def evaluate_vectors(name: str, vectors: torch.Tensor, vocab, questions) -> dict[str, float]:
    return evaluation.score(name, vectors, questions, vocab.index, gensim_data.wordsim353())


# -- the count-based baseline --------------------------------------------------------------------
def ppmi_svd(w: torch.Tensor, doc_ends: torch.Tensor, V: int, C: int, D: int, seed: int) -> torch.Tensor:
    """Word vectors from the positive pointwise mutual information of the same window, by truncated SVD.

    Co-occurrence at distance d counts (C - d + 1) / C, the chance that the dynamic window reaches it;
    PPMI(w, c) = max(0, log(#(w, c) #() / (#(w) #(c)))); vectors U_D S_D^(1/2) (Levy, Goldberg & Dagan
    2015). (V, D)."""
    w, ends = w.numpy(), doc_ends.numpy()
    doc = np.searchsorted(ends, np.arange(len(w)), side="right")
    rows, cols, vals = [], [], []
    for d in range(1, C + 1):
        same = doc[:-d] == doc[d:]
        a, b = w[:-d][same], w[d:][same]
        weight = np.full(len(a), (C - d + 1) / C, np.float64)
        rows += [a, b]
        cols += [b, a]
        vals += [weight, weight]
    X = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(V, V)).tocsr()
    X.sum_duplicates()
    row, col = X.sum(1).A.ravel(), X.sum(0).A.ravel()
    Xc = X.tocoo()
    pmi = np.log(Xc.data * X.sum() / (row[Xc.row] * col[Xc.col]))
    keep = pmi > 0
    P = torch.sparse_coo_tensor(np.stack([Xc.row[keep], Xc.col[keep]]), torch.from_numpy(pmi[keep]).float(),
                                (V, V), check_invariants=False).coalesce()
    torch.manual_seed(seed)  # svd_lowrank draws its random projection from the global generator
    U, S, _ = torch.svd_lowrank(P, q=min(D + 10, V), niter=4)
    return U[:, :D] * S[:D].sqrt()


def baseline(cfg: Config, w, doc_ends, vocab, questions) -> dict[str, float]:
    if cfg.ppmi_D == 0:
        return {}
    vectors = ppmi_svd(w, doc_ends, len(vocab), cfg.C, min(cfg.ppmi_D, len(vocab) - 1), 0)
    return evaluate_vectors("ppmi_svd", vectors, vocab, questions)


# -- phrases ----------------------------------------------------------------------------------------
def wordnet_phrases() -> set[str]:
    """WordNet 3.0's lemmas of two or more words, written as our tokens joined by "_" ("new_york")."""
    out = set()
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"index.{pos}"
        if not path.is_file():
            raise DataUnavailable(f"WordNet is not installed ({path} missing). Install it with: "
                                  f"{english.WORDNET_INSTALL}")
        for line in path.read_text(encoding="latin-1").splitlines():
            if not line.startswith(" "):  # the licence header is indented
                tokens = re.findall(r"[a-z]+", line.split(" ", 1)[0].lower())
                if len(tokens) >= 2:
                    out.add("_".join(tokens))
    return out


def phrase_metrics(cfg: Config, ctx) -> dict[str, float]:
    """Sec. 4 on the raw text: rank the bigrams by Eq. 6, by Eq. 6 without the discount, and by count; the
    precision of each top_k against WordNet; then the phrase passes, and the phrases of 3+ words they make."""
    gold = wordnet_phrases()
    c = english.corpus(tuple(cfg.phrase_parts.split(",")))
    raw, words, raw_ends = c["ids"].astype(np.int64), c["vocab"], c["part_ends"]
    pairs = bigrams(raw, raw_ends, cfg.delta)
    unigram = np.bincount(raw, minlength=len(words))
    ok = (unigram[pairs.a] >= cfg.min_count) & (unigram[pairs.b] >= cfg.min_count) & (pairs.count > cfg.delta)
    name = np.char.add(np.char.add(words[pairs.a[ok]], "_"), words[pairs.b[ok]])
    in_wordnet = np.array([n in gold for n in name.tolist()], bool)
    rankings = {"phrase": -pairs.score[ok], "frequent_bigram": -pairs.count[ok],
                "undiscounted": -(pairs.count[ok] / (unigram[pairs.a[ok]] * unigram[pairs.b[ok]].astype(float)))}
    out, tops = {}, {}
    for key, neg_score in rankings.items():
        order = np.argsort(neg_score, kind="stable")[: cfg.top_k]
        out[f"{key}_precision"] = float(in_wordnet[order].mean()) if len(order) else float("nan")
        tops[key] = (name[order].tolist(), in_wordnet[order].tolist())
    w, ends, vocab_words = raw, raw_ends, list(words)
    for threshold in cfg.thresholds:  # each pass can join a phrase of the last pass to one more word
        w, ends, vocab_words, _ = phrase_pass(w, ends, vocab_words, cfg.delta, threshold, cfg.min_count)
    longer = [p for p in vocab_words[len(words):] if p.count("_") >= 2]
    out["phrases_found"] = float(len(vocab_words) - len(words))
    out["phrases_3plus"] = float(len(longer))
    out["phrases_3plus_in_wordnet"] = float(sum(p in gold for p in longer))
    figures.phrases(tops, longer, cfg, ctx.path("phrases.png"))
    return out


def final_metrics(cfg: Config, metrics: dict, questions, drawn: dict, ctx) -> dict[str, float]:
    """The comparisons, the coverage, and the figures."""
    if "hs_sub_cpu_s" in metrics:
        metrics["subsampling_speedup"] = metrics["hs_cpu_s"] / metrics["hs_sub_cpu_s"]
    metrics.update(evaluation.coverage(questions))
    figures.table1(metrics, cfg.arms.split(","), ctx.path("table1.png"))
    if drawn:
        figures.countries(drawn, cfg.arms.split(",")[0], ctx.path("countries.png"))
    return metrics
