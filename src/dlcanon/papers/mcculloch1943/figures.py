"""Figures for McCulloch & Pitts (1943): each one is the picture of a claim in experiment.CLAIMS.

The functions take tensors the experiment already computed (or nets it built) and only draw.
"""

from __future__ import annotations

import numpy as np
import torch

from dlcanon.core.plots import new_figure, save

FUNCTIONS_2 = ["never", "NOR", "x1∧¬x2", "¬x2", "¬x1∧x2", "¬x1", "XOR", "NAND",
               "AND", "XNOR", "x1", "x1∨¬x2", "x2", "¬x1∨x2", "OR", "always"]  # fmt: skip
"""The 16 Boolean functions of two inputs, indexed by truth-table code: bit r = output on pattern r, x_j = bit j."""


def _cells(ax, image, text) -> None:
    """Greyscale cells (black = the neuron fires), each with its value written in it."""
    ax.imshow(image, cmap="Greys", vmin=0, vmax=1.6, aspect="auto", interpolation="nearest")
    for (i, j), v in zip(torch.cartesian_prod(*map(torch.arange, image.shape)).tolist(), text.flatten(), strict=True):
        ax.text(j, i, v, ha="center", va="center", color="white" if image[i, j] > 0.5 else "black", fontsize=11)


def gates(tables: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]], functions, path) -> None:
    """One panel per elementary net (Fig. 1): its output on every input pattern next to the truth table.

    tables: name -> (X (R, n) inputs, net output (R,), truth (R,)); functions: (R, F) net outputs, (F, R) truth.
    """
    fig, axes = new_figure(2, 3, figsize=(11, 6))
    for ax, (name, (X, out, truth)) in zip(axes.flat, tables.items(), strict=False):
        rows = torch.stack([out, truth]).cpu()  # (2, R)
        _cells(ax, rows.numpy(), rows.long().numpy().astype(str))
        ax.set_xticks(range(len(X)), ["".join(str(int(b)) for b in x) for x in X.cpu()])
        ax.set_yticks([0, 1], ["net output", "truth table"])
        ax.set_xlabel("input x1 x2" if X.shape[1] == 2 else "input x1")
        errors = int((out != truth).sum())
        ax.set_title(f"{name}: {errors} errors on {len(X)} inputs")
    out, tables_ = functions
    ax = axes.flat[-1]
    ax.imshow(out.cpu().numpy(), cmap="Greys", aspect="auto", interpolation="nearest")
    n = out.shape[0].bit_length() - 1
    ax.set_xlabel(f"Boolean function f of {n} inputs (index)")
    ax.set_ylabel("input pattern r")
    errors = int((out.T != tables_).any(1).sum())
    ax.set_title(f"all {out.shape[1]} functions: {errors} wrong")
    fig.suptitle("Fig. 1 nets and Part II: each net's output (black = fires) on every input it can receive")
    save(fig, path)


