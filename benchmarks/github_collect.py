"""GitHub collector benchmark: the fake GitHub (tests/fakes.py) with latency on every request, in its own
process, serving requests concurrently; the real collector (PyGithub) against it.

Figures, against issue 4's targets:
- requests made vs the REST minimum (list pages at 100 per page + one commits and one reviews request per
  PR + one statuses request per deployment): target <= 1.1x;
- wall time vs that minimum spread over the workers (minimum requests x latency / workers): <= 1.5x;
- a second, incremental run with nothing new: <= 3 requests or 304s per repo and entity.

    python -m benchmarks.github_collect                  # 20 repos x 500 PRs x 300 deployments, 50 ms
    python -m benchmarks.github_collect --repos 4 --prs 50 --deployments 30 --json
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
    from tests.support.fake_github import FakeGitHub, synthetic_repo

    repos = [
        synthetic_repo(f"acme/service-{i:02d}", prs=args["prs"], deployments=args["deployments"], seed=i + 1)
        for i in range(args["repos"])
    ]
    # a budget the run cannot exhaust: real GitHub allows 5,000 requests an hour (15,000 for apps)
    fake = FakeGitHub(repos, token=TOKEN, latency=args["latency"], rate_limit=10**7).start()
    queue.put(fake.url)
    while True:
        time.sleep(3600)


def _fake(url: str, what: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_fake/{what}") as response:
        return json.loads(response.read())


def minimum_requests(prs: int, deployments: int, per_page: int = 100) -> int:
    """The REST minimum for one synthetic repo (3 commits per PR plus the root; no issues, no runs)."""

    def pages(n: int) -> int:
        return max(1, math.ceil(n / per_page))

    lists = pages(1 + 3 * prs) + pages(prs) + pages(deployments) + pages(0) + pages(0)
    return lists + 2 * prs + deployments


def entity(path: str) -> str:
    """The entity a request belongs to, for the per-repo-and-entity count of the incremental run."""
    found = re.match(r"/repos/[^/]+/[^/?]+(/[a-z_]+(?:/runs)?)?", path)
    return (found.group(1) or "/repo").strip("/") if found else path


def run(repos: int, prs: int, deployments: int, latency: float, workers: int) -> dict[str, Any]:
    from collectors.github import settings as github_settings
    from collectors.github.client import make_client
    from collectors.github.run import collect
    from warehouse.sync import WarehouseSink

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    server = context.Process(
        target=_serve,
        args=({"repos": repos, "prs": prs, "deployments": deployments, "latency": latency}, queue),
        daemon=True,
    )
    server.start()
    try:
        url = queue.get(timeout=300)
        names = [f"acme/service-{i:02d}" for i in range(repos)]
        settings = github_settings.parse(
            {"api_url": url, "repos": names, "workers": workers, "per_page": 100}
        )
        warehouse = Path(tempfile.mkdtemp(prefix="dora-bench-")) / "w.duckdb"

        def client():
            return make_client(TOKEN, settings)

        _fake(url, "reset")
        started = time.monotonic()
        with WarehouseSink(warehouse, "github") as sink:
            first = collect(client, settings, sink)
        wall = time.monotonic() - started
        log = _fake(url, "reset")
        made = len(log["log"])

        started = time.monotonic()
        with WarehouseSink(warehouse, "github") as sink:
            second = collect(client, settings, sink)
        wall2 = time.monotonic() - started
        log2 = _fake(url, "reset")["log"]
    finally:
        server.kill()
    minimum = repos * minimum_requests(prs, deployments)
    ideal = minimum * latency / workers
    per_entity = Counter((re.match(r"/repos/([^/]+/[^/?]+)", p).group(1), entity(p)) for p, _ in log2)
    return {
        "repos": repos,
        "prs_per_repo": prs,
        "deployments_per_repo": deployments,
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
        "incremental_304": sum(1 for _, status in log2 if status == 304),
        "incremental_max_per_repo_entity": max(per_entity.values(), default=0),
        "incremental_wall_s": wall2,
    }


def report(figures: dict[str, Any]) -> str:
    f = figures

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    req, wall, inc = f["requests_ratio"], f["wall_ratio"], f["incremental_max_per_repo_entity"]
    lines = [
        f"GitHub collect: {f['repos']} repos x {f['prs_per_repo']} merged PRs x "
        f"{f['deployments_per_repo']} deployments, {f['latency_s'] * 1000:.0f} ms latency, "
        f"{f['workers']} workers",
        f"  requests     {f['requests']:>7} vs minimum {f['requests_minimum']:>7}: "
        f"{req:.3f}x (target <= 1.1x: {verdict(req <= 1.1)})",
        f"  wall time    {f['wall_s']:>7.1f} s vs minimum {f['wall_minimum_s']:>5.1f} s: "
        f"{wall:.2f}x (target <= 1.5x: {verdict(wall <= 1.5)}); "
        f"at most {f['max_in_flight']} requests in flight",
        f"  incremental  {f['incremental_requests']:>7} requests ({f['incremental_304']} answered 304), "
        f"at most {inc} per repo and entity (target <= 3: {verdict(inc <= 3)}), "
        f"{f['incremental_wall_s']:.1f} s",
        f"  rows written {f['rows']}; errors: {f['errors'] or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--prs", type=int, default=500)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.repos, args.prs, args.deployments, args.latency, args.workers)
    print(json.dumps(figures, indent=1) if args.json else report(figures))
    return figures


if __name__ == "__main__":
    main()
