# benchsuite developer entry points. `make run` and `make test` install into .venv first.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
DEVICE  ?= cpu
WORKLOAD ?= guideline1

.PHONY: install run test test-fast bench lint report clean

$(BIN)/benchsuite: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	@touch $@

install: $(BIN)/benchsuite

# the main job on the built-in defaults: local CPU, guideline1 quick sweep, SQLite history
run: install
	$(BIN)/benchsuite run --device $(DEVICE) --workload $(WORKLOAD) --quick

test: install
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python benchmarks/harness_overhead.py
	$(BIN)/python benchmarks/count_speed.py

lint: install
	$(BIN)/ruff check benchsuite tests benchmarks

clean:
	rm -rf $(VENV) results reports/*.html
