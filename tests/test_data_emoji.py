"""core/data/emoji: Noto colour emoji rendered with their Unicode groups, counted, cached, and their errors."""

import numpy as np
import pytest

from dlcanon.core import data
from dlcanon.core.data import emoji
from dlcanon.core.testing import need

GROUP_SIZES = {"Smileys & Emotion": 166, "People & Body": 363, "Animals & Nature": 152, "Food & Drink": 133,
               "Travel & Places": 218, "Activities": 85, "Objects": 261, "Symbols": 223, "Flags": 269}


def test_counts_shapes_and_labels():
    d = need(emoji.load)
    n = len(d["names"])
    assert d["images"].shape == (n, 32, 32, 3) and d["images"].dtype == np.uint8
    assert d["group"].shape == d["subgroup"].shape == d["codes"].shape == (n,)
    assert d["names"].dtype.kind == "U" and d["codes"].dtype.kind == "U"
    if d["version"] == "15.0":
        assert n == 1870 and len(d["subgroups"]) == 99
        assert dict(zip(d["groups"], np.bincount(d["group"]).tolist(), strict=True)) == GROUP_SIZES
    assert d["groups"][0] == "Smileys & Emotion" and d["names"][0] == "grinning face" and d["codes"][0] == "1F600"
    assert "Component" not in d["groups"]
    assert not any(int(c, 16) in emoji.SKIN_TONES for code in d["codes"] for c in code.split())
    assert d["group"].max() == len(d["groups"]) - 1 and d["subgroup"].max() == len(d["subgroups"]) - 1


def test_pictures_are_drawn_on_white_and_sequences_join_into_one():
    d = need(emoji.load)
    img = d["images"].astype(int)
    assert (img[:, 0, 0] >= 250).all(axis=1).mean() > 0.9  # corners are white background
    assert (img.reshape(len(img), -1).std(axis=1) > 5).all()  # something drawn, even "white small square"
    names = list(d["names"])
    flag = names.index("flag: Japan")  # two regional indicators -> one flag
    assert d["images"][flag][16, 16, 0] > 150 and d["images"][flag][16, 16, 1] < 100  # the red disc
    font = emoji._font(emoji.locate()[0])
    family = "".join(chr(int(c, 16)) for c in d["codes"][names.index("family: man, woman, girl, boy")].split())
    assert len(family) == 7 and font.getbbox(family)[2] <= emoji.CANVAS  # 7 code points laid out as one glyph
    assert font.getbbox(family[0] + family[2])[2] > 1.5 * emoji.CANVAS  # two emoji side by side are wider


def test_skin_tones_and_sizes():
    d = need(emoji.load, 16, skin_tones=True)
    assert d["images"].shape[1:] == (16, 16, 3)
    if d["version"] == "15.0":
        assert len(d["names"]) == 3655 and int((d["group"] == d["groups"].index("People & Body")).sum()) == 2148
    with pytest.raises(ValueError, match="size"):
        emoji.load(4)


def test_parse_by_hand():
    text = """# Version: 15.0
# group: Smileys & Emotion
# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
263A                                                   ; unqualified         # ☺ E0.6 smiling face
# group: People & Body
# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FB                                            ; fully-qualified     # 👋🏻 E1.0 waving hand: light skin tone
# group: Component
# subgroup: skin-tone
1F3FB                                                  ; component           # 🏻 E1.0 light skin tone
1F9B0                                                  ; fully-qualified     # 🦰 E11.0 red hair
"""
    version, rows = emoji.parse_test_file(text)
    assert version == "15.0"
    assert rows == [("1F600", "Smileys & Emotion", "face-smiling", "grinning face"),
                    ("1F44B", "People & Body", "hand-fingers-open", "waving hand")]  # fmt: skip
    _, with_tones = emoji.parse_test_file(text, skin_tones=True)
    assert [r[3] for r in with_tones] == ["grinning face", "waving hand", "waving hand: light skin tone"]


def _private(tmp_path, monkeypatch):
    font, test = emoji.locate()
    if font is None or test is None:
        need(emoji.load)                                        # skips (or fails in CI) with the install hint
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCANON_DATA", raising=False)


def test_a_count_far_from_the_known_one_is_refused(tmp_path, monkeypatch):
    _private(tmp_path, monkeypatch)
    version = emoji.parse_test_file(emoji.locate()[1].read_text(encoding="utf-8"))[0]
    monkeypatch.setitem(emoji.EXPECTED, version, {False: 1234, True: 5678})
    with pytest.raises(data.DataCorrupted, match="expected 1234"):
        emoji.load(8)


def test_missing_files_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.delenv("DLCANON_DATA", raising=False)
    monkeypatch.setattr(emoji, "FONT_DIRS", [str(tmp_path / "nowhere")])
    monkeypatch.setattr(data, "user_data_dir", lambda: tmp_path / "user")
    with pytest.raises(data.DataUnavailable, match="sudo apt-get install fonts-noto-color-emoji unicode-data"):
        emoji.load()
    assert emoji.status() == (False, "sudo apt-get install fonts-noto-color-emoji unicode-data")
