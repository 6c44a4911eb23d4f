"""Sessions on a DuckLake warehouse (warehouse/address.py): the catalog in PostgreSQL, the data files under
the data path.

A session is an in-memory DuckDB with the DuckLake and PostgreSQL extensions loaded from the packaged
extension directory (`pip install 'doralytics[lake]'`: the `duckdb-ext-ducklake` and `duckdb-ext-postgres`
packages, built for DuckDB 1.4), the lake attached as `warehouse` and made the default database, so that
every SQL file's `core.x`, `marts.x`, `raw.x` and `main._doralytics` resolve in the lake unchanged.

Writers commit DuckLake transactions: a commit that conflicts with another writer's raises WriteConflict,
and `retrying` runs the whole write again. Readers read the latest committed snapshot (or, with `as_of`,
an earlier one) and are never blocked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from warehouse.address import LakeAddress, WarehouseError

log = logging.getLogger(__name__)

CATALOG = "warehouse"
EXTENSIONS = ("ducklake", "postgres")
SUPPORTED_LINE = "1.4."
INSTALL_HINT = "pip install 'doralytics[lake]'"
# A write that keeps conflicting with other writers is tried this many times in all, waiting a random
# time of up to RETRY_FIRST_WAIT seconds, doubling up to RETRY_MAX_WAIT, between attempts.
RETRY_ATTEMPTS = int(os.environ.get("DORA_WRITE_RETRIES", "30"))
RETRY_FIRST_WAIT = 0.05
RETRY_MAX_WAIT = 5.0

T = TypeVar("T")
AsOf = int | dt.datetime | str


class WriteConflict(WarehouseError):
    """Another writer committed a change to the same rows (or tables) first: this write was rolled back
    and can be run again (`retrying`)."""


def is_conflict(exc: BaseException) -> bool:
    """Whether a DuckDB error is a DuckLake commit conflict with another writer."""
    return isinstance(exc, duckdb.Error) and "conflict" in str(exc).lower()


def retrying(fn: Callable[[], T], what: str, attempts: int | None = None) -> T:
    """fn() run again, with a growing random wait, as long as it fails with WriteConflict (at most
    `attempts` times in all: then the last WriteConflict, saying what could not be written)."""
    limit = max(1, RETRY_ATTEMPTS if attempts is None else attempts)
    wait = RETRY_FIRST_WAIT
    for attempt in range(1, limit + 1):
        try:
            return fn()
        except WriteConflict as exc:
            if attempt == limit:
                raise WriteConflict(
                    f"{what}: other writers kept changing the same tables; gave up after {limit} attempts "
                    f"({exc})"
                ) from exc
            log.info("%s: conflict with another writer, trying again (attempt %d)", what, attempt + 1)
            time.sleep(random.uniform(wait / 2, wait))
            wait = min(wait * 2, RETRY_MAX_WAIT)
    raise AssertionError("unreachable")


# The ids of the lake sessions whose whole `db.write` block is one transaction (see `block`).
_blocks: set[int] = set()


@contextmanager
def block(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """The block as one transaction on `con`, which every `transaction` inside it joins."""
    with transaction(con):
        _blocks.add(id(con))
        try:
            yield con
        finally:
            _blocks.discard(id(con))


def in_block(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a `transaction` on `con` joins an enclosing lake `block`: a statement that fails in it then
    ends the block's transaction, not its own."""
    return id(con) in _blocks


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction on `con` (a file's or a lake's): committed when the block ends, rolled back on an
    error. Inside a lake `block` it joins that one. A lake commit that conflicts with another writer's
    raises WriteConflict (nothing of the block is kept)."""
    if id(con) in _blocks:
        yield con
        return
    con.execute("begin").fetchall()
    try:
        yield con
    except BaseException:
        _rollback(con)
        raise
    try:
        con.execute("commit").fetchall()
    except duckdb.Error as exc:
        _rollback(con)
        if is_conflict(exc):
            raise WriteConflict(_first(str(exc).strip().splitlines()[-1])) from exc
        raise


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(duckdb.Error):  # a failed commit or statement may have ended it already
        con.execute("rollback").fetchall()


def extension_directory() -> Path:
    """The packaged extension directory (duckdb_ext/extensions), checked to hold the DuckLake and PostgreSQL
    extensions for this DuckDB. Raises one WarehouseError naming what to install otherwise."""
    version = duckdb.__version__
    if not version.startswith(SUPPORTED_LINE):
        raise WarehouseError(
            f"a DuckLake warehouse needs DuckDB {SUPPORTED_LINE}x with the DuckLake extension packages, and "
            f"this is DuckDB {version}: {INSTALL_HINT}"
        )
    spec = importlib.util.find_spec("duckdb_ext")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        root = Path(folder) / "extensions"
        if all(list(root.glob(f"v{version}/*/{_file(name)}")) for name in EXTENSIONS):
            return root
    raise WarehouseError(
        f"a DuckLake warehouse needs the DuckLake and PostgreSQL extensions for DuckDB {version}, which are "
        f"not installed: {INSTALL_HINT}"
    )


def _file(name: str) -> str:
    return f"{'postgres_scanner' if name == 'postgres' else name}.duckdb_extension"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def as_of_option(as_of: AsOf) -> str:
    """The ATTACH option that opens the lake at a past snapshot: an id (int, or digits) or a timestamp
    (a datetime, or ISO 8601 text; naive means UTC)."""
    if isinstance(as_of, bool):
        raise WarehouseError(f"as of {as_of!r}: not a snapshot id or a timestamp")
    if isinstance(as_of, int) or (isinstance(as_of, str) and as_of.strip().isdigit()):
        return f"snapshot_version {int(as_of)}"
    when = as_of
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
        except ValueError:
            raise WarehouseError(
                f"as of {as_of!r}: not a snapshot id or a timestamp (YYYY-MM-DD[THH:MM[:SS]][+HH:MM])"
            ) from None
    if not isinstance(when, dt.datetime):
        raise WarehouseError(f"as of {as_of!r}: not a snapshot id or a timestamp")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return f"snapshot_time {_literal(when.astimezone(dt.UTC).isoformat())}"


def connect(
    address: LakeAddress,
    read_only: bool = False,
    as_of: AsOf | None = None,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """A new session on the lake (see the module's docstring). A read-write session creates the DuckLake
    catalog tables in an empty PostgreSQL database; a read-only one on such a database raises
    WarehouseError saying there is no warehouse yet (`missing`)."""
    extensions = extension_directory()
    con = duckdb.connect(":memory:", config=config or {})
    try:
        con.execute(f"set extension_directory = {_literal(str(extensions))}")
        for name in EXTENSIONS:
            con.execute(f"load {name}")
        if not read_only and "://" not in address.data_path:
            Path(address.data_path).mkdir(parents=True, exist_ok=True)
        options = [f"data_path {_literal(address.data_path)}"]
        if read_only or as_of is not None:
            options.append("read_only")
        if as_of is not None:
            options.append(as_of_option(as_of))
        _attach(con, address, options, as_of)
        con.execute(f"use {CATALOG}")
        con.execute("set TimeZone = 'UTC'")
        if as_of is not None:
            con.execute("begin").fetchall()  # one transaction: the snapshot is read once
    except BaseException:
        con.close()
        raise
    return con


# The first writers of a new lake create its catalog tables in PostgreSQL at once: all but one fail on
# PostgreSQL's unique indexes, and find the tables there when they attach again.
_FIRST_ATTACH = ("duplicate key value violates unique constraint", "already exists")


def _attach(
    con: duckdb.DuckDBPyConnection, address: LakeAddress, options: list[str], as_of: AsOf | None
) -> None:
    sql = f"attach {_literal(address.attach_target)} as {CATALOG} ({', '.join(options)})"
    for attempt in range(10):
        try:
            con.execute(sql)
            return
        except duckdb.Error as exc:
            if attempt < 9 and any(m in str(exc) for m in _FIRST_ATTACH):
                time.sleep(random.uniform(0.05, 0.3))
                continue
            raise _attach_error(address, exc, as_of) from exc


class MissingLake(WarehouseError):
    """The PostgreSQL database holds no DuckLake yet (nothing was ever written to this warehouse)."""


def _attach_error(address: LakeAddress, exc: duckdb.Error, as_of: AsOf | None) -> WarehouseError:
    message = str(exc)
    if "does not exist - and creating a new DuckLake is explicitly disabled" in message:
        return MissingLake(f"no warehouse at {address}: nothing has been written to it yet")
    if as_of is not None and "No snapshot found" in message:
        return WarehouseError(f"{address} has no snapshot as of {as_of}: {_first(message)}")
    found = re.search(r"Unable to connect to Postgres at \"[^\"]*\": (.*)", message, re.DOTALL)
    why = found.group(1) if found else message
    return WarehouseError(f"cannot open the lake {address}: {_first(why)}")


def _first(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0] if lines else message


# Read-only sessions kept open per lake: a reader takes a cursor (a connection of its own, on the latest
# committed snapshot when its first query starts), so a read costs no new PostgreSQL connection.
_readers: dict[LakeAddress, duckdb.DuckDBPyConnection] = {}
_readers_lock = threading.Lock()


def reader(address: LakeAddress, config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the latest committed snapshot of the lake, every query of it on that one
    snapshot (a transaction); close it when done. A kept session that broke (PostgreSQL restarted) is
    replaced once."""
    for attempt in range(2):
        with _readers_lock:
            base = _readers.get(address)
            if base is None:
                base = connect(address, read_only=True, config=config)
                _readers[address] = base
            con = base.cursor()
        try:
            con.execute(f"use {CATALOG}")
            con.execute("set TimeZone = 'UTC'")
            # one snapshot for every query of the read (and one metadata lookup instead of one per query)
            con.execute("begin").fetchall()
            con.execute(f"select id from ducklake_current_snapshot({_literal(CATALOG)})").fetchall()
            return con
        except duckdb.Error:
            con.close()
            with _readers_lock:
                if _readers.get(address) is base:
                    del _readers[address]
                    base.close()
            if attempt:
                raise
        except BaseException:
            con.close()
            raise
    raise AssertionError("unreachable")


def forget_readers() -> None:
    """Close the read-only sessions kept open (tests; a process that is done reading)."""
    with _readers_lock:
        for con in _readers.values():
            con.close()
        _readers.clear()


def snapshot(con: duckdb.DuckDBPyConnection) -> str:
    """The committed state a lake session reads: `snapshot <id> at <time UTC>`."""
    rows = con.execute(f"select id from ducklake_current_snapshot({_literal(CATALOG)})").fetchall()
    ident = rows[0][0]
    # as text in UTC: a TIMESTAMPTZ fetched into Python would need pytz
    rows = con.execute(
        f"select strftime(timezone('UTC', snapshot_time), '%Y-%m-%d %H:%M:%S') from {CATALOG}.snapshots()"
        " where snapshot_id = ?",
        [ident],
    ).fetchall()
    if rows and rows[0][0]:
        return f"snapshot {ident} at {rows[0][0]} UTC"
    return f"snapshot {ident}"


# DuckLake refuses a default value for a list column; the file backend keeps `default []` (rows inserted
# without the column hold an empty list), a lake's loaders always give it.
_LIST_DEFAULT = re.compile(r"\s+default\s+\[\]", re.IGNORECASE)


def portable(migration: str) -> str:
    """A migration's SQL as it runs in a lake: the same statements, list defaults left out."""
    return _LIST_DEFAULT.sub("", migration)


def migrate(
    con: duckdb.DuckDBPyConnection,
    steps: list[tuple[int, str]],
    version: Callable[[duckdb.DuckDBPyConnection], int],
    record: Callable[[duckdb.DuckDBPyConnection, int], None],
) -> None:
    """Run the migrations `steps` ((number, sql), in order) on a lake, each in a transaction of its own that
    records its number (DuckLake 1.4 loses the tables a transaction created when it drops one of them).
    A step another process ran meanwhile fails here (a conflict, or "already exists"): WriteConflict, and
    the retry carries on from the version then committed."""
    for number, sql in steps:
        try:
            with transaction(con):
                con.execute(portable(sql))
                record(con, number)
        except duckdb.Error as exc:
            if version(con) >= number:
                raise WriteConflict(f"schema version {number} was made by another process meanwhile") from exc
            raise
