"""GitHub collector: repos -> raw payloads + canonical rows, incrementally, page by page.

Each list is declared as a `Resource` (path, parameters, the field it is ordered by). Lists come newest
first, so an incremental run walks from the top and stops at the first item it already has; page 1 is
asked with If-None-Match, so "nothing new" costs one 304 (free of rate limit) per repo and entity. Every
page becomes one `Batch` carrying the cursor that resumes after it: a run killed at any point redoes at
most one page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from collectors.base import Batches, CollectorError, MissingField, Progress, parse_ts
from collectors.github import rows
from collectors.github.client import Api, ApiError, Cancelled, Response, fatal_message
from collectors.github.settings import GithubSettings, RepoSettings
from warehouse.batch import Batch, CommitInfo, Quarantined, Record, Sink

SOURCE = "github"  # raw.github__<entity>, raw.cursors.source


@dataclass(frozen=True)
class Resource:
    """A list endpoint, newest first by `order`; `items` names the list in a wrapped response."""

    entity: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    order: str = "id"
    items: str | None = None
    lookback_hours: float = 0.0  # re-read items this much older than the last top (runs get re-run)


RESOURCES = {
    "pulls": Resource(
        "pulls",
        "/repos/{repo}/pulls",
        {"state": "closed", "sort": "updated", "direction": "desc"},
        "updated_at",
    ),
    "deployments": Resource("deployments", "/repos/{repo}/deployments"),
    "issues": Resource(
        "issues",
        "/repos/{repo}/issues",
        {"state": "all", "sort": "updated", "direction": "desc"},
        "updated_at",
    ),
    "workflow_runs": Resource(
        "workflow_runs", "/repos/{repo}/actions/runs", {}, "created_at", items="workflow_runs"
    ),
    "releases": Resource("releases", "/repos/{repo}/releases"),
}


@dataclass
class Page:
    items: list[dict[str, Any]]
    state: dict[str, Any]  # the cursor to save when walking on
    done_state: dict[str, Any]  # the cursor to save when stopping after this page
    last: bool


def _shift(value: str, hours: float) -> str:
    moved = parse_ts(value) - dt.timedelta(hours=hours)  # type: ignore[operator]
    return moved.strftime("%Y-%m-%dT%H:%M:%SZ")


class RepoCollector(Batches):
    """Collects one repository; runs in one worker thread with its own client."""

    def __init__(
        self, api: Api, settings: GithubSettings, repo: RepoSettings, sink: Sink, progress: Progress
    ) -> None:
        self.api, self.settings, self.repo, self.sink, self.progress = api, settings, repo, sink, progress
        self.name = repo.repo
        self.stats = api.stats
        self.bots = re.compile(settings.bot_pattern)
        self.severity = re.compile(settings.severity_pattern)
        self.production = re.compile(settings.production_pattern)
        self.graph: dict[str, CommitInfo] = {}
        self.default_branch = "main"
        self.commits_since: dt.datetime | None = None
        self.cursors: dict[str, dict[str, Any]] = {}

    # --- plumbing -------------------------------------------------------------------------------

    def quarantine(self, batch: Batch, entity: str, key: str, exc: MissingField, payload: Any) -> None:
        batch.quarantined.append(Quarantined(entity, key, str(exc), payload))

    def get(
        self, url: str, what: str, params: dict[str, Any] | None = None, etag: str | None = None
    ) -> Response:
        try:
            return self.api.get(url, params, etag)
        except Cancelled:
            raise
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                raise CollectorError(fatal_message(exc, self.name, what)) from None
            raise CollectorError(f"{self.name}: {what}: {exc}") from None

    def get_all(self, url: str, what: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every page of a small list (a PR's commits or reviews)."""
        out: list[Any] = []
        next_url: str | None = url
        query = {"per_page": self.settings.per_page, **(params or {})}
        while next_url:
            response = self.get(next_url, what, query)
            out.extend(response.data or [])
            next_url, query = response.next_url, None
        return out

    def walk(self, resource: Resource, params: dict[str, Any] | None = None) -> Iterator[Page]:
        """Pages of new items, newest first, with the cursor to save after each."""
        state = self.cursor(resource.entity)
        mark, mark_keys = state.get("mark"), set(state.get("mark_keys") or [])
        walked = ("mark", "mark_keys", "etag", "resume", "top", "top_keys", "complete")
        keep = {k: v for k, v in state.items() if k not in walked}
        stop_at = _shift(mark, resource.lookback_hours) if mark and resource.lookback_hours else mark
        fresh = not state.get("resume")
        if fresh:
            url: str | None = resource.path.format(repo=self.name)
            query: dict[str, Any] | None = {
                **resource.params,
                "per_page": self.settings.per_page,
                **(params or {}),
            }
            etag = state.get("etag") if state.get("complete") else None
            top, top_keys, first_etag = None, [], None
        else:
            url, query, etag = state["resume"], None, None
            top, top_keys, first_etag = state.get("top"), state.get("top_keys") or [], None
        while url:
            response = self.get(url, f"{resource.entity} list", query, etag)
            if response.status == 304:
                done = {**state, "resume": None}
                yield Page([], done, done, True)
                return
            data = response.data or ([] if resource.items is None else {})
            items = data.get(resource.items, []) if resource.items else data
            if fresh and top is None:
                first_etag = response.etag
                top = items[0].get(resource.order) if items else mark
                top_keys = (
                    [str(i.get("id")) for i in items if i.get(resource.order) == top]
                    if items
                    else list(mark_keys)
                )
            new: list[dict[str, Any]] = []
            reached = False
            for item in items:
                value = item.get(resource.order)
                if stop_at is not None and value is not None:
                    older = value < stop_at or (
                        value == stop_at and not resource.lookback_hours and str(item.get("id")) in mark_keys
                    )
                    if older:
                        reached = True
                        break
                new.append(item)
            next_url = response.next_url
            done_state = {
                **keep,
                "mark": top,
                "mark_keys": top_keys,
                "etag": first_etag,
                "resume": None,
                "complete": True,
            }
            go_on = {
                **keep,
                "mark": mark,
                "mark_keys": sorted(mark_keys),
                "etag": None,
                "resume": next_url,
                "top": top,
                "top_keys": top_keys,
                "complete": False,
            }
            last = reached or next_url is None
            yield Page(new, done_state if last else go_on, done_state, last)
            if last:
                return
            url, query, etag = next_url, None, None

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> None:
        self.progress.start(self.name)
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
        response = self.get(f"/repos/{self.name}", "repository", etag=state.get("etag"))
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
        return flag is True or bool(self.production.search(environment.strip().lower()))

    def before_since(self, when: dt.datetime | None) -> bool:
        since = self.settings.since
        return since is not None and when is not None and when.date() < since

    def note_baseline(self, finished: dt.datetime | None) -> None:
        """The last deployment before --since: commits are fetched back to it (it is the baseline)."""
        if finished is not None and (self.commits_since is None or finished < self.commits_since):
            self.commits_since = finished

    # --- deployments (Deployments API) ----------------------------------------------------------

    def deployment_batch(
        self, batch: Batch, deployment: dict[str, Any], pending: dict[str, Any]
    ) -> str | None:
        """Fetch a deployment's statuses; adds its row (or keeps it pending). Returns its outcome."""
        ident = str(deployment.get("id"))
        url = f"/repos/{self.name}/deployments/{ident}/statuses"
        response = self.get(url, f"statuses of deployment {ident}", {"per_page": 100})
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

    def pending_deployments(self) -> None:
        """Deployments not finished at the last run: ask their statuses again (a 304 costs nothing)."""
        state = self.cursor("deployments")
        pending = dict(state.get("pending") or {})
        if not pending:
            return
        batch = Batch(self.name, "deployments")
        for ident, entry in list(pending.items()):
            url = f"/repos/{self.name}/deployments/{ident}/statuses"
            response = self.get(url, f"statuses of deployment {ident}", {"per_page": 100}, entry.get("etag"))
            if response.status == 304:
                continue
            pending.pop(ident)
            statuses = response.data or []
            batch.add_raw("deployment_statuses", [Record(f"{self.name}:{ident}", statuses)])
            outcome = rows.deployment_outcome(statuses)
            deployment = entry["deployment"]
            if outcome is None:
                pending[ident] = {"etag": response.etag, "deployment": deployment}
            elif outcome[0] != "skip":
                rule = rows.service_for(self.repo, environment=str(deployment.get("environment") or ""))
                if rule is not None:
                    batch.add_rows(
                        "deployments", [rows.deployment_row(self.name, rule.name, deployment, outcome)]
                    )
        batch.cursor = {**state, "pending": pending}
        self.write(batch)

    def deployments(self) -> None:
        for page in self.walk(RESOURCES["deployments"]):
            pending = dict(self.cursor("deployments").get("pending") or {})
            batch = Batch(self.name, "deployments")
            batch.add_raw("deployments", [Record(f"{self.name}:{d.get('id')}", d) for d in page.items])
            stop = False
            for deployment in page.items:
                created = parse_ts(deployment.get("created_at"))
                outcome = self.deployment_batch(batch, deployment, pending)
                if self.before_since(created):
                    self.note_baseline(created)
                    if outcome == "production":
                        stop = True
                        break
            batch.cursor = {**(page.done_state if stop else page.state), "pending": pending}
            self.write(batch)
            if stop:
                break

    # --- releases ---------------------------------------------------------------------------------

    def releases(self) -> None:
        tag_re = re.compile(self.repo.tag_pattern) if self.repo.tag_pattern else None
        for page in self.walk(RESOURCES["releases"]):
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
                commit = self.get(f"/repos/{self.name}/commits/{tag}", f"commit of tag {tag}").data or {}
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

    # --- workflow runs (pipeline_runs; deployments in workflow-runs mode) -----------------------------

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
        resource = Resource(**{**resource.__dict__, "lookback_hours": self.settings.runs_lookback_hours})
        try:
            self.pending_runs()
            for page in self.walk(resource):
                pending = dict(self.cursor("workflow_runs").get("pending") or {})
                batch = Batch(self.name, "workflow_runs")
                batch.add_raw("workflow_runs", [Record(f"{self.name}:{r.get('id')}", r) for r in page.items])
                stop = False
                for run in page.items:
                    outcome = self.run_rows(batch, run, pending)
                    created = parse_ts(run.get("created_at"))
                    if self.before_since(created):
                        self.note_baseline(created)
                        if outcome == "production" or self.repo.deployments != "workflow-runs":
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
        state = self.cursor("workflow_runs")
        pending = dict(state.get("pending") or {})
        if not pending:
            return
        batch = Batch(self.name, "workflow_runs")
        for ident, entry in list(pending.items()):
            response = self.get(
                f"/repos/{self.name}/actions/runs/{ident}", f"workflow run {ident}", etag=entry.get("etag")
            )
            if response.status == 304:
                continue
            batch.add_raw("workflow_runs", [Record(f"{self.name}:{ident}", response.data)])
            self.run_rows(batch, response.data, pending)
            if ident in pending:
                pending[ident] = {"etag": response.etag}
        batch.cursor = {**state, "pending": pending}
        self.write(batch)

    # --- commits ------------------------------------------------------------------------------------

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
            from collectors.git.collector import clone_commits

            clone_commits(self)
            return
        state = self.cursor("commits")
        branch = self.default_branch
        backfill = state.get("backfill")
        etag = state.get("etag") if state.get("head") and not backfill else None
        response = self.get(f"/repos/{self.name}/branches/{branch}", f"branch {branch}", etag=etag)
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
            page = self.get(url, "commits", query)
            next_url = page.next_url
            # the branch's ETag describes the head we pinned only if the head did not move meanwhile
            done = {"head": pinned, "etag": response.etag if pinned == head else None}
            cursor = {"backfill": {"sha": pinned, "next": next_url}} if next_url else done
            self.write(self.commit_batch(page.data or [], cursor))
            url, query = next_url, None
        if pinned != head:
            self.compare(pinned, head, None)

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
                page = self.api.get(url, query)
            except ApiError as exc:
                if exc.status == 404:
                    return False
                raise CollectorError(fatal_message(exc, self.name, "compare")) from None
            next_url = page.next_url
            done = {"head": head, "etag": etag}
            cursor = {"head": base, "etag": None} if next_url else done
            self.write(self.commit_batch((page.data or {}).get("commits") or [], cursor))
            url, query = next_url, None
        return True

    # --- pull requests ----------------------------------------------------------------------------

    def graph_view(self) -> dict[str, CommitInfo]:
        return _GraphView(self.graph, lambda shas: self.sink.commits(self.name, shas))

    def pulls(self) -> None:
        graph = self.graph_view()
        for page in self.walk(RESOURCES["pulls"]):
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
                commits = self.get_all(
                    f"/repos/{self.name}/pulls/{number}/commits", f"commits of PR #{number}"
                )
                reviews = self.get_all(
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

    # --- incidents ------------------------------------------------------------------------------

    def issues(self) -> None:
        params: dict[str, Any] = {"labels": self.settings.incident_label}
        if self.settings.since and not self.cursor("issues").get("mark"):
            params["since"] = f"{self.settings.since.isoformat()}T00:00:00Z"
        names = {rule.name for rule in self.repo.services}
        for page in self.walk(RESOURCES["issues"], params):
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


class _GraphView(dict):
    """The commits of this run, falling back to the warehouse for older ones (rebase-merge detection)."""

    def __init__(self, local: dict[str, CommitInfo], lookup: Callable[[list[str]], dict[str, CommitInfo]]):
        super().__init__()
        self.local, self.lookup = local, lookup

    def get(self, sha: str, default: Any = None) -> Any:  # type: ignore[override]
        if sha in self.local:
            return self.local[sha]
        found = self.lookup([sha])
        self.local.update(found)
        return found.get(sha, default)
