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

# pip's own output goes to $(VENV)/install.log; the terminal gets one line per step (and the log's
# tail if a step fails), not a wall of resolver messages
$(STAMP): pyproject.toml constraints.txt
	@scripts/install-venv.sh $(PYTHON) $(VENV)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/campaign serve --demo --host $(HOST) --port $(PORT)

# the linters first: a finding fails the build before the tests run
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	scripts/ensure-debian-packages.sh
	$(BIN)/python -m pytest -q

# every benchmark in bench/, then bench/RESULTS.md (BENCH_ARGS=--quick for small sizes)
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .campaignflow
