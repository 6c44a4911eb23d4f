"""Which commits each production deployment shipped: the commit-graph step of the transform.

A deployment ships the commits reachable from its sha that no earlier deployment to the same service
and environment reached (and, for a service with `paths`, only those in its paths). Walking the graph
once per (service, environment) costs services x commits in a monorepo; instead every commit gets a
place against its repository's spine once (warehouse/reach.py), after which what a deployment reaches
is a range of spine positions plus a small extra set: SQL (sql/walk/reach.sql) turns those into the rows
of marts.deployment_reach, which the marts read. The state (schema walk_state) is per repository and
per deployed sha, never per (service, environment, commit): the graph with each commit's position, the
spine, each deployed sha's floor and extra set, and which deployments were walked. The next transform
places only the new commits and walks only the new deployments, unless history changed under the
walked ones (sql/walk/reset.sql).
"""

from __future__ import annotations

import duckdb

from warehouse import reach
from warehouse.db import read_sql

STATE_TABLES = (
    "marts.deployment_reach",
    "walk_state.done",
    "walk_state.graph",
    "walk_state.missing",
    "walk_state.spine",
    "walk_state.deployed",
    "walk_state.extra",
)


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the walk state: the next walk starts from scratch."""
    for table in STATE_TABLES:
        con.execute(f"delete from {table}")


def _temp(con: duckdb.DuckDBPyConnection, name: str, sql_file: str) -> int:
    con.execute(f"create or replace temp table {name} as {read_sql(sql_file)}")
    return int(con.execute(f"select count(*) from {name}").fetchall()[0][0])


def place(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the commit positions and the deployed shas' floors up to date with core.commits and
    marts.prod_deployments (reads _walk_changed and _walk_changed_repos)."""
    _temp(con, "_walk_scratch", "walk/scratch_repos.sql")
    again = []
    if _temp(con, "_walk_new", "walk/new_commits.sql"):
        again = reach.place_new(con)
    scratch = [r[0] for r in con.execute("select repo from _walk_scratch order by repo").fetchall()]
    if scratch or again:
        # placed on numpy arrays: numpy (0.13 s to import) is loaded only when a repository needs it
        from warehouse import reach_ids

        reach_ids.place_from_scratch(con, sorted({*scratch, *again}))
    con.execute(read_sql("walk/floors.sql"))
    reach.floor_off_spine(con)


def reached(con: duckdb.DuckDBPyConnection, pending: str, all_commits: bool = False) -> str:
    """The SQL of the reach rows of the deployments in the temp table `pending` (as sql/walk/pending.sql
    selects them). With all_commits, services' paths are ignored: every commit each reached first."""
    con.execute("set variable walk_all_commits = ?", [all_commits])
    if pending != "_walk_pending":
        con.execute(f"create or replace temp table _walk_pending as select * from {pending}")
    _temp(con, "_walk_steps", "walk/steps.sql")
    _temp(con, "_walk_candidates", "walk/candidates.sql")
    _temp(con, "_walk_in_paths", "walk/in_paths.sql")
    return read_sql("walk/reach.sql")


def walk(con: duckdb.DuckDBPyConnection) -> int:
    """Bring marts.deployment_reach up to date with marts.prod_deployments and the commits written since
    the load id in the variable since_load_id. Leaves the walked deployments in the temp table _walked.
    Returns how many deployments were walked."""
    _temp(con, "_walk_changed", "walk/changed_commits.sql")
    _temp(con, "_walk_changed_repos", "walk/changed_repos.sql")
    if _temp(con, "_walk_reset", "walk/reset.sql"):
        for table in ("marts.deployment_reach", "walk_state.done"):
            con.execute(
                f"delete from {table} t using _walk_reset r "
                "where t.service = r.service and t.environment = r.environment"
            )
    place(con)
    pending = _temp(con, "_walk_pending", "walk/pending.sql")
    if pending:
        con.execute(f"insert into marts.deployment_reach {reached(con, '_walk_pending')}")
    con.execute("create or replace temp table _walked as select deployment_id from _walk_pending")
    con.execute(read_sql("walk/update_state.sql"))
    return pending
