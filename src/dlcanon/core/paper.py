"""The contract every paper keeps: a Paper has presets of a Config, a run function, and Claims.

A Claim is a machine-checked statement: a measured metric (or the difference of two metrics, one per arm of
an experiment) compared with a threshold. It carries the paper's own figure and a note on how our scale
differs, so the number and its context travel together into every report.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigError, check_config, parse_overrides

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
PRESETS = ("smoke", "quick", "full")
VERDICTS = ("pass", "fail", "known-fail", "unjudged")


@dataclass(frozen=True)
class Claim:
    """`metric [- minus] op threshold`, judged on the presets listed in `judged_on`."""

    name: str
    metric: str
    op: str
    threshold: float
    paper_value: str
    """The paper's own figure or statement, as text."""
    scale_note: str
    """How our setting differs from the paper's (data, size, steps)."""
    minus: str | None = None
    """A second metric subtracted from `metric`: comparisons of two arms survive scaling down."""
    known_fail: str | None = None
    """If set, the claim does not reproduce at this scale: the reason and what was tried."""
    judged_on: tuple[str, ...] = ("quick", "full")

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"claim {self.name!r}: op must be one of {list(OPS)}, got {self.op!r}")

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,) if self.minus is None else (self.metric, self.minus)

    @property
    def statement(self) -> str:
        lhs = self.metric if self.minus is None else f"{self.metric} - {self.minus}"
        return f"{lhs} {self.op} {self.threshold:g}"

    def measure(self, metrics: dict[str, float]) -> float:
        missing = [m for m in self.metrics if m not in metrics]
        if missing:
            raise KeyError(f"claim {self.name!r} needs metric(s) {missing}; the run reported {sorted(metrics)}")
        value = float(metrics[self.metric])
        return value if self.minus is None else value - float(metrics[self.minus])

    def spread(self, metrics: dict[str, float]) -> float | None:
        """The spread a run reports for the claim's metric as `<metric>:std` (a paper that averages over restarts,
        orders or draws inside one run says how much they varied); None for a difference or when not reported."""
        value = metrics.get(f"{self.metric}:std") if self.minus is None else None
        return None if value is None or value != value else float(value)

    def verdict(self, metrics: dict[str, float], preset: str) -> tuple[float, str]:
        if preset not in self.judged_on:                  # e.g. a full-only claim on a quick run
            has_all = all(m in metrics for m in self.metrics)
            return (self.measure(metrics) if has_all else math.nan), "unjudged"
        measured = self.measure(metrics)
        holds = not math.isnan(measured) and OPS[self.op](measured, self.threshold)
        if self.known_fail is not None:
            return measured, "pass" if holds else "known-fail"
        return measured, "pass" if holds else "fail"


@dataclass
class Paper:
    """One implemented paper. Facts (title, authors, year) live in the catalog, keyed by `id`."""

    id: str
    presets: dict[str, Any]
    """Config instances keyed by preset name (smoke, quick, full)."""
    run: Callable[[Any, Any], dict[str, float]]
    """run(cfg, ctx) -> metrics. ctx is a core.runtime.RunContext."""
    claims: list[Claim] = field(default_factory=list)

    def __post_init__(self):
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"paper {self.id}: presets {missing} are missing")
        names = [c.name for c in self.claims]
        if len(names) != len(set(names)):
            raise ValueError(f"paper {self.id}: claim names must be unique, got {names}")

    def config(self, preset: str, overrides: dict[str, str] | None = None):
        """The preset's Config with `field=value` overrides applied: each parsed by its field's type, then the
        whole Config checked against its fields' declared ranges (ConfigError names what is wrong)."""
        if preset not in self.presets:
            raise ConfigError(f"unknown preset {preset!r}; choose one of: {', '.join(self.presets)}")
        cfg = self.presets[preset]
        cfg = dataclasses.replace(cfg, **parse_overrides(cfg, overrides or {}))
        check_config(cfg, overrides)
        return cfg

    def judge(self, metrics: dict[str, float], preset: str) -> list[dict]:
        rows = []
        for c in self.claims:
            measured, verdict = c.verdict(metrics, preset)
            rows.append(dict(claim=c.name, statement=c.statement, measured=measured, threshold=c.threshold,
                             verdict=verdict, paper_value=c.paper_value, scale_note=c.scale_note,
                             known_fail=c.known_fail, spread=c.spread(metrics)))
        return rows
