"""Idempotent loads into the core tables: CSV bundles (validated inside DuckDB) and typed frames.

Every load stages its rows, checks them set-wise, then replaces rows by key in one transaction:
a bad load changes nothing, and loading the same rows twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
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
from warehouse.db import (
    Where,
    get_meta,
    in_block,
    one,
    read_sql,
    retrying,
    scalar,
    set_meta,
    transaction,
    write,
)
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


@dataclass(frozen=True)
class Check:
    """What is wrong with a staged text cell `{x}`, whose typed value is `{t}`: `message` is null when the
    cell is fine (the macros of sql/load/macros.sql). `guard` is a cheap test that holds for every cell
    the message could find wrong, so the message's full work is done for those cells only and a file of
    millions of good rows costs little more than its typing (None: the message is that cheap itself)."""

    message: str
    guard: str | None = None

    def sql(self, column: str) -> str:
        message = _fill(self.message, column)
        return message if self.guard is None else f"case when {_fill(self.guard, column)} then {message} end"


@dataclass(frozen=True)
class Kind:
    """A column kind (warehouse/schema.py): `typed` turns a staged text cell `{x}` into its core type (null
    when it cannot, and then `check` says why)."""

    typed: str
    check: Check | None = None


def _status(allowed: tuple[str, ...]) -> Kind:
    return Kind(
        "lower(cell({x}))",
        Check(f"status_problem({{x}}, {list(allowed)!r})", f"not list_contains({list(allowed)!r}, {{t}})"),
    )


# An ISO 8601 timestamp in UTC (Z), as the collectors and `dora export` write it: the common case.
ISO_Z = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?[Zz]"
KINDS: dict[str, Kind] = {
    "text": Kind("cell({x})"),
    "raw": Kind("{x}"),  # kept exactly: "" (quoted) is an empty text, an empty cell null
    "lower": Kind("lower(cell({x}))"),
    # the connection runs with TimeZone UTC, so the cast to timestamp gives UTC wall time. A cell ending
    # in Z, the common case, is cast as a timestamp straight away (5x cheaper than through timestamptz):
    # on every cell the check accepts, both casts give the same time (tests/warehouse/test_load_guards.py)
    "ts": Kind(
        "coalesce(case when suffix({x}, 'Z') then try_cast({x} as timestamp) end,"
        " cast(try_cast(cell({x}) as timestamptz) as timestamp))",
        Check(
            "ts_problem({x})",
            f"{{x}} is not null and ({{t}} is null or not regexp_full_match({{x}}, '{ISO_Z}'))",
        ),
    ),
    "sha": Kind(
        "lower(cell({x}))", Check("sha_problem({x})", "not regexp_full_match({t}, '[0-9a-f]{7,64}')")
    ),
    # good: shas of 7 to 64 hexadecimal digits between spaces
    "shas": Kind(
        "sha_list({x})",
        Check(
            "shas_problem({x})",
            "not regexp_full_match(coalesce({x}, ''), ' *([0-9a-fA-F]{7,64} +)*([0-9a-fA-F]{7,64})? *')",
        ),
    ),
    "labels": Kind("label_list({x})"),
    "int": Kind(
        "try_cast(cell({x}) as bigint)", Check("int_problem({x})", "{t} is null and {x} is not null")
    ),
    "status": _status(DEPLOYMENT_STATUSES),
    "run_status": _status(RUN_STATUSES),
}
# Checks of one column of one file beyond its kind's (macros of sql/load/macros.sql).
COLUMN_CHECKS: dict[tuple[str, str], Check] = {
    # the guard: a leading, doubled or trailing '/', or a '.' or '..' segment
    ("commit_files", "path"): Check(
        "path_problem({x}, 'path')", r"regexp_matches({x}, '^/|//|/$|(^|/)\.\.?(/|$)')"
    ),
    ("services", "paths"): Check("paths_problem({x})"),
}
# A required cell: a typed value is null when its cell is empty (a raw one also when blank; a list never).
EMPTY = "case when cell({x}) is null then 'empty required cell' end"
KNOWN_SERVICE = Check(
    "case when {t} not in (select service from _known_services)"
    " then 'unknown service ' || {t} || ' (not in services.csv nor in the warehouse)' end"
)

SEP = "\x1f"  # between the parts of a tagged problem: no cell text is split by it


def _typed_name(column: str) -> str:
    """The name of a column's typed value beside its staged text (no table column has a space)."""
    return _q(f"typed {column}")


