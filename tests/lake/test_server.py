"""The PostgreSQL server the lake tests run on: real, socket-only, non-root, one role asking a password."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import duckdb
import pytest

from tests.support.postgres import PASSWORD_ROLE, LakeSpot, PostgresServer


def attach(spot: LakeSpot) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    folder = Path(sysconfig.get_paths()["purelib"]) / "duckdb_ext" / "extensions"
    con.execute(f"set extension_directory = '{folder}'")
    con.execute("load ducklake")
    con.execute("load postgres")
    con.execute(f"attach '{spot.address}' as lake (data_path '{spot.data_path}')")
    return con


def test_the_server_runs_as_a_non_root_user_on_a_socket_only(postgres_server: PostgresServer) -> None:
    assert postgres_server.psql("postgres", "show listen_addresses").strip() == ""
    owner = postgres_server.psql("postgres", "select current_setting('data_directory')").strip()
    assert Path(owner) == postgres_server.data_dir
    assert os.stat(postgres_server.data_dir).st_uid != 0


def test_each_lake_is_fresh_and_keeps_its_files_in_its_data_folder(lake: LakeSpot, postgres_server) -> None:
    con = attach(lake)
    con.execute("create table lake.t as select range as n from range(3)")
    assert con.execute("select sum(n) from lake.t").fetchall() == [(3,)]
    con.close()
    assert list(lake.data_path.rglob("*.parquet"))
    tables = postgres_server.psql(lake.dbname, "select count(*) from ducklake_table")
    assert int(tables) == 1


def test_the_password_role_needs_pgpassword(password_lake: LakeSpot, monkeypatch: pytest.MonkeyPatch) -> None:
    assert f"user={PASSWORD_ROLE}" in password_lake.address
    attach(password_lake).close()
    monkeypatch.setenv("PGPASSWORD", "wrong")
    with pytest.raises(duckdb.Error, match="(?i)password"):
        attach(password_lake)
