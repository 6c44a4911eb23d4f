"""SQL: read-only ad-hoc queries (the sandbox of `dora sql`), with the schema beside the editor."""

import streamlit as st

from dashboard import auth, queries, ui
from dashboard import format as fmt
from warehouse.sandbox import SandboxError

MAX_ROWS = 10_000
EXAMPLE = """select service, count(*) as deployments, avg(recovery_hours) as mean_recovery_hours
from marts.deployments
group by service
order by deployments desc"""

ctx = ui.context()
auth.require_sql()  # stops the page unless this run's sign-in gate allowed SQL for this visitor
st.title("SQL")
st.caption(
    "One read-only query at a time: no writes, no files, no extensions, no server paths; 30 seconds and "
    f"{MAX_ROWS:,} rows (64 MB of data) at most. The same sandbox as `dora sql`."
)
editor, schema = st.columns([3, 2])
with schema:
    st.subheader("Schema")
    listing = queries.schema_listing(ctx.path, ctx.version)
    tables = listing["schema"] + "." + listing["table"]
    table = st.selectbox(
        "Table",
        sorted(set(tables)),
        index=None,
        placeholder="All tables (or pick one)",
        key="sql-table",
    )
    shown = listing[tables == table] if table else listing
    st.dataframe(
        shown.assign(table=tables[shown.index])[["table", "column", "type"]].rename(
            columns={"table": "Table", "column": "Column", "type": "Type"}
        ),
        hide_index=True,
        width="stretch",
        height=300,
    )
    st.caption("raw: payloads as fetched · core: the canonical tables · marts: what the metrics use.")
with editor:
    query = st.text_area("Query", value=EXAMPLE, height=220, key="sql-query")
    run = st.button("Run", type="primary", icon=":material/play_arrow:", key="sql-run")
if run or st.session_state.get("sql-last") == query:
    st.session_state["sql-last"] = query
    try:
        result = queries.run_sql(ctx.path, query, MAX_ROWS)
    except SandboxError as exc:
        st.error(str(exc), icon=":material/block:")
    else:
        if result.attrs.get("note"):
            st.warning(f"{str(result.attrs['note']).capitalize()}.", icon=":material/content_cut:")
        ui.table(result, "query-result", key="sql-result")
        st.caption(fmt.count(len(result), "row"))
