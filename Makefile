# Two commands do all the set-up on a fresh clone:
#   make verify   creates .venv, installs evsim, runs `evsim verify --quick` into results/quick
#   make test     creates .venv, installs evsim with test extras, runs the default test suite
# Optional: make train (a separate .venv-train with torch + spikingjelly) retrains the shipped
# spiking transformers (at T = 4 and T = 16) and checks their accuracy against the shipped
# weights'.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.evsim-installed
TRAIN_VENV ?= .venv-train
TRAIN_STAMP := $(TRAIN_VENV)/.evsim-installed

.PHONY: verify verify-full test test-slow bench train docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# training needs torch + spikingjelly (the extra), kept out of the main venv
$(TRAIN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(TRAIN_VENV)/bin/python -m pip install --quiet -e ".[train]"
	touch $(TRAIN_STAMP)

DOCS_STAMP := $(VENV)/.evsim-docs-installed

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,docs]"
	touch $(DOCS_STAMP)

# the documentation site: docs/_build/html/index.html (gallery executed, warnings are errors)
docs: $(DOCS_STAMP)
	rm -rf docs/_build docs/auto_examples docs/sg_execution_times.rst
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

train: $(TRAIN_STAMP)
	$(TRAIN_VENV)/bin/evsim train all --out results/train
	$(TRAIN_VENV)/bin/evsim train all --T 16 --out results/train

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
	$(BIN)/python benchmarks/bench_trained.py

clean:
	rm -rf $(VENV) $(TRAIN_VENV) results docs/_build docs/auto_examples docs/sg_execution_times.rst
