"""Shared by the dashboard tests: warehouses built once per session, and AppTest on the real app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
EXAMPLES = Path(__file__).parent / "fixtures" / "examples"
DEMO_END = "2026-06-30"


def dora(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "doralytics", *args], capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0:
        raise AssertionError(f"dora {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def demo_warehouse(base: Path) -> Path:
    """The demo organisation (seed 7, ending 2026-06-30), built once per test session."""
    path = base / "dashboard-demo.duckdb"
    if not path.exists():
        dora("--warehouse", str(path), "demo", "--seed", "7", "--end", DEMO_END)
    return path


def metrics_json(path: Path, start: str, end: str, *extra: str) -> dict:
    out = dora("--warehouse", str(path), "metrics", "--from", start, "--to", end, "--format", "json", *extra)
    return json.loads(out.stdout)


def app(path: Path, monkeypatch, query: dict | None = None, timeout: float = 60) -> AppTest:
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
