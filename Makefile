# Two commands do all the set-up on a fresh clone:
#   make verify   creates .venv, installs evsim, runs `evsim verify --quick` into results/quick
#   make test     creates .venv, installs evsim with test extras, runs the default test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.evsim-installed

.PHONY: verify verify-full test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

verify: $(STAMP)
	$(BIN)/evsim verify --quick --out results/quick

verify-full: $(STAMP)
	$(BIN)/evsim verify --out results/full --workers 2

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_batched_vs_loop.py
	$(BIN)/python benchmarks/bench_softmax.py
	$(BIN)/python benchmarks/bench_mechanisms.py
	$(BIN)/python benchmarks/bench_checkpoints.py
	$(BIN)/python benchmarks/bench_targets.py

clean:
	rm -rf $(VENV) results
