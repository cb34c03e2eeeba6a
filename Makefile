# Set-up needs only Python >= 3.11: `make run` and `make test` create .venv and install into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT := .run

.PHONY: run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@ $(VENV)/.installed

# The main job on sample_data/: validate, then every analysis.
run: $(VENV)/.installed
	$(BIN)/fidelcli validate -t sample_data/transactions.csv -c sample_data/customers.csv
	$(BIN)/fidelcli rfm -t sample_data/transactions.csv --summary
	$(BIN)/fidelcli kpi -t sample_data/transactions.csv -c sample_data/customers.csv --period month
	$(BIN)/fidelcli cohort -t sample_data/transactions.csv --period quarter
	$(BIN)/fidelcli clv -t sample_data/transactions.csv --time-unit week --horizon 12m -o $(OUT)/clv.csv
	$(BIN)/fidelcli subscription --subscriptions sample_data/subscriptions.csv --period month -o $(OUT)/subscriptions.csv
	$(BIN)/fidelcli churn train -t sample_data/transactions.csv -c sample_data/customers.csv --cutoff 2025-06-30 --horizon 90d --model-out $(OUT)/churn.json
	$(BIN)/fidelcli churn score -t sample_data/transactions.csv -c sample_data/customers.csv --model $(OUT)/churn.json -o $(OUT)/churn_scores.csv

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-test
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
