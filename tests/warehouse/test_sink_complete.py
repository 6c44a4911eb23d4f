"""Batch.complete: a collector states the whole current set of keys, and the sink removes the rest of it."""

import datetime as dt
from pathlib import Path

from warehouse import db
from warehouse.batch import Batch, Complete
from warehouse.sync import WarehouseSink

T = dt.datetime(2024, 1, 1)


def _deployment(deployment_id: str, service: str = "s") -> dict:
    return {
        "deployment_id": deployment_id,
        "service": service,
        "environment": "production",
        "commit_sha": "a" * 40,
        "finished_at": T,
        "status": "success",
    }


def test_complete_removes_only_the_matching_rows_outside_the_set(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with db.write(warehouse):
        pass
    with WarehouseSink(warehouse, "git") as sink:
        batch = Batch("r", "tags")
        batch.add_rows("services", [{"service": "s", "repo": "r"}, {"service": "t", "repo": "r"}])
        rows = [_deployment(f"git:r:{i}") for i in range(3)] + [
            _deployment("other"),
            _deployment("git:r:9", "t"),
        ]
        batch.add_rows("deployments", rows)
        sink.write(batch)
        done = Batch(
            "r", "tags", complete=[Complete("deployments", {"service": "s"}, [("git:r:1",)], "git:r:")]
        )
        sink.write(done)
        assert sink.rows_removed == 2
        sink.write(done)
        assert sink.rows_removed == 2  # nothing more to remove: idempotent
    with db.read(warehouse) as con:  # this process's own collect, not published before the transform
        left = sorted(r[0] for r in con.execute("select deployment_id from core.deployments").fetchall())
    assert left == ["git:r:1", "git:r:9", "other"]
