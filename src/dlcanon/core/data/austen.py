"""Jane Austen's six novels, from the R package janeaustenr (Debian `r-cran-janeaustenr`): a real English corpus
of about 717,000 words, in whole books, so one novel can be held out.

    R dataset          title                 published  lines   words (whitespace-separated)
    sensesensibility   Sense & Sensibility   1811       12,624  118,565
    prideprejudice     Pride & Prejudice     1813       13,030  121,567
    mansfieldpark      Mansfield Park        1814       15,349  159,540
    emma               Emma                  1815       16,235  157,441
    northangerabbey    Northanger Abbey      1817        7,856   77,141
    persuasion         Persuasion            1817        8,328   83,283

The package keeps each novel as a character vector, one element per line of the Project Gutenberg text (title
page, "CHAPTER I" headings and blank lines included), in R's lazy-load format, which only R reads. `Rscript`
(package r-base-core, pulled in by r-cran-janeaustenr) writes the six vectors out as UTF-8 text; a book's text is
its lines joined by "\\n". The export takes about a second and is cached (UTF-8 bytes, no pickle). Every load checks
each book's SHA-256 and line count against the values above, so a changed package raises DataCorrupted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import DataCorrupted, DataUnavailable, cached, search_dirs

INSTALL = "sudo apt-get install r-cran-janeaustenr"
PACKAGE = "janeaustenr"
SYSTEM_LIBS = ["/usr/lib/R/site-library", "/usr/local/lib/R/site-library", "/usr/lib/R/library"]
"""R library folders where Debian (and a local R install) put packages."""

BOOKS = {  # R dataset -> (title, lines, whitespace-separated words, SHA-256 of the UTF-8 text)
    "sensesensibility": ("Sense & Sensibility", 12624, 118565,
                         "0996d90842bbe8093f3b8142c1e77d1b20cff52d1d0615f3ed67733653e74e26"),
    "prideprejudice": ("Pride & Prejudice", 13030, 121567,
                       "2e44edaa4946d64ad541c68e0224f5d672f43bf3ce2a8a0b0637ad5e02fc6eb3"),
    "mansfieldpark": ("Mansfield Park", 15349, 159540,
                      "e0e9ef3863ea77f51f6070062ee0dd50ad9b933223880617629e4e4963ea40ff"),
    "emma": ("Emma", 16235, 157441, "dd08b340a56ad4a0a00718d5682528a5a5886ae0aef91c9e0fa528074fa64b75"),
    "northangerabbey": ("Northanger Abbey", 7856, 77141,
                        "8618a5acf5be50cc6e9b7680c7469fb6012649ab08c709dfc63c6367989fd31d"),
    "persuasion": ("Persuasion", 8328, 83283, "726513a6c18bb678427bcbcf7c72d0d20816a67c25b0471b26ddcabf3ebac140"),
}
TITLES = [title for title, *_ in BOOKS.values()]
"""The six titles in order of publication (the order load() returns them in)."""

_EXPORT = (  # R: write each dataset, as UTF-8 lines, to <out>/<dataset>.txt
    'args <- commandArgs(TRUE); library(janeaustenr, lib.loc = args[1]); '
    'for (n in args[-(1:2)]) writeLines(enc2utf8(get(n)), file.path(args[2], paste0(n, ".txt")), useBytes = TRUE)'
)


def locate() -> Path | None:
    """The R library folder that holds janeaustenr: in $DLCANON_DATA[/R], the system R libraries, or
    ~/.local/share/dlcanon/data/R."""
    for lib in search_dirs("R", SYSTEM_LIBS):
        pkg = lib / PACKAGE
        if (pkg / "DESCRIPTION").is_file() and (pkg / "data" / "Rdata.rdb").is_file():
            return lib
    return None


def _rscript() -> str | None:
    return shutil.which("Rscript") or ("/usr/bin/Rscript" if Path("/usr/bin/Rscript").is_file() else None)


def status() -> tuple[bool, str]:
    """(present, where it is) or (False, the command that installs it)."""
    lib = locate()
    if lib is None or _rscript() is None:
        return False, INSTALL
    return True, str(lib / PACKAGE)


def _export(lib: Path) -> dict[str, str]:
    """Run Rscript once: {R dataset: the book's lines joined by newlines}."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [_rscript(), "--vanilla", "-e", _EXPORT, str(lib), out, *BOOKS]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                               env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
        except (OSError, subprocess.SubprocessError) as e:
            raise DataUnavailable(f"Rscript failed ({e}); reinstall it: {INSTALL}") from None
        if r.returncode != 0:
            raise DataUnavailable(f"Rscript could not export janeaustenr ({r.stderr.strip()[-300:]}); "
                                  f"reinstall it: {INSTALL}")
        books = {}
        for name in BOOKS:
            raw = (Path(out) / f"{name}.txt").read_bytes()
            try:
                books[name] = raw.decode("utf-8").removesuffix("\n")  # writeLines ends every line with \n
            except UnicodeDecodeError:
                raise DataCorrupted(f"janeaustenr's {name} is not UTF-8 text; reinstall it: {INSTALL}") from None
        return books


def _fingerprint(lib: Path) -> str:
    """SHA-256 over the package's DESCRIPTION and data files: the cache is rebuilt when the package changes."""
    pkg = lib / PACKAGE
    h = hashlib.sha256()
    for path in [pkg / "DESCRIPTION", *sorted((pkg / "data").iterdir())]:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _arrays(books: dict[str, str]) -> dict[str, np.ndarray]:
    """The six texts as one uint8 array of UTF-8 bytes and the byte offset where each book ends."""
    encoded = [books[name].encode("utf-8") for name in BOOKS]
    return {"text": np.frombuffer(b"".join(encoded), dtype=np.uint8),
            "ends": np.cumsum([len(b) for b in encoded]).astype(np.int64)}


def _books(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    raw, ends = arrays["text"].tobytes(), arrays["ends"].tolist()
    if len(ends) != len(BOOKS) or ends[-1] != len(raw):
        raise DataCorrupted(f"the cached Austen texts are malformed; reinstall: {INSTALL}")
    starts = [0, *ends[:-1]]
    return {name: raw[a:b].decode("utf-8") for name, a, b in zip(BOOKS, starts, ends, strict=True)}


def verify(books: dict[str, str]) -> None:
    """Each book must have its known line count and SHA-256; DataCorrupted names the first that does not."""
    for name, (title, lines, _, sha) in BOOKS.items():
        text = books[name]
        got = text.count("\n") + 1
        if got != lines:
            raise DataCorrupted(f"janeaustenr's {title} has {got} lines, expected {lines}; reinstall it: {INSTALL}")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if digest != sha:
            raise DataCorrupted(f"janeaustenr's {title} does not match its known text (sha256 {digest[:12]}…, "
                                f"expected {sha[:12]}…); reinstall it: {INSTALL}")


def load() -> dict[str, str]:
    """{title: the novel's text, lines joined by "\\n"} for the six novels in order of publication.

    Raises DataUnavailable (with the install command) when R or the package is missing, DataCorrupted when a
    book's text is not the known one."""
    lib = locate()
    if lib is None or _rscript() is None:
        what = "Rscript (r-base-core)" if lib is not None else "the R package janeaustenr"
        raise DataUnavailable(f"{what} is not installed. Install it with: {INSTALL}")
    books = _books(cached(f"austen-{_fingerprint(lib)[:12]}", lambda: _arrays(_export(lib))))
    verify(books)
    return {BOOKS[name][0]: text for name, text in books.items()}
