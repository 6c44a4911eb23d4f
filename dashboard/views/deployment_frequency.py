"""Deployment frequency: deployments per day or week, and a calendar of deployment days."""

import streamlit as st

from dashboard import charts, ui

STACK_MAX = 12  # more groups than this make an unreadable stack: then one bar per bucket

ctx, g = ui.page("Deployment frequency")
left, right = ui.tile_columns(ctx, "deployment_frequency", g)
with right:
    grain = (
        st.segmented_control(
            "Per", ["day", "week"], default="week", key="df-grain", format_func=str.capitalize
        )
        or "week"
    )
    trend = ctx.trend(ctx.filters.group_by, grain)
    stacked = trend["group"].nunique() <= STACK_MAX
    if not stacked:
        trend = ctx.trend("org", grain)
    st.caption(
        f"Deployments per {grain}"
        + (f", stacked per {ctx.filters.group_by}" if stacked else "")
        + ". Click a bar for its rows."
    )
    bucket = ui.chart(
        ctx, f"df-bars-{grain}", lambda: charts.deployments_chart(trend, grain), selectable=True
    )

st.subheader("Deployment days")
daily = ctx.trend("org", "day")
st.caption("Each square is a day; the darker, the more deployments. Click a day for its deployments.")
day = ui.chart(ctx, "df-calendar", lambda: charts.calendar_heatmap(daily), selectable=True)
st.subheader("Weekly deployment days against the tiers")
ui.chart(ctx, "df-trend", lambda: charts.trend_chart(ctx.trend(), "deployment_frequency", ctx.tiers))

columns = [
    *ui.DEPLOYMENT_COLUMNS,
    "shipped_commits",
    "is_baseline",
    "is_unknown_sha",
    "is_failed",
    "is_unplanned",
]
if bucket:
    scope = ui.bucket_scope(ctx, bucket, grain)
    st.subheader(f"Deployments of the {grain} of {bucket}")
    ui.rows_table(ctx.explain("deployments", scope), columns, f"deployments-{bucket}", key="df-bucket")
if day:
    st.subheader(f"Deployments of {day}")
    ui.rows_table(
        ctx.explain("deployments", ui.bucket_scope(ctx, day, "day")),
        columns,
        f"deployments-{day}",
        key="df-day",
    )
st.subheader("All deployments in the period")
ui.rows_table(ctx.explain("deployments"), columns, "deployments", key="df-rows")
