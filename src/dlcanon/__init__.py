"""dlcanon: the deep learning canon, runnable."""

__version__ = "0.1.0"
