"""A write's working copy goes to disk in the background while the write runs (publish.prepare with
background_flush): publishing still waits for it, a failed flush publishes nothing, and a copy thrown
away leaves no flush behind."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import duckdb
import pytest

from tests.support.warehouses import one_service_warehouse, service_names
from warehouse import publish


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return one_service_warehouse(tmp_path / "w.duckdb")


def flushing() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fsync ")]


def write_copy(path: Path) -> Path:
    """What a write does between prepare and replace: add a row to the copy, checkpoint, close."""
    work, resumed = publish.prepare(path, background_flush=True)
    assert not resumed
    con = duckdb.connect(str(work))
    try:
        con.execute("insert into core.services (service, _load_id) values ('new', 0)")
        con.execute("checkpoint")
    finally:
        con.close()
    return work


def test_a_copy_flushed_in_the_background_is_published_whole(warehouse: Path) -> None:
    with publish.exclusive(warehouse):
        write_copy(warehouse)
        publish.replace(warehouse)
    assert flushing() == []
    assert service_names(warehouse) == ["new", "old"]


def test_a_failed_flush_publishes_nothing(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_fsync = os.fsync

    def failing(fd: int) -> None:
        if threading.current_thread().name.startswith("fsync "):
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    with publish.exclusive(warehouse):
        write_copy(warehouse)
        with pytest.raises(OSError, match="Input/output error"):
            publish.replace(warehouse)
        publish.discard(warehouse)
    assert service_names(warehouse) == ["old"]
    assert not publish.work_path(warehouse).exists()


def test_a_copy_thrown_away_leaves_no_flush_behind(warehouse: Path) -> None:
    with publish.exclusive(warehouse):
        publish.prepare(warehouse, background_flush=True)
        publish.discard(warehouse)
    assert flushing() == []
    assert not publish.work_path(warehouse).exists()
    assert service_names(warehouse) == ["old"]
