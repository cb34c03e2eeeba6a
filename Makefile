# Set-up needs only Python >= 3.11: `make run` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT := .run
# CI installs the exact versions the suite last passed with; `make test-latest` tries the newest.
CONSTRAINTS := constraints/ci.txt
PIP_INSTALL = $(BIN)/python -m pip install -q --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: run test check test-latest bench clean test-services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Editable installs leave the sources uncompiled; compiling them once keeps start-up fast where
# Python may not write bytecode itself (PYTHONDONTWRITEBYTECODE, read-only checkouts).
$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e .
	$(BIN)/python -m compileall -q fidelcli
	touch $@

$(VENV)/.installed-test: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e ".[test]"
	$(BIN)/python -m compileall -q fidelcli
	touch $@ $(VENV)/.installed

# The tests plus the linter and the type checker (the `dev` extra).
$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e ".[dev]"
	$(BIN)/python -m compileall -q fidelcli
	touch $@ $(VENV)/.installed-test $(VENV)/.installed

# The report draws its charts with matplotlib (the plots extra).
$(VENV)/.installed-plots: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e ".[plots]"
	$(BIN)/python -m compileall -q fidelcli
	touch $@ $(VENV)/.installed

# The main job on sample_data/: validate, then every analysis, then the nightly report (its path last).
run: $(VENV)/.installed-plots
	mkdir -p $(OUT)
	$(BIN)/fidelcli validate -t sample_data/transactions.csv -c sample_data/customers.csv
	$(BIN)/fidelcli rfm -t sample_data/transactions.csv --summary
	$(BIN)/fidelcli kpi -t sample_data/transactions.csv -c sample_data/customers.csv --period month
	$(BIN)/fidelcli cohort -t sample_data/transactions.csv --period quarter
	$(BIN)/fidelcli clv -t sample_data/transactions.csv --time-unit week --horizon 12m -o $(OUT)/clv.csv
	$(BIN)/fidelcli subscription --subscriptions sample_data/subscriptions.csv --period month -o $(OUT)/subscriptions.csv
	$(BIN)/fidelcli churn train -t sample_data/transactions.csv -c sample_data/customers.csv --cutoff 2025-06-30 --horizon 90d --model-out $(OUT)/churn.json
	$(BIN)/fidelcli churn score -t sample_data/transactions.csv -c sample_data/customers.csv --model $(OUT)/churn.json -o $(OUT)/churn_scores.csv
	$(BIN)/fidelcli -q --config examples/nightly.toml report --out $(OUT)/report

# Every test, slow ones included (under 5 minutes on 2 cores). A quick run while editing:
# .venv/bin/python -m pytest -m "not slow"
test: $(VENV)/.installed-test test-services
	$(BIN)/python -m pytest -q

# System packages of the report's tests, from Debian when missing (as root, as CI runs): Chromium for
# the headless-browser test, PostgreSQL for the cron-style test. Without them (no root, no apt) those
# tests skip and say why.
test-services:
	@if ! command -v chromium >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium postgresql >/dev/null; \
	  else echo "test-services: chromium or postgresql missing and apt-get unavailable: their tests will skip"; fi; fi
	@# The Spark engine's tests need a Java runtime (17+, as PySpark 4 does); in CI they fail without one.
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null \
	    || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null; \
	  else echo "test-services: java missing and apt-get unavailable: the Spark tests will skip (fail in CI)"; fi; fi

# What a change must pass (.ci/run): lint, strict type check of the package, then every test.
check: $(VENV)/.installed-dev test-services
	$(BIN)/ruff check fidelcli tests
	$(BIN)/mypy fidelcli
	$(BIN)/python -m pytest -q

# The newest release of every dependency, in a separate environment: drift shows here before it
# breaks a landing. When it passes, refresh constraints/ci.txt from it (see that file's header).
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install -q --disable-pip-version-check --upgrade -e ".[dev]"
	.venv-latest/bin/python -m pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python -m compileall -q fidelcli
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-latest $(OUT) .pytest_cache
