"""Lead time: its distribution, the pull-request stages per week, and the slowest changes with links."""

import pandas as pd
import streamlit as st

from dashboard import charts, durations, ui
from dashboard import format as fmt

ctx, g, rows, left, right = ui.metric_page("Change lead time", "lead_time")
with left:
    if g["lead_time_excluded"]:
        st.caption(
            f"{fmt.count(g['lead_time_excluded'], 'change')} left out: negative lead time or unknown "
            "start (see Data quality)."
        )
counted = rows[~rows["is_excluded"].astype(bool)] if len(rows) else rows
with right:
    st.caption("How long changes took, from first commit to production (log scale).")
    ui.chart(
        ctx,
        "lt-hist",
        lambda: durations.lead_time_histogram(
            counted["lead_time_hours"] if len(counted) else pd.Series(dtype=float),
            g["lead_time_median_hours"],
            g["lead_time_p90_hours"],
        ),
    )

trend = ctx.trend()
st.subheader("Where the time goes: pull-request stages per week")
stages = " · ".join(f"**{fmt.duration(g[c])}** {name.lower()}" for c, (name, _, _) in charts.STAGES.items())
st.caption(
    f"Medians over the period: {stages}. Each stage's median is taken on its own, so the stack is "
    "not the median lead time. Click a bar for that week's changes."
)
bucket = ui.chart(ctx, "lt-stages", lambda: charts.stage_breakdown(trend), selectable=True)
st.subheader("Median lead time per week, against the tiers")
bucket = (
    ui.chart(ctx, "lt-trend", lambda: charts.trend_chart(trend, "lead_time", ctx.tiers), selectable=True)
    or bucket
)

columns = [
    "link",
    "service",
    "title",
    "author",
    "started_at",
    "finished_at",
    "lead_time_hours",
    "coding_hours",
    "pickup_hours",
    "review_hours",
    "deploy_hours",
    "deployment_id",
    "is_excluded",
    "excluded_reason",
]
SLOWEST = 50


def links(frame: pd.DataFrame) -> pd.DataFrame:
    return ui.with_links(frame, ctx)


link_config = {"Link": st.column_config.LinkColumn("Link", display_text="open ↗")}
if bucket:
    st.subheader(f"Changes of the week of {bucket}")
    week = ctx.explain("lead_time", ui.bucket_scope(ctx, bucket))
    ui.rows_table(
        week,
        columns,
        f"changes-{bucket}",
        key="lt-bucket",
        sort="lead_time_hours",
        prepare=links,
        column_config=link_config,
    )
st.subheader("The slowest changes")
ui.rows_table(
    counted.nlargest(SLOWEST, "lead_time_hours"),
    columns,
    "slowest-changes",
    key="lt-slowest",
    sort="lead_time_hours",
    prepare=links,
    column_config=link_config,
)
if st.toggle(f"Show all {len(rows):,} changes behind the numbers (excluded ones too)", key="lt-all"):
    ui.rows_table(rows, columns, "changes", key="lt-rows", prepare=links, column_config=link_config)
