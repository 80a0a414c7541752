"""Mechanism tests for dropout: the mean network against all 2^N thinned nets (exact for one hidden layer), the
log-probability guarantee, parity with torch's F.dropout under the inverted convention, the max-norm bound, the
update rule, the data, and an exact resume."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.hinton2012b import experiment
from dlcanon.papers.hinton2012b.model import DropoutNet, dropout, geometric_mean, inverted_dropout, sample_mask


def all_thinned_logits(net: DropoutNet, x: torch.Tensor) -> torch.Tensor:
    """Logits of every one of the 2^N thinned nets of a one-hidden-layer net with no input dropout, (2^N, B, C)."""
    n_in, N = net.sizes[0], net.sizes[1]
    ones = torch.ones(n_in, dtype=x.dtype)
    masks = torch.tensor(list(itertools.product([0.0, 1.0], repeat=N)), dtype=x.dtype)  # (2^N, N)
    return net(x, [ones, masks[:, None, :]])  # masks (2^N, 1, N) broadcast over the batch: (2^N, B, C)


def test_mean_network_is_the_geometric_mean_of_all_2N_thinned_nets():
    """p. 2: one hidden layer of N units, softmax output: the mean network (outgoing weights halved) gives exactly
    the normalised geometric mean of the 2^N dropout nets' distributions. N = 10: 1,024 nets, enumerated."""
    net = DropoutNet((6, 10, 4), p_input=0.0, p_hidden=0.5, init_std=1.0, generator=torch.Generator().manual_seed(0))
    net = net.double()
    x = torch.randn(7, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        geo = geometric_mean(all_thinned_logits(net, x))
        mean = torch.softmax(net(x), -1)
    torch.testing.assert_close(mean, geo, rtol=1e-12, atol=1e-14)


def test_with_two_hidden_layers_the_mean_network_is_only_close():
    """With a second hidden layer the non-linearity sits between the masks: no longer exact (the paper calls it an
    approximation), but the mean network still lands near the geometric mean of many thinned nets."""
    g = torch.Generator().manual_seed(0)
    net = DropoutNet((6, 8, 8, 4), p_input=0.0, p_hidden=0.5, init_std=1.0, generator=g).double()
    x = torch.randn(7, 6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        masks = net.sample_masks((20_000,), g)  # [None (inputs), (20000, 8), (20000, 8)]
        thinned = net(x, [None] + [m[:, None, :].double() for m in masks[1:]])  # (20000, B, C)
        geo, mean = geometric_mean(thinned), torch.softmax(net(x), -1)
    gap = (geo - mean).abs().max().item()
    assert 1e-6 < gap < 0.05, gap


def test_mean_network_gives_the_correct_class_a_higher_log_probability():
    """p. 2: log p_mean(y) >= mean over the 2^N nets of log p(y), since log-softmax is concave in the logits and the
    mean network's logits are the average of the thinned nets' logits (one hidden layer)."""
    net = DropoutNet((6, 10, 4), p_input=0.0, p_hidden=0.5, init_std=1.0, generator=torch.Generator().manual_seed(2))
    net = net.double()
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = torch.randint(0, 4, (50,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        thinned = all_thinned_logits(net, x)
        torch.testing.assert_close(thinned.mean(0), net(x), rtol=1e-12, atol=1e-12)  # the logits average exactly
        rows = torch.arange(50)
        lp_mean = torch.log_softmax(net(x), -1)[rows, y]
        lp_thinned = torch.log_softmax(thinned, -1)[:, rows, y].mean(0)
    assert (lp_mean >= lp_thinned - 1e-12).all()
    assert (lp_mean - lp_thinned).mean() > 1e-3


def test_mean_network_scales_each_layers_outgoing_weights_by_its_retention():
    g = torch.Generator().manual_seed(0)
    net = DropoutNet((5, 4, 3, 2), p_input=0.2, p_hidden=0.5, init_std=1.0, generator=g)
    x = torch.rand(6, 5, generator=g)
    W1, W2, W3 = (0.8 * net.W[0], 0.5 * net.W[1], 0.5 * net.W[2])  # pixels kept 80%, hidden units 50%: "halved"
    h1 = torch.sigmoid(x @ W1 + net.b[0])
    h2 = torch.sigmoid(h1 @ W2 + net.b[1])
    torch.testing.assert_close(net(x), h2 @ W3 + net.b[2])
    plain = DropoutNet((5, 4, 3, 2), 0.0, 0.0, 1.0, torch.Generator().manual_seed(0))
    ones = [torch.ones(n) for n in (5, 4, 3)]
    torch.testing.assert_close(plain(x), plain(x, ones))  # p = 0: the mean net is the whole net, unscaled


def test_masks_omit_units_at_rate_p():
    m = sample_mask((200_000,), 0.2, torch.Generator().manual_seed(0))
    assert set(m.unique().tolist()) == {0.0, 1.0}
    assert abs(m.mean().item() - 0.8) < 0.005
    net = DropoutNet((5, 4, 3, 2), 0.2, 0.5)
    assert [t.shape for t in net.sample_masks((7,))] == [(7, 5), (7, 4), (7, 3)]  # a thinned net per case
    assert [t.shape for t in net.sample_masks(())] == [(5,), (4,), (3,)]  # one thinned net for a whole batch
    assert DropoutNet((5, 4, 3, 2), 0.0, 0.5).sample_masks((7,))[0] is None  # no input dropout: no mask
    h = torch.rand(3, 4)
    assert (dropout(h, torch.tensor([1.0, 0.0, 1.0, 0.0]))[:, 1::2] == 0).all()


class InvertedReference(nn.Module):
    """The same net from nn.Linear and torch's F.dropout (kept units scaled by 1/q while training)."""

    def __init__(self, net: DropoutNet):
        super().__init__()
        self.p = net.p
        self.layers = nn.ModuleList(nn.Linear(W.shape[0], W.shape[1]).double() for W in net.W)
        with torch.no_grad():
            for lin, W, b, p in zip(self.layers, net.W, net.b, net.p, strict=True):
                lin.weight.copy_((1.0 - p) * W.T)  # W_inverted = q W_paper: the same function in both conventions
                lin.bias.copy_(b)

    def forward(self, x, training: bool):
        h = x
        for i, (lin, p) in enumerate(zip(self.layers, self.p, strict=True)):
            h = lin(F.dropout(h, p, training=training))
            h = torch.sigmoid(h) if i < len(self.layers) - 1 else h
        return h


def test_parity_with_torch_dropout_under_the_inverted_convention():
    """Same masks (taken from F.dropout itself): training outputs, test outputs and gradients all agree, with
    W_inverted = q W_paper and so dL/dW_inverted = dL/dW_paper / q."""
    g = torch.Generator().manual_seed(0)
    net = DropoutNet((9, 7, 5, 3), p_input=0.2, p_hidden=0.5, init_std=1.0, generator=g).double()
    ref = InvertedReference(net)
    x = torch.rand(11, 9, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (11,), generator=g)
    torch.manual_seed(5)
    out_ref = ref(x, training=True)
    torch.manual_seed(5)  # replay F.dropout's draws on ones of the same shapes: its masks times 1/q
    masks = [
        F.dropout(torch.ones(11, n, dtype=torch.float64), p) * (1 - p) for n, p in zip((9, 7, 5), net.p, strict=True)
    ]
    assert all(set(m.unique().tolist()) <= {0.0, 1.0} for m in masks)
    out = net(x, masks)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    F.cross_entropy(out, y).backward()
    F.cross_entropy(out_ref, y).backward()
    for W, b, lin, p in zip(net.W, net.b, ref.layers, net.p, strict=True):
        torch.testing.assert_close(W.grad, (1.0 - p) * lin.weight.grad.T, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(b.grad, lin.bias.grad, rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # test time: the paper's mean network = torch's eval-mode net
        torch.testing.assert_close(net(x), ref(x, training=False), rtol=1e-12, atol=1e-12)
    h, m = torch.rand(4, 6, dtype=torch.float64), masks[1][:4, :6]
    torch.testing.assert_close(inverted_dropout(h, m, 0.5), 2.0 * dropout(h, m))


def test_max_norm_scales_only_the_hidden_units_that_break_the_bound():
    net = DropoutNet((2, 3, 2), 0.0, 0.5)
    with torch.no_grad():
        net.W[0].copy_(torch.tensor([[3.0, 0.1, 0.0], [4.0, 0.2, 2.0]]))  # squared lengths 25, 0.05, 4
        net.W[1].fill_(10.0)  # output layer: not constrained
        net.max_norm_(l_max=6.25)
    torch.testing.assert_close(net.W[0], torch.tensor([[1.5, 0.1, 0.0], [2.0, 0.2, 2.0]]))  # 5 -> 2.5
    assert (net.W[1] == 10.0).all()


def test_update_is_the_papers_momentum_rule():
    """v <- m v - (1 - m) lr grad; w <- w + v, one minibatch holding every case, no dropout, no bound."""
    cfg = experiment.Config(n_train=8, batch_size=8, max_norm=0.0)
    g = torch.Generator().manual_seed(0)
    net = DropoutNet((4, 3, 2), 0.0, 0.0, 1.0, g)
    x, y = torch.rand(8, 4, generator=g), torch.randint(0, 2, (8,), generator=g)
    before = [w.detach().clone() for w in net.parameters()]
    v0 = [torch.full_like(w, 0.1) for w in net.parameters()]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
    experiment.train_epoch(net, v0, x, y, lr=2.0, momentum=0.9, cfg=cfg, g=g)
    for w, w0, dw in zip(net.parameters(), before, grads, strict=True):
        torch.testing.assert_close(w.detach(), w0 + 0.9 * 0.1 - 0.1 * 2.0 * dw)
    cfg = experiment.Config(momentum_epochs=20, lr_decay=0.5)
    assert experiment.schedule(cfg, 0, 4.0) == (4.0, 0.5)
    assert experiment.schedule(cfg, 2, 4.0) == pytest.approx((1.0, 0.5 + 0.49 * 2 / 20))
    assert experiment.schedule(cfg, 40, 4.0)[1] == pytest.approx(0.99)


def test_ensemble_metrics_by_hand():
    """Two thinned nets, two digits: errors and log-probabilities counted by hand."""
    thinned = torch.tensor([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 3.0], [0.0, 2.0]]])  # (k=2, B=2, C=2)
    e = {"thinned": thinned, "mean": thinned.mean(0), "y": torch.tensor([0, 1])}
    m = experiment.ensemble_metrics(e)
    assert m["thinned_net_test_error"] == 0.25  # net 2 gets digit 0 wrong
    assert m["ensemble_test_error"] == 0.5  # geometric mean on digit 0: log-probs -0.127-3.049 vs -2.127-0.049
    assert m["mean_net_ens_test_error"] == 0.5  # mean logits (1, 1.5): class 1
    curve = experiment.ensemble_curve(e)
    assert curve["geometric"].tolist() == [0.0, 0.5]
    lp = torch.log_softmax(thinned, -1)
    by_hand = (lp[0, 0, 0] + lp[0, 1, 1] + lp[1, 0, 0] + lp[1, 1, 1]) / 4
    assert m["thinned_net_log_prob"] == pytest.approx(by_hand.item())


def test_mcnemar_counts_the_discordant_digits():
    a = torch.tensor([1, 1, 1, 0, 0, 1], dtype=torch.bool)
    b = torch.tensor([0, 0, 1, 1, 0, 0], dtype=torch.bool)
    assert experiment.mcnemar_z(a, b) == pytest.approx((3 - 1) / 2.0)


def test_digits_are_real_mnist_and_the_splits_disjoint():
    need(mnist.load)
    cfg = experiment.Config(n_train=500, n_val=1000, n_test=300)
    d = experiment.load_digits(cfg)
    assert d["x_train"].shape == (500, 784) and d["x_val"].shape == (1000, 784) and d["x_test"].shape == (300, 784)
    assert d["x_train"].min() == 0 and d["x_train"].max() == 1
    assert d["y_train"].bincount(minlength=10).min() > 20
    raw = mnist.load()
    val = torch.from_numpy(raw["train_x"][-1000:]).float().reshape(1000, 784) / 255
    torch.testing.assert_close(d["x_val"], val)
    assert torch.cdist(d["x_train"], d["x_val"]).min() > 0  # no training digit is a validation digit
    torch.testing.assert_close(experiment.load_digits(cfg)["x_train"], d["x_train"])  # fixed draw


def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # three arms train in turn: calls 1-3 are epoch 1, so the 5th dies inside epoch 2
    whole, resumed = interrupt_and_resume(monkeypatch, "hinton2012b", experiment, "train_epoch", 5, "smoke", epochs="3")
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: 10 training digits in minibatches of one, no validation digits, one test
    digit, one hidden layer of one unit, one epoch, one thinned net."""
    need(mnist.load)
    r = run_preset("hinton2012b", "smoke", n_train=10, n_val=0, n_test=1, hidden="1", epochs=1, batch_size=1,
                   ensemble_k=1, ensemble_n_test=1, momentum_epochs=1, eval_every=1, curve_n=1)  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("hinton2012b", "quick"))
