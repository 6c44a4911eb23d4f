import hashlib
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from tests.support.warehouses import small_warehouse
from warehouse import db, sandbox
from warehouse.sandbox import SandboxError


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return small_warehouse(tmp_path / "w.duckdb")


def _digest(path: Path) -> str:
    # The whole file: a refused statement must leave not a byte changed, not only the row counts.
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_select_returns_a_frame(warehouse: Path) -> None:
    df = sandbox.run_query(warehouse, "select service, team from core.services order by service")
    assert df["service"].tolist() == ["checkout", "search"]
    assert df["team"].iloc[0] == "payments" and df["team"].isna().iloc[1]
    assert df.attrs["truncated"] is False


@pytest.mark.parametrize(
    "sql",
    [
        "describe core.services",
        "show all tables",
        "summarize core.services",
        "explain select 1",
        "pivot core.services on team using count(*)",
        "from core.services",
        "values (1)",
    ],
)
def test_read_only_forms_are_allowed(warehouse: Path, sql: str) -> None:
    assert len(sandbox.run_query(warehouse, sql)) >= 1


def test_session_is_utc_and_locked(warehouse: Path) -> None:
    df = sandbox.run_query(
        warehouse, "select current_setting('TimeZone') as tz, current_setting('lock_configuration') as locked"
    )
    assert df.to_dict("records") == [{"tz": "UTC", "locked": True}]


def test_max_rows_stops_early_and_says_so(warehouse: Path) -> None:
    df = sandbox.run_query(warehouse, "select range as n from range(100000)", max_rows=5000)
    assert len(df) == 5000 and df.attrs["truncated"] is True
    assert df["n"].tolist() == list(range(5000))
    df = sandbox.run_query(warehouse, "select * from core.services", max_rows=2)
    assert len(df) == 2 and df.attrs["truncated"] is False
    df = sandbox.run_query(warehouse, "select * from core.services where false", max_rows=10)
    assert list(df.columns) == ["service", "repo", "team", "paths", "_load_id"] and df.empty


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("insert into core.services values ('x', null, null)", sandbox.READ_ONLY),
        ("create table core.t (a int)", sandbox.READ_ONLY),
        ("create temp table t as select 1", sandbox.READ_ONLY),
        ("create macro m(a) as a", sandbox.READ_ONLY),
        ("drop table core.services", sandbox.READ_ONLY),
        # EXPLAIN passes the statement check: the connection fence refuses what it would run.
        ("explain analyze delete from core.services", sandbox.READ_ONLY),
        ("explain analyze copy core.services to '{tmp}/out.csv'", sandbox.NO_FILES),
        ("update core.services set team = 'x'", sandbox.READ_ONLY),
        ("delete from core.services", sandbox.READ_ONLY),
        ("alter table core.services add column x int", sandbox.READ_ONLY),
        ("create secret s (type s3, key_id 'a', secret 'b')", sandbox.READ_ONLY),
        ("COPY core.services TO '{tmp}/out.csv'", sandbox.NO_FILES),
        ("copy (select 1) to '{tmp}/out.csv' (header)", sandbox.NO_FILES),
        ("copy core.services from '{tmp}/in.csv'", sandbox.NO_FILES),
        ("export database '{tmp}/exported'", sandbox.NO_FILES),
        ("select * from read_csv('{tmp}/in.csv')", sandbox.NO_FILES),
        ("select * from '{tmp}/in.csv'", sandbox.NO_FILES),
        ("select content from read_text('{tmp}/in.csv')", sandbox.NO_FILES),
        ("select * from glob('{tmp}/*')", sandbox.NO_FILES),
        ("select * from read_parquet('{tmp}/in.csv')", sandbox.NO_FILES),
        ("select * from 'https://example.com/data.csv'", sandbox.NO_FILES),
        ("attach '{tmp}/other.duckdb' as other", sandbox.NO_ATTACH),
        ("detach w", sandbox.NO_ATTACH),
        ("install httpfs", sandbox.NO_EXTENSIONS),
        ("force install httpfs", sandbox.NO_EXTENSIONS),
        ("load httpfs", sandbox.NO_EXTENSIONS),
        ("set threads = 1", sandbox.NO_SETTINGS),
        ("set enable_external_access = true", sandbox.NO_SETTINGS),
        ("reset lock_configuration", sandbox.NO_SETTINGS),
        ("pragma threads = 8", sandbox.NO_SETTINGS),
        ("set variable x = 1", sandbox.NO_SETTINGS),
        ("use core", sandbox.NO_SETTINGS),
    ],
)
def test_forbidden_statements_are_refused_and_change_nothing(
    warehouse: Path, tmp_path: Path, sql: str, message: str
) -> None:
    (tmp_path / "in.csv").write_text("service,repo,team\nevil,x,y\n")
    before_files = sorted(p.name for p in tmp_path.iterdir())
    before = _digest(warehouse)
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, sql.format(tmp=tmp_path))
    assert str(info.value) == message
    assert _digest(warehouse) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == before_files  # no out.csv, exported/, other.duckdb
    assert len(sandbox.run_query(warehouse, "select * from core.services")) == 2


