"""Two sources, one service: GitLab deploys `checkout`, PagerDuty pages for it. Run through the `dora`
command line (in-process) against the fakes; the metrics are checked against values worked out by hand.

GitLab (tests/fixtures/gitlab/acme-checkout; its own incidents switched off in dora.toml, since a service
takes its incidents from one source), successful production deployments:
  201 03-02 12:00 production (baseline)   202 03-02 16:00 ships !2      204 03-02 18:30 ships hotfix !3
  208 03-03 10:00 live-eu (baseline)      209 03-03 11:00 ships d1
PagerDuty (tests/fixtures/pagerduty), incidents of checkout:
  PT1CHK1 "Checkout"                03-02 16:30 -> 18:45
  PT2LEG2 "Legacy Checkout Worker"  03-03 10:30 -> 12:30 (from its log; a note moved updated_at to 03-05)
  PT4CHK4 "Checkout"                03-03 11:30 -> still open
  (PT3PAY3 of "Payments API" belongs to no service of ours: kept raw, reported)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from doralytics.cli import app
from tests.support.fake_gitlab import FakeGitLab
from tests.support.fake_gitlab import load_fixture as gitlab_fixture
from tests.support.fake_http import self_signed_cert
from tests.support.fake_pagerduty import load_fixture as pagerduty_fixture

CONFIG = """
[gitlab]
per_page = 2
[gitlab.project."acme/platform/checkout"]
incidents = false

[pagerduty]
backoff = 0.01
[[pagerduty.services]]
name = '(?i)checkout worker'
service = "checkout"
"""


def test_gitlab_deployments_with_pagerduty_incidents(tmp_path: Path) -> None:
    tls = self_signed_cert(tmp_path)
    warehouse, config = tmp_path / "w.duckdb", tmp_path / "dora.toml"
    config.write_text(CONFIG)
    runner = CliRunner()
    base = ["--warehouse", str(warehouse), "--config", str(config)]
    env = {"GITLAB_TOKEN": "test-token", "PAGERDUTY_TOKEN": "test-token"}
    with FakeGitLab([gitlab_fixture("acme-checkout")]) as gitlab, pagerduty_fixture(tls=tls) as pagerduty:
        command = ["collect", "gitlab", "--project", "acme/platform/checkout", "--url", gitlab.url]
        result = runner.invoke(app, [*base, *command, "--format", "json"], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)[0]["status"] == "ok"
        command = ["collect", "pagerduty", "--api-url", pagerduty.url, "--ca-bundle", str(tls[0])]
        result = runner.invoke(app, [*base, *command, "--since", "2026-03-01", "--format", "json"], env=env)
        assert result.exit_code == 0, result.output
        assert "1 incidents of PagerDuty service Payments API (PPAY002) belong to no service" in result.stderr
    result = runner.invoke(
        app, [*base, "metrics", "--from", "2026-03-02", "--to", "2026-03-08", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    (got,) = json.loads(result.stdout)["groups"]
    assert got["group"] == "checkout"
    assert (got["deployments"], got["baseline_deployments"]) == (5, 2)
    # lead time is GitLab's alone: 4 h (!2), 1 h (!3), 2 h (d1)
    assert (got["changes"], got["lead_time_median_hours"]) == (3, 2.0)
    # each incident goes to the latest production deployment before it, across production environments:
    # PT1CHK1 -> 202, PT2LEG2 -> 208 (live-eu, 10:00), PT4CHK4 -> 209: three of five failed
    assert got["failed_deployments"] == 3 and got["change_failure_rate"] == pytest.approx(0.6)
    # 202: 16:00 -> 18:45 = 2.75 h; 208: 10:00 -> 12:30 = 2.5 h; 209 is unrecovered
    assert got["recovery_time_median_hours"] == pytest.approx(2.625)
    assert got["unrecovered_failures"] == 1
    # 204 ships the hotfix during PT1CHK1; 209 is the first deployment during PT2LEG2 (10:30 - 12:30)
    assert got["unplanned_deployments"] == 2 and got["rework_rate"] == pytest.approx(0.4)
    # incident durations: 2.25 h and 2 h (not 45.5 h from updated_at)
    assert got["incident_mttr_median_hours"] == pytest.approx(2.125)
    assert got["unattributed_incidents"] == 0
