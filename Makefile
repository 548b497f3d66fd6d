# Vigilante: `make demo` runs the local stack and an incident; `make test` runs every test.
# Both run `make setup` first. Knobs: PYTHON (interpreter for the virtualenv), VENV (its path),
# PYTEST_ARGS (e.g. PYTEST_ARGS='-m "not slow"'), TEST_WORKERS (parallel tests, 4), and
# PROMETHEUS_BIN & co. for other binaries.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Parallel test workers: most tests wait on real services' clocks, so more workers than cores.
TEST_WORKERS ?= 4
STACK_ARGS ?=

.PHONY: help setup system-packages test test-fast demo stack generate bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

setup: $(STAMP) system-packages  ## virtualenv with the package, plus Debian's prometheus and alertmanager

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: Python 3.10+ needed ($(PYTHON))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[app,demo,test]'
	@touch $@

system-packages:
	@scripts/install_system_packages.sh --with-test-services

test: setup  ## the whole test suite, slow end-to-end tests included
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: setup  ## the tests that start no more than one real service
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

demo: setup  ## local stack, traffic, an incident, the alert; results under out/demo/ (about 10 minutes)
	$(BIN)/python -m scripts.demo

stack: setup  ## the local stack until Ctrl-C (STACK_ARGS='--load steady --interval 2' for traffic, fast ticks)
	$(BIN)/python -m scripts.stack $(STACK_ARGS)

generate: setup  ## regenerate every generated file (rules, dashboards, Grafana files, manifests)
	$(BIN)/vigilante generate --demo-app --config app_under_test/vigilante-demo.yaml

BENCHMARKS := bench_overhead bench_query_cost bench_detection bench_scorer bench_latency bench_scale

bench: setup  ## every benchmark (shipped defaults); each prints a table and one JSON line, kept in out/bench/
	@mkdir -p out/bench
	@set -o pipefail; for b in $(BENCHMARKS); do \
	  echo "== $$b"; $(BIN)/python -m scripts.$$b | tee out/bench/$$b.txt || exit 1; \
	done

clean:  ## remove the virtualenv and outputs
	rm -rf $(VENV) out .pytest_cache *.egg-info
