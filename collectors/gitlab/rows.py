"""GitLab payloads -> canonical rows (warehouse/schema.py). Pure functions: no requests, no state.

A payload missing a field its row needs raises MissingField naming the object; the collector quarantines
that object and goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from collectors.base import MissingField, dig, parse_ts, require, timestamp
from collectors.gitlab.settings import ProjectSettings

DEPLOYMENT_STATUS = {"success": "success", "failed": "failure"}
# canceled, skipped and blocked deployments changed nothing; created and running ones are not finished
DEPLOYMENT_NOT_COUNTED = {"canceled", "skipped", "blocked"}
PIPELINE_STATUS = {"success": "success", "failed": "failure", "canceled": "cancelled", "skipped": "cancelled"}
JOB_STATUS = {"success": "success", "failed": "failure"}
APPROVAL_NOTE = re.compile(r"^approved this merge request", re.I)


def username(user: Any) -> str | None:
    return user.get("username") if isinstance(user, dict) else None


def is_bot(user: Any, bots: re.Pattern[str]) -> bool:
    if not isinstance(user, dict):
        return True
    name = user.get("username") or ""
    return bool(user.get("bot")) or not name or bool(bots.search(name))


def service_rows(project: ProjectSettings) -> list[dict[str, Any]]:
    return [
        {"service": rule.name, "repo": project.path, "team": rule.team, "paths": list(rule.paths)}
        for rule in project.services
    ]


def is_merge(commit: dict[str, Any]) -> bool:
    return len(commit.get("parent_ids") or []) > 1


def commit_file_rows(repo: str, sha: str, diffs: Iterable[Any]) -> list[dict[str, Any]]:
    """The files a commit changed, from its diff against its first parent: both sides of a rename."""
    paths: dict[str, None] = {}
    for diff in diffs:
        if not isinstance(diff, dict):
            continue
        for side in ("new_path", "old_path"):
            if isinstance(diff.get(side), str) and diff[side]:
                paths[diff[side]] = None
    return [{"repo": repo, "sha": sha, "path": path} for path in paths]


def commit_row(repo: str, commit: dict[str, Any]) -> dict[str, Any]:
    sha = require(commit, "id", f"commit of {repo}")
    what = f"commit {sha} of {repo}"
    return {
        "repo": repo,
        "sha": sha,
        "parents": list(commit.get("parent_ids") or []),
        "authored_at": parse_ts(require(commit, "authored_date", what)),
        "committed_at": parse_ts(commit.get("committed_date")),
        "author": commit.get("author_name"),
        "message": commit.get("message") or "",
    }


def landed_sha(mr: dict[str, Any]) -> str | None:
    """The sha that landed on the target branch: the merge commit, else the squash commit, else (a
    fast-forward merge) the MR's head."""
    return mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or mr.get("sha")


def first_review_at(mr: dict[str, Any], notes: Iterable[dict[str, Any]], bots: re.Pattern[str]) -> Any:
    """The first approval or human note by someone other than the author.

    GitLab's approvals API gives no times, but every approval leaves a system note ("approved this merge
    request") that does; other system notes (pushes, label changes) are not reviews.
    """
    author = username(mr.get("author"))
    times = []
    for note in notes:
        who = note.get("author")
        if is_bot(who, bots) or username(who) == author or not note.get("created_at"):
            continue
        if note.get("system") and not APPROVAL_NOTE.match(note.get("body") or ""):
            continue
        times.append(timestamp(note["created_at"]))
    return min(times) if times else None


