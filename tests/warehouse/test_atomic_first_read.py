"""A reader never waits for a writer, not even for the first write ever (nothing published yet)."""

import subprocess
import sys
import time
from pathlib import Path

from warehouse import db

HOLD = """
import sys, time
from pathlib import Path
from warehouse import publish
with publish.exclusive(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_reader_answers_at_once_while_the_first_write_runs(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    writer = subprocess.Popen([sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "held"
        started = time.monotonic()
        with db.read(warehouse) as con:
            deployments = con.execute("select count(*) from core.deployments").fetchone()
        waited = time.monotonic() - started
    finally:
        writer.kill()
        writer.wait()
    assert deployments == (0,)  # the last complete state: an empty warehouse of the current schema
    assert waited < db.FIRST_READ_WAIT_SECONDS + 5, f"the reader waited {waited:.1f} s for the writer"
    assert not warehouse.exists()  # the reader published nothing in the writer's place
