"""Deployments from a deploy log: a CSV with the deployments.csv columns, checked line by line."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from collectors.base import CollectorError, parse_ts

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


def read_deploy_log(file: Path, service: str | None) -> list[dict[str, Any]]:
    """Deployments from a CSV with the deployments.csv columns; errors name file:line:column. An empty
    service cell is `service` (None: the cell is required, the repository has several services)."""
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
            required = ("deployment_id", "environment", "commit_sha", "finished_at", "status")
            for column in required if service else ("service", *required):
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
                    "service": record.get("service") or service or "",
                    "environment": record["environment"],
                    "environment_tier": record.get("environment_tier") or None,
                    "commit_sha": record["commit_sha"],
                    "started_at": times["started_at"],
                    "finished_at": times["finished_at"],
                    "status": record["status"].lower(),
                }
            )
    return rows
