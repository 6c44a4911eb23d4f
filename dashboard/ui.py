"""Pieces every page uses: the shared context, metric tiles, tier badges, tables with CSV, drill-downs."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import charts, queries
from dashboard import format as fmt
from dashboard.filters import Filters
from warehouse.metric_settings import Tiers
from warehouse.metrics import Scope

MAX_TABLE_ROWS = 5_000
CONTEXT_KEY = "dora_context"

# The columns that say which deployment a row is, and those that tell a failed one's story.
DEPLOYMENT_COLUMNS = ["service", "deployment_id", "environment", "commit_sha", "finished_at"]
FAILURE_COLUMNS = ["failure_signals", "incident_ids", "remediated_by", "recovered_at", "recovery_hours"]

DEFINITIONS = {
    "deployment_frequency": "Successful production deployments per day of the period. The tier uses the "
    "median number of deployment days per whole ISO week.",
    "lead_time": "Median time from a change's first commit (or its pull request's opening, if earlier) to "
    "the production deployment that shipped it.",
    "change_failure_rate": "Share of production deployments that failed: an incident was attributed to it, "
    "or it was rolled back, reverted or hotfixed by the next deployment.",
    "recovery_time": "Median time from a failed deployment to its recovery: its incidents resolved, or the "
    "rollback, revert or hotfix deployed. Still-failing deployments are counted separately.",
    "rework_rate": "Share of production deployments that were unplanned: rollbacks, reverts, hotfixes and "
    "the first deployment during an open incident. It has no published tier.",
}


@dataclass
class Context:
    """What app.py resolved for this run, handed to the page being shown."""

    path: str
    version: queries.Version
    catalog: dict
    filters: Filters
    tiers: Tiers
    pages: dict = field(default_factory=dict)

    def scope(self, group_by: str = "org") -> Scope:
        return self.filters.scope(group_by)

    def compute(self, group_by: str = "org", filters: Filters | None = None) -> list[dict]:
        return queries.compute(self.path, self.version, (filters or self.filters).scope(group_by))

    def pooled(self, filters: Filters | None = None) -> dict | None:
        groups = self.compute("org", filters)
        return groups[0] if groups else None

    def trend(self, group_by: str = "org", grain: str = "week") -> pd.DataFrame:
        return queries.trend(self.path, self.version, self.scope(group_by), grain)

    def explain(self, metric: str, scope: Scope | None = None, group: str | None = None) -> pd.DataFrame:
        return queries.explain(self.path, self.version, metric, scope or self.scope(), group)

    def figure(self, name: str, build: Callable[[], go.Figure]) -> go.Figure:
        """The figure `build` makes, kept per (warehouse version, filters, name): building a Plotly figure
        costs tens of milliseconds of validation, redrawing a cached one nothing. `name` must say
        everything else the figure depends on (metric, grain, ...)."""
        return _figure(self.path, self.version, self.filters, name, build)


@st.cache_resource(max_entries=256, ttl=600, show_spinner=False)
def _figure(
    path: str, version: str, filters: Filters, name: str, _build: Callable[[], go.Figure]
) -> go.Figure:
    return _build()


def context() -> Context:
    return st.session_state[CONTEXT_KEY]


def header(title: str, ctx: Context, subtitle: str | None = None) -> None:
    st.title(title)
    st.caption(
        f"{fmt.period(ctx.filters.start, ctx.filters.end)} · {ctx.filters.describe()}"
        + (f" · {subtitle}" if subtitle else "")
    )


def page(title: str) -> tuple[Context, dict[str, Any]]:
    """A metric page's opening: its title over the period and filters, and the pooled numbers; with no
    deployment in the period it says so and the page stops there."""
    ctx = context()
    header(title, ctx)
    g = ctx.pooled()
    if g is None or not g["deployments"]:
        no_deployments(ctx)
        st.stop()
    return ctx, g


def tile_columns(ctx: Context, metric: str, g: dict[str, Any]) -> tuple[DeltaGenerator, DeltaGenerator]:
    """The metric's tile (against the previous period) in a narrow column, beside a wide one for a chart."""
    left, right = st.columns([1, 3])
    with left:
        tile(metric, g, ctx.pooled(ctx.filters.previous()), ctx)
    return left, right


