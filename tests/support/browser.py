"""Drive the real dashboard in headless Chromium: for the end-to-end test and the speed benchmark.

Uses Debian's `chromium` (never `playwright install`: its download fails on these machines) through
Playwright, and starts the dashboard exactly as a user does: `dora --warehouse W dashboard --port P`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Headless, and quiet: no sandbox (containers), no GPU, no updates or first-run pages.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Streamlit is idle: the script is not running, nothing is stale, every chart has drawn, nothing loads.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  if (document.querySelector('[data-testid="stSpinner"]')) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return document.querySelector('[data-testid="stMain"]') !== null;
}"""
BUSY_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !app || app.getAttribute('data-test-script-state') !== 'notRunning'
    || document.querySelector('[data-stale="true"]') !== null;
}"""


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: apt-get install -y --no-install-recommends chromium")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(
    warehouse: str | os.PathLike, port: int | None = None, timeout: float = 90.0, log: Path | None = None
) -> Iterator[str]:
    """`dora --warehouse W dashboard` on a free port until the block ends; yields its URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "doralytics", "--warehouse", str(warehouse), "dashboard", "--port", str(port)],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dora dashboard exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dora dashboard did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.25)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log:
            out.close()


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1400) -> Iterator:
    """A fresh page of headless Chromium; a tall viewport since Streamlit scrolls inside its own container."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_idle(page: Page, timeout: float = 60.0, started: bool = False) -> float:
    """Wait until Streamlit is idle; returns the seconds it took. Unless `started`, first give the rerun
    a moment to begin (a widget change reaches the server asynchronously)."""
    t0 = time.perf_counter()
    if not started:
        with contextlib.suppress(Exception):
            page.wait_for_function(BUSY_JS, timeout=1500, polling=10)
    page.wait_for_function(IDLE_JS, timeout=timeout * 1000, polling=10)
    return time.perf_counter() - t0


def open_page(page: Page, url: str, timeout: float = 90.0) -> float:
    """Load the dashboard at `url` and wait until idle; returns seconds from navigation."""
    t0 = time.perf_counter()
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    wait_idle(page, timeout, started=False)
    return time.perf_counter() - t0


def navigate(page: Page, title: str, timeout: float = 60.0) -> float:
    """Click a page in the sidebar navigation and wait until idle; returns seconds from the click."""
    link = page.locator('[data-testid="stSidebarNav"] a', has_text=title).first
    t0 = time.perf_counter()
    link.click()
    wait_idle(page, timeout)
    return time.perf_counter() - t0


def metric_values(page: Page) -> dict[str, str]:
    """The tiles on the page: label -> value as displayed."""
    values = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        values[label] = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return values
