"""Local git collector: the commit graph straight from a clone, deployments from tags or a deploy log.

Works offline on any repository; the reading of the repository is in repo.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from collectors.base import CollectorError, parse_ts
from collectors.git.repo import FIELD, commit_batches, git, jsonable
from collectors.git.settings import GitSettings
from warehouse.batch import Batch, Record, Sink

SOURCE = "git"
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
        batch.add_raw("deployments", [Record(d["deployment_id"], jsonable(d)) for d in deployments])
        sink.write(batch)
        counts["deployments"] = len(deployments)
    return counts