def test_file_functions_inside_an_allowed_query_hit_the_connection_fence(
    warehouse: Path, tmp_path: Path
) -> None:
    # The statement is a plain SELECT, so only the connection config stops it: the second fence works alone.
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    sql = f"with s as (select * from read_text('{secret}')) select content from s"
    with pytest.raises(SandboxError, match="cannot read or write files"):
        sandbox.run_query(warehouse, sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("select 1; select 2", "got 2 statements"),
        ("select * from core.services; drop table core.services", "got 2 statements"),
        ("begin", "TRANSACTION is not allowed"),
        ("checkpoint", "CALL is not allowed"),
        ("import database '/tmp'", "PRAGMA is not allowed"),
        ("vacuum", "is read-only"),
        ("", "no query given"),
        ("  ; -- nothing", "no query given"),
    ],
)
def test_only_one_query_runs(warehouse: Path, sql: str, message: str) -> None:
    before = _digest(warehouse)
    with pytest.raises(SandboxError, match=message):
        sandbox.run_query(warehouse, sql)
    assert _digest(warehouse) == before


def test_errors_are_one_line(warehouse: Path) -> None:
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, "selec 1")
    assert str(info.value) == 'Parser Error: syntax error at or near "selec"'
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, "select * from core.servics")
    assert "\n" not in str(info.value)
    assert "servics does not exist" in str(info.value) and 'Did you mean "services"' in str(info.value)


def test_long_query_is_interrupted(warehouse: Path) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(
            warehouse, "select count(*) from range(1000000000) a, range(1000000000) b", timeout_seconds=0.3
        )
    assert str(info.value) == "query interrupted after 0.3 s"
    assert time.monotonic() - started < 5


def test_missing_warehouse_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="no warehouse at"):
        sandbox.run_query(tmp_path / "typo.duckdb", "select 1")
    assert not (tmp_path / "typo.duckdb").exists()


def test_sandbox_error_is_a_warehouse_error() -> None:
    # So a command that already reports WarehouseError reports sandbox refusals without a new except.
    assert issubclass(SandboxError, db.WarehouseError)


def test_schema_listing(warehouse: Path) -> None:
    listing = sandbox.schema_listing(warehouse)
    assert list(listing.columns) == ["schema", "table", "column", "type"]
    assert set(listing["schema"]) <= {"raw", "core", "marts"}
    services = listing[(listing["schema"] == "core") & (listing["table"] == "services")]
    assert services[["column", "type"]].values.tolist() == [
        ["service", "VARCHAR"],
        ["repo", "VARCHAR"],
        ["team", "VARCHAR"],
        ["paths", "VARCHAR[]"],
        ["_load_id", "BIGINT"],
    ]
    commits = listing[(listing["schema"] == "core") & (listing["table"] == "commits")]
    assert dict(zip(commits["column"], commits["type"], strict=True))["parents"] == "VARCHAR[]"
    assert "_doralytics" not in set(listing["table"])


