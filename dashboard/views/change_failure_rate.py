"""Change failure rate: failed deployments and the signal behind each (incident, rollback, revert, hotfix)."""

import streamlit as st

from dashboard import charts, ui

ctx, g, rows, _, right = ui.metric_page("Change failure rate", "change_failure_rate")
with right:
    st.caption("Failed deployments per week by signal; a deployment with two signals counts under both.")
    ui.chart(ctx, "cfr-signals", lambda: charts.signals_chart(rows, "failure_signals"))
columns = [*ui.DEPLOYMENT_COLUMNS, *ui.FAILURE_COLUMNS, "is_unrecovered"]
ui.weekly_trend(
    ctx,
    "change_failure_rate",
    "Change failure rate per week, against the tiers",
    "cfr-trend",
    columns,
    "Failed deployments",
    "failed-deployments",
)
st.subheader("Failed deployments")
ui.rows_table(rows, columns, "failed-deployments", key="cfr-rows")
