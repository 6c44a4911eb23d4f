"""Marts older than the core tables (rows loaded without a transform, e.g. by a program of an earlier
version killed between its load and its transform): every reader says so and names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from doralytics.cli.common import existing_warehouse, state
from tests.support.cli import EXAMPLES, dora
from warehouse import db, load
from warehouse.address import FileAddress

FIX = "run `dora transform`"


def stale_warehouse(path: Path) -> Path:
    dora("--warehouse", str(path), "import", str(EXAMPLES / "small"))
    with db.write(path) as con:  # a load with no transform after it
        load.import_bundle(con, EXAMPLES / "generated")
    return path


def test_readers_name_the_fix_when_marts_lag(tmp_path: Path) -> None:
    path = stale_warehouse(tmp_path / "w.duckdb")
    with db.read(path) as con:
        reason = db.stale(con)
    assert reason is not None and FIX in reason

    period = ("--from", "2026-01-01", "--to", "2026-03-31")
    metrics = dora("--warehouse", str(path), "metrics", *period, check=False)
    assert FIX in metrics.stderr and "older than the data" in metrics.stderr
    # ad-hoc SQL still answers: the core tables are right, only the marts lag
    assert dora("--warehouse", str(path), "sql", "select count(*) from core.deployments").returncode == 0

    dora("--warehouse", str(path), "transform")
    with db.read(path) as con:
        assert db.stale(con) is None
    again = dora("--warehouse", str(path), "metrics", *period)
    assert "older than the data" not in again.stderr


def test_metrics_commands_refuse_stale_marts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = stale_warehouse(tmp_path / "w.duckdb")
    monkeypatch.setattr(state, "warehouse", str(path))
    with pytest.raises(typer.Exit) as stopped:
        existing_warehouse(fresh=True)
    assert stopped.value.exit_code == 2
    assert FIX in capsys.readouterr().err
    assert existing_warehouse() == FileAddress(path)  # other readers: a warning only
    assert FIX in capsys.readouterr().err
