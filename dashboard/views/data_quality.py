"""Data quality: the counts that say how far to trust a number, and when each source last synced."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import format as fmt
from dashboard import queries, ui
from dashboard.filters import Filters
from warehouse import db
from warehouse.db import read_sql

ctx = ui.context()
ui.header("Data quality", ctx)
by = ctx.filters.group_by
groups = ctx.compute(by)
total = ctx.pooled()
FIGURES = {
    "baseline_deployments": (
        "Baseline deployments",
        "The first deployment of a service to an environment ships nothing: what it "
        "reached was deployed before the history starts.",
    ),
    "unknown_sha_deployments": (
        "Unknown commits",
        "The deployed commit is not in the warehouse: counted as a deployment, ships no changes.",
    ),
    "lead_time_excluded": (
        "Excluded from lead time",
        "Negative lead time (clock skew, rewritten history) or unknown start.",
    ),
    "unattributed_incidents": (
        "Unattributed incidents",
        "No deployment link, no matching commit, and no deployment in the attribution "
        "window before it: not counted as a failure.",
    ),
    "unrecovered_failures": (
        "Still failing",
        "An attributed incident is still open: left out of the recovery median.",
    ),
}


def out_of(key: str, g: dict) -> str:
    """What a figure is a part of, in words."""
    if key == "lead_time_excluded":
        return "of " + fmt.count(g["changes"] + g[key], "change")
    if key == "unrecovered_failures":
        return "of " + fmt.count(g["failed_deployments"], "failed deployment")
    if key == "unattributed_incidents":
        return "opened in the period"
    return "of " + fmt.count(g["deployments"], "deployment")


tiles = st.columns(len(FIGURES))
for column, (key, (label, meaning)) in zip(tiles, FIGURES.items(), strict=True):
    with column, st.container(border=True):
        st.metric(label, f"{total[key]:,}" if total else "0", help=meaning)
        if total:
            st.caption(out_of(key, total))

st.subheader("Per " + ("team" if by == "team" else "service"))
shown = pd.DataFrame(
    [
        {
            ("Team" if by == "team" else "Service"): g["group"],
            "Deployments": g["deployments"],
            "Changes": g["changes"],
            **{label: g[key] for key, (label, _) in FIGURES.items()},
        }
        for g in groups
    ]
)
ui.table(shown, f"data-quality-by-{by}", key="dq-table")

st.subheader("The rows behind these counts")
DEPLOYMENT_COLUMNS = [*ui.DEPLOYMENT_COLUMNS, "shipped_commits"]
ROWS = {
    "unattributed_incidents": (
        "incidents",
        None,
        ["incident_id", "service", "title", "severity", "created_at", "resolved_at", "time_to_resolve_hours"],
    ),
    "baseline_deployments": ("deployments", "is_baseline", DEPLOYMENT_COLUMNS),
    "unknown_sha_deployments": ("deployments", "is_unknown_sha", DEPLOYMENT_COLUMNS),
    "lead_time_excluded": (
        "lead_time",
        "is_excluded",
        [
            "service",
            "change_id",
            "title",
            "author",
            "started_at",
            "finished_at",
            "lead_time_hours",
            "excluded_reason",
        ],
    ),
    "unrecovered_failures": (
        "recovery_time",
        "is_unrecovered",
        ["service", "deployment_id", "environment", "finished_at", "failure_signals", "incident_ids"],
    ),
}
which = (
    st.segmented_control(
        "Show",
        list(ROWS),
        format_func=lambda k: FIGURES[k][0],
        default="unattributed_incidents",
        key="dq-rows",
    )
    or "unattributed_incidents"
)
metric, flag, columns = ROWS[which]
rows = ctx.explain("unattributed_incidents" if metric == "incidents" else metric)
if flag:
    rows = rows[rows[flag].fillna(False).astype(bool)]
ui.rows_table(rows, columns, which.replace("_", "-"), key="dq-rows-table")


@st.cache_data(max_entries=64, show_spinner=False)
def file_coverage(path: str, version: str, filters: Filters, catalog_services: pd.DataFrame) -> pd.DataFrame:
    """Per repository with a path-filtered service among those shown: its commits of the period and how
    many have no file data (warehouse/sql/quality/commit_files.sql)."""
    shown = catalog_services
    if filters.services:
        shown = shown[shown["service"].isin(filters.services)]
    elif filters.teams:
        shown = shown[shown["team"].isin(filters.teams)]
    names = None if not (filters.services or filters.teams) else list(shown["service"])
    start = dt.datetime.combine(filters.start, dt.time())
    end = dt.datetime.combine(filters.end + dt.timedelta(days=1), dt.time())
    with db.read(path) as con:
        sql = read_sql("quality/commit_files.sql")
        return con.execute(sql, {"start": start, "end": end, "services": names}).df()


coverage = file_coverage(ctx.path, ctx.version, ctx.filters, ctx.catalog["services"])
if len(coverage):
    st.subheader("File data of path-filtered services")
    missing, commits = int(coverage["without_files"].sum()), int(coverage["commits"].sum())
    left, right = st.columns([1, 3])
    with left, st.container(border=True):
        st.metric(
            "Commits without file data",
            f"{missing:,}",
            help="A service with paths is told apart by the files its commits changed (commit_files). "
            "A commit without file data counts as a change of none of them: collect with file data "
            "(the git collector, or clone = true) or add commit_files.csv to the bundle.",
        )
        st.caption(
            f"of {fmt.count(commits, 'commit')} committed in the period, merges aside, in "
            f"{fmt.count(len(coverage), 'repository', 'repositories')} with path-filtered services"
        )
    with right:
        ui.table(
            pd.DataFrame(
                {
                    "Repository": coverage["repo"],
                    "Path-filtered services": coverage["path_filtered_services"],
                    "Commits in the period": coverage["commits"],
                    "Without file data": coverage["without_files"],
                }
            ),
            "commits-without-file-data",
            key="dq-files",
        )

st.subheader("Last sync per source")
syncs = queries.sync_status(ctx.path, ctx.version)
if len(syncs):
    shown = pd.DataFrame(
        {
            "Source": syncs["source"],
            "Scope": syncs["scope"],
            "Last started (UTC)": syncs["started_at"].map(fmt.when_short),
            "Last finished (UTC)": syncs["finished_at"].map(fmt.when_short),
            "Status": syncs["status"],
            "Rows loaded": syncs["rows_loaded"],
            "Runs so far": syncs["runs"],
        }
    )
    ui.table(shown, "last-syncs", key="dq-syncs")
else:
    st.caption("No sync or import recorded.")
transformed = "never" if ctx.version == "never" else ctx.version[:16].replace("T", " ") + " UTC"
st.caption(f"Metrics last rebuilt: {transformed}. Warehouse: `{ctx.path}`.")
