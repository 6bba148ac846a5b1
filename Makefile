# `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench bench-cpu bench-shared coverage clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/falbot demo

test: $(DEVSTAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict core adapters bot

coverage: $(DEVSTAMP)
	$(BIN)/python -m coverage run --source=core,adapters -m pytest -q -p no:cacheprovider tests --ignore=tests/e2e
	$(BIN)/python -m coverage report --include='core/*' | tail -1
	$(BIN)/python -m coverage report --include='adapters/*' | tail -1
	$(BIN)/python -m coverage report | tail -1

bench: $(STAMP)
	$(BIN)/python bench/engine.py

# CPU per job of `falbot run` through the fake Discord (the fakes need the dev install).
bench-cpu: $(DEVSTAMP)
	$(BIN)/python bench/cpu_per_job.py

# The shared line on PostgreSQL (127.0.0.1:5432 by default; FALBOT_BENCH_POSTGRES=postgresql://…).
bench-shared: $(DEVSTAMP)
	$(BIN)/python bench/shared_line.py --fal both

clean:
	rm -rf $(VENV) data out .pytest_cache .mypy_cache .ruff_cache
