"""Idempotent loads into the core tables: CSV bundles (validated inside DuckDB) and typed frames.

Every load stages its rows, checks them set-wise, then replaces rows by key in one transaction:
a bad load changes nothing, and loading the same rows twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from warehouse.bundle import (
    BundleError,
    oversized,
    physical_line,
    present_files,
    read_header,
    undecodable,
)
from warehouse.db import Where, get_meta, one, read_sql, retrying, scalar, set_meta, transaction, write
from warehouse.schema import (
    DEPLOYMENT_STATUSES,
    LIST_KINDS,
    RUN_STATUSES,
    TABLE_BY_NAME,
    TABLES,
    Column,
    Table,
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(column: Column, header: list[str] | None = None) -> str:
    """The expression turning a staged text cell into its core type, named after the column."""
    if header is not None and column.name not in header:
        absent = "[]::varchar[]" if column.kind in LIST_KINDS else "null::varchar"
        return f"{absent} as {_q(column.name)}"
    return f"{_expr(column)} as {_q(column.name)}"


# Per column kind (warehouse/schema.py): the expression turning a staged text cell {x} into its core
# type, and the check naming what is wrong with a cell (the macros of sql/load/macros.sql).
KINDS: dict[str, tuple[str, str | None]] = {
    "text": ("cell({x})", None),
    "raw": ("{x}", None),  # kept exactly: "" (quoted) is an empty text, an empty cell null
    "lower": ("lower(cell({x}))", None),
    "ts": ("to_utc({x})", "ts_problem({x})"),
    "sha": ("lower(cell({x}))", "sha_problem({x})"),
    "shas": ("sha_list({x})", "shas_problem({x})"),
    "labels": ("label_list({x})", None),
    "int": ("try_cast(cell({x}) as bigint)", "int_problem({x})"),
    "status": ("lower(cell({x}))", "status_problem({x}, " + repr(list(DEPLOYMENT_STATUSES)) + ")"),
    "run_status": ("lower(cell({x}))", "status_problem({x}, " + repr(list(RUN_STATUSES)) + ")"),
}


def _expr(column: Column) -> str:
    return KINDS[column.kind][0].format(x=_q(column.name))


def _cell_problem(column: Column) -> str | None:
    problem = KINDS[column.kind][1]
    return problem.format(x=_q(column.name)) if problem else None


# Checks of one column of one file beyond its kind's (macros of sql/load/macros.sql).
COLUMN_CHECKS: dict[tuple[str, str], str] = {
    ("commit_files", "path"): "path_problem({x}, 'path')",
    ("services", "paths"): "paths_problem({x})",
}

SEP = "\x1f"  # between the parts of a tagged problem: no cell text is split by it


def _row_problems(table: Table, header: list[str]) -> list[tuple[int, str, str]]:
    """(column position, column, message expression: null when the cell is fine) for each row check."""
    present = [c for c in table.columns if c.name in header]
    position = {c.name: pos for pos, c in enumerate(present)}
    checks = []
    for pos, column in enumerate(present):
        x = _q(column.name)
        if table.is_required(column):
            checks.append((pos, column.name, f"case when cell({x}) is null then 'empty required cell' end"))
        problem = _cell_problem(column)
        if problem:
            checks.append((pos, column.name, problem))
    if "service" in position and table.name != "services":
        checks.append(
            (
                position["service"],
                "service",
                "case when cell(service) not in (select service from _known_services) then 'unknown service '"
                " || cell(service) || ' (not in services.csv nor in the warehouse)' end",
            )
        )
    for (table_name, name), check in COLUMN_CHECKS.items():
        if table.name == table_name and name in position:
            checks.append((position[name], name, check.format(x=_q(name))))
    if table.name == "incidents" and "resolved_at" in position:
        checks.append(
            (
                position["resolved_at"],
                "resolved_at",
                "case when try_cast(cell(resolved_at) as timestamptz)"
                " < try_cast(cell(created_at) as timestamptz) then 'resolved before it was created' end",
            )
        )
    return sorted(checks)


def _first_problem(con: duckdb.DuckDBPyConnection, table: Table, header: list[str], stage: str):
    """The first bad cell of a staged file as (row, column, message, earlier row or None).

    One pass over the rows: each row's problems are tagged and coalesced in column order, so a file of
    millions of rows is read once, not once per check. Duplicate keys take a hash aggregate.
    """
    tagged = ", ".join(
        f"'{pos}{SEP}{name}{SEP}' || ({expr})" for pos, name, expr in _row_problems(table, header)
    )
    found = []
    row = one(
        con, f"select rowid, coalesce({tagged}) as p from {stage} where p is not null order by rowid limit 1"
    )
    if row:
        _, column, message = row[1].split(SEP, 2)
        found.append((row[0], column, message, None))
    key = ", ".join(_expr(table.column(k)) for k in table.key)
    duplicate = one(con, f"select {key} from {stage} group by all having count(*) > 1 limit 1")
    if duplicate:
        match = " and ".join(f"{_expr(table.column(k))} is not distinct from ?" for k in table.key)
        first, second = (
            r[0]
            for r in con.execute(
                f"select rowid from {stage} where {match} order by rowid limit 2", list(duplicate)
            ).fetchall()
        )
        label = ", ".join("" if v is None else str(v) for v in duplicate)
        found.append((second, table.key[0], f"duplicate key ({label})", first))
    return min(found, key=lambda f: f[0]) if found else None


# The longest row of a bundle file DuckDB reads: the buffer it needs grows with it, so a file is read with
# DuckDB's own default first, and with a larger one only when a row needs it (a 3 MB commit message).
FIRST_LINE_BYTES = 2_000_000
MAX_LINE_BYTES = 1 << 30
TOO_LONG = re.compile(r"Maximum line size of \d+ bytes exceeded\. Actual Size:\s*(\d+)")


def _stage_csv(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> tuple[str, list[str]]:
    header = read_header(path, table)
    stage = f"_stage_{table.name}"
    columns = {name: "VARCHAR" for name in header}
    limit = min(FIRST_LINE_BYTES, MAX_LINE_BYTES)
    while True:
        try:
            # allow_quoted_nulls = false: "" is an empty text (a message), an empty cell is null.
            con.execute(
                f"create or replace temp table {stage} as select * from read_csv(?, columns = ?,"
                " header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"',"
                f" strict_mode = true, allow_quoted_nulls = false, max_line_size = {limit})",
                [str(path), columns],
            )
            return stage, header
        except duckdb.Error as exc:
            longer = TOO_LONG.search(str(exc))
            if not (longer and limit < MAX_LINE_BYTES):
                raise _csv_error(path, header, str(exc), limit) from exc
            limit = min(MAX_LINE_BYTES, max(2 * int(longer.group(1)), 8 * limit))


def _csv_error(path: Path, header: list[str], message: str, limit: int) -> BundleError:
    """What DuckDB could not read, located at its physical line (DuckDB counts records) and explained."""
    found = None
    if "Invalid unicode" in message:
        found = undecodable(path, header)
    elif TOO_LONG.search(message):
        found = oversized(path, header, limit, _bytes(limit))
    if found:
        return found
    lines = message.strip().splitlines()
    record = re.search(r"[Ll]ine:? (\d+)", lines[0])
    line = physical_line(path, int(record.group(1)) - 2) if record and int(record.group(1)) > 1 else 1
    reasons = [
        x.strip()
        for x in lines[1:]
        if x.strip() and not x.startswith(("Original Line", "Possible", "*", "  "))
    ]
    why = reasons[0] if reasons else lines[0]
    return BundleError(path.name, line, None, f"not a valid CSV file: {why}")


def _bytes(n: int) -> str:
    if n >= 1 << 30 and n % (1 << 30) == 0:
        return f"{n >> 30} GiB"
    return f"{n:,} bytes"


def import_bundle(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, int]:
    """Validate every file of the bundle, then load them all in one transaction. Returns rows per table."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(str(folder), 0, None, "not a folder")
    files = present_files(folder)
    if not files:
        names = ", ".join(t.file for t in TABLES)
        raise BundleError(str(folder), 0, None, f"no bundle files here (expected any of {names})")
    con.execute(read_sql("load/macros.sql"))
    con.execute("create or replace temp table _known_services as select service from core.services")
    staged: list[tuple[Table, str, list[str]]] = []
    for table, path in files:
        stage, header = _stage_csv(con, table, path)
        bad = _first_problem(con, table, header, stage)
        if bad:
            row, column, message, earlier = bad
            if earlier is not None:
                message += f" already on line {physical_line(path, earlier)}"
            raise BundleError(path.name, physical_line(path, row), column, message)
        if table.name == "services":
            con.execute(f"insert into _known_services select cell(service) from {stage}")
        staged.append((table, stage, header))

    counts = {}
    with transaction(con):
        for table, stage, header in staged:
            select = ", ".join(_typed(c, header) for c in table.columns)
            counts[table.name] = upsert(con, table.name, f"(select {select} from {stage})")
        record_run(con, "bundle", str(folder.resolve()), sum(counts.values()))
    return counts


