"""core/data/austen: the six novels come out of the R package whole, in order, with their known text."""

import shutil

import pytest

from dlcanon.core import data
from dlcanon.core.data import austen
from dlcanon.core.testing import need


def test_six_novels_in_order_with_their_known_sizes():
    books = need(austen.load)
    assert list(books) == ["Sense & Sensibility", "Pride & Prejudice", "Mansfield Park", "Emma", "Northanger Abbey",
                           "Persuasion"]
    words = {title: len(text.split()) for title, text in books.items()}
    assert words == {"Sense & Sensibility": 118565, "Pride & Prejudice": 121567, "Mansfield Park": 159540,
                     "Emma": 157441, "Northanger Abbey": 77141, "Persuasion": 83283}
    assert sum(text.count("\n") + 1 for text in books.values()) == 73422  # the package's austen_books() rows


def test_famous_openings_and_non_ascii_survive():
    books = need(austen.load)
    assert books["Sense & Sensibility"].startswith("SENSE AND SENSIBILITY\n")
    pride = " ".join(books["Pride & Prejudice"].split())
    assert "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in " \
           "want of a wife." in pride
    assert "Emma Woodhouse, handsome, clever, and rich, with a comfortable home" in books["Emma"]
    assert "her £20,000, any one" in books["Mansfield Park"]  # the one non-ASCII character, decoded as UTF-8
    assert all("\r" not in t and not t.endswith("\n") for t in books.values())


def test_missing_package_or_rscript_names_the_install_command(monkeypatch):
    monkeypatch.setattr(austen, "locate", lambda: None)
    with pytest.raises(data.DataUnavailable, match="janeaustenr is not installed. Install it with: "
                                                   "sudo apt-get install r-cran-janeaustenr"):
        austen.load()
    assert austen.status() == (False, "sudo apt-get install r-cran-janeaustenr")
    monkeypatch.undo()
    monkeypatch.setattr(austen, "_rscript", lambda: None)
    with pytest.raises(data.DataUnavailable, match=r"Rscript .* sudo apt-get install r-cran-janeaustenr"):
        austen.load()


def test_a_changed_text_is_corruption():
    books = need(austen.load)
    by_name = {name: books[title] for name, (title, *_) in austen.BOOKS.items()}
    austen.verify(by_name)
    one_word = dict(by_name, emma=by_name["emma"].replace("handsome", "handsom", 1))
    with pytest.raises(data.DataCorrupted, match="Emma does not match its known text"):
        austen.verify(one_word)
    one_line = dict(by_name, persuasion=by_name["persuasion"] + "\nTHE END")
    with pytest.raises(data.DataCorrupted, match="Persuasion has 8329 lines, expected 8328"):
        austen.verify(one_line)


def test_cache_round_trip_and_malformed_cache():
    books = need(austen.load)
    by_name = {name: books[title] for name, (title, *_) in austen.BOOKS.items()}
    arrays = austen._arrays(by_name)
    assert austen._books(arrays) == by_name
    with pytest.raises(data.DataCorrupted, match="malformed"):
        austen._books({"text": arrays["text"][:-1], "ends": arrays["ends"]})


def test_a_copy_of_the_package_under_dlcanon_data_is_found_and_exported(tmp_path, monkeypatch):
    need(austen.load)
    lib = austen.locate()
    shutil.copytree(lib / "janeaustenr", tmp_path / "R" / "janeaustenr")
    monkeypatch.setenv("DLCANON_DATA", str(tmp_path))
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    assert austen.locate() == tmp_path / "R"
    assert austen.status() == (True, str(tmp_path / "R" / "janeaustenr"))
    books = austen.load()  # a fresh export through Rscript from the copy, then the cache
    assert len(books["Persuasion"].split()) == 83283
    assert len(list((tmp_path / "cache").glob("austen-*.npz"))) == 1
