"""Kohonen (1972) on real images: exact recall with orthonormal keys, crosstalk with correlated ones, and the
pseudo-inverse memory of Kohonen & Ruohonen (1973) as the remedy.

Stages (each a function below; none trains anything, so the run is a few seconds of linear algebra):
  1. orthonormal   random orthonormal keys: the correlation matrix recalls every datum exactly;
  2. main          K Fashion-MNIST images as keys, random codes as data (heteroassociative): correlation
                   matrix against pseudo-inverse, the same with random keys (to isolate key correlation),
                   and completion: the upper half of each image as key, the whole image as data;
  3. noise         the same K pairs recalled from keys with added Gaussian noise of growing size;
  4. capacity      recall quality as the number of stored pairs K grows past the key dimension n = 784.
Keys are flattened images scaled to [0, 1], with the training set's mean image subtracted and each key scaled
to unit length (see notes.md, Deviations, for why); data codes are Gaussian vectors of unit expected length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dlcanon.core.config import Annotated, Range
from dlcanon.core.data import fashion_mnist
from dlcanon.core.paper import Claim

from . import figures
from .model import CorrelationMatrixMemory, correlation_matrix, optimal_matrix, recall

DTYPE = torch.float64  # exactness claims are about the mathematics, not about float32 rounding
SIDE = 28


@dataclass
class Config:
    m: Annotated[int, Range(ge=2, le=2048)] = 784
    """Dimension of the random data codes y_k (heteroassociative recall)."""
    K_main: Annotated[int, Range(ge=5, le=2000)] = 200
    """Stored pairs in the main comparison and the noise curve: a quarter of the key dimension (at least 5,
    the images shown in the completion figure)."""
    noise_levels: Annotated[tuple[float, ...], Range(ge=0, le=10, min_len=2)] = (
        0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
    """Norm of the Gaussian noise added to each (unit-length) key, relative to the key's norm."""
    small_noise: Annotated[float, Range(gt=0, le=10)] = 0.1
    """The noise level at which recall must still be close to clean recall (no cliff)."""
    capacity_K: Annotated[tuple[int, ...], Range(ge=1, le=3136, max_len=50)] = (
        25, 50, 100, 200, 400, 600, 784, 1000, 1176)
    """Numbers of stored pairs for the capacity curves (the last is 1.5 n)."""
    independent_K_max: Annotated[int, Range(ge=1, le=784)] = 600
    """Largest K at which the real keys are checked to be linearly independent (pseudo-inverse exact)."""
    repeats: Annotated[int, Range(ge=1, le=100)] = 1
    """Independent draws of images and codes; every metric is averaged over them."""
    occlude_rows: Annotated[int, Range(ge=1, le=27)] = 14
    """Bottom image rows missing from the key in the completion test (14 = the lower half)."""

    def check(self) -> None:
        """Rules that tie fields together (core.config.check_config calls this)."""
        levels, Ks, n = self.noise_levels, self.capacity_K, SIDE * SIDE
        shown_levels, shown_Ks = ",".join(f"{s:g}" for s in levels), ",".join(map(str, Ks))
        if levels[0] != 0 or list(levels) != sorted(set(levels)):
            raise ValueError(f"noise_levels must start at 0 (clean keys) and increase without repeats; "
                             f"got {shown_levels}")
        if self.small_noise not in levels:
            raise ValueError(f"small_noise must be one of noise_levels ({shown_levels}); got {self.small_noise:g}")
        if list(Ks) != sorted(set(Ks)):
            raise ValueError(f"capacity_K must be in increasing order without repeats; got {shown_Ks}")
        if Ks[0] > self.independent_K_max:
            raise ValueError(f"capacity_K must include a K <= independent_K_max ({self.independent_K_max}), "
                             f"where the pseudo-inverse is checked to be exact; got {shown_Ks}")
        if Ks[-1] <= n:
            raise ValueError(f"capacity_K must end above the key dimension {n}, where the pseudo-inverse "
                             f"degrades; got {shown_Ks}")


PRESETS = {
    "smoke": Config(K_main=40, m=128, noise_levels=(0.0, 0.1, 0.5), capacity_K=(20, 100, 800, 900),
                    independent_K_max=100),
    "quick": Config(),
    "full": Config(repeats=10, capacity_K=(25, 50, 100, 150, 200, 300, 400, 500, 600, 700, 784, 900, 1000, 1176,
                                           1400, 1568)),
}

