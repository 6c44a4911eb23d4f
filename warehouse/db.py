"""Connections to the warehouse, a DuckDB file or a DuckLake (warehouse/address.py).

The file: writers work on a private copy published atomically (warehouse/publish.py), readers never
blocked. The lake (warehouse/lake.py): a write is one DuckLake transaction committed when its block ends, a
collect's stage commits each batch, readers read the latest committed snapshot (or, `as_of`, a past one).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from warehouse import lake, publish
from warehouse.address import DEFAULT_PATH as DEFAULT_PATH
from warehouse.address import Address, FileAddress, LakeAddress, parse
from warehouse.address import WarehouseError as WarehouseError
from warehouse.lake import AsOf
from warehouse.lake import WriteConflict as WriteConflict
from warehouse.lake import in_block as in_block
from warehouse.lake import retrying as retrying
from warehouse.lake import transaction as transaction

# A reader with no published warehouse waits this long for a first writer, then reads an empty one.
FIRST_READ_WAIT_SECONDS = 0.5

LOCK_WAIT_SECONDS = 30.0
# DuckDB's default is 80% of the machine's memory; a bounded buffer pool (spilling to disk beyond it)
# keeps a transform of millions of commits within a few GB beside the Python process.
MEMORY_LIMIT = os.environ.get("DORA_MEMORY_LIMIT", "2500MB")
Where = str | os.PathLike | Address | None


def migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with this version, as (version, sql), in order."""
    folder = resources.files("warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


SCHEMA_VERSION = migrations()[-1][0]


def resolve_path(path: Where) -> Path:
    """The file a file warehouse address names; a lake address is refused (WarehouseError)."""
    found = parse(path)
    if isinstance(found, LakeAddress):
        raise WarehouseError(f"{found} is a DuckLake warehouse: this needs a DuckDB file warehouse")
    return found.path


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
        "select count(*) from information_schema.tables where table_catalog = current_database()"
        " and table_schema = 'main' and table_name = '_doralytics'",
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


def _too_new(path: Path | Address, version: int) -> WarehouseError:
    return WarehouseError(
        f"{path} has schema version {version}, newer than this Doralytics knows ({SCHEMA_VERSION}): "
        "upgrade doralytics to open it"
    )


def upgrade(con: duckdb.DuckDBPyConnection, path: Path | Address) -> None:
    """Bring the schema up to SCHEMA_VERSION in one transaction; refuse a newer warehouse. A lake commits
    each migration (lake.portable) with its version: DuckLake 1.4 loses the tables a transaction created
    when it drops one of them. A conflict raises WriteConflict; a retry resumes from the version done."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise _too_new(path, current)
    if current == SCHEMA_VERSION:
        return
    steps = [(v, sql) for v, sql in migrations() if v > current]
    if isinstance(path, LakeAddress):
        lake.migrate(con, steps, schema_version, lambda c, v: set_meta(c, "schema_version", str(v)))
        return
    with transaction(con):
        for _, sql in steps:
            con.execute(sql)
        set_meta(con, "schema_version", str(SCHEMA_VERSION))
    # the schema's DDL leaves the write-ahead log at once: DuckDB 1.4.4 cannot replay one holding migration
    # 005's `drop default` and `drop sequence` after a kill
    con.execute("checkpoint")


# Lake write sessions open in this process, by (address, thread): a write nested in one joins it.
_lake_open: dict[tuple[LakeAddress, int], duckdb.DuckDBPyConnection] = {}


def _session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return con.execute("set TimeZone = 'UTC'")


# Working copies open in this process (their connections), by published path; and the collects' copies
# this process left unpublished (its own readers see them: a process reads what it wrote).
_writing: dict[Path, duckdb.DuckDBPyConnection] = {}
_pending: set[Path] = set()
_registry_lock = threading.Lock()


def _key(p: Path) -> Path:
    return Path(os.path.abspath(p))


def _writer_config() -> dict[str, str | bool | int | float | list[str]]:
    # New warehouse files are written in DuckDB 1.4's storage format, which both supported lines read and
    # write (2.x keeps a file's format): one file works under the default install (2.x) and under
    # `doralytics[lake]` (1.4.4). 2.x's own format (a file made before) gains nothing measurable here.
    return {"memory_limit": MEMORY_LIMIT, "storage_compatibility_version": "v1.4.0"}


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
                with _joined(open_already) as con:
                    yield con
                return
            work, _ = publish.prepare(p, background_flush=not resumable)
            publish.fault_point("prepared")
            con = _session(duckdb.connect(str(work), config=_writer_config()))
            with _registry_lock:
                _writing[key] = con
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
def write(path: Where = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for the duration of the block. A file: to a private copy of the warehouse
    that replaces the published file in one rename when the block ends without an error (else nothing of
    it is ever seen); writers queue on a lock. A lake: one DuckLake transaction committed when the block
    ends (WriteConflict if another writer changed the same tables first: run it again with `retrying`).
    Readers are never blocked and see the last published (committed) state."""
    with _write_session(path, resumable=False) as con:
        yield con


@contextmanager
def stage(path: Where = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection for a collect, whose batches each commit their rows with their cursor
    (`transaction`). A file: the working copy is not published when the block ends but kept, resumable,
    for the transform that follows (a `write`, which publishes both together) or for the next run after a
    kill. A lake: each batch is a commit readers see (there is no working copy)."""
    with _write_session(path, resumable=True) as con:
        yield con


def _write_session(path: Where, resumable: bool) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
    """A write session: the file's working copy, or a lake session (one transaction unless resumable)."""
    where = parse(path)
    if isinstance(where, LakeAddress):
        return _lake_session(where, block=not resumable)
    return _working(where.path, resumable=resumable)


@contextmanager
def _lake_session(where: LakeAddress, block: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    key = (where, threading.get_ident())
    open_already = _lake_open.get(key)
    if open_already is not None:
        yield open_already
        return
    con = lake.connect(where, config=_writer_config())
    _lake_open[key] = con
    try:
        retrying(lambda: upgrade(con, where), f"upgrading the schema of {where}")
        if not block:
            yield con
            return
        with lake.block(con):
            yield con
    finally:
        del _lake_open[key]
        con.close()


def ensure_schema(where: LakeAddress) -> None:
    """Create or upgrade the lake's schema (two processes doing it at once: one commits, the other retries
    and finds it done)."""

    def attempt() -> None:
        with closing(lake.connect(where, config=_writer_config())) as con:
            upgrade(con, where)

    retrying(attempt, f"upgrading the schema of {where}")


def exists(path: Where = None) -> bool:
    """Whether the warehouse exists: a file that is there, a lake with a schema."""
    if isinstance(where := parse(path), FileAddress):
        return where.path.exists()
    try:
        with closing(lake.reader(where, _writer_config())) as con:
            return schema_version(con) > 0
    except lake.MissingLake:
        return False


def snapshot(con: duckdb.DuckDBPyConnection) -> str:
    """The state a connection reads: a lake's `snapshot <id> at <time> UTC`, a file's `generation <id>`."""
    kinds = con.execute("select type from duckdb_databases() where database_name = current_database()")
    if [r[0] for r in kinds.fetchall()] == ["ducklake"]:
        return lake.snapshot(con)
    return f"generation {get_meta(con, 'generation') or 'none (never published)'}"


@contextmanager
def read(path: Where = None, as_of: AsOf | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the last published state (never blocked by a writer); a missing file is
    an empty, freshly created warehouse (a lake: its schema created). In a process that has written the
    warehouse without publishing yet (a collect before its transform), its own unpublished state.

    `as_of` (a lake only): a snapshot id or a timestamp, the lake as it was committed then."""
    where = parse(path)
    if isinstance(where, LakeAddress):
        with _lake_read(where, as_of) as con:
            yield con
        return
    if as_of is not None:
        raise WarehouseError(
            f"{where} is a DuckDB file warehouse, which keeps only its latest state: reading as of a "
            "snapshot or a time needs a DuckLake warehouse (--warehouse ducklake:postgres:...)"
        )
    p = where.path
    key = _key(p)
    with _registry_lock:
        open_already = _writing.get(key)
        pending = key in _pending
    if open_already is not None:
        with _joined(open_already) as con:
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
    con = _of_current_schema(_published(p), p, lambda: _publish_schema(p), lambda: _published(p))
    try:
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


@contextmanager
def _lake_read(where: LakeAddress, as_of: AsOf | None) -> Iterator[duckdb.DuckDBPyConnection]:
    if as_of is not None:
        with closing(lake.connect(where, read_only=True, as_of=as_of, config=_writer_config())) as con:
            if (version := schema_version(con)) != SCHEMA_VERSION:
                raise WarehouseError(f"{where} as of {as_of}: schema version {version}, not {SCHEMA_VERSION}")
            yield con
        return
    open_already = _lake_open.get((where, threading.get_ident()))
    if open_already is not None:  # a process reads what it wrote
        yield open_already
        return
    try:
        con = lake.reader(where, _writer_config())
    except lake.MissingLake:
        ensure_schema(where)
        con = lake.reader(where, _writer_config())
    con = _of_current_schema(
        con, where, lambda: ensure_schema(where), lambda: lake.reader(where, _writer_config())
    )
    try:
        yield con
    finally:
        con.close()


def _of_current_schema(
    con: duckdb.DuckDBPyConnection,
    where: Path | Address,
    upgrade: Callable[[], None],
    reopen: Callable[[], Any],
) -> duckdb.DuckDBPyConnection:
    """A reader's connection at this version's schema: an older one is upgraded and read again."""
    version = schema_version(con)
    if version == SCHEMA_VERSION:
        return con
    con.close()
    if version > SCHEMA_VERSION:
        raise _too_new(where, version)
    upgrade()
    return reopen()


def stale(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the marts do not show what the core tables hold (rows loaded after the last transform), with
    the fix; None when they do."""
    if schema_version(con) == 0:
        return None
    loaded = get_meta(con, "load_id")
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
