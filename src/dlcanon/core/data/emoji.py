"""Colour emoji pictures with their Unicode names, groups and subgroups: the Noto Color Emoji font rendered with
Pillow, labelled from Unicode's emoji-test.txt.

    file                                                   Debian package            what it gives
    /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf      fonts-noto-color-emoji    the pictures (136x128 bitmaps)
    /usr/share/unicode/emoji/emoji-test.txt                unicode-data              name, group, subgroup

emoji-test.txt lists every emoji in CLDR order under `# group:` and `# subgroup:` headings. We keep the
fully-qualified ones, leave out the "Component" group (bare skin-tone and hair swatches), and by default also
leave out every sequence with a skin-tone modifier (U+1F3FB..U+1F3FF): each such sequence is the same drawing as
its base emoji in another skin colour, so keeping them would fill a train/test split with near-duplicates and
make People & Body 59% of the data (2,148 of 3,655) instead of 19% (363 of 1,870). ZWJ sequences (families,
professions, "man: red hair"), keycaps and flags are kept: each is its own drawing. `skin_tones=True` keeps the
variants too (for compositional tests: gesture x skin tone).

With unicode-data 15.0 and the font of Debian 12 (2.042), every listed emoji renders: 1,870 pictures
(3,655 with the skin-tone variants) in 9 groups and 99 subgroups. Counts per group without skin tones: People &
Body 363, Flags 269, Objects 261, Symbols 223, Travel & Places 218, Smileys & Emotion 166, Animals & Nature 152,
Food & Drink 133, Activities 85.

Each emoji is drawn at the font's only bitmap size (109 px: a 136x128 glyph box), centred on a square 136x136
transparent canvas, laid on white, and shrunk to `size` x `size` with a Lanczos filter. Sequences (ZWJ, flags,
keycaps) need Pillow's raqm layout to become one glyph. The parse and render take a few seconds; the result is
cached as .npz (uint8 pictures, int16 indices, fixed-width unicode strings; no pickle), keyed by a hash of the
two files, the size and the options.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from . import DataCorrupted, DataUnavailable, cached, find_file, search_dirs

INSTALL = "sudo apt-get install fonts-noto-color-emoji unicode-data"
FONT_FILE = "NotoColorEmoji.ttf"
TEST_FILE = "emoji-test.txt"
FONT_DIRS = ["/usr/share/fonts/truetype/noto"]
TEST_DIRS = ["/usr/share/unicode/emoji"]
STRIKE = 109
"""The font's only bitmap size, in points: Pillow draws CBDT glyphs at no other size."""
CANVAS = 136
"""Side of the square canvas a 136x128 glyph is centred on."""
RENDER_VERSION = 1
"""Bump when the rendering below changes: it is part of the cache key."""
SKIN_TONES = frozenset(range(0x1F3FB, 0x1F400))
EXPECTED = {"15.0": {False: 1870, True: 3655}}
"""emoji-test.txt version -> number of pictures this loader must give (without / with skin-tone variants)."""
MIN_RENDERED = 0.95
"""For a version not in EXPECTED: at least this fraction of the listed emoji must render, else DataCorrupted."""

_LINE = re.compile(r"^([0-9A-F ]+?)\s*;\s*fully-qualified\s*#\s*\S+\s+E\d+\.\d+\s+(.+)$")


def locate() -> tuple[Path | None, Path | None]:
    """(font, emoji-test.txt): in $DLCANON_DATA[/emoji], the Debian packages' folders, or the user data folder."""
    return (find_file([FONT_FILE], search_dirs("emoji", FONT_DIRS)),
            find_file([TEST_FILE], search_dirs("emoji", TEST_DIRS)))


def status() -> tuple[bool, str]:
    """(present, the folder of the font) or (False, the command that installs both files)."""
    font, test = locate()
    return (True, str(font.parent)) if font is not None and test is not None else (False, INSTALL)


def parse_test_file(text: str, skin_tones: bool = False) -> tuple[str | None, list[tuple[str, str, str, str]]]:
    """emoji-test.txt -> (its version, [(code points "1F600", group, subgroup, name)]) for the fully-qualified
    emoji outside the Component group, in the file's (CLDR) order; skin-tone variants only if asked."""
    version = re.search(r"^# Version:\s*(\S+)", text, re.M)
    rows, group, subgroup = [], None, None
    for line in text.splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif (m := _LINE.match(line)) and group != "Component":
            codes = m.group(1).split()
            if not skin_tones and any(int(c, 16) in SKIN_TONES for c in codes):
                continue
            rows.append((" ".join(codes), group, subgroup, m.group(2).strip()))
    return (version.group(1) if version else None), rows


def _font(path: Path):
    from PIL import ImageFont, features

    if not features.check("raqm"):
        raise DataUnavailable("Pillow has no raqm text layout here, so emoji sequences (flags, families) would not "
                              "join into one picture. Install it with: sudo apt-get install libraqm0")
    return ImageFont.truetype(str(path), STRIKE, layout_engine=ImageFont.Layout.RAQM)


