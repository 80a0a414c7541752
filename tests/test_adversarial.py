"""Malformed invocations and damaged files, as a careful tester would try them.

The table of invocations is generated from the CLI's own parser (every bounded integer option, every option with
choices, every positional) and from every paper's Config (every field x empty / negative / zero / nan / inf /
huge / wrong type). Whether a value is out of range is decided here from the declared bounds, not by asking the
checker under test. Each malformed invocation must end with exit status 2, exactly one line on stderr, nothing
on stdout, no traceback, and the results store unchanged (no new run row). The damaged-file cases follow.
They run in-process: the subprocess path is covered by test_cli_resume.py.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from dlcanon import cli
from dlcanon.core import registry
from dlcanon.core.config import OneOf, Pattern, Range, field_specs

HUGE = "99999999999999999999"
PAPER = "mcculloch1943"  # the fastest smoke run
POSITIONAL_EXAMPLES = {"id": PAPER, "action": "status"}


# -- the table ---------------------------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _prefix(p: argparse.ArgumentParser) -> list[str]:
    """The required positionals of a subcommand, filled with valid examples."""
    out = []
    for a in p._actions:
        if not a.option_strings and a.nargs in (None, 1) and a.dest != "help":
            out.append(POSITIONAL_EXAMPLES[a.dest])
    return out


def _int_is_bad(text: str, lo: float | None, hi: float | None, gt: float | None = None,
                lt: float | None = None) -> bool:
    """Whether `text` is outside the declared bounds (or not a whole number at all)."""
    try:
        v = int(text.strip(), 10)
    except ValueError:
        return True
    return (lo is not None and v < lo) or (hi is not None and v > hi) or (gt is not None and v <= gt) or \
        (lt is not None and v >= lt)


def _float_is_bad(text: str, r: Range) -> bool:
    try:
        v = float(text)
    except ValueError:
        return True
    return not math.isfinite(v) or (r.ge is not None and v < r.ge) or (r.gt is not None and v <= r.gt) or \
        (r.le is not None and v > r.le) or (r.lt is not None and v >= r.lt)


BAD_NUMBERS = {"empty": "", "negative": "-1", "zero": "0", "nan": "nan", "inf": "inf", "-inf": "-inf",
               "huge": HUGE, "wrong type": "abc", "fraction": "0.5"}


def cli_cases() -> list[tuple[str, list[str]]]:
    cases = []
    for name, p in _subparsers(cli.build_parser()).items():
        prefix = [name, *_prefix(p)]
        for a in p._actions:
            flag = a.option_strings[0] if a.option_strings else None
            if isinstance(a.type, cli.IntRange):
                for label, text in BAD_NUMBERS.items():
                    if _int_is_bad(text, a.type.lo, a.type.hi):
                        cases.append((f"{name} {flag} {label}", [*prefix, f"{flag}={text}"]))
            elif a.choices and a.dest != "command":
                for text in ("", "bogus"):
                    argv = [*prefix, f"{flag}={text}"] if flag else [name, text]
                    cases.append((f"{name} {flag or a.dest}={text!r}", argv))
            elif not flag and a.dest == "id":
                for text in ("", "nosuchpaper1999", "../../etc/passwd"):
                    cases.append((f"{name} id={text!r}", [name, text]))
        cases.append((f"{name} unknown flag", [*prefix, "--no-such-flag"]))
    cases += [
        ("run --preset bogus", ["run", PAPER, "--preset", "bogus"]),
        ("run --set without =", ["run", PAPER, "--set", "novalue"]),
        ("run --set =5", ["run", PAPER, "--set", "=5"]),
        ("run --set unknown field", ["run", PAPER, "--set", "nosuchfield=1"]),
        ("run --resume nothing to resume", ["run", PAPER, "--preset", "smoke", "--seed", "12345", "--resume"]),
        ("reproduce unknown id", ["reproduce", PAPER, "nosuchpaper1999"]),
        ("reproduce --preset bogus", ["reproduce", "--preset", "bogus"]),
        ("reproduce --device cuda without CUDA", ["reproduce", PAPER, "--device", "cuda"]),
        ("run --device cuda without CUDA", ["run", PAPER, "--device", "cuda"]),
        ("list --era bogus", ["list", "--era", "bogus"]),
        ("graph --era bogus", ["graph", "--era", "bogus"]),
        ("bib --tier bogus", ["bib", "--tier", "bogus"]),
        ("bib unknown id", ["bib", "nosuchpaper1999"]),
        ("results unknown paper", ["results", "nosuchpaper1999"]),
        ("results --run absent", ["results", "--run", "999999"]),
        ("config --preset bogus", ["config", PAPER, "--preset", "bogus"]),
        ("report --out a file", ["report", "--out", "/etc/passwd"]),
        ("report --out under a file", ["report", "--out", "/etc/passwd/report"]),
        ("no command", []),
    ]
    return cases


def _config_bad_texts(spec) -> dict[str, str]:
    """Every kind of bad value for one field, keeping those the declared rule forbids."""
    rule = spec.rule
    if spec.kind is bool:
        return {"empty": "", "wrong type": "maybe", "number": "2"}
    if spec.kind is str:
        texts = {"empty": "", "wrong": "no such value ~"}
        if isinstance(rule, OneOf):
            return {k: t for k, t in texts.items() if t not in rule.choices}
        import re

        regex = rule.regex if isinstance(rule, Pattern) else ".*"  # undeclared: the contract test fails it
        return {k: t for k, t in texts.items() if not re.fullmatch(regex, t)}
    item = spec.item if spec.kind is tuple else spec.kind
    rule = rule or Range()                             # an undeclared range fails the contract test instead
    out = {}
    for label, text in BAD_NUMBERS.items():
        if item is int:
            bad = _int_is_bad(text, rule.ge, rule.le, rule.gt, rule.lt)
        else:
            bad = _float_is_bad(text, rule)
        if bad and not (spec.kind is tuple and label == "empty" and rule.min_len == 0):
            out[label] = text
    if spec.kind is tuple:
        out["hole"] = "1,,2"
    return out


def config_cases() -> list[tuple[str, list[str]]]:
    cases = []
    for pid in registry.implemented():
        for spec in field_specs(registry.get(pid).presets["smoke"]).values():
            for label, text in _config_bad_texts(spec).items():
                cases.append((f"{pid} {spec.name} {label}", ["run", pid, "--preset", "smoke", "--set",
                                                             f"{spec.name}={text}"]))
    return cases


CLI_CASES, CONFIG_CASES = cli_cases(), config_cases()


def test_the_table_is_big_enough_and_covers_every_paper_and_command():
    assert len(CLI_CASES) + len(CONFIG_CASES) >= 200
    commands = {argv[0] for _, argv in CLI_CASES if argv}
    assert commands == set(_subparsers(cli.build_parser()))
    assert {argv[1] for _, argv in CONFIG_CASES} == set(registry.implemented())
    assert len({name for name, _ in CLI_CASES + CONFIG_CASES}) == len(CLI_CASES) + len(CONFIG_CASES)


# -- running it --------------------------------------------------------------------------------------
def invoke(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def dump(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
    finally:
        db.close()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A store holding one finished run: every malformed invocation must leave it exactly so."""
    from dlcanon.core import runtime
    from dlcanon.core.results import Store

    d = tmp_path_factory.mktemp("adversarial_home")
    runtime.execute(registry.get(PAPER), "smoke", device="cpu", store=Store(d / "results.sqlite"), quiet=True)
    return d