def _fill(template: str, column: str) -> str:
    return template.replace("{x}", _q(column)).replace("{t}", _typed_name(column))


def _row_problems(table: Table, header: list[str]) -> list[tuple[int, str, str]]:
    """(column position, column, message expression: null when the cell is fine) for each row check, over
    the staged text of a column and its typed value."""
    present = [c for c in table.columns if c.name in header]
    position = {c.name: pos for pos, c in enumerate(present)}
    checks = []
    for pos, column in enumerate(present):
        if table.is_required(column):
            guard = None if column.kind in ("raw", *LIST_KINDS) else "{t} is null"
            checks.append((pos, column.name, Check(EMPTY, guard).sql(column.name)))
        check = KINDS[column.kind].check
        if check:
            checks.append((pos, column.name, check.sql(column.name)))
    if "service" in position and table.name != "services":
        checks.append((position["service"], "service", KNOWN_SERVICE.sql("service")))
    for (table_name, name), check in COLUMN_CHECKS.items():
        if table.name == table_name and name in position:
            checks.append((position[name], name, check.sql(name)))
    if table.name == "incidents" and "resolved_at" in position:
        before = f"{_typed_name('resolved_at')} < {_typed_name('created_at')}"
        checks.append(
            (
                position["resolved_at"],
                "resolved_at",
                f"case when {before} then 'resolved before it was created' end",
            )
        )
    return sorted(checks, key=lambda check: check[0])  # column order; a column's checks as listed


def _typed_select(table: Table, header: list[str], source: str) -> str:
    """The rows of `source` (a file's text cells) typed as core.<table>, with `_problem`: each row's first
    bad cell, tagged (checks in column order), null for a good row. One pass over the rows."""
    present = [c for c in table.columns if c.name in header]
    typed = ", ".join(f"{_fill(KINDS[c.kind].typed, c.name)} as {_typed_name(c.name)}" for c in present)
    raw = ", ".join(_q(c.name) for c in present)
    columns = ", ".join(
        f"{_typed_name(c.name) if c.name in header else _absent(c)} as {_q(c.name)}" for c in table.columns
    )
    tagged = [f"'{pos}{SEP}{name}{SEP}' || ({expr})" for pos, name, expr in _row_problems(table, header)]
    problem = f"coalesce({', '.join(tagged)})" if tagged else "null::varchar"
    return f"select {columns}, {problem} as _problem from (select {raw}, {typed} from {source})"


def _absent(column: Column) -> str:
    return "[]::varchar[]" if column.kind in LIST_KINDS else "null::varchar"


def _first_problem(con: duckdb.DuckDBPyConnection, table: Table, stage: str):
    """The first bad cell of a staged file (`_stage_csv`) as (row, column, message, earlier row or None):
    its first tagged problem, or its first duplicate key (a hash aggregate). A row is its record's position
    in the file: its rowid less the first row's (in a transaction, such as a lake's write, a new table's
    rowids start far from 0)."""
    found = []
    first_rowid = int(scalar(con, f"select coalesce(min(rowid), 0) from {stage}"))
    row = one(con, f"select rowid, _problem from {stage} where _problem is not null order by rowid limit 1")
    if row:
        _, column, message = row[1].split(SEP, 2)
        found.append((row[0] - first_rowid, column, message, None))
    key = ", ".join(_q(k) for k in table.key)
    duplicate = one(con, f"select {key} from {stage} group by all having count(*) > 1 limit 1")
    if duplicate:
        match = " and ".join(f"{_q(k)} is not distinct from ?" for k in table.key)
        first, second = (
            r[0]
            for r in con.execute(
                f"select rowid from {stage} where {match} order by rowid limit 2", list(duplicate)
            ).fetchall()
        )
        label = ", ".join("" if v is None else str(v) for v in duplicate)
        found.append((second - first_rowid, table.key[0], f"duplicate key ({label})", first - first_rowid))
    return min(found, key=lambda f: f[0]) if found else None


# The longest row of a bundle file DuckDB reads: the buffer it needs grows with it, so a file is read with
# DuckDB's own default first, and with a larger one only when a row needs it (a 3 MB commit message).
FIRST_LINE_BYTES = 2_000_000
MAX_LINE_BYTES = 1 << 30
TOO_LONG = re.compile(r"Maximum line size of \d+ bytes exceeded\. Actual Size:\s*(\d+)")


