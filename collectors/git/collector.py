"""Local git collector: the commit graph straight from a clone, deployments from tags or a deploy log.

Works offline on any repository. `git log` with parents is fast (100k commits in a few seconds), so the
GitHub collector uses it too (`clone = true`: a blobless clone instead of paging the commits API).
"""

from __future__ import annotations

import base64
import csv
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.base import CollectorError, parse_ts
from warehouse.batch import Batch, Record, Sink

if TYPE_CHECKING:
    from collectors.github.collector import RepoCollector

SOURCE = "git"
FIELD, RECORD = "\x1f", "\x1e"
LOG_FORMAT = FIELD.join(["%H", "%P", "%aI", "%cI", "%an", "%B"]) + RECORD
BATCH_COMMITS = 5000
SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
DEPLOY_LOG_COLUMNS = (
    "deployment_id",
    "service",
    "environment",
    "commit_sha",
    "started_at",
    "finished_at",
    "status",
)


@dataclass(frozen=True)
class GitSettings:
    path: Path
    repo: str  # the repo name commits are stored under (services.repo)
    service: str
    team: str = "unassigned"
    deploy_tags: str | None = None  # glob over tag names, e.g. "v*" or "deploy/prod-*"
    deploy_log: Path | None = None  # a CSV with the deployments.csv columns
    environment: str = "production"
    rev: str = "HEAD"


def git(path: Path | str, *args: str, env: dict[str, str] | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, **(env or {}), "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError as exc:
        raise CollectorError("git is not installed (or not on PATH)") from exc
    if done.returncode != 0:
        raise CollectorError(f"git {' '.join(args[:2])} in {path}: {done.stderr.strip()[:300]}")
    return done.stdout


def log(path: Path | str, rev: str, exclude: str | None = None) -> Iterator[dict[str, Any]]:
    """Commits reachable from rev (not from exclude) as canonical rows without the repo column."""
    args = ["log", f"--format={LOG_FORMAT}", rev]
    if exclude:
        args.append(f"^{exclude}")
    for chunk in git(path, *args).split(RECORD):
        chunk = chunk.lstrip("\n")
        if not chunk:
            continue
        sha, parents, authored, committed, author, message = chunk.split(FIELD, 5)
        yield {
            "sha": sha,
            "parents": parents.split(),
            "authored_at": parse_ts(authored),
            "committed_at": parse_ts(committed),
            "author": author,
            "message": message.rstrip("\n"),
        }


def resolve(path: Path | str, rev: str) -> str | None:
    try:
        return git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip() or None
    except CollectorError:
        return None


def is_ancestor(path: Path | str, old: str, new: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(path), "merge-base", "--is-ancestor", old, new], capture_output=True
    )
    return done.returncode == 0


def commit_batches(
    path: Path | str, repo: str, rev: str, cursor: dict[str, Any] | None, entity: str, scope: str
) -> Iterator[Batch]:
    """New commits since the cursor's head, in batches; the last batch moves the cursor."""
    head = resolve(path, rev)
    if head is None:
        raise CollectorError(f"{path}: no commit at {rev} (an empty repository?)")
    old = (cursor or {}).get("head")
    if old == head:
        return
    exclude = old if old and resolve(path, old) and is_ancestor(path, old, head) else None
    pending: list[dict[str, Any]] = []

    def batch(rows: list[dict[str, Any]], last: bool) -> Batch:
        out = Batch(scope, entity, cursor={"head": head} if last else None)
        out.add_raw(entity, [Record(f"{repo}:{r['sha']}", _jsonable(r)) for r in rows])
        out.add_rows("commits", [{"repo": repo, **r} for r in rows])
        return out

    for row in log(path, head, exclude):
        pending.append(row)
        if len(pending) >= BATCH_COMMITS:
            yield batch(pending, False)
            pending = []
    yield batch(pending, True)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in row.items()}


def tag_deployments(settings: GitSettings) -> list[dict[str, Any]]:
    """One successful deployment per tag matching the glob; the tag's time is the finished time
    (the tagger date of an annotated tag, the commit's date for a lightweight one)."""
    fmt = FIELD.join(["%(refname:strip=2)", "%(objectname)", "%(*objectname)", "%(creatordate:iso-strict)"])
    out = git(settings.path, "for-each-ref", f"--format={fmt}", f"refs/tags/{settings.deploy_tags}")
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        name, target, peeled, when = line.split(FIELD)
        finished = parse_ts(when)
        rows.append(
            {
                "deployment_id": f"git:{settings.repo}:{name}",
                "service": settings.service,
                "environment": settings.environment,
                "environment_tier": None,
                "commit_sha": peeled or target,
                "started_at": finished,
                "finished_at": finished,
                "status": "success",
            }
        )
    return rows


