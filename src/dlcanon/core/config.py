"""What a Config field may hold, declared beside the field, and the one check every override goes through.

A paper's Config is a dataclass. Where the type does not say what is valid, the field says it with
`Annotated`:

    epochs: Annotated[int, Range(ge=1, le=10_000)] = 12
    lr: Annotated[float, Range(gt=0, le=10)] = 0.3
    widths: Annotated[tuple[int, ...], Range(ge=1, le=4096)] = (1, 2, 4)     # bounds apply to every item
    dataset: Annotated[str, OneOf("digits", "fashion_mnist")] = "digits"

Every number must be finite and every tuple non-empty (unless `min_len=0`). A rule that ties two fields
together goes in the Config's own `check(self)`, which raises ValueError with a sentence for the user.
`check_config` applies all of it; `Paper.config` calls it on every preset and every override, before a run
row exists, so a bad value never reaches numpy, torch or the results store.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from .errors import UserError

__all__ = ["Annotated", "ConfigError", "OneOf", "Pattern", "Range", "FieldSpec", "check_config", "field_specs",
           "parse_overrides", "SEED_MAX"]

SEED_MAX = 2**31 - 1
"""The largest seed anywhere (run seeds and data seeds): papers derive further seeds from it by arithmetic,
and numpy's legacy seeding stops at 2**32 - 1."""


class ConfigError(UserError, ValueError):
    """A user's mistake in a preset name or an override; the message says what to do."""


@dataclass(frozen=True)
class Range:
    """Bounds on a number, or on every item of a tuple of numbers (pydantic's names: ge, gt, le, lt)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_len: int = 1
    """tuples: the fewest items allowed"""
    max_len: int | None = None
    """tuples: the most items allowed"""

    def admits(self, x: float) -> bool:
        return (math.isfinite(x) and (self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))

    def describe(self) -> str:
        lo = f"[{_num(self.ge)}" if self.ge is not None else f"({_num(self.gt)}" if self.gt is not None else "(-inf"
        hi = f"{_num(self.le)}]" if self.le is not None else f"{_num(self.lt)})" if self.lt is not None else "inf)"
        return f"{lo}, {hi}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


@dataclass(frozen=True)
class OneOf:
    """A str field that takes one of a few names."""

    choices: tuple[str, ...]

    def __init__(self, *choices: str):
        object.__setattr__(self, "choices", choices)

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)


@dataclass(frozen=True)
class Pattern:
    """A str field that must match a regular expression as a whole."""

    regex: str
    meaning: str
    """what the pattern says, in words, for the error message"""

    def describe(self) -> str:
        return self.meaning


@dataclass(frozen=True)
class FieldSpec:
    """One Config field as the checker and the CLI see it."""

    name: str
    kind: type
    """bool, int, float, str, or tuple"""
    item: type | None
    """the item type of a tuple field"""
    rule: Range | OneOf | Pattern | None
    doc: str = ""

    @property
    def type_name(self) -> str:
        return f"tuple of {self.item.__name__}" if self.kind is tuple else self.kind.__name__

    def describe(self) -> str:
        if isinstance(self.rule, Range):
            where = f"in {self.rule.describe()}"
            if self.kind is tuple:
                n = f"{self.rule.min_len} or more" if self.rule.max_len is None else \
                    f"{self.rule.min_len} to {self.rule.max_len}"
                return f"{n} comma-separated {self.item.__name__}s, each {where}"
            return f"{'a whole number' if self.kind is int else 'a finite number'} {where}"
        if self.rule is not None:
            return self.rule.describe()
        return {bool: "true or false", str: "text"}.get(self.kind, self.type_name)


def field_specs(cfg_or_cls) -> dict[str, FieldSpec]:
    """Every field of a Config dataclass (class or instance) with its resolved type and declared rule."""
    return _specs(cfg_or_cls if isinstance(cfg_or_cls, type) else type(cfg_or_cls))


@functools.cache
def _specs(cls: type) -> dict[str, FieldSpec]:
    hints = typing.get_type_hints(cls, include_extras=True)
    docs = _field_docs(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint, rule = hints[f.name], None
        if typing.get_origin(hint) is Annotated:
            hint, *extras = typing.get_args(hint)
            rules = [x for x in extras if isinstance(x, (Range, OneOf, Pattern))]
            rule = rules[0] if rules else None
        kind, item = hint, None
        if typing.get_origin(hint) is tuple:
            kind, item = tuple, typing.get_args(hint)[0]
        if kind not in (bool, int, float, str, tuple) or (kind is tuple and item not in (int, float, str)):
            raise TypeError(f"{cls.__module__}.{cls.__name__}.{f.name}: type {hint} cannot be set from the command "
                            f"line; use bool, int, float, str or tuple[int|float|str, ...]")
        out[f.name] = FieldSpec(f.name, kind, item, rule, docs.get(f.name, ""))
    return out


def _field_docs(cls) -> dict[str, str]:
    """The docstring under each field (the cleanrl convention), read from the source when it is there."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body, docs = tree.body[0].body, {}
    for node, nxt in zip(body, body[1:] + [None], strict=True):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())
    return docs


