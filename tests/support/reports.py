"""The demo warehouse the report, export and notebook tests share: built once per test session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

SEED, END = 7, dt.date(2026, 6, 30)
WEEK = "2026-W26"  # 22-28 Jun 2026, the last whole week of the demo
WEEK_FROM, WEEK_TO = "2026-06-22", "2026-06-28"


def demo_warehouse(factory: pytest.TempPathFactory) -> Path:
    from collectors import demo
    from warehouse import db
    from warehouse.metric_settings import MetricsSettings
    from warehouse.transform import run

    path = factory.getbasetemp() / "report-demo" / "demo.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with db.write(path) as con:
            demo.build(con, seed=SEED, end=END)
            run(con, MetricsSettings())
    return path
