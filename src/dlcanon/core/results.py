"""The results store: one SQLite file (WAL mode) that every run writes to and every report reads from.

Tables: runs (one row per run), metrics (per-step curves and final values, step NULL for finals),
claims (one verdict per claim per run). Writers retry on a busy database, so concurrent runs lose no rows.
A run whose process died (SIGKILL, power loss) is still `running` in the table; `reap()` marks it
`interrupted` once its pid is gone, and `dlcanon run --resume` continues it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path

from .errors import UserError, usable_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    paper TEXT NOT NULL, preset TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT NOT NULL,
    config TEXT NOT NULL, versions TEXT NOT NULL, git_rev TEXT,
    started REAL NOT NULL, finished REAL, status TEXT NOT NULL, wall_s REAL,
    host TEXT, pid INTEGER, error TEXT, overrides TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS metrics (
    run INTEGER NOT NULL REFERENCES runs(id), step INTEGER, name TEXT NOT NULL, value REAL
);
CREATE TABLE IF NOT EXISTS claims (
    run INTEGER NOT NULL REFERENCES runs(id), claim TEXT NOT NULL, measured REAL, threshold REAL,
    verdict TEXT NOT NULL, statement TEXT, paper_value TEXT, scale_note TEXT
);
CREATE INDEX IF NOT EXISTS metrics_run ON metrics(run, name);
CREATE INDEX IF NOT EXISTS claims_run ON claims(run);
CREATE INDEX IF NOT EXISTS runs_paper ON runs(paper, preset, status);
"""
STATUSES = ("running", "finished", "failed", "interrupted")
RUN_COLUMNS = ("id", "paper", "preset", "seed", "device", "config", "versions", "git_rev", "started", "finished",
               "status", "wall_s", "host", "pid", "error")


def home() -> Path:
    """$DLCANON_HOME, else ~/.local/share/dlcanon: the store, run folders and the data cache live here."""
    env = os.environ.get("DLCANON_HOME")
    return Path(env).expanduser() if env else Path.home() / ".local" / "share" / "dlcanon"


def default_path() -> Path:
    return home() / "results.sqlite"


class StoreError(UserError):
    """The results store cannot be used as it is; the message names the file and what to do."""


