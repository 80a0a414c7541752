"""Mechanism tests for negative sampling, subsampling and phrases: the NEG update against autograd of Eq. 4,
the noise distribution, Eq. 5's keep probability, Eq. 6's score and the merging of phrases by hand, the
WordNet check, the PPMI-SVD baseline on a toy text, and an exact resume."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlcanon.core.data import english
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.mikolov2012a import experiment
from dlcanon.papers.mikolov2012a.model import (
    Bigrams,
    NegativeSampling,
    Word2Vec,
    bigrams,
    keep_probability,
    merge_phrases,
    phrase_pass,
    subsample,
    window_pairs,
)


# -- negative sampling -----------------------------------------------------------------------------
def test_neg_step_is_one_step_of_gradient_descent_on_eq4():
    """sgd_step with negative sampling = one gradient step on
    -log sigma(v'_wO . v_wI) - sum_i log sigma(-v'_wi . v_wI), with the same noise words w_i."""
    g = torch.Generator().manual_seed(0)
    counts = np.array([40, 30, 20, 10, 8, 5])
    model = Word2Vec(6, 4, "skipgram", NegativeSampling(counts, k=3), g, cap=1e9)
    model.V_in = torch.randn(6, 4, generator=g, dtype=torch.float64)
    model.V_out = torch.randn(6, 4, generator=g, dtype=torch.float64)
    w = torch.tensor([0, 3, 1, 5, 2, 4, 0])
    t, c = window_pairs(0, len(w), torch.tensor([len(w)]), 2, g)
    target, ctx, mask = model.groups(w, t, c)
    assert ctx.shape[1] == 1  # negative sampling: one group per pair
    state = g.get_state()
    noise = model.output.noise((len(target), 3), g)  # the draws sgd_step will make
    g.set_state(state)
    V_in, V_out = model.V_in.clone().requires_grad_(), model.V_out.clone().requires_grad_()
    h = V_in[ctx[:, 0]]  # v_wI: the context word (the pair turned round, as in the C tool)
    loss = -F.logsigmoid((V_out[target] * h).sum(1)).sum()
    loss = loss - F.logsigmoid(-(V_out[noise] * h[:, None, :]).sum(2)).sum()
    loss.backward()
    ours, decisions = model.sgd_step(target, ctx, mask, 0.05, g)
    assert decisions == len(target) * 4
    assert math.isclose(ours, loss.item(), rel_tol=1e-9)
    torch.testing.assert_close(model.V_in, (V_in - 0.05 * V_in.grad).detach())
    torch.testing.assert_close(model.V_out, (V_out - 0.05 * V_out.grad).detach())


def test_noise_words_follow_the_unigram_distribution_to_the_three_quarters():
    counts = np.array([1000, 300, 100, 30, 10, 1])
    neg = NegativeSampling(counts, k=5)
    expected = counts**0.75 / (counts**0.75).sum()
    torch.testing.assert_close(neg.P_n, torch.from_numpy(expected))
    draws = neg.noise((200_000,), torch.Generator().manual_seed(0))
    share = torch.bincount(draws, minlength=6).double() / len(draws)
    torch.testing.assert_close(share, neg.P_n, atol=3e-3, rtol=0)
    rows, y, mask = neg.decisions(torch.tensor([4, 2]), torch.Generator().manual_seed(1))
    assert rows[:, 0].tolist() == [4, 2] and y[:, 0].tolist() == [1, 1] and y[:, 1:].sum() == 0 and mask.all()


# -- subsampling -----------------------------------------------------------------------------------
def test_keep_probability_is_eq5_of_the_paper():
    counts = np.array([7999, 2000, 1, 0])  # f = 0.7999, 0.2, 0.0001, 0
    keep = keep_probability(counts, t=0.05)
    assert keep.tolist() == pytest.approx([math.sqrt(0.05 / 0.7999), 0.5, 1.0, 1.0])  # f = 4t: keep half
    # the C tool's formula, (sqrt(f / t) + 1) t / f, keeps more of the same word: not what we use
    assert keep[1] < (math.sqrt(0.2 / 0.05) + 1) * 0.05 / 0.2


def test_subsample_drops_words_at_the_given_rates_and_moves_document_ends():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0, 1] * 50_000)
    keep_p = torch.tensor([0.25, 1.0], dtype=torch.float64)
    sub, ends = subsample(w, torch.tensor([60_000, 100_000]), keep_p, g)
    assert (sub == 1).sum() == 50_000  # never dropped
    assert abs(float((sub == 0).sum()) / 50_000 - 0.25) < 0.01
    assert ends[1] == len(sub)
    assert int((sub[: int(ends[0])] == 1).sum()) == 30_000  # the first document's 30,000 kept 1s end there
    assert sub[int(ends[0])] == 0 or sub[int(ends[0]) - 1] == 1


# -- phrases ---------------------------------------------------------------------------------------
WORDS = ["new", "york", "times", "the", "city"]


def test_bigram_counts_and_eq6_scores_by_hand():
    w = np.array([3, 0, 1, 2, 3, 0, 1, 4, 0, 1, 0, 1])  # the new york times the new york city | new york new york
    pairs = bigrams(w, np.array([8, 12]), delta=1.0)
    table = {(a, b): (n, s) for a, b, n, s in zip(pairs.a, pairs.b, pairs.count, pairs.score, strict=True)}
    assert (4, 0) not in table  # "city | new" crosses the document end
    n, s = table[(0, 1)]  # new york: 4 times; new 4, york 4
    assert n == 4 and math.isclose(s, (4 - 1) / (4 * 4))
    n, s = table[(1, 2)]  # york times: once; york 4, times 1
    assert n == 1 and s == 0.0


def test_merging_is_left_to_right_and_stays_inside_documents():
    w = np.array([3, 0, 1, 2, 3, 0, 1, 4, 0, 1, 0, 1])
    chosen = Bigrams(np.array([0, 1, 4]), np.array([1, 2, 0]), np.array([4, 1, 1]), np.ones(3))
    out, ends = merge_phrases(w, np.array([8, 12]), chosen, first_id=5)
    # "new york times": new_york wins over york_times; "city | new" is never merged
    assert out.tolist() == [3, 5, 2, 3, 5, 4, 5, 5] and ends.tolist() == [6, 8]


def test_two_passes_build_a_three_word_phrase():
    rng = np.random.default_rng(0)
    filler = rng.integers(5, 60, 4000)
    w = filler.copy()
    for i in range(0, 4000, 40):  # "new york times" 100 times among 55 filler words
        w[i : i + 3] = [0, 1, 2]
    words = WORDS + [f"w{i}" for i in range(5, 60)]
    # T x score of "new york": 4000 x (100 - 5) / (100 x 100) = 38; of two filler words about 1
    w1, e1, words1, _ = phrase_pass(w, np.array([4000]), words, delta=5, threshold=10, min_count=5)
    assert words1[len(words):] == ["new_york", "york_times"]
    w2, _, words2, _ = phrase_pass(w1, e1, words1, delta=5, threshold=10, min_count=5)
    assert {"new_york_times"} & set(words2[len(words1):])
    assert len(w2) == 4000 - 2 * 100


def test_wordnet_multiword_lemmas():
    gold = need(experiment.wordnet_phrases)
    assert {"new_york", "united_states", "prime_minister", "take_off"} <= gold
    assert "the" not in gold and all("_" in p for p in gold)


# -- the baseline ------------------------------------------------------------------------------------
def test_ppmi_svd_separates_two_topics():
    """Words 0-4 only ever occur near each other, and so do words 5-9: PPMI-SVD puts each group together."""
    g = torch.Generator().manual_seed(0)
    docs = [torch.randint(0, 5, (200,), generator=g) + 5 * (i % 2) for i in range(20)]
    w = torch.cat(docs)
    ends = torch.cumsum(torch.tensor([len(d) for d in docs]), 0)
    X = experiment.ppmi_svd(w, ends, 10, C=2, D=2, seed=0)
    X = X / X.norm(dim=1, keepdim=True)
    cos = X @ X.T
    same, other = cos[:5, :5].mean(), cos[:5, 5:].mean()
    assert X.shape == (10, 2) and same > 0.9 and other < 0.5


def test_pair_ratio_follows_the_kept_share():
    g = torch.Generator().manual_seed(0)
    w = torch.randint(0, 4, (50_000,), generator=g)
    keep_p = torch.tensor([0.5, 0.5, 0.5, 0.5], dtype=torch.float64)
    ratio = experiment.pair_ratio(w, torch.tensor([50_000]), keep_p, 5, 0)
    assert abs(ratio - 0.5) < 0.02


# -- the run -----------------------------------------------------------------------------------------
TIMINGS = ("_cpu_s", "_words_per_s", "subsampling_speedup")


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(english.corpus, ("wikipedia", "austen"))
    need(experiment.wordnet_phrases)
    # smoke: 2 models x 2 segments; the 3rd call is the first segment of the second model
    whole, resumed = interrupt_and_resume(monkeypatch, "mikolov2012a", experiment, "train_segment", 3, "smoke")
    same = {k: v for k, v in whole.metrics.items() if not k.endswith(TIMINGS)}
    again = {k: v for k, v in resumed.metrics.items() if not k.endswith(TIMINGS)}
    assert again == pytest.approx(same, nan_ok=True)
    assert set(resumed.metrics) == set(whole.metrics)


def test_smallest_config_runs():
    """Every size at its lower bound: 1,000 tokens, every word kept, 2-d vectors, a window of 1, one position
    per step, answers among the 10 most frequent words, one segment, no baseline, one phrase counted."""
    need(english.corpus, ("wikipedia", "austen"))
    need(experiment.wordnet_phrases)
    r = run_preset("mikolov2012a", "smoke", max_words=1000, min_count=1, D=2, C=1, epochs=1, batch=1,
                   eval_words=10, segments=1, cap=1, ppmi_D=0, top_k=1, thresholds="1")
    assert r.metrics and all(not math.isinf(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("mikolov2012a", "quick"))
