"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 greyscale clothing images in 10 classes.

Debian package `dataset-fashion-mnist` installs the original IDX files to /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import numpy as np

from .idx import IdxSource

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")

SOURCE = IdxSource(
    name="Fashion-MNIST",
    subdir="fashion-mnist",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    files={"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
           "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"},
    sha256={"train_x": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train_y": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "test_x": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "test_y": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
    url="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    install="sudo apt-get install dataset-fashion-mnist",
)


def load() -> dict[str, np.ndarray]:
    """train_x (60000,28,28) uint8, train_y (60000,), test_x (10000,28,28), test_y (10000,)."""
    return SOURCE.load()


def status() -> tuple[bool, str]:
    return SOURCE.status()
