# benchsuite developer entry points. `make run` and `make test` install into .venv first.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
DEVICE  ?= cpu
WORKLOAD ?= guideline1
RESULTS ?= results
REPORTS ?= reports
WINDOW  ?= 10
NIGHTLY_WORKLOADS ?= guideline1 guideline2 guideline3 guideline4 resolution multipliers architectures

.PHONY: install run test test-fast bench lint report nightly nightly-runs nightly-merge clean dist arm-board

$(BIN)/benchsuite: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[all]'
	@touch $@

install: $(BIN)/benchsuite

# the main job on the built-in defaults: local CPU, guideline1 quick sweep, SQLite history
run: install
	$(BIN)/benchsuite run --device $(DEVICE) --workload $(WORKLOAD) --quick --out $(RESULTS)

test: install
	$(BIN)/python -m pytest -q --durations=0 --durations-min=1

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

bench: install
	$(BIN)/python benchmarks/harness_overhead.py
	$(BIN)/python benchmarks/count_speed.py

# reports/index.html from the newest run of each workload under results/
report: install
	$(BIN)/benchsuite report --results $(RESULTS) --out $(REPORTS)

# the nightly job: quick runs of the nightly set, the report, then the regression check against the
# history ($(RESULTS)/history.sqlite). Every step runs; the exit status is the first failure's.
nightly: install
	@status=0; \
	for w in $(NIGHTLY_WORKLOADS); do \
	  $(BIN)/benchsuite run --device $(DEVICE) --workload $$w --quick --no-progress --out $(RESULTS) || status=$$?; \
	done; \
	$(BIN)/benchsuite report --results $(RESULTS) --out $(REPORTS) || status=$$?; \
	$(BIN)/benchsuite regress --history $(RESULTS)/history.sqlite --window $(WINDOW) || status=$$?; \
	exit $$status

# the fleet nightly (.github/workflows/nightly.yml), in two halves. On each device: quick runs of the
# nightly set (exit 1 when a case errored). Then, once for the fleet: the index rebuilt from the run
# archive ($(ARCHIVE): a checkout of the benchsuite-history branch), the regression check for every
# device and workload, and one report with the devices side by side; the exit status is the first failure's.
ARCHIVE ?= history
nightly-runs: install
	@status=0; \
	for w in $(NIGHTLY_WORKLOADS); do \
	  $(BIN)/benchsuite run --device $(DEVICE) --workload $$w --quick --no-progress --out $(RESULTS) || status=$$?; \
	done; \
	exit $$status

nightly-merge: install
	@status=0; \
	$(BIN)/benchsuite history rebuild --from $(ARCHIVE) --history $(RESULTS)/history.sqlite || status=$$?; \
	$(BIN)/benchsuite regress --history $(RESULTS)/history.sqlite --window $(WINDOW) || status=$$?; \
	$(BIN)/benchsuite report --results $(ARCHIVE) --out $(REPORTS) || status=$$?; \
	exit $$status

# style (ruff) and architecture: the layering and no-cycle contracts in pyproject.toml (import-linter)
lint: install
	$(BIN)/ruff check benchsuite tests benchmarks
	$(BIN)/lint-imports --no-cache

# sdist + wheel in dist/, checked by twine (the wheel carries the built-in devices and workloads)
dist: install
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/twine check --strict dist/*

# the emulated aarch64 board (Debian arm64 under qemu-user) for the ARM tests; needs root
arm-board:
	bash scripts/emulated-arm-board build

clean:
	rm -rf $(VENV) results reports/*.html dist