class Store:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        usable_dir(self.path.parent, "the results folder ($DLCANON_HOME)")
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file; move it aside so dlcanon can create its results store")
        self._guard(self._open)

    def _open(self) -> None:
        """Check what is there before writing anything: a foreign or emptied store is refused, never replaced."""
        with closing(self._connect()) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            ours = {"runs", "metrics", "claims"}
            if tables and not ours <= tables:
                raise StoreError(f"{self.path} is a SQLite file but not a dlcanon results store (it has tables "
                                 f"{', '.join(sorted(tables))}); move it aside, or set DLCANON_HOME to another folder")
            if tables:
                cols = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
                missing = set(RUN_COLUMNS) - cols
                if missing:
                    raise StoreError(f"{self.path} has a runs table without {', '.join(sorted(missing))}: not a "
                                     f"dlcanon results store; move it aside to start a new one")
            last = 0
            if "sqlite_sequence" in tables:
                row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='runs'").fetchone()
                last = row[0] if row else 0
            self._check_run_folders(last)
            db.execute("PRAGMA journal_mode=WAL")
            self._retry(lambda: db.executescript(SCHEMA))
            if tables and "overrides" not in cols:          # a store from before custom runs were marked
                self._retry(lambda: db.execute("ALTER TABLE runs ADD COLUMN overrides TEXT NOT NULL DEFAULT '{}'"))

    def _check_run_folders(self, last: int) -> None:
        """Run folders beyond the last run the store knows mean its rows were lost: say so, do not go on."""
        runs = self.path.parent / "runs"
        ids = [int(p.name) for p in runs.iterdir() if p.name.isdigit()] if runs.is_dir() else []
        top = max(ids, default=0)
        if top > last:
            raise StoreError(f"{self.path} records runs up to {last}, but {runs} holds run folders up to {top}: "
                             f"the store was emptied or replaced outside dlcanon. Put the right results.sqlite "
                             f"back, or move {runs} aside to start afresh")

    def _guard(self, fn):
        """Run fn; a damaged or unreadable store becomes one StoreError instead of a sqlite3 traceback."""
        try:
            return fn()
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def _error(self, e: sqlite3.DatabaseError) -> StoreError:
        return StoreError(f"the results store {self.path} cannot be used ({e}); move it aside "
                          f"(mv {self.path} {self.path}.bad) to start a new one, or restore a backup; "
                          f"`dlcanon doctor` checks it")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @staticmethod
    def _retry(fn, tries: int = 50):
        for i in range(tries):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e) or i == tries - 1:
                    raise
                time.sleep(0.05 * (i + 1))

    @contextmanager
    def _write(self):
        """One IMMEDIATE transaction: takes the write lock up front, so writers queue instead of failing."""
        db = self._guard(self._connect)
        try:
            self._guard(lambda: self._retry(lambda: db.execute("BEGIN IMMEDIATE")))
            try:
                yield db
                db.execute("COMMIT")
            except BaseException as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(e, sqlite3.DatabaseError):
                    raise self._error(e) from None
                raise
        finally:
            db.close()

    def run_dir(self, run_id: int) -> Path:
        """A run's folder (plots, result.json, checkpoint) sits beside the store that recorded it."""
        return self.path.parent / "runs" / str(run_id)

    # -- writing -------------------------------------------------------------------------------
    def start_run(self, paper: str, preset: str, seed: int, device: str, config: dict, versions: dict,
                  git_rev: str | None, overrides: dict[str, str] | None = None) -> int:
        """A new `running` row. A run with overrides is a custom run: stored with them, never the preset's."""
        with self._write() as db:
            cur = db.execute(
                "INSERT INTO runs (paper, preset, seed, device, config, versions, git_rev, started, status,"
                " host, pid, overrides) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (paper, preset, seed, device, json.dumps(json_safe(config), sort_keys=True), json.dumps(versions),
                 git_rev, time.time(), "running", socket.gethostname(), os.getpid(),
                 json.dumps(overrides or {}, sort_keys=True)))
            return int(cur.lastrowid)

    def reopen_run(self, run_id: int, from_step: int) -> None:
        """Resume: the run is ours again; curve points logged after the checkpoint are dropped."""
        with self._write() as db:
            db.execute("UPDATE runs SET status='running', pid=?, host=?, finished=NULL, error=NULL WHERE id=?",
                       (os.getpid(), socket.gethostname(), run_id))
            db.execute("DELETE FROM metrics WHERE run=? AND (step IS NULL OR step > ?)", (run_id, from_step))
            db.execute("DELETE FROM claims WHERE run=?", (run_id,))

    def log_metrics(self, run_id: int, rows: list[tuple[int | None, str, float]]) -> None:
        if rows:
            with self._write() as db:
                db.executemany("INSERT INTO metrics (run, step, name, value) VALUES (?,?,?,?)",
                               [(run_id, s, n, float(v)) for s, n, v in rows])

    def finish_run(self, run_id: int, status: str, wall_s: float, metrics: dict[str, float] | None = None,
                   claims: list[dict] | None = None, error: str | None = None) -> None:
        assert status in STATUSES, status
        with self._write() as db:
            if metrics:
                db.executemany("INSERT INTO metrics (run, step, name, value) VALUES (?,NULL,?,?)",
                               [(run_id, k, float(v)) for k, v in metrics.items()])
            for c in claims or []:
                db.execute("INSERT INTO claims (run, claim, measured, threshold, verdict, statement, paper_value,"
                           " scale_note) VALUES (?,?,?,?,?,?,?,?)",
                           (run_id, c["claim"], c["measured"], c["threshold"], c["verdict"], c["statement"],
                            c["paper_value"], c["scale_note"]))
            db.execute("UPDATE runs SET status=?, finished=?, wall_s=?, error=? WHERE id=?",
                       (status, time.time(), wall_s, error, run_id))

    # -- reading -------------------------------------------------------------------------------
    def reap(self) -> int:
        """Mark `running` rows of this host whose process is gone as `interrupted`. Returns how many."""
        rows = self.query("SELECT id, pid FROM runs WHERE status='running' AND host=?", (socket.gethostname(),))
        dead = [r["id"] for r in rows if not pid_alive(r["pid"])]
        if dead:
            with self._write() as db:
                db.executemany("UPDATE runs SET status='interrupted' WHERE id=? AND status='running'",
                               [(i,) for i in dead])
        return len(dead)

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        def read():
            with closing(self._connect()) as db:
                return db.execute(sql, args).fetchall()

        return self._guard(read)

    def runs(self, paper: str | None = None, limit: int = 50) -> list[sqlite3.Row]:
        self.reap()
        if paper:
            return self.query("SELECT * FROM runs WHERE paper=? ORDER BY id DESC LIMIT ?", (paper, limit))
        return self.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))

    def run(self, run_id: int) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM runs WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def final_metrics(self, run_id: int) -> dict[str, float]:
        rows = self.query("SELECT name, value FROM metrics WHERE run=? AND step IS NULL", (run_id,))
        return {r["name"]: r["value"] for r in rows}

    def curves(self, run_id: int) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for r in self.query("SELECT step, name, value FROM metrics WHERE run=? AND step IS NOT NULL "
                            "ORDER BY rowid", (run_id,)):
            out.setdefault(r["name"], []).append((r["step"], r["value"]))
        return out

    def claims(self, run_id: int) -> list[sqlite3.Row]:
        return self.query("SELECT * FROM claims WHERE run=? ORDER BY rowid", (run_id,))

    def latest_finished(self, paper: str, preset: str | None = None, custom: bool = False) -> sqlite3.Row | None:
        """The latest finished run; of the unmodified preset (no overrides) unless `custom` is True."""
        sql = "SELECT * FROM runs WHERE paper=? AND status='finished'" + ("" if custom else " AND overrides='{}'")
        args: tuple = (paper,)
        if preset:
            sql += " AND preset=?"
            args += (preset,)
        rows = self.query(sql + " ORDER BY id DESC LIMIT 1", args)
        return rows[0] if rows else None

    def latest_resumable(self, paper: str, preset: str, seed: int) -> sqlite3.Row | None:
        self.reap()
        rows = self.query("SELECT * FROM runs WHERE paper=? AND preset=? AND seed=? AND status IN "
                          "('interrupted','failed') ORDER BY id DESC LIMIT 1", (paper, preset, seed))
        return rows[0] if rows else None


def json_safe(obj):
    """NaN and infinities become null, so every JSON we write is strict JSON (browsers refuse NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed child not yet waited for) still answers kill(0); it is not running
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
