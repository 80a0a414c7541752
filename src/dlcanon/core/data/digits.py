"""scikit-learn's handwritten digits (UCI optdigits test set): 1,797 8x8 images, values 0..16, 10 classes.

The data ships inside the scikit-learn wheel (sklearn/datasets/data/digits.csv.gz).
"""

from __future__ import annotations

import numpy as np

from . import DataUnavailable

INSTALL = "pip install scikit-learn   (a dependency of dlcanon: reinstall with `make reproduce`)"


def load() -> dict[str, np.ndarray]:
    """{'x': (1797, 8, 8) float32 in 0..16, 'y': (1797,) int64}."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataUnavailable(f"scikit-learn is not installed. Install it with: {INSTALL}") from None
    d = load_digits()
    x, y = d.images.astype(np.float32), d.target.astype(np.int64)
    if x.shape != (1797, 8, 8) or np.bincount(y).tolist() != [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]:
        raise DataUnavailable(f"scikit-learn's digits look wrong (shape {x.shape}); reinstall: {INSTALL}")
    return {"x": x, "y": y}


def status() -> tuple[bool, str]:
    try:
        import sklearn.datasets  # noqa: F401
        return True, "scikit-learn wheel"
    except ImportError:
        return False, INSTALL
