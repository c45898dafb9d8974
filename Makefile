# shopintent: every target does its own set-up on a fresh machine.
#   make demo   install into .venv, verify the data, run the main job on the embedded default
#   make test   install with test extras, run the whole test suite
#   make bench  run the benchmarks, write benchmarks/results/*.json and BENCHMARKS.md

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

# Real data sets live beside the repository (never inside it).
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export SHOPINTENT_DATA_DIR ?= $(SHARED_DATA)
endif
export SHOPINTENT_STATE_DIR ?= $(CURDIR)/.shopintent
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test bench install system-deps clean help

help:
	@echo "make demo | make test | make bench | make clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set of extras: re-install only when pyproject.toml changes.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-all: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all]'
	@touch $@ $(VENV)/.installed-base

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	@touch $@ $(VENV)/.installed-base $(VENV)/.installed-all

install: $(VENV)/.installed-base

# Debian packages the service uses for real: Redis (streams, shared session state)
# and Chromium (the dashboard's browser test). Installed only when missing.
SYSTEM_PACKAGES := redis-server chromium
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing$$missing: install them (sudo apt-get install$$missing) for the service tests"; exit 1; \
	  fi; \
	fi

# The store report first, then the live service with the real Taobao log replayed
# into it (dashboard at http://127.0.0.1:8000/; Ctrl-C stops both). Default models
# are trained on first use and cached in SHOPINTENT_STATE_DIR.
DEMO_PORT ?= 8000
DEMO_RATE ?= 500
demo: $(VENV)/.installed-all
	$(BIN)/shopintent demo
	$(BIN)/shopintent serve --host 127.0.0.1 --port $(DEMO_PORT) --replay-rate $(DEMO_RATE)

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/shopintent bench all

clean:
	rm -rf $(VENV) .shopintent .pytest_cache build dist src/*.egg-info
