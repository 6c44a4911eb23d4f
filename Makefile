# Two commands: `make demo` and `make test`. Everything installs into .venv (DuckDB 2.x, the embedded
# default); `make test` also builds .venv-lake (DuckDB 1.4.4 with the DuckLake and PostgreSQL extension
# packages: `doralytics[lake]`) and runs the lake tests and the file backend's compatibility tests there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LAKE_VENV := .venv-lake
LAKE_BIN := $(LAKE_VENV)/bin
LAKE_STAMP := $(LAKE_VENV)/.installed
WAREHOUSE ?= dora.duckdb
# What proves the file backend on DuckDB 1.4 (the part of the suite `make test` runs under both lines; the
# rest was run there folder by folder, see the README's "Supported DuckDB versions"): the DuckDB line itself, the worked examples, import, transform, metrics, sql, the sandbox.
LAKE_COMPAT_TESTS := tests/test_duckdb_line.py tests/warehouse/test_examples.py \
	tests/warehouse/test_import_errors.py tests/warehouse/test_schema.py tests/warehouse/test_sql_files.py \
	tests/warehouse/test_buckets.py tests/warehouse/test_sandbox.py tests/warehouse/test_sandbox_paths.py \
	tests/cli/test_sql_cli.py tests/warehouse/test_load_guards.py tests/warehouse/test_full_rebuild.py

.PHONY: demo test lint bench install install-lake clean browser postgres

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(LAKE_BIN)/python:
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_BIN)/pip install -q --upgrade pip

$(LAKE_STAMP): pyproject.toml | $(LAKE_BIN)/python
	$(LAKE_BIN)/pip install -q -e '.[dev,lake]'
	touch $(LAKE_STAMP)

install-lake: $(LAKE_STAMP)

demo: $(STAMP)
	$(BIN)/dora --warehouse $(WAREHOUSE) demo
	$(BIN)/dora --warehouse $(WAREHOUSE) metrics --from $$($(BIN)/python -c "import datetime as d; print(d.date.today() - d.timedelta(days=89))") --to $$(date -u +%F)
	$(BIN)/dora --warehouse $(WAREHOUSE) dashboard

test: $(STAMP) $(LAKE_STAMP) browser postgres
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest
	$(LAKE_BIN)/python -m pytest tests/lake $(LAKE_COMPAT_TESTS)

# The dashboard's end-to-end test drives Debian's chromium (never `playwright install`: its download fails here).
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium fonts-liberation)

# The lake tests start a PostgreSQL server of their own (initdb/pg_ctl from the Debian package, run as a
# non-root user, on a unix socket only).
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| (apt-get update && apt-get install -y --no-install-recommends postgresql)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

# The benchmarks print their figures (about 10 minutes in all); GNU time reads peak memory.
bench: $(STAMP) $(LAKE_STAMP) browser postgres
	@test -x /usr/bin/time || (apt-get update && apt-get install -y --no-install-recommends time)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.export_speed
	$(BIN)/python -m benchmarks.github_collect
	$(BIN)/python -m benchmarks.gitlab_collect
	$(BIN)/python -m benchmarks.dashboard_speed --demo
	$(LAKE_BIN)/python -m benchmarks.lake

clean:
	rm -rf $(VENV) $(LAKE_VENV) *.egg-info .pytest_cache .ruff_cache
