"""Every ad-hoc query is bounded: time, the memory of the engine and of the result, rows and bytes, and the
spill files (a private folder, removed after the query and, after a kill, before the next one)."""

from __future__ import annotations

import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.support.warehouses import small_warehouse
from warehouse import sandbox
from warehouse.sandbox import MB, SandboxError

LONG = "select sum(a.range * b.range) from range(100000000) a, range(100000000) b"
# The query: 2 GB of text, which reached 6.9 GB when it became a pandas frame.
HUGE = "select repeat('x', 1000000) s from range(2000)"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return small_warehouse(tmp_path / "w.duckdb")


@pytest.mark.parametrize("seconds", [0, -1, 0.0, math.nan, math.inf, -math.inf, True])
def test_a_time_limit_must_be_positive(warehouse: Path, seconds: float) -> None:
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, "select 1", timeout_seconds=seconds)
    assert str(info.value).startswith("the time limit must be a positive number of seconds, got ")


def test_the_default_time_limit_applies_when_none_is_given(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "DEFAULT_TIMEOUT", 1.5)
    started = time.monotonic()
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, LONG, timeout_seconds=None)
    assert str(info.value) == "query interrupted after 1.5 s"
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"max_rows": 0}, "the row limit must be a whole number from 1 to 10,000,000, got 0"),
        ({"max_rows": -5}, "the row limit must be a whole number from 1 to 10,000,000, got -5"),
        ({"max_bytes": 0}, "the byte limit must be a whole number from 1 to 1,073,741,824, got 0"),
        ({"max_bytes": 2 * 1024 * MB}, "the byte limit must be a whole number from 1 to 1,073,741,824"),
    ],
)
def test_result_limits_are_checked(warehouse: Path, limits: dict, message: str) -> None:
    with pytest.raises(SandboxError, match=message):
        sandbox.run_query(warehouse, "select 1", **limits)


def test_a_result_is_cut_at_its_bytes_and_says_so(warehouse: Path) -> None:
    df = sandbox.run_query(
        warehouse, "select range as n, repeat('x', 1000) s from range(10000)", max_bytes=100_000
    )
    assert df.attrs["truncated"] is True
    assert df.attrs["note"] == f"result cut at {len(df):,} rows (at most 100,000 bytes of data)"
    assert 80 <= len(df) < 100 and df["n"].tolist() == list(range(len(df)))
    assert sum(len(s) for s in df["s"]) <= 100_000


def test_the_default_limits_apply(warehouse: Path) -> None:
    df = sandbox.run_query(warehouse, "select range as n from range(150000)")
    assert len(df) == sandbox.DEFAULT_MAX_ROWS == 100_000
    assert df.attrs["note"] == "result cut at 100,000 rows (at most 100,000 rows)"
    df = sandbox.run_query(warehouse, "select range as n from range(100000)")
    assert len(df) == 100_000 and df.attrs["truncated"] is False and df.attrs["note"] is None


# The peak memory the asking process may reach for a result cut at 64 MB.
SELF_MB = 1000


