"""End to end through the CLI: a real paper's run killed with SIGKILL is marked interrupted and resumes
to the same final metrics; Ctrl-C marks it interrupted too; a corrupted checkpoint is refused, not loaded."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlcanon.core.results import Store

ARGS = ["lecun1989", "--preset", "smoke", "--set", "epochs=8", "--set", "n_train=4096"]
LONG_ARGS = ["lecun1989", "--preset", "smoke", "--set", "epochs=100", "--set", "n_train=4096"]
"""For the tests that stop a run and never finish it: long enough that, on a loaded machine, the signal cannot
arrive after the run has already ended."""


def cli(home: Path, *args, **kw):
    env = {**os.environ, "DLCANON_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "dlcanon", *args], capture_output=True, text=True, env=env, **kw)


def start_and_stop_after_checkpoint(home: Path, sig: int, args: list[str] = ARGS) -> int:
    env = {**os.environ, "DLCANON_HOME": str(home)}
    # A child inherits an ignored SIGINT (something earlier in a full pytest session ignores it; CI saw the run
    # finish with exit 0): give it a terminal's default, so Python turns Ctrl-C into KeyboardInterrupt.
    proc = subprocess.Popen([sys.executable, "-m", "dlcanon", "run", *args], env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list(home.glob("runs/*/checkpoint/state-*.json")):
        assert proc.poll() is None, "the run ended before its first checkpoint"
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be stopped; make it longer"
    proc.send_signal(sig)
    return proc.wait()


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    start_and_stop_after_checkpoint(tmp_path / "a", signal.SIGKILL)
    listing = json.loads(cli(tmp_path / "a", "results", "lecun1989", "--json").stdout)
    assert [r["status"] for r in listing] == ["interrupted"]

    resumed = cli(tmp_path / "a", "run", *ARGS, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    fresh = cli(tmp_path / "b", "run", *ARGS, "--json")
    assert json.loads(resumed.stdout)["metrics"] == json.loads(fresh.stdout)["metrics"]
    run = Store(tmp_path / "a" / "results.sqlite").run(json.loads(resumed.stdout)["run"])
    assert run["status"] == "finished" and run["id"] == listing[0]["id"]


@pytest.mark.slow
def test_ctrl_c_marks_the_run_interrupted(tmp_path):
    code = start_and_stop_after_checkpoint(tmp_path, signal.SIGINT, LONG_ARGS)
    assert code == 130
    listing = json.loads(cli(tmp_path, "results", "lecun1989", "--json").stdout)
    assert listing[0]["status"] == "interrupted"


@pytest.mark.slow
def test_corrupted_checkpoint_is_refused_with_one_line(tmp_path):
    start_and_stop_after_checkpoint(tmp_path, signal.SIGKILL, LONG_ARGS)
    state = next(tmp_path.glob("runs/*/checkpoint/state-*.json"))
    blob = next(state.parent.glob("tensors-*.safetensors"))
    blob.write_bytes(blob.read_bytes()[:-7] + b"garbage")
    p = cli(tmp_path, "run", *LONG_ARGS, "--resume")
    assert p.returncode == 2
    assert "corrupted" in p.stderr and "without --resume" in p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("dlcanon run: error:")]
    assert len(errors) == 1 and "Traceback" not in p.stderr
    listing = json.loads(cli(tmp_path, "results", "lecun1989", "--json").stdout)
    assert listing[0]["status"] == "interrupted"                 # nothing lost: still resumable after repair
