"""The one query API over the marts: metrics per group for a period, tiers, and the rows behind a number.

The dashboard, the reports and the command line all read through here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from doralytics.config import Tiers
from warehouse.db import WarehouseError, read_sql

if TYPE_CHECKING:  # pandas costs half a second to import: `dora metrics` does without it
    import pandas as pd

GROUP_BYS = ("service", "team", "org")
COUNT_FIELDS = (
    "deployments",
    "deployment_days",
    "baseline_deployments",
    "unknown_sha_deployments",
    "changes",
    "lead_time_excluded",
    "failed_deployments",
    "unrecovered_failures",
    "unplanned_deployments",
    "unattributed_incidents",
)
TIER_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")


@dataclass(frozen=True)
class Scope:
    """What a query covers: the period [start, end] in whole UTC days and the services in it."""

    start: dt.date
    end: dt.date
    group_by: str = "service"
    services: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    environments: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError(f"the period starts ({self.start}) after it ends ({self.end})")
        if self.group_by not in GROUP_BYS:
            raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, not {self.group_by!r}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _bind(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    """Set the scope as DuckDB variables and build _scope, which every query here joins."""
    transformed = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'marts' and table_name = 'deployments'"
    ).fetchall()[0][0]
    if not transformed:
        raise WarehouseError(
            "the warehouse has no metrics yet: run `dora transform` (import, collect and demo do)"
        )
    values = {
        "period_start": dt.datetime.combine(scope.start, dt.time()),
        "period_end": dt.datetime.combine(scope.end + dt.timedelta(days=1), dt.time()),
        "period_days": float(scope.days),
        "group_by": scope.group_by,
    }
    for name, value in values.items():
        con.execute(f"set variable {name} = ?", [value])
    for name in ("services", "teams", "environments"):
        chosen = getattr(scope, name)
        if chosen is None:
            con.execute(f"set variable {name} = null")
        else:
            con.execute(f"set variable {name} = ?::varchar[]", [list(chosen)])
    con.execute(f"create or replace temp table _scope as {read_sql('metrics/scope.sql')}")


def compute(con: duckdb.DuckDBPyConnection, scope: Scope, tiers: Tiers | None = None) -> list[dict]:
    """One dict per group, in BUNDLE.md's JSON shape (counts as int, null as None, tiers nested)."""
    _bind(con, scope)
    result = con.execute(read_sql("metrics/metrics.sql"))
    columns = [d[0] for d in result.description]
    groups = []
    for values in result.fetchall():
        row = {k: _clean(k, v) for k, v in zip(columns, values, strict=True)}
        row["tiers"] = tier_all(row, scope.days, tiers or Tiers())
        groups.append(row)
    return groups


