"""Workflow runs: pipeline runs always, deployments in `workflow-runs` mode.

A run is a deployment when its workflow matches, it ran the repository's own code (not a pull request
from a fork), from an event that deploys (`deploy_events`), and, for a push or a schedule, on the deploy
branch. The runs list gives only a run's latest attempt: the earlier attempts of a re-run are asked from
the attempts endpoint, each one a pipeline run and, where the run deploys, a deployment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

from collectors.base import CollectorError, parse_ts
from collectors.github import rows
from collectors.github.client import RESOURCES
from collectors.github.scope import RepoScope
from collectors.github.settings import ServiceRule
from warehouse.batch import Batch, Record


class RunSteps(RepoScope):
    def deploy_rule(self, run: dict[str, Any]) -> ServiceRule | None:
        """The service a run deploys, None when it is not a deployment."""
        if self.repo.deployments != "workflow-runs":
            return None
        name, file = run.get("name") or "", rows.workflow_file(run)
        pattern = re.compile(self.repo.workflow)
        if not (isinstance(name, str) and (pattern.search(name) or pattern.search(file))):
            return None
        branch = self.repo.branch or self.default_branch
        if not rows.deploys(run, self.name, self.repo.deploy_events, branch):
            return None
        return rows.service_for(self.repo, workflow=name) or rows.service_for(self.repo, workflow=file)

    def run_rows(self, batch: Batch, run: dict[str, Any], pending: dict[str, Any]) -> str | None:
        ident = str(run.get("id"))
        try:
            status = rows.run_status(run)
            if status is None:
                pending[ident] = pending.get(ident) or {"etag": None}
                return None
            pending.pop(ident, None)
            deploy_rule = self.deploy_rule(run)
            rule = deploy_rule or self.repo.services[0]
            batch.add_rows("pipeline_runs", [rows.pipeline_run_row(self.name, rule.name, run, status)])
            if deploy_rule is not None and status in ("success", "failure"):
                row = rows.run_deployment_row(self.name, deploy_rule.name, run, status, self.repo.environment)
                batch.add_rows("deployments", [row])
                if status == "success" and self.in_production(self.repo.environment):
                    return "production"
        except rows.MALFORMED as exc:
            self.quarantine(batch, "workflow_runs", ident, rows.malformed(exc, run), run)
            return "quarantined"
        return status

    def attempts(self, batch: Batch, run: dict[str, Any], fetched: dict[str, Any]) -> None:
        """The earlier attempts of a re-run (the list shows only the latest), each asked once: `fetched`
        records, per run, the attempts already collected."""
        ident, latest = str(run.get("id")), run.get("run_attempt") or 1
        if not isinstance(latest, int) or rows.run_status(run) is None:
            return
        done = int((fetched.get(ident) or [0])[0])
        for attempt in range(done + 1, latest):
            url = f"/repos/{self.name}/actions/runs/{ident}/attempts/{attempt}"
            earlier = self.http.get_object(url, f"attempt {attempt} of workflow run {ident}").data
            batch.add_raw("workflow_runs", [Record(f"{self.name}:{ident}:{attempt}", earlier)])
            self.run_rows(batch, earlier, {})
        fetched[ident] = [max(done, latest), run.get("created_at")]

    def workflow_runs(self, optional: bool = False) -> None:
        resource = RESOURCES["workflow_runs"]
        resource = replace(resource, lookback_hours=self.settings.runs_lookback_hours)
        try:
            self.pending_runs()
            for page in self.http.walk(resource, self.cursor(resource.entity)):
                state = self.cursor("workflow_runs")
                pending = dict(state.get("pending") or {})
                fetched = dict(state.get("attempts") or {})
                batch = Batch(self.name, "workflow_runs")
                batch.add_raw("workflow_runs", [Record(f"{self.name}:{r.get('id')}", r) for r in page.items])
                stop = False
                for run in page.items:
                    outcome = self.run_rows(batch, run, pending)
                    self.attempts(batch, run, fetched)
                    created = parse_ts(run.get("created_at"))
                    baseline = outcome == "production" or self.repo.deployments != "workflow-runs"
                    if self.stops_walk(created, baseline):
                        stop = True
                        break
                cursor = page.done_state if stop else page.state
                batch.cursor = {**cursor, "pending": pending, "attempts": self.recent(fetched, cursor)}
                self.write(batch)
                if stop:
                    break
        except CollectorError as exc:
            # Actions may be disabled, or the token lacks Actions: read; CI health is optional then
            if optional and ("(404)" in str(exc) or "(403" in str(exc)):
                self.stats.warnings.append(f"workflow runs skipped: {exc}")
                return
            raise

    def recent(self, fetched: dict[str, Any], cursor: dict[str, Any]) -> dict[str, Any]:
        """The attempts record, without the runs too old to be listed again (beyond the lookback)."""
        mark = parse_ts(cursor.get("mark"))
        if mark is None:
            return fetched
        oldest = mark - dt.timedelta(hours=self.settings.runs_lookback_hours + 24)
        return {k: v for k, v in fetched.items() if (parse_ts(v[1]) or mark) >= oldest}

    def pending_runs(self) -> None:
        self.recheck("workflow_runs", self.pending_run)

    def pending_run(self, batch: Batch, ident: str, entry: dict[str, Any], pending: dict[str, Any]) -> None:
        url, what = f"/repos/{self.name}/actions/runs/{ident}", f"workflow run {ident}"
        response = self.http.get_object(url, what, etag=entry.get("etag"))
        if response.status == 304:
            return
        batch.add_raw("workflow_runs", [Record(f"{self.name}:{ident}", response.data)])
        self.run_rows(batch, response.data, pending)
        # the cursor `recheck` writes is this dict: the attempts record goes with it
        self.attempts(batch, response.data, self.cursor("workflow_runs").setdefault("attempts", {}))
        if ident in pending:
            pending[ident] = {"etag": response.etag}
