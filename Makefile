# tokenize-kit developer targets.  Every target creates and fills .venv itself, so a fresh clone
# needs nothing but python3 (>= 3.11) and, for the Spark tests, a Java 17 runtime.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-spark-cluster lint bench bench-spark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves our own modules uncompiled, and where PYTHONDONTWRITEBYTECODE is set (as on these
# machines) every command would compile them again at its start: compile them once, as pip does for a
# regular install.  `bench` compiles again, so it always measures what an installed user runs.
COMPILE := $(BIN)/python -m compileall -q tokenize_kit generators schemas bench

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	$(COMPILE)
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/tokenize-kit demo

# The suite runs on every core (pytest-xdist), a test file per worker: most tests run the real command in a
# child process or wait on one, so two workers keep a 2-core machine busy.  TEST_WORKERS=0 runs it in-process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# Starts a standalone Spark cluster (a master and two workers on 127.0.0.1, from pyspark's own spark-class) and
# stops it; `make test` skips these tests.  Needs Java 17.
test-spark-cluster: $(STAMP)
	TOKENIZE_KIT_SPARK_CLUSTER=1 $(BIN)/python -m pytest -q tests/test_spark_cluster.py

lint: $(STAMP)
	$(BIN)/ruff check tokenize_kit generators tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m bench

bench-spark: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m bench spark spark_cluster

clean:
	find tokenize_kit generators schemas bench tests -name __pycache__ -prune -exec rm -rf {} +
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache demo-out bench-out
