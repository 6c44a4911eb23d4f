"""The first-run page: the warehouse holds no production deployments yet, so say how to get some."""

import streamlit as st

from dashboard import ui

ctx = ui.context()
counts = ctx.catalog["counts"]
st.title("Welcome to Doralytics")
if counts["deployments"]:
    st.warning(
        f"The warehouse holds {counts['deployments']:,} deployments, but none of them is a successful "
        "deployment to production. The metrics count production deployments only: check "
        "`production_environments` under `[metrics]` in dora.toml (by default environments named "
        "`prod`, `production`, `prod-eu`, ...) or give the deployments an `environment_tier` of "
        "`production`.",
        icon=":material/warning:",
    )
else:
    st.write(
        f"The warehouse `{ctx.path}` is empty. Load some data and this page turns into the dashboard "
        "(it notices new data by itself; reload the page)."
    )
st.subheader("Try it with demo data")
st.code("dora --warehouse demo.duckdb demo\ndora --warehouse demo.duckdb dashboard", language="bash")
st.caption("A realistic organisation: four teams, twelve services, six months of history.")
st.subheader("Bring your own data")
st.markdown(
    "- **From a CSV bundle** (Jenkins, Argo CD, Opsgenie, a home-grown deploy script): "
    "`dora import ./bundle` (the format is in the README).\n"
    "- **From a collector**: configure `[github]`, `[gitlab]` or `[pagerduty]` in `dora.toml`, set the "
    "token (`GITHUB_TOKEN`, `GITLAB_TOKEN`, `PAGERDUTY_TOKEN`) and run `dora collect`.\n"
    "- **From a local git repository**: `dora collect` with a `[git]` section."
)
