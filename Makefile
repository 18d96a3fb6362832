# gridbridge — two commands for a fresh machine: `make demo` and `make test`.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: setup databases browser demo test bench bench-1m bench-febrl dagster clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PY) -c "import sys; assert sys.version_info >= (3, 11), sys.version" || { echo "need Python 3.11+ (python3.11 on PATH)"; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/gridbridge demo

# PostgreSQL + MariaDB for the sql connector tests (apt-get install + start as root; URLs in .ci/databases.env)
databases:
	bash .ci/databases.sh

# Chromium for the run-report browser tests (apt-get install as root; Playwright never downloads a browser)
browser:
	bash .ci/browser.sh

test: setup databases browser $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m benchmarks.sync_stages
	$(BIN)/python -m benchmarks.standardise --persons 100000

# FEBRL4 (5k x 5k): gridbridge vs Splink 5, Splink in its own .venv-bench (never a runtime dependency)
bench-febrl: setup
	bash benchmarks/febrl_env.sh
	$(BIN)/python -m benchmarks.febrl --repeat 3

# 1M rows per source (prepares ~430 MB of inputs under benchmarks/.data once; several minutes)
bench-1m: setup
	$(BIN)/python -m benchmarks.standardise --persons 1000000 --no-peer

dagster: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev

clean:
	rm -rf $(VENV) .dagster demo warehouse/*.duckdb
