"""Read-only ad-hoc SQL for `dora sql` and the dashboard's SQL page: one query, no files, no settings.

Two independent fences: the statement type is checked against an allow-list before anything runs (which
also gives the clear messages), and the connection itself is read-only with external access disabled and
its configuration locked, so whatever slips past the first fence still cannot write or read files.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pandas as pd

from warehouse import db
from warehouse.db import WarehouseError

# lock_configuration is not in here: it is SET after TimeZone (see connect), because TimeZone cannot be given
# at connect time (DuckDB rejects it as unrecognised before ICU registers it) and nothing can be SET after.
SANDBOX_CONFIG: dict[str, str | int | bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",
    "threads": 2,
}

READ_ONLY = "dora sql is read-only: INSERT/UPDATE/DELETE/CREATE/DROP/ALTER ... are not allowed"
NO_FILES = "dora sql cannot read or write files"
NO_ATTACH = "dora sql cannot attach or detach databases"
NO_EXTENSIONS = "dora sql cannot install or load extensions"
NO_SETTINGS = "dora sql cannot change settings (SET, RESET, USE, PRAGMA x = ...)"
ONE_QUERY = "dora sql runs one query at a time (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"

_T = duckdb.StatementType
# MULTI is what a PIVOT without an IN list parses to; it runs fine read-only and the connection fences hold.
_ALLOWED = {_T.SELECT, _T.EXPLAIN, _T.MULTI}
_WRITES = (_T.INSERT, _T.UPDATE, _T.DELETE, _T.MERGE_INTO, _T.CREATE, _T.CREATE_FUNC, _T.DROP, _T.ALTER)
_REFUSED = {
    **dict.fromkeys(_WRITES, READ_ONLY),
    _T.VACUUM: READ_ONLY,
    _T.ANALYZE: READ_ONLY,
    _T.COPY: NO_FILES,
    _T.EXPORT: NO_FILES,
    _T.ATTACH: NO_ATTACH,
    _T.DETACH: NO_ATTACH,
    _T.COPY_DATABASE: NO_ATTACH,
    _T.LOAD: NO_EXTENSIONS,
    _T.EXTENSION: NO_EXTENSIONS,
    _T.SET: NO_SETTINGS,
    _T.VARIABLE_SET: NO_SETTINGS,
}

# Errors the connection fences raise, for statements the allow-list let through (read_csv in a SELECT, ...).
_FENCE_MESSAGES = [
    ("file system operations are disabled", NO_FILES),
    ("loading external extensions is disabled", NO_EXTENSIONS),
    ("configuration has been locked", NO_SETTINGS),
    ("attached in read-only mode", READ_ONLY),
]


_setup_lock = threading.Lock()


class SandboxError(WarehouseError):
    """A query `dora sql` refuses or that failed; the message is one line meant for the user."""


def connect(path: str | os.PathLike | None) -> duckdb.DuckDBPyConnection:
    """A fenced read-only connection; waits briefly for a writer's lock like every reader does."""
    p = db.resolve_path(path)
    # Opening a missing file read-only fails anyway; creating one here would hide a mistyped --warehouse.
    if not p.exists():
        raise SandboxError(f"no warehouse at {p}: import or collect some data first")
    con = _open_fenced(p)
    # Connections with the same config share that instance, so only the first one sets it up: the same
    # session as db.read (UTC, so now() compares with the UTC timestamps), then nothing can be changed.
    with _setup_lock:
        # fetchall, not fetchone: an unfinished result would block the caller's next con.sql().
        if not con.execute("select current_setting('lock_configuration')").fetchall()[0][0]:
            con.execute("set global TimeZone = 'UTC'")
            con.execute("set lock_configuration = true")
    return con


def _open_fenced(p: Path) -> duckdb.DuckDBPyConnection:
    # db.open_waiting waits out another process's write lock and this process's own connections with other
    # settings (DuckDB keeps one instance per file and process). A separate instance (ATTACH from
    # :memory:) is no way out: closing it would drop this process's file lock for every connection
    # (fcntl), letting a writer in under the other readers.
    try:
        return db.open_waiting(p, read_only=True, config=dict(SANDBOX_CONFIG))
    except WarehouseError as exc:
        raise SandboxError(_one_line(str(exc))) from exc


def check(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single query, with a message naming what is not allowed."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SandboxError(_one_line(str(exc))) from exc
    except ValueError as exc:  # a statement type the Python enum does not know (UPDATE EXTENSIONS)
        raise SandboxError(ONE_QUERY) from exc
    if not statements:
        raise SandboxError("no query given")
    if len(statements) > 1:
        raise SandboxError(f"{ONE_QUERY}: got {len(statements)} statements")
    kind = statements[0].type
    if kind not in _ALLOWED:
        raise SandboxError(_REFUSED.get(kind, f"{ONE_QUERY}: {kind.name} is not allowed"))


def run_query(
    path: str | os.PathLike | None, sql: str, timeout_seconds: float = 30.0, max_rows: int | None = None
) -> pd.DataFrame:
    """Run one read-only query; with max_rows, stop fetching there and set df.attrs["truncated"]."""
    con = connect(path)
    try:
        check(con, sql)
        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            con.interrupt()

        # The timer covers fetching too: DuckDB streams results, so much of the work happens while fetching.
        timer = threading.Timer(timeout_seconds, stop)
        timer.start()
        try:
            df, truncated = _fetch(con.execute(sql), max_rows)
        except duckdb.InterruptException as exc:
            if timed_out.is_set():
                raise SandboxError(f"query interrupted after {timeout_seconds:g} s") from exc
            raise SandboxError("query interrupted") from exc
        except duckdb.Error as exc:
            raise SandboxError(_human(exc)) from exc
        finally:
            timer.cancel()
    finally:
        con.close()
    df.attrs["truncated"] = truncated
    return df


def _fetch(result: duckdb.DuckDBPyConnection, max_rows: int | None) -> tuple[pd.DataFrame, bool]:
    if max_rows is None:
        return result.df(), False
    # Chunk by chunk so that a huge result is never materialised just to show its first rows.
    chunks = [result.fetch_df_chunk()]  # the first one even if empty: it carries the column names
    fetched = len(chunks[0])
    while fetched <= max_rows and len(chunks[-1]):
        chunks.append(result.fetch_df_chunk())
        fetched += len(chunks[-1])
    df = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
    return df.head(max_rows), fetched > max_rows


def schema_listing(path: str | os.PathLike | None) -> pd.DataFrame:
    """Every column of the raw/core/marts tables and views: schema, table, column, type."""
    con = connect(path)
    try:
        return con.execute(
            """
            select table_schema as "schema", table_name as "table", column_name as "column",
                data_type as "type"
            from information_schema.columns
            where table_catalog = current_database() and table_schema in ('raw', 'core', 'marts')
            order by table_schema, table_name, ordinal_position
            """
        ).df()
    finally:
        con.close()


def _human(exc: duckdb.Error) -> str:
    text = str(exc)
    for needle, message in _FENCE_MESSAGES:
        if needle in text.lower():
            return message
    return _one_line(text)


def _one_line(text: str) -> str:
    """DuckDB's message up to the source excerpt ("LINE 1: ..."), which only makes sense in a terminal."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("LINE ") or (lines and not line.strip()):
            break
        if line.strip():
            lines.append(line.strip())
    return " ".join(lines)
