"""Mechanism tests: the Kneser-Ney trigram by hand and against a literal second implementation, the network by hand
and against torch's own modules, the data windows, the mixture fit, the neighbour measure, and an exact resume."""

import itertools
import math
from collections import Counter
from fractions import Fraction as Fr

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import austen
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.bengio2003 import experiment as ex
from dlcanon.papers.bengio2003.model import NPLM
from dlcanon.papers.bengio2003.ngram import KneserNeyTrigram, discounts

# ------------------------------------------------------------------------------------------ Kneser-Ney

A, B, C, D = range(4)
TOY = [A, B, A, B, C, A, B, A]  # "a b a b c a b a" over the vocabulary {a, b, c, d}; d never occurs


def test_interpolated_kneser_ney_by_hand():
    """Every number below was worked out on paper from the formulas in ngram.py (see the comments)."""
    kn = KneserNeyTrigram(4, modified=False).fit(np.array(TOY))
    # trigram counts aba 2, bab 1, abc 1, bca 1, cab 1: n1 = 4, n2 = 1 -> D = 4 / 6
    # continuation counts N1+(. v w): ba 1, ab 2 (after b and c), bc 1, ca 1: n1 = 3, n2 = 1 -> D = 3 / 5
    # N1+(. w) over those bigram types: a 2 (b, c), b 1, c 1, d 0: n1 = 2, n2 = 1 -> D = 1 / 2
    assert kn.trigram.D[1] == pytest.approx(2 / 3) and kn.bigram.D[1] == pytest.approx(3 / 5)
    assert kn.unigram.D[1] == pytest.approx(1 / 2)
    # p1(w) = max(N1+(. w) - 1/2, 0) / 4 + (3 * 1/2) / 4 * 1/4
    assert kn.p1.tolist() == pytest.approx([15 / 32, 7 / 32, 7 / 32, 3 / 32], abs=1e-15)
    # p2(w | a): a is followed by b only (continuation count 2): (2 - 3/5) / 2 + (3/5) / 2 * p1(w)
    assert kn.prob(D, A, [A, B, C, D]).tolist() == pytest.approx([9 / 64, 49 / 64, 21 / 320, 9 / 320], abs=1e-15)
    # p3(w | a b): c(aba) = 2, c(abc) = 1, total 3, mass taken 2 * 2/3, then p2(w | b) = (77, 21, 53, 9) / 160
    expected = [79 / 120, 7 / 120, 31 / 120, 1 / 40]
    assert kn.prob(A, B, [A, B, C, D]).tolist() == pytest.approx(expected, abs=1e-15)
    # an unseen trigram context hands everything to p2; an unseen bigram context to p1
    assert kn.prob(D, A, B) == pytest.approx(49 / 64, abs=1e-15)
    assert kn.prob(A, D, [A, B, C, D]).tolist() == pytest.approx(kn.p1.tolist(), abs=1e-15)


def test_modified_discounts_by_hand():
    # n1 = 4, n2 = 2, n3 = 1, n4 = 1: Y = 4 / 8; D1 = 1 - 2Y 2/4, D2 = 2 - 3Y 1/2, D3+ = 3 - 4Y 1/1
    counts = np.array([1, 1, 1, 1, 2, 2, 3, 4, 7])
    assert discounts(counts, modified=True).tolist() == [0.0, 0.5, 1.25, 1.0]
    assert discounts(counts, modified=False).tolist() == [0.0, 0.5, 0.5, 0.5]
    # a discount is never above the count it discounts (here D2 would be 2 - 3 * 2/3 * 0 = 2 <= 2, D3+ falls back to Y)
    assert discounts(np.array([1, 1, 1, 1, 2]), modified=True).tolist() == pytest.approx([0, 2 / 3, 2, 2 / 3])


