"""Rework rate: unplanned deployments (rollbacks, reverts, hotfixes, incident fixes) and why."""

import streamlit as st

from dashboard import charts, ui

ctx = ui.context()
ui.header("Deployment rework rate", ctx)
g = ctx.pooled()
if g is None or not g["deployments"]:
    ui.no_deployments(ctx)
    st.stop()
rows = ctx.explain("rework_rate")
left, right = st.columns([1, 3])
with left:
    ui.tile("rework_rate", g, ctx.pooled(ctx.filters.previous()), ctx)
with right:
    st.caption("Unplanned deployments per week by reason; a deployment with two reasons counts under both.")
    ui.chart(ctx, "rr-reasons", lambda: charts.signals_chart(rows, "unplanned_reasons"))
st.subheader("Rework rate per week")
bucket = ui.chart(
    ctx, "rr-trend", lambda: charts.trend_chart(ctx.trend(), "rework_rate", ctx.tiers), selectable=True
)
columns = [
    "service",
    "deployment_id",
    "environment",
    "commit_sha",
    "finished_at",
    "shipped_commits",
    "unplanned_reasons",
]
ui.week_rows(ctx, "rework_rate", bucket, columns, "Unplanned deployments", "unplanned-deployments")
st.subheader("Unplanned deployments")
ui.rows_table(rows, columns, "unplanned-deployments", key="rr-rows")
