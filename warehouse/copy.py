"""`dora warehouse copy FROM TO`: one warehouse copied into another, file or lake on either side.

Every table of every schema (core rows, raw payloads and cursors, sync runs, the marts and the walk's state)
is copied row for row, `_load_id`s included, with the settings the transform keeps (which load it last saw,
its fingerprint), so the target answers every metric exactly as the source does and its next transform
carries on incrementally. The target is written in one write (a file: one publish; a lake: one commit):
a failure leaves it as it was. A target that holds rows is refused unless `replace` is given (then it ends
up a copy of the source: its other tables are emptied); a target that is the source is always refused.

What is not copied: the source's history (a lake's earlier snapshots, for `--as-of`) and the backend's own
bookkeeping (the schema version the target already has, a file's generation).

Rows stream from the source session to the target session as Arrow record batches, so a large warehouse
is never held in memory whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse import db, load
from warehouse.address import Address, FileAddress, LakeAddress, WarehouseError, parse

META = "_doralytics"
# main._doralytics keys that describe the backend or the schema, not the data: the target keeps its own.
OWN_META = frozenset({"schema_version", "generation", "work_state"})
BATCH_ROWS = 100_000
_STAGED = "_copy_rows"


class CopyError(WarehouseError):
    """A copy that cannot be made (the same warehouse, a target holding rows, a missing source)."""


@dataclass
class Copied:
    """What a copy wrote: rows per table (`schema.table`), and the meta keys it carried over."""

    rows: dict[str, int] = field(default_factory=dict)
    meta: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy(
    source: str | os.PathLike[str] | Address,
    target: str | os.PathLike[str] | Address,
    *,
    replace: bool = False,
    source_data_path: str | None = None,
    target_data_path: str | None = None,
) -> Copied:
    """Copy the warehouse `source` into `target` (see the module's docstring). Raises CopyError (or the
    warehouse's own WarehouseError) naming the problem; nothing is written then."""
    src = parse(source, source_data_path)
    dst = parse(target, target_data_path)
    refuse_same(src, dst)
    if not db.exists(src):
        raise CopyError(f"no warehouse at {src} to copy from")

    def attempt() -> Copied:
        with db.read(src) as reading, db.write(dst) as writing:
            return _copy(reading, writing, dst, replace)

    return db.retrying(attempt, f"copy into {dst}")


def refuse_same(src: Address, dst: Address) -> None:
    """Refuse a copy of a warehouse onto itself (a file by its real path, a lake by its catalog database)
    and two lakes sharing one data folder."""
    if isinstance(src, FileAddress) and isinstance(dst, FileAddress):
        if _real(src.path) == _real(dst.path):
            raise CopyError(f"cannot copy {src} onto itself: give another target")
    elif isinstance(src, LakeAddress) and isinstance(dst, LakeAddress):
        if _catalog_key(src.catalog) == _catalog_key(dst.catalog):
            raise CopyError(f"cannot copy {src} onto itself: give another target")
        if _real(Path(src.data_path)) == _real(Path(dst.data_path)):
            raise CopyError(
                f"{src} and {dst} would share the data folder {src.data_path}: give the target its own "
                "(--to-data-path)"
            )


def _real(path: Path) -> str:
    return os.path.realpath(os.path.expanduser(path))


def _catalog_key(conninfo: str) -> tuple[str, ...]:
    """What names a catalog database in a libpq conninfo: its service, host, port and dbname."""
    pairs: dict[str, str] = {}
    for part in conninfo.split():
        key, _, value = part.partition("=")
        pairs[key.strip().lower()] = value.strip().strip("'")
    return tuple(pairs.get(k, "") for k in ("service", "host", "hostaddr", "port", "dbname"))


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (s, t)
        for s, t in con.execute(db.read_sql("copy/tables.sql")).fetchall()
        if not (s == "main" and t == META)
    ]


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return [(c, kind) for c, kind in con.execute(db.read_sql("copy/columns.sql"), [schema, table]).fetchall()]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return int(db.scalar(con, f"select count(*) from {_q(schema)}.{_q(table)}"))


def _copy(
    src: duckdb.DuckDBPyConnection, dst: duckdb.DuckDBPyConnection, target: Address, replace: bool
) -> Copied:
    existing = set(_tables(dst))
    holding = [(s, t) for s, t in sorted(existing) if _count(dst, s, t)]
    if holding and not replace:
        shown = ", ".join(f"{s}.{t}" for s, t in holding[:3]) + (", ..." if len(holding) > 3 else "")
        raise CopyError(
            f"the target {target} already holds rows ({shown}): copy into an empty warehouse, or give "
            "--replace to make it a copy of the source"
        )
    for schema, table in holding:
        dst.execute(f"delete from {_q(schema)}.{_q(table)}")
    kept = ", ".join(f"'{key}'" for key in sorted(OWN_META))
    dst.execute(f"delete from main.{META} where key not in ({kept})")

    copied = Copied()
    last_source_load = load.last_load_id(src)
    for schema, table in _tables(src):
        columns = _columns(src, schema, table)
        if (schema, table) not in existing:
            dst.execute(f"create schema if not exists {_q(schema)}")
            spec = ", ".join(f"{_q(c)} {kind}" for c, kind in columns)
            dst.execute(f"create table {_q(schema)}.{_q(table)} ({spec})")
        else:
            missing = {c for c, _ in columns} - {c for c, _ in _columns(dst, schema, table)}
            if missing:
                raise CopyError(
                    f"the target's {schema}.{table} has no column {sorted(missing)[0]!r}: the two warehouses "
                    "are of different Doralytics versions; upgrade the older one first"
                )
        copied.rows[f"{schema}.{table}"] = _stream(src, dst, schema, table, [c for c, _ in columns])

    for key, value in src.execute(f"select key, value from main.{META} order by key").fetchall():
        if key not in OWN_META and value is not None:
            db.set_meta(dst, key, value)
            copied.meta.append(key)
    _reach_load_id(dst, max(last_source_load, _max_load_id(src)), load.last_load_id, load.next_load_id)
    return copied


def _stream(
    src: duckdb.DuckDBPyConnection,
    dst: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    columns: list[str],
) -> int:
    listed = ", ".join(_q(c) for c in columns)
    relation = src.sql(f"select {listed} from {_q(schema)}.{_q(table)}")
    reader = pa.RecordBatchReader.from_stream(relation)
    dst.register(_STAGED, reader)
    try:
        dst.execute(f"insert into {_q(schema)}.{_q(table)} ({listed}) select {listed} from {_STAGED}")
    finally:
        dst.unregister(_STAGED)
    return _count(dst, schema, table)


def _max_load_id(con: duckdb.DuckDBPyConnection) -> int:
    """The largest `_load_id` of any core row."""
    found = 0
    for schema, table in _tables(con):
        if schema == "core" and "_load_id" in {c for c, _ in _columns(con, schema, table)}:
            found = max(
                found, int(db.scalar(con, f"select coalesce(max(_load_id), 0) from core.{_q(table)}"))
            )
    return found


def _reach_load_id(
    con: duckdb.DuckDBPyConnection,
    last: int,
    current: Callable[[duckdb.DuckDBPyConnection], int],
    take: Callable[[duckdb.DuckDBPyConnection], int],
) -> None:
    """Hand out load ids on the target until its newest is at least `last`: its next load then gets an id
    above every copied row's, as the transform's incremental step needs."""
    while current(con) < last:
        take(con)