_REAL = "Fashion-MNIST test images as keys (n = 784, mean-centred, unit length), Gaussian codes as data"
CLAIMS = [
    Claim("orthonormal_exact", "ortho_max_rel_error", "<", 1e-10,
          "with orthonormal keys, M x_k = y_k exactly: no crosstalk (the paper's central case)",
          "random orthonormal keys in R^784, K = n/2 and K = n, float64; max over pairs of |y_hat - y| / |y|"),
    Claim("pinv_exact_on_independent_keys", "cap_pinv_max_rel_error_independent", "<", 1e-6,
          "M = Y X^+ recalls every pair exactly when the keys are linearly independent (Kohonen & Ruohonen "
          "1973; not in the 1972 paper)",
          _REAL + "; max over K <= 600 (rank checked) of |y_hat - y| / |y|, float64"),
    Claim("pinv_beats_correlation_accuracy", "pinv_acc", ">", 0, minus="corr_acc",
          paper_value="correlated keys cause crosstalk in M = sum y x^T; the pseudo-inverse removes it "
          "(1972: qualitative; 1973: the optimal mapping)",
          scale_note=_REAL + "; K = 200; accuracy = recall's nearest stored code (cosine) is the right one"),
    Claim("pinv_beats_correlation_error", "pinv_err", "<", 0, minus="corr_err",
          paper_value="as above: crosstalk is the recall error of the correlation matrix",
          scale_note=_REAL + "; K = 200; error = sine of the angle between y_hat and y_k (gain-free)"),
    Claim("key_correlation_causes_crosstalk", "corr_err", ">", 0, minus="random_corr_err",
          paper_value="the crosstalk term sum_{j!=k} y_j (x_j . x_k) grows with the correlation of the keys",
          scale_note="correlation matrix, K = 200: real image keys minus random Gaussian keys of the same size"),
    Claim("crosstalk_matches_random_key_theory", "random_crosstalk_rel_dev", "<", 0.1,
          paper_value="crosstalk = sum of K-1 terms y_j (x_j . x_k); for random unit keys each x_j . x_k has "
          "variance 1/n (our derivation from the paper's crosstalk term)",
          scale_note="random unit keys, K = 200, n = 784: |measured mean sine error / sqrt(r / (1 + r)) - 1| with "
          "r = (K - 1)/n"),
    Claim("noise_graceful_pinv", "noise_pinv_acc_drop", "<=", 0.05,
          "recall is a linear function of the key, so small key noise gives small recall noise (no cliff)",
          _REAL + "; K = 200; accuracy with clean keys minus accuracy at noise norm 0.1 x key norm"),
    Claim("noise_graceful_correlation", "noise_corr_acc_drop", "<=", 0.05,
          "as above, for the correlation matrix",
          _REAL + "; K = 200; accuracy with clean keys minus accuracy at noise norm 0.1 x key norm"),
    Claim("noise_curve_monotone", "noise_pinv_max_rise", "<=", 0.02,
          "recall gets worse, never better, as key noise grows",
          "largest rise of pseudo-inverse accuracy from one noise level to the next (0.02 = sampling slack)"),
    Claim("pinv_degrades_beyond_n", "cap_pinv_err_largest_K", ">", 0.1,
          "with more pairs than key dimensions the keys cannot be independent: M X = Y has no exact "
          "solution and the optimal memory becomes a least-squares compromise",
          _REAL + "; sine error of pseudo-inverse recall at the largest K (1.5 n in quick, 2 n in full; "
          "random-key theory sqrt(1 - n/K): 0.58, 0.71)"),
    Claim("correlation_degrades_earlier", "corr_K90", "<", 0, minus="pinv_K90",
          paper_value="the correlation matrix suffers crosstalk long before the key dimension is reached",
          scale_note=_REAL + "; K90 = largest K on the grid up to which identification accuracy stays >= 0.9"),
    Claim("pinv_completes_occluded_keys", "complete_pinv_err", "<", 0, minus="complete_corr_err",
          paper_value="a matrix memory can recall a whole stored pattern from part of it (1972: qualitative; "
          "Kohonen's later image demonstrations use the optimal memory)",
          scale_note="K = 200 pairs (upper half of an image -> whole image); sine error of the recall against "
          "the whole stored image"),
]


# ------------------------------------------------------------------------------------------- helpers


