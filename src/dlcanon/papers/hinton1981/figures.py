"""The figures of the hinton1981 claims: the 1981 triple memory under damage; the 1986 network's training over
sweeps, its held-out facts and person features per restart; and its person codes (Nature, Fig. 4)."""

from __future__ import annotations

import numpy as np

from dlcanon.core.plots import new_figure, save

from . import family_trees as ft


def plot_lesions(cfg, curves: dict, metrics: dict, path) -> None:
    fig, ax = new_figure(figsize=(7.5, 4.8))
    labels = {"dist": f"distributed, {3 * cfg.units_per_pair} PROP units",
              "equal": f"distributed, {3 * cfg.equal_units_per_pair} PROP units",
              "local": "localist, one unit per triple (112)"}
    for arm, style in (("dist", "-o"), ("equal", "--o"), ("local", "-s")):
        ax.plot(cfg.lesion_fractions, curves[arm], style, ms=5,
                label=f"{labels[arm]}: AUC {metrics[f'{arm}_auc']:.2f}")
    ax.hlines(0.95, -0.03, 0.05, color="k", lw=2.5, label="claim: each slot ≥ 0.95 undamaged (900 units)")
    ax.plot(0.2, 0.9, "k^", ms=10, ls="none", label="claim: ≥ 0.9 at 20% removed (900 units)")
    ax.set(xlabel="fraction of PROP units removed", ylabel="completion accuracy (fraction, mean of 3 slots)",
           title="1981 triple memory under damage (claim: AUC distributed > localist)", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8.5, loc="lower left")
    save(fig, path)


def plot_training(curves: dict[str, list[tuple[int, float]]], offset: int, path) -> None:
    """The logged error E and training-fact accuracy (mean over restarts) against sweeps."""
    fig, (ax_e, ax_a) = new_figure(1, 2, figsize=(11, 4.2))
    for ax, name in ((ax_e, "ft_E"), (ax_a, "ft_train_acc")):
        steps, values = zip(*curves[name], strict=True)
        ax.plot(np.array(steps) - offset, values)
        ax.set_xlabel("sweep through the training facts")
        ax.grid(alpha=0.3)
    ax_e.set(yscale="log", ylabel="error E (dead-zone sum of squares, log scale)", title="1986 network: error")
    ax_a.axhline(0.95, color="red", ls=":", lw=2, label="claim: ≥ 0.95 at the end")
    ax_a.set(ylim=(0, 1.02), ylabel="training facts all-correct (fraction)", title="1986 network: training facts")
    ax_a.legend(fontsize=9, loc="lower right")
    save(fig, path)


def plot_generalisation(per_restart: dict[str, np.ndarray], n_test: int, path) -> None:
    """Left: held-out facts right per restart. Right: each restart's best person unit for each feature."""
    fig, (ax_h, ax_r) = new_figure(1, 2, figsize=(11, 5.2))
    right = per_restart["heldout"]
    ax_h.hist(right, bins=np.arange(n_test + 2) - 0.5, rwidth=0.8, color="0.6", zorder=3)
    ax_h.axvline(right.mean(), color="C0", lw=2, zorder=4, label=f"ours: mean {right.mean():.2f}")
    ax_h.axvspan(n_test - 1 - 0.5, n_test + 0.5, color="C2", alpha=0.15, label="paper: 4/4 and 3/4 (two runs)")
    ax_h.axvline(2.5, color="red", ls=":", lw=2, zorder=4, label="claim: mean ≥ 2.5 (known fail)")
    ax_h.axvline(1.0, color="red", ls="--", lw=1, zorder=4, label="claim: mean ≥ 1")
    ax_h.set(xticks=range(n_test + 1), xlabel=f"held-out facts answered right (of {n_test})",
             ylabel="restarts (count)", title="1986 network: unseen facts")
    ax_h.yaxis.get_major_locator().set_params(integer=True)
    ax_h.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, key in enumerate(("nationality_init", "nationality", "generation_init", "generation")):
        r = per_restart[key]
        ax_r.scatter(i + rng.uniform(-0.12, 0.12, len(r)), r, s=18, color="0.5" if "init" in key else "C0")
        ax_r.hlines(np.median(r), i - 0.25, i + 0.25, color="k", lw=2, label="median" if i == 0 else None)
    ax_r.hlines(0.8, 0.6, 1.4, color="red", ls=":", lw=2, label="claim: median ≥ 0.8 / ≥ 0.7, and > initial")
    ax_r.hlines(0.7, 2.6, 3.4, color="red", ls=":", lw=2)
    ax_r.set_xticks(range(4), ["nationality, initial", "nationality, trained", "generation, initial",
                               "generation, trained"], fontsize=8.5)
    ax_r.set(ylim=(0, 1.05), ylabel="largest |r| of a person unit with the feature",
             title="1986 network: features in the person codes")
    ax_r.legend(fontsize=8.5, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    save(fig, path)


def plot_person_codes(W: np.ndarray, r: dict[str, np.ndarray], path) -> None:
    """Nature Fig. 4 for restart 0: W (24, 6) from each person to each person unit, English above Italian;
    r: per-unit |correlation| with nationality and generation (6,) each."""
    img = np.concatenate([W[:12].T[:, None], W[12:].T[:, None]], axis=1).reshape(12, 12)  # rows: unit u EN, IT
    lim = np.abs(W).max()
    fig, ax = new_figure(figsize=(10, 7.5))
    im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for u in range(1, 6):
        ax.axhline(2 * u - 0.5, color="k", lw=2)
    ax.set_yticks(range(12), [f"unit {i // 2 + 1}, {'English' if i % 2 == 0 else 'Italian'}" for i in range(12)])
    gen = [ft.GENERATION[p] for p in ft.ENGLISH]
    ax.set_xticks(range(12), [f"{e}\n{i}\n(gen {g})" for e, i, g in zip(ft.ENGLISH, ft.ITALIAN, gen, strict=True)],
                  fontsize=8, rotation=60)
    sec = ax.secondary_yaxis("right")
    sec.set_yticks([2 * u + 0.5 for u in range(6)],
                   [f"|r| nat {r['nationality'][u]:.2f}\n|r| gen {r['generation'][u]:.2f}" for u in range(6)],
                   fontsize=8.5)
    ax.set_xlabel("person (English / Italian counterpart, generation)")
    ax.set_title("Person codes of restart 0 (cf. Nature Fig. 4): weight from each person to each unit")
    fig.colorbar(im, ax=ax, label="weight", shrink=0.7, pad=0.12)
    save(fig, path)
