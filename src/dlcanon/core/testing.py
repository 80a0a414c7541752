"""Helpers for the test suite (used by tests/ and every papers/<id>/test_<id>.py)."""

from __future__ import annotations

import os

import pytest

from . import registry, runtime
from .data import DataUnavailable
from .results import Store


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def need(loader, *args, **kwargs):
    """Call a data loader; if its data is missing, skip with the install command, or fail in CI."""
    try:
        return loader(*args, **kwargs)
    except DataUnavailable as e:
        if in_ci():
            pytest.fail(f"data missing in CI: {e}")
        pytest.skip(str(e))


def run_preset(paper_id: str, preset: str = "quick", seed: int = 0, **overrides) -> runtime.RunResult:
    """Run a paper's preset on one thread, recording into the test session's store; skip/fail on missing data."""
    paper = registry.get(paper_id)
    return need(runtime.execute, paper, preset, seed=seed, device="cpu",
                overrides={k: str(v) for k, v in overrides.items()}, store=Store(), threads=1, quiet=True)


def interrupt_and_resume(monkeypatch, paper_id: str, target, attr: str, die_on_call: int, preset: str = "smoke",
                         seed: int = 0, **overrides) -> tuple[runtime.RunResult, runtime.RunResult]:
    """Run `paper_id` whole; run it again with `target.attr` raising KeyboardInterrupt on its
    `die_on_call`-th call (the run is left interrupted); resume it. Returns (whole, resumed).

    `target.attr` is a module function or a plain method (a class attribute called with self). Everything runs
    on one CPU thread in the test session's store; missing data skips (fails in CI) as in run_preset."""
    paper, store = registry.get(paper_id), Store()
    kwargs = dict(seed=seed, device="cpu", overrides={k: str(v) for k, v in overrides.items()}, store=store,
                  threads=1, quiet=True)
    whole = need(runtime.execute, paper, preset, **kwargs)
    real, calls = getattr(target, attr), []

    def dies(*args, **kw):
        calls.append(1)
        if len(calls) == die_on_call:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(target, attr, dies)
    with pytest.raises(KeyboardInterrupt):
        runtime.execute(paper, preset, **kwargs)
    monkeypatch.setattr(target, attr, real)
    assert len(calls) == die_on_call, f"{attr} was called {len(calls)} times, expected to die on call {die_on_call}"
    killed = store.runs(paper_id, limit=1)[0]
    assert killed["id"] != whole.run_id and killed["status"] == "interrupted", dict(killed)
    resumed = runtime.execute(paper, preset, resume=True, **kwargs)
    assert resumed.run_id == killed["id"]  # the interrupted run was continued, not a new one started
    return whole, resumed


def assert_claims(result: runtime.RunResult) -> None:
    """Every claim passes, or is a known-fail (a documented non-reproduction): never a plain fail."""
    lines = [f"{c['claim']}: {c['statement']} measured {c['measured']:.4g} -> {c['verdict']}" for c in result.claims]
    failed = [c for c in result.claims if c["verdict"] == "fail"]
    assert not failed, f"{result.paper} claims failed:\n" + "\n".join(lines)
    assert result.claims, f"{result.paper} has no claims"
