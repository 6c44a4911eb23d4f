"""Atomic loads: `dora import` of a large bundle killed with SIGKILL at many points (while it copies, loads,
between the load and the transform, inside the transform, while it publishes); after each kill every reader
(`dora metrics`, `dora sql`) gives the old numbers or the new ones, never a mix, and the next import
completes from there.

The points are found with DORA_FAULT_POINTS (warehouse/publish.py fault_point: the writer says on stderr
where it is, `pause:NAME` stops it there) and, inside the load and the transform, by timed kills after a
point was reached.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.support import big_import
from tests.support.big_import import Setup, state_of

# (what DORA_FAULT_POINTS says, the point waited for, seconds after it before the kill)
KILLS = [
    ("pause:prepared", "prepared", 0.0),  # the working copy made, nothing loaded
    ("all", "prepared", 0.5),  # during the load
    ("all", "prepared", 2.0),
    ("pause:loaded", "loaded", 0.0),  # between the load and the transform
    ("all", "loaded", 0.2),  # inside the transform
    ("all", "loaded", 1.0),
    ("all", "loaded", 3.0),
    ("all", "loaded", 6.0),
    ("pause:transformed", "transformed", 0.0),  # transformed, not checkpointed
    ("pause:checkpointed", "checkpointed", 0.0),  # closed, not renamed
    ("pause:published", "published", 0.0),  # renamed: the new state
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    made = big_import.build(tmp_path_factory.mktemp("atomic"))
    # the import must change what every reader says, or "old or new" proves nothing
    assert made.before.deployments < made.after.deployments
    assert made.before.metrics != made.after.metrics
    return made


@pytest.mark.parametrize(
    ("points", "point", "delay"), KILLS, ids=[f"{s.replace(':', '-')}-{p}-{d}s" for s, p, d in KILLS]
)
def test_a_killed_import_leaves_the_old_state_or_the_new(
    setup: Setup, tmp_path: Path, points: str, point: str, delay: float
) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(setup.old, warehouse)
    proc = big_import.start_import(warehouse, setup.bundle, points)
    try:
        big_import.wait_for_point(proc, point)
        time.sleep(delay)
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if points.startswith("pause:"):
        assert alive, f"the import ended before the kill at {point}"

    found = state_of(warehouse)
    if points == "pause:published":
        assert found == setup.after
    elif points.startswith("pause:"):
        assert found == setup.before
    else:
        # timed: the kill may land before or after the rename, never in between
        assert found in (setup.before, setup.after), "a reader saw a mix of the old and the new state"
        assert found == setup.before or not alive

    # and the next writer carries on from whatever the kill left
    big_import.checked(big_import.dora("--warehouse", str(warehouse), "import", str(setup.bundle)))
    assert state_of(warehouse) == setup.after
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


def test_a_failed_import_leaves_nothing_behind(setup: Setup, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(setup.old, warehouse)
    bad = tmp_path / "bad"
    shutil.copytree(setup.bundle, bad)
    deployments = bad / "deployments.csv"
    deployments.write_text(deployments.read_text() + "not,a,valid,row\n")
    done = big_import.dora("--warehouse", str(warehouse), "import", str(bad))
    assert done.returncode == 2 and "deployments.csv" in done.stderr
    assert state_of(warehouse) == setup.before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "w.duckdb"]
