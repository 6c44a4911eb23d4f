"""Which commits each production deployment shipped: the one step of the transform that is not SQL.

A deployment ships the commits reachable from its sha that no earlier deployment to the same service
and environment reached. Reachability over `parents` is a graph walk: recursive SQL would re-walk the
whole history for every deployment (quadratic), while one depth-first walk per (service, environment)
that stops at commits already reached visits each commit once. The walk's state (what each pair has
reached, which deployments were walked, the graph it was walked on) stays in marts/, so the next
transform walks only new deployments, unless history changed under them (sql/walk/reset.sql).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

import duckdb
import pyarrow as pa

from warehouse.db import read_sql

FLUSH_ROWS = 500_000
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


def walk(con: duckdb.DuckDBPyConnection) -> int:
    """Bring marts.deployment_reach up to date with marts.prod_deployments. Returns deployments walked."""
    reset = con.execute(read_sql("walk/reset.sql")).fetchall()
    if reset:
        con.execute("create or replace temp table _walk_reset (service varchar, environment varchar)")
        con.executemany("insert into _walk_reset values (?, ?)", reset)
        for table in ("deployment_reach", "walk_done"):
            con.execute(
                f"delete from marts.{table} t using _walk_reset r "
                "where t.service = r.service and t.environment = r.environment"
            )

    pending = con.execute(read_sql("walk/pending.sql")).fetchall()
    if pending:
        con.execute(f"create or replace temp table _walk_candidates as {read_sql('walk/candidates.sql')}")
        reached: dict[tuple[str, str], set[str]] = defaultdict(set)
        for service, environment, sha in con.execute(read_sql("walk/already_reached.sql")).fetchall():
            reached[(service, environment)].add(sha)
        rows = _Rows(con)
        candidates = (
            con.sql("select repo, sha, parents from _walk_candidates").to_arrow_table().to_batches()
        )
        graphs = _graphs_by_repo(candidates)
        current = next(graphs, None)
        for repo, deployments in groupby(pending, key=lambda d: d[3]):
            # candidates and pending deployments are both ordered by repo: a merge of the two
            while current is not None and repo is not None and current[0] < repo:
                current = next(graphs, None)
            graph = current[1] if current is not None and current[0] == repo else {}
            for (service, environment), pair in groupby(deployments, key=lambda d: (d[1], d[2])):
                _walk_pair(list(pair), graph, reached.pop((service, environment), set()), rows)
        rows.flush()
        con.execute(
            "insert into marts.walk_done"
            " select deployment_id, service, environment, env_seq, commit_sha, repo"
            f" from ({read_sql('walk/pending.sql')})"
        )
    con.execute("create or replace table marts.walk_graph as select repo, sha, parents from core.commits")
    return len(pending)


def _graphs_by_repo(batches: list[pa.RecordBatch]):
    """Yield (repo, {sha: parents}) for each repo of a reader ordered by repo."""
    repo, graph = None, {}
    for batch in batches:
        repos, shas, parents = (batch.column(i).to_pylist() for i in range(3))
        for r, sha, ps in zip(repos, shas, parents, strict=True):
            if r != repo:
                if repo is not None:
                    yield repo, graph
                repo, graph = r, {}
            graph[sha] = ps
    if repo is not None:
        yield repo, graph


def _walk_pair(deployments: list[tuple], graph: dict[str, list[str]], seen: set[str], rows: _Rows) -> None:
    """Walk one (service, environment) in order. `graph` holds only commits some pair may still reach;
    `seen` those of them this pair reached already. A commit outside `graph` is reached or unknown:
    either way the walk stops there."""
    for deployment_id, service, environment, repo, sha, _, is_baseline, is_unknown in deployments:
        if is_unknown or sha in seen or sha not in graph:
            continue
        seen.add(sha)
        stack = [sha]
        found = [sha]
        while stack:
            for parent in graph[stack.pop()]:
                if parent not in seen and parent in graph:
                    seen.add(parent)
                    stack.append(parent)
                    found.append(parent)
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
