"""What the collector benchmarks (github_collect.py, gitlab_collect.py) share: the fake served from a child
process, two timed runs (the first, then one with nothing new) with the fake's request log of each, the
figures against the targets, and the command line."""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import re
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.base import RunResult

TOKEN = "bench-token"


@dataclass
class Runs:
    first: RunResult
    second: RunResult
    wall: float
    wall2: float
    log: dict[str, Any]  # of the first run: the requests and the most in flight at once
    log2: list[tuple[str, int]]  # (path, status) of the second run's requests


def reset(url: str) -> dict[str, Any]:
    """The fake's request log since the last reset, emptied."""
    with urllib.request.urlopen(f"{url}/_fake/reset") as response:
        return json.loads(response.read())


def scope_of(pattern: str, path: str) -> str:
    """The repository or project a request path names (group 1 of `pattern`), else the path."""
    found = re.match(pattern, path)
    return found.group(1) if found else path


def pages(n: int, per_page: int = 100) -> int:
    return max(1, math.ceil(n / per_page))


def serve(fake: Callable[[dict[str, Any]], Any], args: dict[str, Any], queue: Any) -> None:
    """In the child process: start `fake(args)` (a started fake server) and hand its URL over."""
    queue.put(fake(args).url)
    while True:
        time.sleep(3600)


def collect_twice(
    fake: Callable[[dict[str, Any]], Any],
    args: dict[str, Any],
    collect: Callable[[str, Path], RunResult],
) -> Runs:
    """Serve `fake(args)` in a child process, so that serving does not compete with the collector for the
    GIL; `collect(url, warehouse)` twice into a fresh warehouse."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    server = context.Process(target=serve, args=(fake, args, queue), daemon=True)
    server.start()
    try:
        url = queue.get(timeout=300)
        warehouse = Path(tempfile.mkdtemp(prefix="dora-bench-")) / "w.duckdb"
        reset(url)
        started = time.monotonic()
        first = collect(url, warehouse)
        wall = time.monotonic() - started
        log = reset(url)
        started = time.monotonic()
        second = collect(url, warehouse)
        wall2 = time.monotonic() - started
        log2 = reset(url)["log"]
    finally:
        server.kill()
    return Runs(first, second, wall, wall2, log, log2)


def figures(runs: Runs, minimum: int, latency: float, workers: int) -> dict[str, Any]:
    """Requests and wall time of the first run against the minimum, and the second run's requests."""
    made = len(runs.log["log"])
    ideal = minimum * latency / workers
    return {
        "latency_s": latency,
        "workers": workers,
        "errors": {**runs.first.errors, **runs.second.errors},
        "requests": made,
        "requests_minimum": minimum,
        "requests_ratio": made / minimum,
        "wall_s": runs.wall,
        "wall_minimum_s": ideal,
        "wall_ratio": runs.wall / ideal,
        "max_in_flight": runs.log["max_in_flight"],
        "rows": sum(s.items for s in runs.first.stats.values()),
        "incremental_requests": len(runs.log2),
    }


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_lines(f: dict[str, Any], title: str, incremental: str) -> list[str]:
    """The report: `title`, the first run against its targets, the `incremental` line, rows and errors."""
    req, wall = f["requests_ratio"], f["wall_ratio"]
    return [
        f"{title}, {f['latency_s'] * 1000:.0f} ms latency, {f['workers']} workers",
        f"  requests     {f['requests']:>7} vs minimum {f['requests_minimum']:>7}: "
        f"{req:.3f}x (target <= 1.1x: {verdict(req <= 1.1)})",
        f"  wall time    {f['wall_s']:>7.1f} s vs minimum {f['wall_minimum_s']:>5.1f} s: "
        f"{wall:.2f}x (target <= 1.5x: {verdict(wall <= 1.5)}); "
        f"at most {f['max_in_flight']} requests in flight",
        incremental,
        f"  rows written {f['rows']}; errors: {f['errors'] or 'none'}",
    ]


def main_of(
    doc: str,
    scopes: str,
    items: str,
    run: Callable[[int, int, int, float, int], dict[str, Any]],
    report: Callable[[dict[str, Any]], str],
    argv: list[str] | None,
) -> dict[str, Any]:
    """The command line of a collector benchmark: `--<scopes>` of `--<items>` and `--deployments` each."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(f"--{scopes}", type=int, default=20)
    parser.add_argument(f"--{items}", type=int, default=500)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = run(getattr(args, scopes), getattr(args, items), args.deployments, args.latency, args.workers)
    print(json.dumps(result, indent=1) if args.json else report(result))
    return result
