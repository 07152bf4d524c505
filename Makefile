# studyforge — everything a fresh machine with Python 3.11 needs, in two commands: `make demo`, `make test`.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
FORGE   := $(BIN)/forge
# CPU build of torch, installed before the project so that pip never resolves a CUDA build.
TORCH   := torch==2.13.0
# test processes: each runs one torch thread (tests/conftest.py), so one per core; CI has 2
TEST_WORKERS ?= 2
export WANDB_SILENT := true

.PHONY: demo test lint bench clean install install-dev

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check $(TORCH)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@ $(VENV)/.installed

# after the dev install, so the CPU torch is already in place when the peers are resolved
$(VENV)/.installed-bench: $(VENV)/.installed-dev
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## The main job on the embedded defaults, offline: week 1's experiments, the dashboard, offline drafts.
demo: $(VENV)/.installed
	WANDB_MODE=offline $(FORGE) run week1
	$(FORGE) status
	$(FORGE) draft week1 --backend offline

## Lint, then the whole test suite (offline: no API key, W&B disabled by the tests' fixture).
test: $(VENV)/.installed-dev
	$(BIN)/ruff check studyforge tests benchmarks
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check studyforge tests benchmarks

## Side-by-side timings against the targets in the issues.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
