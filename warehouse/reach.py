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
stopped growing while many commits stay unplaced, one of them deployed) is placed again from scratch
(warehouse/reach_ids.py); the results are a function of the graph alone, so that changes no shipped
commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb

from warehouse.db import read_sql

Graph = dict[str, list[str]]
FLUSH_ROWS = 500_000
# A repo whose spine did not grow is placed again when this many of its commits, and this share of
# them, have no position, and a deployment not walked yet ships one of them: its extra sets would
# otherwise grow with every deployment.
REPLACE_UNPLACED = 1_000
REPLACE_SHARE = 0.25
# How far back from its end a spine may be cut to follow new commits (a spine that ended on a branch).
SPINE_TAIL = 64


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
    """Buffers rows of one state table and appends them in batches (`append_rows`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> None:
        self.con, self.table, self.names = con, table, columns
        self.columns: list[list] = [[] for _ in columns]

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
        append_rows(self.con, self.table, dict(zip(self.names, self.columns, strict=True)))
        self.columns = [[] for _ in self.names]


# A batch of up to this many rows goes to DuckDB as list parameters; a larger one as numpy columns DuckDB
# scans, 4x faster at 500,000 rows. numpy takes 0.13 s to import: a day's transform, whose batches are
# small, never pays it (nor pyarrow's, whose first table imports pandas).
SMALL_BATCH = 20_000


def append_rows(con: duckdb.DuckDBPyConnection, table: str, values: dict[str, list]) -> None:
    """Append rows, given as Python lists by column name, to `table` (by name)."""
    if len(next(iter(values.values()))) <= SMALL_BATCH:
        select = ", ".join(f"unnest(?) as {name}" for name in values)
        con.execute(f"insert into {table} by name select {select}", list(values.values()))
        return
    import numpy as np  # see SMALL_BATCH

    arrays = {}
    for name, column in values.items():
        array = np.empty(len(column), dtype=object)
        array[:] = column
        arrays[name] = array
    con.register("_walk_batch", arrays)
    con.execute(f"insert into {table} by name select * from _walk_batch")
    con.unregister("_walk_batch")


POSITIONS = ("repo", "sha", "pos")
SPINE = ("repo", "pos", "sha")
DEPLOYED = ("repo", "sha", "floor")
EXTRA = ("repo", "tip", "sha")


def graphs(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> Iterator[tuple[str, Graph]]:
    """Yield (repo, {sha: parents}) from a query of (repo, sha, parents) ordered by repo."""
    # materialised: the caller writes to the same connection while it reads
    rows = con.execute(sql, params or []).fetchall()
    repo: str | None = None
    graph: Graph = {}
    for r, s, ps in rows:
        if r != repo:
            if repo is not None:
                yield repo, graph
            repo, graph = r, {}
        graph[s] = ps
    if repo is not None:
        yield repo, graph


def deployed_shas(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """The shas of _walk_new (commits to place) that production deployments ship."""
    out: dict[str, set[str]] = {}
    for repo, sha in con.execute(read_sql("walk/new_deployed.sql")).fetchall():
        out.setdefault(repo, set()).add(sha)
    return out


def place_new(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Place the commits of _walk_new (commits not in the graph yet, of repos that have a spine) by
    extending each repo's spine. Returns the repos to place from scratch instead."""
    tails: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for repo, sha, pos, total in con.execute(read_sql("walk/spine_tails.sql"), [SPINE_TAIL]).fetchall():
        tails.setdefault(repo, {})[sha] = pos
        totals[repo] = total
    deployed = deployed_shas(con)
    plans = {}
    cuts: dict[str, int] = {}
    # the chain that extends a spine may run through old unplaced commits (a spine that ended on a
    # branch while the work went on from below its end)
    before = dict(graphs(con, read_sql("walk/unplaced.sql")))
    for repo, new in graphs(con, "select repo, sha, parents from _walk_new order by repo"):
        reached = {**before.get(repo, {}), **new}
        extension, after = extend_spine(reached, tails[repo], deployed.get(repo, set()))
        length = max(tails[repo].values()) + 1
        if after is not None and after < length - 1:
            cuts[repo] = after
        plans[repo] = (new, extension, length if after is None else after + 1)
    if cuts:
        _cut(con, cuts)
    pos_out, spine_out = Writer(con, "_walk_pos", POSITIONS), Writer(con, "walk_state.spine", SPINE)
    con.execute("create or replace temp table _walk_pos (repo varchar, sha varchar, pos bigint)")
    # only the unplaced commits the new ones reach can take a position (read again: a cut unplaces
    # commits); all of them are counted
    unplaced = dict(graphs(con, read_sql("walk/unplaced.sql"))) if cuts else before
    counts = dict(con.execute(read_sql("walk/unplaced_counts.sql")).fetchall())
    again: list[str] = []
    for repo, (new, extension, first) in plans.items():
        old = unplaced.get(repo, {})
        pos = place({**old, **new}, extension, first)
        left = counts.get(repo, 0) + len(new) - len(pos)
        # placing again helps a deployment to come whose sha stays unplaced (the spine ended on a
        # branch the work left), not the commits nothing deployed reaches (squash-merged branches)
        stranded = deployed.get(repo, set()) - pos.keys()
        big = left > REPLACE_UNPLACED and left > REPLACE_SHARE * (totals[repo] + len(new))
        if not extension and big and stranded:
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
    con.execute("create or replace temp table _walk_cuts (repo varchar, last bigint)")
    append_rows(con, "_walk_cuts", {"repo": list(cuts), "last": list(cuts.values())})
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
        rows = con.execute(read_sql("walk/repo_graph.sql"), [repo]).fetchall()
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
