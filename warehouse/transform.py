"""`dora transform`: bring the marts up to date with the core tables (docs/metrics.md), in one transaction.

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
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import duckdb

from warehouse import walk
from warehouse.db import Where, get_meta, read_sql, retrying, set_meta, transaction, write
from warehouse.load import last_load_id
from warehouse.metric_settings import MetricsSettings, Tiers
from warehouse.schema import TABLE_BY_NAME

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incremental:
    """A mart derived again only for the keys that the rows written since the last transform can affect.

    sql/affected/<mart>.sql selects those keys into the temp table `affected`, which sql/marts/<mart>.sql
    reads; on a full rebuild `everything` fills it instead: every key, or no key for a mart whose SQL reads
    every row itself on a full rebuild (since_load_id -1: every row was written since). `keeps` names a
    temp table `_<name>` that sql/affected/<name>.sql fills from the mart's rows before they are derived
    again, for a later mart's affected SQL (skipped on a full rebuild, where every key is affected anyway).
    """

    mart: str
    key: tuple[str, ...]
    affected: str
    everything: str
    keeps: str | None = None


_COMMIT = TABLE_BY_NAME["commits"].key  # commit_changes has one row per commit of core.commits
# Derived in this order: each affected SQL reads the marts derived before it.
INCREMENTAL = (
    Incremental(
        "commit_changes",
        _COMMIT,
        "_affected_commits",
        f"select {', '.join(_COMMIT)} from core.commits limit 0",  # the SQL reads them all
        keeps="_changes_before",
    ),
    Incremental(
        "deployment_stats",
        ("deployment_id",),
        "_affected_deployments",
        "select deployment_id from marts.prod_deployments",
    ),
    Incremental(
        "changes",
        ("change_id",),
        "_affected_changes",
        "select change_id from marts.commit_changes limit 0",  # the SQL reads them all
    ),
)
# The marts rebuilt whole, before and after the walk and the incremental ones.
BEFORE_WALK = ("prod_deployments",)
AFTER_INCREMENTAL = ("incident_attribution", "deployments")
MARTS = (*BEFORE_WALK, "deployment_reach", *(m.mart for m in INCREMENTAL), *AFTER_INCREMENTAL)


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
    digest = hashlib.sha256(repr(settings.model_copy(update={"tiers": Tiers()})).encode())
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
    with transaction(con):
        stamp = fingerprint(settings)
        last_load = last_load_id(con)
        seen = get_meta(con, "transformed_load_id")
        full = full or seen is None or get_meta(con, "transform_fingerprint") != stamp
        con.execute("set variable since_load_id = ?", [-1 if full or seen is None else int(seen)])
        if full:
            walk.clear(con)

        for mart in BEFORE_WALK:
            timings[mart] = _timed(_build, con, mart)
        started = time.perf_counter()
        walked = walk.walk(con)
        timings["deployment_reach"] = time.perf_counter() - started
        for incremental in INCREMENTAL:
            timings[incremental.mart] = _timed(_derive, con, incremental, full)
        for mart in AFTER_INCREMENTAL:
            timings[mart] = _timed(_build, con, mart)

        set_meta(con, "transformed_load_id", str(last_load))
        set_meta(con, "transform_fingerprint", stamp)
        set_meta(con, "last_transform_at", dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat())
    if os.environ.get("DORA_PROFILE"):
        log.warning(
            "transform (%s): %s",
            "full" if full else "incremental",
            ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()),
        )
    return {**timings, "walked_deployments": walked, "full": float(full)}


def run_in(where: Where, settings: MetricsSettings, full: bool = False) -> dict[str, float]:
    """`run` in a write of its own: on a lake, run again whole when another writer's commit conflicts
    with it (it then sees every write committed before it)."""

    def attempt() -> dict[str, float]:
        with write(where) as con:
            return run(con, settings, full)

    return retrying(attempt, "transforming")


def _timed(step: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    step(*args)
    return time.perf_counter() - started


def _build(con: duckdb.DuckDBPyConnection, mart: str) -> None:
    con.execute(f"create or replace table marts.{mart} as {read_sql(f'marts/{mart}.sql')}")


def _derive(con: duckdb.DuckDBPyConnection, mart: Incremental, full: bool) -> None:
    """Replace the rows of an incremental mart whose keys are affected (all of it when full)."""
    affected = mart.everything if full else read_sql(f"affected/{mart.mart}.sql")
    con.execute(f"create or replace temp table {mart.affected} as {affected}")
    sql = read_sql(f"marts/{mart.mart}.sql")
    if full:
        con.execute(f"create or replace table marts.{mart.mart} as {sql}")
        return
    if mart.keeps is not None:
        keep = read_sql(f"affected/{mart.keeps.removeprefix('_')}.sql")
        con.execute(f"create or replace temp table {mart.keeps} as {keep}")
    match = " and ".join(f"m.{k} = a.{k}" for k in mart.key)
    con.execute(f"delete from marts.{mart.mart} as m using {mart.affected} as a where {match}")
    con.execute(f"insert into marts.{mart.mart} by name {sql}")
