"""Properties of loading: re-import is a no-op, a bundle imported in parts equals it imported whole (which
also drives the incremental commit-graph walk through arbitrary orders), and a bundle round-trips."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cli import EXAMPLES
from tests.support.warehouses import import_and_transform
from warehouse import db, export, transform
from warehouse.metric_settings import MetricsSettings
from warehouse.metrics import Scope, compute
from warehouse.transform import MARTS

GENERATED = EXAMPLES / "generated"
PERIODS = [Scope(dt.date(2026, 1, 11), dt.date(2026, 1, 20), g) for g in ("service", "team", "org")] + [
    Scope(dt.date(2025, 12, 1), dt.date(2026, 2, 28), "service")
]


def import_all(path: Path, *folders: Path) -> None:
    import_and_transform(path, *folders)


def state(path: Path) -> tuple:
    with db.read(path) as con:
        metrics = [compute(con, scope) for scope in PERIODS]
        marts = {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in MARTS}
        core = {
            t: con.execute(f"select * exclude (_load_id) from core.{t} order by all").fetchall()
            for t in ("services", "commits", "deployments", "incidents", "pull_requests")
        }
    return metrics, marts, core


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


_whole: dict[str, tuple] = {}


def whole_state(tmp: Path) -> tuple:
    if "state" not in _whole:
        path = tmp / "whole.duckdb"
        import_all(path, GENERATED)
        _whole["state"] = state(path)
    return _whole["state"]


def test_reimporting_the_same_bundle_changes_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    import_all(path, GENERATED)
    first = state(path)
    import_all(path, GENERATED)
    assert state(path) == first


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.05, 0.95))
def test_importing_in_two_parts_equals_importing_whole(tmp_path_factory, seed, share):
    import random

    tmp = tmp_path_factory.mktemp("split")
    rng = random.Random(seed)
    first, second = tmp / "a", tmp / "b"
    first.mkdir()
    second.mkdir()
    shutil.copy(GENERATED / "services.csv", first)
    for name in ("commits", "pull_requests", "pull_request_commits", "deployments", "incidents"):
        header, rows = read_rows(GENERATED / f"{name}.csv")
        picks = [rng.random() < share for _ in rows]
        write_rows(first / f"{name}.csv", header, [r for r, p in zip(rows, picks, strict=True) if p])
        write_rows(second / f"{name}.csv", header, [r for r, p in zip(rows, picks, strict=True) if not p])
    path = tmp / "w.duckdb"
    import_all(path, first, second)
    assert state(path) == whole_state(tmp_path_factory.getbasetemp())


def test_an_incremental_transform_equals_a_full_one(tmp_path):
    path = tmp_path / "w.duckdb"
    import_all(path, EXAMPLES / "small", GENERATED)
    incremental = state(path)
    with db.write(path) as con:
        assert transform.run(con, MetricsSettings(), full=True)["full"]
    assert state(path) == incremental


def test_a_bundle_round_trips(tmp_path):
    original = tmp_path / "a.duckdb"
    import_all(original, GENERATED)
    with db.read(original) as con:
        export.export_bundle(con, tmp_path / "out")
    copy = tmp_path / "b.duckdb"
    import_all(copy, tmp_path / "out")
    assert state(copy) == state(original)
