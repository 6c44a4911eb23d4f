"""The warehouse side of the lake (warehouse/db.py, warehouse/lake.py) in-process, against a real PostgreSQL
catalog and a real data folder: the same SQL gives the spec's numbers; conflicting writers are retried and
both land, once; readers see committed snapshots only, and any past one with `as_of`."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from pathlib import Path

import pytest

from tests.support.cli import EXAMPLES, differences, load_json
from tests.support.postgres import LakeSpot
from warehouse import db, lake, load, metrics, transform
from warehouse.address import LakeAddress, parse
from warehouse.bundle import BundleError
from warehouse.metric_settings import MetricsSettings
from warehouse.sync import WarehouseSink

SETTINGS = MetricsSettings()


def address(spot: LakeSpot) -> LakeAddress:
    found = parse(spot.address, str(spot.data_path))
    assert isinstance(found, LakeAddress)
    return found


def example_metrics(where: LakeAddress, example: str, group_by: str, as_of: int | None = None) -> dict:
    start, end = (EXAMPLES / example / "period.txt").read_text().split()
    scope = metrics.Scope(
        dt.date.fromisoformat(start), dt.date.fromisoformat(end), group_by, None, None, None
    )
    with db.read(where, as_of=as_of) as con:
        return metrics.to_json(scope, metrics.compute(con, scope, SETTINGS.tiers))


def import_example(where: LakeAddress, example: str) -> dict[str, int]:
    return load.import_into(where, EXAMPLES / example, then=lambda con: transform.run(con, SETTINGS))


def last_snapshot(where: LakeAddress) -> int:
    with db.read(where) as con:
        return int(db.snapshot(con).split()[1])


def test_a_spec_example_imported_into_a_lake_gives_its_expected_json(lake: LakeSpot) -> None:
    where = address(lake)
    counts = import_example(where, "small")
    assert counts["deployments"] == 12
    for group_by in ("service", "team", "org"):
        got = example_metrics(where, "small", group_by)
        assert differences(load_json(EXAMPLES / "small" / f"expected-{group_by}.json"), got) == []
    with db.read(where) as con:
        assert db.stale(con) is None
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert db.snapshot(con).startswith("snapshot ") and " UTC" in db.snapshot(con)
    # the data files are Parquet files under the data path
    assert list(Path(lake.data_path).rglob("*.parquet"))


def test_a_lake_with_no_schema_is_no_warehouse_until_written(lake: LakeSpot) -> None:
    where = address(lake)
    assert not db.exists(where)
    with db.read(where) as con:  # a reader creates the schema, like the file backend's empty warehouse
        assert db.schema_version(con) == db.SCHEMA_VERSION
    assert db.exists(where)


def test_two_schema_upgrades_at_once_both_succeed(lake: LakeSpot) -> None:
    where = address(lake)
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            db.ensure_schema(where)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read(where) as con:
        assert db.schema_version(con) == db.SCHEMA_VERSION
        assert db.scalar(con, "select count(*) from main._doralytics where key = 'schema_version'") == 1


def _service_rows(name: str) -> dict[str, list[dict]]:
    return {"services": [{"service": name, "repo": f"acme/{name}", "team": "t", "paths": []}]}


def test_two_writers_conflicting_on_one_table_both_land_once(lake: LakeSpot) -> None:
    where = address(lake)
    db.ensure_schema(where)
    with db.write(where) as con:  # a committed row both writers replace, so that their deletes meet
        load.upsert(
            con,
            "services",
            "(select 'shared' as service, 'acme/x' as repo, 't' as team, []::varchar[] as paths)",
        )
    both_open = threading.Barrier(2)
    attempts: dict[str, int] = {"a": 0, "b": 0}
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        def attempt() -> None:
            attempts[name] += 1
            with db.write(where) as con:
                load.upsert(
                    con,
                    "services",
                    f"(select unnest(['shared', '{name}']) as service, 'acme/{name}' as repo, 't' as team,"
                    " []::varchar[] as paths)",
                )
                if attempts[name] == 1:
                    both_open.wait(timeout=30)  # both transactions are open before either commits

        try:
            db.retrying(attempt, f"writer {name}")
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(attempts.values()) == [1, 2]  # one conflicted and ran again
    with db.read(where) as con:
        rows = con.execute("select service, repo, _load_id from core.services order by service").fetchall()
        assert [r[0] for r in rows] == ["a", "b", "shared"]
        shared = rows[2]
        # the writer that committed last (its retry) replaced the shared row, under the newest load id
        assert shared[2] == max(r[2] for r in rows) == load.last_load_id(con)
        assert len({r[2] for r in rows[:2]}) == 2


def test_a_conflict_that_never_ends_gives_up_naming_the_write() -> None:
    calls = []

    def always() -> None:
        calls.append(1)
        raise db.WriteConflict("Transaction conflict")

    with pytest.raises(db.WriteConflict, match="importing x: other writers kept changing"):
        lake.retrying(always, "importing x", attempts=3)
    assert len(calls) == 3


def test_a_collect_commits_each_batch_with_its_cursor_and_readers_see_it(lake: LakeSpot) -> None:
    from warehouse.batch import Batch

    where = address(lake)
    with WarehouseSink(str(where), "github") as sink:
        sink.write(Batch(scope="acme/a", entity="pulls", rows=_service_rows("a"), cursor={"page": 2}))
        with db.read(where) as con:  # another reader, during the collect: the batch is committed
            assert db.scalar(con, "select count(*) from core.services") == 1
            assert db.scalar(con, "select cursor from raw.cursors where scope = 'acme/a'") == '{"page": 2}'
            assert db.stale(con) is not None  # loaded after the last transform


def test_a_reader_never_sees_a_write_in_progress_and_as_of_reads_the_past(lake: LakeSpot) -> None:
    where = address(lake)
    import_example(where, "small")
    before = last_snapshot(where)
    numbers_before = example_metrics(where, "small", "service")
    with db.write(where) as con:
        con.execute("delete from core.deployments")
        transform.run(con, SETTINGS)
        with db.read(where) as other:  # the same thread joins its write: a process reads what it wrote
            assert db.scalar(other, "select count(*) from core.deployments") == 0
        seen: list[int] = []
        reader = threading.Thread(
            target=lambda: seen.append(_count(where, "select count(*) from core.deployments"))
        )
        reader.start()
        reader.join(timeout=60)
        assert seen == [12]  # another thread: the last committed state, not blocked
    assert _count(where, "select count(*) from core.deployments") == 0
    assert example_metrics(where, "small", "service", as_of=before) == numbers_before
    with db.read(where, as_of=before) as con:
        assert db.snapshot(con).startswith(f"snapshot {before} at ")
        with pytest.raises(Exception, match="read-only"):
            con.execute("delete from core.services")
    with pytest.raises(db.WarehouseError, match="no snapshot as of 99999"), db.read(where, as_of=99999):
        pass


def _count(where: LakeAddress, sql: str) -> int:
    with db.read(where) as con:
        return int(db.scalar(con, sql))


def test_a_bad_bundle_into_a_lake_is_refused_at_its_line_and_loads_nothing(
    lake: LakeSpot, tmp_path: Path
) -> None:
    """The lake's write is one transaction from its start, so the staged rows are the transaction's own:
    the row named is still the bad one's line in the file."""
    where = address(lake)
    import_example(where, "small")
    with db.read(where) as con:
        before = con.execute("select count(*) from core.deployments").fetchone()
    bundle = tmp_path / "bad"
    shutil.copytree(EXAMPLES / "small", bundle)
    text = (bundle / "deployments.csv").read_text()
    (bundle / "deployments.csv").write_text(
        text.replace("D3,checkout,production,a625406", "D3,checkout,production,zz25406", 1)
    )
    with pytest.raises(BundleError) as error:
        load.import_into(where, bundle)
    assert str(error.value).startswith("deployments.csv:5:commit_sha:"), str(error.value)
    with db.read(where) as con:
        assert con.execute("select count(*) from core.deployments").fetchone() == before
