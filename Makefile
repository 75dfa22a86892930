# Voix: `make run` starts the whole local stack with the demo data; `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install run test lint simulate classify clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	PORT=$(PORT) $(BIN)/python -m infra.local

simulate: install
	PORT=$(PORT) $(BIN)/python -m infra.simulate

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest

classify: install
	$(BIN)/python -m chalicelib classify --to "$(TO)" "$(TEXT)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