class MetricPage(NamedTuple):
    ctx: Context
    g: dict[str, Any]  # the pooled numbers of the period
    rows: pd.DataFrame  # the rows behind the metric (metrics.explain)
    left: DeltaGenerator  # under the metric's tile
    right: DeltaGenerator  # beside it, for a chart


def metric_page(title: str, metric: str) -> MetricPage:
    """A page about one metric opens so: `page`, the rows behind the metric, its tile beside a wide column."""
    ctx, g = page(title)
    rows = ctx.explain(metric)
    left, right = tile_columns(ctx, metric, g)
    return MetricPage(ctx, g, rows, left, right)


def no_deployments(ctx: Context) -> None:
    st.info(
        f"**No deployments in this period** ({fmt.period(ctx.filters.start, ctx.filters.end)}) for "
        f"{ctx.filters.describe()}. Choose a longer period or other services in the sidebar. "
        f"The warehouse holds production deployments from {ctx.catalog['first_deployment']} "
        f"to {ctx.catalog['last_deployment']}.",
        icon=":material/event_busy:",
    )


def tier_badge(tier: str | None, published: bool = True) -> None:
    if not published:
        st.badge("No published tier", color="gray")
    elif tier:
        st.badge(f"Tier: {fmt.tier_word(tier)}", color=fmt.TIER_BADGES[tier])
    else:
        st.badge("Tier: not enough data", color="gray")


def _delta(metric: str, now: dict, before: dict | None) -> str | None:
    """The change against the previous period in the tile's own unit; None when either side is empty."""
    if before is None or not before["deployments"] or not now["deployments"]:
        return None
    if metric == "deployment_frequency":
        a, b = now["deploys_per_day"], before["deploys_per_day"]
        value = fmt.frequency(a)
        factor, unit = (
            (1, "per day")
            if value.endswith("day")
            else ((7, "per week") if value.endswith("week") else (30, "per month"))
        )
        return f"{(a - b) * factor:+.1f} {unit}"
    column = {
        "lead_time": "lead_time_median_hours",
        "recovery_time": "recovery_time_median_hours",
        "change_failure_rate": "change_failure_rate",
        "rework_rate": "rework_rate",
    }[metric]
    a, b = now[column], before[column]
    if fmt.missing(a) or fmt.missing(b):
        return None
    if metric in ("change_failure_rate", "rework_rate"):
        return f"{(a - b) * 100:+.1f} points"
    text = fmt.duration(abs(a - b))
    return ("+" if a >= b else "-") + text


def tile_parts(metric: str, g: dict) -> tuple[str, str]:
    """The tile's value and the count it rests on, in words ('median of 97 changes')."""
    n = g["deployments"]
    if metric == "deployment_frequency":
        week = g["deploy_days_per_week_median"]
        rests = f"{fmt.count(n, 'deployment')} on {fmt.count(g['deployment_days'], 'day')}"
        if not fmt.missing(week):
            rests += f"; median {week:g} deployment days a week"
        return fmt.frequency(g["deploys_per_day"]), rests
    if metric == "lead_time":
        if not g["changes"]:
            return "–", "no changes shipped in this period"
        return (
            fmt.duration(g["lead_time_median_hours"]),
            f"median of {fmt.count(g['changes'], 'change')}; 90th percentile "
            f"{fmt.duration(g['lead_time_p90_hours'])}",
        )
    if metric == "change_failure_rate":
        return (
            fmt.percent(g["change_failure_rate"], 1),
            f"{g['failed_deployments']:,} of {fmt.count(n, 'deployment')} failed",
        )
    if metric == "recovery_time":
        recovered = g["failed_deployments"] - g["unrecovered_failures"]
        still = f"; {g['unrecovered_failures']:,} still failing" if g["unrecovered_failures"] else ""
        if not recovered:
            return "–", (
                "no failed deployments" if not g["failed_deployments"] else "none recovered yet"
            ) + still
        return fmt.duration(
            g["recovery_time_median_hours"]
        ), f"median of {fmt.count(recovered, 'recovered failure')}{still}"
    return (
        fmt.percent(g["rework_rate"], 1),
        f"{g['unplanned_deployments']:,} of {fmt.count(n, 'deployment')} unplanned",
    )