def render(chars: str, font, size: int) -> np.ndarray | None:
    """One emoji -> (size, size, 3) uint8 RGB on white, or None if the font has no picture for it."""
    from PIL import Image, ImageDraw

    glyph = Image.new("RGBA", (CANVAS, CANVAS), (255, 255, 255, 0))
    ImageDraw.Draw(glyph).text((0, (CANVAS - 128) // 2), chars, font=font, embedded_color=True)
    box = glyph.getbbox()
    if box is None or box[2] - box[0] < 8:             # nothing drawn: the font lacks this emoji
        return None
    white = Image.new("RGB", glyph.size, (255, 255, 255))
    white.paste(glyph, mask=glyph.getchannel("A"))
    return np.asarray(white.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def build(font_path: Path, test_path: Path, size: int, skin_tones: bool) -> dict[str, np.ndarray]:
    """Parse emoji-test.txt and render every emoji the font has; arrays ready for the .npz cache."""
    version, rows = parse_test_file(test_path.read_text(encoding="utf-8"), skin_tones)
    font = _font(font_path)
    kept, images = [], []
    for codes, group, subgroup, name in rows:
        picture = render("".join(chr(int(c, 16)) for c in codes.split()), font, size)
        if picture is not None:
            kept.append((codes, group, subgroup, name))
            images.append(picture)
    _check_count(len(kept), len(rows), version, skin_tones, font_path, test_path)
    groups = list(dict.fromkeys(r[1] for r in kept))      # first-seen (CLDR) order
    subgroups = list(dict.fromkeys(r[2] for r in kept))
    return {
        "images": np.stack(images),
        "group": np.array([groups.index(r[1]) for r in kept], dtype=np.int16),
        "subgroup": np.array([subgroups.index(r[2]) for r in kept], dtype=np.int16),
        "names": np.array([r[3] for r in kept], dtype=np.str_),
        "codes": np.array([r[0] for r in kept], dtype=np.str_),
        "groups": np.array(groups, dtype=np.str_),
        "subgroups": np.array(subgroups, dtype=np.str_),
        "version": np.array(version or "unknown", dtype=np.str_),
    }


def _check_count(n: int, listed: int, version: str | None, skin_tones: bool, font: Path, test: Path) -> None:
    expected = EXPECTED.get(version or "", {}).get(skin_tones)
    if expected is not None and n != expected:
        raise DataCorrupted(f"{font} and {test} (emoji {version}) gave {n} emoji pictures, expected {expected}; "
                            f"reinstall them: {INSTALL}")
    if expected is None and (listed < 1000 or n < MIN_RENDERED * listed):
        raise DataCorrupted(f"only {n} of the {listed} emoji listed in {test} (emoji {version}) render with {font}; "
                            f"the font and the list do not match. Reinstall them: {INSTALL}")


def _fingerprint(font: Path, test: Path, size: int, skin_tones: bool) -> str:
    h = hashlib.sha256(f"v{RENDER_VERSION} size={size} skin={skin_tones}".encode())
    for path in (font, test):
        h.update(path.read_bytes())
    return h.hexdigest()


def load(size: int = 32, skin_tones: bool = False) -> dict:
    """{'images': (N, size, size, 3) uint8 RGB on white, 'group': (N,) int64 index into 'groups',
    'subgroup': (N,) int64 index into 'subgroups', 'names': (N,) str ("grinning face"), 'codes': (N,) str
    ("1F600"), 'groups': list of 9 group names, 'subgroups': list of subgroup names, 'version': str}, in
    emoji-test.txt's order. Raises DataUnavailable (with the install command) when a file is missing and
    DataCorrupted when the count of pictures is not what the installed files give."""
    if not isinstance(size, int) or not 8 <= size <= CANVAS:
        raise ValueError(f"size must be a whole number of pixels from 8 to {CANVAS}, got {size!r}")
    font, test = locate()
    if font is None or test is None:
        missing = FONT_FILE if font is None else TEST_FILE
        raise DataUnavailable(f"the emoji data ({missing}) is not installed. Install it with: {INSTALL}")
    key = f"emoji-{size}px-{'skin' if skin_tones else 'base'}-{_fingerprint(font, test, size, skin_tones)[:12]}"
    a = cached(key, lambda: build(font, test, size, skin_tones))
    version = str(a["version"])
    _check_count(len(a["images"]), len(a["images"]), version, skin_tones, font, test)
    return {"images": a["images"], "group": a["group"].astype(np.int64), "subgroup": a["subgroup"].astype(np.int64),
            "names": a["names"], "codes": a["codes"], "groups": a["groups"].tolist(),
            "subgroups": a["subgroups"].tolist(), "version": version}
