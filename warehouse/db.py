"""Connections to the warehouse: writers on a private copy published atomically, readers never blocked."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from warehouse import publish

# A reader with no published warehouse waits this long for a first writer, then reads an empty one.
FIRST_READ_WAIT_SECONDS = 0.5

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


class _Writing:
    """The working copy this process has open for writing a warehouse."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con


# Working copies open in this process, by published path; and the collects' copies this process left
# unpublished (its own readers see them: a process reads what it wrote).
_writing: dict[Path, _Writing] = {}
_pending: set[Path] = set()
_registry_lock = threading.Lock()


def _key(p: Path) -> Path:
    return Path(os.path.abspath(p))


def _writer_config() -> dict[str, str | bool | int | float | list[str]]:
    return {"memory_limit": MEMORY_LIMIT}


@contextmanager
def _joined(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor = _session(con.cursor())
    try:
        yield cursor
    finally:
        cursor.close()


@contextmanager
def _working(p: Path, resumable: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write session on the working copy of `p` (see warehouse/publish.py), the writer lock held.

    Nested in a session this process already has open, it joins that one (the outermost one publishes).
    A write (`resumable` False) publishes on success and throws its copy away on failure; a collect's
    copy (`resumable` True) is kept unpublished either way, for the transform after it or the next run.
    """
    p.parent.mkdir(parents=True, exist_ok=True)
    key = _key(p)
    try:
        with publish.exclusive(p):
            with _registry_lock:
                open_already = _writing.get(key)
            if open_already is not None:
                with _joined(open_already.con) as con:
                    yield con
                return
            work, _ = publish.prepare(p)
            publish.fault_point("prepared")
            con = _session(duckdb.connect(str(work), config=_writer_config()))
            with _registry_lock:
                _writing[key] = _Writing(con)
            try:
                upgrade(con, p)
                set_meta(con, "work_state", publish.RESUMABLE if resumable else publish.WRITING)
                yield con
            except BaseException:
                _end(key, con)
                if not resumable:
                    publish.discard(p)
                    with _registry_lock:
                        _pending.discard(key)
                raise
            if resumable:
                _end(key, con)
                return
            set_meta(con, "generation", publish.new_generation())
            set_meta(con, "work_state", "published")
            publish.fault_point("transformed")
            con.execute("checkpoint")
            _end(key, con)
            publish.fault_point("checkpointed")
            publish.replace(p)
            with _registry_lock:
                _pending.discard(key)
            publish.fault_point("published")
    except publish.LockTimeout as exc:
        raise WarehouseError(str(exc)) from exc


def _end(key: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Close the working copy: until it is published or discarded, it is this process's pending state."""
    with _registry_lock:
        _writing.pop(key, None)
        _pending.add(key)
    con.close()


@contextmanager
def write(path: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for the duration of the block, to a private copy of the warehouse that
    replaces the published file in one rename when the block ends without an error (else nothing of it
    is ever seen). Writers queue on a lock; readers are never blocked and see the last published state."""
    with _working(resolve_path(path), resumable=False) as con:
        yield con


@contextmanager
def stage(path: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for a collect: its working copy is not published when the block ends but
    kept, resumable (each batch commits its rows with its cursor), for the transform that follows (a
    `write`, which publishes both together) or for the next run after a kill."""
    with _working(resolve_path(path), resumable=True) as con:
        yield con


@contextmanager
def read(path: str | os.PathLike | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the last published state (never blocked by a writer); a missing file is
    an empty, freshly created warehouse. In a process that has written the warehouse without publishing
    yet (a collect before its transform), its own unpublished state."""
    p = resolve_path(path)
    key = _key(p)
    with _registry_lock:
        open_already = _writing.get(key)
        pending = key in _pending
    if open_already is not None:
        with _joined(open_already.con) as con:
            yield con
        return
    if pending:
        with publish.exclusive(p):
            if publish.resumable(p):
                con = _session(duckdb.connect(str(publish.work_path(p)), config=_writer_config()))
                try:
                    yield con
                finally:
                    con.close()
                return
            with _registry_lock:
                _pending.discard(key)
    if not p.exists():
        try:
            _publish_schema(p, wait=FIRST_READ_WAIT_SECONDS)
        except WarehouseError:
            # the first write ever is running and nothing is published yet: the last complete state is
            # the empty warehouse, answered at once rather than after the writer
            with _empty() as con:
                yield con
            return
    con = _published(p)
    try:
        version = schema_version(con)
        if version > SCHEMA_VERSION:
            raise _too_new(p, version)
        if version < SCHEMA_VERSION:
            con.close()
            _publish_schema(p)
            con = _published(p)
        yield con
    finally:
        con.close()


@contextmanager
def _empty() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to an empty warehouse of the current schema, in a private temporary folder."""
    with tempfile.TemporaryDirectory(prefix="doralytics-empty-") as folder:
        path = Path(folder) / "empty.duckdb"
        con = _session(duckdb.connect(str(path), config=_writer_config()))
        try:
            upgrade(con, path)
            con.execute("checkpoint")
        finally:
            con.close()
        con = _published(path)
        try:
            yield con
        finally:
            con.close()


def _publish_schema(p: Path, wait: float | None = None) -> None:
    """Publish the warehouse with the current schema (a new, empty one if there is none), leaving any
    working copy alone. Raises WarehouseError when the writer lock is not free within `wait` seconds."""
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with publish.exclusive(p, wait):
            if p.exists():
                con = _published(p)
                try:
                    version = schema_version(con)
                finally:
                    con.close()
                if version >= SCHEMA_VERSION:
                    return  # another reader did it meanwhile (or the file is too new: read() says so)
            work = publish.copy_for_upgrade(p)
            con = _session(duckdb.connect(str(work), config=_writer_config()))
            try:
                # The same data: the generation stays, so a collect's copy made from it stays resumable
                # (an empty new file is the state a copy made from no file started from).
                upgrade(con, p)
                con.execute("checkpoint")
            finally:
                con.close()
            publish.replace(p, work)
    except publish.LockTimeout as exc:
        raise WarehouseError(str(exc)) from exc


def _published(p: Path) -> duckdb.DuckDBPyConnection:
    try:
        return _session(publish.snapshot(p, _writer_config()))
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open {p}: {str(exc).splitlines()[0]}") from exc


def stale(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the marts do not show what the core tables hold (rows loaded after the last transform), with
    the fix; None when they do."""
    if schema_version(con) == 0:
        return None
    loaded = scalar(
        con,
        "select coalesce(max(last_value), 0) from duckdb_sequences()"
        " where schema_name = 'core' and sequence_name = 'load_seq' and database_name = current_database()",
    )
    transformed = get_meta(con, "transformed_load_id")
    if int(loaded or 0) > int(transformed or 0):
        return (
            "the metrics are older than the data: rows were loaded after the last transform "
            f"(load {loaded}, metrics built from load {transformed or 'none'}); "
            "run `dora transform` to rebuild them"
        )
    return None


def read_sql(relative: str) -> str:
    """The text of a .sql file under warehouse/sql/."""
    return (resources.files("warehouse") / "sql" / relative).read_text()
