"""Rework rate: unplanned deployments (rollbacks, reverts, hotfixes, incident fixes) and why."""

import streamlit as st

from dashboard import charts, ui

ctx, g, rows, _, right = ui.metric_page("Deployment rework rate", "rework_rate")
with right:
    st.caption("Unplanned deployments per week by reason; a deployment with two reasons counts under both.")
    ui.chart(ctx, "rr-reasons", lambda: charts.signals_chart(rows, "unplanned_reasons"))
columns = [*ui.DEPLOYMENT_COLUMNS, "shipped_commits", "unplanned_reasons"]
ui.weekly_trend(
    ctx,
    "rework_rate",
    "Rework rate per week",
    "rr-trend",
    columns,
    "Unplanned deployments",
    "unplanned-deployments",
)
st.subheader("Unplanned deployments")
ui.rows_table(rows, columns, "unplanned-deployments", key="rr-rows")
