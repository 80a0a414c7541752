"""The baseline the paper compares against: an interpolated Kneser-Ney trigram, written out in full.

Kneser & Ney (1995) in the interpolated form of Chen & Goodman (1999, "An empirical study of smoothing techniques for
language modeling"). For a trigram u v w, with counts c taken from the training stream:

    p3(w | u v) = max(c(u v w) - D3(c(u v w)), 0) / c(u v .)  +  gamma3(u v) p2(w | v)
    p2(w | v)   = max(N1+(. v w) - D2(.), 0) / N1+(. v .)     +  gamma2(v)   p1(w)
    p1(w)       = max(N1+(. w) - D1(.), 0) / N1+(. .)          +  gamma1      / |V|

    gamma(context) = sum over the words w seen after the context of D(count of w) / (the context's total)

The lower orders do not count words: they count *distinct left neighbours* (N1+(. v w) = the number of different u
with c(u v w) > 0; N1+(. w) = the number of different v with N1+(. v w) > 0). A word that occurs often but always
after the same word ("francisco" after "san") then gets little weight where the trigram has no evidence. A context
never seen at an order hands all of its mass to the order below. The unigram level is interpolated with the
uniform distribution, so every word of the vocabulary has a probability above zero and, for any context, the
probabilities of the |V| words sum to one.

`modified=True` is Chen & Goodman's *modified* Kneser-Ney: three discounts per order, for counts 1, 2 and 3+,
estimated from that order's count-of-counts n_r (Y = n1 / (n1 + 2 n2); D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2,
D3+ = 3 - 4Y n4/n3). `modified=False` uses one discount per order, D = Y (Ney, Essen & Kneser 1994). Counts are
kept as sorted int64 keys (u |V|^2 + v |V| + w), so fitting and scoring are a few numpy sorts and searches.
"""

from __future__ import annotations

import numpy as np


def discounts(counts: np.ndarray, modified: bool) -> np.ndarray:
    """D[c] for c = 0, 1, 2, 3 (3 stands for 3+) from the count-of-counts of `counts` (the nonzero counts of one
    order). Each D[c] is clamped to [0, c], which keeps every discounted count >= 0, so the mass taken equals gamma's
    numerator and each distribution sums to one."""
    n = [np.count_nonzero(counts == r) for r in (1, 2, 3, 4)]
    Y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] > 0 else 0.5
    if not modified:
        D = [0.0, Y, Y, Y]
    else:
        D = [0.0] + [k - (k + 1) * Y * n[k] / n[k - 1] if n[k - 1] > 0 else Y for k in (1, 2, 3)]
    return np.clip(np.array(D, dtype=np.float64), 0.0, [0.0, 1.0, 2.0, 3.0])


class Level:
    """One order of the model: sorted keys (context |V| + word) with their counts, and per context its total,
    the mass its discounts take (gamma's numerator) and the discount table."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray, V: int, modified: bool):
        self.keys, self.counts = keys, counts.astype(np.float64)  # keys sorted, unique
        self.D = discounts(counts, modified)
        taken = self.D[np.minimum(counts, 3)]  # (K,) D(c) per seen n-gram
        self.contexts, first = np.unique(keys // V, return_index=True)  # sorted
        self.totals = np.add.reduceat(self.counts, first)  # c(context .)
        self.taken = np.add.reduceat(taken, first)  # sum_w D(c(context w))

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The count of each key (0 where unseen)."""
        i = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[i] == keys, self.counts[i], 0.0)

    def context(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(total, taken) of each context (0, 0 where unseen)."""
        i = np.minimum(np.searchsorted(self.contexts, contexts), len(self.contexts) - 1)
        seen = self.contexts[i] == contexts
        return np.where(seen, self.totals[i], 0.0), np.where(seen, self.taken[i], 0.0)

    def interpolate(self, keys: np.ndarray, lower: np.ndarray, V: int) -> np.ndarray:
        """max(c - D(c), 0) / total + taken / total * lower, or `lower` itself where the context is unseen."""
        c = self.lookup(keys)
        total, taken = self.context(keys // V)
        D = self.D[np.minimum(c, 3).astype(np.int64)]
        safe = np.where(total > 0, total, 1.0)
        return np.where(total > 0, (np.maximum(c - D, 0.0) + taken * lower) / safe, lower)


class KneserNeyTrigram:
    """Interpolated (optionally modified) Kneser-Ney trigram over word ids 0..V-1, fitted on one stream."""

    def __init__(self, V: int, modified: bool = True):
        if V ** 3 >= 2 ** 62:
            raise ValueError(f"a vocabulary of {V:,} words does not fit trigram keys in int64")
        self.V, self.modified = V, modified

    def fit(self, ids: np.ndarray) -> KneserNeyTrigram:
        """Count every trigram of the stream `ids` (int, length >= 3), then the continuation counts below it."""
        V = self.V
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) < 3 or ids.min() < 0 or ids.max() >= V:
            raise ValueError(f"need at least 3 word ids in 0..{V - 1}")
        trigrams = (ids[:-2] * V + ids[1:-1]) * V + ids[2:]
        k3, c3 = np.unique(trigrams, return_counts=True)  # c(u v w)
        k2, c2 = np.unique(k3 % (V * V), return_counts=True)  # N1+(. v w): distinct u per (v, w)
        k1, c1 = np.unique(k2 % V, return_counts=True)  # N1+(. w): distinct v per w
        self.trigram = Level(k3, c3, V, self.modified)
        self.bigram = Level(k2, c2, V, self.modified)
        self.unigram = Level(k1, c1, V, self.modified)  # one context (0): total N1+(. .)
        w = np.arange(V)
        self.p1 = self.unigram.interpolate(w, np.full(V, 1.0 / V), V)  # (V,) p1(w)
        return self

    def prob(self, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
        """p3(w | u v) for arrays of word ids (broadcast together), float64."""
        u, v, w = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (u, v, w)))
        V = self.V
        p2 = self.bigram.interpolate(v * V + w, self.p1[w], V)
        return self.trigram.interpolate((u * V + v) * V + w, p2, V)

    def stream_prob(self, ids: np.ndarray, start: int = 2) -> np.ndarray:
        """p(ids[t] | ids[t-2], ids[t-1]) for t = start .. len(ids)-1 (start >= 2)."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.prob(ids[start - 2 : -2], ids[start - 1 : -1], ids[start:])
