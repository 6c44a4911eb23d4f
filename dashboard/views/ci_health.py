"""CI health: pipeline runs per workflow, their duration trend and failure rate."""

import pandas as pd
import streamlit as st

from dashboard import charts, queries, ui
from dashboard import format as fmt

ctx = ui.context()
ui.header("CI health", ctx)
if not ctx.catalog["counts"]["pipeline_runs"]:
    st.info(
        "No CI pipeline runs in the warehouse. The GitHub and GitLab collectors load workflow runs and "
        "pipelines; a CSV bundle can carry them in pipeline_runs.csv.",
        icon=":material/info:",
    )
    st.stop()
scope = ctx.scope()
summary = queries.ci_summary(ctx.path, ctx.version, scope)
if not len(summary):
    st.info("No pipeline runs in this period for these services.", icon=":material/event_busy:")
    st.stop()
trend = queries.ci_trend(ctx.path, ctx.version, scope)
runs = int(summary["runs"].sum())
failed = int(summary["failed_runs"].sum())
decided = runs - int(summary["cancelled_runs"].sum())
a, b, c = st.columns(3)
a.metric("Pipeline runs", f"{runs:,}", help="Runs started in the period, cancelled ones included.")
b.metric(
    "Failure rate",
    fmt.percent(failed / decided if decided else None, 1),
    help="Failed runs among the runs that finished (cancelled runs left out).",
)
c.metric("Pipelines", f"{len(summary):,}")
st.caption(f"{failed:,} of {fmt.count(decided, 'finished run')} failed.")
labels = (summary["service"] + " · " + summary["pipeline"]).tolist()
busiest = summary.assign(label=labels).sort_values("runs", ascending=False)["label"].tolist()
TOP = f"The {min(len(busiest), charts.CI_TOP)} busiest pipelines"
picked = st.selectbox("Pipelines in the charts", [TOP, *busiest], key="ci-pipeline")
if picked != TOP:
    service, pipeline = picked.split(" · ", 1)
    trend = trend[(trend["service"] == service) & (trend["pipeline"] == pipeline)]
left, right = st.columns(2)
with left:
    st.subheader("Median duration per week")
    ui.chart(
        ctx,
        f"ci-duration-{picked}",
        lambda: charts.ci_chart(trend, "duration_median_minutes", "Median duration (minutes)"),
    )
with right:
    st.subheader("Failure rate per week")
    ui.chart(ctx, f"ci-failures-{picked}", lambda: charts.ci_chart(trend, "failure_rate", "Failed runs (%)"))
st.subheader("Per pipeline")
shown = pd.DataFrame(
    {
        "Service": summary["service"],
        "Pipeline": summary["pipeline"],
        "Runs": summary["runs"],
        "Failed runs": summary["failed_runs"],
        "Cancelled runs": summary["cancelled_runs"],
        "Failure rate (%)": (summary["failure_rate"] * 100).round(1),
        "Median duration (minutes)": summary["duration_median_minutes"].round(1),
        "90th percentile duration (minutes)": summary["duration_p90_minutes"].round(1),
        "Last run (UTC)": summary["last_run_at"].map(fmt.when_short),
    }
)
ui.table(shown, "ci-pipelines", key="ci-table")