def reference_kn(ids: list[int], V: int, modified: bool) -> dict[tuple[int, int, int], Fr]:
    """A slow, literal second implementation of ngram.py's docstring, with dictionaries and exact fractions:
    p(w | u v) for every (u, v, w)."""
    tri = Counter(zip(ids, ids[1:], ids[2:], strict=False))  # c(u v w)
    bi = Counter((v, w) for (_, v, w) in tri)  # N1+(. v w)
    uni = Counter((w,) for (_, w) in bi)  # N1+(. w)

    def discount_table(counts: Counter) -> dict[int, Fr]:
        n = {r: sum(1 for c in counts.values() if c == r) for r in (1, 2, 3, 4)}
        Y = Fr(n[1], n[1] + 2 * n[2]) if n[1] + 2 * n[2] else Fr(1, 2)
        table = {0: Fr(0)}
        for k in (1, 2, 3):
            d = Y if not modified or n[k] == 0 else k - (k + 1) * Y * Fr(n[k + 1], n[k])
            table[k] = min(max(d, Fr(0)), Fr(k))
        return table

    def smoothed(counts: Counter, lower) -> dict:
        """p(w | context) = (max(c - D(c), 0) + (sum of D over the context's words) lower(w)) / c(context .)"""
        D, by_context = discount_table(counts), {}
        for key, c in counts.items():
            by_context.setdefault(key[:-1], {})[key[-1]] = c
        out = {}
        for context in itertools.product(range(V), repeat=len(next(iter(counts)))-1):
            seen = by_context.get(context, {})
            total, taken = sum(seen.values()), sum(D[min(c, 3)] for c in seen.values())
            for w in range(V):
                c = seen.get(w, 0)
                low = lower(context, w)
                out[(*context, w)] = (max(c - D[min(c, 3)], 0) + taken * low) / total if total else low
        return out

    p1 = smoothed(uni, lambda context, w: Fr(1, V))
    p2 = smoothed(bi, lambda context, w: p1[(w,)])
    return smoothed(tri, lambda context, w: p2[(context[1], w)])


@pytest.mark.parametrize("modified", [False, True])
def test_every_probability_equals_a_literal_reference(modified):
    rng = np.random.default_rng(0)
    V = 7
    ids = rng.choice(V, size=300, p=np.array([16, 8, 4, 2, 1, 1, 0.0]) / 32).tolist()  # Zipf-like; word 6 never occurs
    ref = reference_kn(ids, V, modified)
    kn = KneserNeyTrigram(V, modified).fit(np.array(ids))
    u, v, w = (np.array(a) for a in zip(*ref, strict=True))
    np.testing.assert_allclose(kn.prob(u, v, w), [float(p) for p in ref.values()], rtol=1e-13, atol=0)
    for u, v in itertools.product(range(V), repeat=2):  # exact sums in the reference, float64 sums in ours
        assert sum(ref[u, v, w] for w in range(V)) == 1
        assert abs(kn.prob(u, v, np.arange(V)).sum() - 1.0) < 1e-13


def test_probabilities_sum_to_one_on_austen():
    need(austen.load)
    data = ex.corpus(ex.PRESETS["quick"])
    V, index = len(data["vocab"]), {w: i for i, w in enumerate(data["vocab"])}
    kn = KneserNeyTrigram(V).fit(data["train"])
    contexts = [("of", "the"), (".", "she"), ("mrs", "jennings"), ("darcy", "elinor"), ("<unk>", "<unk>")]
    for u, v in contexts:  # frequent, seen, rare, never seen together, the unknown word twice
        p = kn.prob(index[u], index[v], np.arange(V))
        assert p.min() > 0 and abs(p.sum() - 1.0) < 1e-12, (u, v, p.sum())
    seen = kn.trigram.context(np.array([index["darcy"] * V + index["elinor"]]))[0]
    assert seen[0] == 0  # the fourth context really was never seen: p3 is p2 there
    np.testing.assert_allclose(kn.prob(index["darcy"], index["elinor"], np.arange(V)),
                               kn.bigram.interpolate(index["elinor"] * V + np.arange(V), kn.p1, V), rtol=1e-15)
    assert kn.trigram.D.tolist()[1:] == sorted(kn.trigram.D.tolist()[1:])  # modified discounts grow with the count


# ------------------------------------------------------------------------------------------------ the network


