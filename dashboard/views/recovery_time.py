"""Recovery time: each failed deployment with how long it took to recover; still-failing ones flagged."""

import streamlit as st

from dashboard import charts, ui
from dashboard import format as fmt

ctx = ui.context()
ui.header("Failed deployment recovery time", ctx)
g = ctx.pooled()
if g is None or not g["deployments"]:
    ui.no_deployments(ctx)
    st.stop()
rows = ctx.explain("recovery_time")
left, right = st.columns([1, 3])
with left:
    ui.tile("recovery_time", g, ctx.pooled(ctx.filters.previous()), ctx)
    if not fmt.missing(g["incident_mttr_median_hours"]):
        st.caption(
            f"For comparison with older tools: incidents resolved in the period took "
            f"{fmt.duration(g['incident_mttr_median_hours'])} (median from opened to resolved)."
        )
with right:
    if len(rows) <= charts.SCATTER_MAX_POINTS:
        st.caption(
            "Each failed deployment: when it failed and how long recovery took (log scale). "
            "Crosses along the top are still failing."
        )
        ui.chart(ctx, "rt-scatter", lambda: charts.recovery_chart(rows, ctx.tiers))
    else:
        st.caption(f"How long the {len(rows):,} failed deployments took to recover (log scale).")
        recovered = rows.loc[~rows["is_unrecovered"].fillna(False).astype(bool), "recovery_hours"]
        ui.chart(
            ctx,
            "rt-histogram",
            lambda: charts.duration_histogram(
                recovered, g["recovery_time_median_hours"], None, "failed deployment", "Recovery time"
            ),
        )
if g["unrecovered_failures"]:
    st.warning(
        f"{fmt.count(g['unrecovered_failures'], 'failed deployment')} still failing: an attributed "
        "incident is open. They are left out of the median.",
        icon=":material/warning:",
    )
st.subheader("Median recovery time per week, against the tiers")
bucket = ui.chart(
    ctx, "rt-trend", lambda: charts.trend_chart(ctx.trend(), "recovery_time", ctx.tiers), selectable=True
)
columns = [
    "service",
    "deployment_id",
    "environment",
    "finished_at",
    "failure_signals",
    "incident_ids",
    "remediated_by",
    "recovered_at",
    "recovery_hours",
    "is_unrecovered",
]
ui.week_rows(ctx, "recovery_time", bucket, columns, "Failed deployments", "recoveries")
st.subheader("Failed deployments and their recovery")
ui.rows_table(rows, columns, "recoveries", key="rt-rows")
