"""warehouse/sync.py: a batch is written whole or not at all, and writing it twice changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from warehouse import db
from warehouse.batch import Batch, Quarantined, Record
from warehouse.sync import WarehouseSink


def batch(cursor: dict | None = None, **extra) -> Batch:
    out = Batch("acme/x", "deployments", cursor=cursor or {"mark": 2})
    out.add_raw(
        "deployments", [Record("acme/x:1", {"id": 1, "sha": "AB12345"}), Record("acme/x:2", {"id": 2})]
    )
    out.add_rows("services", [{"service": "x", "repo": "acme/x", "team": "acme"}])
    out.add_rows(
        "deployments",
        [
            {
                "deployment_id": "github:deployment:1",
                "service": "x",
                "environment": " Production ",
                "environment_tier": None,
                "commit_sha": "AB12345",
                "started_at": None,
                "finished_at": dt.datetime(2026, 3, 2, 9, 0),
                "status": "success",
            }
        ],
    )
    for key, value in extra.items():
        setattr(out, key, value)
    return out


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with db.read(warehouse) as con:
        return con.execute(sql).fetchall()


def test_a_batch_lands_whole_and_normalised(warehouse: Path) -> None:
    with WarehouseSink(warehouse, "github") as sink:
        sink.write(batch())
        sink.write(batch())  # the same page again (a resumed run): nothing doubles
        assert sink.cursor("acme/x", "deployments") == {"mark": 2}
    assert rows(warehouse, "select environment, commit_sha from core.deployments") == [
        ("production", "ab12345")
    ]
    assert rows(warehouse, "select key, scope from raw.github__deployments order by 1") == [
        ("acme/x:1", "acme/x"),
        ("acme/x:2", "acme/x"),
    ]
    assert rows(warehouse, "select count(*) from raw.cursors") == [(1,)]


def test_a_failing_batch_writes_nothing(warehouse: Path) -> None:
    bad = batch(cursor={"mark": 99})
    bad.add_raw("Not A Table!", [Record("k", {})])  # fails after the first raw table was written
    with WarehouseSink(warehouse, "github") as sink:
        with pytest.raises(ValueError, match="bad raw entity"):
            sink.write(bad)
        assert sink.cursor("acme/x", "deployments") is None
        assert rows_in(sink, "select count(*) from core.deployments") == [(0,)]
        assert rows_in(
            sink,
            "select count(*) from information_schema.tables where table_schema = 'raw'"
            " and table_name = 'github__deployments'",
        ) == [(0,)]
        sink.write(batch())  # and the next batch is written normally
    assert rows(warehouse, "select count(*) from raw.github__deployments") == [(2,)]


def rows_in(sink: WarehouseSink, sql: str) -> list[tuple]:
    with sink._lock:
        return sink._connect().execute(sql).fetchall()


def test_quarantine_and_known_commits(warehouse: Path) -> None:
    with WarehouseSink(warehouse, "github") as sink:
        first = batch(quarantined=[Quarantined("deployments", "2", "deployment 2: missing 'sha'", {"id": 2})])
        first.add_rows(
            "commits",
            [
                {
                    "repo": "acme/x",
                    "sha": "AB12345",
                    "parents": ["CD67890"],
                    "authored_at": dt.datetime(2026, 3, 1),
                    "committed_at": None,
                    "author": "a",
                    "message": "m",
                }
            ],
        )
        sink.write(first)
        found = sink.commits("acme/x", ["ab12345", "ffff999"])
    assert list(found) == ["ab12345"] and found["ab12345"].parents == ("cd67890",)
    assert rows(warehouse, "select entity, key, problem from raw.github__quarantine") == [
        ("deployments", "2", "deployment 2: missing 'sha'")
    ]


def test_a_reader_in_another_process_is_not_blocked_during_a_sync(warehouse: Path) -> None:
    import subprocess
    import sys
    import time

    from warehouse import db

    count = (
        "from warehouse import db; import sys\n"
        "with db.read(sys.argv[1]) as con:\n"
        "    print(con.execute('select count(*) from core.deployments').fetchone()[0])"
    )

    def reader() -> tuple[str, float]:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", count, str(warehouse)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip(), time.monotonic() - started

    with db.write(warehouse):
        pass  # a warehouse that exists (published) before the sync
    with WarehouseSink(warehouse, "github") as sink:
        sink.write(batch())
        # the dashboard answers from the last published state while the sync holds its working copy
        seen, seconds = reader()
        assert seen == "0" and seconds < 10
    with db.write(warehouse):
        pass  # the transform after a collect publishes the batches with it
    assert reader()[0] == "1"
