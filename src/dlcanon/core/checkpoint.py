"""Checkpoints that never unpickle: tensors in safetensors, everything else in JSON, both under one checksum.

`save(dir, state)` takes any nesting of dicts, lists, tensors, numpy arrays and JSON scalars (a model's
state_dict, an optimiser's state_dict, RNG states) and writes a new *generation*: `tensors-<sha>.safetensors`,
then `state-<generation>.json`, which names that file and carries a SHA-256 digest of the tensors' bytes and of
the JSON tree together (each file written to a temporary name and renamed). The state file is the commit
point: a run killed mid-save leaves the previous generation whole. The last KEEP generations are kept.

`load(dir)` returns the newest generation that is whole. One that fails to parse, or whose digest does not match
(torn, tampered, an edited step), is refused; the previous good generation is loaded instead and the refusal is
reported through `skipped`. If none is whole, CheckpointError.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .errors import UserError


class CheckpointError(UserError, RuntimeError):
    pass


def _flatten(obj, path: str, tensors: dict[str, torch.Tensor]):
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().cpu().contiguous()
        return {"__tensor__": path}
    if isinstance(obj, np.ndarray):
        tensors[path] = torch.from_numpy(np.ascontiguousarray(obj))
        return {"__ndarray__": path}
    if isinstance(obj, dict):
        if not all(isinstance(k, (str, int)) for k in obj):
            raise TypeError(f"checkpoint keys must be str or int at {path!r}")
        return {"__dict__": [[k, _flatten(v, f"{path}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{path}/{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__} at {path!r}")


def _unflatten(obj, tensors: dict[str, torch.Tensor]):
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


KEEP = 2
"""generations kept on disk: the newest, and one to fall back on if the newest is damaged"""


def _digest(tree, tensors_name: str, blob_sha: str) -> str:
    canonical = json.dumps({"tree": tree, "tensors": tensors_name, "sha256": blob_sha}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def generations(directory: Path | str) -> list[Path]:
    """The state files in `directory`, newest first."""
    return sorted(Path(directory).glob("state-*.json"), key=lambda p: p.name, reverse=True)


def save(directory: Path | str, state: dict) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, "", tensors)
    blob = st_save(tensors) if tensors else b""
    sha = hashlib.sha256(blob).hexdigest()
    name = f"tensors-{sha[:16]}.safetensors"
    _atomic_write(directory / name, blob)
    older = generations(directory)
    gen = 1 + max((_generation(p) for p in older), default=0)
    doc = {"tree": tree, "tensors": name, "sha256": sha, "digest": _digest(tree, name, sha)}
    _atomic_write(directory / f"state-{gen:09d}.json", json.dumps(doc).encode())
    kept = [directory / f"state-{gen:09d}.json"] + older[: KEEP - 1]
    for old in older[KEEP - 1:]:
        old.unlink(missing_ok=True)
    referenced = {_tensors_name(p) for p in kept}
    for blob_file in directory.glob("tensors-*.safetensors"):
        if blob_file.name not in referenced:
            blob_file.unlink(missing_ok=True)


def _generation(state_file: Path) -> int:
    digits = state_file.stem.removeprefix("state-")
    return int(digits) if digits.isdigit() else 0


def _tensors_name(state_file: Path) -> str | None:
    try:
        return Path(json.loads(state_file.read_text())["tensors"]).name
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(directory: Path | str, skipped: list[str] | None = None) -> dict:
    """The newest whole generation. Each damaged newer one is described in `skipped` (if given)."""
    directory = Path(directory)
    reasons: list[str] = []
    for state_file in generations(directory):
        try:
            state = load_generation(state_file)
        except CheckpointError as e:
            reasons.append(str(e))
            continue
        if skipped is not None:
            skipped.extend(reasons)
        return state
    if not reasons:
        raise CheckpointError(f"no checkpoint in {directory}")
    raise CheckpointError(reasons[0] + ("" if len(reasons) == 1 else f"; the {len(reasons) - 1} older one(s) too"))


def load_generation(state_file: Path) -> dict:
    """One generation, checked whole; CheckpointError if anything in it does not match its digest."""
    where = state_file.parent
    try:
        doc = json.loads(state_file.read_text())
        blob = (where / Path(doc["tensors"]).name).read_bytes()
        tree, sha = doc["tree"], doc["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint {state_file} is unreadable ({e}); refusing to load it") from None
    if hashlib.sha256(blob).hexdigest() != sha:
        raise CheckpointError(f"checkpoint {state_file} is corrupted (its tensors do not match their checksum); "
                              f"refusing to load it")
    if doc.get("digest") != _digest(tree, doc["tensors"], sha):
        raise CheckpointError(f"checkpoint {state_file} is corrupted (its state does not match its checksum); "
                              f"refusing to load it")
    try:
        tensors = st_load(blob) if blob else {}
        return _unflatten(tree, tensors)
    except (SafetensorError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {state_file} is malformed ({e}); refusing to load it") from None


def exists(directory: Path | str) -> bool:
    return bool(generations(directory))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
