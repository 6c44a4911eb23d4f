"""Look at the weekly report as a person would: headless Chromium renders it to a PNG in test-artifacts/.

Chromium is Debian's (`apt-get install chromium`; `playwright install` cannot download here); the screenshot
is taken by Chromium's own --screenshot, with the network off, so a chart or a style that needed the internet
would show as missing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from reports import render
from reports.weekly import build, resolve_week
from tests.support.browser import CHROMIUM_ARGS
from tests.support.reports import WEEK, demo_warehouse
from warehouse import db

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTH, HEIGHT = 1000, 5600


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (make test installs it: apt-get install chromium)")
    return path


def test_report_renders_in_chromium(tmp_path_factory, tmp_path):
    from PIL import Image

    chromium = _chromium()
    with db.read(demo_warehouse(tmp_path_factory)) as con:
        report = build(con, resolve_week(WEEK), now=dt.datetime(2026, 6, 29, 8, tzinfo=dt.UTC))
    page = tmp_path / "weekly.html"
    page.write_text(render.render(report, "html"), encoding="utf-8")
    shot = tmp_path / "weekly.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_ARGS,
            "--hide-scrollbars",
            "--proxy-server=127.0.0.1:9",  # no network: a remote asset would fail
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    # trim the empty canvas below the page, keep the picture for people to look at
    background = image.getpixel((5, HEIGHT - 1))
    rows = [
        y
        for y in range(HEIGHT - 1, 0, -8)
        if any(image.getpixel((x, y)) != background for x in range(0, WIDTH, 4))
    ]
    assert rows, "the page rendered blank"
    image = image.crop((0, 0, WIDTH, min(HEIGHT, rows[0] + 40)))
    assert image.size[1] > 2500  # tiles, highlights, tables, both charts and the footer take room
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "report-weekly.png")
    # the charts were drawn: the trend chart's team colours are on the page
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    assert (37, 99, 235) in colours  # PALETTE[0], checkout's line
