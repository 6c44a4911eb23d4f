"""Dashboard speed in a browser: `python -m benchmarks.dashboard_speed --demo | --scale S | --warehouse W`.

Starts `dora dashboard` on the warehouse, opens it in headless Chromium (dashboard/browser.py) and times,
from the click in the navigation (or the filter change) until Streamlit is idle (script finished, nothing
stale, every chart drawn):

- each page's first load (its queries run: cold caches);
- each page again, reached from another page, RUNS times (the target: <= 1 s on the demo warehouse,
  <= 3 s at the benchmark scale of 300,000 deployments);
- a filter change on the overview (the period preset), first time and again.

--demo builds the demo organisation (seed 7, six months to 2026-06-30); --scale generates the benchmark
organisation (benchmarks/generate.py, 1.0 = 300,000 deployments) and transforms it. Figures are printed
and, with --out, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support import browser
from tests.support.cli import dora

if TYPE_CHECKING:
    from playwright.sync_api import Page

PAGES = [
    "Overview",
    "Comparison",
    "Deployment frequency",
    "Lead time",
    "Change failure rate",
    "Recovery time",
    "Rework rate",
    "CI health",
    "Data quality",
    "SQL",
]
RUNS = 3
TARGETS = {"demo": 1.0, "scale": 3.0}


def build_demo(folder: Path) -> Path:
    path = folder / "demo.duckdb"
    dora("--warehouse", str(path), "demo", "--seed", "7", "--end", "2026-06-30")
    return path


def build_scale(folder: Path, scale: float) -> Path:
    from benchmarks.generate import generate

    path = folder / "bench.duckdb"
    generate(path, scale=scale)
    dora("--warehouse", str(path), "transform")
    return path


def choose_period(page: Page, label: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Period")
    box.click()
    page.get_by_role("option", name=label).click()


def measure(warehouse: Path, runs: int = RUNS, log: Path | None = None) -> dict:
    results: dict = {"pages": {}, "filter": {}}
    with browser.serve(warehouse, timeout=180, log=log) as url, browser.browser_page() as page:
        results["open"] = browser.open_page(page, url, timeout=300)
        for title in PAGES[1:] + PAGES[:1]:
            results["pages"][title] = {"first": browser.navigate(page, title, timeout=300)}
        for title in PAGES:
            again = []
            for _ in range(runs):
                browser.navigate(page, PAGES[-1] if title != PAGES[-1] else PAGES[0], timeout=300)
                again.append(browser.navigate(page, title, timeout=300))
            results["pages"][title]["again"] = again
        browser.navigate(page, "Overview")
        for label in ("Last 30 days", "Last 180 days", "Last 90 days"):
            t0 = time.perf_counter()
            choose_period(page, label)
            browser.wait_idle(page, timeout=300)
            results["filter"].setdefault(label, []).append(time.perf_counter() - t0)
        for label in ("Last 30 days", "Last 90 days"):
            t0 = time.perf_counter()
            choose_period(page, label)
            browser.wait_idle(page, timeout=300)
            results["filter"][label].append(time.perf_counter() - t0)
    return results


def report(results: dict, target: float, name: str) -> bool:
    print(f"\nDashboard speed, {name} (target: every page <= {target:g} s after its first load)")
    print(f"  first page load in a new browser tab: {results['open']:.2f} s")
    print(f"  {'page':<22} {'first load':>10} {'again (median)':>15} {'again (max)':>12}")
    worst = 0.0
    for title, timing in results["pages"].items():
        again = timing["again"]
        worst = max(worst, max(again))
        mark = "ok" if max(again) <= target else "SLOW"
        print(
            f"  {title:<22} {timing['first']:>9.2f}s {statistics.median(again):>14.2f}s {max(again):>11.2f}s"
            f"  {mark}"
        )
    for label, times in results["filter"].items():
        worst = max(worst, *times[1:]) if len(times) > 1 else worst
        shown = ", ".join(f"{t:.2f}s" for t in times)
        print(f"  filter: period -> {label:<16} {shown}")
    ok = worst <= target
    print(f"  slowest repeat: {worst:.2f} s -> {'within' if ok else 'OVER'} the target")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--demo", action="store_true", help="build and time the demo warehouse")
    source.add_argument("--scale", type=float, help="generate the benchmark organisation at this scale")
    source.add_argument("--warehouse", type=Path, help="time an existing warehouse")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--target", type=float, help="seconds a page may take again (default: 1 demo, 3 scale)"
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dora-dash-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        if args.demo:
            path, target, name = build_demo(folder), TARGETS["demo"], "demo warehouse"
        elif args.scale is not None:
            path, target, name = (
                build_scale(folder, args.scale),
                TARGETS["scale"],
                f"benchmark scale {args.scale:g}",
            )
        else:
            path, target, name = args.warehouse, TARGETS["demo"], str(args.warehouse)
        target = args.target or target
        print(f"warehouse ready in {time.perf_counter() - t0:.1f} s: {path}")
        results = measure(path, args.runs, log=folder / "dashboard.log")
    ok = report(results, target, name)
    if args.out:
        args.out.write_text(json.dumps({"warehouse": name, "target_seconds": target, **results}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
