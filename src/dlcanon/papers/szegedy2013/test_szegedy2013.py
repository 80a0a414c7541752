"""Mechanism tests for Szegedy et al. (2013): the FC nets against torch's own layers, the weight penalty, the
penalty objective's gradient, the box-constrained L-BFGS attack against the closed-form closest point of a linear
boundary (and its box, its c trade-off, its batch separability), the fast gradient sign method by hand, Sec. 3's
top images and purity, the amplified and noisy perturbations, the attacked set, and the quick claims."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlcanon.core.data import mnist
from dlcanon.core.testing import assert_claims, need, run_preset
from dlcanon.papers.szegedy2013 import experiment
from dlcanon.papers.szegedy2013.attack import box_lbfgs, minimal_adversarial, predict
from dlcanon.papers.szegedy2013.model import (
    FC,
    fgsm,
    label_purity,
    penalty_objective,
    rms,
    top_k_images,
    weight_penalty,
)


@pytest.mark.parametrize(("hidden", "name"), [((), "FC10"), ((100, 100), "FC100-100-10"), ((123, 456), "FC123-456-10")])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_fc_is_torch_linear_layers_with_the_papers_name(hidden, name, activation):
    torch.manual_seed(0)
    net = FC(hidden, activation)
    assert net.name == name
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}[activation]
    layers = []
    for layer in net.layers:
        ref = nn.Linear(layer.in_features, layer.out_features)
        ref.load_state_dict(layer.state_dict())
        layers += [ref, act()]
    ref_net = nn.Sequential(*layers[:-1])  # no nonlinearity after the output layer: logits
    x = torch.rand(5, 784)
    torch.testing.assert_close(net(x), ref_net(x))
    torch.testing.assert_close(net.phi(x), nn.Sequential(*layers[:-2])(x) if hidden else x)
    assert net.phi(x).shape == (5, hidden[-1] if hidden else 784)


def test_weight_penalty_by_hand():
    net = FC((3,), "sigmoid", d_in=2, classes=2)
    with torch.no_grad():
        net.layers[0].weight.fill_(1.0)  # 3 x 2 ones: |W_1|^2 = 6
        net.layers[1].weight.fill_(2.0)  # 2 x 3 twos: |W_2|^2 = 24
        net.layers[0].bias.fill_(100.0)  # biases are not penalised
    assert weight_penalty(net, (0.5, 0.1)).item() == pytest.approx(0.5 * 6 + 0.1 * 24)


def test_penalty_objective_is_the_sum_of_per_image_terms_and_its_gradient_checks():
    torch.manual_seed(0)
    f = FC((7,), "sigmoid", d_in=6, classes=4).double()
    x, x_adv = torch.rand(3, 6, dtype=torch.float64), torch.rand(3, 6, dtype=torch.float64)
    l, c = torch.tensor([0, 3, 1]), torch.tensor([0.5, 2.0, 10.0], dtype=torch.float64)
    total = penalty_objective(f, x_adv, x, l, c)
    by_hand = sum(c[i] * (x_adv[i] - x[i]).pow(2).sum() + F.cross_entropy(f(x_adv[i : i + 1]), l[i : i + 1])
                  for i in range(3))  # fmt: skip
    torch.testing.assert_close(total, by_hand)
    z = x_adv.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: penalty_objective(f, z, x, l, c), (z,))


def linear_two_class(seed: int = 0) -> FC:
    """A 2-class softmax classifier on 784 inputs: its decision boundary is a hyperplane."""
    torch.manual_seed(seed)
    net = FC((), "sigmoid", d_in=784, classes=2)
    with torch.no_grad():
        net.layers[0].weight.normal_(0, 0.05)
        net.layers[0].bias.zero_()
    return net


def test_the_attack_finds_the_closest_point_across_a_linear_boundary():
    """For a linear classifier the closest x' with f(x') = l is the projection of x onto the boundary, at distance
    (z_y - z_l) / |w_y - w_l|. Images near the middle of the box do not touch its walls, so the line search over c
    must approach that distance from above."""
    net = linear_two_class()
    x = 0.5 + 0.02 * torch.randn(6, 784, generator=torch.Generator().manual_seed(1))
    y = predict(net, x)
    l = 1 - y
    W, b = net.layers[0].weight.detach(), net.layers[0].bias.detach()
    z = x @ W.T + b  # (6, 2)
    exact = (z.gather(1, y[:, None]) - z.gather(1, l[:, None])).squeeze(1) / (W[0] - W[1]).norm()
    x_adv, found, _ = minimal_adversarial(net, x, l, c0=1.0, rounds=14, grow=10.0, max_iter=100)
    assert found.all()
    assert (predict(net, x_adv) == l).all()
    dist = (x_adv - x).norm(dim=1)
    assert (dist >= exact * (1 - 1e-4)).all(), "nothing of class l is closer than the boundary"
    assert (dist <= exact * 1.01).all(), (dist / exact).tolist()


def test_the_attack_stays_in_the_box_and_a_larger_c_buys_a_smaller_r():
    net = linear_two_class(2).double()
    x = (torch.rand(4, 784, generator=torch.Generator().manual_seed(3)) > 0.7).double()  # pixels on the walls 0, 1
    l = 1 - predict(net, x)
    norms = []
    for c in (0.01, 0.1, 1.0):
        x_adv = box_lbfgs(net, x, l, torch.full((4,), c, dtype=torch.float64), max_iter=100)
        assert x_adv.min() >= 0 and x_adv.max() <= 1
        norms.append((x_adv - x).norm(dim=1))
    assert (norms[0] > norms[1]).all() and (norms[1] > norms[2]).all()


def test_solving_the_batch_jointly_gives_each_images_own_minimiser():
    """The objective is a sum of per-image terms, so one L-BFGS-B solve of the batch must land where each image's
    own solve lands (the softmax classifier makes each problem convex: one minimiser)."""
    torch.manual_seed(4)
    net = FC((), "sigmoid").double()
    x = torch.rand(3, 784, dtype=torch.float64)
    l = (predict(net, x) + 1) % 10
    c = torch.tensor([0.05, 0.2, 1.0], dtype=torch.float64)
    joint = box_lbfgs(net, x, l, c, max_iter=500)
    for i in range(3):
        alone = box_lbfgs(net, x[i : i + 1], l[i : i + 1], c[i : i + 1], max_iter=500)
        torch.testing.assert_close(joint[i : i + 1], alone, atol=2e-4, rtol=0)


def test_minimal_adversarial_leaves_the_callers_net_in_float32():
    net = linear_two_class()
    x = torch.rand(2, 784)
    minimal_adversarial(net, x, 1 - predict(net, x), c0=1.0, rounds=1, grow=10.0, max_iter=2)
    assert net.layers[0].weight.dtype == torch.float32


def test_fgsm_of_a_softmax_classifier_by_hand():
    """For logits W x + b the input gradient of the cross-entropy is W^T (p - e_y)."""
    torch.manual_seed(5)
    net = FC((), "sigmoid")
    x, y, eps = torch.rand(4, 784), torch.tensor([0, 3, 9, 3]), 0.25
    W, b = net.layers[0].weight.detach(), net.layers[0].bias.detach()
    p = torch.softmax(x @ W.T + b, dim=1)  # (4, 10)
    grad = (p - F.one_hot(y, 10).float()) @ W  # (4, 10) @ (10, 784)
    torch.testing.assert_close(fgsm(net, x, y, eps), (x + eps * grad.sign()).clamp(0, 1))


def test_top_k_images_and_label_purity_by_hand():
    phi_x = torch.tensor([[0.0, 1.0], [3.0, 0.0], [2.0, 2.0], [1.0, -1.0]])  # 4 images, 2 units
    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    assert top_k_images(phi_x, directions, 2).tolist() == [[1, 2], [2, 0], [1, 3]]
    labels = torch.tensor([[1, 1, 2, 3], [4, 4, 4, 4], [0, 1, 2, 3]])
    assert label_purity(labels).tolist() == [0.5, 1.0, 0.25]


def test_rms_is_the_papers_distortion():
    r = torch.zeros(2, 784)
    r[0, :4] = 0.5  # sqrt(4 * 0.25 / 784)
    assert rms(r).tolist() == pytest.approx([math.sqrt(1 / 784), 0.0])


def test_amplified_rescales_the_perturbation_and_keeps_the_box():
    x = torch.full((2, 784), 0.5)
    x_adv = x.clone()
    x_adv[0, :400] += 0.01  # amplified: 0.1 * sqrt(784 / 400) = 0.14 per pixel, inside the box
    x_adv[1] = 1.0  # r = 0.5 everywhere: amplifying to 0.1 shrinks it
    amp = experiment.amplified(x, x_adv, 0.1)
    torch.testing.assert_close(rms(amp - x), torch.tensor([0.1, 0.1]))
    assert ((amp - x)[0, :400] > 0).all() and ((amp - x)[0, 400:] == 0).all()
    x_edge = torch.ones(1, 784)
    assert experiment.amplified(x_edge, x_edge - 0.01, 2.0).min() == 0  # kept in [0, 1]


def test_noise_rows_have_the_stated_size():
    g = torch.Generator().manual_seed(0)
    x, scale = torch.rand(3, 784), torch.tensor([0.5, 1.0, 2.0])
    same = experiment.noisy(x, scale, 4, g, same_norm=True)  # (12, 784): copy d of image i is row 3d + i
    torch.testing.assert_close((same - x.repeat(4, 1)).norm(dim=1), scale.repeat(4))
    gauss = experiment.noisy(x, torch.full((3,), 0.1), 200, g, same_norm=False)
    assert (gauss - x.repeat(200, 1)).std().item() == pytest.approx(0.1, rel=0.01)


def test_attack_set_is_right_for_every_net_and_targets_another_label():
    raw = need(mnist.load)
    d = {"x_test": torch.from_numpy(raw["test_x"]).float().flatten(1) / 255, "y_test": torch.from_numpy(raw["test_y"])}
    d["y_test"] = d["y_test"].long()
    torch.manual_seed(0)
    nets = {"a": FC((), "sigmoid"), "b": FC((8,), "relu")}  # untrained: each right on about a tenth
    cfg = dataclasses.replace(experiment.PRESETS["smoke"], n_attack=5)
    x, y, l = experiment.attack_set(cfg, nets, d)
    assert len(y) == 5 and (l != y).all() and ((0 <= l) & (l < 10)).all()
    for net in nets.values():
        assert (predict(net, x) == y).all()
    again = experiment.attack_set(cfg, nets, d)
    assert torch.equal(again[0], x) and torch.equal(again[2], l)  # a fixed draw (data_seed)


def test_the_smallest_config_runs():
    need(mnist.load)
    r = run_preset("szegedy2013", "smoke", n_train=100, epochs=1, batch_size=100, n_attack=1, c_rounds=1,
                   lbfgs_iters=1, noise_draws=1, top_k=2, fgsm_eps="0.1,0.25", noise_stds="0.1")  # fmt: skip
    assert r.metrics and {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("szegedy2013", "quick"))
