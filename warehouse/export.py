"""`dora export`: one table or view of the warehouse to a CSV or Parquet file, streamed by DuckDB itself.

COPY (select ...) TO writes straight from the engine, so a table larger than memory never passes through
Python. The relation name comes from the user: it is only ever used after it matched a row of
information_schema, and even then it is quoted as an identifier.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal

import duckdb

from warehouse import db
from warehouse.db import WarehouseError, scalar
from warehouse.schema import TABLES, Column

# A bare name is looked up in this order: the derived marts are what people export most.
SEARCH_ORDER = ("marts", "core", "raw")
Format = Literal["csv", "parquet"]
# COPY options per format: constants, never user text.
_COPY_OPTIONS: dict[str, str] = {"csv": "(format csv, header)", "parquet": "(format parquet)"}


class ExportError(WarehouseError):
    """An export that cannot be done as asked (unknown table, unknown format); one line for the user."""


def list_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The exportable tables and views, as schema.name, in search order then by name."""
    return [f"{schema}.{name}" for schema, name in _relations(con)]


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() and table_schema in ('marts', 'core', 'raw')
        """
    ).fetchall()
    return sorted(rows, key=lambda row: (SEARCH_ORDER.index(row[0]), row[1]))


def resolve(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str, str]:
    """(schema, name) of an existing relation for `schema.name` or a bare name; ExportError otherwise."""
    relations = _relations(con)
    # DuckDB identifiers are case-insensitive, so a match ignores case but returns the stored spelling.
    wanted = name.strip().lower()
    for schema, table in relations:
        if wanted in (f"{schema}.{table}".lower(), table.lower()):
            return schema, table  # relations are in search order, so the first bare match wins
    raise ExportError(_unknown(name, [f"{s}.{t}" for s, t in relations]))


def _unknown(name: str, qualified: list[str]) -> str:
    # Offer both spellings for matching: "deploymnets" should find "core.deployments".
    candidates = {q.lower(): q for q in qualified} | {q.split(".", 1)[1].lower(): q for q in qualified}
    close = difflib.get_close_matches(name.strip().lower(), list(candidates), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(candidates[c] for c in close))
    if suggestions:
        return f"no table or view named {name!r}: did you mean {', '.join(suggestions)}?"
    return f"no table or view named {name!r}; available: {', '.join(qualified)}"


def export(
    con_or_path: duckdb.DuckDBPyConnection | str | os.PathLike | None,
    name: str,
    out: str | os.PathLike,
    format: Format = "csv",
) -> int:
    """Write the relation `name` to `out` in `format`; returns the number of rows written."""
    if format not in _COPY_OPTIONS:
        raise ExportError(f"unknown export format {format!r}: use one of {', '.join(_COPY_OPTIONS)}")
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        return _export(con_or_path, name, Path(out), format)
    with db.read(con_or_path) as con:
        return _export(con, name, Path(out), format)


def export_csv(
    con_or_path: duckdb.DuckDBPyConnection | str | os.PathLike | None, name: str, out: Path
) -> int:
    return export(con_or_path, name, out, "csv")


def export_parquet(
    con_or_path: duckdb.DuckDBPyConnection | str | os.PathLike | None, name: str, out: Path
) -> int:
    return export(con_or_path, name, out, "parquet")


def _export(con: duckdb.DuckDBPyConnection, name: str, out: Path, format: str) -> int:
    schema, table = resolve(con, name)
    relation = f"{_quote(schema)}.{_quote(table)}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: a failed or interrupted export never leaves a truncated file
    # where a previous good one was.
    partial = out.with_name(f".{out.name}.part")
    try:
        # The path is a bound parameter; the relation is quoted and known to exist.
        # fetchall: a half-read result would block the caller's next con.sql() on this connection.
        [(rows,)] = con.execute(
            f"copy (select * from {relation}) to ? {_COPY_OPTIONS[format]}", [str(partial)]
        ).fetchall()
        os.replace(partial, out)
    except duckdb.Error as exc:
        raise ExportError(f"cannot export {schema}.{table} to {out}: {str(exc).splitlines()[0]}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return int(rows)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _exported(column: Column) -> str:
    x = _quote(column.name)
    if column.kind == "ts":
        return f"strftime({x}, '%Y-%m-%dT%H:%M:%S.%fZ') as {x}"
    if column.kind == "shas":
        return f"array_to_string({x}, ' ') as {x}"
    if column.kind == "labels":
        return f"array_to_string({x}, ';') as {x}"
    return x


def export_bundle(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, int]:
    """Write every core table as a bundle file (`dora export bundle`) that `warehouse.load.import_bundle`
    reads back to the same rows."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for table in TABLES:
        select = ", ".join(_exported(c) for c in table.columns)
        order = ", ".join(_quote(k) for k in table.key)
        target = folder / table.file
        con.execute(
            f"copy (select {select} from core.{table.name} order by {order}) to '{_escape(target)}'"
            " (header, delimiter ',')"
        )
        counts[table.name] = int(scalar(con, f"select count(*) from core.{table.name}"))
    return counts


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")
