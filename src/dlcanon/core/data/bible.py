"""Three public-domain Bibles from the Debian SWORD packages, verse by verse: a real English corpus and a real
verse-aligned English-Spanish parallel corpus.

    module    SWORD module    Debian package     verses
    kjv       engKJV2006eb    sword-text-kjv     31,102   King James Version (1769 text), protocanon
    web       engWEB2015eb    sword-text-web     37,457   World English Bible, with the deuterocanon
    rv1909    spaRV1909eb     sword-text-sparv   31,084   Reina-Valera 1909 (Spanish)

The modules are SWORD zText (zlib blocks of OSIS XML). `mod2imp` (package libsword-utils) exports one as
"$$$<verse key>" lines each followed by the verse's markup, which we clean into plain text: footnotes dropped
(they sit between words with no space, so they become a space), editorial headings dropped but the canonical
psalm titles kept, WEB's glossary appendix (written after the last verse of Revelation) cut at the book's end
marker, and a few stray USFM markers (`\\nd`) removed. Verse keys are SWORD's English ones ("Genesis 1:1",
"I Samuel 1:1", "Revelation of John 22:21"), in canonical order; joining two Bibles on the key aligns them.

The parse takes about a second per module; its result is cached (two uint8 arrays of UTF-8 text, no pickle).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from . import DataCorrupted, DataUnavailable, cached, search_dirs

MODULES = {  # name -> (SWORD module, Debian package, number of verses the clean parse must give)
    "kjv": ("engKJV2006eb", "sword-text-kjv", 31102),
    "web": ("engWEB2015eb", "sword-text-web", 37457),
    "rv1909": ("spaRV1909eb", "sword-text-sparv", 31084),
}
SYSTEM_ROOT = "/usr/share/sword"
CLEANING_VERSION = 1
"""Bump when the cleaning below changes: it is part of the cache key."""


def install_command(module: str) -> str:
    return f"sudo apt-get install {MODULES[_check(module)][1]} libsword-utils"


def _check(module: str) -> str:
    if module not in MODULES:
        raise ValueError(f"unknown Bible {module!r}; choose one of: {', '.join(MODULES)}")
    return module


def _root(module: str) -> Path | None:
    """The first SWORD root (a folder with mods.d/ and modules/) that holds `module`."""
    sword_name = MODULES[module][0]
    for root in search_dirs("sword", [SYSTEM_ROOT]):
        conf = root / "mods.d" / f"{sword_name}.conf"
        data = root / "modules" / "texts" / "ztext" / sword_name
        if conf.is_file() and data.is_dir():
            return root
    return None


def _mod2imp() -> str | None:
    return shutil.which("mod2imp") or ("/usr/bin/mod2imp" if Path("/usr/bin/mod2imp").is_file() else None)


def status(module: str = "kjv") -> tuple[bool, str]:
    """(present, where it is) or (False, the command that installs it)."""
    root = _root(_check(module))
    if root is None or _mod2imp() is None:
        return False, install_command(module)
    return True, str(root / "modules" / "texts" / "ztext" / MODULES[module][0])


# ------------------------------------------------------------------------------------------ parsing

_VERSE_KEY = re.compile(r" \d+:[1-9]\d*$")  # "Genesis 1:1"; skips "Genesis 1:0" (chapter heading) and "[ ... ]"
_BOOK_END = re.compile(r'<div[^>]*eID="[^"]*"[^>]*type="book"')  # everything after it is an appendix
_NOTE = re.compile(r"<note[^>]*>.*?</note>", re.S)
_EDITORIAL_TITLE = re.compile(r'<title(?![^>]*canonical="true")[^>]*>.*?</title>', re.S)
_TAG = re.compile(r"<[^>]+>")
_USFM = re.compile(r"\\\+?[a-z]+\d*\*?")  # stray USFM character markers, e.g. "\nd " before JEHOVAH in the KJV


def clean(markup: str) -> str:
    """One verse of OSIS markup -> plain text with single spaces and no space before punctuation."""
    t = _BOOK_END.split(markup)[0]
    t = _NOTE.sub(" ", t)  # a space, not nothing: notes sit between words ("God<note>..</note>created")
    t = _EDITORIAL_TITLE.sub(" ", t)
    t = html.unescape(_TAG.sub("", t))
    t = _USFM.sub(" ", t).replace("¶", " ")  # ¶ marks a paragraph start in the KJV
    t = re.sub(r"\s+", " ", t)
    return re.sub(r" ([,.;:!?])", r"\1", t).strip()


def parse_imp(imp: str) -> dict[str, str]:
    """mod2imp's export ("$$$key" lines, each followed by that entry's markup) -> {verse key: clean text}."""
    entries: dict[str, list[str]] = {}
    lines: list[str] = []  # markup lines of a skipped entry (module, testament, book or chapter heading)
    for line in imp.split("\n"):
        if line.startswith("$$$"):
            key = line[3:].strip()
            lines = entries.setdefault(key, []) if _VERSE_KEY.search(key) else []
        else:
            lines.append(line)
    verses = {key: clean(" ".join(lines)) for key, lines in entries.items()}
    return {key: t for key, t in verses.items() if t}


def _export(module: str, root: Path) -> str:
    env = {**os.environ, "SWORD_PATH": str(root)}
    try:
        out = subprocess.run([_mod2imp(), MODULES[module][0]], capture_output=True, text=True, env=env, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise DataUnavailable(f"mod2imp failed ({e}); reinstall it: {install_command(module)}") from None
    if out.returncode != 0:
        raise DataUnavailable(f"mod2imp could not export {MODULES[module][0]} ({out.stderr.strip()[:200]}); "
                              f"reinstall: {install_command(module)}")
    return out.stdout


def _fingerprint(root: Path, module: str) -> str:
    """SHA-256 over the module's data files and conf: the cache is rebuilt whenever the package changes."""
    sword_name = MODULES[module][0]
    h = hashlib.sha256(f"v{CLEANING_VERSION}".encode())
    data = root / "modules" / "texts" / "ztext" / sword_name
    for path in [root / "mods.d" / f"{sword_name}.conf", *sorted(data.iterdir())]:
        if path.is_file():
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _utf8(strings: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _strings(arr: np.ndarray) -> list[str]:
    return arr.tobytes().decode("utf-8").split("\n")


def load(module: str = "kjv") -> dict[str, str]:
    """{verse key: clean text}, in canonical order. Raises DataUnavailable (with the install command) when the
    module or mod2imp is missing, DataCorrupted when the parse does not give the module's known verse count."""
    root = _root(_check(module))
    if root is None or _mod2imp() is None:
        what = "mod2imp (libsword-utils)" if root is not None else f"the {module.upper()} Bible"
        raise DataUnavailable(f"{what} is not installed. Install it with: {install_command(module)}")

    def build() -> dict[str, np.ndarray]:
        verses = parse_imp(_export(module, root))
        # keys and texts hold no newline (whitespace is collapsed), so "\n" separates them losslessly
        return {"keys": _utf8(list(verses)), "texts": _utf8(list(verses.values()))}

    arrays = cached(f"bible-{module}-{_fingerprint(root, module)[:12]}", build)
    keys, texts = _strings(arrays["keys"]), _strings(arrays["texts"])
    expected = MODULES[module][2]
    if len(keys) != expected or len(texts) != expected:
        raise DataCorrupted(f"the {module.upper()} Bible parsed into {len(keys)} verses, expected {expected}; "
                            f"reinstall it: {install_command(module)}")
    return dict(zip(keys, texts, strict=True))


def text(module: str = "kjv", sep: str = "\n") -> str:
    """The whole Bible as one string: its verses in canonical order joined by `sep`."""
    return sep.join(load(module).values())
