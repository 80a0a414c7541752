"""Running an experiment: device, seeds, threads, the RunContext a paper's run() receives, and execute().

A paper's `run(cfg, ctx)` trains and measures; it talks to the outside only through ctx:
    ctx.device, ctx.seed, ctx.preset          where and how to run
    ctx.log(step, name=value, ...)            curve points (stored in the results store)
    ctx.bar(total, desc)                      a progress bar (silent when not a TTY)
    ctx.checkpoint(step, state)               save a resumable state (RNG states are added for you)
    ctx.restore() -> (step, state) | None     on --resume, the last checkpoint (RNG states restored)
    ctx.path(name)                            a file in this run's folder, for figures and samples
and returns a flat dict of final metrics, which the claims judge.

Steps are one counter per run: on resume, every curve point logged after the checkpoint's step is dropped
(it will be logged again), so a multi-stage experiment logs all its stages against one global step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import checkpoint, data
from .config import SEED_MAX
from .errors import UserError, cpu_count, env_int
from .paper import ConfigError, Paper
from .progress import Bar
from .results import Store, json_safe


class ResumeError(UserError, RuntimeError):
    pass


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: CUDA is not available on this machine; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: MPS is not available on this machine; use --device cpu or auto")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {name}: choose auto, cpu, cuda or mps")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": _jsonable(random.getstate()),
             "numpy": [np_state[0], np_state[1], int(np_state[2]), int(np_state[3]), float(np_state[4])]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_tupled(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _jsonable(x):
    return [_jsonable(v) for v in x] if isinstance(x, (tuple, list)) else x


def _tupled(x):
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x


def versions() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "platform": platform.platform(terse=True)}


def git_rev() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class RunContext:
    paper: str
    preset: str
    seed: int
    device: torch.device
    run_id: int
    out_dir: Path
    store: Store
    quiet: bool = False
    elapsed_before: float = 0.0
    """Wall time spent before a resume, carried in the checkpoint."""
    _resume: tuple[int, dict] | None = None
    _buffer: list = field(default_factory=list)
    _t0: float = field(default_factory=time.perf_counter)

    def log(self, step: int, **values: float) -> None:
        self._buffer.extend((int(step), k, float(v)) for k, v in values.items())
        if len(self._buffer) >= 2000:
            self.flush()

    def flush(self) -> None:
        self.store.log_metrics(self.run_id, self._buffer)
        self._buffer = []

    def bar(self, total: int, desc: str = "") -> Bar:
        return Bar(total, desc or self.paper, enabled=None if not self.quiet else False)

    def path(self, name: str) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self.out_dir / name

    @property
    def checkpoint_dir(self) -> Path:
        return self.out_dir / "checkpoint"

    def checkpoint(self, step: int, state: dict) -> None:
        """Save a resumable state. Logged points up to now are flushed first, so a resume drops none."""
        self.flush()
        elapsed = self.elapsed_before + time.perf_counter() - self._t0
        checkpoint.save(self.checkpoint_dir, {"step": int(step), "state": state, "rng": rng_state(),
                                              "elapsed": elapsed})

    def restore(self) -> tuple[int, dict] | None:
        """On a resumed run, (step, state) of the last checkpoint, with every RNG put back; else None."""
        if self._resume is None:
            return None
        step, state = self._resume
        self._resume = None
        return step, state

    @property
    def wall_s(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._t0


@dataclass
class RunResult:
    run_id: int
    paper: str
    preset: str
    seed: int
    device: str
    metrics: dict[str, float]
    claims: list[dict]
    wall_s: float
    out_dir: Path

    @property
    def ok(self) -> bool:
        return all(c["verdict"] != "fail" for c in self.claims)


def execute(paper: Paper, preset: str = "quick", seed: int = 0, device: str = "auto",
            overrides: dict[str, str] | None = None, resume: bool = False, store: Store | None = None,
            threads: int = 1, quiet: bool = False, announce: Callable[[str], None] | None = None) -> RunResult:
    """Run one experiment end to end and record it. Raises ConfigError/ResumeError for user mistakes.

    Everything a user can get wrong (config, seed, threads, device, store, cache folder, resume) is checked
    before the run's row is written; `announce` then receives one line naming the run."""
    cfg = paper.config(preset, overrides)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"--seed {seed}: a seed is a whole number from 0 to {SEED_MAX}")
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= cpu_count():
        raise ConfigError(f"--threads {threads}: from 1 to {cpu_count()} (this machine's cores)")
    dev = pick_device(device)
    store = store or Store()
    data.checked_cache_dir()
    torch.set_num_threads(threads)
    config = dataclasses.asdict(cfg)
    resume_state, elapsed_before = None, 0.0
    if resume:
        row = store.latest_resumable(paper.id, preset, seed)
        if row is None:
            raise ResumeError(f"no interrupted run of {paper.id} (preset {preset}, seed {seed}) to resume; "
                              f"run it without --resume")
        if json.loads(row["config"]) != json_safe(config):
            raise ResumeError(f"run {row['id']} used a different config; resume with the same --set values "
                              f"or start a new run without --resume")
        run_id = row["id"]
        step = 0
        if checkpoint.exists(store.run_dir(run_id) / "checkpoint"):
            skipped: list[str] = []
            try:
                ck = checkpoint.load(store.run_dir(run_id) / "checkpoint", skipped)
            except checkpoint.CheckpointError as e:
                raise checkpoint.CheckpointError(f"{e}; run without --resume to start afresh") from None
            for reason in skipped:
                warn(f"{reason}; resuming from the previous checkpoint (step {ck['step']}) instead")
            step, elapsed_before = ck["step"], ck["elapsed"]
            resume_state = (ck["step"], ck["state"], ck["rng"])
        store.reopen_run(run_id, from_step=step)
    else:
        run_id = store.start_run(paper.id, preset, seed, str(dev), config, versions(), git_rev(), overrides)
    ctx = RunContext(paper.id, preset, seed, dev, run_id, store.run_dir(run_id), store, quiet=quiet,
                     elapsed_before=elapsed_before)
    if announce is not None:
        what = "resuming" if resume else "running"
        announce(f"run {run_id}: {what} {paper.id} (preset {preset}, seed {seed}, {dev}, {threads} thread(s)) ...")
    seed_everything(seed)
    if dev.type == "cuda":                            # CPU kernels are deterministic at a fixed thread count
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    if resume_state is not None:
        set_rng_state(resume_state[2])
        ctx._resume = resume_state[:2]
    try:
        metrics = {k: float(v) for k, v in paper.run(cfg, ctx).items()}
    except KeyboardInterrupt:
        ctx.flush()
        store.finish_run(run_id, "interrupted", ctx.wall_s, error="KeyboardInterrupt")
        raise
    except BaseException as e:
        ctx.flush()
        store.finish_run(run_id, "failed", ctx.wall_s, error=f"{type(e).__name__}: {e}")
        raise
    ctx.flush()
    claims = paper.judge(metrics, preset)
    wall = ctx.wall_s
    _write_summary(ctx, metrics, claims, wall)
    store.finish_run(run_id, "finished", wall, metrics, claims)
    return RunResult(run_id, paper.id, preset, seed, str(dev), metrics, claims, wall, ctx.out_dir)


def warn(line: str) -> None:
    print(f"dlcanon: {line}", file=sys.stderr)


def _write_summary(ctx: RunContext, metrics: dict, claims: list[dict], wall: float) -> None:
    summary = {"run": ctx.run_id, "paper": ctx.paper, "preset": ctx.preset, "seed": ctx.seed,
               "device": str(ctx.device), "wall_s": wall, "metrics": metrics, "claims": claims}
    ctx.path("result.json").write_text(json.dumps(json_safe(summary), indent=2, default=str, allow_nan=False))


def default_threads() -> int:
    """One torch thread per run unless DLCANON_THREADS says otherwise (tests and parallel jobs rely on it)."""
    return env_int("DLCANON_THREADS", 1, 1, cpu_count())
