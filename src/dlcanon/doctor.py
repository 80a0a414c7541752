"""`dlcanon doctor`: check the results store, the data cache, the data and the checkpoints; repair what is safe.

Safe repairs: a torn or unreadable cache file is removed and rebuilt from its source; leftover temporary files
of killed writers are removed; runs whose process died are marked `interrupted` (so `--resume` finds them).
Never repaired: the results store (a damaged one is reported with what to do, and never replaced) and damaged
checkpoints (reported; `--resume` falls back to the previous good generation by itself).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Finding:
    area: str
    status: str
    """ok | repaired | problem"""
    detail: str


def check_all() -> list[Finding]:
    return check_store() + check_cache() + check_data() + check_checkpoints()


def check_store() -> list[Finding]:
    from .core.results import Store, StoreError, default_path

    try:
        store = Store()
    except StoreError as e:
        return [Finding("store", "problem", str(e))]
    rows = store.query("PRAGMA integrity_check")
    verdict = "; ".join(str(r[0]) for r in rows[:3])
    if verdict != "ok":
        return [Finding("store", "problem", f"{default_path()} fails SQLite's integrity check ({verdict}); "
                        f"copy it aside and restore a backup, or move it aside to start a new one")]
    n = store.query("SELECT COUNT(*) FROM runs")[0][0]
    out = [Finding("store", "ok", f"{store.path}: {n} run(s), integrity ok")]
    reaped = store.reap()
    if reaped:
        out.append(Finding("store", "repaired", f"{reaped} run(s) whose process had died marked interrupted "
                           f"(`dlcanon run ID --resume` continues them)"))
    return out


def check_cache() -> list[Finding]:
    from .core.data import cache_dir, read_npz
    from .core.data.sources import SOURCES
    from .core.results import pid_alive

    root = cache_dir()
    if not root.is_dir():
        return [Finding("cache", "ok", f"{root}: empty (built on first use)")]
    out, torn = [], []
    for tmp in root.glob("*.tmp.npz"):                   # <key>.<pid>.tmp.npz of a writer that was killed
        pid = tmp.name.split(".")[-3]
        if not (pid.isdigit() and pid_alive(int(pid))):
            tmp.unlink(missing_ok=True)
            out.append(Finding("cache", "repaired", f"removed {tmp.name}, left by a killed writer"))
    files = [p for p in sorted(root.glob("*.npz")) if not p.name.endswith(".tmp.npz")]
    for p in files:
        if read_npz(p) is None:
            p.unlink(missing_ok=True)
            torn.append(p.name)
    for name in torn:
        source = next((s for s in SOURCES if s.cache_prefix and name.startswith(s.cache_prefix)), None)
        if source is None:
            out.append(Finding("cache", "repaired", f"removed unreadable {name} (no source claims it)"))
            continue
        try:
            source.load()
            out.append(Finding("cache", "repaired", f"{name} was unreadable; rebuilt from {source.name}"))
        except Exception as e:                           # DataUnavailable, DataCorrupted: the data itself is gone
            out.append(Finding("cache", "problem", f"{name} was unreadable and removed; rebuilding it failed: {e}"))
    if not torn:
        out.append(Finding("cache", "ok", f"{root}: {len(files)} file(s), all readable"))
    return out


def check_data() -> list[Finding]:
    from .core.data.sources import SOURCES

    out = []
    for s in SOURCES:
        ok, where = s.status()
        out.append(Finding("data", "ok" if ok else "problem", f"{s.name}: {where}" if ok else
                           f"{s.name} missing (used by {s.used_by}); install: {where}"))
    return out


def check_checkpoints() -> list[Finding]:
    from .core import checkpoint
    from .core.results import home

    runs = home() / "runs"
    folders = sorted((p for p in runs.glob("*/checkpoint") if p.is_dir()), key=lambda p: int(p.parent.name)) \
        if runs.is_dir() else []
    out, whole = [], 0
    for d in folders:
        for tmp in d.glob("*.tmp"):
            if time.time() - tmp.stat().st_mtime > 3600:     # a save in progress is seconds old, not an hour
                tmp.unlink(missing_ok=True)
                out.append(Finding("checkpoints", "repaired", f"removed {tmp}, left by a killed save"))
        gens = checkpoint.generations(d)
        bad = []
        for g in gens:
            try:
                checkpoint.load_generation(g)
            except checkpoint.CheckpointError as e:
                bad.append(str(e))
        if not bad:
            whole += bool(gens)
        elif len(bad) < len(gens):
            out.append(Finding("checkpoints", "problem", f"run {d.parent.name}: {bad[0]}; `--resume` falls back "
                               f"to the previous good checkpoint"))
        else:
            out.append(Finding("checkpoints", "problem", f"run {d.parent.name}: no whole checkpoint ({bad[0]}); "
                               f"start it again without --resume"))
    out.append(Finding("checkpoints", "ok", f"{whole} run folder(s) with whole checkpoints"))
    return out
