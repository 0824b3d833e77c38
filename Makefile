# Fangpin — the two commands of the quick start are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test bench lint format messages clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Fangpin needs Python 3.11 or newer (found %s)" % sys.version.split()[0])'
	@$(PYTHON) -m venv $(VENV) || { echo "cannot create a virtual environment: on Debian run 'apt-get install python3-venv'"; exit 1; }
	@$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	$(BIN)/fangpin compiletranslations
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test,spark]'
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## demo: build the synthetic county 魏县 and serve it on http://127.0.0.1:8000
demo: install
	$(BIN)/fangpin demo

## test: the whole suite — lint, SQLite, PostgreSQL, Chromium (see scripts/run-tests)
test: install-test
	bash scripts/run-tests

## bench: the benchmarks in bench/, figures go into docs/PERFORMANCE.md
bench: install-test
	$(BIN)/python bench/registry_import.py
	$(BIN)/python bench/relief.py
	$(BIN)/python bench/cases_list.py
	$(BIN)/python bench/screening
	$(BIN)/python bench/city_pages.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/feeds_push.py

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

format: install-test
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## messages: refresh the zh_Hans catalogue from the sources (needs GNU gettext)
messages: install
	cd src/fangpin && ../../$(BIN)/fangpin makemessages -l zh_Hans --no-obsolete
	$(BIN)/fangpin compiletranslations

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
