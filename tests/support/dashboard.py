"""Shared by the dashboard tests: warehouses built once per session, and AppTest on the real app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.cli import ROOT, dora

APP = ROOT / "dashboard" / "app.py"
DEMO_END = "2026-06-30"


def demo_warehouse(base: Path) -> Path:
    """The demo organisation (seed 7, ending 2026-06-30), built once per test session."""
    path = base / "dashboard-demo.duckdb"
    if not path.exists():
        dora("--warehouse", str(path), "demo", "--seed", "7", "--end", DEMO_END, cwd=ROOT)
    return path


def metrics_json(path: Path, start: str, end: str, *extra: str) -> dict:
    out = dora(
        "--warehouse",
        str(path),
        "metrics",
        "--from",
        start,
        "--to",
        end,
        "--format",
        "json",
        *extra,
        cwd=ROOT,
    )
    return json.loads(out.stdout)


def app(
    path: Path, monkeypatch: pytest.MonkeyPatch, query: dict | None = None, timeout: float = 60
) -> AppTest:
    """The dashboard as `dora dashboard` starts it (DORA_WAREHOUSE), not yet run."""
    monkeypatch.setenv("DORA_WAREHOUSE", str(path))
    monkeypatch.delenv("DORA_CONFIG", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def texts(at: AppTest) -> str:
    """Everything the page says in words (markdown, captions, alerts, metrics), for 'no NaN' checks."""
    parts = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value} {m.delta}" for m in at.metric]
    return "\n".join(parts)
