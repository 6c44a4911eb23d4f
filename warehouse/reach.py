"""Each commit's place against its repository's spine: what makes "the commits a deployment reaches" a
range of numbers instead of a graph walk per service (warehouse/walk.py uses it).

The spine of a repo is one first-parent chain, oldest first: the chain of the childless commit that
holds the most deployed shas (then the longest, then the highest sha). A commit's position `pos` is the
first spine position whose commit reaches it (null: no spine commit does), so the ancestors of spine
commit q are exactly the commits with pos <= q. A deployed sha x on the spine has floor = its own
position; one off the spine has floor = the last spine position among its ancestors, and its `extra`
commits: its ancestors with pos null or beyond its floor. So ancestors(x) = {pos <= floor(x)} and
extra(x), whatever the number of services that deploy x.

The state grows with the repo: new commits on the spine's first-parent descendants extend it, the
others get a position when a spine commit reaches them. A repo whose graph changed (or whose spine
stopped growing while many commits stay unplaced) is placed again from scratch; the results are a
function of the graph alone, so that changes no shipped commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb
import pyarrow as pa

from warehouse.db import read_sql

Graph = dict[str, list[str]]
FLUSH_ROWS = 500_000
# A repo whose spine did not grow is placed again when this many of its commits, and this share of
# them, have no position: its extra sets would otherwise grow with every deployment.
REPLACE_UNPLACED = 1_000
REPLACE_SHARE = 0.25
# How far back from its end a spine may be cut to follow new commits (a spine that ended on a branch).
SPINE_TAIL = 64


def choose_spine(graph: Graph, deployed: set[str]) -> list[str]:
    """The spine of a whole repo graph, oldest first (empty for an empty graph)."""
    parents = {p for ps in graph.values() for p in ps}
    scores = _chain_scores(graph, deployed)
    tips = [c for c in graph if c not in parents]
    if not tips:  # a cycle in bad data: every commit is someone's parent
        tips = list(graph)
    if not tips:
        return []
    best = max(tips, key=lambda c: (scores[c][0], scores[c][1], c))
    return _chain(graph, best, stop=None)


def extend_spine(new: Graph, tail: dict[str, int], deployed: set[str]) -> tuple[list[str], int | None]:
    """The new commits that extend the spine, oldest first, and the position they follow: the best
    first-parent chain of new commits that ends on one of the spine's last commits (`tail`: sha ->
    position). Following an earlier one than the last cuts the spine there (a spine that ended on a
    branch head). ([], None) when no new commit's chain ends on the tail."""
    scores = _chain_scores(new, deployed)
    ends = {c: root for c, (_, _, root) in scores.items() if root is not None and root in tail}
    if not ends:
        return [], None
    best = max(ends, key=lambda c: (scores[c][0], tail[ends[c]], scores[c][1], c))
    return _chain(new, best, stop=ends[best]), tail[ends[best]]


def _chain_scores(graph: Graph, deployed: set[str]) -> dict[str, tuple[int, int, str | None]]:
    """Per commit: the deployed shas on its first-parent chain within graph, the chain's length, and
    the first commit outside graph the chain ends on (None: a root commit)."""
    memo: dict[str, tuple[int, int, str | None]] = {}
    for start in graph:
        if start in memo:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node in graph and node not in memo and node not in on_path:
            path.append(node)
            on_path.add(node)
            ps = graph[node]
            node = ps[0] if ps else None
        if node is not None and node in memo:
            base = memo[node]
        else:  # a root, a commit outside graph, or a cycle in bad data
            base = (0, 0, node if node is not None and node not in graph else None)
        for commit in reversed(path):
            base = (base[0] + (commit in deployed), base[1] + 1, base[2])
            memo[commit] = base
    return memo


def _chain(graph: Graph, tip: str, stop: str | None) -> list[str]:
    chain = []
    node: str | None = tip
    seen = set()
    while node is not None and node in graph and node != stop and node not in seen:
        seen.add(node)
        chain.append(node)
        ps = graph[node]
        node = ps[0] if ps else None
    chain.reverse()
    return chain


