"""Recovery time: each failed deployment with how long it took to recover; still-failing ones flagged."""

import streamlit as st

from dashboard import durations, ui
from dashboard import format as fmt

ctx, g, rows, left, right = ui.metric_page("Failed deployment recovery time", "recovery_time")
with left:
    if not fmt.missing(g["incident_mttr_median_hours"]):
        st.caption(
            f"For comparison with older tools: incidents resolved in the period took "
            f"{fmt.duration(g['incident_mttr_median_hours'])} (median from opened to resolved)."
        )
with right:
    if len(rows) <= durations.SCATTER_MAX_POINTS:
        st.caption(
            "Each failed deployment: when it failed and how long recovery took (log scale). "
            "Crosses along the top are still failing."
        )
        ui.chart(ctx, "rt-scatter", lambda: durations.recovery_chart(rows, ctx.tiers))
    else:
        st.caption(f"How long the {len(rows):,} failed deployments took to recover (log scale).")
        recovered = rows.loc[~rows["is_unrecovered"].fillna(False).astype(bool), "recovery_hours"]
        ui.chart(
            ctx,
            "rt-histogram",
            lambda: durations.duration_histogram(
                recovered, g["recovery_time_median_hours"], None, "failed deployment", "Recovery time"
            ),
        )
if g["unrecovered_failures"]:
    st.warning(
        f"{fmt.count(g['unrecovered_failures'], 'failed deployment')} still failing: an attributed "
        "incident is open. They are left out of the median.",
        icon=":material/warning:",
    )
columns = ["service", "deployment_id", "environment", "finished_at", *ui.FAILURE_COLUMNS, "is_unrecovered"]
ui.weekly_trend(
    ctx,
    "recovery_time",
    "Median recovery time per week, against the tiers",
    "rt-trend",
    columns,
    "Failed deployments",
    "recoveries",
)
st.subheader("Failed deployments and their recovery")
ui.rows_table(rows, columns, "recoveries", key="rt-rows")
