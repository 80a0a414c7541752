"""core/: claims, overrides, checkpoints, the results store, determinism, kill-and-resume."""

import json
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dlcanon.core import checkpoint, runtime
from dlcanon.core.paper import Claim, ConfigError
from dlcanon.core.results import Store

sys.path.insert(0, str(Path(__file__).parent))
import toy_paper  # noqa: E402

HERE = Path(__file__).parent


def test_claim_compares_metric_and_difference_of_arms():
    c = Claim("beats", "cnn_err", "<", 0.0, "5.0%", "small", minus="fc_err")
    assert c.statement == "cnn_err - fc_err < 0"
    assert c.verdict({"cnn_err": 0.06, "fc_err": 0.14}, "quick") == (pytest.approx(-0.08), "pass")
    assert c.verdict({"cnn_err": 0.20, "fc_err": 0.14}, "quick")[1] == "fail"
    assert c.verdict({"cnn_err": 0.20, "fc_err": 0.14}, "smoke")[1] == "unjudged"
    assert c.verdict({"cnn_err": math.nan, "fc_err": 0.1}, "quick")[1] == "fail"     # NaN never passes
    with pytest.raises(KeyError, match="fc_err"):
        c.measure({"cnn_err": 0.1})


def test_claim_judged_only_on_full_tolerates_missing_metric_in_quick():
    c = Claim("big", "fashion_acc", ">=", 0.7, "p", "s", judged_on=("full",))
    value, verdict = c.verdict({}, "quick")
    assert verdict == "unjudged" and math.isnan(value)
    assert c.verdict({"fashion_acc": 0.5}, "full")[1] == "fail"


def test_known_fail_claim_is_marked_not_hidden():
    c = Claim("hard", "x", ">=", 1.0, "p", "s", known_fail="too small a model")
    assert c.verdict({"x": 0.5}, "quick")[1] == "known-fail"
    assert c.verdict({"x": 1.5}, "quick")[1] == "pass"


def test_bad_op_is_refused():
    with pytest.raises(ValueError, match="op must be"):
        Claim("x", "m", "=", 1.0, "", "")


def test_overrides_are_typed_and_errors_name_the_field():
    p = toy_paper.PAPER
    cfg = p.config("quick", {"steps": "5", "lr": "0.5", "flag": "yes", "sizes": "4,5,6"})
    assert (cfg.steps, cfg.lr, cfg.flag, cfg.sizes) == (5, 0.5, True, (4, 5, 6))
    with pytest.raises(ConfigError, match=r"steps takes a whole number in \[1, 10000\], and 'many' is not one"):
        p.config("quick", {"steps": "many"})
    with pytest.raises(ConfigError, match="no such field.*steps"):
        p.config("quick", {"stpes": "5"})
    with pytest.raises(ConfigError, match="smoke, quick, full"):
        p.config("fast")


@pytest.mark.parametrize("field, text, says", [
    ("steps", "0", r"--set steps=0: steps takes a whole number in \[1, 10000\]"),
    ("steps", "-5", r"--set steps=-5: steps takes"),
    ("steps", "99999999999999999999", r"steps takes a whole number in \[1, 10000\]"),
    ("steps", "1e3", r"'1e3' is not one"),
    ("steps", "", r"'' is not one"),
    ("lr", "nan", r"--set lr=nan: lr takes a finite number in \(0, 1\]"),
    ("lr", "inf", r"lr takes a finite number"),
    ("lr", "-inf", r"lr takes a finite number"),
    ("lr", "0", r"lr takes a finite number in \(0, 1\]"),
    ("sizes", "", r"sizes takes 1 or more comma-separated ints, each in \[1, 100\]"),
    ("sizes", "3,0", r"--set sizes=3,0: sizes takes"),
    ("sizes", "3,,4", r"is not one"),
    ("flag", "2", r"flag takes true or false"),
    ("warmup", "12", r"with warmup=12: warmup \(12\) must be less than steps \(12\)"),
])
def test_out_of_range_overrides_are_refused_before_anything_runs(field, text, says):
    with pytest.raises(ConfigError, match=says):
        toy_paper.PAPER.config("quick", {field: text})


def test_checkpoint_round_trip_of_nested_state():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "rng": runtime.rng_state(), "tag": (1, "a")}
    d = Path(pytest.importorskip("tempfile").mkdtemp())
    checkpoint.save(d, state)
    back = checkpoint.load(d)
    assert torch.equal(back["model"]["weight"], model.state_dict()["weight"])
    assert back["opt"]["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert back["tag"] == (1, "a")
    opt2 = torch.optim.Adam(model.parameters())
    opt2.load_state_dict(back["opt"])                     # an optimiser accepts the restored state
    runtime.set_rng_state(back["rng"])


def test_corrupted_checkpoint_is_refused(tmp_path):
    checkpoint.save(tmp_path, {"w": torch.ones(3)})
    blob = next(tmp_path.glob("tensors-*.safetensors"))
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(checkpoint.CheckpointError, match="corrupted"):
        checkpoint.load(tmp_path)
    next(tmp_path.glob("state-*.json")).write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match="unreadable"):
        checkpoint.load(tmp_path)


