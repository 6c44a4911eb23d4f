"""Comparison: every service or team with all five metrics and tiers, sparklines, throughput vs stability."""

import pandas as pd
import streamlit as st

from dashboard import charts, durations, ui
from dashboard import format as fmt

ctx = ui.context()
by = ctx.filters.group_by
noun = "Team" if by == "team" else "Service"
ui.header(f"Comparison by {noun.lower()}", ctx, "change the grouping under 'Compare by' in the sidebar")
groups = ctx.compute(by)
if not any(g["deployments"] for g in groups):
    ui.no_deployments(ctx)
    st.stop()
trend = ctx.trend(by)
weekly = charts.sparklines(trend, "deployments")
lead = charts.sparklines(trend, "lead_time_median_hours")


def _round(value: float | None, digits: int = 1, scale: float = 1.0) -> float | None:
    return None if value is None or fmt.missing(value) else round(value * scale, digits)


shown = pd.DataFrame(
    [
        {
            noun: g["group"],
            "Deployments": g["deployments"],
            "Deployments per day": _round(g["deploys_per_day"], 2),
            "Deployment frequency tier": fmt.tier_word(g["tiers"]["deployment_frequency"]),
            "Deployments per week": weekly.get(g["group"], []),
            "Median lead time (hours)": _round(g["lead_time_median_hours"]),
            "Changes": g["changes"],
            "Lead time tier": fmt.tier_word(g["tiers"]["lead_time"]),
            "Median lead time per week (hours)": lead.get(g["group"], []),
            "Change failure rate (%)": _round(g["change_failure_rate"], 1, 100),
            "Failed deployments": g["failed_deployments"],
            "Change failure rate tier": fmt.tier_word(g["tiers"]["change_failure_rate"]),
            "Median recovery time (hours)": _round(g["recovery_time_median_hours"]),
            "Recovery time tier": fmt.tier_word(g["tiers"]["recovery_time"]),
            "Still failing": g["unrecovered_failures"],
            "Rework rate (%)": _round(g["rework_rate"], 1, 100),
            "Unplanned deployments": g["unplanned_deployments"],
        }
        for g in groups
    ]
)
st.caption(
    "Sort by clicking a column heading. Tiers: Elite, High, Medium, Low; rework rate has no "
    "published tier. Select a row to see the deployments behind it."
)
event = st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    key="comparison-table",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "Deployments per week": st.column_config.LineChartColumn("Deployments per week", y_min=0),
        "Median lead time per week (hours)": st.column_config.LineChartColumn(
            "Median lead time per week (hours)", y_min=0
        ),
    },
)
st.download_button(
    f"Download CSV ({fmt.count(len(shown), 'row')})",
    fmt.csv_bytes(shown),
    file_name=f"comparison-by-{by}.csv",
    mime="text/csv",
    key="csv-comparison",
    on_click="ignore",
    icon=":material/download:",
)

st.subheader("Throughput against stability")
st.caption(
    "Each bubble is a " + noun.lower() + ": further left ships faster, lower fails less; the size is "
    "its number of deployments, the colour its change-failure-rate tier. Click a bubble for its rows."
)
clicked = ui.chart(ctx, "comparison-scatter", lambda: durations.comparison_scatter(groups), selectable=True)

names = [g["group"] for g in groups]
selected_rows = event.selection.rows if event and hasattr(event, "selection") else []
if selected_rows:
    chosen = names[selected_rows[0]]
elif clicked and clicked in names:
    chosen = clicked
else:
    chosen = None
if chosen:
    st.subheader(f"Deployments of {chosen}")
    rows = ctx.explain("deployments", ctx.scope(by), chosen)
    ui.rows_table(
        rows,
        [
            "service",
            "deployment_id",
            "environment",
            "finished_at",
            "shipped_commits",
            "is_failed",
            "failure_signals",
            "recovery_hours",
            "is_unplanned",
            "unplanned_reasons",
        ],
        f"deployments-{chosen}",
        key="comparison-rows",
    )
