"""Correlation matrix memories (Kohonen 1972) and the optimal linear associative memory (Kohonen & Ruohonen 1973).

Notation (the paper's): a key x_k in R^n is associated with a data vector y_k in R^m, k = 1..K. The pairs are
kept as columns, X = [x_1 ... x_K] (n, K) and Y = [y_1 ... y_K] (m, K). The memory is one linear map M (m, n):
the whole store is a matrix of connection strengths, and recall is a single matrix-vector product y_hat = M x.

  correlation matrix (1972)          M = sum_k y_k x_k^T = Y X^T
      recall of a stored key:        M x_k = y_k (x_k . x_k) + sum_{j != k} y_j (x_j . x_k)
                                             \\_ the datum _/   \\________ crosstalk ________/
      so recall is exact when the keys are orthonormal, and degraded by crosstalk when they are not.
  optimal memory (1973)              M = Y X^+      (X^+ the Moore-Penrose pseudo-inverse)
      the least-squares solution of M X = Y; exact (M x_k = y_k) whenever the keys are linearly
      independent, whatever their correlations; for K > n it gives the best linear compromise.
  autoassociative case               Y = X: the optimal M = X X^+ is the orthogonal projector onto the span
                                     of the keys, so a noisy or incomplete key is recalled as its part that
                                     the stored keys can explain.

Everything is batched linear algebra; keys may be given as one vector (n,) or as columns (n, B).
"""

from __future__ import annotations

import torch


def correlation_matrix(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """M = sum_k y_k x_k^T (the 1972 memory): X (n, K) keys, Y (m, K) data -> M (m, n)."""
    return Y @ X.T  # (m, K) @ (K, n) -> (m, n)


def optimal_matrix(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """M = Y X^+ (Kohonen & Ruohonen 1973): the least-squares linear map with M X = Y where attainable."""
    return Y @ torch.linalg.pinv(X)  # (m, K) @ (K, n) -> (m, n)


def recall(M: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y_hat = M x: x (n,) or (n, B) keys -> (m,) or (m, B) recollections."""
    return M @ x  # (m, n) @ (n, B) -> (m, B)


def crosstalk(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Column k: sum_{j != k} y_j (x_j . x_k), the part of M x_k that comes from the other stored pairs."""
    C = X.T @ X  # (K, n) @ (n, K) -> (K, K): C[j, k] = x_j . x_k
    C = C - torch.diag_embed(C.diagonal())  # drop j = k
    return Y @ C  # (m, K) @ (K, K) -> (m, K)


class CorrelationMatrixMemory:
    """The 1972 memory built the way the paper builds it: one pair at a time, each adding y x^T to M.

    Storing is local and incremental (each connection m_ij grows by y_i x_j, a Hebbian-type change), and
    the order of storage does not matter: after K pairs M equals `correlation_matrix(X, Y)`.
    """

    def __init__(self, n: int, m: int, dtype=torch.float64, device=None):
        self.M = torch.zeros(m, n, dtype=dtype, device=device)

    def store(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """M <- M + y x^T for one pair, x (n,), y (m,)."""
        self.M += torch.outer(y, x)  # (m,) x (n,) -> (m, n)

    def recall(self, x: torch.Tensor) -> torch.Tensor:
        return recall(self.M, x)
