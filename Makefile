# tokenize-kit developer targets.  Every target creates and fills .venv itself, so a fresh clone
# needs nothing but python3 (>= 3.10) and, for the Spark tests, a Java 17 runtime.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint bench bench-spark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/tokenize-kit demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check tokenize_kit generators tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

bench-spark: $(STAMP)
	$(BIN)/python -m bench spark

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache demo-out bench-out
