"""Mechanism tests for LSTM: the squashing functions and weight counts of the paper, a cell by hand, the constant
error carousel (d s(T) / d s(0) = 1), the appendix's truncated gradient against autograd, parity of the forget-gate
cell and the tanh net with torch.nn.LSTM / torch.nn.RNN (outputs and gradients), the vanishing error of the tanh
net against the LSTM's, the adding problem's data, an exact resume, and the quick claims."""

import math

import pytest
import torch
from torch import nn

from dlcanon.core.data import bible
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.hochreiter1997 import experiment as ex
from dlcanon.papers.hochreiter1997.model import LSTM1997, ForgetGateLSTM, TanhRNN, count_parameters, f, g, h


def test_squashing_functions_are_the_papers():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    torch.testing.assert_close(f(x), 1 / (1 + torch.exp(-x)))  # Eq. (3)
    torch.testing.assert_close(h(x), 2 / (1 + torch.exp(-x)) - 1)  # Eq. (4)
    torch.testing.assert_close(g(x), 4 / (1 + torch.exp(-x)) - 2)  # Eq. (5)
    ends = torch.tensor([-80.0, 80.0], dtype=torch.float64)
    assert h(ends).tolist() == [-1.0, 1.0] and g(ends).tolist() == [-2.0, 2.0]  # ranges [-1, 1] and [-2, 2]
    zero = torch.zeros(1, requires_grad=True)
    assert torch.autograd.grad(g(zero), zero)[0].item() == 1.0  # g'(0) = 4 / 4
    assert torch.autograd.grad(h(zero), zero)[0].item() == 0.5  # h'(0) = 2 / 4


def test_weight_counts_are_the_papers():
    """Hidden layer: B gates of each kind and C cells, each reading every input, cell and gate, and a bias; output
    units read the cells and a bias. The counts printed in Tables 7 and 9 come out."""
    def lstm_weights(n_in, blocks, size, n_out):
        hidden = blocks * size + 2 * blocks
        return hidden * (n_in + hidden + 1) + n_out * (blocks * size + 1)

    assert lstm_weights(2, 2, 2, 1) == 8 * 11 + 1 * 5 == 93  # Experiment 4 (Table 7: 93)
    assert count_parameters(LSTM1997(2, 1, 2, 2)) == 93
    assert count_parameters(LSTM1997(8, 4, 2, 2, in_gate_bias=(-2, -4))) == 156  # Experiment 6a (Table 9)
    assert count_parameters(LSTM1997(8, 8, 3, 2, in_gate_bias=(-2, -4, -6))) == 308  # Experiment 6b (Table 9)
    assert count_parameters(TanhRNN(2, 8, 1)) == 8 * 2 + 8 * 8 + 8 + 8 + 1 == 97  # the baseline: 97 >= 93
    assert count_parameters(ForgetGateLSTM(2, 3, 1)) == 4 * 3 * (2 + 3 + 1) + 3 + 1 == 76


def test_initialisation_is_the_papers():
    net = LSTM1997(2, 1, generator=torch.Generator().manual_seed(0))
    assert net.W_in[:, -1].tolist() == [-3.0, -6.0]  # Experiment 4's input gate biases
    others = torch.cat([net.W_in[:, :-1].flatten(), net.W_out.flatten(), net.W_c.flatten(), net.W_k.flatten()])
    assert others.abs().max() <= 0.1 and others.abs().max() > 0.09  # uniform in [-0.1, 0.1]


def _one_cell():
    """One block of one cell, 1 input: z = [x, y^c, y^in, y^out, 1]."""
    net = LSTM1997(1, 1, blocks=1, block_size=1, in_gate_bias=(0.0,)).double()
    with torch.no_grad():
        for W in net.parameters():
            W.zero_()
        net.W_in[0] = torch.tensor([2.0, 0, 0, 0, -1.0], dtype=torch.float64)  # net_in = 2x - 1
        net.W_out[0, -1] = 1.0  # net_out = 1
        net.W_c[0] = torch.tensor([3.0, 0.5, 0, 0, 0], dtype=torch.float64)  # net_c = 3x + 0.5 y^c(t-1)
    return net