LOWER_IS_BETTER = {"lead_time", "change_failure_rate", "recovery_time", "rework_rate"}
# Streamlit draws a metric's value at 2.25rem on one line and cuts what does not fit ("8.3 per ..." in
# five tiles at a 1440 px window): the value shrinks with the window instead, and wraps rather than
# being cut when even that is too wide (tests/dashboard/test_dashboard_e2e.py measures it).
TILE_CSS = (
    '[data-testid="stMetricValue"]{font-size:clamp(1.25rem,1.75vw,2.25rem)}'
    '[data-testid="stMetricValue"],[data-testid="stMetricValue"] *{white-space:normal!important;'
    "overflow-wrap:break-word;text-overflow:clip!important}"
)


def fit_metric_values() -> None:
    """Apply TILE_CSS to the page (a style-only st.html takes no room)."""
    st.html(f"<style>{TILE_CSS}</style>")


def tile(metric: str, g: dict, before: dict | None, ctx: Context) -> None:
    value, rests = tile_parts(metric, g)
    delta = _delta(metric, g, before)
    unchanged = delta is not None and re.match(r"^[+-]0(\.0)?( |$)", delta) is not None
    fit_metric_values()
    with st.container(border=True):
        st.metric(
            fmt.METRIC_TITLES[metric],
            value,
            delta="no change" if unchanged else delta,
            delta_color="off" if unchanged else ("inverse" if metric in LOWER_IS_BETTER else "normal"),
            delta_arrow="off" if unchanged else "auto",
            help=DEFINITIONS[metric]
            + f" The change is against the previous {fmt.count(ctx.filters.days, 'day')}.",
        )
        tier_badge(g["tiers"].get(metric), published=metric != "rework_rate")
        st.caption(rests)
        if metric in ctx.pages:
            st.page_link(ctx.pages[metric], label="See the rows", icon=":material/table_rows:")


def table(shown: pd.DataFrame, name: str, key: str, total: int | None = None, **kwargs) -> None:
    """A table exactly as given (already humanised) and a CSV download of exactly it."""
    if total is not None and total > len(shown):
        st.caption(
            f"Showing {len(shown):,} of {total:,} rows; narrow the filters, or use "
            f"`dora explain` or the SQL page for all of them."
        )
    st.dataframe(shown, hide_index=True, width="stretch", **kwargs)
    st.download_button(
        f"Download CSV ({fmt.count(len(shown), 'row')})",
        partial(fmt.csv_bytes, shown),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{key}",
        on_click="ignore",
        icon=":material/download:",
    )


