# Two commands set everything up on a fresh machine with Python 3.11+:
#   make demo   - runs a realistic month of a programme on the embedded SQLite default
#   make test   - ruff, mypy --strict and the whole test suite on SQLite, PostgreSQL, MariaDB
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml tests/plugin_dist/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' ./tests/plugin_dist
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cps-ledger demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) cps_ledger.sqlite3 build dist
