"""`dora transform`: bring the marts up to date with the core tables (METRICS.md), in one transaction.

Incremental: every core row carries the id of the load that wrote it, and the transform remembers the
last load id it saw. The commit-level marts (the walk, commit_changes, deployment_stats, changes: the
ones that grow with history) are derived again only for what the rows written since then can affect;
the deployment- and incident-level marts are small enough to rebuild whole. A change of settings or of
the SQL itself (a new version) rebuilds everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from dataclasses import replace
from importlib import resources

import duckdb

from doralytics.config import MetricsSettings, Tiers
from warehouse import walk
from warehouse.db import get_meta, read_sql, set_meta
from warehouse.load import last_load_id

log = logging.getLogger(__name__)

# (mart, key columns, the temp table naming the keys to derive again). Built in this order.
INCREMENTAL = (
    ("commit_changes", ("repo", "sha"), "_affected_commits"),
    ("deployment_stats", ("deployment_id",), "_affected_deployments"),
    ("changes", ("change_id",), "_affected_changes"),
)
MARTS = (
    "prod_deployments",
    "deployment_reach",
    *(m for m, _, _ in INCREMENTAL),
    "incident_attribution",
    "deployments",
)


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


def fingerprint(settings: MetricsSettings) -> str:
    """What the marts were derived with: the settings (tiers aside: they are applied when metrics are read)
    and the text of every SQL file."""
    digest = hashlib.sha256(repr(replace(settings, tiers=Tiers())).encode())
    sql = resources.files("warehouse") / "sql"
    for folder in ("walk", "affected", "marts"):
        for entry in sorted((sql / folder).iterdir(), key=lambda e: e.name):
            digest.update(entry.name.encode() + entry.read_bytes())
    return digest.hexdigest()


def run(con: duckdb.DuckDBPyConnection, settings: MetricsSettings, full: bool = False) -> dict[str, float]:
    """Bring every mart up to date. Returns seconds per step (logged with DORA_PROFILE=1), and how many
    deployments the commit-graph walk visited under "walked_deployments"."""
    timings: dict[str, float] = {}
    set_variables(con, settings)
    con.execute("begin")
    try:
        stamp = fingerprint(settings)
        last_load = last_load_id(con)
        seen = get_meta(con, "transformed_load_id")
        full = full or seen is None or get_meta(con, "transform_fingerprint") != stamp
        con.execute("set variable since_load_id = ?", [-1 if full else int(seen)])
        if full:
            walk.clear(con)

        started = time.perf_counter()
        _build(con, "prod_deployments")
        timings["prod_deployments"] = time.perf_counter() - started

        started = time.perf_counter()
        walked = walk.walk(con)
        timings["deployment_reach"] = time.perf_counter() - started

        for mart, key, affected in INCREMENTAL:
            started = time.perf_counter()
            if full:
                _everything(con, affected)
            else:
                con.execute(f"create or replace temp table {affected} as {read_sql(f'affected/{mart}.sql')}")
            if mart == "commit_changes" and not full:
                # the changes these commits belonged to before: they may have lost them
                con.execute(
                    "create or replace temp table _changes_before as select change_id"
                    " from marts.commit_changes semi join _affected_commits using (repo, sha)"
                )
            _derive(con, mart, key, affected, full)
            timings[mart] = time.perf_counter() - started

        for mart in ("incident_attribution", "deployments"):
            started = time.perf_counter()
            _build(con, mart)
            timings[mart] = time.perf_counter() - started

        set_meta(con, "transformed_load_id", str(last_load))
        set_meta(con, "transform_fingerprint", stamp)
        set_meta(con, "last_transform_at", dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat())
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    if os.environ.get("DORA_PROFILE"):
        log.warning(
            "transform (%s): %s",
            "full" if full else "incremental",
            ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()),
        )
    return {**timings, "walked_deployments": walked, "full": float(full)}


def _build(con: duckdb.DuckDBPyConnection, mart: str) -> None:
    con.execute(f"create or replace table marts.{mart} as {read_sql(f'marts/{mart}.sql')}")


def _everything(con: duckdb.DuckDBPyConnection, affected: str) -> None:
    """On a full rebuild every key is affected."""
    source = {
        "_affected_commits": "select repo, sha from core.commits",
        "_affected_deployments": "select deployment_id from marts.prod_deployments",
        "_affected_changes": "select distinct change_id from marts.commit_changes where change_id is not null",  # noqa: E501
    }[affected]
    con.execute(f"create or replace temp table {affected} as {source}")


def _derive(
    con: duckdb.DuckDBPyConnection, mart: str, key: tuple[str, ...], affected: str, full: bool
) -> None:
    """Replace the rows of an incremental mart whose keys are in `affected` (all of it when full)."""
    sql = read_sql(f"marts/{mart}.sql")
    if full:
        con.execute(f"create or replace table marts.{mart} as {sql}")
        return
    match = " and ".join(f"m.{k} = a.{k}" for k in key)
    con.execute(f"delete from marts.{mart} as m using {affected} as a where {match}")
    if mart == "deployment_stats":
        # deployments that are gone (their environment was walked again without them)
        con.execute(
            "delete from marts.deployment_stats where deployment_id not in "
            "(select deployment_id from marts.prod_deployments)"
        )
    con.execute(f"insert into marts.{mart} by name {sql}")
