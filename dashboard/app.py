"""The Doralytics dashboard: `dora dashboard` runs this with Streamlit.

It resolves the warehouse and its version, draws the shared filters, then runs the page chosen in the
navigation. Pages live in dashboard/views/ and read everything through dashboard/queries.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from dashboard import auth, filters, queries, ui
from dashboard import format as fmt
from warehouse.db import WarehouseError
from warehouse.metric_settings import Tiers

VIEWS = Path(__file__).parent / "views"

st.set_page_config(page_title="Doralytics", page_icon=":material/speed:", layout="wide")
# Streamlit's default top padding leaves a third of a laptop screen empty above the title.
st.html("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>")


def page(name: str, title: str, icon: str, default: bool = False) -> st.Page:
    return st.Page(str(VIEWS / f"{name}.py"), title=title, icon=icon, url_path=name, default=default)


def main() -> None:
    access = auth.gate()  # before anything is read: a visitor not let in sees the sign-in only
    path = queries.warehouse_path()
    try:
        version = queries.version(path)
        catalog = queries.catalog(path, version)
    except WarehouseError as exc:
        st.title("Doralytics")
        st.error(f"The warehouse cannot be read: {exc}", icon=":material/error:")
        st.stop()

    if not catalog["production_deployments"]:
        # the welcome page reads only the path and the counts: neutral filters and tiers stand in
        today = dt.datetime.now(dt.UTC).date()
        st.session_state[ui.CONTEXT_KEY] = ui.Context(
            path, version, catalog, filters.Filters(today, today), Tiers()
        )
        st.navigation([page("welcome", "Get started", ":material/rocket_launch:", default=True)]).run()
        return

    pages = {
        "overview": page("overview", "Overview", ":material/dashboard:", default=True),
        "comparison": page("comparison", "Comparison", ":material/compare_arrows:"),
        "deployment_frequency": page("deployment_frequency", "Deployment frequency", ":material/rocket:"),
        "lead_time": page("lead_time", "Lead time", ":material/timer:"),
        "change_failure_rate": page("change_failure_rate", "Change failure rate", ":material/error:"),
        "recovery_time": page("recovery_time", "Recovery time", ":material/healing:"),
        "rework_rate": page("rework_rate", "Rework rate", ":material/replay:"),
        "ci_health": page("ci_health", "CI health", ":material/build:"),
        "data_quality": page("data_quality", "Data quality", ":material/fact_check:"),
    }
    if access.sql:  # the SQL page is not even in the navigation of someone not in sql_users
        pages["sql"] = page("sql", "SQL", ":material/terminal:")
    navigation = st.navigation(
        {
            "Summary": [pages["overview"], pages["comparison"]],
            "The five metrics": [pages[k] for k in fmt.METRIC_TITLES],
            "Data": [pages[k] for k in ("ci_health", "data_quality", "sql") if k in pages],
        }
    )
    chosen = filters.sidebar(catalog)
    settings = queries.settings()
    st.session_state[ui.CONTEXT_KEY] = ui.Context(
        path, version, catalog, chosen, settings.metrics.tiers, pages
    )
    with st.sidebar:
        st.divider()
        note = (
            "never transformed" if version == "never" else f"data as of {version[:16].replace('T', ' ')} UTC"
        )
        on = f" · {version.snapshot}" if queries.is_lake(path) and version.snapshot else ""
        st.caption(f"Warehouse `{queries.label(path)}` · {note}{on}")
        if version.stale:
            st.warning(f"These metrics are out of date: {version.stale}.", icon=":material/sync_problem:")
    try:
        navigation.run()
    except WarehouseError as exc:
        # A missing or too-new warehouse file: say so, not a stack trace (a writer never blocks a reader).
        st.warning(f"The warehouse cannot be read: {exc}", icon=":material/error:")


main()
