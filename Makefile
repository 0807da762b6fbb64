# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each bootstraps its own virtualenvs: .venv (app, tests, local stack) and .venv-sam (aws-sam-cli,
# kept apart because it pins boto3/pydantic/click).
SHELL := /bin/bash
export SAM_CLI_TELEMETRY := 0
.SHELLFLAGS := -eu -o pipefail -c
RUNTIME_PY_VERSION := 3.13
PY_BIN := $(shell scripts/find-python $(RUNTIME_PY_VERSION))
ifeq ($(PY_BIN),)
$(error Python $(RUNTIME_PY_VERSION) is required (see the message above))
endif
VENV := .venv
VENV_SAM := .venv-sam
PY := $(VENV)/bin/python
SAM := PATH="$(dir $(PY_BIN)):$$PATH" $(VENV_SAM)/bin/sam
PYTEST_ARGS ?=
# Debian's chromium drives the browser tests; Playwright never downloads a browser here.
CHROMIUM := /usr/bin/chromium

.PHONY: help test lint typecheck validate build unit pytest chromium demo dev bench deploy clean
help:
	@echo "make demo   - start the local stack and run the product's story end to end"
	@echo "make test   - ruff, mypy --strict, sam validate --lint, sam build, every test suite"
	@echo "make dev    - keep the local stack up (prints its URLs); Ctrl-C stops it"
	@echo "make bench  - benchmarks (cold starts, QBO client overhead, backlog throughput, webhook latency, QBO storm recovery)"
	@echo "make build  - sam build, then compile .pyc into the artifact"
	@echo "make deploy - make build, then sam deploy --guided"

$(VENV)/.stamp: requirements-dev.txt shared/requirements.txt cli/requirements.txt pyproject.toml
	rm -rf $(VENV)
	$(PY_BIN) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt 2>&1 | { grep -v "is ignored" || true; }
	# shared/ is the Lambda layer: the venv sees it the way a function does (import qbo_sync).
	echo "$(CURDIR)/shared" > "$$($(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/qbo_sync_layer.pth"
	# The operator CLI as an operator installs it (the onedesk-qbo console script), editable; its
	# dependencies are already pinned above. (setuptools warns that an editable install is editable.)
	PYTHONWARNINGS=ignore $(VENV)/bin/pip install --quiet --no-deps -e . 2>&1 | { grep -v "is ignored" || true; }
	touch $@

$(VENV_SAM)/.stamp: requirements-sam.txt
	rm -rf $(VENV_SAM)
	$(PY_BIN) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install --quiet -r requirements-sam.txt 2>&1 | { grep -v "is ignored" || true; }
	touch $@

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(VENV)/.stamp
	$(VENV)/bin/mypy --strict shared functions cli

validate: $(VENV_SAM)/.stamp
	$(SAM) validate --lint

# sam build ships no .pyc and /var/task is read-only, so every cold start would compile the code
# again: compile with the runtime's interpreter, unchecked-hash so zip mtimes cannot invalidate them.
build: $(VENV_SAM)/.stamp $(VENV)/.stamp
	$(SAM) build --cached
	$(PY_BIN) -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

# Installed when missing and this is root (a fresh CI machine); otherwise one line says how.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "$(CHROMIUM) is missing for the browser tests: run 'sudo apt-get install -y chromium', then make test"; \
	    exit 1; \
	  fi; \
	fi

pytest: $(VENV)/.stamp chromium
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test: lint typecheck validate build pytest

demo: $(VENV)/.stamp
	$(VENV)/bin/python -m local.demo

dev: $(VENV)/.stamp
	$(VENV)/bin/python -m local.stack

bench: $(VENV)/.stamp build
	$(VENV)/bin/python -m bench

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(VENV_SAM) .aws-sam artifacts .mypy_cache .ruff_cache .pytest_cache
