"""Answers the collector cannot use (issue 12): reported for their repository and endpoint while the rest
is collected; TLS and proxy failures fail fast with advice, not after minutes of retries as a raw chain."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.collect import metrics, rows
from tests.support.collect import run_github as run
from tests.support.fake_github import FakeGitHub, load_fixture

REPO = "acme/checkout"


@pytest.fixture
def fake():
    with FakeGitHub([load_fixture("acme-checkout")]) as server:
        yield server


def counts(warehouse: Path) -> tuple[int, int, int]:
    (found,) = rows(
        warehouse,
        "select (select count(*) from core.deployments), (select count(*) from core.incidents),"
        " (select count(*) from core.commits)",
    )
    return found


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        (
            r"/pulls$",
            b"<html><body>Sign in to the proxy</body></html>",
            "pulls list: the answer is not JSON",
        ),
        (r"/pulls$", {"message": "hello"}, "pulls list: expected the list to be a list, got an object"),
        (r"/pulls$", [None, 3], "pulls list: expected the list to hold objects, item 0 is NoneType"),
        (r"/pulls$", b"[" * 200_000 + b"]" * 200_000, "pulls list: the answer is nested too deeply"),
        (
            r"/actions/runs$",
            {"total_count": 1, "workflow_runs": "x"},
            "workflow_runs list: expected the list",
        ),
        (r"/branches/main", [1, 2], "branch main: expected an object, got a list"),
        (r"/pulls/1/reviews", "null?", "reviews of PR #1: the answer is not JSON"),
    ],
)
def test_an_answer_that_cannot_be_used_is_reported_and_the_rest_is_collected(
    fake: FakeGitHub, warehouse: Path, path: str, body: object, said: str
) -> None:
    fake.fail(path, 200, body if not isinstance(body, str) else body.encode())
    result = run(fake, warehouse)
    message = result.errors[REPO]
    assert "could not be used" in message and f"{REPO}: " in message and said in message, message
    assert "Traceback" not in message
    deployments, incidents, _ = counts(warehouse)
    assert (deployments, incidents) == (10, 2)  # the steps after it went on
    assert metrics(warehouse)["deployments"] > 0  # and the transform runs on what was collected
    fake.reset_log()
    assert run(fake, warehouse).errors == {}  # the next run gets past it: the answer is asked again


def test_nulls_inside_objects_are_quarantined_not_a_crash(fake: FakeGitHub, warehouse: Path) -> None:
    repo = fake.repos[REPO]
    first = next(i for i, pr in enumerate(repo.pulls) if pr["number"] == 1)
    repo.pulls[first] = {**repo.pulls[first], "labels": [None, 7], "user": None}
    repo.issues[0] = {**repo.issues[0], "created_at": 12}
    repo.statuses[101] = [{"id": 1010, "state": ["success"], "created_at": "2026-03-02T12:00:00Z"}]
    result = run(fake, warehouse)
    assert result.errors == {}
    problems = rows(warehouse, "select entity, problem from raw.github__quarantine order by 1")
    assert [entity for entity, _ in problems] == ["deployment_statuses", "issues", "pulls"]
    assert all("malformed" in problem for _, problem in problems)


def test_a_huge_answer_is_reported_not_decoded(fake: FakeGitHub, warehouse: Path) -> None:
    fake.fail(r"/issues$", 200, [{"number": n, "title": "x" * 1000} for n in range(3000)])
    result = run(fake, warehouse, max_answer_mb=1)
    assert "issues list: the answer is 3.1 MB, more than max_answer_mb = 1" in result.errors[REPO]
    assert counts(warehouse)[0] == 10


def test_an_untrusted_certificate_fails_fast_with_the_ca_bundle_advice(
    tls: tuple[Path, Path], warehouse: Path
) -> None:
    with FakeGitHub([load_fixture("acme-checkout")], tls=tls) as server:
        started = time.monotonic()
        result = run(server, warehouse, retries=8, backoff=0.5)
        elapsed = time.monotonic() - started
    message = result.errors[REPO]
    assert elapsed < 5  # 8 retries with backoff took two minutes before
    assert "TLS failed" in message and "certificate verify failed" in message and "--ca-bundle" in message
    assert "urllib3" not in message and "HTTPSConnectionPool" not in message and "Max retries" not in message


def test_a_proxy_that_fails_fails_fast_with_advice(
    fake: FakeGitHub, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    result = run(fake, warehouse, retries=8, backoff=0.5)
    message = result.errors[REPO]
    assert time.monotonic() - started < 5
    assert "the proxy failed" in message and "HTTPS_PROXY" in message and "--ca-bundle" in message
    assert "urllib3" not in message and "Max retries" not in message
    assert not fake.requests()  # nothing reached the server
