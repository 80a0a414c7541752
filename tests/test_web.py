"""The web guide in-process (FastAPI's TestClient): every page type, 404s, escaping, path safety, the run control.

The browser itself is driven in test_web_browser.py.
"""

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():                      # starlette >= 1.10 prefers httpx2; httpx still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from dlcanon.catalog import Catalog, load_catalog
from dlcanon.cli import main
from dlcanon.core import registry
from dlcanon.core.results import Store
from dlcanon.web import app as web_app
from dlcanon.web.app import create_app

IMPL = "mcculloch1943"                               # implemented; the fastest smoke run
PLAIN = "vaswani2017"                                # in the catalog, not implemented
BASE = "http://127.0.0.1"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def client_for(home: Path, **kwargs) -> TestClient:
    return TestClient(create_app(store_path=home / "results.sqlite", **kwargs), base_url=BASE)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with client_for(tmp_path_factory.mktemp("web_home")) as c:
        yield c


# -- every page type -----------------------------------------------------------------------------
def test_timeline_lists_every_era_and_paper(client):
    cat = load_catalog()
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.count('<article class="card') == len(cat)
    positions = [html.index(f'id="era-{era}"') for era in cat.eras]
    assert positions == sorted(positions) and len(positions) == 7
    for era in cat.eras.values():
        assert era.summary in html
    assert html.count("<span class=\"tag impl\">implemented</span>") == len(registry.implemented())
    assert 'id="bib-link"' in html and 'id="q"' in html


def test_implemented_paper_page(client):
    r = client.get(f"/paper/{IMPL}")
    assert r.status_code == 200
    html = r.text
    for part in ("claims-table", "run-control", 'data-preset="quick"', "Run quick now", 'class="notes"',
                 'class="hl"', "model.py", "experiment.py", "<svg class=\"lineage\""):
        assert part in html, part
    assert bib_keys(html.replace("<pre class=\"bib\">", "\n")) == [IMPL]
    assert "<!--" not in html and "&lt;!--" not in html     # notes.md's markers are not shown
    claims = [c.name for c in registry.get(IMPL).claims]
    assert all(f"<code>{name}</code>" in html for name in claims)
    assert "<h2>Deviations</h2>" in html                # notes.md rendered, not shown raw
    for pid in load_catalog().led_to(IMPL)[:11]:
        assert f'href="/paper/{pid}"' in html


def test_catalog_only_paper_page(client):
    e = load_catalog()[PLAIN]
    html = client.get(f"/paper/{PLAIN}").text
    assert e.title in html and "run-control" not in html and "claims-table" not in html
    assert f'<a href="{e.url}" rel="noopener noreferrer">' in html
    for pid in e.builds_on:
        assert html.count(f'href="/paper/{pid}"') >= 2            # in the facts and in the graph


def bib_keys(text: str) -> list[str]:
    return re.findall(r"^@\w+\{(\w+),$", text, re.M)


