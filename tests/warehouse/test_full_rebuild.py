"""A full rebuild reads the commit-level marts' inputs whole (since_load_id -1) instead of matching them
against every affected key: both ways give the same rows."""

from __future__ import annotations

import pytest

from tests.support.cli import EXAMPLES
from tests.support.warehouses import import_and_transform
from warehouse import db, transform
from warehouse.db import read_sql
from warehouse.metric_settings import MetricsSettings

EVERY_KEY = {
    "commit_changes": ("_affected_commits", "select repo, sha from core.commits"),
    "changes": (
        "_affected_changes",
        "select distinct change_id from marts.commit_changes where change_id is not null",
    ),
}


@pytest.mark.parametrize("example", ["small", "monorepo", "generated"])
def test_the_full_rebuild_equals_deriving_every_key_incrementally(tmp_path, example):
    path = tmp_path / "w.duckdb"
    assert import_and_transform(path, EXAMPLES / example)["full"]
    with db.write(path) as con:
        transform.set_variables(con, MetricsSettings())
        con.execute("set variable since_load_id = 0")  # the incremental branch of each SQL file
        for mart, (table, every) in EVERY_KEY.items():
            con.execute(f"create or replace temp table {table} as {every}")
            full = con.execute(f"select * from marts.{mart} order by all").fetchall()
            keyed = con.execute(f"select * from ({read_sql(f'marts/{mart}.sql')}) order by all").fetchall()
            assert full and keyed == full, mart
