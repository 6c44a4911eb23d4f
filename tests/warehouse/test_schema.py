"""The warehouse schema is versioned: older files are upgraded in place, newer ones refused; every
core and mart table has a unique, non-null key."""

from __future__ import annotations

import pytest

from tests.support.cli import EXAMPLES, dora
from warehouse import db


def test_a_new_warehouse_has_the_layers_and_the_current_version(warehouse):
    with db.write(warehouse) as con:
        schemas = {
            r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()
        }
        assert {"raw", "core", "marts"} <= schemas
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


KEYS = {
    "core.services": "service",
    "core.commits": "repo, sha",
    "core.pull_requests": "repo, number",
    "core.pull_request_commits": "repo, number, sha",
    "core.deployments": "deployment_id",
    "core.incidents": "incident_id",
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