def import_into(
    where: Where, folder: str | Path, then: Callable[[duckdb.DuckDBPyConnection], object] | None = None
) -> dict[str, int]:
    """`import_bundle` in a write of its own (with `then(con)`, the transform, in the same write): on a
    lake, run again whole when another writer's commit conflicts with it. Returns rows per table."""

    def attempt() -> dict[str, int]:
        with write(where) as con:
            counts = import_bundle(con, folder)
            if then is not None:
                then(con)
            return counts

    return retrying(attempt, f"importing {folder}")


def upsert(con: duckdb.DuckDBPyConnection, table_name: str, source: str) -> int:
    """Replace the rows of core.<table> whose key is in `source` (a table, or a query in parentheses),
    then insert `source` under a new load id. Returns the rows inserted."""
    table = TABLE_BY_NAME[table_name]
    match = " and ".join(f"t.{_q(k)} = s.{_q(k)}" for k in table.key)
    load_id = next_load_id(con)
    con.execute(f"delete from core.{table.name} as t using {source} as s where {match}")
    insert = f"insert into core.{table.name} by name select *, {load_id} as _load_id from {source}"
    return int(scalar(con, insert))


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    """A new, increasing id for the rows a load writes: `dora transform` works on the rows written since
    the last load id it saw (warehouse/transform.py). The counter is a row of main._doralytics advanced in
    the load's transaction: in a lake, two writers taking one at once conflict and one runs again, so the
    ids follow the order of the commits (a transform never misses a load committed after it ran)."""
    load_id = last_load_id(con) + 1
    set_meta(con, "load_id", str(load_id))
    return load_id


