"""The benchmark's generated org: sizes follow the scale, keys are unique, the graph is consistent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from benchmarks.generate import FILLED, add_holdout, generate, sizes
from warehouse import db
from warehouse.export import export_bundle
from warehouse.load import import_bundle
from warehouse.publish import sql_string
from warehouse.schema import TABLE_BY_NAME

SCALE = 0.005


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A small org with its held-out day added back: the state the benchmark's re-transform sees."""
    folder = tmp_path_factory.mktemp("bench")
    warehouse, holdout = folder / "w.duckdb", folder / "holdout.duckdb"
    counts = generate(warehouse, scale=SCALE, holdout_path=holdout)
    added = add_holdout(warehouse, holdout)
    assert 0 < added["commits"] < counts["commits"] / 100
    return warehouse, counts


@pytest.fixture()
def con(org: tuple[Path, dict[str, int]]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(org[0]), read_only=True)
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return con.execute(sql).fetchone()


def test_row_counts_are_proportional_to_the_scale(tmp_path: Path) -> None:
    counts = generate(tmp_path / "w.duckdb", scale=SCALE)
    n = sizes(scale=SCALE)
    # without a hold-out every target is met exactly
    assert counts["services"] == n["n_services"] == 2
    assert counts["commits"] == n["n_commits"] == 10_000
    assert counts["pull_requests"] == n["n_prs"] == 2_000
    assert counts["deployments"] == n["n_deployments"] == 1_500
    assert counts["incidents"] == n["n_incidents"] == 100
    # 1-5 commits per PR, 3 on average
    assert 2.5 * counts["pull_requests"] < counts["pull_request_commits"] < 3.5 * counts["pull_requests"]


def test_keys_are_unique_and_references_resolve(
    org: tuple[Path, dict[str, int]], con: duckdb.DuckDBPyConnection
) -> None:
    counts = org[1]
    for table in FILLED:
        key = ", ".join(TABLE_BY_NAME[table].key)
        total, distinct = one(con, f"select count(*), count(distinct ({key})) from core.{table}")
        assert total == distinct >= counts[table], table
    # every parent, merge commit, PR commit and deployed sha is in the graph of its own repo
    assert one(
        con,
        "select count(*) from (select repo, unnest(parents) as sha from core.commits) p"
        " anti join core.commits c using (repo, sha)",
    ) == (0,)
    assert one(
        con,
        "select count(*) from core.pull_requests p anti join core.commits c"
        " on c.repo = p.repo and c.sha = p.merge_commit_sha where p.merge_commit_sha is not null",
    ) == (0,)
    prc = "select count(*) from core.pull_request_commits anti join core.commits using (repo, sha)"
    assert one(con, prc) == (0,)
    assert one(
        con,
        "select count(*) from core.deployments d join core.services s using (service)"
        " anti join core.commits c on c.repo = s.repo and c.sha = d.commit_sha",
    ) == (0,)


def test_timestamps_are_ordered(con: duckdb.DuckDBPyConnection) -> None:
    # review and merge follow the opening; a first commit after it is the deliberate ~1% rewritten history
    assert one(
        con,
        "select count(*) filter (where created_at > first_review_at or first_review_at > merged_at),"
        " avg((first_commit_at > created_at)::int) < 0.02 from core.pull_requests",
    ) == (0, True)
    assert one(con, "select count(*) from core.commits where authored_at > committed_at") == (0,)
    assert one(con, "select count(*) from core.incidents where resolved_at < created_at") == (0,)
    # production walks forward: a deployed commit older than the previous one is a rollback (~1%)
    going_back = one(
        con,
        """
        with d as (
            select d.service, d.finished_at, d.deployment_id, c.committed_at
            from core.deployments d join core.services s using (service)
            join core.commits c on c.repo = s.repo and c.sha = d.commit_sha
            where d.status = 'success' and d.environment <> 'staging'
        )
        select avg((committed_at < previous)::int) from (
            select committed_at,
                lag(committed_at) over (partition by service order by finished_at, deployment_id) as previous
            from d
        )
        """,
    )[0]
    assert 0 < going_back < 0.03


def test_signals_are_present(con: duckdb.DuckDBPyConnection) -> None:
    reverts, merges = one(
        con,
        "select count(*) filter (where message like '%This reverts commit %'),"
        " count(*) filter (where len(parents) = 2) from core.commits",
    )
    assert reverts > 0 and merges > 0
    hotfixes = "select count(*) > 0 from core.pull_requests where list_contains(labels, 'hotfix')"
    assert one(con, hotfixes) == (True,)
    assert one(con, "select count(*) > 0 from core.deployments where status = 'failure'") == (True,)
    assert one(con, "select count(*) > 0 from core.incidents where resolved_at is null") == (True,)


def test_the_exported_bundle_imports_back_unchanged(org: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    # the generator bypasses the bundle checks: importing its export proves it is valid bundle data
    with db.write(org[0]) as source:
        export_bundle(source, tmp_path / "bundle")
    copy = tmp_path / "copy.duckdb"
    with db.write(copy) as target:
        counts = import_bundle(target, tmp_path / "bundle")
        target.execute(f"attach {sql_string(str(org[0]))} as original (read_only)")  # no ? in ATTACH on 1.4
        for table in FILLED:
            assert counts[table] == one(target, f"select count(*) from original.core.{table}")[0]
            # the bundle's columns only: a load's own bookkeeping (its load id) differs by design
            bundle_columns = "select columns(lambda c: c <> '_load_id') from {}.core.{}"
            new, old = (bundle_columns.format(catalog, table) for catalog in ("copy", "original"))
            differ = f"select count(*) from ({new} except {old})"
            assert one(target, differ) == (0,), table
