"""The dashboard run by Streamlit's AppTest on the demo warehouse and an empty one: every page renders,
the numbers shown are the metrics API's, filters live in the URL, and a writer never breaks a reader."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from dashboard import format as fmt
from dashboard import ui
from dashboard.filters import PRESETS
from tests.support.cli import EXAMPLES, dora
from tests.support.dashboard import app, demo_warehouse, metrics_json, texts
from warehouse import db
from warehouse.metrics import Scope, compute

PAGES = [
    "overview",
    "comparison",
    "deployment_frequency",
    "lead_time",
    "change_failure_rate",
    "recovery_time",
    "rework_rate",
    "ci_health",
    "data_quality",
    "sql",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return demo_warehouse(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def period(demo) -> tuple[dt.date, dt.date]:
    """The default period: the last 90 days up to the newest deployment (the demo ends before today)."""
    with db.read(demo) as con:
        last = con.execute("select cast(max(finished_at) as date) from marts.deployments").fetchone()[0]
    return last - dt.timedelta(days=89), last


def busiest_service(path, start, end) -> str:
    with db.read(path) as con:
        groups = compute(con, Scope(start, end, "service"))
    return max(groups, key=lambda g: (g["deployments"], g["group"]))["group"]


def no_exceptions(at) -> None:
    assert not at.exception, [e.message for e in at.exception]


def test_every_page_renders_on_the_demo(demo, monkeypatch):
    at = app(demo, monkeypatch).run()
    no_exceptions(at)
    for page in PAGES:
        at.switch_page(f"views/{page}.py").run()
        no_exceptions(at)
        words = texts(at)
        assert at.title, page
        for bad in ("nan", "NaN", "None", "_hours", "Traceback"):
            assert bad not in words.split() and f" {bad} " not in words, (page, bad)


def test_overview_tiles_equal_dora_metrics_json(demo, period, monkeypatch):
    start, end = period
    service = busiest_service(demo, start, end)
    expected = {g["group"]: g for g in metrics_json(demo, str(start), str(end))["groups"]}[service]
    at = app(demo, monkeypatch, {"service": [service]}).run()
    no_exceptions(at)
    assert fmt.period(start, end) in at.caption[0].value
    tiles = {m.label: m.value for m in at.metric}
    assert tiles == {
        "Deployment frequency": fmt.frequency(expected["deploys_per_day"]),
        "Lead time": fmt.duration(expected["lead_time_median_hours"]),
        "Change failure rate": fmt.percent(expected["change_failure_rate"], 1),
        "Recovery time": fmt.duration(expected["recovery_time_median_hours"]),
        "Rework rate": fmt.percent(expected["rework_rate"], 1),
    }
    captions = " | ".join(c.value for c in at.caption)
    assert f"median of {fmt.count(expected['changes'], 'change')}" in captions
    assert (
        f"{expected['failed_deployments']:,} of {fmt.count(expected['deployments'], 'deployment')} failed"
        in captions
    )
    assert f"{expected['unplanned_deployments']:,} of" in captions
    badges = [m.value for m in at.markdown if "Tier:" in m.value or "No published tier" in m.value]
    for metric, tier in expected["tiers"].items():
        assert any(fmt.tier_word(tier) in b for b in badges) or tier is None, metric


def test_tile_change_is_against_the_previous_period(demo, period, monkeypatch):
    start, end = period
    service = busiest_service(demo, start, end)
    days = (end - start).days + 1
    with db.read(demo) as con:
        (now,) = compute(con, Scope(start, end, "org", services=(service,)))
        (before,) = compute(
            con,
            Scope(start - dt.timedelta(days=days), start - dt.timedelta(days=1), "org", services=(service,)),
        )
    at = app(demo, monkeypatch, {"service": [service]}).run()
    deltas = {m.label: m.delta for m in at.metric}
    assert before["deployments"], "the demo has history before the default period"
    points = (now["change_failure_rate"] - before["change_failure_rate"]) * 100
    assert deltas["Change failure rate"] == (f"{points:+.1f} points" if round(points, 1) else "no change")
    assert deltas["Deployment frequency"].endswith(("per day", "per week", "per month"))


def test_filters_come_from_the_url_and_narrow_services_by_team(demo, monkeypatch):
    with db.read(demo) as con:
        services = con.execute("select service, coalesce(team, 'unassigned') from core.services").fetchall()
    team = services[0][1]
    members = sorted(s for s, t in services if t == team)
    at = app(demo, monkeypatch, {"team": [team], "period": PRESETS["last-30"]}).run()
    no_exceptions(at)
    assert at.multiselect(key="team").value == [team]
    assert at.selectbox(key="period").value == "last-30"
    assert sorted(at.multiselect(key="service").options) == members
    assert "(30 days)" in at.caption[0].value and f"team {team}" in at.caption[0].value


def test_changing_a_filter_changes_the_tiles(demo, period, monkeypatch):
    start, end = period
    at = app(demo, monkeypatch).run()
    everything = {m.label: m.value for m in at.metric}
    service = busiest_service(demo, start, end)
    at.multiselect(key="service").set_value([service]).run()
    no_exceptions(at)
    one = {m.label: m.value for m in at.metric}
    assert one != everything
    with db.read(demo) as con:
        (g,) = compute(con, Scope(start, end, "org", services=(service,)))
    assert one["Deployment frequency"] == fmt.frequency(g["deploys_per_day"])


def test_a_period_without_deployments_says_so(demo, monkeypatch):
    query = {"period": PRESETS["custom"], "dates": ["2010-01-01", "2010-03-31"]}
    at = app(demo, monkeypatch, query).run()
    no_exceptions(at)
    for page in ["overview", "comparison", "lead_time", "change_failure_rate", "recovery_time"]:
        at.switch_page(f"views/{page}.py").run()
        no_exceptions(at)
        assert any("No deployments in this period" in i.value for i in at.info), page
        assert not at.metric or page == "data_quality"
        assert "nan" not in texts(at).lower().split()


def test_rows_behind_the_numbers_match_the_tiles(demo, period, monkeypatch):
    start, end = period
    with db.read(demo) as con:
        (g,) = compute(con, Scope(start, end, "org"))
    at = app(demo, monkeypatch).run()
    at.switch_page("views/deployment_frequency.py").run()
    no_exceptions(at)
    shown = at.dataframe[-1].value
    assert len(shown) == min(g["deployments"], ui.MAX_TABLE_ROWS)
    assert "Deployment" in shown.columns and "deployment_id" not in shown.columns
    at.switch_page("views/change_failure_rate.py").run()
    assert len(at.dataframe[-1].value) == g["failed_deployments"]
    at.switch_page("views/rework_rate.py").run()
    assert len(at.dataframe[-1].value) == g["unplanned_deployments"]
    at.switch_page("views/lead_time.py").run()
    at.toggle(key="lt-all").set_value(True).run()
    no_exceptions(at)
    assert len(at.dataframe[-1].value) == g["changes"] + g["lead_time_excluded"]
    slowest = at.dataframe[-2].value
    assert slowest["Lead time (hours)"].is_monotonic_decreasing
    assert slowest["Link"].str.startswith("https://").any()


def test_comparison_table_has_every_group_with_its_tiers(demo, period, monkeypatch):
    start, end = period
    with db.read(demo) as con:
        groups = compute(con, Scope(start, end, "team"))
    at = app(demo, monkeypatch, {"group": "Team"}).run()
    at.switch_page("views/comparison.py").run()
    no_exceptions(at)
    table = at.dataframe[0].value
    assert list(table["Team"]) == [g["group"] for g in groups]
    assert list(table["Deployments"]) == [g["deployments"] for g in groups]
    assert list(table["Lead time tier"]) == [fmt.tier_word(g["tiers"]["lead_time"]) for g in groups]


def test_sql_page_runs_reads_and_refuses_writes(demo, monkeypatch):
    at = app(demo, monkeypatch).run()
    at.switch_page("views/sql.py").run()
    at.text_area(key="sql-query").set_value("select count(*) as n from marts.deployments")
    at.button(key="sql-run").click().run()
    no_exceptions(at)
    with db.read(demo) as con:
        n = con.execute("select count(*) from marts.deployments").fetchone()[0]
    assert at.dataframe[-1].value["n"].tolist() == [n]
    at.text_area(key="sql-query").set_value("delete from core.deployments")
    at.button(key="sql-run").click().run()
    assert any("read-only" in e.value for e in at.error)
    at.text_area(key="sql-query").set_value("select * from read_csv('/etc/passwd')")
    at.button(key="sql-run").click().run()
    assert any("files" in e.value for e in at.error)


def test_empty_warehouse_shows_the_first_run_page(tmp_path, monkeypatch):
    at = app(tmp_path / "empty.duckdb", monkeypatch).run()
    no_exceptions(at)
    assert at.title[0].value == "Welcome to Doralytics"
    assert any("dora --warehouse demo.duckdb demo" in c.value for c in at.code)
    assert "dora import" in " ".join(m.value for m in at.markdown)


def test_a_writer_importing_in_a_loop_never_breaks_the_app(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    dora("--warehouse", str(path), "import", str(EXAMPLES / "small"))
    at = app(path, monkeypatch, {"period": PRESETS["custom"], "dates": ["2026-01-01", "2026-03-31"]}).run()
    no_exceptions(at)
    before = {m.label: m.value for m in at.metric}
    # Re-import the small example twice, then add the larger one: the last write changes the numbers.
    folders = [str(EXAMPLES / "small")] * 2 + [str(EXAMPLES / "generated")]
    script = (
        "import subprocess, sys\n"
        f"for folder in {folders!r}:\n"
        "    command = [sys.executable, '-m', 'doralytics', '--warehouse', sys.argv[1], 'import', folder]\n"
        "    subprocess.run(command, check=True, capture_output=True)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, str(path)])
    renders = 0
    seen = []
    try:
        while writer.poll() is None:
            at.run(timeout=90)
            no_exceptions(at)
            tiles = {m.label: m.value for m in at.metric}
            assert tiles, "tiles disappeared during a write"
            seen.append(tiles)
            renders += 1
            time.sleep(0.05)
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0 and renders >= 2
    at.run()
    no_exceptions(at)
    with db.read(path) as con:
        (g,) = compute(con, Scope(dt.date(2026, 1, 1), dt.date(2026, 3, 31), "org"))
    after = {m.label: m.value for m in at.metric}
    assert (
        after["Deployment frequency"] == fmt.frequency(g["deploys_per_day"]) != before["Deployment frequency"]
    )
    assert after["Change failure rate"] == fmt.percent(g["change_failure_rate"], 1)
    # readers never wait for the writer: every render showed the old or the new state, never a mix
    assert all(tiles in (before, after) for tiles in seen), "a render showed a state between two writes"


def test_csv_download_is_exactly_the_table_shown(demo, monkeypatch):
    at = app(demo, monkeypatch).run()
    at.switch_page("views/change_failure_rate.py").run()
    shown = at.dataframe[-1].value
    downloads = [e for e in at.get("download_button") if "Download CSV" in e.proto.label]
    assert downloads[-1].proto.label == f"Download CSV ({fmt.count(len(shown), 'row')})"
    # the button is given ui.table's frame itself; csv_bytes writes it with the headings shown
    back = pd.read_csv(
        io.BytesIO(fmt.csv_bytes(shown)), encoding="utf-8-sig", keep_default_na=False, dtype=str
    )
    assert list(back.columns) == list(shown.columns) and len(back) == len(shown)
    assert list(back["Deployment"]) == list(shown["Deployment"])
