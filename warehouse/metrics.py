"""The one query API over the marts: metrics per group for a period, tiers, and the rows behind a number.

The dashboard, the reports and the command line all read through here.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from warehouse.db import WarehouseError, one, read_sql, scalar
from warehouse.metric_settings import TIER_NAMES, Tiers

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


def _transformed(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the marts exist: a fresh warehouse has none until the first transform."""
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables"
            " where table_schema = 'marts' and table_name = 'deployments'",
        )
    )


def _bind(con: duckdb.DuckDBPyConnection, scope: Scope, bucket: str | None = None) -> None:
    """Set the scope as DuckDB variables and build _scope, which every query here joins; `bucket` (week,
    day, or None: the whole period) is what bucket_of uses. The first time on a connection, define the
    macros and views of metrics/period.sql and the view _buckets (metrics/buckets.sql): they read the
    variables and _scope when queried, so they serve every later scope."""
    if not _transformed(con):
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
    con.execute("set variable bucket = ?::varchar", [bucket])
    for name in ("services", "teams", "environments"):
        chosen = getattr(scope, name)
        if chosen is None:
            con.execute(f"set variable {name} = null")
        else:
            con.execute(f"set variable {name} = ?::varchar[]", [list(chosen)])
    con.execute(f"create or replace temp table _scope as {read_sql('metrics/scope.sql')}")
    if not scalar(con, "select count(*) from duckdb_views() where temporary and view_name = '_buckets'"):
        con.execute(read_sql("metrics/period.sql"))
        con.execute(f"create temp view _buckets as {read_sql('metrics/buckets.sql')}")


def compute(con: duckdb.DuckDBPyConnection, scope: Scope, tiers: Tiers | None = None) -> list[dict]:
    """One dict per group, in the JSON shape of `dora metrics` (counts as int, null as None, tiers nested).

    The deployment and change metrics are metrics/buckets.sql with the whole period as its one bucket.
    """
    _bind(con, scope)
    result = con.execute(read_sql("metrics/metrics.sql"))
    columns = [d[0] for d in result.description]
    groups = []
    for values in result.fetchall():
        row = {k: _clean(k, v) for k, v in zip(columns, values, strict=True)}
        row["tiers"] = tier_all(row, scope.days, tiers or Tiers())
        groups.append(row)
    return groups


def _clean(key: str, value: Any) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if key in COUNT_FIELDS:
        return int(value)
    if key == "group":
        return str(value)
    return float(value)


@dataclass(frozen=True)
class TierRule:
    """How a metric is tiered (docs/metrics.md): the first of elite, high, medium whose threshold the value
    meets, otherwise low."""

    field: str  # the field of compute() that is tiered
    higher_is_better: bool
    # whether a value equal to a threshold meets it
    inclusive: bool


# Deployment frequency: elite and high test deploy_days_per_week_median; medium tests deployment days per
# 30 days (see tier_deployment_frequency).
TIER_RULES = {
    "deployment_frequency": TierRule("deploy_days_per_week_median", higher_is_better=True, inclusive=True),
    "lead_time": TierRule("lead_time_median_hours", higher_is_better=False, inclusive=False),
    "change_failure_rate": TierRule("change_failure_rate", higher_is_better=False, inclusive=True),
    "recovery_time": TierRule("recovery_time_median_hours", higher_is_better=False, inclusive=False),
}


def _meets(rule: TierRule, value: float, threshold: float) -> bool:
    if rule.higher_is_better:
        return value >= threshold if rule.inclusive else value > threshold
    return value <= threshold if rule.inclusive else value < threshold


def _tier(metric: str, value: float | None, tiers: Tiers) -> str | None:
    if value is None:
        return None
    rule, thresholds = TIER_RULES[metric], getattr(tiers, metric)
    return next((name for name in TIER_NAMES if _meets(rule, value, thresholds[name])), "low")


def tier_all(row: dict, days: int, tiers: Tiers) -> dict[str, str | None]:
    """The tier of each metric of a compute() row over a period of `days` days."""
    return {
        metric: tier_deployment_frequency(
            row["deploy_days_per_week_median"], row["deployment_days"], days, tiers
        )
        if metric == "deployment_frequency"
        else _tier(metric, row[rule.field], tiers)
        for metric, rule in TIER_RULES.items()
    }


def tier_deployment_frequency(
    week_median: float | None, deployment_days: int, days: int, tiers: Tiers
) -> str | None:
    if week_median is None:
        return None
    tier = _tier("deployment_frequency", week_median, tiers)
    if tier in ("elite", "high"):
        return tier
    rule, medium = TIER_RULES["deployment_frequency"], tiers.deployment_frequency["medium"]
    return "medium" if _meets(rule, deployment_days * 30 / days, medium) else "low"


