"""Fixtures shared by every test folder; helpers live in tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"