def place(unplaced: Graph, spine: list[str], first: int) -> dict[str, int]:
    """Positions for the commits of `unplaced` that spine[i] (position first + i) reaches first. The
    walk stops at commits outside `unplaced`: placed already, or absent."""
    pos: dict[str, int] = {}
    for i, head in enumerate(spine, first):
        stack = [head]
        while stack:
            commit = stack.pop()
            if commit in pos:
                continue
            parents = unplaced.get(commit)
            if parents is None:
                continue
            pos[commit] = i
            stack.extend(parents)
    return pos


def off_spine(graph: Graph, pos: dict[str, int | None], spine_pos: dict[str, int], tip: str):
    """(floor, extra) of a deployed sha off the spine: a walk from it that stops at spine commits."""
    floor = -1
    seen = {tip}
    stack = [tip]
    while stack:
        for parent in graph.get(stack.pop(), ()):
            if parent in seen:
                continue
            on_spine = spine_pos.get(parent)
            if on_spine is not None:
                floor = max(floor, on_spine)
            elif parent in graph:
                seen.add(parent)
                stack.append(parent)
    extra = [c for c in seen if (p := pos.get(c)) is None or p > floor]
    return (floor if floor >= 0 else None), extra


class Writer:
    """Buffers rows of one state table and appends them in Arrow batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, schema: pa.Schema) -> None:
        self.con, self.table, self.schema = con, table, schema
        self.columns: list[list] = [[] for _ in schema]

    def add(self, *values: object) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        if len(self.columns[0]) >= FLUSH_ROWS:
            self.flush()

    def extend(self, columns: Iterable[list]) -> None:
        for column, values in zip(self.columns, columns, strict=True):
            column.extend(values)
        if len(self.columns[0]) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.columns[0]:
            return
        batch = pa.table(self.columns, schema=self.schema)
        self.con.register("_walk_batch", batch)
        self.con.execute(f"insert into {self.table} by name select * from _walk_batch")
        self.con.unregister("_walk_batch")
        self.columns = [[] for _ in self.schema]


POSITIONS = pa.schema([("repo", pa.string()), ("sha", pa.string()), ("pos", pa.int64())])
SPINE = pa.schema([("repo", pa.string()), ("pos", pa.int64()), ("sha", pa.string())])
DEPLOYED = pa.schema([("repo", pa.string()), ("sha", pa.string()), ("floor", pa.int64())])
EXTRA = pa.schema([("repo", pa.string()), ("tip", pa.string()), ("sha", pa.string())])


def graphs(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> Iterator[tuple[str, Graph]]:
    """Yield (repo, {sha: parents}) from a query of (repo, sha, parents) ordered by repo."""
    # materialised: the caller writes to the same connection while it reads
    reader = con.sql(sql, params=params or None).to_arrow_table().to_batches(200_000)
    repo: str | None = None
    graph: Graph = {}
    for batch in reader:
        repos, shas, parents = (batch.column(i).to_pylist() for i in range(3))
        for r, s, ps in zip(repos, shas, parents, strict=True):
            if r != repo:
                if repo is not None:
                    yield repo, graph
                repo, graph = r, {}
            graph[s] = ps
    if repo is not None:
        yield repo, graph


def deployed_shas(con: duckdb.DuckDBPyConnection, repos: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    rows = con.execute(
        "select distinct repo, commit_sha from marts.prod_deployments where list_contains(?, repo)", [repos]
    ).fetchall()
    for repo, sha in rows:
        out.setdefault(repo, set()).add(sha)
    return out


def place_from_scratch(con: duckdb.DuckDBPyConnection, repos: list[str]) -> None:
    """Choose the spine of each repo and place every commit (their old state deleted first)."""
    if not repos:
        return
    for table in ("graph", "spine", "deployed", "extra"):
        con.execute(f"delete from walk_state.{table} where list_contains(?, repo)", [repos])
    deployed = deployed_shas(con, repos)
    pos_out, spine_out = Writer(con, "_walk_pos", POSITIONS), Writer(con, "walk_state.spine", SPINE)
    con.execute("create or replace temp table _walk_pos (repo varchar, sha varchar, pos bigint)")
    sql = "select repo, sha, parents from core.commits where list_contains(?, repo) order by repo"
    for repo, graph in graphs(con, sql, [repos]):
        spine = choose_spine(graph, deployed.get(repo, set()))
        pos = place(graph, spine, 0)
        pos_out.extend(([repo] * len(pos), list(pos), list(pos.values())))
        spine_out.extend(([repo] * len(spine), list(range(len(spine))), spine))
    pos_out.flush()
    spine_out.flush()
    con.execute(
        "insert into walk_state.graph select c.repo, c.sha, c.parents, p.pos from core.commits as c "
        "left join _walk_pos as p using (repo, sha) where list_contains(?, c.repo)",
        [repos],
    )


def place_new(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Place the commits of _walk_new (commits not in the graph yet, of repos that have a spine) by
    extending each repo's spine. Returns the repos to place from scratch instead."""
    tails: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for repo, sha, pos, total in con.execute(read_sql("walk/spine_tails.sql"), [SPINE_TAIL]).fetchall():
        tails.setdefault(repo, {})[sha] = pos
        totals[repo] = total
    deployed = deployed_shas(con, list(tails))
    plans = {}
    cuts: dict[str, int] = {}
    for repo, new in graphs(con, "select repo, sha, parents from _walk_new order by repo"):
        extension, after = extend_spine(new, tails[repo], deployed.get(repo, set()))
        length = max(tails[repo].values()) + 1
        if after is not None and after < length - 1:
            cuts[repo] = after
        plans[repo] = (new, extension, length if after is None else after + 1)
    if cuts:
        _cut(con, cuts)
    pos_out, spine_out = Writer(con, "_walk_pos", POSITIONS), Writer(con, "walk_state.spine", SPINE)
    con.execute("create or replace temp table _walk_pos (repo varchar, sha varchar, pos bigint)")
    unplaced = dict(graphs(con, read_sql("walk/unplaced.sql")))
    again: list[str] = []
    for repo, (new, extension, first) in plans.items():
        old = unplaced.get(repo, {})
        pos = place({**old, **new}, extension, first)
        left = len(old) + len(new) - len(pos)
        if not extension and left > REPLACE_UNPLACED and left > REPLACE_SHARE * (totals[repo] + len(new)):
            again.append(repo)
            continue
        pos_out.extend(([repo] * len(pos), list(pos), list(pos.values())))
        spine_out.extend(([repo] * len(extension), list(range(first, first + len(extension))), extension))
    pos_out.flush()
    spine_out.flush()
    con.execute(read_sql("walk/place_new.sql"), [again])
    con.execute(read_sql("walk/place_old.sql"))
    return again


