"""GitLab collector (python-gitlab): projects -> raw payloads + canonical rows, incrementally, page by page.

Lists are walked newest-updated first with GitLab's `updated_after` filter, so an incremental run reads
only what changed, and a deployment or pipeline that finishes later is listed again when it does. Newest
first also means an item updated during a walk moves to pages already read: the walk may read an item
twice, never skip one. Commits come from the default branch as the range `old_head..branch`. Every page
becomes one `Batch` carrying the cursor that resumes after it: a run killed at any point redoes at most
one page.

The transport (python-gitlab, failures sorted and explained) is in client.py.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import gitlab

from collectors import runner
from collectors.base import CollectorError, MissingField, Progress, Run, RunResult, Stats, parse_ts, timestamp
from collectors.gitlab import rows
from collectors.gitlab.client import Api, group_projects, iso
from collectors.gitlab.settings import GitlabSettings, ProjectSettings, check_services
from warehouse.batch import Batch, Record, Sink

SOURCE = "gitlab"


class RangeGone(CollectorError):
    """The saved head of the default branch is gone (force push): the commits are listed again."""


def _shift(value: str, hours: float) -> str:
    return iso(timestamp(value) - dt.timedelta(hours=hours))


class ProjectCollector(runner.Scope):
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

    def since_iso(self) -> str | None:
        since = self.settings.since
        return f"{since.isoformat()}T00:00:00.000000Z" if since else None

    def walk(
        self, entity: str, path: str, params: dict[str, Any], what: str, start: str | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """Pages of items updated since the last run, newest first, with the cursor to save after each.

        GitLab's updated_after is inclusive: the items at the mark come again, and those the last run
        saw there (`mark_keys`) are dropped, so that a run with nothing new fetches no details.
        """
        state = self.cursor(entity)
        mark, mark_keys = state.get("mark"), set(state.get("mark_keys") or [])
        if state.get("resume"):
            url: str | None = state["resume"]
            query: dict[str, Any] | None = None
            top, top_keys = state.get("top"), state.get("top_keys") or []
        else:
            url = path
            query = {**params, "order_by": "updated_at", "sort": "desc", "per_page": self.settings.per_page}
            after = mark or start or self.since_iso()
            if after:
                query["updated_after"] = after
            top, top_keys = None, []
        while url:
            items, next_url = self.api.page(url, query, f"{self.name}: {what}")
            items = items or []
            if top is None:
                stamps = {str(i.get("id")): timestamp(i["updated_at"]) for i in items if i.get("updated_at")}
                newest = max(stamps.values(), default=None)
                top = iso(newest) if newest else mark
                top_keys = (
                    sorted(k for k, v in stamps.items() if v == newest) if newest else sorted(mark_keys)
                )
            at_mark = parse_ts(mark) if mark else None
            items = [
                i
                for i in items
                if not (
                    at_mark and parse_ts(i.get("updated_at")) == at_mark and str(i.get("id")) in mark_keys
                )
            ]
            if next_url:
                walking = {"mark": mark, "mark_keys": sorted(mark_keys), "resume": next_url}
                yield items, {**walking, "top": top, "top_keys": top_keys}
            else:
                yield items, {"mark": top, "mark_keys": top_keys, "resume": None}
            url, query = next_url, None

    def in_production(self, environment: str, tier: str | None) -> bool:
        if tier:
            return tier == "production"
        return bool(self.production.search(environment.strip().lower()))

    def run(self) -> None:
        self.meta()
        self.environments_list()
        self.deployments()
        if self.project.deploy_job:
            self.jobs()
        self.commits()
        self.merge_requests()
        if self.project.incidents:
            self.incidents()
        if self.project.pipelines:
            self.pipelines()

    def meta(self) -> None:
        data, _ = self.api.page(self.base, None, f"{self.name}: project")
        self.default_branch = data.get("default_branch") or "main"
        # the numeric id: shorter URLs, and it survives a rename of the project
        self.base = f"/projects/{data['id']}"
        batch = Batch(self.name, "project", rows={"services": [rows.service_row(self.project)]})
        batch.add_raw("projects", [Record(self.name, data)])
        batch.cursor = {"id": data["id"], "default_branch": self.default_branch}
        self.write(batch)

    def environments_list(self) -> None:
        self.environments = self.api.all(f"{self.base}/environments", None, f"{self.name}: environments")
        self.tiers = {e["id"]: e.get("tier") for e in self.environments if "id" in e}
        batch = Batch(self.name, "environments")
        batch.add_raw("environments", [Record(f"{self.name}:{e.get('id')}", e) for e in self.environments])
        self.write(batch)

    def deployments(self) -> None:
        if not self.cursor("deployments").get("mark") and self.settings.since:
            self.baselines()
        for items, cursor in self.walk("deployments", f"{self.base}/deployments", {}, "deployments"):
            batch = Batch(self.name, "deployments", cursor=cursor)
            batch.add_raw("deployments", [Record(f"{self.name}:{d.get('id')}", d) for d in items])
            for deployment in items:
                self.add_deployment(batch, "deployments", deployment)
            self.write(batch)

    def add_deployment(self, batch: Batch, entity: str, payload: dict[str, Any]) -> None:
        """The deployment row of a deployment (or of a deploy job), if finished; commits are fetched back
        to the oldest one."""
        try:
            if entity == "jobs":
                environment = self.project.environment
                row = rows.job_deployment_row(self.name, self.project.service, payload, environment)
            else:
                row = rows.deployment_row(self.name, self.project.service, payload, self.tiers)
        except MissingField as exc:
            self.quarantine(batch, entity, str(payload.get("id")), exc, payload)
            return
        if row:
            batch.add_rows("deployments", [row])
            self.note_baseline(row["finished_at"])

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
            for deployment in found or []:
                batch.add_raw("deployments", [Record(f"{self.name}:{deployment.get('id')}", deployment)])
                self.add_deployment(batch, "deployments", deployment)
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
        while url:
            items, next_url = self.api.page(url, query, f"{self.name}: jobs")
            items = items or []
            if top is None:
                seen = [timestamp(j["created_at"]) for j in items if j.get("created_at")]
                top = iso(max(seen)) if seen else mark
            batch = Batch(self.name, "jobs")
            reached = False
            for job in items:
                created = parse_ts(job.get("created_at"))
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
            self.write(batch)
            if last:
                return
            url, query = next_url, None

    def commits(self) -> None:
        state = self.cursor("commits")
        branch, _ = self.api.page(
            f"{self.base}/repository/branches/{quote(self.default_branch, safe='')}",
            None,
            f"{self.name}: branch {self.default_branch}",
        )
        head = (branch.get("commit") or {}).get("id")
        if not head or (state.get("head") == head and not state.get("resume")):
            return
        old = state.get("head")
        try:
            self._commit_pages(state, head, f"{old}..{head}" if old else head, old is None)
        except RangeGone:
            self.cursors["commits"] = {}
            self._commit_pages({}, head, head, True)

    def _commit_pages(self, state: dict[str, Any], head: str, ref: str, first: bool) -> None:
        if state.get("resume"):
            url: str | None = state["resume"]
            query: dict[str, Any] | None = None
            head = state.get("new_head") or head
        else:
            url = f"{self.base}/repository/commits"
            query = {"ref_name": ref, "per_page": self.settings.per_page}
            start = self._commit_since() if first else None
            if start:
                query["since"] = start
        old = state.get("head")
        while url:
            try:
                items, next_url = self.api.page(url, query, f"{self.name}: commits")
            except CollectorError as exc:
                if old and "(404)" in str(exc):
                    raise RangeGone(str(exc)) from None
                raise
            batch = Batch(self.name, "commits")
            batch.add_raw("commits", [Record(f"{self.name}:{c.get('id')}", c) for c in items or []])
            for commit in items or []:
                try:
                    batch.add_rows("commits", [rows.commit_row(self.name, commit)])
                except MissingField as exc:
                    self.quarantine(batch, "commits", str(commit.get("id")), exc, commit)
            batch.cursor = {"head": old, "new_head": head, "resume": next_url} if next_url else {"head": head}
            self.write(batch)
            url, query = next_url, None

    def _commit_since(self) -> str | None:
        if self.settings.since is None:
            return None
        start = dt.datetime.combine(self.settings.since, dt.time())
        if self.commits_since is not None:
            start = min(start, self.commits_since)
        # commits are authored before they are deployed: a margin so the baseline's own commit is there
        return iso(start - dt.timedelta(days=1))

    def merge_requests(self) -> None:
        params = {"state": "merged", "scope": "all"}
        # with --since, back as far as the commits: an MR merged before it may ship after it
        pages = self.walk(
            "merge_requests", f"{self.base}/merge_requests", params, "merge requests", self._commit_since()
        )
        for items, cursor in pages:
            batch = Batch(self.name, "merge_requests", cursor=cursor)
            batch.add_raw("merge_requests", [Record(f"{self.name}!{m.get('iid')}", m) for m in items])
            merged = [mr for mr in items if mr.get("merged_at")]
            for mr, (commits, notes) in zip(merged, self.details(merged), strict=True):
                iid = mr.get("iid")
                batch.add_raw("merge_request_commits", [Record(f"{self.name}!{iid}", commits)])
                batch.add_raw("merge_request_notes", [Record(f"{self.name}!{iid}", notes)])
                try:
                    row, links = rows.merge_request_rows(self.name, mr, commits, notes, self.bots)
                except MissingField as exc:
                    self.quarantine(batch, "merge_requests", str(iid), exc, mr)
                    continue
                batch.add_rows("pull_requests", [row])
                batch.add_rows("pull_request_commits", links)
            self.write(batch)

    def details(self, merged: list[dict[str, Any]]) -> list[tuple[list[Any], list[Any]]]:
        """The commits and notes of each MR: two requests per MR, the bulk of a run, so they go through
        the shared pool (when there is one) instead of one after the other."""

        def fetch(mr: dict[str, Any]) -> tuple[list[Any], list[Any]]:
            api = self.api_for() if self.api_for else self.api
            iid = mr.get("iid")
            what = f"{self.name}: merge request !{iid}"
            commits = api.all(f"{self.base}/merge_requests/{iid}/commits", None, what + " commits")
            order = {"sort": "asc", "order_by": "created_at"}
            return commits, api.all(f"{self.base}/merge_requests/{iid}/notes", order, what + " notes")

        if self.pool is None or len(merged) < 2:
            return [fetch(mr) for mr in merged]
        return list(self.pool.map(fetch, merged))

    def incidents(self) -> None:
        params = {"issue_type": "incident", "scope": "all"}
        for items, cursor in self.walk("issues", f"{self.base}/issues", params, "incidents"):
            batch = Batch(self.name, "issues", cursor=cursor)
            batch.add_raw("issues", [Record(f"{self.name}#{i.get('iid')}", i) for i in items])
            for issue in items:
                try:
                    batch.add_rows(
                        "incidents",
                        [rows.incident_row(self.name, self.project.service, issue, self.severity)],
                    )
                except MissingField as exc:
                    self.quarantine(batch, "issues", str(issue.get("iid")), exc, issue)
            self.write(batch)

    def pipelines(self) -> None:
        for items, cursor in self.walk("pipelines", f"{self.base}/pipelines", {}, "pipelines"):
            batch = Batch(self.name, "pipelines", cursor=cursor)
            batch.add_raw("pipelines", [Record(f"{self.name}:{p.get('id')}", p) for p in items])
            for pipeline in items:
                try:
                    row = rows.pipeline_run_row(self.name, self.project.service, pipeline)
                except MissingField as exc:
                    self.quarantine(batch, "pipelines", str(pipeline.get("id")), exc, pipeline)
                    continue
                if row:
                    batch.add_rows("pipeline_runs", [row])
            self.write(batch)

    def dry_run(self) -> dict[str, Any]:
        data, _ = self.api.page(self.base, None, f"{self.name}: project")
        self.base = f"/projects/{data['id']}"
        self.environments_list_only()
        query: dict[str, Any] = {"status": "success"}
        if self.settings.since:
            query["updated_after"] = self.since_iso()
        per_env: dict[str, int] = {}
        for deployment in self.api.all(f"{self.base}/deployments", query, f"{self.name}: deployments"):
            name = str((deployment.get("environment") or {}).get("name") or "").strip().lower()
            per_env[name] = per_env.get(name, 0) + 1
        tiers = {str(e.get("name") or "").strip().lower(): e.get("tier") for e in self.environments}
        production = {e: n for e, n in per_env.items() if self.in_production(e, tiers.get(e))}
        others = ", ".join(f"{e}: {n}" for e, n in sorted(per_env.items()) if e not in production)
        shown = ", ".join(f"{e} ({tiers.get(e) or 'by name'}): {n}" for e, n in sorted(production.items()))
        return {
            "project": self.name,
            "service": self.project.service,
            "would_count": sum(production.values()),
            "detail": f"successful deployments to production: {shown or 'none'}; other environments: "
            f"{others or 'none'}",
        }

    def environments_list_only(self) -> None:
        self.environments = self.api.all(f"{self.base}/environments", None, f"{self.name}: environments")


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
