"""core/data/bible: the three SWORD Bibles parse into their known verse counts, with clean text."""

import pytest

from dlcanon.core import data
from dlcanon.core.data import bible
from dlcanon.core.testing import need

JOHN_3_16 = {
    "kjv": "For God so loved the world, that he gave his only begotten Son, that whosoever believeth in him should "
    "not perish, but have everlasting life.",
    "web": "For God so loved the world, that he gave his only born Son, that whoever believes in him should not "
    "perish, but have eternal life.",
    "rv1909": "Porque de tal manera amó Dios al mundo, que ha dado á su Hijo unigénito, para que todo aquel que en él "
    "cree, no se pierda, mas tenga vida eterna.",
}


@pytest.mark.parametrize("module", list(bible.MODULES))
def test_verse_counts_and_john_3_16(module):
    verses = need(bible.load, module)
    assert len(verses) == {"kjv": 31102, "web": 37457, "rv1909": 31084}[module]
    assert verses["John 3:16"] == JOHN_3_16[module]
    keys = list(verses)
    assert keys[0] == "Genesis 1:1" and keys[-1] == "Revelation of John 22:21"  # canonical order


@pytest.mark.parametrize("module", list(bible.MODULES))
def test_no_markup_left(module):
    verses = need(bible.load, module)
    for key, t in verses.items():
        assert "<" not in t and ">" not in t and "\\" not in t and "¶" not in t, key
        assert t == t.strip() and "  " not in t and "\n" not in t, key


def test_genesis_1_1_and_cleaning_fixes():
    kjv, web, rv = (need(bible.load, m) for m in ("kjv", "web", "rv1909"))
    assert kjv["Genesis 1:1"] == "In the beginning God created the heaven and the earth."
    assert web["Genesis 1:1"] == "In the beginning, God created the heavens and the earth."
    assert rv["Genesis 1:1"] == "EN el principio crió Dios los cielos y la tierra."
    assert kjv["Psalms 23:1"].startswith("A Psalm of David. The LORD")  # canonical psalm title kept
    assert web["Revelation of John 22:21"].endswith("Amen.")  # WEB's glossary appendix cut off
    assert "JEHOVAH" in kjv["Exodus 6:3"] and "\\nd" not in kjv["Exodus 6:3"]  # stray USFM marker removed
    assert len(set(kjv) & set(rv)) == 31084 and len(set(kjv) & set(web)) == 31095


def test_text_joins_verses_in_order():
    whole = need(bible.text, "kjv", sep=" ")
    assert whole.startswith("In the beginning God created the heaven and the earth. And the earth was without form")
    assert whole.count("For God so loved the world") == 1


def test_clean_handles_notes_titles_and_book_end():
    markup = (
        '<title type="section">Editorial</title><title canonical="true">A Psalm.</title> God<note placement="foot">'
        'a note</note><w lemma="strong:H1254">created</w> &amp; rested ¶ .<div eID="x" type="book"/> GLOSSARY'
    )
    assert bible.clean(markup) == "A Psalm. God created & rested."
    imp = "$$$[ Module Heading ]\nheading\n$$$Genesis 1:0\n<chapter/>\n$$$Genesis 1:1\nIn the <w>beginning</w>\n"
    assert bible.parse_imp(imp) == {"Genesis 1:1": "In the beginning"}


def test_missing_module_names_the_install_command(monkeypatch):
    monkeypatch.setattr(bible, "_root", lambda module: None)
    with pytest.raises(data.DataUnavailable, match="sudo apt-get install sword-text-kjv libsword-utils"):
        bible.load("kjv")
    assert bible.status("rv1909") == (False, "sudo apt-get install sword-text-sparv libsword-utils")
    with pytest.raises(ValueError, match="choose one of"):
        bible.load("vulgate")


def test_wrong_verse_count_is_corruption(monkeypatch):
    need(bible.load, "kjv")
    monkeypatch.setitem(bible.MODULES, "kjv", ("engKJV2006eb", "sword-text-kjv", 31000))
    with pytest.raises(data.DataCorrupted, match="31102 verses, expected 31000"):
        bible.load("kjv")