def _cut(con: duckdb.DuckDBPyConnection, cuts: dict[str, int]) -> None:
    """End the spine of each repo at the position given: the commits placed beyond it are unplaced
    again, and the deployed shas whose floor was beyond it lose their floor and extra set (found again
    by the same transform)."""
    con.register("_walk_cuts_arrow", pa.table({"repo": list(cuts), "last": list(cuts.values())}))
    con.execute("create or replace temp table _walk_cuts as select * from _walk_cuts_arrow")
    con.unregister("_walk_cuts_arrow")
    for statement in read_sql("walk/cut.sql").split(";"):
        if statement.strip():
            con.execute(statement)


def floor_off_spine(con: duckdb.DuckDBPyConnection) -> None:
    """Floors and extra sets of the deployed shas in _walk_off_spine (known, off the spine, new)."""
    wanted: dict[str, list[str]] = {}
    for repo, sha in con.execute("select repo, sha from _walk_off_spine").fetchall():
        wanted.setdefault(repo, []).append(sha)
    if not wanted:
        return
    deployed_out, extra_out = (
        Writer(con, "walk_state.deployed", DEPLOYED),
        Writer(con, "walk_state.extra", EXTRA),
    )
    for repo, tips in wanted.items():
        rows = con.execute("select sha, parents, pos from walk_state.graph where repo = ?", [repo]).fetchall()
        graph = {sha: parents for sha, parents, _ in rows}
        pos = {sha: p for sha, _, p in rows}
        spine_pos = dict(
            con.execute("select sha, pos from walk_state.spine where repo = ?", [repo]).fetchall()
        )
        for tip in tips:
            floor, extra = off_spine(graph, pos, spine_pos, tip)
            deployed_out.add(repo, tip, floor)
            extra_out.extend(([repo] * len(extra), [tip] * len(extra), extra))
    deployed_out.flush()
    extra_out.flush()
