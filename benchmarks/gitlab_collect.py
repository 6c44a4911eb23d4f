"""GitLab collector benchmark: the fake GitLab (tests/fake_gitlab.py) with latency on every request, in its
own process, serving requests concurrently; the real collector (python-gitlab) against it.

Figures, against the same targets as the GitHub collector's:
- requests made vs the REST minimum (list pages at 100 per page, the project, its environments and
  default branch, + one commits and one notes request per merged MR): target <= 1.1x;
- wall time vs that minimum spread over the workers (minimum requests x latency / workers): <= 1.5x;
- a second, incremental run with nothing new: <= 1 request per project and entity.

    python -m benchmarks.gitlab_collect                  # 20 projects x 500 MRs x 300 deployments, 50 ms
    python -m benchmarks.gitlab_collect --projects 4 --mrs 50 --deployments 30 --json
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import re
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

TOKEN = "bench-token"


def _serve(args: dict[str, Any], queue: Any) -> None:
    """The fake in a child process, so that serving does not compete with the collector for the GIL."""
    from tests.support.fake_gitlab import FakeGitLab, synthetic_project

    projects = [
        synthetic_project(f"acme/service-{i:02d}", 100 + i, args["mrs"], args["deployments"], seed=i + 1)
        for i in range(args["projects"])
    ]
    fake = FakeGitLab(projects, token=TOKEN, latency=args["latency"]).start()
    queue.put(fake.url)
    while True:
        time.sleep(3600)


def _reset(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_fake/reset") as response:
        return json.loads(response.read())


def minimum_requests(mrs: int, deployments: int, per_page: int = 100) -> int:
    """The REST minimum for one synthetic project (3 commits per MR plus the root; no incidents or
    pipelines, each an empty page)."""

    def pages(n: int) -> int:
        return max(1, math.ceil(n / per_page))

    fixed = 4  # the project, its environments, its default branch; the incidents and pipelines pages
    lists = pages(1 + 3 * mrs) + pages(mrs) + pages(deployments) + 1
    return fixed + lists + 2 * mrs


def entity(path: str) -> str:
    """The entity a request belongs to, for the per-project-and-entity count of the incremental run."""
    found = re.match(r"/api/v4/projects/[^/?]+(/[a-z_]+(?:/[a-z_]+)?)?", path)
    return (found.group(1) or "/project").strip("/") if found else path


def run(projects: int, mrs: int, deployments: int, latency: float, workers: int) -> dict[str, Any]:
    from collectors.gitlab import settings as gitlab_settings
    from collectors.gitlab.collector import collect, make_client
    from warehouse.sync import WarehouseSink

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    args = {"projects": projects, "mrs": mrs, "deployments": deployments, "latency": latency}
    server = context.Process(target=_serve, args=(args, queue), daemon=True)
    server.start()
    try:
        url = queue.get(timeout=300)
        names = [f"acme/service-{i:02d}" for i in range(projects)]
        settings = gitlab_settings.parse({"url": url, "projects": names, "workers": workers, "per_page": 100})
        warehouse = Path(tempfile.mkdtemp(prefix="dora-bench-")) / "w.duckdb"

        def client():
            return make_client(TOKEN, settings)

        _reset(url)
        started = time.monotonic()
        with WarehouseSink(warehouse, "gitlab") as sink:
            first = collect(client, settings, sink)
        wall = time.monotonic() - started
        log = _reset(url)
        made = len(log["log"])

        started = time.monotonic()
        with WarehouseSink(warehouse, "gitlab") as sink:
            second = collect(client, settings, sink)
        wall2 = time.monotonic() - started
        log2 = _reset(url)["log"]
    finally:
        server.kill()
    minimum = projects * minimum_requests(mrs, deployments)
    ideal = minimum * latency / workers
    per_entity = Counter((re.match(r"/api/v4/projects/([^/?]+)", p).group(1), entity(p)) for p, _ in log2)
    return {
        "projects": projects,
        "mrs_per_project": mrs,
        "deployments_per_project": deployments,
        "latency_s": latency,
        "workers": workers,
        "errors": {**first.errors, **second.errors},
        "requests": made,
        "requests_minimum": minimum,
        "requests_ratio": made / minimum,
        "wall_s": wall,
        "wall_minimum_s": ideal,
        "wall_ratio": wall / ideal,
        "max_in_flight": log["max_in_flight"],
        "rows": sum(s.items for s in first.stats.values()),
        "incremental_requests": len(log2),
        "incremental_max_per_project_entity": max(per_entity.values(), default=0),
        "incremental_wall_s": wall2,
    }


def report(figures: dict[str, Any]) -> str:
    f = figures

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    req, wall, inc = f["requests_ratio"], f["wall_ratio"], f["incremental_max_per_project_entity"]
    lines = [
        f"GitLab collect: {f['projects']} projects x {f['mrs_per_project']} merged MRs x "
        f"{f['deployments_per_project']} deployments, {f['latency_s'] * 1000:.0f} ms latency, "
        f"{f['workers']} workers",
        f"  requests     {f['requests']:>7} vs minimum {f['requests_minimum']:>7}: "
        f"{req:.3f}x (target <= 1.1x: {verdict(req <= 1.1)})",
        f"  wall time    {f['wall_s']:>7.1f} s vs minimum {f['wall_minimum_s']:>5.1f} s: "
        f"{wall:.2f}x (target <= 1.5x: {verdict(wall <= 1.5)}); "
        f"at most {f['max_in_flight']} requests in flight",
        f"  incremental  {f['incremental_requests']:>7} requests, at most {inc} per project and entity "
        f"(target <= 1: {verdict(inc <= 1)}), {f['incremental_wall_s']:.1f} s",
        f"  rows written {f['rows']}; errors: {f['errors'] or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--mrs", type=int, default=500)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.projects, args.mrs, args.deployments, args.latency, args.workers)
    print(json.dumps(figures, indent=1) if args.json else report(figures))
    return figures


if __name__ == "__main__":
    main()
