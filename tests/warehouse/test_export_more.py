"""`dora export parquet` and `dora export metrics`: types kept, the metrics file equals `dora metrics`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from doralytics.cli import app
from tests.support.reports import demo_warehouse
from warehouse import db


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory)


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_export_parquet_keeps_rows_and_types(warehouse, tmp_path):
    out = tmp_path / "deployments.parquet"
    result = cli("-w", str(warehouse), "export", "parquet", "marts.deployments", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    with db.read(warehouse) as con:
        [(count,)] = con.execute("select count(*) from marts.deployments").fetchall()
    assert f"wrote {count} rows to {out}" in result.stderr
    assert table.num_rows == count
    assert pa.types.is_timestamp(table.schema.field("finished_at").type)
    assert pa.types.is_boolean(table.schema.field("is_failed").type)
    assert pa.types.is_list(table.schema.field("failure_signals").type)  # lists stay lists, unlike CSV


def test_export_parquet_unknown_table_is_a_clear_error(warehouse, tmp_path):
    result = cli(
        "-w", str(warehouse), "export", "parquet", "deploymnets", "--out", str(tmp_path / "x.parquet")
    )
    assert result.exit_code == 2
    assert "did you mean" in result.stderr and "deployments" in result.stderr
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize("group_by", ["team", "service"])
def test_export_metrics_equals_dora_metrics(warehouse, tmp_path, group_by):
    period = ["--from", "2026-04-01", "--to", "2026-06-30", "--group-by", group_by]
    want = json.loads(cli("-w", str(warehouse), "metrics", *period, "--format", "json").stdout)["groups"]
    csv_out, parquet_out = tmp_path / "m.csv", tmp_path / "m.parquet"
    assert cli("-w", str(warehouse), "export", "metrics", *period, "--out", str(csv_out)).exit_code == 0
    assert (
        cli(
            "-w",
            str(warehouse),
            "export",
            "metrics",
            *period,
            "--format",
            "parquet",
            "--out",
            str(parquet_out),
        ).exit_code
        == 0
    )
    with csv_out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    parquet = pq.read_table(parquet_out).to_pylist()
    assert len(rows) == len(parquet) == len(want)
    for expected, row, typed in zip(want, rows, parquet, strict=True):
        assert row["group"] == typed["group"] == expected["group"]
        assert row["period_from"] == "2026-04-01" and row["group_by"] == group_by
        for key, value in expected.items():
            if key == "tiers":
                for metric, tier in value.items():
                    assert typed[f"tier_{metric}"] == tier and row[f"tier_{metric}"] == (tier or "")
            elif key != "group":
                assert typed[key] == value, key  # exact, in Parquet
                assert (float(row[key]) if row[key] else None) == (None if value is None else float(value)), (
                    key
                )


def test_export_metrics_types_hold_when_a_column_is_all_null(warehouse, tmp_path):
    out = tmp_path / "empty-week.parquet"
    # a week before the demo's history: no deployments, every median null
    result = cli(
        "-w",
        str(warehouse),
        "export",
        "metrics",
        "--from",
        "2020-01-06",
        "--to",
        "2020-01-12",
        "--group-by",
        "org",
        "--format",
        "parquet",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    schema = pq.read_schema(out)
    assert schema.field("lead_time_median_hours").type == pa.float64()
    assert schema.field("deployments").type == pa.int64()
    assert schema.field("period_from").type == pa.date32()
