"""`dora transform`: rebuild the marts from the core tables (METRICS.md), in one transaction."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

import duckdb

from doralytics.config import MetricsSettings
from warehouse.db import read_sql, set_meta
from warehouse.walk import walk

log = logging.getLogger(__name__)

# Built in this order; each reads the ones before it. deployment_reach comes from the walk.
MARTS_BEFORE_WALK = ("prod_deployments",)
MARTS_AFTER_WALK = ("commit_changes", "incident_attribution", "changes", "deployments")
MARTS = (*MARTS_BEFORE_WALK, "deployment_reach", *MARTS_AFTER_WALK)


def set_variables(con: duckdb.DuckDBPyConnection, settings: MetricsSettings) -> None:
    """Expose the [metrics] settings to the SQL files as DuckDB variables (getvariable)."""
    values = {
        "production_environments": settings.production_environments,
        "history_start": settings.history_start,
        "lead_time_start": settings.lead_time_start,
        "attribution_window_hours": float(settings.attribution_window_hours),
        "hotfix_labels": [label.lower() for label in settings.hotfix_labels],
        "hotfix_branch": settings.hotfix_branch,
        "hotfix_title": settings.hotfix_title,
    }
    for name, value in values.items():
        if value is None:
            con.execute(f"set variable {name} = null")
        elif isinstance(value, list):
            con.execute(f"set variable {name} = ?::varchar[]", [value])
        else:
            con.execute(f"set variable {name} = ?", [value])


def run(con: duckdb.DuckDBPyConnection, settings: MetricsSettings) -> dict[str, float]:
    """Rebuild every mart. Returns seconds per step (logged with DORA_PROFILE=1) and, under
    "walked_deployments", how many deployments the commit-graph walk visited."""
    timings: dict[str, float] = {}
    set_variables(con, settings)
    con.execute("begin")
    try:
        for name in MARTS:
            started = time.perf_counter()
            if name == "deployment_reach":
                walked = walk(con)
            else:
                con.execute(f"create or replace table marts.{name} as {read_sql(f'marts/{name}.sql')}")
            timings[name] = time.perf_counter() - started
        set_meta(con, "last_transform_at", dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat())
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    if os.environ.get("DORA_PROFILE"):
        for name, seconds in timings.items():
            log.warning("transform %-22s %7.2f s", name, seconds)
    return {**timings, "walked_deployments": walked}
