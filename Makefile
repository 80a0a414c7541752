# Two commands do everything on a fresh machine (Debian/Ubuntu, Python 3.11):
#   make reproduce   set up (venv, package, data), then run every implemented paper and check its claims
#   make test        set up, then lint and the whole test suite (JOBS worker processes, one torch thread each)
# Both are idempotent: a second run reuses the venv and the installed data.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# JOBS: papers run side by side in `reproduce`, pytest worker processes in `test`
JOBS   ?= 2

.PHONY: setup venv data reproduce test report clean

setup: venv data

venv: $(VENV)/.installed

# torch is pinned first and explicitly: a looser requirement could pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	touch $@

data: venv
	scripts/install-system-data.sh
	$(BIN)/dlcanon data install --no-system --strict

reproduce: setup
	$(BIN)/dlcanon reproduce --jobs $(JOBS)
	$(BIN)/dlcanon report

test: setup
	scripts/install-system-test.sh
	$(BIN)/ruff check src tests benchmarks conftest.py
	$(BIN)/python -m pytest -q -n $(JOBS)

report: venv
	$(BIN)/dlcanon report

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
