"""`dora collect github --dry-run`: what would count as a production deployment, per repository, before
anything is written."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from collectors.base import parse_ts
from collectors.github import rows
from collectors.github.client import RESOURCES, RepoApi, Resource
from collectors.github.settings import GithubSettings, RepoSettings


def pages(http: RepoApi, resource: Resource) -> Iterator[list[dict[str, Any]]]:
    url: str | None = resource.path.format(repo=http.repo)
    query: dict[str, Any] | None = {**resource.params, "per_page": http.per_page}
    while url:
        response = http.get(url, f"{resource.entity} list", query)
        yield response.items(resource)
        url, query = response.next_url, None


def preview(http: RepoApi, settings: GithubSettings, repo: RepoSettings) -> dict[str, Any]:
    """What would count as production deployments in one repository under its deployments mode."""
    name = repo.repo
    meta = http.get(f"/repos/{name}", "repository").data or {}
    branch = repo.branch or meta.get("default_branch") or "main"
    mode = repo.deployments
    since = settings.since
    production = re.compile(settings.production_pattern)

    def listed(entity: str) -> Iterator[dict[str, Any]]:
        for items in pages(http, RESOURCES[entity]):
            yield from items

    def after(item: dict[str, Any], key: str) -> bool:
        return not since or (parse_ts(item.get(key)) or dt.datetime.max).date() >= since

    if mode == "deployments":
        envs: dict[tuple[str, bool], int] = {}
        for d in listed("deployments"):
            if after(d, "created_at"):
                env = str(d.get("environment") or "").strip().lower()
                key = (env, rows.in_production(production, env, d.get("production_environment")))
                envs[key] = envs.get(key, 0) + 1
        count = sum(n for (_, prod), n in envs.items() if prod)
        names = sorted({e for (e, prod) in envs if prod})
        others = ", ".join(f"{e}: {n}" for (e, prod), n in sorted(envs.items()) if not prod)
        detail = (
            f"{count} deployments to production ({', '.join(names) or 'none'}) would count once their "
            f"status is success; other environments: {others or 'none'}"
        )
    elif mode == "workflow-runs":
        pattern = re.compile(repo.workflow)
        files: dict[str, list[int]] = {}
        for run in listed("workflow_runs"):
            status = rows.run_status(run)
            workflow, file = run.get("name") or "", rows.workflow_file(run)
            if (
                after(run, "created_at")
                and status in ("success", "failure")
                and (pattern.search(workflow) or pattern.search(file))
                and rows.deploys(run, name, repo.deploy_events, branch)
            ):
                tally = files.setdefault(file or workflow, [0, 0])
                tally[status != "success"] += 1
        count = sum(ok for ok, _ in files.values())
        parts = [
            f"{ok + bad} runs of {f} ({ok} successful, {bad} failed)"
            for f, (ok, bad) in sorted(files.items())
        ]
        detail = (
            f"{'; '.join(parts) or 'no matching runs'} on branch {branch} (pushes, schedules) or any ref "
            "(manual dispatches, releases); successful ones would count"
        )
    elif mode == "releases":
        tag_re = re.compile(repo.tag_pattern) if repo.tag_pattern else None
        tags = [
            r.get("tag_name") or ""
            for r in listed("releases")
            if r.get("published_at")
            and not r.get("draft")
            and after(r, "published_at")
            and (repo.prereleases or not r.get("prerelease"))
            and (tag_re is None or tag_re.search(r.get("tag_name") or ""))
            and repo.tags.matches(str(r.get("tag_name") or ""))
        ]
        count = len(tags)
        detail = f"{count} published releases would count" + (f" (latest {tags[0]})" if tags else "")
    else:
        count = sum(
            1
            for pr in listed("pulls")
            if pr.get("merged_at") and (pr.get("base") or {}).get("ref") == branch and after(pr, "merged_at")
        )
        detail = f"{count} pull requests merged into {branch} would count"
    return {
        "repo": name,
        "mode": mode,
        "would_count": count,
        "detail": detail,
        "environment": None if mode == "deployments" else repo.environment,
    }
