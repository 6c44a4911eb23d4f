"""Writes collectors' batches: raw payloads, canonical rows and the cursor, in one transaction per batch.

A collector killed at any point (kill -9 included) leaves the warehouse at the end of some batch, whose
cursor says where to resume: the next run has no gap, and because every write replaces rows by key,
no duplicate either.

The batches go to the warehouse's working copy (warehouse/publish.py), never to the published file:
readers keep answering from the last published state during a sync, and see the batches together with
the transform that follows (`db.write`, which publishes both). A collect killed before that leaves its
working copy resumable: the next run (or the next write) carries on from it.

On a lake (warehouse/lake.py) each batch is a DuckLake commit readers see at once; a batch whose commit
conflicts with another writer's is run again whole (`db.retrying`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from warehouse import db, publish
from warehouse.batch import Batch, CommitInfo, Complete, Quarantined, Record
from warehouse.load import record_run, upsert
from warehouse.schema import TABLE_BY_NAME, TABLES, Column, Table

ENTITY = re.compile(r"^[a-z][a-z0-9_]*$")
ARROW = {
    "ts": pa.timestamp("us"),
    "int": pa.int64(),
    "shas": pa.list_(pa.string()),
    "labels": pa.list_(pa.string()),
}


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# The normalisation load.load_frames applies in SQL (shas and environments lowercased on
# load), done here in Python: a staged temp table per table and batch costs more than the rest of the write.
NORMALISE = {
    "lower": _lower,
    "sha": _lower,
    "status": _lower,
    "run_status": _lower,
    "shas": lambda shas: [s.lower() for s in shas] if shas is not None else None,
    "labels": lambda labels: labels if labels is not None else [],
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _arrow(columns: tuple[Column, ...], rows: list[dict[str, Any]]) -> pa.Table:
    arrays = {}
    for c in columns:
        normalise = NORMALISE.get(c.kind)
        values = [r.get(c.name) for r in rows]
        if normalise:
            values = [normalise(v) for v in values]
        arrays[c.name] = pa.array(values, ARROW.get(c.kind, pa.string()))
    return pa.table(arrays)


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> None:
    # DuckDB 2.0 leaves a statement's result open until fetched, which blocks register() and the next
    # statement on this connection: fetch it.
    con.execute(sql, params or []).fetchall()


def _last_by_key(items: Iterable[Any], key) -> list[Any]:
    return list({key(item): item for item in items}.values())


class WarehouseSink:
    """The `Sink` of collectors/base.py over a warehouse file; safe to call from several threads."""

    def __init__(
        self, path: str | Path | None, source: str, idle_seconds: float = 0.5, hold_seconds: float = 3.0
    ) -> None:
        # idle_seconds and hold_seconds are accepted for callers of earlier versions: the connection used
        # to be released between batches so that readers could open the file; readers now read the
        # published file, and the working copy stays open (with the writer lock) until close().
        self.path, self.source = path, source
        self.idle_seconds, self.hold_seconds = idle_seconds, hold_seconds
        self.rows_written = 0
        self.rows_removed = 0  # by Batch.complete
        self._batches = 0
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._created: set[str] = set()  # raw tables known to exist
        self._stack: contextlib.ExitStack | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._stack = contextlib.ExitStack()
            self._con = self._stack.enter_context(db.stage(self.path))
            # batches are small: one thread is plenty, and leaves the other cores to the fetching
            _run(self._con, "set threads = 1")
        return self._con

    def _release(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._con, self._stack = None, None

    def close(self) -> None:
        with self._lock:
            self._release()

    def __enter__(self) -> WarehouseSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cursor(self, scope: str, entity: str) -> dict[str, Any] | None:
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "select cursor from raw.cursors where source = ? and scope = ? and entity = ?",
                    [self.source, scope, entity],
                )
                .fetchone()
            )
        return json.loads(row[0]) if row and row[0] else None

    def commits(self, repo: str, shas: Iterable[str]) -> dict[str, CommitInfo]:
        wanted = [s.lower() for s in shas]
        if not wanted:
            return {}
        with self._lock:
            found = (
                self._connect()
                .execute(
                    "select sha, parents, authored_at, message from core.commits"
                    " where repo = ? and list_contains(?, sha)",
                    [repo, wanted],
                )
                .fetchall()
            )
        return {
            sha: CommitInfo(sha, tuple(parents), authored, message or "")
            for sha, parents, authored, message in found
        }

    def write(self, batch: Batch) -> None:
        """The batch's raw payloads, rows and cursor in one transaction (on a lake, run again when another
        writer's commit conflicts with it: never lost, never twice)."""
        with self._lock:
            db.retrying(lambda: self._write_once(batch), f"writing a batch of {self.source} {batch.scope}")
            self.rows_written += batch.items
            self._batches += 1
        publish.fault_point(f"batch-{self._batches}")

    def _write_once(self, batch: Batch) -> None:
        con = self._connect()
        removed = 0
        try:
            with db.transaction(con):
                for entity, records in batch.raw.items():
                    self._raw(con, entity, batch.scope, records)
                for table in TABLES:
                    rows = batch.rows.get(table.name)
                    if rows:
                        self._canonical(con, table, rows)
                for complete in batch.complete:
                    removed += self._complete(con, complete)
                if batch.quarantined:
                    self._quarantine(con, batch.scope, batch.quarantined)
                if batch.cursor is not None:
                    self._cursor(con, batch.scope, batch.entity, batch.cursor)
        except Exception:
            self._created.clear()  # tables created in the rolled-back transaction are gone too
            raise
        self.rows_removed += removed

    def _raw(self, con: duckdb.DuckDBPyConnection, entity: str, scope: str, records: list[Record]) -> None:
        if not ENTITY.match(entity):
            raise ValueError(f"bad raw entity name {entity!r}")
        table = f"raw.{self.source}__{entity}"
        if table not in self._created:
            _run(
                con,
                f"create table if not exists {table} (key varchar not null, scope varchar not null,"
                " payload json, _loaded_at timestamp not null)",
            )
            self._created.add(table)
        records = _last_by_key(records, lambda r: r.key)
        staged = pa.table(
            {
                "key": pa.array([r.key for r in records], pa.string()),
                "payload": pa.array([json.dumps(r.payload) for r in records], pa.string()),
            }
        )
        con.register("_raw_batch", staged)
        try:
            _run(con, f"delete from {table} where key in (select key from _raw_batch)")
            _run(con, f"insert into {table} select key, ?, payload::json, ? from _raw_batch", [scope, _now()])
        finally:
            con.unregister("_raw_batch")

    def _canonical(self, con: duckdb.DuckDBPyConnection, table: Table, rows: list[dict[str, Any]]) -> None:
        rows = _last_by_key(rows, lambda r: tuple(r.get(k) for k in table.key))
        con.register("_rows_batch", _arrow(table.columns, rows))
        try:
            # load_frames would open its own transaction; the batch needs raw rows, canonical rows and the
            # cursor in one, so the upsert by key is called directly
            upsert(con, table.name, "_rows_batch")
        finally:
            con.unregister("_rows_batch")

    def _complete(self, con: duckdb.DuckDBPyConnection, complete: Complete) -> int:
        table = TABLE_BY_NAME[complete.table]
        unknown = [c for c in complete.match if c not in {col.name for col in table.columns}]
        if unknown:
            raise ValueError(f"core.{table.name} has no column {unknown[0]!r}")
        keys = pa.table(
            {
                k: pa.array([key[i] for key in complete.keys], ARROW.get(table.column(k).kind, pa.string()))
                for i, k in enumerate(table.key)
            }
        )
        where = [f'"{c}" is not distinct from ?' for c in complete.match]
        params = list(complete.match.values())
        if complete.key_prefix is not None:
            where.append(f'starts_with("{table.key[0]}", ?)')
            params.append(complete.key_prefix)
        same = " and ".join(f'k."{k}" = t."{k}"' for k in table.key)
        con.register("_complete_keys", keys)
        try:
            return int(
                con.execute(
                    f"delete from core.{table.name} as t where {' and '.join(where) or 'true'}"
                    f" and not exists (select 1 from _complete_keys as k where {same})",
                    params,
                ).fetchall()[0][0]
            )
        finally:
            con.unregister("_complete_keys")

    def _quarantine(self, con: duckdb.DuckDBPyConnection, scope: str, items: list[Quarantined]) -> None:
        table = f"raw.{self.source}__quarantine"
        _run(
            con,
            f"create table if not exists {table} (entity varchar not null, key varchar not null,"
            " scope varchar not null, problem varchar, payload json, _loaded_at timestamp not null)",
        )
        for item in items:
            _run(con, f"delete from {table} where entity = ? and key = ?", [item.entity, item.key])
            _run(
                con,
                f"insert into {table} values (?, ?, ?, ?, ?::json, ?)",
                [item.entity, item.key, scope, item.problem, json.dumps(item.payload), _now()],
            )

    def _cursor(self, con: duckdb.DuckDBPyConnection, scope: str, entity: str, value: dict[str, Any]) -> None:
        _run(
            con,
            "delete from raw.cursors where source = ? and scope = ? and entity = ?",
            [self.source, scope, entity],
        )
        _run(
            con,
            "insert into raw.cursors values (?, ?, ?, ?, ?)",
            [self.source, scope, entity, json.dumps(value, sort_keys=True, default=str), _now()],
        )

    def record_run(self, scope: str, rows: int | None = None) -> None:
        """One raw.sync_runs row for the whole collect run."""
        with self._lock:
            con = self._connect()
            record_run(con, self.source, scope, self.rows_written if rows is None else rows)


def quarantined(
    con: duckdb.DuckDBPyConnection, source: str, since: dt.datetime | None = None
) -> list[tuple[str, str, str, str]]:
    """(scope, entity, key, problem) of the objects of a source quarantined (since a time), for a summary."""
    exists = db.scalar(
        con,
        "select count(*) from information_schema.tables where table_catalog = current_database()"
        " and table_schema = 'raw' and table_name = ?",
        [f"{source}__quarantine"],
    )
    if not exists:
        return []
    return con.execute(
        f"select scope, entity, key, problem from raw.{source}__quarantine where _loaded_at >= ?"
        " order by 1, 2, 3",
        [since or dt.datetime.min],
    ).fetchall()
