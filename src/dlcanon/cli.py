"""The dlcanon command line: browse the canon, run and reproduce its papers, report what was measured.

Every user mistake ends in one line on stderr and exit status 2; data that is missing names the command
that installs it. Output that is data takes --json.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time
from pathlib import Path

from .catalog import TIERS, CatalogError, load_catalog
from .core.config import SEED_MAX
from .core.errors import UserError, cpu_count

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {_one_line(message)} (see `{self.prog} --help`)\n")


class IntRange:
    """An argparse type: a whole number in [lo, hi]. The adversarial tests read lo and hi from the parser."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi
        self.__name__ = f"whole number from {lo} to {hi}"      # argparse names the type in its error

    def __call__(self, text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number from {self.lo} to {self.hi}, "
                                             f"got {text!r}") from None
        if not self.lo <= value <= self.hi:
            raise argparse.ArgumentTypeError(f"{value} is out of range: from {self.lo} to {self.hi}")
        return value


def _overrides_text(run) -> str:
    return " ".join(f"{k}={v}" for k, v in json.loads(run["overrides"]).items())


def _show_value(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# -- helpers -----------------------------------------------------------------------------------------
def _emit_json(obj) -> None:
    from .core.results import json_safe

    json.dump(json_safe(obj), sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")


MARKUP = re.compile(r"\[/?[a-z ]*\]")
"""rich's colour tags ([green]...[/]) in table cells; dropped in plain output"""


def _table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    """A rich table on a terminal; plain aligned columns in a pipe or file (fast, and easy to grep)."""
    if not sys.stdout.isatty():
        cells = [headers, *[[MARKUP.sub("", " ".join(str(x).split())) for x in r] for r in rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        lines = [f"{title}" if title else None, *("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                                                 for r in cells)]
        sys.stdout.write("\n".join(x for x in lines if x is not None) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for h in headers:
        t.add_column(h, overflow="fold")
    for r in rows:
        t.add_row(*[str(x) for x in r])
    Console().print(t)


def _catalog():
    from .core.registry import implemented

    cat = load_catalog()
    cat.validate(implemented=implemented())
    return cat


def _entry_or_error(cat, pid: str):
    if pid not in cat:
        near = cat.nearest(pid)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise UserError(f"unknown paper id {pid!r}{hint} (`dlcanon list` shows them all)")
    return cat[pid]


def _paper(pid: str):
    from .core import registry

    cat = load_catalog()
    if pid not in registry.implemented():
        if pid in cat:
            raise UserError(f"{pid} is in the catalog but not implemented yet; implemented: "
                            f"{', '.join(registry.implemented())}")
        _entry_or_error(cat, pid)
    return registry.get(pid)


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs or []:
        if "=" not in p or p.startswith("="):
            raise UserError(f"--set expects field=value, got {p!r}")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _store():
    from .core.results import Store

    return Store()


# -- commands ----------------------------------------------------------------------------------------
def cmd_list(a) -> int:
    from .core.registry import implemented

    cat = _catalog()
    if a.era and a.era not in cat.eras:
        raise UserError(f"unknown era {a.era!r}; eras: {', '.join(cat.eras)}")
    done = set(implemented())
    entries = cat.filter(era=a.era, tier=a.tier, concept=a.concept)
    if a.status:
        entries = [e for e in entries if (e.id in done) == (a.status == "implemented")]
    if a.json:
        _emit_json([{**_entry_dict(e), "implemented": e.id in done} for e in entries])
        return 0
    rows = [[e.id, e.year, e.title[:70], ",".join(e.tiers), "implemented" if e.id in done else "-"] for e in entries]
    _table(["id", "year", "title", "tiers", "status"], rows, title=f"{len(entries)} papers")
    return 0


def _entry_dict(e) -> dict:
    return {"id": e.id, "year": e.year, "title": e.title, "authors": list(e.authors), "url": e.url, "era": e.era,
            "tiers": list(e.tiers), "concepts": list(e.concepts), "question": e.question,
            "builds_on": list(e.builds_on), "title_zh": e.title_zh}


def cmd_show(a) -> int:
    from .core import registry

    cat = _catalog()
    e = _entry_or_error(cat, a.id)
    info = _entry_dict(e)
    info["led_to"] = cat.led_to(e.id)
    info["implemented"] = e.id in registry.implemented()
    if info["implemented"]:
        from . import record
        from .report import comparison_rows

        info["record"] = [{k: v for k, v in x.items() if k not in ("metrics", "spread", "claims")}
                          for x in (record.load(e.id) or {"entries": []})["entries"]]
        info["claims"] = comparison_rows(_store(), e.id)
    if a.json:
        _emit_json(info)
        return 0
    print(f"{e.id} ({e.year}) — {e.title}")
    print(f"  authors:    {', '.join(e.authors)}")
    print(f"  url:        {e.url}")
    print(f"  era:        {cat.eras[e.era].name}   tiers: {', '.join(e.tiers)}")
    print(f"  concepts:   {', '.join(e.concepts)}")
    print(f"  question:   {e.question}")
    print(f"  builds on:  {', '.join(e.builds_on) or '-'}")
    print(f"  led to:     {', '.join(info['led_to']) or '-'}")
    if not info["implemented"]:
        print("  status:     not implemented yet")
        return 0
    print(f"  status:     implemented — `dlcanon run {e.id}`, `dlcanon config {e.id}`")
    _print_claims(info)
    return 0


def _print_claims(info: dict) -> None:
    from .report import VERDICT, fmt, provenance

    for entry in info["record"]:
        print(f"  record:     {provenance(entry)}")
    mine = lambda c: f"{fmt(c['measured'])} {VERDICT[c['verdict']]}" if c else "not run"
    for c in info["claims"]:
        print(f"\n  {c['name']}: {c['statement']}")
        print(f"      the paper:  {c['paper_value']}")
        print(f"      record:     quick {mine(c['record_quick'])} · full {mine(c['record_full'])}")
        print(f"      yours:      quick {mine(c['yours_quick'])} · full {mine(c['yours_full'])}")
        print(f"      scale:      {c['scale_note']}")
        if c["known_fail"]:
            print(f"      known-fail: {c['known_fail']}")


def _claim_rows(paper: str, claims: list[dict]) -> list[list]:
    from .report import VERDICT, fmt

    colour = {"pass": "green", "fail": "bold red", "known-fail": "yellow", "unjudged": "dim"}
    ours = lambda c: fmt(c["measured"]) + (f" ± {fmt(c['spread'])}" if c.get("spread") else "")
    return [[paper, c["claim"], ours(c), " ".join(c["statement"].rsplit(" ", 2)[-2:]),
             f"[{colour[c['verdict']]}]{VERDICT[c['verdict']]}[/]"] for c in claims]


CLAIM_HEADERS = ["paper", "claim", "ours", "bar", "verdict"]


def cmd_run(a) -> int:
    from .core import runtime
    from .report import fmt

    paper = _paper(a.id)
    threads = a.threads if a.threads is not None else runtime.default_threads()
    overrides = _overrides(a.set)
    cfg = paper.config(a.preset, overrides)           # a bad preset or override fails before any output
    t0 = time.perf_counter()

    def announce(line: str) -> None:
        import dataclasses

        shown = [f"{k}={_show_value(v)}{'*' if k in overrides else ''}" for k, v in dataclasses.asdict(cfg).items()]
        print(line, file=sys.stderr)
        print(f"  config: {', '.join(shown)}" + ("   (* overridden: a custom run, not the preset's result)"
                                                 if overrides else ""), file=sys.stderr)

    result = runtime.execute(paper, a.preset, seed=a.seed, device=a.device, overrides=overrides,
                             resume=a.resume, threads=threads, quiet=a.json, announce=None if a.json else announce)
    if a.json:
        _emit_json({"run": result.run_id, "paper": result.paper, "preset": result.preset, "seed": result.seed,
                    "device": result.device, "wall_s": result.wall_s, "metrics": result.metrics,
                    "claims": result.claims, "folder": str(result.out_dir)})
    else:
        custom = " custom" if overrides else ""
        _table(CLAIM_HEADERS, _claim_rows(a.id, result.claims),
               title=f"run {result.run_id}: {a.id} ({a.preset}{custom}, seed {a.seed}, {result.wall_s:.1f} s)")
        print("metrics: " + ", ".join(f"{k}={fmt(v)}" for k, v in sorted(result.metrics.items())))
        print(f"files:   {result.out_dir}   ({time.perf_counter() - t0:.1f} s); the paper's figures: "
              f"`dlcanon show {a.id}`")
    return 0 if result.ok else 1


def _run_job(args: tuple) -> dict:
    """One paper on one seed, in a worker process (one torch thread). Never raises: errors are returned."""
    pid, preset, seed, device = args
    from .core import registry, runtime

    try:
        r = runtime.execute(registry.get(pid), preset, seed=seed, device=device, threads=1, quiet=True)
        return {"paper": pid, "run": r.run_id, "seed": seed, "device": r.device, "wall_s": r.wall_s,
                "metrics": r.metrics, "claims": r.claims, "error": None}
    except Exception as e:  # a crash in one paper must not hide the others' results
        return {"paper": pid, "run": None, "seed": seed, "device": device, "wall_s": 0.0, "metrics": {},
                "claims": [], "error": f"{type(e).__name__}: {_one_line(e)}"}


def _run_jobs(jobs: list[tuple], n_workers: int, expected: dict[str, float]):
    """Run jobs on n_workers processes; yield each result as it finishes, in finishing order, printing a line
    per paper with an ETA (from the record's wall times), and a bar per running paper on a terminal."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    t0, done, total = time.perf_counter(), 0, len(jobs)
    left = {j: expected.get(j[0], 0.0) for j in jobs}
    progress = _Bars(jobs, expected) if sys.stderr.isatty() else None
    with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn")) as pool:
        pending = {pool.submit(_run_job, j): j for j in jobs}
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if progress:
                progress.tick()
            for fut in finished:
                job = pending.pop(fut)
                r = fut.result()
                done += 1
                left.pop(job)
                eta = sum(left.values()) / n_workers
                if progress:
                    progress.finish(job)
                print(f"  [{done}/{total}] {_verdict_counts(r)}   {time.perf_counter() - t0:.0f} s elapsed"
                      f"{f', about {eta:.0f} s left' if left and eta else ''}", file=sys.stderr)
                yield r
    if progress:
        progress.stop()


class _Bars:
    """One bar per running paper (rich), advanced by elapsed time against the record's wall time."""

    def __init__(self, jobs: list[tuple], expected: dict[str, float]):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True)
        self.tasks = {j: self.p.add_task(f"{j[0]} (seed {j[2]})",
                                         total=expected.get(j[0]) or None) for j in jobs}
        self.t0 = time.perf_counter()
        self.p.start()

    def tick(self):
        for task in self.tasks.values():
            if not self.p.tasks[task].finished:
                self.p.update(task, completed=time.perf_counter() - self.t0)

    def finish(self, job):
        self.p.remove_task(self.tasks.pop(job))

    def stop(self):
        self.p.stop()


def _verdict_counts(r: dict) -> str:
    from .report import VERDICT

    if r["error"]:
        return f"{r['paper']}: ERROR {r['error']}"
    v = [c["verdict"] for c in r["claims"]]
    counts = ", ".join(f"{v.count(k)} {VERDICT[k]}" for k in ("pass", "fail", "known-fail", "unjudged") if v.count(k))
    return f"{r['paper']}: {counts} ({r['wall_s']:.1f} s)"


def _expected_walls(ids: list[str], preset: str) -> dict[str, float]:
    from . import record

    return {pid: e["wall_s"] / len(e["seeds"]) for pid in ids
            if (e := record.entry(record.load(pid), preset)) is not None}


def _preflight(ids: list[str], preset: str, device: str) -> None:
    """Everything a batch can get wrong, checked before any work: ids, preset, device, store, cache folder."""
    from .core.data import checked_cache_dir
    from .core.runtime import pick_device

    for pid in ids:
        _paper(pid).config(preset)
    pick_device(device)
    _store()
    checked_cache_dir()


def cmd_reproduce(a) -> int:
    from .core import registry

    ids = a.ids or registry.implemented()
    _preflight(ids, a.preset, a.device)
    jobs = [(pid, a.preset, a.seed, a.device) for pid in ids]
    print(f"reproducing {len(ids)} paper(s), preset {a.preset}, {a.jobs} job(s) ...", file=sys.stderr)
    t0 = time.perf_counter()
    results = list(_run_jobs(jobs, a.jobs, _expected_walls(ids, a.preset)))
    results.sort(key=lambda r: ids.index(r["paper"]))
    rows, bad = [], 0
    for r in results:
        if r["error"]:
            bad += 1
            rows.append([r["paper"], "(run failed)", "-", "-", f"[bold red]error[/]: {r['error'][:80]}"])
        bad += sum(c["verdict"] == "fail" for c in r["claims"])
        rows += _claim_rows(r["paper"], r["claims"])
    if a.json:
        _emit_json(results)
    else:
        _table(CLAIM_HEADERS, rows, title=f"dlcanon reproduce ({a.preset})")
        n = sum(len(r["claims"]) for r in results)
        print(f"{n} claims in {len(ids)} papers, {bad} failing, {time.perf_counter() - t0:.1f} s in all; "
              f"the paper's figures beside ours: `dlcanon show ID`")
    return 1 if bad else 0


def cmd_record(a) -> int:
    """Write the results of record from fresh runs of the unmodified presets (for the people who build dlcanon)."""
    from . import record
    from .core import registry
    from .report import render_docs

    ids = a.ids or registry.implemented()
    if a.render:
        for pid in ids:
            paper = registry.get(pid)
            if stale := record.stale_claims(paper):
                raise UserError(f"{pid}: claims {', '.join(stale)} changed since they were recorded; "
                                f"record the paper again (`dlcanon record {pid} --preset quick`, and full)")
            if record.refresh_texts(paper):
                print(f"refreshed claim texts in {record.path(pid)}")
        for p in render_docs():
            print(f"updated {p}")
        return 0
    git = record.git_state()
    if git["dirty"] and not a.allow_dirty:
        raise UserError("the source has uncommitted changes, so the record could not name the code it measured; "
                        "commit first, or pass --allow-dirty (the record then says so)")
    _preflight(ids, a.preset, a.device)
    jobs = [(pid, a.preset, seed, a.device) for pid in ids for seed in range(a.seeds)]
    print(f"recording {len(ids)} paper(s), preset {a.preset}, {a.seeds} seed(s), {a.jobs} job(s) ...",
          file=sys.stderr)
    runs = list(_run_jobs(jobs, a.jobs, _expected_walls(ids, a.preset)))
    failed = [r for r in runs if r["error"]]
    for pid in ids:
        mine = sorted((r for r in runs if r["paper"] == pid and not r["error"]), key=lambda r: r["seed"])
        if len(mine) < a.seeds:
            print(f"  {pid}: not recorded ({a.seeds - len(mine)} run(s) failed)", file=sys.stderr)
            continue
        paper = registry.get(pid)
        entry = record.make_entry(paper, a.preset, mine, git)
        print(f"  {pid}: {record.write(paper, entry)}", file=sys.stderr)
    for p in render_docs():
        print(f"updated {p}")
    return 1 if failed else 0


def cmd_results(a) -> int:
    from .report import VERDICT, fmt

    store = _store()
    if a.run is not None:
        run = store.run(a.run)
        if run is None:
            raise UserError(f"no run {a.run} in {store.path}")
        info = {**dict(run), "config": json.loads(run["config"]), "metrics": store.final_metrics(a.run),
                "claims": [dict(c) for c in store.claims(a.run)]}
        if a.json:
            _emit_json(info)
            return 0
        info["overrides"] = json.loads(run["overrides"])
        for k in ("id", "paper", "preset", "seed", "device", "status", "wall_s", "git_rev", "error"):
            print(f"{k:8s} {info[k]}")
        if info["overrides"]:
            print(f"custom   a custom run: {_overrides_text(run)}")
        print("config   " + ", ".join(f"{k}={v}" for k, v in info["config"].items()))
        print("metrics  " + ", ".join(f"{k}={fmt(v)}" for k, v in sorted(info["metrics"].items())))
        for c in info["claims"]:
            print(f"claim    {c['claim']}: {c['statement']} measured {fmt(c['measured'])} -> {VERDICT[c['verdict']]}")
        return 0
    if a.id is not None:
        from .core import registry

        if a.id not in registry.implemented():
            _paper(a.id)
    rows = store.runs(a.id, limit=a.limit)
    if a.json:
        _emit_json([dict(r) for r in rows])
        return 0
    table = []
    for r in rows:
        verdicts = [c["verdict"] for c in store.claims(r["id"])]
        summary = f"{verdicts.count('pass')}/{len(verdicts)} pass" if verdicts else "-"
        wall = f"{r['wall_s']:.1f} s" if r["wall_s"] is not None else "-"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"]))
        preset = r["preset"] if r["overrides"] == "{}" else f"{r['preset']} custom: {_overrides_text(r)}"
        table.append([r["id"], r["paper"], preset, r["seed"], r["device"], r["status"], summary, wall, when])
    _table(["run", "paper", "preset", "seed", "device", "status", "claims", "wall", "started"], table,
           title=f"runs in {store.path}")
    return 0


def cmd_report(a) -> int:
    from .core.errors import usable_dir
    from .core.results import home
    from .report import write_report

    store = _store()
    out = usable_dir(Path(a.out) if a.out else home() / "report", "--out")
    md, page = write_report(store, out)
    print(f"report: {md}\n        {page}")
    return 0


def cmd_config(a) -> int:
    from .core.config import field_specs

    paper = _paper(a.id)
    if a.preset and a.preset not in paper.presets:
        raise UserError(f"unknown preset {a.preset!r}; choose one of: {', '.join(paper.presets)}")
    presets = [a.preset] if a.preset else list(paper.presets)
    specs = field_specs(paper.presets[presets[0]])
    rows = [{"field": s.name, "type": s.type_name, "valid": s.describe(), "doc": s.doc,
             **{p: getattr(paper.presets[p], s.name) for p in presets}} for s in specs.values()]
    if a.json:
        _emit_json(rows)
        return 0
    show = lambda v: ",".join(map(str, v)) if isinstance(v, tuple) else str(v)
    _table(["field", *presets, "valid values", "what it is"],
           [[r["field"], *[show(r[p]) for p in presets], r["valid"], r["doc"]] for r in rows],
           title=f"{a.id}: Config fields (override with `dlcanon run {a.id} --set FIELD=VALUE`)")
    return 0


def cmd_doctor(a) -> int:
    from .doctor import check_all

    findings = check_all()
    if a.json:
        _emit_json([f.__dict__ for f in findings])
    else:
        colour = {"ok": "green", "repaired": "yellow", "problem": "red"}
        _table(["area", "status", "detail"],
               [[f.area, f"[{colour[f.status]}]{f.status}[/]", f.detail] for f in findings], title="dlcanon doctor")
        problems = sum(f.status == "problem" for f in findings)
        repaired = sum(f.status == "repaired" for f in findings)
        print(f"{problems} problem(s) need you, {repaired} repaired")
    return 1 if any(f.status == "problem" for f in findings) else 0


def cmd_new(a) -> int:
    from .core import registry
    from .scaffold import create

    cat = load_catalog()
    e = _entry_or_error(cat, a.id)
    if e.id in registry.implemented():
        raise UserError(f"{e.id} is implemented already (src/dlcanon/papers/{e.id})")
    folder = create(e)
    print(f"created {folder} and listed {e.id} in papers/__init__.py; next: fill in model.py, experiment.py and "
          f"notes.md, then `dlcanon run {e.id} --preset smoke` and `pytest src/dlcanon/papers/{e.id}`")
    return 0


def cmd_completion(a) -> int:
    sys.stdout.write(completion_script(build_parser(), sorted(load_catalog().papers), a.shell))
    return 0


def completion_script(parser: argparse.ArgumentParser, ids: list[str], shell: str = "bash") -> str:
    """A bash completion function generated from the parser itself (zsh runs it through bashcompinit)."""
    sub = next(x for x in parser._actions if isinstance(x, argparse._SubParsersAction))
    cases, values = [], []
    for name, p in sub.choices.items():
        flags = " ".join(o for x in p._actions for o in x.option_strings)
        takes_id = any(not x.option_strings and x.dest in ("id", "ids") for x in p._actions)
        cases.append(f'    {name}) opts="{flags}"{"; words=$ids" if takes_id else ""} ;;')
        for x in p._actions:
            if x.option_strings and x.choices:
                values.append(f'    {x.option_strings[-1]}) COMPREPLY=($(compgen -W "{" ".join(x.choices)}" -- '
                              f'"$cur")); return ;;')
            elif x.option_strings and x.dest == "preset":
                values.append(f'    {x.option_strings[-1]}) COMPREPLY=($(compgen -W "smoke quick full" -- "$cur"));'
                              f" return ;;")
    values = list(dict.fromkeys(values))
    script = "\n".join([
        "# dlcanon completion (generated by `dlcanon completion`); source it from ~/.bashrc",
        *(["autoload -U +X bashcompinit && bashcompinit"] if shell == "zsh" else []),
        "_dlcanon() {",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" opts="" words=""',
        f'  local ids="{" ".join(ids)}"',
        "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
        f'    COMPREPLY=($(compgen -W "{" ".join(sub.choices)} --help --version" -- "$cur")); return',
        "  fi",
        '  case "$prev" in', *values, "  esac",
        '  case "${COMP_WORDS[1]}" in', *cases, "  esac",
        '  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"));'
        ' else COMPREPLY=($(compgen -W "$words" -- "$cur")); fi',
        "}",
        "complete -F _dlcanon dlcanon",
    ])
    return script + "\n"


def cmd_bib(a) -> int:
    from .catalog.export import bibtex

    cat = _catalog()
    if a.tier and a.tier not in TIERS:
        raise UserError(f"unknown tier {a.tier!r}; tiers: {', '.join(TIERS)}")
    entries = [_entry_or_error(cat, i) for i in a.ids] if a.ids else cat.filter(tier=a.tier)
    sys.stdout.write(bibtex(entries))
    return 0


def cmd_authors(a) -> int:
    from .catalog.export import author_stats

    cat = _catalog()
    stats = author_stats(cat.filter(tier=a.tier), top=a.top)
    if a.json:
        _emit_json(stats)
        return 0
    print(f"{stats['papers']} papers, {stats['authors']} distinct authors, "
          f"mean team size {stats['mean_team_size']}")
    _table(["author", "papers"], [[r["author"], r["papers"]] for r in stats["most_papers"]], "most papers")
    _table(["collaborators", "papers together"],
           [[" & ".join(r["authors"]), r["papers"]] for r in stats["collaborations"]], "most frequent collaborations")
    return 0


def cmd_graph(a) -> int:
    from .catalog.export import graph

    cat = _catalog()
    sys.stdout.write(graph(cat.filter(tier=a.tier, era=a.era), a.format))
    return 0


def cmd_data(a) -> int:
    from .core.data.pypi_archive import fetch_all
    from .core.data.sources import SOURCES, install_mnist, run_system_install

    if a.action == "install":
        if not a.no_system:
            script = Path(__file__).resolve().parents[2] / "scripts" / "install-system-data.sh"
            if not script.exists():
                raise UserError(f"{script} not found: run `dlcanon data install` from a source checkout, "
                                f"or pass --no-system and install the Debian packages yourself")
            rc = run_system_install(script)
            if rc != 0:
                print(f"dlcanon: system data install exited {rc}", file=sys.stderr)
                return rc
        install_mnist()
        fetch_all()
        a.action = "status"
    rows = []
    for s in SOURCES:
        ok, where = s.status()
        rows.append({"source": s.name, "present": ok, "where": where, "used_by": s.used_by})
    if a.json:
        _emit_json(rows)
    else:
        _table(["source", "present", "where / how to install", "used by"],
               [[r["source"], "yes" if r["present"] else "NO", r["where"], r["used_by"]] for r in rows])
    return 0 if all(r["present"] for r in rows) or not a.strict else 1


def cmd_serve(a) -> int:
    import ipaddress
    import socket

    try:
        loopback = a.host == "localhost" or ipaddress.ip_address(a.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not a.allow_remote:
        raise UserError(f"--host {a.host} is not a loopback address; the guide can start runs, so it listens on "
                        f"this machine only unless you pass --allow-remote")
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:    # a busy port: one line, not a uvicorn traceback
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)          # as uvicorn does
        try:
            probe.bind((a.host, a.port))
        except OSError as e:
            raise UserError(f"cannot listen on {a.host}:{a.port} ({e.strerror}); pick another --port") from None
    import uvicorn

    from .web.app import create_app

    app = create_app(allow_remote=a.allow_remote)
    url = f"http://{f'[{a.host}]' if ':' in a.host else a.host}:{a.port}/"
    print(f"dlcanon guide at {url}   (Ctrl-C stops it)", file=sys.stderr)
    if a.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


# -- parser ------------------------------------------------------------------------------------------
@functools.cache
def build_parser() -> Parser:
    p = Parser(prog="dlcanon", description="The deep learning canon, runnable: browse the papers, run their "
               "systems, check their claims.",
               epilog="Start with `dlcanon list`, `dlcanon show lecun1989`, `dlcanon run lecun1989`.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"dlcanon {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    s = sub.add_parser("list", help="list papers in the catalog (filter by era, tier, status, concept)")
    s.add_argument("--era", help="an era id (see `dlcanon list --json` or eras.toml)")
    s.add_argument("--tier", choices=TIERS, help="which seed list the paper comes from")
    s.add_argument("--status", choices=["implemented", "planned"], help="implemented here or not yet")
    s.add_argument("--concept", help="substring of a key concept, e.g. convolution")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("show", help="one paper: facts, question, links, claims, latest results")
    s.add_argument("id", help="paper id, e.g. lecun1989")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("run", help="run one paper's experiment and check its claims")
    s.add_argument("id", help="paper id (implemented ones: `dlcanon list --status implemented`)")
    s.add_argument("--preset", default="quick", help="smoke (seconds), quick (CPU, <1 min, claims judged), "
                   "full (closer to the paper; GPU)")
    s.add_argument("--seed", type=IntRange(0, SEED_MAX), default=0, help="random seed (default 0)")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="where to run")
    s.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a Config field (repeatable); "
                   "`dlcanon config ID` lists every field, its presets and range")
    s.add_argument("--resume", action="store_true", help="continue the latest interrupted run of this paper, "
                   "preset and seed from its last checkpoint")
    s.add_argument("--threads", type=IntRange(1, cpu_count()),
                   help="torch threads, at most this machine's cores (default 1, or $DLCANON_THREADS)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("config", help="a paper's Config: every field, its value in each preset, what it may be")
    s.add_argument("id", help="paper id, e.g. lecun1989")
    s.add_argument("--preset", help="only this preset's values")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_config)

    s = sub.add_parser("reproduce", help="run papers (all implemented by default) and print every claim's verdict")
    s.add_argument("ids", nargs="*", help="paper ids (default: every implemented paper)")
    s.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    s.add_argument("--seed", type=IntRange(0, SEED_MAX), default=0, help="random seed (default 0)")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="where to run")
    s.add_argument("--jobs", type=IntRange(1, cpu_count()), default=1,
                   help="papers run in parallel, one torch thread each (at most this machine's cores)")
    s.add_argument("--json", action="store_true", help="print results as JSON")
    s.set_defaults(fn=cmd_reproduce)

    s = sub.add_parser("results", help="runs recorded in the results store")
    s.add_argument("id", nargs="?", help="only this paper's runs")
    s.add_argument("--run", type=IntRange(1, 2**62), help="details of one run (metrics, claims, config)")
    s.add_argument("--limit", type=IntRange(1, 100_000), default=30, help="how many runs to list (default 30)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_results)

    s = sub.add_parser("report", help="write a Markdown+HTML report: the record's figures and your latest runs")
    s.add_argument("--out", help="report folder (default $DLCANON_HOME/report)")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("record", help="(for the people who build dlcanon) run unmodified presets and write the "
                       "results of record, then the README and notes.md tables")
    s.add_argument("ids", nargs="*", help="paper ids (default: every implemented paper)")
    s.add_argument("--preset", default="quick", choices=["quick", "full"], help="which preset to record")
    s.add_argument("--seeds", type=IntRange(1, 100), default=1, help="seeds 0..N-1; claims judged on the mean, "
                   "with the spread recorded (default 1)")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"], help="where to run")
    s.add_argument("--jobs", type=IntRange(1, cpu_count()), default=1, help="runs in parallel, one thread each")
    s.add_argument("--allow-dirty", action="store_true", help="record even with uncommitted source changes")
    s.add_argument("--render", action="store_true", help="run nothing: refresh claim texts and re-render the "
                   "README and notes.md tables from the record")
    s.set_defaults(fn=cmd_record)

    s = sub.add_parser("new", help="(for the people who build dlcanon) start a paper folder from its catalog entry")
    s.add_argument("id", help="a catalog id that is not implemented yet, e.g. hochreiter1997")
    s.set_defaults(fn=cmd_new)

    s = sub.add_parser("completion", help="print a shell completion script: "
                       "`source <(dlcanon completion bash)` in ~/.bashrc")
    s.add_argument("shell", nargs="?", default="bash", choices=["bash", "zsh"], help="bash (default) or zsh")
    s.set_defaults(fn=cmd_completion)

    s = sub.add_parser("bib", help="BibTeX for papers (ids, or a whole tier, or everything)")
    s.add_argument("ids", nargs="*", help="paper ids")
    s.add_argument("--tier", help=f"one of {', '.join(TIERS)}")
    s.set_defaults(fn=cmd_bib)

    s = sub.add_parser("authors", help="author statistics across the catalog: most papers, collaborators")
    s.add_argument("--tier", choices=TIERS, help="only papers of this tier (e.g. top100)")
    s.add_argument("--top", type=IntRange(1, 10_000), default=15, help="rows per table (default 15)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_authors)

    s = sub.add_parser("graph", help="the builds-on graph as DOT (Graphviz) or Mermaid")
    s.add_argument("--format", choices=["dot", "mermaid"], default="dot", help="output format (default dot)")
    s.add_argument("--tier", choices=TIERS, help="only papers of this tier")
    s.add_argument("--era", help="only papers of this era")
    s.set_defaults(fn=cmd_graph)

    s = sub.add_parser("doctor", help="check the results store, data cache, data and checkpoints; repair what is "
                       "safe (exit 1 if something needs you)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_doctor)

    s = sub.add_parser("data", help="data sources: status, or install them")
    s.add_argument("action", choices=["status", "install"], help="status: what is present; install: get it")
    s.add_argument("--no-system", action="store_true", help="install: skip the Debian packages (apt)")
    s.add_argument("--strict", action="store_true", help="exit 1 if any source is (still) missing")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("serve", help="the local web guide: timeline, papers with their code, notes and results")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    s.add_argument("--port", type=IntRange(1024, 65535), default=8765, help="port (default 8765)")
    s.add_argument("--open", action="store_true", help="open the guide in a web browser")
    s.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (anyone who can reach "
                   "it can browse your results and start runs)")
    s.set_defaults(fn=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    from .core.errors import DataUnavailable

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return EXIT_USAGE
    say = lambda msg: print(f"dlcanon {args.command}: {_one_line(msg)}", file=sys.stderr)
    try:
        return args.fn(args)
    except DataUnavailable as e:
        say(f"data missing: {e}")
        return EXIT_USAGE
    except (UserError, CatalogError) as e:
        say(f"error: {e}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say("interrupted; `dlcanon run ... --resume` continues a run")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:                               # the machine's trouble (disk full, permissions), not ours
        say(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}")
        return EXIT_USAGE
    except Exception as e:                             # a bug: one line, the traceback only when asked for
        if os.environ.get("DLCANON_DEBUG") == "1":
            raise
        say(f"internal error ({type(e).__name__}: {e}); this is a bug in dlcanon, please report it "
            f"(DLCANON_DEBUG=1 shows the traceback)")
        return 1
