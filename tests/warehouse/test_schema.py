"""The warehouse schema is versioned: older files are upgraded in place, newer ones refused; the
migrations build the canonical tables as warehouse/schema.py declares them; every core and mart table has
a unique, non-null key."""

from __future__ import annotations

import re

import duckdb
import pytest

from tests.support.cli import EXAMPLES, dora
from warehouse import db, load, schema


def test_a_new_warehouse_has_the_layers_and_the_current_version(warehouse):
    with db.write(warehouse) as con:
        schemas = {
            r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
        }
        assert {"raw", "core", "marts", "walk_state"} <= schemas
        assert db.schema_version(con) == db.SCHEMA_VERSION


def test_an_older_warehouse_is_upgraded_in_place_keeping_its_data(warehouse, monkeypatch):
    dora("--warehouse", str(warehouse), "import", str(EXAMPLES / "small"))
    newer = [*db.migrations(), (db.SCHEMA_VERSION + 1, "alter table core.services add column owner varchar;")]
    monkeypatch.setattr(db, "migrations", lambda: newer)
    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    with db.read(warehouse) as con:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        columns = [
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'core' and table_name = 'services'"
            ).fetchall()
        ]
        assert "owner" in columns
        assert con.execute("select count(*) from core.services").fetchone()[0] == 2


def test_a_newer_warehouse_is_refused_with_a_clear_message(warehouse):
    with db.write(warehouse) as con:
        db.set_meta(con, "schema_version", str(db.SCHEMA_VERSION + 5))
    with pytest.raises(db.WarehouseError, match="newer than this Doralytics knows"), db.read(warehouse):
        pass
    result = dora(
        "--warehouse", str(warehouse), "metrics", "--from", "2026-01-01", "--to", "2026-01-31", check=False
    )
    assert result.returncode == 2 and "upgrade doralytics" in result.stderr


def test_an_older_warehouse_gets_the_walk_state_schema_keeping_the_walk(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))  # a warehouse as version 1 left it, with a walk in marts
    con.execute(db.migrations()[0][1])
    con.execute("insert into main._doralytics values ('schema_version', '1')")
    con.execute(
        "insert into marts.walk_done values ('D1', 'svc', 'production', 1, 'abc1234', 'acme/svc',"
        " now(), false)"
    )
    con.execute("insert into marts.walk_graph values ('acme/svc', 'abc1234', ['def5678'])")
    con.execute("insert into marts.walk_missing values ('acme/svc', 'def5678')")
    con.close()
    with db.read(path) as con:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert con.execute("select deployment_id, env_seq from walk_state.done").fetchall() == [("D1", 1)]
        # the parents' hash is what the graph keeps of them (migration 6)
        graph = con.execute("select sha, parents_hash = hash(['def5678']) from walk_state.graph").fetchall()
        assert graph == [("abc1234", True)]
        assert con.execute("select sha from walk_state.missing").fetchall() == [("def5678",)]
        left = con.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'marts' and table_name like 'walk%'"
        ).fetchall()
        assert left == []


def _migration_text() -> str:
    return "\n".join(sql for _, sql in db.migrations())


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda t: t.name)
def test_the_migrations_build_each_core_table_as_declared(tmp_path, table):
    with db.write(tmp_path / "w.duckdb") as con:  # a fresh warehouse: exactly what the migrations build
        real = con.execute(
            """
            select column_name, data_type, is_nullable = 'YES' from information_schema.columns
            where table_schema = 'core' and table_name = ? order by ordinal_position
            """,
            [table.name],
        ).fetchall()
        not_null = {
            r[0][0]
            for r in con.execute(
                "select constraint_column_names from duckdb_constraints()"
                " where schema_name = 'core' and table_name = ? and constraint_type = 'NOT NULL'",
                [table.name],
            ).fetchall()
        }
    declared = [(c.name, c.sql_type, table.is_nullable(c)) for c in table.columns]
    assert real == [*declared, (schema.LOAD_ID, "BIGINT", False)]
    assert set(table.key) <= not_null
    # The key is the grain (the loaders enforce it, not an index): the migration's grain line names it.
    grain = re.search(
        rf"-- grain: one row per \(?([\w, ]+?)\)?\n(?:--.*\n)*create table if not exists core\.{table.name} ",
        _migration_text(),
    )
    assert grain is not None and tuple(grain.group(1).split(", ")) == table.key


def test_the_loader_knows_every_column_kind():
    assert {c.kind for t in schema.TABLES for c in t.columns} <= set(load.KINDS)


# The keys of the core tables the generated example fills, and of the marts.
KEYS = {
    **{
        f"core.{t.name}": ", ".join(t.key)
        for t in schema.TABLES
        if (EXAMPLES / "generated" / t.file).is_file()
    },
    "marts.prod_deployments": "deployment_id",
    "marts.deployments": "deployment_id",
    "marts.deployment_reach": "service, environment, sha",
    "marts.commit_changes": "repo, sha",
    "marts.changes": "service, change_id",
    "marts.incident_attribution": "incident_id",
}


@pytest.mark.parametrize("table", KEYS)
def test_every_table_has_a_unique_not_null_key(warehouse, table):
    dora("--warehouse", str(warehouse), "import", str(EXAMPLES / "generated"))
    key = KEYS[table]
    with db.read(warehouse) as con:
        total = con.execute(f"select count(*) from {table}").fetchone()[0]
        distinct = con.execute(f"select count(*) from (select distinct {key} from {table})").fetchone()[0]
        any_null = " or ".join(f"{k} is null" for k in key.split(", "))
        nulls = con.execute(f"select count(*) from {table} where {any_null}").fetchone()[0]
    assert total > 0 and distinct == total and nulls == 0
