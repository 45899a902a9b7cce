# The two commands the README promises: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench

$(BIN)/xero-assets: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,fleet]'
	@touch $@

install: $(BIN)/xero-assets

demo: install
	$(BIN)/xero-assets demo

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every benchmark, serially (their figures print as they run); BENCH_ARGS narrows it, e.g. BENCH_ARGS='-k cli_sync'.
bench: install
	$(BIN)/python -m pytest -n 0 -m slow -s -p no:cacheprovider benchmarks/bench_sandbox.py benchmarks/bench_sync.py \
		benchmarks/bench_fleet.py $(BENCH_ARGS)
