"""Overview: the five metrics as tiles (value, tier, change, the count behind it), then weekly trends."""

from functools import partial

import streamlit as st

from dashboard import charts, ui
from dashboard import format as fmt

ctx, g = ui.page("Overview")
previous = ctx.filters.previous()
before = ctx.pooled(previous)
st.caption(f"The arrows compare with the previous period, {fmt.period(previous.start, previous.end)}.")
tiles = st.columns(5)
for column, metric in zip(tiles, fmt.METRIC_TITLES, strict=True):
    with column:
        ui.tile(metric, g, before, ctx)

st.subheader("Weekly trends")
st.caption("Shaded bands are the performance tiers. Click a point to see the rows behind it.")
trend = ctx.trend()
picked: dict[str, str | None] = {}
left, right = st.columns(2)
for i, metric in enumerate(fmt.METRIC_TITLES):
    with left if i % 2 == 0 else right:
        picked[metric] = ui.chart(
            ctx,
            f"trend-{metric}",
            partial(charts.trend_chart, trend, metric, ctx.tiers, title=fmt.METRIC_TITLES[metric]),
            selectable=True,
        )

for metric, bucket in picked.items():
    if bucket:
        scope = ui.bucket_scope(ctx, bucket)
        rows = ctx.explain(metric, scope)
        st.subheader(f"{fmt.METRIC_TITLES[metric]}: week of {bucket}")
        columns = {
            "lead_time": [
                "service",
                "change_id",
                "title",
                "author",
                "finished_at",
                "lead_time_hours",
                "is_excluded",
            ],
        }.get(
            metric,
            [
                "service",
                "deployment_id",
                "environment",
                "finished_at",
                "failure_signals",
                "recovery_hours",
                "unplanned_reasons",
            ],
        )
        ui.rows_table(rows, columns, f"{metric}-{bucket}", key=f"week-{metric}")
