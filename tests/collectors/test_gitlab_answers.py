"""Answers the GitLab collector cannot use (issue 12): a 200 that is not JSON, the wrong shape, nulls,
absurd nesting, a huge body; and a proxy that fails. Each is served by the fake to the real python-gitlab:
it is reported for its project and endpoint, the other endpoints go on, and `dora collect` still rebuilds
the metrics.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.collect import GITLAB_PROJECT as PATH
from tests.support.collect import TOKEN, rows
from tests.support.collect import run_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, load_fixture


@pytest.fixture
def fake():
    with FakeGitLab([load_fixture("acme-checkout")]) as server:
        yield server


DEEP = b"[" * 100_000 + b"]" * 100_000  # past Python's recursion limit
NESTED = json.dumps([{"id": 1, "x": json.loads("[" * 100 + "]" * 100)}]).encode()  # parses, too deep


@pytest.mark.parametrize(
    ("endpoint", "body", "reason"),
    [
        (r"/pipelines\?", b"<html><body>Maintenance</body></html>", "not JSON (37 bytes: '<html>"),
        (r"/pipelines\?", b"", "not JSON (0 bytes"),
        (r"/merge_requests\?", {"message": "ok"}, "dict where a list was expected"),
        (r"/issues\?", b"null", "null where a list was expected"),
        (r"/pipelines\?", DEEP, "nested deeper than 64 levels"),
        (r"/pipelines\?", NESTED, "nested deeper than 64 levels"),
        (r"/pipelines\?", json.dumps([{"id": n, "pad": "x" * 1000} for n in range(100)]).encode(),
         "0.1 MiB, more than the 0.05 MiB accepted (gitlab.max_answer_mb)"),
    ],
)  # fmt: skip
def test_an_unusable_answer_is_reported_for_its_endpoint_and_the_rest_goes_on(
    fake: FakeGitLab, warehouse: Path, endpoint: str, body: object, reason: str
) -> None:
    fake.fail(endpoint, 200, body, times=100)
    result = run(fake, warehouse, max_answer_mb=0.05 if "MiB" in reason else 64)
    message = result.errors[PATH]
    what = {"/pipelines": "pipelines", "/merge_requests": "merge requests", "/issues": "incidents"}
    assert f"{PATH}: {what[endpoint.split(chr(92))[0]]}: unusable answer from GitLab: {reason}" in message
    # the other endpoints of the project went on: deployments, commits and incidents or MRs are saved
    assert rows(warehouse, "select count(*) from core.deployments") == [(7,)]
    assert rows(warehouse, "select count(*) from core.commits") == [(6,)]
    if "merge_requests" not in endpoint:
        assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]
    if "pipelines" not in endpoint:
        assert rows(warehouse, "select count(*) from core.pipeline_runs") == [(3,)]


def test_nulls_and_wrong_types_inside_a_list_are_quarantined(fake: FakeGitLab, warehouse: Path) -> None:
    project = fake.projects[PATH]
    incidents = [i for i in project.issues if i["type"] == "INCIDENT"]
    odd = {**incidents[0], "iid": 13, "severity": 5, "labels": "S1"}
    fake.fail(r"/issues\?", 200, [None, "an incident", odd, *incidents], times=1)
    fake.fail(r"/merge_requests/2/notes", 200, b"<html>oops</html>", times=10)
    result = run(fake, warehouse)
    assert result.errors == {}
    quarantined = rows(warehouse, "select entity, key, problem from raw.gitlab__quarantine order by all")
    assert quarantined == [
        ("issues", "13", f"issues 13 of {PATH}: unusable field (AttributeError: 'int' object has no "
                         "attribute 'lower')"),
        ("issues", "unusable:6eef6648406c", f"issues of {PATH}: not an object (NoneType)"),
        ("issues", "unusable:c6829ff3c869", f"issues of {PATH}: not an object (str)"),
        ("merge_requests", "2", f"{PATH}: merge request !2 notes: unusable answer from GitLab: not JSON "
                                "(17 bytes: '<html>oops</html>')"),
    ]  # fmt: skip
    assert rows(warehouse, "select count(*) from core.incidents") == [(2,)]
    assert rows(warehouse, "select number from core.pull_requests order by 1") == [(1,), (3,)]


def test_collect_reports_the_endpoint_and_still_rebuilds_the_metrics(
    fake: FakeGitLab, warehouse: Path, tmp_path: Path
) -> None:
    fake.fail(r"/pipelines\?", 200, b"<html>proxy login</html>", times=100)
    config = tmp_path / "dora.toml"
    config.write_text("[gitlab]\nper_page = 2\nretries = 1\n")
    env = {**os.environ, "GITLAB_TOKEN": TOKEN, "DORA_CONFIG": str(config)}
    command = [sys.executable, "-m", "doralytics", "-w", str(warehouse), "collect", "gitlab"]
    done = subprocess.run(
        [*command, "--project", PATH, "--url", fake.url], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{PATH}: pipelines: unusable answer from GitLab: not JSON" in " ".join(done.stderr.split())
    assert "metrics rebuilt" in done.stderr + done.stdout
    # the transform ran over what the other endpoints gave
    assert rows(warehouse, "select count(*) from marts.deployments") == [(5,)]  # 5 to production


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_proxy_that_fails_stops_at_once_and_says_what_to_check(
    fake: FakeGitLab, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    result = run(fake, warehouse)
    assert time.monotonic() - started < 5  # not python-gitlab's ten retries with backoff (100 s)
    message = result.errors[PATH]
    assert "the proxy (HTTPS_PROXY / HTTP_PROXY) refused or cannot be reached" in message
    assert "--ca-bundle" in message
    assert not fake.requests()  # nothing reached the server
