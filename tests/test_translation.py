"""core/translation: tokens, the verse split, the vocabulary, beam search (against exhaustive search) and BLEU."""

import itertools
import math

import pytest
import torch

from dlcanon.core import translation as tr
from dlcanon.core.data import bible
from dlcanon.core.testing import need


def test_tokenize_splits_words_and_punctuation_and_lowers():
    assert tr.tokenize("EN el principio crió Dios los cielos y la tierra.") == [
        "en", "el", "principio", "crió", "dios", "los", "cielos", "y", "la", "tierra", "."]
    assert tr.tokenize("LORD's;  shepherd") == ["lord", "'", "s", ";", "shepherd"]


def test_split_is_by_key_stable_disjoint_and_sized():
    keys = [(f"Book {c}:{v}",) for c in range(1, 101) for v in range(1, 51)]
    train, valid, test = tr.split(keys, test=0.1, valid=0.05)
    assert len(train) + len(valid) + len(test) == len(keys)
    assert not {k for k, in test} & {k for k, in train}
    assert abs(len(test) / len(keys) - 0.1) < 0.02 and abs(len(valid) / len(keys) - 0.05) < 0.015
    # the same key lands on the same side whatever else is in the list
    _, _, test_half = tr.split(keys[::2], test=0.1, valid=0.05)
    assert test_half == [k for k in test if k in keys[::2]]
    with pytest.raises(ValueError):
        tr.split(keys, test=0.6, valid=0.5)


def test_vocab_orders_by_frequency_maps_unknowns_and_round_trips():
    v = tr.Vocab.build([["b", "a", "b"], ["c", "b", "a"], ["d"]], size=7)
    assert v.words == tr.SPECIALS + ("b", "a", "c")  # d loses the tie with c alphabetically
    assert v.encode(["a", "zzz"]) == [5, tr.UNK]
    assert v.decode([tr.BOS, 4, 5, tr.EOS, 6]) == ["b", "a"]
    x, n = v.batch([["a", "b"], ["c"]], reverse=True)
    assert x.tolist() == [[4, 5, tr.EOS], [6, tr.EOS, tr.PAD]] and n.tolist() == [3, 2]
    assert v.coverage([["a", "q"]]) == 0.5
    with pytest.raises(ValueError):
        tr.Vocab.build([["a"]], size=4)


def _toy_step(table: torch.Tensor, drift: torch.Tensor):
    """A decoder whose next-token log-probabilities depend on the previous token and on a step counter it carries
    in its state (so a beam search that forgets to reorder the state gives wrong answers)."""

    def step(prev, state):
        t = state[1]
        logits = table[prev] + drift * t.unsqueeze(1)
        logits[:, [tr.PAD, tr.BOS]] = float("-inf")
        return torch.log_softmax(logits, -1), (state[0], t + 1)

    return step


def _exhaustive(step, V: int, max_len: int, alpha: float = 0.0) -> list[int]:
    best, best_score = None, -math.inf
    words = [tr.EOS] + list(range(4, V))
    for L in range(1, max_len + 1):
        for seq in itertools.product(words, repeat=L):
            if tr.EOS in seq[:-1]:
                continue
            prev, state, s = torch.tensor([tr.BOS]), (torch.zeros(1), torch.zeros(1)), 0.0
            for tok in seq:
                logp, state = step(prev, state)
                s += float(logp[0, tok])
                prev = torch.tensor([tok])
            if L < max_len and seq[-1] != tr.EOS:
                continue
            score = s / L**alpha if alpha else s
            if score > best_score:
                best, best_score = [t for t in seq if t != tr.EOS], score
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_a_wide_beam_finds_the_exhaustive_optimum(seed, alpha):
    g = torch.Generator().manual_seed(seed)
    V, max_len = 7, 4
    table, drift = torch.randn(V, V, generator=g) * 2, torch.randn(V, generator=g)
    step = _toy_step(table, drift)
    got = tr.beam_search(step, (torch.zeros(1), torch.zeros(1)), n=1, beam=(V - 3) ** max_len, max_len=max_len,
                         alpha=alpha)
    assert got == [_exhaustive(step, V, max_len, alpha)]