def _csv_source(limit: int) -> str:
    """read_csv of a bundle file (parameters: its path, then its columns, all VARCHAR)."""
    # allow_quoted_nulls = false: "" is an empty text (a message), an empty cell is null.
    return (
        "read_csv(?, columns = ?, header = true, auto_detect = false, delim = ',', quote = '\"',"
        f" escape = '\"', strict_mode = true, allow_quoted_nulls = false, max_line_size = {limit})"
    )


def _stage_csv(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> str:
    """Read a bundle file into a temp table of typed rows with their problems (`_typed_select`), in the
    file's order (`_first_problem` tells a row's record from its rowid)."""
    header = read_header(path, table)
    stage = f"_stage_{table.name}"
    limit = min(FIRST_LINE_BYTES, MAX_LINE_BYTES)
    while True:
        try:
            con.execute(
                f"create or replace temp table {stage} as {_typed_select(table, header, _csv_source(limit))}",
                [str(path), dict.fromkeys(header, "VARCHAR")],
            )
            return stage
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
    """Validate every file of the bundle and load them all in one transaction: nothing of a bundle with a
    bad row is written. Returns rows per table."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(str(folder), 0, None, "not a folder")
    files = present_files(folder)
    if not files:
        names = ", ".join(t.file for t in TABLES)
        raise BundleError(str(folder), 0, None, f"no bundle files here (expected any of {names})")
    con.execute(read_sql("load/macros.sql"))
    # the services the files' rows may name: the warehouse's, then services.csv's (added as it loads)
    con.execute("create or replace temp table _known_services as select service from core.services")
    # A first load (every table it writes empty) goes from each file into its table in one pass. Not in
    # a lake's block, where a failed statement would end the whole block.
    if not in_block(con) and not any(one(con, f"select 1 from core.{t.name} limit 1") for t, _ in files):
        try:
            return _insert_all(con, folder, files)
        except (_Rejected, duckdb.Error):
            pass  # rolled back: the staged load finds the first bad cell and names it
    # staged and checked before the transaction, where a failed read (a row longer than the first
    # buffer) can be tried again
    staged: list[tuple[Table, str]] = []
    for table, path in files:
        stage = _stage_csv(con, table, path)
        _refuse_bad_rows(con, table, stage, path)
        if table.name == "services":
            con.execute(f"insert into _known_services select service from {stage}")
        staged.append((table, stage))

    counts = {}
    with transaction(con):
        for table, stage in staged:
            counts[table.name] = upsert(con, table.name, f"(select * exclude (_problem) from {stage})")
            con.execute(f"drop table {stage}")  # its memory is the transform's that follows
        record_run(con, "bundle", str(folder.resolve()), sum(counts.values()))
    return counts


class _Rejected(Exception):
    """A bad row met by `_insert_checked` (which does not say where it is)."""


def _insert_all(
    con: duckdb.DuckDBPyConnection, folder: Path, files: list[tuple[Table, Path]]
) -> dict[str, int]:
    """A first load in one transaction: each file into its empty table in one pass (`_insert_checked`);
    rolled back on the first bad row, _known_services included."""
    counts = {}
    with transaction(con):
        for table, path in files:
            counts[table.name] = _insert_checked(con, table, path)
            if table.name == "services":
                con.execute("insert into _known_services select service from core.services")
        record_run(con, "bundle", str(folder.resolve()), sum(counts.values()))
    return counts


def _refuse_bad_rows(con: duckdb.DuckDBPyConnection, table: Table, stage: str, path: Path) -> None:
    bad = _first_problem(con, table, stage)
    if bad:
        row, column, message, earlier = bad
        if earlier is not None:
            message += f" already on line {physical_line(path, earlier)}"
        raise BundleError(path.name, physical_line(path, row), column, message)


def _insert_checked(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> int:
    """Insert a bundle file into its empty core table in one pass over it (raises on a bad row)."""
    header = read_header(path, table)
    load_id = next_load_id(con)
    rows = f"({_typed_select(table, header, _csv_source(min(FIRST_LINE_BYTES, MAX_LINE_BYTES)))})"
    inserted = scalar(
        con,
        f"insert into core.{table.name} by name select * exclude (_problem), {load_id} as _load_id"
        f" from {rows} where (case when _problem is not null then error(_problem) end) is null",
        [str(path), dict.fromkeys(header, "VARCHAR")],
    )
    key = ", ".join(_q(k) for k in table.key)
    if one(con, f"select 1 from core.{table.name} group by {key} having count(*) > 1 limit 1"):
        raise _Rejected(table.name)  # a duplicate key
    return int(inserted)


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
    if one(con, f"select 1 from core.{table.name} limit 1"):  # a first load has nothing to replace
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
