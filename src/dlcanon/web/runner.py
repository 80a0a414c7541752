"""The guide's one background run: `python -m dlcanon run ID --preset P` as a subprocess, its output kept
line by line for the page to stream, and its run id looked up in the store when it ends.

The run is the ordinary CLI command in the ordinary results store ($DLCANON_HOME of the guide), so it is
recorded exactly like a run from a terminal; no paper knows the guide exists.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import dlcanon

MAX_LINES = 10_000


class Busy(Exception):
    """A run is already in progress (the guide runs one at a time)."""


@dataclass
class Job:
    paper: str
    preset: str
    started: float = field(default_factory=time.time)
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    run_id: int | None = None
    done: threading.Event = field(default_factory=threading.Event)
    proc: subprocess.Popen | None = None

    def summary(self) -> dict:
        return {"paper": self.paper, "preset": self.preset, "running": not self.done.is_set(),
                "exit_code": self.exit_code, "run_id": self.run_id}


class Runner:
    def __init__(self, store):
        self.store = store
        self.job: Job | None = None
        self._lock = threading.Lock()

    def start(self, paper: str, preset: str) -> Job:
        with self._lock:
            if self.job is not None and not self.job.done.is_set():
                raise Busy(f"a run of {self.job.paper} ({self.job.preset}) is in progress")
            job = Job(paper, preset)
            src = str(Path(dlcanon.__file__).resolve().parent.parent)
            env = {**os.environ, "DLCANON_HOME": str(self.store.path.parent), "PYTHONUNBUFFERED": "1",
                   "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
            job.proc = subprocess.Popen([sys.executable, "-m", "dlcanon", "run", paper, "--preset", preset],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, text=True, errors="replace", bufsize=1)
            self.job = job
        threading.Thread(target=self._follow, args=(job,), daemon=True).start()
        return job

    def _follow(self, job: Job) -> None:
        for line in job.proc.stdout:
            if len(job.lines) < MAX_LINES:
                job.lines.append(line.rstrip("\r\n"))
        try:
            job.exit_code = job.proc.wait()
            rows = self.store.query("SELECT id FROM runs WHERE pid=? AND paper=? AND started>=? ORDER BY id DESC "
                                    "LIMIT 1", (job.proc.pid, job.paper, job.started - 1))
            job.run_id = rows[0]["id"] if rows else None       # None: the run failed before its row was written
        finally:
            job.done.set()                                     # whatever happened, the guide can run again

    def stop(self) -> None:
        """On shutdown: end a run still in progress (it is left `interrupted`, resumable from the CLI)."""
        job = self.job
        if job is not None and job.proc is not None and job.proc.poll() is None:
            job.proc.send_signal(signal.SIGINT)       # as Ctrl-C in a terminal: the run is marked interrupted
            try:
                job.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                job.proc.kill()
