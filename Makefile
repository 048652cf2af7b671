# Two commands do all the set-up on a fresh clone:
#   make verify   creates .venv, installs evsim, runs `evsim verify --quick` into results/quick
#   make test     creates .venv, installs evsim with test extras, runs the default test suite
# Optional: make train (a separate .venv-train with torch + spikingjelly) retrains every shipped
# spiking transformer (widths, training seeds, T = 4 and 16) and checks each against its
# shipped weights (accuracy, and whether the file is identical bit for bit).
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

# every shipped model (evsim.train.GRID, 96 cells); one cell: evsim train ARCH --task TASK
# --T T --width D --seed S; a stopped run resumes (models already in results/train are kept)
train: $(TRAIN_STAMP)
	$(TRAIN_VENV)/bin/evsim train grid --out results/train

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
	$(BIN)/python benchmarks/bench_numpy_costs.py
	$(BIN)/python benchmarks/bench_trained.py
	$(BIN)/python benchmarks/bench_nest.py

clean:
	rm -rf $(VENV) $(TRAIN_VENV) results docs/_build docs/auto_examples docs/sg_execution_times.rst