def _peaks(warehouse: Path, sql: str, **settings: object) -> dict:
    """Run one query in a fresh process: its result's shape and the peak memory of that process (the
    dashboard's or the CLI's) and of its children (the query's own process)."""
    code = textwrap.dedent(
        """
        import json, resource, sys
        from warehouse import sandbox
        for name, value in json.loads(sys.argv[3]).items():
            setattr(sandbox, name, value)
        try:
            df = sandbox.run_query(sys.argv[1], sys.argv[2])
            out = {"rows": len(df), "note": df.attrs["note"], "chars": int(df.iloc[:, 0].str.len().sum())}
        except sandbox.SandboxError as exc:
            out = {"error": str(exc)}
        out["self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        out["children_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        print(json.dumps(out))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(warehouse), sql, json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_huge_result_is_cut_before_it_reaches_pandas(warehouse: Path) -> None:
    got = _peaks(warehouse, HUGE)
    assert got["note"] == f"result cut at {got['rows']} rows (at most 64 MB of data)", got
    # 67 rows of 1,000,000 characters (and their offsets) fit in 64 MB
    assert got["rows"] == 67 and got["chars"] == 67_000_000
    # The asking process holds the cut result only (uncut, it reached 6.9 GB); the query's process stays
    # inside its address space. Alone this process peaks near 215 MB; inside the full suite it was seen at
    # 697 MB (not understood yet), hence the looser bound.
    assert got["self_mb"] < SELF_MB, got
    assert got["children_mb"] < sandbox.ADDRESS_SPACE // MB, got


def test_a_query_needing_more_memory_than_allowed_stops_with_one_line(warehouse: Path) -> None:
    got = _peaks(warehouse, HUGE, ADDRESS_SPACE=2600 * MB)
    assert got["error"].startswith("query stopped: it needs more memory than an ad-hoc query may use"), got
    assert "2,600 MB" in got["error"] and "\n" not in got["error"]
    assert got["children_mb"] < 2600 and got["self_mb"] < SELF_MB, got


def test_duckdb_s_own_memory_limit_is_a_one_line_error(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "QUERY_MEMORY", "64MB")
    with pytest.raises(SandboxError) as info:
        sandbox.run_query(warehouse, "select list(range) from range(50000000)")
    assert str(info.value).startswith("query stopped: it needs more memory than an ad-hoc query may use")
    assert "Out of Memory Error" in str(info.value) and "\n" not in str(info.value)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_spill_files_go_to_a_private_folder_removed_after_the_query(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "QUERY_MEMORY", "48MB")
    root = sandbox.spill_root()
    assert root.stat().st_mode & 0o777 == 0o700 and root.stat().st_uid == os.getuid()
    seen: set[Path] = set()
    beside: set[Path] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(p for p in _files(root) if "duckdb_temp" in p.name)
            beside.update(p for p in warehouse.parent.iterdir() if p.name != warehouse.name)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # A hash aggregate over 2.5 million distinct strings: far more than 48 MB, so DuckDB spills.
        df = sandbox.run_query(
            warehouse,
            "select count(*) as n from (select s, count(*) from"
            " (select 'key-' || range || repeat('y', 40) as s from range(2500000)) group by s)",
            timeout_seconds=240,
        )
    finally:
        done.set()
        watcher.join()
    assert df["n"].tolist() == [2_500_000]
    assert seen, "the query did not spill: make it bigger"
    assert all(p.parent.parent == root and p.parent.name.startswith("q-") for p in seen), seen
    assert not beside, f"files beside the warehouse: {beside}"  # DuckDB's default: w.duckdb.tmp/
    assert not any(p.parent.exists() for p in seen)  # the query's folder is gone


def test_the_folder_of_a_killed_query_is_removed_before_the_next(
    warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = sandbox.spill_root()
    before = set(root.glob("q-*"))
    code = "import sys; from warehouse import sandbox; sandbox.run_query(sys.argv[1], sys.argv[2], 120)"
    asking = subprocess.Popen([sys.executable, "-c", code, str(warehouse), LONG])
    try:
        deadline = time.monotonic() + 60
        while not (folders := set(root.glob("q-*")) - before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert folders, "no query folder appeared"
        time.sleep(2)  # the query's process is running
        asking.send_signal(signal.SIGKILL)  # the CLI or the dashboard, killed mid-query
    finally:
        asking.wait()
    (folder,) = folders
    # The query's process notices its parent is gone and ends: nothing holds the folder's lock any more.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(folder / ".lock", "rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.1)
    else:
        pytest.fail("the query's process outlived the process that asked for it")
    assert folder.exists()  # left over: nobody removed it
    monkeypatch.setattr(sandbox, "STALE_SECONDS", 0.0)
    assert sandbox.run_query(warehouse, "select 1 as one")["one"].tolist() == [1]
    assert not folder.exists()


def test_a_folder_in_use_is_not_swept(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "STALE_SECONDS", 0.0)
    with sandbox.query_folder() as folder:
        (folder / "spill.block").write_bytes(b"x")
        assert sandbox.sweep(sandbox.spill_root()) == 0
        assert (folder / "spill.block").exists()
    assert not folder.exists()


def test_a_spill_root_open_to_others_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    shared = tmp_path / f"doralytics-sql-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(SandboxError, match="is not private to this user: remove it"):
        sandbox.spill_root()
