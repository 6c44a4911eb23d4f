"""Connections to the warehouse file: one short-lived writer, many readers, versioned schema."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

DEFAULT_PATH = "dora.duckdb"
LOCK_WAIT_SECONDS = 30.0
# DuckDB's default is 80% of the machine's memory; a bounded buffer pool (spilling to disk beyond it)
# keeps a transform of millions of commits within a few GB beside the Python process.
MEMORY_LIMIT = os.environ.get("DORA_MEMORY_LIMIT", "2500MB")


class WarehouseError(Exception):
    """A problem with the warehouse file the user can act on (locked, too new, missing)."""


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with this version, as (version, sql), in order."""
    folder = resources.files("warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


SCHEMA_VERSION = migrations()[-1][0]


def resolve_path(path: str | os.PathLike | None) -> Path:
    return Path(path or os.environ.get("DORA_WAREHOUSE") or DEFAULT_PATH)


def open_waiting(path: Path, read_only: bool, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the file, waiting up to LOCK_WAIT_SECONDS for a lock to pass."""
    # DuckDB lets no other process open a file while one holds it read-write: both sides
    # retry for a while instead of failing at the first collision.
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config or {})
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # IOException: another process holds the file. ConnectionException: this process has it
            # open with other settings (a sandbox query, say); both pass within moments.
            other_settings = "different configuration" in str(exc).lower()
            if not (other_settings or "lock" in str(exc).lower()) or time.monotonic() > deadline:
                if other_settings:
                    raise WarehouseError(
                        f"cannot open {path}: it is held open in this process with other settings; "
                        "close those connections first"
                    ) from exc
                raise WarehouseError(f"cannot open {path}: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, with the result consumed: DuckDB 2 refuses register() and sql() on a
    connection whose last result was left unfinished by fetchone()."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The first value of a query that always returns a row (a count, an aggregate), result consumed."""
    row = one(con, sql, params)
    if row is None:
        raise WarehouseError(f"no row from: {sql}")
    return row[0]


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = scalar(
        con,
        "select count(*) from information_schema.tables"
        " where table_schema = 'main' and table_name = '_doralytics'",
    )
    if not exists:
        return 0
    row = one(con, "select value from main._doralytics where key = 'schema_version'")
    return int(row[0]) if row else 0


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    if schema_version(con) == 0:
        return None
    row = one(con, "select value from main._doralytics where key = ?", [key])
    return row[0] if row else None


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("delete from main._doralytics where key = ?", [key])
    con.execute("insert into main._doralytics values (?, ?)", [key, value])


def _too_new(path: Path, version: int) -> WarehouseError:
    return WarehouseError(
        f"{path} has schema version {version}, newer than this Doralytics knows ({SCHEMA_VERSION}): "
        "upgrade doralytics to open it"
    )


def upgrade(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring the schema up to SCHEMA_VERSION in one transaction; refuse a newer file."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise _too_new(path, current)
    if current == SCHEMA_VERSION:
        return
    con.execute("begin")
    for version, sql in migrations():
        if version > current:
            con.execute(sql)
    set_meta(con, "schema_version", str(SCHEMA_VERSION))
    con.execute("commit")


def _session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("set TimeZone = 'UTC'")
    return con


@contextmanager
def write(path: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection held only for the duration of the block."""
    p = resolve_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    con = _session(open_waiting(p, read_only=False, config={"memory_limit": MEMORY_LIMIT}))
    try:
        upgrade(con, p)
        yield con
    finally:
        con.close()


@contextmanager
def read(path: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; a missing file is an empty, freshly created warehouse."""
    p = resolve_path(path)
    if not p.exists():
        with write(p):
            pass
    con = _session(open_waiting(p, read_only=True, config={"memory_limit": MEMORY_LIMIT}))
    try:
        version = schema_version(con)
        if version > SCHEMA_VERSION:
            raise _too_new(p, version)
        if version < SCHEMA_VERSION:
            con.close()
            with write(p):
                pass
            con = _session(open_waiting(p, read_only=True, config={"memory_limit": MEMORY_LIMIT}))
        yield con
    finally:
        con.close()


def read_sql(relative: str) -> str:
    """The text of a .sql file under warehouse/sql/."""
    return (resources.files("warehouse") / "sql" / relative).read_text()
