"""Mechanism tests for Cho et al. (2014): the gated unit by hand and against nn.GRU (outputs and gradients), its two
reset forms, the LSTM against nn.LSTM, the encoder-decoder's wiring (summary c, h'_0 = tanh(V' c), c at every step,
maxout), the initialisation, the parameter matching, the data and batches, an exact resume, and the quick claims."""

import math

import pytest
import torch
from torch import nn

from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.core.translation import bible_pairs
from dlcanon.papers.cho2014 import experiment
from dlcanon.papers.cho2014.model import GRU, LSTM, EncoderDecoder, count_parameters, init_paper_


def copy_into(ref: nn.Module, ours: nn.Module) -> None:
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(ours, name))


def compare_with_reference(ours, ref, x, h0, state0):
    """Outputs and the gradients of every parameter and of the input, for a random linear loss."""
    x_ref = x.detach().clone().requires_grad_()
    out, _ = ours(x, h0)
    out_ref, _ = ref(x_ref, state0)
    torch.testing.assert_close(out, out_ref, rtol=1e-6, atol=1e-6)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    (out_ref * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-6, atol=1e-6)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        torch.testing.assert_close(getattr(ours, name).grad, getattr(ref, f"{name}_l0").grad, rtol=1e-6, atol=1e-6)


def test_reset_after_form_equals_nn_gru_outputs_and_gradients():
    torch.manual_seed(0)
    ours, ref = GRU(5, 4, reset_after=True).double(), nn.GRU(5, 4, batch_first=True).double()
    with torch.no_grad():
        ours.bias_ih.normal_(), ours.bias_hh.normal_()  # nonzero biases: b_hn sits inside r ⊙ (.)
    copy_into(ref, ours)
    x = torch.randn(3, 6, 5, dtype=torch.float64, requires_grad=True)  # a batch of 3, 6 steps
    h0 = torch.randn(3, 4, dtype=torch.float64)
    compare_with_reference(ours, ref, x, h0, h0.unsqueeze(0))


def test_lstm_equals_nn_lstm_outputs_and_gradients():
    torch.manual_seed(1)
    ours, ref = LSTM(5, 4).double(), nn.LSTM(5, 4, batch_first=True).double()
    with torch.no_grad():
        ours.bias_ih.normal_(), ours.bias_hh.normal_()
    copy_into(ref, ours)
    x = torch.randn(3, 6, 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64)
    compare_with_reference(ours, ref, x, h0, (h0.unsqueeze(0), torch.zeros_like(h0).unsqueeze(0)))


def test_paper_form_by_hand():
    """One unit, one input, two steps, computed by hand from Eqs. (5)-(8) with the reset before U."""
    gru = GRU(1, 1).double()
    with torch.no_grad():
        gru.weight_ih.copy_(torch.tensor([[0.5], [-1.0], [2.0]]))  # W_r, W_z, W
        gru.weight_hh.copy_(torch.tensor([[1.0], [0.5], [-3.0]]))  # U_r, U_z, U
        gru.bias_ih.zero_(), gru.bias_hh.zero_()
    x = torch.tensor([[[1.0], [-2.0]]], dtype=torch.float64)
    h0 = torch.tensor([[0.3]], dtype=torch.float64)
    out, (z, r) = gru(x, h0, keep_gates=True)
    sig = lambda v: 1 / (1 + math.exp(-v))
    h = 0.3
    for t, xt in enumerate((1.0, -2.0)):
        r_t, z_t = sig(0.5 * xt + 1.0 * h), sig(-1.0 * xt + 0.5 * h)
        h_tilde = math.tanh(2.0 * xt - 3.0 * (r_t * h))  # U (r ⊙ h): the reset scales h before U
        h = z_t * h + (1 - z_t) * h_tilde
        assert out[0, t, 0].item() == pytest.approx(h, abs=1e-12)
        assert (z[0, t, 0].item(), r[0, t, 0].item()) == pytest.approx((z_t, r_t), abs=1e-12)


