"""The IDX format of MNIST and Fashion-MNIST, and a loader shared by both sources."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import (
    DataUnavailable,
    cached,
    check_sha256,
    download,
    find_file,
    online_allowed,
    read_maybe_gzip,
    search_dirs,
    user_data_dir,
)


def parse_idx(data: bytes) -> np.ndarray:
    """IDX: 2 zero bytes, a type code (0x08 = uint8), the number of dimensions, then big-endian sizes."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"IDX body has {body.size} bytes, header says {shape}")
    return body.reshape(shape)


@dataclass(frozen=True)
class IdxSource:
    name: str
    subdir: str
    system_dirs: tuple[str, ...]
    files: dict[str, str]
    """Logical name (train_x, train_y, test_x, test_y) -> file stem, e.g. 'train-images-idx3-ubyte'."""
    sha256: dict[str, str]
    """Logical name -> SHA-256 of the uncompressed IDX bytes (so a recompressed .gz still matches)."""
    url: str
    """Canonical address prefix; '<stem>.gz' is appended."""
    install: str

    def candidates(self, stem: str) -> list[str]:
        alt = stem.replace("-idx", ".idx")          # some copies are named train-images.idx3-ubyte
        return [stem + ".gz", stem, alt + ".gz", alt]

    def locate(self) -> dict[str, object]:
        dirs = search_dirs(self.subdir, list(self.system_dirs))
        return {k: find_file(self.candidates(stem), dirs) for k, stem in self.files.items()}

    def status(self) -> tuple[bool, str]:
        found = self.locate()
        if all(found.values()):
            return True, str(found["train_x"].parent)
        return False, self.install

    def _fetch(self, key: str):
        path = self.locate()[key]
        if path is None and online_allowed():
            stem = self.files[key]
            path = download(f"{self.url}{stem}.gz", user_data_dir() / self.subdir / f"{stem}.gz", self.sha256[key])
        if path is None:
            raise DataUnavailable(f"{self.name} is not installed. Install it with: {self.install}")
        return path

    def load(self) -> dict[str, np.ndarray]:
        """{'train_x': (N,28,28) uint8, 'train_y': (N,) int64, 'test_x', 'test_y'}, checksummed, cached."""
        paths = {k: self._fetch(k) for k in self.files}

        def build():
            out = {}
            for k, p in paths.items():
                raw = read_maybe_gzip(p)
                check_sha256(raw, self.sha256[k], p, self.install)
                out[k] = parse_idx(raw)
            out["train_y"] = out["train_y"].astype(np.int64)
            out["test_y"] = out["test_y"].astype(np.int64)
            return out

        key = f"{self.subdir}-{self.sha256['train_x'][:12]}"
        return cached(key, build)
