"""core/data/vega: Seattle hourly temperatures, found, parsed, checksummed."""

import shutil

import numpy as np
import pytest

from dlcanon.core import data
from dlcanon.core.data import vega
from dlcanon.core.testing import need


def test_seattle_temps_are_complete_and_plausible():
    d = need(vega.load)
    assert d["hours"].shape == d["temp"].shape == (vega.ROWS,)
    assert d["hours"][0] == 0 and d["hours"][-1] == 8759           # 2010-12-31 23:00, one hour lost to DST
    steps = np.diff(d["hours"])
    assert set(np.unique(steps).tolist()) == {1.0, 2.0} and (steps == 2).sum() == 1
    assert 37 < d["temp"].min() < d["temp"].max() < 77             # degrees Fahrenheit, a Seattle year
    assert d["temp"][:3].tolist() == [39.4, 39.2, 39.0]


def test_parse_by_hand():
    raw = b"date,temp\n2010/01/01 00:00,39.4\n2010/01/01 01:00,39.2\n2010/01/02 00:30,40.0"
    d = vega.parse(raw)
    assert d["hours"].tolist() == [0.0, 1.0, 24.5] and d["temp"].tolist() == [39.4, 39.2, 40.0]


def _copy_to(tmp_path, monkeypatch):
    """A private copy of the CSV, found through a monkeypatched system path, with a private cache."""
    src = vega.locate()
    if src is None:
        need(vega.load)                                              # skips (or fails in CI) with the install hint
    (tmp_path / "sys").mkdir()
    dst = tmp_path / "sys" / vega.FILE
    shutil.copy(src, dst)
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DLCANON_DATA", raising=False)
    monkeypatch.setattr(vega, "SYSTEM_DIRS", [str(tmp_path / "sys")])
    return dst


def test_a_changed_file_fails_the_checksum_even_with_a_cache(tmp_path, monkeypatch):
    dst = _copy_to(tmp_path, monkeypatch)
    assert vega.load()["temp"].shape == (vega.ROWS,)                  # the copy is good, and now cached
    dst.write_bytes(dst.read_bytes().replace(b"39.4", b"39.5", 1))
    with pytest.raises(data.DataCorrupted, match="corrupted"):
        vega.load()


def test_missing_file_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.delenv("DLCANON_DATA", raising=False)
    monkeypatch.setattr(vega, "SYSTEM_DIRS", [str(tmp_path / "nowhere")])
    monkeypatch.setattr(data, "user_data_dir", lambda: tmp_path / "user")
    with pytest.raises(data.DataUnavailable, match="sudo apt-get install python3-vega-datasets"):
        vega.load()
    assert vega.status() == (False, "sudo apt-get install python3-vega-datasets")
