"""Mikolov, Chen, Corrado & Dean (2013), "Efficient Estimation of Word Representations in Vector Space"
(arXiv:1301.3781): the continuous bag-of-words model (CBOW) and the continuous skip-gram model.

Both models are log-linear. Every word w has an *input vector* v_w (a row of the projection matrix; these
are the word vectors we keep). The hidden vector h is only a lookup of input vectors, with no non-linearity:

    CBOW (Sec. 3.1)        h = (1/|C_t|) sum_{c in C_t} v_{w_c}     the context words' vectors, averaged;
                           predict the word w_t in the middle       one prediction per position t
    skip-gram (Sec. 3.2)   h = v_{w_t};  predict each w_c, c in C_t  one (t, c) pair per context word

The context C_t holds the positions at most R_t away from t. R_t is drawn uniformly from 1..C for every
position (Sec. 3.2), so a word d positions away is used with probability (C - d + 1) / C: distant words
get less weight.

The output layer is a hierarchical softmax over a Huffman tree of the vocabulary (Sec. 2.1; Morin & Bengio
2005). Each word w is a leaf; the path from the root to it passes the inner nodes n(w, 1), ..., n(w, L(w)),
and the code bit d_j in {0, 1} says which branch the path takes at node j. Each inner node has an *output
vector* v'_n, and

    p(w | h) = prod_{j=1}^{L(w)} sigma((1 - 2 d_j) v'_{n(w, j)} . h)          (Eq. 3 of Mikolov et al. 2013b)

The Huffman code gives frequent words short paths. A prediction then costs about log2(unigram perplexity)
dot products, instead of the V of a full softmax.

Each factor of p(w | h) is a binary logistic regression with label y = 1 - d_j. Both output layers of
word2vec (this hierarchical softmax, and the negative sampling of Mikolov et al. 2013b, folder mikolov2012a)
are therefore trained by one update. It is written out by hand (`logistic_grads`) and applied as sparse SGD
with `index_add_`: a whole batch of positions per call, with no per-pair Python loop.

This file also holds what the two papers share: the vocabulary, the Huffman tree, the dynamic-window pairs
and the trainer. The tests (analogies, word similarity) are in `evaluation.py`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

ARCHITECTURES = ("cbow", "skipgram")


# -- the vocabulary ----------------------------------------------------------------------------------
@dataclass
class Vocabulary:
    """Words kept for training: those seen at least min_count times, by falling count (id 0 the most frequent)."""

    words: np.ndarray
    """(V,) str"""
    counts: np.ndarray
    """(V,) int64, falling"""

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words.tolist())}

    def __len__(self) -> int:
        return len(self.words)


def vocabulary(ids: np.ndarray, words: np.ndarray, doc_ends: np.ndarray, min_count: int, max_size: int):
    """Count the words of a text and keep those seen at least min_count times (at most max_size of them).

    ids (T0,) ids into `words`, doc_ends (P,) where each document ends -> (Vocabulary sorted by falling
    count, ties by id; the text w (T,) int64 in the new ids; its doc_ends). As in the C tool, rarer words
    are dropped from the text itself, not replaced by an unknown-word token."""
    counts = np.bincount(ids, minlength=len(words))
    order = np.lexsort((np.arange(len(counts)), -counts))  # by falling count, ties by id
    V = min(int((counts >= min_count).sum()), max_size)
    if V < 2:
        raise ValueError(f"fewer than two words are seen {min_count} times or more")
    new_id = np.full(len(counts), -1, np.int64)
    new_id[order[:V]] = np.arange(V)
    w = new_id[ids]
    keep = w >= 0
    kept_before = np.concatenate([[0], np.cumsum(keep)])  # (T0 + 1,)
    vocab = Vocabulary(np.asarray(words)[order[:V]], counts[order[:V]].astype(np.int64))
    return vocab, torch.from_numpy(w[keep]), torch.from_numpy(kept_before[np.asarray(doc_ends)].astype(np.int64))


# -- the Huffman tree (Sec. 2.1) ---------------------------------------------------------------------
@dataclass
class HuffmanTree:
    """Leaves 0..V-1 are the words. Inner node i (0..V-2) is output row i of the hierarchical softmax, and
    V-2 is the root. Paths are stored root first and padded with 0 to the longest code."""

    codes: torch.Tensor
    """(V, L_max) int64: the code bits d_j of each word, root first"""
    points: torch.Tensor
    """(V, L_max) int64: the inner nodes n(w, j) on each word's path, root first"""
    lengths: torch.Tensor
    """(V,) int64: L(w), the code length"""