@pytest.mark.parametrize(
    "sql",
    [
        "insert into core.services values ('x', null, null)",
        "drop table core.services",
        "create secret s (type s3, key_id 'a', secret 'b')",
        "copy core.services to '{tmp}/out.csv'",
        "export database '{tmp}/exported'",
        "attach '{tmp}/other.duckdb' as other",
        "install httpfs",
        "load httpfs",
        "set threads = 1",
        "set enable_external_access = true",
        "select * from read_csv('{tmp}/in.csv')",
    ],
)
def test_connection_fence_holds_without_the_statement_check(
    warehouse: Path, tmp_path: Path, sql: str
) -> None:
    # Defence in depth: should the allow-list ever miss a statement, the connection itself still refuses.
    (tmp_path / "in.csv").write_text("a\n1\n")
    before = _digest(warehouse)
    con = sandbox.connect(warehouse)
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(tmp=tmp_path)).fetchall()
    finally:
        con.close()
    assert _digest(warehouse) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "w.duckdb"]


def test_connections_in_one_process_share_the_fenced_instance(warehouse: Path) -> None:
    # DuckDB hands every connection with the same config the same instance; only the first may set it up.
    first, second = sandbox.connect(warehouse), sandbox.connect(warehouse)
    try:
        for con in (first, second):
            sql = "select current_setting('TimeZone'), current_setting('lock_configuration')"
            assert con.execute(sql).fetchone() == ("UTC", True)
    finally:
        first.close()
        second.close()
    with ThreadPoolExecutor(4) as pool:
        frames = list(
            pool.map(
                lambda _: sandbox.run_query(warehouse, "select count(*) as n from core.services"), range(8)
            )
        )
    assert [f["n"].iloc[0] for f in frames] == [2] * 8


def test_sessions_are_utc_whatever_the_local_time_zone(warehouse: Path) -> None:
    # The process's own zone is fixed when DuckDB first starts, so only a fresh process can show this.
    code = textwrap.dedent(
        """
        import sys
        from warehouse import sandbox
        tz = "select current_setting('TimeZone') as tz"
        first, second = sandbox.connect(sys.argv[1]), sandbox.connect(sys.argv[1])
        print(sandbox.run_query(sys.argv[1], tz)["tz"][0])
        print(*(c.sql(tz).fetchall()[0][0] for c in (first, second)))
        """
    )
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse)], env=env, capture_output=True, text=True
    )
    assert done.stdout.split() == ["UTC", "UTC", "UTC"], done.stderr


def test_waits_for_a_connection_with_other_settings_in_this_process(warehouse: Path) -> None:
    # The dashboard's other pages read through db.read in the same process: short-lived, so the sandbox waits.
    reader = duckdb.connect(str(warehouse), read_only=True)
    threading.Timer(0.3, reader.close).start()
    assert sandbox.run_query(warehouse, "select count(*) as n from core.services")["n"].tolist() == [2]


def test_a_reader_open_in_this_process_does_not_hold_up_a_query(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The query runs in a process of its own: a connection of this one with other settings is no obstacle.
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.2)
    with db.read(warehouse):
        assert sandbox.run_query(warehouse, "select count(*) as n from core.services")["n"].tolist() == [2]


def test_gives_up_on_a_writer_of_another_process_with_a_clear_error_without_paths(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.3)
    code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); time.sleep(9)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(SandboxError) as info:
            sandbox.run_query(warehouse, "select 1")
    finally:
        holder.kill()
        holder.wait()
    message = str(info.value)
    assert message.startswith("cannot open <server path>: ") and "lock" in message.lower()
    assert "\n" not in message
    assert not re.search(r"(?<![:/\w])/\w", re.sub(r"https://\S+", "", message)), message  # no path


@pytest.mark.parametrize(
    "sql",
    [
        "select * from postgres_query('__ducklake_metadata_warehouse', 'select 1')",
        "select * from Postgres_Execute('__ducklake_metadata_warehouse', 'drop table ducklake_snapshot')",
        'select * from "__ducklake_metadata_warehouse".public.ducklake_snapshot',
        "select * from snapshots()",
        "select * from warehouse.current_snapshot()",
        "select * from ducklake_table_info('warehouse')",
    ],
)
def test_the_lakes_functions_are_refused_where_no_lake_extension_is_loaded(sql: str) -> None:
    """The asking process (DuckDB 2 here, without the lake's extensions) refuses them before any lake is
    reached; tests/lake/test_surfaces_sql.py checks the same on a real lake."""
    with pytest.raises(SandboxError, match="does not reach the lake's catalog"):
        sandbox.check(duckdb.connect(), sql)
