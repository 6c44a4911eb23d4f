"""GitLab collector (python-gitlab): projects -> raw payloads + canonical rows, incrementally, page by page.

Lists are walked newest-updated first with GitLab's `updated_after` filter, so an incremental run reads
only what changed, and a deployment or pipeline that finishes later is listed again when it does. Newest
first also means an item updated during a walk moves to pages already read: the walk may read an item
twice, never skip one. Commits come from the default branch as the range `old_head..branch`, then from
the history of each deployed commit still unknown (commits.py); releases, when they are deployments, are
listed whole and reconciled (releases.py). Every page becomes one `Batch` carrying the cursor that resumes
after it: a run killed at any point redoes at most one page.

Each step (deployments, commits, MRs, ...) stands alone: an answer one endpoint gives that cannot be used
is reported for it and the others go on; an object that cannot be used is quarantined with its reason.
The transport (python-gitlab, failures sorted and explained) is in client.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import gitlab

from collectors import runner
from collectors.base import (
    CollectorError,
    MissingField,
    Progress,
    Run,
    RunResult,
    Stats,
    dig,
    parse_ts,
    timestamp,
)
from collectors.gitlab import rows
from collectors.gitlab.client import Api, BadAnswer, group_projects, iso
from collectors.gitlab.releases import ReleaseSteps
from collectors.gitlab.scope import key_of, when
from collectors.gitlab.settings import GitlabSettings, ProjectSettings, check_services
from warehouse.batch import Batch, Record, Sink

SOURCE = "gitlab"


def _shift(value: str, hours: float) -> str:
    return iso(timestamp(value) - dt.timedelta(hours=hours))


class ProjectCollector(ReleaseSteps):
    """Collects one project; runs in one worker thread with its own client."""

    def __init__(
        self,
        api: Api,
        settings: GitlabSettings,
        project: ProjectSettings,
        run: Run,
        pool: ThreadPoolExecutor | None = None,
        api_for: Callable[[], Api] | None = None,
    ) -> None:
        super().__init__(project.path, run, api.stats, settings.full)
        self.pool, self.api_for = pool, api_for
        self.api, self.settings, self.project = api, settings, project
        self.bots = re.compile(settings.bot_pattern)
        self.severity = re.compile(settings.severity_pattern)
        self.production = re.compile(settings.production_pattern)
        self.base = f"/projects/{quote(project.path, safe='')}"
        self.default_branch = "main"
        self.tiers: dict[int, str | None] = {}
        self.environments: list[dict[str, Any]] = []
        self.commits_since: dt.datetime | None = None
        self.deployed = {}
        self.unmatched: dict[str, int] = {}  # environments no service takes -> deployments

    def in_production(self, environment: str, tier: str | None) -> bool:
        if tier:
            return tier == "production"
        return bool(self.production.search(environment.strip().lower()))

    def run(self) -> None:
        """Each step on its own: an answer one endpoint gives that cannot be used is reported, and the
        other steps go on; the project then fails with every such answer named."""
        self.meta()
        steps = [self.environments_list, self.deployments]
        steps += [self.jobs] if self.project.deploy_job else []
        steps += [self.releases]
        steps += [self.commits, self.deployed_history, self.merge_requests]
        steps += [self.incidents] if self.project.incidents else []
        steps += [self.pipelines] if self.project.pipelines else []
        unusable = []
        for step in steps:
            try:
                step()
            except BadAnswer as exc:
                unusable.append(str(exc))
        for environment, count in sorted(self.unmatched.items()):
            self.stats.warnings.append(
                f"{self.name}: {count} deployments to {environment!r} match no service's environment: not "
                "counted (services = [...] in dora.toml)"
            )
        if unusable:
            raise CollectorError("; ".join(unusable) + " (what the other endpoints gave is saved)")

    def meta(self) -> None:
        data = self.api.one(self.base, f"{self.name}: project")
        ident = data.get("id")
        if not isinstance(ident, int):
            raise BadAnswer(f"{self.name}: project: unusable answer from GitLab: no numeric id")
        branch = data.get("default_branch")
        self.default_branch = branch if isinstance(branch, str) and branch else "main"
        # the numeric id: shorter URLs, and it survives a rename of the project
        self.base = f"/projects/{ident}"
        batch = Batch(self.name, "project", rows={"services": rows.service_rows(self.project)})
        batch.add_raw("projects", [Record(self.name, data)])
        batch.cursor = {"id": ident, "default_branch": self.default_branch}
        self.write(batch)

    def environments_list(self, write: bool = True) -> None:
        listed = self.api.all(f"{self.base}/environments", None, f"{self.name}: environments")
        self.environments = [e for e in listed if isinstance(e, dict)]
        self.tiers = {e["id"]: e.get("tier") for e in self.environments if isinstance(e.get("id"), int)}
        if not write:
            return
        batch = Batch(self.name, "environments")
        batch.add_raw("environments", [Record(f"{self.name}:{e.get('id')}", e) for e in self.environments])
        self.write(batch)

    def deployments(self) -> None:
        if not self.cursor("deployments").get("mark") and self.settings.since:
            self.baselines()
        unchecked = list(self.cursor("deployments").get("unchecked") or [])
        for items, cursor in self.walk("deployments", f"{self.base}/deployments", {}, "deployments"):
            batch = Batch(self.name, "deployments")
            batch.add_raw("deployments", [Record(f"{self.name}:{d.get('id')}", d) for d in objects(items)])
            for deployment in items:
                self.add_deployment(batch, "deployments", deployment)
            batch.cursor = {**cursor, "unchecked": self.unchecked(unchecked, batch)}
            self.write(batch)

    def unchecked(self, before: list[str], batch: Batch) -> list[str]:
        """The deployed commits whose history is still to be looked at (deployed_history), saved in the
        cursor of the deployments that name them: a run killed before it looks at them does it next time."""
        before += [row["commit_sha"] for row in batch.rows.get("deployments", [])]
        return list(dict.fromkeys(before))

    def add_deployment(self, batch: Batch, entity: str, payload: Any) -> None:
        """The deployment row of a deployment (or of a deploy job), if finished, to the service whose
        environment matches; commits are fetched back to the oldest one."""

        def make(item: dict[str, Any]) -> dict[str, Any] | None:
            if entity == "jobs":
                environment = self.project.environment
                row = rows.job_deployment_row(self.name, self.project.service, item, environment)
            else:
                row = rows.deployment_row(self.name, self.project.service, item, self.tiers)
            if row is None:
                return None
            rule = self.project.service_for(row["environment"])
            if rule is None:
                self.unmatched[row["environment"]] = self.unmatched.get(row["environment"], 0) + 1
                return None
            return {**row, "service": rule.name}

        key = key_of(payload, "id")
        row = self.guarded(batch, entity, key, payload, make)
        if row:
            batch.add_rows("deployments", [row])
            self.note_baseline(row["finished_at"])
            self.deployed.setdefault(row["commit_sha"], row["finished_at"])

    def deployed_history(self) -> None:
        """The history of the deployed commits still unknown (commits.py), oldest deployment first; then
        the cursors forget them."""
        names = [e for e in ("deployments", "jobs", "releases") if self.cursor(e).get("unchecked")]
        saved = [sha for e in names for sha in self.cursor(e)["unchecked"]]
        order = sorted(self.deployed, key=lambda sha: self.deployed[sha])
        self.history(list(dict.fromkeys(saved + order)))
        for entity in names:
            self.write(Batch(self.name, entity, cursor={**self.cursor(entity), "unchecked": []}))

    def note_baseline(self, finished: dt.datetime | None) -> None:
        """Commits are fetched back to the oldest deployment seen, so that its own commit is there."""
        if finished is not None and (self.commits_since is None or finished < self.commits_since):
            self.commits_since = finished

    def baselines(self) -> None:
        """With --since, the last successful deployment before it to each production environment: the
        baseline (docs/metrics.md), without which the first deployment after --since would be it."""
        batch = Batch(self.name, "deployments")
        for environment in self.environments:
            name = environment.get("name") or ""
            if not self.in_production(name, environment.get("tier")):
                continue
            query = {
                "environment": name,
                "status": "success",
                "updated_before": self.since_iso(),
                "order_by": "updated_at",
                "sort": "desc",
                "per_page": 1,
            }
            found, _ = self.api.page(f"{self.base}/deployments", query, f"{self.name}: deployments")
            for deployment in found:
                if isinstance(deployment, dict):
                    batch.add_raw("deployments", [Record(f"{self.name}:{deployment.get('id')}", deployment)])
                self.add_deployment(batch, "deployments", deployment)
        # their commits' history too (the cursor of the walk that follows keeps them)
        before = list(self.cursor("deployments").get("unchecked") or [])
        batch.cursor = {**self.cursor("deployments"), "unchecked": self.unchecked(before, batch)}
        self.write(batch)

    def jobs(self) -> None:
        """Finished jobs named like `deploy_job` on the default branch, as deployments (keyset pages).

        Jobs are listed by id, newest first, and only once finished: a long job finishes after newer
        ones, so the walk goes `jobs_lookback_hours` past the newest job of the last run.
        """
        state = self.cursor("jobs")
        pattern = re.compile(self.project.deploy_job or "")
        mark = state.get("mark")
        stop_at = parse_ts(_shift(mark, self.settings.jobs_lookback_hours)) if mark else None
        since = (
            dt.datetime.combine(self.settings.since, dt.time()) if self.settings.since and not mark else None
        )
        if state.get("resume"):
            url: str | None = state["resume"]
            query: dict[str, Any] | None = None
            top = state.get("top")
        else:
            url, top = f"{self.base}/jobs", None
            query = {
                "scope[]": ["success", "failed"],
                "pagination": "keyset",
                "order_by": "id",
                "sort": "desc",
                "per_page": self.settings.per_page,
            }
        unchecked = list(state.get("unchecked") or [])
        while url:
            items, next_url = self.api.page(url, query, f"{self.name}: jobs")
            if top is None:
                seen = [t for t in (when(j, "created_at") for j in items) if t is not None]
                top = iso(max(seen)) if seen else mark
            batch = Batch(self.name, "jobs")
            reached = False
            for job in items:
                if not isinstance(job, dict):
                    self.add_deployment(batch, "jobs", job)  # quarantined: not an object
                    continue
                created = when(job, "created_at")
                if created is not None and ((stop_at and created < stop_at) or (since and created < since)):
                    reached = True
                    break
                if not pattern.search(job.get("name") or "") or job.get("ref") != self.default_branch:
                    continue
                batch.add_raw("jobs", [Record(f"{self.name}:{job.get('id')}", job)])
                self.add_deployment(batch, "jobs", job)
            last = reached or not next_url
            batch.cursor = (
                {"mark": top, "resume": None} if last else {"mark": mark, "resume": next_url, "top": top}
            )
            batch.cursor["unchecked"] = unchecked = self.unchecked(unchecked, batch)
            self.write(batch)
            if last:
                return
            url, query = next_url, None

    def merge_requests(self) -> None:
        params = {"state": "merged", "scope": "all"}
        # with --since, back as far as the commits: an MR merged before it may ship after it
        pages = self.walk(
            "merge_requests", f"{self.base}/merge_requests", params, "merge requests", self._commit_since()
        )
        for items, cursor in pages:
            batch = Batch(self.name, "merge_requests", cursor=cursor)
            mrs = objects(items)
            batch.add_raw("merge_requests", [Record(f"{self.name}!{m.get('iid')}", m) for m in mrs])
            for item in items:
                if not isinstance(item, dict):
                    self.guarded(batch, "merge_requests", key_of(item, "iid"), item, dict)
            merged = [mr for mr in mrs if mr.get("merged_at")]
            for mr, details in zip(merged, self.details(merged), strict=True):
                iid = str(mr.get("iid"))
                if isinstance(details, BadAnswer):
                    self.quarantine(batch, "merge_requests", iid, MissingField(str(details)), mr)
                    continue
                commits, notes = details
                batch.add_raw("merge_request_commits", [Record(f"{self.name}!{iid}", commits)])
                batch.add_raw("merge_request_notes", [Record(f"{self.name}!{iid}", notes)])
                made = self.guarded(batch, "merge_requests", iid, mr, self.mr_rows(commits, notes))
                if made is not None:
                    batch.add_rows("pull_requests", [made[0]])
                    batch.add_rows("pull_request_commits", made[1])
            self.write(batch)

    def mr_rows(self, commits: list[Any], notes: list[Any]) -> Callable[[dict[str, Any]], Any]:
        return lambda mr: rows.merge_request_rows(self.name, mr, commits, notes, self.bots)

    def details(self, merged: list[dict[str, Any]]) -> list[tuple[list[Any], list[Any]] | BadAnswer]:
        """The commits and notes of each MR: two requests per MR, the bulk of a run, so they go through
        the shared pool (when there is one) instead of one after the other. An MR whose details cannot be
        used is quarantined with the reason."""

        def fetch(mr: dict[str, Any]) -> tuple[list[Any], list[Any]] | BadAnswer:
            api = self.api_for() if self.api_for else self.api
            iid = mr.get("iid")
            what = f"{self.name}: merge request !{iid}"
            try:
                commits = api.all(f"{self.base}/merge_requests/{iid}/commits", None, what + " commits")
                order = {"sort": "asc", "order_by": "created_at"}
                return commits, api.all(f"{self.base}/merge_requests/{iid}/notes", order, what + " notes")
            except BadAnswer as exc:
                return exc

        if self.pool is None or len(merged) < 2:
            return [fetch(mr) for mr in merged]
        return list(self.pool.map(fetch, merged))

    def incidents(self) -> None:
        params = {"issue_type": "incident", "scope": "all"}
        for items, cursor in self.walk("issues", f"{self.base}/issues", params, "incidents"):
            batch = Batch(self.name, "issues", cursor=cursor)
            batch.add_raw("issues", [Record(f"{self.name}#{i.get('iid')}", i) for i in objects(items)])
            for issue in items:
                key = key_of(issue, "iid")
                row = self.guarded(
                    batch,
                    "issues",
                    key,
                    issue,
                    lambda i: rows.incident_row(self.name, self.project.service, i, self.severity),
                )
                if row is not None:
                    batch.add_rows("incidents", [row])
            self.write(batch)

    def pipelines(self) -> None:
        for items, cursor in self.walk("pipelines", f"{self.base}/pipelines", {}, "pipelines"):
            batch = Batch(self.name, "pipelines", cursor=cursor)
            batch.add_raw("pipelines", [Record(f"{self.name}:{p.get('id')}", p) for p in objects(items)])
            for pipeline in items:
                key = key_of(pipeline, "id")
                row = self.guarded(
                    batch,
                    "pipelines",
                    key,
                    pipeline,
                    lambda p: rows.pipeline_run_row(self.name, self.project.service, p),
                )
                if row:
                    batch.add_rows("pipeline_runs", [row])
            self.write(batch)

    def dry_run(self) -> dict[str, Any]:
        data = self.api.one(self.base, f"{self.name}: project")
        self.base = f"/projects/{data.get('id')}"
        self.environments_list(write=False)
        query: dict[str, Any] = {"status": "success"}
        if self.settings.since:
            query["updated_after"] = self.since_iso()
        per_env: dict[str, int] = {}
        for deployment in objects(
            self.api.all(f"{self.base}/deployments", query, f"{self.name}: deployments")
        ):
            name = str(dig(deployment, "environment.name") or "").strip().lower()
            per_env[name] = per_env.get(name, 0) + 1
        tiers = {str(e.get("name") or "").strip().lower(): e.get("tier") for e in self.environments}
        production = {e: n for e, n in per_env.items() if self.in_production(e, tiers.get(e))}
        others = ", ".join(f"{e}: {n}" for e, n in sorted(per_env.items()) if e not in production)
        shown = ", ".join(f"{e} ({tiers.get(e) or 'by name'}): {n}" for e, n in sorted(production.items()))
        detail = (
            f"successful deployments to production: {shown or 'none'}; other environments: {others or 'none'}"
        )
        count = sum(production.values())
        if self.project.releases:
            listed = objects(self.api.all(f"{self.base}/releases", None, f"{self.name}: releases"))
            tags = [str(r.get("tag_name")) for r in listed if not r.get("upcoming_release")]
            chosen = sum(1 for tag in tags if self.project.tags.matches(tag))
            count += chosen if self.in_production(self.project.environment, None) else 0
            detail += f"; releases: {chosen} of {len(tags)} selected ({self.project.tags.describe()})"
        return {"project": self.name, "service": self.project.service, "would_count": count, "detail": detail}


def objects(items: list[Any]) -> list[dict[str, Any]]:
    """The items of a list that are objects (the others are quarantined where rows are made)."""
    return [item for item in items if isinstance(item, dict)]


class GitlabCollector:
    """The projects of the settings (and of `group`) on the runner; each worker thread has its own
    python-gitlab client. A project's merge request details go to `details`, a second pool."""

    source = SOURCE
    max_rate_limit_wait: float | None = None  # python-gitlab waits out 429s itself

    def __init__(
        self,
        make_client: Callable[[], gitlab.Gitlab],
        settings: GitlabSettings,
        details: ThreadPoolExecutor | None = None,
    ) -> None:
        self.clients = runner.PerThread(make_client)
        self.settings, self.details = settings, details
        self.workers = settings.workers
        self.projects: dict[str, ProjectSettings] = {}

    def api(self, stats: Stats) -> Api:
        return Api(self.clients.get(), self.settings, stats)

    def scopes(self, run: Run) -> list[str]:
        group, per_page = self.settings.group, self.settings.per_page
        names = runner.scope_names(
            [p.path for p in self.settings.projects],
            (lambda: group_projects(self.api(run.setup), group, per_page)) if group else None,
            "no projects: give --project GROUP/NAME or --group GROUP, or projects in dora.toml [gitlab]",
        )
        self.settings = self.settings.with_projects(names)
        runner.checked(lambda: check_services(self.settings.projects))
        self.projects = {p.path: p for p in self.settings.projects}
        return list(self.projects)

    def collect(self, scope: str, run: Run, stats: Stats) -> None:
        project = self.projects[scope]
        ProjectCollector(
            self.api(stats), self.settings, project, run, self.details, lambda: self.api(stats)
        ).run()

    def preview(self, scope: str, run: Run) -> dict[str, Any]:
        return ProjectCollector(self.api(run.setup), self.settings, self.projects[scope], run).dry_run()


def collect(
    make_client: Callable[[], gitlab.Gitlab],
    settings: GitlabSettings,
    sink: Sink,
    progress: Progress | None = None,
) -> RunResult:
    """Collect every project, `settings.workers` at a time (collectors/runner.py)."""
    # MR details go to a second pool of the same size: a project's MRs are fetched concurrently too,
    # and in flight there are at most twice `workers` requests
    with ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="gitlab-mr") as details:
        return runner.run(GitlabCollector(make_client, settings, details), sink, progress)


def dry_run(make_client: Callable[[], gitlab.Gitlab], settings: GitlabSettings) -> list[dict[str, Any]]:
    """What would count as a production deployment per project, before anything is written."""
    return runner.dry_run(GitlabCollector(make_client, settings))
