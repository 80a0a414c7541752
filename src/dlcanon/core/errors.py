"""Problems a user can fix, and the checks that find them before any work starts.

Every error here is printed by the CLI as one line (its message) with exit status 2. The message says what is
wrong, where, and what to do. Nothing in this module imports torch, so the catalog commands stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """A problem the user can fix: the CLI prints the message as one line and exits with status 2."""


class DataUnavailable(UserError, RuntimeError):
    """The data is not on this machine; the message says how to install it."""


class DataCorrupted(DataUnavailable):
    """The data is there but its content does not match the published checksum."""


class PathError(UserError):
    """A path given by a flag or an environment variable that cannot be used as asked."""


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """An integer environment variable in [lo, hi], or `default` when it is unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text, 10)
    except ValueError:
        raise UserError(f"{name}={text!r} is not a whole number; set it to one from {lo} to {hi}, "
                        f"or unset it") from None
    if not lo <= value <= hi:
        raise UserError(f"{name}={value} is out of range; set it to a whole number from {lo} to {hi}, or unset it")
    return value


def usable_dir(path: Path, what: str) -> Path:
    """`path` as a folder we can write to, created if missing; else PathError naming `what` and the fix."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise PathError(f"{what} {path} is a file, not a folder; point it at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PathError(f"{what} {path} cannot be created ({e.strerror or e}); point it at a writable folder") \
            from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PathError(f"{what} {path} is not writable; point it at a writable folder")
    return path


def cpu_count() -> int:
    return os.cpu_count() or 1
