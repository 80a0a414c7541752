"""Results of record: the figures dlcanon publishes, kept in the repository beside each paper.

`papers/<id>/record.json` holds one entry per (preset, device kind): the claims as the code states them, what
was measured, and where it came from (seeds, device, versions, git revision, date, wall time). Only
`dlcanon record`, run on purpose by the people who build dlcanon, writes it, and only from runs of the unmodified
presets. README.md's claims table and each notes.md results table are rendered from it (`render_docs`); nothing
else rewrites tracked files, so a fresh clone's `make reproduce` leaves `git status` clean.

The JSON is written with sorted keys and one value per line, so a new figure is a small, readable diff.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PAPERS = PACKAGE / "papers"
REPO = PACKAGE.parent.parent
CLAIM_TEXT = ("name", "statement", "paper_value", "scale_note", "known_fail", "judged_on")


def path(paper_id: str) -> Path:
    return PAPERS / paper_id / "record.json"


def load(paper_id: str) -> dict | None:
    """The paper's record ({"paper", "claims", "entries"}), or None if it has none yet."""
    p = path(paper_id)
    if not p.is_file():
        return None
    return json.loads(p.read_text())


def entry(record: dict | None, preset: str, device: str | None = None) -> dict | None:
    """The recorded entry for a preset (on a device kind, or the newest of any)."""
    if not record:
        return None
    found = [e for e in record["entries"] if e["preset"] == preset and (device is None or e["device_kind"] == device)]
    return max(found, key=lambda e: e["date"]) if found else None


def claim_texts(paper) -> list[dict]:
    """The claims as the code states them (what the record must agree with)."""
    return [{"name": c.name, "statement": c.statement, "paper_value": c.paper_value, "scale_note": c.scale_note,
             "known_fail": c.known_fail, "judged_on": list(c.judged_on)} for c in paper.claims]


# -- building an entry -------------------------------------------------------------------------------
def aggregate(runs: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation of each final metric over seeds (spread 0 for one seed)."""
    names = sorted(set.intersection(*(set(r["metrics"]) for r in runs)))
    mean, spread = {}, {}
    for name in names:
        values = [r["metrics"][name] for r in runs]
        whole = all(v is not None and math.isfinite(v) for v in values)
        mean[name] = statistics.fmean(values) if whole else math.nan
        spread[name] = statistics.stdev(values) if whole and len(values) > 1 else 0.0
    return mean, spread


def make_entry(paper, preset: str, runs: list[dict], git: dict) -> dict:
    """One record entry from finished runs (dicts: run, seed, device, wall_s, metrics) of the same unmodified
    preset on one or several seeds. Claims are judged on the mean; each carries its spread over seeds."""
    import dataclasses

    from .core.results import json_safe
    from .core.runtime import versions

    mean, spread = aggregate(runs)
    claims = [{"name": c["claim"], "measured": c["measured"], "verdict": c["verdict"],
               "spread": _claim_spread(paper, c["claim"], runs) if len(runs) > 1 else c["spread"] or 0.0,
               "spread_over": "seeds" if len(runs) > 1 else "within the run" if c["spread"] else None}
              for c in paper.judge(mean, preset)]
    device = runs[0]["device"]
    return {"preset": preset, "device": device, "device_kind": device.split(":")[0], "device_name": _device_name(),
            "seeds": [r["seed"] for r in runs], "runs": [r["run"] for r in runs],
            "wall_s": round(sum(r["wall_s"] for r in runs), 2), "date": time.strftime("%Y-%m-%d"),
            "git_rev": git["rev"], "git_dirty": git["dirty"], "versions": versions(),
            "config": json_safe(dataclasses.asdict(paper.presets[preset])),
            "metrics": mean, "spread": {k: v for k, v in spread.items() if v}, "claims": claims}


def _claim_spread(paper, name: str, runs: list[dict]) -> float:
    claim = next(c for c in paper.claims if c.name == name)
    if not all(set(claim.metrics) <= set(r["metrics"]) for r in runs):
        return 0.0
    values = [claim.measure(r["metrics"]) for r in runs]
    return statistics.stdev(values) if len(values) > 1 and all(math.isfinite(v) for v in values) else 0.0


def _device_name() -> str:
    import platform

    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return platform.processor() or platform.machine()


def git_state() -> dict:
    """The revision, and whether the code (the package's .py and .toml files) differs from it."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PACKAGE, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    rev = git("rev-parse", "--short", "HEAD").strip() or None
    code = [str(PACKAGE / "**" / "*.py"), str(PACKAGE / "**" / "*.toml")]    # the docs a record rewrites don't count
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", *code).strip())
    return {"rev": rev, "dirty": dirty}


def write(paper, new_entry: dict) -> Path:
    """Add or replace the entry of this (preset, device kind); refresh the claim texts from the code."""
    record = load(paper.id) or {"paper": paper.id, "entries": []}
    record["claims"] = claim_texts(paper)
    record["entries"] = [e for e in record["entries"]
                         if (e["preset"], e["device_kind"]) != (new_entry["preset"], new_entry["device_kind"])]
    record["entries"].append(new_entry)
    record["entries"].sort(key=lambda e: (("smoke", "quick", "full").index(e["preset"]), e["device_kind"]))
    p = path(paper.id)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(dumps(record))
    tmp.replace(p)
    return p


def dumps(record: dict) -> str:
    from .core.results import json_safe

    return json.dumps(json_safe(record), indent=1, sort_keys=True, allow_nan=False) + "\n"


def stale_claims(paper) -> list[str]:
    """Claims whose code differs from the record in a way that changes what was measured (name, statement,
    presets judged on). Texts (the paper's figure, the scale note, a known-fail reason) can be refreshed."""
    record = load(paper.id)
    if record is None:
        return []
    key = lambda c: (c["name"], c["statement"], tuple(c["judged_on"]))
    have = {key(c) for c in record["claims"]}
    return [c["name"] for c in claim_texts(paper) if key(c) not in have] + \
        [c["name"] for c in record["claims"] if key(c) not in {key(x) for x in claim_texts(paper)}]


def refresh_texts(paper) -> bool:
    """Copy the code's claim texts into the record (no figure changes). Returns whether the file changed."""
    record = load(paper.id)
    if record is None or record["claims"] == claim_texts(paper):
        return False
    record["claims"] = claim_texts(paper)
    path(paper.id).write_text(dumps(record))
    return True
