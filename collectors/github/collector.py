"""GitHub collector: repos -> raw payloads + canonical rows, incrementally, page by page.

Each list is declared as a `Resource` in client.py and walked newest first from its cursor. Every page
becomes one `Batch` carrying the cursor that resumes after it: a run killed at any point redoes at most
one page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from github import Github

from collectors import runner
from collectors.base import CollectorError, MissingField, Progress, Run, RunResult, Stats, parse_ts
from collectors.github import rows
from collectors.github.client import RESOURCES, Api, ApiError, RepoApi, fatal, org_repos
from collectors.github.clone import clone_commits, clone_url
from collectors.github.preview import preview
from collectors.github.settings import GithubSettings, RepoSettings, check_services
from warehouse.batch import Batch, CommitInfo, Record, Sink

SOURCE = "github"  # raw.github__<entity>, raw.cursors.source


class RepoCollector(runner.Scope):
    """Collects one repository; runs in one worker thread with its own client."""

    def __init__(
        self, api: Api, settings: GithubSettings, repo: RepoSettings, run: Run, token: str | None = None
    ) -> None:
        super().__init__(repo.repo, run, api.stats, settings.full)
        self.http = RepoApi(api, repo.repo, settings.per_page)
        self.settings, self.repo, self.token = settings, repo, token
        self.bots = re.compile(settings.bot_pattern)
        self.severity = re.compile(settings.severity_pattern)
        self.production = re.compile(settings.production_pattern)
        self.graph: dict[str, CommitInfo] = {}
        self.default_branch = "main"
        self.commits_since: dt.datetime | None = None

    def run(self) -> None:
        self.meta()
        mode = self.repo.deployments
        if mode == "deployments":
            self.pending_deployments()
            self.deployments()
        elif mode == "releases":
            self.releases()
        if mode == "workflow-runs":
            self.workflow_runs()
        self.commits()
        self.pulls()
        self.issues()
        if mode != "workflow-runs":
            self.workflow_runs(optional=True)

    def meta(self) -> None:
        state = self.cursor("repo")
        response = self.http.get(f"/repos/{self.name}", "repository", etag=state.get("etag"))
        services = rows.service_rows(self.repo)
        batch = Batch(self.name, "repo")
        if response.status == 304:
            self.default_branch = state.get("default_branch", "main")
        else:
            self.default_branch = response.data.get("default_branch") or "main"
            batch.add_raw("repos", [Record(self.name, response.data)])
        # services are rewritten only when they change (dora.toml edited): a rewrite is new data to the
        # incremental transform
        if services != state.get("services"):
            batch.add_rows("services", services)
        batch.cursor = {
            "etag": response.etag or state.get("etag"),
            "default_branch": self.default_branch,
            "services": services,
        }
        if batch.rows or batch.raw or batch.cursor != state:
            self.write(batch)

    def in_production(self, environment: str, flag: Any = None) -> bool:
        return rows.in_production(self.production, environment, flag)

    def before_since(self, when: dt.datetime | None) -> bool:
        since = self.settings.since
        return since is not None and when is not None and when.date() < since

    def stops_walk(self, created: dt.datetime | None, baseline: bool) -> bool:
        """Whether a walk back in time stops at an item created at `created`: it is before --since (its
        commits are fetched, it may be the baseline) and `baseline` says nothing older is needed."""
        if not self.before_since(created):
            return False
        self.note_baseline(created)
        return baseline

    def note_baseline(self, finished: dt.datetime | None) -> None:
        """The last deployment before --since: commits are fetched back to it (it is the baseline)."""
        if finished is not None and (self.commits_since is None or finished < self.commits_since):
            self.commits_since = finished

    def deployment_batch(
        self, batch: Batch, deployment: dict[str, Any], pending: dict[str, Any], etag: str | None = None
    ) -> str | None:
        """Fetch a deployment's statuses; adds its row (or keeps it pending). Returns its outcome, None
        while it is pending (also when its statuses are unchanged since `etag`)."""
        ident = str(deployment.get("id"))
        url = f"/repos/{self.name}/deployments/{ident}/statuses"
        response = self.http.get(url, f"statuses of deployment {ident}", {"per_page": 100}, etag)
        if response.status == 304:
            return None
        statuses = response.data or []
        batch.add_raw("deployment_statuses", [Record(f"{self.name}:{ident}", statuses)])
        outcome = rows.deployment_outcome(statuses)
        if outcome is None:
            pending[ident] = {"etag": response.etag, "deployment": deployment}
            return None
        pending.pop(ident, None)
        if outcome[0] == "skip":
            return "skip"
        environment = str(deployment.get("environment") or "")
        rule = rows.service_for(self.repo, environment=environment)
        if rule is None:
            return "unmatched"
        try:
            batch.add_rows("deployments", [rows.deployment_row(self.name, rule.name, deployment, outcome)])
        except MissingField as exc:
            self.quarantine(batch, "deployments", ident, exc, deployment)
            return "quarantined"
        if outcome[0] == "success" and self.in_production(
            environment, deployment.get("production_environment")
        ):
            return "production"
        return outcome[0]

    def recheck(self, entity: str, ask: Callable[[Batch, str, dict[str, Any], dict[str, Any]], Any]) -> None:
        """The items of `entity` not finished at the last run (`pending` in its cursor) asked again, each
        with its ETag (a 304 costs nothing): `ask(batch, id, entry, pending)` drops those now finished."""
        state = self.cursor(entity)
        pending = dict(state.get("pending") or {})
        if not pending:
            return
        batch = Batch(self.name, entity)
        for ident, entry in list(pending.items()):
            ask(batch, ident, entry, pending)
        batch.cursor = {**state, "pending": pending}
        self.write(batch)

    def pending_deployments(self) -> None:
        self.recheck(
            "deployments",
            lambda batch, _, entry, pending: self.deployment_batch(
                batch, entry["deployment"], pending, entry.get("etag")
            ),
        )

    def deployments(self) -> None:
        for page in self.http.walk(RESOURCES["deployments"], self.cursor("deployments")):
            pending = dict(self.cursor("deployments").get("pending") or {})
            batch = Batch(self.name, "deployments")
            batch.add_raw("deployments", [Record(f"{self.name}:{d.get('id')}", d) for d in page.items])
            stop = False
            for deployment in page.items:
                created = parse_ts(deployment.get("created_at"))
                outcome = self.deployment_batch(batch, deployment, pending)
                if self.stops_walk(created, outcome == "production"):
                    stop = True
                    break
            batch.cursor = {**(page.done_state if stop else page.state), "pending": pending}
            self.write(batch)
            if stop:
                break

    def releases(self) -> None:
        tag_re = re.compile(self.repo.tag_pattern) if self.repo.tag_pattern else None
        for page in self.http.walk(RESOURCES["releases"], self.cursor("releases")):
            batch = Batch(self.name, "releases")
            batch.add_raw("releases", [Record(f"{self.name}:{r.get('id')}", r) for r in page.items])
            stop = False
            for release in page.items:
                tag = release.get("tag_name") or ""
                if release.get("draft") or not release.get("published_at"):
                    continue
                if (release.get("prerelease") and not self.repo.prereleases) or (
                    tag_re and not tag_re.search(tag)
                ):
                    continue
                rule = rows.service_for(self.repo, tag=tag)
                if rule is None:
                    continue
                commit = self.http.get(f"/repos/{self.name}/commits/{tag}", f"commit of tag {tag}").data or {}
                try:
                    row = rows.release_deployment_row(
                        self.name, rule.name, release, commit.get("sha"), self.repo.environment
                    )
                    if not row["commit_sha"]:
                        raise MissingField(f"tag {tag} of {self.name}: no commit sha")
                except MissingField as exc:
                    self.quarantine(batch, "releases", str(release.get("id")), exc, release)
                    continue
                batch.add_rows("deployments", [row])
                if self.before_since(row["finished_at"]):
                    self.note_baseline(row["finished_at"])
                    stop = True
                    break
            batch.cursor = page.done_state if stop else page.state
            self.write(batch)
            if stop:
                break

    def run_rows(self, batch: Batch, run: dict[str, Any], pending: dict[str, Any]) -> str | None:
        ident = str(run.get("id"))
        status = rows.run_status(run)
        if status is None:
            pending[ident] = pending.get(ident) or {"etag": None}
            return None
        pending.pop(ident, None)
        name, file = run.get("name") or "", rows.workflow_file(run)
        deploy_rule = None
        if self.repo.deployments == "workflow-runs":
            pattern = re.compile(self.repo.workflow)
            branch = self.repo.branch or self.default_branch
            if (pattern.search(name) or pattern.search(file)) and run.get("head_branch") == branch:
                deploy_rule = rows.service_for(self.repo, workflow=name) or rows.service_for(
                    self.repo, workflow=file
                )
        rule = deploy_rule or self.repo.services[0]
        try:
            batch.add_rows("pipeline_runs", [rows.pipeline_run_row(self.name, rule.name, run, status)])
            if deploy_rule is not None and status in ("success", "failure"):
                row = rows.run_deployment_row(self.name, deploy_rule.name, run, status, self.repo.environment)
                batch.add_rows("deployments", [row])
                if status == "success" and self.in_production(self.repo.environment):
                    return "production"
        except MissingField as exc:
            self.quarantine(batch, "workflow_runs", ident, exc, run)
            return "quarantined"
        return status

    def workflow_runs(self, optional: bool = False) -> None:
        resource = RESOURCES["workflow_runs"]
        resource = replace(resource, lookback_hours=self.settings.runs_lookback_hours)
        try:
            self.pending_runs()
            for page in self.http.walk(resource, self.cursor(resource.entity)):
                pending = dict(self.cursor("workflow_runs").get("pending") or {})
                batch = Batch(self.name, "workflow_runs")
                batch.add_raw("workflow_runs", [Record(f"{self.name}:{r.get('id')}", r) for r in page.items])
                stop = False
                for run in page.items:
                    outcome = self.run_rows(batch, run, pending)
                    created = parse_ts(run.get("created_at"))
                    baseline = outcome == "production" or self.repo.deployments != "workflow-runs"
                    if self.stops_walk(created, baseline):
                        stop = True
                        break
                batch.cursor = {**(page.done_state if stop else page.state), "pending": pending}
                self.write(batch)
                if stop:
                    break
        except CollectorError as exc:
            # Actions may be disabled, or the token lacks Actions: read; CI health is optional then
            if optional and ("(404)" in str(exc) or "(403" in str(exc)):
                self.stats.warnings.append(f"workflow runs skipped: {exc}")
                return
            raise

    def pending_runs(self) -> None:
        self.recheck("workflow_runs", self.pending_run)

    def pending_run(self, batch: Batch, ident: str, entry: dict[str, Any], pending: dict[str, Any]) -> None:
        url, what = f"/repos/{self.name}/actions/runs/{ident}", f"workflow run {ident}"
        response = self.http.get(url, what, etag=entry.get("etag"))
        if response.status == 304:
            return
        batch.add_raw("workflow_runs", [Record(f"{self.name}:{ident}", response.data)])
        self.run_rows(batch, response.data, pending)
        if ident in pending:
            pending[ident] = {"etag": response.etag}

    def commit_batch(self, items: list[dict[str, Any]], cursor: dict[str, Any]) -> Batch:
        batch = Batch(self.name, "commits", cursor=cursor)
        batch.add_raw("commits", [Record(f"{self.name}:{c.get('sha')}", c) for c in items])
        good = []
        for item in items:
            try:
                row = rows.commit_row(self.name, item)
            except MissingField as exc:
                self.quarantine(batch, "commits", str(item.get("sha")), exc, item)
                continue
            good.append(row)
            self.graph[row["sha"]] = rows.commit_info(row)
        batch.add_rows("commits", good)
        return batch

    def commits(self) -> None:
        if self.settings.clone:
            self.clone_commits()
            return
        state = self.cursor("commits")
        branch = self.default_branch
        backfill = state.get("backfill")
        etag = state.get("etag") if state.get("head") and not backfill else None
        response = self.http.get(f"/repos/{self.name}/branches/{branch}", f"branch {branch}", etag=etag)
        if response.status == 304:
            return
        head = (response.data.get("commit") or {}).get("sha")
        if head is None:
            raise CollectorError(f"{self.name}: branch {branch} has no commit sha in its payload")
        if state.get("head") == head and not backfill:
            self.write(Batch(self.name, "commits", cursor={**state, "etag": response.etag}))
            return
        if state.get("head") and not backfill and self.compare(state["head"], head, response.etag):
            return
        pinned = (backfill or {}).get("sha") or head
        url: str | None = (backfill or {}).get("next") or f"/repos/{self.name}/commits"
        query: dict[str, Any] | None = None
        if not (backfill or {}).get("next"):
            query = {"sha": pinned, "per_page": self.settings.per_page}
            since = self._commit_since()
            if since:
                query["since"] = since
        while url:
            page = self.http.get(url, "commits", query)
            next_url = page.next_url
            # the branch's ETag describes the head we pinned only if the head did not move meanwhile
            done = {"head": pinned, "etag": response.etag if pinned == head else None}
            cursor = {"backfill": {"sha": pinned, "next": next_url}} if next_url else done
            self.write(self.commit_batch(page.data or [], cursor))
            url, query = next_url, None
        if pinned != head:
            self.compare(pinned, head, None)

    def clone_commits(self) -> None:
        target = Path(self.settings.clone_dir or ".dora-clones") / f"{self.name}.git"
        url = clone_url(self.settings.api_url, self.name, self.settings.clone_url)
        cursor = self.cursor("git_commits")
        for batch in clone_commits(url, target, self.name, self.default_branch, self.token, cursor):
            for row in batch.rows.get("commits", []):
                self.graph[row["sha"]] = rows.commit_info(row)
            self.write(batch)

    def _commit_since(self) -> str | None:
        if self.settings.since is None:
            return None
        start = dt.datetime.combine(self.settings.since, dt.time())
        if self.commits_since is not None:
            start = min(start, self.commits_since)
        # commits are authored before they are deployed: a margin so the baseline's own commit is there
        return (start - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def compare(self, base: str, head: str, etag: str | None) -> bool:
        """The commits reachable from head and not from base, paged; False if base is gone (force push)."""
        url: str | None = f"/repos/{self.name}/compare/{base}...{head}"
        query: dict[str, Any] | None = {"per_page": self.settings.per_page}
        while url:
            try:
                page = self.http.api.get(url, query)
            except ApiError as exc:
                if exc.status == 404:
                    return False
                raise fatal(exc, self.name, "compare") from None
            next_url = page.next_url
            done = {"head": head, "etag": etag}
            cursor = {"head": base, "etag": None} if next_url else done
            self.write(self.commit_batch((page.data or {}).get("commits") or [], cursor))
            url, query = next_url, None
        return True

    def graph_view(self) -> dict[str, CommitInfo]:
        return rows.GraphView(self.graph, lambda shas: self.sink.commits(self.name, shas))

    def pulls(self) -> None:
        graph = self.graph_view()
        for page in self.http.walk(RESOURCES["pulls"], self.cursor("pulls")):
            batch = Batch(self.name, "pulls")
            batch.add_raw("pulls", [Record(f"{self.name}#{p.get('number')}", p) for p in page.items])
            stop = False
            for pr in page.items:
                if self.before_since(parse_ts(pr.get("updated_at"))):
                    stop = True
                    break
                if not pr.get("merged_at"):
                    continue
                number = pr.get("number")
                commits = self.http.get_all(
                    f"/repos/{self.name}/pulls/{number}/commits", f"commits of PR #{number}"
                )
                reviews = self.http.get_all(
                    f"/repos/{self.name}/pulls/{number}/reviews", f"reviews of PR #{number}"
                )
                batch.add_raw("pull_commits", [Record(f"{self.name}#{number}", commits)])
                batch.add_raw("pull_reviews", [Record(f"{self.name}#{number}", reviews)])
                try:
                    row, links = rows.pull_request_rows(self.name, pr, commits, reviews, self.bots, graph)
                    deploy = None
                    if self.repo.deployments == "merged-prs" and row["base_branch"] == (
                        self.repo.branch or self.default_branch
                    ):
                        deploy = rows.merged_pr_deployment_row(
                            self.name, self.repo.services[0].name, pr, self.repo.environment
                        )
                except MissingField as exc:
                    self.quarantine(batch, "pulls", str(number), exc, pr)
                    continue
                batch.add_rows("pull_requests", [row])
                batch.add_rows("pull_request_commits", links)
                if deploy:
                    batch.add_rows("deployments", [deploy])
            batch.cursor = page.done_state if stop else page.state
            self.write(batch)
            if stop:
                break

    def issues(self) -> None:
        params: dict[str, Any] = {"labels": self.settings.incident_label}
        if self.settings.since and not self.cursor("issues").get("mark"):
            params["since"] = f"{self.settings.since.isoformat()}T00:00:00Z"
        names = {rule.name for rule in self.repo.services}
        for page in self.http.walk(RESOURCES["issues"], self.cursor("issues"), params):
            batch = Batch(self.name, "issues", cursor=page.state)
            issues = [i for i in page.items if "pull_request" not in i]
            batch.add_raw("issues", [Record(f"{self.name}#{i.get('number')}", i) for i in issues])
            for issue in issues:
                labels = {
                    (label.get("name") or "")
                    for label in issue.get("labels") or []
                    if isinstance(label, dict)
                }
                service = next(
                    (
                        label.split(":", 1)[1]
                        for label in labels
                        if label.startswith("service:") and label.split(":", 1)[1] in names
                    ),
                    self.repo.services[0].name,
                )
                try:
                    batch.add_rows("incidents", [rows.incident_row(self.name, service, issue, self.severity)])
                except MissingField as exc:
                    self.quarantine(batch, "issues", str(issue.get("number")), exc, issue)
            self.write(batch)


class GithubCollector:
    """The repositories of the settings (and of `org`) on the runner; each worker thread has its own
    PyGithub client, `token` is for `clone = true` only."""

    source = SOURCE

    def __init__(self, make: Callable[[], Github], settings: GithubSettings, token: str | None) -> None:
        self.clients = runner.PerThread(make)
        self.settings, self.token = settings, token
        self.workers = settings.workers
        self.max_rate_limit_wait: float | None = settings.max_rate_limit_wait
        self.repos: dict[str, RepoSettings] = {}

    def api(self, run: Run, stats: Stats) -> Api:
        wait = self.settings.secondary_rate_wait
        return Api(self.clients.get(), run.budget, stats, run.cancel, secondary_wait=wait)

    def scopes(self, run: Run) -> list[str]:
        org = self.settings.org
        names = runner.scope_names(
            [r.repo for r in self.settings.repos],
            (lambda: org_repos(self.api(run, run.setup), org)) if org else None,
            "no repositories: give --repo OWNER/NAME or --org ORG, or repos in dora.toml [github]",
        )
        self.settings = self.settings.with_repos(names)
        runner.checked(lambda: check_services(self.settings.repos))
        self.repos = {r.repo: r for r in self.settings.repos}
        return list(self.repos)

    def collect(self, scope: str, run: Run, stats: Stats) -> None:
        RepoCollector(self.api(run, stats), self.settings, self.repos[scope], run, self.token).run()

    def preview(self, scope: str, run: Run) -> dict[str, Any]:
        http = RepoApi(self.api(run, run.setup), scope, self.settings.per_page)
        return preview(http, self.settings, self.repos[scope])


def collect(
    make_client: Callable[[], Github],
    settings: GithubSettings,
    sink: Sink,
    progress: Progress | None = None,
    token: str | None = None,
) -> RunResult:
    """Collect every repository, `settings.workers` at a time (collectors/runner.py)."""
    return runner.run(GithubCollector(make_client, settings, token), sink, progress)


def dry_run(make_client: Callable[[], Github], settings: GithubSettings) -> list[dict[str, Any]]:
    """What would count as a production deployment per repo, before anything is written."""
    return runner.dry_run(GithubCollector(make_client, settings, None))