@pytest.fixture
def in_home(home, monkeypatch):
    monkeypatch.setenv("DLCANON_HOME", str(home))
    monkeypatch.delenv("DLCANON_THREADS", raising=False)
    before = dump(home / "results.sqlite")
    yield home
    assert dump(home / "results.sqlite") == before, "the store changed"


def assert_one_clean_line(rc: int, out: str, err: str, expected_rc: int = 2) -> None:
    assert "Traceback" not in err + out, err
    assert rc == expected_rc, f"exit {rc}, stderr: {err!r}"
    assert len(err.strip().splitlines()) == 1, f"stderr is not one line: {err!r}"
    assert out == "", f"stdout should be empty: {out[:200]!r}"


@pytest.mark.parametrize("argv", [c[1] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_malformed_cli_invocation(argv, in_home, capsys):
    rc, out, err = invoke(argv, capsys)
    if argv == []:                                     # no command: the help, and status 2
        assert rc == 2 and "usage" in out and err == ""
        return
    assert_one_clean_line(rc, out, err)


@pytest.mark.parametrize("argv", [c[1] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES])
def test_malformed_config_override(argv, in_home, capsys):
    rc, out, err = invoke(argv, capsys)
    assert_one_clean_line(rc, out, err)
    field = argv[-1].split("=", 1)[0]
    assert field in err, f"the error does not name the field: {err!r}"


@pytest.mark.parametrize("value", ["abc", "0", "-1", HUGE, "1.5"])
def test_bad_thread_count_in_the_environment(value, in_home, monkeypatch, capsys):
    monkeypatch.setenv("DLCANON_THREADS", value)
    assert_one_clean_line(*invoke(["run", PAPER, "--preset", "smoke"], capsys))


def test_home_and_cache_that_are_files(tmp_path, monkeypatch, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    monkeypatch.setenv("DLCANON_HOME", str(a_file))
    for argv in (["results"], ["run", PAPER, "--preset", "smoke"], ["show", PAPER], ["report"]):
        rc, out, err = invoke(argv, capsys)
        assert_one_clean_line(rc, out, err)
        assert "is a file, not a folder" in err
    monkeypatch.setenv("DLCANON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DLCANON_CACHE", str(a_file))
    rc, out, err = invoke(["run", "cybenko1989", "--preset", "smoke"], capsys)
    assert_one_clean_line(rc, out, err)
    assert "DLCANON_CACHE" in err
    assert dump(tmp_path / "home" / "results.sqlite") == dump_empty(tmp_path), "a run row was written"


def dump_empty(tmp_path: Path) -> list[str]:
    from dlcanon.core.results import Store

    return dump(Store(tmp_path / "empty" / "results.sqlite").path)


# -- a damaged results store -------------------------------------------------------------------------
STORE_COMMANDS = [["results"], ["results", PAPER], ["show", PAPER], ["run", PAPER, "--preset", "smoke"], ["report"],
                  ["reproduce", PAPER, "--preset", "smoke"]]


def _damage(home: Path, how: str) -> None:
    path = home / "results.sqlite"
    if how == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(8192))
    elif how == "zero bytes":
        path.write_bytes(b"")
    elif how == "foreign sqlite":
        path.unlink()
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE moz_places (id INTEGER, url TEXT)")
        db.commit()
        db.close()
    elif how == "runs table of another shape":
        path.unlink()
        db = sqlite3.connect(path)
        db.executescript("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, x TEXT); CREATE TABLE metrics (a);"
                         "CREATE TABLE claims (a);")
        db.close()
    elif how == "torn pages":
        data = bytearray(path.read_bytes())
        page = 4096
        data[page:] = np.random.default_rng(1).bytes(len(data) - page)
        path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A store with three real runs (and their folders), checkpointed into one file."""
    from dlcanon.core import runtime
    from dlcanon.core.results import Store

    d = tmp_path_factory.mktemp("pristine")
    store = Store(d / "results.sqlite")
    for seed in range(3):
        runtime.execute(registry.get(PAPER), "smoke", seed=seed, device="cpu", store=store, quiet=True)
    db = sqlite3.connect(store.path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    return d


@pytest.fixture
def damaged_home(pristine, tmp_path, monkeypatch):
    """A copy of the pristine home, ready to be damaged."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(pristine, home)
    monkeypatch.setenv("DLCANON_HOME", str(home))
    return home


@pytest.mark.parametrize("how", ["garbage", "zero bytes", "foreign sqlite", "runs table of another shape",
                                 "torn pages"])
def test_a_damaged_store_gives_one_line_and_is_never_replaced(how, damaged_home, capsys):
    _damage(damaged_home, how)
    path = damaged_home / "results.sqlite"
    before = path.read_bytes()
    for argv in STORE_COMMANDS:
        rc, out, err = invoke(argv, capsys)
        assert_one_clean_line(rc, out, err)
        assert str(path) in err, err
        assert path.read_bytes() == before, f"`dlcanon {' '.join(argv)}` changed the damaged store"
    rc, out, err = invoke(["doctor"], capsys)             # doctor reports it (exit 1) and leaves it alone
    assert rc == 1 and "Traceback" not in out + err and "problem" in out
    assert path.read_bytes() == before


def test_an_emptied_store_is_reported_as_lost_runs(damaged_home, capsys):
    _damage(damaged_home, "zero bytes")
    rc, out, err = invoke(["results"], capsys)
    assert_one_clean_line(rc, out, err)
    assert "records runs up to 0" in err and "run folders up to 3" in err


# -- a damaged data cache ----------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["truncated", "zero bytes", "garbage"])
def test_a_torn_cache_file_is_rebuilt_from_the_source(how, tmp_path, monkeypatch, capsys):
    from dlcanon.core.data import vega
    from dlcanon.core.testing import need

    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path))
    fresh = need(vega.load)
    (cache_file,) = tmp_path.glob("*.npz")
    size = cache_file.stat().st_size
    if how == "truncated":
        with open(cache_file, "r+b") as f:
            f.truncate(size // 2)
    elif how == "zero bytes":
        cache_file.write_bytes(b"")
    else:
        cache_file.write_bytes(np.random.default_rng(2).bytes(size))
    again = vega.load()
    assert set(again) == set(fresh) and all(np.array_equal(again[k], fresh[k]) for k in fresh)
    assert "rebuilding it from the source" in capsys.readouterr().err
    assert cache_file.stat().st_size == size                  # rebuilt whole on disk, not just in memory
    assert vega.load().keys() == fresh.keys()                 # and read back without another rebuild
    assert capsys.readouterr().err == ""


def test_doctor_rebuilds_a_torn_cache_file(tmp_path, monkeypatch, capsys):
    from dlcanon.core.data import vega
    from dlcanon.core.testing import need

    monkeypatch.setenv("DLCANON_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DLCANON_HOME", str(tmp_path / "home"))
    need(vega.load)
    (cache_file,) = (tmp_path / "cache").glob("*.npz")
    whole = cache_file.read_bytes()
    cache_file.write_bytes(whole[:1000])
    rc, out, err = invoke(["doctor", "--json"], capsys)
    assert "Traceback" not in err
    import json

    findings = json.loads(out)
    assert any(f["area"] == "cache" and f["status"] == "repaired" and cache_file.name in f["detail"]
               for f in findings), findings
    assert cache_file.stat().st_size == len(whole)
    assert rc == (1 if any(f["status"] == "problem" for f in findings) else 0)


# -- a tampered checkpoint ---------------------------------------------------------------------------
def _toy_paper():
    import importlib.util

    spec = importlib.util.spec_from_file_location("toy_paper", Path(__file__).parent / "toy_paper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tampered_checkpoint_is_refused_and_the_run_resumes_from_the_previous_one(tmp_path, monkeypatch, capsys):
    from dlcanon.core import runtime
    from dlcanon.core.checkpoint import generations
    from dlcanon.core.results import Store

    toy_paper = _toy_paper()

    store = Store(tmp_path / "results.sqlite")
    kw = dict(device="cpu", store=store, quiet=True, overrides={"steps": "12"})
    whole = runtime.execute(toy_paper.PAPER, "quick", **kw)
    calls = []
    real = runtime.RunContext.checkpoint

    def dies_after_seventh(ctx, step, state):
        real(ctx, step, state)
        calls.append(step)
        if len(calls) == 7:
            raise KeyboardInterrupt

    monkeypatch.setattr(runtime.RunContext, "checkpoint", dies_after_seventh)
    with pytest.raises(KeyboardInterrupt):
        runtime.execute(toy_paper.PAPER, "quick", **kw)
    monkeypatch.setattr(runtime.RunContext, "checkpoint", real)
    killed = store.runs(limit=1)[0]
    newest = generations(store.run_dir(killed["id"]) / "checkpoint")[0]
    newest.write_text(newest.read_text().replace('["step", 7]', '["step", 9]'))
    capsys.readouterr()
    resumed = runtime.execute(toy_paper.PAPER, "quick", resume=True, **kw)
    err = capsys.readouterr().err
    assert "state does not match its checksum" in err and "previous checkpoint (step 6)" in err
    assert len(err.strip().splitlines()) == 1
    assert resumed.run_id == killed["id"] and resumed.metrics == whole.metrics
