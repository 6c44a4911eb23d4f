"""The end of a simulation: incidents no deployment explains, then the rows as the canonical core tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from collectors.demo.model import REPOS, SERVICES, Service
from collectors.demo.org import Org
from warehouse.schema import TABLE_BY_NAME


def add_unattributed(org: Org) -> None:
    """Incidents no deployment explains (infrastructure, a provider outage), and two left open at the end."""
    finishes: dict[str, list[dt.datetime]] = {s.name: [] for s in SERVICES}
    prod = [d for d in org.deployments if d["environment"] != "staging" and d["status"] == "success"]
    for d in prod:
        finishes[d["service"]].append(d["finished_at"])
    window = dt.timedelta(hours=72)

    def quiet(service: str, t: dt.datetime) -> bool:
        return not any(t - window <= f <= t for f in finishes[service])

    span = (org.stop - org.start).total_seconds()
    for service in SERVICES:
        for _ in range(org.poisson(3)):
            t = org.start + dt.timedelta(seconds=round(org.rng.uniform(0.03, 0.99) * span))
            if quiet(service.name, t):
                severity = org.weighted(("sev2", "sev3"), (0.3, 0.7))
                org.resolve(org.incident(service.name, t, severity), t + org.hours(3, 1.0))
    # still open: one nothing explains, one right after the latest release of a busy service
    for name in ("billing", "reporting", "search", "auth", "payments"):
        latest = max(finishes[name], default=org.start)
        earliest = max(latest + window + dt.timedelta(hours=1), org.stop - dt.timedelta(days=2))
        t = earliest + org.minutes(0, 900)
        if t < org.stop - dt.timedelta(hours=1) and quiet(name, t):
            org.incident(name, t, "sev3")["title"] = f"Intermittent timeouts from a provider in {name}"
            break
    for name in ("cart", "checkout", "web", "api-gateway"):
        latest = max(finishes[name], default=org.start)
        if latest > org.stop - dt.timedelta(days=7) and latest + dt.timedelta(hours=2) < org.stop:
            org.incident(name, latest + org.minutes(10, 60), "sev2")
            break


def frames(org: Org) -> dict[str, pd.DataFrame]:
    deployments = sorted(org.deployments, key=lambda d: (d["started_at"], d["service"], d["deployment_id"]))
    ids = {d["deployment_id"]: str(100001 + i) for i, d in enumerate(deployments)}  # ids grow with time
    for d in deployments:
        d["deployment_id"] = ids[d["deployment_id"]]
    incidents = sorted(org.incidents, key=lambda i: (i["created_at"], i["service"]))
    for i, incident in enumerate(incidents):
        incident["incident_id"] = f"INC-{i + 1:04d}"
        if incident["deployment_id"] is not None:
            incident["deployment_id"] = ids[incident["deployment_id"]]
    # the deploy pipeline runs alongside the CI ones: one run per deployment attempt
    runs = org.runs + [
        {"service": d["service"], "pipeline": "deploy", "branch": "main", "commit_sha": d["commit_sha"],
         "started_at": d["started_at"], "finished_at": d["finished_at"], "status": d["status"]}
        for d in deployments
    ]  # fmt: skip
    runs.sort(key=lambda r: (r["started_at"], r["service"], r["pipeline"], r["commit_sha"]))
    for i, run in enumerate(runs):
        run["run_id"] = str(9000001 + i)
    prs, pr_commits = [], []
    for repo, pr in sorted(org.prs, key=lambda p: (p[0], p[1].number)):
        prs.append(
            {"repo": repo, "number": pr.number, "title": pr.title, "author": pr.author,
             "created_at": pr.created_at, "first_commit_at": pr.first_commit_at,
             "first_review_at": pr.first_review_at, "merged_at": pr.merged_at,
             "merge_commit_sha": pr.merge_commit_sha, "head_branch": pr.head_branch, "base_branch": "main",
             "labels": pr.labels}
        )  # fmt: skip
        for sha in [b[0] for b in pr.branch] + pr.landed:  # a rebase merge lists the shas that landed too
            pr_commits.append({"repo": repo, "number": pr.number, "sha": sha})
    services = [
        {"service": s.name, "repo": f"acme/{s.repo}", "team": _team(s), "paths": []} for s in SERVICES
    ]
    tables = {
        "services": services,
        "commits": sorted(org.commits, key=lambda c: (c["repo"], c["committed_at"], c["sha"])),
        "commit_files": [],  # one service per repository: no service needs the files of its commits
        "pull_requests": prs,
        "pull_request_commits": pr_commits,
        "deployments": deployments,
        "pipeline_runs": runs,
        "incidents": incidents,
    }
    return {name: _frame(name, rows) for name, rows in tables.items()}


def _frame(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[c.name for c in TABLE_BY_NAME[name].columns])
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    if "number" in frame:
        frame["number"] = frame["number"].astype("int64")
    return frame


def _team(service: Service) -> str:
    return next(r.team for r in REPOS if r.name == service.repo)
