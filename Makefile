# make demo  - create .venv, install everything, run the built-in demo campaign
# make test  - create .venv if needed, install dev extras, run the whole test suite
# make explore - serve the read-only explorer on the demo database (http://localhost:8501)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned here (pyproject keeps a range). On the project's machines the registry
# serves a CPU build of this version; elsewhere on Linux add the CPU index to avoid GBs of
# CUDA wheels: make demo TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIN ?= torch==2.13.0
TORCH_PIP_ARGS ?=

.PHONY: install demo explore test lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/screening demo

# make explore [EXPLORE_DB=postgresql+psycopg://...]: the explorer on the demo database
EXPLORE_DB ?= sqlite:///screening-demo.db
explore: $(STAMP)
	$(BIN)/screening explore --database $(EXPLORE_DB)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache screening-demo.db*
