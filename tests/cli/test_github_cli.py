"""`dora collect github` as users run it: a subprocess, dora.toml, GITHUB_TOKEN; kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.collect import rows, snapshot
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, load_fixture

TOKEN = "ghp_secretvalue0123456789"


def config(tmp_path: Path, fake: FakeGitHub, extra: str = "") -> Path:
    path = tmp_path / "dora.toml"
    path.write_text(
        f"""
[github]
api_url = "{fake.url}"
repos = ["acme/checkout"]
per_page = 2
retries = 2
backoff = 0.01
secondary_rate_wait = 0.2
{extra}
"""
    )
    return path


def start_dora(warehouse: Path, toml: Path, *args: str, token: str | None = TOKEN) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "doralytics", "--warehouse", str(warehouse), "--config", str(toml), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, errors = process.communicate(timeout=120)
    return process.returncode, out, errors


@pytest.fixture
def fake():
    with FakeGitHub([load_fixture("acme-checkout")], token=TOKEN) as server:
        yield server


def test_collect_then_metrics(fake: FakeGitHub, warehouse: Path, tmp_path: Path) -> None:
    toml = config(tmp_path, fake)
    code, out, errors = finish(start_dora(warehouse, toml, "collect", "github", "--format", "json"))
    assert code == 0, errors
    (summary,) = json.loads(out)
    assert summary["repo"] == "acme/checkout" and summary["status"] == "ok" and summary["requests"] > 30
    assert TOKEN not in out + errors
    code, out, errors = finish(
        start_dora(
            warehouse, toml, "metrics", "--from", "2026-03-02", "--to", "2026-03-08", "--format", "json"
        )
    )
    (group,) = json.loads(out)["groups"]
    assert (group["group"], group["deployments"], group["changes"], group["failed_deployments"]) == (
        "checkout",
        7,
        5,
        2,
    )


def test_dry_run_writes_nothing(fake: FakeGitHub, warehouse: Path, tmp_path: Path) -> None:
    toml = config(tmp_path, fake, 'deployments = "workflow-runs"\nworkflow = "deploy"')
    code, out, errors = finish(start_dora(warehouse, toml, "collect", "github", "--dry-run"))
    assert code == 0, errors
    assert "4 runs of deploy.yml (3 successful, 1 failed) on branch main" in " ".join(out.split())
    assert not warehouse.exists()


def test_without_a_token(fake: FakeGitHub, warehouse: Path, tmp_path: Path) -> None:
    code, _, errors = finish(start_dora(warehouse, config(tmp_path, fake), "collect", "github", token=None))
    assert code == 2 and "GITHUB_TOKEN is not set" in errors


def test_a_rejected_token_is_reported_without_showing_it(fake: FakeGitHub, warehouse: Path, tmp_path: Path):
    code, out, errors = finish(
        start_dora(warehouse, config(tmp_path, fake), "collect", "github", token="ghp_wrongwrongwrong")
    )
    assert code == 1 and "GITHUB_TOKEN was rejected" in errors
    assert "ghp_wrong" not in out + errors


def test_bad_setting_names_the_key(fake: FakeGitHub, warehouse: Path, tmp_path: Path) -> None:
    code, _, errors = finish(
        start_dora(warehouse, config(tmp_path, fake, 'deployments = "tags"'), "collect", "github")
    )
    assert code == 2 and "github.deployments: expected one of" in errors


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """What an uninterrupted run stores."""
    warehouse = tmp_path_factory.mktemp("reference") / "w.duckdb"
    with FakeGitHub([load_fixture("acme-checkout")]) as fake:
        run(fake, warehouse)
    return snapshot(warehouse)


@pytest.mark.parametrize("kill_at", [4, 17, 38])
def test_kill_9_mid_run_then_resume(reference: dict, warehouse: Path, tmp_path: Path, kill_at: int) -> None:
    with FakeGitHub([load_fixture("acme-checkout")], token=TOKEN, latency=0.005) as fake:
        toml = config(tmp_path, fake)
        process = start_dora(warehouse, toml, "collect", "github")

        def kill(count: int) -> None:
            if count == kill_at:
                os.kill(process.pid, signal.SIGKILL)

        fake.on_request = kill
        code, _, _ = finish(process)
        assert code == -signal.SIGKILL
        first = len(fake.requests())
        fake.on_request = None
        code, _, errors = finish(start_dora(warehouse, toml, "collect", "github"))
        assert code == 0, errors
        second = len(fake.requests()) - first
    assert snapshot(warehouse) == reference  # no gap, no duplicate
    assert rows(warehouse, "select count(*) - count(distinct key) from raw.github__pulls") == [(0,)]
    # resumed where it stopped, not from scratch (a whole run is about 40 requests)
    assert first + second <= 40 + 12


def test_a_bad_answer_is_reported_the_rest_collected_and_the_metrics_rebuilt(
    fake: FakeGitHub, warehouse: Path, tmp_path: Path
) -> None:
    fake.fail(r"/pulls$", 200, b"<html><body>Please sign in to the proxy</body></html>")
    toml = config(tmp_path, fake)
    code, out, errors = finish(start_dora(warehouse, toml, "collect", "github"))
    assert code == 1
    assert "acme/checkout: pulls list: the answer is not JSON" in " ".join(errors.split())
    assert "Traceback" not in errors
    code, out, _ = finish(
        start_dora(
            warehouse, toml, "metrics", "--from", "2026-03-02", "--to", "2026-03-08", "--format", "json"
        )
    )
    (group,) = json.loads(out)["groups"]
    assert code == 0 and group["deployments"] == 7  # the deployments were collected and transformed


def test_narrowing_the_releases_says_how_many_deployments_were_removed(
    fake: FakeGitHub, warehouse: Path, tmp_path: Path
) -> None:
    toml = config(tmp_path, fake, 'deployments = "releases"')
    assert finish(start_dora(warehouse, toml, "collect", "github"))[0] == 0
    toml = config(tmp_path, fake, 'deployments = "releases"\nexclude_tags = ["v1.0.*", "v1.1.*"]')
    code, _, errors = finish(start_dora(warehouse, toml, "collect", "github"))
    assert code == 0, errors
    assert "2 release deployments removed" in " ".join(errors.split())
    assert rows(warehouse, "select deployment_id from core.deployments") == [("github:release:705",)]
