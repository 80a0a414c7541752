"""Cybenko (1989): Eq. (1) against a plain torch network, the packing of many widths, the step limit behind
Lemma 1, a hand-built staircase that approximates a continuous function (the theorem's idea made constructive),
the sup-norm evaluator on known functions, the fitting machinery (Jacobian, least squares, Levenberg-Marquardt),
a polynomial activation that cannot approximate (the claim can fail), the nesting of widths (more units never
hurt, and without the nesting that claim can fail), the Seattle curve, and an exact resume."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from dlcanon.core.data import vega
from dlcanon.core.testing import assert_claims, interrupt_and_resume, need, run_preset

from . import experiment, model
from .model import SigmoidalSums, sigma, staircase, step


def random_net(widths=(3, 5), B=2, activation="sigmoid", seed=0):
    g = torch.Generator().manual_seed(seed)
    U = sum(widths)
    return SigmoidalSums(torch.randn(B, U, generator=g, dtype=torch.float64),
                         torch.rand(B, U, generator=g, dtype=torch.float64) * 3,
                         torch.rand(B, U, generator=g, dtype=torch.float64),
                         torch.where(torch.rand(B, U, generator=g) < 0.5, -1.0, 1.0).double(), widths, activation)


@pytest.mark.parametrize("activation, torch_act", [("sigmoid", nn.Sigmoid()), ("relu", nn.ReLU())])
def test_eq1_equals_a_one_hidden_layer_torch_net(activation, torch_act):
    """G(x) = sum_j alpha_j sigma(y_j x + theta_j) is Linear(1, N) -> sigma -> Linear(N, 1, bias=False)."""
    net = random_net(activation=activation)
    x = torch.linspace(-0.5, 1.5, 101, dtype=torch.float64)
    G = net(x)  # (B, M, W)
    for b in range(2):
        for k, (a, c) in enumerate(zip(net.offsets()[:-1], net.offsets()[1:], strict=True)):
            ref = nn.Sequential(nn.Linear(1, c - a), torch_act, nn.Linear(c - a, 1, bias=False)).double()
            with torch.no_grad():
                ref[0].weight.copy_(net.y[b, a:c, None])
                ref[0].bias.copy_(net.theta[b, a:c])
                ref[2].weight.copy_(net.alpha[b, None, a:c])
            torch.testing.assert_close(G[b, :, k], ref(x[:, None])[:, 0])


def test_packed_networks_do_not_see_each_other():
    net = random_net(widths=(1, 2, 4))
    x = torch.linspace(0, 1, 11, dtype=torch.float64)
    before = net(x)
    with torch.no_grad():
        net.alpha[:, 3:] += 5.0  # the width-4 net's units only
        net.centre[:, 3:] -= 0.2
    after = net(x)
    torch.testing.assert_close(after[..., :2], before[..., :2])
    assert (after[..., 2] - before[..., 2]).abs().max() > 1


def test_paper_weights_round_trip():
    y = torch.tensor([[3.0, -0.5]], dtype=torch.float64)
    theta = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    net = SigmoidalSums.from_weights(torch.ones(1, 2, dtype=torch.float64), y, theta, (2,))
    torch.testing.assert_close(net.y, y)
    torch.testing.assert_close(net.theta, theta)
    x = torch.tensor([0.25], dtype=torch.float64)
    expected = sigma(torch.tensor(3 * 0.25 + 1.0)) + sigma(torch.tensor(-0.5 * 0.25 + 2.0))
    torch.testing.assert_close(net(x)[0, 0, 0], expected.double())


def test_sigma_is_sigmoidal_and_its_steep_limit_is_lemma_1s_step():
    assert sigma(torch.tensor(60.0)) == 1 and sigma(torch.tensor(-60.0)) < 1e-20
    t = torch.tensor([-0.3, -0.01, 0.0, 0.01, 0.3], dtype=torch.float64)
    phi = 0.7
    for lam, tol in ((1e2, 0.5), (1e4, 1e-4), (1e6, 1e-40)):
        limit = step(t, at_zero=float(sigma(torch.tensor(phi, dtype=torch.float64))))  # sigma(phi) on t = 0
        assert (sigma(lam * t + phi) - limit).abs().max() < tol


def test_a_steep_sigmoid_approximates_a_step_away_from_the_jump():
    """sup over |x - 1/2| >= delta of |sigma(k (x - 1/2)) - H(x - 1/2)| = sigma(-k delta) -> 0 as k grows."""
    x = torch.linspace(0, 1, 10001, dtype=torch.float64)
    away = (x - 0.5).abs() >= 0.01 - 1e-12
    errs = []
    for k in (10.0, 100.0, 1000.0, 10000.0):
        one = torch.ones(1, 1, dtype=torch.float64)
        G = SigmoidalSums(one, math.log(k) * one, 0.5 * one, one, (1,))(x)[0, :, 0].detach()  # sigma(k (x - 1/2))
        errs.append(float((G - (x >= 0.5).double())[away].abs().max()))
        assert errs[-1] == pytest.approx(float(sigma(torch.tensor(-k * 0.01, dtype=torch.float64))), rel=1e-6)
    assert errs == sorted(errs, reverse=True) and errs[-1] < 1e-40


@pytest.mark.parametrize("f", [lambda z: torch.sin(2 * math.pi * 3 * z), lambda z: (z - 0.3).abs()])
def test_staircase_of_steep_sigmoids_approximates_a_continuous_function(f):
    """N steep sigmoids: sup error <= the oscillation of f over half a step (plus a vanishing tail), -> 0 as N
    grows: the density the theorem promises, with an explicit network."""
    x = torch.linspace(0, 1, 20001, dtype=torch.float64)
    errs = []
    for N in (9, 17, 33, 65, 129):
        h = 1 / (N - 1)
        G = staircase(f, N, k=200 * (N - 1))(x)[0, :, 0].detach()
        err = float(experiment.sup_error(G[None, :, None], f(x)[None])[0, 0])
        lipschitz = 6 * math.pi  # bound on |f'| for both functions
        assert err <= lipschitz * h / 2 + 0.02
        errs.append(err)
    assert errs == sorted(errs, reverse=True) and errs[-1] < 0.08


def test_sup_error_on_known_functions():
    x = torch.linspace(0, 1, 4097, dtype=torch.float64)
    zero = torch.zeros(1, 4097, 1, dtype=torch.float64)
    assert float(experiment.sup_error(zero, torch.sin(2 * math.pi * x)[None])) == pytest.approx(1.0, abs=1e-12)
    assert float(experiment.sup_error(zero, (x - 0.3).abs()[None])) == pytest.approx(0.7, abs=1e-12)
    G = torch.stack([x, x + 0.25], -1)[None]  # two "networks": exact, and off by 0.25 everywhere
    torch.testing.assert_close(experiment.sup_error(G, x[None]), torch.tensor([[0.0, 0.25]], dtype=torch.float64))


def test_jacobian_matches_autograd():
    net = random_net(widths=(2, 3), activation="sigmoid")
    x = torch.linspace(0, 1, 7, dtype=torch.float64)
    J = experiment.jacobian(net, x, dtype=torch.float64)  # (B, M, 3, U)
    for q, param in enumerate((net.alpha, net.log_steep, net.centre)):
        G = net(x).sum()  # each unit feeds one network only, so the sum over networks isolates it
        (grad,) = torch.autograd.grad(G, param)
        torch.testing.assert_close(J[:, :, q, :].sum(1), grad)


def test_least_squares_output_weights():
    net = random_net(widths=(3, 5))
    x = torch.linspace(0, 1, 50, dtype=torch.float64)
    f = torch.stack([torch.sin(4 * x), x**2])  # (B, M)
    experiment.least_squares_alpha(net, x, f)
    h, _ = net.hidden(x)
    h = h.detach()
    for b in range(2):
        for a, c in zip(net.offsets()[:-1], net.offsets()[1:], strict=True):
            ref = torch.linalg.lstsq(h[b, :, a:c], f[b, :, None]).solution[:, 0]
            ours = (h[b, :, a:c] @ net.alpha[b, a:c].detach() - f[b]).norm()
            assert ours <= (h[b, :, a:c] @ ref - f[b]).norm() + 1e-9  # as good as LAPACK's least squares


def test_levenberg_marquardt_recovers_a_sigmoid_and_never_goes_uphill():
    target = lambda z: 2 * sigma(12 * (z - 0.4))  # exactly one unit of Eq. (1)
    x = torch.linspace(0, 1, 64, dtype=torch.float64)
    f = target(x)[None]
    net = SigmoidalSums(torch.ones(1, 1, dtype=torch.float64), torch.full((1, 1), math.log(5.0), dtype=torch.float64),
                        torch.full((1, 1), 0.6, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64), (1,))
    mu = torch.full((1, 1), 0.1, dtype=torch.float64)
    with torch.no_grad():
        losses = [float(((net(x)[0, :, 0] - f[0]) ** 2).mean())]
        for _ in range(30):
            experiment.lm_iteration(net, x, f, mu, p=2.0)
            losses.append(float(((net(x)[0, :, 0] - f[0]) ** 2).mean()))
    assert all(b <= a for a, b in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 1e-20
    assert net.y[0, 0].detach().item() == pytest.approx(12, rel=1e-5)
    assert net.alpha[0, 0].detach().item() == pytest.approx(2, rel=1e-6)


def test_relu_sums_represent_the_ramp_exactly():
    x = torch.linspace(0, 1, 1001, dtype=torch.float64)
    y = torch.tensor([[10.0, 10.0]], dtype=torch.float64)
    net = SigmoidalSums.from_weights(torch.tensor([[1.0, -1.0]], dtype=torch.float64), y, -y * torch.tensor(
        [[0.45, 0.55]], dtype=torch.float64), (2,), activation="relu")
    torch.testing.assert_close(net(x)[0, :, 0], experiment.GENERATED["ramp"](x))


class _Ctx:
    device, seed = torch.device("cpu"), 0

    def log(self, *a, **k):
        pass

    def checkpoint(self, *a):
        pass

    def bar(self, total, desc=""):
        from dlcanon.core.progress import Bar

        return Bar(total, desc, enabled=False)


def test_a_polynomial_activation_does_not_approximate(monkeypatch):
    """Leshno et al. (1993): sums of a polynomial sigma stay polynomials of its degree. With sigma(t) = t every G
    is a straight line, so adding units cannot push the sup error on |x - 0.3| down: the claim would fail."""
    monkeypatch.setitem(model.ACTIVATIONS, "sigmoid", (lambda t: t, lambda t, h: torch.ones_like(t)))
    need(vega.load)
    cfg = dataclasses.replace(experiment.PRESETS["quick"], restarts=2, lm_iters=10, widths=(1, 4, 16))
    grids = experiment.target_grids(cfg)
    x, F = experiment.train_targets(cfg, grids)
    state = {"step": 0}
    net = experiment.fit(cfg, _Ctx(), state, "sigmoid", x, F, grids)
    m = experiment.curve_metrics(cfg, "sigmoid", experiment.evaluate(cfg, net, grids), state["stages"]["sigmoid"])
    # the best straight line for |x - 0.3| on [0, 1] misses by 0.21 (slope 0.4, equioscillating at 0, 0.3 and 1)
    assert min(m[f"sigmoid_kink_sup_n{n}"] for n in cfg.widths) >= 0.209
    assert m["sigmoid_generated_worst_ratio"] > 0.25  # the claim fails, as it must


# --- the nesting: more units never hurt -----------------------------------------------------------------------


def test_the_nested_start_is_the_smaller_nets_function():
    """The row that continues from the previous width holds that net's units plus fresh ones with alpha_j = 0, so
    it starts as exactly the function the smaller net found (Eq. (1) nests)."""
    cfg = dataclasses.replace(experiment.PRESETS["smoke"], widths=(2, 5), restarts=2)
    T, R = len(experiment.TARGETS), cfg.restarts
    small = random_net(widths=(2,), B=T)
    best_prev = experiment.unit_params(small)
    x = torch.linspace(0, 1, 33, dtype=torch.float64)
    F = torch.stack([f(x) for f in (torch.sin, torch.cos, torch.exp, torch.sqrt)])  # any targets: only rows matter
    net = experiment.stage_nets(cfg, 1, "sigmoid", 0, best_prev, x, F.repeat_interleave(R + 1, 0))
    assert net.widths == (5,) and net.alpha.shape == (T * (R + 1), 5)
    nested = torch.arange(T) * (R + 1) + R
    assert (net.alpha[nested, 2:] == 0).all() and torch.equal(net.centre[nested, :2], small.centre.detach())
    xe = torch.linspace(-0.2, 1.2, 301, dtype=torch.float64)
    torch.testing.assert_close(net(xe)[nested, :, 0], small(xe)[:, :, 0], rtol=1e-14, atol=1e-14)
    assert (net(xe)[:R, :, 0] - small(xe)[:1, :, 0]).abs().max() > 1e-3  # the fresh rows are other nets


def _spoiled_fit(monkeypatch, nested: bool) -> dict[str, float]:
    """A small run whose optimiser is sabotaged (each step ends with the switch points shaken), so that fits miss
    badly; with nested=False no row starts from the previous width."""
    need(vega.load)
    real_step, real_start = experiment.lm_iteration, experiment.stage_nets
    g = torch.Generator().manual_seed(0)

    def spoiled_step(net, x, f, mu, p):
        out = real_step(net, x, f, mu, p)
        with torch.no_grad():
            net.centre += 0.3 * torch.randn(net.centre.shape, generator=g, dtype=torch.float64)
        return out

    monkeypatch.setattr(experiment, "lm_iteration", spoiled_step)
    if not nested:
        monkeypatch.setattr(experiment, "stage_nets", lambda cfg, k, a, seed, best_prev, x, Fr: real_start(
            cfg, k, a, seed, None, x, Fr))
    cfg = dataclasses.replace(experiment.PRESETS["smoke"], widths=(1, 2, 4, 8), restarts=1, lm_iters=3)
    grids = experiment.target_grids(cfg)
    x, F = experiment.train_targets(cfg, grids)
    state = {"step": 0}
    net = experiment.fit(cfg, _Ctx(), state, "sigmoid", x, F, grids)
    return experiment.curve_metrics(cfg, "sigmoid", experiment.evaluate(cfg, net, grids), state["stages"]["sigmoid"])


def test_more_units_never_hurt_even_when_every_fit_misses(monkeypatch):
    bar = next(c.threshold for c in experiment.CLAIMS if c.name == "sigmoid_more_units_never_hurt")
    m = _spoiled_fit(monkeypatch, nested=True)
    assert m["sigmoid_fresh_max_rel_rise"] > bar  # the independent fits alone do get worse with N ...
    assert m["sigmoid_put_back_share"] > 0  # ... the nested row had to go back to its start ...
    assert m["sigmoid_max_rel_rise"] <= bar  # ... and the best over all rows never rises


def test_without_the_nesting_the_monotone_claim_can_fail(monkeypatch):
    bar = next(c.threshold for c in experiment.CLAIMS if c.name == "sigmoid_more_units_never_hurt")
    assert _spoiled_fit(monkeypatch, nested=False)["sigmoid_max_rel_rise"] > bar


def test_relative_rise_counts_errors_below_the_rounding_floor_as_equal():
    prev = torch.tensor([1e-2, 1e-13, 0.0, 1e-13], dtype=torch.float64)
    s = torch.tensor([1.1e-2, 2e-13, 1e-15, 1e-6], dtype=torch.float64)
    r = experiment.relative_rises(s, prev)
    assert r[0] == pytest.approx(0.1, rel=1e-6)  # a 10% rise
    assert r[1] < 1e-3 and r[2] < 1e-3  # rounding-level changes of an exact fit
    assert r[3] > 100  # from an exact fit to 1e-6: a real rise


def test_seattle_curve_is_the_smoothed_series():
    need(vega.load)
    t, v, lo, hi = experiment.seattle_curve(24)
    assert len(t) == 8759 - 23 and t[0] == 0 and t[-1] == 1 and (torch.diff(t) > 0).all()
    assert v.min() == 0 and v.max() == 1 and 35 < lo < hi < 70
    raw = torch.from_numpy(vega.load()["temp"])
    assert float(v[100] * (hi - lo) + lo) == pytest.approx(float(raw[100:124].mean()), abs=1e-9)


def test_killed_run_resumes_to_the_same_metrics(monkeypatch):
    need(vega.load)
    # smoke: 3 widths x 4 lm_iteration calls per activation; the 19th is the 3rd of relu's width 2, after the
    # checkpoint inside that stage (every 2 calls): resumes a nested stage after a finished activation
    fresh, resumed = interrupt_and_resume(monkeypatch, "cybenko1989", experiment, "lm_iteration", 19, "smoke")
    assert resumed.metrics == fresh.metrics


def test_smallest_config_runs():
    """Every size-like field at its declared lower bound at once: the run still finishes and is judged."""
    result = run_preset("cybenko1989", "smoke", widths="1,2", restarts=1, train_points=2, eval_points=65, lm_iters=1,
                        smooth_hours=1, checkpoint_every=1)
    assert result.metrics
    assert {c["verdict"] for c in result.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("cybenko1989", "quick"))