def huffman_tree(counts: np.ndarray) -> HuffmanTree:
    """Huffman's (1952) optimal prefix code for word frequencies `counts` (V,), sorted by falling count.

    The tree is built by merging the two lightest nodes V - 1 times. With the leaves sorted, the two lightest
    nodes are always at the head of one of two queues: the leaves, lightest first, and the inner nodes in the
    order they were made (their weights only grow). So no heap is needed. Node V + i is inner node i."""
    V = len(counts)
    if V < 2 or np.any(np.diff(counts) > 0):
        raise ValueError("need at least two counts, sorted by falling count")
    weight = [int(c) for c in counts] + [0] * (V - 1)  # (2V - 1,); plain lists: this loop is scalar work
    parent, bit = [0] * (2 * V - 2), [0] * (2 * V - 2)  # bit: the branch taken into each node from its parent
    leaf, inner = V - 1, V  # heads of the two queues
    for node in range(V, 2 * V - 1):
        pair = []
        for _ in range(2):
            if leaf >= 0 and (inner >= node or weight[leaf] < weight[inner]):
                pair.append(leaf)
                leaf -= 1
            else:
                pair.append(inner)
                inner += 1
        weight[node] = weight[pair[0]] + weight[pair[1]]
        parent[pair[0]] = parent[pair[1]] = node
        bit[pair[1]] = 1
    return _paths(np.array(parent), np.array(bit), V)


def _paths(parent: np.ndarray, bit: np.ndarray, V: int) -> HuffmanTree:
    """Walk every leaf up to the root at once (one numpy step per level), then store each path root first."""
    root = 2 * V - 2
    node, up_codes, up_points, lengths = np.arange(V), [], [], np.zeros(V, np.int64)
    while np.any(node != root):
        active = node != root
        below = np.minimum(node, root - 1)  # the root has no parent: keep its index in range
        up_codes.append(np.where(active, bit[below], 0))
        node = np.where(active, parent[below], node)
        up_points.append(np.where(active, node - V, 0))
        lengths += active
    up_c, up_p = np.stack(up_codes, 1), np.stack(up_points, 1)  # (V, L_max), leaf first
    j = lengths[:, None] - 1 - np.arange(up_c.shape[1])[None]  # (V, L_max): index from the leaf end, < 0 past it
    valid = j >= 0
    j = np.where(valid, j, 0)
    codes = np.where(valid, np.take_along_axis(up_c, j, 1), 0)
    points = np.where(valid, np.take_along_axis(up_p, j, 1), 0)
    return HuffmanTree(torch.from_numpy(codes), torch.from_numpy(points), torch.from_numpy(lengths))


def huffman_expected_length(counts: np.ndarray) -> float:
    """The optimal expected code length sum_w f_w L(w), by the textbook heap algorithm (a reference for
    tests): each merge of weights a and b adds (a + b) / total, since every leaf below gets one bit more."""
    heap = [int(c) for c in counts]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        cost += a + b
        heapq.heappush(heap, a + b)
    return cost / float(np.sum(counts))


# -- the training pairs: a random window shrink at every position (Sec. 3.2) -----------------------
def window_pairs(start: int, stop: int, doc_ends: torch.Tensor, C: int, generator: torch.Generator):
    """Every (t, c) with t in [start, stop), 1 <= |c - t| <= R_t and c in t's document, R_t ~ U{1..C}.

    Returns positions t (P,), c (P,) sorted by t, each t's contexts in increasing order. Vectorised over the
    2C offsets: a (N, 2C) mask says which offsets fall inside each position's shrunk window."""
    t = torch.arange(start, stop)  # (N,)
    R = torch.randint(1, C + 1, (len(t),), generator=generator)  # (N,)
    offsets = torch.cat([torch.arange(-C, 0), torch.arange(1, C + 1)])  # (2C,)
    c = t[:, None] + offsets[None]  # (N, 2C)
    doc = torch.searchsorted(doc_ends, t, right=True)  # (N,) the document of each position
    lo = torch.where(doc > 0, doc_ends[(doc - 1).clamp(min=0)], 0)  # (N,) its first position
    hi = doc_ends[doc.clamp(max=len(doc_ends) - 1)]  # (N,) one past its last
    inside = (offsets.abs()[None] <= R[:, None]) & (c >= lo[:, None]) & (c < hi[:, None])  # (N, 2C)
    row, col = inside.nonzero(as_tuple=True)
    return t[row], c[row, col]


