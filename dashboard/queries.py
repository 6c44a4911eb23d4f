"""Every read of the dashboard: the warehouse's metrics API behind st.cache_data.

Each cached function takes the warehouse path and its `version` (the last transform time) as arguments, so
a new sync or import changes the key and shows up without a restart. Connections are short-lived and
read-only, to the last published state of the warehouse: a writer works on a private copy that replaces
the file in one rename when it is done (warehouse/publish.py), so a page never waits for a sync; once it is
published the new version is read and everything recomputes. On a lake (DORA_WAREHOUSE a `ducklake:` address,
DORA_DATA_PATH its data path) each read sees the latest committed snapshot; the version is looked up again
every few seconds.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import settings as config_mod
from warehouse import address, db, metrics
from warehouse.metrics import Scope

CACHE_ENTRIES = 256
# How often the dashboard asks a lake for its latest snapshot (a file says so itself: a new file).
LAKE_POLL_SECONDS = 5


def warehouse_path() -> str:
    """The warehouse `dora dashboard` was started on (DORA_WAREHOUSE), else dora.toml's, else the default:
    a file's path, or a lake's address text (its data path in DORA_DATA_PATH, as `dora dashboard` sets)."""
    explicit = os.environ.get("DORA_WAREHOUSE")
    where = address.parse(explicit or settings().warehouse)
    return str(where.path if isinstance(where, address.FileAddress) else where)


def is_lake(path: str) -> bool:
    return path.startswith(address.LAKE_PREFIX)


def label(path: str) -> str:
    """The warehouse as the sidebar names it: a file's name, or the lake's catalog database."""
    if not is_lake(path):
        return Path(path).name
    found = re.search(r"(?:^|[\s:])dbname\s*=\s*'?([^\s']+)", path)
    return f"DuckLake {found.group(1)}" if found else "DuckLake"


@st.cache_resource(show_spinner=False)
def _settings(config_path: str | None) -> config_mod.Config:
    return config_mod.load(Path(config_path) if config_path else None)


def settings() -> config_mod.Config:
    return _settings(os.environ.get("DORA_CONFIG"))


def _stamp(path: str) -> tuple[int, int, int] | None:
    """Changes whenever a writer publishes: every publish is a new file renamed onto the path. A lake has
    no file that changes: its latest snapshot is read again at most every LAKE_POLL_SECONDS."""
    if is_lake(path):
        return (0, int(time.time() // LAKE_POLL_SECONDS), 0)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


@st.cache_data(max_entries=16, show_spinner=False)
def _version_at(path: str, stamp: tuple | None) -> tuple[str, str | None, str]:
    # The published file (a lake's latest committed snapshot) is never held by a writer: never blocked.
    with db.read(path) as con:
        return db.get_meta(con, "last_transform_at") or "never", db.stale(con), db.snapshot(con)


class Version(str):
    """The warehouse version (its last transform time). `busy` is kept for the pages that still ask: a
    writer never blocks a reader now. `stale` says why the marts lag the core tables, with the fix.
    `snapshot` names the state read (db.snapshot: on a lake, the snapshot id and its time)."""

    busy: bool = False
    stale: str | None = None
    snapshot: str | None = None


def version(path: str) -> Version:
    if not is_lake(path) and not os.path.exists(path):
        with db.read(path):  # creates an empty, current warehouse: the first-run page explains what next
            pass
    stamp, lag, snapshot = _version_at(path, _stamp(path))
    found = Version(stamp)
    found.stale = lag
    found.snapshot = snapshot
    return found


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def catalog(path: str, version: str) -> dict:
    with db.read(path) as con:
        return metrics.catalog(con)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def compute(path: str, version: str, scope: Scope) -> list[dict]:
    with db.read(path) as con:
        return metrics.compute(con, scope, settings().metrics.tiers)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def trend(path: str, version: str, scope: Scope, grain: str = "week") -> pd.DataFrame:
    with db.read(path) as con:
        return metrics.trend(con, scope, grain)


# The rows behind a number can be large (200,000 changes at the benchmark's scale, with list columns):
# st.cache_data would unpickle a copy on every run (0.8 s for 60,000 deployments), so these frames are
# shared instead, keyed on the same version. Callers treat them as read-only (filter, sort, head: copies).
@st.cache_resource(max_entries=32, ttl=3600, show_spinner=False)
def explain(path: str, version: str, metric: str, scope: Scope, group: str | None = None) -> pd.DataFrame:
    with db.read(path) as con:
        return metrics.explain(con, metric, scope, group)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def ci_summary(path: str, version: str, scope: Scope) -> pd.DataFrame:
    with db.read(path) as con:
        return metrics.ci_summary(con, scope)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def ci_trend(path: str, version: str, scope: Scope, grain: str = "week") -> pd.DataFrame:
    with db.read(path) as con:
        return metrics.ci_trend(con, scope, grain)


@st.cache_data(max_entries=CACHE_ENTRIES, show_spinner=False)
def sync_status(path: str, version: str) -> pd.DataFrame:
    with db.read(path) as con:
        return metrics.sync_status(con)


def schema_listing(path: str, version: str) -> pd.DataFrame:
    from warehouse.sandbox import schema_listing

    return _schema_listing(path, version, schema_listing)


@st.cache_data(max_entries=8, show_spinner=False)
def _schema_listing(path: str, version: str, _reader: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    return _reader(path)


def run_sql(path: str, sql: str, max_rows: int) -> pd.DataFrame:
    """The SQL page's query, never cached: the sandbox decides what is allowed (SandboxError otherwise)."""
    from warehouse.sandbox import run_query

    return run_query(path, sql, timeout_seconds=30.0, max_rows=max_rows)
