"""A lake outlives a restart of its catalog's PostgreSQL server: the reader a process keeps open (the
dashboard's, the analyst engine's) finds its session gone and opens a new one, and writers carry on."""

from __future__ import annotations

from tests.lake.test_lake_core import address, example_metrics, import_example, last_snapshot
from tests.support.postgres import LakeSpot, PostgresServer
from warehouse import db


def test_a_kept_reader_and_a_writer_carry_on_after_the_catalog_server_restarts(
    lake: LakeSpot, postgres_server: PostgresServer
) -> None:
    where = address(lake)
    import_example(where, "small")
    before = example_metrics(where, "small", "org")  # opens the session later reads of this process reuse

    postgres_server.restart()

    assert example_metrics(where, "small", "org") == before
    # a write after the restart lands, and a reader sees it
    snapshot = last_snapshot(where)
    import_example(where, "small")
    assert last_snapshot(where) > snapshot
    with db.read(where) as con:
        assert db.scalar(con, "select count(*) from core.deployments") == 12
