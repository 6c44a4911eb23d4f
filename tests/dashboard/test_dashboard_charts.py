"""The dashboard's pure parts, without Streamlit: figures from frames, human units, tables and CSV."""

from __future__ import annotations

import datetime as dt
import io
import math

import pandas as pd
import pytest

from dashboard import charts, durations
from dashboard import format as fmt
from warehouse.metric_settings import Tiers


def weekly(values: dict[str, list], groups=("all",), start=dt.date(2026, 3, 2)) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    rows = []
    for group in groups:
        for i in range(n):
            row = {
                "group": group,
                "bucket_start": start + dt.timedelta(days=7 * i),
                "days": 7,
                "deployments": 10,
                "deployment_days": 4,
                "changes": 8,
                "failed_deployments": 2,
                "unrecovered_failures": 0,
                "unplanned_deployments": 1,
            }
            row.update({k: v[i] for k, v in values.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def test_trend_chart_plots_the_values_over_labelled_tier_bands():
    frame = weekly({"lead_time_median_hours": [30.0, None, 12.5]})
    fig = charts.trend_chart(frame, "lead_time", Tiers())
    (line,) = fig.data
    assert list(line.y[:1]) == [30.0] and math.isnan(line.y[1]) and line.y[2] == 12.5
    assert [pd.Timestamp(x).date() for x in line.x] == list(frame["bucket_start"])
    assert "median" in line.hovertext[0].lower() or "30.0 hours" in line.hovertext[0]
    assert "8 changes" in line.hovertext[0]
    # bands up to a little past the next boundary above the data (168 h): elite, high, medium in view
    words = {a.text for a in fig.layout.annotations}
    assert {"Elite", "High"} <= words
    shapes = [(s.y0, s.y1) for s in fig.layout.shapes]
    assert (0.0, 24.0) in shapes and (24.0, 168.0) in shapes


def test_rates_are_percent_and_rework_has_no_bands():
    frame = weekly({"change_failure_rate": [0.25, 0.0], "rework_rate": [0.1, 0.2]})
    cfr = charts.trend_chart(frame, "change_failure_rate", Tiers())
    assert list(cfr.data[0].y) == [25.0, 0.0]
    assert {"Elite", "High", "Medium", "Low"} <= {a.text for a in cfr.layout.annotations}
    rework = charts.trend_chart(frame, "rework_rate", Tiers())
    assert list(rework.data[0].y) == [10.0, 20.0]
    assert not rework.layout.shapes


def test_tier_bands_follow_the_configured_thresholds():
    tiers = Tiers(lead_time={"elite": 10.0, "high": 100.0, "medium": 1000.0})
    assert charts.tier_bands("lead_time", tiers)[:3] == [
        ("elite", 0.0, 10.0),
        ("high", 10.0, 100.0),
        ("medium", 100.0, 1000.0),
    ]
    bands = dict((t, (lo, hi)) for t, lo, hi in charts.tier_bands("deployment_frequency", Tiers()))
    assert bands["elite"][0] == 5 and bands["high"] == (1, 5)
    assert bands["medium"] == pytest.approx((7 / 30, 1))


def test_one_line_per_group_with_a_legend():
    frame = weekly({"deployment_days": [1, 2]}, groups=("a", "b"))
    fig = charts.trend_chart(frame, "deployment_frequency")
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.showlegend


def test_histogram_counts_every_positive_lead_time_and_marks_median_and_p90():
    hours = pd.Series([0.5, 2, 3, 30, 200, 1000, -1, None])
    fig = durations.lead_time_histogram(hours, 3.0, 600.0)
    assert sum(fig.data[0].y) == 6
    lines = [s.x0 for s in fig.layout.shapes]
    assert lines == pytest.approx([math.log10(3.0), math.log10(600.0)])
    texts = {a.text for a in fig.layout.annotations}
    assert "median: 3.0 hours" in texts and "90th percentile: 25.0 days" in texts


def test_calendar_heatmap_holds_each_day_once():
    days = pd.DataFrame(
        {
            "group": "all",
            "bucket_start": [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(10)],
            "deployments": range(10),
        }
    )
    fig = charts.calendar_heatmap(days)
    z = pd.DataFrame(fig.data[0].z)
    assert z.sum().sum() == sum(range(10)) and z.notna().sum().sum() == 10
    assert z.iloc[0, 0] == 0 and z.iloc[1, 0] == 1  # Monday 2 March, Tuesday 3 March
    cells, days = fig.data
    assert list(days.customdata[:2]) == ["2026-03-02", "2026-03-03"]  # what a click on a day returns
    assert days.hovertext[1] == "Tue 03 Mar 2026: 1 deployment" and list(days.y[:2]) == ["Mon", "Tue"]


def test_comparison_scatter_one_point_per_group_with_data():
    groups = [
        {
            "group": "a",
            "lead_time_median_hours": 10.0,
            "change_failure_rate": 0.1,
            "deployments": 40,
            "tiers": {"lead_time": "elite", "change_failure_rate": "high"},
        },
        {
            "group": "b",
            "lead_time_median_hours": None,
            "change_failure_rate": None,
            "deployments": 0,
            "tiers": {"lead_time": None, "change_failure_rate": None},
        },
        {
            "group": "c",
            "lead_time_median_hours": 100.0,
            "change_failure_rate": 0.3,
            "deployments": 10,
            "tiers": {"lead_time": "high", "change_failure_rate": "low"},
        },
    ]
    (points,) = durations.comparison_scatter(groups).data
    assert list(points.text) == ["a", "c"]
    assert list(points.y) == pytest.approx([10.0, 30.0])
    assert points.marker.size[0] > points.marker.size[1]
    assert points.marker.color[0] == fmt.TIER_COLOURS["high"]
    assert "High" in points.hovertext[0]


def test_signals_chart_counts_each_signal_per_week():
    rows = pd.DataFrame(
        {
            "finished_at": pd.to_datetime(["2026-03-03 10:00", "2026-03-04 10:00", "2026-03-10 10:00"]),
            "failure_signals": [["incident", "rollback"], ["incident"], ["revert"]],
        }
    )
    fig = charts.signals_chart(rows, "failure_signals")
    totals = {t.name: sum(t.y) for t in fig.data}
    assert totals == {"Incident": 2, "Revert": 1, "Rollback": 1}


def test_recovery_chart_marks_still_failing_deployments():
    rows = pd.DataFrame(
        {
            "service": ["a", "a"],
            "deployment_id": ["d1", "d2"],
            "finished_at": pd.to_datetime(["2026-03-03 10:00", "2026-03-04 10:00"]),
            "recovery_hours": [2.0, None],
            "is_unrecovered": [False, True],
        }
    )
    fig = durations.recovery_chart(rows, now=dt.datetime(2026, 3, 5, 10))
    recovered, still = fig.data
    assert list(recovered.y) == [2.0]
    assert still.y[0] > 168 and still.marker.symbol == "x"  # along the top, above the medium boundary
    assert "still failing after 24.0 hours" in still.hovertext[0]
    assert "1 hour" in fig.layout.yaxis.ticktext and fig.layout.yaxis.type == "log"


def test_stage_breakdown_and_ci_charts():
    frame = weekly(
        {
            "coding_median_hours": [1.0, 2.0],
            "pickup_median_hours": [3.0, None],
            "review_median_hours": [4.0, 1.0],
            "deploy_median_hours": [0.5, 0.5],
        }
    )
    fig = charts.stage_breakdown(frame)
    assert [t.name.split(" ")[0] for t in fig.data] == ["Coding", "Pickup", "Review", "Deploy"]
    ci = pd.DataFrame(
        {
            "service": ["s", "s"],
            "pipeline": ["build", "build"],
            "bucket_start": [dt.date(2026, 3, 2), dt.date(2026, 3, 9)],
            "runs": [10, 5],
            "failure_rate": [0.1, 0.2],
            "duration_median_minutes": [5.0, 6.0],
        }
    )
    assert list(charts.ci_chart(ci, "failure_rate", "x").data[0].y) == pytest.approx([10.0, 20.0])
    assert charts.ci_chart(ci, "duration_median_minutes", "x").data[0].name == "s · build"


def test_empty_frames_give_empty_figures():
    empty = weekly({"lead_time_median_hours": [1.0]}).iloc[0:0]
    for metric in charts.TREND_SERIES:
        assert charts.trend_chart(empty, metric).data == ()
    assert durations.lead_time_histogram(pd.Series([], dtype=float), None, None).data == ()
    assert durations.comparison_scatter([]).data == ()
    assert charts.calendar_heatmap(empty.assign(deployments=[])).data == ()


def test_sparklines_per_group_in_week_order():
    frame = weekly({"lead_time_median_hours": [3.0, None]}, groups=("a", "b"))
    assert charts.sparklines(frame, "lead_time_median_hours") == {"a": [3.0, 0.0], "b": [3.0, 0.0]}


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (0.25, "15 minutes"),
        (5, "5.0 hours"),
        (47.9, "47.9 hours"),
        (72, "3.0 days"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_durations_in_human_units(hours, text):
    assert fmt.duration(hours) == text


def test_frequency_rates_and_tiers_in_words():
    assert fmt.frequency(3.21) == "3.2 per day"
    assert fmt.frequency(0.3) == "2.1 per week"
    assert fmt.frequency(0.05) == "1.5 per month"
    assert fmt.frequency(0) == "none"
    assert fmt.percent(0.2468, 1) == "24.7%" and fmt.percent(None) == "–"
    assert [fmt.tier_word(t) for t in ("elite", None)] == ["Elite", "No tier"]
    # every tier has a colour and a badge colour, and no two tiers share one
    assert len(set(fmt.TIER_COLOURS.values())) == len(fmt.TIERS) == len(set(fmt.TIER_BADGES.values()))


def test_humanize_uses_headings_and_units_and_csv_is_exactly_the_table():
    rows = pd.DataFrame(
        {
            "deployment_id": ["d1", "d2"],
            "service": ["a", "b"],
            "finished_at": pd.to_datetime(["2026-03-03 10:00:30", "2026-03-04 11:00:00"]),
            "recovery_hours": [1.234, None],
            "is_failed": [True, False],
            "failure_signals": [["incident", "rollback"], []],
            "pr_number": [12, None],
            "commit_sha": ["abcdef0123456789", None],
        }
    )
    shown = fmt.humanize(rows)
    assert list(shown.columns) == [
        "Deployment",
        "Service",
        "Finished (UTC)",
        "Recovery time (hours)",
        "Failed",
        "Failed because of",
        "Pull request",
        "Commit",
    ]
    assert not any("_" in c for c in shown.columns)
    assert shown.loc[0, "Recovery time (hours)"] == 1.2 and pd.isna(shown.loc[1, "Recovery time (hours)"])
    assert list(shown["Failed"]) == ["yes", "no"]
    assert list(shown["Failed because of"]) == ["incident, rollback", "–"]
    assert list(shown["Pull request"]) == ["#12", "–"] and shown.loc[0, "Commit"] == "abcdef012345"
    assert shown.loc[0, "Finished (UTC)"] == "2026-03-03 10:00"
    back = pd.read_csv(io.BytesIO(fmt.csv_bytes(shown)), encoding="utf-8-sig")
    assert list(back.columns) == list(shown.columns) and len(back) == 2
    assert list(back["Failed because of"]) == ["incident, rollback", "–"]
