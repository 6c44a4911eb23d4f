"""Payloads in the shapes of GitHub's REST API, and a synthetic busy repository (for the benchmark)."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from tests.support.fake_github import FakeRepo
from tests.support.fake_http import number_of, sha_of


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": number_of(login) % 10**7,
        "type": kind,
        "site_admin": False,
        "html_url": f"https://github.com/{login}",
    }


def commit_payload(
    repo: str,
    sha: str,
    parents: list[str],
    authored: str,
    committed: str,
    message: str,
    login: str | None = "alice",
) -> dict[str, Any]:
    return {
        "sha": sha,
        "node_id": "C_" + sha[:12],
        "url": f"https://api.github.com/repos/{repo}/commits/{sha}",
        "html_url": f"https://github.com/{repo}/commit/{sha}",
        "commit": {
            "author": {
                "name": (login or "someone").title(),
                "email": f"{login}@example.com",
                "date": authored,
            },
            "committer": {"name": "GitHub", "email": "noreply@github.com", "date": committed},
            "message": message,
            "tree": {"sha": hashlib.sha1(("tree" + sha).encode()).hexdigest()},
            "comment_count": 0,
        },
        "author": user(login) if login else None,
        "committer": user("web-flow"),
        "parents": [{"sha": p, "url": f"https://api.github.com/repos/{repo}/commits/{p}"} for p in parents],
    }


def synthetic_repo(
    full_name: str, prs: int = 500, deployments: int = 300, seed: int = 1, start: dt.datetime | None = None
) -> FakeRepo:
    """A busy repository: `prs` merged PRs (merge commits, 2 commits each, one review) and `deployments`
    deployments of the default branch with a success status each; for the benchmark."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    repo = FakeRepo(full_name)
    root = sha_of(full_name, "root")
    repo.add_commit(commit_payload(full_name, root, [], iso(start), iso(start), "initial commit"))
    head, clock = root, start
    for n in range(1, prs + 1):
        clock += dt.timedelta(minutes=rng.randint(30, 240))
        branch = []
        parent = head
        for k in range(2):
            sha = sha_of(full_name, n, k)
            when = iso(clock - dt.timedelta(hours=3 - k))
            repo.add_commit(
                commit_payload(full_name, sha, [parent], when, when, f"work {n}.{k}", "bob"), move_head=False
            )
            branch.append(repo.commits[sha])
            parent = sha
        merge = sha_of(full_name, n, "merge")
        repo.add_commit(
            commit_payload(
                full_name,
                merge,
                [head, parent],
                iso(clock),
                iso(clock),
                f"Merge pull request #{n} from acme/feature-{n}",
                "bob",
            )
        )
        head = merge
        repo.pulls.append(pull_payload(full_name, n, "bob", clock - dt.timedelta(hours=2), clock, merge))
        repo.pull_commits[n] = branch
        repo.reviews[n] = [review_payload(full_name, n, n, "carol", clock - dt.timedelta(hours=1))]
    shas = [sha_of(full_name, n, "merge") for n in range(1, prs + 1)]
    for i in range(deployments):
        sha = shas[min(len(shas) - 1, (i + 1) * len(shas) // deployments - 1)]
        when = parse(repo.commits[sha]["commit"]["committer"]["date"]) + dt.timedelta(minutes=20)
        ident = seed * 10**6 + 1000 + i  # deployment ids are unique across a GitHub instance
        repo.deployments.append(deployment_payload(full_name, ident, sha, "production", when, True))
        repo.statuses[ident] = [
            status_payload(full_name, ident, 10 * ident, "success", when + dt.timedelta(minutes=5))
        ]
    return repo


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def pull_payload(
    repo: str,
    number: int,
    login: str,
    created: dt.datetime,
    merged: dt.datetime | None,
    merge_sha: str | None,
    head: str | None = None,
    labels: list[str] | None = None,
    updated: dt.datetime | None = None,
    base: str = "main",
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "id": 10**6 + number,
        "number": number,
        "state": "closed",
        "title": f"Change {number}",
        "user": user(login),
        "body": "",
        "labels": [
            {"id": number_of(x) % 10**6, "name": x, "color": "ededed", "default": False} for x in labels or []
        ],
        "created_at": iso(created),
        "updated_at": iso(updated or merged or created),
        "closed_at": iso(merged) if merged else iso(updated or created),
        "merged_at": iso(merged) if merged else None,
        "merge_commit_sha": merge_sha,
        "head": {
            "label": f"acme:{head or f'feature-{number}'}",
            "ref": head or f"feature-{number}",
            "sha": merge_sha,
        },
        "base": {"label": f"acme:{base}", "ref": base, "sha": merge_sha},
        "draft": False,
        "author_association": "MEMBER",
    }


def review_payload(
    repo: str, number: int, ident: int, login: str, when: dt.datetime, state: str = "APPROVED"
) -> dict[str, Any]:
    return {
        "id": 8 * 10**5 + ident,
        "user": user(login, "Bot" if login.endswith("[bot]") else "User"),
        "body": "",
        "state": state,
        "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{ident}",
        "pull_request_url": f"https://api.github.com/repos/{repo}/pulls/{number}",
        "submitted_at": iso(when),
        "author_association": "MEMBER",
    }


def deployment_payload(
    repo: str, ident: int, sha: str, environment: str, created: dt.datetime, production: bool | None = None
) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/deployments/{ident}",
        "id": ident,
        "sha": sha,
        "ref": "main",
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": None,
        "creator": user("deploy-bot[bot]", "Bot"),
        "created_at": iso(created),
        "updated_at": iso(created),
        "statuses_url": f"https://api.github.com/repos/{repo}/deployments/{ident}/statuses",
        "repository_url": f"https://api.github.com/repos/{repo}",
        "transient_environment": False,
        "production_environment": production,
    }


def status_payload(repo: str, deployment: int, ident: int, state: str, when: dt.datetime) -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/{repo}/deployments/{deployment}/statuses/{ident}",
        "id": ident,
        "state": state,
        "creator": user("deploy-bot[bot]", "Bot"),
        "description": "",
        "environment": "production",
        "created_at": iso(when),
        "updated_at": iso(when),
        "deployment_url": f"https://api.github.com/repos/{repo}/deployments/{deployment}",
    }