def test_authors_and_bib(client):
    html = client.get("/authors").text
    assert "Most papers" in html and "Most frequent collaborations" in html
    assert client.get("/authors?tier=canon").status_code == 200
    r = client.get(f"/bib?ids={IMPL},{PLAIN}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert bib_keys(r.text) == [IMPL, PLAIN]
    canon = client.get("/bib?tier=canon").text
    assert bib_keys(canon) == [e.id for e in load_catalog().filter(tier="canon")]


@pytest.mark.parametrize("path, text", [
    ("/paper/nosuchpaper1999", "unknown paper id"),
    ("/paper/lecun1988", "lecun1989"),                  # did you mean
    (f"/paper/{PLAIN}/results", "not implemented"),
    ("/bib?ids=lecun1989,nosuchpaper1999", "unknown paper id 'nosuchpaper1999'"),
    ("/bib?ids=,", "no paper ids"),
    ("/bib?tier=gold", "unknown tier"),
    ("/authors?tier=gold", "unknown tier"),
    ("/no/such/page", "Not Found"),
    ("/static/nothing.css", "Not Found"),
])
def test_not_found(client, path, text):
    r = client.get(path)
    assert r.status_code == 404 and text in r.text


def test_headers_and_no_inline_script_or_style(client):
    for path in ("/", f"/paper/{IMPL}", f"/paper/{PLAIN}", "/authors", "/bib?tier=canon", "/nowhere",
                 "/static/guide.js"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        if r.headers["content-type"].startswith("text/html"):
            assert not re.search(r"<script(?![^>]*\bsrc=)", r.text), path
            assert not re.search(r"\sstyle=|\son[a-z]+=", r.text), path


def test_read_only_apart_from_the_run_endpoint(client):
    writes = [(r.path, m) for r in client.app.routes for m in getattr(r, "methods", None) or ()
              if m not in ("GET", "HEAD")]
    assert writes == [("/api/run/{pid}", "POST")]
    assert client.post("/").status_code == 405 and client.delete(f"/paper/{IMPL}").status_code == 405


def test_foreign_host_and_origin_are_refused(client):
    for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
        assert client.get("/authors", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", "127.0.0.1.evil.example:8765", "[::2]:8765", ""):       # DNS rebinding
        r = client.get("/authors", headers={"host": host})
        assert r.status_code == 400 and r.headers["x-content-type-options"] == "nosniff", host
    r = client.post(f"/api/run/{IMPL}?preset=smoke", headers={"origin": "http://evil.example"})
    assert r.status_code == 403


@pytest.mark.parametrize("path, status", [
    (f"/api/run/{PLAIN}", 404),
    ("/api/run/nosuchpaper1999", 404),
    (f"/api/run/{IMPL}?preset=full", 400),
    (f"/api/run/{IMPL}?preset=../../x", 400),
])
def test_run_endpoint_validates(client, path, status):
    r = client.post(path)
    assert r.status_code == status and "detail" in r.json()


def test_the_store_must_be_a_homes_results_file(tmp_path):
    with pytest.raises(ValueError, match="results.sqlite"):
        create_app(store_path=tmp_path / "other.sqlite")


# -- escaping ------------------------------------------------------------------------------------
PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


def test_catalog_fields_are_escaped_everywhere(tmp_path, monkeypatch):
    cat = load_catalog()
    script, img = PAYLOADS
    bad = dataclasses.replace(cat.papers[IMPL], title=f"Logic {script}", authors=(img, f"A {script}"),
                              question=f"why {img}", concepts=(script, img), title_zh=img,
                              url="javascript:alert(1)")
    fields = {f.name for f in dataclasses.fields(bad)}                 # publication details, where the catalog has them
    bad = dataclasses.replace(bad, **{f: img for f in ("venue", "volume", "pages", "doi", "publisher") if f in fields})
    eras = {k: dataclasses.replace(v, summary=f"{v.summary} {img}", name=f"{v.name} {script}")
            if k == bad.era else v for k, v in cat.eras.items()}
    # notes and code with the same payloads, read from a copy of the paper's folder
    papers = tmp_path / "papers"
    shutil.copytree(web_app.PAPERS / IMPL, papers / IMPL, ignore=shutil.ignore_patterns("__pycache__"))
    (papers / IMPL / "notes.md").write_text(f"# Notes\n\n{script}\n\n{img}\n\n[x](javascript:alert(1))\n")
    (papers / IMPL / "model.py").write_text(f'"""{script}"""\nx = "{img}"\n')
    monkeypatch.setattr(web_app, "PAPERS", papers)
    with client_for(tmp_path, catalog=Catalog({**cat.papers, IMPL: bad}, eras)) as c:
        pages = ["/", f"/paper/{IMPL}", f"/paper/{IMPL}/results", "/authors", f"/paper/{cat.led_to(IMPL)[0]}",
                 "/paper/<script>alert(1)</script>", "/paper/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E"]
        for path in pages:
            html = c.get(path).text
            for p in PAYLOADS:
                assert p not in html, (path, p)
            assert "<img src=x" not in html and 'href="javascript:' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/paper/{IMPL}").text
        r = c.get(f"/bib?ids={IMPL}")                        # BibTeX is plain text, never sniffed as HTML
        assert r.headers["content-type"].startswith("text/plain") and r.headers["x-content-type-options"] == "nosniff"


# -- plot files ----------------------------------------------------------------------------------
@pytest.fixture
def plots_home(tmp_path):
    """A store, then run folders beside it: run 1 holds a plot, a text file and a symlink out of the folder;
    run 2 is itself a symlink to a folder outside; secret.png sits in the home, outside every run folder."""
    home = tmp_path / "home"
    home.mkdir()
    c = client_for(home)                                  # the store first: it refuses unknown run folders
    runs = home / "runs"
    (runs / "1").mkdir(parents=True)
    (runs / "1" / "plot.png").write_bytes(PNG)
    (runs / "1" / "notes.txt").write_text("not a plot")
    (home / "secret.png").write_bytes(b"SECRET" + PNG)
    (runs / "1" / "link.png").symlink_to(home / "secret.png")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.png").write_bytes(b"SECRET" + PNG)
    (runs / "2").symlink_to(outside, target_is_directory=True)
    return c


def test_a_plot_is_served(plots_home):
    r = plots_home.get("/runs/1/plot.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == PNG


@pytest.mark.parametrize("path", [
    "/runs/1/../secret.png", "/runs/1/..%2fsecret.png", "/runs/1/%2e%2e%2fsecret.png", "/runs/1/%2e%2e/secret.png",
    "/runs/1/%2e%2e%2f%2e%2e%2fresults.sqlite", "/runs/1/..%5csecret.png", "/runs/1/%2Fetc%2Fpasswd",
    "/runs/1//etc/passwd", f"/runs/1/{'%2F'}tmp{'%2F'}x.png", "/runs/1/link.png", "/runs/2/x.png",
    "/runs/1/notes.txt", "/runs/1/.png", "/runs/1/plot.png.txt", "/runs/1/plot.PNG%00.png", "/runs/x/plot.png",
    "/runs/-1/plot.png", "/runs/3/plot.png", "/runs/1/..", "/runs/..%2fsecret.png",
])
def test_plot_paths_that_leave_the_run_folder_are_404(plots_home, path):
    r = plots_home.get(path)
    assert r.status_code == 404, path
    assert b"SECRET" not in r.content and b"PNG" not in r.content


def test_yours_appears_in_the_claims_table(tmp_path):
    """A finished quick run in the store is shown as 'yours quick', with its verdict."""
    c = client_for(tmp_path)
    store = Store(tmp_path / "results.sqlite")
    claim = registry.get(IMPL).claims[0]
    rid = store.start_run(IMPL, "quick", 0, "cpu", {}, {}, None)
    store.finish_run(rid, "finished", 1.0, metrics={"x": 1.0},
                     claims=[{"claim": claim.name, "measured": 0.125, "threshold": 1.0, "verdict": "fail",
                              "statement": claim.statement, "paper_value": claim.paper_value,
                              "scale_note": claim.scale_note}])
    html = c.get(f"/paper/{IMPL}/results").text
    row = html[html.index(f"<code>{claim.name}</code>"):]
    row = row[: row.index("</tr>")]
    assert '<td class="yours"><span class="v v-fail">0.125 <small>FAIL</small></span></td>' in row
    assert '<span class="badge v-fail">FAIL</span>' in row
    assert f'<tr data-run="{rid}">' in html


def test_a_recorded_spread_is_shown(client):
    """rosenblatt1958's record carries the sd over presentation orders; the claims table shows mean ± sd."""
    html = client.get("/paper/rosenblatt1958/results").text
    row = html[html.index("<code>one_vs_rest_digits</code>"):]
    assert " ± " in row[: row.index("</tr>")]


# -- the run control -----------------------------------------------------------------------------
def read_events(client) -> tuple[list[str], dict]:
    lines, event = [], None
    with client.stream("GET", "/api/run/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for raw in r.iter_lines():
            if raw.startswith("event: "):
                event = raw[7:]
            elif raw.startswith("data: "):
                if event == "done":
                    return lines, json.loads(raw[6:])
                lines.append(raw[6:])
    raise AssertionError(f"the stream ended without a done event: {lines}")


@pytest.mark.slow
def test_one_run_at_a_time_and_its_result_appears(tmp_path):
    with client_for(tmp_path) as c:
        with c.stream("GET", "/api/run/stream") as idle:         # nothing started yet
            assert next(idle.iter_lines()) == "event: idle"
        r = c.post(f"/api/run/{IMPL}?preset=smoke")
        assert r.status_code == 202 and r.json()["running"]
        busy = c.post("/api/run/rosenblatt1958?preset=smoke")
        assert busy.status_code == 409 and IMPL in busy.json()["detail"]
        lines, done = read_events(c)
        assert done["exit_code"] == 0, "\n".join(lines)
        assert any(line.startswith(f"run {done['run_id']}: running {IMPL}") for line in lines)
        assert c.get("/api/run/status").json() == {**done, "running": False}
        html = c.get(f"/paper/{IMPL}/results").text
        assert f'<tr data-run="{done["run_id"]}">' in html
        plots = re.findall(rf'src="(/runs/{done["run_id"]}/[^"]+\.png)"', html)
        assert plots and all(c.get(p).headers["content-type"] == "image/png" for p in plots)
        assert read_events(c)[1] == done                  # a late listener gets the whole log and the end


# -- dlcanon serve ---------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, text", [
    (["serve", "--host", "0.0.0.0"], "--allow-remote"),
    (["serve", "--host", "example.org"], "not a loopback"),
])
def test_serve_refuses_a_remote_host(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1


def test_serve_port_range(capsys):
    with pytest.raises(SystemExit) as e:
        main(["serve", "--port", "80"])
    assert e.value.code == 2 and "1024" in capsys.readouterr().err


def test_cli_does_not_import_the_web_stack():
    code = "import sys, dlcanon.cli; sys.exit(any(m in sys.modules for m in ('fastapi', 'uvicorn', 'jinja2')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_and_stops(tmp_path):
    import httpx

    port = free_port()
    env = {**os.environ, "DLCANON_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "dlcanon", "serve", "--port", str(port)], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline, r = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/authors", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r is not None and r.status_code == 200, proc.stderr.read() if proc.poll() is not None else ""
        busy = subprocess.run([sys.executable, "-m", "dlcanon", "serve", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert busy.returncode == 2 and "pick another --port" in busy.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0 and f"http://127.0.0.1:{port}/" in proc.stderr.read()
