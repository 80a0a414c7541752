"""Reports rendered from the results store, never typed by hand.

- the claims table in README.md (between `<!-- claims:start -->` and `<!-- claims:end -->`)
- the results table in each paper's notes.md (between `<!-- results:start -->` and `<!-- results:end -->`)
- a standalone report (Markdown + HTML with each run's plots) in a folder of the user's choice
"""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path

from .core import registry
from .core.results import Store

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent.parent
MARK = {"claims": ("<!-- claims:start -->", "<!-- claims:end -->"),
        "results": ("<!-- results:start -->", "<!-- results:end -->")}
BADGE = {"pass": "pass", "fail": "**FAIL**", "known-fail": "known-fail", "unjudged": "not judged"}


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4g}"
    return f"{x:.3e}"


def md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def latest_runs(store: Store, paper_id: str) -> dict[str, object]:
    """The latest finished run of each preset (quick, full) for a paper."""
    return {p: r for p in ("quick", "full") if (r := store.latest_finished(paper_id, p)) is not None}


def claims_table(store: Store, paper_ids: list[str]) -> str:
    head = ("| paper | claim | the paper | ours (quick) | verdict | ours (full) | wall (quick) |\n"
            "|---|---|---|---|---|---|---|")
    rows = []
    for pid in paper_ids:
        paper = registry.get(pid)
        runs = latest_runs(store, pid)
        measured = {p: {c["claim"]: c for c in store.claims(r["id"])} for p, r in runs.items()}
        for claim in paper.claims:
            q = measured.get("quick", {}).get(claim.name)
            f = measured.get("full", {}).get(claim.name)
            wall = f"{runs['quick']['wall_s']:.1f} s" if "quick" in runs else "-"
            rows.append(f"| {pid} | {md_cell(claim.statement)} | {md_cell(claim.paper_value)} | "
                        f"{fmt(q['measured']) if q else 'not run'} | {BADGE[q['verdict']] if q else '-'} | "
                        f"{fmt(f['measured']) if f else 'not run'} | {wall} |")
    return "\n".join([head, *rows])


def notes_table(store: Store, paper_id: str) -> str:
    paper = registry.get(paper_id)
    runs = latest_runs(store, paper_id)
    if not runs:
        return f"_No recorded run yet: `dlcanon run {paper_id}` then `dlcanon report`._"
    lines = ["| claim | the paper | ours | preset | verdict | scale note |", "|---|---|---|---|---|---|"]
    for preset, run in runs.items():
        got = {c["claim"]: c for c in store.claims(run["id"])}
        for claim in paper.claims:
            c = got.get(claim.name)
            lines.append(f"| {md_cell(claim.statement)} | {md_cell(claim.paper_value)} | "
                         f"{fmt(c['measured']) if c else '-'} | {preset} | {BADGE[c['verdict']] if c else '-'} | "
                         f"{md_cell(claim.scale_note)} |")
    lines.append("")
    for preset, run in runs.items():
        when = time.strftime("%Y-%m-%d", time.localtime(run["finished"]))
        lines.append(f"- {preset}: run {run['id']}, seed {run['seed']}, {run['device']}, "
                     f"{run['wall_s']:.1f} s, {when}, git {run['git_rev'] or 'unknown'}")
    return "\n".join(lines)


def replace_between(text: str, which: str, body: str) -> str:
    start, end = MARK[which]
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers {start} ... {end} not found")
    return text[: i + len(start)] + "\n" + body.rstrip() + "\n" + text[j:]


def update_docs(store: Store, readme: Path | None = None) -> list[Path]:
    """Rewrite the generated tables in README.md and every notes.md. Returns the files changed."""
    changed = []
    ids = registry.implemented()
    readme = readme or REPO / "README.md"
    targets = [(readme, "claims", lambda: claims_table(store, ids))] if readme.exists() else []
    targets += [(PACKAGE / "papers" / pid / "notes.md", "results", lambda p=pid: notes_table(store, p)) for pid in ids]
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


def write_report(store: Store, out: Path) -> tuple[Path, Path]:
    """report.md + report.html (with each paper's latest plots copied beside them) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    ids = registry.implemented()
    md = ["# dlcanon report", "", f"Generated {time.strftime('%Y-%m-%d %H:%M')} from {store.path}.", "",
          "## Claims", "", claims_table(store, ids), ""]
    html_parts = [f"<h1>dlcanon report</h1><p>Generated {html.escape(time.strftime('%Y-%m-%d %H:%M'))} "
                  f"from {html.escape(str(store.path))}.</p>", "<h2>Claims</h2>", _html_claims(store, ids)]
    for pid in ids:
        runs = latest_runs(store, pid)
        md += [f"## {pid}", "", notes_table(store, pid), ""]
        html_parts.append(f"<h2>{html.escape(pid)}</h2>")
        for preset, run in runs.items():
            for png in sorted(store.run_dir(run["id"]).glob("*.png")):
                name = f"{pid}-{preset}-{png.name}"
                shutil.copyfile(png, out / name)
                md.append(f"![{pid} {preset} {png.stem}]({name})")
                html_parts.append(f'<figure><img src="{html.escape(name)}" alt="{html.escape(pid)}" width="640">'
                                  f"<figcaption>{html.escape(f'{preset}: {png.stem}')}</figcaption></figure>")
        md.append("")
    (out / "report.md").write_text("\n".join(md))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>dlcanon report</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}"
            ".fail{color:#b00;font-weight:bold}.pass{color:#070}</style></head><body>"
            + "\n".join(html_parts) + "</body></html>")
    (out / "report.html").write_text(page)
    return out / "report.md", out / "report.html"


def _html_claims(store: Store, ids: list[str]) -> str:
    rows = ["<table><tr><th>paper</th><th>claim</th><th>the paper</th><th>ours</th><th>preset</th>"
            "<th>verdict</th></tr>"]
    for pid in ids:
        for preset, run in latest_runs(store, pid).items():
            for c in store.claims(run["id"]):
                v = html.escape(c["verdict"])
                rows.append(f"<tr><td>{html.escape(pid)}</td><td>{html.escape(c['statement'] or c['claim'])}</td>"
                            f"<td>{html.escape(c['paper_value'] or '')}</td><td>{html.escape(fmt(c['measured']))}"
                            f"</td><td>{html.escape(preset)}</td><td class='{v}'>{v}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)
