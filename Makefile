# Set-up needs only Python >= 3.11: `make run` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT := .run
# CI installs the exact versions the suite last passed with; `make test-latest` tries the newest.
CONSTRAINTS := constraints/ci.txt
PIP_INSTALL = $(BIN)/python -m pip install -q --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: run test check test-latest bench clean

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

# The main job on sample_data/: validate, then every analysis.
run: $(VENV)/.installed
	mkdir -p $(OUT)
	$(BIN)/fidelcli validate -t sample_data/transactions.csv -c sample_data/customers.csv
	$(BIN)/fidelcli rfm -t sample_data/transactions.csv --summary
	$(BIN)/fidelcli kpi -t sample_data/transactions.csv -c sample_data/customers.csv --period month
	$(BIN)/fidelcli cohort -t sample_data/transactions.csv --period quarter
	$(BIN)/fidelcli clv -t sample_data/transactions.csv --time-unit week --horizon 12m -o $(OUT)/clv.csv
	$(BIN)/fidelcli subscription --subscriptions sample_data/subscriptions.csv --period month -o $(OUT)/subscriptions.csv
	$(BIN)/fidelcli churn train -t sample_data/transactions.csv -c sample_data/customers.csv --cutoff 2025-06-30 --horizon 90d --model-out $(OUT)/churn.json
	$(BIN)/fidelcli churn score -t sample_data/transactions.csv -c sample_data/customers.csv --model $(OUT)/churn.json -o $(OUT)/churn_scores.csv

# Every test, slow ones included (under 5 minutes on 2 cores). A quick run while editing:
# .venv/bin/python -m pytest -m "not slow"
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# What a change must pass (.ci/run): lint, strict type check of the package, then every test.
check: $(VENV)/.installed-dev
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
