"""Rate limits, server errors, fatal answers, TLS and kill -9: the fake PagerDuty and the real client.

Waits are short because the fake asks for short ones (Retry-After: 1) and the settings make the client's
backoff short, not because anything is mocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from collectors.base import CollectorError, TokenRejected
from tests.support.collect import PAGERDUTY_SINCE as SINCE
from tests.support.collect import TOKEN, incidents, rows
from tests.support.collect import pagerduty_settings as settings_for
from tests.support.collect import run_pagerduty as run
from tests.support.fake_pagerduty import FakePagerDuty, load_fixture
from warehouse import db
from warehouse.batch import Batch
from warehouse.sync import WarehouseSink


@pytest.fixture
def fake(tls: tuple[Path, Path]):
    with load_fixture(tls=tls) as server:
        yield server


def statuses(fake: FakePagerDuty, pattern: str) -> list[int]:
    return [r.status for r in fake.requests(pattern)]


def test_429_waits_what_retry_after_asks(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    fake.fail(r"^/incidents\?", 429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
              {"Retry-After": "1"})  # fmt: skip
    result = run(fake, warehouse, tls)
    assert result.errors == {} and result.waited_seconds == 1.0
    first, second = fake.requests(r"^/incidents\?")[:2]
    assert (first.status, second.status) == (429, 200) and second.at - first.at >= 0.9
    assert len(incidents(warehouse)) == 3


def test_a_retry_after_longer_than_allowed_stops_with_a_message(
    fake: FakePagerDuty, warehouse: Path, tls
) -> None:
    fake.fail(r"^/incidents\?", 429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
              {"Retry-After": "3600"})  # fmt: skip
    result = run(fake, warehouse, tls, max_rate_limit_wait=60)
    assert "Retry-After" in result.errors["account"] and "run again later" in result.errors["account"]


def test_a_5xx_is_retried_then_succeeds(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    fake.fail(r"^/incidents\?", 502, b"<html>502 Bad Gateway</html>")
    assert run(fake, warehouse, tls).errors == {}
    assert statuses(fake, r"^/incidents\?")[:2] == [502, 200]
    assert len(incidents(warehouse)) == 3


def test_a_server_that_keeps_failing_keeps_the_windows_already_saved(
    fake: FakePagerDuty, warehouse: Path, tls
) -> None:
    fake.fail(
        r"^/incidents\?.*since=2026-03-31", 503, {"error": {"message": "Service Unavailable"}}, times=10
    )
    result = run(fake, warehouse, tls)
    assert "PagerDuty keeps failing (503)" in result.errors["account"]
    assert statuses(fake, r"since=2026-03-31") == [503, 503, 503]  # the first try and 2 retries
    # March was saved with its cursor: the next run starts from its end, not from --since again
    assert len(incidents(warehouse)) == 3
    (cursor,) = rows(warehouse, "select cursor from raw.cursors where entity = 'incidents'")[0]
    assert '"until": "2026-03-31T00:00:00Z"' in cursor
    fake.reset_log()
    assert run(fake, warehouse, tls).errors == {}
    assert "since=2026-03-30T23%3A50%3A00Z" in fake.requests(r"^/incidents\?")[0].path


def test_a_rejected_token_stops_the_run_and_is_not_printed(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    with pytest.raises(TokenRejected) as caught:
        run(fake, warehouse, tls, token="u+wrongtokenXYZ9")
    assert "PAGERDUTY_TOKEN was rejected (401)" in str(caught.value)
    assert "XYZ9" not in str(caught.value) and "wrongtoken" not in str(caught.value)


def test_forbidden_names_the_access_the_token_needs(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    fake.fail(r"^/services", 403, {"error": {"message": "Access Denied", "code": 2010}})
    with pytest.raises(CollectorError, match="forbidden.*read-only REST API key"):
        run(fake, warehouse, tls)


def test_an_untrusted_certificate_asks_for_the_ca_bundle(fake: FakePagerDuty, warehouse: Path, tls) -> None:
    settings = settings_for(fake, tls)
    settings = type(settings)(**{**settings.__dict__, "ca_bundle": None, "backoff": 1.0})
    started = time.monotonic()
    with pytest.raises(CollectorError, match="--ca-bundle"):
        run(fake, warehouse, tls, settings=settings)
    assert time.monotonic() - started < 2.0  # at once: not retried as a network error (2 s, then 4 s ...)


def test_killed_mid_run_resumes_without_gap_or_duplicate(
    fake: FakePagerDuty, warehouse: Path, tls, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.duckdb"
    run(fake, reference, tls)
    config = tmp_path / "dora.toml"
    config.write_text(
        "[pagerduty]\npage_size = 2\nbackoff = 0.01\n"
        '[[pagerduty.services]]\nname = "(?i)checkout worker"\nservice = "checkout"\n'
    )
    # our services come from the warehouse (the reference run was told them)
    with WarehouseSink(warehouse, "test") as sink:
        sink.write(Batch("setup", "services", rows={"services": [
            {"service": "checkout", "repo": "acme/platform/checkout", "team": "acme"},
            {"service": "search", "repo": "acme/search", "team": "acme"},
        ]}))  # fmt: skip
    with db.write(warehouse):  # published (a collect's sink is published by the transform after it)
        pass
    fake.reset_log()
    command = [sys.executable, "-m", "doralytics", "-w", str(warehouse), "collect", "pagerduty",
               "--api-url", fake.url, "--ca-bundle", str(tls[0]), "--since", SINCE.isoformat()]  # fmt: skip
    env = {**os.environ, "PAGERDUTY_TOKEN": TOKEN, "DORA_CONFIG": str(config)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def kill_after(count: int) -> None:
        if count == 8:  # March is written, later windows are not
            os.kill(process.pid, signal.SIGKILL)

    fake.on_request = kill_after
    process.wait(timeout=60)
    fake.on_request = None
    assert process.returncode == -signal.SIGKILL
    fake.reset_log()
    resumed = run(fake, warehouse, tls)
    assert resumed.errors == {}
    assert incidents(warehouse) == incidents(reference)
    assert rows(warehouse, "select count(*) - count(distinct key) from raw.pagerduty__incidents") == [(0,)]
    # the resumed run went on from the killed run's last saved window, not from --since
    assert "since=2026-03-01" not in fake.requests(r"^/incidents\?")[0].path
