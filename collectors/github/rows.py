"""GitHub payloads -> canonical rows (warehouse/schema.py). Pure functions: no requests, no state.

A payload missing a field its row needs raises MissingField naming the object; the collector quarantines
that object and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from collectors.base import MissingField, dig, parse_ts, require, timestamp
from collectors.github.settings import RepoSettings, ServiceRule
from warehouse.batch import CommitInfo

# what building a row of an object of the wrong shape raises (a null where an object was, a number where
# a string was): the object is quarantined with the reason, never a traceback
MALFORMED = (MissingField, TypeError, ValueError, AttributeError, KeyError, IndexError)
DEPLOY_EVENTS_ON_BRANCH = {"push", "schedule"}  # events whose run deploys its branch: the deploy branch only

SUCCESS_STATES = {"success"}
FAILURE_STATES = {"failure", "error"}
# GitHub marks a deployment inactive when a later one supersedes it; from success that is still a success
RUN_SUCCESS = {"success", "neutral"}
RUN_FAILURE = {"failure", "timed_out", "startup_failure", "action_required"}


def in_production(pattern: re.Pattern[str], environment: str, flag: Any = None) -> bool:
    """GitHub's own production flag, where set, decides; otherwise the environment's name does."""
    return flag is True or bool(pattern.search(environment.strip().lower()))


def malformed(exc: Exception, payload: Any) -> MissingField:
    """The quarantine reason of an object that raised `exc` while its row was built."""
    if isinstance(exc, MissingField):
        return exc
    ident = payload.get("id") or payload.get("sha") if isinstance(payload, dict) else None
    return MissingField(f"object {ident}: malformed ({type(exc).__name__}: {str(exc)[:120]})")


def login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def commit_row(repo: str, payload: dict[str, Any]) -> dict[str, Any]:
    sha = require(payload, "sha", f"commit of {repo}")
    what = f"commit {sha} of {repo}"
    authored = require(payload, "commit.author.date", what)
    return {
        "repo": repo,
        "sha": sha,
        "parents": [require(p, "sha", what + " (parent)") for p in payload.get("parents") or []],
        "authored_at": parse_ts(authored),
        "committed_at": parse_ts(dig(payload, "commit.committer.date")),
        "author": login(payload.get("author")) or dig(payload, "commit.author.name"),
        "message": dig(payload, "commit.message") or "",
    }


def commit_info(row: dict[str, Any]) -> CommitInfo:
    return CommitInfo(row["sha"], tuple(row["parents"]), row["authored_at"], row["message"] or "")


def first_review_at(pr: dict[str, Any], reviews: Iterable[dict[str, Any]], bots: re.Pattern[str]) -> Any:
    """The first review by someone other than the author; bots (by login pattern or type) don't count."""
    author = login(pr.get("user"))
    times = []
    for review in reviews:
        user = review.get("user") or {}
        who = user.get("login")
        if not who or who == author or user.get("type") == "Bot" or bots.search(who):
            continue
        if review.get("state") == "PENDING" or not review.get("submitted_at"):
            continue
        times.append(timestamp(review["submitted_at"]))
    return min(times) if times else None


def landed_shas(
    merge_sha: str | None, pr_commits: list[dict[str, Any]], graph: dict[str, CommitInfo]
) -> list[str]:
    """For a rebase merge, the shas that landed on the default branch in place of the PR's commits.

    A rebase keeps each commit's author date and message but gives it a new sha: walk first parents back
    from the merge commit while the commits match the PR's own. A squash (one new commit with the merge
    time as author date) or a merge commit (two parents) matches nothing and lands nothing extra.
    """
    if not merge_sha or len(pr_commits) < 2:
        return []
    wanted = {
        (parse_ts(dig(c, "commit.author.date")), (dig(c, "commit.message") or "").strip()) for c in pr_commits
    }
    landed: list[str] = []
    sha: str | None = merge_sha
    while sha and len(landed) < len(pr_commits):
        info = graph.get(sha)
        if info is None or len(info.parents) != 1 or (info.authored_at, info.message.strip()) not in wanted:
            break
        landed.append(sha)
        sha = info.parents[0]
    return landed if len(landed) > 1 else []


