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

.PHONY: help venv run test lint validate build bench deploy clean

help:
	@echo "make venv      create .venv (python3.13) and install switchyard with dev dependencies"
	@echo "make run       start the local runtime on http://127.0.0.1:8080 (mock provider without keys)"
	@echo "make test      run every test ($(PYTEST_WORKERS) workers)"
	@echo "make lint      ruff check, ruff format --check, mypy"
	@echo "make validate  sam validate --lint (region $(REGION))"
	@echo "make build     sam build (layers for python3.13 arm64)"
	@echo "make bench     benchmarks: overhead + throughput, streaming TTFB, AWS calls per request, jobs, guardrails"
	@echo "make deploy    sam build, then sam deploy --guided"
	@echo "make clean     remove build and tool caches (keeps .venv)"

venv: $(STAMP)

# The first python3.13 that really runs: a pyenv shim named python3.13 exists even when 3.13 is
# not selected, and then fails. Falls back to ~/.pyenv/versions, then to `pyenv install`.
$(STAMP): pyproject.toml
	@py=""; \
	for candidate in python3.13 $$(ls -d $(HOME)/.pyenv/versions/3.13.*/bin/python3.13 2>/dev/null | sort -rV); do \
		if "$$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
			py="$$candidate"; break; \
		fi; \
	done; \
	if [ -z "$$py" ]; then \
		command -v pyenv >/dev/null || { echo "python3.13 not found, and no pyenv to install it" >&2; exit 1; }; \
		echo "installing Python 3.13 with pyenv"; \
		pyenv install -s 3.13; \
		py="$$(pyenv root)/versions/$$(pyenv latest 3.13)/bin/python3.13"; \
	fi; \
	if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
		echo "creating $(VENV) with $$py"; \
		rm -rf $(VENV); \
		"$$py" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --editable '.[dev]'
	@touch $@

run: venv
	$(PY) -m switchyard.local

test: venv
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

validate: venv
	$(SAM) validate --lint --region $(REGION) --template template.yaml

build: venv
	$(SAM) build --template template.yaml

bench: venv
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/ttfb.py
	$(PY) benchmarks/aws_calls.py
	$(PY) benchmarks/jobs.py
	$(PY) benchmarks/guardrails.py

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache build dist shared/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
