"""A long `dora import` for the atomic-load tests: a demo warehouse (the old state), a large generated bundle
(the import), the numbers every reader gives before and after, and the import run as a user runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.generate import generate

# The period the readers ask about: the demo's six months and the generated org's four after them.
PERIOD = ("2026-01-01", "2026-10-31")
COUNT_SQL = "select count(*) as deployments from core.deployments"


def dora(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "doralytics", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def checked(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr}"
    return done.stdout


def metrics_json(warehouse: Path) -> dict[str, Any]:
    """`dora metrics` of PERIOD per service, as JSON."""
    out = checked(
        dora(
            "--warehouse",
            str(warehouse),
            "metrics",
            "--from",
            PERIOD[0],
            "--to",
            PERIOD[1],
            "--format",
            "json",
        )
    )
    return json.loads(out)


def deployments(warehouse: Path) -> int:
    """`dora sql`'s count of core.deployments."""
    out = checked(dora("--warehouse", str(warehouse), "sql", COUNT_SQL, "--format", "json"))
    return int(json.loads(out)[0]["deployments"])


@dataclass(frozen=True)
class State:
    """What the readers say of one state of the warehouse."""

    metrics: dict[str, Any]
    deployments: int


@dataclass(frozen=True)
class Setup:
    old: Path  # the warehouse before the import (copy it before use)
    bundle: Path  # the large bundle
    before: State
    after: State  # after the import completed


def state_of(warehouse: Path) -> State:
    return State(metrics_json(warehouse), deployments(warehouse))


def build(folder: Path, scale: float = 0.03) -> Setup:
    """The demo org as the old state and a generated org (60,000 commits at 0.03) as the bundle."""
    folder.mkdir(parents=True, exist_ok=True)
    old = folder / "old.duckdb"
    checked(dora("--warehouse", str(old), "demo", "--end", "2026-06-30"))
    generated = folder / "generated.duckdb"
    generate(generated, days=120, scale=scale)
    bundle = folder / "bundle"
    checked(dora("--warehouse", str(generated), "export", "bundle", str(bundle)))
    new = folder / "new.duckdb"
    shutil.copyfile(old, new)
    checked(dora("--warehouse", str(new), "import", str(bundle)))
    return Setup(old, bundle, state_of(old), state_of(new))


def start_import(warehouse: Path, bundle: Path, points: str = "all", nice: int = 0) -> subprocess.Popen:
    """`dora import` in the background, saying on stderr which fault points it reaches (pause:NAME stops
    it at NAME); `nice` lowers its CPU priority, as a server runs its syncs."""
    return subprocess.Popen(
        [sys.executable, "-m", "doralytics", "--warehouse", str(warehouse), "import", str(bundle)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DORA_FAULT_POINTS": points},
        preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509
    )


def wait_for_point(proc: subprocess.Popen, name: str, timeout: float = 300) -> float:
    """Read the import's stderr until it reaches fault point `name`; returns the monotonic time then."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    for line in proc.stderr:
        if line.strip() == f"fault point: {name}":
            return time.monotonic()
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the import never reached {name} (exit {proc.poll()})")
