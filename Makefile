# Two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench services system-deps install clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip uv
	@$(VENV)/bin/uv pip install -q --python $(PY) -e ".[dev,bench]"
	@touch $(STAMP)

install: $(STAMP)

services:
	@bash scripts/services.sh

system-deps:
	@bash scripts/system-deps.sh

run: install
	$(PY) -m ledgerflow.cli serve --demo

lint: install
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: install
	$(VENV)/bin/mypy --strict src/ledgerflow

test: install services system-deps lint typecheck
	cd clients/react && npm ci --no-audit --no-fund && npm test
	$(VENV)/bin/pytest -q -p no:cacheprovider -n 3

bench: install services
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

# The web app's progress states (pending, running, complete, failed, cancelled) and pages,
# captured by the browser tests in tests/web, into docs/screenshots.
.PHONY: screenshots
screenshots: install system-deps
	LEDGERFLOW_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(VENV)/bin/pytest -q -p no:cacheprovider tests/web
