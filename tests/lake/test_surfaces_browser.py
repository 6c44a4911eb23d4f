"""`dora dashboard` on a lake in headless Chromium: the tiles are the lake's numbers, the sidebar names the
lake and its snapshot, and an import committed while it runs shows up on the next load without a restart."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from dashboard import format as fmt
from tests.lake.lakecli import service_bundle
from tests.support import browser
from tests.support.cli import dora
from tests.support.postgres import LakeSpot
from warehouse import db, lake
from warehouse.metrics import Scope, compute


def expected_tiles(where: str) -> dict[str, str]:
    """The overview's tiles for the default period (90 days up to the newest deployment), all services."""
    with db.read(where) as con:
        [(last,)] = con.execute("select cast(max(finished_at) as date) from marts.deployments").fetchall()
        (g,) = compute(con, Scope(last - dt.timedelta(days=89), last, "org"))
    lake.forget_readers()
    return {
        "Deployment frequency": fmt.frequency(g["deploys_per_day"]),
        "Lead time": fmt.duration(g["lead_time_median_hours"]),
        "Change failure rate": fmt.percent(g["change_failure_rate"], 1),
        "Recovery time": fmt.duration(g["recovery_time_median_hours"]),
        "Rework rate": fmt.percent(g["rework_rate"], 1),
    }


def test_dora_dashboard_on_a_lake_in_a_real_browser(lake: LakeSpot, tmp_path: Path) -> None:
    dora("--warehouse", lake.address, "import", str(service_bundle("alpha", "team-a").write(tmp_path / "a")))
    before = expected_tiles(lake.address)
    with (
        browser.serve(lake.address, timeout=120, log=tmp_path / "dashboard.log") as url,
        browser.browser_page() as page,
    ):
        browser.open_page(page, url, timeout=120)
        assert browser.metric_values(page) == before
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert f"DuckLake {lake.dbname}" in sidebar and "snapshot " in sidebar

        more = service_bundle("beta", "team-b", every=2).write(tmp_path / "b")
        dora("--warehouse", lake.address, "import", str(more))
        after = expected_tiles(lake.address)
        assert after != before
        time.sleep(6)  # the dashboard asks the lake for a newer snapshot every 5 s
        browser.open_page(page, url, timeout=120)
        assert browser.metric_values(page) == after
    log = (tmp_path / "dashboard.log").read_text()
    assert "Traceback" not in log and f"warehouse {lake.address}" in log
