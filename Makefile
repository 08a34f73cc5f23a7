# Two commands (see README): `make demo` sets up and runs the demo, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The exact torch pin lives here, in the setup path: on the project's machines pip takes a CPU-only build of
# 2.13.0 from local disk; an unpinned or ranged torch would pull the multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-all lint typecheck docs bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" -e ".[test,ray,sb3,torchrl,dev,tensorboard,docs]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/netctrl demo

test: setup
	$(BIN)/python -m pytest

test-all: setup
	$(BIN)/python -m pytest -m "slow or not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# the documentation site (mkdocs.yml, docs/) into site/; strict: a broken link or a missing page fails
docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

bench: setup
	$(BIN)/python benchmarks/mobility.py

clean:
	rm -rf $(VENV) runs site .pytest_cache .mypy_cache .ruff_cache
