"""Mechanism tests for Bahdanau et al. (2015): the alignment model against a direct loop over i and j, the masking,
the packed bidirectional encoder against one sentence at a time, the whole batched decoder against an unbatched
loop, the maxout readout, the fixed vector of RNNencdec, beam-search steps against teacher forcing, the diagonal
measure, the data split, an exact resume, the smallest config, and the quick claims."""

import math

import pytest
import torch
import torch.nn.functional as F

from dlcanon.core import translation as tr
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.bahdanau2015 import experiment
from dlcanon.papers.bahdanau2015.model import Alignment, Encoder, Translator


def tiny(attention=True, seed=0) -> Translator:
    torch.manual_seed(seed)
    return Translator(K_x=11, K_y=13, m=5, n=4, n_a=6, l=3, attention=attention).double()


def padded(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.zeros(len(seqs), max(map(len, seqs)), dtype=torch.int64)
    for b, s in enumerate(seqs):
        x[b, : len(s)] = torch.tensor(s)
    return x, torch.tensor([len(s) for s in seqs])


def test_alignment_equals_a_direct_loop_over_j():
    """e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), alpha_ij = softmax_j over the real positions, c_i = sum_j alpha_ij h_j;
    alpha is exactly 0 at padding and each row sums to 1."""
    torch.manual_seed(1)
    align = Alignment(n=4, n_a=5).double()
    B, Tx = 3, 6
    s_prev, h = torch.randn(B, 4).double(), torch.randn(B, Tx, 8).double()
    lengths = [6, 2, 4]
    mask = torch.arange(Tx)[None] < torch.tensor(lengths)[:, None]
    c, alpha = align(s_prev, align.keys(h), h, mask)
    W_a, U_a, v_a = align.W_a.weight, align.U_a.weight, align.v_a.weight[0]
    for b in range(B):
        e = torch.stack([v_a @ torch.tanh(W_a @ s_prev[b] + U_a @ h[b, j]) for j in range(lengths[b])])
        a = torch.exp(e) / torch.exp(e).sum()
        torch.testing.assert_close(alpha[b, : lengths[b]], a)
        torch.testing.assert_close(c[b], sum(a[j] * h[b, j] for j in range(lengths[b])))
        assert (alpha[b, lengths[b] :] == 0).all()
    torch.testing.assert_close(alpha.sum(1), torch.ones(B, dtype=torch.float64))


def test_packed_bidirectional_encoder_equals_one_sentence_at_a_time():
    """Padding must not leak into the annotations: the backward RNN starts at each sentence's own end."""
    torch.manual_seed(2)
    enc = Encoder(K_x=9, m=3, n=4).double()
    seqs = [[4, 5, 6, 2], [7, 2], [3, 3, 8, 5, 2]]
    x, x_len = padded(seqs)
    h, last = enc(x, x_len)
    for b, s in enumerate(seqs):
        h_b, last_b = enc(torch.tensor([s]), torch.tensor([len(s)]))
        torch.testing.assert_close(h[b, : len(s)], h_b[0])
        assert (h[b, len(s) :] == 0).all()
        torch.testing.assert_close(last[:, b], last_b[:, 0])
        torch.testing.assert_close(last[0, b], h[b, len(s) - 1, :4])  # ->h_Tx
        torch.testing.assert_close(last[1, b], h[b, 0, 4:])  # <-h_1


def decode_one_by_hand(model: Translator, x: list[int], y_prev: list[int]) -> torch.Tensor:
    """The decoder of Appendix A.2 for one sentence, one step at a time, with explicit e_ij loops: logits (Ty, K_y)."""
    h, last = model.encoder(torch.tensor([x]), torch.tensor([len(x)]))
    h = h[0]  # (Tx, 2n)
    s = torch.tanh(model.W_s(last[1, 0]))  # s_0 = tanh(W_s <-h_1)
    out = []
    for y in y_prev:
        if model.attention:
            a = model.align
            e = torch.stack([a.v_a(torch.tanh(a.W_a(s) + a.U_a(h[j])))[0] for j in range(len(x))])
            c = (torch.softmax(e, 0)[:, None] * h).sum(0)
        else:
            c = torch.cat([last[0, 0], last[1, 0]])
        Ey = model.E.weight[y]
        t_tilde = model.U_o(s) + model.V_o(Ey) + model.C_o(c)
        t = torch.stack([torch.maximum(t_tilde[2 * k], t_tilde[2 * k + 1]) for k in range(len(t_tilde) // 2)])
        out.append(model.W_o(t))
        s = model.f(torch.cat([Ey, c])[None], s[None])[0]
    return torch.stack(out)


@pytest.mark.parametrize("attention", [True, False])
def test_batched_decoder_equals_an_unbatched_loop(attention):
    """Teacher-forced logits of a padded batch equal each sentence decoded alone by hand; gradients agree too."""
    model = tiny(attention)
    xs = [[4, 5, 6, 7, 2], [8, 2], [3, 9, 10, 2]]
    ys = [[1, 5, 6], [1, 7, 8, 9, 4], [1, 11]]
    x, x_len = padded(xs)
    y_prev, _ = padded(ys)
    logits, alpha = model(x, x_len, y_prev)
    for b in range(3):
        torch.testing.assert_close(logits[b, : len(ys[b])], decode_one_by_hand(model, xs[b], ys[b]))
    if attention:
        assert alpha.shape == (3, 5, 5)
        torch.testing.assert_close(alpha.sum(2), torch.ones(3, 5, dtype=torch.float64))
        assert (alpha[1, :, 2:] == 0).all() and (alpha[2, :, 4:] == 0).all()
    else:
        assert alpha is None
    g = torch.autograd.grad(logits[0, :3].sum(), model.W_o.weight)[0]
    g_ref = torch.autograd.grad(decode_one_by_hand(model, xs[0], ys[0]).sum(), model.W_o.weight)[0]
    torch.testing.assert_close(g, g_ref)


def test_maxout_takes_the_max_of_adjacent_pairs():
    model = tiny()
    with torch.no_grad():
        for lin in (model.U_o, model.V_o, model.C_o):
            lin.weight.zero_()
        model.U_o.bias.copy_(torch.tensor([1.0, -2.0, -3.0, 4.0, 0.5, 0.25]))
        model.W_o.weight.copy_(torch.eye(13, 3)), model.W_o.bias.zero_()
    logits = model.readout(torch.zeros(4).double(), torch.zeros(5).double(), torch.zeros(8).double())
    assert logits[:3].tolist() == [1.0, 4.0, 0.5]


def test_encdec_sees_one_fixed_vector():
    """RNNencdec: c_i = c = [->h_Tx ; <-h_1] at every step, whatever the decoder state."""
    model = tiny(attention=False)
    x, x_len = padded([[4, 5, 6, 2], [7, 2]])
    state = model.encode(x, x_len)
    h, _ = model.encoder(x, x_len)
    torch.testing.assert_close(state["c"][0], torch.cat([h[0, 3, :4], h[0, 0, 4:]]))
    c1, _ = model.context(state)
    c2, _ = model.context(state | {"s": torch.randn_like(state["s"])})
    assert torch.equal(c1, c2)


@pytest.mark.parametrize("attention", [True, False])
def test_step_equals_teacher_forcing(attention):
    """Decoding step by step (as beam search does) gives the teacher-forced log-probabilities along a path."""
    model = tiny(attention)
    x, x_len = padded([[4, 5, 6, 2], [7, 8, 2]])
    y_prev = torch.tensor([[1, 5, 6, 7], [1, 9, 3, 4]])
    logits, _ = model(x, x_len, y_prev)
    state = model.encode(x, x_len)
    for i in range(4):
        logp, state = model.step(y_prev[:, i], state)
        torch.testing.assert_close(logp, F.log_softmax(logits[:, i], -1))


def test_greedy_search_on_a_model_that_copies():
    """beam_search with our step: a model rigged to always prefer word 5 then EOS yields [5, 5, ...] or [5]."""
    model = tiny()
    with torch.no_grad():
        model.W_o.weight.zero_(), model.W_o.bias.zero_()
        model.W_o.bias[5] = 5.0
    x, x_len = padded([[4, 2], [6, 7, 2]])
    hyps = tr.beam_search(model.step, model.encode(x, x_len), 2, beam=2, max_len=3)
    assert hyps == [[5, 5, 5], [5, 5, 5]]


def test_diagonal_mass_by_hand():
    """Identity alignments on equal lengths put all mass in the band; uniform alignments put exactly the uniform
    share there; for Tx = 5, Ty = 3 and band 0 the diagonal hits j = 0, 2, 4 (one of 5 positions each)."""
    alpha = torch.eye(4)[None]  # (1, 4, 4)
    mass, uniform = experiment.diagonal_mass(alpha, torch.tensor([4]), torch.tensor([4]), band=1)
    assert mass.item() == pytest.approx(1.0)
    assert uniform.item() == pytest.approx((2 + 3 + 3 + 2) / 16)
    flat = torch.full((1, 3, 5), 0.2)
    mass, uniform = experiment.diagonal_mass(flat, torch.tensor([5]), torch.tensor([3]), band=0)
    assert mass.item() == pytest.approx(0.2) and uniform.item() == pytest.approx(0.2)
    padded_alpha = torch.zeros(2, 3, 5)
    padded_alpha[0] = flat[0]
    padded_alpha[1, :2, :2] = 0.5
    mass, uniform = experiment.diagonal_mass(padded_alpha, torch.tensor([5, 2]), torch.tensor([3, 2]), band=0)
    assert mass.tolist() == pytest.approx([0.2, 0.5]) and uniform.tolist() == pytest.approx([0.2, 0.5])


def test_buckets():
    lengths = torch.tensor([1, 20, 21, 30, 31, 50, 51, 99])
    assert experiment.bucket_of(lengths, (20, 30, 50)).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert experiment.bucket_names((20, 30, 50)) == ["1-20", "21-30", "31-50", ">50"]


def test_data_trains_short_and_tests_on_every_length():
    cfg = experiment.PRESETS["quick"]
    data = need(experiment.load_data, cfg)
    _, _, test = tr.split(tr.bible_pairs("kjv", "rv1909"), test=0.05)
    assert [p[0] for p in data["test"]] == [p[0] for p in test]  # the shared test split, every length kept
    assert max(len(p[1]) for p in data["test"]) > 50
    for b in data["batches"]:
        assert int(b["x_len"].max()) <= cfg.max_train_words + 1 and int(b["y_len"].max()) <= cfg.max_train_words + 1
        assert (b["y_prev"][:, 0] == tr.BOS).all() and torch.equal(b["y_prev"][:, 1:] != 0, b["y"][:, :-1] > tr.EOS)
    assert sum(len(b["x"]) for b in data["batches"]) == data["n_train"] > 7000


def test_arms_share_their_common_initial_weights():
    cfg = experiment.PRESETS["smoke"]
    data = need(experiment.load_data, cfg)
    arms = experiment.make_arms(cfg, data, seed=3)
    enc, search = arms["encdec"].state_dict(), arms["search"].state_dict()
    shared = [k for k in enc if k in search]
    assert all(torch.equal(enc[k], search[k]) for k in shared if not k.startswith("align"))
    assert any(k.startswith("align") for k in search) and not any(k.startswith("align") for k in enc)


def test_resume_gives_identical_metrics(monkeypatch):
    whole, resumed = interrupt_and_resume(monkeypatch, "bahdanau2015", experiment, "train_chunk", die_on_call=2)
    assert resumed.metrics == pytest.approx(whole.metrics, nan_ok=True)


def test_smallest_config_runs():
    result = run_preset(
        "bahdanau2015",
        "smoke",
        max_train_words=5,
        src_vocab=10,
        tgt_vocab=10,
        m=1,
        n=1,
        n_a=1,
        l=1,
        steps=1,
        batch_size=1,
        log_every=1,
        n_test=1,
        n_shown=1,
        band=0,
        beam=1,
        buckets="1",
    )
    assert math.isfinite(result.metrics["search_test_nll"]) and result.metrics["search_params"] > 0


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("bahdanau2015", "quick"))