def test_network_by_hand():
    """V = 3 words, n = 3 (two context words), m = 1 feature, h = 1 hidden unit, with direct connections."""
    net = NPLM(3, 3, 1, 1, direct=True)
    with torch.no_grad():
        net.C.copy_(torch.tensor([[1.0], [2.0], [3.0]]))
        net.H.copy_(torch.tensor([[0.5, -1.0]]))
        net.d.fill_(0.25)
        net.U.copy_(torch.tensor([[1.0], [0.0], [-1.0]]))
        net.b.copy_(torch.tensor([0.0, 1.0, 0.0]))
        net.W.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    context = torch.tensor([[2, 0]])  # w_{t-1} = word 2, w_{t-2} = word 0: x = (C(2), C(0)) = (3, 1)
    a = math.tanh(0.25 + 0.5 * 3 - 1.0 * 1)  # tanh(d + H x)
    y = [a + 3.0, 1.0 + 1.0, -a]  # b + W x + U tanh(d + H x)
    assert net(context)[0].tolist() == pytest.approx(y)
    log_z = math.log(sum(math.exp(v) for v in y))
    assert net.log_prob(context, torch.tensor([1]))[0].item() == pytest.approx(y[1] - log_z)
    assert net.log_prob(context.repeat(3, 1), torch.arange(3)).exp().sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("direct", [False, True])
def test_network_equals_torch_modules(direct):
    """The same network built from nn.Embedding and nn.Linear with copied weights: outputs and gradients agree."""
    torch.manual_seed(0)
    V, n, m, h = 11, 4, 5, 7
    net = NPLM(V, n, m, h, direct=direct, init_C=1.0).double()
    emb, hidden, out = nn.Embedding(V, m).double(), nn.Linear((n - 1) * m, h).double(), nn.Linear(h, V).double()
    skip = nn.Linear((n - 1) * m, V, bias=False).double()
    with torch.no_grad():
        emb.weight.copy_(net.C)
        hidden.weight.copy_(net.H)
        hidden.bias.copy_(net.d)
        out.weight.copy_(net.U)
        out.bias.copy_(net.b)
        if direct:
            skip.weight.copy_(net.W)
    context, target = torch.randint(V, (9, n - 1)), torch.randint(V, (9,))
    x = emb(context).flatten(1)
    ref = out(torch.tanh(hidden(x))) + (skip(x) if direct else 0)
    torch.testing.assert_close(net(context), ref)
    F.cross_entropy(net(context), target).backward()
    F.cross_entropy(ref, target).backward()
    pairs = [(net.C, emb.weight), (net.H, hidden.weight), (net.d, hidden.bias), (net.U, out.weight), (net.b, out.bias)]
    for ours, theirs in pairs + ([(net.W, skip.weight)] if direct else []):
        torch.testing.assert_close(ours.grad, theirs.grad)
    torch.testing.assert_close(-net.log_prob(context, target).mean(), F.cross_entropy(ref, target))


def test_adam_equals_torch_adamw():
    torch.manual_seed(2)
    ours, theirs = NPLM(9, 3, 4, 5, init_C=1.0), NPLM(9, 3, 4, 5, init_C=1.0)
    theirs.load_state_dict(ours.state_dict())
    opt = ex.Adam(ours.parameters(), weight_decay=0.01)
    ref = torch.optim.AdamW(theirs.parameters(), lr=0.05, weight_decay=0.01)
    for _ in range(5):
        context, target = torch.randint(9, (16, 2)), torch.randint(9, (16,))
        for net in (ours, theirs):
            net.zero_grad()
            F.cross_entropy(net(context), target).backward()
        opt.step(0.05)
        ref.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_one_feature_vector_per_word_wherever_it_stands():
    """C is shared by the context positions: a word's gradient collects what every position says about it."""
    net = NPLM(5, 3, 2, 3, init_C=1.0)
    F.cross_entropy(net(torch.tensor([[1, 1], [2, 3]])), torch.tensor([0, 4])).backward()
    assert net.C.grad[[1, 2, 3]].abs().sum(1).min() > 0 and net.C.grad[[0, 4]].abs().sum() == 0


# -------------------------------------------------------------------------------------------- data, measures


