"""Generated docs: the README claims table and notes.md results tables come from the results store."""

import pytest

from dlcanon import report
from dlcanon.core import registry, runtime
from dlcanon.core.results import Store


def test_replace_between_keeps_everything_outside_the_markers():
    text = "intro\n<!-- claims:start -->\nold\n<!-- claims:end -->\noutro\n"
    new = report.replace_between(text, "claims", "| a |")
    assert new == "intro\n<!-- claims:start -->\n| a |\n<!-- claims:end -->\noutro\n"
    with pytest.raises(ValueError, match="markers"):
        report.replace_between("no markers here", "claims", "x")


def test_tables_show_the_measured_value_and_the_papers_figure(tmp_path):
    store = Store(tmp_path / "r.sqlite")
    paper = registry.get("mcculloch1943")
    result = runtime.execute(paper, "quick", device="cpu", store=store, quiet=True)
    readme_table = report.claims_table(store, ["mcculloch1943"])
    notes_table = report.notes_table(store, "mcculloch1943")
    for claim in paper.claims:
        assert claim.statement in readme_table and claim.statement in notes_table
    assert paper.claims[0].paper_value.replace("|", "\\|") in notes_table
    assert f"run {result.run_id}, seed 0, cpu" in notes_table
    assert readme_table.count("\n") == len(paper.claims) + 1       # header, rule, one row per claim
    assert "not run" in readme_table                                 # no full run recorded yet


def test_no_run_yet_says_how_to_get_one(tmp_path):
    assert "dlcanon run lecun1989" in report.notes_table(Store(tmp_path / "r.sqlite"), "lecun1989")


def test_update_docs_rewrites_only_the_readme_it_is_given(tmp_path, monkeypatch):
    store = Store(tmp_path / "r.sqlite")
    runtime.execute(registry.get("mcculloch1943"), "quick", device="cpu", store=store, quiet=True)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- claims:start -->\n<!-- claims:end -->\n")
    monkeypatch.setattr(report, "PACKAGE", tmp_path / "no-package")      # keep the real notes.md untouched
    changed = report.update_docs(store, readme)
    assert changed == [readme] and "mcculloch1943" in readme.read_text()
