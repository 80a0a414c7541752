"""`dlcanon new` and `dlcanon completion`: a scaffold passes the contract tests and says it is not done; the
completion script completes commands, ids and presets."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlcanon import cli
from dlcanon.catalog import load_catalog
from dlcanon.papers import IMPLEMENTED

REPO = Path(__file__).resolve().parents[1]
NEW = [p for p in load_catalog().papers if p not in IMPLEMENTED][-1]   # the latest paper not implemented yet


@pytest.mark.slow
def test_new_paper_scaffold_passes_the_contract_and_is_a_visible_known_fail(tmp_path):
    from dlcanon.core import registry

    assert NEW not in registry.implemented()
    for part in ("src", "tests"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for f in ("conftest.py", "pyproject.toml"):
        shutil.copy(REPO / f, tmp_path / f)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src"), "DLCANON_HOME": str(tmp_path / "home")}
    made = subprocess.run([sys.executable, "-m", "dlcanon", "new", NEW], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "src" / "dlcanon" / "papers" / NEW
    assert {p.name for p in folder.iterdir()} >= {"__init__.py", "model.py", "experiment.py", "notes.md",
                                                  f"test_{NEW}.py"}
    again = subprocess.run([sys.executable, "-m", "dlcanon", "new", NEW], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    contract = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_contract.py", "-k", NEW], cwd=tmp_path, env=env, capture_output=True,
                              text=True)
    assert contract.returncode == 0, contract.stdout[-3000:]
    assert " passed" in contract.stdout and "failed" not in contract.stdout
    run = subprocess.run([sys.executable, "-m", "dlcanon", "run", NEW, "--preset", "quick", "--json"], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0 and '"known-fail"' in run.stdout          # never mistaken for a result


def test_new_refuses_unknown_and_implemented_ids(capsys):
    assert cli.main(["new", "nosuchpaper1999"]) == 2
    assert cli.main(["new", "lecun1989"]) == 2
    assert "implemented already" in capsys.readouterr().err


def _complete(script: str, words: list[str]) -> list[str]:
    body = f'{script}\nCOMP_WORDS=({" ".join(words)}); COMP_CWORD={len(words) - 1}; _dlcanon; echo "${{COMPREPLY[@]}}"'
    return subprocess.run(["bash", "-c", body], capture_output=True, text=True, check=True).stdout.split()


def test_completion_script_completes_commands_ids_flags_and_presets(capsys):
    assert cli.main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "reproduce" in _complete(script, ["dlcanon", "rep"])
    assert _complete(script, ["dlcanon", "show", "lecun198"]) == ["lecun1989"]
    assert "--preset" in _complete(script, ["dlcanon", "run", "lecun1989", "--pr"])
    assert _complete(script, ["dlcanon", "run", "lecun1989", "--preset", "f"]) == ["full"]
    assert _complete(script, ["dlcanon", "run", "lecun1989", "--device", "c"]) == ["cpu", "cuda"]
