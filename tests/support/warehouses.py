"""Warehouses for tests: a small hand-filled one, and bundles imported and transformed.

(The demo warehouse the report, export and notebook tests share is tests/support/reports.py's
demo_warehouse.)
"""

from __future__ import annotations

from pathlib import Path

from warehouse import db, load, transform
from warehouse.metric_settings import MetricsSettings


def one_service_warehouse(path: Path) -> Path:
    """A published warehouse holding one service, 'old' (for the atomic-write tests)."""
    with db.write(path) as con:
        con.execute("insert into core.services (service, _load_id) values ('old', 0)")
    return path


def service_names(path: Path) -> list[str]:
    """The services a reader of the published file sees, in order."""
    with db.read(path) as con:
        return [s for (s,) in con.execute("select service from core.services order by 1").fetchall()]


def small_warehouse(path: Path, commit_message: str | None = None) -> Path:
    """A fresh warehouse with two services (one without repo and team) and, given its message, a commit
    with two parents and no committed_at."""
    with db.write(path) as con:
        con.execute(
            "insert into core.services (service, repo, team, _load_id)"
            " values ('checkout', 'acme/shop', 'payments', 1),"
            " ('search', null, null, 1)"
        )
        if commit_message is not None:
            con.execute(
                "insert into core.commits values ('acme/shop', 'abc123', ['p1', 'p2'], '2026-01-02 03:04:05',"
                " null, 'ana', ?, 1)",
                [commit_message],
            )
    return path


def import_and_transform(
    path: Path, *folders: Path, settings: MetricsSettings | None = None
) -> dict[str, float]:
    """Import each bundle folder in turn, running the transform after each, as `dora import` does;
    returns the last transform's figures."""
    figures: dict[str, float] = {}
    for folder in folders:
        with db.write(path) as con:
            load.import_bundle(con, folder)
            figures = transform.run(con, settings or MetricsSettings())
    return figures
