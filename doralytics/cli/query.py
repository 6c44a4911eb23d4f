"""`dora metrics`, `dora explain` and `dora sql`: reading the warehouse."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
    human,
    note,
    records,
    scope_of,
    state,
)

if TYPE_CHECKING:
    import duckdb
    from rich.table import Table

    from warehouse.metrics import Scope


AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="a DuckLake warehouse as it was: a snapshot id (a report names the one it was computed on) or a "
        "UTC time, YYYY-MM-DD[THH:MM[:SS]]",
    ),
]


def as_of_value(text: str | None) -> int | str | None:
    """--as-of as warehouse.db.read takes it: a snapshot id, or the time text; a report's own words
    ("snapshot 12 at 2026-07-06 09:00:00") name its snapshot too."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(?:snapshot\s+)?(\d+)(?:\s+at\s+.*)?", text)
    if found:
        return int(found.group(1))
    return text.strip()


@contextmanager
def reading(as_of: str | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse a metrics command reads: the latest state, refused when its marts lag the core tables;
    or with --as-of the lake's state then (a file warehouse refuses --as-of: it keeps no past states)."""
    from warehouse import db

    moment = as_of_value(as_of)
    where = existing_warehouse(fresh=moment is None)
    try:
        with db.read(where, as_of=moment) as con:
            if moment is not None:
                lag = db.stale(con)
                if lag:
                    fail(f"--as-of {as_of}: {lag}")
                note(f"as of {db.snapshot(con)}")
            yield con
    except db.WarehouseError as exc:
        fail(f"--as-of {as_of}: {exc}" if moment is not None and "as of" not in str(exc) else str(exc))


@app.command()
def metrics(
    start: FromOpt,
    end: ToOpt,
    group_by: GroupOpt = GroupBy.service,
    fmt: FormatOpt = Format.table,
    service: ServiceOpt = None,
    team: TeamOpt = None,
    environment: EnvOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """The five DORA metrics, their tiers and data-quality counts for a period.

    Example: dora metrics --from 2026-01-01 --to 2026-03-31 --group-by team --format json
    Example: dora metrics --from 2026-06-22 --to 2026-06-28 --as-of 41   (a lake's snapshot 41)
    """
    from warehouse.metrics import compute, flat, to_json

    scope = scope_of(start, end, group_by, service, team, environment)
    with reading(as_of) as con:
        groups = compute(con, scope, state.config.metrics.tiers)
    emit(flat(groups), fmt, to_json(scope, groups), table=_metrics_table(groups, scope), width=150)


def _metrics_table(groups: list[dict[str, Any]], scope: Scope) -> Table:
    from rich.table import Table

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
            "unattributed_incidents, outside_paths (the commits a path-filtered "
            "service's deployments reached but did not ship: outside its paths)"
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
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="only the rows of this deployment_id")
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """The rows behind a number: deployments, changes or incidents, with the signal behind each failure.

    Example: dora explain change_failure_rate --group checkout --from 2026-03-02 --to 2026-03-15
    Example: dora explain outside_paths --deployment web-3 --from 2026-03-01 --to 2026-03-31
    """
    from warehouse.metrics import EXPLAIN
    from warehouse.metrics import explain as explain_rows

    if metric not in EXPLAIN:
        fail(f"unknown metric {metric!r}; one of: {', '.join(EXPLAIN)}")
    scope = scope_of(start, end, group_by, service, team, environment)
    with reading(as_of) as con:
        frame = explain_rows(con, metric, scope, group, deployment)
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
    timeout: Annotated[
        float | None, typer.Option(help="seconds before the query is interrupted  [default: 30]")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="rows of the result at most  [default: 100000]")
    ] = None,
    max_mb: Annotated[
        int | None, typer.Option("--max-mb", help="MB of result data at most  [default: 64]")
    ] = None,
) -> None:
    """Ad-hoc, read-only SQL on the warehouse: no writes, no files, no extensions, no server paths.

    Each query runs in a process of its own, limited in time, memory and result size; a result cut at a
    limit says so on stderr. Example: dora sql "select service, count(*) from marts.deployments group by all"
    """
    import math
    from typing import NoReturn

    from rich.table import Table
    from rich.text import Text

    from doralytics.cli.common import err
    from warehouse.sandbox import MB, SandboxError, run_query

    def refuse(message: str) -> NoReturn:
        # Not fail(): its markup would read brackets of the user's SQL in the message ("[/x]") as tags.
        err.print(Text.assemble(("error:", "red"), " ", message), highlight=False, soft_wrap=True)
        raise typer.Exit(2)

    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        refuse(f"--timeout: expected a positive number of seconds, got {timeout:g}")
    for option, value in (("--max-rows", max_rows), ("--max-mb", max_mb)):
        if value is not None and value < 1:
            refuse(f"{option}: expected a whole number of at least 1, got {value}")
    try:
        frame = run_query(
            state.warehouse,
            query,
            timeout_seconds=timeout,
            max_rows=max_rows,
            max_bytes=max_mb * MB if max_mb is not None else None,
        )
    except SandboxError as exc:
        refuse(str(exc))
    rows = records(frame)
    table = None
    if fmt is Format.table and rows:
        # Text cells: a value such as "[/x]" is data, not markup.
        table = Table(show_lines=False)
        for column in rows[0]:
            table.add_column(Text(column), overflow="fold")
        for row in rows:
            table.add_row(*(Text(human(value)) for value in row.values()))
    emit(rows, fmt, table=table)
    if frame.attrs.get("note"):
        note(f"{frame.attrs['note']}: --max-rows and --max-mb raise the limits")