def tier_bands(metric: str, tiers: Tiers, days_per_bucket: int = 7) -> list[tuple[str, float, float]]:
    """(tier, low, high) for each tier of a metric, elite first, in the units of its per-bucket value
    (hours, rates; deployment frequency in deployment days per bucket of `days_per_bucket` days); empty
    for a metric without tiers. The edges are the thresholds tier_all() tests."""
    rule = TIER_RULES.get(metric)
    if rule is None:
        return []
    edges = [getattr(tiers, metric)[name] for name in TIER_NAMES]
    if metric == "deployment_frequency":
        edges[2] = edges[2] * days_per_bucket / 30  # the medium test is per 30 days
    bounds = [math.inf, *edges, 0.0] if rule.higher_is_better else [0.0, *edges, math.inf]
    names = (*TIER_NAMES, "low")
    return [(name, min(a, b), max(a, b)) for name, a, b in zip(names, bounds, bounds[1:], strict=False)]


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
    # path-filtered services: what each deployment reached but did not ship (computed, not a mart)
    "outside_paths": ("outside_paths", "finished_at", "true"),
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
    con: duckdb.DuckDBPyConnection,
    metric: str,
    scope: Scope,
    group: str | None = None,
    deployment: str | None = None,
) -> pd.DataFrame:
    """The rows a metric of `group` (a service, a team or 'all', per scope.group_by) rests on; with
    `deployment`, only the rows of that deployment."""
    if metric not in EXPLAIN:
        raise ValueError(f"unknown metric {metric!r}; one of: {', '.join(EXPLAIN)}")
    mart, time_column, condition = EXPLAIN[metric]
    _bind(con, scope)
    con.execute("set variable explain_group = ?", [group])
    con.execute("set variable explain_deployment = ?::varchar", [deployment])
    if mart == "outside_paths":
        return outside_paths(con)
    env_filter = "and in_environments(environment)" if mart != "incident_attribution" else ""
    sql = (
        f"select {EXPLAIN_COLUMNS[mart]} from marts.{mart} join _scope using (service) "
        f"where in_period({time_column}) "
        f"and (getvariable('explain_group') is null or grp = getvariable('explain_group')) "
        "and (getvariable('explain_deployment') is null "
        "or deployment_id = getvariable('explain_deployment')) "
        f"and {condition} {env_filter} order by {time_column}, 1"
    )
    return con.execute(sql).df()


def outside_paths(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """For the deployments of path-filtered services in the bound scope (and explain_group,
    explain_deployment): the commits each reached first but did not ship, being outside its paths. The
    walk computes what each reached twice, once ignoring paths; the difference is the answer."""
    from warehouse import walk  # pyarrow and the walk: only this explanation needs them

    con.execute(f"create or replace temp table _explain_pending as {read_sql('walk/explain_pending.sql')}")
    con.execute(f"create or replace temp table _explain_all as {walk.reached(con, '_explain_pending', True)}")
    con.execute(f"create or replace temp table _explain_in as {walk.reached(con, '_explain_pending')}")
    return con.execute(read_sql("walk/outside_paths.sql")).df()


# Series, catalog and health figures for the dashboard and reports (added for the dashboard, issue 3).
TREND_GRAINS = ("week", "day")
# The columns of metrics/buckets.sql that a trend leaves out (it never showed them).
PERIOD_ONLY = ("baseline_deployments", "unknown_sha_deployments", "lead_time_excluded")


def _bucketed(con: duckdb.DuckDBPyConnection, scope: Scope, grain: str | None, sql: str) -> pd.DataFrame:
    if grain is not None and grain not in TREND_GRAINS:
        raise ValueError(f"grain must be one of {', '.join(TREND_GRAINS)}, not {grain!r}")
    _bind(con, scope, grain)
    frame = con.execute(sql).df()
    if grain is None:
        return frame.drop(columns="bucket_start")
    frame["bucket_start"] = _dates(frame["bucket_start"])
    return frame


def trend(con: duckdb.DuckDBPyConnection, scope: Scope, grain: str = "week") -> pd.DataFrame:
    """The metrics per group and ISO week (or day) of the period, buckets clipped to it, empty ones kept.

    Columns: group, bucket_start, days (of the bucket inside the period), then the counts, medians and
    rates of compute() that make sense per bucket. The same SQL as compute() (metrics/buckets.sql), so
    explain() over a bucket's days gives the rows behind a point.
    """
    return _bucketed(con, scope, grain, "select * from _buckets").drop(columns=list(PERIOD_ONLY))


def ci_summary(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """CI runs per (service, pipeline) started in the period: runs, failures, failure rate, durations."""
    return _bucketed(con, scope, None, read_sql("metrics/ci.sql"))


def ci_trend(con: duckdb.DuckDBPyConnection, scope: Scope, grain: str = "week") -> pd.DataFrame:
    """CI runs per (service, pipeline, ISO week or day) started in the period."""
    return _bucketed(con, scope, grain, read_sql("metrics/ci.sql")).drop(columns="last_run_at")


def catalog(con: duckdb.DuckDBPyConnection) -> dict:
    """What the warehouse holds, for filters and first-run checks: services with their team and repo,
    production environments, the dates of the first and last production deployment, row counts."""
    services = con.execute(
        "select service, coalesce(team, 'unassigned') as team, repo from core.services order by service"
    ).df()
    environments, first, last, deployments = [], None, None, 0
    if _transformed(con):
        rows = con.execute("select distinct environment from marts.deployments order by 1").fetchall()
        environments = [r[0] for r in rows]
        first, last, deployments = one(
            con,
            "select cast(min(finished_at) as date), cast(max(finished_at) as date), count(*) "
            "from marts.deployments",
        ) or (None, None, 0)
    counts = {
        table: scalar(con, f"select count(*) from core.{table}")
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
