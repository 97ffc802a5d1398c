# Every target builds .venv on first use (Python 3.11 + pip is all a machine needs), then compiles
# the numba kernels (p2p-gym compile, about 30 s once), and reinstalls when pyproject.toml or
# constraints.txt change. torch is installed first and pinned: see constraints.txt.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test lint format bench lock clean install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[rl,dev]'
	$(VENV)/bin/p2p-gym compile
	@touch $(STAMP)

## The main job on the embedded default community.
demo: $(STAMP)
	$(VENV)/bin/p2p-gym demo

## The test suite. pytest exits 5 when it collected no test: that is a failure here, said out loud.
test: $(STAMP)
	@$(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5): failing" >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV)/bin/p2p-gym bench

## Re-resolve every pin in a throwaway venv and rewrite constraints.txt.
lock:
	rm -rf /tmp/p2p-gym-lock && $(PYTHON) -m venv /tmp/p2p-gym-lock
	/tmp/p2p-gym-lock/bin/pip install -q torch==2.13.0
	/tmp/p2p-gym-lock/bin/pip install -q '.[rl,dev]'
	{ sed -n '1,3p' constraints.txt; echo "torch==2.13.0"; \
	  /tmp/p2p-gym-lock/bin/pip freeze --exclude p2p-gym | grep -iv '^torch=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
