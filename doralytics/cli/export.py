"""`dora export csv|parquet|bundle|metrics`: tables, views, the bundle or the metrics table as files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from doralytics.cli.common import (
    EnvOpt,
    FromOpt,
    GroupBy,
    GroupOpt,
    ServiceOpt,
    TeamOpt,
    ToOpt,
    app,
    existing_warehouse,
    fail,
    note,
    scope_of,
    state,
)

export_app = typer.Typer(
    help="Write tables, views or the whole warehouse out as files.", no_args_is_help=True
)


app.add_typer(export_app, name="export")


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


RelationArg = Annotated[str, typer.Argument(help="a table or view, e.g. marts.deployments or core.incidents")]


def _write_relation(name: str, out: Path, file_format: Literal["csv", "parquet"]) -> None:
    from warehouse import db
    from warehouse.export import ExportError, export

    try:
        with db.read(existing_warehouse()) as con:
            rows = export(con, name, out, file_format)
    except (ExportError, db.WarehouseError) as exc:
        fail(str(exc))
    note(f"wrote {rows} rows to {out}")


@export_app.command("csv")
def export_csv(
    name: RelationArg, out: Annotated[Path, typer.Option("--out", help="the CSV file to write")]
) -> None:
    """Write one table or view as CSV (streamed, any size).

    Example: dora export csv marts.changes --out changes.csv
    """
    _write_relation(name, out, "csv")


@export_app.command("parquet")
def export_parquet(
    name: RelationArg, out: Annotated[Path, typer.Option("--out", help="the Parquet file to write")]
) -> None:
    """Write one table or view as Parquet (streamed by DuckDB, any size; types kept).

    Example: dora export parquet marts.deployments --out deployments.parquet
    """
    _write_relation(name, out, "parquet")


@export_app.command("bundle")
def export_bundle(
    folder: Annotated[Path, typer.Argument(help="the folder to write the CSV files into")],
) -> None:
    """Write the canonical tables as a CSV bundle that `dora import` reads back.

    Example: dora export bundle ./backup
    """
    from warehouse import db
    from warehouse.export import export_bundle as write_bundle

    with db.read(existing_warehouse()) as con:
        counts = write_bundle(con, folder)
    note("wrote " + ", ".join(f"{n} {t}" for t, n in counts.items()))


@export_app.command("metrics")
def export_metrics(
    start: FromOpt,
    end: ToOpt,
    out: Annotated[Path, typer.Option("--out", help="the file to write")],
    group_by: GroupOpt = GroupBy.service,
    fmt: Annotated[FileFormat, typer.Option("--format", help="csv or parquet")] = FileFormat.csv,
    service: ServiceOpt = None,
    team: TeamOpt = None,
    environment: EnvOpt = None,
) -> None:
    """The metrics table of `dora metrics` as a file: one row per group, tiers as tier_<metric> columns.

    Example: dora export metrics --from 2026-01-01 --to 2026-03-31 --group-by team --out q1.parquet
    """
    from reports.tables import write_metrics
    from warehouse import db

    scope = scope_of(start, end, group_by, service, team, environment)
    try:
        with db.read(existing_warehouse()) as con:
            rows = write_metrics(con, scope, out, fmt.value, state.config.metrics.tiers)
    except db.WarehouseError as exc:
        fail(str(exc))
    note(f"wrote {rows} rows to {out}")
