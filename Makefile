# shopintent: every target does its own set-up on a fresh machine.
#   make demo   install into .venv, verify the data, prepare the default models, serve the live demo
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

# The live demo in four steps (README.md, Quick start, has the time each takes here):
#   1. install into .venv;  2. verify the data and print the store report (shopintent demo);
#   3. prepare the default models in their own process, with a progress bar (shopintent models
#      prepare): the fast ones the service needs now, the slower ones (sentiment, zh tags, the
#      fine-tuned intent model, which replaces the linear one only if better on validation)
#      in a detached low-priority process logging to $(SHOPINTENT_STATE_DIR)/logs/
#      (DEMO_FINETUNE=0 skips the fine-tune; DEMO_BACKGROUND=0 skips all of them);
#   4. the service with the real Taobao log replayed into it (dashboard at
#      http://127.0.0.1:$(DEMO_PORT)/; Ctrl-C stops it). The service only loads models.
# It also writes .env (once) so `shopintent ...` run from the repo finds the demo's data and models.
DEMO_PORT ?= 8000
DEMO_RATE ?= 500
DEMO_FINETUNE ?= 1
DEMO_BACKGROUND ?= 1
DEMO_PREPARE := $(if $(filter 0,$(DEMO_BACKGROUND)),--fast-only,--background) \
                $(if $(filter 0,$(DEMO_FINETUNE)),--skip shop_intent_finetuned)
# STREAM=kafka: the event log is a Kafka-protocol broker (Tansu, from the kafka extra; no JVM)
# started on 127.0.0.1:$(DEMO_KAFKA_PORT) with in-memory storage and stopped when the service
# stops (docs/kafka.md). STREAM=file|memory picks that log; empty: the service's default.
STREAM ?=
DEMO_KAFKA_PORT ?= 19092
demo: $(VENV)/.installed-all .env
	$(BIN)/shopintent demo
	$(BIN)/shopintent models prepare $(DEMO_PREPARE)
ifeq ($(STREAM),kafka)
	@mkdir -p $(SHOPINTENT_STATE_DIR)/logs; \
	$(BIN)/python -m benchmarks.support.tansu --port $(DEMO_KAFKA_PORT) --until-term \
	    --log $(SHOPINTENT_STATE_DIR)/logs/tansu.log & broker=$$!; \
	trap 'kill -TERM $$broker 2>/dev/null; wait $$broker' EXIT INT TERM; \
	$(BIN)/python -m benchmarks.support.tansu --port $(DEMO_KAFKA_PORT) --wait 30 && \
	$(BIN)/shopintent serve --host 127.0.0.1 --port $(DEMO_PORT) --replay-rate $(DEMO_RATE) \
	    --stream kafka --kafka-bootstrap 127.0.0.1:$(DEMO_KAFKA_PORT)
else
	$(BIN)/shopintent serve --host 127.0.0.1 --port $(DEMO_PORT) --replay-rate $(DEMO_RATE)$(if $(STREAM), --stream $(STREAM))
endif

# Only when missing: a .env of your own is never overwritten.
.env:
	@{ $(if $(SHOPINTENT_DATA_DIR),echo "SHOPINTENT_DATA_DIR=$(SHOPINTENT_DATA_DIR)";) \
	   echo "SHOPINTENT_STATE_DIR=$(SHOPINTENT_STATE_DIR)"; } > $@
	@echo "wrote .env (SHOPINTENT_DATA_DIR, SHOPINTENT_STATE_DIR): shopintent run from here uses the demo's data and models"

# The suite runs on two pytest-xdist workers by default (--dist loadscope: tests/conftest.py keeps each
# folder's expensive fixtures on one worker and runs the session's `models prepare` once for both);
# TEST_WORKERS=1 runs it in one process. Wall times: benchmarks/results/test_suite.json.
TEST_WORKERS ?= 2
test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest -q --durations=25$(if $(filter-out 1,$(TEST_WORKERS)), -n $(TEST_WORKERS) --dist loadscope)

bench: $(VENV)/.installed-test
	$(BIN)/shopintent bench all

clean:
	rm -rf $(VENV) .shopintent .pytest_cache build dist src/*.egg-info
	@echo "(.env is kept: remove it yourself if you no longer want it)"
