from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.support.warehouses import small_warehouse
from warehouse import analyst, db, sandbox, schema


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return small_warehouse(tmp_path / "w.duckdb", commit_message="msg")


CORE_TABLES = [
    analyst.core_services,
    analyst.core_commits,
    analyst.core_commit_files,
    analyst.core_pull_requests,
    analyst.core_pull_request_commits,
    analyst.core_deployments,
    analyst.core_pipeline_runs,
    analyst.core_incidents,
]


def test_read_sql_returns_the_rows(warehouse: Path) -> None:
    df = pd.read_sql(
        sa.select(analyst.core_services).order_by(analyst.core_services.c.service), analyst.engine(warehouse)
    )
    assert df["service"].tolist() == ["checkout", "search"]
    assert df["team"].iloc[0] == "payments" and df["team"].isna().iloc[1]


def test_lists_and_timestamps_come_back_as_python_values(warehouse: Path) -> None:
    with analyst.engine(warehouse).connect() as con:
        row = con.execute(sa.select(analyst.core_commits)).one()
    assert row.parents == ["p1", "p2"]
    assert row.authored_at == pd.Timestamp("2026-01-02 03:04:05").to_pydatetime() and row.committed_at is None


def test_orm_can_map_the_declared_tables(warehouse: Path) -> None:
    # The declared keys are what lets the ORM map a table (they are the grain, not constraints).
    class Base(sa.orm.DeclarativeBase):
        pass

    class Service(Base):
        __table__ = analyst.core_services

    with Session(analyst.engine(warehouse)) as session:
        assert session.get(Service, "checkout").team == "payments"


def test_writes_through_the_engine_fail(warehouse: Path) -> None:
    engine = analyst.engine(warehouse)
    with pytest.raises(sa.exc.DBAPIError, match="read-only"), engine.begin() as con:
        con.execute(sa.insert(analyst.core_services).values(service="evil"))
    with pytest.raises(pd.errors.DatabaseError, match="read-only"):  # pandas wraps SQLAlchemy's error
        pd.DataFrame({"service": ["evil"]}).to_sql(
            "services", engine, schema="core", if_exists="append", index=False
        )
    with (
        pytest.raises(sa.exc.DBAPIError, match="file system operations are disabled"),
        engine.connect() as con,
    ):
        con.execute(sa.text(f"copy core.services to '{warehouse.parent / 'out.csv'}'"))
    with pytest.raises(sa.exc.DBAPIError, match="configuration has been locked"), engine.connect() as con:
        con.execute(sa.text("set enable_external_access = true"))
    with db.read(warehouse) as con:
        assert con.execute("select count(*) from core.services").fetchone() == (2,)
    assert not (warehouse.parent / "out.csv").exists()


def test_session_is_utc(warehouse: Path) -> None:
    df = pd.read_sql("select current_setting('TimeZone') as tz", analyst.engine(warehouse))
    assert df["tz"].tolist() == ["UTC"]


def test_engine_holds_no_connection_between_uses(warehouse: Path) -> None:
    # A pooled idle connection would lock a writer out of the file: a sync must get in right away.
    engine = analyst.engine(warehouse)
    pd.read_sql(sa.select(analyst.core_services), engine)
    with db.write(warehouse) as con:
        con.execute("insert into core.services (service, _load_id) values ('billing', 1)")
    assert len(pd.read_sql(sa.select(analyst.core_services), engine)) == 3


def test_missing_warehouse(tmp_path: Path) -> None:
    with pytest.raises(sandbox.SandboxError, match="no warehouse at"):
        pd.read_sql("select 1", analyst.engine(tmp_path / "nope.duckdb"))


def test_every_core_table_is_declared() -> None:
    names = (
        "services commits commit_files pull_requests pull_request_commits deployments pipeline_runs incidents"
    )
    assert {t.name for t in CORE_TABLES} == set(names.split()) == {t.name for t in schema.TABLES}
    assert set(analyst.metadata.tables) == {f"core.{t.name}" for t in CORE_TABLES}


# DuckDB's information_schema type name for each SQLAlchemy type the declarations use.
DUCKDB_TYPES = {
    sa.String: "VARCHAR",
    sa.BigInteger: "BIGINT",
    sa.DateTime: "TIMESTAMP",
    sa.ARRAY: "VARCHAR[]",
}


@pytest.mark.parametrize("table", CORE_TABLES, ids=lambda t: t.name)
def test_declarations_match_the_real_schema(tmp_path: Path, table: sa.Table) -> None:
    with db.write(tmp_path / "w.duckdb") as con:  # a fresh warehouse: exactly what the migrations build
        real = con.execute(
            """
            select column_name, data_type, is_nullable = 'YES' from information_schema.columns
            where table_schema = ? and table_name = ? order by ordinal_position
            """,
            [table.schema, table.name],
        ).fetchall()
    declared = [(c.name, DUCKDB_TYPES[type(c.type)], c.nullable) for c in table.columns]
    assert declared == real