# -- the output layer ----------------------------------------------------------------------------------
class HierarchicalSoftmax:
    """Eq. 3 of Mikolov et al. 2013b: predicting word w is L(w) binary decisions, one per inner node on its
    path, with label y_j = 1 - d_j. Output rows: the V - 1 inner nodes."""

    per_position = True
    """all the predictions of one position are of the same word, so they share one path"""

    def __init__(self, tree: HuffmanTree):
        self.tree = tree
        self.n_rows = len(tree.lengths) - 1

    def cost(self, w: torch.Tensor) -> torch.Tensor:
        """(N,) decisions needed to predict each word: L(w)."""
        return self.tree.lengths[w]

    def decisions(self, w: torch.Tensor, generator: torch.Generator | None = None):
        """Words to predict w (N,) -> output rows (N, K), labels y (N, K), mask (N, K): the path of each word,
        padded to the longest one (K); padding points at row 0 and is masked out."""
        K = int(self.tree.lengths[w].max())
        mask = torch.arange(K)[None] < self.tree.lengths[w][:, None]  # (N, K)
        return self.tree.points[w, :K], 1.0 - self.tree.codes[w, :K].float(), mask


# -- the update: binary logistic regressions, gradient by hand ----------------------------------------
def logistic_grads(H: torch.Tensor, m_in: torch.Tensor, U: torch.Tensor, y: torch.Tensor, m_out: torch.Tensor):
    """The loss of a batch of binary decisions and its error signal, written by hand.

    Group i has M hidden vectors H_i (M, D) that all make the same K decisions with output vectors U_i (K, D)
    and labels y_i (K,) in {0, 1}; masks say which of the M and K slots are real. With f = v'_k . h_m:
        loss = -sum log sigma((2 y - 1) f)                  over the real (m, k)
        dloss/df = sigma(f) - y =: e
        dloss/dh_m = sum_k e_mk v'_k,        dloss/dv'_k = sum_m e_mk h_m
    H (N, M, D), m_in (N, M), U (N, K, D), y (N, K), m_out (N, K) -> (loss, e (N, M, K)), e = 0 on padding.
    The gradients are then e U (N, M, D) and e^T H (N, K, D): two batched matrix products."""
    f = torch.bmm(H, U.transpose(1, 2))  # (N, M, D) @ (N, D, K) -> (N, M, K)
    real = m_in[:, :, None] & m_out[:, None, :]  # (N, M, K)
    y = y[:, None, :]  # (N, 1, K)
    loss = -(F.logsigmoid((2 * y - 1) * f) * real).sum()
    return loss, torch.where(real, torch.sigmoid(f) - y, 0.0)


def repeat_scale(rows: torch.Tensor, real: torch.Tensor, n_rows: int, cap: float) -> torch.Tensor:
    """min(1, cap / n_r) for every slot of `rows`, n_r the number of real slots in the step that use row r.

    Summed over a step of thousands of predictions, the rows that nearly every prediction touches (the
    root of the tree, "the") would take steps thousands of times larger than one SGD step; the C tool makes
    those steps one after another, each seeing the row already moved. Scaling a row's summed step to at most
    `cap` times its mean step keeps a batch stable; a row used at most `cap` times, most rows, gets exactly
    the sum of the C tool's per-prediction steps."""
    n = torch.bincount(rows[real], minlength=n_rows).float()  # (n_rows,)
    return (cap / n.clamp(min=cap))[rows]  # same shape as rows


