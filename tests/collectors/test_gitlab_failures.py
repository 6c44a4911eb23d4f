"""Rate limits, server errors, fatal answers, TLS and kill -9, served by the fake to the real python-gitlab.

Waits are short because the fake asks for short ones (Retry-After: 1), not because anything is mocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.collect import GITLAB_PROJECT as PATH
from tests.support.collect import TOKEN, rows, snapshot
from tests.support.collect import run_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, load_fixture
from tests.support.fake_http import self_signed_cert


@pytest.fixture
def fake():
    with FakeGitLab([load_fixture("acme-checkout")]) as server:
        yield server


def statuses(fake: FakeGitLab, pattern: str) -> list[int]:
    return [r.status for r in fake.requests(pattern)]


def test_429_with_retry_after_is_waited_out(fake: FakeGitLab, warehouse: Path) -> None:
    fake.fail(r"/deployments\?", 429, {"message": "Retry later"}, {"Retry-After": "1"})
    result = run(fake, warehouse)
    assert result.errors == {}
    first, second = fake.requests(r"/deployments\?")[:2]
    assert (first.status, second.status) == (429, 200) and second.at - first.at >= 0.9
    assert rows(warehouse, "select count(*) from core.deployments") == [(7,)]


def test_429_with_ratelimit_reset_is_waited_out(fake: FakeGitLab, warehouse: Path) -> None:
    reset = int(time.time()) + 1
    fake.fail(r"/merge_requests\?", 429, {"message": "Retry later"}, {"RateLimit-Reset": str(reset)})
    assert run(fake, warehouse).errors == {}
    assert statuses(fake, r"/merge_requests\?")[:2] == [429, 200]
    assert fake.requests(r"/merge_requests\?")[1].at >= reset - 0.05


def test_a_5xx_is_retried_then_succeeds(fake: FakeGitLab, warehouse: Path) -> None:
    fake.fail(r"/merge_requests/2/notes", 502, b"<html>502 Bad Gateway</html>", times=2)
    assert run(fake, warehouse).errors == {}
    assert statuses(fake, r"/merge_requests/2/notes\?")[:3] == [502, 502, 200]
    assert rows(warehouse, "select first_review_at is not null from core.pull_requests where number = 2") == [
        (True,)
    ]


def test_a_server_that_keeps_failing_stops_the_project_and_keeps_what_was_fetched(
    fake: FakeGitLab, warehouse: Path
) -> None:
    fake.fail(r"/merge_requests\?", 503, {"message": "503 Service Unavailable"}, times=50)
    result = run(fake, warehouse, retries=2)
    assert "GitLab keeps failing (503) after 2 retries" in result.errors[PATH]
    assert statuses(fake, r"/merge_requests\?") == [503, 503, 503]  # the first try and 2 retries
    # deployments and commits came before and are saved, with their cursors: the next run goes on from there
    assert rows(warehouse, "select count(*) from core.deployments") == [(7,)]
    assert rows(warehouse, "select count(*) from raw.cursors where entity = 'deployments'") == [(1,)]


def test_a_rejected_token_stops_everything_and_is_not_printed(fake: FakeGitLab, warehouse: Path) -> None:
    result = run(fake, warehouse, token="glpat-wrong-token-1234")
    (message,) = result.errors.values()
    assert "GITLAB_TOKEN was rejected" in message and "read_api" in message
    assert "glpat" not in message and "1234" not in message


def test_forbidden_and_missing_projects_name_the_scope_and_the_others_go_on(
    fake: FakeGitLab, warehouse: Path
) -> None:
    fake.fail(r"/projects/42/pipelines", 403, {"message": "403 Forbidden"})
    result = run(fake, warehouse, projects=[PATH, "acme/gone"])
    assert "acme/gone: project: not found (404)" in result.errors["acme/gone"]
    assert "read_api" in result.errors["acme/gone"]
    assert "pipelines: forbidden (403)" in result.errors[PATH] and "Reporter" in result.errors[PATH]
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]


def test_https_with_a_private_ca(tmp_path: Path, warehouse: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    with FakeGitLab([load_fixture("acme-checkout")], tls=(cert, key)) as fake:
        untrusted = run(fake, warehouse)  # at once, not after 10 retries
        assert "--ca-bundle" in untrusted.errors[PATH]
        trusted = run(fake, warehouse, ca_bundle=str(cert))
    assert trusted.errors == {}
    assert rows(warehouse, "select count(*) from core.deployments") == [(7,)]


def test_killed_mid_run_resumes_without_gap_or_duplicate(
    fake: FakeGitLab, warehouse: Path, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.duckdb"
    run(fake, reference)
    whole_run = len(fake.requests())
    fake.reset_log()
    command = [sys.executable, "-m", "doralytics", "-w", str(warehouse), "collect", "gitlab"]
    command += ["--project", PATH, "--url", fake.url]
    config = tmp_path / "dora.toml"
    config.write_text("[gitlab]\nper_page = 2\n")
    env = {**os.environ, "GITLAB_TOKEN": TOKEN, "DORA_CONFIG": str(config)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_after(count: int) -> None:
        if count == 14:  # in the middle of the merge requests' details
            os.kill(process.pid, signal.SIGKILL)

    fake.on_request = kill_after
    process.wait(timeout=60)
    fake.on_request = None
    assert process.returncode == -signal.SIGKILL
    assert len(fake.requests()) >= 14
    fake.reset_log()
    resumed = run(fake, warehouse)
    assert resumed.errors == {}
    # what the killed run wrote was kept (its cursors): the resumed run did not start over
    assert len(fake.requests()) < whole_run
    assert snapshot(warehouse) == snapshot(reference)
    for table in ("deployments", "merge_requests", "commits"):
        assert rows(warehouse, f"select count(*) - count(distinct key) from raw.gitlab__{table}") == [(0,)]
