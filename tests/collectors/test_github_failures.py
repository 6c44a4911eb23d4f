"""Rate limits, server errors and fatal answers, served by the fake to the real PyGithub.

Waits are short because the fake's rate-limit window is short and the settings say so, not because
anything is mocked.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.collect import rows
from tests.support.collect import run_github as run
from tests.support.fake_github import PRIMARY_LIMIT, FakeGitHub, load_fixture

SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@pytest.fixture
def fake():
    with FakeGitHub([load_fixture("acme-checkout")]) as server:
        yield server


def statuses(fake: FakeGitHub, pattern: str) -> list[int]:
    return [r.status for r in fake.requests(pattern)]


def test_waits_for_the_primary_limit_to_reset(warehouse: Path) -> None:
    # 15 requests per 2-second window; the run needs about 25
    with FakeGitHub([load_fixture("acme-checkout")], rate_limit=15, reset_seconds=2.0) as fake:
        started = time.monotonic()
        result = run(fake, warehouse, per_page=50)
        elapsed = time.monotonic() - started
    assert result.errors == {}
    assert elapsed >= 1.0 and result.stats["acme/checkout"].waited_seconds > 0
    assert rows(warehouse, "select count(*) from core.deployments") == [(10,)]


def test_a_403_primary_limit_is_waited_out_until_reset(fake: FakeGitHub, warehouse: Path) -> None:
    reset = int(time.time()) + 1
    fake.fail(
        r"/pulls$",
        403,
        {"message": PRIMARY_LIMIT},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
    )
    result = run(fake, warehouse)
    assert result.errors == {}
    assert statuses(fake, r"/pulls\?direction")[:2] == [403, 200]
    retried = fake.requests(r"/pulls\?direction")[1]
    assert retried.at >= reset  # PyGithub's GithubRetry waited until X-RateLimit-Reset
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_with_retry_after(fake: FakeGitHub, warehouse: Path, status: int) -> None:
    fake.fail(r"/deployments$", status, {"message": SECONDARY}, {"Retry-After": "1"})
    started = time.monotonic()
    result = run(fake, warehouse)
    assert result.errors == {}
    assert statuses(fake, r"/deployments\?")[:2] == [status, 200]
    gap = fake.requests(r"/deployments\?")[1].at - fake.requests(r"/deployments\?")[0].at
    assert gap >= 0.9 and time.monotonic() - started >= 1.0


def test_429_without_retry_after_waits_the_configured_secondary_wait(
    fake: FakeGitHub, warehouse: Path
) -> None:
    fake.fail(r"/issues$", 429, {"message": SECONDARY})
    result = run(fake, warehouse, secondary_rate_wait=0.3)
    assert result.errors == {}
    first, second = fake.requests(r"/issues\?")[:2]
    assert (first.status, second.status) == (429, 200) and second.at - first.at >= 0.3


def test_5xx_is_retried_with_backoff(fake: FakeGitHub, warehouse: Path) -> None:
    fake.fail(r"/pulls$", 502, {"message": "Server Error"})
    fake.fail(r"/deployments$", 503, b"<html><body><h1>503 Service Unavailable</h1></body></html>")
    result = run(fake, warehouse)
    assert result.errors == {}
    assert statuses(fake, r"/pulls\?direction")[:2] == [502, 200]
    assert statuses(fake, r"/deployments\?")[:2] == [503, 200]
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]


def test_a_server_that_keeps_failing_stops_the_repo_and_keeps_what_was_fetched(
    fake: FakeGitHub, warehouse: Path
) -> None:
    fake.fail(r"/issues$", 502, {"message": "Server Error"}, times=100)
    result = run(fake, warehouse)
    assert "kept failing after 3 retries" in result.errors["acme/checkout"]
    assert rows(warehouse, "select count(*) from core.pull_requests") == [(3,)]  # saved before it
    fake.faults.clear()
    fake.reset_log()
    assert run(fake, warehouse).errors == {}
    # the next run resumes: the pulls are not asked again (304), the incidents are fetched
    assert statuses(fake, r"/pulls\?direction") == [304]
    assert rows(warehouse, "select count(*) from core.incidents") == [(2,)]


def test_a_missing_repo_names_the_permissions_and_the_others_go_on(fake: FakeGitHub, warehouse: Path) -> None:
    result = run(fake, warehouse, repos=["acme/checkout", "acme/missing"])
    message = result.errors["acme/missing"]
    assert "acme/missing: repository not found (404)" in message
    assert "`repo` scope" in message and "Deployments" in message
    assert "acme/checkout" not in result.errors
    assert rows(warehouse, "select count(*) from core.deployments") == [(10,)]


def test_a_rejected_token_stops_everything(fake: FakeGitHub, warehouse: Path) -> None:
    result = run(fake, warehouse, token="wrong-token")
    assert result.errors["acme/checkout"].startswith("GITHUB_TOKEN was rejected (401")


def test_missing_permission_on_deployments_is_named(fake: FakeGitHub, warehouse: Path) -> None:
    fake.fail(r"/deployments$", 403, {"message": "Resource not accessible by personal access token"})
    result = run(fake, warehouse)
    message = result.errors["acme/checkout"]
    assert "forbidden (403" in message and "Resource not accessible" in message and "Deployments" in message


def test_workflow_runs_without_access_are_skipped_with_a_warning(fake: FakeGitHub, warehouse: Path) -> None:
    fake.fail(r"/actions/runs$", 404, {"message": "Not Found"})
    result = run(fake, warehouse)
    assert result.errors == {}
    assert "workflow runs skipped" in result.stats["acme/checkout"].warnings[0]
    assert rows(warehouse, "select count(*) from core.pipeline_runs") == [(0,)]


def test_the_shared_budget_waits_before_spending_the_last_request() -> None:
    from collectors.base import RateBudget

    budget = RateBudget(reserve=2, max_wait=10)
    slept: list[float] = []
    reset = time.time() + 5
    budget.observe(remaining=2, limit=5000, reset_at=reset)
    assert budget.acquire(slept.append) == pytest.approx(5, abs=0.1)
    budget.observe(remaining=3, limit=5000, reset_at=reset)
    assert budget.acquire(slept.append) == 0.0
    budget.observe(remaining=0, limit=5000, reset_at=time.time() + 60)
    with pytest.raises(Exception, match="rate limit exhausted until .* run again after the reset"):
        budget.acquire(slept.append)


@pytest.mark.parametrize(
    ("status", "headers", "message", "retriable", "kind", "wait"),
    [
        (
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1010"},
            PRIMARY_LIMIT,
            True,
            "rate_limit",
            11,
        ),
        (403, {"Retry-After": "30"}, SECONDARY, True, "rate_limit", 30),
        (429, {}, "", True, "rate_limit", 60),
        (502, {}, "", True, "server", 0),
        (None, {}, "", True, "server", 0),
        (401, {}, "Bad credentials", False, "auth", 0),
        (404, {}, "Not Found", False, "not_found", 0),
        (403, {}, "Resource not accessible by integration", False, "forbidden", 0),
        (422, {}, "Validation Failed", False, "client", 0),
    ],
)
def test_classify(status, headers, message, retriable, kind, wait) -> None:
    from collectors.base import classify

    verdict = classify(status, headers, message, now=1000.0)
    assert (verdict.retriable, verdict.kind, verdict.wait) == (retriable, kind, wait)
