# simcase: `make run` starts the service; `make test` runs lint, types and every test not
# marked `slow`; `make test-slow` runs the `slow` ones (CI runs both, as separate steps).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-slow lint typecheck unit integration e2e bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: the CPU build that lies on this machine's disk (any other pulls CUDA)
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/simcase run

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest -m "not slow"

# The tests marked `slow` (minutes each, or a fault held for tens of seconds): the compose
# emulation, the PACS loop, the fault and load tests, training.
test-slow: install
	$(BIN)/pytest -m slow

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

# One benchmark, from the repository root: make bench BENCH=e2e_latency ARGS="--cases 5"
# (bench/README.md lists them; each prints its figures beside a peer's).
# bench/isolation.py is a helper of three of them (a private loopback, servers stopped
# on a signal), not a benchmark: it is not listed and cannot be run as one.
BENCH_HELPERS := isolation
BENCHES := $(filter-out $(BENCH_HELPERS),$(basename $(notdir $(wildcard bench/*.py))))
bench:
	@if [ -z "$(filter $(BENCH),$(BENCHES))" ] || [ "$(words $(BENCH))" != 1 ]; then \
		echo "usage: make bench BENCH=<name> [ARGS='...'], name one of: $(BENCHES)"; exit 2; fi
	$(MAKE) install
	PYTHONPATH=$(CURDIR) $(BIN)/python bench/$(BENCH).py $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
