"""The warehouse address (warehouse/address.py): a DuckDB file or a DuckLake on PostgreSQL; a password in the
address is refused and never echoed; a lake needs a data path; under DuckDB 2.x a lake is refused in one
line naming what to install."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import dora
from warehouse import address, db, lake, load
from warehouse.address import FileAddress, LakeAddress, WarehouseError, parse

CONNINFO = "dbname=dora host=/tmp/pg port=5432 user=dora"
LAKE = f"ducklake:postgres:{CONNINFO}"
SECRET = "s3cr3t-Pa55"


def test_a_path_is_a_file_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("DORA_WAREHOUSE", raising=False)
    assert parse(tmp_path / "w.duckdb") == FileAddress(tmp_path / "w.duckdb")
    assert parse("x.duckdb") == FileAddress(Path("x.duckdb"))
    assert parse(None) == FileAddress(Path("dora.duckdb"))
    monkeypatch.setenv("DORA_WAREHOUSE", str(tmp_path / "env.duckdb"))
    assert parse(None) == FileAddress(tmp_path / "env.duckdb")
    assert str(parse("a/b.duckdb")) == "a/b.duckdb"
    # a child process may run in another folder: it gets the file's absolute path
    assert address.environment(parse("a/b.duckdb")) == {"DORA_WAREHOUSE": str(Path("a/b.duckdb").absolute())}


def test_a_lake_address_takes_its_data_path_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_DATA_PATH", str(tmp_path / "from-env"))
    found = parse(LAKE)
    assert found == LakeAddress(CONNINFO, str(tmp_path / "from-env") + "/")
    assert str(found) == LAKE
    given = parse(LAKE, str(tmp_path / "from-toml"))
    assert isinstance(given, LakeAddress) and given.data_path == str(tmp_path / "from-toml") + "/"
    assert parse(given) is given
    assert parse(LAKE, "s3://bucket/lake").data_path == "s3://bucket/lake/"  # type: ignore[union-attr]
    assert address.environment(given) == {"DORA_WAREHOUSE": LAKE, "DORA_DATA_PATH": given.data_path}


def test_a_lake_without_a_data_path_is_refused_naming_both_places(monkeypatch):
    monkeypatch.delenv("DORA_DATA_PATH", raising=False)
    with pytest.raises(WarehouseError, match=r"\[warehouse\] data_path in dora.toml or DORA_DATA_PATH"):
        parse(LAKE)


@pytest.mark.parametrize(
    "text",
    [
        f"ducklake:postgres:dbname=dora password={SECRET} host=db",
        f"ducklake:postgres:dbname=dora PASSWORD = '{SECRET} x' host=db",
        f"ducklake:postgres:postgresql://dora:{SECRET}@db/dora",
        f"ducklake:postgres:postgres://db/dora?password={SECRET}",
    ],
)
def test_a_password_in_the_address_is_refused_and_never_echoed(text, tmp_path):
    with pytest.raises(WarehouseError) as caught:
        parse(text, str(tmp_path))
    assert "PGPASSWORD" in str(caught.value) and SECRET not in str(caught.value)


def test_a_password_on_the_command_line_is_refused_without_printing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_DATA_PATH", str(tmp_path))
    result = dora(
        "--warehouse",
        f"ducklake:postgres:dbname=dora host=db password={SECRET}",
        "metrics",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        check=False,
    )
    assert result.returncode == 2 and "holds a password" in result.stderr
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ducklake:sqlite:lake.db", "catalog type Doralytics does not support"),
        ("ducklake:lake.db", "catalog type Doralytics does not support"),
        ("ducklake:postgres:", "names no database"),
        ("ducklake:postgres:dbname='unterminated", "not a libpq conninfo"),
    ],
)
def test_bad_lake_addresses_are_refused_clearly(text, message, tmp_path):
    with pytest.raises(WarehouseError, match=message):
        parse(text, str(tmp_path))


def test_as_of_options_name_a_snapshot_or_a_utc_time():
    assert lake.as_of_option(12) == "snapshot_version 12"
    assert lake.as_of_option("12") == "snapshot_version 12"
    assert lake.as_of_option("2026-07-06T09:00") == "snapshot_time '2026-07-06T09:00:00+00:00'"
    assert lake.as_of_option(dt.datetime(2026, 7, 6, 11, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == (
        "snapshot_time '2026-07-06T09:00:00+00:00'"
    )
    with pytest.raises(WarehouseError, match="not a snapshot id or a timestamp"):
        lake.as_of_option("last tuesday")


def test_the_file_backend_refuses_as_of_and_names_its_generation(tmp_path):
    path = tmp_path / "w.duckdb"
    with db.write(path):
        pass
    with pytest.raises(WarehouseError, match="keeps only its latest state"), db.read(path, as_of=3):
        pass
    with db.read(path) as con:
        named = db.snapshot(con)
        assert named.startswith("generation ") and named != "generation none (never published)"
    assert db.exists(path) and not db.exists(tmp_path / "none.duckdb")


def test_a_lake_under_duckdb_2_is_refused_in_one_line_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setattr(duckdb, "__version__", "2.0.1")  # the real one under .venv, whatever runs this
    with pytest.raises(WarehouseError) as caught, db.read(parse(LAKE, str(tmp_path))):
        pass
    message = str(caught.value)
    assert "pip install 'doralytics[lake]'" in message and "DuckDB 2.0.1" in message
    assert "\n" not in message


@pytest.mark.skipif(duckdb.__version__.startswith("1.4."), reason="a child process with DuckDB 2.x: .venv")
def test_dora_on_a_lake_under_duckdb_2_says_what_to_install_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DORA_DATA_PATH", str(tmp_path))
    result = dora(
        "--warehouse",
        LAKE,
        "metrics",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        check=False,
    )
    assert result.returncode == 2 and "doralytics[lake]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_of_schema_4_gets_its_load_counter_from_its_rows_and_loses_the_sequence(tmp_path):
    """Migration 5: one schema for both backends (a lake has no sequences)."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for _, sql in db.migrations()[:4]:
        con.execute(sql)
    # what versions 1 to 4 made: rows drawing their load id from a sequence
    con.execute("create sequence core.load_seq")
    con.execute("alter table core.services alter column _load_id set default nextval('core.load_seq')")
    con.execute("insert into core.services (service) values ('a'), ('b')")
    con.execute("insert into core.services (service) values ('c')")
    con.execute("insert into main._doralytics values ('schema_version', '4'), ('transformed_load_id', '2')")
    con.close()
    with db.write(path) as con:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert load.last_load_id(con) == 3
        assert "load 3, metrics built from load 2" in (db.stale(con) or "")
        assert (
            db.scalar(con, "select count(*) from duckdb_sequences() where database_name = current_database()")
            == 0
        )
        with pytest.raises(duckdb.ConstraintException):  # a row always says its load now
            con.execute("insert into core.services (service) values ('d')")
        assert load.next_load_id(con) == 4
