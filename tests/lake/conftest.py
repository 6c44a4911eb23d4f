"""The lake tests: a real PostgreSQL server (tests/support/postgres.py) and DuckDB 1.4.x with the DuckLake and
PostgreSQL extension packages (`doralytics[lake]`).

Those packages exist for DuckDB 1.4 only, so these tests run under .venv-lake (`make test` runs this folder
with it); under .venv's DuckDB 2.x the folder is not collected at all: there a lake address is refused with
one clear line, which tests outside this folder check.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import duckdb

from tests.support import postgres
from tests.support.postgres import lake, password_lake, postgres_server  # noqa: F401 (fixtures)

EXTENSIONS = ("ducklake", "postgres_scanner")


def lake_ready() -> bool:
    """DuckDB 1.4.x with both extension packages installed, and PostgreSQL's server tools."""
    if not duckdb.__version__.startswith("1.4."):
        return False
    folder = Path(sysconfig.get_paths()["purelib"]) / "duckdb_ext" / "extensions" / f"v{duckdb.__version__}"
    found = {p.name.split(".")[0] for p in folder.glob("*/*.duckdb_extension")}
    return set(EXTENSIONS) <= found and postgres.available()


collect_ignore_glob = [] if lake_ready() else ["*.py"]
