"""What dlcanon shows of its results: the record's figures, and beside them the user's own latest runs.

- README.md's claims table and each notes.md results table are rendered from the results of record
  (`record.py`) by `render_docs`, which only `dlcanon record` calls: nothing else rewrites tracked files.
- `write_report` writes a standalone report (Markdown + HTML with plots) into a folder of the user's: the
  record's figures and the user's latest runs of the unmodified presets, labelled as theirs.
"""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path

from . import record as rec
from .core import registry

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent.parent
MARK = {"claims": ("<!-- claims:start -->", "<!-- claims:end -->"),
        "results": ("<!-- results:start -->", "<!-- results:end -->")}
VERDICT = {"pass": "pass", "fail": "FAIL", "known-fail": "known-fail", "unjudged": "not judged"}
"""The one spelling of each verdict wherever dlcanon prints one."""


def fmt(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def fmt_claim(c: dict | None, seeds: int = 1) -> str:
    """A measured claim value, ± its spread (the standard deviation over seeds, or over what the paper averages
    inside one run: restarts, orders, draws) when there is one."""
    if c is None:
        return "not run"
    if c.get("spread"):
        over = f"{seeds} seeds" if c.get("spread_over", "seeds") == "seeds" and seeds > 1 else "sd within the run"
        return f"{fmt(c['measured'])} ± {fmt(c['spread'])} ({over})"
    return fmt(c["measured"])


def md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _by_name(e: dict | None) -> dict[str, dict]:
    return {c["name"]: c for c in e["claims"]} if e else {}


# -- tables of record (README.md, notes.md) ---------------------------------------------------------
def claims_table(paper_ids: list[str]) -> str:
    head = ("| paper | claim | the paper | ours (quick) | verdict | ours (full) | verdict (full) | wall (quick) |\n"
            "|---|---|---|---|---|---|---|---|")
    rows = []
    for pid in paper_ids:
        r = rec.load(pid)
        if r is None:
            rows.append(f"| {pid} | (no figures recorded yet: `dlcanon record {pid}`) | | | | | | |")
            continue
        q, f = rec.entry(r, "quick"), rec.entry(r, "full")
        qc, fc = _by_name(q), _by_name(f)
        for claim in r["claims"]:
            name = claim["name"]
            rows.append(f"| {pid} | {md_cell(claim['statement'])} | {md_cell(claim['paper_value'])} | "
                        f"{fmt_claim(qc.get(name), len(q['seeds']) if q else 1)} | "
                        f"{VERDICT[qc[name]['verdict']] if name in qc else '-'} | "
                        f"{fmt_claim(fc.get(name), len(f['seeds']) if f else 1)}"
                        f"{' (' + f['device_kind'] + ')' if f and name in fc else ''} | "
                        f"{VERDICT[fc[name]['verdict']] if name in fc else '-'} | "
                        f"{_wall(q)} |")
    return "\n".join([head, *rows])


def _wall(e: dict | None) -> str:
    return f"{e['wall_s']:.1f} s" if e else "-"


def provenance(e: dict) -> str:
    seeds = ", ".join(map(str, e["seeds"]))
    dirty = " (uncommitted changes)" if e.get("git_dirty") else ""
    return (f"{e['preset']}: seed(s) {seeds}, {e['device']} ({e['device_name']}), {e['wall_s']:.1f} s, "
            f"{e['date']}, git {e['git_rev'] or 'unknown'}{dirty}, torch {e['versions']['torch']}, "
            f"python {e['versions']['python']}")


def notes_table(paper_id: str) -> str:
    r = rec.load(paper_id)
    if r is None or not r["entries"]:
        return f"_No figures recorded yet: `dlcanon record {paper_id}` (for the people who build dlcanon)._"
    lines = ["| claim | the paper | ours | preset | verdict | scale note |", "|---|---|---|---|---|---|"]
    texts = {c["name"]: c for c in r["claims"]}
    for e in r["entries"]:
        for c in e["claims"]:
            t = texts[c["name"]]
            lines.append(f"| {md_cell(t['statement'])} | {md_cell(t['paper_value'])} | "
                         f"{fmt_claim(c, len(e['seeds']))} | {e['preset']} ({e['device_kind']}) | "
                         f"{VERDICT[c['verdict']]} | {md_cell(t['scale_note'])} |")
    lines.append("")
    lines += [f"- {provenance(e)}" for e in r["entries"]]
    return "\n".join(lines)


def replace_between(text: str, which: str, body: str) -> str:
    start, end = MARK[which]
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers {start} ... {end} not found")
    return text[: i + len(start)] + "\n" + body.rstrip() + "\n" + text[j:]


def render_docs(readme: Path | None = None, papers: Path | None = None) -> list[Path]:
    """Rewrite the generated tables in README.md and every notes.md from the record. Returns the files changed.
    Only `dlcanon record` calls this."""
    changed = []
    ids = registry.implemented()
    readme = readme or REPO / "README.md"
    papers = papers or PACKAGE / "papers"
    targets = [(readme, "claims", lambda: claims_table(ids))] if readme.exists() else []
    targets += [(papers / pid / "notes.md", "results", lambda p=pid: notes_table(p)) for pid in ids]
    for path, which, render in targets:
        if not path.exists():
            continue
        old = path.read_text()
        if MARK[which][0] not in old:
            continue
        new = replace_between(old, which, render())
        if new != old:
            path.write_text(new)
            changed.append(path)
    return changed


# -- the user's own runs beside the record -----------------------------------------------------------
def yours(store, paper_id: str) -> dict[str, object]:
    """The user's latest finished run of each unmodified preset (quick, full), from their results store."""
    return {p: r for p in ("quick", "full") if (r := store.latest_finished(paper_id, p)) is not None}


def comparison_rows(store, paper_id: str) -> list[dict]:
    """Per claim: the paper's figure, the record's quick/full figures and verdicts, and the user's latest."""
    r = rec.load(paper_id)
    texts = r["claims"] if r else [{"name": c.name, "statement": c.statement, "paper_value": c.paper_value,
                                    "scale_note": c.scale_note, "known_fail": c.known_fail}
                                   for c in registry.get(paper_id).claims]
    rq, rf = _by_name(rec.entry(r, "quick")), _by_name(rec.entry(r, "full"))
    mine = {p: {c["claim"]: dict(c) for c in store.claims(run["id"])} for p, run in yours(store, paper_id).items()}
    rows = []
    for t in texts:
        n = t["name"]
        rows.append({**t, "record_quick": rq.get(n), "record_full": rf.get(n),
                     "yours_quick": mine.get("quick", {}).get(n), "yours_full": mine.get("full", {}).get(n)})
    return rows


def _mine(c) -> str:
    return f"{fmt(c['measured'])} ({VERDICT[c['verdict']]})" if c else "-"


def write_report(store, out: Path) -> tuple[Path, Path]:
    """report.md + report.html (with the user's latest plots copied beside them) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    ids = registry.implemented()
    when = time.strftime("%Y-%m-%d %H:%M")
    md = ["# dlcanon report", "", f"Generated {when}. **Record**: the figures dlcanon publishes (in the repository). "
          f"**Yours**: your latest runs of the unmodified presets, from {store.path}.", ""]
    page = [f"<h1>dlcanon report</h1><p>Generated {html.escape(when)}. <b>Record</b>: the figures dlcanon "
            f"publishes. <b>Yours</b>: your latest runs of the unmodified presets, from "
            f"{html.escape(str(store.path))}.</p>"]
    head = ["claim", "the paper", "record (quick)", "record (full)", "yours (quick)", "yours (full)"]
    for pid in ids:
        rows = comparison_rows(store, pid)
        md += [f"## {pid}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        page.append(f"<h2>{html.escape(pid)}</h2><table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>")
        for row in rows:
            cells = [row["statement"], row["paper_value"], _mine(row["record_quick"]), _mine(row["record_full"]),
                     _mine(row["yours_quick"]), _mine(row["yours_full"])]
            md.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
            page.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        page.append("</table>")
        md.append("")
        for preset, run in yours(store, pid).items():
            for png in sorted(store.run_dir(run["id"]).glob("*.png")):
                name = f"{pid}-{preset}-{png.name}"
                shutil.copyfile(png, out / name)
                md.append(f"![{pid} {preset} {png.stem}]({name})")
                page.append(f'<figure><img src="{html.escape(name)}" alt="{html.escape(pid)} {html.escape(png.stem)}"'
                            f' style="max-width:100%"><figcaption>{html.escape(f"yours, {preset}: {png.stem}")}'
                            f"</figcaption></figure>")
        md.append("")
    (out / "report.md").write_text("\n".join(md))
    doc = ("<!doctype html><html><head><meta charset='utf-8'><title>dlcanon report</title><style>"
           "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
           "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}"
           "</style></head><body>" + "\n".join(page) + "</body></html>")
    (out / "report.html").write_text(doc)
    return out / "report.md", out / "report.html"
