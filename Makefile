# Shortcuts for `python3 run.py ...`, which needs nothing but Python 3.11+.
PYTHON ?= python3

.PHONY: dev test lint clean

dev:
	$(PYTHON) run.py dev $(ARGS)

test:
	$(PYTHON) run.py test $(PYTEST_ARGS)

lint:
	$(PYTHON) run.py lint

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
