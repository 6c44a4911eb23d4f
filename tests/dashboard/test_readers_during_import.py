"""Readers never fail during a write: while a long `dora import` runs, `dora metrics` in a loop, the metrics
read in a loop as `dora metrics` reads them, and the dashboard in headless Chromium all answer, from the
last published state (the old numbers), then the new ones once the import is done, never a mix.

The CLI's own start (Python, pandas, DuckDB imports) takes seconds on a loaded 2-core machine, whatever
the warehouse does; the one-second bound is on the read itself (open + metrics), timed in-process. The
import runs at a lower CPU priority (nice 10), as a server runs its syncs: on 2 cores shared with the
browser, Streamlit and other people's work, CPU contention alone can stretch a read, which is why the
bound is on the median (or twice the same read before the import, when the machine is busier than that)
with a ceiling of 3 s on every read (the old failure was a 31 s wait, then exit 2).
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import big_import, browser
from tests.support.big_import import PERIOD, Setup
from warehouse import db
from warehouse.metrics import Scope, compute

ANSWER_SECONDS = 1.0
CEILING_SECONDS = 3.0
SCOPE = Scope(dt.date.fromisoformat(PERIOD[0]), dt.date.fromisoformat(PERIOD[1]), "service")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return big_import.build(tmp_path_factory.mktemp("readers"))


def read_metrics(warehouse: Path) -> list[dict[str, Any]]:
    with db.read(warehouse) as con:
        return compute(con, SCOPE)


class Loop(threading.Thread):
    """Call `read` until stopped; keeps (seconds, answer or exception) of every call."""

    def __init__(self, read: Any) -> None:
        super().__init__(daemon=True)
        self.read, self.stop = read, threading.Event()
        self.calls: list[tuple[float, Any]] = []

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                answer = self.read()
            except Exception as exc:  # every failure is kept and reported by the test
                answer = exc
            self.calls.append((time.perf_counter() - started, answer))
            time.sleep(0.1)


def page_state(page: Any) -> tuple[float, dict[str, str], str]:
    """Reload the dashboard as a user does; (seconds to idle, tiles, the page's text)."""
    started = time.perf_counter()
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stApp"]', timeout=120_000)
    browser.wait_idle(page, timeout=120)
    return time.perf_counter() - started, browser.metric_values(page), page.inner_text("body")


def test_readers_answer_during_a_long_import(setup: Setup, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    shutil.copyfile(setup.old, warehouse)
    new_copy = tmp_path / "new.duckdb"
    shutil.copyfile(setup.old, new_copy)
    big_import.checked(big_import.dora("--warehouse", str(new_copy), "import", str(setup.bundle)))
    old_in_process, new_in_process = read_metrics(warehouse), read_metrics(new_copy)
    assert old_in_process != new_in_process

    with (
        browser.serve(warehouse, timeout=120, log=tmp_path / "dashboard.log") as url,
        browser.browser_page(height=2400) as page,
    ):
        browser.open_page(page, url, timeout=120)
        old_tiles = browser.metric_values(page)
        assert old_tiles

        baseline = []
        for _ in range(5):  # the same read with no writer running, on this machine as loaded as it is now
            started = time.perf_counter()
            read_metrics(warehouse)
            baseline.append(time.perf_counter() - started)
        cli = Loop(lambda: big_import.metrics_json(warehouse))
        in_process = Loop(lambda: read_metrics(warehouse))
        proc = big_import.start_import(warehouse, setup.bundle, nice=10)
        cli.start()
        in_process.start()
        pages = []
        try:
            while proc.poll() is None:
                pages.append(page_state(page))
        finally:
            cli.stop.set()
            in_process.stop.set()
            cli.join(timeout=120)
            in_process.join(timeout=60)
            if proc.poll() is None:
                proc.kill()
        assert proc.wait() == 0
        # one more round of each now that the import is done: the new state
        cli_after = big_import.metrics_json(warehouse)
        new_tiles = page_state(page)[1]

    assert cli_after == setup.after.metrics
    assert read_metrics(warehouse) == new_in_process
    assert new_tiles != old_tiles

    failures = [a for _, a in cli.calls + in_process.calls if isinstance(a, Exception)]
    assert not failures, failures[:3]
    assert cli.calls and in_process.calls and pages
    assert all(a in (setup.before.metrics, setup.after.metrics) for _, a in cli.calls)
    assert all(a in (old_in_process, new_in_process) for _, a in in_process.calls)
    seconds = sorted(s for s, _ in in_process.calls)
    # within a second, or (the machine busy with other work) no slower than twice the same read unwritten
    assert statistics.median(seconds) <= max(ANSWER_SECONDS, 2 * statistics.median(baseline)), seconds
    assert seconds[-1] <= CEILING_SECONDS, seconds
    for _, tiles, text in pages:
        assert tiles in (old_tiles, new_tiles), tiles
        assert "busy" not in text.lower() and "Traceback" not in text
    print(
        f"\nduring the import: {len(cli.calls)} `dora metrics` (max {max(s for s, _ in cli.calls):.2f} s), "
        f"{len(seconds)} reads (median {statistics.median(seconds):.2f} s, max {seconds[-1]:.2f} s; "
        f"{statistics.median(baseline):.2f} s before the import), "
        f"{len(pages)} page loads (max {max(s for s, _, _ in pages):.2f} s)"
    )
