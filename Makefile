# maild: `make demo` runs it on the embedded defaults; `make test` sets up and passes the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast bench bench-scale lint servers clean

$(BIN)/maild: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/maild
	BIN=$(BIN) demo/run.sh

# The real servers the tests talk to: Dovecot (installed here if missing; the tests start
# their own instance) and PostgreSQL on 127.0.0.1:5432 (started if it is installed but down).
servers:
	tests/ensure-servers.sh

lint: $(BIN)/maild
	$(BIN)/lint-imports --no-cache

test: $(BIN)/maild servers lint
	$(BIN)/python -m pytest -q

# Without the crash tests (which run the daemon in subprocesses and kill it).
test-fast: $(BIN)/maild servers
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(BIN)/maild servers
	$(BIN)/python bench/bench_ingest.py

# maild with N tickets of history, ratios to the first size (not part of `make test`).
SIZES ?= 1000,100000
DB    ?= sqlite
bench-scale: $(BIN)/maild servers
	$(BIN)/python bench/bench_scale.py --sizes $(SIZES) --db $(DB)

clean:
	rm -rf var .pytest_cache .hypothesis
