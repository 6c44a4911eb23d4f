"""`dora metrics`, `dora explain` and `dora sql`: reading the warehouse."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from doralytics.cli.common import (
    EnvOpt,
    Format,
    FormatOpt,
    FromOpt,
    GroupBy,
    GroupOpt,
    ServiceOpt,
    TeamOpt,
    ToOpt,
    app,
    emit,
    existing_warehouse,
    fail,
    records,
    scope_of,
    state,
)

if TYPE_CHECKING:
    from warehouse.metrics import Scope


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

    scope = scope_of(start, end, group_by, service, team, environment)
    try:
        with db.read(existing_warehouse()) as con:
            groups = compute(con, scope, state.config.metrics.tiers)
    except db.WarehouseError as exc:
        fail(str(exc))
    emit(flat(groups), fmt, to_json(scope, groups), table=_metrics_table(groups, scope), width=150)


def _metrics_table(groups: list[dict[str, Any]], scope: Scope) -> Table:
    from reports import fmt

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
            f"{fmt.per_day(g['deploys_per_day'])} {_tier(t['deployment_frequency'])}",
            f"{fmt.duration(g['lead_time_median_hours'])} {_tier(t['lead_time'])}",
            str(g["changes"]),
            f"{fmt.pct(g['change_failure_rate'], 0)} ({g['failed_deployments']}/{g['deployments']}) "
            f"{_tier(t['change_failure_rate'])}",
            f"{fmt.duration(g['recovery_time_median_hours'])} {_tier(t['recovery_time'])}",
            f"{fmt.pct(g['rework_rate'], 0)} ({g['unplanned_deployments']}/{g['deployments']})",
            ", ".join(quality) or "ok",
        )
    return table


def _tier(name: str | None) -> str:
    return f"· {name}" if name else ""


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
    scope = scope_of(start, end, group_by, service, team, environment)
    with db.read(existing_warehouse()) as con:
        frame = explain_rows(con, metric, scope, group)
    rows = records(frame)
    emit(
        rows,
        fmt,
        title=f"{metric} of {group or 'every group'}, {scope.start} to {scope.end}: {len(rows)} rows",
    )


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
    emit(records(frame), fmt)