def merge_request_rows(
    repo: str,
    mr: dict[str, Any],
    commits: list[dict[str, Any]],
    notes: list[dict[str, Any]],
    bots: re.Pattern[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    iid = require(mr, "iid", f"merge request of {repo}")
    what = f"merge request !{iid} of {repo}"
    merged_at = require(mr, "merged_at", what)
    landed = landed_sha(mr)
    if not landed:
        raise MissingField(f"{what}: no merge_commit_sha, squash_commit_sha nor sha")
    first = [timestamp(require(c, "authored_date", f"commit of {what}")) for c in commits]
    row = {
        "repo": repo,
        "number": int(iid),
        "title": mr.get("title"),
        "author": username(mr.get("author")),
        "created_at": parse_ts(require(mr, "created_at", what)),
        "first_commit_at": min(first) if first else None,
        "first_review_at": first_review_at(mr, notes, bots),
        "merged_at": parse_ts(merged_at),
        "merge_commit_sha": landed,
        "head_branch": mr.get("source_branch"),
        "base_branch": mr.get("target_branch"),
        "labels": [str(label) for label in mr.get("labels") or []],
    }
    shas = [require(c, "id", f"commit of {what}") for c in commits]
    # a squash merged with a merge commit lands two new commits: the squash one is the MR's too
    if mr.get("merge_commit_sha") and mr.get("squash_commit_sha"):
        shas.append(mr["squash_commit_sha"])
    links = [{"repo": repo, "number": int(iid), "sha": sha} for sha in dict.fromkeys(shas)]
    return row, links


def deployment_outcome(deployment: dict[str, Any]) -> str | None:
    """success / failure; "skip" for one that changed nothing; None while it is not finished."""
    status = (deployment.get("status") or "").lower()
    if status in DEPLOYMENT_STATUS:
        return DEPLOYMENT_STATUS[status]
    if status in DEPLOYMENT_NOT_COUNTED:
        return "skip"
    return None


def deployment_row(
    repo: str, service: str, deployment: dict[str, Any], tiers: dict[int, str | None]
) -> dict[str, Any] | None:
    """The row of a finished deployment, None for one not counted or not finished yet."""
    ident = require(deployment, "id", f"deployment of {repo}")
    what = f"deployment {ident} of {repo}"
    outcome = deployment_outcome(deployment)
    if outcome in (None, "skip"):
        return None
    environment = require(deployment, "environment.name", what)
    # newer GitLab gives the deployment's own finished_at; a deployment made through the API has no job
    # (deployable is null), and then its last update is when it reached its final status
    finished = (
        deployment.get("finished_at")
        or dig(deployment, "deployable.finished_at")
        or deployment.get("updated_at")
    )
    if not finished:
        raise MissingField(f"{what}: missing required field 'finished_at'")
    return {
        "deployment_id": f"gitlab:{repo}:deployment:{ident}",
        "service": service,
        "environment": environment,
        "environment_tier": tiers.get(dig(deployment, "environment.id")),
        "commit_sha": require(deployment, "sha", what),
        "started_at": parse_ts(dig(deployment, "deployable.started_at") or deployment.get("created_at")),
        "finished_at": parse_ts(finished),
        "status": outcome,
    }


def pipeline_run_row(repo: str, service: str, pipeline: dict[str, Any]) -> dict[str, Any] | None:
    """The row of a finished pipeline; None while it runs (it is listed again when it changes)."""
    ident = require(pipeline, "id", f"pipeline of {repo}")
    status = PIPELINE_STATUS.get((pipeline.get("status") or "").lower())
    if status is None:
        return None
    what = f"pipeline {ident} of {repo}"
    return {
        "run_id": f"gitlab:{repo}:pipeline:{ident}",
        "service": service,
        "pipeline": pipeline.get("name") or pipeline.get("source") or "pipeline",
        "branch": pipeline.get("ref"),
        "commit_sha": require(pipeline, "sha", what),
        # the list gives no started/finished times: created and last updated bound the run
        "started_at": parse_ts(pipeline.get("started_at") or pipeline.get("created_at")),
        "finished_at": parse_ts(pipeline.get("finished_at") or require(pipeline, "updated_at", what)),
        "status": status,
    }


def job_deployment_row(
    repo: str, service: str, job: dict[str, Any], environment: str
) -> dict[str, Any] | None:
    ident = require(job, "id", f"job of {repo}")
    status = JOB_STATUS.get((job.get("status") or "").lower())
    if status is None:
        return None
    what = f"job {ident} of {repo}"
    return {
        "deployment_id": f"gitlab:{repo}:job:{ident}",
        "service": service,
        "environment": environment,
        "environment_tier": None,
        "commit_sha": dig(job, "commit.id") or require(job, "pipeline.sha", what),
        "started_at": parse_ts(job.get("started_at") or job.get("created_at")),
        "finished_at": parse_ts(require(job, "finished_at", what)),
        "status": status,
    }


def release_deployment_row(
    repo: str, service: str, release: dict[str, Any], environment: str
) -> dict[str, Any] | None:
    """A published release as a successful deployment at its release time; None while it is upcoming."""
    tag = require(release, "tag_name", f"release of {repo}")
    what = f"release {tag} of {repo}"
    if release.get("upcoming_release"):
        return None
    when = parse_ts(release.get("released_at") or require(release, "created_at", what))
    return {
        "deployment_id": release_id(repo, tag),
        "service": service,
        "environment": environment,
        "environment_tier": None,
        "commit_sha": require(release, "commit.id", what),
        "started_at": when,
        "finished_at": when,
        "status": "success",
    }


def release_id(repo: str, tag: str) -> str:
    return f"gitlab:{repo}:release:{tag}"


def incident_row(repo: str, service: str, issue: dict[str, Any], severity: re.Pattern[str]) -> dict[str, Any]:
    iid = require(issue, "iid", f"incident of {repo}")
    what = f"incident #{iid} of {repo}"
    found = (issue.get("severity") or "").lower()
    if found in ("", "unknown"):
        labels = [str(label) for label in issue.get("labels") or []]
        found = next((m.group(1).lower() for m in map(severity.match, labels) if m), None)
    closed = issue.get("closed_at") if issue.get("state") == "closed" else None
    return {
        "incident_id": f"gitlab:{repo}:issue:{iid}",
        "service": service,
        "title": issue.get("title"),
        "severity": found,
        "created_at": parse_ts(require(issue, "created_at", what)),
        "resolved_at": parse_ts(closed),
        "deployment_id": None,
        "commit_sha": None,
    }
