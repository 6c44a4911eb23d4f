"""Change failure rate: failed deployments and the signal behind each (incident, rollback, revert, hotfix)."""

import streamlit as st

from dashboard import charts, ui

ctx = ui.context()
ui.header("Change failure rate", ctx)
g = ctx.pooled()
if g is None or not g["deployments"]:
    ui.no_deployments(ctx)
    st.stop()
rows = ctx.explain("change_failure_rate")
left, right = st.columns([1, 3])
with left:
    ui.tile("change_failure_rate", g, ctx.pooled(ctx.filters.previous()), ctx)
with right:
    st.caption("Failed deployments per week by signal; a deployment with two signals counts under both.")
    ui.chart(ctx, "cfr-signals", lambda: charts.signals_chart(rows, "failure_signals"))
st.subheader("Change failure rate per week, against the tiers")
bucket = ui.chart(
    ctx,
    "cfr-trend",
    lambda: charts.trend_chart(ctx.trend(), "change_failure_rate", ctx.tiers),
    selectable=True,
)
columns = [
    "service",
    "deployment_id",
    "environment",
    "commit_sha",
    "finished_at",
    "failure_signals",
    "incident_ids",
    "remediated_by",
    "recovered_at",
    "recovery_hours",
    "is_unrecovered",
]
ui.week_rows(ctx, "change_failure_rate", bucket, columns, "Failed deployments", "failed-deployments")
st.subheader("Failed deployments")
ui.rows_table(rows, columns, "failed-deployments", key="cfr-rows")