def test_beam_one_is_greedy_and_sentences_do_not_mix():
    g = torch.Generator().manual_seed(3)
    V, n = 9, 5
    tables = torch.randn(n, V, V, generator=g) * 3

    def step(prev, state):  # each sentence has its own table, carried in the state (dim 1, as nn.LSTM's h)
        which = state[0, :, 0].long()
        logits = tables[which, prev]
        logits[:, [tr.PAD, tr.BOS]] = float("-inf")
        return torch.log_softmax(logits, -1), state

    state = torch.arange(n).float().reshape(1, n, 1).expand(2, n, 3).contiguous()
    got = tr.beam_search(step, state, n=n, beam=1, max_len=6, dim=1)
    for b in range(n):
        prev, want = tr.BOS, []
        for _ in range(6):
            logits = tables[b, prev].clone()
            logits[[tr.PAD, tr.BOS]] = float("-inf")
            prev = int(logits.argmax())
            if prev == tr.EOS:
                break
            want.append(prev)
        assert got[b] == want
    # a wider beam never scores worse than greedy
    wide = tr.beam_search(step, state, n=n, beam=4, max_len=6, dim=1)

    def score(b, seq):
        s, prev = 0.0, tr.BOS
        for t in seq + ([tr.EOS] if len(seq) < 6 else []):
            logits = tables[b, prev].clone()
            logits[[tr.PAD, tr.BOS]] = float("-inf")
            s += float(torch.log_softmax(logits, -1)[t])
            prev = t
        return s

    assert all(score(b, wide[b]) >= score(b, got[b]) - 1e-5 for b in range(n))


def test_bleu_is_sacrebleus_on_our_tokens():
    refs = [["el", "señor", "es", "mi", "pastor", "."], ["nada", "me", "faltará", "."]]
    assert tr.bleu(refs, refs) == pytest.approx(100.0)
    hyp = [["el", "señor", "es", "pastor", "."], ["nada", "me", "falta", "."]]
    assert 0 < tr.bleu(hyp, refs) < 100
    assert tr.bleu([["x"], ["y"]], refs) == 0.0
    import sacrebleu

    joined = ([" ".join(h) for h in hyp], [[" ".join(r) for r in refs]])
    assert tr.bleu(hyp, refs) == pytest.approx(sacrebleu.corpus_bleu(*joined, tokenize="none").score)
    # BLEU-1 is the brevity penalty times unigram precision: 8 of 9 words match, 9 words against 10
    assert tr.bleu(hyp, refs, order=1) == pytest.approx(100 * 8 / 9 * math.exp(1 - 10 / 9))
    with pytest.raises(ValueError):
        tr.bleu(hyp[:1], refs)


def test_the_real_pairs_align_english_with_spanish():
    need(bible.load, "kjv")
    need(bible.load, "rv1909")
    pairs = tr.bible_pairs("kjv", "rv1909")
    assert len(pairs) == 31084
    key, en, es = pairs[0]
    assert key == "Genesis 1:1" and en[:3] == ["in", "the", "beginning"] and es[:3] == ["en", "el", "principio"]
    train, _, test = tr.split(pairs, test=0.05)
    assert 0.04 < len(test) / len(pairs) < 0.06
    assert 2500 < len(tr.within(pairs, 15)) < 3200  # 2,809: punctuation counts as tokens


def test_device_of_finds_the_first_tensor_in_a_nested_state():
    h = torch.zeros(2, 3, dtype=torch.float64)
    assert tr.device_of(h) == h.device
    assert tr.device_of({"s": None, "h": [(h, torch.ones(1))]}) == h.device
    assert tr.device_of((None, {})) == torch.device("cpu")  # no tensor: the CPU


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_beam_search_runs_where_the_state_lives():
    """A decoder state on the GPU: every index beam_search builds is made there too; the result equals the CPU's."""
    g = torch.Generator().manual_seed(4)
    V, n = 9, 5
    tables = torch.randn(n, V, V, generator=g) * 3

    def make_step(tab):
        def step(prev, state):
            logits = tab[state[0, :, 0].long(), prev]
            logits[:, [tr.PAD, tr.BOS]] = float("-inf")
            return torch.log_softmax(logits, -1), state

        return step

    state = torch.arange(n).float().reshape(1, n, 1).expand(2, n, 3).contiguous()
    for beam in (1, 3):
        cpu = tr.beam_search(make_step(tables), state, n=n, beam=beam, max_len=6, dim=1)
        gpu = tr.beam_search(make_step(tables.cuda()), state.cuda(), n=n, beam=beam, max_len=6, dim=1)
        assert gpu == cpu
