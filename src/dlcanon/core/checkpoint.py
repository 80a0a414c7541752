"""Checkpoints that never unpickle: tensors in safetensors, everything else in JSON.

`save(dir, state)` takes any nesting of dicts, lists, tensors, numpy arrays and JSON scalars (a model's
state_dict, an optimiser's state_dict, RNG states) and writes `tensors-<sha>.safetensors`, then
`state.json` naming that file (each written to a temporary name and renamed). state.json is the commit
point: a run killed mid-save leaves the previous checkpoint whole. `load(dir)` rebuilds the same nesting;
a file that fails to parse or whose checksum does not match is refused with CheckpointError.
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

STATE = "state.json"


class CheckpointError(RuntimeError):
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


def save(directory: Path | str, state: dict) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, "", tensors)
    blob = st_save(tensors) if tensors else b""
    sha = hashlib.sha256(blob).hexdigest()
    name = f"tensors-{sha[:16]}.safetensors"
    _atomic_write(directory / name, blob)
    _atomic_write(directory / STATE, json.dumps({"tree": tree, "tensors": name, "sha256": sha}).encode())
    for old in directory.glob("tensors-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)


def load(directory: Path | str) -> dict:
    directory = Path(directory)
    try:
        doc = json.loads((directory / STATE).read_text())
        blob = (directory / Path(doc["tensors"]).name).read_bytes()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint in {directory} is unreadable ({e}); refusing to load it") from None
    if hashlib.sha256(blob).hexdigest() != doc.get("sha256"):
        raise CheckpointError(f"checkpoint in {directory} is corrupted (checksum mismatch); refusing to load it")
    try:
        tensors = st_load(blob) if blob else {}
        return _unflatten(doc["tree"], tensors)
    except (SafetensorError, KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint in {directory} is malformed ({e}); refusing to load it") from None


def exists(directory: Path | str) -> bool:
    return (Path(directory) / STATE).exists()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
