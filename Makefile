# rm-pipeline: `make run` runs the pipeline end to end, `make test` lints and runs the fast tier,
# `make test-all` runs every tier as CI does.
# Every target installs the project into .venv first, from the exact pins in constraints.txt,
# whenever .venv is missing or pyproject.toml / constraints.txt changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all e2e lint format dev bench cluster lock clean help

help:  ## list the targets
	@grep -E '^[a-z0-9]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the main job end to end on the embedded database (or DATABASE_URL)
	$(BIN)/rm-pipeline run

test: $(STAMP) lint  ## lint, then the fast tier on a real PostgreSQL (one worker a core)
	$(BIN)/pytest -n auto -m "not slow"

test-all: $(STAMP) lint  ## every tier, as CI runs it: fast, slow (whole commands, faults, wheel, month), e2e
	$(BIN)/pytest -n auto
	$(BIN)/pytest e2e -p no:cacheprovider

e2e: $(STAMP)  ## the Dagster UI in Debian's chromium: catalog, graph, price_history, a run (screenshots)
	$(BIN)/pytest e2e -p no:cacheprovider

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: $(STAMP)  ## Dagster UI and daemon (schedules and sensors fire)
	$(BIN)/rm-pipeline dev

bench: $(STAMP)  ## benchmarks: ratios against baselines measured in the same run
	$(BIN)/python bench/load.py
	$(BIN)/python bench/peer_dlt.py
	$(BIN)/python bench/valuations.py
	$(BIN)/python bench/backfill.py
	$(BIN)/python bench/restatement.py
	$(BIN)/python bench/yfinance_repair.py
	$(BIN)/python bench/large_warehouse.py

cluster: $(STAMP)  ## Redis and two Celery workers here: a 100 x 3-year backfill on them, equal to the in-process load
	$(BIN)/python deploy/cluster.py

lock: $(STAMP)  ## re-pin constraints.txt from the current environment
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:  ## stop the embedded server and remove local state
	-test -x $(BIN)/rm-pipeline && $(BIN)/rm-pipeline db stop
	rm -rf .rm_pipeline $(VENV)
