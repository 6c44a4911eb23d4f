"""The `dora` command: wires collectors, warehouse, dashboard and reports together."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from doralytics import config as config_mod

app = typer.Typer(
    help="Doralytics: DORA metrics you can explain, from a DuckDB warehouse.\n\n"
    "Example: dora --warehouse dora.duckdb metrics --from 2026-01-01 --to 2026-03-31 --group-by team",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(
    help="Write tables, views or the whole warehouse out as files.", no_args_is_help=True
)
app.add_typer(export_app, name="export")
err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class GroupBy(StrEnum):
    service = "service"
    team = "team"
    org = "org"


class State:
    warehouse: str | None = None
    config: config_mod.Config = config_mod.Config()


state = State()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def main_options(
    warehouse: Annotated[
        str | None,
        typer.Option(
            "--warehouse",
            "-w",
            envvar="DORA_WAREHOUSE",
            help="DuckDB warehouse file [default: ./dora.duckdb]",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="DORA_CONFIG", help="dora.toml [default: ./dora.toml if present]"),
    ] = None,
) -> None:
    try:
        state.config = config_mod.load(config)
    except config_mod.ConfigError as exc:
        fail(str(exc))
    state.warehouse = warehouse or state.config.warehouse


def _existing_warehouse() -> Path:
    """The warehouse a reading command reads: a path that does not exist is a mistake, not a new file."""
    from warehouse import db

    path = db.resolve_path(state.warehouse)
    if not path.exists():
        fail(f"no warehouse at {path}: build one with `dora demo`, `dora import DIR` or `dora collect ...`")
    return path


def _date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{name}: {value!r} is not a date (YYYY-MM-DD)")


def _scope(
    start: str,
    end: str,
    group_by: GroupBy,
    services: list[str] | None,
    teams: list[str] | None,
    environments: list[str] | None = None,
):
    from warehouse.metrics import Scope

    first, last = _date(start, "--from"), _date(end, "--to")
    if first > last:
        fail(f"--from {first} is after --to {last}")
    return Scope(
        first,
        last,
        group_by.value,
        tuple(services) if services else None,
        tuple(teams) if teams else None,
        tuple(e.strip().lower() for e in environments) if environments else None,
    )


def emit(rows: list[dict[str, Any]], fmt: Format, document: Any = None, title: str | None = None) -> None:
    """The one output path of every command: a table for people, JSON or CSV for programs."""
    if fmt is Format.json:
        print(json.dumps(document if document is not None else rows, indent=1, default=_json_default))
    elif fmt is Format.csv:
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(title=title, show_lines=False)
        columns = list(rows[0]) if rows else []
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(_human(row[c]) for c in columns))
        Console(width=max(Console().width, 100)).print(table if rows else "(no rows)")


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    return value


def _human(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _transform(con) -> None:
    from warehouse.transform import run

    run(con, state.config.metrics)


@app.command("import")
def import_(folder: Annotated[Path, typer.Argument(help="folder holding the bundle's CSV files")]) -> None:
    """Load a CSV bundle (spec/BUNDLE.md) into the warehouse, then rebuild the metrics.

    Validation errors name file:line:column, exit with code 2 and load nothing.

    Example: dora --warehouse dora.duckdb import ./bundle
    """
    from collectors.bundle import BundleError
    from warehouse import db, load

    try:
        with db.write(state.warehouse) as con:
            counts = load.import_bundle(con, folder)
            _transform(con)
    except BundleError as exc:
        fail(str(exc))
    except db.WarehouseError as exc:
        fail(str(exc))
    err.print("imported " + ", ".join(f"{n} {t}" for t, n in counts.items()), highlight=False)


@app.command()
def transform() -> None:
    """Rebuild the marts (metrics) from the core tables. Runs by itself after import and collect.

    Example: dora --warehouse dora.duckdb transform
    """
    from warehouse import db

    try:
        with db.write(state.warehouse) as con:
            _transform(con)
    except db.WarehouseError as exc:
        fail(str(exc))
    err.print("transformed", highlight=False)


FromOpt = Annotated[str, typer.Option("--from", help="first day of the period (YYYY-MM-DD, UTC)")]
ToOpt = Annotated[str, typer.Option("--to", help="last day of the period, inclusive")]
GroupOpt = Annotated[GroupBy, typer.Option("--group-by", help="pool services per service, team or org")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json or csv for programs")]
ServiceOpt = Annotated[list[str] | None, typer.Option("--service", help="only these services (repeatable)")]
TeamOpt = Annotated[list[str] | None, typer.Option("--team", help="only these teams (repeatable)")]
EnvOpt = Annotated[
    list[str] | None, typer.Option("--environment", help="only these production environments (repeatable)")
]


@app.command()
def metrics(
    start: FromOpt,
    end: ToOpt,
    group_by: GroupOpt = GroupBy.service,
    fmt: FormatOpt = Format.table,
    service: ServiceOpt = None,
    team: TeamOpt = None,
    environment: EnvOpt = None,
) -> None:
    """The five DORA metrics, their tiers and data-quality counts for a period.

    Example: dora metrics --from 2026-01-01 --to 2026-03-31 --group-by team --format json
    """
    from warehouse import db
    from warehouse.metrics import compute, flat, to_json

    scope = _scope(start, end, group_by, service, team, environment)
    try:
        with db.read(_existing_warehouse()) as con:
            groups = compute(con, scope, state.config.metrics.tiers)
    except db.WarehouseError as exc:
        fail(str(exc))
    if fmt is Format.table:
        _metrics_table(groups, scope)
    else:
        emit(flat(groups), fmt, to_json(scope, groups))


def _metrics_table(groups: list[dict], scope) -> None:
    from reports.fmt import duration

    table = Table(
        title=f"DORA metrics {scope.start} to {scope.end} ({scope.days} days), per {scope.group_by}",
        caption="tiers: DORA 2023 cut-offs; `dora explain METRIC --group G` lists the rows behind a number",
    )
    for name in (
        "",
        "deploy frequency",
        "lead time (median)",
        "changes",
        "change failure rate",
        "recovery (median)",
        "rework rate",
        "data quality",
    ):
        table.add_column(name, no_wrap=name != "data quality")
    for g in groups:
        t = g["tiers"]
        quality = [
            f"{g[key]} {label}"
            for key, label in (
                ("baseline_deployments", "baseline"),
                ("unknown_sha_deployments", "unknown sha"),
                ("lead_time_excluded", "excluded"),
                ("unattributed_incidents", "unattributed"),
                ("unrecovered_failures", "unrecovered"),
            )
            if g[key]
        ]
        table.add_row(
            g["group"],
            f"{g['deploys_per_day']:.2f}/day {_tier(t['deployment_frequency'])}",
            f"{duration(g['lead_time_median_hours'])} {_tier(t['lead_time'])}",
            str(g["changes"]),
            f"{_pct(g['change_failure_rate'])} ({g['failed_deployments']}/{g['deployments']}) "
            f"{_tier(t['change_failure_rate'])}",
            f"{duration(g['recovery_time_median_hours'])} {_tier(t['recovery_time'])}",
            f"{_pct(g['rework_rate'])} ({g['unplanned_deployments']}/{g['deployments']})",
            ", ".join(quality) or "ok",
        )
    Console(width=max(Console().width, 150)).print(table)


def _tier(name: str | None) -> str:
    return f"· {name}" if name else ""


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@app.command()
def explain(
    metric: Annotated[
        str,
        typer.Argument(
            help="deployment_frequency, lead_time, change_failure_rate, "
            "recovery_time, rework_rate, incident_mttr, incidents, "
            "unattributed_incidents"
        ),
    ],
    start: FromOpt,
    end: ToOpt,
    group: Annotated[
        str | None, typer.Option("--group", help="the service, team or 'all' to explain")
    ] = None,
    group_by: GroupOpt = GroupBy.service,
    fmt: FormatOpt = Format.table,
    service: ServiceOpt = None,
    team: TeamOpt = None,
    environment: EnvOpt = None,
) -> None:
    """The rows behind a number: deployments, changes or incidents, with the signal behind each failure.

    Example: dora explain change_failure_rate --group checkout --from 2026-03-02 --to 2026-03-15
    """
    from warehouse import db
    from warehouse.metrics import EXPLAIN
    from warehouse.metrics import explain as explain_rows

    if metric not in EXPLAIN:
        fail(f"unknown metric {metric!r}; one of: {', '.join(EXPLAIN)}")
    scope = _scope(start, end, group_by, service, team, environment)
    with db.read(_existing_warehouse()) as con:
        frame = explain_rows(con, metric, scope, group)
    rows = _records(frame)
    emit(
        rows,
        fmt,
        title=f"{metric} of {group or 'every group'}, {scope.start} to {scope.end}: {len(rows)} rows",
    )


def _records(frame) -> list[dict]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in row.items()} for row in rows]


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="one SELECT statement")],
    fmt: FormatOpt = Format.table,
    timeout: Annotated[float, typer.Option(help="seconds before the query is interrupted")] = 30.0,
) -> None:
    """Ad-hoc, read-only SQL on the warehouse: no writes, no files, no extensions.

    Example: dora sql "select service, count(*) from marts.deployments group by all"
    """
    from warehouse import db
    from warehouse.sandbox import SandboxError, run_query

    try:
        frame = run_query(db.resolve_path(state.warehouse), query, timeout_seconds=timeout)
    except SandboxError as exc:
        fail(str(exc))
    emit(_records(frame), fmt)


@export_app.command("csv")
def export_csv(
    name: Annotated[str, typer.Argument(help="a table or view, e.g. marts.deployments or core.incidents")],
    out: Annotated[Path, typer.Option("--out", help="the CSV file to write")],
) -> None:
    """Write one table or view as CSV (streamed, any size).

    Example: dora export csv marts.changes --out changes.csv
    """
    from warehouse import db
    from warehouse.export import ExportError
    from warehouse.export import export_csv as write_csv

    try:
        with db.read(_existing_warehouse()) as con:
            rows = write_csv(con, name, out)
    except ExportError as exc:
        fail(str(exc))
    err.print(f"wrote {rows} rows to {out}", highlight=False)


@export_app.command("bundle")
def export_bundle(
    folder: Annotated[Path, typer.Argument(help="the folder to write the CSV files into")],
) -> None:
    """Write the canonical tables as a CSV bundle that `dora import` reads back.

    Example: dora export bundle ./backup
    """
    from warehouse import db, load

    with db.read(_existing_warehouse()) as con:
        counts = load.export_bundle(con, folder)
    err.print("wrote " + ", ".join(f"{n} {t}" for t, n in counts.items()), highlight=False)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="same seed and end date, same warehouse")] = 7,
    end: Annotated[str | None, typer.Option(help="last day of the six months (default: today)")] = None,
) -> None:
    """Build a realistic demo organisation (4 teams, 12 services, 6 months) into the warehouse.

    Example: dora --warehouse demo.duckdb demo --seed 7 --end 2026-06-30
    """
    from collectors import demo as demo_mod
    from warehouse import db

    last = _date(end, "--end") if end else None
    with db.write(state.warehouse) as con:
        counts = demo_mod.build(con, seed=seed, end=last)
        _transform(con)
    err.print("demo built: " + ", ".join(f"{n} {t}" for t, n in counts.items()), highlight=False)


def main() -> None:
    from warehouse.db import WarehouseError

    try:
        app()
    except WarehouseError as exc:  # a locked, too new or untransformed warehouse: say so, no traceback
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


# Commands of other parts of the product live in their own modules (doralytics/cli_<part>.py), which
# import `app`, `state`, `fail` and `emit` from here; one import line each below registers them.
from doralytics import cli_collect, cli_collect_more, cli_dashboard, cli_report  # noqa: E402,F401

if __name__ == "__main__":
    main()