def test_the_two_reset_forms_agree_when_r_is_one_and_differ_otherwise():
    torch.manual_seed(2)
    before, after = GRU(3, 4, reset_after=False).double(), GRU(3, 4, reset_after=True).double()
    with torch.no_grad():
        before.bias_hh.normal_()
    after.load_state_dict(before.state_dict())
    x, h0 = torch.randn(2, 5, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    assert not torch.allclose(before(x, h0)[0], after(x, h0)[0])  # r < 1: U(r ⊙ h) + b != r ⊙ (U h + b)
    with torch.no_grad():
        for g in (before, after):
            g.bias_ih[:4] = 100.0  # r = σ(100 + ...) = 1 to double precision
    torch.testing.assert_close(before(x, h0)[0], after(x, h0)[0], rtol=1e-12, atol=1e-12)


def test_update_gate_one_keeps_the_state_and_zero_replaces_it():
    """Eq. (7): z = 1 copies h_{t-1}; z = 0 gives the candidate alone (a leaky integrator between)."""
    gru = GRU(2, 3).double()
    x, h0 = torch.randn(1, 4, 2, dtype=torch.float64), torch.randn(1, 3, dtype=torch.float64)
    with torch.no_grad():
        gru.bias_ih[3:6] = 100.0
    assert torch.allclose(gru(x, h0)[0], h0.unsqueeze(1).expand(1, 4, 3))
    with torch.no_grad():
        gru.bias_ih[3:6] = -100.0
        gru.weight_hh.zero_()  # and h̃ = tanh(W x + b): each step forgets everything before it
    out = gru(x, h0)[0]
    torch.testing.assert_close(out, torch.tanh(x @ gru.weight_ih[6:].T + gru.bias_ih[6:]))


def small_model(unit="gru"):
    torch.manual_seed(3)
    model = EncoderDecoder(11, 13, m=4, H=5, k=3, unit=unit).double()
    init_paper_(model, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # away from the tiny initial values: the wiring shows
    return model


@pytest.mark.parametrize("unit", ["gru", "lstm"])
def test_summary_c_is_the_last_real_state_and_ignores_padding(unit):
    model = small_model(unit)
    x = torch.tensor([[5, 6, 7, 2, 0, 0], [8, 9, 2, 0, 0, 0]])
    c, _ = model.encode(x, torch.tensor([4, 3]))
    c_alone, _ = model.encode(x[1:, :3], torch.tensor([3]))
    torch.testing.assert_close(c[1], c_alone[0])
    hs, _ = model.encoder(model.e_x(x[:1, :4]), torch.zeros(1, 5, dtype=torch.float64))
    torch.testing.assert_close(c[0], hs[0, -1])


def test_decoder_starts_at_tanh_V_c_and_sees_c_at_every_step():
    model = small_model()
    c = torch.randn(1, 5, dtype=torch.float64)
    y_prev = torch.tensor([[1, 4, 5, 6]])
    logits, _ = model.decode(c, y_prev)
    h0 = torch.tanh(model.V_prime(c))
    e = model.e_y(y_prev)
    Wx = torch.nn.functional.linear(torch.cat([e[:, 0], c], 1), model.decoder.weight_ih, model.decoder.bias_ih)
    h1, _, _ = model.decoder.step(Wx, h0)
    torch.testing.assert_close(logits[:, 0], model.output(h1, e[:, 0], c))
    # c enters each step directly, not only through h'_0: change c after step 1 only through O_c and the input
    c2 = c + 1.0
    logits2, _ = model.decode(c2, y_prev)
    assert (logits2 - logits).abs().amax(-1).min() > 1e-6


def test_maxout_pools_pairs_then_rank_m_softmax_weight():
    model = small_model()
    h, e, c = torch.randn(2, 5).double(), torch.randn(2, 4).double(), torch.randn(2, 5).double()
    pre = model.O_h(h) + model.O_y(e) + model.O_c(c)  # (2, 6): 3 units of 2 pieces
    s = torch.stack([torch.maximum(pre[:, 2 * j], pre[:, 2 * j + 1]) for j in range(3)], 1)
    torch.testing.assert_close(model.output(h, e, c), s @ model.G_r.weight.T @ model.G_l.weight.T + model.G_l.bias)


def test_initialisation_gaussian_001_and_orthogonal_recurrent_blocks():
    model = EncoderDecoder(500, 500, m=32, H=64, k=32, unit="gru")
    init_paper_(model, torch.Generator().manual_seed(0))
    for block in model.encoder.weight_hh.split(64):  # U_r, U_z, U each orthogonal
        torch.testing.assert_close(block @ block.T, torch.eye(64), atol=1e-5, rtol=0)
    assert model.e_x.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert model.G_l.bias.abs().max() == 0


def test_lstm_size_matches_the_gru_parameter_count():
    cfg = experiment.PRESETS["quick"]
    H_lstm, n_gru, n_lstm = experiment.matched_lstm_H(cfg, 1000, 1000)
    assert abs(n_lstm / n_gru - 1) < 0.02 and H_lstm < cfg.H
    gru = experiment.make_model("gru", cfg.H, cfg, 1000, 1000, None)
    lstm = experiment.make_model("lstm", H_lstm, cfg, 1000, 1000, None)
    assert (count_parameters(gru), count_parameters(lstm)) == (n_gru, n_lstm)
    bigger = experiment.make_model("lstm", H_lstm + 1, cfg, 1000, 1000, None)
    smaller = experiment.make_model("lstm", H_lstm - 1, cfg, 1000, 1000, None)
    assert abs(count_parameters(bigger) - n_gru) >= abs(n_lstm - n_gru)
    assert abs(count_parameters(smaller) - n_gru) >= abs(n_lstm - n_gru)


def test_batches_are_stateless_epochs_of_length_sorted_runs():
    need(bible_pairs)
    cfg = experiment.Config(max_words=8, src_vocab=100, tgt_vocab=100, batch=16)
    d = experiment.load_data(cfg)
    assert (len(d["train_y"]), len(d["test_y"])) == (140, 13)
    runs = experiment.batches(len(d["train_y"]), cfg.batch)
    firsts = [experiment.batch_at(d, cfg, 0, s)[3] for s in range(len(runs))]  # one epoch
    words = lambda rows: sorted(tuple(t for t in row.tolist() if t) for row in rows)
    assert sorted(w for y in firsts for w in words(y)) == words(d["train_y"][: len(runs) * cfg.batch])
    torch.testing.assert_close(experiment.batch_at(d, cfg, 0, 3)[3], firsts[3])
    x, x_len, y_prev, y = experiment.batch_at(d, cfg, 0, 0)
    assert (y_prev[:, 0] == 1).all() and torch.equal(y_prev[:, 1:], y[:, :-1])  # BOS, then y shifted


def test_unigram_floor_by_hand():
    d = {
        "tgt": list(range(6)),
        "train_y": torch.tensor([[4, 4, 5, 2], [4, 2, 0, 0]]),
        "test_y": torch.tensor([[5, 2, 0]]),
    }
    # counts: 4 x3, 5 x1, EOS(2) x2, total 6; add-one over 6 words: p(5) = 2/12, p(EOS) = 3/12
    assert experiment.unigram_log_ppl(d) == pytest.approx(-(math.log(2 / 12) + math.log(3 / 12)) / 2)


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(bible_pairs)
    # smoke evaluates (and checkpoints) every 2 updates: train_chunk call 2 is updates 2-3, so the run dies there
    whole, resumed = interrupt_and_resume(monkeypatch, "cho2014", experiment, "train_chunk", 2, "smoke")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: pairs of <= 5 tokens (8 train, 2 test), 8-word vocabularies, one unit."""
    need(bible_pairs)
    r = run_preset("cho2014", "smoke", max_words=5, max_train=8, src_vocab=8, tgt_vocab=8, m=1, H=1, k=1,
                   steps=1, batch=1, eval_every=1, gate_verses=1)  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("cho2014", "quick"))
