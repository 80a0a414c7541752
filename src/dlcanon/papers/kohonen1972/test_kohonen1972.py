"""Kohonen (1972) correlation matrix memory and the pseudo-inverse memory: the algebra, checked numerically."""

import numpy as np
import pytest
import torch

from dlcanon.core.data import fashion_mnist
from dlcanon.core.testing import assert_claims, need, run_preset

from . import experiment
from .model import CorrelationMatrixMemory, correlation_matrix, crosstalk, optimal_matrix, recall

D = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_orthonormal_keys_recall_exactly():
    Q, _ = torch.linalg.qr(torch.randn(50, 50, generator=gen(), dtype=D))
    X, Y = Q[:, :30], torch.randn(7, 30, generator=gen(1), dtype=D)
    assert torch.allclose(recall(correlation_matrix(X, Y), X), Y, atol=1e-12)


def test_correlated_keys_do_not_recall_exactly():
    """The same claim can fail: with non-orthogonal keys the correlation matrix is off by the crosstalk."""
    X = torch.randn(50, 30, generator=gen(), dtype=D)
    X = X / X.norm(dim=0)
    Y = torch.randn(7, 30, generator=gen(1), dtype=D)
    assert (recall(correlation_matrix(X, Y), X) - Y).abs().max() > 0.1


def test_crosstalk_is_the_sum_over_the_other_pairs():
    X = torch.rand(20, 6, generator=gen(), dtype=D)  # positive keys: strongly correlated, like raw images
    Y = torch.randn(4, 6, generator=gen(1), dtype=D)
    M = correlation_matrix(X, Y)
    for k in range(6):
        by_hand = sum(Y[:, j] * (X[:, j] @ X[:, k]) for j in range(6) if j != k)
        assert torch.allclose(M @ X[:, k], Y[:, k] * (X[:, k] @ X[:, k]) + by_hand, atol=1e-12)
        assert torch.allclose(crosstalk(X, Y)[:, k], by_hand, atol=1e-12)


def test_memory_built_pair_by_pair_equals_the_matrix_and_ignores_order():
    X, Y = torch.randn(9, 5, generator=gen(), dtype=D), torch.randn(3, 5, generator=gen(1), dtype=D)
    forward, backward = CorrelationMatrixMemory(9, 3), CorrelationMatrixMemory(9, 3)
    for k in range(5):
        forward.store(X[:, k], Y[:, k])
        backward.store(X[:, 4 - k], Y[:, 4 - k])
    assert torch.allclose(forward.M, correlation_matrix(X, Y), atol=1e-12)
    assert torch.allclose(forward.M, backward.M, atol=1e-12)


def test_pseudo_inverse_recall_is_exact_for_independent_but_correlated_keys():
    X = torch.rand(40, 25, generator=gen(), dtype=D) + 1.0  # all pairwise cosines above 0.9
    X = X / X.norm(dim=0)
    assert (X.T @ X - torch.eye(25, dtype=D)).max() > 0.9
    Y = torch.randn(10, 25, generator=gen(1), dtype=D)
    assert torch.allclose(recall(optimal_matrix(X, Y), X), Y, atol=1e-8)


def test_pseudo_inverse_matches_numpy_and_least_squares():
    X, Y = torch.randn(30, 45, generator=gen(), dtype=D), torch.randn(6, 45, generator=gen(1), dtype=D)  # K > n
    M = optimal_matrix(X, Y)
    assert np.allclose(M.numpy(), Y.numpy() @ np.linalg.pinv(X.numpy()), atol=1e-10)
    # K > n: M minimises ||M X - Y||, i.e. M^T is the least-squares solution of X^T M^T = Y^T
    lstsq = torch.linalg.lstsq(X.T, Y.T).solution.T
    assert torch.allclose(M, lstsq, atol=1e-10)
    assert not torch.allclose(recall(M, X), Y, atol=1e-3)  # with more pairs than dimensions recall is not exact


def test_autoassociative_optimal_memory_is_a_projector():
    X = torch.randn(20, 6, generator=gen(), dtype=D)
    P = optimal_matrix(X, X)
    assert torch.allclose(P @ P, P, atol=1e-12) and torch.allclose(P, P.T, atol=1e-12)
    assert torch.allclose(P @ X, X, atol=1e-12)
    noise = torch.randn(20, generator=gen(1), dtype=D)
    assert (P @ noise).norm() < noise.norm()  # the part of a key no stored key explains is filtered out


def test_random_key_crosstalk_matches_its_variance():
    """Unit random keys in R^n: each x_j . x_k has variance 1/n, so |crosstalk|^2 ~ (K - 1) / n."""
    n, K = 400, 100
    X = torch.randn(n, K, generator=gen(), dtype=D)
    X = X / X.norm(dim=0)
    Y = torch.linalg.qr(torch.randn(K, K, generator=gen(1), dtype=D))[0]  # orthonormal data: no data overlap
    ratio = crosstalk(X, Y).norm(dim=0).square().mean() / ((K - 1) / n)
    assert ratio.item() == pytest.approx(1.0, abs=0.05)


def test_sine_error_and_identification_by_hand():
    Y = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=D)
    Y_hat = torch.tensor([[3.0, 1.0], [3.0, 0.0]], dtype=D)  # column 0 at 45 degrees, column 1 wrong
    assert experiment.sine_error(Y_hat, Y).tolist() == pytest.approx([2**-0.5, 1.0])  # 45 and 90 degrees
    assert experiment.sine_error(5 * Y, Y).tolist() == pytest.approx([0.0, 0.0])  # the gain does not count
    assert experiment.identified(Y_hat, Y).item() == 0.5  # column 1 points at y_0: misidentified


def test_k90_stops_at_the_first_failure():
    assert experiment.k90([10, 20, 40, 80], [1.0, 0.95, 0.85, 0.99]) == 20
    assert experiment.k90([10, 20], [0.5, 1.0]) == 0


def test_keys_are_real_images():
    need(fashion_mnist.load)
    images, mu = experiment.load_keys("cpu")
    assert images.shape == (784, 10000) and mu.shape == (784,)
    assert 0 <= images.min() and images.max() <= 1 and 0.2 < mu.mean() < 0.4
    X = experiment.unit_columns(images[:, :50] - mu[:, None])
    assert torch.allclose(X.norm(dim=0), torch.ones(50, dtype=D))


def test_smallest_config_runs():
    """Every size at its lower bound: 2-dimensional codes, 5 stored pairs (the completion figure shows 5), one
    noise level besides clean keys, capacity at K = 1 and just past n = 784, one bottom row occluded."""
    need(fashion_mnist.load)
    r = run_preset("kohonen1972", "smoke", m=2, K_main=5, noise_levels="0,0.1", capacity_K="1,785",
                   independent_K_max=1, repeats=1, occlude_rows=1)
    assert r.metrics
    assert all(np.isfinite(v) for k, v in r.metrics.items() if k != "cap_pinv_noisy_acc_at_n")  # nan: 784 not on grid
    assert {c["verdict"] for c in r.claims} <= {"pass", "fail", "known-fail", "unjudged"}


@pytest.mark.claims
def test_quick_claims():
    assert_claims(run_preset("kohonen1972", "quick"))
