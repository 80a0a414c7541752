"""Mechanism tests for Bottou (1991): hand gradients against autograd, the total gradient as the mean of
per-example gradients, one stochastic step computed by hand, one total step from zero weights as a class-mean
classifier, convergence of decreasing-step SGD to the optimum of a convex cost, the degenerate case where
SGD's batch is the whole set (then the first claim must fail), the data, and an exact resume."""

import math

import pytest
import torch
from torch.func import grad, vmap

from dlcanon.core.data import fashion_mnist
from dlcanon.core.results import Store
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset
from dlcanon.papers.bottou1991 import experiment
from dlcanon.papers.bottou1991.model import OneHiddenLayerNet, SoftmaxRegression, loss, step_size, update

D = torch.float64


def problem(N=12, d=6, C=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, d, generator=g, dtype=D), torch.randint(0, C, (N,), generator=g), g


def models(G=3, d=6, C=4, g=None):
    lin = SoftmaxRegression(G, d, C).double()
    with torch.no_grad():  # move off zero so every term of the gradient is exercised
        lin.W.normal_(generator=g)
        lin.b.normal_(generator=g)
    return [lin, OneHiddenLayerNet(G, d, 5, C, generator=g).double()]


@pytest.mark.parametrize("which", [0, 1], ids=["softmax_regression", "one_hidden_layer"])
def test_hand_gradient_matches_autograd(which):
    x, y, g = problem()
    model = models(g=g)[which]
    auto = torch.autograd.grad(loss(model(x), y).sum(), list(model.parameters()))
    hand = model.gradient(x, y)
    for (name, _), a in zip(model.named_parameters(), auto, strict=True):
        torch.testing.assert_close(hand[name], a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("which", [0, 1], ids=["softmax_regression", "one_hidden_layer"])
def test_total_gradient_is_the_mean_of_per_example_gradients(which):
    """grad C = 1/N sum_i grad Q(z_i): per-example gradients from torch.func (vmap of grad), then averaged."""
    x, y, g = problem(seed=1)
    model = models(g=g)[which]
    names = [n for n, _ in model.named_parameters()]
    params = {n: p.detach() for n, p in model.named_parameters()}

    def Q(p, xi, yi):  # the loss of one example, summed over the G learners
        return loss(torch.func.functional_call(model, p, (xi[None],)), yi[None]).sum()

    per_example = vmap(grad(Q), in_dims=(None, 0, 0))(params, x, y)  # name -> (N, *shape)
    total = model.gradient(x, y)
    for n in names:
        torch.testing.assert_close(total[n], per_example[n].mean(0), rtol=1e-10, atol=1e-12)
        assert per_example[n].std(0).max() > 1e-3  # the per-example gradients really differ


def test_one_stochastic_step_by_hand():
    """x = (1, 2), class 0, zero weights, eps = 0.5: p = (1/2, 1/2), p - e_y = (-1/2, 1/2),
    W <- -eps x (p - e_y)^T, b <- -eps (p - e_y). A second step from there, also by hand."""
    model = SoftmaxRegression(1, 2, 2).double()
    x, y, eps = torch.tensor([[1.0, 2.0]], dtype=D), torch.tensor([0]), torch.tensor([0.5], dtype=D)
    update(model, model.gradient(x, y), eps)
    torch.testing.assert_close(model.W[:, 0], torch.tensor([[0.25, -0.25], [0.5, -0.5]], dtype=D))
    torch.testing.assert_close(model.b[0], torch.tensor([0.25, -0.25], dtype=D))
    # now the logits are (1*0.25 + 2*0.5 + 0.25, -(same)) = (1.5, -1.5), so p_0 = 1 / (1 + e^-3)
    p0 = 1 / (1 + math.exp(-3.0))
    update(model, model.gradient(x, y), eps)
    r = 0.5 * (1 - p0)  # eps * (1 - p_0): how far class 0's weights move toward x
    expected = torch.tensor([[0.25 + r, -0.25 - r], [0.5 + 2 * r, -0.5 - 2 * r]], dtype=D)
    torch.testing.assert_close(model.W[:, 0], expected)


def test_one_total_gradient_step_from_zero_is_a_class_mean_classifier_whatever_the_step():
    """From W = 0, b = 0 all outputs are 1/C, so one total step gives W_c = eps (pi_c m_c - xbar / C) and
    b_c = eps (pi_c - 1/C), with m_c the class mean and pi_c the class share: the prediction is
    argmax_c pi_c (m_c . x + 1), the same for every eps > 0. One total-gradient epoch can do no better."""
    x, y, _ = problem(N=200, d=5, C=3, seed=2)
    model = SoftmaxRegression(4, 5, 3).double()
    update(model, model.gradient(x, y), torch.tensor([1e-3, 0.1, 1.0, 10.0], dtype=D))
    pred = model(x).argmax(-1)  # (N, G)
    pi = torch.bincount(y, minlength=3).to(D) / len(y)
    means = torch.stack([x[y == c].mean(0) for c in range(3)])  # (C, d)
    by_hand = (pi * (x @ means.T + 1)).argmax(-1)  # (N,)
    assert (pred == by_hand[:, None]).all()


def test_decreasing_steps_converge_to_the_optimum_of_a_convex_cost_and_constant_steps_do_not():
    """Generated overlapping classes (a convex cost with a finite minimum, found by total gradient descent).
    Per-example SGD with eps_t = eps0 / (1 + t/t0) ends near it; the same eps0 held constant keeps jumping."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(3, 5, generator=g, dtype=D)
    y = torch.randint(0, 3, (500,), generator=g)
    x = mu[y] + 1.5 * torch.randn(500, 5, generator=g, dtype=D)
    best = SoftmaxRegression(1, 5, 3).double()
    for _ in range(2000):
        update(best, best.gradient(x, y), torch.tensor([1.0], dtype=D))
    assert best.gradient(x, y)["W"].abs().max() < 1e-8  # at the optimum
    gaps = {}
    for t0 in (0.0, 500.0):
        model, t, order = SoftmaxRegression(1, 5, 3).double(), 0, torch.Generator().manual_seed(1)
        eps0 = torch.tensor([0.1], dtype=D)
        for _ in range(20):
            for i in torch.randperm(500, generator=order):
                update(model, model.gradient(x[i : i + 1], y[i : i + 1]), step_size(eps0, t, t0))
                t += 1
        with torch.no_grad():
            gaps[t0] = (loss(model(x), y) - loss(best(x), y)).item()
    assert 0 <= gaps[500.0] < 2e-3
    assert gaps[0.0] > 10 * gaps[500.0]


def test_step_size_schedule():
    eps0 = torch.tensor([0.2])
    assert step_size(eps0, 1000, 0.0) is eps0
    torch.testing.assert_close(step_size(eps0, 100, 100.0), torch.tensor([0.1]))


def test_overflowed_learners_count_as_wrong():
    model = SoftmaxRegression(2, 3, 2)
    with torch.no_grad():
        model.W[:, 1] = float("nan")
    x, y = torch.ones(4, 3), torch.zeros(4, dtype=torch.long)
    torch.testing.assert_close(experiment.error(model, x, y), torch.tensor([0.0, 1.0]))


def test_evaluation_points():
    cfg = experiment.Config(n_train=1000, sgd_epochs=2, gd_epochs=30, evals_per_decade=5)
    points = experiment.eval_points(cfg)
    assert points[0] == 1 and points[-1] == 2000 and 1000 in points and points == sorted(set(points))
    assert experiment.gd_eval_epochs(cfg) == [1, 2, 3, 4, 6, 10, 16, 25, 30]


def test_sgd_with_the_whole_set_as_its_batch_is_total_gradient_so_the_first_claim_fails():
    """A falsification check: with batch_size = N, 'SGD' makes one total-gradient step per epoch, and the
    one-epoch gap that the first claim needs disappears."""
    need(fashion_mnist.load)
    r = run_preset("bottou1991", "smoke", batch_size=2000, timed_replay=False)
    assert abs(r.metrics["sgd_test_error_1epoch"] - r.metrics["gd_test_error_1epoch"]) < 2e-3
    assert {c["claim"]: c["verdict"] for c in r.claims}["sgd_far_below_gd_after_one_epoch"] == "unjudged"  # smoke
    claim = next(c for c in experiment.CLAIMS if c.name == "sgd_far_below_gd_after_one_epoch")
    assert claim.verdict(r.metrics, "quick")[1] == "fail"


def test_data_split():
    need(fashion_mnist.load)
    d = experiment.load_data(experiment.Config(n_train=3000, n_val=1000), "cpu")
    assert d["x_train"].shape == (3000, 784) and d["x_val"].shape == (1000, 784) and d["x_test"].shape == (10000, 784)
    assert d["x_train"].mean(0).abs().max() < 1e-5  # every pixel centred
    raw = torch.from_numpy(fashion_mnist.load()["test_x"][:2]).float().reshape(2, 784) / 255.0
    diff, diff_raw = d["x_test"][0] - d["x_test"][1], raw[0] - raw[1]  # the pixel means cancel
    scale = diff[diff_raw.abs() > 0.1] / diff_raw[diff_raw.abs() > 0.1]
    torch.testing.assert_close(scale, scale.mean().expand_as(scale))  # one global scale for all pixels
    assert d["y_train"].bincount(minlength=10).min() > 200


@pytest.mark.parametrize("die_at", [2500, 4004], ids=["in_sgd_epoch_2", "in_gd"])
def test_an_interrupted_run_resumes_to_the_same_metrics(monkeypatch, die_at):
    """smoke: 2,000 examples; 2 SGD epochs are updates 1-4000, then 5 GD updates (checkpoints at 2 and 4)."""
    need(fashion_mnist.load)
    overrides = {"sgd_epochs": "2", "gd_epochs": "5", "timed_replay": "false"}
    whole, resumed = interrupt_and_resume(monkeypatch, "bottou1991", experiment, "update", die_at, "smoke", **overrides)
    assert resumed.metrics == whole.metrics
    curves = Store().curves(resumed.run_id)
    assert [s for s, _ in curves["sgd_test_error"]] == sorted({s for s, _ in curves["sgd_test_error"]})  # no repeats


@pytest.mark.parametrize("hidden", [0, 1], ids=["softmax_regression", "one_hidden_unit"])
def test_smallest_config_runs(hidden):
    """One training and one validation image, one step size, one pass of each method, one evaluation a decade."""
    need(fashion_mnist.load)
    r = run_preset("bottou1991", "smoke", n_train=1, n_val=1, hidden=hidden, batch_size=1, lrs="0.1", sgd_epochs=1,
                   gd_epochs=1, evals_per_decade=1, checkpoint_every=1)
    assert r.metrics and all(math.isfinite(v) for v in r.metrics.values())
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("bottou1991", "quick"))
