"""Mikolov, Sutskever, Chen, Corrado & Dean (2013), "Distributed Representations of Words and Phrases and
their Compositionality" (NIPS 26): three additions to the skip-gram model of the earlier paper.

The skip-gram model, its Huffman-tree hierarchical softmax, the dynamic window and the vectorised SGD update
come from mikolov2012b (Mikolov et al. 2013a, "Efficient Estimation ..."), imported here. This file adds:

1. Negative sampling, NEG (Sec. 2.2). The log-probability of the output word w_O given the input word w_I
   is replaced by the objective

       log sigma(v'_{w_O} . v_{w_I}) + sum_{i=1}^{k} E_{w_i ~ P_n(w)} [log sigma(-v'_{w_i} . v_{w_I})]      (Eq. 4)

   which tells the data word from k words drawn from a noise distribution. The paper's P_n(w) is the
   unigram distribution raised to the 3/4 power. There is one output vector per word, and a prediction
   costs k + 1 dot products, whatever the size of the vocabulary. The objective is again a sum of binary
   logistic regressions (labels 1 for w_O, 0 for the noise words), so the update of mikolov2012b applies
   unchanged.

2. Subsampling of frequent words (Sec. 2.3). Each occurrence of word w_i is discarded with probability

       P(w_i) = 1 - sqrt(t / f(w_i))                                                                  (Eq. 5)

   where f is the word's relative frequency and t a threshold (the paper uses t = 1e-5). Words rarer than
   t are always kept. We use this formula. The C tool released with the paper uses another one: it keeps
   a word with probability (sqrt(f/t) + 1) t/f, and its default is t = 1e-3.

3. Phrases (Sec. 4). Bigrams are scored by

       score(w_i, w_j) = (count(w_i w_j) - delta) / (count(w_i) x count(w_j))                          (Eq. 6)

   where delta is a discount that keeps phrases of very rare words out. A bigram scoring above a threshold
   becomes one token ("new_york"). Running 2-4 passes with a falling threshold builds longer phrases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dlcanon.papers.mikolov2012b.model import (  # noqa: F401  (re-exported: the system this paper extends)
    HierarchicalSoftmax,
    Vocabulary,
    Word2Vec,
    huffman_tree,
    logistic_grads,
    train_words,
    vocabulary,
    window_pairs,
)


# -- 1. negative sampling (Sec. 2.2) ----------------------------------------------------------------
class NegativeSampling:
    """Eq. 4: each prediction is k + 1 binary decisions: the data word w_O (label 1) and k noise words drawn
    from P_n(w) = U(w)^{3/4} / Z (label 0). Output rows: one output vector v'_w per word."""

    per_position = False
    """each prediction draws its own noise words, so predictions share nothing: a group per pair"""

    def __init__(self, counts: np.ndarray, k: int, power: float = 0.75):
        self.k = k
        self.n_rows = len(counts)
        p = torch.from_numpy(np.asarray(counts, np.float64)) ** power
        self.P_n = p / p.sum()  # (V,) the noise distribution
        self.cdf = torch.cumsum(self.P_n, 0)  # (V,): sample by inverting it

    def noise(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Words drawn independently from P_n (exactly, by inverting its cumulative distribution)."""
        u = torch.rand(shape, generator=generator, dtype=torch.float64) * self.cdf[-1]
        return torch.searchsorted(self.cdf, u).clamp_(max=self.n_rows - 1)

    def cost(self, w: torch.Tensor) -> torch.Tensor:
        return torch.full_like(w, self.k + 1)

    def decisions(self, w: torch.Tensor, generator: torch.Generator):
        """Words to predict w (N,) -> output rows (N, k + 1): w, then k noise words; labels y (N, k + 1):
        1, then 0s; mask (N, k + 1): all real. (Like the C tool, a noise word equal to w is not redrawn.)"""
        rows = torch.cat([w[:, None], self.noise((len(w), self.k), generator)], 1)  # (N, k + 1)
        y = torch.zeros(rows.shape)
        y[:, 0] = 1.0
        return rows, y, torch.ones(rows.shape, dtype=torch.bool)


# -- 2. subsampling of frequent words (Sec. 2.3) ----------------------------------------------------
def keep_probability(counts: np.ndarray, t: float) -> torch.Tensor:
    """1 - P(w_i) of Eq. 5: min(1, sqrt(t / f(w))) for every word of the vocabulary. (V,) float64."""
    f = torch.from_numpy(np.asarray(counts, np.float64))
    f = f / f.sum()
    return (t / f).sqrt().clamp(max=1.0)


def subsample(w: torch.Tensor, doc_ends: torch.Tensor, keep_p: torch.Tensor, generator: torch.Generator):
    """Drop each occurrence of word w independently with probability 1 - keep_p[w] (Eq. 5), before the
    windows are made, as the C tool does: the words that remain close up, so windows reach further.
    Returns (w (T',), doc_ends (P,)) of the text that remains."""
    keep = torch.rand(len(w), generator=generator, dtype=torch.float64) < keep_p[w]  # (T,)
    kept_before = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(keep, 0)])  # (T + 1,)
    return w[keep], kept_before[doc_ends]


# -- 3. phrases (Sec. 4) --------------------------------------------------------------------------
@dataclass
class Bigrams:
    """The distinct adjacent pairs (a, b) of a token stream, with their counts and Eq. 6 scores."""

    a: np.ndarray
    b: np.ndarray
    count: np.ndarray
    score: np.ndarray


def bigrams(w: np.ndarray, doc_ends: np.ndarray, delta: float) -> Bigrams:
    """Count every adjacent pair (w_i, w_{i+1}) that does not cross a document end, and score it by Eq. 6:
    (count(w_i w_j) - delta) / (count(w_i) count(w_j))."""
    w = np.asarray(w, np.int64)
    n = int(w.max()) + 1
    unigram = np.bincount(w, minlength=n).astype(np.float64)
    keys = _pair_keys(w, doc_ends, n)
    keys, count = np.unique(keys[keys >= 0], return_counts=True)
    a, b = keys // n, keys % n
    return Bigrams(a, b, count, (count - delta) / (unigram[a] * unigram[b]))


def _pair_keys(w: np.ndarray, doc_ends: np.ndarray, n: int) -> np.ndarray:
    """(T - 1,) a * n + b for each adjacent pair, -1 where the pair crosses a document end."""
    keys = w[:-1] * n + w[1:]
    ends = doc_ends[doc_ends < len(w)]
    keys[ends - 1] = -1
    return keys


def merge_phrases(w: np.ndarray, doc_ends: np.ndarray, chosen: Bigrams, first_id: int):
    """Replace the occurrences of the chosen pairs by new tokens first_id, first_id + 1, ... (in the order
    of `chosen`), left to right. Where chosen pairs overlap ("new york times" with both "new york" and
    "york times" chosen) the left one wins: in each run of consecutive chosen positions every other one is
    merged, starting with the first. Returns (new stream, new doc_ends)."""
    w = np.asarray(w, np.int64)
    n = max(int(w.max()), int(chosen.a.max(initial=0)), int(chosen.b.max(initial=0))) + 1
    chosen_keys = chosen.a * n + chosen.b
    order = np.argsort(chosen_keys)
    keys = _pair_keys(w, doc_ends, n)  # (T - 1,)
    at = np.searchsorted(chosen_keys[order], keys).clip(max=len(order) - 1)  # where each pair would be
    marked = (keys >= 0) & (chosen_keys[order][at] == keys) if len(order) else np.zeros(len(keys), bool)
    if not marked.any():
        return w, np.asarray(doc_ends)
    run_first = marked & ~np.concatenate([[False], marked[:-1]])  # the first marked position of each run
    run_start = np.flatnonzero(run_first)[np.cumsum(run_first) - 1]  # (T - 1,) where my run started
    merge = marked & ((np.arange(len(marked)) - run_start) % 2 == 0)  # (T - 1,)
    out = w.copy()
    out[:-1][merge] = first_id + order[at[merge]]
    drop = np.concatenate([[False], merge])  # the second word of a merged pair disappears
    kept_before = np.concatenate([[0], np.cumsum(~drop)])
    return out[~drop], kept_before[doc_ends]


def phrase_pass(w: np.ndarray, doc_ends: np.ndarray, words: list[str], delta: float, threshold: float,
                min_count: int):
    """One pass of Sec. 4: score all bigrams of words seen at least min_count times, turn those with
    T * score > threshold into tokens "a_b" (T the length of the text; the C tool's scaling, which makes
    the threshold independent of the corpus size). Returns (new stream, doc_ends, words, the chosen Bigrams)."""
    pairs = bigrams(w, doc_ends, delta)
    unigram = np.bincount(np.asarray(w, np.int64), minlength=len(words))
    ok = (unigram[pairs.a] >= min_count) & (unigram[pairs.b] >= min_count) & (len(w) * pairs.score > threshold)
    chosen = Bigrams(pairs.a[ok], pairs.b[ok], pairs.count[ok], pairs.score[ok])
    w2, ends2 = merge_phrases(w, doc_ends, chosen, len(words))
    names = [f"{words[a]}_{words[b]}" for a, b in zip(chosen.a.tolist(), chosen.b.tolist(), strict=True)]
    return w2, ends2, list(words) + names, chosen
