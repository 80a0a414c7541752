"""The local web guide (`dlcanon serve`): the catalog as a timeline, each paper beside its code, notes and results.

Routes (all GET except the one that starts a run):
  /                     timeline of the seven eras; search and filters run in the browser (static/guide.js)
  /paper/{id}           facts, lineage (inline SVG), BibTeX; for implemented papers also claims, plots, notes, code
  /paper/{id}/results   the results part of that page alone (the page reloads it when a run ends)
  /authors              author statistics          /bib?ids=a,b | /bib?tier=canon   BibTeX as text/plain
  /runs/{run}/{name}    a PNG from the user's run folder (checked to stay inside it)
  POST /api/run/{id}    start `dlcanon run ID --preset quick|smoke` (one at a time: 409 while one runs)
  /api/run/status       the current or last run       /api/run/stream   its output as Server-Sent Events

Safety: Jinja autoescape everywhere, a Content-Security-Policy with no inline script or style, loopback
Host names only (unless allow_remote), and a POST refused when its Origin is another site.
"""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from starlette.exceptions import HTTPException

from .. import record as rec
from ..catalog import TIERS, Catalog, load_catalog
from ..catalog.export import author_stats, bibtex
from ..core import registry
from ..core.results import Store
from ..report import VERDICT, comparison_rows, fmt, provenance
from .graph import neighbourhood_svg
from .runner import Busy, Runner

HERE = Path(__file__).resolve().parent
PAPERS = HERE.parent / "papers"
PLOT_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.png$")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
RUN_PRESETS = ("smoke", "quick")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class Guard:
    """Pure ASGI (streamed responses pass through untouched): refuses a request whose Host is not this machine
    (a DNS-rebinding page cannot reach the guide) unless remote use is allowed, and adds HEADERS to every
    response."""

    def __init__(self, app, allow_remote: bool):
        self.app, self.allow_remote = app, allow_remote

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        if not self.allow_remote and _host(scope) not in LOOPBACK_HOSTS:
            return await PlainTextResponse("invalid Host header\n", status_code=400)(scope, receive, send_with_headers)
        await self.app(scope, receive, send_with_headers)


def _host(scope) -> str:
    """The Host header without its port ("[::1]:8765" -> "[::1]", "localhost:8765" -> "localhost")."""
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
    return host.split("]")[0] + "]" if host.startswith("[") else host.split(":")[0]


