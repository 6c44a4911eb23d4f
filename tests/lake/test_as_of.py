"""`dora metrics --as-of SNAPSHOT|TIMESTAMP` on the lake: the numbers from before a later import."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from tests.lake.lakecli import metrics, numbers, service_bundle
from tests.support.cli import dora
from tests.support.postgres import LakeSpot, PostgresServer


def last_snapshot(server: PostgresServer, lake: LakeSpot) -> int:
    """The lake's newest snapshot id, read from its catalog in PostgreSQL."""
    return int(server.psql(lake.dbname, "select max(snapshot_id) from ducklake_snapshot"))


def test_as_of_a_snapshot_or_a_time_before_an_import_gives_the_numbers_from_before_it(
    lake: LakeSpot, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    first = service_bundle("alpha", "team-a").write(tmp_path / "alpha")
    second = service_bundle("beta", "team-b").write(tmp_path / "beta")
    dora("--warehouse", lake.address, "import", str(first))
    before = numbers(metrics(lake.address))
    snapshot = last_snapshot(postgres_server, lake)
    moment = dt.datetime.now(dt.UTC)
    time.sleep(0.2)

    dora("--warehouse", lake.address, "import", str(second))
    after = numbers(metrics(lake.address))
    assert after != before and last_snapshot(postgres_server, lake) > snapshot

    assert numbers(metrics(lake.address, "--as-of", str(snapshot))) == before
    assert numbers(metrics(lake.address, "--as-of", moment.isoformat())) == before
    assert numbers(metrics(lake.address, "--as-of", moment.isoformat().replace("+00:00", "Z"))) == before
    # the latest snapshot, named, is the latest state
    assert numbers(metrics(lake.address, "--as-of", str(last_snapshot(postgres_server, lake)))) == after


def test_as_of_a_snapshot_that_does_not_exist_is_a_clear_error(lake: LakeSpot, tmp_path: Path) -> None:
    dora("--warehouse", lake.address, "import", str(service_bundle("alpha", "t").write(tmp_path / "a")))
    args = ("metrics", "--from", "2026-03-01", "--to", "2026-03-31", "--as-of", "999999")
    result = dora("--warehouse", lake.address, *args, check=False)
    assert result.returncode == 2 and "999999" in result.stderr and "Traceback" not in result.stderr


def test_a_file_warehouse_refuses_as_of(tmp_path: Path) -> None:
    file = tmp_path / "w.duckdb"
    dora("--warehouse", str(file), "import", str(service_bundle("alpha", "t").write(tmp_path / "a")))
    args = ("metrics", "--from", "2026-03-01", "--to", "2026-03-31", "--as-of", "1")
    result = dora("--warehouse", str(file), *args, check=False)
    assert result.returncode == 2 and "as of" in result.stderr and "DuckLake" in result.stderr
    assert "Traceback" not in result.stderr
