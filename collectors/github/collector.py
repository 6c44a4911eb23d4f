"""GitHub collector: repos -> raw payloads + canonical rows, incrementally, page by page.

Each list is declared as a `Resource` in client.py and walked newest first from its cursor. Every page
becomes one `Batch` carrying the cursor that resumes after it: a run killed at any point redoes at most
one page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from github import Github

from collectors import runner
from collectors.base import CollectorError, Progress, Run, RunResult, Stats, parse_ts
from collectors.github import rows
from collectors.github.client import RESOURCES, Api, BadAnswer, RepoApi, org_repos
from collectors.github.deploys import DeploymentSteps
from collectors.github.history import CommitSteps
from collectors.github.preview import preview
from collectors.github.runs import RunSteps
from collectors.github.settings import GithubSettings, RepoSettings, check_services
from warehouse.batch import Batch, Record, Sink

SOURCE = "github"  # raw.github__<entity>, raw.cursors.source


class RepoCollector(DeploymentSteps, RunSteps, CommitSteps):
    """Collects one repository; runs in one worker thread with its own client. Each step goes on when
    another met an answer it could not use; those are reported together at the end (the scope fails,
    what the other steps fetched is saved and the transform runs)."""

    def run(self) -> None:
        mode = self.repo.deployments
        self.problems: list[str] = []
        self.step(self.meta)
        if mode == "deployments":
            self.step(self.pending_deployments)
            self.step(self.deployments)
        elif mode == "releases":
            self.step(self.releases)
        if mode == "workflow-runs":
            self.step(self.workflow_runs)
        self.step(self.commits)
        self.step(self.pulls)
        self.step(self.history)
        self.step(self.files)
        self.step(self.issues)
        if mode != "workflow-runs":
            self.step(lambda: self.workflow_runs(optional=True))
        if self.problems:
            count = len(self.problems)
            raise CollectorError(
                f"{count} answer{'s' if count > 1 else ''} could not be used (the rest was collected): "
                + "; ".join(self.problems)
            )

    def step(self, action: Callable[[], None]) -> None:
        try:
            action()
        except BadAnswer as exc:
            self.problems.append(str(exc))
        except rows.MALFORMED as exc:
            what = getattr(action, "__name__", "step")
            self.problems.append(
                f"{self.name}: {what}: an answer of the wrong shape ({type(exc).__name__}: {exc})"
            )

    def meta(self) -> None:
        state = self.cursor("repo")
        response = self.http.get_object(f"/repos/{self.name}", "repository", etag=state.get("etag"))
        services = rows.service_rows(self.repo)
        batch = Batch(self.name, "repo")
        if response.status == 304:
            self.default_branch = state.get("default_branch", "main")
        else:
            branch = response.data.get("default_branch")
            self.default_branch = branch if isinstance(branch, str) and branch else "main"
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
                except rows.MALFORMED as exc:
                    self.quarantine(batch, "pulls", str(number), rows.malformed(exc, pr), pr)
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
                except rows.MALFORMED as exc:
                    self.quarantine(
                        batch, "issues", str(issue.get("number")), rows.malformed(exc, issue), issue
                    )
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
        return Api(
            self.clients.get(),
            run.budget,
            stats,
            run.cancel,
            secondary_wait=wait,
            max_answer_mb=self.settings.max_answer_mb,
        )

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
