"""The command line: every command works, every user mistake is one line and exit status 2."""

import json
import re
import subprocess
import sys

import pytest

from dlcanon.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_on_every_command(capsys):
    for cmd in ["list", "show", "run", "reproduce", "results", "report", "bib", "authors", "graph", "data"]:
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "usage: dlcanon " + cmd in capsys.readouterr().out


@pytest.mark.parametrize("args, expect", [
    (["show", "lecun1898"], "did you mean"),
    (["run", "lecun1898"], "did you mean"),
    (["run", "lecun1989", "--preset", "fast"], "smoke, quick, full"),
    (["run", "lecun1989", "--set", "epochs"], "field=value"),
    (["run", "lecun1989", "--set", "nonsense=3"], "no such field"),
    (["reproduce", "nope1999"], "unknown paper id"),
    (["list", "--era", "stone-age"], "unknown era"),
    (["bib", "--tier", "gold"], "unknown tier"),
    (["results", "--run", "999999"], "no run 999999"),
])
def test_user_mistakes_are_one_line_and_exit_2(capsys, args, expect):
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert expect in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_override_type_names_field_and_type(capsys):
    from dlcanon.core import registry

    paper = registry.get("lecun1989")
    field = next(k for k, v in vars(paper.presets["quick"]).items() if isinstance(v, int) and not isinstance(v, bool))
    code, _, err = run_cli(capsys, "run", "lecun1989", "--set", f"{field}=lots")
    assert code == 2 and f"{field} takes a whole number" in err and "'lots'" in err


def test_argparse_errors_are_one_line_exit_2():
    p = subprocess.run([sys.executable, "-m", "dlcanon", "run"], capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "--help" in p.stderr


def test_list_filters_and_json(capsys):
    code, out, _ = run_cli(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) > 100
    code, out, _ = run_cli(capsys, "list", "--tier", "canon", "--status", "implemented", "--json")
    ids = {r["id"] for r in json.loads(out)}
    assert {"mcculloch1943", "lecun1989"} <= ids and all(r["implemented"] for r in json.loads(out))
    code, out, _ = run_cli(capsys, "list", "--concept", "convolution", "--json")
    assert any(r["id"] == "lecun1989" for r in json.loads(out))


def test_show_json_has_facts_claims_and_links(capsys):
    code, out, _ = run_cli(capsys, "show", "lecun1989", "--json")
    info = json.loads(out)
    assert code == 0 and info["year"] == 1989 and info["implemented"] and info["claims"]
    assert "led_to" in info and "builds_on" in info
    code, out, _ = run_cli(capsys, "show", "mcculloch1943")
    assert code == 0 and "McCulloch" in out


def test_bib_graph_authors(capsys):
    code, out, _ = run_cli(capsys, "bib", "lecun1989", "rosenblatt1958")
    assert code == 0 and len(re.findall(r"^@\w+\{", out, re.M)) == 2
    assert "@inproceedings{lecun1989," in out and "@article{rosenblatt1958," in out
    code, out, _ = run_cli(capsys, "graph", "--format", "mermaid")
    assert code == 0 and out.startswith("graph LR") and "-->" in out
    code, out, _ = run_cli(capsys, "graph")
    assert code == 0 and out.startswith("digraph") and "->" in out
    code, out, _ = run_cli(capsys, "authors", "--tier", "top100", "--json")
    stats = json.loads(out)
    from dlcanon.catalog import load_catalog

    assert code == 0 and stats["papers"] == len(load_catalog().filter(tier="top100"))
    assert stats["most_papers"][0]["papers"] >= 3 and "others" not in {r["author"] for r in stats["most_papers"]}


def test_data_status(capsys):
    code, out, _ = run_cli(capsys, "data", "status", "--json")
    rows = {r["source"]: r for r in json.loads(out)}
    assert code == 0 and {"fashion-mnist", "mnist", "digits"} <= set(rows)


def test_run_records_and_results_and_report(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", "mcculloch1943", "--preset", "smoke", "--json")
    run = json.loads(out)
    assert code == 0 and run["preset"] == "smoke"
    code, out, _ = run_cli(capsys, "results", "--run", str(run["run"]), "--json")
    assert json.loads(out)["paper"] == "mcculloch1943"
    code, out, _ = run_cli(capsys, "results", "mcculloch1943")
    assert code == 0 and "mcculloch1943" in out
    code, out, _ = run_cli(capsys, "report", "--out", str(tmp_path / "rep"))
    assert code == 0 and (tmp_path / "rep" / "report.html").exists()
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<script" not in page


def test_reproduce_prints_one_row_per_claim_and_exit_status(capsys):
    from dlcanon.core import registry

    code, out, err = run_cli(capsys, "reproduce", "mcculloch1943", "--json")
    results = json.loads(out)
    assert code == 0 and len(results[0]["claims"]) == len(registry.get("mcculloch1943").claims)
