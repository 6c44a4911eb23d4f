"""Writers on a private copy: a killed collect resumes from its own copy (cursors and rows together, no
duplicate, no gap) while readers keep the last published state; a killed import or transform is thrown away.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import big_import
from tests.support.git_repo import Repo
from tests.support.warehouses import one_service_warehouse, service_names
from warehouse import db, publish

DAY = "2026-03-{:02d}T{:02d}:00:00+00:00"


def in_a_process(code: str, warehouse: Path) -> subprocess.CompletedProcess:
    """Run `code` (with `db`, `publish`, `os`, `signal` and `path` in scope) in a process of its own."""
    prelude = "import os, signal, sys\nfrom pathlib import Path\nfrom warehouse import db, publish\n"
    prelude += "path = Path(sys.argv[1])\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), str(warehouse)],
        capture_output=True,
        text=True,
    )


def sql_csv(warehouse: Path, sql: str) -> str:
    return big_import.checked(big_import.dora("--warehouse", str(warehouse), "sql", sql, "--format", "csv"))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return one_service_warehouse(tmp_path / "w.duckdb")


def test_a_killed_collect_is_resumed_and_published_with_the_next_write(warehouse: Path) -> None:
    killed = in_a_process(
        """
        with db.stage(path) as con:
            con.execute("insert into core.services (service, _load_id) values ('collected', 0)")
            os.kill(os.getpid(), signal.SIGKILL)
        """,
        warehouse,
    )
    assert killed.returncode == -signal.SIGKILL
    assert publish.work_path(warehouse).exists() and publish.resumable(warehouse)
    assert service_names(warehouse) == ["old"]  # readers: the last published state
    with db.write(warehouse) as con:  # the next writer (the transform after the next collect) carries on
        assert con.execute("select count(*) from core.services").fetchall() == [(2,)]
    assert service_names(warehouse) == ["collected", "old"]
    assert not publish.work_path(warehouse).exists()


@pytest.mark.parametrize("where", ["during", "after the block"])
def test_a_killed_write_is_thrown_away(warehouse: Path, where: str) -> None:
    kill = "os.kill(os.getpid(), signal.SIGKILL)"
    code = textwrap.dedent(
        f"""
        with db.write(path) as con:
            con.execute("insert into core.services (service, _load_id) values ('half', 0)")
            {kill if where == "during" else "pass"}
        """
    )
    killed = in_a_process(code + ("" if where == "during" else kill + "\n"), warehouse)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if where == "during":
        assert publish.work_path(warehouse).exists() and not publish.resumable(warehouse)
        assert service_names(warehouse) == ["old"]
        with db.write(warehouse) as con:  # starts again from the published file
            assert con.execute("select count(*) from core.services").fetchall() == [(1,)]
        assert service_names(warehouse) == ["old"]
    else:  # killed after the rename: the new state, nothing left beside it
        assert service_names(warehouse) == ["half", "old"]
    assert sorted(p.name for p in warehouse.parent.iterdir()) == ["w.duckdb"]


def test_a_copy_from_an_older_generation_is_not_resumed(warehouse: Path) -> None:
    in_a_process(
        """
        with db.stage(path) as con:
            con.execute("insert into core.services (service, _load_id) values ('collected', 0)")
        """,
        warehouse,
    )
    assert publish.resumable(warehouse)
    # the published file replaced meanwhile (a restored backup, another warehouse moved in)
    other = warehouse.with_name("other.duckdb")
    with db.write(other) as con:
        con.execute("insert into core.services (service, _load_id) values ('restored', 0)")
    os.replace(other, warehouse)
    assert not publish.resumable(warehouse)
    with db.write(warehouse):
        pass
    assert service_names(warehouse) == ["restored"]


def test_a_reader_in_the_collecting_process_sees_its_own_batches(warehouse: Path) -> None:
    with db.stage(warehouse) as con:
        con.execute("insert into core.services (service, _load_id) values ('mine', 0)")
        assert service_names(warehouse) == ["mine", "old"]
    assert service_names(warehouse) == ["mine", "old"]
    done = in_a_process(
        "with db.read(path) as con: print(len(con.execute('from core.services').fetchall()))", warehouse
    )
    assert done.stdout.split() == ["1"], done.stderr  # another process: the published state


def test_writers_queue_and_readers_are_not_blocked(warehouse: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom warehouse import db\n"
            "with db.write(sys.argv[1]) as con:\n"
            "    con.execute(\"insert into core.services (service, _load_id) values ('slow', 0)\")\n"
            "    print('writing', flush=True); time.sleep(4)\n",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "writing"
    assert service_names(warehouse) == ["old"]  # at once, while the writer holds its lock
    with (
        pytest.raises(publish.LockTimeout, match="another process has been writing"),
        publish.exclusive(warehouse, wait=0.3),
    ):
        pass
    with db.write(warehouse) as con:  # waits its turn, then works on the new state
        assert con.execute("select count(*) from core.services").fetchall() == [(2,)]
    assert holder.wait() == 0


def test_a_killed_collect_resumes_without_duplicates_or_gaps(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "shop")
    for n in range(1, 6):
        repo.commit(f"f{n}.txt", f"change {n}", DAY.format(2, 8 + n))
        repo.git("tag", "-a", f"v{n}", "-m", f"release {n}", when=DAY.format(2, 9 + n))
    collect = ["collect", "git", str(repo.path), "--service", "shop", "--deploy-tags", "v*"]
    warehouse, clean = tmp_path / "w.duckdb", tmp_path / "clean.duckdb"
    big_import.checked(big_import.dora("--warehouse", str(warehouse), *collect))
    for n in range(6, 12):
        repo.commit(f"f{n}.txt", f"change {n}", DAY.format(3 + n, 9))
        repo.git("tag", "-a", f"v{n}", "-m", f"release {n}", when=DAY.format(3 + n, 10))
    count = "select count(*) as n from core.commits"
    before = big_import.checked(
        big_import.dora("--warehouse", str(warehouse), "sql", count, "--format", "csv")
    )

    proc = subprocess.Popen(
        [sys.executable, "-m", "doralytics", "--warehouse", str(warehouse), *collect],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DORA_FAULT_POINTS": "pause:batch-2"},
    )
    big_import.wait_for_point(proc, "batch-2")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert publish.resumable(warehouse)
    # readers: the state before this collect, its rows and its metrics
    after_kill = big_import.checked(
        big_import.dora("--warehouse", str(warehouse), "sql", count, "--format", "csv")
    )
    assert after_kill == before

    big_import.checked(big_import.dora("--warehouse", str(warehouse), *collect))
    big_import.checked(big_import.dora("--warehouse", str(clean), *collect))
    for table in ("commits", "deployments", "services"):
        sql = f"select * exclude (_load_id) from core.{table} order by all"
        ours = big_import.checked(
            big_import.dora("--warehouse", str(warehouse), "sql", sql, "--format", "csv")
        )
        theirs = sql_csv(clean, sql)
        assert ours == theirs, table
    assert big_import.metrics_json(warehouse) == big_import.metrics_json(clean)
