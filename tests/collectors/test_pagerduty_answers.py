"""Answers the PagerDuty collector cannot use (issue 12): not JSON, the wrong shape, nulls, absurd nesting,
a huge body; and a proxy that fails. Served by the fake over HTTPS to the real `pagerduty` client: each is
reported for its endpoint, the other steps go on, nothing ends in a traceback.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from collectors.base import CollectorError
from tests.support.collect import incidents, rows
from tests.support.collect import run_pagerduty as run
from tests.support.fake_pagerduty import FakePagerDuty, load_fixture

WINDOW = "incidents 2026-03-01T00:00:00Z..2026-03-31T00:00:00Z: unusable answer from PagerDuty: "


@pytest.fixture
def fake(tls: tuple[Path, Path]):
    with load_fixture(tls=tls) as server:
        yield server


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>Service Unavailable</html>", "not JSON (32 characters: '<html>Service Unavailable</html>')"),
        (b"null", "null where an object was expected"),
        ({"incidents": None, "more": False}, "not the expected shape (TypeError: "),
        ({"incidents": 5, "more": False}, "not the expected shape (TypeError: "),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (json.dumps({"incidents": [{"id": "P1", "x": "y" * 200_000}], "more": False}).encode(),
         "0.2 MiB, more than the 0.1 MiB accepted (pagerduty.max_answer_mb)"),
    ],
)  # fmt: skip
def test_an_unusable_answer_is_reported_and_change_events_go_on(
    fake: FakePagerDuty, warehouse: Path, tls, body: object, reason: str
) -> None:
    fake.fail(r"^/incidents\?", 200, body, times=100)
    result = run(fake, warehouse, tls, change_events=True, max_answer_mb=0.1 if "MiB" in reason else 64)
    message = result.errors["account"]
    assert message.startswith(WINDOW + reason), message
    assert "what was fetched is saved" in message
    # the change events step went on after the incidents step failed
    assert rows(warehouse, "select count(*) from core.deployments") != [(0,)]
    assert fake.requests(r"^/change_events\?")


def test_nulls_and_wrong_types_inside_a_list_are_quarantined(
    fake: FakePagerDuty, warehouse: Path, tls
) -> None:
    listed = [i for i in fake.incidents if i["created_at"] < "2026-03-31"]
    odd = {**listed[0], "id": "PODD001", "created_at": "yesterday"}
    body = {"incidents": [None, 42, odd, *listed], "limit": 100, "offset": 0, "more": False}
    fake.fail(r"^/incidents\?.*since=2026-03-01", 200, body, times=1)
    result = run(fake, warehouse, tls)
    assert result.errors == {}
    problems = rows(warehouse, "select key, problem from raw.pagerduty__quarantine order by problem")
    assert [p for _, p in problems] == [
        "PagerDuty incident PODD001: unusable field (ValueError: Invalid isoformat string: 'yesterday')",
        "PagerDuty incident: not an object (NoneType)",
        "PagerDuty incident: not an object (int)",
    ]
    assert len(incidents(warehouse)) == 3  # the usable ones, as without the odd ones


def test_a_proxy_that_fails_stops_at_once_and_says_what_to_check(
    fake: FakePagerDuty, warehouse: Path, tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(CollectorError) as failed:
        run(fake, warehouse, tls, backoff=1.0)
    assert time.monotonic() - started < 5
    assert "the proxy (HTTPS_PROXY) refused or cannot be reached" in str(failed.value)
    assert "--ca-bundle" in str(failed.value)
    assert not fake.requests()
