# Two commands: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WAREHOUSE ?= dora.duckdb

.PHONY: demo test lint bench install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/dora --warehouse $(WAREHOUSE) demo
	$(BIN)/dora --warehouse $(WAREHOUSE) metrics --from $$($(BIN)/python -c "import datetime as d; print(d.date.today() - d.timedelta(days=89))") --to $$(date -u +%F)
	$(BIN)/dora --warehouse $(WAREHOUSE) dashboard

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The dashboard's end-to-end test drives Debian's chromium (never `playwright install`: its download fails here).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium fonts-liberation)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

# The benchmarks print their figures (about 10 minutes in all); GNU time reads peak memory.
bench: $(STAMP) browser
	@test -x /usr/bin/time || (apt-get update && apt-get install -y --no-install-recommends time)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.export_speed
	$(BIN)/python -m benchmarks.github_collect
	$(BIN)/python -m benchmarks.gitlab_collect
	$(BIN)/python -m benchmarks.dashboard_speed --demo

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache
