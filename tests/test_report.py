"""Results of record and what is rendered from them: the README claims table, the notes.md results tables, the
report (record beside the user's own runs). Only `dlcanon record` writes tracked files."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dlcanon import cli, record, report
from dlcanon.core import registry, runtime
from dlcanon.core.results import Store

REPO = Path(__file__).resolve().parents[1]


def test_replace_between_keeps_everything_outside_the_markers():
    text = "intro\n<!-- claims:start -->\nold\n<!-- claims:end -->\noutro\n"
    new = report.replace_between(text, "claims", "| a |")
    assert new == "intro\n<!-- claims:start -->\n| a |\n<!-- claims:end -->\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        report.replace_between("no markers here", "claims", "x")


@pytest.fixture
def papers_copy(tmp_path, monkeypatch):
    """record.py and report.py pointed at a copy of the papers folder and README: the real ones stay as they are."""
    papers = tmp_path / "papers"
    shutil.copytree(record.PAPERS, papers, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(record, "PAPERS", papers)
    monkeypatch.setattr(report, "PACKAGE", tmp_path)
    monkeypatch.setattr(report, "REPO", tmp_path)
    monkeypatch.setenv("DLCANON_HOME", str(tmp_path / "home"))
    return tmp_path


def test_record_writes_an_entry_with_its_provenance_and_renders_the_tables(papers_copy, capsys):
    rc = cli.main(["record", "mcculloch1943", "--preset", "quick", "--seeds", "2", "--allow-dirty"])
    assert rc == 0, capsys.readouterr().err
    rec = json.loads((papers_copy / "papers" / "mcculloch1943" / "record.json").read_text())
    (e,) = [x for x in rec["entries"] if x["preset"] == "quick"]
    assert e["seeds"] == [0, 1] and e["device_kind"] == "cpu" and e["versions"]["torch"]
    assert e["git_rev"] and e["date"] and e["wall_s"] > 0 and len(e["runs"]) == 2
    paper = registry.get("mcculloch1943")
    assert rec["claims"] == record.claim_texts(paper)
    assert e["config"] == json.loads(json.dumps(paper.presets["quick"].__dict__))
    notes = (papers_copy / "papers" / "mcculloch1943" / "notes.md").read_text()
    readme = (papers_copy / "README.md").read_text()
    for claim in paper.claims:
        assert claim.statement in notes and claim.statement in readme
    assert "seed(s) 0, 1, cpu" in notes
    store = Store(papers_copy / "home" / "results.sqlite")
    assert {r["seed"] for r in store.runs("mcculloch1943")} == {0, 1}


def test_aggregate_gives_mean_and_spread_over_seeds():
    runs = [{"metrics": {"a": 1.0, "b": 2.0}}, {"metrics": {"a": 3.0, "b": 2.0}}]
    mean, spread = record.aggregate(runs)
    assert mean == {"a": 2.0, "b": 2.0} and spread["a"] == pytest.approx(2 ** 0.5) and spread["b"] == 0


def test_record_refuses_uncommitted_source_unless_told(papers_copy, monkeypatch, capsys):
    monkeypatch.setattr(record, "git_state", lambda: {"rev": "abc", "dirty": True})
    assert cli.main(["record", "mcculloch1943"]) == 2
    assert "uncommitted" in capsys.readouterr().err


def test_custom_runs_are_marked_and_never_reported_as_the_presets(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    paper = registry.get("mcculloch1943")
    plain = runtime.execute(paper, "smoke", device="cpu", store=store, quiet=True)
    custom = runtime.execute(paper, "smoke", device="cpu", store=store, quiet=True, overrides={"parity_max_n": "6"})
    assert json.loads(store.run(custom.run_id)["overrides"]) == {"parity_max_n": "6"}
    assert store.latest_finished("mcculloch1943", "smoke")["id"] == plain.run_id
    assert store.latest_finished("mcculloch1943", "smoke", custom=True)["id"] == custom.run_id


def test_report_shows_the_record_and_the_users_latest_run_and_touches_no_tracked_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCANON_HOME", str(tmp_path))
    store = Store()
    mine = runtime.execute(registry.get("mcculloch1943"), "quick", device="cpu", store=store, quiet=True)
    before = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    md, _ = report.write_report(store, tmp_path / "rep")
    after = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    assert before == after
    text = md.read_text()
    assert "yours (quick)" in text and "record (quick)" in text
    rows = report.comparison_rows(store, "mcculloch1943")
    assert rows[0]["yours_quick"]["measured"] == mine.claims[0]["measured"]


def test_the_committed_tables_are_what_the_record_renders(tmp_path, monkeypatch):
    """README.md and every notes.md hold exactly the tables the record gives (nobody typed them)."""
    shutil.copytree(record.PAPERS, tmp_path / "papers", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    shutil.copy(REPO / "README.md", tmp_path / "README.md")
    monkeypatch.setattr(record, "PAPERS", tmp_path / "papers")
    assert report.render_docs(tmp_path / "README.md", tmp_path / "papers") == []


@pytest.mark.parametrize("pid", registry.implemented())
def test_the_record_agrees_with_the_code(pid):
    """Each implemented paper has a record; its claims and preset configs are the code's own (else re-record)."""
    rec = record.load(pid)
    assert rec is not None, f"no record: `dlcanon record {pid} --preset quick`"
    paper = registry.get(pid)
    assert not record.stale_claims(paper), f"claims changed since recorded: re-record {pid}"
    assert rec["claims"] == record.claim_texts(paper), f"claim texts changed: `dlcanon record {pid} --render`"
    presets = {e["preset"] for e in rec["entries"]}
    assert "quick" in presets
    for e in rec["entries"]:
        assert e["config"] == json.loads(json.dumps(paper.presets[e["preset"]].__dict__)), \
            f"the {e['preset']} preset changed since it was recorded: re-record it"
        assert {c["name"] for c in e["claims"]} == {c.name for c in paper.claims}


def test_a_spread_reported_inside_one_run_travels_with_the_claim():
    """A paper that averages over restarts inside a run reports `<metric>:std`; the claim carries it (not for a
    difference of two arms, whose spread one run cannot know)."""
    from dlcanon.core.paper import Claim, Paper

    claims = [Claim("acc_high", "acc", ">=", 0.5, "p", "s"), Claim("gap", "acc", ">", 0.0, "p", "s", minus="base")]
    paper = Paper("toy", {p: None for p in ("smoke", "quick", "full")}, run=None, claims=claims)
    rows = paper.judge({"acc": 0.9, "acc:std": 0.05, "base": 0.5}, "quick")
    assert rows[0]["spread"] == 0.05 and rows[1]["spread"] is None
    assert report.fmt_claim({"measured": 0.9, "spread": 0.05, "spread_over": "within the run"}) == \
        "0.9 ± 0.05 (sd within the run)"
    seeds = {"measured": 0.9, "spread": 0.05, "spread_over": "seeds"}
    assert report.fmt_claim(seeds, seeds=3) == "0.9 ± 0.05 (3 seeds)"
    assert report.fmt_claim({"measured": 0.9, "spread": 0.0}) == "0.9"