class Word2Vec:
    """The parameters of CBOW or skip-gram: input vectors V_in (V, D), the word vectors v_w, and output
    vectors V_out (n_rows, D), the v' of the output layer.

    Init as in the C tool: v_w uniform in +-0.5/D, v' zero (so the first updates move only v')."""

    def __init__(self, V: int, D: int, architecture: str, output, generator: torch.Generator, cap: float = 16.0):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.architecture, self.output, self.cap = architecture, output, cap
        self.V_in = (torch.rand(V, D, generator=generator) - 0.5) / D
        self.V_out = torch.zeros(output.n_rows, D)

    def groups(self, w: torch.Tensor, t: torch.Tensor, c: torch.Tensor):
        """The predictions of pairs (t, c) of text w, grouped by what they share -> the word each group
        predicts (N,), its input words (N, M) left-aligned and padded with 0, and their mask (N, M).

        CBOW (Sec. 3.1) predicts w_t once from all its context words: a group per position.
        skip-gram (Sec. 3.2) predicts w_c from w_t for each pair. Like the C tool, we turn each pair round
        (predict w_t from w_c: the window is symmetric, so the same pairs occur as often either way). Then the
        predictions of one position share the hierarchical softmax's path: a group per position. Where
        predictions share nothing (negative sampling draws new noise words for each), a group per pair."""
        if self.architecture == "skipgram" and not self.output.per_position:
            return w[t], w[c][:, None], torch.ones(len(t), 1, dtype=torch.bool)
        first = torch.ones_like(t, dtype=torch.bool)  # pairs come sorted by t: a group starts where t changes
        first[1:] = t[1:] != t[:-1]
        starts = first.nonzero().squeeze(1)  # (N,)
        group = torch.cumsum(first, 0) - 1  # (P,) the position each pair belongs to
        slot = torch.arange(len(t)) - starts[group]  # (P,) its place among the position's contexts
        ctx = torch.zeros(len(starts), int(slot.max()) + 1, dtype=torch.long)  # (N, M)
        mask = torch.zeros(ctx.shape, dtype=torch.bool)
        ctx[group, slot], mask[group, slot] = w[c], True
        return w[t[starts]], ctx, mask

    def hidden(self, ctx: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The hidden vectors H (N, M', D) and their mask (N, M'). skip-gram: h = v_c for each input word,
        M' = M. CBOW: h = the mean of the context words' v, M' = 1."""
        if self.architecture == "skipgram":
            return F.embedding(ctx, self.V_in), mask  # (N, M, D)
        weight = mask.to(self.V_in.dtype) / mask.sum(1, keepdim=True)  # (N, M): 1/n on real words, 0 on padding
        H = F.embedding_bag(ctx, self.V_in, mode="sum", per_sample_weights=weight)  # (N, D)
        return H[:, None, :], torch.ones(len(ctx), 1, dtype=torch.bool)

    def sgd_step(self, target: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor, alpha: float,
                 generator: torch.Generator) -> tuple[float, int]:
        """One SGD step of rate alpha on the summed loss of some groups; returns (loss, binary decisions).
        All gradients are taken at the current parameters, then applied at once."""
        M = int(mask.sum(1).max())
        ctx, mask = ctx[:, :M], mask[:, :M]  # drop the padding no group of this step needs
        H, m_in = self.hidden(ctx, mask)
        rows, y, m_out = self.output.decisions(target, generator)  # (N, K) each
        U = F.embedding(rows, self.V_out)  # (N, K, D)
        loss, e = logistic_grads(H, m_in, U, y, m_out)
        e_out = e * repeat_scale(rows, m_out, len(self.V_out), self.cap)[:, None, :]  # (N, M', K)
        if H.shape[1] == 1:  # one hidden vector per group: dloss/dU is an outer product, cheaper than bmm
            grad_U = e_out.transpose(1, 2) * H  # (N, K, 1) * (N, 1, D) -> (N, K, D)
        else:
            grad_U = torch.bmm(e_out.transpose(1, 2), H)  # (N, K, M) @ (N, M, D) -> (N, K, D)
        if self.architecture == "cbow":  # h is the mean of the n context vectors: each gets 1/n of dloss/dh
            share = mask.to(H.dtype) / mask.sum(1, keepdim=True) * repeat_scale(ctx, mask, len(self.V_in), self.cap)
            grad_in = share[:, :, None] * torch.bmm(e, U)  # (N, M, 1) * ((N, 1, K) @ (N, K, D))
        else:
            e_in = e * repeat_scale(ctx, mask, len(self.V_in), self.cap)[:, :, None]  # (N, M, K)
            grad_in = torch.bmm(e_in, U)  # (N, M, K) @ (N, K, D) -> (N, M, D)
        self.V_out.index_add_(0, rows.flatten(), grad_U.flatten(0, 1), alpha=-alpha)  # padding adds 0
        self.V_in.index_add_(0, ctx.flatten(), grad_in.flatten(0, 1), alpha=-alpha)
        return float(loss), int(m_in.sum(1).mul(m_out.sum(1)).sum())


STEPS_PER_BLOCK = 16
"""Positions are drawn in blocks of this many SGD steps, and each block's groups are sorted by their number
of inputs and decisions before they are cut into steps, so that each step has little padding."""


def train_words(model: Word2Vec, w: torch.Tensor, doc_ends: torch.Tensor, start: int, stop: int, C: int,
                batch: int, alpha0: float, done: int, total: int, generator: torch.Generator) -> dict:
    """Train on positions [start, stop) of text w, about `batch` positions per SGD step. The rate falls
    linearly from alpha0 to nearly 0 over `total` positions, of which `done` were trained before (as in the
    C tool). Returns counts for the log: positions, pairs, binary decisions, summed loss."""
    out = {"words": 0, "pairs": 0, "decisions": 0, "loss": 0.0}
    block = batch * STEPS_PER_BLOCK
    for s in range(start, stop, block):
        e = min(s + block, stop)
        alpha = alpha0 * max(1.0 - (done + s - start) / total, 1e-4)
        t, c = window_pairs(s, e, doc_ends, C, generator)
        out["words"] += e - s
        if len(t) == 0:
            continue
        target, ctx, mask = model.groups(w, t, c)
        order = torch.argsort(mask.sum(1) * 1024 + model.output.cost(target), stable=True)
        for idx in order.tensor_split(-(-(e - s) // batch)):
            if len(idx):
                loss, decisions = model.sgd_step(target[idx], ctx[idx], mask[idx], alpha, generator)
                out["loss"] += loss
                out["decisions"] += decisions
        out["pairs"] += len(t)
    return out
