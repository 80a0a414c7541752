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


def assert_claims(result: runtime.RunResult) -> None:
    """Every claim passes, or is a known-fail (a documented non-reproduction): never a plain fail."""
    lines = [f"{c['claim']}: {c['statement']} measured {c['measured']:.4g} -> {c['verdict']}" for c in result.claims]
    failed = [c for c in result.claims if c["verdict"] == "fail"]
    assert not failed, f"{result.paper} claims failed:\n" + "\n".join(lines)
    assert result.claims, f"{result.paper} has no claims"
