"""`dora warehouse copy FROM TO`: file -> lake -> file with every row and the same metrics; refusals; never
half a copy; and a copied lake carries on importing as the file would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lake.lakecli import metrics, numbers, service_bundle
from tests.support.cli import dora
from tests.support.postgres import PASSWORD, LakeSpot, PostgresServer
from tests.support.warehouses import import_and_transform
from warehouse import copy as copy_mod
from warehouse import db

DEMO_PERIOD = ("2026-04-01", "2026-06-30")
# the backend's own bookkeeping, which a copy leaves to the target
OWN_META = {"schema_version", "generation", "work_state"}


def tables(address: str) -> dict[str, list[tuple]]:
    """Every row of every table of the warehouse, sorted, by `schema.table`; main._doralytics without the
    backend's own keys."""
    found = {}
    with db.read(address) as con:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_catalog = current_database() and table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in names:
            rows = con.execute(f'select * from "{schema}"."{table}" order by all').fetchall()
            if (schema, table) == ("main", "_doralytics"):
                rows = [r for r in rows if r[0] not in OWN_META]
            found[f"{schema}.{table}"] = rows
    return found


def add_raw_payloads(path: Path) -> None:
    """A collector's raw payloads and cursor, as warehouse/sync.py writes them."""
    with db.write(path) as con:
        con.execute(
            "create table raw.github__pulls (key varchar not null, scope varchar not null, payload json,"
            " _loaded_at timestamp not null)"
        )
        con.execute(
            "insert into raw.github__pulls values"
            " ('acme/shop#1', 'acme/shop', '{\"number\": 1, \"x\": [1, 2]}', '2026-06-01 10:00:00'),"
            " ('acme/shop#2', 'acme/shop', '{\"number\": 2}', '2026-06-01 10:00:00')"
        )
        con.execute(
            "insert into raw.cursors values ('github', 'acme/shop', 'pulls', '{\"since\": \"2026-06-01\"}',"
            " '2026-06-01 10:00:00')"
        )


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    dora("--warehouse", str(path), "demo", "--seed", "7", "--end", DEMO_PERIOD[1])
    add_raw_payloads(path)
    return path


def demo_metrics(address: str, group_by: str) -> str:
    return numbers(metrics(address, group_by=group_by, period=DEMO_PERIOD))


def test_file_to_lake_to_file_keeps_every_row_and_the_metrics(
    demo_file: Path, lake: LakeSpot, tmp_path: Path
) -> None:
    back = tmp_path / "back.duckdb"
    to_lake = dora("warehouse", "copy", str(demo_file), lake.address)
    assert "copied" in to_lake.stderr
    dora("warehouse", "copy", lake.address, str(back))

    source = tables(str(demo_file))
    assert source["core.commits"] and source["raw.github__pulls"] and source["raw.cursors"]
    assert source["marts.deployments"] and source["walk_state.spine"]
    for copy in (lake.address, str(back)):
        copied = tables(copy)
        assert set(copied) == set(source)
        for name, rows in source.items():
            assert copied[name] == rows, f"{name} differs in {copy}"
    for group_by in ("service", "team", "org"):
        on_file = demo_metrics(str(demo_file), group_by)
        assert demo_metrics(lake.address, group_by) == on_file
        assert demo_metrics(str(back), group_by) == on_file


def test_a_copied_lake_carries_on_like_the_file(lake: LakeSpot, tmp_path: Path) -> None:
    first = service_bundle("alpha", "team-a").write(tmp_path / "alpha")
    second = service_bundle("beta", "team-b").write(tmp_path / "beta")
    file = tmp_path / "a.duckdb"
    import_and_transform(file, first)
    both = tmp_path / "both.duckdb"
    import_and_transform(both, first, second)
    dora("warehouse", "copy", str(file), lake.address)
    dora("--warehouse", lake.address, "import", str(second))
    assert numbers(metrics(lake.address)) == numbers(metrics(str(both)))
    with db.read(lake.address) as con:
        loads = con.execute("select distinct _load_id from core.services order by 1").fetchall()
    assert len(loads) == 2, "the import after the copy reused a copied load id"


def test_a_target_holding_rows_is_refused_unless_replace(lake: LakeSpot, tmp_path: Path) -> None:
    first = service_bundle("alpha", "team-a").write(tmp_path / "alpha")
    second = service_bundle("beta", "team-b").write(tmp_path / "beta")
    file = tmp_path / "b.duckdb"
    import_and_transform(file, second)
    dora("--warehouse", lake.address, "import", str(first))
    before = numbers(metrics(lake.address))

    refused = dora("warehouse", "copy", str(file), lake.address, check=False)
    assert (
        refused.returncode == 2 and "already holds rows" in refused.stderr and "--replace" in refused.stderr
    )
    assert "Traceback" not in refused.stderr
    assert numbers(metrics(lake.address)) == before

    dora("warehouse", "copy", "--replace", str(file), lake.address)
    assert numbers(metrics(lake.address)) == numbers(metrics(str(file)))
    assert tables(lake.address) == tables(str(file))


def test_a_warehouse_is_never_copied_onto_itself(lake: LakeSpot, tmp_path: Path) -> None:
    file = tmp_path / "w.duckdb"
    import_and_transform(file, service_bundle("alpha", "t").write(tmp_path / "alpha"))
    link = tmp_path / "link.duckdb"
    link.symlink_to(file)
    for same in ((str(file), str(link)), (lake.address, lake.address.replace(" user=", "  user="))):
        result = dora("warehouse", "copy", *same, "--replace", check=False)
        assert result.returncode == 2 and "onto itself" in result.stderr


def test_a_missing_source_is_an_error_and_creates_nothing(lake: LakeSpot, tmp_path: Path) -> None:
    missing = tmp_path / "typo.duckdb"
    result = dora("warehouse", "copy", str(missing), lake.address, check=False)
    assert result.returncode == 2 and "no warehouse at" in result.stderr and str(missing) in result.stderr
    assert not missing.exists()


def test_a_failing_copy_leaves_the_target_as_it_was(
    lake: LakeSpot, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    file = tmp_path / "w.duckdb"
    import_and_transform(file, service_bundle("alpha", "t").write(tmp_path / "alpha"))
    # a column the target's table lacks: the copy fails on core.services, after the tables before it
    with db.write(file) as con:
        con.execute("alter table core.services add column extra varchar")
    result = dora("warehouse", "copy", str(file), lake.address, check=False)
    assert result.returncode == 2 and "core.services" in result.stderr and "extra" in result.stderr
    assert "Traceback" not in result.stderr
    with db.read(lake.address) as con:
        assert con.execute("select count(*) from core.commits").fetchall() == [(0,)]

    other = tmp_path / "other.duckdb"
    with pytest.raises(copy_mod.CopyError, match="extra"):
        copy_mod.copy(file, other)
    with db.read(other) as con:
        assert con.execute("select count(*) from core.commits").fetchall() == [(0,)]


def test_the_password_of_a_lake_is_never_printed(password_lake: LakeSpot, tmp_path: Path) -> None:
    file = tmp_path / "w.duckdb"
    import_and_transform(file, service_bundle("alpha", "t").write(tmp_path / "alpha"))
    done = dora("warehouse", "copy", str(file), password_lake.address)
    assert PASSWORD not in done.stdout + done.stderr
    assert numbers(metrics(password_lake.address)) == numbers(metrics(str(file)))
    with_password = f"{password_lake.address} password={PASSWORD}"
    refused = dora("warehouse", "copy", str(file), with_password, "--replace", check=False)
    assert refused.returncode == 2 and "password" in refused.stderr and PASSWORD not in refused.stderr
