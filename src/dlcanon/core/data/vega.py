"""Seattle hourly temperatures for 2010, from the vega-datasets collection (`seattle-temps.csv`).

Debian package `python3-vega-datasets` installs the CSV under /usr/lib/python3/dist-packages/vega_datasets/_data.
The file has a header `date,temp` and 8,759 rows `2010/01/01 00:00,39.4` (local time, degrees Fahrenheit). The
values are smooth, climatological-normal-like hourly temperatures, 37.5..75.9 F. One hour is absent: the clock
jumps from 02:00 to 04:00 at the spring daylight-saving change (2010-03-14), so `hours` (computed from the
timestamps as written) has one gap of 2.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from . import DataUnavailable, cached, check_sha256, find_file, search_dirs

INSTALL = "sudo apt-get install python3-vega-datasets"
FILE = "seattle-temps.csv"
SHA256 = "c220666521ff4bec4ffb6f0d9acfdc5c1056564b1aad6f78d3b06aa0a0c8b085"
SYSTEM_DIRS = ["/usr/lib/python3/dist-packages/vega_datasets/_data"]
ROWS = 8759


def locate() -> Path | None:
    """The CSV in $DLCANON_DATA[/vega], the Debian package's folder, or ~/.local/share/dlcanon/data/vega."""
    return find_file([FILE], search_dirs("vega", SYSTEM_DIRS))


def parse(raw: bytes) -> dict[str, np.ndarray]:
    """CSV bytes -> {'hours': float64 hours since the first row's timestamp, 'temp': float64 degrees F}."""
    rows = list(csv.reader(io.StringIO(raw.decode("ascii"))))
    if rows[0] != ["date", "temp"]:
        raise ValueError(f"unexpected header {rows[0]}")
    stamps = np.array([d.replace("/", "-").replace(" ", "T") for d, _ in rows[1:]], dtype="datetime64[m]")
    hours = (stamps - stamps[0]).astype(np.int64) / 60.0
    temp = np.array([float(t) for _, t in rows[1:]])
    return {"hours": hours, "temp": temp}


def load() -> dict[str, np.ndarray]:
    """{'hours': (8759,) float64 in 0..8759, 'temp': (8759,) float64 in degrees F}, checksummed, cached."""
    path = locate()
    if path is None:
        raise DataUnavailable(f"vega-datasets (Seattle temperatures) is not installed. Install it with: {INSTALL}")
    raw = path.read_bytes()
    check_sha256(raw, SHA256, path, INSTALL)          # cheap (170 kB): checked on every load, cache or not
    return cached(f"vega-seattle-temps-{SHA256[:12]}", lambda: parse(raw))


def status() -> tuple[bool, str]:
    path = locate()
    return (True, str(path.parent)) if path is not None else (False, INSTALL)
