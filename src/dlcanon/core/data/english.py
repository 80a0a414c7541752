"""An English corpus of a few million words, for language models and word vectors, from the offline sources.

    part       source                                             words (tokens: lower-case runs of a-z)
    kjv        King James Bible (bible.py)                          ~0.79M
    web        World English Bible (bible.py)                       ~0.91M
    austen     Jane Austen's six novels (austen.py)                 ~0.73M
    wordnet    WordNet 3.0's glosses and examples (wordnet-base)    ~1.4M
    wikipedia  206 English Wikipedia articles (gensim_data.py)      ~0.45M

`corpus(parts)` returns the token stream of the parts, in the order given, as int32 ids into a vocabulary that
is sorted by frequency (id 0 the most frequent word), with the counts and where each part ends. The whole
corpus is parsed once and cached (arrays only, no pickle). Numbers, punctuation and case are dropped, the way
word-vector papers' evaluation sets are written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import DataCorrupted, DataUnavailable, cached

PARTS = ("kjv", "web", "austen", "wordnet", "wikipedia")
WORDNET = Path("/usr/share/wordnet")
WORDNET_INSTALL = "sudo apt-get install wordnet-base"
_WORD = re.compile(r"[a-z]+")
VERSION = 1
"""Bump when tokenisation changes: it is part of the cache key."""


def _wordnet_text() -> str:
    """Every gloss (definition and quoted examples) of the four WordNet data files, one per line."""
    glosses = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = WORDNET / f"data.{pos}"
        if not path.is_file():
            raise DataUnavailable(f"WordNet is not installed ({path} missing). Install it with: {WORDNET_INSTALL}")
        for line in path.read_text(encoding="latin-1").splitlines():
            if not line.startswith("  "):                    # the licence header is indented
                glosses.append(line.partition(" | ")[2])
    if len(glosses) != 82115 + 13767 + 18156 + 3621:
        raise DataCorrupted(f"WordNet gave {len(glosses)} synsets, expected 117,659: reinstall {WORDNET_INSTALL}")
    return "\n".join(glosses)


def part_text(part: str) -> str:
    """The raw text of one part."""
    if part in ("kjv", "web"):
        from . import bible

        return "\n".join(bible.load(part).values())
    if part == "austen":
        from . import austen

        return "\n".join(austen.load().values())
    if part == "wordnet":
        return _wordnet_text()
    if part == "wikipedia":
        from . import gensim_data

        return "\n".join(gensim_data.wikipedia_text())
    raise ValueError(f"unknown corpus part {part!r}; choose from: {', '.join(PARTS)}")


def tokenize(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def corpus(parts: tuple[str, ...] = PARTS) -> dict[str, np.ndarray]:
    """{'ids': (T,) int32, 'vocab': (V,) str by falling count, 'counts': (V,) int64, 'part_ends': (P,) int64}."""
    parts = tuple(parts)
    for p in parts:
        if p not in PARTS:
            raise ValueError(f"unknown corpus part {p!r}; choose from: {', '.join(PARTS)}")

    def build() -> dict[str, np.ndarray]:
        tokens, ends = [], []
        for p in parts:
            tokens += tokenize(part_text(p))
            ends.append(len(tokens))
        vocab, inverse, counts = np.unique(np.array(tokens), return_inverse=True, return_counts=True)
        order = np.lexsort((vocab, -counts))                 # by falling count, ties alphabetical
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return {"ids": rank[inverse].astype(np.int32), "vocab": vocab[order], "counts": counts[order].astype(np.int64),
                "part_ends": np.array(ends, np.int64)}

    return cached(f"english-{'-'.join(parts)}-v{VERSION}", build)


def status() -> tuple[bool, str]:
    """Present when every part's source is: else the commands that install the missing ones."""
    from . import austen, bible, gensim_data

    checks = [bible.status("kjv"), bible.status("web"), austen.status(), gensim_data.status(),
              (True, "") if (WORDNET / "data.noun").is_file() else (False, WORDNET_INSTALL)]
    missing = [how for ok, how in checks if not ok]
    return (False, "; ".join(missing)) if missing else (True, f"{len(PARTS)} parts: {', '.join(PARTS)}")