def last_load_id(con: duckdb.DuckDBPyConnection) -> int:
    """The newest load id handed out so far (0 before any load)."""
    return int(get_meta(con, "load_id") or 0)


# What a bundle can say, collectors' rows are made to say too, so that an exported warehouse imports back
# to the same rows: text trimmed (empty = null), lists of trimmed, non-empty items.
_NORMALISE = {
    "text": "nullif(trim({x}), '')",
    "lower": "lower(nullif(trim({x}), ''))",
    "sha": "lower(nullif(trim({x}), ''))",
    "shas": "list_transform({x}, lambda s: lower(s))",
    # a frame without the list (all missing: pandas types it as a float column) holds empty lists
    "labels": "list_filter(list_transform(coalesce(try_cast({x} as varchar[]), []::varchar[]),"
    " lambda s: trim(s)), lambda s: s <> '')",
    "status": "lower({x})",
    "run_status": "lower({x})",
}


def load_frames(
    con: duckdb.DuckDBPyConnection, frames: dict[str, Any], source: str, scope: str
) -> dict[str, int]:
    """Load typed frames (pandas or Arrow, named like the core tables) in one transaction.

    For collectors and the demo generator: the rows are typed already, so only the normalisation of
    the bundle format (trimmed text, lowercased shas and environments) and the key check are applied.
    """
    counts = {}
    with transaction(con):
        for table in TABLES:
            frame = frames.get(table.name)
            if frame is None:
                continue
            con.register("_frame", frame)
            select = ", ".join(
                _NORMALISE.get(c.kind, "{x}").format(x=_q(c.name)) + f" as {_q(c.name)}"
                for c in table.columns
            )
            con.execute(f"create or replace temp table _typed_{table.name} as select {select} from _frame")
            con.unregister("_frame")
            key = ", ".join(_q(k) for k in table.key)
            dup = one(con, f"select {key} from _typed_{table.name} group by all having count(*) > 1 limit 1")
            if dup:
                raise ValueError(f"{source}: duplicate key {dup} in {table.name}")
            counts[table.name] = upsert(con, table.name, f"_typed_{table.name}")
        record_run(con, source, scope, sum(counts.values()))
    return counts


def record_run(con: duckdb.DuckDBPyConnection, source: str, scope: str, rows: int) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("insert into raw.sync_runs values (?, ?, ?, ?, ?, 'ok')", [source, scope, now, now, rows])


def _exported(column: Column) -> str:
    x = _q(column.name)
    if column.kind == "ts":
        return f"strftime({x}, '%Y-%m-%dT%H:%M:%S.%fZ') as {x}"
    if column.kind == "shas":
        return f"array_to_string({x}, ' ') as {x}"
    if column.kind == "labels":
        return f"array_to_string({x}, ';') as {x}"
    return x


def export_bundle(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, int]:
    """Write every core table as a bundle file that `import_bundle` reads back to the same rows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in TABLES:
        select = ", ".join(_exported(c) for c in table.columns)
        order = ", ".join(_q(k) for k in table.key)
        target = folder / table.file
        con.execute(
            f"copy (select {select} from core.{table.name} order by {order}) to '{_escape(target)}'"
            " (header, delimiter ',')"
        )
        counts[table.name] = int(scalar(con, f"select count(*) from core.{table.name}"))
    return counts


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")