def rows_table(
    rows: pd.DataFrame,
    columns: list[str],
    name: str,
    key: str,
    newest_first: bool = True,
    sort: str | None = None,
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """The rows behind a number (metrics.explain), in human words, capped at MAX_TABLE_ROWS (the largest
    `sort` first, else the newest first); `prepare` adds columns to the capped rows (links, ...)."""
    total = len(rows)
    if sort:
        rows = rows.sort_values(sort, ascending=False, na_position="last")
    elif newest_first and "finished_at" in rows:
        rows = rows.iloc[::-1]
    rows = rows.head(MAX_TABLE_ROWS)
    if prepare is not None:
        rows = prepare(rows)
    shown = fmt.humanize(rows, [c for c in columns if c in rows])
    if not total:
        st.caption("No rows.")
        return shown
    table(shown, name, key, total=total, **kwargs)
    return shown


def bucket_scope(ctx: Context, bucket: str | dt.date, grain: str = "week") -> Scope:
    """The scope of one point of a weekly (or daily) chart, clipped to the period."""
    start = bucket if isinstance(bucket, dt.date) else dt.date.fromisoformat(str(bucket)[:10])
    end = start + dt.timedelta(days=6 if grain == "week" else 0)
    f = ctx.filters
    return Scope(max(start, f.start), min(end, f.end), "org", f.services, f.teams, f.environments)


def week_rows(
    ctx: Context, metric: str, bucket: str | None, columns: list[str], what: str, name: str
) -> None:
    """Under a weekly chart: the rows behind the point clicked (`bucket`), if one was."""
    if not bucket:
        return
    st.subheader(f"{what} of the week of {bucket}")
    rows_table(
        ctx.explain(metric, bucket_scope(ctx, bucket)), columns, f"{name}-{bucket}", key=f"{name}-bucket"
    )


def weekly_trend(
    ctx: Context, metric: str, heading: str, key: str, columns: list[str], what: str, name: str
) -> None:
    """The metric per week against its tiers; clicking a week lists that week's rows below it."""
    st.subheader(heading)
    bucket = chart(ctx, key, lambda: charts.trend_chart(ctx.trend(), metric, ctx.tiers), selectable=True)
    week_rows(ctx, metric, bucket, columns, what, name)


def selected_bucket(event: Any) -> str | None:
    """The week (or day) of the point clicked on a chart drawn with on_select='rerun', if any."""
    try:
        points = event.selection.points
    except AttributeError:
        return None
    for point in points or []:
        data = point.get("customdata")
        if isinstance(data, list | tuple):
            data = data[0] if data else None
        if data:
            return str(data)[:10]
        if point.get("x"):
            return str(point["x"])[:10]
    return None


def chart(ctx: Context, name: str, build: Callable[[], go.Figure], selectable: bool = False) -> str | None:
    """The figure `build` makes (cached per filters and `name`) in the Streamlit theme; with selectable,
    clicking a point returns its bucket (week or day)."""
    fig = ctx.figure(name, build)
    if selectable:
        event = st.plotly_chart(
            fig, key=name, on_select="rerun", selection_mode="points", config={"displaylogo": False}
        )
        return selected_bucket(event)
    st.plotly_chart(fig, key=name, config={"displaylogo": False})
    return None


def link_templates(ctx: Context) -> tuple[str, str] | None:
    """URL templates for a pull request and a commit, from dora.toml's [dashboard] (or the source)."""
    sections = queries.settings().sections
    own = sections.get("dashboard", {})
    if own.get("links") == "none":
        return None
    if own.get("links") == "gitlab" or (
        "gitlab" in sections and "github" not in sections and "links" not in own
    ):
        base = str(
            own.get("web_url") or sections.get("gitlab", {}).get("url") or "https://gitlab.com"
        ).rstrip("/")
        return f"{base}/{{repo}}/-/merge_requests/{{number}}", f"{base}/{{repo}}/-/commit/{{sha}}"
    base = str(own.get("web_url") or "https://github.com").rstrip("/")
    return f"{base}/{{repo}}/pull/{{number}}", f"{base}/{{repo}}/commit/{{sha}}"


def with_links(changes: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Changes with a `link` column: their pull request, or their commit when they have none."""
    templates = link_templates(ctx)
    repos = dict(zip(ctx.catalog["services"]["service"], ctx.catalog["services"]["repo"], strict=True))
    out = changes.copy()

    def link(service: str, number: float | None, sha: str | None) -> str | None:
        repo = repos.get(service)
        if templates is None or not repo:
            return None
        if number is not None and not fmt.missing(number):
            return templates[0].format(repo=repo, number=int(number))
        if not fmt.missing(sha):
            return templates[1].format(repo=repo, sha=sha)
        return None

    out["link"] = [link(*t) for t in zip(out["service"], out["pr_number"], out["commit_sha"], strict=True)]
    return out
