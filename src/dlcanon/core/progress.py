"""A progress bar with loss and rate for long work; silent when stderr is not a terminal (CI, pipes)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Bar:
    """`with Bar(total, "epochs") as bar: ... bar.update(1, loss=0.3)`: a no-op unless attached to a TTY."""

    def __init__(self, total: int, desc: str = "", enabled: bool | None = None):
        self.total, self.desc, self.done = total, desc, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Progress | None = None
        self._t0 = time.perf_counter()

    def __enter__(self):
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.desc, total=self.total, info="", rate="")
        return self

    def update(self, n: int = 1, **info: float) -> None:
        self.done += n
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        text = "  ".join(f"{k} {v:.4g}" for k, v in info.items())
        self._progress.update(self._task, advance=n, info=text, rate=f"{self.done / elapsed:.1f}/s")

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False
