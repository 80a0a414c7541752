"""The tests of the word vectors, shared by mikolov2012b and mikolov2012a.

Word analogies (Mikolov et al. 2013a, Sec. 4.1): "a is to b as c is to ?" is answered by the word whose
vector is closest, by cosine, to x = v_b - v_a + v_c. The words a, b and c are not allowed as answers. This
is the "3CosAdd" rule of Levy & Goldberg 2014. Only an exact match counts. Like the paper, we search the
30,000 most frequent words. A question is *covered* when all four of its words are among them. We report
accuracy on the covered questions per section, over the 5 semantic and the 9 syntactic sections, and over
all of them, each with its coverage.

Baseline: answer with the nearest neighbour of c (again not a, b or c). It shows how much of the score
the offset v_b - v_a adds. Many syntactic answers (plurals, tenses) are already close to c by themselves.

Word similarity: Spearman's rho between cosine similarity and the human ratings of WordSim-353, over the
pairs whose two words are both in the vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from dlcanon.core.data.gensim_data import SEMANTIC_SECTIONS

GROUPS = ("semantic", "syntactic", "total")


@dataclass
class Questions:
    """The covered analogy questions as word ids."""

    abcd: torch.Tensor
    """(Q, 4) long: a, b, c, d of every covered question"""
    section: torch.Tensor
    """(Q,) long: its section"""
    names: list[str]
    """the section names, in file order"""
    totals: torch.Tensor
    """(S,) long: questions per section, covered or not"""
    top: int
    """answers are searched among word ids 0..top-1"""

    def semantic(self) -> torch.Tensor:
        """(S,) bool: which sections are semantic."""
        return torch.tensor([n in SEMANTIC_SECTIONS for n in self.names])

    def in_group(self, group: str) -> torch.Tensor:
        """(Q,) bool: the questions of a group ("semantic", "syntactic", "total")."""
        sem = self.semantic()[self.section]
        return {"semantic": sem, "syntactic": ~sem, "total": torch.ones_like(sem)}[group]


def encode_questions(questions: dict[str, list], index: dict[str, int], top: int) -> Questions:
    """{section: [(a, b, c, d)]}, a word -> id map, and the number of words searched -> the covered questions.
    A question is covered when all four words have an id below `top`."""
    abcd, section, names, totals = [], [], [], []
    for s, (name, qs) in enumerate(questions.items()):
        names.append(name)
        totals.append(len(qs))
        for q in qs:
            ids = [index.get(x, top) for x in q]
            if max(ids) < top:
                abcd.append(ids)
                section.append(s)
    return Questions(torch.tensor(abcd, dtype=torch.long).reshape(-1, 4), torch.tensor(section, dtype=torch.long),
                     names, torch.tensor(totals, dtype=torch.long), top)


def normalised(vectors: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (a zero row stays zero)."""
    return vectors / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12)


@torch.no_grad()
def answer(X: torch.Tensor, abcd: torch.Tensor, rule: str = "3cosadd", chunk: int = 1024) -> torch.Tensor:
    """X (V, D) unit-length vectors, abcd (Q, 4) -> the predicted d (Q,).

    rule "3cosadd": argmax_w cos(v_w, v_b - v_a + v_c); rule "nearest_c": argmax_w cos(v_w, v_c). The
    words a, b and c are never answers."""
    out = [torch.zeros(0, dtype=torch.long)]
    for s in range(0, len(abcd), chunk):
        q = abcd[s : s + chunk]  # (B, 4)
        x = X[q[:, 2]] if rule == "nearest_c" else X[q[:, 1]] - X[q[:, 0]] + X[q[:, 2]]  # (B, D)
        scores = x @ X.T  # (B, D) @ (D, V) -> (B, V)
        scores.scatter_(1, q[:, :3], float("-inf"))
        out.append(scores.argmax(1))
    return torch.cat(out)


