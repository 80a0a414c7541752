"""Mechanism tests for Sutskever et al. (2014): the reversed arm reads x_T .. x_1 and its target is untouched, the
teacher-forcing shift, the encoder's v is each sentence's own last state and the decoder is conditioned on it,
step-by-step decoding equals teacher forcing, the perplexity against a hand computation, both arms from identical
weights on identical batches, the learning-rate halvings, translation order, an exact resume, and the quick claims.
The model is torch's own nn.LSTM (the paper's LSTM is the standard one), so there is no cell to check for parity."""

import math

import pytest
import torch

from dlcanon.core import translation as tr
from dlcanon.core.testing import assert_claims, interrupt_and_resume, run_preset
from dlcanon.papers.sutskever2014 import experiment
from dlcanon.papers.sutskever2014.model import Seq2Seq, sentence_nll

PAIRS = [  # (key, English, Spanish): two sources of length 3, one of length 2, one of length 1
    ("k1", ["a", "b", "c"], ["x", "y"]),
    ("k2", ["d", "a"], ["y", "z", "x", "x"]),
    ("k3", ["c", "b", "e"], ["z"]),
    ("k4", ["b"], ["x", "q"]),
]


def vocabs() -> tuple[tr.Vocab, tr.Vocab]:
    return tr.Vocab.build((s for _, s, _ in PAIRS), 9), tr.Vocab.build((t for _, _, t in PAIRS), 8)


def tiny(seed: int = 0, init: float = 0.08) -> Seq2Seq:
    src, tgt = vocabs()
    return Seq2Seq(len(src), len(tgt), d=5, H=4, layers=2, init=init,
                   generator=torch.Generator().manual_seed(seed)).double()


def test_reversed_arm_reads_the_source_backwards_and_never_the_target():
    src, tgt = vocabs()
    normal, rev = experiment.groups(PAIRS, src, tgt, False), experiment.groups(PAIRS, src, tgt, True)
    assert [g["x"].shape[1] for g in normal] == [2, 3, 4]  # grouped by source length (EOS included)
    for gn, gr in zip(normal, rev, strict=True):
        assert torch.equal(gn["rows"], gr["rows"]) and torch.equal(gn["y_out"], gr["y_out"])
        assert torch.equal(gn["y_in"], gr["y_in"])
        for i, r in enumerate(gn["rows"].tolist()):
            ids = src.encode(PAIRS[r][1])
            assert gn["x"][i].tolist() == ids + [tr.EOS]  # x_1 .. x_T <EOS>
            assert gr["x"][i].tolist() == ids[::-1] + [tr.EOS]  # x_T .. x_1 <EOS>
            assert tgt.decode(gr["y_out"][i]) == [w if w in tgt.index else "<unk>" for w in PAIRS[r][2]]


def test_teacher_forcing_shift():
    """y_out = y_1 .. y_T' <EOS> <pad>..; y_in = <s> y_1 .. y_T' <pad>..: the decoder sees y_<t when it predicts y_t."""
    src, tgt = vocabs()
    for g in experiment.groups(PAIRS, src, tgt, False):
        y_in, y_out, y_len = g["y_in"], g["y_out"], g["y_len"]
        assert (y_in[:, 0] == tr.BOS).all()
        real = y_out != tr.PAD
        assert torch.equal(real.sum(1), y_len) and torch.equal(y_in != tr.PAD, real)
        assert torch.equal(y_in[:, 1:][real[:, 1:]], y_out[:, :-1][real[:, 1:]])
        assert (y_out.gather(1, (y_len - 1).unsqueeze(1)) == tr.EOS).all()


def test_v_is_each_sentences_last_state_and_conditions_the_decoder():
    model = tiny(init=0.5)  # weights large enough that the source visibly moves the decoder's output
    x = torch.tensor([[4, 5, 6, 2], [7, 4, 5, 2]])
    h, c = model.encode(x)
    assert h.shape == c.shape == (2, 2, 4)  # (layers, B, H): every layer's h_T and c_T
    for b in range(2):
        hb, cb = model.encode(x[b : b + 1])
        torch.testing.assert_close(h[:, b], hb[:, 0]), torch.testing.assert_close(c[:, b], cb[:, 0])
    out, _ = model.encoder(model.embed_x(x))
    torch.testing.assert_close(h[-1], out[:, -1])  # the top layer's h_T is the last output
    y_in = torch.tensor([[1, 4, 5], [1, 6, 4]])
    with_v = model.decode(y_in, (h, c))[0]
    assert not torch.allclose(with_v, model.decode(y_in, (torch.zeros_like(h), torch.zeros_like(c)))[0])
    other = model.encode(torch.tensor([[6, 6, 7, 2], [5, 5, 5, 2]]))  # another source: another translation model
    assert not torch.allclose(with_v, model.decode(y_in, other)[0])


def test_step_equals_teacher_forcing():
    model = tiny()
    x, y_in = torch.tensor([[4, 5, 2], [6, 7, 2]]), torch.tensor([[1, 4, 5, 6], [1, 7, 7, 3]])
    logp = model(x, y_in)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(2, 4, dtype=torch.float64))
    state = model.encode(x)
    for t in range(4):
        logp_t, state = model.step(y_in[:, t], state)
        torch.testing.assert_close(logp_t, logp[:, t])


def test_sentence_nll_sums_real_tokens_only():
    logp = torch.log_softmax(torch.randn(2, 3, 6, generator=torch.Generator().manual_seed(1)), -1)
    y_out = torch.tensor([[4, 2, 0], [5, 5, 2]])
    want = [-(logp[0, 0, 4] + logp[0, 1, 2]), -(logp[1, 0, 5] + logp[1, 1, 5] + logp[1, 2, 2])]
    torch.testing.assert_close(sentence_nll(logp, y_out), torch.stack(want))


