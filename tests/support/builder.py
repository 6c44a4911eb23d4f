"""A small builder of CSV bundles for rule-by-rule tests, and a way to get the metrics out of one."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import defaultdict
from pathlib import Path

from tests.support.warehouses import import_and_transform
from warehouse import db
from warehouse.metric_settings import MetricsSettings
from warehouse.metrics import Scope, compute, explain
from warehouse.schema import TABLE_BY_NAME


def sha(name: str) -> str:
    """A stable 40-digit sha for a readable commit name."""
    return hashlib.sha1(name.encode()).hexdigest()


def at(day: int, hour: float = 0, month: int = 3) -> str:
    """An ISO timestamp in March 2026 (UTC) by day and (fractional) hour."""
    base = dt.datetime(2026, month, day, tzinfo=dt.UTC) + dt.timedelta(hours=hour)
    return base.isoformat().replace("+00:00", "Z")


class Bundle:
    def __init__(self, service: str = "svc", repo: str = "acme/svc", team: str = "team") -> None:
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.repo = repo
        self.add_service(service, repo, team)
        self.default_service = service

    def add_service(self, service: str, repo: str, team: str = "") -> Bundle:
        self.rows["services"].append({"service": service, "repo": repo, "team": team})
        return self

    def commit(
        self,
        name: str,
        parents: tuple[str, ...] = (),
        when: str | None = None,
        message: str | None = None,
        repo: str | None = None,
    ) -> str:
        self.rows["commits"].append(
            {
                "repo": repo or self.repo,
                "sha": sha(name),
                "parents": " ".join(sha(p) for p in parents),
                "authored_at": when or at(1),
                "committed_at": when or at(1),
                "author": "dev",
                "message": message if message is not None else name,
            }
        )
        return sha(name)

    def chain(self, *names: str, start: str | None = None, when: str | None = None) -> None:
        """Commits one after the other, each the parent of the next."""
        parent = start
        for name in names:
            self.commit(name, (parent,) if parent else (), when=when)
            parent = name

    def pr(
        self,
        number: int,
        merge_commit: str | None,
        commits: tuple[str, ...] = (),
        *,
        created: str | None = None,
        first_commit: str | None = "",
        review: str | None = "",
        merged: str | None = None,
        labels: str = "",
        head: str = "feature/x",
        title: str | None = None,
        repo: str | None = None,
    ) -> None:
        self.rows["pull_requests"].append(
            {
                "repo": repo or self.repo,
                "number": number,
                "title": title or f"PR {number}",
                "author": "dev",
                "created_at": created or at(1),
                "first_commit_at": first_commit or "",
                "first_review_at": review or "",
                "merged_at": merged or "",
                "merge_commit_sha": sha(merge_commit) if merge_commit else "",
                "head_branch": head,
                "base_branch": "main",
                "labels": labels,
            }
        )
        for c in commits:
            self.rows["pull_request_commits"].append(
                {"repo": repo or self.repo, "number": number, "sha": sha(c)}
            )

    def deploy(
        self,
        deployment_id: str,
        commit: str,
        when: str,
        env: str = "production",
        status: str = "success",
        tier: str = "",
        service: str | None = None,
        raw_sha: str | None = None,
    ) -> None:
        self.rows["deployments"].append(
            {
                "deployment_id": deployment_id,
                "service": service or self.default_service,
                "environment": env,
                "commit_sha": raw_sha or sha(commit),
                "started_at": when,
                "finished_at": when,
                "status": status,
                "environment_tier": tier,
            }
        )

    def incident(
        self,
        incident_id: str,
        created: str,
        resolved: str | None = None,
        deployment_id: str = "",
        commit_sha: str = "",
        service: str | None = None,
        severity: str = "sev2",
    ) -> None:
        self.rows["incidents"].append(
            {
                "incident_id": incident_id,
                "service": service or self.default_service,
                "title": incident_id,
                "severity": severity,
                "created_at": created,
                "resolved_at": resolved or "",
                "deployment_id": deployment_id,
                "commit_sha": commit_sha,
            }
        )

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, rows in self.rows.items():
            columns = [c.name for c in TABLE_BY_NAME[name].columns]
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                for row in rows:
                    writer.writerow({c: row.get(c, "") for c in columns})
        return folder


class Result:
    """The metrics of a bundle, loaded into a fresh warehouse."""

    def __init__(self, path: Path, settings: MetricsSettings) -> None:
        self.path, self.settings = path, settings

    def metrics(self, start: str, end: str, group_by: str = "service", **filters) -> dict[str, dict]:
        scope = Scope(dt.date.fromisoformat(start), dt.date.fromisoformat(end), group_by, **filters)
        with db.read(self.path) as con:
            return {g["group"]: g for g in compute(con, scope, self.settings.tiers)}

    def rows(self, metric: str, start: str = "2026-01-01", end: str = "2026-12-31") -> list[dict]:
        scope = Scope(dt.date.fromisoformat(start), dt.date.fromisoformat(end))
        with db.read(self.path) as con:
            return explain(con, metric, scope).to_dict("records")

    def deployments(self) -> dict[str, dict]:
        with db.read(self.path) as con:
            frame = con.execute("select * from marts.deployments").df()
        return {r["deployment_id"]: r for r in frame.to_dict("records")}

    def shipped(self) -> dict[str, set[str]]:
        with db.read(self.path) as con:
            rows = con.execute(
                "select deployment_id, sha from marts.deployment_reach where is_shipped"
            ).fetchall()
        out: dict[str, set[str]] = defaultdict(set)
        for deployment_id, commit in rows:
            out[deployment_id].add(commit)
        return out


def load_bundle(bundle: Bundle, tmp_path: Path, **settings) -> Result:
    folder = bundle.write(tmp_path / "bundle")
    path = tmp_path / "w.duckdb"
    chosen = MetricsSettings().replaced(**settings)
    import_and_transform(path, folder, settings=chosen)
    return Result(path, chosen)


def linear_bundle_for_config() -> Bundle:
    """Two deployments to production and one to `live`, for settings tests."""
    b = Bundle()
    b.chain("c0", "c1", "c2", when=at(1))
    b.deploy("D1", "c0", at(2))
    b.deploy("D2", "c1", at(3))
    b.deploy("L1", "c2", at(4), env="live")
    return b
