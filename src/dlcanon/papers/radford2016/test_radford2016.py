"""Radford et al. (2016): the Sec. 3 architecture guidelines checked on the modules themselves, G's first layer as
one matrix multiplication, the losses and the pooled features by hand, the linear classifier against
scikit-learn's logistic regression, the batchnorm recalibration, an exact resume, then the quick claims."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import fashion_mnist
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.radford2016 import experiment
from dlcanon.papers.radford2016.model import (
    Discriminator,
    Generator,
    d_loss,
    g_loss,
    init_weights,
    interpolate,
    pooled_features,
    sample_z,
)


@pytest.mark.parametrize("side", [16, 32, 64])
def test_shapes_and_the_guidelines(side):
    G, D = Generator(8, 4, side), Discriminator(4, side)
    z = sample_z(5, 8, torch.Generator().manual_seed(0))
    x = G(z)
    assert x.shape == (5, 1, side, side) and x.abs().max() <= 1  # tanh output
    assert D(x).shape == (5,)
    kinds = {type(m) for m in [*G.modules(), *D.modules()]}
    assert not kinds & {nn.Linear, nn.MaxPool2d, nn.AvgPool2d}  # no fully connected hidden layers, no pooling
    assert all(m.stride == (2, 2) for m in D.down)  # strided convolutions in D
    assert all(m.stride == (2, 2) for m in G.up)  # fractional-strided convolutions in G
    assert isinstance(D.bn[0], nn.Identity)  # no batchnorm on D's input layer
    assert all(isinstance(b, nn.BatchNorm2d) for b in [*D.bn[1:], *G.bn])
    assert len(G.bn) == len(G.up)  # one per hidden layer: none after the output layer
    # D's layers halve the side down to 4 x 4, each doubling the width
    sizes = [a.shape[1:] for a in D.features(x)]
    assert sizes[-1][1:] == (4, 4) and [s[0] for s in sizes] == [4 * 2**i for i in range(len(sizes))]


def test_first_layer_of_G_is_a_matrix_multiplication():
    """Sec. 3: the first layer 'could be called fully connected as it is just a matrix multiplication, but the
    result is reshaped into a 4-dimensional tensor'."""
    torch.manual_seed(0)
    G = Generator(6, 3, 16)
    z = torch.randn(4, 6)
    W = G.project.weight  # (z, C0, 4, 4)
    by_hand = (z @ W.reshape(6, -1)).reshape(4, *W.shape[1:])  # (B, z) @ (z, C0*16) -> (B, C0, 4, 4)
    torch.testing.assert_close(G.project(z[:, :, None, None]), by_hand)


def test_init_is_normal_0_002():
    G = Generator(100, 64, 32)
    init_weights(G, torch.Generator().manual_seed(0))
    w = torch.cat([m.weight.detach().flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(float(w.mean())) < 1e-3 and abs(float(w.std()) - 0.02) < 5e-4
    assert all(float(b.bias.detach().abs().max()) == 0 for b in G.bn)


def test_losses_by_hand():
    a, b = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = torch.sigmoid
    expected_d = -(s(a).log().mean() + (1 - s(b)).log().mean())  # -(E log D(x) + E log(1 - D(G(z))))
    torch.testing.assert_close(d_loss(a, b), expected_d)
    torch.testing.assert_close(g_loss(b), -s(b).log().mean())  # -E log D(G(z)), the non-saturating loss


def test_pooled_features_by_hand():
    torch.manual_seed(0)
    D = Discriminator(3, 16).eval()
    x = torch.randn(7, 1, 16, 16)
    a1, a2 = D.features(x)  # (7, 3, 8, 8), (7, 6, 4, 4)
    expected = torch.cat([F.max_pool2d(a1, 4).flatten(1), F.max_pool2d(a2, 2).flatten(1)], 1)
    torch.testing.assert_close(pooled_features(D, x, grid=2, chunk=3), expected)
    assert pooled_features(D, x, grid=4).shape == (7, 3 * 16 + 6 * 16)


def test_interpolation_walks_the_straight_line():
    z0, z1 = torch.randn(3, 5), torch.randn(3, 5)
    z = interpolate(z0, z1, torch.linspace(0, 1, 5))
    assert z.shape == (3, 5, 5)
    torch.testing.assert_close(z[:, 0], z0)
    torch.testing.assert_close(z[:, -1], z1)
    torch.testing.assert_close(z[:, 2], (z0 + z1) / 2)


def test_linear_classifier_matches_scikit_learn():
    """Our L-BFGS fit of mean cross-entropy + λ/2 ||W||² is sklearn's multinomial logistic regression with
    C = 1 / (n λ) (its objective is C Σ CE + ½ ||W||², the intercept unpenalised)."""
    LogisticRegression = pytest.importorskip("sklearn.linear_model").LogisticRegression
    g = torch.Generator().manual_seed(0)
    n, d, lam = 300, 6, 1e-2
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (X[:, :3] + 0.5 * torch.randn(n, 3, generator=g, dtype=torch.float64)).argmax(1)
    W = experiment.fit_linear(X.float(), y, lam, iters=500, n_classes=3).double()
    ours = F.softmax(X @ W[:-1] + W[-1], 1)
    sk = LogisticRegression(C=1 / (n * lam), tol=1e-10, max_iter=10_000).fit(X.numpy(), y.numpy())
    torch.testing.assert_close(ours, torch.from_numpy(sk.predict_proba(X.numpy())), atol=2e-4, rtol=0)


def test_real_statistics_are_the_data_means():
    torch.manual_seed(0)
    D = Discriminator(4, 16)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    x = torch.randn(40, 1, 16, 16)
    Dr = experiment.with_real_statistics(D, x, chunk=10)
    with torch.no_grad():
        h = D.down[1](F.leaky_relu(D.down[0](x), 0.2))  # the input of the batchnorm, (40, 8, 4, 4)
    torch.testing.assert_close(Dr.bn[1].running_mean, h.mean((0, 2, 3)), atol=1e-5, rtol=1e-5)
    assert not Dr.training
    assert all(torch.equal(v, D.state_dict()[k]) for k, v in before.items())  # D itself is untouched


def test_labelled_draw_is_balanced():
    y = torch.arange(10).repeat(30)
    idx = experiment.labelled_draw(y, 7, torch.Generator().manual_seed(0))
    assert len(idx.unique()) == 70 and torch.equal(torch.bincount(y[idx]), torch.full((10,), 7))


def test_data_is_real_and_scaled():
    d = need(fashion_mnist.load)
    x16, x32 = experiment.to_side(d["test_x"][:5], 16), experiment.to_side(d["test_x"][:5], 32)
    assert x16.shape == (5, 1, 16, 16) and x32.shape == (5, 1, 32, 32)
    assert x32.min() == -1 and x32.max() <= 1 and bool((x32[..., :2, :] == -1).all())  # background padding
    assert -1 <= float(x16.min()) and float(x16.max()) <= 1 + 1e-6


def test_resume_gives_the_same_run(monkeypatch):
    whole, resumed = interrupt_and_resume(monkeypatch, "radford2016", experiment, "train_step", die_on_call=3)
    for k, v in whole.metrics.items():
        assert math.isnan(v) and math.isnan(resumed.metrics[k]) or v == resumed.metrics[k], k


def test_quick_claims():
    assert_claims(run_preset("radford2016", "quick"))