def single_neuron_search(codes: torch.Tensor, path) -> None:
    """How many neurons of the exhaustive grid compute each of the 16 two-input functions; XOR gets none."""
    counts = torch.bincount(codes.cpu(), minlength=16).numpy()
    fig, ax = new_figure(figsize=(10, 4.5))
    found = counts > 0
    x = np.arange(16)
    ax.bar(x[found], counts[found], color="tab:blue", label="computed by at least one neuron")
    ax.plot(x[~found], np.full((~found).sum(), 0.6), "x", color="tab:red", ms=10, mew=2.5,
            label="computed by no neuron")  # fmt: skip
    ax.annotate("claim: 0 neurons compute XOR", (6, 0.6), (6, 20), ha="center", color="tab:red",
                arrowprops=dict(arrowstyle="->", color="tab:red"))  # fmt: skip
    ax.set_xticks(x, FUNCTIONS_2, rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylim(0.4, counts.max() * 2)
    ax.set_xlabel("Boolean function of two inputs x1, x2")
    ax.set_ylabel(f"neurons computing it (of {len(codes)}, log scale)")
    ax.set_title(f"Every single neuron on 2 fibres: {int(found.sum())} of 16 functions, never XOR or XNOR")
    ax.legend(loc="upper right")
    save(fig, path)


def parity_sweep(ns: list[int], accuracy: list[float], accuracy_cut: list[float], neurons: list[int], path) -> None:
    """Left: parity is exact for every n, and collapses to ~50% with inhibition cut. Right: the net's size."""
    fig, (ax, ax2) = new_figure(1, 2, figsize=(11, 4.2))
    ax.plot(ns, [100 * a for a in accuracy], "o-", label="parity net")
    ax.plot(ns, [100 * a for a in accuracy_cut], "s-", color="tab:red", label="same net, inhibitory synapses cut")
    ax.axhline(100, ls=":", color="black", label="claim: 100% (every input)")
    ax.axhline(50, ls="--", color="grey", lw=0.8, label="chance: 50%")
    ax.set_ylim(0, 110)
    ax.set_xlabel("number of inputs n")
    ax.set_ylabel("inputs answered right (% of all 2^n)")
    ax.set_title("n-bit parity needs inhibition")
    ax.legend(loc="lower left")
    ax2.plot(ns, neurons, "o-", label="counting net: n + ⌈n/2⌉ + 1")
    ax2.plot(ns, [2**n + 1 for n in ns], "s--", color="grey", label="truth-table net: 2^n + 1")
    ax2.set_yscale("log")
    ax2.set_xlabel("number of inputs n")
    ax2.set_ylabel("neurons in the net (log scale)")
    ax2.set_title("size of the parity net")
    ax2.legend()
    save(fig, path)


def parity_net(layers: list[torch.Tensor], path) -> None:
    """The 4-bit parity net: every neuron (rows) on every input (columns), layer by layer."""
    fig, ax = new_figure(figsize=(9, 4.6))
    n = layers[0].shape[1]
    ax.imshow(torch.cat(layers, 1).T.cpu().numpy(), cmap="Greys", aspect="auto", interpolation="nearest")
    names = [f"x{j + 1}" for j in range(n)] + [f"a{k} (≥{k} on)" for k in range(1, n + 1)]
    names += [f"e{k} (={k} on)" for k in range(1, n + 1, 2)] + ["parity"]
    ax.set_yticks(range(len(names)), names)
    for y in (n, 2 * n, len(names) - 1):
        ax.axhline(y - 0.5, color="tab:blue", lw=1.5)
    ax.set_xticks(range(2**n))
    ax.set_xlabel("input pattern r (x_j = bit j of r)")
    ax.set_title(f"{n}-bit parity net: inputs, then one layer per synaptic delay (black = fires)")
    save(fig, path)


def automata(runs: list[tuple[str, torch.Tensor, list[str]]], string: str, per_length: dict[str, list[float]], path):
    """Two nets with circles reading one string (rasters), and their verdicts on every string of each length."""
    fig, axes = new_figure(1, 3, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for ax, (name, rows, labels) in zip(axes, runs, strict=False):
        ax.imshow(rows.cpu().numpy(), cmap="Greys", aspect="auto", interpolation="nearest")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xticks(range(rows.shape[1]))
        ax.set_xlabel(f"t: symbols read of {string}")
        ax.set_title(f"{name}: neurons over time")
    ax = axes[2]
    for (name, acc), (marker, size) in zip(per_length.items(), (("o", 10), ("s", 5)), strict=False):
        ax.plot(range(len(acc)), [100 * a for a in acc], marker + "-", ms=size, label=name.replace("_", " "))
    ax.axhline(100, ls=":", color="black", label="claim: 100%")
    ax.set_ylim(0, 110)
    ax.set_xlabel("string length t (symbols)")
    ax.set_ylabel("verdicts right (% of the 2^t strings)")
    ax.set_title("every string, each length")
    ax.legend(loc="lower right")
    fig.suptitle("Part III: nets with circles remember the past (black = fires)")
    save(fig, path)
