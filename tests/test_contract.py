"""The contract every registered paper keeps (parametrised over the registry)."""

import ast
import re
from pathlib import Path

import pytest

from dlcanon.catalog import load_catalog
from dlcanon.core import registry
from dlcanon.core.paper import PRESETS
from dlcanon.core.testing import run_preset

PAPERS = Path(registry.__file__).resolve().parents[1] / "papers"
IDS = registry.implemented()
HEADINGS = ["## The question and the answer", "## The claims", "## Equations to code", "## Deviations",
            "## Results"]


@pytest.mark.parametrize("pid", IDS)
def test_folder_has_the_four_files_and_is_in_the_catalog(pid):
    d = PAPERS / pid
    for f in ("__init__.py", "model.py", "experiment.py", "notes.md", f"test_{pid}.py"):
        assert (d / f).is_file(), f"papers/{pid}/{f} is missing"
    assert pid in load_catalog(), f"{pid} has no catalog entry"


@pytest.mark.parametrize("pid", IDS)
def test_notes_have_the_required_sections(pid):
    text = (PAPERS / pid / "notes.md").read_text()
    assert text.startswith("# "), "notes.md starts with '# <title> (<authors>, <year>)'"
    at = [text.find(h) for h in HEADINGS]
    assert all(i >= 0 for i in at), f"missing: {[h for h, i in zip(HEADINGS, at, strict=True) if i < 0]}"
    assert at == sorted(at), "sections out of order"
    deviations = text[at[3]:at[4]]
    assert len(re.findall(r"\w+", deviations)) > 20, "the Deviations section says too little"
    assert "<!-- results:start -->" in text and "<!-- results:end -->" in text


@pytest.mark.parametrize("pid", IDS)
def test_claims_are_complete(pid):
    paper = registry.get(pid)
    assert set(PRESETS) <= set(paper.presets)
    assert paper.claims, "a paper without claims checks nothing"
    for c in paper.claims:
        assert c.paper_value.strip() and c.scale_note.strip(), f"{c.name}: paper_value and scale_note are required"
        assert {"quick", "full"} & set(c.judged_on), f"{c.name} is never judged"
    assert any("quick" in c.judged_on for c in paper.claims), "no claim is judged in quick mode (the CI check)"


@pytest.mark.parametrize("pid", IDS)
def test_config_fields_are_documented(pid):
    """Every Config field has a docstring on the line after it (shown to users who override it)."""
    tree = ast.parse((PAPERS / pid / "experiment.py").read_text())
    cls = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Config"]
    assert cls, "experiment.py defines class Config"
    body = cls[0].body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign):
            nxt = body[i + 1] if i + 1 < len(body) else None
            ok = isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str)
            assert ok, f"Config.{node.target.id} has no docstring"


@pytest.mark.parametrize("pid", IDS)
def test_quick_claims_are_tested_in_the_papers_own_tests(pid):
    text = (PAPERS / pid / f"test_{pid}.py").read_text()
    assert re.search(rf"run_preset\(\s*['\"]{pid}['\"]\s*,\s*['\"]quick['\"]", text), \
        f"test_{pid}.py must run the quick preset and assert its claims"
    assert "assert_claims" in text


@pytest.mark.parametrize("pid", IDS)
def test_smoke_preset_runs_and_reports_every_claimed_metric(pid):
    result = run_preset(pid, "smoke")
    assert result.metrics, "run() returned no metrics"
    assert {c["verdict"] for c in result.claims} <= {"unjudged", "pass", "fail", "known-fail"}
    assert len(result.claims) == len(registry.get(pid).claims)


@pytest.mark.parametrize("pid", IDS)
def test_config_fields_declare_their_ranges(pid):
    """Every number and tuple field says what is valid (Range), every text field its choices; presets obey."""
    from dlcanon.core.config import ConfigError, OneOf, Pattern, Range, check_config, field_specs

    paper = registry.get(pid)
    for spec in field_specs(paper.presets["quick"]).values():
        if spec.kind in (int, float, tuple):
            assert isinstance(spec.rule, Range), f"{pid}.{spec.name}: declare Annotated[..., Range(...)]"
            has_lo = spec.rule.ge is not None or spec.rule.gt is not None
            has_hi = spec.rule.le is not None or spec.rule.lt is not None
            assert has_lo and has_hi, f"{pid}.{spec.name}: a Range needs a lower and an upper bound"
        elif spec.kind is str:
            assert isinstance(spec.rule, (OneOf, Pattern)), f"{pid}.{spec.name}: declare OneOf(...) or Pattern(...)"
        assert spec.doc, f"{pid}.{spec.name} has no docstring"
    for name, cfg in paper.presets.items():
        try:
            check_config(cfg)
        except ConfigError as e:
            pytest.fail(f"{pid} preset {name} breaks its own ranges: {e}")