def test_tokens_and_windows():
    assert ex.tokens("\"Don't,\" said Mr. Darcy--twice!") == ["don", "t", ",", "said", "mr", ".", "darcy", "twice", "!"]
    ids = np.arange(10, 17)  # a stream w_0 .. w_6
    context, target = ex.windows(ids, n=4, start=3)
    assert target.tolist() == [13, 14, 15, 16]
    assert context[0].tolist() == [12, 11, 10]  # most recent first: w_{t-1}, w_{t-2}, w_{t-3}
    assert context[-1].tolist() == [15, 14, 13]
    context, target = ex.windows(ids, n=2, start=2)  # a longer start scores fewer positions
    assert target.tolist() == [12, 13, 14, 15, 16] and context[:, 0].tolist() == [11, 12, 13, 14, 15]


def test_corpus_holds_out_whole_novels():
    need(austen.load)
    data = ex.corpus(ex.PRESETS["quick"])
    assert len(data["train"]) == 650_397 and data["vocab"][0] == ex.UNK
    assert data["vocab"][1:4] == [",", ".", "the"]  # most frequent first
    assert min(data["counts"][w] for w in data["vocab"][1:]) >= 20
    other = ex.corpus(ex.Config(valid_book="emma", test_book="persuasion"))  # the validation novel is not trained on
    assert len(other["train"]) == 650_397 - 187_085 + 89_531


def test_mixture_weight_is_the_maximum_likelihood_one():
    rng = np.random.default_rng(1)
    p_a, p_b = rng.uniform(0.001, 0.5, 2000), rng.uniform(0.001, 0.5, 2000)
    p_b[:500] *= 0.01  # the second model is badly wrong on a quarter of the words
    lam = ex.fit_mixture(p_a, p_b)
    grid = np.linspace(0, 1, 10001)
    best = grid[np.argmax([np.log(g * p_a + (1 - g) * p_b).sum() for g in grid])]
    assert lam == pytest.approx(best, abs=2e-4) and 0 < lam < 1
    assert ex.fit_mixture(p_a, p_a * 0.5) > 0.99  # one model always better: (nearly) all weight on it


def test_neighbour_precision_on_made_up_features():
    vocab = ["<unk>", "he", "she", "we", "could", "would", "x", "y", "z"]
    groups = {"pronouns": [1, 2, 3], "modals": [4, 5]}
    C = torch.tensor([[0.0, 0, 1], [1, 0, 0], [1, 0.1, 0], [1, -0.1, 0], [0, 1, 0], [0.1, 1, 0], [-1, 0, 0],
                      [0, -1, 0], [0, 0, -1]])
    total, per = ex.precision(C, groups, k=2)
    assert per == {"pronouns": 1.0, "modals": 0.5} and total == pytest.approx((3 * 1.0 + 2 * 0.5) / 5)
    assert ex.neighbours(C, [4], 1).tolist() == [[5]]
    counts = Counter({w: c for w, c in zip(vocab, [0, 90, 80, 70, 60, 50, 85, 55, 10], strict=True)})
    stand_ins = ex.frequency_matched(groups, vocab, counts)
    # he (90) -> x (85), she (80) -> y (55), we (70) -> z (10); the pool is used up, so the modals start it again:
    # could (60) -> y (55), would (50) -> x (85, nearer than z in log count)
    assert stand_ins == {"pronouns": [6, 7, 8], "modals": [7, 6]}


def test_query_words_are_in_the_quick_vocabulary():
    need(austen.load)
    data = ex.corpus(ex.PRESETS["quick"])
    groups = ex.category_ids(data["vocab"])
    listed = [w for words in ex.CATEGORIES.values() for w in words.split()]
    assert len(groups) == 14 and len(listed) == len(set(listed))  # no word in two categories
    assert sum(map(len, groups.values())) >= 0.9 * len(listed)


# ---------------------------------------------------------------------------------------------------- runs


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(austen.load)
    whole, resumed = interrupt_and_resume(monkeypatch, "bengio2003", ex, "train_segment", 2, "smoke", evals="3")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size-like field at its declared lower bound at once; the run still finishes and is judged."""
    result = run_preset("bengio2003", "smoke", min_count=1, train_tokens=100, eval_tokens=100, n=2, m=1, h=1,
                        epochs=0.01, batch=1, evals=1, neighbours=1)
    assert result.metrics["vocab_size"] > 1
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("bengio2003", "quick"))