def create_app(store_path: str | Path | None = None, catalog: Catalog | None = None,
               allow_remote: bool = False) -> FastAPI:
    """The guide's app. `store_path`: the results store (default $DLCANON_HOME/results.sqlite); runs started
    from the guide write there too, with DLCANON_HOME set to its folder. `catalog`: the papers shown (default
    the packaged catalog). `allow_remote`: accept any Host header (`dlcanon serve --allow-remote`)."""
    cat = catalog or load_catalog()
    store = Store(store_path)
    if store.path.name != "results.sqlite":             # a run from the guide writes to $DLCANON_HOME/results.sqlite
        raise ValueError(f"the store must be a folder's results.sqlite (that folder is the runs' DLCANON_HOME), "
                         f"got {store.path}")
    runner = Runner(store)
    implemented = [pid for pid in registry.implemented() if pid in cat]
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(fmt=fmt, VERDICT=VERDICT, TIERS=TIERS, eras=cat.eras, implemented=set(implemented))
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    formatter = HtmlFormatter(cssclass="hl")

    def page(template: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(template).render(**ctx), status_code=status)

    def entry_or_404(pid: str):
        if pid not in cat:
            raise HTTPException(404, f"unknown paper id {pid!r}")
        return cat.papers[pid]

    @asynccontextmanager
    async def lifespan(app):
        yield
        runner.stop()

    app = FastAPI(title="dlcanon guide", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.runner = runner
    app.add_middleware(Guard, allow_remote=allow_remote)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        path = request.url.path
        if path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        if path.startswith(("/bib", "/runs/")):
            return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code)
        pid = path.removeprefix("/paper/").split("/")[0] if path.startswith("/paper/") else ""
        near = cat.nearest(pid) if pid else []
        title = f"{exc.status_code} · {HTTPStatus(exc.status_code).phrase}"
        return page("error.html", exc.status_code, title=title, message=exc.detail, near=near)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():                            # asked for by the browser itself, e.g. on a text/plain page
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")

    # -- pages -----------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def timeline():
        by_era = {era: [] for era in cat.eras}
        for e in cat.papers.values():
            by_era[e.era].append(e)
        return page("timeline.html", title="timeline", by_era=by_era, total=len(cat))

    @app.get("/paper/{pid}", response_class=HTMLResponse)
    def paper(pid: str):
        e = entry_or_404(pid)
        ctx = dict(title=e.title, pid=pid, e=e, led_to=cat.led_to(pid), graph=neighbourhood_svg(cat, pid),
                   bib=bibtex([e]), is_implemented=pid in implemented)
        if pid in implemented:
            notes = HTML_COMMENT.sub("", _read(PAPERS / pid / "notes.md"))     # the generated tables' markers
            ctx.update(results_context(pid), notes=md.render(notes),
                       code={name: highlight(_read(PAPERS / pid / name), PythonLexer(), formatter)
                             for name in ("model.py", "experiment.py")})
        return page("paper.html", **ctx)

    @app.get("/paper/{pid}/results", response_class=HTMLResponse)
    def paper_results(pid: str):
        entry_or_404(pid)
        if pid not in implemented:
            raise HTTPException(404, f"{pid} is not implemented, so it has no results")
        return page("_results.html", pid=pid, **results_context(pid))

    def results_context(pid: str) -> dict:
        record = rec.load(pid)
        runs = []
        for r in store.runs(pid, limit=5):
            verdicts = [c["verdict"] for c in store.claims(r["id"])]
            runs.append({**dict(r), "custom": r["overrides"] != "{}",
                         "summary": f"{verdicts.count('pass')}/{len(verdicts)} pass" if verdicts else "-"})
        plots = []
        for preset in ("smoke", "quick", "full"):
            if (r := store.latest_finished(pid, preset)) is not None:
                folder = store.run_dir(r["id"])
                names = sorted(p.name for p in folder.glob("*.png") if PLOT_NAME.match(p.name))
                plots += [{"preset": preset, "run": r["id"], "name": n} for n in names]
        return {"rows": comparison_rows(store, pid), "runs": runs, "plots": plots,
                "provenance": [provenance(x) for x in record["entries"]] if record else []}

    @app.get("/authors", response_class=HTMLResponse)
    def authors(tier: str | None = None):
        if tier is not None and tier not in TIERS:
            raise HTTPException(404, f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
        return page("authors.html", title="authors", tier=tier, stats=author_stats(cat.filter(tier=tier), top=30))

    @app.get("/bib", response_class=PlainTextResponse)
    def bib(ids: str | None = None, tier: str | None = None):
        if ids is not None and tier is not None:
            raise HTTPException(400, "give ids or tier, not both")
        if tier is not None and tier not in TIERS:
            raise HTTPException(404, f"unknown tier {tier!r}; tiers: {', '.join(TIERS)}")
        if ids is None:
            return PlainTextResponse(bibtex(cat.filter(tier=tier)))
        wanted = list(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
        if not wanted:
            raise HTTPException(404, "no paper ids given")
        for i in wanted:
            if i not in cat:
                near = cat.nearest(i)
                raise HTTPException(404, f"unknown paper id {i!r}" + (f"; did you mean {', '.join(near)}?"
                                                                      if near else ""))
        return PlainTextResponse(bibtex([cat.papers[i] for i in wanted]))

    @app.get("/runs/{run_id:int}/{name}")
    def plot(run_id: int, name: str):
        if not PLOT_NAME.match(name):
            raise HTTPException(404, "not a plot")
        runs = (store.path.parent / "runs").resolve()
        folder = (runs / str(run_id)).resolve()
        path = (folder / name).resolve()
        if not (folder.parent == runs and path.parent == folder and path.is_file()):
            raise HTTPException(404, "no such plot")
        return FileResponse(path, media_type="image/png")

    # -- the run control -----------------------------------------------------------------------------
    @app.post("/api/run/{pid}", status_code=202)
    def start_run(pid: str, request: Request, preset: str = "quick"):
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise HTTPException(403, "a run can only be started from the guide's own pages")
        if pid not in implemented:
            raise HTTPException(404, f"{pid!r} is not an implemented paper")
        if preset not in RUN_PRESETS:
            raise HTTPException(400, f"preset must be one of {', '.join(RUN_PRESETS)}")
        try:
            return runner.start(pid, preset).summary()
        except Busy as e:
            raise HTTPException(409, str(e)) from None

    @app.get("/api/run/status")
    def run_status():
        return runner.job.summary() if runner.job else {"running": False}

    @app.get("/api/run/stream")
    async def run_stream():
        return StreamingResponse(_events(runner.job), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return app


async def _events(job):
    """Every output line of the job (from its first), then a `done` event with the exit code and run id."""
    if job is None:
        yield "event: idle\ndata: {}\n\n"
        return
    sent = 0
    while True:
        finished = job.done.is_set()          # read before the lines, so no line is missed at the end
        while sent < len(job.lines):
            yield f"data: {job.lines[sent]}\n\n"
            sent += 1
        if finished:
            yield f"event: done\ndata: {json.dumps(job.summary())}\n\n"
            return
        await asyncio.sleep(0.1)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else f"({path.name} is missing)"
