"""GitLab collector benchmark: the fake GitLab (tests/support/fake_gitlab.py) with latency on every request,
in its own process, serving requests concurrently; the real collector (python-gitlab) against it.

Figures, against the same targets as the GitHub collector's:
- requests made vs the REST minimum (list pages at 100 per page, the project, its environments and
  default branch, + one commits and one notes request per merged MR): target <= 1.1x;
- wall time vs that minimum spread over the workers (minimum requests x latency / workers): <= 1.5x;
- a second, incremental run with nothing new: <= 1 request per project and entity.

    python -m benchmarks.gitlab_collect                  # 20 projects x 500 MRs x 300 deployments, 50 ms
    python -m benchmarks.gitlab_collect --projects 4 --mrs 50 --deployments 30 --json
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import collect_common as common
from collectors.base import RunResult


def fake(args: dict[str, Any]) -> Any:
    from tests.support.fake_gitlab import FakeGitLab, synthetic_project

    projects = [
        synthetic_project(f"acme/service-{i:02d}", 100 + i, args["mrs"], args["deployments"], seed=i + 1)
        for i in range(args["projects"])
    ]
    return FakeGitLab(projects, token=common.TOKEN, latency=args["latency"]).start()


def minimum_requests(mrs: int, deployments: int) -> int:
    """The REST minimum for one synthetic project (3 commits per MR plus the root; no incidents or
    pipelines, each an empty page)."""
    fixed = 4  # the project, its environments, its default branch; the incidents and pipelines pages
    pages = common.pages
    lists = pages(1 + 3 * mrs) + pages(mrs) + pages(deployments) + 1
    return fixed + lists + 2 * mrs


def entity(path: str) -> str:
    """The entity a request belongs to, for the per-project-and-entity count of the incremental run."""
    found = re.match(r"/api/v4/projects/[^/?]+(/[a-z_]+(?:/[a-z_]+)?)?", path)
    return (found.group(1) or "/project").strip("/") if found else path


def run(projects: int, mrs: int, deployments: int, latency: float, workers: int) -> dict[str, Any]:
    from collectors.gitlab import settings as gitlab_settings
    from collectors.gitlab.client import make_client
    from collectors.gitlab.collector import collect
    from warehouse.sync import WarehouseSink

    def collect_all(url: str, warehouse: Path) -> RunResult:
        names = [f"acme/service-{i:02d}" for i in range(projects)]
        settings = gitlab_settings.parse({"url": url, "projects": names, "workers": workers, "per_page": 100})
        with WarehouseSink(warehouse, "gitlab") as sink:
            return collect(lambda: make_client(common.TOKEN, settings), settings, sink)

    args = {"projects": projects, "mrs": mrs, "deployments": deployments, "latency": latency}
    runs = common.collect_twice(fake, args, collect_all)
    per_entity = Counter((common.scope_of(r"/api/v4/projects/([^/?]+)", p), entity(p)) for p, _ in runs.log2)
    return {
        "projects": projects,
        "mrs_per_project": mrs,
        "deployments_per_project": deployments,
        **common.figures(runs, projects * minimum_requests(mrs, deployments), latency, workers),
        "incremental_max_per_project_entity": max(per_entity.values(), default=0),
        "incremental_wall_s": runs.wall2,
    }


def report(f: dict[str, Any]) -> str:
    inc = f["incremental_max_per_project_entity"]
    title = (
        f"GitLab collect: {f['projects']} projects x {f['mrs_per_project']} merged MRs x "
        f"{f['deployments_per_project']} deployments"
    )
    incremental = (
        f"  incremental  {f['incremental_requests']:>7} requests, at most {inc} per project and entity "
        f"(target <= 1: {common.verdict(inc <= 1)}), {f['incremental_wall_s']:.1f} s"
    )
    return "\n".join(common.report_lines(f, title, incremental))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return common.main_of(__doc__ or "", "projects", "mrs", run, report, argv)


if __name__ == "__main__":
    main()
