# The one task runner. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install browser run test unit faults lint format docs bench bench-quick stress-two-workers kafka-up kafka-down kafka-status registry-up registry-down registry-status clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its dev and benchmark tools

browser: ## Debian's chromium for the status page test (apt-get, only if missing)
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

run: install ## run everything: local Kafka (unless KAFKA_BOOTSTRAP_SERVERS is set), one worker, the gateway
	$(PY) -m cbsp dev

test: install browser lint ## lint, then every test against a real Kafka (started and stopped here if none is set)
	$(PY) -m pytest

unit: install ## only the tests that need no broker
	$(PY) -m pytest tests/unit

faults: install ## only the fault tests (tests/faults; slow: starts a 3-node Kafka cluster of its own)
	$(PY) -m pytest tests/faults

lint: install ## ruff format --check, ruff check, mypy (what CI runs)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

format: install ## rewrite the code in the project's format
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

docs: install ## regenerate docs/topics.md from the topic names and the Avro schemas
	$(PY) -m cbsp.docgen docs/topics.md

bench: install ## the benchmarks (about 14 minutes): numbers and plots in bench-results/
	$(PY) -m bench $(BENCH_ARGS)

bench-quick: ## a 2-minute smoke run of the benchmarks (small numbers, not for publishing)
	$(MAKE) bench BENCH_ARGS=--quick

stress-two-workers: install ## two workers started together on a backlog, 20 times: counts runs and stalls (about 8 minutes)
	$(PY) -m bench.stress $(STRESS_ARGS)

kafka-up: install ## start the local single-node Kafka (idempotent)
	$(PY) -m cbsp kafka up

kafka-down: install ## stop the local Kafka
	$(PY) -m cbsp kafka down

kafka-status: install ## is the local Kafka running?
	$(PY) -m cbsp kafka status

registry-up: install ## start the local schema registry (Apicurio, Confluent API; built with Maven on first use)
	$(PY) -m cbsp registry up

registry-down: install ## stop the local schema registry (it keeps nothing: in memory)
	$(PY) -m cbsp registry down

registry-status: install ## is the local schema registry running?
	$(PY) -m cbsp registry status

clean: ## stop the local Kafka and schema registry and remove their data, the venv and caches
	-@test -x $(PY) && $(PY) -m cbsp kafka down
	-@test -x $(PY) && $(PY) -m cbsp registry down
	rm -rf .kafka .registry .cbsp $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
