"""The process one ad-hoc query runs in: bounded in memory, time and result, and alone with the warehouse.

`warehouse.sandbox.run_query` starts it with a minimal environment, writes one JSON request line on its
stdin and keeps stdin open; the worker answers on stdout with one JSON line, then (on success) the result as
an Arrow IPC stream. What bounds it:

- its address space (RLIMIT_AS), which covers DuckDB's vectors and the result alike: DuckDB builds 2,048
  rows at a time outside its own memory_limit, so only the operating system can bound a query's memory;
- the rows and bytes it sends: it reads the result in small Arrow batches and stops at either limit;
- a timer that interrupts the query, and its parent, which kills it if that does not end it;
- its spill folder, a private one the parent made and removes (DuckDB's default is beside the warehouse);
- its stdin: when the parent goes away (killed, say), the worker exits instead of running on.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa

from warehouse import address, db
from warehouse import lake as lake_sessions
from warehouse.address import LakeAddress
from warehouse.sandbox_guard import (
    NO_ATTACH,
    NO_EXTENSIONS,
    NO_FILES,
    NO_SETTINGS,
    READ_ONLY,
    Refused,
    check,
    one_line,
)
from warehouse.sandbox_guard import redacted as redact

# DuckDB's settings for every ad-hoc connection (the analyst's too, through warehouse.sandbox.connect).
# lock_configuration is not in here: it is SET after TimeZone, because TimeZone cannot be given at connect
# time (DuckDB rejects it as unrecognised before ICU registers it) and nothing can be SET after.
SANDBOX_CONFIG: dict[str, str | int | bool] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": "1GB",
    "threads": 2,
}
# Rows per Arrow batch read from DuckDB: small, so the byte limit cuts close to where it is reached.
BATCH_ROWS = 256

# Errors the connection fences raise, for statements the allow-list let through (read_csv in a SELECT, ...).
_FENCE_MESSAGES = [
    ("file system operations are disabled", NO_FILES),
    ("loading external extensions is disabled", NO_EXTENSIONS),
    ("configuration has been locked", NO_SETTINGS),
    ("attached in read-only mode", READ_ONLY),
    ("attaching postgres databases is disabled", NO_ATTACH),
]


def main() -> None:
    """Read the request, answer it, exit without DuckDB's teardown (the parent removes the spill folder)."""
    request = json.loads(sys.stdin.readline())
    limit = int(request["address_space"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    # Held until the process ends: the folder is in use (warehouse.sandbox sweeps only unlocked ones).
    lock = open(os.path.join(request["temp_dir"], ".lock"), "rb")  # noqa: SIM115 -- held to the end
    fcntl.flock(lock, fcntl.LOCK_SH)
    # The answer goes to the pipe stdout was; whatever else writes to stdout (DuckDB's progress bar, say)
    # goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    secrets = _secrets(request)
    try:
        header, table = answer(request)
    except Refused as exc:
        header, table = {"error": redact(str(exc), secrets)}, None
    except MemoryError:
        header, table = {"error": "memory", "detail": ""}, None
    except Exception as exc:  # the parent shows one line whatever happened here
        header, table = {"error": redact(one_line(f"{type(exc).__name__}: {exc}"), secrets)}, None
    _send(out, header, table)
    out.flush()
    os._exit(0)


def _secrets(request: dict[str, Any]) -> list[str]:
    """What a message must never show: the warehouse's paths, the lake's address and data path."""
    found = [str(request["temp_dir"]), os.getcwd()]
    if "lake" in request:
        lake = str(request["lake"])
        return [*found, lake, lake.split(":", 2)[-1], str(request["data_path"])]
    path = Path(request["path"])
    return [*found, str(path), str(path.resolve()), str(path.resolve().parent)]


def _exit_with_parent() -> None:
    sys.stdin.read()  # returns at EOF: the parent closed the pipe or is gone
    os._exit(3)


def answer(request: dict[str, Any]) -> tuple[dict[str, Any], pa.Table | None]:
    temp_dir = request["temp_dir"]
    secrets = _secrets(request)
    if "lake" in request:
        where = address.parse(str(request["lake"]), str(request["data_path"]))
        if not isinstance(where, LakeAddress):
            raise Refused("not a lake address")
        con = open_fenced_lake(where, temp_dir, str(request["memory_limit"]))
    else:
        db.LOCK_WAIT_SECONDS = float(request["lock_wait"])
        con = open_fenced(Path(request["path"]), temp_dir, str(request["memory_limit"]))
    check(con, request["sql"])
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        con.interrupt()

    timer = threading.Timer(float(request["timeout"]), stop)
    timer.start()
    try:
        relation = con.sql(request["sql"])
        if relation is None:  # nothing to show (the allow-list lets no such statement through)
            return {"rows": 0, "cut": None}, pa.table({})
        # to_arrow_reader is DuckDB 2's name; 1.4 (the lake's) has only fetch_arrow_reader, deprecated in 2.
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        batches = reader(BATCH_ROWS)
        table, cut = capped(batches, batches.schema, int(request["max_rows"]), int(request["max_bytes"]))
    except duckdb.InterruptException:
        if timed_out.is_set():
            return {"error": "timeout"}, None
        return {"error": "query interrupted"}, None
    except duckdb.OutOfMemoryException as exc:
        return {"error": "memory", "detail": redact(one_line(str(exc)), secrets)}, None
    except duckdb.Error as exc:
        return {"error": redact(fence_message(exc), secrets)}, None
    except (OSError, pa.ArrowException) as exc:  # pyarrow's buffers, when the address space runs out
        if "out of memory" not in str(exc).lower():
            raise
        return {"error": "memory", "detail": redact(one_line(str(exc)), secrets)}, None
    finally:
        timer.cancel()
    return {"rows": table.num_rows, "cut": cut}, table


def _config(temp_dir: str, memory_limit: str) -> dict[str, str | int | bool]:
    return {
        **SANDBOX_CONFIG,
        "memory_limit": memory_limit,
        "temp_directory": temp_dir,
        "max_temp_directory_size": "2GB",
        "secret_directory": os.path.join(temp_dir, "secrets"),
    }


def open_fenced(path: Path, temp_dir: str, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """The fenced read-only connection, spilling into `temp_dir`, its session UTC and then locked."""
    try:
        con = db.open_waiting(path, read_only=True, config=_config(temp_dir, memory_limit))
    except db.WarehouseError as exc:
        raise Refused(one_line(str(exc))) from exc
    return _locked(con, temp_dir)


def open_fenced_lake(lake: LakeAddress, temp_dir: str, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only in a private in-memory DuckDB (warehouse/lake.py), then fenced like a
    file: external access, needed to load the lake's extensions and attach its catalog, goes off before any
    query with only the data path allowed, so a query reaches the lake's tables and nothing else (no other
    file, no new PostgreSQL connection, no extension)."""
    config = {**_config(temp_dir, memory_limit), "enable_external_access": True}
    try:
        con = lake_sessions.connect(lake, read_only=True, config=config)
    except db.WarehouseError as exc:
        raise Refused(one_line(str(exc))) from exc
    try:
        if "://" not in lake.data_path:
            con.execute(f"set allowed_directories = [{_literal(lake.data_path)}]")
        else:
            con.execute(f"set allowed_paths = [{_literal(lake.data_path)}]")
        con.execute("set enable_external_access = false")
        return _locked(con, temp_dir)
    except BaseException:
        con.close()
        raise


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _locked(con: duckdb.DuckDBPyConnection, temp_dir: str) -> duckdb.DuckDBPyConnection:
    # home_directory is SET, not given at connect time: DuckDB 1.4 refuses it as a global option there.
    con.execute(f"set home_directory = {_literal(temp_dir)}")
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")  # it would print on stdout (sent to stderr anyway)
    con.execute("set lock_configuration = true")
    return con


def capped(
    batches: Iterable[pa.RecordBatch], schema: pa.Schema, max_rows: int, max_bytes: int
) -> tuple[pa.Table, str | None]:
    """The first batches up to `max_rows` rows and `max_bytes` bytes; the limit that cut them, if any."""
    kept: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        cut = None
        if rows + batch.num_rows > max_rows:
            batch, cut = batch.slice(0, max_rows - rows), "rows"
        if size + batch.nbytes > max_bytes:
            batch, cut = batch.slice(0, _fitting(batch, max_bytes - size)), "bytes"
        kept.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if cut:
            return pa.Table.from_batches(kept, schema), cut
    return pa.Table.from_batches(kept, schema), None


def _fitting(batch: pa.RecordBatch, budget: int) -> int:
    """The most leading rows of `batch` whose data fits in `budget` bytes."""
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def fence_message(exc: duckdb.Error) -> str:
    text = str(exc)
    for needle, message in _FENCE_MESSAGES:
        if needle in text.lower():
            return message
    return one_line(text)


def _send(out: BinaryIO, header: dict[str, Any], table: pa.Table | None) -> None:
    out.write(json.dumps(header).encode() + b"\n")
    if table is not None:
        with pa.ipc.new_stream(out, table.schema) as writer:
            writer.write_table(table)


if __name__ == "__main__":
    main()
