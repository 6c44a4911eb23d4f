"""`dora sql` on a lake: the same sandbox as on a file. The query's process attaches the lake read-only and
then turns external access off with only the data path allowed; the statement check refuses the lake's own
functions and its catalog database. So a query reaches the lake's tables and nothing else: not PostgreSQL
directly (postgres_query, postgres_execute, ATTACH), not a file outside the data path, never the password."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.lake.lakecli import service_bundle
from tests.support.cli import dora
from tests.support.postgres import PASSWORD, LakeSpot
from warehouse import address, lake, sandbox, sandbox_worker
from warehouse.sandbox import SandboxError

# 60 commits, a deployment every 3rd one (tests/lake/lakecli.py)
DEPLOYMENTS = 20


@pytest.fixture
def filled(password_lake: LakeSpot, tmp_path: Path) -> LakeSpot:
    """A lake of one imported service, its catalog reached as a role that needs PGPASSWORD."""
    bundle = service_bundle("alpha", "team-a").write(tmp_path / "alpha")
    dora("--warehouse", password_lake.address, "import", str(bundle))
    return password_lake


def refusal(where: LakeSpot, sql: str) -> str:
    with pytest.raises(SandboxError) as caught:
        sandbox.run_query(where.address, sql)
    return str(caught.value)


def test_dora_sql_answers_from_the_lake_in_its_own_process(filled: LakeSpot) -> None:
    out = dora(
        "--warehouse",
        filled.address,
        "sql",
        "select count(*) as n, count(distinct service) as services from core.deployments",
        "--format",
        "csv",
    )
    assert out.stdout.splitlines() == ["n,services", f"{DEPLOYMENTS},1"]
    assert PASSWORD not in out.stdout + out.stderr
    # time travel inside a query is a read like any other: snapshot 0 is the lake before the first import
    frame = sandbox.run_query(filled.address, "select count(*) as n from core.deployments")
    assert frame["n"].tolist() == [DEPLOYMENTS]


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("select * from postgres_query('__ducklake_metadata_warehouse', 'select 1')", "postgres_query()"),
        (
            "select * from postgres_execute('__ducklake_metadata_warehouse', 'drop table ducklake_snapshot')",
            "postgres_execute()",
        ),
        ("select * from POSTGRES_SCAN('dbname=x', 'public', 'ducklake_snapshot')", "postgres_scan()"),
        ('select * from "__ducklake_metadata_warehouse".public.ducklake_snapshot', "__ducklake_metadata"),
        ("select * from __ducklake_metadata_warehouse.ducklake_metadata", "__ducklake_metadata"),
        ("select * from snapshots()", "snapshots()"),
        ("select * from ducklake_snapshots('warehouse')", "ducklake_snapshots()"),
        ("select * from warehouse.table_info()", "table_info()"),
        (
            "select * from ducklake_expire_snapshots('warehouse', dry_run => true)",
            "ducklake_expire_snapshots",
        ),
        ("select * from set_option('data_inlining_row_limit', 10)", "set_option()"),
    ],
)
def test_the_lake_catalog_and_its_functions_are_refused(filled: LakeSpot, sql: str, said: str) -> None:
    message = refusal(filled, sql)
    assert sandbox.NO_CATALOG in message and said in message


@pytest.mark.parametrize(
    "sql",
    [
        "attach 'dbname=postgres' as p (type postgres)",
        "attach 'ducklake:postgres:dbname=postgres' as l",
        "detach warehouse",
        "select * from read_csv('/etc/passwd')",
        "select * from glob('/**')",
        "copy (select 1) to 'out.csv'",
        "insert into core.deployments select * from core.deployments",
        "set enable_external_access = true",
        "load httpfs",
        "select * from duckdb_databases()",
        "select * from duckdb_secrets()",
    ],
)
def test_what_is_refused_on_a_file_is_refused_on_the_lake(filled: LakeSpot, sql: str) -> None:
    message = refusal(filled, sql)
    assert message.startswith("dora sql ")
    assert PASSWORD not in message


def test_no_file_outside_the_data_path(filled: LakeSpot, tmp_path: Path) -> None:
    parquet = sorted(filled.data_path.rglob("*.parquet"))
    assert parquet, "the import wrote data files"
    assert refusal(filled, f"select * from read_parquet('{parquet[0]}')") == sandbox.NO_FILES
    outside = tmp_path / "outside.parquet"
    duckdb.execute(f"copy (select 42 as secret) to '{outside}' (format parquet)")
    assert refusal(filled, f"select * from '{outside}'") == sandbox.NO_FILES
    # A data file of the lake itself, named as a table, is readable: its rows are the lake's, which any
    # query reads anyway (every past snapshot too, with AT (VERSION => n)).
    frame = sandbox.run_query(filled.address, f"select count(*) as n from '{parquet[0]}'")
    assert frame["n"].iloc[0] > 0


def test_the_fenced_session_itself_holds_without_the_statement_check(
    filled: LakeSpot, tmp_path: Path
) -> None:
    """The second fence: statements the check would refuse, run straight on the query's connection."""
    where = address.parse(filled.address)
    assert isinstance(where, address.LakeAddress)
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    con = sandbox_worker.open_fenced_lake(where, str(spill), "500MB")
    try:
        assert con.execute("select count(*) from core.deployments").fetchall() == [(DEPLOYMENTS,)]
        for sql, needle in [
            (f"attach '{filled.conninfo}' as p (type postgres)", "disabled"),
            (f"attach 'ducklake:postgres:{filled.conninfo}' as l (data_path '{tmp_path}')", "disabled"),
            (f"select * from read_csv('{outside}')", "disabled"),
            (f"copy (select 1) to '{tmp_path / 'x.csv'}'", "disabled"),
            ("set enable_external_access = true", "locked"),
            ("set allowed_directories = ['/']", "locked"),
            ("load httpfs", ""),
            ("create table core.x (i int)", "read-only"),
            ("delete from core.deployments", "read-only"),
            # PostgreSQL itself runs the lake's catalog connection read-only
            (
                "call postgres_execute('__ducklake_metadata_warehouse', 'drop table ducklake_snapshot')",
                "read-only",
            ),
        ]:
            with pytest.raises(duckdb.Error) as caught:  # noqa: PT012 -- the statement and its result
                con.execute(sql).fetchall()
            assert needle in str(caught.value).lower(), (sql, str(caught.value))
            assert PASSWORD not in str(caught.value)
        assert con.execute("select count(*) from core.deployments").fetchall() == [(DEPLOYMENTS,)]
    finally:
        con.close()
        lake.forget_readers()


def test_the_password_never_shows_and_the_query_process_gets_only_what_libpq_reads(
    filled: LakeSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = sandbox.postgres_environment()
    assert env.get("PGPASSWORD") == PASSWORD
    assert not [k for k in env if not k.startswith("PG")]
    for sql in [
        "select * from core.no_such_table",
        "select current_setting('TimeZone') as tz",
        "select * from duckdb_tables() where database_name like '%meta%'",
        "select table_catalog, table_schema, table_name from information_schema.tables",
    ]:
        try:
            frame = sandbox.run_query(filled.address, sql)
            shown = frame.to_csv()
        except SandboxError as exc:
            shown = str(exc)
        assert PASSWORD not in shown, sql
        assert str(filled.data_path) not in shown, sql
    # without the password the query's process cannot reach the catalog: it says so, in one line
    monkeypatch.delenv("PGPASSWORD")
    message = refusal(filled, "select 1")
    assert "password" in message.lower() and PASSWORD not in message and "\n" not in message
