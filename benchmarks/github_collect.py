"""GitHub collector benchmark: the fake GitHub (tests/support/fake_github.py) with latency on every request,
in its own process, serving requests concurrently; the real collector (PyGithub) against it.

Figures, against issue 4's targets:
- requests made vs the REST minimum (list pages at 100 per page + one commits and one reviews request per
  PR + one statuses request per deployment): target <= 1.1x;
- wall time vs that minimum spread over the workers (minimum requests x latency / workers): <= 1.5x;
- a second, incremental run with nothing new: <= 3 requests or 304s per repo and entity.

    python -m benchmarks.github_collect                  # 20 repos x 500 PRs x 300 deployments, 50 ms
    python -m benchmarks.github_collect --repos 4 --prs 50 --deployments 30 --json
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import collect_common as common
from collectors.base import RunResult


def fake(args: dict[str, Any]) -> Any:
    from tests.support.fake_github import FakeGitHub
    from tests.support.github_payloads import synthetic_repo

    repos = [
        synthetic_repo(f"acme/service-{i:02d}", prs=args["prs"], deployments=args["deployments"], seed=i + 1)
        for i in range(args["repos"])
    ]
    # a budget the run cannot exhaust: real GitHub allows 5,000 requests an hour (15,000 for apps)
    return FakeGitHub(repos, token=common.TOKEN, latency=args["latency"], rate_limit=10**7).start()


def minimum_requests(prs: int, deployments: int) -> int:
    """The REST minimum for one synthetic repo (3 commits per PR plus the root; no issues, no runs)."""
    pages = common.pages
    lists = pages(1 + 3 * prs) + pages(prs) + pages(deployments) + pages(0) + pages(0)
    return lists + 2 * prs + deployments


def entity(path: str) -> str:
    """The entity a request belongs to, for the per-repo-and-entity count of the incremental run."""
    found = re.match(r"/repos/[^/]+/[^/?]+(/[a-z_]+(?:/runs)?)?", path)
    return (found.group(1) or "/repo").strip("/") if found else path


def run(repos: int, prs: int, deployments: int, latency: float, workers: int) -> dict[str, Any]:
    from collectors.github import settings as github_settings
    from collectors.github.client import make_client
    from collectors.github.collector import collect
    from warehouse.sync import WarehouseSink

    def collect_all(url: str, warehouse: Path) -> RunResult:
        names = [f"acme/service-{i:02d}" for i in range(repos)]
        settings = github_settings.parse(
            {"api_url": url, "repos": names, "workers": workers, "per_page": 100}
        )
        with WarehouseSink(warehouse, "github") as sink:
            return collect(lambda: make_client(common.TOKEN, settings), settings, sink)

    args = {"repos": repos, "prs": prs, "deployments": deployments, "latency": latency}
    runs = common.collect_twice(fake, args, collect_all)
    per_entity = Counter((common.scope_of(r"/repos/([^/]+/[^/?]+)", p), entity(p)) for p, _ in runs.log2)
    return {
        "repos": repos,
        "prs_per_repo": prs,
        "deployments_per_repo": deployments,
        **common.figures(runs, repos * minimum_requests(prs, deployments), latency, workers),
        "incremental_304": sum(1 for _, status in runs.log2 if status == 304),
        "incremental_max_per_repo_entity": max(per_entity.values(), default=0),
        "incremental_wall_s": runs.wall2,
    }


def report(f: dict[str, Any]) -> str:
    inc = f["incremental_max_per_repo_entity"]
    title = (
        f"GitHub collect: {f['repos']} repos x {f['prs_per_repo']} merged PRs x "
        f"{f['deployments_per_repo']} deployments"
    )
    incremental = (
        f"  incremental  {f['incremental_requests']:>7} requests ({f['incremental_304']} answered 304), "
        f"at most {inc} per repo and entity (target <= 3: {common.verdict(inc <= 3)}), "
        f"{f['incremental_wall_s']:.1f} s"
    )
    return "\n".join(common.report_lines(f, title, incremental))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return common.main_of(__doc__ or "", "repos", "prs", run, report, argv)


if __name__ == "__main__":
    main()