def read_deploy_log(file: Path, service: str) -> list[dict[str, Any]]:
    """Deployments from a CSV with the deployments.csv columns; errors name file:line:column."""
    rows: list[dict[str, Any]] = []
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        for column in DEPLOY_LOG_COLUMNS:
            if column not in header and column != "service":
                raise CollectorError(f"{file.name}:1:{column}: missing column {column!r} in the header")
        seen: dict[str, int] = {}
        line = reader.line_num
        for record in reader:
            record = {(k or "").strip(): (v or "").strip() for k, v in record.items()}
            where = f"{file.name}:{line + 1}"
            line = reader.line_num
            for column in ("deployment_id", "environment", "commit_sha", "finished_at", "status"):
                if not record.get(column):
                    raise CollectorError(f"{where}:{column}: empty required cell")
            if not SHA.match(record["commit_sha"]):
                raise CollectorError(f"{where}:commit_sha: not a sha: {record['commit_sha']!r}")
            if record["status"].lower() not in ("success", "failure"):
                raise CollectorError(f"{where}:status: expected success or failure, got {record['status']!r}")
            if record["deployment_id"] in seen:
                raise CollectorError(
                    f"{where}:deployment_id: duplicate key, already on line {seen[record['deployment_id']]}"
                )
            seen[record["deployment_id"]] = int(where.rsplit(":", 1)[1])
            times = {}
            for column in ("started_at", "finished_at"):
                try:
                    times[column] = parse_ts(record.get(column))
                except ValueError:
                    raise CollectorError(
                        f"{where}:{column}: not an ISO 8601 time with offset: {record[column]!r}"
                    ) from None
            rows.append(
                {
                    "deployment_id": record["deployment_id"],
                    "service": record.get("service") or service,
                    "environment": record["environment"],
                    "environment_tier": record.get("environment_tier") or None,
                    "commit_sha": record["commit_sha"],
                    "started_at": times["started_at"],
                    "finished_at": times["finished_at"],
                    "status": record["status"].lower(),
                }
            )
    return rows


def collect(settings: GitSettings, sink: Sink) -> dict[str, int]:
    """Commits (incremental from the cursor's head) and deployments; returns rows per table."""
    scope = settings.repo
    counts = {"commits": 0, "deployments": 0}
    service = {"service": settings.service, "repo": settings.repo, "team": settings.team}
    # rewritten only when it changes: a rewrite is new data to the incremental transform
    if sink.cursor(scope, "services") != service:
        sink.write(Batch(scope, "services", rows={"services": [service]}, cursor=service))
    for batch in commit_batches(
        settings.path, settings.repo, settings.rev, sink.cursor(scope, "commits"), "commits", scope
    ):
        sink.write(batch)
        counts["commits"] += len(batch.rows.get("commits", []))
    deployments: list[dict[str, Any]] = []
    if settings.deploy_tags:
        deployments += tag_deployments(settings)
    if settings.deploy_log:
        deployments += read_deploy_log(settings.deploy_log, settings.service)
    if deployments:
        batch = Batch(scope, "deployments", rows={"deployments": deployments})
        batch.add_raw("deployments", [Record(d["deployment_id"], _jsonable(d)) for d in deployments])
        sink.write(batch)
        counts["deployments"] = len(deployments)
    return counts


# --- the GitHub collector's `clone = true` --------------------------------------------------------


def clone_url(api_url: str, repo: str, template: str | None) -> str:
    if template:
        return template.format(repo=repo)
    host = re.sub(r"^(https?://)api\.github\.com/?$", r"\1github.com", api_url.rstrip("/"))
    host = re.sub(r"/api/v3$", "", host)
    return f"{host}/{repo}.git"


def clone_commits(collector: RepoCollector) -> None:
    """Fetch the default branch into a blobless bare clone and read its commit graph with git log."""
    settings, name = collector.settings, collector.name
    target = Path(settings.clone_dir or ".dora-clones") / f"{name}.git"
    url = clone_url(settings.api_url, name, settings.clone_url)
    env: dict[str, str] = {}
    auth = collector.api.client.requester.auth
    token = getattr(auth, "token", None)
    if token and url.startswith("http"):
        # through the environment, not argv: a token on a command line shows in `ps`
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env = {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }
    branch = collector.default_branch
    if not (target / "HEAD").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        git(
            target.parent,
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            "--single-branch",
            "--branch",
            branch,
            url,
            target.name,
            env=env,
        )
    else:
        git(
            target,
            "fetch",
            "--quiet",
            "--filter=blob:none",
            url,
            f"+refs/heads/{branch}:refs/heads/{branch}",
            env=env,
        )
    for batch in commit_batches(
        target, name, f"refs/heads/{branch}", collector.cursor("git_commits"), "git_commits", name
    ):
        for row in batch.rows.get("commits", []):
            collector.graph[row["sha"]] = _info(row)
        collector.write(batch)


def _info(row: dict[str, Any]):
    from warehouse.batch import CommitInfo

    return CommitInfo(row["sha"], tuple(row["parents"]), row["authored_at"], row["message"] or "")