def _clean(key: str, value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if key in COUNT_FIELDS:
        return int(value)
    if key == "group":
        return str(value)
    return float(value)


def tier_all(row: dict, days: int, tiers: Tiers) -> dict[str, str | None]:
    return {
        "deployment_frequency": tier_deployment_frequency(
            row["deploy_days_per_week_median"], row["deployment_days"], days, tiers
        ),
        "lead_time": _tier_below(row["lead_time_median_hours"], tiers.lead_time),
        "change_failure_rate": _tier_at_most(row["change_failure_rate"], tiers.change_failure_rate),
        "recovery_time": _tier_below(row["recovery_time_median_hours"], tiers.recovery_time),
    }


def tier_deployment_frequency(
    week_median: float | None, deployment_days: int, days: int, tiers: Tiers
) -> str | None:
    if week_median is None:
        return None
    t = tiers.deployment_frequency
    if week_median >= t["elite"]:
        return "elite"
    if week_median >= t["high"]:
        return "high"
    if deployment_days * 30 / days >= t["medium"]:
        return "medium"
    return "low"


def _tier_below(value: float | None, thresholds: dict[str, float]) -> str | None:
    if value is None:
        return None
    return next((name for name in ("elite", "high", "medium") if value < thresholds[name]), "low")


def _tier_at_most(value: float | None, thresholds: dict[str, float]) -> str | None:
    if value is None:
        return None
    return next((name for name in ("elite", "high", "medium") if value <= thresholds[name]), "low")


def to_json(scope: Scope, groups: list[dict]) -> dict:
    return {
        "from": scope.start.isoformat(),
        "to": scope.end.isoformat(),
        "group_by": scope.group_by,
        "groups": groups,
    }


def flat(groups: list[dict]) -> list[dict]:
    """Rows for tables and CSV: tiers flattened as tier_<metric>."""
    out = []
    for group in groups:
        row = {k: v for k, v in group.items() if k != "tiers"}
        row.update({f"tier_{k}": v for k, v in group["tiers"].items()})
        out.append(row)
    return out


# The rows behind each number: which mart, which rows of it are in the period, and the columns to show.
EXPLAIN = {
    "deployments": ("deployments", "finished_at", "true"),
    "deployment_frequency": ("deployments", "finished_at", "true"),
    "lead_time": ("changes", "finished_at", "true"),
    "changes": ("changes", "finished_at", "true"),
    "change_failure_rate": ("deployments", "finished_at", "is_failed"),
    "failed_deployments": ("deployments", "finished_at", "is_failed"),
    "recovery_time": ("deployments", "finished_at", "is_failed"),
    "rework_rate": ("deployments", "finished_at", "is_unplanned"),
    "unplanned_deployments": ("deployments", "finished_at", "is_unplanned"),
    "incident_mttr": ("incident_attribution", "resolved_at", "resolved_at is not null"),
    "incidents": ("incident_attribution", "created_at", "true"),
    "unattributed_incidents": ("incident_attribution", "created_at", "is_unattributed"),
}
EXPLAIN_COLUMNS = {
    "deployments": (
        "deployment_id, service, environment, commit_sha, finished_at, is_baseline, is_unknown_sha, "
        "shipped_commits, is_failed, failure_signals, incident_ids, remediated_by, recovered_at, "
        "recovery_hours, is_unrecovered, is_unplanned, unplanned_reasons"
    ),
    "changes": (
        "service, change_id, pr_number, commit_sha, title, author, deployment_id, environment, started_at, "
        "finished_at, lead_time_hours, is_excluded, excluded_reason, coding_hours, pickup_hours, "
        "review_hours, deploy_hours"
    ),
    "incident_attribution": (
        "incident_id, service, title, severity, created_at, resolved_at, deployment_id, attributed_by, "
        "is_unattributed, fix_deployment_id, time_to_resolve_hours"
    ),
}


def explain(
    con: duckdb.DuckDBPyConnection, metric: str, scope: Scope, group: str | None = None
) -> pd.DataFrame:
    """The rows a metric of `group` (a service, a team or 'all', per scope.group_by) rests on."""
    if metric not in EXPLAIN:
        raise ValueError(f"unknown metric {metric!r}; one of: {', '.join(EXPLAIN)}")
    mart, time_column, condition = EXPLAIN[metric]
    _bind(con, scope)
    con.execute("set variable explain_group = ?", [group])
    env_filter = (
        "and (getvariable('environments') is null or list_contains(getvariable('environments'), environment))"
        if mart != "incident_attribution"
        else ""
    )
    sql = (
        f"select {EXPLAIN_COLUMNS[mart]} from marts.{mart} join _scope using (service) "
        f"where {time_column} >= getvariable('period_start') and {time_column} < getvariable('period_end') "
        f"and (getvariable('explain_group') is null or grp = getvariable('explain_group')) "
        f"and {condition} {env_filter} order by {time_column}, 1"
    )
    return con.execute(sql).df()


# Series, catalog and health figures for the dashboard and reports (added for the dashboard, issue 3).
TREND_GRAINS = ("week", "day")


def trend(con: duckdb.DuckDBPyConnection, scope: Scope, grain: str = "week") -> pd.DataFrame:
    """The metrics per group and ISO week (or day) of the period, buckets clipped to it, empty ones kept.

    Columns: group, bucket_start, days (of the bucket inside the period), then the counts, medians and
    rates of compute() that make sense per bucket. Rows are assigned to buckets as compute() assigns
    them to periods, so explain() over a bucket's days gives the rows behind a point.
    """
    if grain not in TREND_GRAINS:
        raise ValueError(f"grain must be one of {', '.join(TREND_GRAINS)}, not {grain!r}")
    _bind(con, scope)
    con.execute("set variable trend_grain = ?", [grain])
    frame = con.execute(read_sql("metrics/trend.sql")).df()
    frame["bucket_start"] = _dates(frame["bucket_start"])
    return frame


def ci_summary(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """CI runs per (service, pipeline) started in the period: runs, failures, failure rate, durations."""
    _bind(con, scope)
    return con.execute(read_sql("metrics/ci_summary.sql")).df()


def ci_trend(con: duckdb.DuckDBPyConnection, scope: Scope, grain: str = "week") -> pd.DataFrame:
    """CI runs per (service, pipeline, ISO week or day) started in the period."""
    if grain not in TREND_GRAINS:
        raise ValueError(f"grain must be one of {', '.join(TREND_GRAINS)}, not {grain!r}")
    _bind(con, scope)
    con.execute("set variable trend_grain = ?", [grain])
    frame = con.execute(read_sql("metrics/ci_trend.sql")).df()
    frame["bucket_start"] = _dates(frame["bucket_start"])
    return frame


def catalog(con: duckdb.DuckDBPyConnection) -> dict:
    """What the warehouse holds, for filters and first-run checks: services with their team and repo,
    production environments, the dates of the first and last production deployment, row counts."""
    services = con.execute(
        "select service, coalesce(team, 'unassigned') as team, repo from core.services order by service"
    ).df()
    transformed = con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'marts' and table_name = 'deployments'"
    ).fetchone()[0]
    environments, first, last, deployments = [], None, None, 0
    if transformed:  # a fresh warehouse has no marts until the first transform
        rows = con.execute("select distinct environment from marts.deployments order by 1").fetchall()
        environments = [r[0] for r in rows]
        first, last, deployments = con.execute(
            "select cast(min(finished_at) as date), cast(max(finished_at) as date), count(*) "
            "from marts.deployments"
        ).fetchone()
    counts = {
        table: con.execute(f"select count(*) from core.{table}").fetchone()[0]
        for table in ("deployments", "commits", "pull_requests", "incidents", "pipeline_runs")
    }
    return {
        "services": services,
        "environments": environments,
        "first_deployment": first,
        "last_deployment": last,
        "production_deployments": int(deployments),
        "counts": counts,
    }


def sync_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The last sync or import per (source, scope): when it ran, how it ended, the rows it loaded."""
    return con.execute(
        """
        select source, scope, started_at, finished_at, status, rows_loaded,
            count(*) over (partition by source, scope) as runs
        from raw.sync_runs
        qualify row_number() over (partition by source, scope order by started_at desc) = 1
        order by source, scope
        """
    ).df()


def _dates(column: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_datetime(column).dt.date
