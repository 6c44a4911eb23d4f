"""Two `dora import` processes of different bundles into one lake at once, and a reader polling
`dora metrics` throughout: no error, every answer a committed state, and at the end the metrics of one file
warehouse that imported both bundles."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.lake.lakecli import metrics, numbers, service_bundle
from tests.support.cli import dora
from tests.support.postgres import LakeSpot
from tests.support.warehouses import import_and_transform

IMPORT_TIMEOUT = 600


def file_state(tmp_path: Path, name: str, *folders: Path) -> str:
    """The metrics of a file warehouse that imported `folders` in turn."""
    path = tmp_path / f"{name}.duckdb"
    import_and_transform(path, *folders)
    return numbers(metrics(str(path)))


def start_import(address: str, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "doralytics", "--warehouse", address, "import", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_importers_and_a_reader_see_only_committed_states(lake: LakeSpot, tmp_path: Path) -> None:
    base = service_bundle("gamma", "core-team", commits=30).write(tmp_path / "gamma")
    first = service_bundle("alpha", "team-a", commits=240).write(tmp_path / "alpha")
    second = service_bundle("beta", "team-b", commits=240).write(tmp_path / "beta")
    dora("--warehouse", lake.address, "import", str(base))

    before = file_state(tmp_path, "before", base)
    after_a = file_state(tmp_path, "a", base, first)
    after_b = file_state(tmp_path, "b", base, second)
    after_both = file_state(tmp_path, "both", base, first, second)
    allowed = {before: "before", after_a: "after A", after_b: "after B", after_both: "after both"}
    assert len(allowed) == 4, "the four states must differ for the test to tell them apart"
    assert numbers(metrics(lake.address)) == before

    importers = [start_import(lake.address, first), start_import(lake.address, second)]
    seen: list[str] = []
    deadline = time.monotonic() + IMPORT_TIMEOUT
    while any(p.poll() is None for p in importers) and time.monotonic() < deadline:
        answer = dora(
            "--warehouse",
            lake.address,
            "metrics",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--group-by",
            "service",
            "--format",
            "json",
            check=False,
        )
        assert answer.returncode == 0, f"a reader failed during the imports:\n{answer.stderr}"
        assert "Traceback" not in answer.stderr
        state = numbers(json.loads(answer.stdout))
        assert state in allowed, f"a reader saw a state no commit made:\n{state}"
        seen.append(allowed[state])
    outputs = [p.communicate(timeout=IMPORT_TIMEOUT) for p in importers]
    for p, (_, err) in zip(importers, outputs, strict=True):
        assert p.returncode == 0, f"an importer failed:\n{err}"
        assert "Traceback" not in err
    assert seen, "the reader never read while the importers ran"
    print("states seen by the reader:", seen)

    final = numbers(metrics(lake.address))
    assert final == after_both, "the lake after both imports differs from one file that imported both"
    # whichever import committed first, the readers never went back to an older state
    ranks = [0 if s == "before" else 2 if s == "after both" else 1 for s in seen]
    assert ranks == sorted(ranks), f"a reader went back to an older state: {seen}"
    assert not {"after A", "after B"} <= set(seen), f"both halves seen apart: {seen}"
