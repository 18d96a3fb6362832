# gridbridge — two commands for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: setup demo test bench dagster clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/gridbridge demo

test: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m benchmarks.run

dagster: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev

clean:
	rm -rf $(VENV) .dagster demo warehouse/*.duckdb
