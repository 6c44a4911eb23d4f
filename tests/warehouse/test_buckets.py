"""The metrics of a period and a trend are one computation (metrics/buckets.sql): a trend of one bucket
equals `dora metrics` over that bucket, field by field; CI runs likewise. The tier bands the charts draw
are the thresholds the tiers are given by."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from tests.support.cli import EXAMPLES
from tests.support.warehouses import import_and_transform
from warehouse import db, metrics
from warehouse.metric_settings import Tiers
from warehouse.metrics import Scope

# (example, first day, last day, grain): each period is exactly one bucket of the grain
ONE_BUCKET = [
    ("small", dt.date(2026, 3, 2), dt.date(2026, 3, 8), "week"),
    ("small", dt.date(2026, 3, 9), dt.date(2026, 3, 15), "week"),
    ("small", dt.date(2026, 3, 10), dt.date(2026, 3, 10), "day"),
    ("generated", dt.date(2026, 1, 12), dt.date(2026, 1, 18), "week"),
]


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for example in ("small", "generated"):
        path = tmp_path_factory.mktemp(example) / "w.duckdb"
        import_and_transform(path, EXAMPLES / example)
        built[example] = path
    return built


def _same(a: object, b: object) -> bool:
    missing = (a is None or (isinstance(a, float) and math.isnan(a)), b is None)
    if any(missing):
        return all(missing)
    return math.isclose(float(a), float(b), rel_tol=1e-12)  # type: ignore[arg-type]


@pytest.mark.parametrize(("example", "start", "end", "grain"), ONE_BUCKET)
@pytest.mark.parametrize("group_by", ["service", "team", "org"])
def test_a_one_bucket_trend_equals_the_metrics_of_the_period(
    warehouses, example, start, end, grain, group_by
):
    scope = Scope(start, end, group_by)
    with db.read(warehouses[example]) as con:
        period = {g["group"]: g for g in metrics.compute(con, scope)}
        trend = metrics.trend(con, scope, grain)
    assert sorted(trend["group"]) == sorted(period) and set(trend["bucket_start"]) == {start}
    assert (trend["days"] == scope.days).all()
    fields = [c for c in trend.columns if c not in ("group", "bucket_start", "days")]
    assert len(fields) == 16
    assert sum(g["deployments"] for g in period.values()) > 0
    for row in trend.to_dict("records"):
        got = period[row["group"]]
        assert [f for f in fields if not _same(row[f], got[f])] == [], row["group"]


def test_a_one_bucket_ci_trend_equals_the_ci_summary(tmp_path):
    from tests.support.reports import demo_warehouse

    class Factory:
        def getbasetemp(self) -> Path:
            return tmp_path

    path = demo_warehouse(Factory())  # type: ignore[arg-type]
    scope = Scope(dt.date(2026, 6, 22), dt.date(2026, 6, 28), "service")
    with db.read(path) as con:
        summary = metrics.ci_summary(con, scope)
        trend = metrics.ci_trend(con, scope, "week")
    assert len(summary) > 0 and set(trend["bucket_start"]) == {scope.start}
    assert summary.drop(columns="last_run_at").equals(trend.drop(columns="bucket_start"))


@pytest.mark.parametrize("metric", ["lead_time", "change_failure_rate", "recovery_time"])
def test_a_value_lies_in_the_band_of_its_tier(metric):
    tiers = Tiers()
    bands = metrics.tier_bands(metric, tiers)
    assert [b[0] for b in bands] == ["elite", "high", "medium", "low"]
    edges = sorted({edge for _, low, high in bands for edge in (low, high) if math.isfinite(edge)})
    for value in [*edges, *(e * 0.999 for e in edges), *(e * 1.001 for e in edges), 1e9]:
        tier = metrics.tier_all(_row(metric, value), 30, tiers)[metric]
        low, high = next((lo, hi) for name, lo, hi in bands if name == tier)
        inclusive = metrics.TIER_RULES[metric].inclusive
        assert (low < value <= high) if inclusive and value > 0 else (low <= value < high), (value, tier)


def test_deployment_frequency_bands_are_the_tier_thresholds_per_bucket():
    # Over one week, the week median is the week's deployment days, which a weekly bucket plots.
    tiers = Tiers(deployment_frequency={"elite": 5.0, "high": 2.0, "medium": 2.0})
    bands = {name: (low, high) for name, low, high in metrics.tier_bands("deployment_frequency", tiers, 7)}
    assert bands["medium"] == pytest.approx((2 * 7 / 30, 2.0))
    for days in range(8):
        tier = metrics.tier_deployment_frequency(float(days), days, 7, tiers)
        low, high = bands[tier]
        assert low <= days < high, (days, tier)


def _row(metric: str, value: float) -> dict:
    row = {rule.field: None for rule in metrics.TIER_RULES.values()}
    row.update({"deployment_days": 0, metrics.TIER_RULES[metric].field: value})
    return row