def pull_request_rows(
    repo: str,
    pr: dict[str, Any],
    commits: list[dict[str, Any]],
    reviews: list[dict[str, Any]],
    bots: re.Pattern[str],
    graph: dict[str, CommitInfo],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    number = require(pr, "number", f"pull request of {repo}")
    what = f"pull request #{number} of {repo}"
    merged_at = require(pr, "merged_at", what)
    first_commit = [timestamp(require(c, "commit.author.date", f"commit of {what}")) for c in commits]
    row = {
        "repo": repo,
        "number": int(number),
        "title": pr.get("title"),
        "author": login(pr.get("user")),
        "created_at": parse_ts(require(pr, "created_at", what)),
        "first_commit_at": min(first_commit) if first_commit else None,
        "first_review_at": first_review_at(pr, reviews, bots),
        "merged_at": parse_ts(merged_at),
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "head_branch": dig(pr, "head.ref"),
        "base_branch": dig(pr, "base.ref"),
        "labels": [label["name"] for label in pr.get("labels") or [] if label.get("name")],
    }
    shas = [require(c, "sha", f"commit of {what}") for c in commits]
    shas += landed_shas(row["merge_commit_sha"], commits, graph)
    links = [{"repo": repo, "number": int(number), "sha": sha} for sha in dict.fromkeys(shas)]
    return row, links


def deployment_outcome(statuses: Iterable[dict[str, Any]]) -> tuple[str, Any] | None:
    """(status, finished_at) from the first terminal status; None while it is not finished.

    Returns ("skip", time) for a deployment that went inactive without ever succeeding or failing
    (superseded before it finished): it changed nothing in production and is not a deployment.
    """
    ordered = sorted(statuses, key=lambda s: (s.get("created_at") or "", s.get("id") or 0))
    for status in ordered:
        state = (status.get("state") or "").lower()
        if state in SUCCESS_STATES:
            return "success", parse_ts(status.get("created_at"))
        if state in FAILURE_STATES:
            return "failure", parse_ts(status.get("created_at"))
        if state == "inactive":
            return "skip", parse_ts(status.get("created_at"))
    return None


def service_for(
    settings: RepoSettings,
    environment: str | None = None,
    workflow: str | None = None,
    tag: str | None = None,
) -> ServiceRule | None:
    """The first service rule matching; a rule without patterns matches everything.

    Environments are matched as the warehouse stores them: trimmed and lowercased (docs/metrics.md).
    """
    environment = environment.strip().lower() if environment is not None else None
    for rule in settings.services:
        checks = [(rule.environment, environment), (rule.workflow, workflow), (rule.tag, tag)]
        if all(
            pattern is None or (value is not None and re.search(pattern, value)) for pattern, value in checks
        ):
            return rule
    return None


def deployment_row(
    repo: str, service: str, deployment: dict[str, Any], outcome: tuple[str, Any]
) -> dict[str, Any]:
    ident = require(deployment, "id", f"deployment of {repo}")
    what = f"deployment {ident} of {repo}"
    status, finished = outcome
    return {
        "deployment_id": f"github:deployment:{ident}",
        "service": service,
        "environment": require(deployment, "environment", what),
        # GitHub's own flag, where set, decides; otherwise the name does (docs/metrics.md)
        "environment_tier": "production" if deployment.get("production_environment") is True else None,
        "commit_sha": require(deployment, "sha", what),
        "started_at": parse_ts(deployment.get("created_at")),
        "finished_at": finished,
        "status": status,
    }


def run_status(run: dict[str, Any]) -> str | None:
    """success / failure / cancelled for a completed run; None while it runs."""
    if str(run.get("status") or "").lower() != "completed":
        return None
    conclusion = str(run.get("conclusion") or "").lower()
    if conclusion in RUN_SUCCESS:
        return "success"
    if conclusion in RUN_FAILURE:
        return "failure"
    return "cancelled"


def workflow_file(run: dict[str, Any]) -> str:
    # newer payloads say ".github/workflows/deploy.yml@main"
    return (run.get("path") or "").split("@", 1)[0].rsplit("/", 1)[-1]


def pipeline_run_row(repo: str, service: str, run: dict[str, Any], status: str) -> dict[str, Any]:
    ident = require(run, "id", f"workflow run of {repo}")
    what = f"workflow run {ident} of {repo}"
    return {
        "run_id": f"github:run:{ident}:{run.get('run_attempt') or 1}",
        "service": service,
        "pipeline": run.get("name") or workflow_file(run),
        "branch": run.get("head_branch"),
        "commit_sha": require(run, "head_sha", what),
        "started_at": parse_ts(run.get("run_started_at") or run.get("created_at")),
        "finished_at": parse_ts(require(run, "updated_at", what)),
        "status": status,
    }


def run_deployment_row(
    repo: str, service: str, run: dict[str, Any], status: str, environment: str
) -> dict[str, Any]:
    row = pipeline_run_row(repo, service, run, status)
    # each attempt is its own deployment: a failed attempt re-run successfully is a failure, then a success
    return {
        "deployment_id": row["run_id"],
        "service": service,
        "environment": environment,
        "environment_tier": None,
        "commit_sha": row["commit_sha"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "status": status,
    }


def release_deployment_row(
    repo: str, service: str, release: dict[str, Any], sha: str | None, environment: str
) -> dict[str, Any]:
    ident = require(release, "id", f"release of {repo}")
    published = require(release, "published_at", f"release {ident} of {repo}")
    return {
        "deployment_id": f"github:release:{ident}",
        "service": service,
        "environment": environment,
        "environment_tier": None,
        "commit_sha": sha,
        "started_at": parse_ts(release.get("created_at")),
        "finished_at": parse_ts(published),
        "status": "success",
    }


def merged_pr_deployment_row(repo: str, service: str, pr: dict[str, Any], environment: str) -> dict[str, Any]:
    what = f"pull request #{pr.get('number')} of {repo}"
    merged = parse_ts(require(pr, "merged_at", what))
    return {
        "deployment_id": f"github:pr:{repo}#{require(pr, 'number', what)}",
        "service": service,
        "environment": environment,
        "environment_tier": None,
        "commit_sha": require(pr, "merge_commit_sha", what),
        "started_at": merged,
        "finished_at": merged,
        "status": "success",
    }


def incident_row(repo: str, service: str, issue: dict[str, Any], severity: re.Pattern[str]) -> dict[str, Any]:
    number = require(issue, "number", f"issue of {repo}")
    what = f"issue #{number} of {repo}"
    labels = [label.get("name") or "" for label in issue.get("labels") or [] if isinstance(label, dict)]
    found = next((m.group(1) for m in map(severity.match, labels) if m), None)
    closed = issue.get("closed_at") if issue.get("state") == "closed" else None
    return {
        "incident_id": f"github:issue:{repo}#{number}",
        "service": service,
        "title": issue.get("title"),
        "severity": found,
        "created_at": parse_ts(require(issue, "created_at", what)),
        "resolved_at": parse_ts(closed),
        "deployment_id": None,
        "commit_sha": None,
    }


def service_rows(settings: RepoSettings) -> list[dict[str, Any]]:
    return [
        {"service": rule.name, "repo": settings.repo, "team": rule.team, "paths": list(rule.paths)}
        for rule in settings.services
    ]


def from_fork(run: dict[str, Any], repo: str) -> bool:
    """Whether a workflow run ran the code of another repository (a pull request from a fork): its head
    repository is not the repository itself."""
    head, own = run.get("head_repository"), run.get("repository")
    if not isinstance(head, dict):
        return False
    if isinstance(own, dict) and head.get("id") is not None and own.get("id") is not None:
        return bool(head.get("id") != own.get("id"))
    return str(head.get("full_name") or repo).lower() != repo.lower()


def deploys(run: dict[str, Any], repo: str, events: tuple[str, ...] | list[str], branch: str) -> bool:
    """Whether a completed run of a deploy workflow is a deployment: a run of the repository itself, from
    an event that deploys; a push or a schedule deploys the deploy branch only, while a manual dispatch or
    a release deploys the ref it was given."""
    event = str(run.get("event") or "").lower()
    if from_fork(run, repo) or event not in {e.lower() for e in events}:
        return False
    return event not in DEPLOY_EVENTS_ON_BRANCH or run.get("head_branch") == branch


def commit_files(repo: str, sha: str, files: list[Any]) -> list[dict[str, Any]]:
    """commit_files rows of a commit's `files[]` (GET /repos/{repo}/commits/{sha}); a rename touches both
    its old and its new path."""
    paths: dict[str, None] = {}
    for item in files:
        if isinstance(item, dict):
            for key in ("filename", "previous_filename"):
                if isinstance(item.get(key), str) and item[key]:
                    paths[item[key]] = None
    return [{"repo": repo, "sha": sha, "path": path} for path in paths]


class GraphView(dict[str, CommitInfo]):
    """The commits of this run, falling back to the warehouse for older ones (rebase-merge detection)."""

    def __init__(
        self, local: dict[str, CommitInfo], lookup: Callable[[list[str]], dict[str, CommitInfo]]
    ) -> None:
        super().__init__()
        self.local, self.lookup = local, lookup

    def get(self, sha: str, default: Any = None) -> Any:
        if sha in self.local:
            return self.local[sha]
        found = self.lookup([sha])
        self.local.update(found)
        return found.get(sha, default)