def right_answers(vectors: torch.Tensor, q: Questions, rule: str = "3cosadd") -> torch.Tensor:
    """(Q,) bool: which covered questions the vectors answer exactly."""
    return answer(normalised(vectors[: q.top]), q.abcd, rule) == q.abcd[:, 3]


def accuracy(right: torch.Tensor, q: Questions) -> dict[str, float]:
    """Accuracy in % on the covered questions: acc_<section> for each section, acc_semantic,
    acc_syntactic, acc_total. NaN where nothing is covered."""
    out = {f"acc_{name}": _pct(right[q.section == s]) for s, name in enumerate(q.names)}
    out.update({f"acc_{g}": _pct(right[q.in_group(g)]) for g in GROUPS})
    return out


def coverage(q: Questions) -> dict[str, float]:
    """Covered questions in % of all, per section and group, and their numbers (n_<group>)."""
    out = {f"coverage_{name}": 100.0 * float((q.section == s).sum()) / float(q.totals[s])
           for s, name in enumerate(q.names)}
    sem = q.semantic()
    for g, total in zip(GROUPS, (q.totals[sem].sum(), q.totals[~sem].sum(), q.totals.sum()), strict=True):
        out[f"coverage_{g}"] = 100.0 * float(q.in_group(g).sum()) / float(total)
        out[f"n_{g}"] = float(q.in_group(g).sum())
    return out


def _pct(right: torch.Tensor) -> float:
    return 100.0 * float(right.double().mean()) if len(right) else float("nan")


def mcnemar_z(right_a: torch.Tensor, right_b: torch.Tensor) -> float:
    """Paired comparison on the same questions: z = (n_a - n_b) / sqrt(n_a + n_b), n_a the questions only
    method a gets right, n_b those only b gets right."""
    n_a, n_b = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
    return (n_a - n_b) / max(n_a + n_b, 1) ** 0.5


def wordsim_spearman(vectors: torch.Tensor, pairs: list, index: dict[str, int]) -> tuple[float, int]:
    """Spearman's rho (scipy, ties averaged) between cos(v_a, v_b) and the human scores, over the covered
    pairs; returns (rho, number of covered pairs)."""
    X = normalised(vectors)
    kept = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
    if len(kept) < 3:
        return float("nan"), len(kept)
    a, b, human = (np.array(col) for col in zip(*kept, strict=True))
    cos = (X[torch.from_numpy(a)] * X[torch.from_numpy(b)]).sum(1).numpy()
    return float(spearmanr(cos, human).statistic), len(kept)


def score(name: str, vectors: torch.Tensor, q: Questions, index: dict[str, int], wordsim: list) -> dict[str, float]:
    """Every test of one set of vectors, as metrics prefixed by `name`: 3CosAdd accuracy per section and group,
    the nearest-neighbour-of-c baseline per group, McNemar z of the one against the other, WordSim-353 rho
    (and, unprefixed, the number of WordSim pairs covered)."""
    right, base = right_answers(vectors, q), right_answers(vectors, q, "nearest_c")
    out = {f"{name}_{k}": v for k, v in accuracy(right, q).items()}
    out.update({f"{name}_nearest_c_{k}": v for k, v in accuracy(base, q).items() if k[4:] in GROUPS})
    out[f"{name}_vs_nearest_c_z"] = mcnemar_z(right, base)
    out[f"{name}_ws353"], out["ws353_pairs"] = wordsim_spearman(vectors, wordsim, index)
    return out


def nearest(vectors: torch.Tensor, words: np.ndarray, query: torch.Tensor, k: int = 5,
            exclude: tuple[int, ...] = ()) -> list[str]:
    """The k words whose vectors are closest by cosine to the vector `query` (D,), leaving out `exclude`."""
    scores = normalised(vectors) @ (query / query.norm().clamp(min=1e-12))  # (V,)
    scores[list(exclude)] = float("-inf")
    return [str(words[i]) for i in scores.topk(k).indices.tolist()]
