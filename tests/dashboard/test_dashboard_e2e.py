"""End to end: `dora dashboard` in headless Chromium; a filter change changes the tiles, the URL keeps it."""

from __future__ import annotations

import datetime as dt
import os
import shutil

from dashboard import format as fmt
from tests.support import browser
from tests.support.dashboard import demo_warehouse
from warehouse import db
from warehouse.metrics import Scope, compute, trend


def expected_tiles(path, scope: Scope) -> dict[str, str]:
    with db.read(path) as con:
        (g,) = compute(con, scope)
    return {
        "Deployment frequency": fmt.frequency(g["deploys_per_day"]),
        "Lead time": fmt.duration(g["lead_time_median_hours"]),
        "Change failure rate": fmt.percent(g["change_failure_rate"], 1),
        "Recovery time": fmt.duration(g["recovery_time_median_hours"]),
        "Rework rate": fmt.percent(g["rework_rate"], 1),
    }


def test_dashboard_in_a_real_browser(tmp_path_factory, tmp_path):
    path = demo_warehouse(tmp_path_factory.getbasetemp())
    with db.read(path) as con:
        last = con.execute("select cast(max(finished_at) as date) from marts.deployments").fetchone()[0]
        services = compute(con, Scope(last - dt.timedelta(days=89), last, "service"))
    start = last - dt.timedelta(days=89)
    service = max(services, key=lambda g: (g["deployments"], g["group"]))["group"]

    with (
        browser.serve(path, timeout=120, log=tmp_path / "dashboard.log") as url,
        browser.browser_page(height=2400) as page,
    ):
        browser.open_page(page, url, timeout=120)
        assert browser.metric_values(page) == expected_tiles(path, Scope(start, last, "org"))

        # choose one service in the sidebar, as a user does
        box = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Service")
        box.locator("input").click()
        box.locator("input").fill(service)
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        browser.wait_idle(page, timeout=60)
        one = browser.metric_values(page)
        assert one == expected_tiles(path, Scope(start, last, "org", services=(service,)))
        assert one != expected_tiles(path, Scope(start, last, "org"))
        assert f"service={service}" in page.url

        # a point of a trend leads to the rows behind it: the failed deployments of that week
        with db.read(path) as con:
            weeks = trend(con, Scope(start, last, "org", services=(service,)))
        drawn = weeks[weeks["change_failure_rate"].notna()].reset_index(drop=True)
        pick = int(drawn["failed_deployments"].idxmax())
        charts = page.locator('[data-testid="stPlotlyChart"]')
        cfr_chart = charts.filter(has=page.locator("text.gtitle", has_text="Change failure rate"))
        point = cfr_chart.locator("g.points path.point").nth(pick).bounding_box()
        page.mouse.click(point["x"] + point["width"] / 2, point["y"] + point["height"] / 2)
        browser.wait_idle(page, timeout=60)
        week = drawn.loc[pick, "bucket_start"].isoformat()
        heading = page.get_by_role("heading", name=f"Change failure rate: week of {week}")
        heading.wait_for(timeout=30_000)
        label = fmt.count(int(drawn.loc[pick, "failed_deployments"]), "row")
        assert page.get_by_role("button", name=f"Download CSV ({label})").count() == 1

        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        if os.environ.get("DORA_SCREENSHOT_DIR"):
            shutil.copy(shot, os.environ["DORA_SCREENSHOT_DIR"])

        # the copied link reproduces the view in a fresh page
        link = page.url
        other = page.context.browser.new_page(viewport={"width": 1600, "height": 1400})
        browser.open_page(other, link, timeout=120)
        assert browser.metric_values(other) == one


# Whether any part of a tile's value is cut: an element whose content is wider than its box.
CUT_VALUES_JS = """
() => [...document.querySelectorAll('[data-testid="stMetricValue"]')].flatMap(value =>
    [value, ...value.querySelectorAll('*')]
        .filter(e => e.scrollWidth > e.clientWidth + 0.5 || e.getBoundingClientRect().right
            > value.closest('[data-testid="stMetric"]').getBoundingClientRect().right + 0.5)
        .map(e => value.innerText + ': ' + e.scrollWidth + ' > ' + e.clientWidth))
"""


def test_tile_values_are_not_cut_at_1440_px(tmp_path_factory, tmp_path):
    """Issue 10: at a 1440 px wide window the overview's tiles showed "8.3 per ..." and "28.3 ho..."."""
    path = demo_warehouse(tmp_path_factory.getbasetemp())
    with (
        browser.serve(path, timeout=120, log=tmp_path / "dashboard.log") as url,
        browser.browser_page(width=1440, height=1600) as page,
    ):
        for width in (1440, 1280):
            page.set_viewport_size({"width": width, "height": 1600})
            browser.open_page(page, url, timeout=120)
            values = browser.metric_values(page)
            assert len(values) == 5 and all(values.values()), values
            assert page.evaluate(CUT_VALUES_JS) == [], (width, values)
