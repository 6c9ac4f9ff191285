# Switchyard: one command per gate. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# Touched after a successful install: the venv is rebuilt only when pyproject.toml changes.
STAMP := $(VENV)/.installed-pyproject
REGION ?= us-east-1
PYTEST_WORKERS ?= 2

# SAM CLI sends usage telemetry unless told not to; nothing here should leave the machine unasked.
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# sam build looks for `python3.13` on PATH; the venv's comes first.
SAM := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam

.PHONY: help venv run reset test lint validate build bench deploy clean

help:
	@echo "make venv      create .venv (python3.13) and install switchyard with dev dependencies"
	@echo "make run       start the local runtime on http://127.0.0.1:8080 (mock provider without keys;"
	@echo "               state kept in .switchyard/ across restarts)"
	@echo "make reset     remove the local runtime's saved state (keys, usage, jobs...): the next run starts clean"
	@echo "make test      run every test ($(PYTEST_WORKERS) workers), coverage floor $(COVERAGE_FLOOR) %"
	@echo "make lint      ruff check (complexity bound), ruff format --check, mypy, import contract"
	@echo "make validate  sam validate --lint (region $(REGION))"
	@echo "make build     sam build (layers for python3.13 arm64)"
	@echo "make bench     benchmarks: overhead + throughput, streaming TTFB, AWS calls per request, jobs,"
	@echo "               persona and memory stages, limits under fan-out, Bedrock client, make run"
	@echo "               against memory, embeddings, guardrails, this tree against the one before"
	@echo "make deploy    sam build, then sam deploy --guided"
	@echo "make clean     remove build and tool caches (keeps .venv)"

venv: $(STAMP)

# The first python3.13 that really runs: a pyenv shim named python3.13 exists even when 3.13 is
# not selected, and then fails. Falls back to ~/.pyenv/versions, then to `pyenv install`.
$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run, or pyproject.toml changed; about 2 minutes)"
	@echo "  [1/3] finding Python 3.13"
	@py=""; \
	for candidate in python3.13 $$(ls -d $(HOME)/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | sort -rV); do \
		if "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
			py="$$candidate"; break; \
		fi; \
	done; \
	if [ -z "$$py" ]; then \
		command -v pyenv >/dev/null || { echo "python3.13 not found, and no pyenv to install it" >&2; exit 1; }; \
		echo "        not found: installing Python 3.13 with pyenv"; \
		pyenv install -s 3.13; \
		py="$$(pyenv root)/versions/$$(pyenv latest 3.13)/bin/python3.13"; \
	fi; \
	if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
		echo "  [2/3] creating $(VENV) with $$py"; \
		rm -rf $(VENV); \
		"$$py" -m venv $(VENV); \
	else \
		echo "  [2/3] $(VENV) exists"; \
	fi
	@echo "  [3/3] installing switchyard and its dependencies (pip's output: $(VENV)/install.log)"
	@started=$$(date +%s); \
	if ! $(PY) -m pip install --editable '.[dev]' > $(VENV)/install.log 2>&1; then \
		tail -n 20 $(VENV)/install.log >&2; \
		echo "pip install failed: the whole output is in $(VENV)/install.log" >&2; \
		exit 1; \
	fi; \
	echo "  ready in $$(( $$(date +%s) - started )) s"
	@touch $@

run: venv
	@$(PY) -m switchyard.local

reset: venv
	@$(PY) -m switchyard.local reset

# Coverage of the switchyard package by the whole suite, with a floor the suite must keep (the
# local runtime the e2e tests start in subprocesses is not measured).
COVERAGE_FLOOR ?= 90

test: venv
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --cov=switchyard --cov-report=term:skip-covered \
		--cov-fail-under=$(COVERAGE_FLOOR)

# ruff (incl. the complexity bound), formatting, mypy strict, and the import contract (layers).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

validate: venv
	$(SAM) validate --lint --region $(REGION) --template template.yaml

build: venv
	$(SAM) build --template template.yaml

bench: venv
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/ttfb.py
	$(PY) benchmarks/aws_calls.py
	$(PY) benchmarks/jobs.py
	$(PY) benchmarks/stages.py
	$(PY) benchmarks/fanout.py
	$(PY) benchmarks/bedrock_client.py
	$(PY) benchmarks/local_state.py
	$(PY) benchmarks/embeddings.py
	$(PY) benchmarks/guardrails.py
	$(PY) benchmarks/pipeline_versus.py
	@echo "cold start at Lambda's CPU share (root, cgroup v1): $(PY) benchmarks/coldstart.py --help"

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist shared/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
