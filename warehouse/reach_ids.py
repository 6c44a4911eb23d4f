"""Placing whole repositories from scratch (warehouse/reach.py explains the spine and the positions),
on integer ids and numpy arrays: the bulk case, every commit of a full transform or `dora import`.

DuckDB numbers the commits (sql/walk/scratch_ids.sql, in no particular order, beside their repo's
number) and lists the parent edges between them as ids; numpy then
- chooses each repo's spine: among its tips (commits no commit names as parent), the one whose
  first-parent chain holds the most deployed shas, then the longest, then the highest sha. With a single
  tip there is nothing to score; otherwise the chains' counts come from pointer jumping along the first
  parents (log2 of the longest chain rounds over the arrays);
- gives each commit the first spine position that reaches it: the smallest position among the spine
  commits it descends from, spread from the spine to the parents in rounds that carry only the commits
  whose position just went down (what the depth-first walk of reach.place gives, without a Python step
  per commit);
and DuckDB stores the result (sql/walk/scratch_store.sql).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import duckdb
import numpy as np
import numpy.typing as npt

from warehouse.db import read_sql

Ids = npt.NDArray[np.int64]
UNPLACED = np.iinfo(np.int64).max
# pointer jumping doubles the chains it sums each round: 40 rounds cover any graph (a first-parent
# cycle in bad data never ends, and stops there)
JUMP_ROUNDS = 40


def place_from_scratch(con: duckdb.DuckDBPyConnection, repos: list[str]) -> None:
    """Choose the spine of each repo and place every commit (their old state deleted first)."""
    if not repos:
        return
    for table in ("graph", "spine", "deployed", "extra"):
        con.execute(f"delete from walk_state.{table} where list_contains(?, repo)", [repos])
    con.execute(
        "create or replace temp table _walk_scratch_list as select unnest(?::varchar[]) as repo", [repos]
    )
    con.execute(read_sql("walk/scratch_ids.sql"))
    rid = _column(con, "select rid from _walk_ids order by id", "rid")  # each commit's repo number
    edges = con.execute(read_sql("walk/scratch_edges.sql")).fetchnumpy()
    child = np.asarray(edges["child"], dtype=np.int64)
    parent = np.asarray(edges["parent"], dtype=np.int64)
    first = np.asarray(edges["is_first"], dtype=bool)
    deployed = np.zeros(len(rid), dtype=np.int64)
    deployed[_column(con, read_sql("walk/scratch_deployed.sql"), "id")] = 1

    first_parent = np.full(len(rid), -1, dtype=np.int64)
    first_parent[child[first]] = parent[first]
    spine, spine_pos = spines(rid, len(repos), parent, first_parent, deployed, partial(_by_sha, con))
    pos = positions(len(rid), child, parent, spine, spine_pos)

    pos[pos == UNPLACED] = -1  # null in sql/walk/scratch_store.sql
    # numpy columns, scanned by DuckDB as they are
    con.register("_walk_id_pos", {"id": np.arange(len(rid), dtype=np.int64), "pos": pos})
    con.register("_walk_id_spine", {"id": spine, "pos": spine_pos})
    for statement in read_sql("walk/scratch_store.sql").split(";"):
        if statement.strip():
            con.execute(statement)
    con.unregister("_walk_id_pos")
    con.unregister("_walk_id_spine")
    for name in ("_walk_ids", "_walk_scratch_list"):
        con.execute(f"drop table {name}")
    con.execute("drop sequence _walk_id_seq")


def _by_sha(con: duckdb.DuckDBPyConnection, ids: Ids) -> Ids:
    """The ids given (of _walk_ids) in the order of their shas."""
    con.register("_walk_tip_ids", {"id": ids})
    try:
        return _column(con, read_sql("walk/scratch_tips.sql"), "id")
    finally:
        con.unregister("_walk_tip_ids")


def _column(con: duckdb.DuckDBPyConnection, sql: str, name: str) -> Ids:
    return np.asarray(con.execute(sql).fetchnumpy()[name], dtype=np.int64)


def spines(
    rid: Ids, repos: int, parent: Ids, first_parent: Ids, deployed: Ids, by_sha: Callable[[Ids], Ids]
) -> tuple[Ids, Ids]:
    """The spine of every repo (rid: each commit's repo number, below `repos`): the ids of its commits
    and their positions, oldest first within each repo. `by_sha` orders ids by their shas (called only
    to break a tie between tips, with the tips of the repos that have several)."""
    n = len(rid)
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    has_child = np.zeros(n, dtype=bool)
    has_child[parent] = True
    is_tip = ~has_child
    # a repo with no tip is a cycle in bad data: every commit is someone's parent, each is a candidate
    repos_with_tip = np.zeros(repos, dtype=bool)
    repos_with_tip[rid[is_tip]] = True
    is_tip |= ~repos_with_tip[rid]
    tips = np.flatnonzero(is_tip)
    tip_repos = rid[tips]
    tips_per_repo = np.bincount(tip_repos, minlength=repos)
    several = tips_per_repo[tip_repos] > 1
    best = tips[~several]  # one tip: it is the spine's end
    if several.any():
        contested, contested_repos = tips[several], tip_repos[several]
        count, length = chain_scores(first_parent, deployed)
        sha_rank = np.empty(len(contested), dtype=np.int64)
        sha_rank[np.searchsorted(contested, by_sha(contested))] = np.arange(len(contested))
        order = np.lexsort((sha_rank, length[contested], count[contested], contested_repos))
        ranked, ranked_repos = contested[order], contested_repos[order]
        last = np.flatnonzero(np.append(ranked_repos[1:] != ranked_repos[:-1], True))
        best = np.concatenate([best, ranked[last]])
    return _chains(first_parent, best)


def chain_scores(first_parent: Ids, deployed: Ids) -> tuple[Ids, Ids]:
    """Per commit: the deployed commits on its first-parent chain and the chain's length."""
    n = len(first_parent)
    # both sums in one number (count * 2**32 + length); a sink at id n ends every chain
    score = np.append((deployed << 32) + 1, 0)
    jump = np.append(np.where(first_parent >= 0, first_parent, n), n)
    for _ in range(JUMP_ROUNDS):
        if (jump[:n] == n).all():
            break
        score += score[jump]
        jump = jump[jump]
    return score[:n] >> 32, score[:n] & 0xFFFFFFFF


def _chains(first_parent: Ids, tips: Ids) -> tuple[Ids, Ids]:
    parents = first_parent.tolist()
    seen = bytearray(len(parents))
    ids: list[int] = []
    pos: list[int] = []
    for tip in tips.tolist():
        chain = []
        node = tip
        while node >= 0 and not seen[node]:
            seen[node] = 1
            chain.append(node)
            node = parents[node]
        chain.reverse()
        ids.extend(chain)
        pos.extend(range(len(chain)))
    return np.array(ids, dtype=np.int64), np.array(pos, dtype=np.int64)


def positions(n: int, child: Ids, parent: Ids, spine: Ids, spine_pos: Ids) -> Ids:
    """Each commit's position: the smallest position among the spine commits it descends from
    (UNPLACED: none). A spine commit keeps its own."""
    pos = np.full(n, UNPLACED, dtype=np.int64)
    pos[spine] = spine_pos
    fixed = np.zeros(n, dtype=bool)
    fixed[spine] = True
    order = np.argsort(child, kind="stable")
    by_child = parent[order]
    ends = np.cumsum(np.bincount(child, minlength=n))
    starts = ends - np.bincount(child, minlength=n)
    frontier = spine
    while len(frontier):
        lens = ends[frontier] - starts[frontier]
        total = int(lens.sum())
        if not total:
            break
        offsets = np.repeat(starts[frontier] - (np.cumsum(lens) - lens), lens) + np.arange(total)
        to = by_child[offsets]
        value = np.repeat(pos[frontier], lens)
        better = ~fixed[to] & (value < pos[to])
        to, value = to[better], value[better]
        if not len(to):
            break
        np.minimum.at(pos, to, value)
        frontier = np.unique(to)
    return pos