def run_payload(
    repo: str,
    ident: int,
    sha: str,
    created: dt.datetime,
    conclusion: str | None = "success",
    *,
    name: str = "Deploy",
    file: str = "deploy.yml",
    event: str = "push",
    branch: str = "main",
    attempt: int = 1,
    status: str = "completed",
    head_repo: str | None = None,
) -> dict[str, Any]:
    """A workflow run as GET /repos/{repo}/actions/runs lists it (the latest attempt), with its repository
    and head repository (another one for a pull request from a fork)."""

    def repository(full_name: str) -> dict[str, Any]:
        owner, short = full_name.split("/")
        return {
            "id": number_of(full_name) % 10**8,
            "name": short,
            "full_name": full_name,
            "owner": user(owner),
            "private": False,
            "html_url": f"https://github.com/{full_name}",
        }

    return {
        "id": ident,
        "name": name,
        "node_id": f"WFR_{ident}",
        "head_branch": branch,
        "head_sha": sha,
        "path": f".github/workflows/{file}@{branch}",
        "display_title": name,
        "run_number": ident % 1000,
        "event": event,
        "status": status,
        "conclusion": conclusion if status.lower() == "completed" else None,
        "workflow_id": 9000 + number_of(file) % 100,
        "url": f"https://api.github.com/repos/{repo}/actions/runs/{ident}",
        "html_url": f"https://github.com/{repo}/actions/runs/{ident}",
        "pull_requests": [],
        "created_at": iso(created),
        "updated_at": iso(created + dt.timedelta(minutes=10)),
        "run_attempt": attempt,
        "run_started_at": iso(created),
        "previous_attempt_url": (
            f"https://api.github.com/repos/{repo}/actions/runs/{ident}/attempts/{attempt - 1}"
            if attempt > 1
            else None
        ),
        "actor": user("alice"),
        "triggering_actor": user("alice"),
        "head_commit": {"id": sha, "message": "...", "timestamp": iso(created)},
        "repository": repository(repo),
        "head_repository": repository(head_repo or repo),
    }


def file_entries(*paths: str, renamed_from: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The `files` of GET /repos/{repo}/commits/{sha}."""
    out = []
    for path in paths:
        entry: dict[str, Any] = {
            "sha": hashlib.sha1(path.encode()).hexdigest(),
            "filename": path,
            "status": "modified",
            "additions": 1,
            "deletions": 0,
            "changes": 1,
        }
        if renamed_from and path in renamed_from:
            entry.update(status="renamed", previous_filename=renamed_from[path])
        out.append(entry)
    return out