# -- parsing and checking --------------------------------------------------------------------------
def _parse(spec: FieldSpec, text: str):
    def one(kind: type, t: str):
        t = t.strip()
        if kind is bool:
            low = t.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            return int(t, 10)
        return kind(t)

    if spec.kind is tuple:
        return tuple(one(spec.item, t) for t in text.split(",")) if text.strip() else ()
    return one(spec.kind, text)


def parse_overrides(cfg, overrides: dict[str, str]) -> dict[str, Any]:
    """`field=text` pairs parsed by each field's type (not yet checked against its rule)."""
    specs = field_specs(cfg)
    out = {}
    for name, text in overrides.items():
        if name not in specs:
            near = _near(name, specs)
            raise ConfigError(f"--set {name}: no such field{near}; fields are: {', '.join(specs)} "
                              f"(`dlcanon config <paper>` describes them)")
        try:
            out[name] = _parse(specs[name], text)
        except ValueError:
            raise ConfigError(f"--set {name}={text}: {name} takes {specs[name].describe()}, "
                              f"and {text!r} is not one") from None
    return out


def _near(name: str, specs) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(specs), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _problem(spec: FieldSpec, value) -> str | None:
    """Why `value` is not valid for `spec`, or None."""
    kind, rule = spec.kind, spec.rule
    if kind is tuple:
        if not isinstance(value, tuple):
            return "is not a tuple"
        if isinstance(rule, Range):
            if len(value) < rule.min_len or (rule.max_len is not None and len(value) > rule.max_len):
                return f"has {len(value)} item(s)"
        elif not value:
            return "is empty"
        bad = [v for v in value if _item_problem(spec.item, rule, v)]
        return f"has {bad[0]!r}" if bad else None
    return _item_problem(kind, rule, value)


def _item_problem(kind: type, rule, v) -> str | None:
    if kind is bool:
        return None if isinstance(v, bool) else "is not true or false"
    if kind in (int, float):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not isinstance(v, int)):
            return f"is {type(v).__name__}"
        if not math.isfinite(v):
            return "is not finite"
        if isinstance(rule, Range) and not rule.admits(v):
            return "is out of range"
        return None
    if not isinstance(v, str):
        return f"is {type(v).__name__}"
    if isinstance(rule, OneOf) and v not in rule.choices:
        return "is not one of the choices"
    if isinstance(rule, Pattern) and not re.fullmatch(rule.regex, v):
        return "does not match"
    return None


def check_config(cfg, overrides: dict[str, str] | None = None) -> None:
    """Raise ConfigError naming the field, its valid values and what was given, or the Config's own rule."""
    overrides = overrides or {}
    for name, spec in field_specs(cfg).items():
        value = getattr(cfg, name)
        if _problem(spec, value) is not None:
            given = overrides.get(name, _show(value))
            head = f"--set {name}={given}" if name in overrides else f"{name}={given}"
            raise ConfigError(f"{head}: {name} takes {spec.describe()}")
    check = getattr(cfg, "check", None)
    if check is not None:
        try:
            check()
        except ValueError as e:
            raise ConfigError(f"{_overridden(overrides)}{e}") from None


def _show(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _overridden(overrides: dict[str, str]) -> str:
    return "with " + " ".join(f"{k}={v}" for k, v in overrides.items()) + ": " if overrides else ""
