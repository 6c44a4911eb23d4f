"""`dora export metrics`: the metrics table of a period as a CSV or Parquet file, with stable column types."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from warehouse.metric_settings import Tiers
from warehouse.metrics import COUNT_FIELDS, Scope, compute, flat


def metrics_table(con: duckdb.DuckDBPyConnection, scope: Scope, tiers: Tiers | None = None) -> pa.Table:
    """One row per group: the period, then compute()'s fields, tiers as tier_<metric>.

    Types are declared, not inferred, so a column that is null in every row (no failures this quarter) is
    still a float in Parquet and a file from one quarter appends to another's.
    """
    rows = flat(compute(con, scope, tiers))
    period = {
        "period_from": scope.start,
        "period_to": scope.end,
        "days": scope.days,
        "group_by": scope.group_by,
    }
    rows = [{**period, **row} for row in rows]
    names = list(rows[0]) if rows else [*period, "group"]

    def kind(name: str) -> pa.DataType:
        if name in ("period_from", "period_to"):
            return pa.date32()
        if name in ("group", "group_by") or name.startswith("tier_"):
            return pa.string()
        if name in COUNT_FIELDS or name == "days":
            return pa.int64()
        return pa.float64()

    schema = pa.schema([(name, kind(name)) for name in names])
    return pa.Table.from_pylist(rows, schema=schema)


def write_metrics(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    out: str | os.PathLike,
    format: str,
    tiers: Tiers | None = None,
) -> int:
    table = metrics_table(con, scope, tiers)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.part")  # never a truncated file where a good one was
    try:
        if format == "parquet":
            pq.write_table(table, partial)
        elif format == "csv":
            pacsv.write_csv(table, partial, pacsv.WriteOptions(quoting_style="needed"))
        else:
            raise ValueError(f"unknown format {format!r}: use csv or parquet")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return table.num_rows
