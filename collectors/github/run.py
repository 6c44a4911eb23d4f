"""The whole GitHub run: repositories collected concurrently with one shared rate budget, and --dry-run.

collectors/github.py fetches one repository; this module decides which repositories, runs them on
`settings.workers` threads (each with its own PyGithub client: its connection object is not thread-safe)
and sorts their failures.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from github import Github

from collectors.base import CollectorError, NoProgress, Progress, RateBudget, Stats, parse_ts
from collectors.github import rows
from collectors.github.client import Api, ApiError, Cancelled, fatal_message
from collectors.github.collector import RESOURCES, SOURCE, RepoCollector, Resource
from collectors.github.settings import GithubSettings, RepoSettings, check_services
from warehouse.batch import Batch, CommitInfo, Sink

__all__ = ["SOURCE", "CollectorError", "RunResult", "collect", "dry_run"]


@dataclass
class RunResult:
    stats: dict[str, Stats]
    errors: dict[str, str]
    budget: RateBudget
    seconds: float


def org_repos(api: Api, org: str) -> list[str]:
    names: list[str] = []
    url: str | None = f"/orgs/{org}/repos"
    query: dict[str, Any] | None = {"per_page": 100, "type": "all"}
    while url:
        try:
            response = api.get(url, query)
        except ApiError as exc:
            raise CollectorError(fatal_message(exc, org, "organization")) from None
        names += [r["full_name"] for r in response.data or [] if not r.get("archived")]
        url, query = response.next_url, None
    return names


def resolve_repos(settings: GithubSettings, api: Api) -> GithubSettings:
    names = [r.repo for r in settings.repos]
    if settings.org:
        names += [n for n in org_repos(api, settings.org) if n.lower() not in {x.lower() for x in names}]
    if not names:
        raise CollectorError(
            "no repositories: give --repo OWNER/NAME or --org ORG, or repos in dora.toml [github]"
        )
    resolved = settings.with_repos(names)
    try:
        check_services(resolved.repos)
    except Exception as exc:
        raise CollectorError(str(exc)) from None
    return resolved


def collect(
    make_client: Callable[[], Github],
    settings: GithubSettings,
    sink: Sink,
    progress: Progress | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Collect every repo, `settings.workers` at a time; one repo's failure does not stop the others,
    except a rejected token, which stops them all."""
    started = time.monotonic()
    progress = progress or NoProgress()
    budget = RateBudget(reserve=settings.workers, max_wait=settings.max_rate_limit_wait)
    cancel = threading.Event()
    local = threading.local()

    def api_for(stats: Stats) -> Api:
        if not hasattr(local, "client"):
            local.client = make_client()
        return Api(
            local.client,
            budget,
            stats,
            cancel,
            attempts=4,
            secondary_wait=settings.secondary_rate_wait,
            sleep=sleep,
        )

    setup = Stats()
    settings = resolve_repos(settings, api_for(setup))
    stats = {r.repo: Stats() for r in settings.repos}
    errors: dict[str, str] = {}

    def one(repo: RepoSettings) -> None:
        s = stats[repo.repo]
        s.started = time.monotonic()
        try:
            RepoCollector(api_for(s), settings, repo, sink, progress).run()
        finally:
            s.finished = time.monotonic()

    with ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="github") as pool:
        futures = {pool.submit(one, repo): repo.repo for repo in settings.repos}
        for future in as_completed(futures):
            name = futures[future]
            try:
                future.result()
                progress.finish(name, True)
            except Cancelled:
                errors[name] = "cancelled: another repository's failure stops the run"
                progress.finish(name, False)
            except CollectorError as exc:
                errors[name] = str(exc)
                progress.finish(name, False)
                if "GITHUB_TOKEN was rejected" in str(exc):
                    cancel.set()
    if setup.requests:
        stats.setdefault("(setup)", setup)
    return RunResult(stats, errors, budget, time.monotonic() - started)


# --- --dry-run: what would count as a production deployment, nothing written ----------------------


def pages(
    self: RepoCollector, resource: Resource, params: dict[str, Any] | None = None
) -> Iterator[list[dict[str, Any]]]:
    url: str | None = resource.path.format(repo=self.name)
    query: dict[str, Any] | None = {
        **resource.params,
        "per_page": self.settings.per_page,
        **(params or {}),
    }
    while url:
        response = self.get(url, f"{resource.entity} list", query)
        data = response.data or ([] if resource.items is None else {})
        yield data.get(resource.items, []) if resource.items else data
        url, query = response.next_url, None


