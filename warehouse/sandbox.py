"""Read-only ad-hoc SQL for `dora sql` and the dashboard's SQL page: one query, bounded, no files, no paths.

Three fences, each enough alone for what it guards:

- the statement check (warehouse/sandbox_guard.py): one query of a reading kind, no table function or
  system view that reads files, runs other statements or shows the server's paths and settings;
- the connection: read-only, external access disabled, configuration locked; on a lake, an in-memory DuckDB
  that attached the lake read-only (its catalog and its data path are all it can reach) before external
  access went off, and the statement check refuses the lake's own functions (postgres_query, snapshots(),
  ducklake_*) and its catalog database;
- the process (warehouse/sandbox_worker.py): every query runs in a process of its own whose address space,
  time, result rows and bytes are limited, spilling into a private temporary folder that is removed after the
  query (and, should a query have been killed, before the next one). A query that would need more memory
  stops with a one-line error instead of taking the dashboard or the server down with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse import address, db, sandbox_guard, sandbox_worker
from warehouse.address import Address, LakeAddress
from warehouse.db import WarehouseError
from warehouse.sandbox_guard import (
    NO_ATTACH,
    NO_CATALOG,
    NO_EXTENSIONS,
    NO_FILES,
    NO_SERVER,
    NO_SETTINGS,
    ONE_QUERY,
    READ_ONLY,
    Refused,
)
from warehouse.sandbox_worker import SANDBOX_CONFIG

__all__ = [
    "NO_ATTACH",
    "NO_CATALOG",
    "NO_EXTENSIONS",
    "NO_FILES",
    "NO_SERVER",
    "NO_SETTINGS",
    "ONE_QUERY",
    "READ_ONLY",
    "SANDBOX_CONFIG",
    "SandboxError",
    "check",
    "connect",
    "run_query",
    "schema_listing",
]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_ROWS = 100_000
MB = 2**20
DEFAULT_MAX_BYTES = 64 * MB
# The most a caller may ask for: the result is held whole in the asking process (the dashboard's, say).
MOST_ROWS = 10_000_000
MOST_BYTES = 1024 * MB
# The query process's address space: DuckDB's 1 GB buffer pool, the result, and the interpreter's own
# reservations (about 2 GB of address space before any query).
ADDRESS_SPACE = int(os.environ.get("DORA_SQL_ADDRESS_SPACE_MB", "4096")) * MB
# DuckDB's buffer pool in the query process: beyond it, DuckDB spills into the query's private folder.
QUERY_MEMORY = "1GB"
# How long the query process may take beyond the query's own limit: to start, and to wait for a writer.
_GRACE_SECONDS = 10.0
# A query folder this old whose lock nobody holds is left over by a query that was killed.
STALE_SECONDS = 10.0
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from warehouse.sandbox_worker import main; main()"
_ROOT = Path(__file__).resolve().parent.parent

_setup_lock = threading.Lock()


class SandboxError(WarehouseError):
    """A query `dora sql` refuses or that failed; the message is one line meant for the user."""


def connect(path: str | os.PathLike | Address | None) -> duckdb.DuckDBPyConnection:
    """A fenced read-only connection in this process (the schema listing, the analyst's engine); waits
    briefly for a writer's lock like every reader does. Ad-hoc queries go through run_query instead."""
    where = _address(path)
    if isinstance(where, LakeAddress):
        try:
            return sandbox_worker.open_fenced_lake(
                LakeAddress(where.catalog, _data_path(where)), str(spill_root()), QUERY_MEMORY
            )
        except Refused as exc:
            raise SandboxError(str(exc)) from exc
    p = where.path
    # Opening a missing file read-only fails anyway; creating one here would hide a mistyped --warehouse.
    if not p.exists():
        raise SandboxError(f"no warehouse at {p}: import or collect some data first")
    try:
        # db.open_waiting waits out another process's write lock and this process's own connections with
        # other settings (DuckDB keeps one instance per file and process).
        con = db.open_waiting(p, read_only=True, config=dict(SANDBOX_CONFIG))
    except WarehouseError as exc:
        raise SandboxError(sandbox_guard.one_line(str(exc))) from exc
    # Connections with the same config share that instance, so only the first one sets it up: the same
    # session as db.read (UTC, so now() compares with the UTC timestamps), then nothing can be changed.
    with _setup_lock:
        # fetchall, not fetchone: an unfinished result would block the caller's next con.sql().
        if not con.execute("select current_setting('lock_configuration')").fetchall()[0][0]:
            con.execute("set global TimeZone = 'UTC'")
            con.execute("set lock_configuration = true")
    return con


def check(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single query, with a message naming what is not allowed."""
    try:
        sandbox_guard.check(con, sql)
    except Refused as exc:
        raise SandboxError(str(exc)) from exc


def run_query(
    path: str | os.PathLike | Address | None,
    sql: str,
    timeout_seconds: float | None = None,
    max_rows: int | None = None,
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Run one read-only query in a process of its own; None takes the default of each limit.

    A result cut at `max_rows` rows or `max_bytes` bytes of data has df.attrs["truncated"] set and says so
    in df.attrs["note"] ("result cut at ..."); every refusal and failure is a one-line SandboxError.
    """
    timeout = time_limit(timeout_seconds)
    rows = _limit("the row limit", max_rows, DEFAULT_MAX_ROWS, MOST_ROWS)
    size = _limit("the byte limit", max_bytes, DEFAULT_MAX_BYTES, MOST_BYTES)
    where = _address(path)
    target: dict[str, str]
    if isinstance(where, LakeAddress):
        target = {"lake": str(where), "data_path": _data_path(where)}
    else:
        if not where.path.exists():
            raise SandboxError(f"no warehouse at {where.path}: import or collect some data first")
        target = {"path": str(where.path.absolute())}
    # Refusals are found here at once; the query's process checks again before it runs anything.
    scratch = duckdb.connect()
    try:
        check(scratch, sql)
    finally:
        scratch.close()
    request = {
        **target,
        "sql": sql,
        "timeout": timeout,
        "max_rows": rows,
        "max_bytes": size,
        "address_space": ADDRESS_SPACE,
        "memory_limit": QUERY_MEMORY,
        "lock_wait": db.LOCK_WAIT_SECONDS,
    }
    with query_folder() as folder:
        header, table = _ask(request, folder, deadline=db.LOCK_WAIT_SECONDS + timeout + _GRACE_SECONDS)
    if "error" in header or table is None:
        raise SandboxError(_error(header, timeout))
    df = _frame(table)
    cut = header.get("cut")
    df.attrs["truncated"] = cut is not None
    df.attrs["note"] = None
    if cut == "rows":
        df.attrs["note"] = f"result cut at {len(df):,} rows (at most {rows:,} rows)"
    elif cut == "bytes":
        df.attrs["note"] = f"result cut at {len(df):,} rows (at most {_bytes(size)} of data)"
    return df


def _address(path: str | os.PathLike | Address | None) -> Address:
    try:
        return address.parse(path)
    except WarehouseError as exc:
        raise SandboxError(sandbox_guard.one_line(str(exc))) from exc


def _data_path(lake: LakeAddress) -> str:
    """The lake's data path as the query's process (whose working folder is its own) must name it."""
    if "://" in lake.data_path:
        return lake.data_path
    return os.path.abspath(lake.data_path)


def postgres_environment() -> dict[str, str]:
    """What libpq reads in the query's process to reach the lake's catalog: the PG* variables (the password
    too, which no query can read: no file, no environment, no setting shows it), and the password and
    service files of this user's home, which the query's process (its home its own folder) would not find."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PG")}
    home = Path.home()
    for name, default in (("PGPASSFILE", ".pgpass"), ("PGSERVICEFILE", ".pg_service.conf")):
        if name not in env and (home / default).is_file():
            env[name] = str(home / default)
    return env


def time_limit(seconds: float | None) -> float:
    """The query's time limit: the default for None, else a positive, finite number of seconds."""
    if seconds is None:
        return DEFAULT_TIMEOUT
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise SandboxError(f"the time limit must be a positive number of seconds, got {seconds!r}")
    if seconds <= 0:
        raise SandboxError(f"the time limit must be a positive number of seconds, got {seconds:g}")
    return float(seconds)


def _limit(what: str, value: int | None, default: int, most: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise SandboxError(f"{what} must be a whole number from 1 to {most:,}, got {value!r}")
    return value


def _bytes(size: int) -> str:
    return f"{size // MB:,} MB" if size % MB == 0 else f"{size:,} bytes"


def _error(header: dict[str, Any], timeout: float) -> str:
    if header["error"] == "timeout":
        return f"query interrupted after {timeout:g} s"
    if header["error"] == "memory":
        detail = header.get("detail") or ""
        return (
            f"query stopped: it needs more memory than an ad-hoc query may use ({_bytes(ADDRESS_SPACE)} in "
            f"all, {QUERY_MEMORY} of it for DuckDB's buffers)" + (f": {detail}" if detail else "")
        )
    return str(header["error"])


def _frame(table: pa.Table) -> pd.DataFrame:
    """The result as DuckDB itself turns it into pandas (DECIMAL as float, DATE as datetime64, ...), but
    text columns as pyarrow turns them: into pandas' Arrow-backed strings, without a copy."""
    text = [
        i
        for i, f in enumerate(table.schema)
        if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]
    others = [i for i in range(table.num_columns) if i not in text]
    columns: dict[int, pd.Series] = {i: table.column(i).to_pandas() for i in text}
    if others:
        converted = _duckdb_frame(table.select(others))
        columns.update({i: converted.iloc[:, n] for n, i in enumerate(others)})
    if not columns:
        return pd.DataFrame(index=range(table.num_rows))
    df = pd.concat([columns[i].reset_index(drop=True) for i in range(table.num_columns)], axis=1)
    df.columns = pd.Index(table.schema.names)
    return df


def _duckdb_frame(table: pa.Table) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.from_arrow(table).df()
    except duckdb.Error:
        pass  # a type DuckDB does not turn into pandas (UHUGEINT, say): pyarrow may
    finally:
        con.close()
    try:
        return table.to_pandas()
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise SandboxError(f"cannot show the result: {sandbox_guard.one_line(str(exc))}") from exc


def _ask(request: dict[str, Any], folder: Path, deadline: float) -> tuple[dict[str, Any], pa.Table | None]:
    """Start the query's process in `folder`, send it the request, read its answer; kill it at `deadline`."""
    request = {**request, "temp_dir": str(folder)}
    # Nothing of this process's environment (tokens, DORA_* settings) reaches the query's process.
    env = {"PATH": os.defpath, "LC_ALL": "C.UTF-8", "HOME": str(folder), "TMPDIR": str(folder)}
    if "lake" in request:
        env.update(postgres_environment())
    with open(folder / "stderr.txt", "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOT, str(_ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=folder,
            start_new_session=True,  # a Ctrl-C reaches this process, which stops the query's
        )
    assert proc.stdin is not None and proc.stdout is not None
    stdout = proc.stdout
    answer: dict[str, Any] = {}

    def read() -> None:
        # The header line, then the result straight from the pipe into Arrow buffers (no copy of it all).
        try:
            answer["header"] = json.loads(stdout.readline(MB))
            if "error" not in answer["header"]:
                answer["table"] = pa.ipc.open_stream(stdout).read_all()
        except (ValueError, OSError, pa.ArrowException):
            answer.pop("header", None)  # no answer: the process died

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        with contextlib.suppress(BrokenPipeError):  # it died at once: what it said tells why
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        reader.join(deadline)
        if reader.is_alive():
            return {"error": "timeout"}, None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_GRACE_SECONDS)  # it exits by itself once it has answered
    finally:
        proc.kill()
        with contextlib.suppress(OSError):
            proc.stdin.close()
        proc.wait()
        reader.join(_GRACE_SECONDS)
        stdout.close()
    if "header" in answer:
        return answer["header"], answer.get("table")
    if proc.returncode < 0:
        # Killed by a signal without a word: what a query that runs out of address space can end in.
        return {"error": "memory", "detail": ""}, None
    return {"error": f"the query's process failed (exit status {proc.returncode})"}, None


def spill_root() -> Path:
    """The private folder (0700, this user's) in the system's temporary folder that queries spill into."""
    root = Path(tempfile.gettempdir()) / f"doralytics-sql-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SandboxError(
            f"the temporary folder for queries ({root.name} in the system's temporary folder) is not "
            "private to this user: remove it"
        )
    return root


def sweep(root: Path) -> int:
    """Remove the folders of queries that are over (killed, say); returns how many were removed."""
    removed = 0
    for folder in root.glob("q-*"):
        try:
            if time.time() - folder.stat().st_mtime < STALE_SECONDS:
                continue  # maybe just made, its lock not yet taken
            with open(folder / ".lock", "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a query is running in it
        except FileNotFoundError:
            pass  # no lock: not a folder a query can still be using
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


@contextlib.contextmanager
def query_folder() -> Iterator[Path]:
    """A fresh private folder for one query (locked while it runs), removed afterwards."""
    root = spill_root()
    sweep(root)
    folder = Path(tempfile.mkdtemp(prefix="q-", dir=root))
    try:
        with open(folder / ".lock", "wb") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH)
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def schema_listing(path: str | os.PathLike | Address | None) -> pd.DataFrame:
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
