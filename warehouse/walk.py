"""Which commits each production deployment shipped: the one step of the transform that is not SQL.

A deployment ships the commits reachable from its sha that no earlier deployment to the same service
and environment reached. Reachability over `parents` is a graph walk: recursive SQL would re-walk the
whole history for every deployment (quadratic), while one depth-first walk per (service, environment)
that stops at commits already reached visits each commit once. The walk keeps its state: what each pair
has reached (marts.deployment_reach, which the marts read), and which deployments were walked on which
graph (schema walk_state, which only the transform reads). So the next transform walks only the new
deployments over the commits they can still reach, unless history changed under the walked ones
(sql/walk/reset.sql).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

import duckdb
import pyarrow as pa

from warehouse.db import read_sql

FLUSH_ROWS = 500_000
STATE_TABLES = ("marts.deployment_reach", "walk_state.done", "walk_state.graph", "walk_state.missing")
REACH_SCHEMA = pa.schema(
    [
        ("deployment_id", pa.string()),
        ("service", pa.string()),
        ("environment", pa.string()),
        ("repo", pa.string()),
        ("sha", pa.string()),
        ("is_shipped", pa.bool_()),
    ]
)


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the walk state: the next walk starts from scratch."""
    for table in STATE_TABLES:
        con.execute(f"delete from {table}")


def walk(con: duckdb.DuckDBPyConnection) -> int:
    """Bring marts.deployment_reach up to date with marts.prod_deployments and the commits written since
    the load id in the variable since_load_id. Leaves the walked deployments in the temp table _walked.
    Returns how many deployments were walked."""
    con.execute(f"create or replace temp table _walk_changed as {read_sql('walk/changed_commits.sql')}")
    con.execute(f"create or replace temp table _walk_reset as {read_sql('walk/reset.sql')}")
    if con.execute("select count(*) from _walk_reset").fetchall()[0][0]:
        for table in ("marts.deployment_reach", "walk_state.done"):
            con.execute(
                f"delete from {table} t using _walk_reset r "
                "where t.service = r.service and t.environment = r.environment"
            )

    con.execute(f"create or replace temp table _walk_pending as {read_sql('walk/pending.sql')}")
    pending = con.execute("select * from _walk_pending order by service, environment, env_seq").fetchall()
    if pending:
        candidates = con.sql(read_sql("walk/candidates.sql")).to_arrow_table()
        graphs = _graphs_by_pair(candidates.to_batches())
        current = next(graphs, None)
        rows = _Rows(con)
        for pair, deployments in groupby(pending, key=lambda d: (d[1], d[2])):
            # both are ordered by (service, environment): a merge of the two streams
            while current is not None and current[0] < pair:
                current = next(graphs, None)
            graph = current[1] if current is not None and current[0] == pair else {}
            _walk_pair(deployments, graph, rows)
        rows.flush()
    con.execute("create or replace temp table _walked as select deployment_id from _walk_pending")
    con.execute(read_sql("walk/update_state.sql"))
    return len(pending)


def _graphs_by_pair(batches: list[pa.RecordBatch]) -> Iterator[tuple[tuple[str, str], dict[str, list[str]]]]:
    """Yield ((service, environment), {sha: parents}) from candidate rows ordered by the pair."""
    pair: tuple[str, str] | None = None
    graph: dict[str, list[str]] = {}
    for batch in batches:
        services, environments, shas, parents = (batch.column(i).to_pylist() for i in range(4))
        for service, environment, sha, ps in zip(services, environments, shas, parents, strict=True):
            if (service, environment) != pair:
                if pair is not None:
                    yield pair, graph
                pair, graph = (service, environment), {}
            graph[sha] = ps
    if pair is not None:
        yield pair, graph


def _walk_pair(deployments, graph: dict[str, list[str]], rows: _Rows) -> None:
    """Walk one (service, environment) in order. `graph` holds the commits this pair has not reached
    yet; a commit outside it is reached already or unknown: either way the walk stops there."""
    for deployment_id, service, environment, repo, sha, _, is_baseline, is_unknown, _ in deployments:
        if is_unknown or sha not in graph:
            continue
        found = [sha]
        stack = [graph.pop(sha)]
        while stack:
            for parent in stack.pop():
                parents = graph.pop(parent, None)
                if parents is not None:
                    found.append(parent)
                    stack.append(parents)
        rows.add(deployment_id, service, environment, repo, found, not is_baseline)


class _Rows:
    """Buffers reach rows and appends them to marts.deployment_reach in Arrow batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.columns: list[list] = [[] for _ in REACH_SCHEMA]

    def add(
        self, deployment_id: str, service: str, environment: str, repo: str, shas: list[str], shipped: bool
    ) -> None:
        n = len(shas)
        for column, value in zip(self.columns, (deployment_id, service, environment, repo), strict=False):
            column.extend([value] * n)
        self.columns[4].extend(shas)
        self.columns[5].extend([shipped] * n)
        if len(self.columns[4]) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.columns[4]:
            return
        batch = pa.table(self.columns, schema=REACH_SCHEMA)
        self.con.register("_reach_batch", batch)
        self.con.execute("insert into marts.deployment_reach select * from _reach_batch")
        self.con.unregister("_reach_batch")
        self.columns = [[] for _ in REACH_SCHEMA]
