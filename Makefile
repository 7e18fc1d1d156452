# Two commands on a fresh machine with Python 3.11+: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help dev test lint clean .venv

help:
	@echo "make dev    run roomcast locally (embedded NATS, PostgreSQL, Redis); ARGS='--gateways 2'"
	@echo "make test   run the test suite (ROOMCAST_*_URL select your own servers)"
	@echo "make lint   ruff check, ruff format --check, mypy"

.venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "roomcast needs Python 3.11+; run: make PYTHON=python3.11 ..."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

dev: $(STAMP)
	$(BIN)/roomcast dev $(ARGS)

test: $(STAMP)
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts roomcast services

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
