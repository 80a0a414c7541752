"""Mechanism tests for the stacked denoising autoencoder: masking noise zeroes exactly a fraction nu of each
input, L_H equals torch's binary cross-entropy, tied-weight gradients equal an nn.Linear reference's summed
encoder and decoder gradients (and a hand-written backprop), stacking passes clean codes upward, the locality
statistic on hand-made filters, the data, and an exact resume before and after the probe."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.vincent2010 import experiment
from dlcanon.papers.vincent2010.model import (
    L_H,
    DenoisingAutoencoder,
    L_H_from_logits,
    StackedClassifier,
    encode_stack,
    masking_noise,
)


@pytest.mark.parametrize("nu", [0.1, 0.25, 0.5])
def test_masking_noise_forces_exactly_nu_d_components_to_zero(nu):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4000, 784) + 0.5  # no component is 0 before corruption
    x_tilde = masking_noise(x, nu, g)
    zeros = (x_tilde == 0).sum(dim=1)
    assert zeros.tolist() == [round(nu * 784)] * 4000  # exactly, in every row
    kept = x_tilde != 0
    torch.testing.assert_close(x_tilde[kept], x[kept], rtol=0, atol=0)  # the rest is left untouched
    # chosen at random: every component is dropped with probability nu (binomial std over 4000 rows ~0.007)
    freq = (~kept).float().mean(dim=0)
    assert (freq - nu).abs().max() < 5 * math.sqrt(nu * (1 - nu) / 4000)
    assert not torch.equal(kept[0], kept[1])  # a fresh draw for each example


def test_masking_noise_with_nu_zero_is_the_identity():
    x = torch.rand(3, 784)
    assert masking_noise(x, 0.0) is x


def test_L_H_is_torch_binary_cross_entropy_summed_over_inputs():
    torch.manual_seed(0)
    x = torch.rand(6, 20, dtype=torch.float64)  # grey levels in [0, 1], as MNIST pixels
    a = torch.randn(6, 20, dtype=torch.float64) * 3
    z = torch.sigmoid(a)
    ref = F.binary_cross_entropy(z, x, reduction="none").sum(dim=1)
    torch.testing.assert_close(L_H(x, z), ref)
    torch.testing.assert_close(L_H_from_logits(x, a), ref)
    torch.testing.assert_close(L_H_from_logits(x, a), F.binary_cross_entropy_with_logits(a, x, reduction="none").sum(1))
    # by hand, one component: x = 1, z = 0.5 -> log 2
    assert L_H(torch.tensor([[1.0]]), torch.tensor([[0.5]])).item() == pytest.approx(math.log(2))


class ReferenceAutoencoder(nn.Module):
    """The same autoencoder from two nn.Linear layers: the encoder's weight is W, the decoder's is W^T copied
    into a separate parameter. Tying the weights makes the true gradient the sum of the two."""

    def __init__(self, dae: DenoisingAutoencoder):
        super().__init__()
        d_prime, d = dae.W.shape
        self.enc, self.dec = nn.Linear(d, d_prime), nn.Linear(d_prime, d)
        with torch.no_grad():
            self.enc.weight.copy_(dae.W), self.enc.bias.copy_(dae.b)
            self.dec.weight.copy_(dae.decoder_weight()), self.dec.bias.copy_(dae.b_prime)

    def forward(self, x_tilde):
        return torch.sigmoid(self.dec(torch.sigmoid(self.enc(x_tilde))))


def test_tied_weight_gradient_equals_reference_encoder_plus_decoder_gradient():
    torch.manual_seed(0)
    dae = DenoisingAutoencoder(12, 5, tied=True, init_range=0.5).double()
    ref = ReferenceAutoencoder(dae).double()
    x = torch.rand(7, 12, dtype=torch.float64)
    x_tilde = masking_noise(x, 0.25)
    loss = dae.loss(x, x_tilde)
    loss_ref = F.binary_cross_entropy(ref(x_tilde), x, reduction="sum") / len(x)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-12, atol=1e-12)
    loss.backward()
    loss_ref.backward()
    torch.testing.assert_close(dae.W.grad, ref.enc.weight.grad + ref.dec.weight.grad.T, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(dae.b.grad, ref.enc.bias.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(dae.b_prime.grad, ref.dec.bias.grad, rtol=1e-9, atol=1e-12)
    # the decoder part alone is not the whole gradient: tying matters
    assert (dae.W.grad - ref.enc.weight.grad).abs().max() > 1e-3


def test_tied_weight_gradient_equals_backprop_by_hand():
    """dL/da' = (z - x) / B at the decoder (sigmoid + cross-entropy); W gets both uses of the one matrix:
    dW = (dL/da')^T y  transposed  +  (dL/da)^T x~, with dL/da = (dL/da' W^T) * y (1 - y)."""
    torch.manual_seed(1)
    dae = DenoisingAutoencoder(9, 4, tied=True, init_range=0.5).double()
    x = torch.rand(5, 9, dtype=torch.float64)
    x_tilde = masking_noise(x, 0.3)
    dae.loss(x, x_tilde).backward()
    with torch.no_grad():
        W, b, b_prime = dae.W, dae.b, dae.b_prime
        y = torch.sigmoid(x_tilde @ W.T + b)  # (5, 4)
        z = torch.sigmoid(y @ W + b_prime)  # (5, 9)
        delta_dec = (z - x) / len(x)  # (5, 9)
        delta_enc = (delta_dec @ W.T) * y * (1 - y)  # (5, 4)
        dW = (delta_dec.T @ y).T + delta_enc.T @ x_tilde  # (4, 9)
    torch.testing.assert_close(dae.W.grad, dW, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(dae.b.grad, delta_enc.sum(0), rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(dae.b_prime.grad, delta_dec.sum(0), rtol=1e-10, atol=1e-13)


def test_untied_decoder_has_its_own_weights_and_matches_the_reference():
    torch.manual_seed(2)
    dae = DenoisingAutoencoder(10, 6, tied=False, init_range=0.5).double()
    assert dae.W_prime.shape == (10, 6)
    ref = ReferenceAutoencoder(dae).double()
    x = torch.rand(4, 10, dtype=torch.float64)
    dae.loss(x, x).backward()
    (F.binary_cross_entropy(ref(x), x, reduction="sum") / len(x)).backward()
    torch.testing.assert_close(dae.W.grad, ref.enc.weight.grad)
    torch.testing.assert_close(dae.W_prime.grad, ref.dec.weight.grad)


def test_stack_passes_clean_codes_and_fine_tuning_copies_the_encoders():
    torch.manual_seed(3)
    daes = [DenoisingAutoencoder(20, 8, init_range=0.5), DenoisingAutoencoder(8, 5, init_range=0.5)]
    x = torch.rand(6, 20)
    h1 = torch.sigmoid(x @ daes[0].W.T + daes[0].b)
    torch.testing.assert_close(encode_stack(daes, x), torch.sigmoid(h1 @ daes[1].W.T + daes[1].b))
    net = StackedClassifier(daes, torch.randn(10, 5), torch.zeros(10))
    torch.testing.assert_close(net.code(x), encode_stack(daes, x))
    assert net(x).shape == (6, 10)
    with torch.no_grad():
        net.W[0].add_(1.0)  # fine-tuning changes the classifier's copy, never the pretrained filters
    assert not torch.allclose(net.code(x), encode_stack(daes, x))


def test_filter_locality_on_hand_made_filters():
    W = torch.zeros(4, 28, 28)
    W[0, 10:17, 3:10] = torch.randn(7, 7)  # everything inside one 7x7 window
    W[1] = 1.0  # spread evenly: 49 of 784 pixels' worth
    W[2, 0, 0], W[2, 27, 27] = 1.0, -1.0  # two far-apart pixels of equal energy
    W[3, 5, 5], W[3, 5, 12] = 2.0, 1.0  # 7 apart: never in one 7x7 window, best window holds 4 of 5
    loc = experiment.filter_locality(W.reshape(4, 784), 7)
    torch.testing.assert_close(loc, torch.tensor([1.0, 49 / 784, 0.5, 0.8]))
    assert experiment.filter_locality(W.reshape(4, 784), 28).tolist() == [1.0] * 4


def test_mcnemar_z_by_hand():
    ae = torch.tensor([1, 1, 1, 1, 0, 0, 1], dtype=torch.bool)
    dae = torch.tensor([0, 0, 0, 1, 1, 0, 1], dtype=torch.bool)  # only AE wrong: 3; only DAE wrong: 1
    assert experiment.mcnemar_z(dae, ae) == pytest.approx((3 - 1) / 2)


def test_digits_are_real_mnist_in_unit_range():
    need(mnist.load)
    cfg = experiment.Config(n_train=300, n_test=100)
    d = experiment.load_digits(cfg, "cpu")
    assert d["x_train"].shape == (300, 784) and d["x_test"].shape == (100, 784)
    assert d["x_train"].min() == 0 and d["x_train"].max() == 1
    assert (d["x_train"][:, 0] == 0).all()  # the top-left pixel is background in every MNIST digit
    assert d["y_train"].bincount(minlength=10).min() > 10  # all ten digits present
    torch.testing.assert_close(experiment.load_digits(cfg, "cpu")["x_test"], d["x_test"])  # fixed draw


def test_schedule_trains_layers_bottom_up_then_probes_then_fine_tunes():
    units = experiment.schedule(experiment.Config(hidden=(8, 4), pretrain_epochs=2, finetune_epochs=1))
    assert units[:4] == [("pretrain", "ae", 0, 0), ("pretrain", "ae", 0, 1), ("pretrain", "ae", 1, 0),
                         ("pretrain", "ae", 1, 1)]  # fmt: skip
    assert units[8:] == [("probe",), ("finetune", "ae", 0), ("finetune", "dae", 0)]


def test_an_interrupted_pretraining_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # smoke: 2 layers x 1 epoch x 2 arms; the 3rd call is the dae arm's first layer
    whole, resumed = interrupt_and_resume(monkeypatch, "vincent2010", experiment, "pretrain_epoch", 3, "smoke")
    assert resumed.metrics == whole.metrics


def test_an_interrupted_fine_tuning_resumes_to_the_same_metrics(monkeypatch):
    need(mnist.load)
    # the probe has run and is restored from the checkpoint; the 2nd call is the ae arm's second epoch
    whole, resumed = interrupt_and_resume(monkeypatch, "vincent2010", experiment, "finetune_epoch", 2, "smoke",
                                          finetune_epochs="2")  # fmt: skip
    assert resumed.metrics == whole.metrics


def test_smallest_config_runs():
    """Every size at its lower bound: 10 digits one at a time, one test digit, one hidden unit, one epoch of
    each stage, one probe iteration, a 1x1 locality window."""
    need(mnist.load)
    r = run_preset("vincent2010", "smoke", n_train=10, n_test=1, hidden=1, batch_size=1, pretrain_epochs=1,
                   probe_iters=1, finetune_epochs=1, window=1)  # fmt: skip
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("vincent2010", "quick"))