def sine_error(Y_hat: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Per column, sin of the angle between y_hat and y: the error left after the best scalar gain (K,)."""
    u = Y / Y.norm(dim=0, keepdim=True)
    residual = Y_hat - u * (u * Y_hat).sum(0, keepdim=True)  # part of y_hat orthogonal to y
    return residual.norm(dim=0) / Y_hat.norm(dim=0).clamp_min(1e-300)


def rel_error(Y_hat: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return (Y_hat - Y).norm(dim=0) / Y.norm(dim=0)  # (K,)


def identified(Y_hat: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Fraction of recollections whose nearest stored datum (by cosine) is the right one."""
    cos = (Y / Y.norm(dim=0)).T @ (Y_hat / Y_hat.norm(dim=0).clamp_min(1e-300))  # (K, m) @ (m, K) -> (K, K)
    return (cos.argmax(0) == torch.arange(Y.shape[1], device=Y.device)).double().mean()


def unit_columns(X: torch.Tensor) -> torch.Tensor:
    return X / X.norm(dim=0, keepdim=True)


def load_keys(device) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images as columns with pixels in [0, 1] (784, 10000), and the training set's mean image (784,)."""
    d = fashion_mnist.load()
    mu = torch.from_numpy(d["train_x"].reshape(-1, SIDE * SIDE).mean(0, dtype=np.float64) / 255).to(device)
    test = torch.from_numpy(d["test_x"]).reshape(-1, SIDE * SIDE).to(device, DTYPE) / 255
    return test.T, mu  # (784, 10000), (784,)


def codes(m: int, K: int, gen: torch.Generator, device) -> torch.Tensor:
    """Random data vectors y_k ~ N(0, I/m) as columns (m, K): unit length on average, nearly orthogonal."""
    return (torch.randn(m, K, generator=gen, dtype=DTYPE) / m**0.5).to(device)


def both_memories(X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"corr": correlation_matrix(X, Y), "pinv": optimal_matrix(X, Y)}


# -------------------------------------------------------------------------------------------- stages


def stage_orthonormal(cfg: Config, gen: torch.Generator, device) -> dict[str, float]:
    n = SIDE * SIDE
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=DTYPE))  # (n, n) orthonormal columns
    worst = 0.0
    for K in (n // 2, n):
        X, Y = Q[:, :K].to(device), codes(cfg.m, K, gen, device)
        if K < n:  # built pair by pair, as in the paper (a test checks this equals Y X^T)
            memory = CorrelationMatrixMemory(n, cfg.m, device=device)
            for k in range(K):
                memory.store(X[:, k], Y[:, k])
            M = memory.M
        else:
            M = correlation_matrix(X, Y)
        worst = max(worst, rel_error(recall(M, X), Y).max().item())
    X = unit_columns(torch.randn(n, n // 2, generator=gen, dtype=DTYPE)).to(device)  # same K, random keys
    Y = codes(cfg.m, n // 2, gen, device)
    return {"ortho_max_rel_error": worst,
            "random_keys_rel_error": rel_error(recall(correlation_matrix(X, Y), X), Y).mean().item()}


def stage_main(cfg, X, Y, Xr) -> dict[str, float]:
    """Heteroassociative recall with real keys X and random keys Xr; autoassociative completion."""
    K, n = X.shape[1], X.shape[0]
    out = {}
    for name, M in both_memories(X, Y).items():
        Y_hat = recall(M, X)
        out[f"{name}_acc"] = identified(Y_hat, Y).item()
        out[f"{name}_err"] = sine_error(Y_hat, Y).mean().item()
    Y_hat = recall(correlation_matrix(Xr, Y), Xr)
    out["random_corr_acc"] = identified(Y_hat, Y).item()
    out["random_corr_err"] = sine_error(Y_hat, Y).mean().item()
    r = (K - 1) / n
    out["random_crosstalk_theory"] = (r / (1 + r)) ** 0.5
    out["random_crosstalk_rel_dev"] = abs(out["random_corr_err"] / out["random_crosstalk_theory"] - 1)
    X_top = upper_part(X, cfg.occlude_rows)
    for name, M in both_memories(X_top, X).items():
        out[f"complete_{name}_err"] = sine_error(recall(M, X_top), X).mean().item()
    return out


def upper_part(X: torch.Tensor, rows: int) -> torch.Tensor:
    """Keys for completion: the image without its bottom `rows` rows, scaled to unit length."""
    return unit_columns(X[: (SIDE - rows) * SIDE])  # (784 - 28 rows, K)


def stage_noise(cfg, X, Y, gen) -> dict[str, list[float]]:
    memories = both_memories(X, Y)
    E = unit_columns(torch.randn(*X.shape, generator=gen, dtype=DTYPE).to(X.device))  # unit noise directions
    curves = {f"{name}_{q}": [] for name in memories for q in ("acc", "err")}
    for s in cfg.noise_levels:
        for name, M in memories.items():
            Y_hat = recall(M, X + s * E)
            curves[f"{name}_acc"].append(identified(Y_hat, Y).item())
            curves[f"{name}_err"].append(sine_error(Y_hat, Y).mean().item())
    return curves


def stage_capacity(cfg, pool, Xr_pool, Y_pool, gen) -> dict[str, list[float]]:
    """Recall of the stored pairs for each K: image keys with both memories (clean, and with key noise of norm
    `small_noise`), random keys with the correlation matrix (their pseudo-inverse recall of clean keys is
    like the images', so it is left out)."""
    curves = {f"{keys}_{name}_{q}": [] for keys, name in (("real", "corr"), ("real", "pinv"), ("random", "corr"))
              for q in ("acc", "err", "rel")}
    curves.update({"real_corr_noisy_acc": [], "real_pinv_noisy_acc": [], "rank": []})
    E = unit_columns(torch.randn(*pool.shape, generator=gen, dtype=DTYPE).to(pool.device))  # (n, K_pool)
    for K in cfg.capacity_K:
        X, Y, Xr = pool[:, :K], Y_pool[:, :K], Xr_pool[:, :K]
        for keys, name, M in (("real", "corr", correlation_matrix(X, Y)), ("real", "pinv", optimal_matrix(X, Y)),
                              ("random", "corr", correlation_matrix(Xr, Y))):
            Y_hat = recall(M, Xr if keys == "random" else X)
            curves[f"{keys}_{name}_acc"].append(identified(Y_hat, Y).item())
            curves[f"{keys}_{name}_err"].append(sine_error(Y_hat, Y).mean().item())
            curves[f"{keys}_{name}_rel"].append(rel_error(Y_hat, Y).max().item())
            if keys == "real":
                noisy = recall(M, X + cfg.small_noise * E[:, :K])
                curves[f"real_{name}_noisy_acc"].append(identified(noisy, Y).item())
        independent = K <= cfg.independent_K_max  # rank only where the exactness claim needs it
        curves["rank"].append(float(torch.linalg.matrix_rank(X).item()) if independent else float("nan"))
    return curves


def k90(Ks, acc) -> float:
    """Largest K on the grid up to which accuracy stays >= 0.9 (0 if it already fails at the first K)."""
    best = 0
    for K, a in zip(Ks, acc, strict=True):
        if a < 0.9:
            break
        best = K
    return float(best)


# ---------------------------------------------------------------------------------------------- run


def one_repeat(cfg: Config, ctx, rep: int, images, mu) -> tuple[dict, dict, dict]:
    gen = torch.Generator().manual_seed(ctx.seed * 1000 + rep)
    K_pool = max(max(cfg.capacity_K), cfg.K_main)
    pick = torch.randperm(images.shape[1], generator=gen)[:K_pool].to(images.device)
    raw = images[:, pick]  # (784, K_pool) in [0, 1]
    pool = unit_columns(raw - mu[:, None])
    n = pool.shape[0]
    Xr_pool = unit_columns(torch.randn(n, K_pool, generator=gen, dtype=DTYPE)).to(images.device)
    Y_pool = codes(cfg.m, K_pool, gen, images.device)
    X, Y = pool[:, : cfg.K_main], Y_pool[:, : cfg.K_main]
    metrics = stage_main(cfg, X, Y, Xr_pool[:, : cfg.K_main])
    X_raw = unit_columns(raw[:, : cfg.K_main])  # the same images without centring, for comparison
    for name, M in both_memories(X_raw, Y).items():
        metrics[f"raw_{name}_acc"] = identified(recall(M, X_raw), Y).item()
    noise = stage_noise(cfg, X, Y, gen)
    capacity = stage_capacity(cfg, pool, Xr_pool, Y_pool, gen)
    return metrics, noise, capacity


def summarise(cfg: Config, noise: dict, capacity: dict) -> dict[str, float]:
    Ks, levels = list(cfg.capacity_K), list(cfg.noise_levels)
    small = levels.index(cfg.small_noise) if cfg.small_noise in levels else 1
    rises = np.diff(noise["pinv_acc"])
    n = SIDE * SIDE
    indep = [i for i, K in enumerate(Ks) if K <= cfg.independent_K_max]
    return {
        "noise_pinv_acc_drop": noise["pinv_acc"][0] - noise["pinv_acc"][small],
        "noise_corr_acc_drop": noise["corr_acc"][0] - noise["corr_acc"][small],
        "noise_pinv_max_rise": float(max(rises.max(), 0.0)) if len(rises) else 0.0,
        "noise_pinv_acc_at_max": noise["pinv_acc"][-1],
        "noise_corr_acc_at_max": noise["corr_acc"][-1],
        "cap_pinv_max_rel_error_independent": max(capacity["real_pinv_rel"][i] for i in indep),
        "cap_independent_rank_deficit": max(Ks[i] - capacity["rank"][i] for i in indep),
        "cap_pinv_err_largest_K": capacity["real_pinv_err"][-1] if Ks[-1] > n else float("nan"),
        "cap_pinv_noisy_acc_at_n": capacity["real_pinv_noisy_acc"][Ks.index(n)] if n in Ks else float("nan"),
        "cap_pinv_noisy_K90": k90(Ks, capacity["real_pinv_noisy_acc"]),
        "corr_K90": k90(Ks, capacity["real_corr_acc"]),
        "pinv_K90": k90(Ks, capacity["real_pinv_acc"]),
        "random_corr_K90": k90(Ks, capacity["random_corr_acc"]),
    }


def mean_of(dicts: list[dict]) -> dict:
    return {k: np.mean([d[k] for d in dicts], axis=0).tolist() for k in dicts[0]}


def run(cfg: Config, ctx) -> dict[str, float]:
    images, mu = load_keys(ctx.device)
    gen = torch.Generator().manual_seed(ctx.seed)
    metrics = stage_orthonormal(cfg, gen, ctx.device)
    results = [one_repeat(cfg, ctx, rep, images, mu) for rep in range(cfg.repeats)]
    main, noise, capacity = (mean_of([r[i] for r in results]) for i in range(3))
    metrics.update(main)
    metrics.update(summarise(cfg, noise, capacity))
    for i, s in enumerate(cfg.noise_levels):  # noise curve at step = 1000 x noise level
        ctx.log(round(1000 * s), **{f"noise_{k}": noise[k][i] for k in ("corr_acc", "pinv_acc")})
    for i, K in enumerate(cfg.capacity_K):  # capacity curve at step = K
        ctx.log(K, **{f"capacity_{k}": capacity[k][i] for k in ("real_corr_acc", "real_pinv_acc", "real_pinv_err")})
    figures.plot_exactness(cfg, capacity, metrics["ortho_max_rel_error"], ctx.path("kohonen1972_exact.png"))
    k90s = {"corr": metrics["corr_K90"], "pinv": metrics["pinv_K90"]}
    figures.plot_capacity(cfg, capacity, k90s, ctx.path("kohonen1972_capacity.png"))
    figures.plot_noise(cfg, noise, ctx.path("kohonen1972_noise.png"))
    rows = completion_rows(cfg, ctx, images, mu)
    figures.plot_completion(rows, cfg.K_main, ctx.path("kohonen1972_completion.png"))
    return metrics


# -------------------------------------------------------------------------------------------- figures


def completion_rows(cfg: Config, ctx, images, mu, n_show: int = 5) -> dict[str, np.ndarray]:
    """Whole images recalled from their upper halves by both memories (the first repeat's stored pairs), as
    {row label: pixels (n_show, 28, 28)} for figures.plot_completion."""
    gen = torch.Generator().manual_seed(ctx.seed * 1000)  # the same draw as one_repeat(rep=0)
    pick = torch.randperm(images.shape[1], generator=gen)[: max(max(cfg.capacity_K), cfg.K_main)]
    centred = images[:, pick[: cfg.K_main].to(images.device)] - mu[:, None]
    norms = centred.norm(dim=0, keepdim=True)
    X = centred / norms
    X_top = upper_part(X, cfg.occlude_rows)
    key = torch.cat([X_top * X[: X_top.shape[0]].norm(dim=0), torch.zeros_like(X[X_top.shape[0]:])])
    rows = {"stored image": X, "key: upper half\n(rest = mean image)": key}
    for name, M in both_memories(X_top, X).items():
        Z = recall(M, X_top)
        err = sine_error(Z, X).mean().item()
        rows[f"recall, {'Y X^T' if name == 'corr' else 'Y X^+'}\nsine error {err:.2g}"] = unit_columns(Z)
    return {label: (Z[:, :n_show] * norms[:, :n_show] + mu[:, None]).T.reshape(n_show, SIDE, SIDE).cpu().numpy()
            for label, Z in rows.items()}
