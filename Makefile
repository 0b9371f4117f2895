# The two set-up commands: `make run` (the product) and `make test` (every test).
# Each creates its own virtual environment (.venv) from the pinned constraints on first use.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export CAMPAIGN_HOME ?= $(CURDIR)/.campaignflow
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: run test bench lint clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,postgresql]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/campaign serve --demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	scripts/ensure-debian-packages.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_tick.py

clean:
	rm -rf $(VENV) .campaignflow