def repo_dry_run(self: RepoCollector) -> dict[str, Any]:
    meta = self.get(f"/repos/{self.name}", "repository").data or {}
    self.default_branch = meta.get("default_branch") or "main"
    branch = self.repo.branch or self.default_branch
    mode = self.repo.deployments
    since = self.settings.since

    def after(item: dict[str, Any], key: str) -> bool:
        return not since or (parse_ts(item.get(key)) or dt.datetime.max).date() >= since

    if mode == "deployments":
        envs: dict[tuple[str, bool], int] = {}
        for items in pages(self, RESOURCES["deployments"]):
            for d in items:
                if after(d, "created_at"):
                    env = str(d.get("environment") or "").strip().lower()
                    key = (env, self.in_production(env, d.get("production_environment")))
                    envs[key] = envs.get(key, 0) + 1
        count = sum(n for (_, prod), n in envs.items() if prod)
        names = sorted({e for (e, prod) in envs if prod})
        others = ", ".join(f"{e}: {n}" for (e, prod), n in sorted(envs.items()) if not prod)
        detail = (
            f"{count} deployments to production ({', '.join(names) or 'none'}) would count once their "
            f"status is success; other environments: {others or 'none'}"
        )
    elif mode == "workflow-runs":
        pattern = re.compile(self.repo.workflow)
        files: dict[str, list[int]] = {}
        for items in pages(self, RESOURCES["workflow_runs"]):
            for run in items:
                status = rows.run_status(run)
                name, file = run.get("name") or "", rows.workflow_file(run)
                if (
                    after(run, "created_at")
                    and status in ("success", "failure")
                    and (pattern.search(name) or pattern.search(file))
                    and run.get("head_branch") == branch
                ):
                    tally = files.setdefault(file or name, [0, 0])
                    tally[status != "success"] += 1
        count = sum(ok for ok, _ in files.values())
        parts = [
            f"{ok + bad} runs of {f} ({ok} successful, {bad} failed)"
            for f, (ok, bad) in sorted(files.items())
        ]
        detail = f"{'; '.join(parts) or 'no matching runs'} on branch {branch}; successful ones would count"
    elif mode == "releases":
        tag_re = re.compile(self.repo.tag_pattern) if self.repo.tag_pattern else None
        tags = [
            r.get("tag_name") or ""
            for items in pages(self, RESOURCES["releases"])
            for r in items
            if r.get("published_at")
            and not r.get("draft")
            and after(r, "published_at")
            and (self.repo.prereleases or not r.get("prerelease"))
            and (tag_re is None or tag_re.search(r.get("tag_name") or ""))
        ]
        count = len(tags)
        detail = f"{count} published releases would count" + (f" (latest {tags[0]})" if tags else "")
    else:
        count = sum(
            1
            for items in pages(self, RESOURCES["pulls"])
            for pr in items
            if pr.get("merged_at") and (pr.get("base") or {}).get("ref") == branch and after(pr, "merged_at")
        )
        detail = f"{count} pull requests merged into {branch} would count"
    return {
        "repo": self.name,
        "mode": mode,
        "would_count": count,
        "detail": detail,
        "environment": None if mode == "deployments" else self.repo.environment,
    }


class _NoSink:
    def write(self, batch: Batch) -> None:
        raise AssertionError("a dry run writes nothing")

    def cursor(self, scope: str, entity: str) -> None:
        return None

    def commits(self, repo: str, shas: Any) -> dict[str, CommitInfo]:
        return {}


def dry_run(make_client: Callable[[], Github], settings: GithubSettings) -> list[dict[str, Any]]:
    """What would count as a production deployment per repo, before anything is written."""
    api = Api(
        make_client(),
        RateBudget(max_wait=settings.max_rate_limit_wait),
        Stats(),
        secondary_wait=settings.secondary_rate_wait,
    )
    settings = resolve_repos(settings, api)
    return [
        repo_dry_run(RepoCollector(api, settings, repo, _NoSink(), NoProgress())) for repo in settings.repos
    ]