def test_one_cell_by_hand():
    net = _one_cell()
    x = torch.tensor([[[1.0]], [[-2.0]]], dtype=torch.float64)  # (L=2, n=1, 1)
    st = net.states(x)
    sig = lambda v: 1 / (1 + math.exp(-v))
    y_in1, y_out = sig(1.0), sig(1.0)
    s1 = y_in1 * (4 * sig(3.0) - 2)  # s(1) = 0 + y^in g(net_c)
    y_c1 = y_out * (2 * sig(s1) - 1)
    s2 = s1 + sig(-5.0) * (4 * sig(-6.0 + 0.5 * y_c1) - 2)
    assert st.s[:, 0, 0].tolist() == pytest.approx([s1, s2], abs=1e-14)
    assert st.y_c[:, 0, 0].tolist() == pytest.approx([y_c1, y_out * (2 * sig(s2) - 1)], abs=1e-14)
    assert st.z[1, 0].tolist() == pytest.approx([-2.0, y_c1, y_in1, y_out, 1.0], abs=1e-14)


def test_the_cec_carries_the_error_unchanged():
    """d s(T) / d s(0) is the identity after 100 steps: exactly under the paper's truncated rule for any weights,
    and under full back-propagation too once the cells' outputs do not feed back (no recurrent weights)."""
    torch.manual_seed(0)
    net = LSTM1997(2, 1, generator=torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        net.W_in[:, -1] = 10.0  # input gates open
        net.W_out[:, -1] = 10.0  # output gates open
        net.W_c.mul_(20)  # large cell inputs: the states move a lot
    x = torch.rand(100, 3, 2, dtype=torch.float64) * 2 - 1
    s0 = torch.zeros(3, 4, dtype=torch.float64, requires_grad=True)

    def jacobian(truncate):
        s_T = net.states(x, truncate, s0).s[-1]  # (3, 4)
        return torch.stack([torch.autograd.grad(s_T[:, c].sum(), s0, retain_graph=True)[0] for c in range(4)], 1)

    eye = torch.eye(4, dtype=torch.float64).expand(3, 4, 4)
    assert torch.equal(jacobian(truncate=True), eye)
    assert not torch.allclose(jacobian(truncate=False), eye, atol=1e-3)  # the recurrent loops do change it
    with torch.no_grad():
        net.W_in[:, 2:-1] = 0  # cut every recurrent connection
        net.W_out[:, 2:-1] = 0
        net.W_c[:, 2:-1] = 0
    assert torch.equal(jacobian(truncate=False), eye)


def test_the_forget_gate_scales_the_carousel():
    """With no recurrent weights, d c(T) / d c(0) of the forget-gate cell is the product of its forget gates."""
    torch.manual_seed(0)
    cell = ForgetGateLSTM(2, 3, 1).double()
    with torch.no_grad():
        cell.W_h.zero_()
    x = torch.randn(20, 1, 2, dtype=torch.float64)
    c0 = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    _, (_, c_T) = cell.hidden_states(x, (torch.zeros(1, 3, dtype=torch.float64), c0), fast=False)
    grad = torch.autograd.grad(c_T.sum(), c0)[0]
    forget = torch.sigmoid(x @ cell.W_x[3:6].T + cell.b[3:6])  # (20, 1, 3)
    torch.testing.assert_close(grad, forget.prod(0), rtol=1e-12, atol=0)


def test_the_appendix_gradient_equals_autograd_under_truncation():
    """truncated_gradients (Eqs. 19-28, all steps at once) against autograd through the loop with the recurrent
    inputs detached, in float64, with errors at every step and at the sequence end only."""
    net = LSTM1997(3, 2, blocks=2, block_size=3, in_gate_bias=(-1.0, -2.0),
                   generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        for W in net.parameters():
            W.mul_(8)  # far from the small initial weights: every term matters
    x = torch.randn(25, 4, 3, dtype=torch.float64)
    for target in (torch.randn(25, 4, 2, dtype=torch.float64), None):
        net.zero_grad()
        net_k = net(x, truncate=True)  # (L, n, K)
        if target is None:  # error at the last step only, as in the adding problem
            loss = ((torch.sigmoid(net_k[-1]) - 0.3) ** 2).sum()
        else:
            loss = ((torch.sigmoid(net_k) - target) ** 2).sum()
        e_k = torch.autograd.grad(loss, net_k, retain_graph=True)[0]
        loss.backward()
        reference = {name: W.grad.clone() for name, W in net.named_parameters()}
        net.truncated_gradients(net.states(x), e_k)
        for name, W in net.named_parameters():
            torch.testing.assert_close(W.grad, reference[name], rtol=1e-10, atol=1e-13)


def test_truncation_changes_the_gradient():
    torch.manual_seed(3)
    net = LSTM1997(2, 1).double()
    with torch.no_grad():
        for W in net.parameters():
            W.normal_()  # gates neither shut nor saturated, so the recurrent paths carry error too
    x = torch.randn(30, 2, 2, dtype=torch.float64)
    grads = []
    for truncate in (True, False):
        net.zero_grad()
        net(x, truncate)[-1].sum().backward()
        grads.append(net.W_c.grad.clone())
    assert (grads[0] - grads[1]).abs().max() > 1e-3


def _copy_into(torch_module, weights):
    with torch.no_grad():
        for name, value in weights.items():
            getattr(torch_module, name).copy_(value)


@pytest.mark.parametrize("fast", [False, True])
def test_forget_gate_cell_equals_torch_lstm(fast):
    torch.manual_seed(4)
    ours = ForgetGateLSTM(5, 6, 2, forget_bias=0.7).double()
    ref = nn.LSTM(5, 6).double()
    _copy_into(ref, {"weight_ih_l0": ours.W_x, "weight_hh_l0": ours.W_h, "bias_ih_l0": ours.b,
                     "bias_hh_l0": torch.zeros(24)})
    x = torch.randn(13, 3, 5, dtype=torch.float64, requires_grad=True)
    h0, c0 = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    hs, (h_T, c_T) = ours.hidden_states(x, (h0, c0), fast=fast)
    ref_hs, (ref_h, ref_c) = ref(x, (h0[None], c0[None]))
    for a, b in ((hs, ref_hs), (h_T, ref_h[0]), (c_T, ref_c[0])):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    weights = torch.randn_like(hs)
    grads = torch.autograd.grad((hs * weights).sum() + c_T.sum(), [x, ours.W_x, ours.W_h, ours.b])
    ref_grads = torch.autograd.grad((ref_hs * weights).sum() + ref_c.sum(),
                                    [x, ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fast", [False, True])
def test_tanh_net_equals_torch_rnn(fast):
    torch.manual_seed(5)
    ours = TanhRNN(4, 7, 1).double()
    ref = nn.RNN(4, 7, nonlinearity="tanh").double()
    _copy_into(ref, {"weight_ih_l0": ours.W_xh, "weight_hh_l0": ours.W_hh, "bias_ih_l0": ours.b_h,
                     "bias_hh_l0": torch.zeros(7)})
    x = torch.randn(11, 2, 4, dtype=torch.float64, requires_grad=True)
    hs, _ = ours.hidden_states(x, fast=fast)
    ref_hs, _ = ref(x)
    torch.testing.assert_close(hs, ref_hs, rtol=1e-12, atol=1e-14)
    grads = torch.autograd.grad(hs.sum(), [x, ours.W_xh, ours.W_hh, ours.b_h])
    ref_grads = torch.autograd.grad(ref_hs.sum(), [x, ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0])
    for a, b in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_the_tanh_net_error_vanishes_over_100_steps_and_the_lstm_error_does_not():
    """Section 3 measured on the untrained nets: |d output / d value(t_end - k)| from k = 0 to k = 99."""
    cfg = ex.Config()
    test = ex.adding_problem(64, 100, torch.Generator().manual_seed(0))
    arms = ex.make_arms(cfg, seed=0)
    decay = {name: ex.error_flow(net, test, 64, truncate=True) for name, net in arms.items()}
    ratio = {name: (v[-1] / v[0]).item() for name, v in decay.items()}
    assert len(decay["rnn"]) == 100
    assert ratio["rnn"] < 1e-10  # exponential decay: about 0.6 per step
    assert ratio["lstm1997"] > 0.1  # the CEC: no decay with the lag
    assert ratio["lstm2000"] > 0.01  # forget gates at 0.993: 0.993^100 = 0.5, times the gates' spread
    full = ex.error_flow(arms["lstm1997"], test, 64, truncate=False)  # full BPTT: the CEC still dominates
    assert (full[-1] / full[0]).item() > 0.1


def test_adding_problem_follows_the_paper():
    T, n = 100, 20_000
    x, lengths, y = ex.adding_problem(n, T, torch.Generator().manual_seed(0))
    assert x.shape == (110, n, 2)
    assert lengths.min() == 100 and lengths.max() == 110
    value, marker = x[..., 0], x[..., 1]
    inside = torch.arange(110)[:, None] < lengths
    assert (value.abs() <= 1).all() and (x[~inside] == 0).all()
    marked = marker == 1
    assert (marked.sum(0) == 2).all()
    positions = torch.stack([torch.nonzero(marked[:, i]).flatten() for i in range(200)])  # (200, 2) sorted
    assert (positions[:, 1] < T // 2).all()
    assert marked[:10].any(0).all()  # one of the first ten pairs is marked
    assert (marker[lengths - 1, torch.arange(n)] == -1).all()  # the final pair (never marked: it lies past T/2)
    assert ((marker[0] == -1) | marked[0]).all()
    assert ((marker == 0) | (marker == 1) | (marker == -1)).all()
    assert ((marker == -1).sum(0) == 2 - marked[0].long()).all()  # first and last, unless the first is marked
    torch.testing.assert_close(y, 0.5 + (value * marked).sum(0) / 4)
    assert (y >= 0).all() and (y <= 1).all()
    first_marked = marked[0]
    assert first_marked.float().mean() == pytest.approx(0.1 + 0.9 * 1 / 49, abs=0.01)
    assert (value[0][first_marked & ~marked[1:10].any(0)] == 0).all()  # X1 at the first pair: set to zero
    # the predict-the-mean baseline: Var(X1 + X2) / 16 with X1 = 0 one time in ten
    assert y.var().item() == pytest.approx((0.9 / 3 + 1 / 3) / 16, rel=0.03)


def test_equal_weight_tanh_net_is_the_smallest_with_as_many_weights():
    lstm = ForgetGateLSTM(60, 32, 60)
    H = ex.equal_weight_srn_hidden(60, count_parameters(lstm))
    assert count_parameters(TanhRNN(60, H, 60)) >= count_parameters(lstm) > count_parameters(TanhRNN(60, H - 1, 60))


@pytest.mark.parametrize("where", ["learn", "lm_step"])
def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch, where):
    need(bible.load, "kjv")
    # smoke: 3 arms x 3 updates (checkpoints after updates 2 and 3 of each arm), then two character models
    # (a checkpoint after every update); "learn" dies in the second arm's third update, "lm_step" in the
    # tanh net's second update (calls: 3 LSTM updates, 1 held-out scoring, then the tanh net)
    call = {"learn": 6, "lm_step": 6}[where]
    whole, resumed = interrupt_and_resume(monkeypatch, "hochreiter1997", ex, where, call, "smoke")
    assert resumed.metrics == whole.metrics


def test_the_papers_online_rule_and_full_bptt_run():
    """Plain gradient descent on one sequence at a time with the paper's learning rate, and full BPTT."""
    for truncate in ("true", "false"):
        result = run_preset("hochreiter1997", "smoke", optimizer="sgd", batch=1, lr=0.5, truncate=truncate,
                            lm_train_chars=0)
        assert math.isfinite(result.metrics["lstm1997_mse_ratio"])


def test_smallest_config_runs():
    """Every size-like field at its declared lower bound at once (the character model at its smallest non-zero
    text: lm_streams x (lm_chunk + 1) = 2 characters)."""
    need(bible.load, "kjv")
    result = run_preset("hochreiter1997", "smoke", T="20", blocks=1, block_size=1, in_gate_bias="-3",
                        rnn_hidden=1, forget_gate_hidden=0, steps=1, batch=1, test_sequences=10, eval_every=1,
                        flow_sequences=1, lm_train_chars=2, lm_test_chars=1000, lm_hidden=1, lm_steps=1,
                        lm_streams=1, lm_chunk=1)
    assert result.metrics
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("hochreiter1997", "quick"))