@torch.no_grad()
def hand_perplexity(model: Seq2Seq, reverse: bool) -> float:
    """One verse at a time: encode x (reversed or not), then sum -log p(y_t | v, y_<t) step by step over y_1 ..
    y_T' <EOS>; exp(total / number of target tokens)."""
    src, tgt = vocabs()
    nll = tokens = 0.0
    for _, s, t in PAIRS:
        ids = src.encode(s)
        state = model.encode(torch.tensor([(ids[::-1] if reverse else ids) + [tr.EOS]]))
        prev = tr.BOS
        for y in tgt.encode(t) + [tr.EOS]:
            logp, state = model.step(torch.tensor([prev]), state)
            nll -= float(logp[0, y])
            tokens += 1
            prev = y
    return math.exp(nll / tokens)


@pytest.mark.parametrize("reverse", [False, True])
def test_perplexity_by_hand(reverse):
    src, tgt = vocabs()
    model = tiny(seed=2)
    data = experiment.groups(PAIRS, src, tgt, reverse)
    assert experiment.perplexity(model, data) == pytest.approx(hand_perplexity(model, reverse), rel=1e-9)
    with torch.no_grad():  # a decoder that knows nothing: every word 1/V, so the perplexity is V exactly
        model.W_out.weight.zero_(), model.W_out.bias.zero_()
    assert experiment.perplexity(model, data) == pytest.approx(len(tgt), rel=1e-9)


def test_initial_weights_are_uniform_and_drawn_from_the_seed():
    a, b, c = tiny(seed=5), tiny(seed=5), tiny(seed=6)
    assert all(p.abs().max() <= 0.08 for p in a.parameters())  # Sec. 3.4: U(-0.08, 0.08)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.W_out.weight, c.W_out.weight)


def test_both_arms_start_from_identical_weights_on_identical_batches(monkeypatch):
    """Spy on the real run: the first update of each arm sees the same weights and the same batch order, and the
    reversed arm's sources are the normal arm's read backwards."""
    seen, real = {}, experiment.train_steps

    def spy(model, opt, cfg, data, seed, first, last, per_epoch, bar):
        if first == 0:
            seen[len(seen)] = ({k: v.clone() for k, v in model.state_dict().items()}, data,
                               experiment.epoch_batches(data, cfg.batch, seed, 0))
        return real(model, opt, cfg, data, seed, first, last, per_epoch, bar)

    monkeypatch.setattr(experiment, "train_steps", spy)
    run_preset("sutskever2014", "smoke", seed=4)
    (w_n, d_n, b_n), (w_r, d_r, b_r) = seen[0], seen[1]
    assert all(torch.equal(w_n[k], w_r[k]) for k in w_n)
    assert [(k, i.tolist()) for k, i in b_n] == [(k, i.tolist()) for k, i in b_r]
    for gn, gr in zip(d_n, d_r, strict=True):
        assert torch.equal(gn["rows"], gr["rows"]) and torch.equal(gn["y_out"], gr["y_out"])
        assert torch.equal(gr["x"][:, :-1], gn["x"][:, :-1].flip(1))  # the words backwards; <EOS> stays last
        assert (gr["x"][:, -1] == tr.EOS).all()
    assert any(not torch.equal(gn["x"], gr["x"]) for gn, gr in zip(d_n, d_r, strict=True))


def test_learning_rate_halves_every_half_epoch_after_halve_after():
    cfg = experiment.Config(lr=0.7, halve_after=5.0, epochs=7.5)  # the paper's schedule
    got = [experiment.lr_at(cfg, e) for e in (0.0, 4.99, 5.0, 5.49, 5.5, 6.0, 7.49)]
    assert got == pytest.approx([0.7, 0.7, 0.35, 0.35, 0.175, 0.0875, 0.7 / 2**5])


def test_translate_restores_the_test_order_and_beam_one_is_greedy():
    """translate() encodes the verses group by group (one source length each) and decodes them together; each
    verse's greedy translation must equal decoding it alone, argmax by argmax."""
    src, tgt = vocabs()
    model = tiny(seed=3)
    data = experiment.groups(PAIRS, src, tgt, True)
    got = experiment.translate(model, data, len(PAIRS), beam=1, max_len=5)
    for r, (_, s, _) in enumerate(PAIRS):
        state = model.encode(torch.tensor([src.encode(s)[::-1] + [tr.EOS]]))
        prev, want = tr.BOS, []
        for _ in range(5):
            logp, state = model.step(torch.tensor([prev]), state)
            prev = int(logp[0].argmax())
            if prev == tr.EOS:
                break
            want.append(prev)
        assert got[r] == want


def test_config_rules():
    with pytest.raises(ValueError):
        experiment.Config(beams=(2, 4)).check()  # greedy must be there
    with pytest.raises(ValueError):
        experiment.Config(beams=(1, 4, 2)).check()


@pytest.mark.parametrize("die_on_call", [2, 3])
def test_resume_gives_identical_metrics(monkeypatch, die_on_call):
    """Killed mid-way through the normal arm (call 2) or at the start of the reversed arm (call 3)."""
    whole, resumed = interrupt_and_resume(monkeypatch, "sutskever2014", experiment, "train_steps",
                                          die_on_call=die_on_call, epochs=1, evals_per_epoch=2)
    assert resumed.metrics == pytest.approx(whole.metrics, nan_ok=True)


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("sutskever2014", "quick"))