def test_edited_checkpoint_state_is_refused_and_the_previous_generation_loads(tmp_path):
    checkpoint.save(tmp_path, {"step": 1, "w": torch.ones(3)})
    checkpoint.save(tmp_path, {"step": 2, "w": torch.full((3,), 2.0)})
    checkpoint.save(tmp_path, {"step": 3, "w": torch.full((3,), 3.0)})
    newest, previous = checkpoint.generations(tmp_path)            # only KEEP=2 generations stay on disk
    assert len(list(tmp_path.glob("tensors-*"))) == 2
    newest.write_text(newest.read_text().replace('"step", 3', '"step", 30'))  # an edited step, tensors untouched
    skipped = []
    back = checkpoint.load(tmp_path, skipped)
    assert back["step"] == 2 and torch.equal(back["w"], torch.full((3,), 2.0))
    assert len(skipped) == 1 and "state does not match its checksum" in skipped[0]
    previous.write_bytes(b"")
    with pytest.raises(checkpoint.CheckpointError, match="corrupted.*older one"):
        checkpoint.load(tmp_path)


def test_same_seed_same_metrics_and_run_is_recorded(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    a = runtime.execute(toy_paper.PAPER, "quick", seed=5, device="cpu", store=store, quiet=True)
    b = runtime.execute(toy_paper.PAPER, "quick", seed=5, device="cpu", store=store, quiet=True)
    c = runtime.execute(toy_paper.PAPER, "quick", seed=6, device="cpu", store=store, quiet=True)
    assert a.metrics == b.metrics and a.metrics != c.metrics
    row = store.run(a.run_id)
    assert row["status"] == "finished" and row["seed"] == 5 and json.loads(row["config"])["steps"] == 12
    assert json.loads(row["versions"])["torch"] == torch.__version__
    assert store.final_metrics(a.run_id) == pytest.approx(a.metrics)
    assert len(store.curves(a.run_id)["loss"]) == 12
    assert [r["verdict"] for r in store.claims(a.run_id)] == ["pass", "known-fail"]
    assert (a.out_dir / "result.json").exists()


def _writer(args):
    path, k = args
    store = Store(path)
    for i in range(5):
        rid = store.start_run(f"p{k}", "quick", i, "cpu", {"k": k}, {}, None)
        store.log_metrics(rid, [(s, "loss", s * 0.1) for s in range(20)])
        store.finish_run(rid, "finished", 0.1, {"m": float(i)},
                         [dict(claim="c", measured=1.0, threshold=0.0, verdict="pass", statement="s",
                               paper_value="p", scale_note="n")])
    return k


def test_eight_concurrent_writers_lose_no_row(tmp_path):
    path = tmp_path / "r.sqlite"
    Store(path)
    with mp.get_context("spawn").Pool(8) as pool:
        assert sorted(pool.map(_writer, [(path, k) for k in range(8)])) == list(range(8))
    store = Store(path)
    assert store.query("SELECT COUNT(*) n FROM runs")[0]["n"] == 40
    assert store.query("SELECT COUNT(*) n FROM metrics")[0]["n"] == 40 * 21
    assert store.query("SELECT COUNT(*) n FROM claims")[0]["n"] == 40
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"


def test_sigkill_marks_interrupted_and_resume_gives_same_result(tmp_path):
    env = {**os.environ, "DLCANON_HOME": str(tmp_path), "PYTHONPATH": str(HERE.parent / "src")}
    proc = subprocess.Popen([sys.executable, str(HERE / "toy_paper.py"), "0.3"], env=env)
    store = Store(tmp_path / "results.sqlite")
    deadline = time.time() + 60
    while time.time() < deadline:                       # wait until a few checkpoints exist
        rows = store.query("SELECT id FROM runs")
        if rows and len(store.curves(rows[0]["id"]).get("loss", [])) >= 4:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_id = store.query("SELECT id FROM runs")[0]["id"]
    assert store.run(run_id)["status"] == "running"     # nobody could update it ...
    store.reap()
    assert store.run(run_id)["status"] == "interrupted"  # ... until the dead pid is noticed

    resumed = runtime.execute(toy_paper.PAPER, "quick", seed=3, device="cpu", overrides={"sleep": "0.3"},
                              resume=True, store=store, quiet=True)
    fresh = runtime.execute(toy_paper.PAPER, "quick", seed=3, device="cpu", overrides={"sleep": "0"},
                            store=Store(tmp_path / "other" / "r.sqlite"), quiet=True)
    assert resumed.run_id == run_id
    assert resumed.metrics == fresh.metrics              # bit-identical, RNG included
    steps = [s for s, _ in store.curves(run_id)["loss"]]
    assert steps == list(range(1, 13))                   # no step lost, none logged twice
    assert store.run(run_id)["status"] == "finished"


def test_resume_without_interrupted_run_says_so(tmp_path):
    with pytest.raises(runtime.ResumeError, match="no interrupted run"):
        runtime.execute(toy_paper.PAPER, "quick", seed=99, device="cpu", resume=True,
                        store=Store(tmp_path / "r.sqlite"), quiet=True)
